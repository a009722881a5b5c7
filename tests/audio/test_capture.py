"""MicCapture against a real PulseAudio virtual microphone (audio played into ``micfeed``)."""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from desktop_app.audio import vad
from desktop_app.audio.capture import CaptureState, Levels, MicCapture
from desktop_app.core.errors import AudioDeviceError
from desktop_app.core.models import PcmAudio
from tests.audio.conftest import PulseServer, play_into_mic, start_pulse, write_wav
from tests.audio.signals import best_correlation, onset_s, pcm_to_float, tone, tone_span_and_largest_gap
from tests.support.desktop import wait_for

pytestmark = [pytest.mark.desktop]


@pytest.fixture
def capture(pulse: PulseServer) -> Iterator[MicCapture]:
    mic = MicCapture()
    mic.open("")
    assert mic.wait_ready(10), "the microphone stream delivered no audio"
    yield mic
    mic.close()


def record_file(mic: MicCapture, pulse: PulseServer, path: Path, tail_s: float = 0.3) -> PcmAudio:
    mic.mark_start()
    player = play_into_mic(pulse, path)
    assert player.wait(timeout=30) == 0
    assert mic.wait_captured(mic.recorded_seconds + tail_s, timeout=5)
    return mic.take_recording()


def test_records_speech_played_into_the_microphone(capture: MicCapture, pulse: PulseServer, jfk_wav: Path,
                                                   jfk_pcm: PcmAudio) -> None:
    audio = record_file(capture, pulse, jfk_wav)

    assert audio.sample_rate == 24_000
    assert 11.0 <= audio.duration_s <= 13.0
    assert vad.has_speech(audio)
    corr, _lag = best_correlation(pcm_to_float(audio.data), pcm_to_float(jfk_pcm.data))
    assert corr > 0.8, f"recording does not match the source (correlation {corr:.2f})"
    assert capture.state is CaptureState.ARMED  # still warm for the next dictation
    assert capture.error is None


def test_preroll_keeps_sound_that_started_before_key_down(capture: MicCapture, pulse: PulseServer,
                                                          audio_tmp: Path) -> None:
    clip = write_wav(audio_tmp / "late-key.wav", np.concatenate([np.zeros(2400, np.float32), tone(1.0)]))
    player = play_into_mic(pulse, clip)
    assert capture.wait_for_sound(-30.0, timeout=10), "the tone never reached the microphone"
    capture.mark_start()  # the key goes down only after the sound began: the pre-roll must hold the onset
    assert player.wait(timeout=10) == 0
    assert capture.wait_captured(capture.recorded_seconds + 0.2, timeout=5)
    audio = pcm_to_float(capture.take_recording().data)

    onset = onset_s(audio)
    assert onset > 0.05, f"the recording starts mid-sound (onset {onset:.3f} s): pre-roll missed the start"
    assert onset < capture.preroll_s
    assert np.max(np.abs(audio[:int(0.04 * 24_000)])) < 0.01  # silence before the tone was recorded too


def test_live_chunks_add_up_to_the_recording(capture: MicCapture, pulse: PulseServer, jfk_wav: Path) -> None:
    capture.mark_start()
    player = play_into_mic(pulse, jfk_wav)
    pieces: list[bytes] = []
    while player.poll() is None:
        if capture.wait_live(0.02, timeout=2):
            piece = capture.read_new(max_s=0.1)
            assert 0 < len(piece) <= 2 * 2400 + 2
            pieces.append(piece)
    assert player.wait(timeout=5) == 0
    assert capture.wait_captured(capture.recorded_seconds + 0.1, timeout=5)
    while piece := capture.read_new():
        pieces.append(piece)
    recording = capture.take_recording()

    live = b"".join(pieces)
    assert len(pieces) > 50
    assert live == recording.data[:len(live)]
    assert len(recording.data) - len(live) < 2 * 2400  # at most the last callback block is not yet live


def test_resamples_when_the_device_runs_at_another_rate(pulse: PulseServer, jfk_wav: Path,
                                                        jfk_pcm: PcmAudio) -> None:
    mic = MicCapture(device_rate=44_100)
    mic.open("")
    try:
        assert mic.wait_ready(10)
        assert mic.rate == 44_100
        audio = record_file(mic, pulse, jfk_wav)
    finally:
        mic.close()
    assert audio.sample_rate == 24_000
    assert 11.0 <= audio.duration_s <= 13.0
    corr, _ = best_correlation(pcm_to_float(audio.data), pcm_to_float(jfk_pcm.data))
    assert corr > 0.8


def test_limit_keeps_everything_up_to_the_limit(pulse: PulseServer) -> None:
    mic = MicCapture(max_seconds=0.5, preroll_s=0.0)
    mic.open("")
    try:
        assert mic.wait_ready(10)
        mic.mark_start()
        assert mic.wait_captured(0.5, timeout=5)
        assert mic.limit_reached
        audio = mic.take_recording()
    finally:
        mic.close()
    assert len(audio.data) == 2 * 12_000  # exactly the limit: nothing dropped before it, nothing after


def test_levels_follow_the_input(capture: MicCapture, pulse: PulseServer, audio_tmp: Path) -> None:
    quiet = capture.levels()
    clip = write_wav(audio_tmp / "loud.wav", tone(1.0, amp=0.5))
    player = play_into_mic(pulse, clip)
    assert capture.wait_for_sound(-20.0, timeout=10)
    # The meter's window fills within a block or two of the onset: wait for it rather than read it once.
    def risen() -> Levels | None:
        levels = capture.levels()
        return levels if levels.meter > 0.6 else None

    loud = wait_for(risen, 5, "the meter to rise")
    player.wait(timeout=10)
    assert quiet.meter < 0.1
    assert -12.0 < loud.peak_dbfs <= 0.0


def test_unknown_device_name_falls_back_to_the_default_with_a_warning(pulse: PulseServer) -> None:
    mic = MicCapture()
    mic.open("USB Headset that was unplugged")
    try:
        assert mic.wait_ready(10)
        assert "not connected" in mic.device_warning
        assert "USB Headset that was unplugged" in mic.device_warning
    finally:
        mic.close()


def test_server_death_keeps_the_audio_and_reports_the_failure(pulse: PulseServer) -> None:
    """A second, private PulseAudio is killed mid-recording (what an unplugged USB mic looks like)."""
    base = Path(tempfile.mkdtemp(prefix="sayso-audio-doomed-"))
    doomed = start_pulse(base)
    saved = {k: os.environ.get(k) for k in ("PULSE_RUNTIME_PATH", "PULSE_SERVER", "PULSE_CLIENTCONFIG")}
    os.environ.update({k: v for k, v in doomed.env.items() if k in saved})
    mic = MicCapture()
    try:
        mic.open("")  # the ALSA pulse plugin connects at open, using the environment of that moment
        assert mic.wait_ready(10)
        mic.mark_start()
        assert mic.wait_captured(0.5, timeout=5)
        assert doomed.pid is not None
        os.kill(doomed.pid, signal.SIGKILL)
        assert not mic.wait_captured(30.0, timeout=10)  # returns as soon as the failure is seen
        assert mic.state is CaptureState.FAILED
        assert isinstance(mic.error, AudioDeviceError)
        assert "microphone" in mic.error.user_message
        audio = mic.take_recording()
        assert audio.duration_s >= 0.5
    finally:
        mic.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_mark_start_needs_an_open_microphone() -> None:
    with pytest.raises(AudioDeviceError):
        MicCapture().mark_start()


def test_idle_microphone_rests_and_key_down_records_from_the_start(pulse: PulseServer, audio_tmp: Path) -> None:
    """Standby (idle CPU): the stream stops when idle; mark_start restarts it and the onset survives,
    while audio from before the standby never leaks into the new recording as pre-roll."""
    mic = MicCapture(standby_after_s=0.3)
    try:
        mic.open("")
        assert mic.wait_ready(10), "the microphone stream delivered no audio"
        before = play_into_mic(pulse, write_wav(audio_tmp / "before-standby.wav", tone(0.3, freq=880.0)))
        assert mic.wait_for_sound(-30.0, timeout=10), "the tone never reached the microphone"
        assert before.wait(timeout=10) == 0
        wait_for(lambda: mic.state is CaptureState.STANDBY, 10, "the idle microphone to go to standby")
        assert not mic.stream_running
        assert mic.error is None  # resting is not a failure

        mic.mark_start()  # key-down wakes the stream; the speech starts right after
        assert mic.state is CaptureState.RECORDING and mic.stream_running
        clip = write_wav(audio_tmp / "after-wake.wav", np.concatenate([np.zeros(1200, np.float32), tone(0.5)]))
        assert play_into_mic(pulse, clip).wait(timeout=10) == 0
        assert mic.wait_captured(mic.recorded_seconds + 0.2, timeout=5)
        audio = pcm_to_float(mic.take_recording().data)
    finally:
        mic.close()

    onset = onset_s(audio)
    assert onset > 0.01, f"the recording starts mid-sound (onset {onset:.3f} s): the wake-up lost the start"
    start, end, gap = tone_span_and_largest_gap(audio)
    assert end - start == pytest.approx(0.5, abs=0.02), "part of the tone is missing after the wake-up"
    assert gap == 0.0
    assert np.max(np.abs(audio[:int(0.01 * 24_000)])) < 0.01, "stale audio from before the standby leaked in"


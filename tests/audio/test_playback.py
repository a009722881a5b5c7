"""Player against a real PulseAudio virtual speaker, heard through ``parec -d speaker.monitor``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from desktop_app.audio.cues import CuePlayer, cue_pcm
from desktop_app.audio.playback import Player
from tests.audio.conftest import RATE as MONITOR_RATE
from tests.audio.conftest import MonitorRecorder, PulseServer
from tests.audio.signals import loud_mask, to_pcm, tone, tone_span_and_largest_gap
from tests.support.desktop import wait_for

pytestmark = [pytest.mark.desktop]


@pytest.fixture
def player(pulse: PulseServer) -> Iterator[Player]:
    out = Player(buffer_s=0.5)  # small ring: the writes below really block and wait for the callback
    out.open("", 24_000)
    assert out.wait_ready(10), "the output stream never started"
    yield out
    out.close()


def write_in_pieces(player: Player, samples: np.ndarray, pieces: int, rate: int = 24_000) -> None:
    for piece in np.array_split(samples, pieces):
        player.write(to_pcm(piece), sample_rate=rate)


def test_pieces_play_without_gaps(player: Player, speaker_monitor: MonitorRecorder) -> None:
    write_in_pieces(player, tone(2.0), 37)  # uneven piece sizes, 54 ms each
    assert player.drain(timeout=10)
    assert speaker_monitor.wait_seconds(speaker_monitor.seconds + 0.3)
    start, end, gap = tone_span_and_largest_gap(speaker_monitor.stop())

    assert end - start == pytest.approx(2.0, abs=0.03)
    assert gap == 0.0, f"{gap * 1000:.0f} ms of silence inside the tone"
    assert player.underruns == 0
    assert player.played_seconds == pytest.approx(2.0, abs=0.01)


@pytest.mark.parametrize("rate", [22_050, 48_000])
def test_other_input_rates_are_resampled(player: Player, speaker_monitor: MonitorRecorder, rate: int) -> None:
    write_in_pieces(player, tone(1.0, freq=500.0, rate=rate), 10, rate=rate)
    assert player.drain(timeout=10)
    assert speaker_monitor.wait_seconds(speaker_monitor.seconds + 0.3)
    heard = speaker_monitor.stop()
    start, end, gap = tone_span_and_largest_gap(heard)
    assert end - start == pytest.approx(1.0, abs=0.03)
    assert gap == 0.0
    segment = heard[int(start * 24_000):int(end * 24_000)]
    spectrum = np.abs(np.fft.rfft(segment))
    peak_hz = np.argmax(spectrum) * 24_000 / len(segment)
    assert peak_hz == pytest.approx(500.0, abs=5.0)


def test_stop_silences_at_once_and_unblocks_the_writer(player: Player,
                                                        speaker_monitor: MonitorRecorder) -> None:
    cancelled = threading.Event()  # what a read-aloud service's cancel token does for its producer

    def produce() -> None:
        for piece in np.array_split(tone(5.0), 50):
            if cancelled.is_set():
                return
            player.write(to_pcm(piece))

    writer = threading.Thread(target=produce)
    writer.start()
    assert player.wait_played(0.5, timeout=10)
    heard_at_stop = speaker_monitor.seconds
    cancelled.set()
    player.stop()
    writer.join(timeout=5)
    assert not writer.is_alive(), "a writer blocked on the full buffer was not released by stop()"
    assert player.drain(timeout=1)  # nothing left to play
    assert speaker_monitor.wait_seconds(heard_at_stop + 0.5)
    _start, end, _gap = tone_span_and_largest_gap(speaker_monitor.stop())
    # The bound is issue 5's "stops within 200 ms" (the tone would go on for seconds); the figure is a bench's.
    assert end - heard_at_stop < 0.2, f"sound went on {end - heard_at_stop:.3f} s after stop()"
    assert player.played_seconds < 1.5


def test_pause_keeps_the_position_and_resume_continues(player: Player,
                                                        speaker_monitor: MonitorRecorder) -> None:
    write_in_pieces(player, tone(0.4), 4)
    assert player.wait_played(0.2, timeout=10)
    player.pause(True)
    paused_at = player.played_seconds
    assert speaker_monitor.wait_seconds(speaker_monitor.seconds + 0.5)  # half a second of pause
    assert player.played_seconds == paused_at
    player.pause(False)
    assert player.drain(timeout=10)
    assert speaker_monitor.wait_seconds(speaker_monitor.seconds + 0.3)
    mask = loud_mask(speaker_monitor.stop())

    assert np.count_nonzero(mask) * 0.005 == pytest.approx(0.4, abs=0.03)  # nothing lost, nothing repeated
    hits = np.flatnonzero(mask)
    assert (hits[-1] - hits[0]) * 0.005 > 0.85  # the pause sits inside the tone
    assert player.underruns == 0  # a pause is not an underrun


def test_volume_scales_the_output(player: Player, speaker_monitor: MonitorRecorder) -> None:
    player.set_volume(0.25)
    write_in_pieces(player, tone(0.5, amp=0.8), 2)
    assert player.drain(timeout=10)
    assert speaker_monitor.wait_seconds(speaker_monitor.seconds + 0.3)
    heard = speaker_monitor.stop()
    assert np.max(np.abs(heard)) == pytest.approx(0.2, abs=0.02)


def test_an_empty_ring_after_drain_is_not_an_underrun(player: Player) -> None:
    player.write(to_pcm(tone(0.1)))
    assert player.drain(timeout=10)
    played = player.played_seconds
    assert player.wait_played(played, timeout=1)
    assert player.underruns == 0


def test_start_cue_reaches_the_speaker(pulse: PulseServer, speaker_monitor: MonitorRecorder) -> None:
    cues = CuePlayer()
    try:
        cues.play("start")
        assert cues.wait(10)
    finally:
        cues.close()
    assert speaker_monitor.wait_seconds(speaker_monitor.seconds + 0.2)
    start, end, _gap = tone_span_and_largest_gap(speaker_monitor.stop(), threshold_dbfs=-25.0)
    # Only "audible": a fresh stream through the ALSA pulse plugin may clip the first notes (see CuePlayer).
    assert 0.0 < end - start <= 0.15


def test_cue_through_the_warm_player_plays_in_full(player: Player, speaker_monitor: MonitorRecorder) -> None:
    player.write(cue_pcm("stop"))
    assert player.drain(timeout=10)
    assert speaker_monitor.wait_seconds(speaker_monitor.seconds + 0.3)
    start, end, _gap = tone_span_and_largest_gap(speaker_monitor.stop(), threshold_dbfs=-25.0)
    assert end - start == pytest.approx(0.12, abs=0.015)


def test_idle_speaker_rests_and_the_next_write_plays_in_full(pulse: PulseServer,
                                                             speaker_monitor: MonitorRecorder) -> None:
    """Standby (idle CPU): the stream stops after idle silence; a write restarts it and nothing is clipped."""
    out = Player(buffer_s=0.5, standby_after_s=0.3)
    try:
        out.open("", 24_000)
        assert out.wait_ready(10), "the output stream never started"
        wait_for(lambda: out.standby, 10, "the idle speaker to go to standby")
        assert not out.stream_running
        assert out.error is None  # resting is not a failure
        assert out.drain(timeout=1)  # nothing queued: returns at once

        out.write(cue_pcm("stop"))  # wakes the stream
        assert out.stream_running
        assert out.drain(timeout=10)
        assert speaker_monitor.wait_seconds(speaker_monitor.seconds + 0.3)
        start, end, _gap = tone_span_and_largest_gap(speaker_monitor.stop(), threshold_dbfs=-25.0)
        assert end - start == pytest.approx(0.12, abs=0.015), "the cue was clipped after the wake-up"
        assert out.underruns == 0

        wait_for(lambda: out.standby, 10, "the speaker to rest again after playing")
        out.write(to_pcm(tone(0.2)))  # and wakes again
        out.stop()  # Stop right after a wake-up still silences and unblocks
        assert out.buffered_seconds == 0.0
    finally:
        out.close()


def test_a_write_after_silence_restarts_the_running_stream_and_plays_in_full(
        pulse: PulseServer, speaker_monitor: MonitorRecorder) -> None:
    """Latency: a running stream that has played only silence for a while is restarted by the next write
    (the device's queued silence is dropped); the sound after the restart is whole and nothing failed."""
    out = Player(buffer_s=0.5, standby_after_s=None)  # never rests: only the dry-restart path is exercised
    try:
        out.open("", 24_000)
        assert out.wait_ready(10), "the output stream never started"
        out.write(cue_pcm("stop"))
        assert out.drain(timeout=10)
        wait_for(lambda: out._ran_dry(time.monotonic()), 10, "the stream to have played only silence")
        assert out.stream_running

        mark = int(speaker_monitor.seconds * MONITOR_RATE)  # the first cue is over: judge only the second
        out.write(cue_pcm("stop"))  # restarts the stream, then plays
        assert out.stream_running and out.error is None
        assert not out._ran_dry(time.monotonic())
        assert out.drain(timeout=10)
        assert speaker_monitor.wait_seconds(speaker_monitor.seconds + 0.3)
        start, end, _gap = tone_span_and_largest_gap(speaker_monitor.stop()[mark:], threshold_dbfs=-25.0)
        assert end - start == pytest.approx(0.12, abs=0.015), "the cue was clipped by the restart"
        assert out.underruns == 0 and out.error is None
    finally:
        out.close()


def test_drain_after_the_stream_rested_mid_reading_still_ends(pulse: PulseServer) -> None:
    """A reading whose next chunk failed after a long wait: the stream rested meanwhile, and drain() flushes
    the resampler's tail into it — the stream must wake for that, or drain() would wait for ever."""
    out = Player(buffer_s=0.5, standby_after_s=0.3)
    try:
        out.open("", 24_000)
        assert out.wait_ready(10), "the output stream never started"
        out.write(to_pcm(tone(0.1, rate=16_000)), sample_rate=16_000)  # another rate: a resampler holds a tail
        wait_for(lambda: out.standby, 10, "the speaker to rest while the producer waits")
        assert out.drain(timeout=5), "drain() never ended: the tail sat in a resting stream"
        assert out.error is None
    finally:
        out.close()

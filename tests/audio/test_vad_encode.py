"""VAD, encoding and decoding on real speech (jfk.flac) and generated signals. No audio server needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from desktop_app.audio import encode, vad
from desktop_app.audio.devices import translate_error
from desktop_app.core.errors import SaysoError
from desktop_app.core.models import PcmAudio
from tests.audio.signals import best_correlation, pcm_to_float, to_pcm, tone

RATE = 24_000


def silence(seconds: float) -> bytes:
    return bytes(2 * int(seconds * RATE))


def test_silence_and_quiet_noise_are_not_speech_but_jfk_is(jfk_pcm: PcmAudio) -> None:
    noise = np.random.default_rng(7).normal(0, 0.01, 3 * RATE).astype(np.float32)
    assert not vad.has_speech(PcmAudio(silence(3.0)))
    assert not vad.has_speech(PcmAudio(to_pcm(noise)))
    assert vad.has_speech(jfk_pcm)
    assert vad.speech_seconds(jfk_pcm) > 5.0


def test_trim_keeps_margins_around_the_speech(jfk_pcm: PcmAudio) -> None:
    padded = PcmAudio(silence(2.0) + jfk_pcm.data + silence(2.0))
    trimmed = vad.trim_silence(padded, margin_s=0.2)
    assert trimmed.duration_s < jfk_pcm.duration_s + 0.5
    assert trimmed.duration_s > jfk_pcm.duration_s - 1.0
    head = pcm_to_float(trimmed.data)[:int(0.15 * RATE)]
    assert np.max(np.abs(head)) < 0.01  # the margin before the first word is there (silent)
    assert vad.trim_silence(PcmAudio(silence(1.0))).data == b""


def test_split_cuts_in_the_silence_nearest_the_limit(jfk_pcm: PcmAudio) -> None:
    joined = PcmAudio(jfk_pcm.data + silence(1.5) + jfk_pcm.data)
    cuts = vad.split_points(joined, max_s=15.0)
    assert len(cuts) == 1
    assert jfk_pcm.duration_s <= cuts[0] / RATE <= jfk_pcm.duration_s + 1.5
    pieces = vad.split(joined, max_s=15.0)
    assert b"".join(p.data for p in pieces) == joined.data
    assert all(p.duration_s <= 15.0 for p in pieces)


def test_split_without_silence_cuts_at_the_limit() -> None:
    loud = PcmAudio(to_pcm(tone(25.0)))
    assert vad.split_points(loud, max_s=10.0) == [10 * RATE, 20 * RATE]


def test_flac_is_lossless_and_opus_is_small(jfk_pcm: PcmAudio) -> None:
    wav, flac, opus = (encode.encode(jfk_pcm, f) for f in ("wav", "flac", "opus"))
    assert encode.decode_bytes(flac.data).data == jfk_pcm.data
    assert encode.decode_bytes(wav.data).data == jfk_pcm.data
    assert encode.opus_available()
    back = encode.decode_bytes(opus.data)
    assert back.duration_s == pytest.approx(jfk_pcm.duration_s, abs=0.05)
    corr, _ = best_correlation(pcm_to_float(back.data), pcm_to_float(jfk_pcm.data))
    assert corr > 0.8
    assert (opus.filename, opus.mime_type, flac.filename) == ("speech.ogg", "audio/ogg", "speech.flac")
    assert len(opus.data) < len(flac.data) < len(wav.data)
    print(f"\nKiB/min of speech: WAV {encode.bytes_per_minute(wav) / 1024:.0f}, "
          f"FLAC {encode.bytes_per_minute(flac) / 1024:.0f}, Opus {encode.bytes_per_minute(opus) / 1024:.0f}")


def test_decode_any_file_to_24k_mono(shared_dir: Path, tmp_path: Path) -> None:
    stereo, rate = sf.read(shared_dir / "audio" / "jfk.flac", dtype="float32")
    mp3 = tmp_path / "jfk.mp3"
    sf.write(mp3, stereo, rate, format="MP3")
    for path in (shared_dir / "audio" / "jfk.flac", mp3):
        audio = encode.decode_file(path)
        assert audio.sample_rate == RATE
        assert audio.duration_s == pytest.approx(11.0, abs=0.1)
        assert vad.has_speech(audio)


def test_unreadable_files_give_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not audio")
    with pytest.raises(SaysoError, match="Cannot read the audio file"):
        encode.decode_file(bogus)
    with pytest.raises(SaysoError, match="does not exist"):
        encode.decode_file(tmp_path / "missing.wav")


def test_portaudio_errors_become_sentences() -> None:
    import sounddevice as sd

    no_mic = translate_error(sd.PortAudioError("Error querying device -1"), "input")
    assert no_mic.user_message == "No microphone was found."
    assert "Settings" in no_mic.hint
    busy = translate_error(sd.PortAudioError("Device unavailable [PaErrorCode -9985]"), "output", "HDMI")
    assert "HDMI" in busy.user_message and "busy" in busy.user_message

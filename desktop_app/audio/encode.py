"""Encode recordings for upload (FLAC, Ogg/Opus, WAV) and decode audio files for ``sayso transcribe FILE``.

Sizes measured on real speech (jfk.flac, 24 kHz mono): WAV 2,813 KiB/min, FLAC ~1,360 KiB/min (noisy old
recording; clean speech compresses better), Ogg/Opus ~270 KiB/min (libsndfile's default bitrate, ~36 kbit/s,
plenty for transcription). The 25 MiB upload limit is thus ~9 min of WAV, ~18 min of FLAC, ~95 min of Opus.
"""

from __future__ import annotations

import functools
import io
import logging
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf

from desktop_app.audio.resample import StreamResampler, resample, to_float, to_pcm16
from desktop_app.core.errors import SaysoError
from desktop_app.core.models import SAMPLE_RATE, EncodedAudio, PcmAudio

log = logging.getLogger(__name__)

Format = Literal["flac", "opus", "wav"]
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # the only rates Opus (and libsndfile's writer) accept
_READ_BLOCK = 1 << 16


@functools.cache
def opus_available() -> bool:
    """libsndfile ≥ 1.0.29 writes Ogg/Opus; older builds (some distro packages) cannot."""
    if "OPUS" not in sf.available_subtypes("OGG"):
        return False
    try:
        buf = io.BytesIO()
        sf.write(buf, np.zeros(480, dtype=np.float32), 24000, format="OGG", subtype="OPUS")
        return len(buf.getvalue()) > 0
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        log.info("Ogg/Opus encoding unavailable: %s", exc)
        return False


def _write(pcm: PcmAudio, fmt: str, subtype: str, rate: int | None = None) -> bytes:
    samples = np.frombuffer(pcm.data, dtype="<i2")
    if rate is not None and rate != pcm.sample_rate:
        samples = np.frombuffer(to_pcm16(resample(to_float(pcm.data), pcm.sample_rate, rate)), dtype="<i2")
    buf = io.BytesIO()
    sf.write(buf, samples, rate or pcm.sample_rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def encode_flac(pcm: PcmAudio) -> EncodedAudio:
    return EncodedAudio(_write(pcm, "FLAC", "PCM_16"), "speech.flac", "audio/flac", pcm.duration_s)


def encode_wav(pcm: PcmAudio) -> EncodedAudio:
    return EncodedAudio(_write(pcm, "WAV", "PCM_16"), "speech.wav", "audio/wav", pcm.duration_s)


def encode_opus(pcm: PcmAudio) -> EncodedAudio:
    """Ogg/Opus; raises SaysoError when this libsndfile cannot write it (use ``encode`` for the fallback)."""
    if not opus_available():
        raise SaysoError("Ogg/Opus encoding is not available on this system.",
                         hint="Sayso uses FLAC instead; libsndfile 1.0.29 or newer gives smaller uploads.")
    rate = pcm.sample_rate if pcm.sample_rate in OPUS_RATES else SAMPLE_RATE
    return EncodedAudio(_write(pcm, "OGG", "OPUS", rate), "speech.ogg", "audio/ogg", pcm.duration_s)


def encode(pcm: PcmAudio, fmt: Format = "flac") -> EncodedAudio:
    """Encode for upload; Opus falls back to FLAC where libsndfile lacks it."""
    if fmt == "opus":
        if opus_available():
            return encode_opus(pcm)
        log.warning("Ogg/Opus unavailable in this libsndfile; encoding FLAC instead")
        return encode_flac(pcm)
    if fmt == "wav":
        return encode_wav(pcm)
    return encode_flac(pcm)


def _unreadable(path: str, exc: Exception) -> SaysoError:
    return SaysoError(f"Cannot read the audio file “{path}”.",
                      hint="Use WAV, FLAC, Ogg (Vorbis/Opus) or MP3.", detail=str(exc))


def decode_file(path: str | Path, sample_rate: int = SAMPLE_RATE) -> PcmAudio:
    """Any file libsndfile reads (WAV, FLAC, OGG, MP3, …) → s16le mono at ``sample_rate``.

    Reads in blocks and resamples as it goes, so an hour-long file never sits in memory as float64."""
    name = str(path)
    if not Path(path).is_file():
        raise SaysoError(f"The audio file “{name}” does not exist.")
    try:
        with sf.SoundFile(name) as source:
            return _decode(source, sample_rate)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise _unreadable(name, exc) from exc


def decode_bytes(data: bytes, sample_rate: int = SAMPLE_RATE) -> PcmAudio:
    try:
        with sf.SoundFile(io.BytesIO(data)) as source:
            return _decode(source, sample_rate)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise _unreadable("<memory>", exc) from exc


def _decode(source: sf.SoundFile, sample_rate: int) -> PcmAudio:
    resampler = StreamResampler(source.samplerate, sample_rate)
    out = bytearray()
    frames_in = 0
    for block in source.blocks(blocksize=_READ_BLOCK, dtype="float32", always_2d=True):
        frames_in += len(block)
        out += to_pcm16(resampler.push(block.mean(axis=1, dtype=np.float32)))
    if resampler.in_rate != resampler.out_rate:  # flush the filter tail, then cut to the exact length
        out += to_pcm16(resampler.push(np.zeros(128, dtype=np.float32)))
        del out[2 * (frames_in * sample_rate // source.samplerate):]
    return PcmAudio(bytes(out), sample_rate)


def bytes_per_minute(encoded: EncodedAudio) -> float:
    return len(encoded.data) / encoded.duration_s * 60 if encoded.duration_s else 0.0

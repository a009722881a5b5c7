"""A small frame-based voice activity detector in plain numpy.

Used before upload: skip recordings with no speech (Whisper-style models invent "Thank you for watching" on
silence), trim leading/trailing silence, and find silent places to split recordings that exceed the upload
limit. Not a neural VAD: it decides by energy relative to the recording's own noise floor, with the zero-
crossing rate admitting quieter fricatives ("s", "f") that energy alone would miss.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from desktop_app.core.models import SAMPLE_WIDTH, PcmAudio

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class VadParams:
    frame_s: float = 0.02
    floor_dbfs: float = -50.0  # never call anything quieter than this speech
    above_noise_db: float = 12.0  # speech is this much louder than the noise floor
    noise_ceiling_dbfs: float = -40.0  # cap for the floor estimate (a recording that is all speech)
    fricative_zcr: float = 0.25  # zero crossings per sample that mark hiss-like speech sounds
    min_run_s: float = 0.04  # shorter bursts are clicks, not speech
    hangover_s: float = 0.1  # keep this much after speech (word endings decay slowly)


DEFAULT = VadParams()


def _samples(pcm: PcmAudio) -> npt.NDArray[np.float32]:
    return (np.frombuffer(pcm.data, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def frame_features(pcm: PcmAudio, params: VadParams = DEFAULT) -> tuple[npt.NDArray[np.float64],
                                                                         npt.NDArray[np.float64]]:
    """Per frame: RMS level in dBFS and zero-crossing rate (crossings per sample)."""
    x = _samples(pcm)
    size = max(1, int(params.frame_s * pcm.sample_rate))
    count = len(x) // size
    if count == 0:
        return np.zeros(0), np.zeros(0)
    frames = x[:count * size].reshape(count, size).astype(np.float64)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    db = 20.0 * np.log10(np.maximum(rms, 1e-9))
    signs = np.signbit(frames)
    zcr = np.count_nonzero(signs[:, 1:] != signs[:, :-1], axis=1) / size
    return db, zcr


def _runs(mask: BoolArray) -> list[tuple[int, int]]:
    """(start, end) index pairs of the True runs in ``mask``."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def speech_mask(pcm: PcmAudio, params: VadParams = DEFAULT) -> BoolArray:
    """True for each ``frame_s`` frame that holds speech."""
    db, zcr = frame_features(pcm, params)
    if len(db) == 0:
        return np.zeros(0, dtype=bool)
    noise = min(float(np.percentile(db, 10)), params.noise_ceiling_dbfs)
    threshold = max(params.floor_dbfs, noise + params.above_noise_db)
    loud = db > threshold
    fricative = (db > threshold - 6.0) & (zcr > params.fricative_zcr) & (db > params.floor_dbfs)
    mask = loud | fricative
    min_run = max(1, round(params.min_run_s / params.frame_s))
    for start, end in _runs(mask):
        if end - start < min_run:
            mask[start:end] = False
    hang = round(params.hangover_s / params.frame_s)
    if hang:
        for _start, end in _runs(mask.copy()):
            mask[end:end + hang] = True
    return mask


def speech_seconds(pcm: PcmAudio, params: VadParams = DEFAULT) -> float:
    return float(np.count_nonzero(speech_mask(pcm, params))) * params.frame_s


def has_speech(pcm: PcmAudio, min_speech_s: float = 0.3, params: VadParams = DEFAULT) -> bool:
    """Whether the recording is worth transcribing."""
    return speech_seconds(pcm, params) >= min_speech_s


def speech_segments(pcm: PcmAudio, params: VadParams = DEFAULT) -> list[tuple[float, float]]:
    """(start_s, end_s) of each stretch of speech."""
    return [(a * params.frame_s, b * params.frame_s) for a, b in _runs(speech_mask(pcm, params))]


def trim_silence(pcm: PcmAudio, margin_s: float = 0.2, params: VadParams = DEFAULT) -> PcmAudio:
    """Cut leading and trailing silence, keeping ``margin_s`` around the speech. No speech → empty audio."""
    segments = speech_segments(pcm, params)
    if not segments:
        return PcmAudio(b"", pcm.sample_rate)
    start = max(0, int((segments[0][0] - margin_s) * pcm.sample_rate))
    end = min(len(pcm.data) // SAMPLE_WIDTH, int((segments[-1][1] + margin_s) * pcm.sample_rate))
    return PcmAudio(pcm.data[start * SAMPLE_WIDTH:end * SAMPLE_WIDTH], pcm.sample_rate)


def split_points(pcm: PcmAudio, max_s: float, search_s: float | None = None,
                 params: VadParams = DEFAULT) -> list[int]:
    """Sample offsets where to cut so every piece is at most ``max_s`` long.

    Each cut goes into the middle of the longest silence within the last ``search_s`` (default: a quarter of
    ``max_s``, at most 30 s) before the limit; with no silence there, the cut falls on the limit itself.
    """
    rate = pcm.sample_rate
    total = len(pcm.data) // SAMPLE_WIDTH
    max_samples = int(max_s * rate)
    if max_samples <= 0:
        raise ValueError("max_s must be positive")
    search = int((search_s if search_s is not None else min(max_s / 4, 30.0)) * rate)
    frame = max(1, int(params.frame_s * rate))
    silent = ~speech_mask(pcm, params)
    cuts: list[int] = []
    start = 0
    while total - start > max_samples:
        limit = start + max_samples
        lo_frame = -(-max(start + 1, limit - search) // frame)  # first whole frame inside the window
        hi_frame = limit // frame
        best: tuple[int, int] | None = None
        for a, b in _runs(silent[lo_frame:hi_frame]):
            if best is None or b - a >= best[1] - best[0]:  # ties: the later one, nearer the limit
                best = (a, b)
        cut = limit if best is None else (lo_frame + (best[0] + best[1]) // 2) * frame
        cut = min(max(cut, start + 1), limit)
        cuts.append(cut)
        start = cut
    return cuts


def split(pcm: PcmAudio, max_s: float, search_s: float | None = None,
          params: VadParams = DEFAULT) -> list[PcmAudio]:
    """``pcm`` cut at ``split_points`` (one piece when it is short enough)."""
    bounds = [0, *split_points(pcm, max_s, search_s, params), len(pcm.data) // SAMPLE_WIDTH]
    return [PcmAudio(pcm.data[a * SAMPLE_WIDTH:b * SAMPLE_WIDTH], pcm.sample_rate)
            for a, b in itertools.pairwise(bounds)]


def max_seconds_for_bytes(limit_bytes: int, bytes_per_second: float, safety: float = 0.9) -> float:
    """Longest piece that stays under an upload limit, given the encoder's measured bytes per second."""
    return safety * limit_bytes / bytes_per_second

"""Measurements on recorded signals (numpy only)."""

from __future__ import annotations

import numpy as np

RATE = 24_000


def pcm_to_float(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def tone(seconds: float, freq: float = 440.0, rate: int = RATE, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def to_pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def best_correlation(recorded: np.ndarray, reference: np.ndarray) -> tuple[float, int]:
    """Peak normalised cross-correlation, and the lag (samples) where ``reference`` starts in ``recorded``."""
    n = len(recorded) + len(reference)
    size = 1 << (n - 1).bit_length()
    spec = np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(reference, size))
    corr = np.fft.irfft(spec, size)[:len(recorded)]
    lag = int(np.argmax(corr))
    segment = recorded[lag:lag + len(reference)]
    ref = reference[:len(segment)]
    denom = float(np.linalg.norm(segment) * np.linalg.norm(ref)) or 1.0
    return float(np.dot(segment, ref) / denom), lag


def loud_mask(samples: np.ndarray, frame_s: float = 0.005, threshold_dbfs: float = -30.0,
              rate: int = RATE) -> np.ndarray:
    """Per 5 ms frame: is it louder than the threshold (RMS)?"""
    size = int(frame_s * rate)
    count = len(samples) // size
    frames = samples[:count * size].reshape(count, size)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-9)) > threshold_dbfs


def onset_s(samples: np.ndarray, threshold_dbfs: float = -30.0, rate: int = RATE) -> float:
    """Time of the first loud 5 ms frame (seconds), or -1."""
    mask = loud_mask(samples, threshold_dbfs=threshold_dbfs, rate=rate)
    hits = np.flatnonzero(mask)
    return float(hits[0]) * 0.005 if len(hits) else -1.0


def tone_span_and_largest_gap(samples: np.ndarray,
                              threshold_dbfs: float = -30.0) -> tuple[float, float, float]:
    """(start_s, end_s, largest quiet gap in between, s) of the loud region, measured on 5 ms frames."""
    mask = loud_mask(samples, threshold_dbfs=threshold_dbfs)
    hits = np.flatnonzero(mask)
    if not len(hits):
        return -1.0, -1.0, 0.0
    inner = mask[hits[0]:hits[-1] + 1]
    padded = np.concatenate(([True], inner, [True]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    gaps = edges[1::2] - edges[::2]
    return hits[0] * 0.005, (hits[-1] + 1) * 0.005, float(gaps.max() if len(gaps) else 0) * 0.005

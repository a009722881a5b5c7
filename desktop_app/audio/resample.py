"""Sample-rate conversion in plain numpy (no scipy dependency).

Why linear interpolation behind a short windowed-sinc low-pass:
- it streams: each output sample needs two neighbouring input samples, so chunks can be converted one by one
  (live microphone pieces, TTS audio arriving over the network) with exact, drift-free positions computed
  from integer sample counters;
- speech sits below 8 kHz, where linear interpolation is nearly transparent; its weakness is aliasing when
  downsampling (48 kHz -> 24 kHz folds 12..24 kHz into the band), so a 63-tap Blackman-windowed sinc cuts
  at the output Nyquist first. Upsampling needs no filter (linear interpolation only adds faint images above
  the original band, far from speech).
A polyphase filter would be more exact for odd ratios (44.1 -> 24 kHz needs 80/147 phases) but costs more code
for no audible or transcription gain on speech.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

_TAPS = 63


def _lowpass_taps(in_rate: int, out_rate: int) -> FloatArray | None:
    """FIR taps that remove content above the output Nyquist, or None when upsampling."""
    if out_rate >= in_rate:
        return None
    cutoff = 0.95 * out_rate / in_rate  # fraction of the input Nyquist; keep a small guard band
    n = np.arange(_TAPS) - (_TAPS - 1) / 2
    taps = cutoff * np.sinc(cutoff * n) * np.blackman(_TAPS)
    return (taps / taps.sum()).astype(np.float32)


def _interpolate(buf: FloatArray, first_out: int, count: int, in_rate: int, out_rate: int,
                 buf_offset: int) -> FloatArray:
    """Output samples ``first_out .. first_out+count`` at input positions ``j*in_rate/out_rate``.

    ``buf[0]`` is input sample number ``buf_offset``. Integer arithmetic keeps positions exact for hours.
    """
    j = np.arange(first_out, first_out + count, dtype=np.int64)
    scaled = j * in_rate
    index = scaled // out_rate - buf_offset
    frac = ((scaled % out_rate) / out_rate).astype(np.float32)
    upper = np.minimum(index + 1, len(buf) - 1)
    return (buf[index] * (1.0 - frac) + buf[upper] * frac).astype(np.float32)


def resample(samples: FloatArray, in_rate: int, out_rate: int) -> FloatArray:
    """Convert a whole signal (float32 mono). Zero-phase: the filter delay is compensated."""
    samples = np.asarray(samples, dtype=np.float32)
    if in_rate == out_rate or len(samples) == 0:
        return samples.copy()
    taps = _lowpass_taps(in_rate, out_rate)
    if taps is not None:
        samples = np.convolve(samples, taps, mode="same").astype(np.float32)
    count = (len(samples) * out_rate) // in_rate
    return _interpolate(samples, 0, count, in_rate, out_rate, 0)


class StreamResampler:
    """Converts a stream chunk by chunk; the output equals ``resample`` of the whole stream, delayed by
    the filter's group delay ((63-1)/2 input samples, 0.65 ms at 48 kHz) when downsampling."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._taps = _lowpass_taps(in_rate, out_rate)
        self._fir_tail = np.zeros(_TAPS - 1, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)  # filtered input not yet fully used
        self._pending_offset = 0  # input sample number of _pending[0]
        self._in_count = 0  # filtered input samples seen so far
        self._out_count = 0  # output samples produced so far

    def push(self, chunk: FloatArray) -> FloatArray:
        chunk = np.asarray(chunk, dtype=np.float32)
        if self.in_rate == self.out_rate:
            return chunk.copy()
        if self._taps is not None:
            joined = np.concatenate((self._fir_tail, chunk))
            self._fir_tail = joined[len(joined) - (_TAPS - 1):].copy()
            chunk = np.convolve(joined, self._taps, mode="valid").astype(np.float32)
        buf = np.concatenate((self._pending, chunk))
        self._in_count += len(chunk)
        # Output j needs input floor(j*in/out) and the next one: both must have arrived.
        last_usable = self._in_count - 2
        if last_usable < 0:
            self._pending = buf
            return np.zeros(0, dtype=np.float32)
        end_out = (last_usable * self.out_rate) // self.in_rate + 1
        count = max(0, end_out - self._out_count)
        out = _interpolate(buf, self._out_count, count, self.in_rate, self.out_rate, self._pending_offset)
        self._out_count += count
        keep_from = (self._out_count * self.in_rate) // self.out_rate  # first input the next output needs
        drop = max(0, min(keep_from - self._pending_offset, len(buf)))
        self._pending = buf[drop:]
        self._pending_offset += drop
        return out


def to_float(pcm: bytes) -> FloatArray:
    """s16le bytes -> float32 in [-1, 1)."""
    return (np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def to_pcm16(samples: FloatArray) -> bytes:
    """float32 -> s16le bytes, clipped (no wrap-around clicks on overs)."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32) * 32768.0, -32768.0, 32767.0)
    return np.round(clipped).astype("<i2").tobytes()

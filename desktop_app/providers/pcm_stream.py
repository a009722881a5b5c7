"""Turn a speech body into s16le mono PCM pieces as bytes arrive (protocol doc §5.3, §10 rule 2).

The body is raw PCM (OpenAI: 24 kHz) or, from some servers, a WAV stream whose header sizes are
placeholders (0xFFFFFFFF or 0): the header then gives the rate and everything after it is PCM until EOF.
Pieces handed on always hold whole samples, whatever the network chunking.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from desktop_app.core.errors import ServerError
from desktop_app.core.models import SAMPLE_RATE

_PLACEHOLDER_SIZES = (0, 0xFFFFFFFF)
_MAX_HEADER_BYTES = 64 * 1024  # a WAV header with this much before "data" is not a streamed header
_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


class PcmStream:
    """Feed body bytes; whole-sample PCM goes to ``on_audio(pcm, sample_rate)``."""

    def __init__(self, on_audio: Callable[[bytes, int], None], default_rate: int = SAMPLE_RATE) -> None:
        self._on_audio = on_audio
        self._rate = default_rate
        self._head = bytearray()  # bytes held until we know whether a WAV header comes first
        self._decided = False
        self._carry = b""  # an odd trailing byte: half a sample waiting for its other half
        self._remaining: int | None = None  # bytes left in a sized WAV data chunk; None: until EOF

    @property
    def sample_rate(self) -> int:
        return self._rate

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if not self._decided:
            self._head += data
            if not self._decide():
                return
            data, self._head = bytes(self._head), bytearray()
        self._emit(data)

    def finish(self) -> None:
        """The body ended. A header that never completed is an error; half a trailing sample is dropped."""
        if not self._decided:
            if self._head.startswith(b"RIFF"):
                raise ServerError("The server's WAV audio ended inside its header.")
            self._decided = True
            data, self._head = bytes(self._head), bytearray()
            self._emit(data)
        self._carry = b""

    def _decide(self) -> bool:
        """True once the start of the body is understood; the PCM part is then left in ``_head``."""
        if len(self._head) < 4:
            return False
        if not self._head.startswith(b"RIFF"):
            self._decided = True
            return True
        header = _parse_wav_header(bytes(self._head))
        if header is None:
            if len(self._head) > _MAX_HEADER_BYTES:
                raise ServerError("The server's WAV audio has no data chunk.")
            return False
        rate, data_offset, data_size = header
        self._rate = rate
        self._remaining = None if data_size in _PLACEHOLDER_SIZES else data_size
        del self._head[:data_offset]
        self._decided = True
        return True

    def _emit(self, data: bytes) -> None:
        if self._remaining is not None:
            data = data[:self._remaining]
            self._remaining -= len(data)
        data = self._carry + data
        whole = len(data) - len(data) % 2
        self._carry = data[whole:]
        if whole:
            self._on_audio(data[:whole], self._rate)


def _parse_wav_header(head: bytes) -> tuple[int, int, int] | None:
    """(sample rate, offset of the PCM data, data size) once the header is complete, else None."""
    if len(head) < 12:
        return None
    if head[8:12] != b"WAVE":
        raise ServerError("The server sent a RIFF file that is not WAV audio.")
    offset = 12
    rate = 0
    while len(head) >= offset + 8:
        chunk_id, size = head[offset:offset + 4], struct.unpack_from("<I", head, offset + 4)[0]
        body = offset + 8
        if chunk_id == b"data":
            if not rate:
                raise ServerError("The server's WAV audio has no format chunk before its data.")
            return rate, body, size
        if len(head) < body + size:
            return None  # this chunk is not complete yet
        if chunk_id == b"fmt ":
            rate = _check_fmt(head[body:body + size])
        offset = body + size + (size & 1)  # RIFF chunks are padded to even sizes
    return None


def _check_fmt(fmt: bytes) -> int:
    if len(fmt) < 16:
        raise ServerError("The server's WAV format chunk is damaged.")
    audio_format, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", fmt)
    if audio_format not in (_WAVE_FORMAT_PCM, _WAVE_FORMAT_EXTENSIBLE) or channels != 1 or bits != 16:
        raise ServerError(
            f"The server sent audio Sayso cannot play directly (format {audio_format}, {channels} channels, "
            f"{bits}-bit); it needs 16-bit mono PCM.")
    if not 1000 <= rate <= 384_000:
        raise ServerError(f"The server's WAV audio has an impossible sample rate ({rate} Hz).")
    return int(rate)

"""Speech body → whole-sample PCM pieces, raw or behind a streamed WAV header (protocol doc §5.3, §10)."""

from __future__ import annotations

import struct

import pytest

from desktop_app.core.errors import ServerError
from desktop_app.providers.pcm_stream import PcmStream

PCM = bytes(range(256)) * 8  # 2048 bytes, 1024 samples


def wav_header(rate: int, size: int, *, channels: int = 1, bits: int = 16, extra: bytes = b"") -> bytes:
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    return (b"RIFF" + struct.pack("<I", size) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + extra
            + b"data" + struct.pack("<I", size))


def _run(body: bytes, piece: int, rate: int = 24000) -> list[tuple[bytes, int]]:
    out: list[tuple[bytes, int]] = []
    stream = PcmStream(lambda data, r: out.append((data, r)), default_rate=rate)
    for i in range(0, len(body), piece):
        stream.feed(body[i:i + piece])
    stream.finish()
    return out


@pytest.mark.parametrize("piece", [1, 3, 7, 44, 45, 1000])
def test_raw_pcm_keeps_sample_alignment_in_any_chunking(piece: int) -> None:
    out = _run(PCM + b"\x01", piece)  # a dangling half sample at the end is dropped
    assert all(len(data) % 2 == 0 and rate == 24000 for data, rate in out)
    assert b"".join(d for d, _ in out) == PCM
    if piece < len(PCM):
        assert len(out) > 1  # pieces go on as they arrive, not all at the end


@pytest.mark.parametrize("size", [0xFFFFFFFF, 0])
@pytest.mark.parametrize("piece", [1, 5, 43, 44, 4096])
def test_streamed_wav_with_placeholder_sizes_gives_its_rate_and_the_pcm(size: int, piece: int) -> None:
    out = _run(wav_header(22050, size) + PCM, piece)
    assert {rate for _, rate in out} == {22050}
    assert b"".join(d for d, _ in out) == PCM


def test_sized_wav_stops_at_the_data_size_and_skips_extra_chunks() -> None:
    extra = b"LIST" + struct.pack("<I", 5) + b"abcde" + b"\x00"  # odd chunk, padded
    out = _run(wav_header(16000, 100, extra=extra) + PCM, 17)
    assert b"".join(d for d, _ in out) == PCM[:100]


def test_stereo_wav_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ServerError, match="2 channels"):
        _run(wav_header(24000, 0xFFFFFFFF, channels=2) + PCM, 64)


def test_body_ending_inside_the_wav_header_is_an_error() -> None:
    with pytest.raises(ServerError, match="header"):
        _run(wav_header(24000, 0xFFFFFFFF)[:30], 64)

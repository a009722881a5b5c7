"""Fixtures for the fake OpenAI server's own tests: one server per module, clean controls per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.fakeopenai import FakeOpenAI
from tests.fakeopenai.asr import decode_upload, resample
from tests.support.fake_server import clean_server, module_server


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    yield from module_server(preload=True)


@pytest.fixture
def srv(server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    yield from clean_server(server)


@pytest.fixture
def client(srv: FakeOpenAI) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=srv.base_url + "/", headers={"Authorization": f"Bearer {srv.api_key}"}, timeout=30.0
    ) as c:
        yield c


@pytest.fixture(scope="session")
def jfk_flac(shared_dir: Path) -> bytes:
    return (shared_dir / "audio" / "jfk.flac").read_bytes()


@pytest.fixture(scope="session")
def jfk_pcm24k(jfk_flac: bytes) -> bytes:
    """The JFK clip as the realtime API wants it: s16le mono 24 kHz."""
    samples = resample(decode_upload(jfk_flac), 16000, 24000)
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()

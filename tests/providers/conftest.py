"""Fixtures for the provider contract tests: one fake OpenAI server per module, clean state per test."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from desktop_app.core.models import ApiConfig, EncodedAudio
from tests.fakeopenai import FakeOpenAI
from tests.support.fake_server import api_config, clean_server, module_server

JFK_WORDS = ["ask", "not", "what", "your", "country", "can", "do", "for", "you"]


def word_recall(expected: list[str], text: str) -> float:
    words = {w.strip(".,!?;:\"'").lower() for w in text.split()}
    return sum(1 for w in expected if w in words) / len(expected)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    yield from module_server(preload=True)


@pytest.fixture
def srv(server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    yield from clean_server(server)


@pytest.fixture
def config(srv: FakeOpenAI) -> ApiConfig:
    return api_config(srv)


@pytest.fixture(scope="session")
def jfk_flac(shared_dir: Path) -> EncodedAudio:
    """The JFK clip as the app would upload it: mono FLAC, encoded here with soundfile."""
    samples, rate = sf.read(shared_dir / "audio" / "jfk.flac", dtype="float32", always_2d=True)
    mono = samples.mean(axis=1).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, mono, rate, format="FLAC", subtype="PCM_16")
    return EncodedAudio(buffer.getvalue(), "speech.flac", "audio/flac", duration_s=len(mono) / rate)

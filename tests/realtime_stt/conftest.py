"""Fixtures for the realtime transcription tests: one in-process fake OpenAI server per module, the JFK
clip as 24 kHz PCM, and a recorder for the session's callbacks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from desktop_app.audio.encode import decode_file
from desktop_app.core.models import ApiConfig, TranscriptDelta
from tests.fakeopenai import FakeOpenAI
from tests.support.fake_server import api_config, clean_server, module_server

JFK_WORDS = ["ask", "not", "what", "your", "country", "can", "do", "for", "you"]
BYTES_PER_S = 48_000  # 24 kHz s16le mono


def word_recall(expected: list[str], text: str) -> float:
    words = {w.strip(".,!?;:\"'").lower() for w in text.split()}
    return sum(1 for w in expected if w in words) / len(expected)


def chunks(pcm: bytes, ms: int = 40) -> Iterator[bytes]:
    size = ms * BYTES_PER_S // 1000
    for start in range(0, len(pcm), size):
        yield pcm[start:start + size]


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * BYTES_PER_S) // 2 * 2)


@dataclass
class Recorder:
    """Collects what the session reports; tests wait on it instead of sleeping."""

    deltas: list[TranscriptDelta] = field(default_factory=list)
    completed: list[TranscriptDelta] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def on_delta(self, delta: TranscriptDelta) -> None:
        with self.cond:
            self.deltas.append(delta)
            self.cond.notify_all()

    def on_completed(self, delta: TranscriptDelta) -> None:
        with self.cond:
            self.completed.append(delta)
            self.cond.notify_all()

    def wait_completed(self, count: int, timeout: float = 60.0) -> list[TranscriptDelta]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.completed) >= count, timeout):
                pytest.fail(f"only {len(self.completed)} of {count} utterances completed in {timeout} s")
            return list(self.completed)


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
def jfk_pcm(shared_dir: Path) -> bytes:
    return decode_file(shared_dir / "audio" / "jfk.flac").data


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()

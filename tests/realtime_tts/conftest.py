"""Fixtures for the realtime speech engine: one fake OpenAI server per module, clean state per test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from desktop_app.core.models import ApiConfig, SpeechOptions
from desktop_app.providers.openai_realtime_tts import OpenAIRealtimeSpeech
from tests.fakeopenai import FakeOpenAI
from tests.support.fake_server import api_config, clean_server, module_server

OPTIONS = SpeechOptions(model="gpt-4o-mini-tts", voice="marin")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    yield from module_server(preload=False)


@pytest.fixture
def srv(server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    yield from clean_server(server)


@pytest.fixture
def config(srv: FakeOpenAI) -> ApiConfig:
    return api_config(srv)


@dataclass
class Recorder:
    """What the engine told us: server events (with arrival times), notices, transcripts."""

    events: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    transcripts: list[tuple[int, str, bool]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def observe(self, event: dict[str, Any], at: float) -> None:
        with self.changed:
            self.events.append((event, at))
            self.changed.notify_all()

    def types(self) -> list[str]:
        with self.changed:
            return [event["type"] for event, _ in self.events]

    def first(self, kind: str) -> tuple[dict[str, Any], float]:
        with self.changed:
            return next((ev, at) for ev, at in self.events if ev["type"] == kind)

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate([ev for ev, _ in self.events]):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the expected server events did not arrive")
                self.changed.wait(left)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def engine(config: ApiConfig, recorder: Recorder) -> Iterator[OpenAIRealtimeSpeech]:
    speech = OpenAIRealtimeSpeech(config, on_notice=recorder.notices.append,
                                  on_transcript=lambda i, t, f: recorder.transcripts.append((i, t, f)),
                                  observer=recorder.observe)
    yield speech
    speech.close()

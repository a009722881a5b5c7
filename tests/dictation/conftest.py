"""Fixtures of the dictation service tests: one fake OpenAI server per module (a real speech model behind
it), a clean slate per test, and the JFK clip as the microphone would deliver it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.audio.encode import decode_file
from desktop_app.core.models import PcmAudio
from tests.fakeopenai import FakeOpenAI
from tests.support.fake_server import clean_server, module_server


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    yield from module_server(preload=True)


@pytest.fixture
def srv(server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    yield from clean_server(server)


@pytest.fixture(scope="module")
def jfk(shared_dir: Path) -> PcmAudio:
    return decode_file(shared_dir / "audio" / "jfk.flac")

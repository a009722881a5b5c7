"""Every end-to-end test runs on the headless desktop (Xvfb + tray host, PulseAudio, Secret Service).

Shared fixtures: the fake OpenAI server in its own process, once per test module (``server`` with the speech
model loaded up front, for dictation; ``fake`` without, for reading), and the recorded speaker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakeopenai import FakeOpenAIProcess
from tests.support.desktop import require_desktop
from tests.support.speaker import SpeakerMonitor


@pytest.fixture(autouse=True)
def _desktop() -> None:
    require_desktop()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIProcess]:
    require_desktop()
    with FakeOpenAIProcess(preload=True) as srv:
        yield srv


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIProcess]:
    require_desktop()
    with FakeOpenAIProcess() as srv:
        yield srv


@pytest.fixture
def speaker(tmp_path: Path) -> Iterator[SpeakerMonitor]:
    """The virtual speaker recorded for the length of one test."""
    monitor = SpeakerMonitor(tmp_path / "speaker.raw")
    yield monitor
    monitor.close()

"""Every end-to-end test runs on the headless desktop (Xvfb + tray host, PulseAudio, Secret Service)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.desktop import require_desktop
from tests.support.speaker import SpeakerMonitor


@pytest.fixture(autouse=True)
def _desktop() -> None:
    require_desktop()


@pytest.fixture
def speaker(tmp_path: Path) -> Iterator[SpeakerMonitor]:
    """The virtual speaker recorded for the length of one test."""
    monitor = SpeakerMonitor(tmp_path / "speaker.raw")
    yield monitor
    monitor.close()

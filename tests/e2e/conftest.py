"""Every end-to-end test runs on the headless desktop (Xvfb + tray host, PulseAudio, Secret Service)."""

from __future__ import annotations

import pytest

from tests.support.desktop import require_desktop


@pytest.fixture(autouse=True)
def _desktop() -> None:
    require_desktop()

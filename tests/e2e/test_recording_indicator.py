"""The recording badge appears while dictating, without taking the focus from the app the text goes to."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.app_process import start_app
from tests.support.desktop import focused_window, start_target_app, wait_for


def _visible(name: str) -> bool:
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", f"^{name}$"], capture_output=True,
                           text=True, timeout=10, check=False)
    return found.returncode == 0 and bool(found.stdout.strip())  # exit code 1: nothing matches


def test_indicator_shows_while_recording_and_never_takes_the_focus(tmp_path: Path) -> None:
    env = dict(os.environ, OPENAI_API_KEY="sk-indicator-test-0000000000", OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    app = start_app(tmp_path / "profile", env=env, args=("--minimized",))
    try:
        wait_for(lambda: "Microphone live" in app.log_text(), 30, "the microphone to deliver audio")
        with start_target_app("lineedit", tmp_path) as target:
            target.focus()
            assert app.cli("dictate", "start").returncode == 0
            app.wait_state("recording")
            wait_for(lambda: _visible("Sayso recording"), 10, "the recording badge to show")
            assert focused_window() == target.window_id, "the badge did not take the focus"
            assert app.cli("dictate", "cancel").returncode == 0
            app.wait_state("idle")
            wait_for(lambda: not _visible("Sayso recording"), 10, "the badge to hide")
    finally:
        assert app.quit() == 0

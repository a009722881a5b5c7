"""`sayso doctor` on the headless desktop names what works, and says what is missing when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.app_process import sayso_cli

KEY = "sk-doctor-" + "x" * 30


def test_doctor_reports_every_part_of_a_working_desktop(tmp_path: Path) -> None:
    env = dict(os.environ, OPENAI_API_KEY=KEY)
    result = sayso_cli(tmp_path / "p", "doctor", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    report = result.stdout
    for expected in ("X11", "system tray available", "XGrabKey", "Push-to-talk (key release): yes",
                     "PRIMARY", "inputs:", "outputs:", "SecretService", "OPENAI_API_KEY", "Sayso 0.1"):
        assert expected in report, expected
    assert KEY not in report and KEY not in result.stderr


def test_doctor_says_what_is_missing(tmp_path: Path) -> None:
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent/bus", QT_QPA_PLATFORM="offscreen")
    env.pop("OPENAI_API_KEY", None)
    result = sayso_cli(tmp_path / "p", "doctor", env=env)
    assert result.returncode == 1
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.strip()}
    assert lines["keyring"].startswith("FAIL") and "OPENAI_API_KEY" in lines["keyring"]
    assert "NOT available" in lines["qt"]

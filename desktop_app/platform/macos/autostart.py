"""Start at login on macOS: a LaunchAgent plist in ~/Library/LaunchAgents."""

from __future__ import annotations

import plistlib
from collections.abc import Sequence
from pathlib import Path

LABEL = "app.sayso.Sayso"


def launch_agent(command: Sequence[str]) -> dict[str, object]:
    return {
        "Label": LABEL,
        "ProgramArguments": [*command, "--minimized"],
        "RunAtLoad": True,
        "KeepAlive": False,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }


class LaunchAgentAutostart:
    def __init__(self, command: Sequence[str], home: Path | None = None) -> None:
        self._command = list(command)
        self.path = (home or Path.home()) / "Library" / "LaunchAgents" / f"{LABEL}.plist"

    def is_enabled(self) -> bool:
        return self.path.is_file()

    def set_enabled(self, enabled: bool) -> None:
        if not enabled:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(plistlib.dumps(launch_agent(self._command)))
        tmp.replace(self.path)

"""Helpers for platform tests: xdotool, and the target app in another process."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGET_APP = Path(__file__).resolve().parent / "target_app.py"


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=10)


class TargetApp:
    """The target_app.py subprocess; read its JSON lines with a timeout (no sleeping)."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, QT_QPA_PLATFORM="xcb")
        self.proc = subprocess.Popen([sys.executable, str(TARGET_APP), *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.text = ""
        self._buffer = b""
        self.window_id = int(self.wait_for(lambda m: "ready" in m)["ready"])

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = self._next_message(deadline)
            if message is None:
                raise AssertionError(f"target app: condition not met in {timeout} s (text={self.text!r})")
            if "text" in message:
                self.text = message["text"]
            if predicate(message):
                return message

    def _next_message(self, deadline: float) -> dict[str, Any] | None:
        """One JSON line; reads the raw pipe (a buffered reader would hide lines from select)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError("target app exited")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        result: dict[str, Any] = json.loads(line)
        return result

    def wait_text(self, expected: str, timeout: float = 10.0) -> None:
        if self.text != expected:
            self.wait_for(lambda m: m.get("text") == expected, timeout)

    def focus(self) -> None:
        xdotool("windowfocus", "--sync", str(self.window_id))

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

"""Fixtures for platform tests: a real X server, and a text field in another process to type into."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.platform.support import TargetApp


def _free_display_number() -> int:
    for number in range(140, 400):
        if not Path(f"/tmp/.X{number}-lock").exists() and not Path(f"/tmp/.X11-unix/X{number}").exists():
            return number
    raise RuntimeError("No free X display number")


def _read_line(fd: int, timeout: float) -> str:
    """Read up to the newline: closing the pipe earlier makes Xvfb die on writing the "\\n"."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        chunk = os.read(fd, 32) if ready else b""
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """DISPLAY from the test runner (scripts/test.sh), else a private Xvfb for this session."""
    existing = os.environ.get("DISPLAY")
    if existing:
        yield existing
        return
    read_fd, write_fd = os.pipe()
    number = _free_display_number()
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24",
         "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    announced = _read_line(read_fd, timeout=15)  # Xvfb writes "N\n" once it accepts clients
    os.close(read_fd)
    if not announced:
        server.kill()
        pytest.fail("Xvfb did not start")
    name = f":{announced}"
    os.environ["DISPLAY"] = name
    try:
        yield name
    finally:
        del os.environ["DISPLAY"]
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def target_app(x_display: str) -> Iterator[Callable[..., TargetApp]]:
    started: list[TargetApp] = []

    def start(*args: str) -> TargetApp:
        app = TargetApp(*args)
        started.append(app)
        return app

    yield start
    for app in started:
        app.close()

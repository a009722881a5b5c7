"""The app shell for real: tray icon embedded in a tray host, its menu opened with the mouse, the window
rendered, single instance, IPC control, quit — the app runs as its own process on Xvfb."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.app_process import AppProcess, sayso_cli, start_app
from tests.support.desktop import screenshot, wait_for, xdotool


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppProcess]:
    running = start_app(tmp_path / "profile")
    yield running
    running.kill()


def test_tray_icon_menu_window_and_quit(app: AppProcess, artifacts_dir: Path) -> None:
    status = app.wait_state("idle")
    assert status["tray"] is True, "the tray icon is embedded in the tray host"
    assert status["window_visible"] is True
    x, y, width, height = status["tray_geometry"]
    assert width > 0 and height > 0

    screenshot(artifacts_dir / "main-window.png")
    xdotool("mousemove", str(x + width // 2), str(y + height // 2))
    xdotool("click", "3")
    wait_for(lambda: (s := app.status()) and s["tray_menu_visible"], 10, "the tray menu to open")
    screenshot(artifacts_dir / "tray-menu.png")
    xdotool("key", "Escape")
    wait_for(lambda: (s := app.status()) and not s["tray_menu_visible"], 10, "the tray menu to close")

    assert app.quit() == 0
    log = app.log_text()
    assert "Ready in" in log
    assert "Destroyed while thread" not in app.output()
    assert "still blocked" not in log, "every worker thread stopped and was joined"


def test_second_start_raises_the_first_and_exits_0(app: AppProcess) -> None:
    second = app.cli()
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    assert app.process.poll() is None, "the first instance keeps running"
    assert app.status() is not None


def test_ipc_commands_reach_the_running_instance(app: AppProcess) -> None:
    show = app.cli("show")
    assert show.returncode == 0 and "shown" in show.stdout
    unknown = app.cli("dictate", "sideways")
    assert unknown.returncode == 2  # argparse refuses it before it is sent
    assert app.cli("quit").returncode == 0
    assert app.process.wait(30) == 0


def test_without_a_running_instance_commands_say_so(tmp_path: Path) -> None:
    for args in (("dictate", "start"), ("read", "hello"), ("stop",), ("quit",), ("status",)):
        result = sayso_cli(tmp_path / "nobody", *args)
        assert result.returncode == 3, (args, result.stdout, result.stderr)
        assert "not running" in result.stderr


def test_minimized_start_shows_only_the_tray(tmp_path: Path) -> None:
    app = start_app(tmp_path / "profile", args=("--minimized",))
    try:
        status = app.wait_state("idle")
        assert status["tray"] is True
        assert status["window_visible"] is False
        assert app.cli("show").returncode == 0
        wait_for(lambda: (s := app.status()) and s["window_visible"], 10, "the window to show")
    finally:
        assert app.quit() == 0


@pytest.fixture
def display_without_tray() -> Iterator[str]:
    """A second X server with no tray host on it."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen([shutil.which("Xvfb") or "Xvfb", "-displayfd", str(write_fd), "-screen", "0",
                             "1024x768x24", "-nolisten", "tcp", "-noreset"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    number = b""
    with os.fdopen(read_fd, "rb") as pipe:
        while not number.endswith(b"\n"):
            chunk = pipe.read(1)
            if not chunk:
                break
            number += chunk
    try:
        yield f":{number.decode().strip()}"
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def test_without_a_tray_host_the_window_stays_and_says_why(tmp_path: Path, display_without_tray: str,
                                                          artifacts_dir: Path) -> None:
    env = dict(os.environ, DISPLAY=display_without_tray)
    app = start_app(tmp_path / "profile", env=env, args=("--minimized",))
    try:
        status = app.wait_state("idle")
        assert status["tray"] is False
        assert "No system tray available" in app.log_text()
        subprocess.run(["import", "-display", display_without_tray, "-window", "root",
                        str(artifacts_dir / "no-tray-window.png")], check=True, timeout=30)
    finally:
        assert app.quit() == 0

"""Runs the real Sayso app as a separate process for end-to-end tests and talks to it like a user would
(CLI commands over its IPC socket, xdotool on the X server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.desktop import REPO, wait_for

SAYSO = [sys.executable, "-m", "desktop_app"]


def sayso_cli(profile: Path, *args: str, env: Mapping[str, str] | None = None, input_text: str | None = None,
              timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run one `sayso --profile PROFILE ARGS…` command and return its result (never raises on exit codes)."""
    return subprocess.run([*SAYSO, "--profile", str(profile), *args], cwd=REPO, env=dict(env or os.environ),
                          input=input_text, capture_output=True, text=True, timeout=timeout, check=False)


@dataclass
class AppProcess:
    profile: Path
    env: dict[str, str]
    process: subprocess.Popen[str]
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def cli(self, *args: str, input_text: str | None = None, timeout: float = 60.0
            ) -> subprocess.CompletedProcess[str]:
        return sayso_cli(self.profile, *args, env=self.env, input_text=input_text, timeout=timeout)

    def status(self) -> dict[str, Any] | None:
        result = self.cli("status", timeout=10)
        if result.returncode != 0:
            return None
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def wait_state(self, state: str, timeout: float = 30.0) -> dict[str, Any]:
        seen: list[dict[str, Any] | None] = [None]

        def reached() -> dict[str, Any]:
            current = seen[0] = self.status()
            return current if current is not None and current.get("state") == state else {}

        try:
            return wait_for(reached, timeout, f"Sayso state {state!r}")
        except pytest.fail.Exception as exc:  # say where it stuck: the CI run is the only witness
            log_tail = "\n".join(self.log_text().splitlines()[-40:])
            raise pytest.fail.Exception(f"{exc.msg}; last status {seen[0]}; "
                                        f"log tail:\n{log_tail}", pytrace=False) from None

    def log_text(self) -> str:
        logs = self.profile / "logs" / "sayso.log"
        return logs.read_text(encoding="utf-8", errors="replace") if logs.exists() else ""

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def quit(self, timeout: float = 30.0) -> int:
        """`sayso quit` and wait for the process; returns its exit code."""
        if self.process.poll() is None:
            self.cli("quit", timeout=10)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                raise AssertionError(f"Sayso did not exit within {timeout} s after `sayso quit`:\n{self.output()}"
                                     ) from None
        code = int(self.process.returncode)
        if code != 0:
            print(f"Sayso exited with {code}; its output:\n{self.output()[-4000:]}")
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


def start_app(profile: Path, *, env: Mapping[str, str] | None = None, args: tuple[str, ...] = (),
              settings: Mapping[str, str] | None = None, timeout: float = 60.0) -> AppProcess:
    """Start `sayso --profile PROFILE` and return once it answers `status` (its window and tray are up).

    ``settings`` are applied with `sayso config set` before the start (dotted keys → text values).
    """
    profile.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ if env is None else env)
    full_env.setdefault("QT_QPA_PLATFORM", "xcb")
    for key, value in (settings or {}).items():
        result = sayso_cli(profile, "config", "set", key, value, env=full_env)
        if result.returncode != 0:
            raise AssertionError(f"config set {key} {value} failed: {result.stderr}")
    log_path = profile / "app-output.log"
    log_file = log_path.open("w", encoding="utf-8")
    process = subprocess.Popen([*SAYSO, "--profile", str(profile), *args], cwd=REPO, env=full_env,
                               stdout=log_file, stderr=subprocess.STDOUT, text=True)
    log_file.close()
    app = AppProcess(profile=profile, env=full_env, process=process, log_path=log_path)

    def ready() -> dict[str, Any] | None:
        if process.poll() is not None:
            raise AssertionError(f"Sayso exited early with {process.returncode}:\n{app.output()}")
        return app.status()

    wait_for(ready, timeout, "Sayso to start and answer `sayso status`", interval=0.1)
    return app


@contextmanager
def dictation_app(profile: Path, *, env: Mapping[str, str], settings: Mapping[str, str],
                  mic_timeout: float = 20.0) -> Iterator[AppProcess]:
    """The app started minimized for dictation tests: yielded once its microphone delivers audio (a key-down
    before that would record nothing), and quit afterwards with exit code 0 (anything else is a failure)."""
    app = start_app(profile, env=env, args=("--minimized",), settings=settings)
    try:
        wait_for(lambda: "Microphone live" in app.log_text(), mic_timeout, "the microphone to deliver audio")
        yield app
    finally:
        code = app.quit()
        assert code == 0, app.output()

"""`FakeOpenAIProcess`: the same server in a child process, driven through the admin HTTP API.

It offers the same controls as `FakeOpenAI` (add_fault, requests, valid_keys, models, …), so a test can use
either one. Use it when the app under test is itself another process, or to keep the server's CPU work
(speech recognition) out of the test process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, MutableSet
from pathlib import Path
from typing import IO, Any

import httpx

from .server import _wait_for
from .state import DEFAULT_API_KEY, Fault, RecordedRequest, make_fault

REPO_ROOT = Path(__file__).resolve().parents[2]


class RemoteSet(MutableSet[str]):
    """valid_keys / models of the child process; every operation is one admin call."""

    def __init__(self, admin: httpx.Client, name: str) -> None:
        self._admin = admin
        self._name = name

    def _get(self) -> set[str]:
        response = self._admin.get(f"/_admin/{self._name}")
        response.raise_for_status()
        return set(response.json())

    def replace(self, items: Iterable[str]) -> None:
        self._admin.put(f"/_admin/{self._name}", json=sorted(items)).raise_for_status()

    def __contains__(self, item: object) -> bool:
        return item in self._get()

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._get()))

    def __len__(self) -> int:
        return len(self._get())

    def add(self, value: str) -> None:
        self.replace(self._get() | {value})

    def discard(self, value: str) -> None:
        self.replace(self._get() - {value})

    def __repr__(self) -> str:
        return f"RemoteSet({self._name}={sorted(self)!r})"


class FakeOpenAIProcess:
    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        preload: bool = False,
        session_max_s: float = 3600.0,
        python: str = sys.executable,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.api_key = api_key
        self._preload = preload
        self._session_max_s = session_max_s
        self._python = python
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self._admin: httpx.Client | None = None
        self.base_url = ""

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> FakeOpenAIProcess:
        # Kept open for the child's whole life and closed in stop(), so no context manager here.
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            "w+", prefix="fakeopenai-", suffix=".log", delete=False
        )
        command = [
            self._python,
            "-m",
            "tests.fakeopenai",
            "--port",
            "0",
            "--print-url",
            "--session-max-s",
            str(self._session_max_s),
        ]
        if self._preload:
            command.append("--preload")
        # The key travels in the environment, never on the command line.
        env = {**os.environ, "FAKEOPENAI_API_KEYS": self.api_key}
        self._process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        line = _read_line(self._process.stdout, self._start_timeout_s)
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"fake server did not print its URL (got {line!r}); log: {self.log_text()}")
        self.base_url = line.strip()
        self._admin = httpx.Client(base_url=self.root_url, timeout=60.0)
        return self

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> FakeOpenAIProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_text(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # -- addresses --------------------------------------------------------------------------------
    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/realtime"

    # -- controls (same names as FakeOpenAI) ------------------------------------------------------
    @property
    def admin(self) -> httpx.Client:
        if self._admin is None:
            raise RuntimeError("the fake server process is not running")
        return self._admin

    def add_fault(self, endpoint: str, *kinds: str, times: int | None = 1, **params: Any) -> Fault:
        fault = make_fault(endpoint, kinds, params, times)  # validate here, so mistakes fail in the test
        self.admin.post("/_admin/fault", json=fault.to_json()).raise_for_status()
        return fault

    def clear_faults(self) -> None:
        self.admin.delete("/_admin/faults").raise_for_status()

    @property
    def pending_faults(self) -> list[dict[str, Any]]:
        response = self.admin.get("/_admin/faults")
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    @property
    def requests(self) -> list[RecordedRequest]:
        response = self.admin.get("/_admin/requests")
        response.raise_for_status()
        return [RecordedRequest.from_json(r) for r in response.json()]

    def clear_requests(self) -> None:
        self.admin.delete("/_admin/requests").raise_for_status()

    def wait_for_requests(
        self,
        count: int = 1,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        timeout: float = 10.0,
    ) -> list[RecordedRequest]:
        return _wait_for(lambda: self.requests, count, predicate, timeout)

    @property
    def valid_keys(self) -> RemoteSet:
        return RemoteSet(self.admin, "valid_keys")

    @valid_keys.setter
    def valid_keys(self, keys: Iterable[str]) -> None:
        self.valid_keys.replace(keys)

    @property
    def models(self) -> RemoteSet:
        return RemoteSet(self.admin, "models")

    @models.setter
    def models(self, models: Iterable[str]) -> None:
        self.models.replace(models)

    def preload(self) -> None:
        self.admin.post("/_admin/preload").raise_for_status()

    def set_speech_rate(self, words_per_minute: int | None) -> None:
        """Fast speech for long-text tests (see tts.set_speech_rate); None restores the default."""
        self.admin.put("/_admin/speech_rate", json={"words_per_minute": words_per_minute}).raise_for_status()

    def set_steady_tone(self, enabled: bool) -> None:
        """A steady tone instead of speech, as long as the speech (see tts.set_steady_tone)."""
        self.admin.put("/_admin/speech_tone", json={"steady_tone": enabled}).raise_for_status()


def _read_line(stream: IO[str] | None, timeout_s: float) -> str:
    """readline() with a deadline: a thread reads, the caller waits on it."""
    if stream is None:
        return ""
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return result[0] if result else ""

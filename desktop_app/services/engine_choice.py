"""Which transcription engine dictation uses (``dictation.engine``), and the words that explain it.

``auto`` means: OpenAI when a key is configured and its server answers a quick TCP connect, otherwise the
local model. The reachability check is cached for a short while so holding the hotkey never waits on the
network twice in a row; a closed port or an unknown host answers at once, a black-holed network costs at
most ``timeout_s``.

Everything about the local model (is it downloaded, how big) arrives as a ``LocalModelView`` (the
providers' ``LocalModelStatus`` fits it), because services do not import adapters.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from desktop_app.core.settings import Settings

OPENAI, LOCAL = "openai", "local"


class LocalModelView(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def ready(self) -> bool: ...
    @property
    def needs_download(self) -> bool: ...
    @property
    def download_size_text(self) -> str: ...
    @property
    def problem(self) -> str: ...


@dataclass(frozen=True)
class EngineChoice:
    engine: str  # "openai" or "local"
    reason: str  # one sentence for the UI / log: which engine and why


def tcp_reachable(base_url: str, timeout_s: float = 1.5) -> bool:
    """True when a TCP connection to the base URL's host and port opens within ``timeout_s``."""
    parts = urlsplit(base_url.strip())
    host = parts.hostname
    if not host:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


class Reachability:
    """A cached reachability check: a result is trusted for ``ttl_s`` seconds per base URL."""

    def __init__(self, probe: Callable[[str], bool] = tcp_reachable, ttl_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._probe = probe
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, bool]] = {}

    def __call__(self, base_url: str) -> bool:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(base_url)
            if cached and now - cached[0] < self._ttl_s:
                return cached[1]
        result = self._probe(base_url)
        with self._lock:
            self._cache[base_url] = (self._clock(), result)
        return result

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


def choose_engine(setting: str, *, has_key: bool, base_url: str, reachable: Callable[[str], bool]) -> EngineChoice:
    """Resolve ``dictation.engine`` (openai | local | auto) to the engine to use now, with the reason."""
    if setting == LOCAL:
        return EngineChoice(LOCAL, "Transcribing on this computer (Settings: engine = local).")
    if setting == OPENAI:
        return EngineChoice(OPENAI, "Transcribing with OpenAI (Settings: engine = openai).")
    if not has_key:
        return EngineChoice(LOCAL, "Transcribing on this computer: no OpenAI API key is set.")
    if not reachable(base_url):
        host = urlsplit(base_url).hostname or base_url
        return EngineChoice(LOCAL, f"Transcribing on this computer: the server {host} cannot be reached (offline?).")
    return EngineChoice(OPENAI, "Transcribing with OpenAI: a key is set and the server is reachable.")


def choose_for_settings(settings: Settings, *, has_key: bool, reachable: Callable[[str], bool],
                        base_url: str | None = None, override: str | None = None) -> EngineChoice:
    return choose_engine(override or settings.dictation.engine, has_key=has_key,
                         base_url=base_url or settings.api.base_url, reachable=reachable)


def first_start_message(model: LocalModelView, engine_available: bool = True, install_hint: str = "") -> str:
    """What a new user without a key reads: the two ways forward, never a dead end.

    Offline is promised only when it can work: without faster-whisper the text gives the install step
    first (a download would end in "not installed")."""
    if not engine_available:
        offline = ("2. Use offline dictation on this computer: it needs the local engine (faster-whisper), which "
                   f"is not installed. Install it with: {install_hint or 'pip install faster-whisper'}, then "
                   "restart Sayso.")
        if model.needs_download:
            offline += (f" The local model {model.name} ({model.download_size_text}) is then downloaded once, "
                        "or choose a model folder you already have in Settings → Dictation → Local model.")
    elif model.ready:
        offline = (f"2. Use offline dictation: the local model {model.name} is ready, so dictation works now, "
                   "on this computer, without a key or network.")
    elif model.needs_download:
        offline = (f"2. Use offline dictation: Sayso downloads the local model {model.name} "
                   f"({model.download_size_text}, once) and then transcribes on this computer, with no key "
                   "and no network. Choose a model in Settings → Dictation → Local model.")
    else:
        offline = ("2. Use offline dictation on this computer: set Settings → Dictation → Local model to a model "
                   f"name (tiny.en, base, …) or a model folder. {model.problem}").strip()
    return ("No OpenAI API key is set. You can:\n"
            "1. Paste an API key in Settings → API (or run `sayso key set`) to use OpenAI's transcription and "
            "voices.\n" + offline + "\nRead-aloud uses the system voice until a key is set.")


def describe_local_engine(engine_available: bool, model: LocalModelView, install_hint: str) -> str:
    """One paragraph for `sayso doctor`: is local transcription installed, and which model will it use."""
    engine = "faster-whisper installed" if engine_available else f"faster-whisper NOT installed ({install_hint})"
    if model.ready:
        state = f"ready in {model.path}"
    elif model.needs_download:
        state = f"not downloaded yet ({model.download_size_text}; downloads on first local dictation into {model.path})"
    else:
        state = f"unusable: {model.problem}"
    return f"Local transcription: {engine}; model {model.name}: {state}"


def engine_needs_key(setting: str) -> bool:
    """Whether dictation must stop for a missing key: only when the user chose OpenAI explicitly
    (local never needs one; auto falls back to local)."""
    return setting == OPENAI

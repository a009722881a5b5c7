"""The *auto* speech engine: the REST speech endpoint while it serves the configured model, the Realtime
engine once the server says that model is gone — and from then on, remembered across reads and restarts.

OpenAI shuts down ``tts-1``, ``tts-1-hd`` and ``gpt-4o-mini-tts`` on 2027-01-06; the REST adapter reports
that day's answers (404/400 ``model_not_found``, 410, a deprecation message) as ``ModelRetired``. The
switch is tied to the model that was refused: choosing another REST model in Settings tries REST again.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import ModelRetired
from desktop_app.core.models import SpeechChunk, SpeechOptions
from desktop_app.core.ports import Synthesizer

log = logging.getLogger(__name__)

STATE_FILE_NAME = "speech-engine-state.json"


@dataclass(frozen=True)
class EngineSwitch:
    """The REST model the server refused, when, and what it said."""

    retired_model: str
    reason: str
    since: str  # ISO 8601, UTC


class SwitchMemory:
    """The switch, kept in a small JSON file (``None``: in memory only). Thread-safe."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cached: EngineSwitch | None = None
        self._loaded = path is None

    def load(self) -> EngineSwitch | None:
        with self._lock:
            if not self._loaded:
                self._loaded = True
                self._cached = self._read()
            return self._cached

    def switched_for(self, rest_model: str) -> EngineSwitch | None:
        switch = self.load()
        return switch if switch is not None and switch.retired_model == rest_model else None

    def remember(self, switch: EngineSwitch) -> None:
        with self._lock:
            self._cached, self._loaded = switch, True
            if self.path is not None:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = self.path.with_suffix(".tmp")
                    tmp.write_text(json.dumps({"auto_engine": "realtime", **asdict(switch)}, indent=2),
                                   encoding="utf-8")
                    tmp.replace(self.path)
                except OSError as exc:  # the switch still holds for this run
                    log.warning("could not remember the speech engine switch in %s: %s", self.path, exc)

    def forget(self) -> None:
        with self._lock:
            self._cached, self._loaded = None, True
            if self.path is not None:
                self.path.unlink(missing_ok=True)

    def _read(self) -> EngineSwitch | None:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return EngineSwitch(str(data["retired_model"]), str(data.get("reason", "")), str(data.get("since", "")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring an unreadable speech engine state file %s: %s", self.path, exc)
            return None


def switch_notice(switch: EngineSwitch) -> str:
    return (f"The speech model “{switch.retired_model}” is no longer available on the server, so Sayso now "
            "reads aloud through the Realtime API. Nothing to do; this stays so from now on.")


class AutoSpeech:
    """``core.ports.Synthesizer`` for *auto*: REST first; on ``ModelRetired`` before any audio, the chunk
    (and every later one) goes to the realtime engine, the user is told once, the switch is remembered."""

    def __init__(self, rest: Synthesizer, make_realtime: Callable[[], Synthesizer], memory: SwitchMemory,
                 on_switch: Callable[[str], None] | None = None, realtime_max_chars: int | None = None) -> None:
        self._rest = rest
        self._make_realtime = make_realtime
        self._realtime: Synthesizer | None = None
        self._memory = memory
        self._on_switch = on_switch
        self._realtime_max_chars = realtime_max_chars  # the realtime engine's chunk limit (see max_chunk_chars)
        self._lock = threading.Lock()
        # The read pipeline's hooks for a realtime engine (highlight from its transcript, pause-aware
        # look-ahead): kept here so they reach the realtime engine even when it is made mid-reading.
        self._transcript_listener: Callable[[int, str, bool], None] | None = None
        self._queued_probe: Callable[[], float] | None = None

    @property
    def max_chunk_chars(self) -> int | None:
        """Once a switch is remembered, the realtime engine's chunk limit (one response per sentence group);
        REST chunks need none. A reading that switches mid-way has its longer chunks read in parts."""
        return self._realtime_max_chars if self._memory.load() is not None else None

    def listen_transcript(self, listener: Callable[[int, str, bool], None] | None) -> None:
        self._transcript_listener = listener
        self._forward_hooks(self._realtime)

    def watch_playback(self, queued_s: Callable[[], float] | None) -> None:
        self._queued_probe = queued_s
        self._forward_hooks(self._realtime)

    def _forward_hooks(self, engine: Synthesizer | None) -> None:
        if engine is None:
            return
        listen = getattr(engine, "listen_transcript", None)
        if callable(listen):
            listen(self._transcript_listener)
        watch = getattr(engine, "watch_playback", None)
        if callable(watch):
            watch(self._queued_probe)

    def engine_for(self, options: SpeechOptions) -> str:
        return "realtime" if self._memory.switched_for(options.model) else "speech"

    def synthesize(self, chunk: SpeechChunk, options: SpeechOptions,
                   on_audio: Callable[[bytes, int], None], cancel: CancelToken) -> None:
        if self._memory.switched_for(options.model):
            self._realtime_engine().synthesize(chunk, options, on_audio, cancel)
            return
        delivered = False

        def counting(pcm: bytes, rate: int) -> None:
            nonlocal delivered
            delivered = True
            on_audio(pcm, rate)

        try:
            self._rest.synthesize(chunk, options, counting, cancel)
            return
        except ModelRetired as exc:
            if delivered:  # a model does not retire mid-sentence; this is something else: report it
                raise
            self._switch(options.model, exc)
        self._realtime_engine().synthesize(chunk, options, on_audio, cancel)

    def prefetch(self, chunk: SpeechChunk, options: SpeechOptions, cancel: CancelToken | None = None) -> bool:
        if not self._memory.switched_for(options.model):
            return False
        prefetch = getattr(self._realtime_engine(), "prefetch", None)
        return bool(prefetch(chunk, options, cancel)) if callable(prefetch) else False

    def stop(self) -> None:
        for engine in (self._rest, self._realtime):
            stop = getattr(engine, "stop", None)
            if callable(stop):
                stop()

    def close(self) -> None:
        for engine in (self._rest, self._realtime):
            close = getattr(engine, "close", None)
            if callable(close):
                close()

    def _realtime_engine(self) -> Synthesizer:
        with self._lock:
            if self._realtime is None:
                self._realtime = self._make_realtime()
                self._forward_hooks(self._realtime)
            return self._realtime

    def _switch(self, model: str, exc: ModelRetired) -> None:
        with self._lock:
            if self._memory.switched_for(model):
                return  # another chunk switched first: one notice only
            now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
            switch = EngineSwitch(retired_model=model, reason=exc.user_message, since=now)
            self._memory.remember(switch)
        log.warning("speech model %s refused (%s); switching read-aloud to the realtime engine", model,
                    exc.detail or exc.user_message)
        if self._on_switch is not None:
            self._on_switch(switch_notice(switch))


def engine_status(setting: str, has_key: bool, rest_model: str, memory: SwitchMemory) -> tuple[str, str]:
    """(engine, why) for Settings → Read aloud: which engine reads now and the reason, in one line."""
    if setting == "auto":
        if not has_key:
            return "system", "Automatic: no API key is set, so the system voice reads."
        switch = memory.switched_for(rest_model)
        if switch is not None:
            day = switch.since[:10] or "earlier"
            return "realtime", (f"Automatic: the server no longer offers “{rest_model}” (since {day}), so the "
                                "Realtime API reads.")
        return "speech", (f"Automatic: the speech endpoint with “{rest_model}”; if the server retires it, the "
                          "Realtime API takes over.")
    if setting in ("speech", "realtime") and not has_key:
        return setting, "Chosen in Settings, but no API key is set: add one in Settings → API."
    return setting, "Chosen in Settings."

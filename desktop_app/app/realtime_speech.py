"""Wires the realtime speech engine and the *auto* fallback into read-aloud.

``app/read_aloud.make_synthesizer`` asks :func:`network_synthesizer` for *realtime* and *auto*. The
realtime engine keeps its WebSocket session between reads (a new connection costs a handshake and a
``session.update`` round trip): the read pipeline closes its synthesizer after every reading, so it gets
a lease whose ``close`` only stops the engine. The app closes the engine at shutdown.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import ApiConfig, SpeechChunk, SpeechOptions
from desktop_app.core.settings import Settings
from desktop_app.services.speech_fallback import STATE_FILE_NAME, AutoSpeech, SwitchMemory, engine_status

if TYPE_CHECKING:
    from desktop_app.core.ports import Synthesizer
    from desktop_app.providers.openai_realtime_tts import OpenAIRealtimeSpeech
    from desktop_app.storage.profile import Profile

log = logging.getLogger(__name__)

Tell = Callable[[str, str, str], None]  # (title, message, level), like AppController.tell

_lock = threading.Lock()
_memory = SwitchMemory(None)
_tell: Tell | None = None
_shared: tuple[tuple[str, str, str], OpenAIRealtimeSpeech] | None = None
_leased = False


def attach(profile: Profile, tell: Tell | None, on_shutdown: list[Callable[[], None]] | None = None) -> None:
    """Where the *auto* switch is remembered (the profile) and how the user is told about it."""
    global _memory, _tell
    with _lock:
        _memory = SwitchMemory(profile.config_dir / STATE_FILE_NAME)
        _tell = tell
    if on_shutdown is not None:
        on_shutdown.append(close_shared)


def tell_on_stderr(title: str, message: str, level: str = "info") -> None:
    print(f"{title}: {message}", file=sys.stderr)


def memory() -> SwitchMemory:
    return _memory


def status(settings: Settings, has_key: bool) -> tuple[str, str]:
    """(engine, why) for the Settings page: which engine reads now, and the reason."""
    return engine_status(settings.read.engine, has_key, settings.read.model, _memory)


def network_synthesizer(config: ApiConfig, engine: str, settings: Settings) -> Synthesizer:
    """The PCM engine for ``engine`` (*realtime*, *speech*) under ``read.engine`` = ``settings.read.engine``."""
    from desktop_app.providers.openai_tts import OpenAISpeech
    from desktop_app.providers.realtime_tts_protocol import MAX_CHUNK_CHARS

    model = settings.read.realtime_model
    if engine == "realtime":
        return _lease(config, model)
    if settings.read.engine == "auto":
        return AutoSpeech(OpenAISpeech(config), lambda: _lease(config, model), _memory, on_switch=_notify_switch,
                          realtime_max_chars=MAX_CHUNK_CHARS)
    return OpenAISpeech(config)


def close_shared() -> None:
    global _shared
    with _lock:
        shared, _shared = _shared, None
    if shared is not None:
        shared[1].close()


# ----- the shared engine ------------------------------------------------------------------------------------

class _Lease:
    """The shared engine for one reading; ``close`` stops what is in flight and keeps the session."""

    def __init__(self, engine: OpenAIRealtimeSpeech, shared: bool) -> None:
        self._engine = engine
        self._shared = shared
        self._closed = False
        self.max_chunk_chars = engine.max_chunk_chars  # the read pipeline cuts its chunks to this size

    def listen_transcript(self, listener: Callable[[int, str, bool], None] | None) -> None:
        """The read pipeline's highlight follows the transcript events (see the engine)."""
        self._engine.listen_transcript(listener)

    def watch_playback(self, queued_s: Callable[[], float] | None) -> None:
        """The read pipeline's figure of audio queued ahead of the listener (pause-aware; see the engine)."""
        self._engine.watch_playback(queued_s)

    def synthesize(self, chunk: SpeechChunk, options: SpeechOptions,
                   on_audio: Callable[[bytes, int], None], cancel: CancelToken) -> None:
        self._engine.synthesize(chunk, options, on_audio, cancel)

    def prefetch(self, chunk: SpeechChunk, options: SpeechOptions, cancel: CancelToken | None = None) -> bool:
        return self._engine.prefetch(chunk, options, cancel)

    def stop(self) -> None:
        self._engine.stop()

    def close(self) -> None:
        global _leased
        if self._closed:
            return
        self._closed = True
        self._engine.listen_transcript(None)
        self._engine.watch_playback(None)
        if not self._shared:
            self._engine.close()
            return
        self._engine.stop()
        with _lock:
            _leased = False


def _lease(config: ApiConfig, model: str) -> _Lease:
    """The shared engine when it is free and fits ``config``; otherwise one of its own (e.g. a save to a
    file while a reading is running), closed with the lease."""
    global _shared, _leased
    key = (config.base_url, config.api_key, model)
    stale: OpenAIRealtimeSpeech | None = None
    with _lock:
        if _leased:
            return _Lease(_new_engine(config, model), shared=False)
        if _shared is None or _shared[0] != key:
            stale = _shared[1] if _shared is not None else None
            _shared = (key, _new_engine(config, model))
        _leased = True
        engine: OpenAIRealtimeSpeech = _shared[1]
    if stale is not None:
        stale.close()
    return _Lease(engine, shared=True)


def _new_engine(config: ApiConfig, model: str) -> OpenAIRealtimeSpeech:
    from desktop_app.providers.openai_realtime_tts import OpenAIRealtimeSpeech

    return OpenAIRealtimeSpeech(config, model=model, on_notice=_notify_voice)


def _notify_switch(message: str) -> None:
    tell = _tell
    if tell is not None:
        tell("Read aloud", message, "info")


def _notify_voice(message: str) -> None:
    tell = _tell
    if tell is not None:
        tell("Read aloud", message, "info")


"""Ports: what the services need from the outside world. Adapters in audio/, providers/, storage/ and
platform/ implement them; app.py wires the implementations in. Everything here is stdlib only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import (
    EncodedAudio,
    PcmAudio,
    SpeechChunk,
    SpeechOptions,
    Transcript,
    TranscriptDelta,
    TranscriptionOptions,
)


@runtime_checkable
class SecretStore(Protocol):
    """The OS keyring. Raises SecretStoreUnavailable (with the fix in its message) when unusable."""

    def backend_name(self) -> str: ...
    def get(self, account: str) -> str | None: ...
    def set(self, account: str, secret: str) -> None: ...
    def delete(self, account: str) -> bool: ...


class Transcriber(Protocol):
    def transcribe(self, audio: EncodedAudio, options: TranscriptionOptions,
                   on_delta: Callable[[TranscriptDelta], None], cancel: CancelToken) -> Transcript: ...


class Synthesizer(Protocol):
    """Speaks one chunk: PCM bytes (s16le mono at ``sample_rate``) go to ``on_audio`` as they arrive."""

    def synthesize(self, chunk: SpeechChunk, options: SpeechOptions,
                   on_audio: Callable[[bytes, int], None], cancel: CancelToken) -> None: ...


class AudioSource(Protocol):
    """A microphone kept warm while armed; ``take_recording`` returns audio since ``mark_start``."""

    def open(self, device: str) -> None: ...
    def close(self) -> None: ...
    def mark_start(self) -> None: ...
    def take_recording(self) -> PcmAudio: ...
    def level(self) -> float: ...


class AudioSink(Protocol):
    def open(self, device: str, sample_rate: int) -> None: ...
    def write(self, pcm: bytes) -> None: ...
    def pause(self, paused: bool) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class HotkeyBinding:
    name: str  # "dictate", "read", "cancel"
    sequence: str  # Qt portable text, e.g. "Ctrl+Alt+D"


class HotkeyService(Protocol):
    """Global hotkeys. Callbacks run on the backend's thread: the qt/ bridge moves them to the GUI thread."""

    def backend_name(self) -> str: ...
    def supports_release(self) -> bool: ...
    def register(self, binding: HotkeyBinding, on_press: Callable[[], None],
                 on_release: Callable[[], None] | None = None) -> None: ...
    def unregister(self, name: str) -> None: ...  # e.g. the Esc "cancel" grab once recording stops
    def unregister_all(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class FocusTarget:
    """The window that had focus when dictation started; text goes back there."""

    window_id: int = 0
    app_name: str = ""
    is_terminal: bool = False


@dataclass(frozen=True)
class InsertResult:
    delivered: bool  # confirmed (or as confirmed as the platform allows)
    left_on_clipboard: bool
    message: str = ""


class TextInserter(Protocol):
    def backend_name(self) -> str: ...
    def focused_target(self) -> FocusTarget: ...
    def insert(self, text: str, target: FocusTarget, method: str) -> InsertResult: ...


class SelectionReader(Protocol):
    def read_selection(self) -> str | None: ...


class Autostart(Protocol):
    def is_enabled(self) -> bool: ...
    def set_enabled(self, enabled: bool) -> None: ...


class TextSource(Protocol):
    """Lazily yields speech chunks, so a 10 MB text never sits in memory as audio."""

    def chunks(self) -> Iterator[SpeechChunk]: ...



"""Ports: what the services need from the outside world. Adapters in audio/, providers/, storage/ and
platform/ implement them; app.py wires the implementations in. Everything here is stdlib only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import AudioDeviceError
from desktop_app.core.models import (
    SAMPLE_RATE,
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
    """A microphone kept warm while armed; ``take_recording`` returns audio since ``mark_start``
    (including a short pre-roll, so the first word survives)."""

    def open(self, device: str) -> None: ...
    def close(self) -> None: ...
    def mark_start(self) -> None: ...
    def take_recording(self) -> PcmAudio: ...
    def read_new(self, max_s: float = 0.1) -> bytes:
        """PCM captured since the last call (for streaming while the user speaks)."""
        ...
    def level(self) -> float: ...
    @property
    def error(self) -> AudioDeviceError | None: ...
    @property
    def overflows(self) -> int: ...


class AudioSink(Protocol):
    """A warm output stream (PortAudio streams start slowly: open once, keep it)."""

    def open(self, device: str, sample_rate: int = SAMPLE_RATE) -> None: ...
    def write(self, pcm: bytes, sample_rate: int | None = None) -> None:
        """Queue PCM (s16le mono); blocks while the bounded buffer is full; resamples other rates."""
        ...
    def drain(self, timeout: float | None = None) -> bool: ...
    def pause(self, paused: bool) -> None: ...
    def stop(self) -> None:
        """Drop everything buffered now (sound ends within one callback period)."""
        ...
    def close(self) -> None: ...
    @property
    def played_seconds(self) -> float: ...
    @property
    def written_seconds(self) -> float: ...
    @property
    def underruns(self) -> int: ...
    @property
    def error(self) -> AudioDeviceError | None: ...


class StreamingSession(Protocol):
    """One open streaming transcription (Realtime WebSocket): audio in while the user speaks, text out."""

    def append(self, pcm: bytes) -> None: ...
    def commit(self) -> None:
        """End of an utterance (push-to-talk release); its ``completed`` follows."""
        ...
    def finish(self, timeout: float) -> list[str]:
        """Wait for every committed utterance's final text (in commit order) and return them."""
        ...
    def close(self) -> None: ...


class StreamingTranscriber(Protocol):
    def open(self, options: TranscriptionOptions, on_delta: Callable[[TranscriptDelta], None],
             on_completed: Callable[[TranscriptDelta], None], cancel: CancelToken,
             server_vad: bool = False) -> StreamingSession: ...


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


class TypingSession(Protocol):
    """Typing into one window while a transcript streams in (``insert.method = "type"``).

    Every call answers whether keys went to the target. Without ``refocus`` nothing is sent while another
    window has the focus (the user moved on: keys must not land there); with it the target is given the
    focus back first, as ``insert`` does. ``erase`` sends BackSpace ``count`` times: one per character
    (code point) that this session typed — the caller never erases more than that."""

    def type(self, text: str, *, refocus: bool = False) -> bool: ...
    def erase(self, count: int, *, refocus: bool = False) -> bool: ...
    def close(self) -> None: ...


class TextInserter(Protocol):
    def backend_name(self) -> str: ...
    def focused_target(self) -> FocusTarget: ...
    def insert(self, text: str, target: FocusTarget, method: str) -> InsertResult: ...
    def start_typing(self, target: FocusTarget) -> TypingSession | None:
        """A session for typing live into ``target``; None where this platform cannot (then the final
        text goes in with one ``insert``)."""
        ...


class SelectionReader(Protocol):
    def read_selection(self) -> str | None: ...


class Autostart(Protocol):
    def is_enabled(self) -> bool: ...
    def set_enabled(self, enabled: bool) -> None: ...


class TextSource(Protocol):
    """Lazily yields speech chunks, so a 10 MB text never sits in memory as audio."""

    def chunks(self) -> Iterator[SpeechChunk]: ...



"""Dictation history: one entry per recording that reached the transcriber (or was meant to).

The audio is on disk before any upload, so a failed or interrupted transcription can be retried later.
``storage/history.py`` implements :class:`HistoryStore` on SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from desktop_app.core.models import EncodedAudio

# Status of an entry. ``recording`` and ``transcribing`` are "in flight": an entry still in one of them
# when the app starts was cut short by a crash or kill and becomes ``interrupted``.
RECORDING = "recording"
TRANSCRIBING = "transcribing"
DONE = "done"
FAILED = "failed"
INTERRUPTED = "interrupted"
CANCELLED = "cancelled"
STATUSES = (RECORDING, TRANSCRIBING, DONE, FAILED, INTERRUPTED, CANCELLED)
IN_FLIGHT = (RECORDING, TRANSCRIBING)


@dataclass(frozen=True)
class HistoryEntry:
    entry_id: int
    created_at: float  # Unix time
    status: str
    model: str
    transport: str
    duration_s: float
    text: str = ""
    error: str = ""
    audio_path: str = ""  # "" once the audio was deleted (retention, or never saved)
    timings: dict[str, Any] = field(default_factory=dict)

    @property
    def has_audio(self) -> bool:
        return bool(self.audio_path)

    @property
    def retryable(self) -> bool:
        return self.has_audio and self.status not in IN_FLIGHT

    def to_json(self) -> dict[str, Any]:
        return {"id": self.entry_id, "created_at": self.created_at, "status": self.status, "model": self.model,
                "transport": self.transport, "duration_s": self.duration_s, "text": self.text,
                "error": self.error, "audio_path": self.audio_path, "timings": self.timings}


class HistoryStore(Protocol):
    """Thread-safe: the GUI thread lists, worker threads create and update."""

    def create(self, *, model: str, transport: str, duration_s: float, status: str = TRANSCRIBING) -> int: ...

    def save_audio(self, entry_id: int, audio: EncodedAudio) -> str:
        """Write the recording to disk (durably) and remember its path; returns the path."""
        ...

    def load_audio(self, entry_id: int) -> EncodedAudio | None: ...

    def update(self, entry_id: int, *, status: str | None = None, text: str | None = None,
               error: str | None = None, model: str | None = None,
               timings: dict[str, Any] | None = None) -> None: ...

    def get(self, entry_id: int) -> HistoryEntry | None: ...

    def entries(self, search: str = "", limit: int = 100) -> list[HistoryEntry]:
        """Newest first; ``search`` matches the text (case-insensitive substring)."""
        ...

    def delete(self, entry_id: int) -> bool:
        """Remove the entry and its audio file."""
        ...

    def mark_interrupted(self) -> list[HistoryEntry]:
        """At start-up: entries left in flight by a previous run become ``interrupted``; returns them."""
        ...

    def apply_retention(self, keep_audio_days: int, now: float | None = None) -> int:
        """Delete audio files per ``history.keep_audio_days``; returns how many were deleted."""
        ...

    def close(self) -> None: ...

"""Dictation history in SQLite (WAL) plus the recordings as files in the profile's audio folder.

One connection shared by all threads behind a lock: writes are small and rare (a few per dictation), so a
lock is simpler than a connection per thread and keeps every write ordered. WAL lets the CLI
(`sayso history retry`) read and write while the app runs.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from desktop_app.core.history import CANCELLED, DONE, IN_FLIGHT, INTERRUPTED, HistoryEntry
from desktop_app.core.models import EncodedAudio

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    status TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    transport TEXT NOT NULL DEFAULT '',
    duration_s REAL NOT NULL DEFAULT 0,
    timings TEXT NOT NULL DEFAULT '{}',
    text TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    audio_path TEXT NOT NULL DEFAULT '',
    audio_mime TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS entries_created ON entries(created_at);
"""
_COLUMNS = "id, created_at, status, model, transport, duration_s, timings, text, error, audio_path"
_MIME_SUFFIX = {"audio/flac": ".flac", "audio/ogg": ".ogg", "audio/wav": ".wav", "audio/mpeg": ".mp3"}
DAY_S = 86_400.0


class SqliteHistoryStore:
    """Implements ``core.history.HistoryStore``."""

    def __init__(self, db_path: Path, audio_dir: Path) -> None:
        self.db_path = db_path
        self.audio_dir = audio_dir
        db_path.parent.mkdir(parents=True, exist_ok=True)
        audio_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, timeout=10.0,
                                   isolation_level=None)  # autocommit; explicit transactions where needed
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    # -- writes -------------------------------------------------------------------------------------------

    def create(self, *, model: str, transport: str, duration_s: float, status: str = "transcribing") -> int:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO entries (created_at, status, model, transport, duration_s) VALUES (?, ?, ?, ?, ?)",
                (time.time(), status, model, transport, float(duration_s)))
            return int(cursor.lastrowid or 0)

    def save_audio(self, entry_id: int, audio: EncodedAudio) -> str:
        suffix = _MIME_SUFFIX.get(audio.mime_type, Path(audio.filename).suffix or ".bin")
        path = self.audio_dir / f"dictation-{entry_id:06d}{suffix}"
        tmp = path.with_suffix(path.suffix + ".part")
        # fsync before the rename: a crash right after must not leave a truncated file behind a valid name.
        with open(tmp, "wb") as handle:
            handle.write(audio.data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        with self._lock:
            self._db.execute("UPDATE entries SET audio_path = ?, audio_mime = ? WHERE id = ?",
                             (str(path), audio.mime_type, entry_id))
        return str(path)

    def update(self, entry_id: int, *, status: str | None = None, text: str | None = None,
               error: str | None = None, model: str | None = None,
               timings: dict[str, Any] | None = None) -> None:
        fields: list[str] = []
        values: list[Any] = []
        for name, value in (("status", status), ("text", text), ("error", error), ("model", model)):
            if value is not None:
                fields.append(f"{name} = ?")
                values.append(value)
        if timings is not None:
            fields.append("timings = ?")
            values.append(json.dumps(timings, sort_keys=True))
        if not fields:
            return
        with self._lock:
            self._db.execute(f"UPDATE entries SET {', '.join(fields)} WHERE id = ?", (*values, entry_id))

    def delete(self, entry_id: int) -> bool:
        entry = self.get(entry_id)
        if entry is None:
            return False
        self._remove_file(entry.audio_path)
        with self._lock:
            self._db.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
        return True

    def mark_interrupted(self) -> list[HistoryEntry]:
        marks = ",".join("?" for _ in IN_FLIGHT)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM entries WHERE status IN ({marks}) ORDER BY id", IN_FLIGHT).fetchall()
                self._db.execute(f"UPDATE entries SET status = ?, error = CASE WHEN error = '' THEN ? ELSE error END"
                                 f" WHERE status IN ({marks})",
                                 (INTERRUPTED, "Sayso stopped before the transcription finished.", *IN_FLIGHT))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [self.get(int(row[0])) or _entry(row) for row in rows]

    def apply_retention(self, keep_audio_days: int, now: float | None = None) -> int:
        """-1 keeps every recording; 0 deletes a recording once its transcription is done; N > 0 deletes
        recordings older than N days. Recordings of failed or interrupted entries are kept until then, so
        they can still be retried."""
        if keep_audio_days < 0:
            return 0
        now = time.time() if now is None else now
        with self._lock:
            if keep_audio_days == 0:
                rows = self._db.execute("SELECT id, audio_path FROM entries WHERE audio_path != '' AND status IN "
                                        "(?, ?)", (DONE, CANCELLED)).fetchall()
            else:
                rows = self._db.execute("SELECT id, audio_path FROM entries WHERE audio_path != '' AND "
                                        "created_at < ?", (now - keep_audio_days * DAY_S,)).fetchall()
        for entry_id, path in rows:
            self._remove_file(path)
            with self._lock:
                self._db.execute("UPDATE entries SET audio_path = '' WHERE id = ?", (entry_id,))
        return len(rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- reads --------------------------------------------------------------------------------------------

    def get(self, entry_id: int) -> HistoryEntry | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM entries WHERE id = ?", (entry_id,)).fetchone()
        return _entry(row) if row else None

    def entries(self, search: str = "", limit: int = 100) -> list[HistoryEntry]:
        query = f"SELECT {_COLUMNS} FROM entries"
        params: list[Any] = []
        if search.strip():
            query += " WHERE text LIKE ? ESCAPE '\\'"
            escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.append(f"%{escaped}%")
        query += " ORDER BY id DESC LIMIT ?"
        params.append(max(0, int(limit)))
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return [_entry(row) for row in rows]

    def load_audio(self, entry_id: int) -> EncodedAudio | None:
        with self._lock:
            row = self._db.execute("SELECT audio_path, audio_mime, duration_s FROM entries WHERE id = ?",
                                   (entry_id,)).fetchone()
        if not row or not row[0]:
            return None
        path = Path(row[0])
        try:
            data = path.read_bytes()
        except OSError as exc:
            log.warning("Recording of history entry %d is unreadable: %s", entry_id, exc)
            return None
        return EncodedAudio(data, "speech" + path.suffix, row[1] or "audio/flac", float(row[2]))

    @staticmethod
    def _remove_file(path: str) -> None:
        if path:
            try:
                Path(path).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("Could not delete recording %s: %s", path, exc)


def _entry(row: tuple[Any, ...]) -> HistoryEntry:
    try:
        timings = json.loads(row[6] or "{}")
    except ValueError:
        timings = {}
    return HistoryEntry(entry_id=int(row[0]), created_at=float(row[1]), status=str(row[2]), model=str(row[3]),
                        transport=str(row[4]), duration_s=float(row[5]), timings=timings, text=str(row[7]),
                        error=str(row[8]), audio_path=str(row[9]))


__all__ = ["SqliteHistoryStore"]

"""The SQLite history store: audio on disk, statuses, search, delete, crash recovery, retention, threads."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from desktop_app.core.models import EncodedAudio
from desktop_app.storage.history import DAY_S, SqliteHistoryStore

AUDIO = EncodedAudio(b"fLaC-not-really", "speech.flac", "audio/flac", 1.5)


@pytest.fixture
def store(tmp_path: Path) -> SqliteHistoryStore:
    return SqliteHistoryStore(tmp_path / "history.sqlite3", tmp_path / "audio")


def test_an_entry_keeps_its_audio_file_and_its_outcome(store: SqliteHistoryStore) -> None:
    entry_id = store.create(model="gpt-transcribe", transport="rest", duration_s=1.5)
    path = store.save_audio(entry_id, AUDIO)
    assert Path(path).read_bytes() == AUDIO.data and path.endswith(".flac")
    store.update(entry_id, status="done", text="Hello there", timings={"transcribe_ms": 12.5})
    entry = store.get(entry_id)
    assert entry is not None
    assert (entry.status, entry.text, entry.model, entry.timings) == ("done", "Hello there", "gpt-transcribe",
                                                                      {"transcribe_ms": 12.5})
    loaded = store.load_audio(entry_id)
    assert loaded is not None and loaded.data == AUDIO.data and loaded.mime_type == "audio/flac"


def test_search_is_a_case_insensitive_substring_and_wildcards_are_literal(store: SqliteHistoryStore) -> None:
    for text in ("Call Alice tomorrow", "100% sure", "nothing"):
        store.update(store.create(model="m", transport="rest", duration_s=1), status="done", text=text)
    assert [e.text for e in store.entries("alice")] == ["Call Alice tomorrow"]
    assert [e.text for e in store.entries("%")] == ["100% sure"]
    assert [e.text for e in store.entries()] == ["nothing", "100% sure", "Call Alice tomorrow"]  # newest first
    assert len(store.entries(limit=2)) == 2


def test_delete_removes_the_entry_and_its_recording(store: SqliteHistoryStore) -> None:
    entry_id = store.create(model="m", transport="rest", duration_s=1)
    path = Path(store.save_audio(entry_id, AUDIO))
    assert store.delete(entry_id)
    assert store.get(entry_id) is None and not path.exists()
    assert not store.delete(entry_id)


def test_entries_left_in_flight_by_a_crash_become_interrupted_on_the_next_open(tmp_path: Path) -> None:
    first = SqliteHistoryStore(tmp_path / "h.sqlite3", tmp_path / "audio")
    flying = first.create(model="m", transport="rest", duration_s=1)
    first.save_audio(flying, AUDIO)
    finished = first.create(model="m", transport="rest", duration_s=1)
    first.update(finished, status="done", text="ok")
    # No close(): a killed process never gets to close its connection.
    second = SqliteHistoryStore(tmp_path / "h.sqlite3", tmp_path / "audio")
    interrupted = second.mark_interrupted()
    assert [e.entry_id for e in interrupted] == [flying]
    entry = second.get(flying)
    assert entry is not None and entry.status == "interrupted" and entry.retryable and entry.error
    assert second.get(finished).status == "done"  # type: ignore[union-attr]
    assert second.mark_interrupted() == []


def test_retention_zero_deletes_recordings_of_done_entries_but_keeps_failed_ones(store: SqliteHistoryStore) -> None:
    done = store.create(model="m", transport="rest", duration_s=1)
    failed = store.create(model="m", transport="rest", duration_s=1)
    done_path, failed_path = Path(store.save_audio(done, AUDIO)), Path(store.save_audio(failed, AUDIO))
    store.update(done, status="done", text="x")
    store.update(failed, status="failed", error="boom")
    assert store.apply_retention(0) == 1
    assert not done_path.exists() and failed_path.exists()
    assert not store.get(done).has_audio  # type: ignore[union-attr]
    assert store.get(done).text == "x"  # type: ignore[union-attr]


def test_retention_in_days_deletes_only_older_recordings_and_minus_one_keeps_all(store: SqliteHistoryStore) -> None:
    entry_id = store.create(model="m", transport="rest", duration_s=1)
    path = Path(store.save_audio(entry_id, AUDIO))
    assert store.apply_retention(-1, now=time.time() + 1000 * DAY_S) == 0
    assert store.apply_retention(30, now=time.time() + 29 * DAY_S) == 0 and path.exists()
    assert store.apply_retention(30, now=time.time() + 31 * DAY_S) == 1 and not path.exists()


def test_worker_threads_can_write_while_the_gui_thread_reads(store: SqliteHistoryStore) -> None:
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(50):
                entry_id = store.create(model="m", transport="rest", duration_s=1)
                store.update(entry_id, status="done", text="t")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        store.entries(limit=10)
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.entries(limit=1000)) == 200

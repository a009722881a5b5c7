"""Helpers shared by the dictation tests: speech clips cut from jfk.flac, history via the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from tests.support.app_process import AppProcess
from tests.support.desktop import wait_for

JFK_TRANSCRIPT = ("And so, my fellow Americans, ask not what your country can do for you,"
                  " ask what you can do for your country.")
JFK_OPENING = "And so, my fellow Americans, ask not what your country can do for you"


def jfk_path(shared_dir: Path) -> Path:
    return shared_dir / "audio" / "jfk.flac"


def cut_clip(source: Path, out: Path, start_s: float, end_s: float) -> Path:
    """A WAV slice of ``source`` (paplay plays WAV reliably)."""
    data, rate = sf.read(str(source), dtype="int16", always_2d=True)
    sf.write(str(out), data[int(start_s * rate):int(end_s * rate)], rate, subtype="PCM_16")
    return out


def repeat_clip(source: Path, out: Path, seconds: float, gap_s: float = 0.6) -> Path:
    """``source`` repeated (with short silences between) to at least ``seconds``: a long utterance."""
    data, rate = sf.read(str(source), dtype="int16", always_2d=True)
    mono = data.mean(axis=1).astype(np.int16)
    gap = np.zeros(int(gap_s * rate), dtype=np.int16)
    pieces: list[np.ndarray] = []
    total = 0
    while total < seconds * rate:
        pieces.extend([mono, gap])
        total += len(mono) + len(gap)
    sf.write(str(out), np.concatenate(pieces), rate, subtype="PCM_16")
    return out


def silence_clip(out: Path, seconds: float, rate: int = 24_000) -> Path:
    sf.write(str(out), np.zeros(int(seconds * rate), dtype=np.int16), rate, subtype="PCM_16")
    return out


def history(app: AppProcess) -> list[dict[str, Any]]:
    result = app.cli("history", "list", "--json", "--limit", "1000")
    assert result.returncode == 0, result.stderr
    entries: list[dict[str, Any]] = json.loads(result.stdout)
    return entries


def newest_entry(app: AppProcess, after_id: int = 0) -> dict[str, Any] | None:
    entries = [entry for entry in history(app) if entry["id"] > after_id]
    return entries[0] if entries else None


def wait_entry(app: AppProcess, after_id: int, statuses: tuple[str, ...], timeout: float = 60.0
               ) -> dict[str, Any]:
    """The newest history entry after ``after_id`` once its status is one of ``statuses``."""

    def ended() -> dict[str, Any]:
        entry = newest_entry(app, after_id)
        return entry if entry is not None and entry["status"] in statuses else {}  # {} = keep waiting

    return wait_for(ended, timeout, f"a history entry with status {statuses}")


def last_id(app: AppProcess) -> int:
    entries = history(app)
    return int(entries[0]["id"]) if entries else 0

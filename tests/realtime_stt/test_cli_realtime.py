"""`sayso transcribe FILE --transport realtime` as a real process against the fake server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.fakeopenai import FakeOpenAI

from .conftest import JFK_WORDS, word_recall

JFK_SECONDS = 11.0


def run_cli(srv: FakeOpenAI, tmp_path: Path, *args: str, base_url: str | None = None,
            ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_BASE_URL": base_url or srv.base_url, "OPENAI_API_KEY": srv.api_key}
    return subprocess.run([sys.executable, "-m", "desktop_app", "--profile", str(tmp_path / "profile"),
                           "transcribe", *args], env=env, capture_output=True, text=True, timeout=120)


def test_fast_realtime_transcription_of_a_file(srv: FakeOpenAI, tmp_path: Path, shared_dir: Path) -> None:
    result = run_cli(srv, tmp_path, str(shared_dir / "audio" / "jfk.flac"), "--transport", "realtime",
                     "--fast", "--format", "json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["transport"] == "realtime" and word_recall(JFK_WORDS, answer["text"]) >= 0.8
    [request] = [r for r in srv.requests if r.endpoint == "realtime"]
    assert request.query == {"intent": "transcription"}
    assert not [r for r in srv.requests if r.endpoint == "transcriptions"]  # nothing went over REST


def test_paced_realtime_takes_about_real_time(srv: FakeOpenAI, tmp_path: Path, shared_dir: Path) -> None:
    started = time.monotonic()
    result = run_cli(srv, tmp_path, str(shared_dir / "audio" / "jfk.flac"), "--transport", "realtime")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert word_recall(JFK_WORDS, result.stdout) >= 0.8, result.stdout
    assert elapsed >= JFK_SECONDS - 0.5  # streamed like a microphone, not all at once


def test_server_without_realtime_says_to_use_rest(srv: FakeOpenAI, tmp_path: Path, shared_dir: Path) -> None:
    result = run_cli(srv, tmp_path, str(shared_dir / "audio" / "jfk.flac"), "--transport", "realtime",
                     "--fast", base_url=srv.root_url + "/compat/v1")
    assert result.returncode == 1
    assert "does not offer the realtime" in result.stderr and "--transport rest" in result.stderr

"""The same server as a child process, controlled through the admin API with the same interface."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakeopenai import FakeOpenAIProcess

from .helpers import JFK_WORDS, word_recall

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def child() -> Iterator[FakeOpenAIProcess]:
    with FakeOpenAIProcess() as srv:
        yield srv


def test_cli_prints_the_base_url_first(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakeopenai", "--port", "0", "--print-url"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert httpx.get(url + "/models").status_code == 401  # up, and auth is on
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        if process.stdout is not None:
            process.stdout.close()


def test_faults_requests_and_keys_through_the_admin_api(child: FakeOpenAIProcess, jfk_flac: bytes) -> None:
    child.clear_requests()
    headers = {"Authorization": f"Bearer {child.api_key}"}
    child.add_fault("transcriptions", status=500)
    files = {"file": ("jfk.flac", jfk_flac, "audio/flac")}
    failed = httpx.post(
        child.base_url + "/audio/transcriptions",
        headers=headers,
        data={"model": "whisper-1"},
        files=files,
        timeout=60,
    )
    assert failed.status_code == 500 and failed.json()["error"]["type"] == "server_error"
    ok = httpx.post(
        child.base_url + "/audio/transcriptions",
        headers=headers,
        data={"model": "whisper-1"},
        files=files,
        timeout=60,
    )
    assert word_recall(JFK_WORDS, ok.json()["text"]) >= 0.8
    recorded = child.wait_for_requests(2, lambda r: r.path == "/v1/audio/transcriptions")
    assert [r.status for r in recorded] == [500, 200]
    assert recorded[1].audio == jfk_flac and recorded[1].field("model") == "whisper-1"

    child.valid_keys.add("sk-extra")
    assert "sk-extra" in child.valid_keys
    assert (
        httpx.get(child.base_url + "/models", headers={"Authorization": "Bearer sk-extra"}).status_code == 200
    )
    child.models.discard("tts-1")
    listed = httpx.get(child.base_url + "/models", headers=headers).json()["data"]
    assert "tts-1" not in {m["id"] for m in listed}


def test_unknown_fault_names_fail_in_the_test_not_the_server(child: FakeOpenAIProcess) -> None:
    with pytest.raises(ValueError, match="unknown fault kinds"):
        child.add_fault("speech", "explode")

"""The realtime speech engine end to end: the real app, the fake OpenAI server process speaking the GA
Realtime protocol, a selection read aloud, the virtual speaker's monitor recorded and transcribed back."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.fakeopenai import DEFAULT_MODELS, FakeOpenAIProcess
from tests.support.app_process import AppProcess, start_app
from tests.support.desktop import (
    clipboard_get,
    clipboard_set,
    start_target_app,
    transcribe,
    wait_for,
    word_recall,
    xdotool,
)
from tests.support.speaker import SpeakerMonitor

HOTKEY = "ctrl+alt+r"
SHORT = ("The quick brown fox jumps over the lazy dog. A small river runs past the old mill. "
         "Children play football in the green park every Sunday.")
LONG = " ".join(f"Paragraph {n} tells a calm story about a garden where tomatoes and beans grow tall."
                for n in range(1, 40))
SWITCH_NOTICE = "is no longer available on the server"


@pytest.fixture(scope="module")
def app(fake: FakeOpenAIProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    env = dict(os.environ, OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY=fake.api_key)
    process = start_app(tmp_path_factory.mktemp("realtime-read-app"), env=env, args=("--minimized",),
                        settings={"read.engine": "realtime"})
    wait_for(lambda: "Read hotkey" in process.log_text(), 20, "the read hotkey to be registered")
    yield process
    assert process.quit() == 0


@pytest.fixture
def server(fake: FakeOpenAIProcess) -> Iterator[FakeOpenAIProcess]:
    fake.clear_requests()
    fake.clear_faults()
    yield fake
    fake.models = DEFAULT_MODELS


def ended_lines(app: AppProcess) -> list[str]:
    return re.findall(r"read-aloud ended: .*", app.log_text())


def read_and_wait(app: AppProcess, text: str, timeout: float = 90) -> str:
    ended = len(ended_lines(app))
    assert app.cli("read", "-", input_text=text).returncode == 0
    wait_for(lambda: len(ended_lines(app)) > ended, timeout, "the reading to end", interval=0.2)
    app.wait_state("idle", 10)
    return ended_lines(app)[-1]


def used(server: FakeOpenAIProcess) -> list[str]:
    return [r.path for r in server.requests if r.path in ("/v1/realtime", "/v1/audio/speech")]


def test_selection_is_read_aloud_through_the_realtime_api(app: AppProcess, server: FakeOpenAIProcess,
                                                         speaker: SpeakerMonitor, tmp_path: Path) -> None:
    ended = len(ended_lines(app))
    with start_target_app("textedit", tmp_path, initial_text=SHORT) as target:
        target.focus()
        xdotool("key", "--clearmodifiers", "ctrl+a")
        wait_for(lambda: clipboard_get("primary") == SHORT, 5, "the selection to be PRIMARY")
        start = speaker.now()
        xdotool("key", "--clearmodifiers", HOTKEY)
        wait_for(lambda: speaker.loud_since(start), 15, "speech at the speaker")
        wait_for(lambda: len(ended_lines(app)) > ended, 60, "the reading to end")
        app.wait_state("idle", 10)
    assert "finished=True" in ended_lines(app)[-1]
    heard = transcribe(speaker.save_wav(tmp_path / "heard.wav", start))
    assert word_recall(SHORT, heard) >= 0.7, heard
    assert "/v1/realtime" in used(server) and "/v1/audio/speech" not in used(server)
    (session,) = [r for r in server.requests if r.path == "/v1/realtime"]
    assert session.query == {"model": "gpt-realtime-2.1-mini"}


def test_stop_silences_the_realtime_reading(app: AppProcess, server: FakeOpenAIProcess,
                                            speaker: SpeakerMonitor) -> None:
    clipboard_set(LONG, "primary")
    start = speaker.now()
    xdotool("key", "--clearmodifiers", HOTKEY)
    wait_for(lambda: speaker.loud_since(start), 15, "speech at the speaker")
    wait_for(lambda: speaker.now() - start > 3 * speaker.RATE, 10, "three seconds of reading")
    pressed_at = speaker.now()
    xdotool("key", "--clearmodifiers", HOTKEY)
    wait_for(lambda: speaker.silent_for(1.0), 5, "the speaker to go silent")
    app.wait_state("idle", 10)
    loud = np.flatnonzero(np.abs(speaker.samples()[pressed_at:]) > 0.003)
    latency_ms = loud[-1] / speaker.RATE * 1000 if len(loud) else 0.0
    print(f"realtime stop latency (hotkey → silence at the monitor, incl. xdotool): {latency_ms:.0f} ms")
    assert latency_ms < 1000  # generous here; bench/realtime_tts_bench.py reports the figure (goal 200 ms)
    cancels = [ev for r in server.requests if r.path == "/v1/realtime" for ev in r.events
               if ev["type"] == "response.cancel"]
    assert all(ev.get("response_id") for ev in cancels)  # never an unscoped cancel


def test_a_multi_chunk_text_plays_without_gaps(app: AppProcess, server: FakeOpenAIProcess) -> None:
    text = LONG[:LONG.index(" ", 1000)]
    text = text[:text.rindex(".") + 1]
    app.cli("config", "set", "read.speed", "1.5")
    try:
        line = read_and_wait(app, text)
    finally:
        app.cli("config", "set", "read.speed", "1.0")
    assert "finished=True" in line and "underruns=0" in line, line
    assert int(re.search(r"chunks=(\d+)", line).group(1)) >= 3  # type: ignore[union-attr]
    creates = [ev for r in server.requests if r.path == "/v1/realtime" for ev in r.events
               if ev["type"] == "response.create"]
    assert len(creates) >= 3


def test_auto_switches_to_realtime_when_the_speech_model_is_retired(
        app: AppProcess, server: FakeOpenAIProcess) -> None:
    server.models = [m for m in DEFAULT_MODELS if m != "gpt-4o-mini-tts"]
    app.cli("config", "set", "read.engine", "auto")
    try:
        line = read_and_wait(app, SHORT)
        assert "finished=True" in line, line
        assert used(server)[:2] == ["/v1/audio/speech", "/v1/realtime"]
        wait_for(lambda: SWITCH_NOTICE in app.log_text(), 10, "the switch notice")
        server.clear_requests()
        line = read_and_wait(app, SHORT)
        assert "finished=True" in line, line
        assert "/v1/audio/speech" not in used(server)  # straight to realtime
        assert app.log_text().count(SWITCH_NOTICE) == 1  # told once
        assert (app.profile / "speech-engine-state.json").exists()
    finally:
        app.cli("config", "set", "read.engine", "realtime")

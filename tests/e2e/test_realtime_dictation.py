"""Realtime dictation end to end (issue 4): the real Sayso process with dictation.transport=realtime, the
real X server and PulseAudio mic, another app's window, and the fake OpenAI server's realtime endpoint
(faster-whisper transcribes what the mic heard)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.dictation.support import JFK_OPENING, JFK_TRANSCRIPT, cut_clip, jfk_path, last_id, wait_entry
from tests.fakeopenai import FakeOpenAIProcess, RecordedRequest
from tests.support.app_process import AppProcess, start_app
from tests.support.desktop import (
    TargetApp,
    play_into_mic,
    recall_at_least,
    start_target_app,
    wait_for,
    word_recall,
    xdotool,
)

pytestmark = [pytest.mark.desktop, pytest.mark.slow]

HOTKEY = "ctrl+alt+d"


@pytest.fixture(scope="module")
def app(server: FakeOpenAIProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": server.api_key}
    sayso = start_app(tmp_path_factory.mktemp("sayso-realtime"), env=env, args=("--minimized",),
                      settings={"ui.sound_cues": "false", "dictation.mode": "push-to-talk",
                                "dictation.transport": "realtime"})
    try:
        wait_for(lambda: "Microphone live" in sayso.log_text(), 20, "the microphone to deliver audio")
        yield sayso
    finally:
        code = sayso.quit()
        assert code == 0, sayso.output()


@pytest.fixture
def fresh(app: AppProcess, server: FakeOpenAIProcess) -> AppProcess:
    server.clear_faults()
    server.clear_requests()
    assert app.cli("config", "set", "dictation.mode", "push-to-talk").returncode == 0
    app.wait_state("idle")
    return app


@pytest.fixture
def target(tmp_path: Path) -> Iterator[TargetApp]:
    with start_target_app("lineedit", tmp_path) as target_app:
        yield target_app


@pytest.fixture(scope="module")
def two_utterances(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """JFK's whole sentence, 2.5 s of silence, then his opening words again."""
    folder = tmp_path_factory.mktemp("clips")
    opening = cut_clip(jfk_path(shared_dir), folder / "opening.wav", 0.0, 7.4)
    data, rate = sf.read(str(jfk_path(shared_dir)), dtype="int16", always_2d=True)
    first = data.mean(axis=1).astype(np.int16)
    second_2d, second_rate = sf.read(str(opening), dtype="int16", always_2d=True)
    second = second_2d.mean(axis=1).astype(np.int16)
    assert second_rate == rate
    clip = np.concatenate([first, np.zeros(int(2.5 * rate), dtype=np.int16), second,
                           np.zeros(int(1.5 * rate), dtype=np.int16)])
    out = folder / "two-utterances.wav"
    sf.write(str(out), clip, rate, subtype="PCM_16")
    return out


def hold_hotkey_while_playing(app: AppProcess, clip: Path) -> None:
    xdotool("keydown", HOTKEY)
    try:
        app.wait_state("recording", timeout=15)
        assert play_into_mic(clip).wait(60) == 0
    finally:
        xdotool("keyup", HOTKEY)


def by_endpoint(server: FakeOpenAIProcess, endpoint: str) -> list[RecordedRequest]:
    return [r for r in server.requests if r.endpoint == endpoint]


def test_push_to_talk_streams_and_inserts_the_words(fresh: AppProcess, target: TargetApp, shared_dir: Path,
                                                    server: FakeOpenAIProcess) -> None:
    before = last_id(fresh)
    hold_hotkey_while_playing(fresh, jfk_path(shared_dir))
    text = target.wait_text(recall_at_least(JFK_TRANSCRIPT), timeout=60, what="the JFK words in the target")
    assert word_recall(JFK_TRANSCRIPT, text) >= 0.8
    [session] = by_endpoint(server, "realtime")
    assert by_endpoint(server, "transcriptions") == []  # nothing was uploaded after the release
    kinds = [event["type"] for event in session.events]
    assert kinds[0] == "session.update" and kinds.count("input_audio_buffer.commit") == 1
    fresh.wait_state("idle")
    entry = wait_entry(fresh, before, ("done",), timeout=10)
    assert word_recall(JFK_TRANSCRIPT, entry["text"]) >= 0.8
    assert Path(entry["audio_path"]).is_file()  # the recording is still kept


def test_toggle_mode_inserts_each_utterance_in_order(fresh: AppProcess, target: TargetApp,
                                                     two_utterances: Path, server: FakeOpenAIProcess) -> None:
    assert fresh.cli("config", "set", "dictation.mode", "toggle").returncode == 0
    wait_for(lambda: "registered (toggle" in fresh.log_text(), 10, "the hotkey to be re-registered for toggle")
    xdotool("key", HOTKEY)
    fresh.wait_state("recording", timeout=15)
    assert play_into_mic(two_utterances).wait(60) == 0
    # Both utterances arrive while still recording: the server's VAD committed them.
    text = target.wait_text(lambda t: _second_part(t) is not None and word_recall(JFK_OPENING, _second_part(t) or "")
                            >= 0.8, timeout=60, what="both utterances in the target")
    assert fresh.status()["state"] == "recording"  # type: ignore[index]
    xdotool("key", HOTKEY)
    fresh.wait_state("idle", timeout=30)
    second = _second_part(text) or ""
    assert word_recall(JFK_TRANSCRIPT, text[:len(text) - len(second)]) >= 0.8
    assert by_endpoint(server, "transcriptions") == []


def _second_part(text: str) -> str | None:
    """The text from the second "And so, my fellow Americans" on (None until it is there)."""
    lower = text.lower()
    first = lower.find("fellow americans")
    second = lower.find("fellow americans", first + 1) if first >= 0 else -1
    if second < 0:
        return None
    start = lower.rfind("and so", 0, second)
    return text[start if start > first else second:]


def test_socket_drop_mid_utterance_falls_back_to_rest(fresh: AppProcess, target: TargetApp, shared_dir: Path,
                                                      server: FakeOpenAIProcess) -> None:
    before = last_id(fresh)
    server.add_fault("realtime", "drop_ws_mid_utterance")
    hold_hotkey_while_playing(fresh, jfk_path(shared_dir))
    text = target.wait_text(recall_at_least(JFK_TRANSCRIPT), timeout=60, what="the words via REST")
    assert word_recall(JFK_TRANSCRIPT, text) >= 0.8
    assert len(by_endpoint(server, "realtime")) == 1 and len(by_endpoint(server, "transcriptions")) == 1
    fresh.wait_state("idle")
    entry = wait_entry(fresh, before, ("done",), timeout=10)
    assert "dropped" in fresh.log_text()
    assert word_recall(JFK_TRANSCRIPT, entry["text"]) >= 0.8

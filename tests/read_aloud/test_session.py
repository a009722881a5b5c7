"""ReadAloudSession against the real speech provider and the fake OpenAI server (in-process)."""

from __future__ import annotations

import threading
import time

import pytest

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import AuthError, ModelRetired
from desktop_app.core.models import SpeechOptions
from desktop_app.providers.openai_tts import OpenAISpeech
from desktop_app.services.read_aloud import ReadAloudSession, ReadOutcome
from desktop_app.services.read_text import PreparedText
from tests.fakeopenai import FakeOpenAI
from tests.read_aloud.conftest import RecordingSink
from tests.support.desktop import wait_for

SENTENCES = [f"Sentence number {n} talks about the {word} weather today." for n, word in
             enumerate(["sunny", "rainy", "windy", "cloudy", "stormy", "foggy", "snowy", "mild", "hot",
                        "cold", "grey", "bright", "calm", "wild", "odd", "fair"], start=1)]
TEXT = " ".join(SENTENCES)


def speech_inputs(srv: FakeOpenAI) -> list[str]:
    return [r.json["input"] for r in srv.requests if r.path.endswith("/audio/speech") and r.json]


class GatedSink(RecordingSink):
    """Each write waits until the test opens the gate: the writer is 'still playing' meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def write(self, pcm: bytes, sample_rate: int | None = None) -> None:
        self.gate.wait(30)
        super().write(pcm, sample_rate)

    def stop(self) -> None:
        super().stop()
        self.gate.set()


def run(session: ReadAloudSession, token: CancelToken | None = None) -> ReadOutcome:
    return session.run(token or CancelToken())


def test_reads_every_chunk_in_order_first_one_short(srv: FakeOpenAI, speech: OpenAISpeech,
                                                     options: SpeechOptions, sink: RecordingSink) -> None:
    outcome = run(ReadAloudSession(TEXT, speech, sink, options))

    assert outcome.finished and outcome.error is None
    inputs = speech_inputs(srv)
    assert len(inputs) >= 3 and outcome.chunks == len(inputs)
    assert len(inputs[0]) <= 160
    assert " ".join(inputs) == TEXT  # nothing lost, nothing repeated, in order
    assert all(r.json["voice"] == "marin" and r.json["response_format"] == "pcm" for r in srv.requests)
    assert len(sink.audio()) > 48_000 * 5  # 16 sentences of espeak speech: well over 5 s
    assert sink.drains == 1


def test_markdown_and_urls_are_not_spoken(srv: FakeOpenAI, speech: OpenAISpeech, options: SpeechOptions,
                                           sink: RecordingSink) -> None:
    text = "# Weather\n\nThe **forecast** is [here](https://example.com/f) and at https://example.com/x today."
    outcome = run(ReadAloudSession(text, speech, sink, options))

    assert outcome.finished
    spoken = " ".join(speech_inputs(srv))
    assert "Weather" in spoken and "forecast" in spoken and "here" in spoken
    assert "**" not in spoken and "https" not in spoken and "#" not in spoken


def test_next_chunk_is_requested_while_the_current_one_still_plays(
        srv: FakeOpenAI, speech: OpenAISpeech, options: SpeechOptions) -> None:
    sink = GatedSink()  # the writer blocks in its first write, like a full player buffer
    token = CancelToken()
    session = ReadAloudSession(TEXT, speech, sink, options)
    worker = threading.Thread(target=session.run, args=(token,))
    worker.start()
    try:
        srv.wait_for_requests(2, timeout=20)  # the second chunk is fetched although chunk 1 is not played
        assert not sink.pieces
        assert len(speech_inputs(srv)) == 2  # ...but no further: memory stays at two chunks
    finally:
        token.cancel()
        worker.join(10)
    assert not worker.is_alive()


def test_starts_at_an_offset(srv: FakeOpenAI, speech: OpenAISpeech, options: SpeechOptions,
                             sink: RecordingSink) -> None:
    offset = TEXT.index(SENTENCES[5])
    outcome = run(ReadAloudSession(TEXT, speech, sink, options, start_offset=offset))

    assert outcome.finished
    assert speech_inputs(srv)[0].startswith(SENTENCES[5])
    assert " ".join(speech_inputs(srv)) == TEXT[offset:]


def test_rejected_key_mid_text_stops_cleanly_and_keeps_the_position(
        srv: FakeOpenAI, speech: OpenAISpeech, options: SpeechOptions) -> None:
    sink = GatedSink()
    session = ReadAloudSession(TEXT, speech, sink, options)
    result: list[ReadOutcome] = []
    worker = threading.Thread(target=lambda: result.append(session.run(CancelToken())))
    worker.start()
    srv.wait_for_requests(2, timeout=20)
    srv.valid_keys = ["another-key"]  # the key is revoked while chunk 1 plays
    sink.gate.set()
    worker.join(30)

    outcome = result[0]
    assert not outcome.finished
    assert isinstance(outcome.error, AuthError)
    assert "401" in outcome.error.user_message
    third = speech_inputs(srv)[1:]  # the failed request is not recorded with a body: find the 3rd chunk
    plans = list(PreparedText(TEXT).chunks())
    assert outcome.resume_offset == plans[2].chunk.start  # Play continues with the chunk that failed
    assert outcome.chunks == 2 and third
    assert sink.drains == 1  # what had arrived played to its end


def test_model_gone_before_any_audio(srv: FakeOpenAI, speech: OpenAISpeech, sink: RecordingSink) -> None:
    options = SpeechOptions(model="tts-retired-model", voice="alloy")
    start = TEXT.index(SENTENCES[1])
    outcome = run(ReadAloudSession(TEXT, speech, sink, options, start_offset=start))

    assert isinstance(outcome.error, ModelRetired)
    assert "tts-retired-model" in outcome.error.user_message
    assert outcome.resume_offset == start  # Play tries again from where this reading began
    assert not sink.pieces


def test_server_errors_are_retried_then_reading_goes_on(srv: FakeOpenAI, speech: OpenAISpeech,
                                                        options: SpeechOptions, sink: RecordingSink) -> None:
    srv.add_fault("speech", status=503, times=1, retry_after=0.05)
    outcome = run(ReadAloudSession(SENTENCES[0], speech, sink, options))

    assert outcome.finished and sink.pieces


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00\x01\x02\ufffd\ufffd", "***", "> \n- \n"])
def test_nothing_speakable_is_a_quiet_finish(srv: FakeOpenAI, speech: OpenAISpeech, options: SpeechOptions,
                                              sink: RecordingSink, text: str) -> None:
    prepared = PreparedText(text)
    outcome = run(ReadAloudSession(prepared, speech, sink, options))

    assert prepared.empty
    assert outcome.finished and outcome.chunks == 0 and not sink.pieces and not speech_inputs(srv)


def test_rtl_and_emoji_are_read(srv: FakeOpenAI, speech: OpenAISpeech, options: SpeechOptions,
                                sink: RecordingSink) -> None:
    text = "مرحبا بالعالم. שלום עולם! 👩‍👩‍👧‍👦 Family time 🇩🇪 is fun."
    outcome = run(ReadAloudSession(text, speech, sink, options))

    assert outcome.finished and outcome.error is None
    assert "Family time" in " ".join(speech_inputs(srv))


def test_ten_megabytes_start_without_reading_it_all(srv: FakeOpenAI, speech: OpenAISpeech,
                                                     options: SpeechOptions) -> None:
    huge = (TEXT + "\n\n") * (10_000_000 // (len(TEXT) + 2))
    sink = GatedSink()
    token = CancelToken()
    session = ReadAloudSession(huge, speech, sink, options)
    worker = threading.Thread(target=session.run, args=(token,))
    started = time.monotonic()
    worker.start()
    srv.wait_for_requests(2, timeout=30)
    token.cancel()
    worker.join(10)

    assert not worker.is_alive()
    assert len(speech_inputs(srv)) == 2 and len(speech_inputs(srv)[0]) <= 160
    assert time.monotonic() - started < 30


def test_position_follows_the_audio_on_a_real_player(srv: FakeOpenAI, speech: OpenAISpeech,
                                                     player: object) -> None:
    """The highlighted sentence moves forward as the speaker plays; the whole text plays gaplessly."""
    options = SpeechOptions(model="gpt-4o-mini-tts", voice="marin", speed=2.0)
    text = " ".join(SENTENCES[:6])
    session = ReadAloudSession(text, speech, player, options)  # type: ignore[arg-type]
    seen: list[int] = []
    result: list[ReadOutcome] = []
    worker = threading.Thread(target=lambda: result.append(session.run(CancelToken())))
    worker.start()
    while worker.is_alive():
        position = session.position()
        if position is not None and (not seen or seen[-1] != position.sentence_start):
            seen.append(position.sentence_start)
        worker.join(0.05)

    assert result[0].finished and result[0].underruns == 0
    starts = [text.index(s) for s in SENTENCES[:6]]
    assert seen == sorted(seen) and set(seen) <= set(starts)
    assert len(seen) >= 4  # most sentences were highlighted in turn


def test_stop_silences_the_player_and_remembers_the_sentence(srv: FakeOpenAI, speech: OpenAISpeech,
                                                            options: SpeechOptions, player: object) -> None:
    from desktop_app.audio.playback import Player

    assert isinstance(player, Player)
    session = ReadAloudSession(TEXT, speech, player, options)
    token = CancelToken()
    result: list[ReadOutcome] = []
    worker = threading.Thread(target=lambda: result.append(session.run(token)))
    worker.start()
    wait_for(lambda: (p := session.position()) and p.sentence_start >= TEXT.index(SENTENCES[1]), 30,
             "the second sentence to play")
    token.cancel()
    assert player.buffered_seconds == 0  # the buffer is dropped at once: silence within one callback
    worker.join(10)

    outcome = result[0]
    assert not outcome.finished and outcome.error is None
    assert outcome.resume_offset in [TEXT.index(s) for s in SENTENCES[1:4]]


def test_pause_holds_the_position(srv: FakeOpenAI, speech: OpenAISpeech, options: SpeechOptions,
                                  player: object) -> None:
    from desktop_app.audio.playback import Player

    assert isinstance(player, Player)
    session = ReadAloudSession(" ".join(SENTENCES[:3]), speech, player, options)
    token = CancelToken()
    worker = threading.Thread(target=session.run, args=(token,))
    worker.start()
    try:
        wait_for(lambda: player.played_seconds > 0 and session.position() is not None, 30, "sound")
        player.pause(True)
        frames = player.played_frames
        # The callback keeps running while paused; the count of frames played must not move.
        wait_for(lambda: player.buffered_seconds > 0.5, 10, "the paused buffer to hold audio")
        assert player.played_frames == frames
        player.pause(False)
        wait_for(lambda: player.played_frames > frames, 10, "playback to resume")
    finally:
        token.cancel()
        worker.join(10)

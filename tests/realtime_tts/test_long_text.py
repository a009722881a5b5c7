"""Long texts through the realtime engine: sentence groups small enough that no response hits its output cap."""

from __future__ import annotations

import re
from typing import Any

from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import SpeechChunk
from desktop_app.providers import realtime_tts_protocol as proto
from desktop_app.providers.openai_realtime_tts import OpenAIRealtimeSpeech
from desktop_app.services.read_aloud import ReadAloudSession
from tests.fakeopenai import FakeOpenAI
from tests.read_aloud.conftest import RecordingSink

from .conftest import OPTIONS, Recorder

SENTENCES = [f"Sentence {n} tells of a garden where tomatoes and beans grow tall beside the old wall."
             for n in range(1, 70)]
TEXT = " ".join(SENTENCES)  # about 5,900 characters


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def creates(srv: FakeOpenAI) -> list[dict[str, Any]]:
    return [ev["response"] for r in srv.requests if r.path == "/v1/realtime" for ev in r.events
            if ev["type"] == "response.create"]


def read_texts(srv: FakeOpenAI) -> list[str]:
    return [c["input"][0]["content"][0]["text"].removeprefix("<read>\n").removesuffix("\n</read>")
            for c in creates(srv)]


def done_events(recorder: Recorder) -> list[dict[str, Any]]:
    return [ev["response"] for ev, _ in recorder.events if ev["type"] == "response.done"]


def test_a_long_text_is_read_in_sentence_groups_that_all_complete_in_order(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, recorder: Recorder) -> None:
    assert len(TEXT) > 5000
    sink = RecordingSink()
    outcome = ReadAloudSession(TEXT, engine, sink, OPTIONS).run(CancelToken())

    assert outcome.finished and outcome.error is None and outcome.underruns == 0
    texts = read_texts(srv)
    assert len(texts[0]) <= 160  # a short first response: sound starts quickly
    assert all(len(t) <= proto.MAX_CHUNK_CHARS for t in texts), [len(t) for t in texts]
    assert outcome.chunks == len(texts)  # one response per chunk: nothing cut off, nothing read twice
    assert all(c["max_output_tokens"] < proto.MAX_OUTPUT_TOKENS for c in creates(srv))
    done = done_events(recorder)
    assert [d["status"] for d in done] == ["completed"] * len(texts)
    assert words(" ".join(texts)) == words(TEXT)  # every word asked for, in order
    spoken = " ".join(d["output"][0]["content"][0]["transcript"] for d in done)
    assert words(spoken) == words(TEXT)  # and every word said, in order
    assert len(sink.audio()) / 48000 > len(TEXT) / 20  # about 15 characters per second of speech


def test_a_rest_sized_chunk_is_read_in_parts_without_hitting_the_cap(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, recorder: Recorder) -> None:
    """What the *auto* engine hands on after switching mid-text: a chunk cut for the REST endpoint."""
    chunk = TEXT[:TEXT.rindex(".", 0, 4096) + 1]
    pieces: list[bytes] = []
    engine.synthesize(SpeechChunk(5, chunk), OPTIONS, lambda pcm, rate: pieces.append(pcm), CancelToken())

    texts = read_texts(srv)
    assert len(texts) >= 7 and all(len(t) <= proto.MAX_CHUNK_CHARS for t in texts)
    assert all(c["metadata"]["chunk"] == "5" for c in creates(srv))
    assert [d["status"] for d in done_events(recorder)] == ["completed"] * len(texts)
    assert words(" ".join(texts)) == words(chunk)
    index, said, final = recorder.transcripts[-1]
    assert (index, final) == (5, True) and words(said) == words(chunk)
    assert len(b"".join(pieces)) / 48000 > len(chunk) / 20

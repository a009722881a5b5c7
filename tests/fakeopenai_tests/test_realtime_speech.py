"""/v1/realtime?model=gpt-realtime-2.1-mini used as a reader: event order, real audio, cancel, faults."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from tests.fakeopenai import FakeOpenAI
from tests.fakeopenai.realtime_speech import UNINSTRUCTED_PREAMBLE
from tests.fakeopenai.tts import wav_header

from .helpers import word_recall
from .realtime_helpers import SPEECH_UPDATE, Realtime, realtime
from .realtime_helpers import read_request as uninstructed_request

MODEL = "model=gpt-realtime-2.1-mini"
READER = "Read the text between <read> and </read> aloud, word for word."
SENTENCE = "The quick brown fox jumps over the lazy dog."
LONG_TEXT = " ".join(["Pack my box with five dozen liquor jugs."] * 8)
ORDER = [
    "response.created",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
]


def read_request(text: str, event_id: str = "speak_1", chunk: str = "1") -> dict[str, Any]:
    """An out-of-band read with its own reading instructions, as the app sends it."""
    event = uninstructed_request(text, event_id, chunk)
    event["response"]["instructions"] = READER
    return event


def configured(rt: Realtime) -> None:
    created = rt.recv()
    assert created["type"] == "session.created"
    assert created["session"]["type"] == "realtime" and created["session"]["object"] == "realtime.session"
    rt.send(SPEECH_UPDATE)
    updated = rt.recv()
    assert updated["type"] == "session.updated"
    assert updated["session"]["audio"]["output"]["voice"] == "marin"


def test_out_of_band_read_has_documented_order_real_audio_and_transcript(srv: FakeOpenAI) -> None:
    with realtime(srv, MODEL) as rt:
        configured(rt)
        rt.send(read_request(SENTENCE))
        events = rt.until("response.done")
    skeleton = [e["type"] for e in events if not e["type"].endswith(".delta")]
    assert skeleton == ORDER
    created, done = events[0], events[-1]
    response_id = created["response"]["id"]
    assert created["response"]["conversation_id"] is None
    assert created["response"]["metadata"] == {"chunk": "1"}
    assert created["response"]["status"] == "in_progress"
    audio_deltas = [e for e in events if e["type"] == "response.output_audio.delta"]
    text_deltas = [e for e in events if e["type"] == "response.output_audio_transcript.delta"]
    assert all(e["response_id"] == response_id for e in audio_deltas + text_deltas)
    first_text = next(
        i for i, e in enumerate(events) if e["type"] == "response.output_audio_transcript.delta"
    )
    first_audio = next(i for i, e in enumerate(events) if e["type"] == "response.output_audio.delta")
    assert first_text < first_audio  # the transcript runs ahead of the audio
    transcript = "".join(e["delta"] for e in text_deltas)
    assert transcript == SENTENCE
    assert done["response"]["status"] == "completed" and done["response"]["status_details"] is None
    assert done["response"]["output"][0]["content"] == [{"type": "output_audio", "transcript": SENTENCE}]
    assert done["response"]["usage"]["output_token_details"]["audio_tokens"] > 0
    pcm = b"".join(base64.b64decode(e["delta"]) for e in audio_deltas)
    assert 1.5 < len(pcm) / 48000 < 6
    assert np.abs(np.frombuffer(pcm, dtype="<i2")).max() > 3000


def test_spoken_audio_is_what_the_transcript_says(srv: FakeOpenAI, client: httpx.Client) -> None:
    with realtime(srv, MODEL) as rt:
        configured(rt)
        rt.send(read_request("Ask not what your country can do for you."))
        events = rt.until("response.done")
    pcm = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
    wav = wav_header(len(pcm)) + pcm
    text = client.post(
        "audio/transcriptions", data={"model": "whisper-1"}, files={"file": ("out.wav", wav, "audio/wav")}
    ).json()["text"]
    assert word_recall(["ask", "not", "what", "your", "country", "can", "do", "for", "you"], text) >= 0.8


def test_cancel_mid_response_stops_deltas_and_reports_cancelled(srv: FakeOpenAI) -> None:
    with realtime(srv, MODEL) as rt:
        configured(rt)
        rt.send(read_request(LONG_TEXT))
        created = rt.recv()
        response_id = created["response"]["id"]
        rt.until("response.output_audio.delta")
        rt.send({"type": "response.cancel", "event_id": "stop_1", "response_id": response_id})
        after = rt.until("response.done")
        done = after[-1]
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        closing = [e["type"] for e in after if not e["type"].endswith(".delta")]
        assert closing == ORDER[3:]
        last_delta = max((i for i, e in enumerate(after) if e["type"].endswith(".delta")), default=-1)
        first_closing = next(i for i, e in enumerate(after) if e["type"] == "response.output_audio.done")
        assert last_delta < first_closing  # no delta once the response started closing
        item = next(e for e in after if e["type"] == "response.output_item.done")["item"]
        assert item["status"] == "incomplete"
        spoken = next(e for e in after if e["type"] == "response.output_audio_transcript.done")["transcript"]
        assert len(spoken) < len(LONG_TEXT)
        # Cancelling again, after response.done, is the harmless "not active" error.
        rt.send({"type": "response.cancel", "event_id": "stop_2", "response_id": response_id})
        error = rt.recv()
        assert error["error"]["code"] == "response_cancel_not_active"
        assert error["error"]["event_id"] == "stop_2"


def test_parallel_out_of_band_but_one_in_band_at_a_time(srv: FakeOpenAI) -> None:
    with realtime(srv, MODEL) as rt:
        configured(rt)
        rt.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": LONG_TEXT}],
                },
            }
        )
        assert [rt.recv()["type"], rt.recv()["type"]] == ["conversation.item.added", "conversation.item.done"]
        rt.send({"type": "response.create", "event_id": "inband_1"})
        first = rt.recv()
        assert first["type"] == "response.created" and first["response"]["conversation_id"].startswith(
            "conv_"
        )
        rt.send({"type": "response.create", "event_id": "inband_2"})
        rt.send(read_request(SENTENCE, event_id="oob_1", chunk="9"))
        events = rt.until("response.done")
        while sum(e["type"] == "response.done" for e in rt.seen) < 2:
            events += rt.until("response.done")
    errors = [e for e in rt.seen if e["type"] == "error"]
    assert [e["error"]["code"] for e in errors] == ["conversation_already_has_active_response"]
    assert errors[0]["error"]["event_id"] == "inband_2"
    created = [e for e in rt.seen if e["type"] == "response.created"]
    assert len(created) == 2 and created[1]["response"]["metadata"] == {"chunk": "9"}


def test_stray_transcript_fault_reads_other_words(srv: FakeOpenAI) -> None:
    srv.add_fault("realtime", "stray_transcript", text="I would rather talk about the weather.")
    with realtime(srv, MODEL) as rt:
        configured(rt)
        rt.send(read_request(SENTENCE))
        events = rt.until("response.done")
    done = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
    assert done["transcript"] == "I would rather talk about the weather."


def test_incomplete_and_failed_faults(srv: FakeOpenAI) -> None:
    srv.add_fault("realtime", "incomplete")
    with realtime(srv, MODEL) as rt:
        configured(rt)
        rt.send(read_request(LONG_TEXT))
        done = rt.until("response.done")[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    srv.add_fault("realtime", "failed")
    with realtime(srv, MODEL) as rt:
        configured(rt)
        rt.send(read_request(SENTENCE))
        events = rt.until("response.done")
    assert [e["type"] for e in events] == ["response.created", "response.done"]
    assert events[-1]["response"]["status_details"]["error"]["code"] == "server_error"


def test_session_update_rules(srv: FakeOpenAI) -> None:
    with realtime(srv, MODEL) as rt:
        rt.recv()
        rt.send(
            {
                "type": "session.update",
                "event_id": "bad_1",
                "session": {"type": "realtime", "temperature": 0.8},
            }
        )
        error = rt.recv()["error"]
        assert (error["code"], error["event_id"]) == ("unknown_parameter", "bad_1")
        assert error["message"] == "Unknown parameter: 'session.temperature'."
        rt.send({"type": "session.update", "session": {"type": "transcription"}})
        assert "not allowed" in rt.recv()["error"]["message"]
        rt.send(SPEECH_UPDATE)
        assert rt.recv()["type"] == "session.updated"
        rt.send(read_request("Hello."))
        rt.until("response.done")
        rt.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voice": "cedar"}}},
            }
        )
        assert rt.recv()["error"]["code"] == "cannot_update_voice"


def test_beta_header_and_model_checks_on_connect(srv: FakeOpenAI) -> None:
    with realtime(srv, MODEL, **{"OpenAI-Beta": "realtime=v1"}) as rt:
        assert rt.recv()["error"]["code"] == "beta_api_shape_disabled"
        with pytest.raises(ConnectionClosed) as closed:
            rt.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000
    srv.models.discard("gpt-realtime-2.1-mini")
    with realtime(srv, MODEL) as rt:
        assert rt.recv()["error"]["code"] == "model_not_found"


def test_drop_mid_response(srv: FakeOpenAI) -> None:
    srv.add_fault("realtime", "drop_ws_mid_response")
    with realtime(srv, MODEL) as rt:
        configured(rt)
        rt.send(read_request(SENTENCE))
        with pytest.raises(ConnectionClosed) as closed:
            rt.until("response.done")
    assert closed.value.rcvd is None


def test_an_out_of_band_read_without_its_own_instructions_gets_the_assistant_persona(srv: FakeOpenAI) -> None:
    """Session instructions may not reach out-of-band responses (doc §3.1, unverified): the fake assumes
    they do not, so a client that leaves them out hears a preamble and its fidelity check catches it."""
    with realtime(srv, MODEL) as rt:
        configured(rt)
        rt.send(uninstructed_request(SENTENCE))
        bare = rt.until("response.done")[-1]
        rt.send(read_request(SENTENCE, event_id="speak_2"))
        instructed = rt.until("response.done")[-1]
    assert bare["response"]["output"][0]["content"][0]["transcript"] == f"{UNINSTRUCTED_PREAMBLE} {SENTENCE}"
    assert instructed["response"]["output"][0]["content"][0]["transcript"] == SENTENCE

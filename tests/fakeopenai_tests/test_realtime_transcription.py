"""/v1/realtime?intent=transcription: GA session shape, commits, VAD, errors and faults."""

from __future__ import annotations

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.fakeopenai import FakeOpenAI

from .helpers import JFK_WORDS, word_recall
from .realtime_helpers import realtime, transcription_update

TRANSCRIPTION_PREFIX = "conversation.item.input_audio_transcription."


def test_manual_commit_gives_real_transcript_after_committed(srv: FakeOpenAI, jfk_pcm24k: bytes) -> None:
    with realtime(srv, "intent=transcription") as rt:
        created = rt.recv()
        assert created["type"] == "session.created" and created["event_id"].startswith("event_")
        assert created["session"]["type"] == "transcription"
        assert created["session"]["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        rt.send(transcription_update(None))
        updated = rt.recv()
        assert updated["type"] == "session.updated"
        assert updated["session"]["audio"]["input"]["turn_detection"] is None
        rt.append(jfk_pcm24k)
        rt.send({"type": "input_audio_buffer.commit"})
        events = rt.until(TRANSCRIPTION_PREFIX + "completed")
    kinds = [e["type"] for e in events]
    assert kinds[0] == "input_audio_buffer.committed"  # append is never acknowledged
    item_id = events[0]["item_id"]
    deltas = [e for e in events if e["type"] == TRANSCRIPTION_PREFIX + "delta"]
    completed = events[-1]
    assert deltas and all(d["item_id"] == item_id for d in deltas)
    assert completed["item_id"] == item_id and completed["content_index"] == 0
    assert "".join(d["delta"] for d in deltas) == completed["transcript"]
    assert word_recall(JFK_WORDS, completed["transcript"]) >= 0.8
    assert completed["usage"]["type"] == "tokens"
    (recorded,) = srv.requests
    assert recorded.status == 101 and recorded.query == {"intent": "transcription"}
    assert recorded.events[1]["audio"].startswith("<")  # audio is summarised, not stored as base64


def test_commit_below_100_ms_is_an_error_that_echoes_event_id(srv: FakeOpenAI) -> None:
    with realtime(srv, "intent=transcription") as rt:
        rt.recv()
        rt.append(bytes(2400))  # 50 ms
        rt.send({"type": "input_audio_buffer.commit", "event_id": "commit_7"})
        error = rt.recv()
        assert error["type"] == "error"
        assert error["error"]["code"] == "input_audio_buffer_commit_empty"
        assert error["error"]["event_id"] == "commit_7"
        assert "but buffer only has 50.00ms of audio" in error["error"]["message"]
        rt.send({"type": "input_audio_buffer.clear"})
        assert rt.recv()["type"] == "input_audio_buffer.cleared"  # the socket stayed open


def test_server_vad_detects_speech_and_commits_on_silence(srv: FakeOpenAI, jfk_pcm24k: bytes) -> None:
    with realtime(srv, "intent=transcription") as rt:
        rt.recv()
        rt.send(transcription_update({"type": "server_vad", "silence_duration_ms": 1500}))
        rt.recv()
        rt.append(bytes(24000) + jfk_pcm24k + bytes(96000))  # 0.5 s silence, speech, 2 s silence
        events = rt.until(TRANSCRIPTION_PREFIX + "completed")
    kinds = [e["type"] for e in events]
    assert kinds[:3] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    started, stopped, committed = events[:3]
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    assert 200 <= started["audio_start_ms"] <= 1200  # 500 ms lead-in minus 300 ms prefix padding, at least
    assert 10000 <= stopped["audio_end_ms"] <= 11600
    assert word_recall(JFK_WORDS, events[-1]["transcript"]) >= 0.8


def test_beta_header_is_refused_with_close_4000(srv: FakeOpenAI) -> None:
    with realtime(srv, "intent=transcription", **{"OpenAI-Beta": "realtime=v1"}) as rt:
        error = rt.recv()
        assert error["error"]["code"] == "beta_api_shape_disabled"
        with pytest.raises(ConnectionClosed) as closed:
            rt.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000


def test_beta_session_update_is_refused_with_close_4000(srv: FakeOpenAI) -> None:
    with realtime(srv, "intent=transcription") as rt:
        rt.recv()
        rt.send({"type": "transcription_session.update", "session": {"input_audio_format": "pcm16"}})
        assert rt.recv()["error"]["code"] == "beta_api_shape_disabled"
        with pytest.raises(ConnectionClosed) as closed:
            rt.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000


def test_flat_beta_fields_in_ga_update_are_unknown_parameters(srv: FakeOpenAI) -> None:
    with realtime(srv, "intent=transcription") as rt:
        rt.recv()
        rt.send(
            {"type": "session.update", "session": {"type": "transcription", "input_audio_format": "pcm16"}}
        )
        error = rt.recv()["error"]
    assert error["code"] == "unknown_parameter"
    assert error["message"] == "Unknown parameter: 'session.input_audio_format'."


def test_bad_key_is_http_401_on_the_upgrade(srv: FakeOpenAI) -> None:
    with (
        pytest.raises(InvalidStatus) as refused,
        realtime(srv, "intent=transcription", key="sk-wrong-key-1234567"),
    ):
        pass
    assert refused.value.response.status_code == 401
    assert b'"code": "invalid_api_key"' in refused.value.response.body


def test_accept_then_error_fault_for_bad_key(srv: FakeOpenAI) -> None:
    srv.add_fault("realtime", "ws_accept_then_error")
    with realtime(srv, "intent=transcription", key="sk-wrong-key-1234567") as rt:
        assert rt.recv()["error"]["code"] == "invalid_api_key"
        with pytest.raises(ConnectionClosed) as closed:
            rt.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_status_fault_refuses_the_upgrade(srv: FakeOpenAI) -> None:
    srv.add_fault("realtime", status=429, retry_after=2)
    with pytest.raises(InvalidStatus) as refused, realtime(srv, "intent=transcription"):
        pass
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"] == "2"


def test_drop_mid_utterance_ends_without_close_frame(srv: FakeOpenAI, jfk_pcm24k: bytes) -> None:
    srv.add_fault("realtime", "drop_ws_mid_utterance")
    with realtime(srv, "intent=transcription") as rt:
        rt.recv()
        rt.send(transcription_update(None))
        rt.recv()
        rt.append(jfk_pcm24k)
        rt.send({"type": "input_audio_buffer.commit"})
        with pytest.raises(ConnectionClosed) as closed:
            rt.until(TRANSCRIPTION_PREFIX + "completed")
    assert closed.value.rcvd is None  # abnormal closure, 1006 on the client side
    assert [e["type"] for e in rt.seen][-1] == TRANSCRIPTION_PREFIX + "delta"


def test_session_expiry_sends_error_and_closes_1001(srv: FakeOpenAI) -> None:
    srv.add_fault("realtime", "session_expired", after_s=0.1)
    with realtime(srv, "intent=transcription") as rt:
        rt.recv()
        error = rt.recv()
        assert error["error"]["code"] == "session_expired"
        with pytest.raises(ConnectionClosed) as closed:
            rt.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


def test_plain_http_get_is_not_an_upgrade(srv: FakeOpenAI) -> None:
    response = httpx.get(
        srv.ws_url.replace("ws://", "http://"), headers={"Authorization": f"Bearer {srv.api_key}"}
    )
    assert response.status_code == 400

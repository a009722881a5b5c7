"""OpenAIRealtimeTranscriber against the fake OpenAI server: real WebSockets, real speech recognition."""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any, cast

import pytest

from desktop_app.core import errors as e
from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import ApiConfig, TranscriptionOptions
from desktop_app.core.settings import DictationSettings
from desktop_app.providers.errors import error_from_status
from desktop_app.providers.openai_realtime_stt import (
    MAX_CHUNK_BYTES,
    MIN_CHUNK_BYTES,
    OpenAIRealtimeTranscriber,
    RealtimeTranscriptionSession,
    session_update,
)
from desktop_app.providers.realtime_ws import RealtimeClosed, RealtimeSocket, connect_realtime
from tests.fakeopenai import FakeOpenAI
from tests.support.desktop import wait_for

from .conftest import JFK_WORDS, Recorder, chunks, silence, word_recall

OPTIONS = TranscriptionOptions(model="gpt-4o-mini-transcribe", language="en")
REST_401 = error_from_status(401, __import__("httpx").Headers(), "{}").user_message


def open_session(config: ApiConfig, recorder: Recorder, *, server_vad: bool = False,
                 cancel: CancelToken | None = None, options: TranscriptionOptions = OPTIONS,
                 **kwargs: Any) -> RealtimeTranscriptionSession:
    transcriber = OpenAIRealtimeTranscriber(config, **kwargs)
    return transcriber.open(options, recorder.on_delta, recorder.on_completed, cancel or CancelToken(),
                            server_vad=server_vad)


def stream(session: RealtimeTranscriptionSession, pcm: bytes) -> None:
    for chunk in chunks(pcm, 40):
        session.append(chunk)


def realtime_requests(srv: FakeOpenAI) -> list[Any]:
    return [r for r in srv.requests if r.endpoint == "realtime"]


# -- session.update shape (§6.2) -------------------------------------------------------------------------
def test_session_update_is_the_ga_transcription_shape() -> None:
    options = TranscriptionOptions(model="gpt-4o-mini-transcribe", language="de", prompt="Sayso",
                                   keywords=("Kubernetes",))
    update = session_update(options, server_vad=False, noise_reduction="far_field")
    audio_input = update["session"]["audio"]["input"]
    assert update["type"] == "session.update" and update["session"]["type"] == "transcription"
    assert audio_input["format"] == {"type": "audio/pcm", "rate": 24000}
    assert audio_input["noise_reduction"] == {"type": "far_field"}
    assert audio_input["turn_detection"] is None
    assert audio_input["transcription"] == {"model": "gpt-4o-mini-transcribe", "language": "de",
                                            "prompt": "Sayso\nVocabulary: Kubernetes."}

    vad = session_update(options, server_vad=True, noise_reduction="off")["session"]["audio"]["input"]
    assert vad["noise_reduction"] is None
    assert vad["turn_detection"]["type"] == "server_vad"


def test_session_update_per_model_fields() -> None:
    keywords = session_update(TranscriptionOptions(model="gpt-live-transcribe", keywords=("Sayso",)),
                              server_vad=True)["session"]["audio"]["input"]
    assert keywords["transcription"] == {"model": "gpt-live-transcribe", "keywords": ["Sayso"]}

    whisper = session_update(TranscriptionOptions(model="gpt-realtime-whisper", prompt="ignored"),
                             server_vad=True, delay="low")["session"]["audio"]["input"]
    assert whisper["transcription"] == {"model": "gpt-realtime-whisper", "delay": "low"}
    assert whisper["turn_detection"] is None  # this model must be committed by hand


# -- streaming ---------------------------------------------------------------------------------------------
def test_push_to_talk_jfk_in_40ms_chunks(srv: FakeOpenAI, config: ApiConfig, recorder: Recorder,
                                         jfk_pcm: bytes) -> None:
    session = open_session(config, recorder)
    stream(session, jfk_pcm)
    session.commit()
    texts = session.finish(timeout=60)
    session.close()

    assert len(texts) == 1 and word_recall(JFK_WORDS, texts[0]) >= 0.8, texts
    [request] = realtime_requests(srv)
    assert request.query == {"intent": "transcription"}  # no model= for transcription sessions
    assert "openai-beta" not in {name.lower() for name in request.headers}
    assert request.headers["Authorization"] == f"Bearer {srv.api_key}"
    kinds = [event["type"] for event in request.events]
    assert kinds[0] == "session.update" and kinds[-1] == "input_audio_buffer.commit"
    sizes = [int(event["audio"].strip("<> bytes")) for event in request.events
             if event["type"] == "input_audio_buffer.append"]
    assert sum(sizes) == len(jfk_pcm)  # every byte arrived
    assert all(MIN_CHUNK_BYTES <= size <= MAX_CHUNK_BYTES for size in sizes[:-1])
    assert recorder.completed and recorder.completed[0].final and recorder.completed[0].text == texts[0]


def test_audio_before_the_socket_is_open_is_sent_first(srv: FakeOpenAI, config: ApiConfig,
                                                      recorder: Recorder, jfk_pcm: bytes) -> None:
    gate = threading.Event()

    def slow_connect(cfg: ApiConfig, query: dict[str, str]) -> RealtimeSocket:
        gate.wait(10)  # the handshake is still running while the user speaks
        return connect_realtime(cfg, query)

    session = open_session(config, recorder, connector=slow_connect)
    stream(session, jfk_pcm)
    session.commit()
    assert not session.wait_ready(0)
    gate.set()
    texts = session.finish(timeout=60)
    session.close()

    assert word_recall(JFK_WORDS, texts[0]) >= 0.8, texts
    [request] = realtime_requests(srv)
    assert request.events[0]["type"] == "session.update"
    sent = sum(int(ev["audio"].strip("<> bytes")) for ev in request.events
               if ev["type"] == "input_audio_buffer.append")
    assert sent == len(jfk_pcm)


def test_server_vad_two_utterances_complete_in_order(srv: FakeOpenAI, config: ApiConfig,
                                                     recorder: Recorder, jfk_pcm: bytes) -> None:
    first, second = jfk_pcm, jfk_pcm[: len(jfk_pcm) * 2 // 3]  # two different texts, to check order
    # JFK pauses up to ~0.8 s between phrases; a longer end-of-turn silence keeps each clip one utterance.
    session = open_session(config, recorder, server_vad=True, vad_silence_ms=1200)
    stream(session, first + silence(2.0) + second + silence(2.0))
    completed = recorder.wait_completed(2)  # the server's VAD committed both by itself
    session.commit()  # nothing left but silence: no error, nothing more
    texts = session.finish(timeout=60)
    session.close()

    assert len(texts) == 2 and [c.text for c in completed] == texts
    assert word_recall(JFK_WORDS, texts[0]) >= 0.8
    assert "country" in texts[1].lower() and "you" not in texts[1].lower().split()[-1:], texts
    assert len({c.item_id for c in completed}) == 2


def test_deltas_are_grouped_by_item(srv: FakeOpenAI, config: ApiConfig, recorder: Recorder,
                                    jfk_pcm: bytes) -> None:
    session = open_session(config, recorder, server_vad=True, vad_silence_ms=1200)
    stream(session, jfk_pcm + silence(2.0) + jfk_pcm + silence(2.0))
    completed = recorder.wait_completed(2)
    session.close()
    for item in completed:
        pieces = [d.text for d in recorder.deltas if d.item_id == item.item_id]
        assert pieces and "".join(pieces).strip() == item.text.strip()
    assert {d.item_id for d in recorder.deltas} == {c.item_id for c in completed}


def test_commit_under_100ms_is_too_short(srv: FakeOpenAI, config: ApiConfig, recorder: Recorder,
                                         jfk_pcm: bytes) -> None:
    session = open_session(config, recorder)
    session.append(jfk_pcm[: 48 * 60])  # 60 ms
    with pytest.raises(e.NoSpeech, match="Too short"):
        session.commit()
    assert session.finish(timeout=5) == []
    # The session is still usable for the next utterance.
    stream(session, jfk_pcm)
    session.commit()
    assert word_recall(JFK_WORDS, session.finish(timeout=60)[0]) >= 0.8
    session.close()
    kinds = [ev["type"] for ev in realtime_requests(srv)[0].events]
    assert kinds.count("input_audio_buffer.clear") == 1 and kinds.count("input_audio_buffer.commit") == 1


# -- failures ----------------------------------------------------------------------------------------------
def test_bad_key_on_upgrade_is_the_rest_401_message(srv: FakeOpenAI, recorder: Recorder) -> None:
    config = ApiConfig(srv.base_url, api_key="sk-wrong-0000000000000000")
    session = open_session(config, recorder)
    session.append(silence(0.5))
    with pytest.raises(e.AuthError) as caught:
        session.commit()
        session.finish(timeout=10)
    assert caught.value.user_message == REST_401
    assert "sk-wrong-0000000000000000" not in caught.value.full_message() + caught.value.detail
    assert realtime_requests(srv)[0].status == 401


def test_bad_key_accepted_then_refused_is_the_same_message(srv: FakeOpenAI, recorder: Recorder) -> None:
    srv.add_fault("realtime", "ws_accept_then_error")
    session = open_session(ApiConfig(srv.base_url, api_key="sk-wrong-0000000000000000"), recorder)
    assert not session.wait_ready(10)
    failure = session.failure
    assert isinstance(failure, e.AuthError) and failure.user_message == REST_401
    assert realtime_requests(srv)[0].status == 101


def test_drop_mid_utterance_is_a_network_error(srv: FakeOpenAI, config: ApiConfig, recorder: Recorder,
                                               jfk_pcm: bytes) -> None:
    srv.add_fault("realtime", "drop_ws_mid_utterance")
    session = open_session(config, recorder)
    stream(session, jfk_pcm)
    session.commit()
    with pytest.raises(e.NetworkError, match="dropped mid-utterance") as caught:
        session.finish(timeout=60)
    assert not isinstance(caught.value, e.RealtimeUnavailable)  # this one falls back with the audio


@pytest.mark.parametrize("how", ["http_404", "no_realtime_path", "connection_refused"])
def test_no_realtime_endpoint_asks_for_the_rest_fallback(srv: FakeOpenAI, recorder: Recorder,
                                                         how: str) -> None:
    base = srv.base_url
    if how == "http_404":
        srv.add_fault("realtime", status=404)
    elif how == "no_realtime_path":
        base = srv.root_url + "/compat/v1"  # a server where /realtime simply does not exist
    else:
        import socket

        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            base = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    session = open_session(ApiConfig(base, api_key=srv.api_key), recorder)
    assert not session.wait_ready(10)
    assert isinstance(session.failure, e.RealtimeUnavailable), session.failure


def test_unknown_model_is_reported_with_an_alternative(srv: FakeOpenAI, config: ApiConfig,
                                                       recorder: Recorder) -> None:
    srv.models = [m for m in srv.models if m != "gpt-4o-mini-transcribe"]
    session = open_session(config, recorder)
    assert not session.wait_ready(10)
    failure = session.failure
    assert isinstance(failure, e.ModelRetired) and failure.alternative, failure


def test_cancel_closes_the_socket_at_once(srv: FakeOpenAI, config: ApiConfig, recorder: Recorder,
                                          jfk_pcm: bytes) -> None:
    srv.add_fault("realtime", server_delay_s=20)
    cancel = CancelToken()
    session = open_session(config, recorder, cancel=cancel)
    stream(session, jfk_pcm)
    session.commit()
    srv.wait_for_requests(1, lambda r: any(ev["type"] == "input_audio_buffer.commit" for ev in r.events))
    started = time.monotonic()
    threading.Thread(target=cancel.cancel).start()
    with pytest.raises(e.Cancelled):
        session.finish(timeout=30)
    assert session.join(2)
    assert time.monotonic() - started < 2


def test_session_expiry_reconnects_and_replays_the_utterance(srv: FakeOpenAI, config: ApiConfig,
                                                             recorder: Recorder, jfk_pcm: bytes) -> None:
    srv.add_fault("realtime", "session_expired", after_s=0.5)
    session = open_session(config, recorder)
    half = len(jfk_pcm) // 2 // 2 * 2
    stream(session, jfk_pcm[:half])  # the first half goes to the session that expires
    wait_for(lambda: session.connections == 2 and session.wait_ready(0), 10, "a second session")
    stream(session, jfk_pcm[half:])
    session.commit()
    texts = session.finish(timeout=60)
    session.close()
    assert word_recall(JFK_WORDS, texts[0]) >= 0.8, texts
    requests = realtime_requests(srv)
    assert len(requests) == 2
    sent = sum(int(ev["audio"].strip("<> bytes")) for ev in requests[1].events
               if ev["type"] == "input_audio_buffer.append")
    assert sent == len(jfk_pcm)  # the first half was replayed on the new session


# -- completion order (the real server does not guarantee it; the fake completes in order) -----------
class ScriptedSocket:
    """Stands in for the server to complete two items out of order."""

    host = "scripted"

    def __init__(self) -> None:
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.sent: list[dict[str, Any]] = []
        self.inbox.put({"type": "session.created"})

    def send(self, event: dict[str, Any]) -> None:
        self.sent.append(json.loads(json.dumps(event)))
        if event["type"] == "session.update":
            self.inbox.put({"type": "session.updated"})
        if event["type"] == "input_audio_buffer.commit":
            number = sum(1 for ev in self.sent if ev["type"] == "input_audio_buffer.commit")
            self.inbox.put({"type": "input_audio_buffer.committed", "item_id": f"item_{number}"})
            if number == 2:  # the second utterance finishes first
                for item, text in (("item_2", "second"), ("item_1", "first")):
                    self.inbox.put({"type": "conversation.item.input_audio_transcription.delta",
                                    "item_id": item, "delta": text})
                    self.inbox.put({"type": "conversation.item.input_audio_transcription.completed",
                                    "item_id": item, "transcript": text})

    def recv(self, timeout: float | None = None) -> dict[str, Any] | None:
        try:
            event = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None
        if event is None:
            raise RealtimeClosed(1000)
        return event

    def abort(self) -> None:
        self.inbox.put(None)

    def close(self) -> None:
        self.inbox.put(None)


def test_completion_out_of_order_is_delivered_in_commit_order(recorder: Recorder) -> None:
    scripted = ScriptedSocket()
    session = open_session(ApiConfig("http://scripted/v1"), recorder,
                           connector=lambda cfg, query: cast(RealtimeSocket, scripted))
    for _ in range(2):
        session.append(silence(0.2))
        session.commit()
    assert session.finish(timeout=10) == ["first", "second"]
    assert [c.text for c in recorder.completed] == ["first", "second"]
    # Each item is announced (empty delta) in commit order; its words pass through as they come.
    assert [(d.item_id, d.text) for d in recorder.deltas] == [
        ("item_1", ""), ("item_2", ""), ("item_2", "second"), ("item_1", "first")]
    session.close()


def test_the_delay_setting_reaches_a_streaming_whisper_session(srv: FakeOpenAI, config: ApiConfig,
                                                                recorder: Recorder) -> None:
    sent: list[dict[str, Any]] = []
    for dictation in (DictationSettings(realtime_delay="high"), DictationSettings()):
        transcriber = OpenAIRealtimeTranscriber.from_settings(config, dictation)
        session = transcriber.open(TranscriptionOptions(model="gpt-realtime-whisper"), recorder.on_delta,
                                   recorder.on_completed, CancelToken())
        [request] = wait_for(lambda: [r for r in realtime_requests(srv) if r.events], 20, "the session.update")
        session.close()
        srv.clear_requests()
        sent.append(request.events[0]["session"]["audio"]["input"]["transcription"])
    assert sent == [{"model": "gpt-realtime-whisper", "delay": "high"}, {"model": "gpt-realtime-whisper"}]


def test_the_session_renews_between_utterances_before_it_expires(srv: FakeOpenAI, config: ApiConfig,
                                                                   recorder: Recorder, jfk_pcm: bytes) -> None:
    # The fake's sessions last an hour; renewing 3599 s ahead means "one second after it opened".
    opening = jfk_pcm[: 48_000 * 7]
    session = open_session(config, recorder, server_vad=True, vad_silence_ms=1200, renew_before_s=3599)
    stream(session, jfk_pcm + silence(2.0))
    recorder.wait_completed(1)
    # Nothing in flight now: the session moves to a new one (not while the first utterance was running).
    wait_for(lambda: session.renewals >= 1 and session.wait_ready(0), 20, "a renewed session")
    stream(session, opening + silence(2.0))
    completed = recorder.wait_completed(2)
    session.commit()
    texts = session.finish(timeout=60)
    session.close()
    assert [c.text for c in completed] == texts and len(texts) == 2
    assert word_recall(JFK_WORDS, texts[0]) >= 0.8 and "fellow americans" in texts[1].lower(), texts
    requests = realtime_requests(srv)
    assert len(requests) >= 2
    # The first session carried the whole first utterance; the second utterance went to a later one.
    first_audio = sum(int(ev["audio"].strip("<> bytes")) for ev in requests[0].events
                      if ev["type"] == "input_audio_buffer.append")
    assert first_audio >= len(jfk_pcm)
    assert not any(ev["type"] == "input_audio_buffer.commit" for ev in requests[0].events)

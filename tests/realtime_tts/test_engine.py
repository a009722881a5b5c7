"""The realtime speech engine against the fake GA Realtime server (real sockets, real espeak-ng PCM)."""

from __future__ import annotations

import base64
import logging
import threading
import time
from typing import Any

import numpy as np
import pytest

from desktop_app.core import errors as e
from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import ApiConfig, SpeechChunk, SpeechOptions
from desktop_app.providers.openai_realtime_tts import OpenAIRealtimeSpeech
from desktop_app.providers.openai_tts import OpenAISpeech
from tests.fakeopenai import DEFAULT_MODELS, FakeOpenAI
from tests.support.desktop import wait_for

from .conftest import OPTIONS, Recorder

FOX = "The quick brown fox jumps over the lazy dog."
JUGS = "Pack my box with five dozen liquor jugs."
LONG = " ".join([JUGS] * 8)


class Sink:
    def __init__(self) -> None:
        self.pieces: list[tuple[float, bytes]] = []

    def __call__(self, pcm: bytes, rate: int) -> None:
        assert rate == 24000
        self.pieces.append((time.monotonic(), pcm))

    @property
    def pcm(self) -> bytes:
        return b"".join(p for _, p in self.pieces)


def connections(srv: FakeOpenAI) -> list[Any]:
    return [r for r in srv.requests if r.path == "/v1/realtime"]


def client_events(srv: FakeOpenAI, kind: str) -> list[dict[str, Any]]:
    return [ev for r in connections(srv) for ev in r.events if ev["type"] == kind]


def read_text(create: dict[str, Any]) -> str:
    return str(create["response"]["input"][0]["content"][0]["text"])


def speak(engine: OpenAIRealtimeSpeech, index: int, text: str, options: SpeechOptions = OPTIONS,
          cancel: CancelToken | None = None) -> Sink:
    sink = Sink()
    engine.synthesize(SpeechChunk(index, text), options, sink, cancel or CancelToken())
    return sink


def test_reads_a_chunk_over_a_ga_session_and_plays_before_response_done(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, recorder: Recorder) -> None:
    sink = speak(engine, 0, LONG)
    _, done_at = recorder.first("response.done")
    assert sink.pieces[0][0] < done_at  # streamed: the first audio was handed on before the response ended
    samples = np.frombuffer(sink.pcm, dtype="<i2")
    assert 10 < len(samples) / 24000 < 40 and np.abs(samples).max() > 3000
    (conn,) = connections(srv)
    assert conn.query == {"model": "gpt-realtime-2.1-mini"}
    assert not any(name.lower() == "openai-beta" for name in conn.headers)
    (update,) = client_events(srv, "session.update")
    session = update["session"]
    assert session["type"] == "realtime" and session["output_modalities"] == ["audio"]
    assert session["audio"]["input"] == {"turn_detection": None}
    assert session["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin",
                                          "speed": 1.0}
    assert session["tools"] == [] and session["tool_choice"] == "none"
    (create,) = client_events(srv, "response.create")
    assert create["response"]["conversation"] == "none"
    # The reading rules travel with every out-of-band response, not only in the session (doc §3.1).
    assert create["response"]["instructions"] == session["instructions"]
    assert "<read>" in create["response"]["instructions"]
    assert create["response"]["metadata"]["chunk"] == "0"
    assert read_text(create) == f"<read>\n{LONG}\n</read>"
    assert recorder.transcripts[-1] == (0, LONG, True)
    assert any(not final for _, _, final in recorder.transcripts)  # partial transcripts for highlighting


def test_a_prefetched_chunk_is_generated_ahead_and_played_from_the_buffer(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, recorder: Recorder) -> None:
    speak(engine, 0, FOX)
    assert engine.prefetch(SpeechChunk(1, JUGS), OPTIONS)
    recorder.wait_for(lambda evs: sum(ev["type"] == "response.done" for ev in evs) == 2)
    sink = speak(engine, 1, JUGS)
    assert len(sink.pcm) / 48000 > 1.0
    assert len(client_events(srv, "response.create")) == 2  # no second request for chunk 1
    assert len(connections(srv)) == 1  # one persistent session


def test_cancel_stops_audio_at_once_and_cancels_the_response(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, recorder: Recorder) -> None:
    token = CancelToken()
    sink = Sink()
    started = threading.Event()
    outcome: list[BaseException] = []

    def on_audio(pcm: bytes, rate: int) -> None:
        sink(pcm, rate)
        started.set()

    def run() -> None:
        try:
            engine.synthesize(SpeechChunk(0, LONG), OPTIONS, on_audio, token)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(20)
    token.cancel()
    cancelled_at = time.monotonic()
    thread.join(5)
    assert not thread.is_alive() and isinstance(outcome[0], e.Cancelled)
    late = [pcm for at, pcm in sink.pieces if at > cancelled_at]
    assert len(late) <= 1  # at most the piece that was already being handed on
    recorder.wait_for(lambda evs: any(ev["type"] == "response.done" for ev in evs))
    done, _ = recorder.first("response.done")
    assert done["response"]["status"] == "cancelled"
    (created, _) = recorder.first("response.created")
    (cancel,) = client_events(srv, "response.cancel")
    assert cancel["response_id"] == created["response"]["id"]


def test_stop_before_the_server_names_the_response_still_cancels_it(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, recorder: Recorder) -> None:
    srv.add_fault("realtime", server_delay_s=0.5)
    assert engine.prefetch(SpeechChunk(0, LONG), OPTIONS)
    engine.stop()
    recorder.wait_for(lambda evs: any(ev["type"] == "response.done" for ev in evs))
    done, _ = recorder.first("response.done")
    assert done["response"]["status"] == "cancelled"
    assert [c["response_id"] for c in client_events(srv, "response.cancel")] == [done["response"]["id"]]


def test_a_stray_reading_is_retried_once_with_stricter_instructions_then_warned(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, caplog: pytest.LogCaptureFixture) -> None:
    srv.add_fault("realtime", "stray_transcript")  # every response of the connection strays
    caplog.set_level(logging.WARNING)
    speak(engine, 0, LONG)  # nothing queued yet: streamed, heard already, so only a warning
    sink = speak(engine, 1, JUGS)  # asked for while chunk 0 is still queued: held until checked
    creates = client_events(srv, "response.create")
    assert [c["response"]["metadata"]["chunk"] for c in creates] == ["0", "1", "1"]
    assert "VERBATIM" not in creates[1]["response"]["instructions"]
    assert "VERBATIM" in creates[2]["response"]["instructions"]
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("chunk 0 was read with differences" in m for m in messages) == 1
    assert sum("chunk 1 strayed" in m for m in messages) == 1
    assert sum("chunk 1 was read with differences" in m and "stricter retry" in m for m in messages) == 1
    assert len(sink.pcm) > 0


def test_a_stray_fixed_by_the_retry_plays_only_the_retry(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, recorder: Recorder,
        caplog: pytest.LogCaptureFixture) -> None:
    srv.add_fault("realtime", "stray_transcript", nth=2, text="Sure! " + JUGS)  # only chunk 1's first try
    caplog.set_level(logging.WARNING)
    speak(engine, 0, LONG)
    sink = speak(engine, 1, JUGS)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 1 and "chunk 1 strayed" in messages[0]
    done = [ev for ev, _ in recorder.events if ev["type"] == "response.done"]
    assert len(done) == 3
    assert recorder.transcripts[-1] == (1, JUGS, True)
    stray_audio = sum(len(base64.b64decode(ev["delta"])) for ev, _ in recorder.events
                      if ev["type"] == "response.output_audio.delta"
                      and ev["response_id"] == done[1]["response"]["id"])
    assert stray_audio > len(sink.pcm) > 0  # the longer stray reading was never handed on


def test_look_ahead_that_was_prefetched_is_checked_before_it_plays(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, caplog: pytest.LogCaptureFixture) -> None:
    srv.add_fault("realtime", "stray_transcript", nth=2)
    caplog.set_level(logging.WARNING)
    speak(engine, 0, LONG)
    assert engine.prefetch(SpeechChunk(1, JUGS), OPTIONS)
    speak(engine, 1, JUGS)
    assert [c["response"]["metadata"]["chunk"] for c in client_events(srv, "response.create")] == ["0", "1", "1"]
    assert [m for m in (r.getMessage() for r in caplog.records) if "strayed" in m or "differences" in m] == [
        m for m in (r.getMessage() for r in caplog.records) if "chunk 1 strayed" in m]


def test_held_look_ahead_is_released_before_the_queued_audio_runs_out(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, caplog: pytest.LogCaptureFixture) -> None:
    srv.add_fault("realtime", server_delay_s=3.0, nth=2)  # chunk 1 is slow to start: later than chunk 0 lasts
    caplog.set_level(logging.INFO)
    speak(engine, 0, FOX)
    second = speak(engine, 1, JUGS)
    assert any("played before its check" in r.getMessage() for r in caplog.records)
    assert second.pieces[-1][0] - second.pieces[0][0] > 0.05  # streamed as it came, not released in one go


def test_rest_only_voices_are_mapped_with_one_notice_and_a_voice_change_opens_a_new_session(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, recorder: Recorder) -> None:
    nova = SpeechOptions(model="gpt-4o-mini-tts", voice="nova")
    speak(engine, 0, FOX, nova)
    speak(engine, 1, JUGS, nova)
    assert recorder.notices == ["The voice “nova” is not available for realtime speech; using “shimmer” instead."]
    assert len(connections(srv)) == 1
    speak(engine, 2, FOX, SpeechOptions(model="gpt-4o-mini-tts", voice="cedar"))
    voices = [u["session"]["audio"]["output"]["voice"] for u in client_events(srv, "session.update")]
    assert voices == ["shimmer", "cedar"] and len(connections(srv)) == 2


def test_speed_is_clamped_to_the_realtime_range(srv: FakeOpenAI, engine: OpenAIRealtimeSpeech) -> None:
    speak(engine, 0, FOX, SpeechOptions(model="gpt-4o-mini-tts", voice="marin", speed=3.0))
    (update,) = client_events(srv, "session.update")
    assert update["session"]["audio"]["output"]["speed"] == 1.5


def test_an_expired_session_is_replaced_before_the_next_chunk(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, recorder: Recorder) -> None:
    srv.add_fault("realtime", "session_expired", after_s=1.0)
    speak(engine, 0, FOX)
    recorder.wait_for(lambda evs: any(ev.get("error", {}).get("code") == "session_expired" for ev in evs))
    sink = speak(engine, 1, JUGS)
    assert len(sink.pcm) > 0 and len(connections(srv)) == 2


def test_the_session_is_renewed_between_chunks_before_its_time_limit(
        srv: FakeOpenAI, config: ApiConfig) -> None:
    now = [1000.0]
    engine = OpenAIRealtimeSpeech(config, clock=lambda: now[0])
    try:
        speak(engine, 0, FOX)
        now[0] += 49 * 60
        speak(engine, 1, JUGS)
        assert len(connections(srv)) == 1
        now[0] += 2 * 60  # 51 minutes old: renewed before the next chunk
        speak(engine, 2, FOX)
        assert len(connections(srv)) == 2
    finally:
        engine.close()


def test_a_connection_dropped_mid_response_reconnects_and_reads_the_chunk(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, caplog: pytest.LogCaptureFixture) -> None:
    srv.add_fault("realtime", "drop_ws_mid_response")
    caplog.set_level(logging.WARNING)
    sink = speak(engine, 0, FOX)
    assert len(connections(srv)) == 2
    assert len(sink.pcm) / 48000 > 1.5  # the whole sentence, read again on the new session
    assert any("connection lost" in r.getMessage() for r in caplog.records)


def test_a_cut_off_reading_continues_with_the_unread_words(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech) -> None:
    srv.add_fault("realtime", "incomplete", nth=1)
    speak(engine, 0, LONG)
    _, second = client_events(srv, "response.create")
    tail = read_text(second).removeprefix("<read>\n").removesuffix("\n</read>")
    assert tail and LONG.endswith(tail) and len(tail) < len(LONG)


def test_a_failed_response_is_retried_once_then_reported(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech) -> None:
    srv.add_fault("realtime", "failed")
    with pytest.raises(e.ServerError) as caught:
        speak(engine, 0, FOX)
    assert len(client_events(srv, "response.create")) == 2
    assert "The server had an error while processing your request." in caught.value.user_message


def test_a_failed_response_that_works_on_retry_is_read(srv: FakeOpenAI, engine: OpenAIRealtimeSpeech) -> None:
    srv.add_fault("realtime", "failed", nth=1)
    sink = speak(engine, 0, FOX)
    assert len(sink.pcm) > 0 and len(client_events(srv, "response.create")) == 2


def rest_error(config: ApiConfig) -> e.SaysoError:
    rest = OpenAISpeech(config)
    try:
        with pytest.raises(e.SaysoError) as caught:
            rest.synthesize(SpeechChunk(0, FOX), OPTIONS, lambda pcm, rate: None, CancelToken())
    finally:
        rest.close()
    return caught.value


@pytest.mark.parametrize("accept_then_error", [False, True], ids=["401-on-upgrade", "error-event-then-close"])
def test_a_bad_key_reads_exactly_like_the_rest_engine(srv: FakeOpenAI, accept_then_error: bool) -> None:
    bad = ApiConfig(srv.base_url, api_key="sk-wrong-0000000000000000000000", timeout_s=10)
    expected = rest_error(bad)
    if accept_then_error:
        srv.add_fault("realtime", "ws_accept_then_error")
    engine = OpenAIRealtimeSpeech(bad)
    try:
        with pytest.raises(e.AuthError) as caught:
            speak(engine, 0, FOX)
    finally:
        engine.close()
    assert isinstance(expected, e.AuthError)
    assert (caught.value.user_message, caught.value.hint) == (expected.user_message, expected.hint)
    assert bad.api_key not in caught.value.full_message() + caught.value.detail


def test_an_unreachable_server_reads_like_the_rest_engine() -> None:
    closed = ApiConfig("http://127.0.0.1:9/v1", api_key="sk-x", timeout_s=5)
    expected = rest_error(closed)
    engine = OpenAIRealtimeSpeech(closed)
    with pytest.raises(e.NetworkError) as caught:
        speak(engine, 0, FOX)
    engine.close()
    assert caught.value.user_message == expected.user_message


def test_a_missing_realtime_model_suggests_another_realtime_model_not_a_retired_rest_one(
        srv: FakeOpenAI, config: ApiConfig) -> None:
    srv.models = [m for m in DEFAULT_MODELS if m != "gpt-realtime-2.1-mini"]
    engine = OpenAIRealtimeSpeech(config)
    try:
        with pytest.raises(e.ModelRetired) as caught:
            speak(engine, 0, FOX)
    finally:
        engine.close()
    error = caught.value  # reported as retired (a ModelRetired naming the model), with a realtime alternative
    assert error.model == "gpt-realtime-2.1-mini"
    assert error.user_message.startswith("The realtime speech model “gpt-realtime-2.1-mini” is not available")
    assert error.alternative == "gpt-realtime-2.1"
    assert error.hint == ("Choose another realtime model, for example gpt-realtime-2.1 (Settings → Read aloud → "
                          "Realtime model), or read with the system voice (Settings → Read aloud → Engine: "
                          "system).")
    assert "tts" not in error.hint and "choose the realtime engine" not in error.hint


def test_an_error_a_request_took_does_not_explain_a_later_drop(srv: FakeOpenAI, config: ApiConfig) -> None:
    from desktop_app.providers.realtime_tts_session import RealtimeSpeechSession, SessionSpec

    srv.add_fault("realtime", "drop_ws_mid_response", server_delay_s=0.3)
    session = RealtimeSpeechSession(config, SessionSpec("gpt-realtime-2.1-mini", "marin", 1.0))
    session.open(lambda: False)
    try:
        first = session.start(FOX, 0, strict=False)
        # The server blames this request (its event id) for an error, before the socket drops.
        session._dispatch({"type": "error", "error": {"type": "invalid_request_error", "code": "invalid_value",
                                                      "message": "Stale complaint.", "event_id": first.event_id}})
        assert first.error is not None and "Stale complaint." in first.error.user_message
        wait_for(lambda: not session.alive, 20, "the socket to drop")
        second = session.start(JUGS, 1, strict=False)
    finally:
        session.close()
    assert second.error is not None and second.connection_lost
    assert "Stale complaint." not in second.error.full_message()
    assert "dropped" in second.error.user_message


def test_while_the_listener_is_paused_the_look_ahead_stays_held_until_it_is_checked(
        srv: FakeOpenAI, engine: OpenAIRealtimeSpeech, caplog: pytest.LogCaptureFixture) -> None:
    # The same slow second chunk as above, whose audio the clock alone would release unchecked (it starts
    # after chunk 0 would have played out), but the reader says the listener paused with audio queued.
    srv.add_fault("realtime", "stray_transcript", server_delay_s=3.0, nth=2, text="Sure! " + JUGS)
    caplog.set_level(logging.INFO)
    queued = [0.0]
    engine.watch_playback(lambda: queued[0])
    speak(engine, 0, FOX)  # nothing queued: streamed
    queued[0] = 2.4  # paused right after the first sound: chunk 0 waits in the player
    second = speak(engine, 1, JUGS)
    messages = [r.getMessage() for r in caplog.records]
    assert not any("played before its check" in m for m in messages)
    assert any("chunk 1 strayed" in m for m in messages)  # checked, and retried before anyone heard it
    assert len(client_events(srv, "response.create")) == 3
    assert 1.0 < len(second.pcm) / 48000 < 4.5  # only the retry's audio: no "Sure!" reading

"""services.realtime_dictation with the real provider and the fake server; the microphone is a stand-in
that hands out a clip through ``read_new`` like MicCapture does while recording."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import pytest

from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import ApiConfig
from desktop_app.core.ports import InsertResult
from desktop_app.core.settings import Settings
from desktop_app.providers.openai_realtime_stt import OpenAIRealtimeTranscriber
from desktop_app.providers.realtime_ws import RealtimeClosed, RealtimeSocket
from desktop_app.services.realtime_dictation import RETRY_UNAVAILABLE_S, LiveFeed, RealtimeDictation
from tests.fakeopenai import FakeOpenAI

from .conftest import JFK_WORDS, silence, word_recall


class ClipMic:
    """``read_new`` returns the clip in pieces, as if it were being spoken (but without waiting)."""

    def __init__(self, pcm: bytes) -> None:
        self._pcm = pcm
        self._pos = 0
        self._lock = threading.Lock()

    def read_new(self, max_s: float = 0.1) -> bytes:
        with self._lock:
            size = int(max_s * 24_000) * 2
            chunk = self._pcm[self._pos:self._pos + size]
            self._pos += len(chunk)
            return chunk

    def drained(self) -> bool:
        with self._lock:
            return self._pos >= len(self._pcm)

    # The rest of AudioSource is not used by the live feed.
    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


class Listener:
    def __init__(self) -> None:
        self.partials: list[str] = []
        self.notices: list[tuple[str, str, str]] = []

    def on_partial(self, text: str) -> None:
        self.partials.append(text)

    def on_notice(self, title: str, message: str, level: str) -> None:
        self.notices.append((title, message, level))


def settings_for(base_url: str, mode: str = "push-to-talk") -> Settings:
    settings = Settings()
    settings.api.base_url = base_url
    settings.dictation.transport = "realtime"
    settings.dictation.mode = mode
    settings.dictation.language = "en"
    return settings


def open_feed(srv: FakeOpenAI, listener: Listener, pcm: bytes, *, base_url: str | None = None,
              mode: str = "push-to-talk", inserted: list[str] | None = None, replacements: str = "",
              ) -> tuple[RealtimeDictation, LiveFeed | None]:
    base = base_url or srv.base_url
    owner = RealtimeDictation(lambda: OpenAIRealtimeTranscriber(ApiConfig(base, api_key=srv.api_key)), listener)

    def insert(text: str) -> InsertResult:
        (inserted if inserted is not None else []).append(text)
        return InsertResult(delivered=True, left_on_clipboard=False)

    settings = settings_for(base, mode)
    settings.dictation.replacements = replacements
    return owner, owner.open(settings, ClipMic(pcm), insert)


def test_push_to_talk_feed_gives_the_text_and_shows_deltas(srv: FakeOpenAI, jfk_pcm: bytes) -> None:
    listener = Listener()
    _owner, feed = open_feed(srv, listener, jfk_pcm)
    assert feed is not None
    feed.stop_audio()  # release: the pump stops and everything captured goes up
    timings: dict[str, Any] = {}
    result = feed.result(CancelToken(), 11.0, timings)
    assert result is not None and not result.inserted
    assert word_recall(JFK_WORDS, result.text) >= 0.8
    assert feed.sent_bytes == len(jfk_pcm)
    assert timings["transport"] == "realtime"
    # The preview grew delta by delta before the completed transcript replaced it: its first text is a
    # proper beginning of the last (a preview fed only by `completed` would show the whole text at once).
    partials = [p for p in listener.partials if p]
    assert len(partials) >= 3 and word_recall(JFK_WORDS, partials[-1]) >= 0.8
    assert len(partials[0]) < len(partials[-1]) and partials[-1].startswith(partials[0]), partials


def test_toggle_feed_inserts_utterances_in_order(srv: FakeOpenAI, jfk_pcm: bytes) -> None:
    listener, inserted = Listener(), list[str]()
    opening = jfk_pcm[: 48_000 * 7]
    _owner, feed = open_feed(srv, listener, jfk_pcm + silence(2.0) + opening + silence(2.0), mode="toggle",
                             inserted=inserted)
    assert feed is not None
    feed.stop_audio()
    result = feed.result(CancelToken(), 25.0, {})
    assert result is not None and result.inserted
    joined = "".join(inserted)
    assert joined.lower().count("fellow americans") == 2 and joined.strip() == result.text.strip()
    assert all(piece.startswith(" ") for piece in inserted[1:])  # words never run together


def test_toggle_inserts_each_utterance_with_the_users_replacements(srv: FakeOpenAI, jfk_pcm: bytes) -> None:
    listener, inserted = Listener(), list[str]()
    _owner, feed = open_feed(srv, listener, jfk_pcm + silence(2.0), mode="toggle", inserted=inserted,
                             replacements="country => nation")
    assert feed is not None
    feed.stop_audio()
    result = feed.result(CancelToken(), 15.0, {})
    assert result is not None and result.inserted
    joined = "".join(inserted)
    assert "nation" in joined and "country" not in joined.lower(), joined
    assert "country" not in result.text.lower()


def test_drop_returns_none_for_the_rest_fallback_with_a_notice(srv: FakeOpenAI, jfk_pcm: bytes) -> None:
    srv.add_fault("realtime", "drop_ws_mid_utterance")
    listener = Listener()
    _owner, feed = open_feed(srv, listener, jfk_pcm)
    assert feed is not None
    feed.stop_audio()
    assert feed.result(CancelToken(), 11.0, {}) is None
    assert [n for n in listener.notices if "over REST" in n[1]]


def test_unavailable_endpoint_is_told_once_then_not_tried(srv: FakeOpenAI, jfk_pcm: bytes) -> None:
    listener = Listener()
    base = srv.root_url + "/compat/v1"
    owner, feed = open_feed(srv, listener, jfk_pcm, base_url=base)
    assert feed is not None
    feed.stop_audio()
    assert feed.result(CancelToken(), 11.0, {}) is None
    assert len(listener.notices) == 1 and "REST" in listener.notices[0][1]
    again = owner.open(settings_for(base), ClipMic(jfk_pcm), lambda text: InsertResult(True, False))
    assert again is None and len(listener.notices) == 1


def test_rest_transport_opens_nothing(srv: FakeOpenAI) -> None:
    owner = RealtimeDictation(lambda: pytest.fail("no transcriber is built for REST"), Listener())
    settings = settings_for(srv.base_url)
    settings.dictation.transport = "rest"
    assert owner.open(settings, ClipMic(b""), lambda text: InsertResult(True, False)) is None


def test_cancel_during_result_raises_cancelled(srv: FakeOpenAI, jfk_pcm: bytes) -> None:
    from desktop_app.core.errors import Cancelled

    srv.add_fault("realtime", server_delay_s=20)
    _owner, feed = open_feed(srv, Listener(), jfk_pcm)
    assert feed is not None
    feed.stop_audio()
    token = CancelToken()

    def cancel_once_committed() -> None:  # the user presses Esc while the server is still working
        srv.wait_for_requests(1, lambda r: any(ev["type"] == "input_audio_buffer.commit" for ev in r.events))
        token.cancel()

    threading.Thread(target=cancel_once_committed, daemon=True).start()
    with pytest.raises(Cancelled):
        feed.result(token, 11.0, {})


# -- settings reach the server through the app's open path -------------------------------------------------
@pytest.mark.parametrize(("model", "expected"), [
    ("gpt-live-transcribe", {"model": "gpt-live-transcribe", "language": "de", "keywords": ["Kubernetes", "Sayso"],
                             "prompt": "Technical notes."}),
    ("gpt-4o-mini-transcribe", {"model": "gpt-4o-mini-transcribe", "language": "de",
                                "prompt": "Technical notes.\nVocabulary: Kubernetes, Sayso."}),
])
def test_the_users_settings_reach_session_update(srv: FakeOpenAI, model: str, expected: dict[str, Any]) -> None:
    settings = settings_for(srv.base_url)
    d = settings.dictation
    d.realtime_model, d.language, d.prompt, d.keywords = model, "de", "Technical notes.", "Kubernetes, Sayso"
    d.noise_reduction = "far_field"
    config = ApiConfig(srv.base_url, api_key=srv.api_key)
    # The factory the app wires (app/dictation.py streaming_factory): the transcriber from the settings.
    owner = RealtimeDictation(lambda: OpenAIRealtimeTranscriber.from_settings(config, settings.dictation),
                              Listener())
    feed = owner.open(settings, ClipMic(b""), lambda text: InsertResult(True, False))
    assert feed is not None
    [request] = srv.wait_for_requests(1, lambda r: r.endpoint == "realtime" and bool(r.events), timeout=20)
    feed.abort()
    update = request.events[0]
    assert update["type"] == "session.update"
    audio_input = update["session"]["audio"]["input"]
    assert audio_input["transcription"] == expected
    assert audio_input["noise_reduction"] == {"type": "far_field"}
    assert audio_input["turn_detection"] is None  # push-to-talk: committed at release


# -- scripted server: orders, closes and slow closes the fake server does not produce --------------------
class ScriptedSocket:
    """Stands in for the server. ``on_commit(socket, number)`` scripts the answer to each commit; ``close``
    (the polite one) blocks until ``close_gate`` is set, like a server slow to answer the close frame."""

    host = "scripted"

    def __init__(self, on_commit: Callable[[ScriptedSocket, int], None],
                 close_gate: threading.Event | None = None) -> None:
        self.inbox: queue.Queue[dict[str, Any] | int] = queue.Queue()
        self.sent: list[dict[str, Any]] = []
        self.on_commit = on_commit
        self.close_gate = close_gate or threading.Event()
        if close_gate is None:
            self.close_gate.set()
        self.closing = threading.Event()
        self.inbox.put({"type": "session.created", "session": {"expires_at": int(time.time()) + 3600}})

    def put(self, *events: dict[str, Any] | int) -> None:
        for item in events:
            self.inbox.put(item)

    def send(self, event: dict[str, Any]) -> None:
        self.sent.append(event)
        if event["type"] == "session.update":
            self.inbox.put({"type": "session.updated"})
        elif event["type"] == "input_audio_buffer.commit":
            self.on_commit(self, sum(1 for ev in self.sent if ev["type"] == "input_audio_buffer.commit"))

    def recv(self, timeout: float | None = None) -> dict[str, Any] | None:
        try:
            item = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, int):
            self.inbox.put(item)  # closed stays closed
            raise RealtimeClosed(item)
        return item

    def abort(self) -> None:
        self.inbox.put(1006)

    def close(self) -> None:
        self.closing.set()
        self.close_gate.wait(30)
        self.inbox.put(1000)


def committed(item: str) -> dict[str, Any]:
    return {"type": "input_audio_buffer.committed", "item_id": item}


def delta(item: str, text: str) -> dict[str, Any]:
    return {"type": "conversation.item.input_audio_transcription.delta", "item_id": item, "delta": text}


def completed(item: str, text: str) -> dict[str, Any]:
    return {"type": "conversation.item.input_audio_transcription.completed", "item_id": item, "transcript": text}


def scripted_feed(scripted: ScriptedSocket, listener: Listener, pcm: bytes, *, mode: str = "push-to-talk",
                  inserted: list[str] | None = None) -> LiveFeed:
    owner = RealtimeDictation(lambda: OpenAIRealtimeTranscriber(
        ApiConfig("http://scripted/v1"), connector=lambda cfg, query: cast(RealtimeSocket, scripted)), listener)

    def insert(text: str) -> InsertResult:
        (inserted if inserted is not None else []).append(text)
        return InsertResult(delivered=True, left_on_clipboard=False)

    feed = owner.open(settings_for("http://scripted/v1", mode), ClipMic(pcm), insert)
    assert feed is not None
    return feed


def test_the_preview_follows_commit_order_when_a_later_utterance_speaks_first() -> None:
    def answer(sock: ScriptedSocket, number: int) -> None:
        # Our commit and one the server's VAD made; the second one's words come first.
        sock.put(committed("item_1"), committed("item_2"), delta("item_2", "second"), delta("item_1", "first"),
                 completed("item_1", "first"), completed("item_2", "second"))

    listener, inserted = Listener(), list[str]()
    feed = scripted_feed(ScriptedSocket(answer), listener, silence(0.3), mode="toggle", inserted=inserted)
    feed.stop_audio()
    result = feed.result(CancelToken(), 1.0, {})
    assert result is not None and result.text == "first second"
    assert listener.partials[:2] == ["second", "first second"]  # item 1 keeps its place before item 2
    assert "second first" not in listener.partials


def test_a_server_error_close_mid_utterance_falls_back_to_rest() -> None:
    def answer(sock: ScriptedSocket, number: int) -> None:
        sock.put(committed("item_1"), delta("item_1", "half"), 1011)

    listener = Listener()
    feed = scripted_feed(ScriptedSocket(answer), listener, silence(0.5))
    feed.stop_audio()
    timings: dict[str, Any] = {}
    assert feed.result(CancelToken(), 1.0, timings) is None
    [(_title, message, _level)] = listener.notices
    assert message == ("scripted had an error and closed the realtime connection. "
                       "Transcribing the saved recording over REST instead.")
    assert timings["realtime_error"].startswith("scripted had an error")


def test_a_server_error_at_the_upgrade_falls_back_to_rest(srv: FakeOpenAI, jfk_pcm: bytes) -> None:
    srv.add_fault("realtime", status=503, html=False)  # the API's own JSON error, not a proxy page
    listener = Listener()
    owner, feed = open_feed(srv, listener, jfk_pcm)
    assert feed is not None
    feed.stop_audio()
    assert feed.result(CancelToken(), 11.0, {}) is None
    assert len(listener.notices) == 1 and "over REST instead" in listener.notices[0][1]
    # Not an unavailable endpoint: the next dictation tries realtime again.
    assert owner.open(settings_for(srv.base_url), ClipMic(b""), lambda text: InsertResult(True, False)) is not None


def test_the_text_comes_back_without_waiting_for_the_close_handshake() -> None:
    def answer(sock: ScriptedSocket, number: int) -> None:
        sock.put(committed("item_1"), delta("item_1", "hello"), completed("item_1", "hello"))

    gate = threading.Event()
    scripted = ScriptedSocket(answer, close_gate=gate)
    feed = scripted_feed(scripted, Listener(), silence(0.5))
    feed.stop_audio()
    got: list[Any] = []
    worker = threading.Thread(target=lambda: got.append(feed.result(CancelToken(), 1.0, {})), daemon=True)
    worker.start()
    worker.join(10)
    try:
        assert got and got[0] is not None and got[0].text == "hello", "result waited for the close"
        assert scripted.closing.wait(10)  # the polite close does run, behind the result
    finally:
        gate.set()


def test_abort_does_not_wait_for_the_server() -> None:
    gate = threading.Event()  # never set before the check: a server that never answers the close frame
    scripted = ScriptedSocket(lambda sock, number: None, close_gate=gate)
    feed = scripted_feed(scripted, Listener(), silence(0.5))
    started = time.monotonic()
    try:
        feed.abort()  # Esc, on the GUI thread
        assert time.monotonic() - started < 0.5
        assert feed.cancel.cancelled
    finally:
        gate.set()


def test_an_unavailable_endpoint_is_tried_again_after_a_few_minutes(srv: FakeOpenAI, jfk_pcm: bytes) -> None:
    now = [0.0]
    listener = Listener()
    base = srv.root_url + "/compat/v1"  # no /realtime here
    config = ApiConfig(base, api_key=srv.api_key)
    owner = RealtimeDictation(lambda: OpenAIRealtimeTranscriber(config), listener, clock=lambda: now[0])
    settings = settings_for(base)

    def dictate_once() -> LiveFeed | None:
        feed = owner.open(settings, ClipMic(jfk_pcm), lambda text: InsertResult(True, False))
        if feed is not None:
            feed.stop_audio()
            assert feed.result(CancelToken(), 11.0, {}) is None
        return feed

    assert dictate_once() is not None
    now[0] += RETRY_UNAVAILABLE_S - 1
    assert dictate_once() is None  # resting: straight to REST
    now[0] += 2
    assert dictate_once() is not None  # tried again (a server that was only down for a while)
    assert len(listener.notices) == 1 and "tries realtime again" in listener.notices[0][1]

"""services.realtime_dictation with the real provider and the fake server; the microphone is a stand-in
that hands out a clip through ``read_new`` like MicCapture does while recording."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from desktop_app.app.dictation import VadTools
from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import ApiConfig, AppState, EncodedAudio, PcmAudio
from desktop_app.core.ports import FocusTarget, InsertResult
from desktop_app.core.settings import Settings
from desktop_app.providers.openai_realtime_stt import OpenAIRealtimeTranscriber
from desktop_app.providers.openai_stt import OpenAITranscriber
from desktop_app.providers.realtime_ws import RealtimeClosed, RealtimeSocket
from desktop_app.services.dictation import DictationService
from desktop_app.services.realtime_dictation import RETRY_UNAVAILABLE_S, LiveFeed, RealtimeDictation
from desktop_app.storage.history import SqliteHistoryStore
from tests.fakeopenai import FakeOpenAI
from tests.support.desktop import wait_for

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
    again = owner.open(settings_for(srv.base_url), ClipMic(b""), lambda text: InsertResult(True, False))
    assert again is not None
    again.abort()


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


# -- DictationService with the realtime transport: commit first, audio on disk before the text goes in -----
class LiveMic(ClipMic):
    """The AudioSource edge: the clip streams through ``read_new`` and is the whole recording at release."""

    error = None
    overflows = 0

    def __init__(self, pcm: bytes) -> None:
        super().__init__(pcm)
        self.recording = PcmAudio(pcm)

    def mark_start(self) -> None: ...

    def take_recording(self) -> PcmAudio:
        return self.recording

    def level(self) -> float:
        return 0.0


class GatedTools(VadTools):
    """Real VAD and encoder; ``encode`` notes whether the commit had reached the server when it started
    and then holds until ``release`` (a slow encoder, as for a long recording on a slow CPU)."""

    def __init__(self, srv: FakeOpenAI) -> None:
        super().__init__(lambda: "opus")  # the slow encoder, whose copy replaces the interim WAV
        self.srv = srv
        self.commit_before_encode: bool | None = None
        self.release = threading.Event()

    def encode(self, pcm: PcmAudio) -> EncodedAudio:
        try:
            self.srv.wait_for_requests(1, lambda r: any(ev["type"] == "input_audio_buffer.commit"
                                                        for ev in r.events), timeout=10)
            self.commit_before_encode = True
        except Exception:
            self.commit_before_encode = False
        self.release.wait(30)
        return super().encode(pcm)


class DiskCheckingInserter:
    """Notes, at the moment of insertion, which recording of the newest history entry is on disk."""

    def __init__(self, history: SqliteHistoryStore, then: Callable[[], None] = lambda: None) -> None:
        self.history = history
        self.then = then
        self.inserted: list[tuple[str, str]] = []  # (text, audio file on disk at that moment)

    def backend_name(self) -> str:
        return "test"

    def focused_target(self) -> FocusTarget:
        return FocusTarget(window_id=7, app_name="editor")

    def insert(self, text: str, target: FocusTarget, method: str) -> InsertResult:
        [entry] = self.history.entries(limit=1)
        on_disk = entry.audio_path if entry.audio_path and Path(entry.audio_path).is_file() else ""
        self.inserted.append((text, on_disk))
        self.then()
        return InsertResult(delivered=True, left_on_clipboard=False)

    def start_typing(self, target: FocusTarget) -> None:
        return None


class Quiet:
    def __init__(self) -> None:
        self.notices: list[tuple[str, str, str]] = []

    def on_state(self, state: AppState, detail: str) -> None: ...
    def on_partial(self, text: str) -> None: ...
    def on_history_changed(self) -> None: ...

    def on_notice(self, title: str, message: str, level: str) -> None:
        self.notices.append((title, message, level))


def live_service(srv: FakeOpenAI, tmp_path: Path, pcm: bytes, tools: VadTools,
                 inserter: Callable[[SqliteHistoryStore], DiskCheckingInserter]
                 ) -> tuple[DictationService, SqliteHistoryStore, DiskCheckingInserter, Quiet]:
    history = SqliteHistoryStore(tmp_path / "history.sqlite3", tmp_path / "audio")
    settings = settings_for(srv.base_url)
    config = ApiConfig(srv.base_url, api_key=srv.api_key)
    listener, chosen = Quiet(), inserter(history)
    service = DictationService(
        audio=LiveMic(pcm), inserter=chosen, history=history, tools=tools,
        transcriber_factory=lambda report: OpenAITranscriber(config), settings=lambda: settings,
        listener=listener, realtime=RealtimeDictation(lambda: OpenAIRealtimeTranscriber(config), listener))
    return service, history, chosen, listener


def test_commit_goes_first_and_the_text_is_inserted_while_the_encoder_still_runs(
        srv: FakeOpenAI, tmp_path: Path, jfk_pcm: bytes) -> None:
    tools = GatedTools(srv)
    service, history, inserter, _listener = live_service(
        srv, tmp_path, jfk_pcm, tools, lambda store: DiskCheckingInserter(store, then=tools.release.set))
    assert service.start() == "Recording."
    recording = service.stop()
    assert recording is not None and recording.live is not None
    outcome = service.process(recording, CancelToken())

    assert tools.commit_before_encode is True  # the server was finalizing while the audio was encoded
    [(text, on_disk_then)] = inserter.inserted
    assert word_recall(JFK_WORDS, text) >= 0.8 and outcome.inserted
    assert on_disk_then.endswith(".wav")  # the encoder was still held: the raw recording was kept first
    entry_id = outcome.entry_id or 0
    # The encoded copy replaces the interim WAV once the encoder is done.
    wait_for(lambda: (e := history.get(entry_id)) and e.audio_path.endswith(".ogg"), 30, "the encoded recording")
    entry = history.get(entry_id) or pytest.fail("no entry")
    assert Path(entry.audio_path).is_file() and not Path(on_disk_then).exists()
    assert entry.status == "done" and word_recall(JFK_WORDS, entry.text) >= 0.8
    assert [r.endpoint for r in srv.requests] == ["realtime"]  # nothing uploaded
    history.close()


def test_a_realtime_drop_falls_back_to_rest_with_the_saved_recording(srv: FakeOpenAI, tmp_path: Path,
                                                                     jfk_pcm: bytes) -> None:
    srv.add_fault("realtime", "drop_ws_mid_utterance")
    service, history, inserter, listener = live_service(srv, tmp_path, jfk_pcm, VadTools(lambda: "opus"),
                                                        DiskCheckingInserter)
    assert service.start() == "Recording."
    recording = service.stop()
    assert recording is not None
    outcome = service.process(recording, CancelToken())
    [(text, on_disk_then)] = inserter.inserted
    assert word_recall(JFK_WORDS, text) >= 0.8
    assert on_disk_then.endswith(".ogg")  # REST waited for the encoded copy and uploaded it
    assert [r.endpoint for r in srv.requests] == ["realtime", "transcriptions"]
    assert any("over REST instead" in message for _t, message, _l in listener.notices)
    assert (history.get(outcome.entry_id or 0) or pytest.fail("no entry")).status == "done"
    history.close()


def test_silence_over_realtime_inserts_nothing_and_keeps_no_entry(srv: FakeOpenAI, tmp_path: Path) -> None:
    service, history, inserter, listener = live_service(srv, tmp_path, silence(3.0), VadTools(),
                                                        DiskCheckingInserter)
    assert service.start() == "Recording."
    recording = service.stop()
    assert recording is not None and recording.live is not None
    commits: list[bool] = []
    real_commit = recording.live.commit

    def counted_commit() -> None:
        commits.append(True)
        real_commit()

    recording.live.commit = counted_commit  # type: ignore[method-assign]
    outcome = service.process(recording, CancelToken())
    assert outcome.entry_id is None and inserter.inserted == [] and history.entries() == []
    assert listener.notices == [("Dictation", "No speech heard. Nothing was inserted.", "info")]
    assert commits == []  # a short silent hold is never committed: no transcription (and bill) of silence
    history.close()


def test_a_session_that_failed_before_the_release_still_falls_back(jfk_pcm: bytes) -> None:
    from desktop_app.core.errors import RealtimeUnavailable

    def refuse(cfg: ApiConfig, query: dict[str, str]) -> RealtimeSocket:
        raise RealtimeUnavailable("scripted refused the realtime connection.")

    sessions: list[Any] = []

    class Spy:
        def open(self, *args: Any, **kwargs: Any) -> Any:
            sessions.append(OpenAIRealtimeTranscriber(ApiConfig("http://scripted/v1"), connector=refuse)
                            .open(*args, **kwargs))
            return sessions[-1]

    listener = Listener()
    owner = RealtimeDictation(lambda: cast(OpenAIRealtimeTranscriber, Spy()), listener)
    feed = owner.open(settings_for("http://scripted/v1"), ClipMic(jfk_pcm), lambda text: InsertResult(True, False))
    assert feed is not None
    wait_for(lambda: sessions and sessions[0].failure is not None, 10, "the session to fail")
    feed.stop_audio()  # released after the failure: the commit cannot be sent
    assert feed.result(CancelToken(), 11.0, {}) is None  # not an empty text: REST transcribes the recording
    assert len(listener.notices) == 1 and "scripted refused" in listener.notices[0][1]

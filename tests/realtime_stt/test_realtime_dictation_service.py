"""services.realtime_dictation with the real provider and the fake server; the microphone is a stand-in
that hands out a clip through ``read_new`` like MicCapture does while recording."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import ApiConfig
from desktop_app.core.ports import InsertResult
from desktop_app.core.settings import Settings
from desktop_app.providers.openai_realtime_stt import OpenAIRealtimeTranscriber
from desktop_app.services.realtime_dictation import LiveFeed, RealtimeDictation
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
    assert listener.partials and word_recall(JFK_WORDS, listener.partials[-1]) >= 0.8
    assert timings["transport"] == "realtime"


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

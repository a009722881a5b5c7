"""The Realtime transport of dictation (issue 4): a streaming session opened at key-down, fed from the
microphone by a small pump thread while the user speaks, committed at release.

Push-to-talk: ``turn_detection: null``, one commit at release; the dictation service inserts the text.
Toggle: server VAD; each completed utterance is inserted as it completes, in order (an insert thread keeps
the session's reader thread free). Deltas go to the Dictate page as live text.

At release the service calls ``LiveFeed.commit`` first (the server finalizes while the recording is
checked, encoded and saved), then ``LiveFeed.result``. Nothing here blocks the GUI thread: ``stop_audio``
only takes the last captured audio (the worker sends it with the commit), ``abort`` cuts the socket, and
every socket is closed politely in the background once its text is handed back.

When the stream cannot deliver, ``LiveFeed.result`` returns None and the service transcribes the saved
recording over REST: a dropped socket or a server error says so each time; an unavailable endpoint says
so once, and realtime is tried again for that base URL after ``RETRY_UNAVAILABLE_S``. Only errors that
REST would repeat word for word (bad key, no quota) fail the dictation.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import AuthError, Cancelled, NoSpeech, RateLimited, RealtimeUnavailable, SaysoError
from desktop_app.core.models import TranscriptDelta, TranscriptionOptions
from desktop_app.core.ports import AudioSource, InsertResult, StreamingSession, StreamingTranscriber
from desktop_app.core.settings import Settings
from desktop_app.core.transcript_text import (
    clean_transcript,
    join_transcripts,
    keywords_from_setting,
    replacements_from_setting,
)

log = logging.getLogger(__name__)

PUMP_CHUNK_S = 0.05  # 50 ms per append: inside the 20–100 ms the protocol recommends
PUMP_IDLE_S = 0.02
FINISH_GRACE_S = 30.0  # on top of the recording's length
PUMP_JOIN_S = 5.0
RETRY_UNAVAILABLE_S = 300.0  # a refused or blocked endpoint is tried again after this long

StreamingFactory = Callable[[], StreamingTranscriber | None]
"""A transcriber for one dictation, or None when realtime cannot be used now (local engine, no key)."""


class Listener(Protocol):
    def on_partial(self, text: str) -> None: ...
    def on_notice(self, title: str, message: str, level: str) -> None: ...


@dataclass(frozen=True)
class LiveResult:
    text: str  # cleaned, all utterances joined
    inserted: bool  # toggle mode: already inserted utterance by utterance


class RealtimeDictation:
    """Opens a ``LiveFeed`` per recording when ``dictation.transport = realtime``."""

    def __init__(self, factory: StreamingFactory, listener: Listener,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._factory = factory
        self._listener = listener
        self._clock = clock
        self._lock = threading.Lock()
        self._unavailable_until: dict[str, float] = {}  # base URL → when to try realtime again
        self._told: set[str] = set()  # base URLs whose fallback was explained (once per run)

    def open(self, settings: Settings, audio: AudioSource, insert: Callable[[str], InsertResult]
             ) -> LiveFeed | None:
        if settings.dictation.transport != "realtime" or self._resting(settings.api.base_url):
            return None
        try:
            transcriber = self._factory()
        except SaysoError as exc:  # e.g. no key: the REST path reports it the usual way
            log.info("Realtime not used: %s", exc.user_message)
            return None
        if transcriber is None:
            return None
        d = settings.dictation
        options = TranscriptionOptions(model=d.realtime_model, language=d.language, prompt=d.prompt,
                                       keywords=keywords_from_setting(d.keywords))
        toggle = d.mode == "toggle"
        feed = LiveFeed(self, settings.api.base_url, audio, self._listener, insert if toggle else None,
                        replacements=replacements_from_setting(d.replacements))
        feed.start(transcriber, options, server_vad=toggle)
        return feed

    def _resting(self, base_url: str) -> bool:
        with self._lock:
            return self._clock() < self._unavailable_until.get(base_url, float("-inf"))

    def unavailable(self, base_url: str, exc: SaysoError) -> None:
        """The endpoint cannot be used now (no /realtime, a proxy, refused): REST for a few minutes, told once
        (a server that is only down for a moment must not cost realtime for the rest of the run)."""
        with self._lock:
            self._unavailable_until[base_url] = self._clock() + RETRY_UNAVAILABLE_S
            first = base_url not in self._told
            self._told.add(base_url)
        log.info("Realtime unavailable at %s for %.0f s: %s", base_url, RETRY_UNAVAILABLE_S, exc.detail)
        if first:
            self._listener.on_notice("Dictation", f"{exc.user_message} Sayso transcribes after you stop speaking "
                                     "(REST) instead, and tries realtime again every few minutes.", "warning")


class LiveFeed:
    """One recording's stream: session + pump thread (+ insert thread in toggle mode)."""

    def __init__(self, owner: RealtimeDictation, base_url: str, audio: AudioSource, listener: Listener,
                 insert: Callable[[str], InsertResult] | None, *,
                 replacements: tuple[tuple[str, str], ...] = ()) -> None:
        self._owner = owner
        self._replacements = replacements
        self._base_url = base_url
        self._audio = audio
        self._listener = listener
        self._insert = insert
        self.cancel = CancelToken()
        self._session: StreamingSession | None = None
        self._stop_pump = threading.Event()
        self._read_lock = threading.Lock()  # the pump's reads and the release's last read never cross
        self._tail = b""  # audio read at release, sent by ``commit`` after the pump's last append
        self._pump: threading.Thread | None = None
        self._lock = threading.Lock()
        self._committed = False
        self._too_short = False
        self._commit_error: SaysoError | None = None  # the session had failed before the commit
        self._committed_at = 0.0
        self._live_text: dict[str, str] = {}  # item id → text so far, in commit order
        self._inserted: list[str] = []
        self._inserts: queue.Queue[str | None] = queue.Queue()
        self._inserter: threading.Thread | None = None
        self.sent_bytes = 0

    def start(self, transcriber: StreamingTranscriber, options: TranscriptionOptions, *, server_vad: bool) -> None:
        self._session = transcriber.open(options, self._on_delta, self._on_completed, self.cancel,
                                         server_vad=server_vad)
        if self._insert is not None:
            self._inserter = threading.Thread(target=self._insert_loop, name="realtime-insert", daemon=True)
            self._inserter.start()
        self._pump = threading.Thread(target=self._pump_loop, name="realtime-pump", daemon=True)
        self._pump.start()

    # -- while recording ---------------------------------------------------------------------------------
    def _pump_loop(self) -> None:
        while True:
            with self._read_lock:
                if self._stop_pump.is_set():
                    return
                chunk = self._audio.read_new(PUMP_CHUNK_S)
            if not self._send(chunk):
                self._stop_pump.wait(PUMP_IDLE_S)

    def _send(self, chunk: bytes) -> bool:
        if not chunk or self._session is None:
            return False
        self._session.append(chunk)
        self.sent_bytes += len(chunk)
        return True

    def stop_audio(self) -> None:
        """Key release (GUI thread), before the recording is taken: stop the pump and take the last captured
        audio. Never waits on the network: ``commit`` sends it, after whatever the pump is still sending."""
        parts = []
        with self._read_lock:
            self._stop_pump.set()
            while chunk := self._audio.read_new(1.0):
                parts.append(chunk)
        self._tail = b"".join(parts)

    def commit(self) -> None:
        """Key release (worker thread): the last audio and the commit go up now, so the server finalizes
        while the service checks, encodes and saves the recording. Failures wait for ``result``."""
        with self._lock:
            if self._committed:
                return
            self._committed = True
        if self._pump is not None:
            self._pump.join(PUMP_JOIN_S)
        self._send(self._tail)
        self._tail = b""
        self._committed_at = time.monotonic()
        assert self._session is not None
        try:
            self._session.commit()
        except NoSpeech:
            self._too_short = True  # under 100 ms: nothing to wait for
        except SaysoError as exc:  # the session already failed: ``result`` raises it there
            log.info("Realtime commit not sent: %s", exc.user_message)
            self._commit_error = exc

    def abort(self) -> None:
        """Cancel (GUI thread too): cut the socket at once, drop everything; the polite close runs behind."""
        self._stop_pump.set()
        self.cancel.cancel()  # the session cuts its socket on this token (a shutdown: no waiting)
        self._inserts.put(None)
        self._close_in_background()

    def _close_in_background(self) -> None:
        session = self._session
        if session is not None:
            threading.Thread(target=session.close, name="realtime-close", daemon=True).start()

    def _on_delta(self, delta: TranscriptDelta) -> None:
        # The session announces each committed item with an empty delta first: the dict keeps commit order
        # even when a later utterance's words arrive first.
        with self._lock:
            self._live_text[delta.item_id] = self._live_text.get(delta.item_id, "") + delta.text
            shown = join_transcripts(list(self._live_text.values()))
        if delta.text:
            self._listener.on_partial(shown)

    def _on_completed(self, delta: TranscriptDelta) -> None:
        with self._lock:
            self._live_text[delta.item_id] = delta.text
            shown = join_transcripts(list(self._live_text.values()))
        self._listener.on_partial(shown)
        text = clean_transcript(delta.text, replacements=self._replacements)
        if self._insert is not None and text and not self.cancel.cancelled:
            self._inserts.put(text)

    def _insert_loop(self) -> None:
        while True:
            text = self._inserts.get()
            if text is None or self.cancel.cancelled:
                return
            assert self._insert is not None
            self._insert((" " if self._inserted else "") + text)
            self._inserted.append(text)

    # -- after release (worker thread) -------------------------------------------------------------------
    def result(self, cancel: CancelToken, duration_s: float, timings: dict[str, Any]) -> LiveResult | None:
        """Commit (unless ``commit`` did already) and wait for the text. None: use REST with the saved
        recording (the user was told why). The socket is closed in the background: the text comes first."""
        session = self._session
        assert session is not None
        cancel.on_cancel(self.abort)
        self.commit()
        try:
            try:
                if self._commit_error is not None:
                    raise self._commit_error
                texts = [] if self._too_short else session.finish(timeout=FINISH_GRACE_S + duration_s)
            except NoSpeech:
                texts = []
            finally:
                self._inserts.put(None)  # after the queued utterances: the insert thread ends
                if self._inserter is not None:
                    self._inserter.join(30.0)
        except Cancelled:
            raise
        except RealtimeUnavailable as exc:
            self._owner.unavailable(self._base_url, exc)
            return None
        except SaysoError as exc:
            if cancel.cancelled:
                raise Cancelled() from None
            if not _rest_may_help(exc):
                raise
            self._fall_back(exc, timings)
            return None
        finally:
            self._close_in_background()
        timings["transport"] = "realtime"
        # On commit()'s clock (time.monotonic), whatever clock the service runs on.
        timings["commit_to_final_text_ms"] = round((time.monotonic() - self._committed_at) * 1000.0, 1)
        text = join_transcripts([clean_transcript(t, replacements=self._replacements) for t in texts])
        return LiveResult(text=text, inserted=bool(self._inserted))

    def _fall_back(self, exc: SaysoError, timings: dict[str, Any]) -> None:
        log.warning("Realtime dictation fell back to REST: %s", exc.full_message())
        timings["realtime_error"] = exc.user_message
        if self._inserted:  # toggle mode: the words so far are in; the rest would repeat them
            self._listener.on_notice("Dictation", f"{exc.user_message} What was inserted stays; the whole "
                                     "recording is transcribed again into History.", "warning")
        else:
            self._listener.on_notice("Dictation", f"{exc.user_message} Transcribing the saved recording "
                                     "over REST instead.", "warning")

    @property
    def inserted_any(self) -> bool:
        return bool(self._inserted)


def _rest_may_help(exc: SaysoError) -> bool:
    """Whether the saved recording should go over REST after the stream failed. A dropped socket, a server
    error or close (1011/1013), a refused protocol or realtime model: yes. A rejected key or an exhausted
    quota would fail REST with the very same words: no, the user reads it once."""
    if isinstance(exc, AuthError):
        return False
    return not (isinstance(exc, RateLimited) and exc.quota)

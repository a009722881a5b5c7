"""The Realtime transport of dictation (issue 4): a streaming session opened at key-down, fed from the
microphone by a small pump thread while the user speaks, committed at release.

Push-to-talk: ``turn_detection: null``, one commit at release; the dictation service inserts the text.
Toggle: server VAD; each completed utterance is inserted as it completes, in order (an insert thread keeps
the session's reader thread free). Deltas go to the Dictate page as live text.

When the stream cannot deliver, ``LiveFeed.result`` returns None and the service transcribes the saved
recording over REST: a dropped socket says so each time, an unavailable endpoint says so once and
realtime is not tried again for that base URL (until restart).
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
from desktop_app.core.errors import Cancelled, NetworkError, NoSpeech, RealtimeUnavailable, SaysoError
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

    def __init__(self, factory: StreamingFactory, listener: Listener) -> None:
        self._factory = factory
        self._listener = listener
        self._unavailable: set[str] = set()  # base URLs where the endpoint is missing (told once)

    def open(self, settings: Settings, audio: AudioSource, insert: Callable[[str], InsertResult]
             ) -> LiveFeed | None:
        if settings.dictation.transport != "realtime" or settings.api.base_url in self._unavailable:
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

    def unavailable(self, base_url: str, exc: SaysoError) -> None:
        if base_url in self._unavailable:
            return
        self._unavailable.add(base_url)
        self._listener.on_notice("Dictation", f"{exc.user_message} Sayso transcribes after you stop speaking "
                                 "(REST) instead, until it is restarted.", "warning")


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
        self._pump: threading.Thread | None = None
        self._lock = threading.Lock()
        self._live_text: dict[str, str] = {}  # item id → text so far, in arrival order
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
        while not self._stop_pump.is_set():
            if not self._send(self._audio.read_new(PUMP_CHUNK_S)):
                self._stop_pump.wait(PUMP_IDLE_S)

    def _send(self, chunk: bytes) -> bool:
        if not chunk or self._session is None:
            return False
        self._session.append(chunk)
        self.sent_bytes += len(chunk)
        return True

    def stop_audio(self) -> None:
        """Key release, before the recording is taken: stop the pump and send the last captured audio."""
        self._stop_pump.set()
        if self._pump is not None:
            self._pump.join(5.0)
        while self._send(self._audio.read_new(1.0)):
            pass

    def abort(self) -> None:
        """Cancel: close the socket at once, drop everything."""
        self._stop_pump.set()
        self.cancel.cancel()
        if self._session is not None:
            self._session.close()
        self._inserts.put(None)

    def _on_delta(self, delta: TranscriptDelta) -> None:
        with self._lock:
            self._live_text[delta.item_id] = self._live_text.get(delta.item_id, "") + delta.text
            shown = join_transcripts(list(self._live_text.values()))
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
    def result(self, cancel: CancelToken, duration_s: float, timings: dict[str, Any],
               clock: Callable[[], float] = time.monotonic) -> LiveResult | None:
        """Commit and wait for the text. None: use REST with the saved recording (the user was told why)."""
        session = self._session
        assert session is not None
        cancel.on_cancel(self.abort)
        started = clock()
        try:
            try:
                session.commit()
                texts = session.finish(timeout=FINISH_GRACE_S + duration_s)
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
        except NetworkError as exc:
            if cancel.cancelled:
                raise Cancelled() from None
            log.warning("Realtime dictation fell back to REST: %s", exc.full_message())
            timings["realtime_error"] = exc.user_message
            if self._inserted:  # toggle mode: the words so far are in; the rest would repeat them
                self._listener.on_notice("Dictation", f"{exc.user_message} What was inserted stays; the whole "
                                         "recording is transcribed again into History.", "warning")
            else:
                self._listener.on_notice("Dictation", f"{exc.user_message} Transcribing the saved recording "
                                         "over REST instead.", "warning")
            return None
        finally:
            session.close()
        timings["transport"] = "realtime"
        timings["commit_to_final_text_ms"] = round((clock() - started) * 1000.0, 1)
        text = join_transcripts([clean_transcript(t, replacements=self._replacements) for t in texts])
        return LiveResult(text=text, inserted=bool(self._inserted))

    @property
    def inserted_any(self) -> bool:
        return bool(self._inserted)

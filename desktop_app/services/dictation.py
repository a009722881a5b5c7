"""Dictation, Qt-free: key-down → recording → (silence check, trim, FLAC, history) → transcription →
clean-up → insertion into the window that had focus → history entry done/failed.

Threads: ``start``, ``stop`` and ``cancel`` are quick and run on the caller's (GUI) thread; ``process`` and
``retry`` block on the network and run on a worker thread. Listener callbacks may come from either; the Qt
controller turns them into queued signals.

Everything outside arrives through the constructor: the microphone (``AudioSource``), the inserter, the
history store, audio tools (VAD, trim, FLAC, split — they live in audio/, which services may not import) and
a factory for the ``Transcriber`` (built per dictation because the key or the base URL may have changed).

Realtime transport: a ``StreamingTranscriber`` session is opened in ``start`` and fed by
``AudioSource.read_new()`` from a pump thread while recording; ``stop`` takes the last audio and ``process``
commits first thing, so the server finalizes while the speech check, encode and durable save run on a
side thread (``RecordingKeeper``, services/recording_keeper.py). The text is inserted as soon as it arrives,
once the recording is on disk: the encoded copy when it is ready, else the raw PCM as WAV (milliseconds),
replaced by the encoded copy when that is done. If the stream fails, REST transcribes the saved recording.
See ``_process_live`` and ``LiveFeed`` in services/realtime_dictation.py. REST dictation leaves it ``None``
and everything else (history, clean-up, insertion, cancel, generations) stays the same.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from desktop_app.core import history as status
from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import Cancelled, NoSpeech, SaysoError
from desktop_app.core.history import HistoryEntry, HistoryStore
from desktop_app.core.models import (
    AppState,
    EncodedAudio,
    PcmAudio,
    Transcript,
    TranscriptDelta,
    TranscriptionOptions,
)
from desktop_app.core.ports import AudioSource, FocusTarget, InsertResult, TextInserter, Transcriber
from desktop_app.core.settings import Settings
from desktop_app.core.transcript_text import (
    clean_transcript,
    join_transcripts,
    keywords_from_setting,
    replacements_from_setting,
)
from desktop_app.services.live_typing import LiveTyper
from desktop_app.services.realtime_dictation import LiveFeed, RealtimeDictation
from desktop_app.services.recording_keeper import AudioTools, RecordingKeeper, elapsed_ms

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 26_214_400  # the whole multipart request (protocol doc §3.1)
MULTIPART_MARGIN = 64 * 1024  # form fields and boundaries around the file
# The shortest documented per-request duration cap (gpt-4o-transcribe-diarize: 1400 s); others are longer.
MAX_DURATION_S = 1400.0
SPEECH_CHECK_BEFORE_COMMIT_S = 30.0  # realtime: VAD over 30 s takes ~30 ms; longer recordings commit first
COPIED_NOTICE = "Copied — press Ctrl+V to paste."
TYPED_STAYS_ON_CANCEL = "Dictation cancelled. The words typed so far stay where they are."


class DictationListener(Protocol):
    """Told about everything the user should see. Called from the GUI thread or a worker thread."""

    def on_state(self, state: AppState, detail: str) -> None: ...
    def on_partial(self, text: str) -> None: ...
    def on_notice(self, title: str, message: str, level: str) -> None: ...
    def on_history_changed(self) -> None: ...


TranscriberFactory = Callable[[Callable[[str], None]], Transcriber]
"""Builds a transcriber for one job; its argument receives progress lines ("retrying in 1 s …")."""


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = MAX_UPLOAD_BYTES - MULTIPART_MARGIN
    max_duration_s: float = MAX_DURATION_S


@dataclass(frozen=True)
class Recording:
    """What ``stop`` hands to ``process``: the audio and everything needed to finish without the GUI."""

    generation: int
    pcm: PcmAudio
    target: FocusTarget
    options: TranscriptionOptions
    insert_method: str
    transport: str
    released_at: float  # time.monotonic() at key release: the start of the user's wait
    replacements: tuple[tuple[str, str], ...] = ()
    live: LiveFeed | None = None  # the Realtime stream of this recording (transport realtime)


@dataclass(frozen=True)
class Outcome:
    entry_id: int | None
    text: str = ""
    inserted: bool = False
    message: str = ""


@dataclass
class _Job:
    generation: int
    token: CancelToken
    entry_id: int | None = None


class DictationService:
    def __init__(self, *, audio: AudioSource, inserter: TextInserter, history: HistoryStore, tools: AudioTools,
                 transcriber_factory: TranscriberFactory, settings: Callable[[], Settings],
                 listener: DictationListener, preflight: Callable[[], str] | None = None,
                 limits: UploadLimits | None = None, clock: Callable[[], float] = time.monotonic,
                 realtime: RealtimeDictation | None = None) -> None:
        self._audio = audio
        self._inserter = inserter
        self._history = history
        self._tools = tools
        self._make_transcriber = transcriber_factory
        self._settings = settings
        self._listener = listener
        self._preflight = preflight or (lambda: "")
        self.limits = limits or UploadLimits()
        self._clock = clock
        self._realtime = realtime

        self._lock = threading.Lock()
        self._publish_lock = threading.RLock()
        self._generation = 0
        self._dropped_below = 0  # results of generations below this are dropped (cancelled)
        self._recording = False
        self._started_at = 0.0
        self._target = FocusTarget()
        self._live: LiveFeed | None = None
        self._jobs: dict[int, _Job] = {}
        self._targets: dict[int, FocusTarget] = {}  # entry → window it was dictated into (for re-insert)

    # -- quick calls (GUI thread) -----------------------------------------------------------------------

    @property
    def recording(self) -> bool:
        return self._recording

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._recording or bool(self._jobs)

    def level(self) -> float:
        return self._audio.level() if self._recording else 0.0

    def start(self) -> str:
        """Key-down: remember the focused window, mark the recording start (pre-roll included)."""
        if self._recording:
            return "Already recording."
        problem = self._preflight()
        if problem:
            self._listener.on_notice("Dictation", problem, "error")
            return problem
        error = self._audio.error
        if error is not None:
            message = f"{error.full_message()} Check the microphone in Settings → Audio."
            self._listener.on_notice("Microphone", message, "error")
            return message
        try:
            self._target = self._inserter.focused_target()
        except SaysoError as exc:
            log.info("No focused window to return to: %s", exc.user_message)
            self._target = FocusTarget()
        try:
            self._audio.mark_start()  # may restart a resting microphone, which can fail (unplugged meanwhile)
        except SaysoError as exc:
            message = f"{exc.full_message()} Check the microphone in Settings → Audio."
            self._listener.on_notice("Microphone", message, "error")
            return message
        with self._lock:
            self._generation += 1
            self._recording = True
            self._started_at = self._clock()
        self._live = self._open_live()
        self._publish()
        return "Recording."

    def stop(self, *, short_press_cancels: bool = False) -> Recording | None:
        """Key-up: take the audio. None when nothing is to be transcribed (not recording, or a press shorter
        than ``dictation.min_press_ms`` in push-to-talk, which is a cancel and says nothing)."""
        if not self._recording:
            return None
        released = self._clock()
        live = self._live
        if live is not None:
            live.stop_audio()  # the last captured audio goes up before the recording is taken
        pcm = self._audio.take_recording()
        with self._lock:
            self._recording = False
            generation = self._generation
            held_ms = (released - self._started_at) * 1000.0
        self._close_live()
        settings = self._settings()
        if short_press_cancels and held_ms < settings.dictation.min_press_ms:
            log.info("Hotkey held %.0f ms (< %d ms): treated as a cancel", held_ms, settings.dictation.min_press_ms)
            if live is not None:
                live.abort()
            self._publish()
            return None
        error = self._audio.error
        if error is not None:
            self._listener.on_notice("Microphone", f"{error.full_message()} The audio recorded so far is kept.",
                                     "warning")
        self._publish(transcribing=True)
        return Recording(generation=generation, pcm=pcm, target=self._target, options=options_from(settings),
                         insert_method=settings.insert.method, transport=settings.dictation.transport,
                         released_at=released, live=live,
                         replacements=replacements_from_setting(settings.dictation.replacements))

    def cancel(self) -> str:
        """Esc / `sayso dictate cancel`: drop the recording, or abort the transcription at once (its audio
        stays in history as cancelled, so it can still be retried)."""
        was_recording = self._recording
        if was_recording:
            if self._live is not None:
                self._live.abort()
            self._audio.take_recording()
            self._close_live()
        with self._lock:
            self._recording = False
            self._dropped_below = self._generation + 1
            jobs = list(self._jobs.values())
        for job in jobs:
            job.token.cancel()  # closes the HTTP stream at once (providers hook the token)
        self._listener.on_partial("")
        self._publish()
        if was_recording:
            return "Dictation cancelled."
        return "Transcription cancelled." if jobs else "Nothing to cancel."

    # -- the long part (worker thread) --------------------------------------------------------------------

    def process(self, rec: Recording, cancel: CancelToken) -> Outcome:
        """REST: silence check → trim → encode → history (audio on disk) → transcribe → clean → insert.
        Realtime: commit first, the rest beside the server's finalize (``_process_live``)."""
        job = _Job(rec.generation, cancel)
        with self._lock:
            self._jobs[id(job)] = job
        try:
            return self._process(rec, job)
        finally:
            with self._lock:
                self._jobs.pop(id(job), None)
            self._publish()

    def _process(self, rec: Recording, job: _Job) -> Outcome:
        if rec.live is not None:
            return self._process_live(rec, rec.live, job)
        timings: dict[str, Any] = {"record_s": round(rec.pcm.duration_s, 3)}
        t0 = self._clock()
        if not self._tools.has_speech(rec.pcm):
            message = NoSpeech().user_message
            self._listener.on_notice("Dictation", f"{message} Nothing was sent.", "info")
            return Outcome(None, message=message)
        pcm = self._tools.trim_silence(rec.pcm)
        if not pcm.data:
            pcm = rec.pcm
        encoded = self._tools.encode(pcm)
        timings["encode_ms"] = elapsed_ms(self._clock() - t0)
        entry_id = self._history.create(model=rec.options.model, transport=rec.transport,
                                        duration_s=pcm.duration_s)
        job.entry_id = entry_id
        self._targets[entry_id] = rec.target
        try:
            self._history.save_audio(entry_id, encoded)
        except OSError as exc:  # still transcribe: losing the copy is bad, losing the words is worse
            log.error("Could not save the recording of entry %d: %s", entry_id, exc)
            self._listener.on_notice("History", f"The recording could not be saved ({exc}).", "warning")
        self._listener.on_history_changed()
        timings["saved_ms"] = elapsed_ms(self._clock() - t0)
        typer = self._live_typer(rec, job)
        try:
            return self._transcribe_and_insert(
                rec, job, entry_id, timings, typer,
                lambda: self._transcribe(pcm, encoded, rec.options, job, timings, rec.released_at, typer))
        finally:
            if typer is not None:
                typer.close()

    def _process_live(self, rec: Recording, live: LiveFeed, job: _Job) -> Outcome:
        """Realtime: commit → (speech check, trim, encode, save on a side thread) → text → on disk → insert."""
        timings: dict[str, Any] = {"record_s": round(rec.pcm.duration_s, 3)}
        job.token.on_cancel(live.abort)
        # A short recording (the usual silent key-hold) is checked for speech before the commit: it costs
        # ≤ ~30 ms and spares a billed transcription of silence; a long one commits at once (below).
        speech: bool | None = None  # unknown until checked: the keeper checks it beside the finalize
        if rec.pcm.duration_s <= SPEECH_CHECK_BEFORE_COMMIT_S and not live.inserted_any:
            speech = self._tools.has_speech(rec.pcm)
            if not speech:
                live.abort()
                return self._no_speech()
        live.commit()  # first: the server finalizes while the rest of this runs
        timings["release_to_commit_ms"] = elapsed_ms(self._clock() - rec.released_at)
        entry_id = self._history.create(model=rec.options.model, transport=rec.transport,
                                        duration_s=rec.pcm.duration_s)
        job.entry_id = entry_id
        keeper = RecordingKeeper(self._tools, self._history, entry_id, rec.pcm, timings, self._clock,
                                 rec.released_at, self._tell_not_saved, speech=speech)
        keeper.start()
        # The speech check runs beside the server's finalize (VAD: ~15 ms for 5 s, ~0.1 s for 120 s); its
        # verdict is needed before anything is inserted, not before the commit.
        if not keeper.wait_speech() and not live.inserted_any:
            live.abort()
            keeper.discard()
            self._history.delete(entry_id)
            return self._no_speech()
        self._targets[entry_id] = rec.target

        def transcribe() -> str:
            result = live.result(job.token, rec.pcm.duration_s, timings)
            if result is not None:
                timings["release_to_final_text_ms"] = elapsed_ms(self._clock() - rec.released_at)
                return result.text
            pcm, encoded = keeper.for_rest()  # waits for the encoded copy: REST uploads it
            self._listener.on_history_changed()
            return self._transcribe(pcm, encoded, rec.options, job, timings, rec.released_at)

        return self._transcribe_and_insert(rec, job, entry_id, timings, None, transcribe,
                                           on_disk=keeper.ensure_on_disk)

    def _no_speech(self) -> Outcome:
        message = NoSpeech().user_message
        self._listener.on_notice("Dictation", f"{message} Nothing was inserted.", "info")
        return Outcome(None, message=message)

    def _tell_not_saved(self, exc: Exception) -> None:
        self._listener.on_notice("History", f"The recording could not be saved ({exc}).", "warning")

    def _transcribe_and_insert(self, rec: Recording, job: _Job, entry_id: int, timings: dict[str, Any],
                               typer: LiveTyper | None, transcribe: Callable[[], str],
                               on_disk: Callable[[], None] = lambda: None) -> Outcome:
        """``transcribe`` gives the raw text; ``on_disk`` makes sure the recording is kept before the entry
        is told done, failed or cancelled, and before anything is inserted."""
        try:
            try:
                job.token.raise_if_cancelled()
                text = clean_transcript(transcribe(), replacements=rec.replacements)
                self._drop_if_stale(job)
            finally:
                on_disk()
        except Cancelled:
            self._history.update(entry_id, status=status.CANCELLED, timings=timings)
            self._listener.on_history_changed()
            if typer is not None and typer.touched_target:
                self._listener.on_notice("Dictation", TYPED_STAYS_ON_CANCEL, "info")
            return Outcome(entry_id, message="Cancelled.")
        except SaysoError as exc:
            message = exc.full_message()
            log.warning("Dictation %d failed: %s", entry_id, message)
            self._history.update(entry_id, status=status.FAILED, error=message, timings=timings)
            self._listener.on_history_changed()
            typed_note = " The words typed so far stay." if typer is not None and typer.touched_target else ""
            self._listener.on_notice("Transcription failed",
                                     f"{message}{typed_note} The recording is kept: retry it from History.",
                                     "error")
            return Outcome(entry_id, message=message)
        result: InsertResult | None = None
        if typer is not None and typer.touched_target:  # the words are in already: make them exactly ``text``
            assert typer.first_keys_at is not None
            timings["release_to_first_typed_ms"] = elapsed_ms(typer.first_keys_at - rec.released_at)
            result = self._finish_typing(typer, text, rec.target)  # "" erases what was typed
            timings["release_to_insert_ms"] = elapsed_ms(self._clock() - rec.released_at)
        if not text:
            self._history.update(entry_id, status=status.DONE, text="", timings=timings)
            self._listener.on_history_changed()
            self._listener.on_notice("Dictation", f"{NoSpeech().user_message} Nothing was inserted.", "info")
            return Outcome(entry_id, message=NoSpeech().user_message)
        self._listener.on_partial(text)
        if result is None:
            if rec.live is not None and rec.live.inserted_any:  # toggle mode: inserted utterance by utterance
                result = InsertResult(delivered=True, left_on_clipboard=False)
            else:
                result = self._insert(text, rec.target, rec.insert_method)
            timings["release_to_insert_ms"] = elapsed_ms(self._clock() - rec.released_at)
        self._history.update(entry_id, status=status.DONE, text=text, timings=timings)
        self._listener.on_history_changed()
        self._after_success()
        return Outcome(entry_id, text=text, inserted=result.delivered, message=result.message)

    def _transcribe(self, pcm: PcmAudio, encoded: EncodedAudio, options: TranscriptionOptions, job: _Job,
                    timings: dict[str, Any], released_at: float, typer: LiveTyper | None = None) -> str:
        """Upload in one piece, or split on silence when too big or too long; parts go in order. With a
        ``typer`` the live text is typed into the target as it streams in."""
        parts = plan_parts(self._tools, self.limits, lambda: pcm if pcm.data else self._tools.decode(encoded),
                           encoded)
        timings["parts"] = len(parts)
        transcriber = self._make_transcriber(lambda line: self._listener.on_state(AppState.TRANSCRIBING, line))
        done: list[str] = []
        live: list[str] = []
        first: list[float] = []
        upload_started = self._clock()

        def on_part(index: int, count: int) -> None:
            live.clear()
            if count > 1:
                self._listener.on_state(AppState.TRANSCRIBING, f"part {index + 1} of {count}")

        def on_delta(_index: int, text: str) -> None:
            if not first:
                first.append(self._clock())
            live.append(text)
            shown = join_transcripts([*done, "".join(live)])
            self._listener.on_partial(shown)
            if typer is not None:
                typer.show(shown)

        def on_part_done(_index: int, text: str) -> None:
            done.append(text)
            shown = join_transcripts(done)
            self._listener.on_partial(shown)
            if typer is not None:
                typer.show(shown)

        try:
            transcribe_parts(transcriber, parts, options, job.token, on_part=on_part, on_delta=on_delta,
                             on_part_done=on_part_done)
        finally:
            close = getattr(transcriber, "close", None)
            if callable(close):
                close()
        now = self._clock()
        timings["transcribe_ms"] = elapsed_ms(now - upload_started)
        timings["release_to_final_text_ms"] = elapsed_ms(now - released_at)
        if first:
            timings["release_to_first_text_ms"] = elapsed_ms(first[0] - released_at)
        return join_transcripts(done)

    def _insert(self, text: str, target: FocusTarget, method: str) -> InsertResult:
        try:
            result = self._inserter.insert(text, target, method)
        except SaysoError as exc:
            self._listener.on_notice("Insert", f"{exc.full_message()} The text is in History.", "warning")
            return InsertResult(delivered=False, left_on_clipboard=False, message=exc.full_message())
        if not result.delivered:
            message = result.message or (COPIED_NOTICE if result.left_on_clipboard else "The text was not inserted.")
            if result.left_on_clipboard and "Ctrl+V" not in message:
                message = f"{message} {COPIED_NOTICE}"
            self._listener.on_notice("Dictation", message, "info" if method == "clipboard" else "warning")
        return result

    def _live_typer(self, rec: Recording, job: _Job) -> LiveTyper | None:
        """"type" over REST: type the words as they stream in. The Realtime transport keeps its one insert
        at the end (push-to-talk: keys typed while the hotkey is held would combine with its modifiers)
        or its inserts per utterance (toggle)."""
        if rec.insert_method != "type" or rec.live is not None:
            return None
        return LiveTyper(lambda: self._inserter.start_typing(rec.target), stopped=lambda: self._stale(job),
                         replacements=rec.replacements, clock=self._clock)

    def _finish_typing(self, typer: LiveTyper, text: str, target: FocusTarget) -> InsertResult:
        if typer.finish(text):
            return InsertResult(delivered=True, left_on_clipboard=False)
        if not text or typer.stopped:
            return InsertResult(delivered=False, left_on_clipboard=False)
        # The window closed or would not take the focus back: what was typed there cannot be corrected.
        try:
            self._inserter.insert(text, target, "clipboard")
        except SaysoError as exc:
            self._listener.on_notice("Insert", f"{exc.full_message()} The text is in History.", "warning")
            return InsertResult(delivered=False, left_on_clipboard=False, message=exc.full_message())
        where = target.app_name or "the window you dictated into"
        message = (f"Typing into {where} could not be finished (it was closed or would not take the focus). "
                   f"The whole text is copied — press Ctrl+V to paste.")
        self._listener.on_notice("Dictation", message, "warning")
        return InsertResult(delivered=False, left_on_clipboard=True, message=message)

    def _stale(self, job: _Job) -> bool:
        with self._lock:
            stale = job.generation < self._dropped_below
        return stale or job.token.cancelled

    def _drop_if_stale(self, job: _Job) -> None:
        """A result that arrives after its dictation was cancelled must not be inserted."""
        if self._stale(job):
            raise Cancelled()

    def _after_success(self) -> None:
        try:
            self._history.apply_retention(self._settings().history.keep_audio_days)
        except Exception as exc:  # retention is housekeeping: never fail a dictation over it
            log.warning("History retention failed: %s", exc)

    # -- history actions (worker thread unless noted) ---------------------------------------------------

    def retry(self, entry_id: int, model: str | None = None, cancel: CancelToken | None = None) -> HistoryEntry:
        """Transcribe a kept recording again (optionally with another model); updates and returns the entry.
        Raises a SaysoError when the recording is gone or the transcription fails (the entry says so)."""
        token = cancel or CancelToken()
        entry = self._history.get(entry_id)
        if entry is None:
            raise SaysoError(f"History entry {entry_id} does not exist.")
        audio = self._history.load_audio(entry_id)
        if audio is None:
            raise SaysoError(f"The recording of entry {entry_id} is no longer kept, so it cannot be retried.",
                             hint="Recordings are deleted after history.keep_audio_days.")
        settings = self._settings()
        options = options_from(settings, model=model or entry.model or settings.dictation.model)
        self._history.update(entry_id, status=status.TRANSCRIBING, error="", model=options.model)
        self._listener.on_history_changed()
        job = _Job(self._generation, token, entry_id)
        timings: dict[str, Any] = dict(entry.timings)
        timings["retries"] = int(timings.get("retries", 0)) + 1
        try:
            text = clean_transcript(self._transcribe(PcmAudio(b""), audio, options, job, timings, self._clock()),
                                    replacements=replacements_from_setting(settings.dictation.replacements))
        except Cancelled:
            self._history.update(entry_id, status=status.CANCELLED)
            self._listener.on_history_changed()
            raise
        except SaysoError as exc:
            self._history.update(entry_id, status=status.FAILED, error=exc.full_message(), timings=timings)
            self._listener.on_history_changed()
            raise
        self._history.update(entry_id, status=status.DONE, text=text, error="", timings=timings)
        self._listener.on_history_changed()
        updated = self._history.get(entry_id)
        assert updated is not None
        return updated

    def reinsert(self, entry_id: int) -> InsertResult:
        """Insert an entry's text again, into the window it was dictated into when known (else the clipboard)."""
        entry = self._history.get(entry_id)
        if entry is None or not entry.text:
            return InsertResult(delivered=False, left_on_clipboard=False, message="That entry has no text.")
        target = self._targets.get(entry_id)
        method = self._settings().insert.method if target and target.window_id else "clipboard"
        return self._insert(entry.text, target or FocusTarget(), method)

    # -- state ------------------------------------------------------------------------------------------

    def _publish(self, transcribing: bool = False) -> None:
        # Read and tell under one lock: the GUI thread (cancel) and a worker (job done) publish at the same
        # moment, and a listener that queues (Qt) delivers in telling order; a stale "transcribing" told
        # after the worker's "idle" would stick for good.
        with self._publish_lock:
            with self._lock:
                recording = self._recording
                busy = transcribing or bool(self._jobs)
            if recording:
                self._listener.on_state(AppState.RECORDING, "")
            elif busy:
                self._listener.on_state(AppState.TRANSCRIBING, "")
            else:
                self._listener.on_state(AppState.IDLE, "")

    # -- Realtime seam ----------------------------------------------------------------------------------

    def _open_live(self) -> LiveFeed | None:
        """REST transport: nothing streams while recording. The Realtime transport opens its session here
        and starts a pump that feeds ``self._audio.read_new()`` into ``session.append``."""
        if self._realtime is None:
            return None
        target, method = self._target, self._settings().insert.method
        try:
            return self._realtime.open(self._settings(), self._audio,
                                       lambda text: self._insert(text, target, method))
        except SaysoError as exc:  # never lose a dictation over the stream: REST takes over at release
            log.warning("Realtime session not opened: %s", exc.full_message())
            return None

    def _close_live(self) -> None:
        self._live = None


def options_from(settings: Settings, model: str | None = None) -> TranscriptionOptions:
    d = settings.dictation
    return TranscriptionOptions(model=model or d.model, language=d.language, prompt=d.prompt,
                                keywords=keywords_from_setting(d.keywords), stream=True)


def plan_parts(tools: AudioTools, limits: UploadLimits, pcm: Callable[[], PcmAudio],
               encoded: EncodedAudio) -> list[EncodedAudio]:
    """``encoded`` alone when it fits the upload limits, else the audio split on silence into pieces that
    do (``pcm`` is only decoded when a split is needed)."""
    if len(encoded.data) <= limits.max_bytes and encoded.duration_s <= limits.max_duration_s:
        return [encoded]
    bytes_per_s = len(encoded.data) / max(encoded.duration_s, 1e-6)
    max_s = min(limits.max_duration_s, 0.9 * limits.max_bytes / bytes_per_s)
    audio = pcm()
    pieces = [tools.encode(piece) for piece in tools.split(audio, max_s) if piece.data]
    log.info("Recording of %.0f s (%d bytes) split into %d parts of at most %.0f s", audio.duration_s,
             len(encoded.data), len(pieces), max_s)
    return pieces


def transcribe_parts(transcriber: Transcriber, parts: list[EncodedAudio], options: TranscriptionOptions,
                     cancel: CancelToken, *, on_part: Callable[[int, int], None] | None = None,
                     on_delta: Callable[[int, str], None] | None = None,
                     on_part_done: Callable[[int, str], None] | None = None) -> list[Transcript]:
    """Transcribe ``parts`` one after another (in order: each part's text follows the previous one)."""
    results: list[Transcript] = []
    for index, part in enumerate(parts):
        cancel.raise_if_cancelled()
        if on_part:
            on_part(index, len(parts))

        def delta(piece: TranscriptDelta, index: int = index) -> None:
            if on_delta:
                on_delta(index, piece.text)

        transcript = transcriber.transcribe(part, options, delta, cancel)
        results.append(transcript)
        if on_part_done:
            on_part_done(index, transcript.text)
    return results

"""Realtime transcription over the GA WebSocket protocol (protocol doc §6): the audio goes up while the
user speaks, so the text is ready soon after the key is released.

``OpenAIRealtimeTranscriber.open`` returns at once with a session that connects on its own thread;
audio appended before the socket is ready is queued and sent first, so nothing is lost. Push-to-talk
sessions commit by hand (``turn_detection: null``); toggle sessions let the server's VAD commit each
utterance. Completed utterances are delivered (``on_completed``) and returned (``finish``) in commit
order, whatever order the server completes them in. Each committed utterance is announced with an empty
delta (``text=""``) before its own deltas, so a live preview can place items in commit order.

Failures: ``RealtimeUnavailable`` (no endpoint / blocked: fall back to REST), ``AuthError`` (same words
as REST), ``NetworkError`` (dropped mid-utterance: the caller still has the audio), ``Cancelled``.
Session lifetime (60 min, §6.1): the session renews itself ahead of ``expires_at`` while nothing is in
flight (between utterances); a ``session_expired`` close is survived too: the session reconnects and
replays unfinished audio.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core import errors as e
from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import SAMPLE_RATE, SAMPLE_WIDTH, ApiConfig, TranscriptDelta, TranscriptionOptions
from desktop_app.core.settings import DictationSettings
from desktop_app.providers.realtime_ws import (
    CLOSE_ABNORMAL,
    CLOSE_GOING_AWAY,
    RealtimeClosed,
    RealtimeSocket,
    connect_realtime,
    error_from_close,
    error_from_realtime_event,
)

log = logging.getLogger(__name__)

BYTES_PER_MS = SAMPLE_RATE * SAMPLE_WIDTH // 1000  # 48
MIN_CHUNK_BYTES = 20 * BYTES_PER_MS  # smaller appends are gathered: 20–100 ms per event (§6.3)
MAX_CHUNK_BYTES = 100 * BYTES_PER_MS
MIN_COMMIT_BYTES = 100 * BYTES_PER_MS  # the server refuses to commit less (§6.3)
SETUP_TIMEOUT_S = 15.0
RENEW_BEFORE_S = 300.0  # renew this long before the server's expires_at, between utterances
RENEW_CHECK_S = 1.0  # how often an idle reader looks at the clock
# Server VAD: the last 2 s before a renewal also go to the new session, so speech the server has not
# reported yet (speech_started still on its way) is never lost.
RENEW_KEEP_BYTES = 2000 * BYTES_PER_MS
NOISE_REDUCTION_CHOICES = ("near_field", "far_field", "off")

# Optional fields by model (§6.2). Model ids stay free strings: these only decide what to send.
_STREAMING_WHISPER = ("gpt-realtime-whisper",)  # delay knob, no prompt, no VAD
_NO_PROMPT_MODELS = ("gpt-realtime-whisper", "gpt-4o-transcribe-diarize")
_KEYWORD_MODELS = ("gpt-transcribe", "gpt-live-transcribe")

DeltaCallback = Callable[[TranscriptDelta], None]
Connector = Callable[[ApiConfig, dict[str, str]], RealtimeSocket]


def _is(model: str, family: tuple[str, ...]) -> bool:
    """``model`` is one of ``family`` or a dated snapshot of one."""
    return any(model == name or model.startswith(name + "-20") for name in family)


def uses_server_vad(model: str, server_vad: bool) -> bool:
    """gpt-realtime-whisper must run with ``turn_detection: null`` (§6.2): it is committed by hand."""
    return server_vad and not _is(model, _STREAMING_WHISPER)


def session_update(options: TranscriptionOptions, *, server_vad: bool, noise_reduction: str = "near_field",
                   delay: str = "", vad_silence_ms: int = 500) -> dict[str, Any]:
    """The GA ``session.update`` for a transcription session (§6.2)."""
    model = options.model
    transcription: dict[str, Any] = {"model": model}
    if options.language:
        transcription["language"] = options.language
    prompt = options.prompt
    keywords = [word for word in options.keywords if word.strip()]
    if keywords and not _is(model, _KEYWORD_MODELS):
        # Only gpt-transcribe and gpt-live-transcribe have a keywords field; for the others a prompt
        # naming the words is the documented substitute (the same rule as the REST provider).
        prompt = (prompt + "\n" if prompt else "") + "Vocabulary: " + ", ".join(keywords) + "."
        keywords = []
    if keywords:
        transcription["keywords"] = keywords
    if prompt and not _is(model, _NO_PROMPT_MODELS):
        transcription["prompt"] = prompt
    if delay and _is(model, _STREAMING_WHISPER):
        transcription["delay"] = delay
    turn_detection: dict[str, Any] | None = None
    if uses_server_vad(model, server_vad):
        turn_detection = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                          "silence_duration_ms": vad_silence_ms}
    return {
        "type": "session.update",
        "event_id": "sayso_session_update",
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": SAMPLE_RATE},
                    "transcription": transcription,
                    "noise_reduction": (None if noise_reduction in ("", "off")
                                        else {"type": noise_reduction}),
                    "turn_detection": turn_detection,
                },
            },
        },
    }


class OpenAIRealtimeTranscriber:
    """Implements ``core.ports.StreamingTranscriber`` on ``/realtime?intent=transcription``.

    ``noise_reduction`` is ``near_field``, ``far_field`` or ``off``; ``delay`` applies to
    gpt-realtime-whisper only (empty: the server's default).
    """

    def __init__(self, config: ApiConfig, *, noise_reduction: str = "near_field", delay: str = "",
                 vad_silence_ms: int = 500, connector: Connector | None = None,
                 renew_before_s: float = RENEW_BEFORE_S) -> None:
        if noise_reduction not in NOISE_REDUCTION_CHOICES:
            raise e.SettingsError(f"Unknown noise reduction {noise_reduction!r}.",
                                  hint="Use near_field, far_field or off.")
        self._config = config
        self._noise_reduction = noise_reduction
        self._delay = delay
        self._vad_silence_ms = vad_silence_ms
        self._connector = connector or connect_realtime
        self._renew_before_s = renew_before_s

    @classmethod
    def from_settings(cls, config: ApiConfig, dictation: DictationSettings) -> OpenAIRealtimeTranscriber:
        """The transcriber the user's dictation settings ask for (one place for the app and the CLI)."""
        delay = "" if dictation.realtime_delay == "auto" else dictation.realtime_delay
        return cls(config, noise_reduction=dictation.noise_reduction, delay=delay)

    def open(self, options: TranscriptionOptions, on_delta: DeltaCallback, on_completed: DeltaCallback,
             cancel: CancelToken, server_vad: bool = False) -> RealtimeTranscriptionSession:
        update = session_update(options, server_vad=server_vad, noise_reduction=self._noise_reduction,
                                delay=self._delay, vad_silence_ms=self._vad_silence_ms)
        return RealtimeTranscriptionSession(
            self._config, update, model=options.model, server_vad=uses_server_vad(options.model, server_vad),
            on_delta=on_delta, on_completed=on_completed, cancel=cancel, connector=self._connector,
            renew_before_s=self._renew_before_s)


@dataclass
class _Utterance:
    """One committed stretch of audio, from our ``commit`` or from the server's VAD."""

    audio: bytes  # kept until it completes, so an expired session can replay it
    commit_event_id: str | None = None  # None: the server's VAD committed it
    item_id: str | None = None
    text: str | None = None
    failure: e.SaysoError | None = None
    deltas: list[str] = field(default_factory=list)
    committed_at: float = 0.0  # monotonic times, for the benchmark
    completed_at: float = 0.0

    @property
    def done(self) -> bool:
        return self.text is not None or self.failure is not None


class _SessionExpired(Exception):
    pass


class _Renew(Exception):
    """Time to move to a new session before the server's limit (nothing is in flight)."""


class RealtimeTranscriptionSession:
    """One streaming transcription (``core.ports.StreamingSession``). ``append``/``commit``/``finish``
    may be called from any thread; callbacks run on the session's reader thread."""

    def __init__(self, config: ApiConfig, update: dict[str, Any], *, model: str, server_vad: bool,
                 on_delta: DeltaCallback, on_completed: DeltaCallback, cancel: CancelToken,
                 connector: Connector, renew_before_s: float = RENEW_BEFORE_S) -> None:
        self._config = config
        self._update = update
        self._model = model
        self.server_vad = server_vad
        self._on_delta = on_delta
        self._on_completed = on_completed
        self._cancel = cancel
        self._connector = connector
        self._renew_before_s = renew_before_s

        self._cond = threading.Condition()
        self._order = threading.RLock()  # keeps client events in call order across threads
        self._socket: RealtimeSocket | None = None
        self._ready = False
        self._pending: list[dict[str, Any]] = []  # events waiting for the socket
        self._carry = bytearray()  # less than one chunk, not yet sent
        self._since_commit = bytearray()  # sent audio not yet part of an utterance
        self._utterances: list[_Utterance] = []
        self._delivered = 0  # utterances handed to on_completed
        self._returned = 0  # utterances returned by finish
        self._failure: e.SaysoError | None = None
        self._last_error: e.SaysoError | None = None
        self._closing = False
        self._commits = 0
        self._in_speech = False  # server VAD: between speech_started and its commit
        self._renew_at: float | None = None  # monotonic time to renew after (from expires_at)
        self.connections = 0
        self.renewals = 0
        self.ready_at = 0.0

        self._thread = threading.Thread(target=self._run, name="realtime-stt", daemon=True)
        self._thread.start()
        cancel.on_cancel(self._abort_for_cancel)

    # -- public API ------------------------------------------------------------------------------------
    @property
    def failure(self) -> e.SaysoError | None:
        """The error that ended the session, if any (the caller may fall back to REST early)."""
        with self._cond:
            return self._failure

    def wait_ready(self, timeout: float) -> bool:
        """True once the session is configured and sending; False on timeout or failure."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._ready and self._failure is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return self._ready

    def append(self, pcm: bytes) -> None:
        """Queue PCM (s16le 24 kHz mono). Never raises: after a failure the audio is simply dropped
        (the caller keeps its own recording for the fallback)."""
        if not pcm:
            return
        with self._order:
            with self._cond:
                if self._failure is not None or self._closing:
                    return
                self._carry.extend(pcm)
                chunks = []
                while len(self._carry) >= MIN_CHUNK_BYTES:
                    size = min(len(self._carry), MAX_CHUNK_BYTES)
                    chunks.append(bytes(self._carry[:size]))
                    del self._carry[:size]
            for chunk in chunks:
                self._send_audio(chunk)

    def commit(self) -> None:
        """End of an utterance. Push-to-talk: raises ``NoSpeech`` for less than 100 ms of audio.
        With server VAD the server commits by itself; this commits whatever is left (if anything)."""
        with self._order:
            with self._cond:
                self._raise_failure()
                rest, self._carry = bytes(self._carry), bytearray()
            if rest:
                self._send_audio(rest)
            with self._cond:
                size = len(self._since_commit)
                if size == 0 and self.server_vad:
                    return
                if size < MIN_COMMIT_BYTES and not self.server_vad:
                    self._since_commit.clear()
                    too_short = True
                else:
                    too_short = False
                    self._commits += 1
                    event_id = f"sayso_commit_{self._commits}"
                    self._utterances.append(_Utterance(bytes(self._since_commit), event_id))
                    self._since_commit.clear()
            if too_short:
                self._submit({"type": "input_audio_buffer.clear"})
                raise e.NoSpeech(f"Too short to transcribe: {size / BYTES_PER_MS:.0f} ms of audio "
                                 "(at least 100 ms are needed).")
            self._submit({"type": "input_audio_buffer.commit", "event_id": event_id})

    def finish(self, timeout: float) -> list[str]:
        """Wait for every committed utterance's final text; returns the texts not returned before,
        in commit order. Raises the session's failure if an utterance cannot complete."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(not u.done for u in self._utterances):
                self._raise_failure()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise e.TimeoutError_("The realtime server did not finish the transcript in time.",
                                          hint="Try again.")
                self._cond.wait(remaining)
            new = self._utterances[self._returned:]
            self._returned = len(self._utterances)
        texts = [u.text for u in new if u.text]
        failures = [u.failure for u in new if u.failure is not None]
        if not texts and failures:
            raise failures[0]
        return texts

    def utterance_timings(self) -> list[tuple[float, float]]:
        """(committed, completed) monotonic receive times per finished utterance, for benchmarks."""
        with self._cond:
            return [(u.committed_at, u.completed_at) for u in self._utterances if u.text is not None]

    def close(self) -> None:
        """Close politely (nothing more will be sent). Safe to call more than once."""
        with self._cond:
            self._closing = True
            sock = self._socket
            self._cond.notify_all()
        if sock is not None:
            sock.close()

    def abort(self) -> None:
        """Close at once without waiting for anything."""
        with self._cond:
            self._closing = True
            sock = self._socket
            self._cond.notify_all()
        if sock is not None:
            sock.abort()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- sending ---------------------------------------------------------------------------------------
    def _raise_failure(self) -> None:
        if self._cancel.cancelled:
            raise e.Cancelled()
        if self._failure is not None:
            raise self._failure

    def _send_audio(self, chunk: bytes) -> None:
        with self._order:
            with self._cond:
                self._since_commit.extend(chunk)
            self._submit(_append_event(chunk))

    def _submit(self, event: dict[str, Any]) -> None:
        with self._order:
            with self._cond:
                if self._failure is not None or self._closing:
                    return
                if not self._ready:
                    self._pending.append(event)
                    return
                sock = self._socket
            assert sock is not None
            try:
                sock.send(event)
            except RealtimeClosed:
                pass  # the reader thread sees the close and decides what it means

    # -- the session thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                sock = self._connect_and_configure()
                try:
                    self._read_events(sock)
                    return
                except _SessionExpired:
                    log.info("realtime: session expired; reconnecting and replaying unfinished audio")
                    sock.close()
                    self._prepare_replay()
                except _Renew:
                    log.info("realtime: renewing the session ahead of its time limit")
                    self._prepare_replay(keep_tail=RENEW_KEEP_BYTES)
                    with self._cond:
                        self.renewals += 1
                    # The old socket is closed politely off this thread: the new one opens meanwhile.
                    threading.Thread(target=sock.close, name="realtime-stt-close", daemon=True).start()
        except e.SaysoError as exc:
            self._fail(exc)
        except Exception as exc:  # a bug must not leave finish() waiting for the timeout
            log.exception("realtime transcription session failed")
            self._fail(e.NetworkError("The realtime transcription failed unexpectedly.", detail=repr(exc)))

    def _connect_and_configure(self) -> RealtimeSocket:
        if self._closing or self._cancel.cancelled:
            raise e.Cancelled()
        sock = self._connector(self._config, {"intent": "transcription"})
        with self._cond:
            self._socket = sock
            self.connections += 1
            stop = self._closing or self._cancel.cancelled
        if stop:  # closed or cancelled while the handshake ran
            sock.abort()
            raise e.Cancelled()
        created = self._expect(sock, "session.created")
        self._note_expiry(created)
        sock.send(self._update)
        self._expect(sock, "session.updated")
        with self._order:
            with self._cond:
                pending, self._pending = self._pending, []
            for event in pending:
                sock.send(event)
            with self._cond:
                self._ready = True
                self.ready_at = time.monotonic()
                self._cond.notify_all()
        return sock

    def _note_expiry(self, created: dict[str, Any]) -> None:
        session = created.get("session")
        expires = session.get("expires_at") if isinstance(session, dict) else None
        renew_at = None
        if isinstance(expires, (int, float)) and expires > 0:  # epoch seconds (§6.4)
            renew_at = time.monotonic() + float(expires) - time.time() - self._renew_before_s
        with self._cond:
            self._renew_at = renew_at

    def _renewal_due(self) -> bool:
        """Past the renewal time and nothing in flight: no utterance awaits its text, and (server VAD) no
        speech has started, or (manual commits) no audio awaits a commit."""
        with self._cond:
            if self._renew_at is None or time.monotonic() < self._renew_at or self._closing:
                return False
            if any(not u.done for u in self._utterances):
                return False
            if self.server_vad:
                return not self._in_speech
            return not self._since_commit and not self._carry

    def _expect(self, sock: RealtimeSocket, wanted: str) -> dict[str, Any]:
        """Read until ``wanted``; an ``error`` event before it fails the setup with its message."""
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise e.TimeoutError_(f"The realtime server did not confirm the session ({wanted}).",
                                      hint="Try again.")
            try:
                event = sock.recv(remaining)
            except RealtimeClosed as closed:
                raise self._closed_error(closed, sock) from None
            if event is None:
                continue
            if event["type"] == wanted:
                return event
            if event["type"] == "error":
                raise error_from_realtime_event(event, model=self._model)

    def _read_events(self, sock: RealtimeSocket) -> None:
        while True:
            try:
                event = sock.recv(RENEW_CHECK_S)
            except RealtimeClosed as closed:
                with self._cond:
                    if self._closing:
                        return
                if closed.code == CLOSE_GOING_AWAY and self._last_error is not None and \
                        "60-minute" in self._last_error.user_message:
                    raise _SessionExpired() from None
                raise self._closed_error(closed, sock) from None
            if event is not None:
                self._handle(event)
            if self._renewal_due():
                raise _Renew()

    def _closed_error(self, closed: RealtimeClosed, sock: RealtimeSocket) -> e.SaysoError:
        if self._cancel.cancelled:
            return e.Cancelled()
        if self._last_error is not None and closed.code != CLOSE_ABNORMAL:
            return self._last_error  # the server explained its close in an error event
        error = error_from_close(closed.code, closed.reason, host=sock.host)
        with self._cond:
            in_flight = bool(self._since_commit) or any(not u.done for u in self._utterances)
        if in_flight and isinstance(error, e.NetworkError):
            return e.NetworkError(f"The realtime connection to {sock.host} dropped mid-utterance.",
                                  hint="The recording is kept; transcribe it again.", detail=error.detail)
        return error

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        item_id = str(event.get("item_id") or "")
        if kind == "input_audio_buffer.committed":
            with self._cond:
                utterance = next((u for u in self._utterances if u.item_id is None), None)
                if utterance is None:  # the server's VAD committed on its own
                    utterance = _Utterance(bytes(self._since_commit))
                    self._since_commit.clear()
                    self._utterances.append(utterance)
                utterance.item_id = item_id
                utterance.committed_at = time.monotonic()
                self._in_speech = False
                self._cond.notify_all()
            _call(self._on_delta, TranscriptDelta(text="", item_id=item_id))  # its place in commit order
        elif kind == "input_audio_buffer.speech_started":
            with self._cond:
                self._in_speech = True
        elif kind == "conversation.item.input_audio_transcription.delta":
            delta = event.get("delta")
            if isinstance(delta, str) and delta:
                with self._cond:
                    utterance = self._find(item_id)
                    if utterance is not None:
                        utterance.deltas.append(delta)
                _call(self._on_delta, TranscriptDelta(text=delta, item_id=item_id))
        elif kind == "conversation.item.input_audio_transcription.completed":
            transcript = event.get("transcript")
            with self._cond:
                utterance = self._find(item_id)
                if utterance is not None:
                    utterance.text = transcript if isinstance(transcript, str) else "".join(utterance.deltas)
                    utterance.completed_at = time.monotonic()
            self._deliver_in_order()
        elif kind == "conversation.item.input_audio_transcription.failed":
            error = _error_object(event)
            failure: e.SaysoError
            if error.get("code") == "audio_unintelligible":
                failure = e.NoSpeech("The server could not make out any words.")
            else:
                failure = error_from_realtime_event(event, model=self._model)
            with self._cond:
                utterance = self._find(item_id)
                if utterance is not None:
                    utterance.failure = failure
            self._deliver_in_order()
        elif kind == "error":
            self._handle_error(event)

    def _handle_error(self, event: dict[str, Any]) -> None:
        error = _error_object(event)
        code = str(error.get("code") or "")
        about = error.get("event_id")
        mapped = error_from_realtime_event(event, model=self._model)
        if code == "session_expired":
            self._last_error = mapped
            raise _SessionExpired()
        with self._cond:
            utterance = next((u for u in self._utterances
                              if about and u.commit_event_id == about and u.item_id is None), None)
            if self.server_vad and code == "input_audio_buffer_commit_empty":
                # The server's VAD had committed that audio already (its `committed` took our slot).
                if utterance is not None:
                    self._utterances.remove(utterance)
                    self._cond.notify_all()
                return
            if utterance is not None:
                utterance.failure = mapped
                self._cond.notify_all()
        if utterance is not None:
            self._deliver_in_order()
            return
        log.warning("realtime: server error %s", mapped.detail or mapped.user_message)
        self._last_error = mapped
        if isinstance(mapped, (e.AuthError, e.PermissionDenied, e.ModelRetired, e.RateLimited)):
            raise mapped  # the session cannot go on

    def _find(self, item_id: str) -> _Utterance | None:
        return next((u for u in self._utterances if u.item_id == item_id), None)

    def _deliver_in_order(self) -> None:
        """Hand finished utterances to ``on_completed`` in commit order (the server may finish a later
        one first)."""
        with self._cond:
            ready = []
            while self._delivered < len(self._utterances) and self._utterances[self._delivered].done:
                ready.append(self._utterances[self._delivered])
                self._delivered += 1
            self._cond.notify_all()
        for utterance in ready:
            if utterance.text:
                _call(self._on_completed,
                      TranscriptDelta(text=utterance.text, item_id=utterance.item_id or "", final=True))

    def _prepare_replay(self, keep_tail: int | None = None) -> None:
        """After an expiry: resend every unfinished utterance (and the audio since the last commit) on the
        next connection, before anything appended meanwhile. ``keep_tail``: a renewal between utterances
        with server VAD, where the audio since the last commit is silence but for its last moments."""
        with self._order, self._cond:
            self._ready = False
            self._socket = None
            self._in_speech = False
            self._renew_at = None  # the next session.created tells the new limit
            if keep_tail is not None:
                del self._since_commit[:max(0, len(self._since_commit) - keep_tail)]
            replay: list[dict[str, Any]] = []
            for utterance in self._utterances:
                if utterance.done:
                    continue
                utterance.item_id = None
                utterance.deltas.clear()
                self._commits += 1
                utterance.commit_event_id = f"sayso_commit_{self._commits}"
                replay.extend(_append_events(utterance.audio))
                replay.append({"type": "input_audio_buffer.commit",
                               "event_id": utterance.commit_event_id})
            replay.extend(_append_events(bytes(self._since_commit)))
            self._pending = replay + self._pending
            self._last_error = None

    def _fail(self, failure: e.SaysoError) -> None:
        with self._cond:
            if self._failure is None:
                self._failure = e.Cancelled() if self._cancel.cancelled else failure
            self._ready = False
            self._pending.clear()
            sock = self._socket
            self._cond.notify_all()
        if sock is not None:
            sock.abort()

    def _abort_for_cancel(self) -> None:
        self._fail(e.Cancelled())
        self.abort()


def _append_event(chunk: bytes) -> dict[str, Any]:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode("ascii")}


def _append_events(audio: bytes) -> list[dict[str, Any]]:
    return [_append_event(audio[i:i + MAX_CHUNK_BYTES]) for i in range(0, len(audio), MAX_CHUNK_BYTES)]


def _error_object(event: dict[str, Any]) -> dict[str, Any]:
    error = event.get("error")
    return error if isinstance(error, dict) else {}


def _call(callback: DeltaCallback, delta: TranscriptDelta) -> None:
    try:
        callback(delta)
    except Exception:  # a broken UI callback must not kill the session
        log.exception("realtime: transcript callback failed")

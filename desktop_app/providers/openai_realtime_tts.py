"""The *realtime* speech engine: text read aloud by a GA Realtime model over one WebSocket session.

OpenAI retires its REST speech models on 2027-01-06; ``gpt-realtime-2.1-mini`` over ``/v1/realtime`` is
the migration target (speech-output doc §0). A realtime model is not a TTS engine: it *says* things, so
every chunk is one out-of-band ``response.create`` with reading instructions (§3), and the transcript of
what it said is checked against the chunk (``core.fidelity``).

When to play, when to check (the doc's §3.6 point 3: regenerating only works before playback):

The engine needs to know how much audio is still queued ahead of the listener. The read pipeline tells
it (:meth:`OpenAIRealtimeSpeech.watch_playback`: the player's buffer plus what waits to go in, so a pause
keeps it from running down); without that, the engine's own *audio clock* estimates it from when the
audio it handed on started and how many seconds of it there are.

* A chunk requested while plenty of earlier audio is still queued (the read pipeline asks for chunk N+1
  as soon as chunk N is generated; :meth:`OpenAIRealtimeSpeech.prefetch` does the same explicitly) is
  *held* until its transcript is checked. A reading that strayed from the text (a preamble, an answer, a
  paraphrase) is regenerated once with stricter instructions before anyone hears it; if the retry strays
  too, it is played and a warning is logged. Holding never costs a gap: when the queued audio is about
  to run out (``HOLD_MARGIN_S`` left), whatever has arrived is released and the rest streams.
* A chunk requested with nothing (or little) queued — the first chunk of a reading — streams: each audio
  delta goes to ``on_audio`` at once, because the first sound is what the user waits for. A stray found
  at the end is logged as a warning and not retried: the listener has heard it, and a retry would read
  the sentence twice.

Chunk size: every response reads at most ``MAX_CHUNK_CHARS`` (sentence groups, §6.1), so no response
runs into the per-response output cap. :attr:`OpenAIRealtimeSpeech.max_chunk_chars` tells the read
pipeline to cut the text that way; a longer chunk (the *auto* engine after a switch, saving to a file) is
cut here into parts read one after another, each requested as soon as the previous one is generated.

Highlighting: ``on_transcript`` (and the reading's :meth:`OpenAIRealtimeSpeech.listen_transcript`) hears
the transcript of a chunk *in step with its audio*: a transcript piece is passed on just before the
audio that followed it on the wire, whether that audio streamed or was held for checking.

Stop (``cancel``): no ``on_audio`` call after the token trips, ``response.cancel`` with the response id
for every response still running (prefetched ones too), and the session drops late deltas of cancelled
responses. The generation counter makes any request started before a stop worthless afterwards.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from desktop_app.core import errors as e
from desktop_app.core.cancel import CancelToken
from desktop_app.core.chunking import FIRST_MAX, iter_chunks
from desktop_app.core.fidelity import compare, strayed
from desktop_app.core.models import SAMPLE_RATE, ApiConfig, SpeechChunk, SpeechOptions
from desktop_app.providers import realtime_tts_protocol as proto
from desktop_app.providers.realtime_tts_session import (
    EventObserver,
    RealtimeSpeechSession,
    SessionSpec,
    SpeechRequest,
)

log = logging.getLogger(__name__)

SESSION_RENEW_AFTER_S = 50 * 60  # sessions end at 60 min (§6.3); renew between chunks well before
EXPIRY_MARGIN_S = 5 * 60
MAX_PREFETCH = 2  # chunks generated ahead of the one playing (§6.2: 2–3)
HOLD_MARGIN_S = 0.5  # release held audio this long before the queued audio runs out
_WAIT_S = 0.05  # upper bound on noticing a cancel if nobody notifies (the token notifies at once)

TranscriptCallback = Callable[[int, str, bool], None]  # (chunk index, transcript so far, final)
NoticeCallback = Callable[[str], None]


@dataclass
class _Prefetched:
    request: SpeechRequest
    session: RealtimeSpeechSession
    spec: SessionSpec
    generation: int


class OpenAIRealtimeSpeech:
    """``core.ports.Synthesizer`` over a GA Realtime session; PCM s16le 24 kHz mono to ``on_audio``.

    ``model`` is the realtime model (``read.realtime_model``); ``options.model`` is used only when it
    names a realtime model. ``on_notice`` hears user-facing notes (a voice mapped to a realtime voice),
    once each. ``on_transcript`` hears what the model says, for sentence highlighting. ``observer`` sees
    every server event with its arrival time (benchmarks, tests).
    """

    sample_rate = SAMPLE_RATE
    max_chunk_chars = proto.MAX_CHUNK_CHARS  # the read pipeline cuts its text into chunks of at most this

    def __init__(self, config: ApiConfig, *, model: str = proto.DEFAULT_MODEL,
                 on_notice: NoticeCallback | None = None, on_transcript: TranscriptCallback | None = None,
                 observer: EventObserver | None = None, clock: Callable[[], float] = time.monotonic,
                 renew_after_s: float = SESSION_RENEW_AFTER_S, max_prefetch: int = MAX_PREFETCH) -> None:
        self._config = config
        self._model = model or proto.DEFAULT_MODEL
        self._on_notice = on_notice
        self._on_transcript = on_transcript
        self._listener: TranscriptCallback | None = None  # the reading in progress (listen_transcript)
        self._observer = observer
        self._clock = clock
        self._renew_after_s = renew_after_s
        self._max_prefetch = max_prefetch
        self._lock = threading.RLock()
        self._session: RealtimeSpeechSession | None = None
        self._prefetched: dict[tuple[int, str], _Prefetched] = {}
        self._running: set[tuple[RealtimeSpeechSession, SpeechRequest]] = set()
        self._generation = 0
        self._noticed: set[str] = set()
        self._speed_noted: set[float] = set()
        self.sessions_opened = 0
        self._clock_start: float | None = None  # audio clock: when the handed-on audio began …
        self._clock_audio_s = 0.0  # … and how long it is
        self._queued_probe: Callable[[], float] | None = None  # the reader's own figure (watch_playback)

    # -- the Synthesizer port ---------------------------------------------------------------------
    def synthesize(self, chunk: SpeechChunk, options: SpeechOptions,
                   on_audio: Callable[[bytes, int], None], cancel: CancelToken) -> None:
        """Speak one chunk; raises a ``core.errors`` error, ``Cancelled`` when ``cancel`` trips."""
        if not chunk.text.strip():
            return
        cancel.raise_if_cancelled()
        cancel.on_cancel(self.stop)
        spec = self._spec(options)
        spoken = ""
        for number, part in enumerate(split_for_realtime(chunk.text)):
            pending = self._take_prefetched(chunk.index, part, spec) if number == 0 else None
            if pending is not None:
                session, request, generation = pending.session, pending.request, pending.generation
            else:
                with self._lock:
                    generation = self._generation
                session = self._session_for(spec, cancel)
                request = self._start(session, part, chunk.index, strict=False)
            reading = _Reading(self, chunk, spec, on_audio, cancel, generation, spoken_before=spoken)
            # Trade-off: with nothing queued (the first chunk of a reading) the audio streams unchecked —
            # holding it for the check would delay the first sound by the whole generation time. Its
            # transcript is still compared at the end and a stray logged; the look-ahead is checked.
            spoken = reading.run(session, request, hold=self._queued_s() > HOLD_MARGIN_S)
        self._tell_transcript(chunk.index, spoken, True)

    def listen_transcript(self, listener: TranscriptCallback | None) -> None:
        """Who hears the transcript of the reading in progress (the read pipeline's highlight); None: nobody.
        Called with (chunk index, what was said of the chunk so far, final), in step with the audio."""
        with self._lock:
            self._listener = listener

    def _tell_transcript(self, index: int, text: str, final: bool) -> None:
        with self._lock:
            listener = self._listener
        for callback in (self._on_transcript, listener):
            if callback is not None:
                callback(index, text, final)

    # -- the audio clock ----------------------------------------------------------------------------
    def watch_playback(self, queued_s: Callable[[], float] | None) -> None:
        """How many seconds of audio wait ahead of the listener, as the reader knows it (paused or not);
        None: estimate it with the engine's audio clock."""
        with self._lock:
            self._queued_probe = queued_s

    def _queued_s(self) -> float:
        """Seconds of handed-on audio the listener has not heard yet."""
        with self._lock:
            probe, start, audio_s = self._queued_probe, self._clock_start, self._clock_audio_s
        if probe is not None:
            return max(0.0, probe())
        return 0.0 if start is None else max(0.0, start + audio_s - time.monotonic())

    def _audio_handed_on(self, seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            if self._clock_start is None or now > self._clock_start + self._clock_audio_s:
                self._clock_start, self._clock_audio_s = now, 0.0  # nothing queued: playback starts now
            self._clock_audio_s += seconds

    # -- look-ahead ---------------------------------------------------------------------------------
    def prefetch(self, chunk: SpeechChunk, options: SpeechOptions, cancel: CancelToken | None = None) -> bool:
        """Start generating ``chunk`` now, so a later :meth:`synthesize` of it plays without a gap.

        Returns False when nothing was started (empty text, already requested, or enough look-ahead).
        Errors surface later, from :meth:`synthesize`.
        """
        if not chunk.text.strip() or (cancel is not None and cancel.cancelled):
            return False
        spec = self._spec(options)
        part = split_for_realtime(chunk.text)[0]  # a long chunk is read in parts: look ahead at the first
        key = (chunk.index, part)
        with self._lock:
            if key in self._prefetched or len(self._prefetched) >= self._max_prefetch:
                return False
            generation = self._generation
        if cancel is not None:
            cancel.on_cancel(self.stop)
        try:
            session = self._session_for(spec, cancel or CancelToken())
        except e.SaysoError as exc:
            log.info("realtime speech: look-ahead not started: %s", exc.user_message)
            return False
        request = self._start(session, part, chunk.index, strict=False)
        with self._lock:
            if generation != self._generation:  # a stop came in meanwhile
                session.cancel(request)
                return False
            self._prefetched[key] = _Prefetched(request, session, spec, generation)
        return True

    def stop(self) -> None:
        """Cancel everything in flight (the current chunk and the look-ahead); later deltas are dropped."""
        with self._lock:
            self._generation += 1
            self._clock_start, self._clock_audio_s = None, 0.0  # the player's queue was dropped too
            running = list(self._running)
            running += [(p.session, p.request) for p in self._prefetched.values()]
            self._prefetched.clear()
            self._running.clear()
        for session, request in running:
            session.cancel(request)

    def close(self) -> None:
        self.stop()
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    # -- sessions -----------------------------------------------------------------------------------
    def _spec(self, options: SpeechOptions) -> SessionSpec:
        model = options.model if options.model.startswith("gpt-realtime") else self._model
        choice = proto.choose_voice(options.voice)
        if choice.mapped and choice.requested not in self._noticed:
            self._noticed.add(choice.requested)
            message = (f"The voice “{choice.requested}” is not available for realtime speech; "
                       f"using “{choice.voice}” instead.")
            log.info(message)
            if self._on_notice is not None:
                self._on_notice(message)
        speed = proto.clamp_speed(options.speed)
        if speed != options.speed and options.speed not in self._speed_noted:
            self._speed_noted.add(options.speed)
            log.info("realtime speech: speed %.2f is outside %.2f–%.2f; using %.2f", options.speed,
                     proto.MIN_SPEED, proto.MAX_SPEED, speed)
        return SessionSpec(model=model, voice=choice.voice, speed=speed, style=options.instructions)

    def _session_for(self, spec: SessionSpec, cancel: CancelToken) -> RealtimeSpeechSession:
        """The open session for ``spec``; a new one when the voice/speed/model changed, the old one died,
        or it is near its 60-minute limit and idle (so the switch falls between chunks)."""
        with self._lock:
            current = self._session
            if current is not None and current.alive and current.spec == spec and not self._due(current):
                return current
            self._session = None
        if current is not None and (not current.alive or current.spec != spec or current.outstanding() == 0):
            if current.alive and current.spec == spec:
                log.info("realtime speech: renewing the session before its time limit")
            current.close()
        session = RealtimeSpeechSession(self._config, spec, observer=self._observer, clock=self._clock)
        session.open(lambda: cancel.cancelled)
        self.sessions_opened += 1
        with self._lock:
            old, self._session = self._session, session
        if old is not None and old is not session:
            old.close()
        return session

    def _due(self, session: RealtimeSpeechSession) -> bool:
        if session.outstanding():
            return False  # never in the middle of a response: renew between chunks
        if session.age_s() >= self._renew_after_s:
            return True
        return session.expires_at is not None and self._clock() >= session.expires_at - EXPIRY_MARGIN_S

    def _start(self, session: RealtimeSpeechSession, text: str, index: int, *, strict: bool) -> SpeechRequest:
        request = session.start(text, index, strict=strict)
        with self._lock:
            self._running.add((session, request))
        return request

    def _forget(self, session: RealtimeSpeechSession, request: SpeechRequest) -> None:
        with self._lock:
            self._running.discard((session, request))

    def _take_prefetched(self, index: int, text: str, spec: SessionSpec) -> _Prefetched | None:
        """The look-ahead request for chunk ``index`` reading ``text``; look-ahead for chunks before it
        was skipped: cancel it."""
        stale: list[_Prefetched] = []
        with self._lock:
            pending = self._prefetched.pop((index, text), None)
            for key in [k for k in self._prefetched if k[0] <= index]:
                stale.append(self._prefetched.pop(key))
            if pending is not None and (pending.spec != spec or pending.generation != self._generation):
                stale.append(pending)
                pending = None
        for old in stale:
            old.session.cancel(old.request)
            self._forget(old.session, old.request)
        return pending

    def _generation_is(self, generation: int) -> bool:
        with self._lock:
            return generation == self._generation


class _Reading:
    """Reads one chunk to the end: waits for audio, checks the transcript, retries, hands audio on."""

    def __init__(self, engine: OpenAIRealtimeSpeech, chunk: SpeechChunk, spec: SessionSpec,
                 on_audio: Callable[[bytes, int], None], cancel: CancelToken, generation: int, *,
                 spoken_before: str = "") -> None:
        self.engine = engine
        self.spoken_before = spoken_before  # the transcript of the chunk's earlier parts
        self.emitted = 0  # audio bytes of the current request handed on
        self.told = 0  # transcript parts of the current request passed on
        self.chunk = chunk
        self.spec = spec
        self.on_audio = on_audio
        self.cancel = cancel
        self.generation = generation
        self.played = False  # some of this chunk's audio went to on_audio
        self.retried_stray = False
        self.retried_lost = False
        self.retried_failed = False
        self.continued = False

    def run(self, session: RealtimeSpeechSession, request: SpeechRequest, *, hold: bool) -> str:
        """Returns what was said of the chunk so far (``spoken_before`` and this part's transcript)."""
        text = request.text
        while True:
            self.emitted = self.told = 0  # a new request: nothing of it handed on yet
            try:
                self._wait(request, hold)
            finally:
                self.engine._forget(session, request)
            if request.error is not None:
                session, request = self._after_error(session, request)
                text = request.text
                continue
            if request.status == "cancelled":
                raise e.ServerError("The server cancelled the reading.", hint="Try again.")
            transcript = request.transcript_so_far
            bad = request.status == "completed" and (request.first_delta_at is None or strayed(text, transcript))
            if bad and not self.played and not self.retried_stray:
                self.retried_stray = True
                log.warning("realtime speech: chunk %d strayed from the text (%s); retrying once with "
                            "stricter instructions", self.chunk.index, _difference(text, transcript))
                request = self._restart(session, text, strict=True)
                continue
            if bad:
                log.warning("realtime speech: chunk %d was read with differences from the text (%s)%s",
                            self.chunk.index, _difference(text, transcript),
                            "" if self.played else " even after a stricter retry")
            self._release(request)
            if request.status == "incomplete":
                tail = _unread_tail(text, transcript)
                log.warning("realtime speech: chunk %d was cut off (%s)", self.chunk.index,
                            request.status_reason or "incomplete")
                if tail and not self.continued and request.status_reason != "content_filter":
                    self.continued = True
                    self.spoken_before = _joined(self.spoken_before, transcript)
                    request = self._restart(session, tail, strict=False)
                    text, hold = tail, False
                    continue
            return _joined(self.spoken_before, transcript)

    # -- waiting and handing audio on ---------------------------------------------------------------
    def _wait(self, request: SpeechRequest, hold: bool) -> None:
        """Until the response ends. Held audio stays in the request (checked later); streamed audio is
        handed on as it arrives. Holding turns into streaming when the queued audio is about to run out,
        so playback never starves."""
        stream = not hold or self.played
        sent = 0
        wake = request.changed
        self.cancel.on_cancel(lambda: _notify(wake))
        while True:
            with wake:
                while True:
                    self._check_cancel(request)
                    if not stream and self.engine._queued_s() <= HOLD_MARGIN_S:
                        log.info("realtime speech: chunk %d is played before its check, to avoid a gap",
                                 self.chunk.index)
                        stream = True
                    if request.finished or (stream and len(request.audio) > sent):
                        break
                    wake.wait(_WAIT_S)
                pieces = request.audio[sent:] if stream else []
                sent += len(pieces)
                finished = request.finished
            for pcm in pieces:
                self._emit(request, pcm)
            if finished:
                if stream:
                    self._tell_heard(request, everything=True)
                    with wake:
                        del request.audio[:sent]  # handed on already; only held audio is released later
                return

    def _release(self, request: SpeechRequest) -> None:
        for pcm in request.audio:
            self._emit(request, pcm)
        request.audio.clear()
        self._tell_heard(request, everything=True)

    def _emit(self, request: SpeechRequest, pcm: bytes) -> None:
        self._check_cancel(request)
        self._tell_heard(request)  # the words sent before this audio are heard as it plays
        self.played = True
        self.engine._audio_handed_on(len(pcm) / (2 * SAMPLE_RATE))
        self.on_audio(pcm, SAMPLE_RATE)
        self.emitted += len(pcm)

    def _tell_heard(self, request: SpeechRequest, *, everything: bool = False) -> None:
        """Pass on the transcript parts that arrived before the audio handed on so far (all of them at
        the end), so the listener's highlight moves with what is heard, not with what was generated."""
        with request.changed:
            marks = request.transcript_at
            count = len(marks) if everything else next(
                (n for n, at in enumerate(marks) if at > self.emitted), len(marks))
            if count <= self.told:
                return
            self.told = count
            said = "".join(request.transcript_parts[:count])
        self.engine._tell_transcript(self.chunk.index, _joined(self.spoken_before, said), False)

    def _check_cancel(self, request: SpeechRequest) -> None:
        if self.cancel.cancelled or request.cancelled or not self.engine._generation_is(self.generation):
            raise e.Cancelled()

    # -- retries ------------------------------------------------------------------------------------
    def _restart(self, session: RealtimeSpeechSession, text: str, *, strict: bool) -> SpeechRequest:
        self._check_cancel_token()
        if not session.alive:
            session = self.engine._session_for(self.spec, self.cancel)
        return self.engine._start(session, text, self.chunk.index, strict=strict)

    def _after_error(self, session: RealtimeSpeechSession, request: SpeechRequest,
                     ) -> tuple[RealtimeSpeechSession, SpeechRequest]:
        error = request.error
        assert error is not None
        self._check_cancel_token()
        if isinstance(error, e.Cancelled):
            raise error  # the engine closed this session on purpose (closed, or new voice/speed)
        if request.connection_lost and not self.retried_lost:
            # A dropped or expired socket: a new session reads the chunk again. If part of it was
            # heard, the sentence restarts — clearer than continuing mid-word with new audio.
            self.retried_lost = True
            log.warning("realtime speech: connection lost during chunk %d (%s); reconnecting%s",
                        self.chunk.index, error.user_message, ", the sentence restarts" if self.played else "")
            session = self.engine._session_for(self.spec, self.cancel)
            return session, self.engine._start(session, request.text, self.chunk.index, strict=request.strict)
        if request.status == "failed" and not self.retried_failed and not isinstance(error, e.AuthError):
            self.retried_failed = True
            log.warning("realtime speech: chunk %d failed (%s); retrying once", self.chunk.index,
                        error.user_message)
            if self.cancel.wait(0.3):  # a short pause before the retry (§7.3)
                raise e.Cancelled()
            return session, self._restart(session, request.text, strict=request.strict)
        raise error

    def _check_cancel_token(self) -> None:
        if self.cancel.cancelled or not self.engine._generation_is(self.generation):
            raise e.Cancelled()


def _notify(condition: threading.Condition) -> None:
    with condition:
        condition.notify_all()


def _difference(source: str, spoken: str) -> str:
    result = compare(source, spoken)
    return (f"word error rate {result.word_error_rate:.0%}, {result.inserted_at_start} words added before, "
            f"{result.inserted_at_end} after")


def split_for_realtime(text: str, max_chars: int = proto.MAX_CHUNK_CHARS) -> list[str]:
    """``text`` as the texts of successive responses: whole sentences, at most ``max_chars`` each (a longer
    sentence is cut at a clause mark or space), the first one short for a quick start (§6.1)."""
    if len(text) <= max_chars:
        return [text]
    return [part.text for part in iter_chunks(text, first_max=min(FIRST_MAX, max_chars), max_chars=max_chars)]


def _joined(before: str, after: str) -> str:
    return f"{before} {after}" if before and after else before or after


def _unread_tail(source: str, spoken: str) -> str:
    """The words of ``source`` after as many words as were spoken (a cut-off reading's remainder)."""
    words = source.split()
    count = len(spoken.split())
    return " ".join(words[count:]) if count < len(words) else ""


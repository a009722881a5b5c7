"""One reading of a text through a PCM speech engine into the warm player (Qt-free; run it on a worker).

Two threads per reading:

* the *fetcher* (started here) walks the chunks and asks the synthesizer for each; PCM pieces go into a
  queue as they arrive. It may run one chunk ahead of the writer, so the request for chunk N+1 is made
  while chunk N is still playing and the boundary is gapless; memory stays at about two chunks of audio
  however long the text is.
* the *writer* (the caller of :meth:`ReadAloudSession.run`) moves the pieces into the player; the
  player's bounded buffer blocks it, which paces everything to real time.

Position: the writer notes where each chunk starts (and ends) in the player's stream; the stream position
now being played then gives the chunk. The sentence inside it: for an engine that reports what it says
(:class:`TranscriptSource`, the realtime engine), the transcript in step with the audio — where the
listener is in the chunk's audio gives the words said by then, and those words the sentence; otherwise
each sentence's share of the chunk's characters.

Chunk sizes: an engine with ``max_chunk_chars`` (the realtime engine: one response per sentence group)
gets chunks of at most that size; others get ``ChunkSizes()`` (the REST speech endpoint's).

Stop: cancelling the token stops the player at once (its buffer is dropped within one callback period),
interrupts the request in flight and ends both threads. An error ends the reading after the audio that
already arrived has played; ``resume_offset`` says where Play should continue.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import AudioDeviceError, Cancelled, SaysoError
from desktop_app.core.models import SAMPLE_WIDTH, SpeechOptions
from desktop_app.core.ports import Synthesizer
from desktop_app.services.read_text import ChunkPlan, ChunkSizes, PreparedText, Span

log = logging.getLogger(__name__)

CHUNKS_AHEAD = 2  # chunks of audio the fetcher may hold: the one being written and the next
_CHARS_PER_SECOND = 15.0  # speaking rate at speed 1.0, to place the highlight before a chunk is complete


class ReadSink(Protocol):
    """What reading needs from the player (``audio.playback.Player`` implements it)."""

    def write(self, pcm: bytes, sample_rate: int | None = None) -> None: ...
    def drain(self, timeout: float | None = None) -> bool: ...
    def pause(self, paused: bool) -> None: ...
    def stop(self) -> None: ...
    @property
    def written_seconds(self) -> float: ...
    @property
    def buffered_seconds(self) -> float: ...
    @property
    def underruns(self) -> int: ...


TranscriptListener = Callable[[int, str, bool], None]  # (chunk index, said so far, final)


@runtime_checkable
class TranscriptSource(Protocol):
    """A synthesizer that reports what it says, in step with the audio it hands on."""

    def listen_transcript(self, listener: TranscriptListener | None) -> None: ...


@runtime_checkable
class PlaybackAware(Protocol):
    """A synthesizer that wants to know how much audio waits ahead of the listener (the realtime engine
    holds look-ahead for its fidelity check while enough is queued; a pause must not run that down)."""

    def watch_playback(self, queued_s: Callable[[], float] | None) -> None: ...


@dataclass(frozen=True)
class ReadPosition:
    """Where the listener is: the sentence being heard and the share of the text behind them."""

    sentence_start: int
    sentence_end: int
    fraction: float


@dataclass(frozen=True)
class ReadOutcome:
    finished: bool  # every chunk was played to the end
    error: SaysoError | None
    resume_offset: int  # where to start again (the user's text) after an error or stop
    underruns: int
    chunks: int


@dataclass
class _Mark:
    """Where a chunk's audio lies in the player's stream (seconds); ``end`` once it is fully written."""

    plan: ChunkPlan
    start: float
    audio_s: float = 0.0
    end: float | None = None
    heard: list[tuple[float, int]] = field(default_factory=list)  # (audio_s, words said by then)


@dataclass(frozen=True)
class _Pcm:
    data: bytes
    rate: int


@dataclass(frozen=True)
class _ChunkEnd:
    plan: ChunkPlan


@dataclass(frozen=True)
class _Failed:
    error: SaysoError
    plan: ChunkPlan | None


@dataclass(frozen=True)
class _Said:
    index: int
    words: int


@dataclass(frozen=True)
class _Done:
    pass


_Item = ChunkPlan | _Pcm | _Said | _ChunkEnd | _Failed | _Done


@dataclass
class SessionConfig:
    strip_markdown: bool = True
    sizes: ChunkSizes | None = None  # None: what the synthesizer needs (see chunk_sizes_for)


def chunk_sizes_for(synthesizer: object) -> ChunkSizes:
    """The REST chunk sizes, capped at the synthesizer's ``max_chunk_chars`` when it has one."""
    sizes = ChunkSizes()
    limit = getattr(synthesizer, "max_chunk_chars", None)
    if isinstance(limit, int) and 0 < limit < sizes.max_chars:
        return ChunkSizes(first_max=min(sizes.first_max, limit), max_chars=limit, growth=sizes.growth)
    return sizes


class ReadAloudSession:
    """Reads ``text`` from ``start_offset``; ``run`` blocks until done, stopped or failed."""

    def __init__(self, text: str | PreparedText, synthesizer: Synthesizer, sink: ReadSink,
                 options: SpeechOptions, start_offset: int = 0, config: SessionConfig | None = None,
                 on_chunk: Callable[[ChunkPlan], None] | None = None) -> None:
        self._source = text
        self._synth = synthesizer
        self._sink = sink
        self.options = options
        self.start_offset = max(0, start_offset)
        self._config = config or SessionConfig()
        self._sizes = self._config.sizes or chunk_sizes_for(synthesizer)
        self._on_chunk = on_chunk
        self._prepared: PreparedText | None = text if isinstance(text, PreparedText) else None
        self._lock = threading.Lock()
        self._marks: list[_Mark] = []
        self._chunks_written = 0
        self._underruns_at_start = 0
        self._stopped_at: ReadPosition | None = None
        self._pending_s = 0.0  # audio handed over by the synthesizer, not yet written to the sink

    # ----- state readable from any thread ---------------------------------------------------------
    @property
    def prepared(self) -> PreparedText | None:
        return self._prepared

    def position(self) -> ReadPosition | None:
        """The sentence being heard now; None before the first audio was written."""
        prepared = self._prepared
        if prepared is None:
            return None
        now = self._sink.written_seconds - self._sink.buffered_seconds
        with self._lock:
            mark = next((m for m in reversed(self._marks) if m.start <= now), None)
            if mark is None:
                return None
            duration = mark.end - mark.start if mark.end is not None else max(
                mark.audio_s, mark.plan.weight / (_CHARS_PER_SECOND * max(0.25, self.options.speed)))
            said = next((words for at, words in reversed(mark.heard) if at <= now - mark.start), 0)
            follows_transcript = bool(mark.heard)
        if follows_transcript:
            span = _span_of_word(mark.plan, max(0, said - 1))
        else:
            share = min(1.0, max(0.0, (now - mark.start) / duration)) if duration > 0 else 1.0
            span = _span_at(mark.plan, share)
        total = max(1, len(prepared))
        return ReadPosition(span.start, span.end, min(1.0, span.start / total))

    def queued_seconds(self) -> float:
        """Audio waiting ahead of the listener: the sink's buffer and what is still to be written to it.
        It does not run down while the player is paused."""
        with self._lock:
            pending = self._pending_s
        return self._sink.buffered_seconds + pending

    # ----- the reading --------------------------------------------------------------------------------
    def run(self, cancel: CancelToken) -> ReadOutcome:
        """Prepare, synthesise and play; returns how it ended. Never raises for speech/audio errors."""
        if self._prepared is None:
            assert isinstance(self._source, str)
            self._prepared = PreparedText(self._source, strip_markdown=self._config.strip_markdown)
        prepared = self._prepared
        self._underruns_at_start = self._sink.underruns
        items: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        slots = threading.Semaphore(CHUNKS_AHEAD)
        # Our own token: a failing player must be able to end the fetcher without cancelling the caller's.
        inner = CancelToken()
        cancel.on_cancel(inner.cancel)

        def on_stop() -> None:
            self._stopped_at = self.position()  # before the stop empties the buffer and moves the position
            self._sink.stop()
            slots.release()  # wake a fetcher waiting for room
            items.put(_Done())  # wake the writer

        inner.on_cancel(on_stop)
        transcripts = self._synth if isinstance(self._synth, TranscriptSource) else None
        if transcripts is not None:  # called on the fetcher thread, in order with the audio
            transcripts.listen_transcript(lambda index, said, final: items.put(_Said(index, len(said.split()))))
        watcher = self._synth if isinstance(self._synth, PlaybackAware) else None
        if watcher is not None:
            watcher.watch_playback(self.queued_seconds)
        fetcher = threading.Thread(target=self._fetch, args=(prepared, items, slots, inner),
                                   name="sayso-read-fetch", daemon=True)
        fetcher.start()
        outcome: ReadOutcome | None = None
        try:
            outcome = self._write(items, slots, inner)
        finally:
            if outcome is None or not outcome.finished:
                inner.cancel()
            fetcher.join()
            if transcripts is not None:
                transcripts.listen_transcript(None)
            if watcher is not None:
                watcher.watch_playback(None)
        return outcome

    def _fetch(self, prepared: PreparedText, items: queue.SimpleQueue[_Item], slots: threading.Semaphore,
               cancel: CancelToken) -> None:
        plan: ChunkPlan | None = None
        try:
            for plan in prepared.chunks(self.start_offset, self._sizes):
                slots.acquire()
                if cancel.cancelled:
                    return
                items.put(plan)
                self._synth.synthesize(plan.chunk, self.options,
                                       lambda pcm, rate: self._hand_over(items, pcm, rate), cancel)
                items.put(_ChunkEnd(plan))
            items.put(_Done())
        except Cancelled:
            items.put(_Done())
        except SaysoError as exc:
            items.put(_Failed(exc, plan))
        except Exception as exc:  # a bug in an engine must end the reading with a message, not hang it
            log.exception("speech engine failed")
            items.put(_Failed(SaysoError("The speech engine failed unexpectedly.", detail=repr(exc)), plan))

    def _hand_over(self, items: queue.SimpleQueue[_Item], pcm: bytes, rate: int) -> None:
        with self._lock:
            self._pending_s += len(pcm) / (SAMPLE_WIDTH * rate)
        items.put(_Pcm(pcm, rate))

    def _write(self, items: queue.SimpleQueue[_Item], slots: threading.Semaphore,
               cancel: CancelToken) -> ReadOutcome:
        current: _Mark | None = None
        try:
            while True:
                item = items.get()
                if cancel.cancelled:
                    return self._outcome(False, None)
                if isinstance(item, ChunkPlan):
                    current = _Mark(item, self._sink.written_seconds)
                    with self._lock:
                        self._marks.append(current)
                        del self._marks[:-4]  # only the recent chunks can still be playing
                    if self._on_chunk is not None:
                        self._on_chunk(item)
                elif isinstance(item, _Pcm):
                    self._sink.write(item.data, item.rate)
                    with self._lock:
                        self._pending_s -= len(item.data) / (SAMPLE_WIDTH * item.rate)
                    if cancel.cancelled:  # stopped while this piece went in: it must not play
                        self._sink.stop()
                        return self._outcome(False, None)
                    if current is not None:
                        current.audio_s += len(item.data) / (SAMPLE_WIDTH * item.rate)
                elif isinstance(item, _Said):
                    if current is not None and current.plan.chunk.index == item.index:
                        with self._lock:  # these words are heard from the audio written next on
                            current.heard.append((current.audio_s, item.words))
                elif isinstance(item, _ChunkEnd):
                    if current is not None:
                        with self._lock:
                            current.end = self._sink.written_seconds
                    self._chunks_written += 1
                    slots.release()
                elif isinstance(item, _Failed):
                    self._sink.drain()  # let the audio that did arrive finish, then stop cleanly
                    resume = item.plan.chunk.start if item.plan is not None else self.start_offset
                    return self._outcome(False, item.error, resume)
                else:
                    if cancel.cancelled:
                        return self._outcome(False, None)
                    self._sink.drain()
                    return self._outcome(not cancel.cancelled, None)
        except AudioDeviceError as exc:
            return self._outcome(False, exc)

    def _outcome(self, finished: bool, error: SaysoError | None, resume: int | None = None) -> ReadOutcome:
        if resume is None:
            position = self._stopped_at or self.position()
            resume = position.sentence_start if position is not None else self.start_offset
        if finished:
            resume = 0
        return ReadOutcome(finished, error, resume, self._sink.underruns - self._underruns_at_start,
                           self._chunks_written)


def _span_of_word(plan: ChunkPlan, word: int) -> Span:
    """The sentence holding the chunk's ``word``-th word (0-based; past the end: the last sentence)."""
    running = 0
    for span in plan.sentences:
        running += len(span.text.split())
        if word < running:
            return span
    return plan.sentences[-1]


def _span_at(plan: ChunkPlan, share: float) -> Span:
    """The sentence at ``share`` (0..1) of the chunk's audio, by each sentence's share of characters."""
    target = share * plan.weight
    running = 0
    for span in plan.sentences:
        running += span.weight
        if running >= target:
            return span
    return plan.sentences[-1]

"""The text being read aloud, prepared once: what is spoken (Markdown and bare URLs stripped) and the way
back to what the user sees, cut into chunks for the speech engine and into sentences for highlighting,
sentence skipping and the system voice. All offsets a caller sees index the user's (original) text."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from desktop_app.core.chunking import FIRST_MAX, MAX_CHARS, iter_chunks, sentences
from desktop_app.core.models import SpeechChunk
from desktop_app.core.textprep import SpeakableText, speakable

# How far back "previous sentence" looks for the sentence before the current one (speakable characters).
_BACK_WINDOW = 4096
# Sentence-by-sentence reading (system voice) walks the text in chunks of this size.
_SENTENCE_CHUNK = 1024


@dataclass(frozen=True)
class Span:
    """A sentence: ``start``/``end`` in the user's text; ``weight`` = speakable characters (time share)."""

    start: int
    end: int
    text: str
    weight: int


@dataclass(frozen=True)
class ChunkPlan:
    """One request to the speech engine and the sentences it holds, in order."""

    chunk: SpeechChunk
    sentences: tuple[Span, ...]

    @property
    def weight(self) -> int:
        return sum(span.weight for span in self.sentences) or 1


@dataclass(frozen=True)
class ChunkSizes:
    first_max: int = FIRST_MAX
    max_chars: int = MAX_CHARS
    growth: float = 2.0


class PreparedText:
    """``original`` as the user sees it and its speakable form. Preparing 10 MB takes ~1.5 s: do it on a
    worker thread; everything after that is lazy (chunks and sentences are produced as they are needed)."""

    def __init__(self, original: str, *, strip_markdown: bool = True) -> None:
        self.original = original
        self.spoken: SpeakableText = speakable(original, strip_markdown=strip_markdown,
                                               strip_urls=strip_markdown)

    @property
    def empty(self) -> bool:
        return not self.spoken.text.strip()

    def __len__(self) -> int:
        return len(self.original)

    def _spoken_offset(self, offset: int) -> int:
        if offset <= 0:
            return 0
        if offset >= len(self.original):
            return len(self.spoken.text)
        return min(len(self.spoken.text), self.spoken.speakable_offset(offset))

    def chunks(self, offset: int = 0, sizes: ChunkSizes = ChunkSizes()) -> Iterator[ChunkPlan]:
        """Chunks to synthesise from ``offset`` (in the user's text) on, each with its sentences."""
        text = self.spoken.text
        position = self._spoken_offset(offset)
        for chunk in iter_chunks(self.spoken, first_max=sizes.first_max, max_chars=sizes.max_chars,
                                 growth=sizes.growth, start=position):
            found = text.find(chunk.text, position)
            spoken_start = found if found >= 0 else position
            position = spoken_start + len(chunk.text)
            yield ChunkPlan(chunk, self._sentences_in(chunk, spoken_start))

    def _sentences_in(self, chunk: SpeechChunk, spoken_start: int) -> tuple[Span, ...]:
        spans = []
        for sentence in sentences(chunk.text):
            start, end = self.spoken.original_span(spoken_start + sentence.spoken_start,
                                                   spoken_start + sentence.spoken_end)
            spans.append(Span(start, end, sentence.text, sentence.spoken_end - sentence.spoken_start))
        if not spans:  # a chunk is never empty, but keep the invariant "every chunk has a sentence"
            spans.append(Span(chunk.start, chunk.end, chunk.text, max(1, len(chunk.text))))
        return tuple(spans)

    def iter_sentences(self, offset: int = 0) -> Iterator[Span]:
        """Sentences from ``offset`` on, lazily (for engines that speak one sentence at a time)."""
        sizes = ChunkSizes(first_max=_SENTENCE_CHUNK, max_chars=_SENTENCE_CHUNK, growth=1.0)
        for plan in self.chunks(offset, sizes):
            yield from plan.sentences

    def next_sentence_start(self, current_end: int) -> int | None:
        """Start of the first sentence after the one ending at ``current_end``; None at the end."""
        return next((span.start for span in self.iter_sentences(current_end) if span.start >= current_end),
                    None)

    def previous_sentence_start(self, current_start: int) -> int:
        """Start of the sentence before the one starting at ``current_start`` (0 at the beginning)."""
        spoken_at = self._spoken_offset(current_start)
        window_start = max(0, spoken_at - _BACK_WINDOW)
        window = self.spoken.text[window_start:spoken_at]
        items = sentences(window)
        if not items:
            return 0
        # The window's first sentence may be cut off at its front; only trust it at the text's start.
        last = items[-1]
        if len(items) == 1 and window_start > 0:
            return current_start
        return self.spoken.original_offset(window_start + last.spoken_start)

"""Sentence boundaries and lazy chunking of speakable text for the speech APIs.

Sentences: a ``.`` ends a sentence only when whitespace (or the end) follows, so decimals (3.14), URLs and
file names stay whole; titles (Mr., Dr., e.g.) never end one; other abbreviations (etc., U.S., a.m., No.)
end one only when the next word does not start in lower case or with a digit; single capital initials
(J. R. R. Tolkien) never do. Ellipses end a sentence unless the next word starts in lower case. Closing
quotes and brackets stay with their sentence. CJK and other no-space terminators (。！？।؟) need no space
after them. A newline — which :mod:`textprep` puts between blocks — always ends a sentence.

Chunks (``iter_chunks``): the first is at most ``first_max`` characters so sound starts quickly; each later
one may be ``growth`` times longer, up to ``target`` (default ``max_chars``). A chunk holds whole sentences;
a sentence longer than the current size is sent whole when it fits ``max_chars`` (never for the first
chunk), otherwise it is split at the last clause mark (, ; : —), else the last space, and only text with
no space at all is cut mid-"word" (never inside a grapheme cluster). The input is read a window at a time,
so a 10 MB text yields its first chunk at once and memory stays bounded.

Typical use::

    spoken = iter_speakable(text)                    # lazy Markdown/URL stripping, offsets kept
    for chunk in iter_chunks(spoken):                # chunk.start/end index the user's text
        ...
    sentences(speakable(text)).index_at(cursor)     # sentence navigation and highlighting
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from desktop_app.core.models import SpeechChunk
from desktop_app.core.textprep import OffsetMap, SpeakableText

# Speakable text as one string, a prepared text, or pieces of either kind (not mixed).
ChunkSource = str | SpeakableText | Iterable[str | SpeakableText]

FIRST_MAX = 160
MAX_CHARS = 4096  # the speech endpoint's input limit
LOOKAHEAD = 64  # characters read past a candidate boundary to judge it (closing quotes, next word)
_WINDOW = 16_384
_CONTEXT = 64  # characters kept before the current chunk so abbreviation checks can look back

# ----- sentence boundaries ------------------------------------------------------------------------------

_CLOSERS = "\"'”’»)\\]}」』）》〉】〕"
_TERMINATOR = re.compile(f"(?P<term>[.!?…‼⁇⁈⁉。！？｡؟۔।॥]+)(?P<close>[{_CLOSERS}]*)|\\n")
_NO_SPACE_NEEDED = frozenset("。！？｡؟۔।॥")
_EXCLAIM_OR_ASK = frozenset("!?‼⁇⁈⁉")
_OPENERS = "\"'“‘«([{¿¡「『（"
_DOTTED_ACRONYM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_CLAUSE_MARK = re.compile(r"[,;:—–](?=\s)|[，、；：]")
_UP_TO_LAST_SPACE = re.compile(r".*\s", re.DOTALL)

# Never end a sentence: titles and Latin abbreviations that always lead into more words.
_NEVER_END = frozenset({
    "mr", "mrs", "ms", "mx", "dr", "prof", "st", "mt", "rev", "hon", "gen", "col", "capt", "lt", "sgt", "maj",
    "adm", "gov", "pres", "sen", "rep", "fr", "messrs", "mmes", "e.g", "i.e", "cf", "vs", "viz", "z.b", "d.h",
    "bzw",
})
# End a sentence only when the next word starts with a capital: abbreviations that also close sentences.
_SOFT_END = frozenset({
    "etc", "al", "inc", "ltd", "co", "corp", "llc", "jr", "sr", "no", "nos", "nr", "fig", "figs", "vol",
    "vols", "pp", "p", "ch", "sec", "ed", "eds", "est", "approx", "ca", "usw", "a.m", "p.m",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})


def iter_sentence_ends(text: str, start: int = 0, stop: int | None = None, *, final: bool = True
                       ) -> Iterator[int]:
    """Offsets just after the last visible character of each sentence whose end mark lies in [start, stop).

    ``final`` says ``text`` is complete; when False, a candidate too close to the end to judge is skipped.
    """
    stop = len(text) if stop is None else stop
    last = start
    for match in _TERMINATOR.finditer(text, start):
        if match.start() >= stop:
            return
        if match.group() == "\n":
            end = _rstrip_position(text, match.start(), last)
        elif _ends_sentence(text, match, final):
            end = match.end()
        else:
            continue
        if end > last:
            yield end
            last = end


def _ends_sentence(text: str, match: re.Match[str], final: bool) -> bool:
    term, end = match.group("term"), match.end()
    if any(char in _NO_SPACE_NEEDED for char in term):
        return True
    if end >= len(text):
        return final
    if not text[end].isspace():
        return False  # 3.14, example.com, "e.g.x"
    following = _next_visible(text, end)
    starts_lower = following is not None and following.islower()
    if any(char in _EXCLAIM_OR_ASK for char in term):
        return not (match.group("close") and starts_lower)  # '"Stop!" he said.'
    if "…" in term or len(term) > 1:
        return not starts_lower  # "Wait... what?" / "I waited... Then"
    return _period_ends_sentence(text, match.start(), following, final)


def _period_ends_sentence(text: str, dot: int, following: str | None, final: bool) -> bool:
    word_start = _word_start(text, dot)
    word = text[word_start:dot].lstrip(_OPENERS)
    lower = word.lower()
    if lower in _NEVER_END:
        return False
    if lower in _SOFT_END or _DOTTED_ACRONYM.fullmatch(word):
        if following is None:
            return final
        return not (following.islower() or following.isdigit())
    if len(word) == 1 and word.isalpha() and word.isupper():
        return False  # an initial: "J. Smith"
    return not (word.isdigit() and len(word) <= 3 and (word_start == 0 or text[word_start - 1] == "\n"))


def _word_start(text: str, end: int) -> int:
    start = end
    while start > 0 and end - start < 40 and not text[start - 1].isspace():
        start -= 1
    return start


def _next_visible(text: str, start: int) -> str | None:
    for position in range(start, min(len(text), start + LOOKAHEAD)):
        if not text[position].isspace():
            return text[position]
    return None


def _rstrip_position(text: str, end: int, floor: int) -> int:
    while end > floor and text[end - 1].isspace():
        end -= 1
    return end


def _lstrip_position(text: str, start: int) -> int:
    while start < len(text) and text[start].isspace():
        start += 1
    return start


# ----- sentences for highlighting and navigation -----------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    """A sentence: ``start``/``end`` index the user's text, ``spoken_start``/``spoken_end`` the speakable."""

    index: int
    text: str
    start: int
    end: int
    spoken_start: int
    spoken_end: int


class Sentences(Sequence[Sentence]):
    """The sentences of a text in order, with lookup by offset in the user's text."""

    def __init__(self, items: Sequence[Sentence]) -> None:
        self._items = tuple(items)
        self._ends = [item.end for item in self._items]

    @overload
    def __getitem__(self, index: int) -> Sentence: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Sentence]: ...
    def __getitem__(self, index: int | slice) -> Sentence | Sequence[Sentence]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def index_at(self, offset: int) -> int:
        """Sentence containing ``offset`` (or the next one after a gap, or the last one); -1 if none."""
        if not self._items:
            return -1
        return min(bisect_right(self._ends, offset), len(self._items) - 1)


def sentence_index_at(items: Sequence[Sentence], offset: int) -> int:
    """Index of the sentence at ``offset`` in the user's text (see :meth:`Sentences.index_at`)."""
    return (items if isinstance(items, Sentences) else Sentences(items)).index_at(offset)


def sentences(text: str | SpeakableText) -> Sentences:
    """All sentences of ``text``; for a :class:`SpeakableText`, offsets point into the original."""
    spoken = text.text if isinstance(text, SpeakableText) else text
    items: list[Sentence] = []
    start = _lstrip_position(spoken, 0)
    for end in itertools.chain(iter_sentence_ends(spoken, start), [_rstrip_position(spoken, len(spoken), 0)]):
        if end <= start:
            continue
        orig_start, orig_end = (
            text.original_span(start, end) if isinstance(text, SpeakableText) else (start, end)
        )
        items.append(Sentence(len(items), spoken[start:end], orig_start, orig_end, start, end))
        start = _lstrip_position(spoken, end)
    return Sentences(items)


# ----- lazy chunking ------------------------------------------------------------------------------------


class _Feed:
    """Windows of speakable text plus the way from speakable offsets back to the original text."""

    def __init__(self, windows: Iterator[str], offsets: OffsetMap | None, *, grows: bool) -> None:
        self.windows = windows
        self._offsets = offsets  # None: the speakable text is the original text
        self._grows = grows  # the map is extended piece by piece as windows are read

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        return (start, end) if self._offsets is None else self._offsets.original_span(start, end)

    def forget_before(self, offset: int) -> None:
        if self._grows and self._offsets is not None:
            self._offsets.drop_before(offset)


def _feed_for(source: ChunkSource, start: int) -> _Feed:
    if isinstance(source, str):
        return _Feed(_slices(source, start), None, grows=False)
    if isinstance(source, SpeakableText):
        return _Feed(_slices(source.text, start), source.offsets, grows=False)
    if start:
        raise ValueError("start is only supported for a str or SpeakableText source")
    pieces = iter(source)
    first = next(pieces, None)
    if first is None:
        return _Feed(iter(()), None, grows=False)
    rest: Iterator[str | SpeakableText] = itertools.chain([first], pieces)
    if isinstance(first, SpeakableText):
        offsets = OffsetMap()
        return _Feed(_speakable_pieces(rest, offsets), offsets, grows=True)
    return _Feed(_plain_pieces(rest), None, grows=False)


def _slices(text: str, start: int) -> Iterator[str]:
    for position in range(start, len(text), _WINDOW):
        yield text[position:position + _WINDOW]


def _plain_pieces(pieces: Iterator[str | SpeakableText]) -> Iterator[str]:
    for piece in pieces:
        if not isinstance(piece, str):
            raise TypeError("do not mix str and SpeakableText pieces")
        yield piece


def _speakable_pieces(pieces: Iterator[str | SpeakableText], offsets: OffsetMap) -> Iterator[str]:
    for piece in pieces:
        if not isinstance(piece, SpeakableText):
            raise TypeError("do not mix str and SpeakableText pieces")
        offsets.extend(piece.offsets)
        yield piece.text


@dataclass(frozen=True)
class _Sizes:
    first_max: int
    max_chars: int
    target: int
    growth: float

    def budget(self, index: int) -> int:
        """Preferred size of chunk ``index``: small first, then growing up to ``target``."""
        if index == 0:
            return self.first_max
        return int(min(self.target, self.first_max * self.growth ** min(index, 64)))

    def stretch(self, index: int) -> int:
        """How long a single sentence may be before it must be split."""
        return self.first_max if index == 0 else self.max_chars


class _Chunker:
    """Cuts a stream of speakable text into chunks, holding only a window of it."""

    def __init__(self, feed: _Feed, sizes: _Sizes, start: int) -> None:
        self._feed = feed
        self._sizes = sizes
        self._buffer = ""
        self._base = start  # speakable offset of _buffer[0]
        self._position = 0  # index in _buffer where the next chunk starts
        self._exhausted = False

    def __iter__(self) -> Iterator[SpeechChunk]:
        for index in itertools.count():
            self._compact()
            if not self._skip_whitespace():
                return
            cut = self._find_cut(self._sizes.budget(index), self._sizes.stretch(index))
            yield self._take(index, cut)

    def _find_cut(self, budget: int, stretch: int) -> int:
        self._fill(budget + LOOKAHEAD)
        cut = self._last_sentence_end_within(budget)
        if cut is None and stretch > budget:
            self._fill(stretch + LOOKAHEAD)
            cut = self._first_sentence_end_within(stretch)
        return cut if cut is not None else self._split_point(stretch)

    def _last_sentence_end_within(self, limit: int) -> int | None:
        text, start = self._buffer, self._position
        tail = self._tail_if_final()
        if tail is not None and tail - start <= limit:
            return tail
        best = None
        for end in iter_sentence_ends(text, start, start + limit + 1, final=self._exhausted):
            if end - start > limit:
                break
            best = end
        return best

    def _first_sentence_end_within(self, limit: int) -> int | None:
        text, start = self._buffer, self._position
        end = next(iter_sentence_ends(text, start, start + limit + 1, final=self._exhausted), None)
        if end is not None and end - start <= limit:
            return end
        tail = self._tail_if_final()
        return tail if tail is not None and tail - start <= limit else None

    def _split_point(self, limit: int) -> int:
        """Where to cut a sentence longer than ``limit``: clause mark, else space, else a hard cut."""
        text, start = self._buffer, self._position
        stop = start + limit
        clause_ends = [m.end() for m in _CLAUSE_MARK.finditer(text, start, stop + 1) if m.end() <= stop]
        if clause_ends and clause_ends[-1] - start >= limit // 3:
            return clause_ends[-1]
        last_space = _UP_TO_LAST_SPACE.match(text, start, stop + 1)
        if last_space is not None:
            end = _rstrip_position(text, last_space.end() - 1, start)
            if end > start:
                return end
        if clause_ends:
            return clause_ends[-1]
        return _grapheme_boundary(text, start, stop)

    def _take(self, index: int, cut: int) -> SpeechChunk:
        start = self._position
        self._position = cut
        orig_start, orig_end = self._feed.original_span(self._base + start, self._base + cut)
        return SpeechChunk(index, self._buffer[start:cut], orig_start, orig_end)

    def _tail_if_final(self) -> int | None:
        if not self._exhausted:
            return None
        return _rstrip_position(self._buffer, len(self._buffer), self._position)

    def _skip_whitespace(self) -> bool:
        """Move past whitespace before the next chunk; False when no text is left."""
        while True:
            self._position = _lstrip_position(self._buffer, self._position)
            if self._position < len(self._buffer):
                return True
            if not self._read_window():
                return False

    def _fill(self, needed: int) -> None:
        while len(self._buffer) - self._position < needed and self._read_window():
            pass

    def _read_window(self) -> bool:
        window = next(self._feed.windows, None)
        if window is None:
            self._exhausted = True
            return False
        self._buffer += window
        return True

    def _compact(self) -> None:
        drop = self._position - _CONTEXT
        if drop > 0:
            self._buffer = self._buffer[drop:]
            self._base += drop
            self._position -= drop
            self._feed.forget_before(self._base)


def iter_chunks(source: ChunkSource, *,
                first_max: int = FIRST_MAX, max_chars: int = MAX_CHARS, target: int | None = None,
                growth: float = 2.0, start: int = 0) -> Iterator[SpeechChunk]:
    """Chunks to synthesise, in order, produced lazily.

    ``source`` is speakable text: a :class:`SpeakableText` (offsets map back to the original), the pieces
    from :func:`~desktop_app.core.textprep.iter_speakable`, or plain strings (offsets index their
    concatenation). ``start`` (speakable offset, str/SpeakableText only) begins reading mid-text, e.g. at
    ``Sentence.spoken_start`` after "next sentence"; the first chunk there is short again.
    """
    if not 1 <= first_max <= max_chars:
        raise ValueError(f"need 1 <= first_max <= max_chars, got {first_max} and {max_chars}")
    resolved_target = max_chars if target is None else target
    if not first_max <= resolved_target <= max_chars:
        raise ValueError(f"target must lie between first_max and max_chars, got {resolved_target}")
    if growth < 1:
        raise ValueError("growth must be at least 1")
    sizes = _Sizes(first_max, max_chars, resolved_target, growth)
    return iter(_Chunker(_feed_for(source, start), sizes, start))


# ----- grapheme-safe hard cuts --------------------------------------------------------------------------

_ZWJ = "\u200d"


def _grapheme_boundary(text: str, start: int, stop: int) -> int:
    """``stop`` moved back so the cut does not fall inside a grapheme cluster (emoji, accents)."""
    position = stop
    while position > start + 1 and _joins_previous(text, position):
        position -= 1
    return stop if _joins_previous(text, position) else position


def _joins_previous(text: str, position: int) -> bool:
    char, previous = text[position], text[position - 1]
    if previous == _ZWJ or char == _ZWJ:
        return True
    code = ord(char)
    if 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:
        return True  # variation selectors, skin tones, emoji tag sequences
    if unicodedata.category(char) in ("Mn", "Mc", "Me"):
        return True
    return _is_regional_indicator(char) and _regional_indicators_before(text, position) % 2 == 1


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _regional_indicators_before(text: str, position: int) -> int:
    count = 0
    while position - count > 0 and _is_regional_indicator(text[position - count - 1]):
        count += 1
    return count

"""Turn the text the user sees into text worth speaking, and remember where each spoken character came from.

``speakable(text)`` strips Markdown syntax, HTML tags, bare URLs, control characters and broken surrogates,
and collapses whitespace. The user's text is never changed: a :class:`SpeakableText` carries an
:class:`OffsetMap` that takes any offset of the spoken text back to the original, so the UI can highlight
the sentence being read in the text on screen.

Choices (documented because a listener hears them):

* **Code fences** are not read: the whole block becomes the words ``code_block_text`` ("Code block.") so the
  listener knows something was skipped. ``read_code=True`` reads the code lines verbatim instead; an empty
  ``code_block_text`` skips blocks silently. Inline code keeps its text, only the backticks go.
* **Bare URLs** disappear (``url_text=""``); pass ``url_text="link"`` to say a word instead. Link text of
  ``[text](url)`` is kept, the URL dropped; images keep their alt text.
* **Ordered list numbers** are dropped like bullets: "1. Do this" is read "Do this".
* **Structure**: every block (paragraph, heading, list item, table row, code placeholder) ends with a newline
  in the speakable text, and the chunker treats a newline as the end of a sentence. Lines of one paragraph
  are joined with a space (Markdown semantics), so hard-wrapped plain text reads as flowing sentences.
* **Tables**: pipes become ", " between cells; the ``|---|`` separator row disappears.

``iter_speakable(source)`` does the same work lazily, a window at a time, for huge texts or text that is
still arriving (an iterable of strings): it yields :class:`SpeakableText` pieces whose offsets are absolute
in the original text. Inline Markdown that spans a line break, or a line longer than ``LONG_LINE``
characters, is cut at a whitespace and may keep some syntax — it degrades, it never loses words.
"""

from __future__ import annotations

import codecs
import html
import re
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# Input is handled in windows of this many characters; a line longer than LONG_LINE is processed in parts.
WINDOW = 16_384
LONG_LINE = 16_384

# Characters with no sound and no width: C0/C1 controls (except the whitespace ones), soft hyphen,
# zero-width space, bidi marks and embeddings, BOM, object/replacement characters, noncharacters,
# private use and lone surrogates (from bytes decoded with surrogateescape). ZWJ/ZWNJ stay: emoji
# sequences and Persian words need them.
_BAD_CHARS = (
    "\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\ufff9-\ufffd\ufffe\uffff\ufdd0-\ufdef\ue000-\uf8ff\ud800-\udfff"
)
# A run of whitespace/bad characters that is not simply one ASCII space: it has to be rewritten.
# (The leading lookahead lets the regex engine skip ordinary characters quickly.)
_IRREGULAR_GAP = re.compile(
    f"(?=[\\s{_BAD_CHARS}])[\\s{_BAD_CHARS}]*(?:[^\\S ]|[{_BAD_CHARS}]|  )[\\s{_BAD_CHARS}]*"
)
_HAS_SPACE = re.compile(r"\s")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_UP_TO_LAST_SPACE = re.compile(r".*\s", re.DOTALL)
# A space before these is dropped when text was removed in between ("see <url>." → "see.").
_NO_SPACE_BEFORE = frozenset(".,;:!?)]}»”’")


class OffsetMap:
    """Run-length map from offsets in the speakable text to offsets in the original text.

    Each run starts at a speakable offset and lasts until the next run. A *copy* run maps character ``i``
    to ``orig_start + (i - run_start)``; a *replacement* run (the word "link" for a URL, "Code block." for
    a fence) maps each of its characters to the whole original span it replaced. There is one run per edit,
    not per character, so the map of a 10 MB text stays small. Original offsets never decrease.
    """

    __slots__ = ("_copy", "_length", "_orig", "_orig_end", "_spk")

    def __init__(self) -> None:
        self._spk = array("q")
        self._orig = array("q")
        self._orig_end = array("q")
        self._copy = array("b")
        self._length = 0

    @property
    def length(self) -> int:
        """How many speakable characters the map covers."""
        return self._length

    @property
    def runs(self) -> int:
        return len(self._spk)

    def add_copy(self, orig_start: int, length: int) -> None:
        """The next ``length`` speakable characters are the original ones from ``orig_start`` on."""
        if length <= 0:
            return
        if self._spk and self._copy[-1] and self._orig_end[-1] == orig_start:
            self._orig_end[-1] = orig_start + length
        else:
            self._append(orig_start, orig_start + length, copy=True)
        self._length += length

    def add_replacement(self, length: int, orig_start: int, orig_end: int) -> None:
        """The next ``length`` speakable characters stand for the original span [orig_start, orig_end)."""
        if length <= 0:
            return
        self._append(orig_start, orig_end, copy=False)
        self._length += length

    def extend(self, other: OffsetMap) -> None:
        """Append ``other``'s runs; its speakable offsets start where this map ends."""
        for run in range(other.runs):
            run_length = other._run_length(run)
            if other._copy[run]:
                self.add_copy(other._orig[run], run_length)
            else:
                self.add_replacement(run_length, other._orig[run], other._orig_end[run])

    def drop_before(self, spk_offset: int) -> None:
        """Forget runs that end before ``spk_offset`` (a lazy reader never looks back that far)."""
        keep_from = bisect_right(self._spk, spk_offset) - 1
        if keep_from > 0:
            for column in (self._spk, self._orig, self._orig_end, self._copy):
                del column[:keep_from]

    def original_start(self, spk_offset: int) -> int:
        """Original offset where speakable character ``spk_offset`` comes from."""
        run = self._run_at(spk_offset)
        if self._copy[run]:
            return self._orig[run] + spk_offset - self._spk[run]
        return self._orig[run]

    def original_end(self, spk_offset: int) -> int:
        """Original offset just after the source of speakable character ``spk_offset``."""
        run = self._run_at(spk_offset)
        if self._copy[run]:
            return self._orig[run] + spk_offset - self._spk[run] + 1
        return self._orig_end[run]

    def copied(self, spk_offset: int) -> bool:
        """Whether speakable character ``spk_offset`` is an original character (not replacement text)."""
        return bool(self._copy[self._run_at(spk_offset)])

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original span covering speakable characters [start, end)."""
        if end <= start:
            point = self.original_start(start) if start < self._length else self._original_length()
            return point, point
        return self.original_start(start), self.original_end(end - 1)

    def speakable_offset(self, orig_offset: int) -> int:
        """First speakable offset whose source is at or after ``orig_offset`` (for "read from here")."""
        run = bisect_right(self._orig, orig_offset) - 1
        if run < 0:
            return self._spk[0] if self._spk else 0
        if orig_offset < self._orig_end[run]:
            inside = orig_offset - self._orig[run] if self._copy[run] else 0
            return self._spk[run] + inside
        return self._spk[run + 1] if run + 1 < len(self._spk) else self._length

    def _append(self, orig_start: int, orig_end: int, *, copy: bool) -> None:
        self._spk.append(self._length)
        self._orig.append(orig_start)
        self._orig_end.append(orig_end)
        self._copy.append(1 if copy else 0)

    def _run_length(self, run: int) -> int:
        next_start = self._spk[run + 1] if run + 1 < len(self._spk) else self._length
        return next_start - self._spk[run]

    def _run_at(self, spk_offset: int) -> int:
        if not self._spk or not self._spk[0] <= spk_offset < self._length:
            raise IndexError(f"speakable offset {spk_offset} outside the map")
        return bisect_right(self._spk, spk_offset) - 1

    def _original_length(self) -> int:
        return self._orig_end[-1] if self._spk else 0


@dataclass(frozen=True, eq=False)
class SpeakableText:
    """Text ready for a speech engine plus the way back to the text the user sees."""

    text: str
    offsets: OffsetMap

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        return self.offsets.original_span(start, end)

    def original_offset(self, spk_offset: int) -> int:
        return self.offsets.original_start(spk_offset)

    def speakable_offset(self, orig_offset: int) -> int:
        return self.offsets.speakable_offset(orig_offset)


@dataclass(frozen=True)
class PrepOptions:
    strip_markdown: bool = True
    strip_urls: bool = True
    url_text: str = ""
    read_code: bool = False
    code_block_text: str = "Code block."


def speakable(text: str, *, strip_markdown: bool = True, strip_urls: bool = True, url_text: str = "",
              read_code: bool = False, code_block_text: str = "Code block.") -> SpeakableText:
    """The whole of ``text`` prepared for speaking (see the module docstring for what is removed)."""
    options = PrepOptions(strip_markdown, strip_urls, url_text, read_code, code_block_text)
    pieces = list(_prepare(_windows(text), options, flush_every_window=False))
    return pieces[0] if pieces else SpeakableText("", OffsetMap())


def iter_speakable(source: str | Iterable[str], *, strip_markdown: bool = True, strip_urls: bool = True,
                   url_text: str = "", read_code: bool = False,
                   code_block_text: str = "Code block.") -> Iterator[SpeakableText]:
    """Lazily prepare ``source`` (a string or strings as they arrive) in pieces with absolute offsets."""
    options = PrepOptions(strip_markdown, strip_urls, url_text, read_code, code_block_text)
    return _prepare(_windows(source), options, flush_every_window=True)


def decode_text(data: bytes) -> str:
    """Bytes of unknown origin as text: UTF-8/UTF-16 by BOM, else UTF-8 with bad bytes replaced.

    Replacement characters and control characters are later removed by :func:`speakable`.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8", errors="replace")


# ----- reading the source line by line ----------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    text: str
    base: int  # original offset of text[0]
    continues: bool  # a later part of a line longer than LONG_LINE: no block syntax at its start
    ends_line: bool  # a line break follows at base + len(text)


def _windows(source: str | Iterable[str]) -> Iterator[str]:
    if isinstance(source, str):
        for start in range(0, len(source), WINDOW):
            yield source[start:start + WINDOW]
        return
    for piece in source:
        if not isinstance(piece, str):
            raise TypeError(f"expected str pieces, got {type(piece).__name__}")
        if piece:
            yield piece


def _lines(windows: Iterable[str]) -> Iterator[_Line | None]:
    """Lines of the source; ``None`` marks the end of an input window (a good moment to hand out text)."""
    carry, carry_base, continuing = "", 0, False
    for window in windows:
        carry += window
        consumed = 0
        for match in _LINE_BREAK.finditer(carry):
            if match.group() == "\r" and match.end() == len(carry):
                break  # maybe the first half of "\r\n": wait for the next window
            yield _Line(carry[consumed:match.start()], carry_base + consumed, continuing, True)
            continuing, consumed = False, match.end()
        carry, carry_base = carry[consumed:], carry_base + consumed
        while len(carry) > LONG_LINE:
            cut = _soft_cut(carry, LONG_LINE)
            yield _Line(carry[:cut], carry_base, continuing, False)
            carry, carry_base, continuing = carry[cut:], carry_base + cut, True
        yield None
    if carry.endswith("\r"):
        yield _Line(carry[:-1], carry_base, continuing, True)
    elif carry:
        yield _Line(carry, carry_base, continuing, False)


def _soft_cut(text: str, limit: int) -> int:
    """Cut just after the last whitespace before ``limit``, or at ``limit`` when there is none."""
    match = _UP_TO_LAST_SPACE.match(text, 0, limit)
    return match.end() if match else limit


# ----- writing speakable text ----------------------------------------------------------------------------


class _Emitter:
    """Collects speakable text and its offset map, collapsing whitespace and dropping invisible characters.

    Whitespace is never written at once: a space or block break is *pending* until real text follows, so
    removed syntax never leaves double spaces, and text never starts or ends with whitespace.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._map = OffsetMap()
        self._pending_space: int | None = None
        self._pending_break: int | None = None
        self._pending_separator: tuple[str, int, int] | None = None
        self._wrote_any = False
        self.written = 0  # speakable characters written so far (all pieces)

    def text(self, source: str, start: int, end: int, base: int) -> None:
        """Copy ``source[start:end]`` (original offset of source[0] is ``base``), cleaned."""
        position = start
        for gap in _IRREGULAR_GAP.finditer(source, start, end):
            self._copy_simple(source, position, gap.start(), base)
            if _HAS_SPACE.search(gap.group()):
                self.space(base + gap.start())
            position = gap.end()
        self._copy_simple(source, position, end, base)

    def replace(self, spoken: str, orig_start: int, orig_end: int) -> None:
        """Say ``spoken`` in place of the original span."""
        if not spoken:
            return
        self._flush_pending(spoken[0])
        self._write(spoken)
        self._map.add_replacement(len(spoken), orig_start, orig_end)

    def separator(self, spoken: str, orig_start: int, orig_end: int) -> None:
        """Write ``spoken`` (", " between table cells) unless nothing precedes it in this block."""
        if self._pending_break is None and self._wrote_any:
            self._pending_separator = (spoken, orig_start, orig_end)
            self._pending_space = None

    def space(self, orig_offset: int) -> None:
        if self._pending_space is None and self._pending_break is None and self._pending_separator is None:
            self._pending_space = orig_offset

    def end_block(self, orig_offset: int) -> None:
        if self._pending_break is None:
            self._pending_break = self._pending_space if self._pending_space is not None else orig_offset
        self._pending_space = self._pending_separator = None

    def take(self) -> SpeakableText | None:
        """Hand out what was written since the last call (offsets relative to this piece)."""
        if not self._parts:
            return None
        piece = SpeakableText("".join(self._parts), self._map)
        self._parts, self._map = [], OffsetMap()
        return piece

    def _copy_simple(self, source: str, start: int, end: int, base: int) -> None:
        """Copy a slice whose only whitespace is single ASCII spaces between other characters."""
        if start >= end:
            return
        if source[start] == " ":
            self.space(base + start)
            start += 1
        trailing_space = end > start and source[end - 1] == " "
        if trailing_space:
            end -= 1
        if start < end:
            self._flush_pending(source[start])
            self._write(source[start:end])
            self._map.add_copy(base + start, end - start)
        if trailing_space:
            self.space(base + end)

    def _flush_pending(self, next_char: str) -> None:
        if self._wrote_any:
            if self._pending_break is not None:
                self._write("\n")
                self._map.add_copy(self._pending_break, 1)
            elif self._pending_separator is not None:
                spoken, orig_start, orig_end = self._pending_separator
                self._write(spoken)
                self._map.add_replacement(len(spoken), orig_start, orig_end)
            elif self._pending_space is not None and next_char not in _NO_SPACE_BEFORE:
                self._write(" ")
                self._map.add_copy(self._pending_space, 1)
        self._pending_space = self._pending_break = self._pending_separator = None

    def _write(self, text: str) -> None:
        self._parts.append(text)
        self.written += len(text)
        self._wrote_any = True


# ----- Markdown ------------------------------------------------------------------------------------------

_QUOTE_PREFIX = re.compile(r" {0,3}>(?: {0,3}>)* ?")
_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})")
_RULE = re.compile(r" {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|=+[ \t]*)$")
_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]+|$)")
_HEADING_CLOSE = re.compile(r"[ \t]+#+[ \t]*$")
_BULLET = re.compile(r"[ \t]*(?:[-*+•‣◦]|\d{1,3}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?")
_REFERENCE_DEFINITION = re.compile(r" {0,3}\[[^\]\n]+\]:[ \t]*\S+")
_TABLE_SEPARATOR = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_TABLE_PIPE = re.compile(r"(?<!\\)\|")

_URL_BODY = r"(?:https?://|ftp://|www\.)[^\s<>\"'`\[\]{}|\\^]+"
_URL = re.compile(_URL_BODY, re.IGNORECASE)
_SCHEME = re.compile(r"(?:https?|ftp|mailto):", re.IGNORECASE)
_LINK_TARGET = r"\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"\n]*\")?\s*\)"
_HTML_TAG_NAMES = (
    "a|abbr|b|bdi|bdo|big|blockquote|body|br|caption|center|cite|code|col|colgroup|dd|del|details|div|dl|dt|"
    "em|figcaption|figure|font|footer|h[1-6]|head|header|hr|html|i|img|ins|kbd|li|link|main|mark|meta|nav|"
    "ol|p|pre|q|s|samp|section|small|span|strike|strong|sub|summary|sup|table|tbody|td|tfoot|th|thead|"
    "title|tr|tt|u|ul|var|wbr"
)
# Only valued attributes (href="…"), so prose like "a<b and c>d" is not taken for a tag.
_HTML_ATTRIBUTES = r"""(?:\s+[A-Za-z_:][-\w:.]*\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))*"""
_INLINE_TAGS = frozenset({
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "del", "em", "font", "i", "ins", "kbd", "mark",
    "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "tt", "u", "var", "wbr",
})
_INLINE = re.compile(
    # The leading lookahead lets the engine skip plain prose quickly; the alternatives do the work.
    rf"""
    (?=[`!\[<&\\*_~]|(?:https?|ftp)://|www\.)
    (?:
    (?P<code>(?<!`)(?P<ticks>`+)(?!`)(?P<code_body>.+?)(?<!`)(?P=ticks)(?!`))
  | (?P<image>!\[(?P<alt>[^\]\n]*)\]{_LINK_TARGET})
  | (?P<link>\[(?P<link_text>[^\]\n]*)\]{_LINK_TARGET})
  | (?P<reflink>\[(?P<ref_text>[^\]\n^][^\]\n]*)\]\[[^\]\n]*\])
  | (?P<footnote>\[\^[^\]\s]+\])
  | (?P<autolink><(?P<auto_target>(?:https?|ftp|mailto):[^>\s]+|[^>\s@]+@[^>\s@]+)>)
  | (?P<comment><!--.*?-->)
  | (?P<tag></?(?P<tag_name>{_HTML_TAG_NAMES}){_HTML_ATTRIBUTES}\s*/?>)
  | (?P<url>{_URL_BODY})
  | (?P<entity>&(?:[A-Za-z][A-Za-z0-9]{{1,31}}|\#[0-9]{{1,7}}|\#[xX][0-9A-Fa-f]{{1,6}});)
  | (?P<escape>\\[!-/:-@\[-`{{-~])
  | (?P<emphasis>\*+|_+|~~)
    )
    """,
    re.VERBOSE | re.IGNORECASE,
)
_URL_TRAILING_PUNCTUATION = ".,;:!?'\"”’»"


class _Kind:
    BLANK = "blank"
    FENCE = "fence"
    RULE = "rule"
    HEADING = "heading"
    REFERENCE = "reference"
    TABLE_SEPARATOR = "table-separator"
    TABLE = "table"
    BULLET = "bullet"
    PARAGRAPH = "paragraph"


_CLOSES_BLOCK = frozenset(
    {_Kind.FENCE, _Kind.RULE, _Kind.HEADING, _Kind.REFERENCE, _Kind.TABLE_SEPARATOR, _Kind.TABLE}
)
_DROPPED_WHEN_STRIPPING = frozenset({_Kind.RULE, _Kind.REFERENCE, _Kind.TABLE_SEPARATOR})


@dataclass
class _Fence:
    marker: str
    start: int  # original offset of the opening fence line


class _Processor:
    """Feeds lines into an emitter, keeping the state that spans lines (code fences, quotes)."""

    def __init__(self, options: PrepOptions) -> None:
        self.options = options
        self.out = _Emitter()
        self._fence: _Fence | None = None
        self._in_quote = False

    def feed(self, line: _Line) -> None:
        end_of_line = line.base + len(line.text)
        if self._fence is not None:
            self._code_line(line)
        elif line.continues:
            self._inline(line.text, 0, len(line.text), line.base)
        else:
            self._block_line(line)
            return
        if line.ends_line and self._fence is None:
            self.out.space(end_of_line)

    def finish(self, end_offset: int) -> None:
        if self._fence is not None:  # an unclosed fence runs to the end of the text
            self._close_fence(end_offset)

    # -- blocks --
    def _block_line(self, line: _Line) -> None:
        text, base = line.text, line.base
        quote = _QUOTE_PREFIX.match(text)
        if bool(quote) != self._in_quote:
            self.out.end_block(base - 1)
            self._in_quote = bool(quote)
        kind, content_start, content_end = _classify(text, quote.end() if quote else 0)
        if kind == _Kind.BLANK:
            self.out.end_block(base)
            return
        if kind != _Kind.PARAGRAPH:
            self.out.end_block(base - 1)
        if kind == _Kind.FENCE and self.options.strip_markdown:
            self._fence = _Fence(text[content_start:content_end], base)
            return
        if not self.options.strip_markdown:
            self._inline(text, 0, len(text), base)
        elif kind == _Kind.TABLE:
            self._table_row(text, content_start, content_end, base)
        elif kind not in _DROPPED_WHEN_STRIPPING:
            self._inline(text, content_start, content_end, base)
        end_of_line = base + len(text)
        if kind in _CLOSES_BLOCK:
            self.out.end_block(end_of_line)
        elif line.ends_line:
            self.out.space(end_of_line)

    def _code_line(self, line: _Line) -> None:
        assert self._fence is not None
        text = line.text
        if not line.continues and _closes_fence(text, self._fence.marker):
            self._close_fence(line.base + len(text))
            return
        if self.options.read_code:
            if not line.continues:
                self.out.end_block(line.base - 1)
            self.out.text(text, 0, len(text), line.base)

    def _close_fence(self, end_offset: int) -> None:
        assert self._fence is not None
        start, self._fence = self._fence.start, None
        if self.options.read_code:
            self.out.end_block(end_offset)
            return
        self.out.end_block(start - 1)
        self.out.replace(self.options.code_block_text, start, end_offset)
        self.out.end_block(end_offset)

    def _table_row(self, text: str, start: int, end: int, base: int) -> None:
        cell_start = start
        for pipe in [*_TABLE_PIPE.finditer(text, start, end), None]:
            cell_end = pipe.start() if pipe else end
            if text[cell_start:cell_end].strip():
                self.out.separator(", ", base + cell_start - 1, base + cell_start)
                self._inline(text, cell_start, cell_end, base)
            cell_start = pipe.end() if pipe else end

    # -- inline --
    def _inline(self, text: str, start: int, end: int, base: int) -> None:
        if self.options.strip_markdown:
            self._markdown_inline(text, start, end, base)
        elif self.options.strip_urls:
            self._urls_only(text, start, end, base)
        else:
            self.out.text(text, start, end, base)

    def _urls_only(self, text: str, start: int, end: int, base: int) -> None:
        position = start
        while (match := _URL.search(text, position, end)) is not None:
            url_end = _trim_url(text, match.start(), match.end())
            self.out.text(text, position, match.start(), base)
            self._url(text, match.start(), url_end, base)
            position = url_end
        self.out.text(text, position, end, base)

    def _markdown_inline(self, text: str, start: int, end: int, base: int) -> None:
        position = start
        while (match := _INLINE.search(text, position, end)) is not None:
            self.out.text(text, position, match.start(), base)
            position = self._inline_token(text, match, start, end, base)
        self.out.text(text, position, end, base)

    def _inline_token(self, text: str, match: re.Match[str], lo: int, hi: int, base: int) -> int:
        """Speak one Markdown/HTML token; returns where the scan goes on."""
        kind = match.lastgroup  # the outermost named group: inner groups close before it
        s, e = match.start(), match.end()
        if kind == "code":
            body_start, body_end = _trim_one_space(text, match.start("code_body"), match.end("code_body"))
            self.out.text(text, body_start, body_end, base)
        elif kind in ("image", "link", "reflink"):
            group = {"image": "alt", "link": "link_text", "reflink": "ref_text"}[kind]
            self._link_text(text, match.start(group), match.end(group), base)
        elif kind == "autolink":
            target_start, target_end = match.span("auto_target")
            if _SCHEME.match(match.group("auto_target")):
                self._url(text, target_start, target_end, base)
            else:  # <name@example.com>: an address is worth reading
                self.out.text(text, target_start, target_end, base)
        elif kind == "tag":
            if match.group("tag_name").lower() not in _INLINE_TAGS:
                self.out.space(base + s)
        elif kind == "url":
            e = _trim_url(text, s, e)
            self._url(text, s, e, base)
        elif kind == "entity":
            self._entity(match.group(), base + s, base + e)
        elif kind == "escape":
            self.out.text(text, s + 1, e, base)
        elif kind == "emphasis" and not _is_emphasis_marker(text, s, e, lo, hi):
            self.out.text(text, s, e, base)
        # comment, footnote and emphasis markers are silent
        return e

    def _link_text(self, text: str, start: int, end: int, base: int) -> None:
        if _URL.fullmatch(text, start, end):
            self._url(text, start, end, base)
        else:
            self._markdown_inline(text, start, end, base)

    def _url(self, text: str, start: int, end: int, base: int) -> None:
        if not self.options.strip_urls:
            self.out.text(text, start, end, base)
        elif self.options.url_text:
            self.out.replace(self.options.url_text, base + start, base + end)

    def _entity(self, entity: str, orig_start: int, orig_end: int) -> None:
        value = html.unescape(entity)
        if value == entity:
            self.out.text(entity, 0, len(entity), orig_start)
        elif value.isspace():
            self.out.space(orig_start)
        else:
            self.out.replace(value, orig_start, orig_end)


def _classify(text: str, start: int) -> tuple[str, int, int]:
    """Block kind of a line (after any quote prefix) and where its speakable content lies."""
    end = len(text)
    if not text[start:].strip():
        return _Kind.BLANK, start, end
    if fence := _FENCE_OPEN.match(text, start):
        return _Kind.FENCE, fence.start(1), fence.end(1)
    if _RULE.match(text, start):
        return _Kind.RULE, start, end
    if heading := _HEADING.match(text, start):
        close = _HEADING_CLOSE.search(text, heading.end())
        return _Kind.HEADING, heading.end(), close.start() if close else end
    if _REFERENCE_DEFINITION.match(text, start):
        return _Kind.REFERENCE, start, end
    stripped = text[start:].strip()
    if stripped.startswith("|") or (stripped.endswith("|") and stripped.count("|") >= 2):
        if _TABLE_SEPARATOR.match(text, start):
            return _Kind.TABLE_SEPARATOR, start, end
        row_start = text.index("|", start) + 1 if stripped.startswith("|") else start
        row_end = text.rindex("|") if stripped.endswith("|") else end
        return _Kind.TABLE, row_start, max(row_start, row_end)
    if bullet := _BULLET.match(text, start):
        return _Kind.BULLET, bullet.end(), end
    return _Kind.PARAGRAPH, start, end


def _closes_fence(text: str, marker: str) -> bool:
    stripped = text.strip()
    return (
        len(text) - len(text.lstrip(" ")) <= 3
        and len(stripped) >= len(marker)
        and set(stripped) == {marker[0]}
    )


def _trim_url(text: str, start: int, end: int) -> int:
    """Leave trailing punctuation and an unbalanced ")" out of a bare URL."""
    while end > start:
        last = text[end - 1]
        unbalanced = last == ")" and text.count("(", start, end) < text.count(")", start, end)
        if last not in _URL_TRAILING_PUNCTUATION and not unbalanced:
            break
        end -= 1
    return end


def _trim_one_space(text: str, start: int, end: int) -> tuple[int, int]:
    if end - start >= 2 and text[start] == " " and text[end - 1] == " ":
        return start + 1, end - 1
    return start, end


def _is_emphasis_marker(text: str, start: int, end: int, lo: int, hi: int) -> bool:
    """Whether a run of * _ ~ is Markdown emphasis (drop it) rather than a real character (keep it)."""
    before = text[start - 1] if start > lo else " "
    after = text[end] if end < hi else " "
    if text[start] == "~":
        return True
    if before.isspace() and after.isspace():
        return False  # "5 * 3", "a _ b"
    if text[start] == "_":
        return not (before.isalnum() and after.isalnum())  # snake_case stays
    return not (before.isdigit() and after.isdigit())  # 2*3 stays


def _prepare(windows: Iterable[str], options: PrepOptions, *, flush_every_window: bool
             ) -> Iterator[SpeakableText]:
    processor = _Processor(options)
    end_offset = 0
    for line in _lines(windows):
        if line is None:
            if flush_every_window and (piece := processor.out.take()) is not None:
                yield piece
            continue
        processor.feed(line)
        end_offset = line.base + len(line.text)
    processor.finish(end_offset)
    if (piece := processor.out.take()) is not None:
        yield piece

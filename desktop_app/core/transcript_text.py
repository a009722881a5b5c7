"""Post-processing of dictated text: silence hallucinations, whitespace, user replacements, joining parts.

Whisper-style models answer silence or noise with stock phrases from their training subtitles ("Thank you
for watching.", "Subtitles by the Amara.org community"). :func:`is_silence_hallucination` recognises a
transcript that consists *only* of such phrases (in any case, with any punctuation, possibly repeated);
the same words inside real dictation are kept. Bare "Thank you." / "Thanks." / "Okay." are deliberately
not in the list: people dictate them as whole messages, and the recorder's no-speech check catches most
silent recordings before they are uploaded. Callers can pass their own phrase set.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

DEFAULT_SILENCE_HALLUCINATIONS: frozenset[str] = frozenset({
    "thank you for watching", "thanks for watching", "thank you so much for watching",
    "thank you for watching and please subscribe", "thanks for watching and please subscribe",
    "please subscribe", "like and subscribe", "please like and subscribe", "subscribe to my channel",
    "see you next time", "see you in the next video", "ill see you next time",
    "ill see you in the next video",
    "subtitles by the amaraorg community", "subtitles by the amara org community", "subtitles by",
    "subtitles made by the community of amaraorg", "transcription by castingwords", "transcribed by",
    "translated by", "captions by", "amaraorg",
    "you", "bye", "bye bye", "goodbye",
    "blank audio", "blank_audio", "silence", "no speech", "music", "applause", "laughter", "inaudible",
    "sous titres réalisés para la communauté damaraorg", "sous titrage st 501",
    "untertitel der amaraorg community", "untertitel im auftrag des zdf für funk 2017", "untertitel von",
    "ご視聴ありがとうございました", "字幕由amaraorg社区提供", "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目",
    "продолжение следует", "субтитры сделал dimatorzok", "redacted",
})

# Sentence ends: a Latin mark needs whitespace or the end after it, so "Amara.org" stays one word.
_SENTENCE_SPLIT = re.compile(r"[.!?…]+(?=\s|$)|[。！？\n]+")
_PUNCTUATION_OR_SYMBOL = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"[^\S\n]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_SPACE_AROUND_NEWLINE = re.compile(r" *\n *")
# Scripts written without spaces between words and their punctuation: no space when joining parts.
_NO_SPACE_CHAR = re.compile(
    "[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0002fa1f]"
)
_NO_SPACE_BEFORE = frozenset(".,;:!?)]}»”’%")


def is_silence_hallucination(text: str, phrases: Iterable[str] = DEFAULT_SILENCE_HALLUCINATIONS) -> bool:
    """True when ``text`` is nothing but known silence phrases (or empty, or only punctuation, symbols, ♪)."""
    known = _DEFAULT_KEYS if phrases is DEFAULT_SILENCE_HALLUCINATIONS else _phrase_keys(phrases)
    parts = [_phrase_key(part) for part in _SENTENCE_SPLIT.split(text)]
    parts = [part for part in parts if part]
    return all(part in known for part in parts)


def tidy_whitespace(text: str) -> str:
    """Collapse runs of spaces and tabs, trim lines, keep at most one blank line, strip the ends."""
    text = _SPACES.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def apply_replacements(text: str, replacements: Sequence[tuple[str, str]], *, ignore_case: bool = True,
                       whole_word: bool = True) -> str:
    """Replace each ``find`` with its ``replace`` in one pass (a replacement is never replaced again).

    Longer ``find`` strings win over shorter ones that start at the same place. ``whole_word`` requires
    that the match is not glued to letters or digits on either side (works for any script).
    """
    table = {find: replace for find, replace in replacements if find}
    if not table:
        return text
    flags = re.IGNORECASE if ignore_case else 0
    finds = sorted(table, key=len, reverse=True)
    alternatives = "|".join(re.escape(find) for find in finds)
    pattern = f"(?<!\\w)(?:{alternatives})(?!\\w)" if whole_word else f"(?:{alternatives})"

    def substitute(match: re.Match[str]) -> str:
        found = match.group()
        if found in table:
            return table[found]
        # A case variant: the same matching rule as the regex decides which entry it was.
        return next(table[f] for f in finds if re.fullmatch(re.escape(f), found, flags))

    return re.sub(pattern, substitute, text, flags=flags)


def clean_transcript(text: str, *, replacements: Sequence[tuple[str, str]] = (), ignore_case: bool = True,
                     hallucinations: Iterable[str] = DEFAULT_SILENCE_HALLUCINATIONS) -> str:
    """The text to insert for a raw transcript: "" for a silence hallucination, else tidied and replaced."""
    text = tidy_whitespace(text)
    if is_silence_hallucination(text, hallucinations):
        return ""
    if replacements:
        text = tidy_whitespace(apply_replacements(text, replacements, ignore_case=ignore_case))
    return text


def join_transcripts(parts: Iterable[str]) -> str:
    """Join the transcripts of consecutive pieces of one recording with the right spacing.

    A space goes between parts, except next to scripts written without spaces (Chinese, Japanese, Thai)
    and before closing punctuation.
    """
    joined = ""
    for part in parts:
        part = tidy_whitespace(part)
        if not part:
            continue
        if joined and _needs_space(joined[-1], part[0]):
            joined += " "
        joined += part
    return joined


def keywords_from_setting(value: str) -> tuple[str, ...]:
    """"a, b ,c" → ("a", "b", "c"): commas or newlines separate; blanks and repeats (any case) dropped."""
    seen: set[str] = set()
    keywords: list[str] = []
    for raw in re.split(r"[,\n]", value):
        keyword = " ".join(raw.split())
        if keyword and keyword.casefold() not in seen:
            seen.add(keyword.casefold())
            keywords.append(keyword)
    return tuple(keywords)


def replacements_from_setting(value: str) -> tuple[tuple[str, str], ...]:
    """One replacement per line or per ';'-separated entry (a settings field is one line), "find => replace"
    (or "find -> replace"); other entries are ignored."""
    pairs: list[tuple[str, str]] = []
    for line in re.split(r"[;\n]", value):
        for arrow in ("=>", "->"):
            find, found_arrow, replace = line.partition(arrow)
            if found_arrow and find.strip():
                pairs.append((find.strip(), replace.strip()))
                break
    return tuple(pairs)


def _phrase_keys(phrases: Iterable[str]) -> frozenset[str]:
    return frozenset(_phrase_key(phrase) for phrase in phrases)


def _phrase_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "").replace("'", "")
    text = _PUNCTUATION_OR_SYMBOL.sub(lambda m: "" if m.group() == "." else " ", text)
    return " ".join(text.replace("_", " ").split())


def _needs_space(before: str, after: str) -> bool:
    if after in _NO_SPACE_BEFORE:
        return False
    return not (_NO_SPACE_CHAR.match(before) or _NO_SPACE_CHAR.match(after))


_DEFAULT_KEYS = _phrase_keys(DEFAULT_SILENCE_HALLUCINATIONS)

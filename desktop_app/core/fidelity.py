"""Did the speech model read what we asked? Word-level comparison of a source chunk and a transcript.

A realtime model can paraphrase, answer instead of reading, or add a preamble ("Sure! Here it is:"). The
transcript of its own audio is compared with the source after normalising both: Unicode NFKC, case folded,
apostrophes removed ("don't" → "dont"), other punctuation dropped, numbers spelled out in English ("42" and
"forty-two" both become "forty two"; 1100–1999 and 2010–2099 are read as years), a few symbols and
abbreviations made equal ("%" / "percent", "okay" / "ok"). Scripts written without spaces (CJK, Thai)
are compared character by character.

The score is the word error rate (substitutions + deletions + insertions over source words), from a
word-level edit distance; words added before the first or after the last source word are counted apart,
because a preamble is the typical failure even when the rest matches.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

DEFAULT_THRESHOLD = 0.1

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_NUMBER_WORDS = frozenset(_ONES) | frozenset(_TENS[2:]) | {"hundred", "thousand", "million", "billion",
                                                         "trillion", "oh", "point"}
_ORDINAL_ENDINGS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                    "nine": "ninth", "twelve": "twelfth"}
_EQUIVALENT = {"okay": "ok", "mister": "mr", "missus": "mrs", "doctor": "dr", "versus": "vs",
               "etcetera": "etc", "percentage": "percent"}

_APOSTROPHES = re.compile(r"['’ʼ‘`´]")
_CURRENCY = re.compile(r"([$€£¥])\s?(\d[\d,]*(?:\.\d+)?)")
_CURRENCY_NAMES = {"$": "dollars", "€": "euros", "£": "pounds", "¥": "yen"}
_SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus "}
_SYMBOL = re.compile("[%&+]")
_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?(?:st|nd|rd|th)?")
_NOT_WORD = re.compile(r"[^\w\s]|_")
# Characters of scripts written without spaces; each becomes its own token.
_NO_SPACE_SCRIPT = re.compile(
    "([\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\U00020000-\U0002fa1f])"
)


@dataclass(frozen=True)
class Fidelity:
    """How a transcript differs from its source, in words."""

    source_words: int
    spoken_words: int
    substitutions: int
    deletions: int
    insertions: int
    inserted_at_start: int
    inserted_at_end: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def word_error_rate(self) -> float:
        """Errors per source word; words spoken for an empty source count fully."""
        if self.source_words == 0:
            return float(self.spoken_words > 0)
        return self.errors / self.source_words

    @property
    def recall(self) -> float:
        """Share of the source words that were spoken unchanged."""
        if self.source_words == 0:
            return 1.0
        return (self.source_words - self.substitutions - self.deletions) / self.source_words


def normalized_words(text: str) -> list[str]:
    """``text`` as comparable tokens (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _APOSTROPHES.sub("", text)
    text = _CURRENCY.sub(lambda m: f"{m.group(2)} {_CURRENCY_NAMES[m.group(1)]}", text)
    text = _SYMBOL.sub(lambda m: _SYMBOLS[m.group()], text)
    text = _NUMBER.sub(lambda m: f" {' '.join(_number_token_words(m.group()))} ", text)
    text = _NOT_WORD.sub(" ", text)
    text = _NO_SPACE_SCRIPT.sub(r" \1 ", text)
    words = [_EQUIVALENT.get(word, word) for word in text.split()]
    return _merge_et_cetera(_drop_and_inside_numbers(words))


def compare(source: str, spoken: str) -> Fidelity:
    """Word-level alignment of ``spoken`` against ``source``."""
    expected, heard = normalized_words(source), normalized_words(spoken)
    prefix = _common_prefix(expected, heard)
    suffix = _common_prefix(expected[prefix:][::-1], heard[prefix:][::-1])
    middle_ops = _edit_ops(expected[prefix:len(expected) - suffix], heard[prefix:len(heard) - suffix])
    ops = ["match"] * prefix + middle_ops + ["match"] * suffix
    return Fidelity(
        source_words=len(expected),
        spoken_words=len(heard),
        substitutions=ops.count("sub"),
        deletions=ops.count("del"),
        insertions=ops.count("ins"),
        inserted_at_start=_leading_insertions(ops),
        inserted_at_end=_leading_insertions(ops[::-1]),
    )


def strayed(source: str, spoken: str, threshold: float = DEFAULT_THRESHOLD, *,
            allow_edge_insertions: int = 0) -> bool:
    """True when ``spoken`` should not count as a reading of ``source``.

    That is a word error rate above ``threshold``, or more than ``allow_edge_insertions`` words added
    before or after the text (a preamble or a closing remark).
    """
    result = compare(source, spoken)
    return (
        result.word_error_rate > threshold
        or result.inserted_at_start > allow_edge_insertions
        or result.inserted_at_end > allow_edge_insertions
    )


# ----- numbers -------------------------------------------------------------------------------------------


def number_words(value: int) -> list[str]:
    """English cardinal words for a non-negative integer: 342 → three hundred forty two."""
    if value < 20:
        return [_ONES[value]]
    if value < 100:
        tens, ones = divmod(value, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    if value < 1000:
        hundreds, rest = divmod(value, 100)
        return [_ONES[hundreds], "hundred"] + (number_words(rest) if rest else [])
    for scale, name in _SCALES:
        if value >= scale:
            high, rest = divmod(value, scale)
            return [*number_words(high), name] + (number_words(rest) if rest else [])
    raise AssertionError("unreachable")


def _year_words(value: int) -> list[str]:
    high, low = divmod(value, 100)
    if low == 0:
        return [*number_words(high), "hundred"]
    low_words = number_words(low) if low >= 10 else ["oh", _ONES[low]]
    return number_words(high) + low_words


def _number_token_words(token: str) -> list[str]:
    ordinal = token[-2:] in ("st", "nd", "rd", "th")
    digits = token[:-2] if ordinal else token
    whole, _, fraction = digits.replace(",", "").partition(".")
    value = int(whole)
    is_year = len(whole) == 4 and "," not in digits and (1100 <= value <= 1999 or 2010 <= value <= 2099)
    words = _year_words(value) if is_year and not fraction and not ordinal else number_words(value)
    if fraction:
        words += ["point", *(_ONES[int(digit)] for digit in fraction)]
    if ordinal:
        words[-1] = _ordinal(words[-1])
    return words


def _ordinal(word: str) -> str:
    if word in _ORDINAL_ENDINGS:
        return _ORDINAL_ENDINGS[word]
    if word.endswith("y"):
        return word[:-1] + "ieth"
    return word + "th"


def _drop_and_inside_numbers(words: list[str]) -> list[str]:
    """"one hundred and five" reads the same as "one hundred five"."""
    return [
        word for index, word in enumerate(words)
        if not (word == "and" and 0 < index < len(words) - 1
                and words[index - 1] in _NUMBER_WORDS and words[index + 1] in _NUMBER_WORDS)
    ]


def _merge_et_cetera(words: list[str]) -> list[str]:
    merged: list[str] = []
    for word in words:
        if word == "cetera" and merged and merged[-1] == "et":
            merged[-1] = "etc"
        else:
            merged.append(word)
    return merged


# ----- alignment -----------------------------------------------------------------------------------------


def _common_prefix(first: list[str], second: list[str]) -> int:
    count = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        count += 1
    return count


def _edit_ops(expected: list[str], heard: list[str]) -> list[str]:
    """Minimal edit script turning ``expected`` into ``heard``: match/sub/del/ins, in order."""
    rows, cols = len(expected), len(heard)
    cost = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows + 1):
        cost[i][0] = i
    for j in range(cols + 1):
        cost[0][j] = j
    for i in range(1, rows + 1):
        above, here, word = cost[i - 1], cost[i], expected[i - 1]
        for j in range(1, cols + 1):
            diagonal = above[j - 1] + (word != heard[j - 1])
            here[j] = min(diagonal, above[j] + 1, here[j - 1] + 1)
    return _backtrace(cost, expected, heard)


def _backtrace(cost: list[list[int]], expected: list[str], heard: list[str]) -> list[str]:
    ops: list[str] = []
    i, j = len(expected), len(heard)
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (expected[i - 1] != heard[j - 1]):
            ops.append("match" if expected[i - 1] == heard[j - 1] else "sub")
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            ops.append("del")
            i -= 1
        else:
            ops.append("ins")
            j -= 1
    return ops[::-1]


def _leading_insertions(ops: list[str]) -> int:
    count = 0
    for op in ops:
        if op != "ins":
            break
        count += 1
    return count

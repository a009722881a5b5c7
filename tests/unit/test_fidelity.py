"""Fidelity check of what a speech model said against the source chunk."""

from __future__ import annotations

import pytest

from desktop_app.core.fidelity import compare, normalized_words, number_words, strayed


def test_normalisation() -> None:
    assert normalized_words("Hello, World! It's fine—really.") == ["hello", "world", "its", "fine", "really"]
    assert normalized_words("ＦＵＬＬ width") == ["full", "width"]
    assert normalized_words("你好，世界") == ["你", "好", "世", "界"]


@pytest.mark.parametrize(("digits", "words"), [
    ("42", "forty-two"), ("3", "three"), ("1,250", "one thousand two hundred fifty"),
    ("105", "one hundred and five"), ("1999", "nineteen ninety-nine"), ("2024", "twenty twenty-four"),
    ("1905", "nineteen oh five"), ("2005", "two thousand five"), ("21st", "twenty-first"),
    ("3.14", "three point one four"), ("50%", "fifty percent"), ("$5", "five dollars"),
    ("12th", "twelfth"), ("1,000,000", "one million"),
])
def test_digits_and_number_words_are_equal(digits: str, words: str) -> None:
    assert normalized_words(f"It was {digits} today") == normalized_words(f"it was {words} today")


def test_number_words() -> None:
    assert number_words(0) == ["zero"]
    assert number_words(342) == ["three", "hundred", "forty", "two"]
    assert number_words(7_000_013) == ["seven", "million", "thirteen"]


def test_identical_reading_scores_perfectly() -> None:
    result = compare("The quick brown fox jumps.", "the quick brown fox jumps")
    assert result.word_error_rate == 0.0
    assert result.recall == 1.0
    assert not strayed("The quick brown fox jumps.", "the quick brown fox jumps")


def test_substitution_deletion_insertion_counts() -> None:
    result = compare("one two three four five six", "one too three five six seven")
    assert (result.substitutions, result.deletions, result.insertions) == (1, 1, 1)
    assert result.word_error_rate == pytest.approx(3 / 6)
    assert result.recall == pytest.approx(4 / 6)
    assert result.inserted_at_end == 1 and result.inserted_at_start == 0


def test_preamble_and_closing_remark_are_detected() -> None:
    source = "Please read this sentence exactly as it is written here today."
    result = compare(source, "Sure! Here it is: " + source.lower())
    assert result.inserted_at_start == 4
    assert strayed(source, "Okay. " + source)  # one extra word at the start is enough
    assert not strayed(source, "Okay. " + source, allow_edge_insertions=1)
    assert strayed(source, source + " Let me know if you need more.")


def test_threshold() -> None:
    source = " ".join(f"word{index}" for index in range(20))
    spoken = source.replace("word5", "other").replace("word9", "else")
    assert compare(source, spoken).word_error_rate == pytest.approx(0.1)
    assert not strayed(source, spoken, threshold=0.1)
    assert strayed(source, spoken, threshold=0.05)


def test_answering_instead_of_reading_strays() -> None:
    assert strayed("What is the capital of France?", "The capital of France is Paris.")


def test_empty_inputs() -> None:
    assert compare("", "").word_error_rate == 0.0
    assert compare("", "something").word_error_rate == 1.0
    assert compare("something here", "").recall == 0.0
    assert strayed("something here", "")

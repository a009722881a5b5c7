"""Dictation post-processing: silence hallucinations, whitespace, replacements, joining, keywords."""

from __future__ import annotations

import pytest

from desktop_app.core.transcript_text import (
    apply_replacements,
    clean_transcript,
    is_silence_hallucination,
    join_transcripts,
    keywords_from_setting,
    replacements_from_setting,
    tidy_whitespace,
)


@pytest.mark.parametrize("text", [
    "Thank you for watching.", "THANKS FOR WATCHING!", "thank you for watching", " you ", "You.", "Bye.",
    "[BLANK_AUDIO]", "(silence)", "♪", "♪ ♪ ♪", "[Music]", "Subtitles by the Amara.org community",
    "Thanks for watching. Bye.", "Thank you for watching! Thank you for watching!", "...", "",
    "ご視聴ありがとうございました", "Продолжение следует...",
    "Sous-titres réalisés para la communauté d'Amara.org",
])
def test_whole_transcript_hallucinations_are_dropped(text: str) -> None:
    assert is_silence_hallucination(text)
    assert clean_transcript(text) == ""


@pytest.mark.parametrize("text", [
    "Thank you.", "Thanks.", "Okay.", "I said thank you for watching the kids.", "Did you see it?",
    "Bye for now, see you tomorrow.", "Music to my ears.", "you know what I mean",
])
def test_real_dictation_is_kept(text: str) -> None:
    assert not is_silence_hallucination(text)
    assert clean_transcript(text) == text


def test_custom_hallucination_set() -> None:
    assert is_silence_hallucination("Hmm.", {"hmm"})
    assert not is_silence_hallucination("Thank you for watching.", {"hmm"})


def test_tidy_whitespace() -> None:
    assert tidy_whitespace("  hello \t  world  \r\n\r\n\r\n\r\n next   line \n") == "hello world\n\nnext line"


def test_replacements_whole_word_and_case() -> None:
    pairs = [("open ai", "OpenAI"), ("gpt", "GPT"), ("cat", "dog")]
    text = "Open AI makes gpt; concatenate the cat, CAT and Gpt-4."
    assert apply_replacements(text, pairs) == "OpenAI makes GPT; concatenate the dog, dog and GPT-4."
    assert apply_replacements(text, pairs, ignore_case=False) == (
        "Open AI makes GPT; concatenate the dog, CAT and Gpt-4.")
    assert apply_replacements("concatenate", pairs, whole_word=False) == "condogenate"


def test_replacements_are_applied_once_and_longest_first() -> None:
    pairs = [("a", "b"), ("b", "c"), ("new york", "NYC"), ("new", "old")]
    assert apply_replacements("a b new york new", pairs) == "b c NYC old"
    assert apply_replacements("text", []) == "text"
    assert apply_replacements("C++ and c++x", [("c++", "C plus plus")]) == "C plus plus and c++x"


def test_replacements_in_other_scripts() -> None:
    assert apply_replacements("Straße und STRASSE", [("straße", "Strasse")]) == "Strasse und STRASSE"
    assert apply_replacements("Привет мир", [("мир", "world")]) == "Привет world"


def test_clean_transcript_applies_replacements_and_tidies() -> None:
    assert clean_transcript("  hello   open ai  ", replacements=[("open ai", "OpenAI")]) == "hello OpenAI"
    assert clean_transcript("remove me please", replacements=[("remove me", "")]) == "please"


def test_join_transcripts_spacing() -> None:
    joined = join_transcripts(["Hello there.", " how are you ", "", "today?"])
    assert joined == "Hello there. how are you today?"
    assert join_transcripts(["你好。", "我很好。"]) == "你好。我很好。"
    assert join_transcripts(["これは", "ペンです"]) == "これはペンです"
    assert join_transcripts(["first part", ", second part"]) == "first part, second part"
    assert join_transcripts(["שלום", "עולם"]) == "שלום עולם"
    assert join_transcripts([]) == ""


def test_keywords_from_setting() -> None:
    assert keywords_from_setting("a, b ,c") == ("a", "b", "c")
    assert keywords_from_setting(" Sayso ,, OpenAI\nPySide6 , sayso,  two   words ") == (
        "Sayso", "OpenAI", "PySide6", "two words")
    assert keywords_from_setting("") == ()


def test_replacements_from_setting() -> None:
    assert replacements_from_setting("gpt => GPT\nnot a rule\n  open ai -> OpenAI \n => nothing\n") == (
        ("gpt", "GPT"), ("open ai", "OpenAI"))
    assert replacements_from_setting("gpt => GPT; open ai -> OpenAI;;") == (("gpt", "GPT"), ("open ai", "OpenAI"))

"""Sentence splitting and lazy chunking: sizes, coverage, offsets, scripts, and 10 MB inputs."""

from __future__ import annotations

import itertools
import random
import re
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from desktop_app.core.chunking import (
    Sentence,
    iter_chunks,
    iter_sentence_ends,
    sentence_index_at,
    sentences,
)
from desktop_app.core.models import SpeechChunk
from desktop_app.core.textprep import iter_speakable, speakable

PROSE = (
    "Mr. Smith met Dr. Jones at 3.14 p.m. in the U.S. embassy. He said \"Stop!\" and left... "
    "Then J. R. R. Tolkien arrived, e.g. late. It cost $3.50. Really? Yes! "
    "Wait... what? I live in the U.S. He likes it. No. 5 is here. I said no. Then apples, pears, etc. "
    "and so on. (This is in brackets.) The end."
)
PROSE_SENTENCES = [
    "Mr. Smith met Dr. Jones at 3.14 p.m. in the U.S. embassy.",
    "He said \"Stop!\" and left...",
    "Then J. R. R. Tolkien arrived, e.g. late.",
    "It cost $3.50.",
    "Really?",
    "Yes!",
    "Wait... what?",
    "I live in the U.S.",
    "He likes it.",
    "No. 5 is here.",
    "I said no.",
    "Then apples, pears, etc. and so on.",
    "(This is in brackets.)",
    "The end.",
]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def check_plain_chunks(text: str, chunks: list[SpeechChunk], *, first_max: int = 160,
                       max_chars: int = 4096) -> None:
    """Properties of chunks of a plain string (offsets index the string itself)."""
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    if chunks:
        assert len(chunks[0].text) <= first_max
    previous_end = 0
    for chunk in chunks:
        assert 0 < len(chunk.text) <= max_chars
        assert chunk.text == chunk.text.strip()
        assert text[chunk.start:chunk.end] == chunk.text
        assert not text[previous_end:chunk.start].strip(), "text between chunks was lost"
        previous_end = chunk.end
    assert not text[previous_end:].strip()


def test_sentences_survive_abbreviations_decimals_ellipses_initials_and_quotes() -> None:
    assert [sentence.text for sentence in sentences(PROSE)] == PROSE_SENTENCES


def test_cjk_and_other_scripts() -> None:
    assert [s.text for s in sentences("你好。我很好！你呢？「好。」と言った。")] == [
        "你好。", "我很好！", "你呢？", "「好。」", "と言った。"]
    assert [s.text for s in sentences("مرحبا بالعالم؟ كيف حالك؟")] == ["مرحبا بالعالم؟", "كيف حالك؟"]
    assert [s.text for s in sentences("नमस्ते। आप कैसे हैं।")] == ["नमस्ते।", "आप कैसे हैं।"]
    assert [s.text for s in sentences("שלום. מה שלומך?")] == ["שלום.", "מה שלומך?"]


def test_newlines_end_sentences_and_list_numbers_do_not() -> None:
    assert [s.text for s in sentences("Heading\nFirst line.\n1. Step one\n2. Step two")] == [
        "Heading", "First line.", "1. Step one", "2. Step two"]


def test_urls_versions_and_file_names_do_not_end_sentences() -> None:
    text = "Open example.com/a.b and version 1.2.3 of file.txt now. Next."
    assert [s.text for s in sentences(text)] == ["Open example.com/a.b and version 1.2.3 of file.txt now.",
                                                  "Next."]


def test_sentence_offsets_map_to_the_original_through_speakable() -> None:
    source = "# Intro\n\nThis is **one**. And [two](http://x.y) here.\n"
    found = sentences(speakable(source))
    assert [s.text for s in found] == ["Intro", "This is one.", "And two here."]
    for sentence in found:
        assert source[sentence.start:sentence.start + 3] == sentence.text[:3]
    assert source[found[1].start:found[1].end] == "This is **one**."


def test_sentence_index_at_and_navigation() -> None:
    text = "One. Two is here. Three."
    found = sentences(text)
    assert found.index_at(0) == 0
    assert found.index_at(3) == 0
    assert found.index_at(4) == 1  # the space between sentences belongs to the next one
    assert found.index_at(text.index("here")) == 1
    assert found.index_at(len(text) + 10) == 2
    assert sentence_index_at(list(found), text.index("Three")) == 2
    assert sentences("").index_at(0) == -1
    next_sentence: Sentence = found[found.index_at(0) + 1]
    assert next_sentence.text == "Two is here."


def test_iter_sentence_ends_waits_for_context_when_not_final() -> None:
    assert list(iter_sentence_ends("It is 3.", final=False)) == []
    assert list(iter_sentence_ends("It is 3.", final=True)) == [8]


def test_first_chunk_short_then_growing_and_whole_sentences() -> None:
    sentence = "This sentence has exactly sixty characters in it, you know. "
    text = sentence * 200
    chunks = list(iter_chunks(text))
    check_plain_chunks(text, chunks)
    sizes = [len(chunk.text) for chunk in chunks]
    assert sizes[0] <= 160
    assert sizes[1] <= 320 and sizes[2] <= 640 and sizes[3] <= 1280
    assert sizes[1] > sizes[0] and sizes[2] > sizes[1]
    assert all(chunk.text.endswith("know.") for chunk in chunks)


def test_target_caps_growth() -> None:
    text = "Short sentence number one is here. " * 300
    chunks = list(iter_chunks(text, first_max=100, target=600))
    check_plain_chunks(text, chunks, first_max=100)
    assert max(len(chunk.text) for chunk in chunks) <= 600


def test_long_first_sentence_is_cut_at_a_clause_then_a_space() -> None:
    clause = "a long first sentence " * 5 + "with a clause; " + "and more words " * 10 + "until it ends."
    chunks = list(iter_chunks(clause))
    check_plain_chunks(clause, chunks)
    assert chunks[0].text.endswith("clause;")
    early_clause = "Early, " + "then many more words " * 10 + "until it ends."
    assert len(next(iter_chunks(early_clause)).text) > 100  # a clause this early would make a tiny chunk
    no_clause = "word " * 100
    first = next(iter_chunks(no_clause))
    assert first.text.endswith("word") and len(first.text) <= 160


def test_a_sentence_longer_than_the_budget_but_within_max_is_sent_whole() -> None:
    text = "Hi. " + "This one runs on " * 30 + "and stops here. Done."
    chunks = list(iter_chunks(text))
    check_plain_chunks(text, chunks)
    assert chunks[0].text == "Hi."
    assert chunks[1].text.startswith("This one") and chunks[1].text.endswith("stops here.")
    assert chunks[2].text == "Done."


def test_sentence_longer_than_max_is_split_at_spaces_without_breaking_words() -> None:
    words = [f"word{index}" for index in range(3000)]
    text = " ".join(words)
    chunks = list(iter_chunks(text, max_chars=1000))
    check_plain_chunks(text, chunks, max_chars=1000)
    assert " ".join(chunk.text for chunk in chunks).split() == words


def test_text_without_any_space_is_hard_split_at_max() -> None:
    blob = "x" * 10_000
    chunks = list(iter_chunks(blob, max_chars=4096))
    check_plain_chunks(blob, chunks)
    assert [len(chunk.text) for chunk in chunks] == [160, 4096, 4096, 10_000 - 160 - 8192]


def test_hard_split_never_cuts_inside_emoji_or_accents() -> None:
    family = "👨\u200d👩\u200d👧"
    blob = (family + "e\u0301" + "🇩🇪" + "👍🏽") * 500
    chunks = list(iter_chunks(blob, first_max=50, max_chars=97))
    check_plain_chunks(blob, chunks, first_max=50, max_chars=97)
    for chunk in chunks[:-1]:
        assert not chunk.text.endswith("\u200d")
        following = blob[chunk.end]
        assert following not in ("\u200d", "\u0301", "🏽")
        assert not ("\U0001F1E6" <= following <= "\U0001F1FF" and chunk.text.endswith("🇩"))


def test_cjk_without_spaces_is_chunked_at_full_stops() -> None:
    text = "这是一个很长的中文句子，用来测试分块功能。" * 100
    chunks = list(iter_chunks(text, first_max=60, max_chars=400))
    check_plain_chunks(text, chunks, first_max=60, max_chars=400)
    assert all(chunk.text.endswith("。") for chunk in chunks)


def test_chunks_of_speakable_text_map_to_the_original() -> None:
    source = ("## Section\n\nSome **important** text with [a link](https://example.com). "
              "A second sentence follows, with `code`.\n\n") * 80
    spoken = speakable(source)
    for chunks in (list(iter_chunks(spoken)), list(iter_chunks(iter_speakable(source)))):
        assert " ".join(chunk.text for chunk in chunks).split() == spoken.text.split()
        for chunk in chunks:
            original = source[chunk.start:chunk.end]
            assert original.startswith(chunk.text[:2]) or original.startswith("**")
            assert original.rstrip("*`)").endswith(chunk.text[-1])
        starts = [chunk.start for chunk in chunks]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_start_offset_reads_from_a_sentence() -> None:
    spoken = speakable(PROSE)
    found = sentences(spoken)
    chunks = list(iter_chunks(spoken, start=found[5].spoken_start))
    assert chunks[0].index == 0
    assert chunks[0].text.startswith("Yes!")
    assert chunks[0].start == found[5].start


def test_iterable_of_strings_is_one_text() -> None:
    text = PROSE * 20
    rng = random.Random(1)
    cuts = sorted(rng.sample(range(1, len(text)), 200))
    parts = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    chunks = list(iter_chunks(parts))
    check_plain_chunks(text, chunks)
    assert [c.text for c in chunks] == [c.text for c in iter_chunks(text)]


def test_bad_parameters_and_mixed_pieces() -> None:
    with pytest.raises(ValueError):
        list(iter_chunks("x", first_max=0))
    with pytest.raises(ValueError):
        list(iter_chunks("x", first_max=200, max_chars=100))
    with pytest.raises(ValueError):
        list(iter_chunks("x", target=50))
    with pytest.raises(TypeError):
        list(iter_chunks(["a", speakable("b")]))
    assert list(iter_chunks("")) == []
    assert list(iter_chunks("   \n  ")) == []
    assert list(iter_chunks([])) == []


def test_random_texts_keep_every_word_exactly_once() -> None:
    rng = random.Random(11)
    vocabulary = ["alpha", "Beta", "e.g.", "3.14", "U.S.", "word,", "end.", "why?", "wow!", "…", "“quoted.”",
                  "你好。", "שלום", "👍🏽", "Mr.", "x" * 300, "\n", "\n\n", "semi;", "dash —"]
    for _ in range(40):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randrange(1, 800)))
        first_max = rng.choice([20, 80, 160])
        max_chars = rng.choice([first_max, 400, 4096])
        chunks = list(iter_chunks(text, first_max=first_max, max_chars=max_chars))
        check_plain_chunks(text, chunks, first_max=first_max, max_chars=max_chars)
        assert squeeze("".join(chunk.text for chunk in chunks)) == squeeze(text)


# ----- big inputs ---------------------------------------------------------------------------------------


def ten_megabytes() -> str:
    paragraph = ("The committee met on Tuesday, e.g. as planned. Dr. Lee presented 3.5 proposals; none "
                 "passed… Everyone left at 5 p.m. and went home. ") * 6 + "\n\n"
    repeated = paragraph * (9_000_000 // len(paragraph))
    blob = " ".join(["unpunctuated"] * 90_000)  # ~1.2 MB, one "sentence" with no full stop
    return repeated + blob


class CountingSource:
    """An iterable of pieces that records how much of the source has been pulled."""

    def __init__(self, text: str, piece: int = 65_536) -> None:
        self.text = text
        self.piece = piece
        self.pulled = 0

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self.text), self.piece):
            self.pulled = start + self.piece
            yield self.text[start:start + self.piece]


def test_ten_megabytes_first_chunk_is_lazy_and_all_chunks_are_valid() -> None:
    text = ten_megabytes()
    assert len(text) > 10_000_000

    source = CountingSource(text)
    tracemalloc.start()
    began = time.perf_counter()
    first_three = list(itertools.islice(iter_chunks(iter_speakable(source)), 3))
    elapsed = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\n[bench] 10 MB: first 3 chunks after {elapsed * 1000:.1f} ms, "
          f"{source.pulled} of {len(text)} chars read, peak {peak / 1e6:.2f} MB")
    assert len(first_three[0].text) <= 160
    assert source.pulled <= 2 * source.piece  # only the first windows were read
    assert peak < 3_000_000  # bounded by the window, not by the 10 MB input

    began = time.perf_counter()
    chunks = list(iter_chunks(text))
    print(f"[bench] 10 MB plain: {len(chunks)} chunks in {time.perf_counter() - began:.2f} s")
    check_plain_chunks(text, chunks)
    assert max(len(chunk.text) for chunk in chunks) <= 4096
    blob_start = text.index("unpunctuated")
    blob_chunks = [chunk for chunk in chunks if chunk.start >= blob_start]
    assert len(blob_chunks) > 200  # the blob is split at spaces, never as one piece
    assert all(chunk.text.endswith("unpunctuated") for chunk in blob_chunks)


def test_ten_megabytes_through_speakable_covers_every_character() -> None:
    text = ten_megabytes()
    began = time.perf_counter()
    chunks = iter_chunks(iter_speakable(text))
    joined: list[str] = []
    previous_start = -1
    for chunk in chunks:
        assert len(chunk.text) <= 4096
        assert chunk.start > previous_start
        assert text[chunk.start] == chunk.text[0]
        previous_start = chunk.start
        joined.append(chunk.text)
    print(f"\n[bench] 10 MB prepared and chunked in {time.perf_counter() - began:.2f} s")
    assert squeeze("".join(joined)) == squeeze(text)


def test_time_to_first_chunk_does_not_grow_with_input_size() -> None:
    for size in (100_000, 1_000_000, 10_000_000):
        text = ("A sentence of prose that goes on. " * (size // 34 + 1))[:size]
        source = CountingSource(text)
        began = time.perf_counter()
        next(iter_chunks(iter_speakable(source)))
        print(f"\n[bench] {size:>10} chars: first chunk after {(time.perf_counter() - began) * 1000:.2f} ms")
        assert source.pulled == source.piece  # the same single window, whatever the size

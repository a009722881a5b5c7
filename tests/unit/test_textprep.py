"""Speakable text: what is removed, what is kept, and that each spoken character maps back to the original."""

from __future__ import annotations

import random

import pytest

from desktop_app.core.textprep import (
    LONG_LINE,
    OffsetMap,
    SpeakableText,
    decode_text,
    iter_speakable,
    speakable,
)

MARKDOWN = """# Release notes ##

Some **bold**, __strong__, *em* and _it_ text with `inline_code()` and a [link](https://x.com/a_(b)).
This line joins the paragraph.

- first item
* second item
  continues here
1. numbered step
- [x] done task

> quoted text
> more quote

```python
print("never read")
```

| Name | Age |
|------|----:|
| Ann  | 42  |

<b>bold html</b> line<br>break &amp; entity &nbsp;space <!-- hidden -->
![a cat](cat.png) and [ref text][1] with a note[^1] \\*not emphasis\\*
snake_case_name 2*3 and 5 * 3 keep their characters.

[1]: https://example.com/ref
---
Final words at https://example.com/page?q=1. The end.
"""


def assert_maps_back(original: str, spoken: SpeakableText) -> None:
    """Every copied character maps to the same character in the original."""
    for index, char in enumerate(spoken.text):
        start, end = spoken.original_span(index, index + 1)
        assert 0 <= start < end <= len(original)
        if spoken.offsets.copied(index) and not char.isspace():
            assert original[start] == char, (index, char, original[start])


def test_markdown_syntax_is_removed_and_words_kept() -> None:
    text = speakable(MARKDOWN).text
    for gone in ("#", "**", "__", "`", "](", "https://", "<b>", "<br>", "&amp;", "<!--", "|", "---", "- [x]",
                 "> ", "print(", "[^1]", "[1]:", "\\*"):
        assert gone not in text, gone
    for kept in ("Release notes", "Some bold, strong, em and it text with inline_code() and a link.",
                 "This line joins the paragraph", "first item", "second item continues here",
                 "numbered step", "done task", "quoted text more quote", "Code block.", "Name, Age",
                 "Ann, 42", "bold html line break & entity space", "a cat and ref text with a note",
                 "*not emphasis*", "snake_case_name 2*3 and 5 * 3", "Final words at. The end."):
        assert kept in text, kept
    assert_maps_back(MARKDOWN, speakable(MARKDOWN))


def test_blocks_are_separated_by_newlines_and_paragraph_lines_joined() -> None:
    text = speakable("# Title\nFirst line\nsecond line\n\n- a\n- b\n").text
    assert text == "Title\nFirst line second line\na\nb"


def test_code_block_can_be_read_or_skipped() -> None:
    source = "Before.\n```\nx = 1\ny = 2\n```\nAfter."
    assert speakable(source).text == "Before.\nCode block.\nAfter."
    assert speakable(source, read_code=True).text == "Before.\nx = 1\ny = 2\nAfter."
    assert speakable(source, code_block_text="").text == "Before.\nAfter."
    unclosed = speakable("Text.\n```\ncode to the end\n")
    assert unclosed.text == "Text.\nCode block."


def test_code_block_placeholder_maps_to_the_whole_block() -> None:
    source = "Intro.\n```sh\nls -l\n```\nOutro."
    spoken = speakable(source)
    begin = spoken.text.index("Code block.")
    start, end = spoken.original_span(begin, begin + len("Code block."))
    assert source[start:end] == "```sh\nls -l\n```"


def test_url_options() -> None:
    source = "See https://example.com/a?b=1, or www.example.org. Mail <mailto:x@y.z>."
    assert speakable(source).text == "See, or. Mail."
    assert speakable(source, url_text="link").text == "See link, or link. Mail link."
    assert speakable(source, strip_urls=False).text == source.replace("<mailto:x@y.z>", "mailto:x@y.z")
    assert speakable(source, strip_urls=False, strip_markdown=False).text == source
    assert speakable("Write to <ann@example.com>.").text == "Write to ann@example.com."
    assert speakable("[https://a.b/c](https://a.b/c) and [docs](https://a.b)", url_text="link").text == (
        "link and docs"
    )


def test_url_with_parentheses_and_trailing_punctuation() -> None:
    source = "Read (https://en.wikipedia.org/wiki/Foo_(bar)) now."
    assert speakable(source, url_text="link").text == "Read (link) now."


def test_flags_off_keeps_markdown_but_normalises_whitespace() -> None:
    source = "# Title\n\nSome  **bold**\ttext https://x.y"
    assert speakable(source, strip_markdown=False, strip_urls=False).text == "# Title\nSome **bold** text https://x.y"
    assert speakable(source, strip_markdown=False).text == "# Title\nSome **bold** text"


def test_control_characters_and_lone_surrogates_are_removed() -> None:
    source = "bad\x00chars\x07 here\ud800 and\ufffd\ufeff   many\t\tspaces\x0b\x0cend\u200b."
    spoken = speakable(source)
    assert spoken.text == "badchars here and many spaces end."
    spoken.text.encode("utf-8")  # no surrogates left
    assert_maps_back(source, spoken)


def test_garbage_bytes_decode_and_clean() -> None:
    rng = random.Random(7)
    garbage = bytes(rng.randrange(256) for _ in range(20_000))
    for decoded in (decode_text(garbage), garbage.decode("utf-8", errors="surrogateescape"),
                    garbage.decode("latin-1")):
        spoken = speakable(decoded)
        spoken.text.encode("utf-8")
        assert not any(ord(char) < 0x20 and char != "\n" for char in spoken.text)
        assert "  " not in spoken.text
        assert_maps_back(decoded, spoken)


def test_decode_text_honours_boms() -> None:
    assert decode_text("\ufeffhällo".encode()) == "hällo"
    assert decode_text("hällo".encode("utf-16")) == "hällo"
    assert decode_text(b"ok \xff") == "ok \ufffd"


def test_rtl_emoji_and_cjk_survive_unchanged() -> None:
    source = "שלום עולם. مرحبا بالعالم؟ 你好。我很好！ 👍🏽 👨\u200d👩\u200d👧 🇩🇪 نه\u200cمی‌خواهم"
    spoken = speakable(source)
    assert spoken.text == source
    assert_maps_back(source, spoken)


def test_crlf_and_cr_line_endings() -> None:
    assert speakable("a\r\nb\r\n\r\nc\rd").text == "a b\nc d"


def test_offset_map_round_trip() -> None:
    source = "Say **hello** to [the world](http://w.org)!"
    spoken = speakable(source)
    assert spoken.text == "Say hello to the world!"
    hello = spoken.text.index("hello")
    assert spoken.original_span(hello, hello + 5) == (source.index("hello"), source.index("hello") + 5)
    assert spoken.speakable_offset(source.index("world")) == spoken.text.index("world")
    # An offset inside removed syntax maps to the next spoken character.
    assert spoken.speakable_offset(source.index("**")) == spoken.text.index("hello")
    assert spoken.original_offset(len(spoken.text) - 1) == len(source) - 1


def test_offset_map_runs_merge_for_plain_text() -> None:
    source = ("An ordinary paragraph of prose that is wrapped\nat seventy-two columns like an email.\n" * 50)
    spoken = speakable(source)
    assert spoken.offsets.runs == 1
    assert_maps_back(source, spoken)


def test_offset_map_rejects_offsets_outside() -> None:
    offsets = OffsetMap()
    offsets.add_copy(10, 5)
    with pytest.raises(IndexError):
        offsets.original_start(5)
    assert offsets.original_span(5, 5) == (15, 15)


def test_empty_and_whitespace_only() -> None:
    assert speakable("").text == ""
    assert speakable(" \n\t\n ").text == ""
    assert speakable("```\n```").text == "Code block."


def test_lazy_pieces_equal_the_whole() -> None:
    source = MARKDOWN * 40
    pieces = list(iter_speakable(source))
    assert len(pieces) > 1
    whole = speakable(source)
    assert "".join(piece.text for piece in pieces) == whole.text
    for piece in pieces:
        assert_maps_back(source, piece)


def test_streamed_input_in_odd_pieces_gives_the_same_text() -> None:
    source = MARKDOWN.replace("\n", "\r\n") * 3
    rng = random.Random(3)
    cuts = sorted(rng.sample(range(1, len(source)), 60))
    parts = [source[a:b] for a, b in zip([0, *cuts], [*cuts, len(source)], strict=True)]
    streamed = "".join(piece.text for piece in iter_speakable(parts))
    assert streamed == speakable(source).text


def test_very_long_line_is_processed_in_parts_without_losing_words() -> None:
    words = [f"w{index}" for index in range(LONG_LINE // 2)]
    source = " ".join(words)
    pieces = list(iter_speakable(source))
    assert len(pieces) > 1
    assert "".join(piece.text for piece in pieces).split(" ") == words


def test_iter_speakable_rejects_non_str_pieces() -> None:
    with pytest.raises(TypeError):
        list(iter_speakable([b"bytes"]))  # type: ignore[list-item]


def test_html_tags_need_tag_syntax() -> None:
    assert speakable("if a<b and c>d then").text == "if a<b and c>d then"
    source = '<a href="https://x.y">link</a> <span class=x>y</span><br/>z <p>para</p>'
    assert speakable(source).text == "link y z para"

"""SSE framing per the SDK rules (protocol doc §2.1): bytes in, events out, in any chunking."""

from __future__ import annotations

import pytest

from desktop_app.core.errors import ModelRetired, RateLimited, ServerError
from desktop_app.providers.sse import SSEDecoder, SSEEvent, iter_json_events, iter_sse

CAPTURED = (
    b'data: {"type":"transcript.text.delta","delta":"Hello"}\r\n\r\n'
    b'data: {"type":"transcript.text.delta","delta":" world"}\r\n\r\n'
    b'data: {"type":"transcript.text.done","text":"Hello world"}\r\n\r\n'
    b"data: [DONE]\r\n\r\n"
)


def _every_split(body: bytes) -> list[list[bytes]]:
    """The body cut into two pieces at every position, and into single bytes."""
    cuts = [[body[:i], body[i:]] for i in range(len(body) + 1)]
    return [*cuts, [bytes([b]) for b in body]]


def _types(events: list[SSEEvent]) -> list[str]:
    return [obj["type"] for obj in iter_json_events(events)]


@pytest.mark.parametrize("ending", [b"\r\n", b"\n", b"\r"])
def test_every_line_ending_in_every_chunking_gives_the_same_events(ending: bytes) -> None:
    body = CAPTURED.replace(b"\r\n", ending)
    for chunks in _every_split(body):
        events = list(iter_sse(chunks))
        assert _types(events) == ["transcript.text.delta", "transcript.text.delta", "transcript.text.done"]
        assert events[-1].data == "[DONE]"


def test_crlf_split_between_chunks_is_one_line_ending_not_two() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # If the LF were taken as a second (empty) line the event would end here with data "a".
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r\n") == [SSEEvent(data="a\nb")]


def test_multi_line_data_is_joined_with_newlines_and_fields_lose_one_space() -> None:
    events = list(iter_sse([b"event: speech\ndata:  two spaces\ndata:none\nid: 7\nretry: 300\n\n"]))
    assert events == [SSEEvent(data=" two spaces\nnone", event="speech", id="7", retry=300)]


def test_comments_and_unknown_fields_are_ignored() -> None:
    body = b": keep-alive\n\nfoo: bar\ndata: {\"type\":\"x\"}\n\n:another\n\n"
    assert [e.data for e in iter_sse([body])] == ['{"type":"x"}']


def test_stream_without_done_ends_at_eof_and_keeps_a_last_event_without_blank_line() -> None:
    body = b'data: {"type":"a"}\n\ndata: {"type":"b"}\n'
    assert _types(list(iter_sse([body]))) == ["a", "b"]
    assert _types(list(iter_sse([b'data: {"type":"c"}']))) == ["c"]


def test_done_stops_even_if_more_follows() -> None:
    body = b'data: {"type":"a"}\n\ndata: [DONE]\n\ndata: {"type":"late"}\n\n'
    assert _types(list(iter_sse([body]))) == ["a"]


def test_utf8_split_inside_a_character_survives() -> None:
    body = 'data: {"type":"d","delta":"Grüße"}\n\n'.encode()
    cut = body.index("ü".encode()) + 1
    objs = list(iter_json_events(iter_sse([body[:cut], body[cut:]])))
    assert objs == [{"type": "d", "delta": "Grüße"}]


def test_error_payload_in_stream_raises_mapped_error() -> None:
    quota = b'data: {"error":{"message":"You exceeded your current quota","type":"insufficient_quota",' \
            b'"code":"insufficient_quota","param":null}}\n\n'
    with pytest.raises(RateLimited) as info:
        list(iter_json_events(iter_sse([quota])))
    assert info.value.quota
    gone = b'data: {"type":"error","error":{"code":"model_not_found","message":"no"}}\n\n'
    with pytest.raises(ModelRetired):
        list(iter_json_events(iter_sse([gone]), model="whisper-1"))
    other = b'data: {"type":"error","message":"boom"}\n\n'
    with pytest.raises(ServerError, match="boom"):
        list(iter_json_events(iter_sse([other])))


def test_damaged_json_is_a_server_error_not_a_crash() -> None:
    with pytest.raises(ServerError, match="damaged"):
        list(iter_json_events(iter_sse([b'data: {"type":"transcript.te\n\n'])))

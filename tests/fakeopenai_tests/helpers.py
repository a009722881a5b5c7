"""Small helpers shared by the fake server's tests."""

from __future__ import annotations

import json
from typing import Any

JFK_WORDS = ["ask", "not", "what", "your", "country", "can", "do", "for", "you"]


def word_recall(expected: list[str], text: str) -> float:
    words = {w.strip(".,!?;:\"'").lower() for w in text.split()}
    return sum(1 for w in expected if w in words) / len(expected)


def sse_events(raw: bytes, eol: bytes = b"\r\n") -> list[Any]:
    """Split a raw SSE body with the exact framing `eol`; every event must be one `data: ` line."""
    blocks = raw.split(eol + eol)
    assert blocks[-1] == b"", f"body does not end with a blank line: {raw[-40:]!r}"
    events: list[Any] = []
    for block in blocks[:-1]:
        assert block.startswith(b"data: "), block[:40]
        assert eol not in block and b"\n" not in block, "one data line per event"
        payload = block[len(b"data: ") :]
        events.append("[DONE]" if payload == b"[DONE]" else json.loads(payload))
    return events

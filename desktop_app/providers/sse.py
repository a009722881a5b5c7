"""Server-sent events, parsed as the official SDK does (protocol doc §2.1).

Lines end in CRLF, LF or a lone CR (also when the CR and LF arrive in different network chunks); a line
starting with ``:`` is a comment; ``field: value`` loses exactly one leading space; several ``data:``
lines join with ``\\n``; an empty line ends an event; unknown fields are ignored. ``[DONE]`` ends the
stream but is optional (speaches omits it): the end of the body ends it too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from desktop_app.core.errors import ServerError
from desktop_app.core.redact import redact
from desktop_app.providers.errors import Kind, error_from_event, truncate

_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str = ""
    id: str = ""
    retry: int | None = None


class SSEDecoder:
    """Feed raw body bytes in any chunking; complete events come out."""

    def __init__(self) -> None:
        self._partial = bytearray()
        self._pending_cr = False  # the last chunk ended in CR: a leading LF of the next one belongs to it
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""
        self._retry: int | None = None
        self._dirty = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        if not chunk:
            return []
        self._pending_cr = chunk.endswith(b"\r")
        pieces = _LINE_END.split(chunk)
        events: list[SSEEvent] = []
        if len(pieces) == 1:
            self._partial += pieces[0]
            return events
        first = bytes(self._partial) + pieces[0]
        self._partial = bytearray(pieces[-1])
        for raw_line in (first, *pieces[1:-1]):
            event = self._line(raw_line.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events

    def finish(self) -> list[SSEEvent]:
        """The body ended: a last line without its line ending and an event without its blank line count."""
        events: list[SSEEvent] = []
        if self._partial:
            line, self._partial = bytes(self._partial).decode("utf-8", errors="replace"), bytearray()
            event = self._line(line)
            if event is not None:
                events.append(event)
        event = self._line("")
        if event is not None:
            events.append(event)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._dirty:
                return None
            event = SSEEvent(data="\n".join(self._data), event=self._event, id=self._last_id,
                             retry=self._retry)
            self._data, self._event, self._retry, self._dirty = [], "", None, False
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry":
            try:
                self._retry = int(value)
            except ValueError:
                return None
        else:
            return None
        self._dirty = True
        return None


def iter_sse(chunks: Iterable[bytes]) -> Iterator[SSEEvent]:
    """Events from a byte iterator such as ``httpx.Response.iter_bytes()``; ends with the iterator."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.finish()


def iter_json_events(events: Iterable[SSEEvent], *, model: str = "", kind: Kind = "transcription",
                     ) -> Iterator[dict[str, Any]]:
    """Decoded JSON objects until ``[DONE]`` or the end; an error payload raises its ``core.errors`` error."""
    for event in events:
        if event.data.startswith("[DONE]"):
            return
        if not event.data.strip():
            continue
        try:
            obj = json.loads(event.data)
        except ValueError:
            raise ServerError("The server sent a damaged stream event.",
                              detail=truncate(redact(event.data))) from None
        if not isinstance(obj, dict):
            continue
        if obj.get("error") or obj.get("type") == "error" or event.event == "error":
            raise error_from_event(obj, model=model, kind=kind)
        yield obj

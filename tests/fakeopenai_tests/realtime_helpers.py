"""A small synchronous WebSocket driver for the realtime tests (websockets' sync client)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.fakeopenai import FakeOpenAI


class Realtime:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    def send(self, event: dict[str, Any]) -> None:
        self.ws.send(json.dumps(event))

    def recv(self, timeout: float = 20.0) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.ws.recv(timeout=timeout))
        self.seen.append(event)
        return event

    def until(self, event_type: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """All events up to and including the first of `event_type`."""
        events = []
        while True:
            event = self.recv(timeout)
            events.append(event)
            if event["type"] == event_type:
                return events

    def append(self, pcm: bytes, chunk: int = 9600) -> None:
        for start in range(0, len(pcm), chunk):
            self.send(
                {
                    "type": "input_audio_buffer.append",
                    "audio": base64.b64encode(pcm[start : start + chunk]).decode(),
                }
            )


@contextmanager
def realtime(srv: FakeOpenAI, query: str, key: str | None = None, **headers: str) -> Iterator[Realtime]:
    all_headers = {"Authorization": f"Bearer {key or srv.api_key}", **headers}
    with connect(f"{srv.ws_url}?{query}", additional_headers=all_headers, max_size=None) as ws:
        yield Realtime(ws)


def transcription_update(
    turn_detection: dict[str, Any] | None, model: str = "gpt-4o-mini-transcribe"
) -> dict[str, Any]:
    return {
        "type": "session.update",
        "event_id": "cfg_1",
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": model, "language": "en"},
                    "turn_detection": turn_detection,
                }
            },
        },
    }


SPEECH_UPDATE = {
    "type": "session.update",
    "event_id": "cfg_1",
    "session": {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": "You are a text-to-speech reader.",
        "audio": {
            "input": {"turn_detection": None},
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin", "speed": 1.0},
        },
        "tools": [],
        "tool_choice": "none",
        "max_output_tokens": 4096,
        "reasoning": {"effort": "minimal"},
    },
}


def read_request(text: str, event_id: str = "speak_1", chunk: str = "1") -> dict[str, Any]:
    return {
        "type": "response.create",
        "event_id": event_id,
        "response": {
            "conversation": "none",
            "output_modalities": ["audio"],
            "tool_choice": "none",
            "max_output_tokens": 400,
            "metadata": {"chunk": chunk},
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": f"<read>\n{text}\n</read>"}],
                }
            ],
        },
    }

"""Mutable server state shared between the test thread and the server's event loop.

Everything here is guarded by one lock because the test (another thread, or the admin API) mutates it while
request handlers read it.
"""

from __future__ import annotations

import base64
import threading
from collections import deque
from collections.abc import Iterable, Iterator, MutableSet
from dataclasses import dataclass, field
from typing import Any

# Endpoint names a fault can be queued for.
ENDPOINTS = frozenset({"transcriptions", "translations", "speech", "models", "realtime"})

# Every fault kind the server understands, with the endpoints where it has an effect.
FAULT_KINDS: dict[str, str] = {
    "status": "any HTTP endpoint and the realtime upgrade: answer with `status` (429/500/503/...)",
    "drop_mid_stream": "HTTP: abort the TCP connection after `after` chunks (default 2; 0 = before headers)",
    "hang": "HTTP: never answer (until the client gives up or the server stops); `after` = hang mid-stream",
    "lf_framing": "SSE: use \\n\\n instead of \\r\\n\\r\\n",
    "no_space": "SSE: write `data:{...}` without the space",
    "no_done": "SSE: omit the final `data: [DONE]`",
    "plain_json": "transcriptions: ignore stream=true, answer with the plain body (a non-streaming server)",
    "model_not_found": "HTTP: 404 model_not_found for the requested model",
    "wav_ffffffff": "speech: WAV header with 0xFFFFFFFF sizes (this is also the default, like the real API)",
    "wav_sized": "speech: WAV header with the true sizes (a non-streaming compatible server)",
    "detail_errors": 'HTTP: render errors FastAPI-style as {"detail": {...}} (Kokoro/speaches)',
    "server_delay_s": "any: wait `server_delay_s` seconds before answering (realtime: before first delta)",
    "ws_accept_then_error": "realtime: bad key -> accept the upgrade, send error invalid_api_key, close 1008",
    "drop_ws_mid_utterance": "realtime transcription: abort the socket after committed + one delta",
    "drop_ws_mid_response": "realtime speech: abort the socket after the first audio delta",
    "session_expired": "realtime: after `after_s` (default 0.2) send error session_expired and close 1001",
    "stray_transcript": "realtime speech: read `text` (default: a chatty paraphrase) instead of the input",
    "incomplete": "realtime speech: stop halfway, response.done status incomplete / max_output_tokens",
    "failed": "realtime speech: response.done status failed with status_details.error, no output",
    "insufficient_quota": "HTTP: 429 insufficient_quota without Retry-After",
    "done_text": "transcriptions (streamed): transcript.text.done carries `text`, not the words the deltas had",
    "slow_stream": "transcriptions (streamed): `delta_gap_s` (default 0.2) between deltas, `done_delay_s` "
    "(default 0) before transcript.text.done",
}


@dataclass
class Fault:
    """One queued fault. `kinds` may combine several switches (for example lf_framing + no_done)."""

    endpoint: str
    kinds: frozenset[str]
    params: dict[str, Any] = field(default_factory=dict)
    times: int | None = 1  # None = applies to every request until cleared

    def has(self, kind: str) -> bool:
        return kind in self.kinds

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "kinds": sorted(self.kinds),
            "params": self.params,
            "times": self.times,
        }


NO_FAULT = Fault(endpoint="", kinds=frozenset(), times=None)


def make_fault(endpoint: str, kinds: Iterable[str], params: dict[str, Any], times: int | None) -> Fault:
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown fault endpoint {endpoint!r}; expected one of {sorted(ENDPOINTS)}")
    kind_set = set(kinds)
    if "status" in params:
        kind_set.add("status")
    if "server_delay_s" in params:
        kind_set.add("server_delay_s")
    unknown = kind_set - FAULT_KINDS.keys()
    if unknown:
        raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {sorted(FAULT_KINDS)}")
    if not kind_set:
        raise ValueError("a fault needs at least one kind (or status=/server_delay_s=)")
    if times is not None and times < 1:
        raise ValueError("times must be >= 1 or None (forever)")
    return Fault(endpoint=endpoint, kinds=frozenset(kind_set), params=dict(params), times=times)


@dataclass
class RecordedRequest:
    """What the server saw. For realtime sockets `events` holds the client events (append audio removed)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body_size: int = 0
    form: dict[str, list[str]] = field(default_factory=dict)
    json: Any = None
    audio: bytes | None = None
    audio_filename: str | None = None
    audio_content_type: str | None = None
    status: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    fault: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def field(self, name: str) -> str | None:
        """First value of a multipart form field."""
        values = self.form.get(name)
        return values[0] if values else None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body_size": self.body_size,
            "form": self.form,
            "json": self.json,
            "audio_b64": base64.b64encode(self.audio).decode() if self.audio is not None else None,
            "audio_filename": self.audio_filename,
            "audio_content_type": self.audio_content_type,
            "status": self.status,
            "events": self.events,
            "fault": self.fault,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordedRequest:
        audio_b64 = data.get("audio_b64")
        return cls(
            method=data["method"],
            path=data["path"],
            query=data["query"],
            headers=data["headers"],
            body_size=data["body_size"],
            form=data["form"],
            json=data["json"],
            audio=base64.b64decode(audio_b64) if audio_b64 is not None else None,
            audio_filename=data["audio_filename"],
            audio_content_type=data["audio_content_type"],
            status=data["status"],
            events=data["events"],
            fault=data["fault"],
        )


class LockedSet(MutableSet[str]):
    """A set of strings that the test thread may change while the server thread reads it."""

    def __init__(self, lock: threading.Lock, items: Iterable[str] = ()) -> None:
        self._lock = lock
        self._items: set[str] = set(items)

    def __contains__(self, item: object) -> bool:
        with self._lock:
            return item in self._items

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(sorted(self._items))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def add(self, value: str) -> None:
        with self._lock:
            self._items.add(value)

    def discard(self, value: str) -> None:
        with self._lock:
            self._items.discard(value)

    def replace(self, items: Iterable[str]) -> None:
        with self._lock:
            self._items = set(items)

    def __repr__(self) -> str:
        return f"LockedSet({sorted(self)!r})"


# Built in two parts so that no committed line looks like a real key to secret scanners; it is not one.
DEFAULT_API_KEY = "sk-fake-test-" + "0123456789abcdef" * 2

DEFAULT_MODELS = (
    "whisper-1",
    "gpt-transcribe",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-mini-transcribe-2025-12-15",
    "gpt-4o-transcribe-diarize",
    "tts-1",
    "tts-1-hd",
    "gpt-4o-mini-tts",
    "gpt-4o-mini-tts-2025-12-15",
    "gpt-realtime-2.1-mini",
    "gpt-realtime",
    "gpt-realtime-whisper",
    "gpt-live-transcribe",
    "gpt-4o-mini",
)


class ServerState:
    def __init__(self, valid_keys: Iterable[str], models: Iterable[str], session_max_s: float) -> None:
        self._lock = threading.Lock()
        self.valid_keys = LockedSet(threading.Lock(), valid_keys)
        self.models = LockedSet(threading.Lock(), models)
        self.session_max_s = session_max_s
        self._faults: dict[str, deque[Fault]] = {name: deque() for name in ENDPOINTS}
        self._requests: list[RecordedRequest] = []
        self.closing = threading.Event()

    # -- faults -----------------------------------------------------------------------------------
    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults[fault.endpoint].append(fault)

    def take_fault(self, endpoint: str) -> Fault:
        """The fault for the next request on `endpoint` (consumes one use), or NO_FAULT."""
        with self._lock:
            queue = self._faults[endpoint]
            if not queue:
                return NO_FAULT
            fault = queue[0]
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    queue.popleft()
            return fault

    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return [f for q in self._faults.values() for f in q]

    def clear_faults(self) -> None:
        with self._lock:
            for queue in self._faults.values():
                queue.clear()

    # -- requests ---------------------------------------------------------------------------------
    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

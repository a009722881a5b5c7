"""A protocol-faithful local OpenAI audio server for tests: real sockets, real speech recognition
(faster-whisper tiny.en) and real speech (espeak-ng) behind the REST and Realtime endpoints.

In-process:   with FakeOpenAI() as srv: srv.base_url
Subprocess:   with FakeOpenAIProcess() as srv: srv.base_url
              (runs python -m tests.fakeopenai --port 0 --print-url)
"""

from __future__ import annotations

from .process import FakeOpenAIProcess
from .server import FakeOpenAI
from .state import DEFAULT_API_KEY, DEFAULT_MODELS, FAULT_KINDS, Fault, RecordedRequest

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_MODELS",
    "FAULT_KINDS",
    "FakeOpenAI",
    "FakeOpenAIProcess",
    "Fault",
    "RecordedRequest",
]

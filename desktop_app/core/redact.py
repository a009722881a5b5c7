"""Redaction of secrets in any text that may be logged or shown."""

from __future__ import annotations

import re
import threading

# OpenAI keys (sk-..., sk-proj-..., sk-svcacct-...), ephemeral keys (ek_...) and Bearer headers.
# Each pattern's group 1, where present, is a label kept in the output ("Bearer ", "api_key=").
_KEY_PATTERNS = [
    re.compile(r"\b(?:sk|ek)[-_][A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.=]{8,}"),
    re.compile(r"(?i)(api[_-]?key[\"'\s:=]+)[A-Za-z0-9_\-\.]{8,}"),
]

_known_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember a secret value so that it is redacted wherever it appears, whatever its shape."""
    if value and len(value) >= 4:
        with _lock:
            _known_secrets.add(value)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "[REDACTED]")
    for pattern in _KEY_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.lastindex else "") + "[REDACTED]", text)
    return text


def mask(key: str) -> str:
    """A key shown to the user: enough to recognise it, never enough to use it."""
    if not key:
        return ""
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}…{key[-4:]}"

"""Nothing that looks like a key, and never the actual key, reaches the log file."""

from __future__ import annotations

import logging
from pathlib import Path

from desktop_app.core.redact import mask, redact, register_secret
from desktop_app.storage.logs import setup_logging


def test_key_shapes_are_redacted() -> None:
    text = ("key sk-proj-abcdefghijklmnop1234 and Authorization: Bearer abcdefghijklmnopq and "
            "api_key=zzzzzzzzzzzz and ek_1234567890abcdef")
    cleaned = redact(text)
    for secret in ("abcdefghijklmnop1234", "abcdefghijklmnopq", "zzzzzzzzzzzz", "1234567890abcdef"):
        assert secret not in cleaned
    assert "Bearer [REDACTED]" in cleaned


def test_a_registered_key_of_any_shape_is_redacted() -> None:
    register_secret("Odd-Shaped-Secret-42")
    assert redact("server said Odd-Shaped-Secret-42!") == "server said [REDACTED]!"


def test_mask_shows_only_the_ends() -> None:
    assert mask("sk-proj-1234567890abcd") == "sk-…abcd"
    assert mask("short") == "*****"
    assert mask("") == ""


def test_log_file_never_holds_the_key(tmp_path: Path) -> None:
    key = "sk-test-" + "k" * 40
    register_secret(key)
    log_file = setup_logging(tmp_path / "logs")
    log = logging.getLogger("test.redaction")
    log.warning("request failed with key %s", key)
    try:
        raise RuntimeError(f"boom {key}")
    except RuntimeError:
        log.exception("while talking to the server")
    for handler in logging.getLogger().handlers:
        handler.flush()
    content = log_file.read_text()
    assert "request failed with key [REDACTED]" in content
    assert "boom [REDACTED]" in content
    assert key not in content

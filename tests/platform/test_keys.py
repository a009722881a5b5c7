"""Parsing Qt portable key text into chords (shared by every OS backend)."""

from __future__ import annotations

import pytest

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.platform.keys import parse_key_sequence


@pytest.mark.parametrize(("text", "key", "mods", "normal"), [
    ("Ctrl+Alt+D", "d", {"ctrl", "alt"}, "Ctrl+Alt+D"),
    ("ctrl+shift+space", "space", {"ctrl", "shift"}, "Ctrl+Shift+Space"),
    ("F9", "f9", set(), "F9"),
    ("Meta+Alt+R", "r", {"meta", "alt"}, "Alt+Meta+R"),
    ("Esc", "escape", set(), "Esc"),
    ("Ctrl++", "+", {"ctrl"}, "Ctrl++"),
    ("Alt+PgDown", "pagedown", {"alt"}, "Alt+PgDown"),
])
def test_parse(text: str, key: str, mods: set[str], normal: str) -> None:
    chord = parse_key_sequence(text)
    assert (chord.key, set(chord.modifiers), chord.text) == (key, mods, normal)


@pytest.mark.parametrize(("text", "message"), [
    ("", "No hotkey"),
    ("Ctrl+Alt", "no key"),
    ("Ctrl+A+B", "2 keys"),
    ("Ctrl+K, Ctrl+D", "multi-step"),
    ("Ctrl+Hyperdrive", "Unknown key"),
])
def test_rejects_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(PlatformUnsupported, match=message):
        parse_key_sequence(text)

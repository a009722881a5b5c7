"""Qt portable key text ("Ctrl+Alt+D", "Meta+F9", "Ctrl+Shift+Space") parsed into an OS-neutral chord.

Every OS backend maps the parsed ``KeyChord`` to its own key codes, so the parsing rules (and their error
messages) are the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.core.errors import PlatformUnsupported

MODIFIER_NAMES = {
    "ctrl": "ctrl", "control": "ctrl",
    "alt": "alt",
    "shift": "shift",
    "meta": "meta", "super": "meta", "win": "meta", "cmd": "meta",
}

# Qt names of non-character keys, normalised to lower case -> canonical name used by the OS key maps.
NAMED_KEYS = {
    "space": "space", "esc": "escape", "escape": "escape", "tab": "tab", "backspace": "backspace",
    "return": "return", "enter": "enter", "ins": "insert", "insert": "insert", "del": "delete",
    "delete": "delete", "pause": "pause", "print": "print", "home": "home", "end": "end",
    "left": "left", "up": "up", "right": "right", "down": "down", "pgup": "pageup", "pageup": "pageup",
    "pgdown": "pagedown", "pagedown": "pagedown", "capslock": "capslock", "scrolllock": "scrolllock",
    "numlock": "numlock", "menu": "menu",
}
NAMED_KEYS.update({f"f{n}": f"f{n}" for n in range(1, 36)})


@dataclass(frozen=True)
class KeyChord:
    """``key`` is a lower-case single character ("d", "1", "/") or a canonical name ("space", "f9")."""

    key: str
    modifiers: frozenset[str]  # subset of {"ctrl", "alt", "shift", "meta"}
    text: str  # the normalised Qt text, for messages

    def has(self, modifier: str) -> bool:
        return modifier in self.modifiers


def parse_key_sequence(sequence: str) -> KeyChord:
    """Parse one Qt portable key combination; raises PlatformUnsupported with a readable reason."""
    raw = sequence.strip()
    if not raw:
        raise PlatformUnsupported("No hotkey is set.", hint="Choose a key combination in Settings.")
    if "," in raw.replace("+,", "+comma"):
        raise PlatformUnsupported(f"“{raw}” is a multi-step shortcut; global hotkeys take a single chord.")
    # "Ctrl++" means Ctrl and the plus key: split on "+" but keep a trailing "+" as the key.
    parts = [p for p in raw.split("+") if p.strip()]
    if raw.endswith("++") or raw == "+":
        parts.append("+")
    modifiers: set[str] = set()
    keys: list[str] = []
    for part in parts:
        name = part.strip()
        low = name.lower()
        if low in MODIFIER_NAMES:
            modifiers.add(MODIFIER_NAMES[low])
        else:
            keys.append(name)
    if len(keys) != 1:
        what = "no key" if not keys else f"{len(keys)} keys"
        raise PlatformUnsupported(f"“{raw}” has {what} besides the modifiers; use one key, e.g. Ctrl+Alt+D.")
    key = _canonical_key(keys[0], raw)
    order = [m for m in ("ctrl", "alt", "shift", "meta") if m in modifiers]
    text = "+".join([m.capitalize() for m in order] + [_display_key(key)])
    return KeyChord(key=key, modifiers=frozenset(modifiers), text=text)


def _canonical_key(name: str, raw: str) -> str:
    low = name.lower()
    if low in NAMED_KEYS:
        return NAMED_KEYS[low]
    if len(name) == 1:
        return low
    raise PlatformUnsupported(f"Unknown key “{name}” in the hotkey “{raw}”.")


def _display_key(key: str) -> str:
    if len(key) == 1:
        return key.upper()
    return {"pageup": "PgUp", "pagedown": "PgDown", "escape": "Esc"}.get(key, key.capitalize()
                                                                         if not key.startswith("f")
                                                                         else key.upper())

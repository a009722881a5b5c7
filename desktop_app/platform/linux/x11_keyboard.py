"""Synthetic keyboard input through XTest: shortcuts (Ctrl+V) and Unicode typing.

Characters that the current layout has (in its first group) are typed with their own key and Shift level.
Anything else — "é" on a US layout, "✓" anywhere — is typed by mapping a spare, unused keycode to that
keysym first (the xdotool technique). Spare keycodes keep their mapping until ``close()``: remapping a
keycode while the target may still be translating an earlier press of it would type the wrong character.
"""

from __future__ import annotations

import threading
import time

from Xlib import XK, X, display
from Xlib.ext import xtest

from desktop_app.platform.linux.x11_common import char_to_keysym, open_display

SHIFT_KEYSYM = XK.string_to_keysym("Shift_L")
# Between the remap of a reused spare keycode and its press, the target must have re-read the key map;
# X gives no event that says so, hence a short settle time (only paid when all spares are in use).
REMAP_SETTLE_SECONDS = 0.05


class XTestKeyboard:
    """One X connection for synthetic input; methods are serialised by a lock (any thread may call)."""

    def __init__(self, display_name: str | None = None) -> None:
        self._d: display.Display = open_display(display_name)
        self._lock = threading.Lock()
        self._min = int(self._d.display.info.min_keycode)
        self._max = int(self._d.display.info.max_keycode)
        self._assigned: dict[int, int] = {}  # keysym -> spare keycode we mapped it to
        self._spares: list[int] = []
        self._recent: list[int] = []  # spare keycodes in use by the current text, oldest first
        self._load_mapping()

    def close(self) -> None:
        with self._lock:
            if self._assigned:
                for keycode in self._assigned.values():
                    self._d.change_keyboard_mapping(keycode, [(X.NoSymbol, X.NoSymbol)])
                self._d.sync()
            self._d.close()

    # --- shortcuts -----------------------------------------------------------------------------------

    def send_shortcut(self, *key_names: str) -> None:
        """Press the keys in order and release them in reverse, e.g. ("Control_L", "Shift_L", "v")."""
        with self._lock:
            self._release_held_modifiers()
            keycodes = [self._keycode_of(XK.string_to_keysym(name)) for name in key_names]
            for keycode in keycodes:
                xtest.fake_input(self._d, X.KeyPress, keycode)
            for keycode in reversed(keycodes):
                xtest.fake_input(self._d, X.KeyRelease, keycode)
            self._d.sync()

    def release_held_modifiers(self) -> None:
        with self._lock:
            self._release_held_modifiers()
            self._d.sync()

    # --- typing --------------------------------------------------------------------------------------

    def type_text(self, text: str) -> None:
        """Type ``text`` into whatever has keyboard focus; non-ASCII included. Safe for streamed deltas."""
        with self._lock:
            self._release_held_modifiers()
            self._recent = []
            layout_usable = self._current_group() == 0
            for char in text:
                if char == "\r":
                    continue
                keysym = char_to_keysym(char)
                keycode, shift = self._layout_key(keysym) if layout_usable else (0, False)
                if not keycode:
                    keycode, shift = self._spare_for(keysym), False
                self._tap(keycode, shift)
            self._d.sync()

    def press_key(self, key_name: str, count: int = 1) -> None:
        """Tap one key ``count`` times, e.g. ("BackSpace", 3) to take back three typed characters."""
        with self._lock:
            self._release_held_modifiers()
            keycode = self._keycode_of(XK.string_to_keysym(key_name))
            for _ in range(count):
                self._tap(keycode, False)
            self._d.sync()

    def _tap(self, keycode: int, shift: bool) -> None:
        shift_code = self._keycode_of(SHIFT_KEYSYM) if shift else 0
        if shift_code:
            xtest.fake_input(self._d, X.KeyPress, shift_code)
        xtest.fake_input(self._d, X.KeyPress, keycode)
        xtest.fake_input(self._d, X.KeyRelease, keycode)
        if shift_code:
            xtest.fake_input(self._d, X.KeyRelease, shift_code)

    # --- key map -------------------------------------------------------------------------------------

    def _load_mapping(self) -> None:
        rows = self._d.get_keyboard_mapping(self._min, self._max - self._min + 1)
        self._layout: dict[int, tuple[int, bool]] = {}
        modifier_codes = {code for codes in self._d.get_modifier_mapping() for code in codes if code}
        for offset, row in enumerate(rows):
            keycode = self._min + offset
            if not any(row):
                if keycode not in self._spares:
                    self._spares.append(keycode)
                continue
            if keycode in modifier_codes:
                continue
            for column, shift in ((0, False), (1, True)):
                if column < len(row) and row[column] and row[column] not in self._layout:
                    self._layout[row[column]] = (keycode, shift)
        self._modifier_codes = modifier_codes

    def _layout_key(self, keysym: int) -> tuple[int, bool]:
        if keysym in self._assigned:
            return self._assigned[keysym], False
        return self._layout.get(keysym, (0, False))

    def _spare_for(self, keysym: int) -> int:
        if keysym in self._assigned:
            keycode = self._assigned[keysym]
            if keycode in self._recent:
                self._recent.remove(keycode)
            self._recent.append(keycode)
            return keycode
        free = [code for code in self._spares if code not in self._assigned.values()]
        if free:
            keycode = free[0]
        else:
            if not self._spares:
                raise RuntimeError("No spare keycode to type non-layout characters with")
            keycode = self._least_recent_spare()
            if keycode in self._recent:
                # It was pressed earlier in this text: let the target translate that press first.
                self._d.sync()
                time.sleep(REMAP_SETTLE_SECONDS)  # allow-sleep: X has no event for "client re-read the keymap"
                self._recent.clear()
            del self._assigned[next(k for k, v in self._assigned.items() if v == keycode)]
        self._d.change_keyboard_mapping(keycode, [(keysym, keysym)])
        self._d.sync()
        self._assigned[keysym] = keycode
        self._recent.append(keycode)
        return keycode

    def _least_recent_spare(self) -> int:
        untouched = [code for code in self._assigned.values() if code not in self._recent]
        return untouched[0] if untouched else self._recent[0]

    def _keycode_of(self, keysym: int) -> int:
        keycode = int(self._d.keysym_to_keycode(keysym))
        return keycode or self._spare_for(keysym)

    def _current_group(self) -> int:
        """The active XKB layout group: bits 13-14 of the core state (e.g. 1 when Russian is active)."""
        mask = int(self._d.screen().root.query_pointer().mask)
        return (mask >> 13) & 0x3

    def _release_held_modifiers(self) -> None:
        """The user may still hold Ctrl/Alt from the hotkey: a held Alt would turn Ctrl+V into Ctrl+Alt+V."""
        keymap = self._d.query_keymap()
        for keycode in self._modifier_codes:
            if keymap[keycode // 8] & (1 << (keycode % 8)):
                xtest.fake_input(self._d, X.KeyRelease, keycode)

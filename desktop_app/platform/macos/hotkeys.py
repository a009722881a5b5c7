"""Global hotkeys on macOS through a CGEventTap (press and release), which needs the Accessibility
permission; without it the service says exactly where to grant it.

Qt's portable text maps "Ctrl" to the Command key and "Meta" to the Control key on macOS; we follow it.
``HotkeyMatcher`` holds the logic (tested anywhere); the tap and its run loop need macOS.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.ports import HotkeyBinding
from desktop_app.platform.keys import KeyChord, parse_key_sequence
from desktop_app.platform.macos.quartz import ACCESSIBILITY_HINT, core_foundation, quartz

log = logging.getLogger(__name__)

FLAG_SHIFT, FLAG_CONTROL, FLAG_OPTION, FLAG_COMMAND = 0x20000, 0x40000, 0x80000, 0x100000
RELEVANT_FLAGS = FLAG_SHIFT | FLAG_CONTROL | FLAG_OPTION | FLAG_COMMAND
KEY_DOWN, KEY_UP = 10, 11
FIELD_AUTOREPEAT, FIELD_KEYCODE = 8, 9

MAC_KEYCODES = {
    "a": 0x00, "s": 0x01, "d": 0x02, "f": 0x03, "h": 0x04, "g": 0x05, "z": 0x06, "x": 0x07, "c": 0x08,
    "v": 0x09, "b": 0x0B, "q": 0x0C, "w": 0x0D, "e": 0x0E, "r": 0x0F, "y": 0x10, "t": 0x11, "1": 0x12,
    "2": 0x13, "3": 0x14, "4": 0x15, "6": 0x16, "5": 0x17, "=": 0x18, "9": 0x19, "7": 0x1A, "-": 0x1B,
    "8": 0x1C, "0": 0x1D, "]": 0x1E, "o": 0x1F, "u": 0x20, "[": 0x21, "i": 0x22, "p": 0x23, "l": 0x25,
    "j": 0x26, "'": 0x27, "k": 0x28, ";": 0x29, "\\": 0x2A, ",": 0x2B, "/": 0x2C, "n": 0x2D, "m": 0x2E,
    ".": 0x2F, "`": 0x32, "return": 0x24, "tab": 0x30, "space": 0x31, "backspace": 0x33, "escape": 0x35,
    "delete": 0x75, "home": 0x73, "end": 0x77, "pageup": 0x74, "pagedown": 0x79, "left": 0x7B,
    "right": 0x7C, "down": 0x7D, "up": 0x7E, "f1": 0x7A, "f2": 0x78, "f3": 0x63, "f4": 0x76, "f5": 0x60,
    "f6": 0x61, "f7": 0x62, "f8": 0x64, "f9": 0x65, "f10": 0x6D, "f11": 0x67, "f12": 0x6F, "f13": 0x69,
    "f14": 0x6B, "f15": 0x71, "f16": 0x6A, "f17": 0x40, "f18": 0x4F, "f19": 0x50, "f20": 0x5A,
}


def mac_keycode(chord: KeyChord) -> int:
    if chord.key not in MAC_KEYCODES:
        raise PlatformUnsupported(f"The key in “{chord.text}” cannot be used as a macOS hotkey.")
    return MAC_KEYCODES[chord.key]


def mac_flags(chord: KeyChord) -> int:
    flags = 0
    for name, bit in (("ctrl", FLAG_COMMAND), ("meta", FLAG_CONTROL), ("alt", FLAG_OPTION),
                      ("shift", FLAG_SHIFT)):
        if chord.has(name):
            flags |= bit
    return flags


def accessibility_trusted() -> bool:
    """AXIsProcessTrusted(); raises PlatformUnsupported where ApplicationServices does not exist."""
    return bool(quartz().AXIsProcessTrusted())


@dataclass
class _Entry:
    name: str
    keycode: int
    flags: int
    on_press: Callable[[], None]
    on_release: Callable[[], None] | None
    pressed: bool = False


class HotkeyMatcher:
    """Decides what a key event means; returns True when the event is ours (the tap then swallows it)."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def add(self, binding: HotkeyBinding, on_press: Callable[[], None],
            on_release: Callable[[], None] | None) -> None:
        chord = parse_key_sequence(binding.sequence)
        entry = _Entry(binding.name, mac_keycode(chord), mac_flags(chord), on_press, on_release)
        self.remove(binding.name)
        with self._lock:
            self._entries[binding.name] = entry

    def remove(self, name: str) -> None:
        with self._lock:
            entry = self._entries.pop(name, None)
        if entry is not None and entry.pressed and entry.on_release is not None:
            _safe(entry.on_release)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def on_event(self, event_type: int, keycode: int, flags: int, autorepeat: bool) -> bool:
        with self._lock:
            entries = list(self._entries.values())
        for entry in entries:
            if entry.keycode != keycode:
                continue
            if event_type == KEY_DOWN and (flags & RELEVANT_FLAGS) == entry.flags:
                if not entry.pressed and not autorepeat:
                    entry.pressed = True
                    _safe(entry.on_press)
                return True
            if event_type == KEY_UP and entry.pressed:
                entry.pressed = False
                if entry.on_release is not None:
                    _safe(entry.on_release)
                return True
        return False


def _safe(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:
        log.exception("Hotkey callback failed")


class MacHotkeyService:  # pragma: no cover - the tap and run loop need macOS
    def __init__(self) -> None:
        self._matcher = HotkeyMatcher()
        self._run_loop: Any = None
        self._started = threading.Event()
        self._error: PlatformUnsupported | None = None
        self._thread = threading.Thread(target=self._run, name="mac-hotkeys", daemon=True)
        self._thread.start()
        self._started.wait(timeout=5)

    def backend_name(self) -> str:
        return "macOS CGEventTap"

    def supports_release(self) -> bool:
        return True

    def register(self, binding: HotkeyBinding, on_press: Callable[[], None],
                 on_release: Callable[[], None] | None = None) -> None:
        if self._error is not None:
            raise self._error
        self._matcher.add(binding, on_press, on_release)

    def unregister(self, name: str) -> None:
        self._matcher.remove(name)

    def unregister_all(self) -> None:
        for name in self._matcher.names():
            self._matcher.remove(name)

    def close(self) -> None:
        if self._run_loop is not None:
            core_foundation().CFRunLoopStop(self._run_loop)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        cg, cf = quartz(), core_foundation()
        callback_type = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p,
                                         ctypes.c_void_p)

        def on_event(_proxy: Any, event_type: int, event: Any, _info: Any) -> Any:
            keycode = int(cg.CGEventGetIntegerValueField(event, FIELD_KEYCODE))
            repeat = bool(cg.CGEventGetIntegerValueField(event, FIELD_AUTOREPEAT))
            ours = self._matcher.on_event(event_type, keycode, int(cg.CGEventGetFlags(event)), repeat)
            return None if ours else event

        self._callback = callback_type(on_event)  # keep a reference for the lifetime of the tap
        cg.CGEventTapCreate.restype = ctypes.c_void_p
        mask = (1 << KEY_DOWN) | (1 << KEY_UP)
        tap = cg.CGEventTapCreate(1, 0, 0, ctypes.c_uint64(mask), self._callback, None)
        if not tap:
            self._error = PlatformUnsupported("Sayso may not watch the keyboard yet.",
                                              hint=ACCESSIBILITY_HINT)
            self._started.set()
            return
        cf.CFMachPortCreateRunLoopSource.restype = ctypes.c_void_p
        cf.CFRunLoopGetCurrent.restype = ctypes.c_void_p
        source = cf.CFMachPortCreateRunLoopSource(None, ctypes.c_void_p(tap), 0)
        self._run_loop = cf.CFRunLoopGetCurrent()
        modes = ctypes.c_void_p.in_dll(cf, "kCFRunLoopCommonModes")
        cf.CFRunLoopAddSource(ctypes.c_void_p(self._run_loop), ctypes.c_void_p(source), modes)
        cg.CGEventTapEnable(ctypes.c_void_p(tap), True)
        self._started.set()
        cf.CFRunLoopRun()

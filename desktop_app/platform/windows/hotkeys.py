"""Global hotkeys on Windows: RegisterHotKey for the press, a low-level keyboard hook for the release.

Everything runs on one thread with a Win32 message loop (RegisterHotKey and WH_KEYBOARD_LL both deliver
to the thread that installed them). user32 is loaded when the service starts, never at import, so this
module imports on any OS; ``HotkeyTable`` holds the logic and is tested with a fake user32.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.ports import HotkeyBinding
from desktop_app.platform.keys import KeyChord, parse_key_sequence

log = logging.getLogger(__name__)

MOD_ALT, MOD_CONTROL, MOD_SHIFT, MOD_WIN, MOD_NOREPEAT = 0x1, 0x2, 0x4, 0x8, 0x4000
WM_HOTKEY, WM_KEYUP, WM_SYSKEYUP, WM_APP, WM_QUIT = 0x0312, 0x0101, 0x0105, 0x8000, 0x0012
WH_KEYBOARD_LL = 13
ERROR_HOTKEY_ALREADY_REGISTERED = 1409

NAMED_VK = {
    "space": 0x20, "escape": 0x1B, "tab": 0x09, "backspace": 0x08, "return": 0x0D, "enter": 0x0D,
    "insert": 0x2D, "delete": 0x2E, "pause": 0x13, "print": 0x2C, "home": 0x24, "end": 0x23,
    "left": 0x25, "up": 0x26, "right": 0x27, "down": 0x28, "pageup": 0x21, "pagedown": 0x22,
    "capslock": 0x14, "scrolllock": 0x91, "numlock": 0x90, "menu": 0x5D,
}
NAMED_VK.update({f"f{n}": 0x70 + n - 1 for n in range(1, 25)})
PUNCTUATION_VK = {";": 0xBA, "=": 0xBB, ",": 0xBC, "-": 0xBD, ".": 0xBE, "/": 0xBF, "`": 0xC0,
                  "[": 0xDB, "\\": 0xDC, "]": 0xDD, "'": 0xDE}


def virtual_key(chord: KeyChord) -> int:
    key = chord.key
    if key in NAMED_VK:
        return NAMED_VK[key]
    if len(key) == 1 and (key.isascii() and key.isalnum()):
        return ord(key.upper())
    if key in PUNCTUATION_VK:
        return PUNCTUATION_VK[key]
    raise PlatformUnsupported(f"The key in “{chord.text}” cannot be used as a Windows hotkey.")


def hotkey_modifiers(chord: KeyChord) -> int:
    """RegisterHotKey modifiers; MOD_NOREPEAT so a held key sends one WM_HOTKEY."""
    mods = MOD_NOREPEAT
    for name, bit in (("alt", MOD_ALT), ("ctrl", MOD_CONTROL), ("shift", MOD_SHIFT), ("meta", MOD_WIN)):
        if chord.has(name):
            mods |= bit
    return mods


@dataclass
class _Entry:
    binding: HotkeyBinding
    text: str
    hotkey_id: int
    vk: int
    on_press: Callable[[], None]
    on_release: Callable[[], None] | None
    pressed: bool = False


class HotkeyTable:
    """Registration and press/release bookkeeping; call only from the message-loop thread."""

    def __init__(self, user32: Any, get_last_error: Callable[[], int]) -> None:
        self._user32 = user32
        self._last_error = get_last_error
        self._entries: dict[str, _Entry] = {}
        self._next_id = 1

    def register(self, binding: HotkeyBinding, on_press: Callable[[], None],
                 on_release: Callable[[], None] | None) -> None:
        chord = parse_key_sequence(binding.sequence)
        vk, mods = virtual_key(chord), hotkey_modifiers(chord)
        self.unregister(binding.name)
        hotkey_id = self._next_id
        self._next_id += 1
        if not self._user32.RegisterHotKey(None, hotkey_id, mods, vk):
            code = self._last_error()
            if code == ERROR_HOTKEY_ALREADY_REGISTERED:
                raise PlatformUnsupported(f"{chord.text} is already used by another application; "
                                          "choose another hotkey.")
            raise PlatformUnsupported(f"Could not register {chord.text} (Windows error {code}).")
        self._entries[binding.name] = _Entry(binding, chord.text, hotkey_id, vk, on_press, on_release)

    def unregister(self, name: str) -> None:
        entry = self._entries.pop(name, None)
        if entry is None:
            return
        self._user32.UnregisterHotKey(None, entry.hotkey_id)
        if entry.pressed and entry.on_release is not None:
            entry.pressed = False
            _safe(entry.on_release)

    def unregister_all(self) -> None:
        for name in list(self._entries):
            self.unregister(name)

    def on_hotkey(self, hotkey_id: int) -> None:
        for entry in self._entries.values():
            if entry.hotkey_id == hotkey_id and not entry.pressed:
                entry.pressed = True
                _safe(entry.on_press)

    def on_key_up(self, vk: int) -> None:
        for entry in self._entries.values():
            if entry.vk == vk and entry.pressed:
                entry.pressed = False
                if entry.on_release is not None:
                    _safe(entry.on_release)


def _safe(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:
        log.exception("Hotkey callback failed")


class WindowsHotkeyService:
    """HotkeyService for Windows; callbacks run on the message-loop thread."""

    def __init__(self) -> None:
        self._commands: queue.Queue[tuple[Callable[[HotkeyTable], None], Future[None]]] = queue.Queue()
        self._ready: Future[int] = Future()
        self._thread = threading.Thread(target=self._run, name="win-hotkeys", daemon=True)
        self._thread.start()
        self._thread_id = self._ready.result(timeout=5)

    def backend_name(self) -> str:
        return "Windows RegisterHotKey + keyboard hook"

    def supports_release(self) -> bool:
        return True

    def register(self, binding: HotkeyBinding, on_press: Callable[[], None],
                 on_release: Callable[[], None] | None = None) -> None:
        self._call(lambda table: table.register(binding, on_press, on_release))

    def unregister(self, name: str) -> None:
        self._call(lambda table: table.unregister(name))

    def unregister_all(self) -> None:
        self._call(lambda table: table.unregister_all())

    def close(self) -> None:
        user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]
        user32.PostThreadMessageW(self._thread_id, WM_QUIT, 0, 0)
        self._thread.join(timeout=5)

    def _call(self, fn: Callable[[HotkeyTable], None]) -> None:
        future: Future[None] = Future()
        self._commands.put((fn, future))
        user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]
        user32.PostThreadMessageW(self._thread_id, WM_APP, 0, 0)
        future.result(timeout=5)

    def _run(self) -> None:  # pragma: no cover - needs Windows
        from ctypes import wintypes

        user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        table = HotkeyTable(user32, ctypes.get_last_error)  # type: ignore[attr-defined]

        class KBDLLHOOKSTRUCT(ctypes.Structure):
            _fields_ = [("vkCode", wintypes.DWORD), ("scanCode", wintypes.DWORD), ("flags", wintypes.DWORD),
                        ("time", wintypes.DWORD), ("dwExtraInfo", ctypes.c_size_t)]

        hook_proc_type = ctypes.WINFUNCTYPE(  # type: ignore[attr-defined]
            ctypes.c_ssize_t, ctypes.c_int, wintypes.WPARAM, wintypes.LPARAM)

        def hook(code: int, wparam: int, lparam: int) -> int:
            if code >= 0 and wparam in (WM_KEYUP, WM_SYSKEYUP):
                info = ctypes.cast(lparam, ctypes.POINTER(KBDLLHOOKSTRUCT)).contents
                table.on_key_up(int(info.vkCode))
            return int(user32.CallNextHookEx(None, code, wparam, lparam))

        callback = hook_proc_type(hook)
        hook_handle = user32.SetWindowsHookExW(WH_KEYBOARD_LL, callback, kernel32.GetModuleHandleW(None), 0)
        msg = wintypes.MSG()
        user32.PeekMessageW(ctypes.byref(msg), None, 0, 0, 0)  # creates this thread's message queue
        self._ready.set_result(int(kernel32.GetCurrentThreadId()))
        try:
            while user32.GetMessageW(ctypes.byref(msg), None, 0, 0) > 0:
                if msg.message == WM_HOTKEY:
                    table.on_hotkey(int(msg.wParam))
                elif msg.message == WM_APP:
                    self._run_commands(table)
        finally:
            table.unregister_all()
            if hook_handle:
                user32.UnhookWindowsHookEx(hook_handle)

    def _run_commands(self, table: HotkeyTable) -> None:
        while True:
            try:
                fn, future = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                future.set_result(fn(table))
            except Exception as exc:
                future.set_exception(exc)

"""Text insertion on Windows: SendInput with KEYEVENTF_UNICODE (layout-independent, clipboard untouched),
and the clipboard for copy-only and for reading a selection through Ctrl+C.

"paste" and "type" both send Unicode key events here: Windows offers no way to see that a paste consumed
the clipboard short of delayed rendering, and Unicode SendInput already types any character on any
layout. SendInput's return count is the confirmation; UIPI-blocked targets (elevated windows) return 0,
and then the text is copied with a "press Ctrl+V" notice. user32/kernel32 are loaded on first use.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.ports import FocusTarget, InsertResult, TypingSession
from desktop_app.platform.clipboard_copy_selection import PollingChangeWatch, copy_selection

# Exact Win32 widths (ctypes.wintypes uses C long, which is 8 bytes on Linux and would skew the layout).
WORD, DWORD, LONG, ULONG_PTR = ctypes.c_uint16, ctypes.c_uint32, ctypes.c_int32, ctypes.c_size_t
INPUT_KEYBOARD = 1
KEYEVENTF_KEYUP, KEYEVENTF_UNICODE = 0x0002, 0x0004
VK_BACK, VK_CONTROL, VK_SHIFT, VK_RETURN = 0x08, 0x11, 0x10, 0x0D
CF_UNICODETEXT = 13
GMEM_MOVEABLE = 0x0002
SEND_CHUNK = 64  # events per SendInput call: long texts in one call get dropped by some targets
COPIED_MESSAGE = "Copied — press Ctrl+V"
TERMINAL_CLASSES = frozenset({"ConsoleWindowClass", "CASCADIA_HOSTING_WINDOW_CLASS", "mintty", "PuTTY",
                              "VirtualConsoleClass", "org.wezfurlong.wezterm", "Alacritty"})


class KEYBDINPUT(ctypes.Structure):
    _fields_ = [("wVk", WORD), ("wScan", WORD), ("dwFlags", DWORD),
                ("time", DWORD), ("dwExtraInfo", ULONG_PTR)]


class MOUSEINPUT(ctypes.Structure):
    _fields_ = [("dx", LONG), ("dy", LONG), ("mouseData", DWORD),
                ("dwFlags", DWORD), ("time", DWORD), ("dwExtraInfo", ULONG_PTR)]


class _InputUnion(ctypes.Union):
    _fields_ = [("ki", KEYBDINPUT), ("mi", MOUSEINPUT)]


class INPUT(ctypes.Structure):
    _anonymous_ = ("u",)
    _fields_ = [("type", DWORD), ("u", _InputUnion)]


def _key(vk: int = 0, scan: int = 0, flags: int = 0) -> INPUT:
    return INPUT(type=INPUT_KEYBOARD, ki=KEYBDINPUT(wVk=vk, wScan=scan, dwFlags=flags))


def unicode_inputs(text: str) -> list[INPUT]:
    """Key down + up per UTF-16 code unit (so "😀" is two surrogate pairs of events); newline is Enter."""
    events: list[INPUT] = []
    for char in text.replace("\r\n", "\n"):
        if char == "\n":
            events += [_key(vk=VK_RETURN), _key(vk=VK_RETURN, flags=KEYEVENTF_KEYUP)]
            continue
        data = char.encode("utf-16-le")
        for i in range(0, len(data), 2):
            unit = int.from_bytes(data[i:i + 2], "little")
            events += [_key(scan=unit, flags=KEYEVENTF_UNICODE),
                       _key(scan=unit, flags=KEYEVENTF_UNICODE | KEYEVENTF_KEYUP)]
    return events


def backspace_inputs(count: int) -> list[INPUT]:
    """``count`` BackSpace taps: each takes back one typed character (a surrogate pair counts as one)."""
    return [_key(vk=VK_BACK), _key(vk=VK_BACK, flags=KEYEVENTF_KEYUP)] * count


def shortcut_inputs(*vks: int) -> list[INPUT]:
    return [_key(vk=vk) for vk in vks] + [_key(vk=vk, flags=KEYEVENTF_KEYUP) for vk in reversed(vks)]


def _load(name: str) -> Any:  # pragma: no cover - Windows only
    return ctypes.WinDLL(name, use_last_error=True)  # type: ignore[attr-defined]


class WindowsTextInserter:
    def __init__(self, user32: Any = None, kernel32: Any = None) -> None:
        self._user32 = user32
        self._kernel32 = kernel32

    @property
    def user32(self) -> Any:
        if self._user32 is None:
            self._user32 = _load("user32")
        return self._user32

    @property
    def kernel32(self) -> Any:
        if self._kernel32 is None:
            self._kernel32 = _load("kernel32")
        return self._kernel32

    def backend_name(self) -> str:
        return "Windows SendInput (Unicode)"

    def focused_target(self) -> FocusTarget:
        hwnd = int(self.user32.GetForegroundWindow() or 0)
        if not hwnd:
            return FocusTarget()
        buffer = ctypes.create_unicode_buffer(256)
        self.user32.GetClassNameW(hwnd, buffer, 256)
        return FocusTarget(window_id=hwnd, app_name=buffer.value,
                           is_terminal=buffer.value in TERMINAL_CLASSES)

    def insert(self, text: str, target: FocusTarget, method: str) -> InsertResult:
        if method not in ("paste", "type", "clipboard"):
            raise PlatformUnsupported(f"Unknown insertion method “{method}”.")
        if method == "clipboard":
            self.set_clipboard_text(text)
            return InsertResult(False, True, "Copied to the clipboard — press Ctrl+V to paste.")
        if target.window_id:
            if not self.user32.IsWindow(target.window_id):
                self.set_clipboard_text(text)
                return InsertResult(False, True, f"The window you dictated into is gone. {COPIED_MESSAGE}.")
            self.user32.SetForegroundWindow(target.window_id)
        if self.send(unicode_inputs(text)):
            return InsertResult(delivered=True, left_on_clipboard=False)
        self.set_clipboard_text(text)
        return InsertResult(False, True, COPIED_MESSAGE)

    def start_typing(self, target: FocusTarget) -> TypingSession | None:
        return WindowsTypingSession(self, target)

    def send(self, events: Sequence[INPUT]) -> bool:
        """SendInput in chunks; False as soon as Windows refuses some (UIPI, secure desktop)."""
        for start in range(0, len(events), SEND_CHUNK):
            chunk = events[start:start + SEND_CHUNK]
            array = (INPUT * len(chunk))(*chunk)
            if int(self.user32.SendInput(len(chunk), array, ctypes.sizeof(INPUT))) != len(chunk):
                return False
        return True

    # --- clipboard (CF_UNICODETEXT) ------------------------------------------------------------------

    def set_clipboard_text(self, text: str) -> None:
        data = (text + "\0").encode("utf-16-le")
        if not self.user32.OpenClipboard(None):
            raise PlatformUnsupported("The clipboard is busy (another application has it open).")
        try:
            self.user32.EmptyClipboard()
            handle = self.kernel32.GlobalAlloc(GMEM_MOVEABLE, len(data))
            pointer = self.kernel32.GlobalLock(handle)
            ctypes.memmove(pointer, data, len(data))
            self.kernel32.GlobalUnlock(handle)
            self.user32.SetClipboardData(CF_UNICODETEXT, handle)
        finally:
            self.user32.CloseClipboard()

    def clipboard_text(self) -> str | None:
        if not self.user32.OpenClipboard(None):
            return None
        try:
            handle = self.user32.GetClipboardData(CF_UNICODETEXT)
            if not handle:
                return None
            pointer = self.kernel32.GlobalLock(handle)
            try:
                return ctypes.wstring_at(pointer)
            finally:
                self.kernel32.GlobalUnlock(handle)
        finally:
            self.user32.CloseClipboard()


class WindowsTypingSession:
    """Live typing into one window (TypingSession) with Unicode SendInput; keys are only sent while the
    target is the foreground window (``refocus`` brings it back first)."""

    def __init__(self, inserter: WindowsTextInserter, target: FocusTarget) -> None:
        self._ins = inserter
        self._target = target

    def type(self, text: str, *, refocus: bool = False) -> bool:
        return self._target_in_front(refocus) and self._ins.send(unicode_inputs(text))

    def erase(self, count: int, *, refocus: bool = False) -> bool:
        if count <= 0:
            return True
        return self._target_in_front(refocus) and self._ins.send(backspace_inputs(count))

    def close(self) -> None:
        return None

    def _target_in_front(self, refocus: bool) -> bool:
        hwnd = self._target.window_id
        if not hwnd:
            return True  # nothing remembered: type into whatever has focus (as ``insert`` does)
        user32 = self._ins.user32
        if not user32.IsWindow(hwnd):
            return False
        if int(user32.GetForegroundWindow() or 0) == hwnd:
            return True
        return refocus and bool(user32.SetForegroundWindow(hwnd))


class _WindowsCopyClipboard:
    """Text-only save/restore: formats other than CF_UNICODETEXT are not preserved on this path."""

    def __init__(self, inserter: WindowsTextInserter) -> None:
        self._ins = inserter

    def snapshot(self) -> object:
        return self._ins.clipboard_text()

    def restore(self, snapshot: object) -> None:
        if isinstance(snapshot, str):
            self._ins.set_clipboard_text(snapshot)

    def begin_watch(self) -> PollingChangeWatch:
        return PollingChangeWatch(lambda: int(self._ins.user32.GetClipboardSequenceNumber()))

    def read_text(self) -> str | None:
        return self._ins.clipboard_text()

    def send_copy_shortcut(self) -> None:
        self._ins.send(shortcut_inputs(VK_CONTROL, ord("C")))


class WindowsCopySelectionReader:
    def __init__(self, inserter: WindowsTextInserter) -> None:
        self._clipboard = _WindowsCopyClipboard(inserter)

    def read_selection(self) -> str | None:
        return copy_selection(self._clipboard)

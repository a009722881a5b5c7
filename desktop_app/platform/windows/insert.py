"""Text insertion on Windows: SendInput with KEYEVENTF_UNICODE (layout-independent, clipboard untouched),
and the clipboard for copy-only and for reading a selection through Ctrl+C.

"paste" and "type" both send Unicode key events here: Windows offers no way to see that a paste consumed
the clipboard short of delayed rendering, and Unicode SendInput already types any character on any
layout. SendInput's return count is the confirmation; UIPI-blocked targets (elevated windows) return 0,
and then the text is copied with a "press Ctrl+V" notice. user32/kernel32 are loaded on first use.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.ports import FocusTarget, InsertResult, TypingSession
from desktop_app.platform.clipboard_copy_selection import (
    COPY_TIMEOUT,
    PollingChangeWatch,
    copy_selection,
    is_whole_line_copy,
)

# Exact Win32 widths (ctypes.wintypes uses C long, which is 8 bytes on Linux and would skew the layout).
WORD, DWORD, LONG, ULONG_PTR = ctypes.c_uint16, ctypes.c_uint32, ctypes.c_int32, ctypes.c_size_t
INPUT_KEYBOARD = 1
KEYEVENTF_KEYUP, KEYEVENTF_UNICODE = 0x0002, 0x0004
VK_BACK, VK_CONTROL, VK_SHIFT, VK_RETURN = 0x08, 0x11, 0x10, 0x0D
CF_UNICODETEXT = 13
# CF_BITMAP, CF_METAFILEPICT, CF_PALETTE, CF_ENHMETAFILE, CF_OWNERDISPLAY, CF_DSPBITMAP, CF_DSPMETAFILEPICT,
# CF_DSPENHMETAFILE: GDI handles or owner-drawn, not HGLOBAL memory.
GDI_HANDLE_FORMATS = frozenset({2, 3, 9, 14, 0x80, 0x82, 0x83, 0x8E})
CF_PRIVATEFIRST, CF_GDIOBJLAST = 0x200, 0x3FF  # CF_PRIVATE* and CF_GDIOBJ* ranges: handles we cannot copy
REGISTERED_FORMAT_FIRST = 0xC000
# OLE's pointers to the copying app's live data object: stale once another app owned the clipboard.
LIVE_OBJECT_FORMATS = frozenset({"DataObject", "Ole Private Data"})
OPEN_ATTEMPTS, OPEN_RETRY_INTERVAL = 10, 0.01
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


# Handles and pointers are 64-bit: without these, ctypes would pass and return them as 32-bit C ints.
_HANDLE, _UINT = ctypes.c_void_p, ctypes.c_uint
CLIPBOARD_SIGNATURES: dict[str, dict[str, tuple[Any, list[Any]]]] = {
    "user32": {
        "OpenClipboard": (ctypes.c_int, [_HANDLE]),
        "GetClipboardData": (_HANDLE, [_UINT]),
        "SetClipboardData": (_HANDLE, [_UINT, _HANDLE]),
        "EnumClipboardFormats": (_UINT, [_UINT]),
        "GetClipboardFormatNameW": (ctypes.c_int, [_UINT, ctypes.c_wchar_p, ctypes.c_int]),
        "GetClipboardSequenceNumber": (DWORD, []),
    },
    "kernel32": {
        "GlobalAlloc": (_HANDLE, [_UINT, ctypes.c_size_t]),
        "GlobalLock": (ctypes.c_void_p, [_HANDLE]),
        "GlobalUnlock": (ctypes.c_int, [_HANDLE]),
        "GlobalSize": (ctypes.c_size_t, [_HANDLE]),
        "GlobalFree": (_HANDLE, [_HANDLE]),
    },
}


def _load(name: str) -> Any:  # pragma: no cover - Windows only
    library = ctypes.WinDLL(name, use_last_error=True)  # type: ignore[attr-defined]
    for function, (restype, argtypes) in CLIPBOARD_SIGNATURES.get(name, {}).items():
        getattr(library, function).restype = restype
        getattr(library, function).argtypes = argtypes
    return library


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
        # Without a remembered window the focus cannot be checked before each burst: final insert only.
        return WindowsTypingSession(self, target) if target.window_id else None

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


class WindowsTypingSession:
    """Live typing into one window (TypingSession) with Unicode SendInput; keys are only sent while the
    target is the foreground window (``refocus`` brings it back first)."""

    def __init__(self, inserter: WindowsTextInserter, target: FocusTarget) -> None:
        self._ins = inserter
        self._target = target

    def type(self, text: str, *, refocus: bool = False) -> bool:
        return self._target_in_front(refocus) and self._sent(unicode_inputs(text))

    def erase(self, count: int, *, refocus: bool = False) -> bool:
        if count <= 0:
            return True
        return self._target_in_front(refocus) and self._sent(backspace_inputs(count))

    def _sent(self, events: Sequence[INPUT]) -> bool:
        # False would mean "nothing sent"; SendInput may have taken some chunks before refusing one, so the
        # target holds an unknown part: raise, and the live typer stops typing and copies the final text.
        if not self._ins.send(events):
            raise PlatformUnsupported("Windows refused some of the typed keys (an elevated window?).")
        return True

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


@dataclass(frozen=True)
class WindowsClipboardSnapshot:
    """Every saved clipboard format as (format id, bytes of its HGLOBAL), in the clipboard's own order
    (pasting apps take the first format they understand)."""

    formats: tuple[tuple[int, bytes], ...]


def _savable(format_id: int) -> bool:
    """HGLOBAL-backed formats only: GDI handles cannot be copied as bytes (Windows synthesizes CF_BITMAP
    from the saved CF_DIB), owner-display and private formats are meaningless without their owner."""
    return (format_id not in GDI_HANDLE_FORMATS
            and not CF_PRIVATEFIRST <= format_id <= CF_GDIOBJLAST)


class _SettledChangeWatch:
    """A sequence-number change, and then the copying app done writing: the number moves at its
    EmptyClipboard, while it still holds the clipboard open to add the formats."""

    def __init__(self, changes: PollingChangeWatch, clipboard: _WindowsCopyClipboard) -> None:
        self._changes = changes
        self._clipboard = clipboard

    def wait_changed(self, timeout: float) -> bool:
        if not self._changes.wait_changed(timeout):
            return False
        self._clipboard.wait_closed()  # still busy after the retries: read_text will say so with None
        return True


class _WindowsCopyClipboard:
    """``CopyClipboard`` for Windows: every HGLOBAL format is saved and put back in one clipboard session;
    the sequence number is the change stamp."""

    def __init__(self, inserter: WindowsTextInserter, wait: Callable[[float], object] | None = None) -> None:
        self._ins = inserter
        self._wait = wait or threading.Event().wait
        self._stamp_at_read: object = None

    def snapshot(self) -> object:
        if not self._open():
            return None  # cannot be saved, so nothing will be restored either
        try:
            formats: list[tuple[int, bytes]] = []
            for format_id in self._formats():
                if not _savable(format_id) or self._format_name(format_id) in LIVE_OBJECT_FORMATS:
                    continue
                data = self._data(format_id)
                if data is not None:
                    formats.append((format_id, data))
            return WindowsClipboardSnapshot(tuple(formats))
        finally:
            self._ins.user32.CloseClipboard()

    def restore(self, snapshot: object) -> None:
        if not isinstance(snapshot, WindowsClipboardSnapshot) or not self._open():
            return
        user32, kernel32 = self._ins.user32, self._ins.kernel32
        try:
            user32.EmptyClipboard()
            for format_id, data in snapshot.formats:
                handle = kernel32.GlobalAlloc(GMEM_MOVEABLE, max(len(data), 1))
                if not handle:
                    continue
                pointer = kernel32.GlobalLock(handle)
                if pointer:
                    ctypes.memmove(pointer, data, len(data))
                    kernel32.GlobalUnlock(handle)
                if not pointer or not user32.SetClipboardData(format_id, handle):
                    kernel32.GlobalFree(handle)  # the clipboard owns the memory only once it took it
        finally:
            user32.CloseClipboard()

    def change_stamp(self) -> object:
        return int(self._ins.user32.GetClipboardSequenceNumber())

    def stamp_at_read(self) -> object:
        return self._stamp_at_read

    def begin_watch(self) -> _SettledChangeWatch:
        return _SettledChangeWatch(PollingChangeWatch(self.change_stamp), self)

    def read_text(self) -> str | None:
        if not self._open():
            self._stamp_at_read = None
            return None
        try:
            data = self._data(CF_UNICODETEXT)
            # Taken while we hold the clipboard: after our read rendered the text, before anyone else writes.
            self._stamp_at_read = self.change_stamp()
        finally:
            self._ins.user32.CloseClipboard()
        return data.decode("utf-16-le", errors="replace").split("\0", 1)[0] if data else None

    def copied_whole_line(self) -> bool:
        if not self._open():
            return False
        try:
            ids = {self._format_name(format_id): format_id for format_id in self._formats()}
            return is_whole_line_copy(ids, lambda name: self._data(ids[name]))
        finally:
            self._ins.user32.CloseClipboard()

    def send_copy_shortcut(self) -> None:
        self._ins.send(shortcut_inputs(VK_CONTROL, ord("C")))

    def wait_closed(self) -> bool:
        """Whether the clipboard could be opened (so whoever was writing it has finished)."""
        if not self._open():
            return False
        self._ins.user32.CloseClipboard()
        return True

    def _open(self) -> bool:
        """OpenClipboard, retried: right after a change the copying app may still hold it open."""
        for attempt in range(OPEN_ATTEMPTS):
            if self._ins.user32.OpenClipboard(None):
                return True
            if attempt + 1 < OPEN_ATTEMPTS:
                self._wait(OPEN_RETRY_INTERVAL)  # Windows sends no event when the clipboard is closed
        return False

    def _formats(self) -> list[int]:
        """The formats on the open clipboard (including the ones Windows synthesizes), in order."""
        found: list[int] = []
        format_id = int(self._ins.user32.EnumClipboardFormats(0) or 0)
        while format_id:
            found.append(format_id)
            format_id = int(self._ins.user32.EnumClipboardFormats(format_id) or 0)
        return found

    def _format_name(self, format_id: int) -> str:
        if format_id < REGISTERED_FORMAT_FIRST:
            return f"#{format_id}"  # predefined formats have no name to ask for
        buffer = ctypes.create_unicode_buffer(256)
        length = int(self._ins.user32.GetClipboardFormatNameW(format_id, buffer, 256))
        return buffer.value[:length] if length > 0 else f"#{format_id}"

    def _data(self, format_id: int) -> bytes | None:
        """The bytes behind a format's HGLOBAL on the open clipboard (None if it has none)."""
        kernel32 = self._ins.kernel32
        handle = self._ins.user32.GetClipboardData(format_id)
        if not handle:
            return None
        size = int(kernel32.GlobalSize(handle))
        pointer = kernel32.GlobalLock(handle) if size > 0 else None
        if not pointer:
            return None
        try:
            return ctypes.string_at(pointer, size)
        finally:
            kernel32.GlobalUnlock(handle)


class WindowsCopySelectionReader:
    def __init__(self, inserter: WindowsTextInserter, timeout: float = COPY_TIMEOUT) -> None:
        self._clipboard = _WindowsCopyClipboard(inserter)
        self._timeout = timeout

    def read_selection(self) -> str | None:
        return copy_selection(self._clipboard, self._timeout)

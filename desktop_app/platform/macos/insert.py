"""Text insertion on macOS: Unicode key events (CGEventKeyboardSetUnicodeString), layout-independent and
clipboard-free; the pasteboard through pbcopy for copy-only, and through NSPasteboard (every item and type
saved and restored) for the Cmd+C selection path.

As on Windows, a paste cannot be confirmed, so "paste" sends the text as Unicode key events instead of
risking a clobbered or early-restored clipboard. Posting events needs the Accessibility permission.
"""

from __future__ import annotations

import ctypes
import subprocess
from collections.abc import Callable
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
from desktop_app.platform.macos.hotkeys import FLAG_COMMAND
from desktop_app.platform.macos.pasteboard import MacPasteboard, PasteboardItem
from desktop_app.platform.macos.quartz import ACCESSIBILITY_HINT, quartz

HID_EVENT_TAP = 0
UNITS_PER_EVENT = 20  # CGEventKeyboardSetUnicodeString ignores text beyond ~20 UTF-16 units per event
KEYCODE_C = 0x08


def utf16_chunks(text: str, size: int = UNITS_PER_EVENT) -> list[list[int]]:
    """UTF-16 code units in chunks of ``size``, never splitting a surrogate pair."""
    units: list[int] = []
    chunks: list[list[int]] = []
    for char in text:
        data = char.encode("utf-16-le")
        pair = [int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data), 2)]
        if len(units) + len(pair) > size:
            chunks.append(units)
            units = []
        units += pair
    if units:
        chunks.append(units)
    return chunks


def _run(argv: list[str], stdin: bytes | None = None) -> bytes:
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=5, check=False).stdout


class MacTextInserter:
    def __init__(self, cg: Any = None, run: Callable[[list[str], bytes | None], bytes] = _run,
                 trusted: Callable[[], bool] | None = None) -> None:
        self._cg = cg
        self._run = run
        self._trusted = trusted

    @property
    def cg(self) -> Any:
        if self._cg is None:
            self._cg = quartz()
        return self._cg

    def backend_name(self) -> str:
        return "macOS CGEvent (Unicode)"

    def focused_target(self) -> FocusTarget:
        return FocusTarget()  # the frontmost app keeps focus: Sayso never raises its window while dictating

    def insert(self, text: str, target: FocusTarget, method: str) -> InsertResult:
        if method not in ("paste", "type", "clipboard"):
            raise PlatformUnsupported(f"Unknown insertion method “{method}”.")
        if method == "clipboard":
            self.set_clipboard_text(text)
            return InsertResult(False, True, "Copied to the clipboard — press Cmd+V to paste.")
        trusted = self._trusted() if self._trusted else bool(self.cg.AXIsProcessTrusted())
        if not trusted:
            self.set_clipboard_text(text)
            return InsertResult(False, True,
                                f"Copied — press Cmd+V. To insert directly: {ACCESSIBILITY_HINT}")
        self.type_text(text)
        return InsertResult(delivered=True, left_on_clipboard=False)

    def start_typing(self, target: FocusTarget) -> TypingSession | None:
        """No live typing on macOS: ``focused_target`` cannot tell which app had the focus, so keys typed
        while the transcript streams (and the BackSpaces that correct them) could land in an app the user
        switched to meanwhile. The final text goes in with one ``insert`` instead."""
        return None

    def type_text(self, text: str) -> None:
        for units in utf16_chunks(text):
            buffer = (ctypes.c_uint16 * len(units))(*units)
            for key_down in (True, False):
                event = self.cg.CGEventCreateKeyboardEvent(None, 0, key_down)
                self.cg.CGEventKeyboardSetUnicodeString(event, len(units), buffer)
                self.cg.CGEventPost(HID_EVENT_TAP, event)
                self.cg.CFRelease(event)

    def send_shortcut(self, keycode: int, flags: int) -> None:
        for key_down in (True, False):
            event = self.cg.CGEventCreateKeyboardEvent(None, keycode, key_down)
            self.cg.CGEventSetFlags(event, flags)
            self.cg.CGEventPost(HID_EVENT_TAP, event)
            self.cg.CFRelease(event)

    def set_clipboard_text(self, text: str) -> None:
        self._run(["pbcopy"], text.encode("utf-8"))


@dataclass(frozen=True)
class MacPasteboardSnapshot:
    items: tuple[PasteboardItem, ...]


class _MacCopyClipboard:
    """``CopyClipboard`` for macOS: every pasteboard item with all its types is saved and written back;
    NSPasteboard's changeCount is the change stamp."""

    def __init__(self, inserter: MacTextInserter, pasteboard: MacPasteboard) -> None:
        self._ins = inserter
        self._board = pasteboard
        self._stamp_at_read: object = None

    def snapshot(self) -> object:
        return MacPasteboardSnapshot(tuple(self._board.items()))

    def restore(self, snapshot: object) -> None:
        if isinstance(snapshot, MacPasteboardSnapshot):
            self._board.write_items(list(snapshot.items))

    def change_stamp(self) -> object:
        return self._board.change_count()

    def stamp_at_read(self) -> object:
        return self._stamp_at_read

    def begin_watch(self) -> PollingChangeWatch:
        return PollingChangeWatch(self._board.change_count, interval=0.05)

    def read_text(self) -> str | None:
        # Taken first: a write between the two makes the stamp stale, and then nothing is restored over it.
        self._stamp_at_read = self._board.change_count()
        return self._board.text()

    def copied_whole_line(self) -> bool:
        return is_whole_line_copy(self._board.types(), self._board.data)

    def send_copy_shortcut(self) -> None:
        self._ins.send_shortcut(KEYCODE_C, FLAG_COMMAND)


class MacCopySelectionReader:
    def __init__(self, inserter: MacTextInserter, pasteboard: MacPasteboard | None = None,
                 timeout: float = COPY_TIMEOUT) -> None:
        self._clipboard = _MacCopyClipboard(inserter, pasteboard or MacPasteboard())
        self._timeout = timeout

    def read_selection(self) -> str | None:
        return copy_selection(self._clipboard, self._timeout)

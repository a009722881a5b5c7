"""Selected text on X11: the PRIMARY selection (the clipboard is not touched), with the copy-shortcut
fallback (save clipboard, Ctrl+C, wait for the change, read, restore) for apps that do not set PRIMARY."""

from __future__ import annotations

from desktop_app.platform.clipboard_copy_selection import copy_selection
from desktop_app.platform.linux.x11_keyboard import XTestKeyboard
from desktop_app.platform.linux.x11_selection_transfer import (
    OfferWatch,
    SelectionOwner,
    SelectionReader,
    SelectionSnapshot,
)


class X11PrimarySelectionReader:
    """SelectionReader: PRIMARY as UTF8_STRING; None when nothing is selected."""

    def __init__(self, display_name: str | None = None, owner: SelectionOwner | None = None) -> None:
        self._reader = SelectionReader(display_name, owner)

    def read_selection(self) -> str | None:
        text = self._reader.read_text("PRIMARY")
        return text if text else None


class _ClaimWatch:
    """We claim CLIPBOARD with no formats; the app's copy takes it from us, which the X server reports."""

    def __init__(self, watch: OfferWatch) -> None:
        self._watch = watch

    def wait_changed(self, timeout: float) -> bool:
        return self._watch.lost.wait(timeout)


class X11CopyClipboard:
    """The ``CopyClipboard`` operations for X11, used by ``copy_selection``."""

    def __init__(self, owner: SelectionOwner, keyboard: XTestKeyboard,
                 display_name: str | None = None) -> None:
        self._owner = owner
        self._keyboard = keyboard
        self._reader = SelectionReader(display_name, owner)

    def snapshot(self) -> object:
        return self._reader.snapshot("CLIPBOARD")

    def restore(self, snapshot: object) -> None:
        assert isinstance(snapshot, SelectionSnapshot)
        if snapshot.empty:
            self._owner.release("CLIPBOARD")
        else:
            self._owner.offer("CLIPBOARD", snapshot.formats)

    def begin_watch(self) -> _ClaimWatch:
        return _ClaimWatch(self._owner.offer("CLIPBOARD", {}))

    def read_text(self) -> str | None:
        return self._reader.read_text("CLIPBOARD")

    def send_copy_shortcut(self) -> None:
        self._keyboard.send_shortcut("Control_L", "c")


class X11CopySelectionReader:
    """SelectionReader through the copy shortcut (the fallback path for apps without PRIMARY)."""

    def __init__(self, owner: SelectionOwner, keyboard: XTestKeyboard, display_name: str | None = None,
                 timeout: float = 1.0) -> None:
        self._clipboard = X11CopyClipboard(owner, keyboard, display_name)
        self._timeout = timeout

    def read_selection(self) -> str | None:
        return copy_selection(self._clipboard, self._timeout)

"""Selection capture where there is no PRIMARY selection: save the clipboard, send the copy shortcut, wait
for the clipboard to change, read it, put the old clipboard back.

The OS specifics (how to snapshot, how to notice a change, which shortcut) come from a ``CopyClipboard``;
this module only holds the order of steps and the rule that the old clipboard is always restored.
Editors that copy the whole line when nothing is selected cannot be told apart here: callers that have
a better source (X11 PRIMARY, macOS accessibility) should prefer it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

COPY_TIMEOUT = 1.0
POLL_INTERVAL = 0.02


class ChangeWatch(Protocol):
    def wait_changed(self, timeout: float) -> bool: ...


class CopyClipboard(Protocol):
    def snapshot(self) -> object: ...
    def restore(self, snapshot: object) -> None: ...
    def begin_watch(self) -> ChangeWatch: ...
    def read_text(self) -> str | None: ...
    def send_copy_shortcut(self) -> None: ...


def copy_selection(clipboard: CopyClipboard, timeout: float = COPY_TIMEOUT) -> str | None:
    """The text the user has selected in the focused app, or None if the copy did not change anything."""
    saved = clipboard.snapshot()
    try:
        watch = clipboard.begin_watch()
        clipboard.send_copy_shortcut()
        if not watch.wait_changed(timeout):
            return None
        text = clipboard.read_text()
        return text if text else None
    finally:
        clipboard.restore(saved)


class PollingChangeWatch:
    """For OSes that only expose a change counter (Windows GetClipboardSequenceNumber, macOS changeCount)."""

    def __init__(self, read_marker: Callable[[], object], interval: float = POLL_INTERVAL) -> None:
        self._read_marker = read_marker
        self._start = read_marker()
        self._interval = interval

    def wait_changed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        stop = threading.Event()
        while self._read_marker() == self._start:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            stop.wait(min(self._interval, remaining))  # the OS gives no change event to block on
        return True

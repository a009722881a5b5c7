"""Selection capture where there is no PRIMARY selection: save the clipboard, send the copy shortcut, wait
for the clipboard to change, read it, put the old clipboard back.

The OS specifics (how to snapshot, how to notice a change, which shortcut) come from a ``CopyClipboard``;
this module holds the order of steps and two rules:

* The old clipboard comes back unless that would destroy someone else's newer content. Clipboards with a
  change counter (``StampedClipboard``: Windows' sequence number, macOS' changeCount) restore only when
  the clipboard still holds what the copy put there; an untouched clipboard is left alone (a rewrite would
  drop whatever could not be saved).
* Editors that copy the whole current line when nothing is selected (VS Code, Visual Studio) say so in an
  extra clipboard format; a ``WholeLineCopyCheck`` reports that, and then nothing counts as selected.
  Editors that leave no such mark (JetBrains, Sublime) cannot be told apart here.
"""

from __future__ import annotations

import json
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

COPY_TIMEOUT = 1.0
POLL_INTERVAL = 0.02

# Formats whose mere presence marks a whole-line copy (Visual Studio's editor, old and new).
LINE_COPY_FORMATS = frozenset({"VisualStudioEditorOperationsLineCutCopyClipboardTag", "MSDEVLineSelect"})
# VS Code's copy metadata (JSON with "isFromEmptySelection"), a web custom type of its Electron text area.
VSCODE_FORMAT = "vscode-editor-data"
# Chromium stores web custom types together in one native format, a pickle of (type, data) pairs.
CHROMIUM_CUSTOM_DATA_FORMATS = frozenset({"Chromium Web Custom MIME Data Format",  # Windows
                                          "org.chromium.web-custom-data",  # macOS
                                          "chromium/x-web-custom-data"})  # X11


class ChangeWatch(Protocol):
    def wait_changed(self, timeout: float) -> bool: ...


class CopyClipboard(Protocol):
    def snapshot(self) -> object: ...
    def restore(self, snapshot: object) -> None: ...
    def begin_watch(self) -> ChangeWatch: ...
    def read_text(self) -> str | None: ...
    def send_copy_shortcut(self) -> None: ...


@runtime_checkable
class StampedClipboard(Protocol):
    """Optional: a value that changes whenever the clipboard content does (reading a lazily rendered
    format may change it too, as Windows counts the rendering)."""

    def change_stamp(self) -> object: ...

    def stamp_at_read(self) -> object:
        """The stamp as it was when ``read_text`` read the clipboard (taken while nobody could write)."""
        ...


@runtime_checkable
class WholeLineCopyCheck(Protocol):
    """Optional: True when what was just copied is an editor's whole-line copy of an empty selection."""

    def copied_whole_line(self) -> bool: ...


_NOT_READ = object()


def copy_selection(clipboard: CopyClipboard, timeout: float = COPY_TIMEOUT) -> str | None:
    """The text the user has selected in the focused app, or None if the copy did not change anything
    (or only copied the line under the cursor)."""
    stamped = clipboard if isinstance(clipboard, StampedClipboard) else None
    saved = clipboard.snapshot()
    before = stamped.change_stamp() if stamped else None  # after the snapshot, which may render formats
    after_read: object = _NOT_READ
    try:
        watch = clipboard.begin_watch()
        clipboard.send_copy_shortcut()
        if not watch.wait_changed(timeout):
            return None
        whole_line = isinstance(clipboard, WholeLineCopyCheck) and clipboard.copied_whole_line()
        text = clipboard.read_text()
        if stamped and (stamp := stamped.stamp_at_read()) is not None:  # None: the read itself failed
            after_read = stamp
        return text if text and not whole_line else None
    finally:
        if stamped is None or _ours_to_restore(before, after_read, stamped.change_stamp()):
            clipboard.restore(saved)


def _ours_to_restore(before: object, after_read: object, now: object) -> bool:
    if now == before:
        return False  # the copy never landed: the user's clipboard is untouched
    # Changed again after we read the copy: another app (or the user) wrote it, and theirs wins.
    return after_read is _NOT_READ or now == after_read


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


# --- whole-line copies ----------------------------------------------------------------------------------

def is_whole_line_copy(format_names: Iterable[str], read: Callable[[str], bytes | None]) -> bool:
    """Whether the clipboard's formats mark an editor's copy of the cursor line with nothing selected.

    ``read`` returns a format's bytes (None if unavailable); it is only called for the formats that matter.
    """
    names = set(format_names)
    if names & LINE_COPY_FORMATS:
        return True
    if VSCODE_FORMAT in names and _from_empty_selection(_decode_text(read(VSCODE_FORMAT))):
        return True
    for name in sorted(names & CHROMIUM_CUSTOM_DATA_FORMATS):
        blob = read(name)
        if blob and _from_empty_selection(chromium_custom_data(blob).get(VSCODE_FORMAT)):
            return True
    return False


def _from_empty_selection(metadata: str | None) -> bool:
    if not metadata:
        return False
    try:
        parsed = json.loads(metadata)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("isFromEmptySelection") is True


def _decode_text(data: bytes | None) -> str | None:
    """A text format as the OS hands it over: UTF-16 (Windows wide strings) or UTF-8, NUL-terminated."""
    if not data:
        return None
    if b"\0" in data[:-2]:  # ASCII JSON in UTF-16 has a NUL in every other byte
        return data.decode("utf-16-le", errors="replace").split("\0", 1)[0]
    return data.decode("utf-8", errors="replace").split("\0", 1)[0]


def chromium_custom_data(blob: bytes) -> dict[str, str]:
    """The (type → data) map of Chromium's web custom data pickle: a uint32 payload size, a uint32 count,
    then UTF-16 strings (int32 length in code units, the units, padding to 4 bytes). {} if malformed."""
    result: dict[str, str] = {}
    try:
        (count,) = struct.unpack_from("<I", blob, 4)
        offset = 8
        for _ in range(count):
            key, offset = _pickle_string16(blob, offset)
            value, offset = _pickle_string16(blob, offset)
            result[key] = value
    except (struct.error, ValueError):
        return {}
    return result


def _pickle_string16(blob: bytes, offset: int) -> tuple[str, int]:
    (length,) = struct.unpack_from("<i", blob, offset)
    start, end = offset + 4, offset + 4 + 2 * length
    if length < 0 or end > len(blob):
        raise ValueError("truncated string16")
    return blob[start:end].decode("utf-16-le", errors="replace"), end + (-end % 4)

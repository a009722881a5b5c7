"""Selection capture through the copy shortcut: every clipboard format comes back, an editor's whole-line
copy of an empty selection counts as nothing selected, and someone else's newer clipboard is never
overwritten. The Windows and macOS edges are checked against fakes of the OS calls (this runs on Linux)."""

from __future__ import annotations

import ctypes
import json
import struct
from collections.abc import Callable
from typing import Any

import pytest

from desktop_app.platform import clipboard_copy_selection as ccs
from desktop_app.platform.macos import hotkeys as mac_hotkeys
from desktop_app.platform.macos import insert as mac_insert
from desktop_app.platform.macos.pasteboard import MacPasteboard
from desktop_app.platform.windows import insert as win_insert

# --- the shared steps, with a scripted clipboard ------------------------------------------------------------


class ScriptedWatch:
    def __init__(self, clipboard: ScriptedClipboard) -> None:
        self._clipboard = clipboard

    def wait_changed(self, timeout: float) -> bool:
        return self._clipboard.copy_lands


class ScriptedClipboard:
    """A clipboard with a change counter; Ctrl+C puts ``copied`` on it if ``copy_lands``."""

    def __init__(self, content: object, copied: object, *, copy_lands: bool = True,
                 whole_line: bool = False) -> None:
        self.content = content
        self.copied = copied
        self.copy_lands = copy_lands
        self.whole_line = whole_line
        self.stamp = 7
        self.read_at: object = None
        self.restored: list[object] = []
        self.after_read: Callable[[], None] = lambda: None

    def write(self, content: object) -> None:
        self.content, self.stamp = content, self.stamp + 1

    def change_stamp(self) -> object:
        return self.stamp

    def stamp_at_read(self) -> object:
        return self.read_at

    def snapshot(self) -> object:
        return ("saved", self.content)

    def restore(self, snapshot: object) -> None:
        self.restored.append(snapshot)
        assert isinstance(snapshot, tuple)
        self.write(snapshot[1])

    def begin_watch(self) -> ScriptedWatch:
        return ScriptedWatch(self)

    def send_copy_shortcut(self) -> None:
        if self.copy_lands:
            self.write(self.copied)

    def read_text(self) -> str | None:
        text = self.content if isinstance(self.content, str) else None
        self.read_at = self.stamp
        self.after_read()
        return text

    def copied_whole_line(self) -> bool:
        return self.whole_line


class UnstampedClipboard(ScriptedClipboard):
    """Like X11's: no change counter (and no whole-line check)."""

    change_stamp = None  # type: ignore[assignment]
    stamp_at_read = None  # type: ignore[assignment]
    copied_whole_line = None  # type: ignore[assignment]


def test_selection_is_read_and_every_saved_format_comes_back() -> None:
    clipboard = ScriptedClipboard({"image/png": b"\x89PNG", "text/html": b"<b>x</b>"}, "the selection")
    assert ccs.copy_selection(clipboard) == "the selection"
    assert clipboard.restored == [("saved", {"image/png": b"\x89PNG", "text/html": b"<b>x</b>"})]


def test_whole_line_copy_counts_as_nothing_selected_and_still_restores() -> None:
    clipboard = ScriptedClipboard("old", "    the line under the cursor\n", whole_line=True)
    assert ccs.copy_selection(clipboard) is None
    assert clipboard.content == "old"


def test_clipboard_changed_by_someone_else_after_the_read_is_left_alone() -> None:
    clipboard = ScriptedClipboard("old", "the selection")
    clipboard.after_read = lambda: clipboard.write("the user's new copy")
    assert ccs.copy_selection(clipboard) == "the selection"
    assert clipboard.restored == [] and clipboard.content == "the user's new copy"


def test_copy_that_never_landed_leaves_the_clipboard_untouched() -> None:
    clipboard = ScriptedClipboard("old", "ignored", copy_lands=False)
    assert ccs.copy_selection(clipboard, timeout=0) is None
    assert clipboard.restored == []


def test_clipboard_without_change_counter_is_always_restored() -> None:
    clipboard = UnstampedClipboard("old", "ignored", copy_lands=False)
    assert not isinstance(clipboard, ccs.StampedClipboard)
    assert ccs.copy_selection(clipboard, timeout=0) is None
    assert clipboard.restored == [("saved", "old")]


def test_copy_that_landed_after_the_timeout_is_still_undone() -> None:
    clipboard = ScriptedClipboard("old", "late", copy_lands=False)
    clipboard.send_copy_shortcut = lambda: clipboard.write("late")  # type: ignore[method-assign]
    assert ccs.copy_selection(clipboard, timeout=0) is None
    assert clipboard.content == "old"


# --- whole-line marks -----------------------------------------------------------------------------------------

def chromium_pickle(entries: dict[str, str]) -> bytes:
    """Chromium's web custom data: uint32 payload size, uint32 count, string16s padded to 4 bytes."""
    payload = struct.pack("<I", len(entries))
    for text in (part for pair in entries.items() for part in pair):
        units = text.encode("utf-16-le")
        payload += struct.pack("<i", len(units) // 2) + units + b"\0" * (-len(units) % 4)
    return struct.pack("<I", len(payload)) + payload


def vscode_metadata(empty_selection: bool) -> str:
    return json.dumps({"version": 1, "isFromEmptySelection": empty_selection, "multicursorText": None,
                       "mode": "python"})


def formats_reader(formats: dict[str, bytes]) -> Callable[[str], bytes | None]:
    return formats.get


@pytest.mark.parametrize(("formats", "whole_line"), [
    ({"VisualStudioEditorOperationsLineCutCopyClipboardTag": b""}, True),
    ({"MSDEVLineSelect": b"\0"}, True),
    ({"vscode-editor-data": vscode_metadata(True).encode("utf-16-le") + b"\0\0"}, True),
    ({"vscode-editor-data": vscode_metadata(True).encode() + b"\0"}, True),
    ({"vscode-editor-data": vscode_metadata(False).encode()}, False),
    ({"Chromium Web Custom MIME Data Format":
      chromium_pickle({"text/x-other": "x", "vscode-editor-data": vscode_metadata(True)})}, True),
    ({"org.chromium.web-custom-data": chromium_pickle({"vscode-editor-data": vscode_metadata(False)})},
     False),
    ({"org.chromium.web-custom-data": chromium_pickle({"vscode-editor-data": vscode_metadata(True)})[:30]},
     False),  # truncated: not trusted
    ({"vscode-editor-data": b"{not json"}, False),
    ({"public.utf8-plain-text": b"isFromEmptySelection"}, False),
])
def test_whole_line_marks(formats: dict[str, bytes], whole_line: bool) -> None:
    assert ccs.is_whole_line_copy(formats, formats_reader(formats)) is whole_line


def test_chromium_custom_data_round_trip() -> None:
    entries = {"vscode-editor-data": "{}", "odd": "é😀"}
    assert ccs.chromium_custom_data(chromium_pickle(entries)) == entries
    assert ccs.chromium_custom_data(b"\x00") == {}


# --- Windows: fakes of user32 / kernel32 ------------------------------------------------------------------

CF_BITMAP, CF_DIB, CF_UNICODETEXT = 2, 8, 13
RTF, OLE_PRIVATE, CHROMIUM, VS_LINE = 0xC0A1, 0xC0A2, 0xC0A3, 0xC0A4
NAMES = {RTF: "Rich Text Format", OLE_PRIVATE: "Ole Private Data",
         CHROMIUM: "Chromium Web Custom MIME Data Format",
         VS_LINE: "VisualStudioEditorOperationsLineCutCopyClipboardTag"}


class FakeKernel32:
    """HGLOBALs backed by real memory, so the code under test really copies bytes in and out."""

    def __init__(self) -> None:
        self.blocks: dict[int, Any] = {}
        self.locked = 0
        self.freed: list[int] = []

    def hglobal(self, data: bytes) -> int:
        handle = self.GlobalAlloc(win_insert.GMEM_MOVEABLE, len(data))
        ctypes.memmove(handle, data, len(data))
        return handle

    def GlobalAlloc(self, flags: int, size: int) -> int:
        assert flags == win_insert.GMEM_MOVEABLE
        block = ctypes.create_string_buffer(size)
        self.blocks[ctypes.addressof(block)] = block
        return ctypes.addressof(block)

    def GlobalSize(self, handle: int) -> int:
        return len(self.blocks[handle]) if handle in self.blocks else 0  # 0: not an HGLOBAL

    def GlobalLock(self, handle: int) -> int | None:
        assert handle in self.blocks, "GlobalLock on a handle that is not an HGLOBAL"
        self.locked += 1
        return handle

    def GlobalUnlock(self, handle: int) -> bool:
        self.locked -= 1
        return True

    def GlobalFree(self, handle: int) -> None:
        self.freed.append(handle)


class FakeClipboardUser32:
    """The Win32 clipboard: formats in order, a sequence number, one opener at a time; Ctrl+C (SendInput)
    runs ``on_copy``, the focused app's copy."""

    def __init__(self, kernel32: FakeKernel32, formats: list[tuple[int, bytes | int]]) -> None:
        self.kernel32 = kernel32
        self.content: list[tuple[int, int]] = []
        self.sequence = 100
        self.is_open = False
        self.busy = 0  # OpenClipboard fails this many more times
        self.sessions: list[list[tuple[int, bytes]]] = []  # what our own EmptyClipboard passes wrote
        self.asked: list[int] = []
        self.on_copy: Callable[[], None] = lambda: None
        self.after_text_read: Callable[[], None] | None = None  # runs once, when that reader closes
        self._text_read = False
        self.app_writes(formats)

    def app_writes(self, formats: list[tuple[int, bytes | int]]) -> None:
        """Another application owns the clipboard now (ints are GDI handles, bytes become HGLOBALs)."""
        self.content = [(fid, data if isinstance(data, int) else self.kernel32.hglobal(data))
                        for fid, data in formats]
        self.sequence += 1 + len(formats)

    def OpenClipboard(self, hwnd: Any) -> bool:
        assert not self.is_open, "the clipboard was left open"
        if self.busy:
            self.busy -= 1
            return False
        self.is_open = True
        return True

    def CloseClipboard(self) -> bool:
        assert self.is_open
        self.is_open = False
        if self._text_read and self.after_text_read:
            action, self.after_text_read = self.after_text_read, None
            action()
        return True

    def EmptyClipboard(self) -> bool:
        assert self.is_open
        self.content, self.sequence = [], self.sequence + 1
        self.sessions.append([])
        return True

    def SetClipboardData(self, format_id: int, handle: int) -> int:
        assert self.is_open and self.sessions
        self.content.append((format_id, handle))
        self.sequence += 1
        self.sessions[-1].append((format_id, bytes(self.kernel32.blocks[handle].raw)))
        return handle

    def EnumClipboardFormats(self, format_id: int) -> int:
        assert self.is_open
        ids = [fid for fid, _ in self.content]
        index = 0 if format_id == 0 else ids.index(format_id) + 1
        return ids[index] if index < len(ids) else 0

    def GetClipboardFormatNameW(self, format_id: int, buffer: Any, size: int) -> int:
        name = NAMES.get(format_id, "")
        buffer.value = name[:size - 1]
        return len(buffer.value)

    def GetClipboardData(self, format_id: int) -> int:
        assert self.is_open
        self.asked.append(format_id)
        self._text_read = format_id == CF_UNICODETEXT
        return dict(self.content).get(format_id, 0)

    def GetClipboardSequenceNumber(self) -> int:
        return self.sequence

    def SendInput(self, count: int, array: Any, size: int) -> int:
        keys = [(event.ki.wVk, event.ki.dwFlags) for event in array[:count]]
        assert keys == [(0x11, 0), (ord("C"), 0), (ord("C"), 2), (0x11, 2)]  # Ctrl+C down, up
        self.on_copy()
        return count

    def text(self) -> str:
        handle = dict(self.content)[CF_UNICODETEXT]
        return bytes(self.kernel32.blocks[handle].raw).decode("utf-16-le").rstrip("\0")


def wide(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


USER_CLIPBOARD: list[tuple[int, bytes | int]] = [
    (CF_UNICODETEXT, wide("my old text")), (RTF, b"{\\rtf1 my {\\b old} text}"),
    (CF_DIB, b"BITMAPINFOHEADER+pixels"), (CF_BITMAP, 0x5005),  # CF_BITMAP: a GDI handle
    (0x0200, 0x77),  # CF_PRIVATEFIRST: an app-private handle
    (OLE_PRIVATE, b"pointer into the old owner"),
]


def windows_reader(formats: list[tuple[int, bytes | int]]) -> tuple[win_insert.WindowsCopySelectionReader,
                                                                    FakeClipboardUser32, FakeKernel32]:
    kernel32 = FakeKernel32()
    user32 = FakeClipboardUser32(kernel32, formats)
    inserter = win_insert.WindowsTextInserter(user32=user32, kernel32=kernel32)
    return win_insert.WindowsCopySelectionReader(inserter, timeout=0.5), user32, kernel32


def test_windows_restores_every_hglobal_format_in_one_pass() -> None:
    reader, user32, kernel32 = windows_reader(USER_CLIPBOARD)
    user32.on_copy = lambda: user32.app_writes([(CF_UNICODETEXT, wide("selected words")),
                                                (RTF, b"{\\rtf1 selected words}")])
    assert reader.read_selection() == "selected words"
    assert user32.sessions == [[(CF_UNICODETEXT, wide("my old text")), (RTF, b"{\\rtf1 my {\\b old} text}"),
                                (CF_DIB, b"BITMAPINFOHEADER+pixels")]]
    assert CF_BITMAP not in user32.asked and 0x0200 not in user32.asked  # GDI/private handles never touched
    assert not user32.is_open and kernel32.locked == 0 and kernel32.freed == []


def test_windows_empty_clipboard_is_restored_empty() -> None:
    reader, user32, _ = windows_reader([])
    user32.on_copy = lambda: user32.app_writes([(CF_UNICODETEXT, wide("x"))])
    assert reader.read_selection() == "x"
    assert user32.sessions == [[]] and user32.content == []


@pytest.mark.parametrize("mark", [
    (VS_LINE, b""),
    (CHROMIUM, chromium_pickle({"vscode-editor-data": vscode_metadata(True)})),
])
def test_windows_whole_line_copy_reads_nothing_and_restores(mark: tuple[int, bytes]) -> None:
    reader, user32, _ = windows_reader(USER_CLIPBOARD)
    user32.on_copy = lambda: user32.app_writes([(CF_UNICODETEXT, wide("    line under the cursor\r\n")), mark])
    assert reader.read_selection() is None
    assert user32.text() == "my old text"


def test_windows_vscode_copy_of_a_real_selection_is_read() -> None:
    reader, user32, _ = windows_reader(USER_CLIPBOARD)
    metadata = chromium_pickle({"vscode-editor-data": vscode_metadata(False)})
    user32.on_copy = lambda: user32.app_writes([(CF_UNICODETEXT, wide("chosen")), (CHROMIUM, metadata)])
    assert reader.read_selection() == "chosen"


def test_windows_no_copy_leaves_the_clipboard_untouched() -> None:
    reader, user32, _ = windows_reader(USER_CLIPBOARD)
    sequence = user32.sequence
    assert reader.read_selection() is None  # the app ignored Ctrl+C
    assert user32.sessions == [] and user32.sequence == sequence


def test_windows_someone_copying_after_the_read_wins() -> None:
    reader, user32, _ = windows_reader(USER_CLIPBOARD)

    def copy() -> None:
        user32.app_writes([(CF_UNICODETEXT, wide("selected"))])
        user32.after_text_read = lambda: user32.app_writes([(CF_UNICODETEXT, wide("newer"))])

    user32.on_copy = copy
    assert reader.read_selection() == "selected"
    assert user32.sessions == [] and user32.text() == "newer"


def test_windows_busy_clipboard_after_the_copy_is_retried() -> None:
    kernel32 = FakeKernel32()
    user32 = FakeClipboardUser32(kernel32, [(CF_UNICODETEXT, wide("old"))])
    waits: list[float] = []
    clipboard = win_insert._WindowsCopyClipboard(win_insert.WindowsTextInserter(user32, kernel32),
                                                 wait=waits.append)

    def copy_still_open() -> None:
        user32.app_writes([(CF_UNICODETEXT, wide("selected"))])
        user32.busy = 3  # the copying app still holds the clipboard for a moment

    user32.on_copy = copy_still_open
    assert ccs.copy_selection(clipboard, timeout=0.5) == "selected"
    assert waits == [win_insert.OPEN_RETRY_INTERVAL] * 3 and user32.text() == "old"


def test_windows_clipboard_signatures_keep_handles_64_bit() -> None:
    user32 = win_insert.CLIPBOARD_SIGNATURES["user32"]
    kernel32 = win_insert.CLIPBOARD_SIGNATURES["kernel32"]
    assert user32["GetClipboardData"][0] is ctypes.c_void_p
    assert user32["SetClipboardData"][1] == [ctypes.c_uint, ctypes.c_void_p]
    assert kernel32["GlobalLock"][0] is ctypes.c_void_p and kernel32["GlobalSize"][0] is ctypes.c_size_t


# --- macOS: a fake Objective-C runtime with the general NSPasteboard ----------------------------------------

RESTYPES = {"changeCount": ctypes.c_long, "clearContents": ctypes.c_long, "count": ctypes.c_ulong,
            "length": ctypes.c_ulong, "UTF8String": ctypes.c_char_p, "setData:forType:": ctypes.c_bool,
            "writeObjects:": ctypes.c_bool, "addObject:": None, "release": None}
MacItems = list[list[tuple[str, bytes]]]


class FakeObjC:
    """Objects behind integer ids, answering the messages NSPasteboard code sends; checks each message's
    return type and that it is sent inside an autorelease pool. Cmd+C runs ``on_copy``."""

    def __init__(self, items: MacItems) -> None:
        self.objects: dict[int, tuple[str, Any]] = {}
        self.board = self._new("NSPasteboard", None)
        self.items: MacItems = [list(item) for item in items]
        self.change_count = 40
        self.pools: list[int] = []
        self.sent: list[str] = []
        self.released: list[int] = []
        self.on_copy: Callable[[], None] = lambda: None
        self.after_text_read: Callable[[], None] = lambda: None

    def app_writes(self, items: MacItems) -> None:
        self.items, self.change_count = [list(item) for item in items], self.change_count + 1

    def _new(self, kind: str, value: Any) -> int:
        handle = 0x1000 + 0x10 * len(self.objects)
        self.objects[handle] = (kind, value)
        return handle

    def _string(self, text: str) -> int:
        return self._new("NSString", text)

    def _data(self, data: bytes | None) -> int:
        return self._new("NSData", ctypes.create_string_buffer(data, len(data))) if data is not None else 0

    def cls(self, name: str) -> int:
        return self._new("class", name)

    def pool_push(self) -> int:
        self.pools.append(len(self.pools) + 1)
        return self.pools[-1]

    def pool_pop(self, pool: int) -> None:
        assert self.pools.pop() == pool

    def send(self, receiver: int, selector: str, *args: Any, restype: Any = ctypes.c_void_p) -> Any:
        assert self.pools, f"{selector} sent outside an autorelease pool"
        assert restype is RESTYPES.get(selector, ctypes.c_void_p), f"{selector} declared as {restype}"
        self.sent.append(selector)
        kind, value = self.objects[receiver]
        if kind == "class":
            return self._class_message(value, selector, *args)
        if kind == "NSPasteboard":
            return self._board_message(selector, *args)
        if kind == "NSArray":
            return len(value) if selector == "count" else value[args[0]] if selector == "objectAtIndex:" \
                else value.append(args[0])
        if kind == "NSString":
            assert selector == "UTF8String"
            return value.encode()
        if kind == "NSData":
            return len(value) if selector == "length" else ctypes.addressof(value)
        if kind == "item":
            return self._item_message(receiver, value, selector, *args)
        raise AssertionError(f"unexpected {selector} to {kind}")

    def _class_message(self, name: str, selector: str, *args: Any) -> int:
        if (name, selector) == ("NSPasteboard", "generalPasteboard"):
            return self.board
        if (name, selector) == ("NSString", "stringWithUTF8String:"):
            return self._string(args[0].decode())
        if (name, selector) == ("NSData", "dataWithBytes:length:"):
            assert isinstance(args[0], bytes) and args[1] == len(args[0])
            return self._data(args[0])
        if (name, selector) == ("NSMutableArray", "array"):
            return self._new("NSArray", [])
        if (name, selector) == ("NSPasteboardItem", "alloc"):
            return self._new("item", None)
        raise AssertionError(f"unexpected +[{name} {selector}]")

    def _item_message(self, handle: int, types: list[tuple[str, bytes]] | None, selector: str,
                      *args: Any) -> Any:
        if selector == "init":
            self.objects[handle] = ("item", [])
            return handle
        assert types is not None, "item used before init"
        if selector == "types":
            return self._new("NSArray", [self._string(name) for name, _ in types])
        if selector == "dataForType:":
            return self._data(dict(types).get(self.objects[args[0]][1]))
        if selector == "setData:forType:":
            types.append((self.objects[args[1]][1], bytes(self.objects[args[0]][1].raw)))
            return True
        if selector == "release":
            self.released.append(handle)
            return None
        raise AssertionError(f"unexpected -[NSPasteboardItem {selector}]")

    def _board_message(self, selector: str, *args: Any) -> Any:
        if selector == "changeCount":
            return self.change_count
        if selector == "pasteboardItems":
            return self._new("NSArray", [self._new("item", list(item)) for item in self.items])
        first = dict(self.items[0]) if self.items else {}
        if selector == "types":
            return self._new("NSArray", [self._string(name) for name in first])
        if selector == "dataForType:":
            return self._data(first.get(self.objects[args[0]][1]))
        if selector == "stringForType:":
            text = first.get(self.objects[args[0]][1])
            self.after_text_read()
            return self._string(text.decode()) if text is not None else 0
        if selector == "clearContents":
            self.app_writes([])
            return self.change_count
        if selector == "writeObjects:":
            self.items = [list(self.objects[item][1]) for item in self.objects[args[0]][1]]
            return True
        raise AssertionError(f"unexpected -[NSPasteboard {selector}]")


class FakeCG:
    """CoreGraphics key events: a Cmd+C key-down is the frontmost app copying."""

    def __init__(self, objc: FakeObjC) -> None:
        self.objc = objc
        self.events: dict[int, list[Any]] = {}

    def CGEventCreateKeyboardEvent(self, source: Any, keycode: int, down: bool) -> int:
        self.events[len(self.events) + 1] = [keycode, down, 0]
        return len(self.events)

    def CGEventSetFlags(self, event: int, flags: int) -> None:
        self.events[event][2] = flags

    def CGEventPost(self, tap: int, event: int) -> None:
        keycode, down, flags = self.events[event]
        if down and keycode == mac_insert.KEYCODE_C and flags == mac_hotkeys.FLAG_COMMAND:
            self.objc.on_copy()

    def CFRelease(self, event: int) -> None:
        return None


MAC_USER_PASTEBOARD: MacItems = [
    [("public.png", b"\x89PNG\r\n"), ("public.tiff", b"II*\0")],
    [("public.utf8-plain-text", b"second item"), ("public.html", b"<b>second</b>")],
]


def mac_reader(items: MacItems) -> tuple[mac_insert.MacCopySelectionReader, FakeObjC]:
    objc = FakeObjC(items)
    inserter = mac_insert.MacTextInserter(cg=FakeCG(objc), trusted=lambda: True)
    return mac_insert.MacCopySelectionReader(inserter, MacPasteboard(objc), timeout=0.5), objc


def test_mac_restores_every_item_with_every_type() -> None:
    reader, objc = mac_reader(MAC_USER_PASTEBOARD)
    objc.on_copy = lambda: objc.app_writes([[("public.utf8-plain-text", "sélection".encode()),
                                             ("public.rtf", b"{\\rtf1 s}")]])
    assert reader.read_selection() == "sélection"
    assert objc.items == MAC_USER_PASTEBOARD
    assert objc.sent.count("clearContents") == 1 and objc.sent.count("writeObjects:") == 1
    assert len(objc.released) == 2 and objc.pools == []


def test_mac_vscode_whole_line_copy_reads_nothing_and_restores() -> None:
    reader, objc = mac_reader(MAC_USER_PASTEBOARD)
    metadata = chromium_pickle({"vscode-editor-data": vscode_metadata(True)})
    objc.on_copy = lambda: objc.app_writes([[("public.utf8-plain-text", b"    line\n"),
                                             ("org.chromium.web-custom-data", metadata)]])
    assert reader.read_selection() is None
    assert objc.items == MAC_USER_PASTEBOARD


def test_mac_no_copy_leaves_the_pasteboard_untouched() -> None:
    reader, objc = mac_reader(MAC_USER_PASTEBOARD)
    assert reader.read_selection() is None
    assert "clearContents" not in objc.sent and objc.items == MAC_USER_PASTEBOARD


def test_mac_someone_copying_after_the_read_wins() -> None:
    reader, objc = mac_reader(MAC_USER_PASTEBOARD)

    def copy() -> None:
        objc.app_writes([[("public.utf8-plain-text", b"selected")]])
        objc.after_text_read = lambda: objc.app_writes([[("public.utf8-plain-text", b"newer")]])

    objc.on_copy = copy
    assert reader.read_selection() == "selected"
    assert "clearContents" not in objc.sent and objc.items == [[("public.utf8-plain-text", b"newer")]]


def test_mac_empty_pasteboard_is_restored_empty() -> None:
    reader, objc = mac_reader([])
    objc.on_copy = lambda: objc.app_writes([[("public.utf8-plain-text", b"x")]])
    assert reader.read_selection() == "x"
    assert objc.items == [] and "writeObjects:" not in objc.sent


def test_windows_clipboard_still_busy_at_the_read_is_restored_later() -> None:
    reader, user32, _ = windows_reader([(CF_UNICODETEXT, wide("old"))])

    def copy_held_open() -> None:
        user32.app_writes([(CF_UNICODETEXT, wide("selected"))])
        user32.busy = 3 * win_insert.OPEN_ATTEMPTS  # through the settle wait, the whole-line check, the read

    user32.on_copy = copy_held_open
    assert reader.read_selection() is None
    assert user32.text() == "old"

"""The general NSPasteboard through the Objective-C runtime (ctypes, no PyObjC): every item with every
type for save/restore, the change count, and single types for the copy-selection path.

Nothing is loaded on import; ``CtypesObjC`` loads libobjc and AppKit on first use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.platform.macos.quartz import framework

TEXT_TYPE = "public.utf8-plain-text"  # NSPasteboardTypeString

Arg = int | bytes | None
PasteboardItem = tuple[tuple[str, bytes], ...]  # (type, data) in the item's own order


class ObjC(Protocol):
    """The few runtime calls the pasteboard needs; ``send`` is objc_msgSend with a typed signature:
    bytes go as ``const void *`` / ``const char *``, ints and None as pointers or NSUInteger."""

    def cls(self, name: str) -> int: ...
    def send(self, receiver: int, selector: str, *args: Arg, restype: Any = ctypes.c_void_p) -> Any: ...
    def pool_push(self) -> int: ...
    def pool_pop(self, pool: int) -> None: ...


class CtypesObjC:  # pragma: no cover - macOS only
    def __init__(self) -> None:
        path = ctypes.util.find_library("objc")
        if not path:
            raise PlatformUnsupported("The Objective-C runtime (libobjc) was not found.")
        self._lib = ctypes.cdll.LoadLibrary(path)
        framework("AppKit")  # registers NSPasteboard and friends with the runtime
        self._lib.objc_getClass.restype = ctypes.c_void_p
        self._lib.objc_getClass.argtypes = [ctypes.c_char_p]
        self._lib.sel_registerName.restype = ctypes.c_void_p
        self._lib.sel_registerName.argtypes = [ctypes.c_char_p]
        self._lib.objc_autoreleasePoolPush.restype = ctypes.c_void_p
        self._lib.objc_autoreleasePoolPop.argtypes = [ctypes.c_void_p]
        self._msg_send: int = ctypes.cast(self._lib.objc_msgSend, ctypes.c_void_p).value or 0
        self._selectors: dict[str, int] = {}

    def cls(self, name: str) -> int:
        return int(self._lib.objc_getClass(name.encode()) or 0)

    def send(self, receiver: int, selector: str, *args: Arg, restype: Any = ctypes.c_void_p) -> Any:
        if selector not in self._selectors:
            self._selectors[selector] = int(self._lib.sel_registerName(selector.encode()))
        # arm64 needs objc_msgSend called with the exact (non-variadic) prototype of each message.
        argtypes = [ctypes.c_char_p if isinstance(arg, bytes) else ctypes.c_void_p for arg in args]
        function = ctypes.CFUNCTYPE(restype, ctypes.c_void_p, ctypes.c_void_p, *argtypes)(self._msg_send)
        return function(receiver, self._selectors[selector], *args)

    def pool_push(self) -> int:
        return int(self._lib.objc_autoreleasePoolPush() or 0)

    def pool_pop(self, pool: int) -> None:
        self._lib.objc_autoreleasePoolPop(pool)


class MacPasteboard:
    """``[NSPasteboard generalPasteboard]``; every call drains its own autorelease pool (Sayso calls this
    from worker threads, which have none)."""

    def __init__(self, objc: ObjC | None = None) -> None:
        self._objc_handle = objc

    @property
    def _objc(self) -> ObjC:
        if self._objc_handle is None:
            self._objc_handle = CtypesObjC()
        return self._objc_handle

    def change_count(self) -> int:
        with self._pool() as (objc, board):
            return int(objc.send(board, "changeCount", restype=ctypes.c_long))

    def items(self) -> list[PasteboardItem]:
        """Every item with the data of every type it has (types without data, such as unkept promises,
        are left out)."""
        with self._pool() as (objc, board):
            result: list[PasteboardItem] = []
            for item in self._array(objc.send(board, "pasteboardItems")):
                kept: list[tuple[str, bytes]] = []
                for ns_type in self._array(objc.send(item, "types")):
                    data = self._bytes(objc.send(item, "dataForType:", ns_type))
                    if data is not None:
                        kept.append((self._str(ns_type), data))
                result.append(tuple(kept))
            return result

    def write_items(self, items: list[PasteboardItem]) -> None:
        """Replace the pasteboard with these items (clearContents, then one writeObjects:)."""
        with self._pool() as (objc, board):
            objc.send(board, "clearContents", restype=ctypes.c_long)
            if not items:
                return
            array = objc.send(objc.cls("NSMutableArray"), "array")
            for types in items:
                item = objc.send(objc.send(objc.cls("NSPasteboardItem"), "alloc"), "init")
                for name, data in types:
                    ns_data = objc.send(objc.cls("NSData"), "dataWithBytes:length:", data, len(data))
                    objc.send(item, "setData:forType:", ns_data, self._ns_string(name), restype=ctypes.c_bool)
                objc.send(array, "addObject:", item, restype=None)
                objc.send(item, "release", restype=None)  # the array holds it now
            objc.send(board, "writeObjects:", array, restype=ctypes.c_bool)

    def types(self) -> list[str]:
        with self._pool() as (objc, board):
            return [self._str(ns_type) for ns_type in self._array(objc.send(board, "types"))]

    def data(self, type_name: str) -> bytes | None:
        with self._pool() as (objc, board):
            return self._bytes(objc.send(board, "dataForType:", self._ns_string(type_name)))

    def text(self) -> str | None:
        with self._pool() as (objc, board):
            string = objc.send(board, "stringForType:", self._ns_string(TEXT_TYPE))
            return self._str(string) if string else None

    @contextmanager
    def _pool(self) -> Iterator[tuple[ObjC, int]]:
        objc = self._objc
        pool = objc.pool_push()
        try:
            yield objc, objc.send(objc.cls("NSPasteboard"), "generalPasteboard")
        finally:
            objc.pool_pop(pool)

    def _array(self, array: int | None) -> list[int]:
        if not array:
            return []
        count = int(self._objc.send(array, "count", restype=ctypes.c_ulong))
        return [self._objc.send(array, "objectAtIndex:", index) for index in range(count)]

    def _bytes(self, ns_data: int | None) -> bytes | None:
        if not ns_data:
            return None
        length = int(self._objc.send(ns_data, "length", restype=ctypes.c_ulong))
        pointer = self._objc.send(ns_data, "bytes") if length else None
        return ctypes.string_at(pointer, length) if pointer else b""

    def _str(self, ns_string: int) -> str:
        raw = self._objc.send(ns_string, "UTF8String", restype=ctypes.c_char_p)
        return raw.decode("utf-8", errors="replace") if raw else ""

    def _ns_string(self, text: str) -> int:
        return int(self._objc.send(self._objc.cls("NSString"), "stringWithUTF8String:", text.encode()))

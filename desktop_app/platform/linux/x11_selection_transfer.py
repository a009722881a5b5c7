"""X11 selections (CLIPBOARD, PRIMARY) without Qt: read every format, own a selection, serve it, notice use.

Reading opens a short-lived connection in the caller's thread, so it works from any worker thread.
Owning runs on one background thread (``SelectionOwner``) that answers SelectionRequests — including the
INCR protocol for large data — and records who fetched what, which is how a paste is *confirmed*.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from Xlib import X, Xatom, display, error
from Xlib.protocol import event as xevent
from Xlib.protocol import request

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.platform.linux.x11_common import (
    drain,
    get_timestamp,
    open_display,
    wait_events,
    wait_for_activity,
    wake_pipe,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Targets that describe the selection rather than carry data: never saved, never count as "pasted".
META_TARGETS = frozenset({"TARGETS", "MULTIPLE", "TIMESTAMP", "SAVE_TARGETS", "DELETE", "INSERT_SELECTION",
                          "INSERT_PROPERTY", "_QT_SELECTION"})
TEXT_TARGETS = ("UTF8_STRING", "text/plain;charset=utf-8", "text/plain", "STRING", "TEXT")
INCR_THRESHOLD = 200_000  # below the 262,140-byte core request limit python-xlib is bound by
INCR_CHUNK = 64 * 1024


@dataclass(frozen=True)
class SelectionData:
    """One format of a selection exactly as the owner sent it (value is bytes for format 8, ints else)."""

    type_name: str
    format: int
    value: bytes | tuple[int, ...]


@dataclass(frozen=True)
class SelectionSnapshot:
    """Every format of a selection at one moment; empty when nobody owned it."""

    selection: str
    formats: dict[str, SelectionData]

    @property
    def empty(self) -> bool:
        return not self.formats


def text_formats(text: str) -> dict[str, SelectionData]:
    utf8 = SelectionData("UTF8_STRING", 8, text.encode("utf-8"))
    formats = {"UTF8_STRING": utf8, "text/plain;charset=utf-8": utf8,
               "TEXT": utf8}
    try:
        latin1 = SelectionData("STRING", 8, text.encode("latin-1"))
        formats["STRING"] = latin1
        formats["text/plain"] = latin1
    except UnicodeEncodeError:
        formats["text/plain"] = utf8
    return formats


# --- reading ---------------------------------------------------------------------------------------------

class SelectionReader:
    """Reads a selection from whoever owns it, with a private connection and window."""

    def __init__(self, display_name: str | None = None, owner: SelectionOwner | None = None) -> None:
        self._display_name = display_name
        self._owner = owner  # our own selections are copied in-process (no round trip to ourselves)

    def owner_window(self, selection: str) -> int:
        d = open_display(self._display_name)
        try:
            return int(d.get_selection_owner(d.intern_atom(selection)))
        finally:
            d.close()

    def read_text(self, selection: str, timeout: float = 1.0) -> str | None:
        if self._owner is not None:
            own = self._owner.current(selection)
            if own is not None:
                return _decode_text(own)
        with _ReadSession(self._display_name) as session:
            for target in ("UTF8_STRING", "text/plain;charset=utf-8", "STRING"):
                data = session.convert(selection, target, timeout)
                if data is None:
                    if not session.has_owner(selection):
                        return None
                    continue
                text = _decode_text({target: data})
                return text if text else None
        return None

    def snapshot(self, selection: str, timeout: float = 1.0) -> SelectionSnapshot:
        if self._owner is not None:
            own = self._owner.current(selection)
            if own is not None:
                return SelectionSnapshot(selection, dict(own))
        formats: dict[str, SelectionData] = {}
        with _ReadSession(self._display_name) as session:
            if not session.has_owner(selection):
                return SelectionSnapshot(selection, {})
            deadline = time.monotonic() + timeout * 3
            targets = session.convert(selection, "TARGETS", timeout)
            names = session.atom_names(targets.value) if targets and targets.format == 32 else []
            for name in names:
                if name in META_TARGETS or name in formats:
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.warning("Clipboard owner too slow; saved %d formats only", len(formats))
                    break
                data = session.convert(selection, name, min(timeout, remaining))
                if data is not None:
                    formats[name] = data
        return SelectionSnapshot(selection, formats)


def _decode_text(formats: dict[str, SelectionData]) -> str | None:
    for target in TEXT_TARGETS:
        data = formats.get(target)
        if data is None or not isinstance(data.value, bytes):
            continue
        encoding = "latin-1" if data.type_name == "STRING" else "utf-8"
        return data.value.decode(encoding, errors="replace")
    return None


class _ReadSession:
    def __init__(self, display_name: str | None) -> None:
        self.d = open_display(display_name)
        self.window = self.d.screen().root.create_window(0, 0, 1, 1, 0, X.CopyFromParent,
                                                         event_mask=X.PropertyChangeMask)
        self.prop = self.d.intern_atom("_SAYSO_SELECTION")
        self.incr = self.d.intern_atom("INCR")

    def __enter__(self) -> _ReadSession:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.window.destroy()
            self.d.close()
        except (error.ConnectionClosedError, OSError):
            pass

    def has_owner(self, selection: str) -> bool:
        return bool(self.d.get_selection_owner(self.d.intern_atom(selection)))

    def atom_names(self, atoms: Any) -> list[str]:
        names = []
        for atom in atoms:
            try:
                names.append(self.d.get_atom_name(atom))
            except error.XError:
                continue
        return names

    def convert(self, selection: str, target: str, timeout: float) -> SelectionData | None:
        d, sel_atom = self.d, self.d.intern_atom(selection)
        self.window.convert_selection(sel_atom, d.intern_atom(target), self.prop, X.CurrentTime)
        d.flush()
        notify = next(wait_events(d, timeout, lambda e: e.type == X.SelectionNotify
                                  and e.selection == sel_atom), None)
        if notify is None or notify.property == X.NONE:
            return None
        prop = self.window.get_full_property(self.prop, X.AnyPropertyType)
        self.window.delete_property(self.prop)
        if prop is None:
            return None
        if prop.property_type == self.incr:
            return self._read_incr(timeout)
        return _as_data(d, prop)

    def _read_incr(self, timeout: float) -> SelectionData | None:
        """ICCCM INCR: the owner writes chunks; each delete of our property asks for the next one."""
        d = self.d
        d.flush()
        chunks: list[bytes] = []
        type_name, fmt = "", 8
        while True:
            event = next(wait_events(d, timeout, lambda e: e.type == X.PropertyNotify
                                     and e.atom == self.prop and e.state == X.PropertyNewValue), None)
            if event is None:
                return None
            prop = self.window.get_full_property(self.prop, X.AnyPropertyType)
            self.window.delete_property(self.prop)
            d.flush()
            if prop is None:
                continue
            data = _as_data(d, prop)
            if not data.value:
                return SelectionData(type_name or data.type_name, fmt, b"".join(chunks))
            type_name, fmt = data.type_name, data.format
            chunks.append(data.value if isinstance(data.value, bytes) else bytes(data.value))


def _as_data(d: display.Display, prop: Any) -> SelectionData:
    type_name = d.get_atom_name(prop.property_type) if prop.property_type else ""
    value = prop.value
    if prop.format == 8:
        return SelectionData(type_name, 8, bytes(value) if not isinstance(value, str) else value.encode())
    return SelectionData(type_name, prop.format, tuple(int(v) for v in value))


# --- owning ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Delivery:
    requestor: int
    target: str
    at: float  # time.monotonic() when the last byte was handed over


@dataclass
class OfferWatch:
    """What happened to one offer: who fetched data from it, and whether someone else took the selection."""

    selection: str
    client_mask: int
    deliveries: list[Delivery] = field(default_factory=list)
    lost: threading.Event = field(default_factory=threading.Event)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def record(self, delivery: Delivery) -> None:
        with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()

    def mark_lost(self) -> None:
        with self._changed:
            self.lost.set()
            self._changed.notify_all()

    def wait_delivered(self, timeout: float, since: float, client_of: int = 0) -> bool:
        """True once a data format went to the client owning window ``client_of`` (any client if 0)."""
        base = client_of & ~self.client_mask

        def fetched() -> bool:
            return any(dl.at >= since and (not client_of or dl.requestor & ~self.client_mask == base)
                       for dl in self.deliveries)

        with self._changed:
            return self._changed.wait_for(lambda: fetched() or self.lost.is_set(), timeout) and fetched()


@dataclass
class _Offer:
    formats: dict[str, SelectionData]
    watch: OfferWatch
    timestamp: int


@dataclass
class _IncrTransfer:
    requestor: Any
    prop: int
    type_atom: int
    data: bytes
    watch: OfferWatch
    target: str
    offset: int = 0


class SelectionOwner:
    """Owns selections on a background thread and serves them to any client that asks."""

    def __init__(self, display_name: str | None = None) -> None:
        self._d = open_display(display_name)
        self._window = self._d.screen().root.create_window(0, 0, 1, 1, 0, X.CopyFromParent,
                                                           event_mask=X.PropertyChangeMask)
        self._client_mask = int(self._d.display.info.resource_id_mask)
        self._offers: dict[int, _Offer] = {}
        self._offers_lock = threading.Lock()
        self._incr: dict[tuple[int, int], _IncrTransfer] = {}
        self._commands: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self._wake_read, self._wake_write = wake_pipe()
        self._closing = threading.Event()
        self._atoms: dict[str, int] = {}
        self._thread = threading.Thread(target=self._run, name="x11-selection-owner", daemon=True)
        self._thread.start()

    @property
    def window_id(self) -> int:
        return int(self._window.id)

    def offer(self, selection: str, formats: dict[str, SelectionData]) -> OfferWatch:
        """Become the owner of ``selection`` with ``formats``; raises PlatformUnsupported if refused."""
        return self._call(lambda: self._offer(selection, dict(formats)))

    def release(self, selection: str) -> None:
        """Give the selection up (owner None) if we still own it."""
        self._call(lambda: self._release(selection))

    def current(self, selection: str) -> dict[str, SelectionData] | None:
        """Our formats for ``selection`` if we own it right now, else None."""
        atom = self._atom_cached(selection)  # may ask the owner thread: never while holding the lock
        with self._offers_lock:
            offer = self._offers.get(atom)
            return dict(offer.formats) if offer else None

    def owns(self, selection: str) -> bool:
        return self.current(selection) is not None

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        os.write(self._wake_write, b"x")
        self._thread.join(timeout=5)
        for fd in (self._wake_read, self._wake_write):
            os.close(fd)

    # --- on the owner thread -------------------------------------------------------------------------

    def _atom_cached(self, name: str) -> int:
        atom = self._atoms.get(name)
        if atom is None:
            atom = self._atoms[name] = int(self._d.intern_atom(name)) if threading.current_thread() \
                is self._thread else self._call(lambda: int(self._d.intern_atom(name)))
        return atom

    def _call(self, fn: Callable[[], T]) -> T:
        if self._closing.is_set():
            raise PlatformUnsupported("The clipboard service is closed.")
        future: Future[T] = Future()
        self._commands.put((fn, future))
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"x")
        return future.result(timeout=5)

    def _offer(self, selection: str, formats: dict[str, SelectionData]) -> OfferWatch:
        atom = self._atom_cached(selection)
        timestamp = get_timestamp(self._d, self._window, others=self._handle)
        self._window.set_selection_owner(atom, timestamp)
        if self._d.get_selection_owner(atom) != self._window:
            raise PlatformUnsupported(f"Could not take the {selection} selection.")
        watch = OfferWatch(selection, self._client_mask)
        with self._offers_lock:
            previous = self._offers.get(atom)
            self._offers[atom] = _Offer(formats, watch, timestamp)
        if previous is not None:
            previous.watch.mark_lost()  # replaced by our own newer offer
        return watch

    def _release(self, selection: str) -> None:
        atom = self._atom_cached(selection)
        with self._offers_lock:
            offer = self._offers.pop(atom, None)
        if offer is not None:
            request.SetSelectionOwner(display=self._d.display, window=X.NONE, selection=atom,
                                      time=X.CurrentTime)
            self._d.sync()

    def _run(self) -> None:
        d = self._d
        try:
            while not self._closing.is_set():
                while True:
                    try:
                        fn, future = self._commands.get_nowait()
                    except queue.Empty:
                        break
                    try:
                        future.set_result(fn())
                    except Exception as exc:  # handed to the caller's thread
                        future.set_exception(exc)
                while d.pending_events():
                    self._handle(d.next_event())
                if self._wake_read in wait_for_activity(d, also=[self._wake_read]):
                    drain(self._wake_read)
        except (error.ConnectionClosedError, OSError) as exc:
            log.warning("X connection for the clipboard ended: %s", exc)
        finally:
            with contextlib.suppress(error.ConnectionClosedError, OSError):
                d.close()

    def _handle(self, event: Any) -> None:
        if event.type == X.SelectionRequest:
            self._serve(event)
        elif event.type == X.SelectionClear:
            with self._offers_lock:
                offer = self._offers.pop(int(event.atom), None)
            if offer is not None:
                offer.watch.mark_lost()
        elif event.type == X.PropertyNotify and event.state == X.PropertyDelete:
            transfer = self._incr.get((int(event.window.id), int(event.atom)))
            if transfer is not None:
                self._send_incr_chunk(transfer)

    def _serve(self, request: Any) -> None:
        d = self._d
        prop = request.property or request.target  # obsolete clients pass None: use the target atom
        with self._offers_lock:
            offer = self._offers.get(int(request.selection))
        target = d.get_atom_name(request.target)
        ok = False
        catcher = error.CatchError(error.BadWindow, error.BadAlloc, error.BadMatch)
        if offer is not None:
            if target == "TARGETS":
                atoms = [self._atom_cached(n) for n in ("TARGETS", "TIMESTAMP", *offer.formats)]
                request.requestor.change_property(prop, Xatom.ATOM, 32, atoms, onerror=catcher)
                ok = True
            elif target == "TIMESTAMP":
                request.requestor.change_property(prop, Xatom.INTEGER, 32, [offer.timestamp],
                                                  onerror=catcher)
                ok = True
            elif target in offer.formats:
                ok = self._write_data(request, prop, target, offer, catcher)
        self._notify(request, prop if ok else X.NONE)
        d.sync()
        if catcher.get_error() is not None:
            log.info("Clipboard requestor went away during a transfer")

    def _write_data(self, request: Any, prop: int, target: str, offer: _Offer, catcher: Any) -> bool:
        data = offer.formats[target]
        type_atom = self._atom_cached(data.type_name) if data.type_name else self._atom_cached(target)
        value = data.value
        if isinstance(value, bytes) and len(value) > INCR_THRESHOLD:
            request.requestor.change_attributes(event_mask=X.PropertyChangeMask, onerror=catcher)
            self._incr[(int(request.requestor.id), int(prop))] = _IncrTransfer(
                request.requestor, prop, type_atom, value, offer.watch, target)
            request.requestor.change_property(prop, self._atom_cached("INCR"), 32, [len(value)],
                                              onerror=catcher)
            return True
        request.requestor.change_property(prop, type_atom, data.format,
                                          value if isinstance(value, bytes) else list(value), onerror=catcher)
        offer.watch.record(Delivery(int(request.requestor.id), target, time.monotonic()))
        return True

    def _send_incr_chunk(self, transfer: _IncrTransfer) -> None:
        chunk = transfer.data[transfer.offset:transfer.offset + INCR_CHUNK]
        transfer.offset += len(chunk)
        catcher = error.CatchError(error.BadWindow)
        transfer.requestor.change_property(transfer.prop, transfer.type_atom, 8, chunk, onerror=catcher)
        self._d.sync()
        if not chunk or catcher.get_error() is not None:
            del self._incr[(int(transfer.requestor.id), int(transfer.prop))]
            if not chunk and catcher.get_error() is None:
                transfer.watch.record(Delivery(int(transfer.requestor.id), transfer.target, time.monotonic()))

    def _notify(self, request: Any, prop: int) -> None:
        notify = xevent.SelectionNotify(time=request.time, requestor=request.requestor,
                                        selection=request.selection, target=request.target, property=prop)
        request.requestor.send_event(notify, onerror=error.CatchError(error.BadWindow))

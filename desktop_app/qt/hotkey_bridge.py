"""Moves global-hotkey callbacks from the backend's thread to the GUI thread.

Hotkey backends call ``on_press``/``on_release`` on their own thread (the X11 event thread, a Windows
message loop, a macOS event tap). Those callbacks only emit a queued signal; the GUI thread does the work,
so no backend thread ever touches the microphone, the controller or Qt objects — and no backend thread
calls back into the hotkey service (which would deadlock waiting for itself).
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, SignalInstance, Slot


def _emit_drops_a_bool_reference() -> bool:
    """PySide6 6.12 on Python 3.11 returns the bool of ``SignalInstance.emit()`` without taking a reference:
    every Python-side emit lowers ``True``'s refcount by one until the interpreter aborts ("bool_dealloc").
    Measure it once instead of assuming a version, and give back what the probe took."""

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.ping.emit()
    lost = before - sys.getrefcount(True)
    for _ in range(max(0, lost)):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return lost >= 8


_EMIT_DROPS_REFERENCE = _emit_drops_a_bool_reference()


def safe_emit(signal: SignalInstance, *args: Any) -> None:
    """``signal.emit(*args)`` without the reference leak above (a no-op fix where PySide6 is correct)."""
    result: object = signal.emit(*args)  # type: ignore[func-returns-value]  # the stubs say None; it is a bool
    if _EMIT_DROPS_REFERENCE and isinstance(result, bool):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))


class HotkeyBridge(QObject):
    pressed = Signal(str)  # binding name, delivered on the GUI thread
    released = Signal(str)
    _press_from_backend = Signal(str)
    _release_from_backend = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._press_from_backend.connect(self._deliver_press, Qt.ConnectionType.QueuedConnection)
        self._release_from_backend.connect(self._deliver_release, Qt.ConnectionType.QueuedConnection)

    def callbacks(self, name: str) -> tuple[Callable[[], None], Callable[[], None]]:
        """(on_press, on_release) to hand to ``HotkeyService.register``; safe to call from any thread."""
        return (lambda: safe_emit(self._press_from_backend, name)), \
            (lambda: safe_emit(self._release_from_backend, name))

    @Slot(str)
    def _deliver_press(self, name: str) -> None:
        safe_emit(self.pressed, name)

    @Slot(str)
    def _deliver_release(self, name: str) -> None:
        safe_emit(self.released, name)

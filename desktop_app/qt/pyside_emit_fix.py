"""Work-around for a reference-count bug in PySide6 6.12.0: ``SignalInstance.emit()`` called from Python
returns ``True`` without taking a reference, so every emit drops one reference to ``True``; after a few
hundred emits the interpreter aborts with "Fatal Python error: bool_dealloc". (Repro: emit any signal
1,000 times in a loop.)

``install()`` detects the bug with one probe emit and, only if it is present, wraps ``emit`` so each call
gives back the reference it takes away. Idempotent; a fixed PySide6 makes it a no-op.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

log = logging.getLogger(__name__)

_installed = False


class _Probe(QObject):
    ping = Signal()


def emit_loses_references() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(4):
        probe.ping.emit()
    return sys.getrefcount(True) < before - 2


def install() -> bool:
    """Patch ``SignalInstance.emit`` when this PySide6 has the bug; True when the patch is active."""
    global _installed
    if _installed:
        return True
    if not emit_loses_references():
        return False
    original = SignalInstance.emit
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]

    def emit(self: SignalInstance, *args: Any) -> Any:
        result = original(self, *args)
        if isinstance(result, bool):
            incref(result)  # the reference emit() should have taken for its return value
        return result

    SignalInstance.emit = emit  # type: ignore[method-assign]
    _installed = True
    log.info("PySide6 %s: SignalInstance.emit reference-count work-around installed", _pyside_version())
    return True


def _pyside_version() -> str:
    import PySide6

    return str(PySide6.__version__)

"""Work-around for a reference-count bug in PySide6 6.12.0: ``SignalInstance.emit()`` called from Python
returns ``True`` without taking a reference, so every emit drops one reference to ``True``; after a few
hundred emits the interpreter aborts with "Fatal Python error: bool_dealloc". (Repro: emit any signal
1,000 times in a loop. PySide6 6.11.3 does not have the bug.)

``install()`` detects the bug with a probe and, only if it is present, gives ``True`` a cushion of 2**40
references in one step (``ob_refcnt`` is the first field of every CPython object), which no process
lifetime of emits can use up. Extra references to ``True`` are harmless: it is never freed anyway.
(Patching ``SignalInstance.emit`` instead breaks ``connect(other_signal.emit)``.) Idempotent; a no-op on a
fixed PySide6. Call it once, early.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

CUSHION = 1 << 40

_lock = threading.Lock()
_active = False


class _Probe(QObject):
    ping = Signal()


def emit_loses_references() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.ping.emit()
    return sys.getrefcount(True) <= before - 8


def install() -> bool:
    """Compensate when this PySide6 has the bug; True when the work-around is active."""
    global _active
    with _lock:
        if _active:
            return True
        if not emit_loses_references():
            return False
        # Done while holding the GIL (ctypes does not release it here), so no other thread races it.
        ctypes.c_ssize_t.from_address(id(True)).value += CUSHION
        _active = True
    import PySide6

    log.info("PySide6 %s: SignalInstance.emit reference-count work-around active", PySide6.__version__)
    return True

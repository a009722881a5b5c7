"""Moves global-hotkey callbacks from the backend's thread to the GUI thread.

Hotkey backends call ``on_press``/``on_release`` on their own thread (the X11 event thread, a Windows
message loop, a macOS event tap). Those callbacks only emit a queued signal; the GUI thread does the work,
so no backend thread ever touches the microphone, the controller or Qt objects — and no backend thread
calls back into the hotkey service (which would deadlock waiting for itself).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot


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
        return (lambda: self._press_from_backend.emit(name)), (lambda: self._release_from_backend.emit(name))

    @Slot(str)
    def _deliver_press(self, name: str) -> None:
        self.pressed.emit(name)

    @Slot(str)
    def _deliver_release(self, name: str) -> None:
        self.released.emit(name)

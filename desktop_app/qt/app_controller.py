"""The app's command hub: IPC commands, tray and window actions all arrive here and go to the feature
controllers; the combined state (idle, recording, …) and user notices leave from here as signals."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from desktop_app.core.models import AppState
from desktop_app.qt.ipc import Reply

log = logging.getLogger(__name__)


class DictationControl(Protocol):
    def start(self) -> str: ...
    def stop(self) -> str: ...
    def toggle(self) -> str: ...
    def cancel(self) -> str: ...


class ReadControl(Protocol):
    def read(self, source: str, text: str = "") -> str: ...
    def stop(self) -> str: ...
    def pause_toggle(self) -> str: ...
    def resume(self) -> str: ...
    def next_sentence(self) -> str: ...
    def previous_sentence(self) -> str: ...


READ_ACTIONS = ("pause", "resume", "stop", "next", "previous")


class AppController(QObject):
    state_changed = Signal(object, str)  # AppState, detail
    notice = Signal(str, str, str)  # title, message, level ("info", "warning", "error")
    show_window_requested = Signal(str)  # page name ("" = current)
    quit_requested = Signal()
    settings_reload_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.dictation: DictationControl | None = None
        self.reader: ReadControl | None = None
        self._state = AppState.IDLE
        self._detail = ""

    # ----- state -------------------------------------------------------------------------------
    @property
    def state(self) -> AppState:
        return self._state

    def set_state(self, state: AppState, detail: str = "") -> None:
        if (state, detail) == (self._state, self._detail):
            return
        self._state, self._detail = state, detail
        self.state_changed.emit(state, detail)

    def tell(self, title: str, message: str, level: str = "info") -> None:
        log.log(logging.WARNING if level != "info" else logging.INFO, "%s: %s", title, message)
        self.notice.emit(title, message, level)

    # ----- commands (IPC, tray, window) ----------------------------------------------------------
    def handle_command(self, command: str, args: dict[str, Any]) -> Reply:
        if command == "ping":
            return Reply(True, "pong", {"state": self._state.value})
        if command == "show":
            self.show_window_requested.emit(str(args.get("page", "")))
            return Reply(True, "Sayso window shown.")
        if command == "quit":
            self.quit_requested.emit()
            return Reply(True, "Sayso is quitting.")
        if command == "status":
            return Reply(True, self._state.value, {"state": self._state.value, "detail": self._detail})
        if command == "reload-settings":
            self.settings_reload_requested.emit()
            return Reply(True, "Settings reloaded.")
        if command == "dictate":
            return self._dictate(str(args.get("action", "toggle")))
        if command == "read":
            if "action" in args:  # a transport control (`sayso read --pause` …) rather than a new text
                return self._read_control(str(args["action"]))
            return self._read(str(args.get("source", "selection")), str(args.get("text", "")))
        if command == "stop":
            return self.stop_all()
        return Reply(False, f"Unknown command {command!r}.")

    def _dictate(self, action: str) -> Reply:
        if self.dictation is None:
            return Reply(False, "Dictation is not available in this session.")
        actions = {"start": self.dictation.start, "stop": self.dictation.stop,
                   "toggle": self.dictation.toggle, "cancel": self.dictation.cancel}
        if action not in actions:
            return Reply(False, f"Unknown dictation action {action!r}: use start, stop, toggle or cancel.")
        return Reply(True, actions[action]())

    def _read(self, source: str, text: str) -> Reply:
        if self.reader is None:
            return Reply(False, "Read aloud is not available in this session.")
        if source not in ("selection", "clipboard", "text"):
            return Reply(False, f"Unknown read source {source!r}.")
        return Reply(True, self.reader.read(source, text))

    def _read_control(self, action: str) -> Reply:
        if self.reader is None:
            return Reply(False, "Read aloud is not available in this session.")
        reader = self.reader
        actions = {"pause": reader.pause_toggle, "resume": reader.resume,
                   "stop": lambda: reader.stop() or "Nothing is being read.",
                   "next": reader.next_sentence, "previous": reader.previous_sentence}
        if action not in actions:
            return Reply(False, f"Unknown read action {action!r}: use {', '.join(READ_ACTIONS)}.")
        # Nothing being read is no failure: a shortcut pressed at the wrong moment just says so.
        return Reply(True, actions[action]())

    def shutdown(self) -> None:
        """On quit: cancel (the recording stays in history for a retry) rather than start a new upload."""
        if self.dictation is not None:
            self.dictation.cancel()
        if self.reader is not None:
            self.reader.stop()

    def stop_all(self) -> Reply:
        messages = []
        if self.dictation is not None:
            # Stop, not cancel: what was said so far is still transcribed, nothing is lost.
            messages.append(self.dictation.stop())
        if self.reader is not None:
            messages.append(self.reader.stop())
        return Reply(True, " ".join(m for m in messages if m) or "Nothing to stop.")

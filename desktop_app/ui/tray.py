"""The tray icon: state at a glance, a context menu for every main action, notifications."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop_app.core.models import AppState
from desktop_app.ui.icons import state_icon

STATE_TEXT = {
    AppState.IDLE: "Ready",
    AppState.RECORDING: "Recording…",
    AppState.TRANSCRIBING: "Transcribing…",
    AppState.SPEAKING: "Reading aloud…",
    AppState.ERROR: "Needs attention",
}


class Tray(QObject):
    dictate_requested = Signal()
    read_requested = Signal()
    stop_requested = Signal()
    open_requested = Signal()
    settings_requested = Signal()
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(state_icon(AppState.IDLE), self)
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self.actions: dict[str, QAction] = {}
        groups = (
            (("dictate", "&Dictate", self.dictate_requested),
             ("read", "&Read selection", self.read_requested),
             ("stop", "&Stop", self.stop_requested)),
            (("open", "&Open Sayso", self.open_requested),
             ("settings", "S&ettings…", self.settings_requested)),
            (("quit", "&Quit", self.quit_requested),),
        )
        for index, group in enumerate(groups):
            if index:
                self.menu.addSeparator()
            for key, text, signal in group:
                action = self.menu.addAction(text)
                action.triggered.connect(signal)  # signal-to-signal: no Python slot in between
                self.actions[key] = action
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.set_state(AppState.IDLE, "")

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def set_state(self, state: AppState, detail: str) -> None:
        self.icon.setIcon(state_icon(state))
        tip = f"Sayso — {STATE_TEXT[state]}"
        self.icon.setToolTip(f"{tip}\n{detail}" if detail else tip)
        self.actions["stop"].setEnabled(state in (AppState.RECORDING, AppState.TRANSCRIBING, AppState.SPEAKING))

    def notify(self, title: str, message: str, level: str) -> None:
        icon = {"error": QSystemTrayIcon.MessageIcon.Critical,
                "warning": QSystemTrayIcon.MessageIcon.Warning}.get(level, QSystemTrayIcon.MessageIcon.Information)
        self.icon.showMessage(title, message, icon, 6000)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.open_requested.emit()

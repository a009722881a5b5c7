"""API key and connection check for the Settings page: keyring calls and the network test run off the GUI
thread; results come back as signals with a sentence for the user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from desktop_app.core.errors import SaysoError
from desktop_app.core.models import ApiConfig
from desktop_app.core.redact import redact
from desktop_app.qt.settings_model import SettingsModel
from desktop_app.qt.tasks import TaskRunner
from desktop_app.services.credentials import Credentials, KeyStatus


class KeyController(QObject):
    status_changed = Signal(object)  # KeyStatus
    test_finished = Signal(bool, str)
    error = Signal(str)

    def __init__(self, credentials: Credentials, settings: SettingsModel, tasks: TaskRunner,
                 test_connection: Callable[[ApiConfig], tuple[bool, str]],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._credentials = credentials
        self._settings = settings
        self._tasks = tasks
        self._test_connection = test_connection
        self.last_status: KeyStatus | None = None

    def refresh(self) -> None:
        task = self._tasks.start("key-status", lambda _t: self._credentials.status(self._settings.settings))
        task.succeeded.connect(self._on_status)
        task.failed.connect(lambda exc: self.error.emit(_sentence(exc)))

    def save_key(self, key: str) -> None:
        def work(_token: Any) -> KeyStatus:
            self._credentials.set_key(self._settings.settings, key)
            return self._credentials.status(self._settings.settings)

        task = self._tasks.start("key-save", work)
        task.succeeded.connect(self._on_status)
        task.failed.connect(lambda exc: self.error.emit(_sentence(exc)))

    def clear_key(self) -> None:
        def work(_token: Any) -> KeyStatus:
            self._credentials.clear_key(self._settings.settings)
            return self._credentials.status(self._settings.settings)

        task = self._tasks.start("key-clear", work)
        task.succeeded.connect(self._on_status)
        task.failed.connect(lambda exc: self.error.emit(_sentence(exc)))

    def test_connection(self) -> None:
        def work(_token: Any) -> tuple[bool, str]:
            return self._test_connection(self._credentials.api_config(self._settings.settings))

        task = self._tasks.start("connection-test", work)
        task.succeeded.connect(lambda result: self.test_finished.emit(bool(result[0]), str(result[1])))
        task.failed.connect(lambda exc: self.test_finished.emit(False, _sentence(exc)))

    def _on_status(self, status: KeyStatus) -> None:
        self.last_status = status
        self.status_changed.emit(status)


def _sentence(exc: object) -> str:
    if isinstance(exc, SaysoError):
        return exc.full_message()
    return redact(str(exc)) or type(exc).__name__

"""The live settings of the running app: one object, saved on every change, change signals per key."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from desktop_app.core.errors import SettingsError
from desktop_app.core.settings import Settings

log = logging.getLogger(__name__)


class SettingsModel(QObject):
    changed = Signal(str)  # dotted key
    save_failed = Signal(str)

    def __init__(self, settings: Settings, save: Callable[[Settings], None],
                 load: Callable[[], Settings] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._save = save
        self._load = load

    @property
    def settings(self) -> Settings:
        return self._settings

    def get(self, key: str) -> Any:
        return self._settings.get(key)

    def set(self, key: str, value: Any) -> None:
        """Validate, apply and save. Raises SettingsError with the allowed values for a bad value."""
        old = self._settings.get(key)
        self._settings.set(key, value)
        if self._settings.get(key) == old:
            return
        try:
            self._save(self._settings)
        except SettingsError as exc:
            self.save_failed.emit(exc.user_message)
        self.changed.emit(key)

    def reload(self) -> list[str]:
        """Re-read the file (after `sayso config set` changed it) and signal the keys that changed."""
        if self._load is None:
            return []
        fresh = self._load()
        changed = [key for key in _keys() if fresh.get(key) != self._settings.get(key)]
        self._settings = fresh
        for key in changed:
            self.changed.emit(key)
        return changed


def _keys() -> list[str]:
    from desktop_app.core.settings import all_keys

    return all_keys()


__all__ = ["SettingsError", "SettingsModel"]

"""Settings on disk: JSON, written atomically (temp file + fsync + rename), migrated on load."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from desktop_app.core.errors import SettingsError
from desktop_app.core.settings import Settings

log = logging.getLogger(__name__)


class SettingsStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Settings:
        """Missing file → defaults. A damaged file is kept aside (never silently overwritten) and defaults used."""
        try:
            raw_text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Settings()
        try:
            raw = json.loads(raw_text)
            if not isinstance(raw, dict):
                raise ValueError("settings file does not hold an object")
        except ValueError as exc:
            backup = self.path.with_suffix(".damaged.json")
            os.replace(self.path, backup)
            log.warning("Settings file %s was damaged (%s); kept it as %s and used defaults", self.path, exc, backup)
            return Settings()
        return Settings.from_dict(raw)

    def save(self, settings: Settings) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(settings.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        fd, tmp_name = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, self.path)
        except OSError as exc:
            Path(tmp_name).unlink(missing_ok=True)
            raise SettingsError(f"Could not save settings to {self.path}: {exc.strerror or exc}") from exc

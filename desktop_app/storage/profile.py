"""Where Sayso keeps its files: one profile dir (``--profile`` / ``SAYSO_PROFILE``) or the platform dirs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

PROFILE_ENV = "SAYSO_PROFILE"


@dataclass(frozen=True)
class Profile:
    config_dir: Path
    data_dir: Path
    log_dir: Path
    explicit: bool  # True when the user chose a profile dir (tests, portable installs)

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def history_db(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def audio_dir(self) -> Path:
        return self.data_dir / "audio"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def key(self) -> str:
        """A stable short name of this profile, used to keep instances of different profiles apart."""
        import hashlib

        return hashlib.sha256(str(self.config_dir.resolve()).encode()).hexdigest()[:12]

    def ensure(self) -> Profile:
        for path in (self.config_dir, self.data_dir, self.log_dir, self.audio_dir):
            path.mkdir(parents=True, exist_ok=True)
        return self


def resolve_profile(explicit_dir: str | os.PathLike[str] | None = None) -> Profile:
    chosen = explicit_dir or os.environ.get(PROFILE_ENV)
    if chosen:
        root = Path(chosen).expanduser().resolve()
        return Profile(config_dir=root, data_dir=root, log_dir=root / "logs", explicit=True)
    return Profile(
        config_dir=Path(platformdirs.user_config_dir("sayso", appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir("sayso", appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir("sayso", appauthor=False)),
        explicit=False,
    )

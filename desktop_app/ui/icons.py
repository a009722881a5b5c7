"""State icons for the tray and window, loaded once from resources/icons."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from desktop_app.core.models import AppState
from desktop_app.core.resources import icon_path, resources_dir


@cache
def app_icon() -> QIcon:
    icon = QIcon(str(icon_path("sayso")))
    for png in sorted((resources_dir() / "icons" / "png").glob("sayso-[0-9]*.png")):
        icon.addFile(str(png))
    return icon


@cache
def state_icon(state: AppState) -> QIcon:
    return QIcon(str(icon_path(f"sayso-{state.value}")))

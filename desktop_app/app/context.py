"""Everything the feature wiring modules need from the shell, handed over in one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from desktop_app.platform.factory import PlatformServices
    from desktop_app.qt.app_controller import AppController
    from desktop_app.qt.settings_model import SettingsModel
    from desktop_app.qt.tasks import TaskRunner
    from desktop_app.services.credentials import Credentials
    from desktop_app.storage.profile import Profile
    from desktop_app.ui.dictate_page import DictatePage
    from desktop_app.ui.history_page import HistoryPage
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.read_page import ReadPage
    from desktop_app.ui.tray import Tray


@dataclass
class AppContext:
    app: QApplication
    profile: Profile
    controller: AppController
    settings: SettingsModel
    tasks: TaskRunner
    credentials: Credentials
    platform: PlatformServices
    window: MainWindow
    tray: Tray
    dictate_page: DictatePage
    read_page: ReadPage
    history_page: HistoryPage
    # Feature wiring appends its stop functions; the shell calls them (last first) before joining threads.
    on_shutdown: list[Callable[[], None]] = field(default_factory=list)

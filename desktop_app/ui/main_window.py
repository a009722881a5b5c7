"""The main window: a page list on the left (Dictate, Read aloud, History, Settings), a notice banner on top.

Closing it keeps Sayso running in the tray; without a tray host it minimises instead, so it stays reachable.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.models import AppState
from desktop_app.ui.icons import app_icon

PAGES = ("dictate", "read", "history", "settings")
PAGE_TITLES = {"dictate": "Dictate", "read": "Read aloud", "history": "History", "settings": "Settings"}


class MainWindow(QMainWindow):
    def __init__(self, pages: dict[str, QWidget], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("Sayso")
        self.setWindowIcon(app_icon())
        self.resize(820, 560)
        self.keep_running_in_tray = True
        self.quitting = False
        self.pages = pages
        central = QWidget()
        outer = QVBoxLayout(central)
        self.banner = QLabel("")
        self.banner.setObjectName("noticeBanner")
        self.banner.setWordWrap(True)
        self.banner.setAccessibleName("Notice")
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        outer.addWidget(self.banner)
        body = QHBoxLayout()
        self.nav = QListWidget()
        self.nav.setObjectName("pageList")
        self.nav.setAccessibleName("Pages")
        self.nav.setFixedWidth(150)
        self.stack = QStackedWidget()
        for index, name in enumerate(PAGES):
            self.nav.addItem(PAGE_TITLES[name])
            self.stack.addWidget(pages[name])
            shortcut = QShortcut(QKeySequence(f"Ctrl+{index + 1}"), self)
            shortcut.activated.connect(lambda n=name: self.show_page(n))
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.nav.setCurrentRow(0)
        body.addWidget(self.nav)
        body.addWidget(self.stack, 1)
        outer.addLayout(body, 1)
        self.setCentralWidget(central)
        self.state_label = QLabel("Ready")
        self.state_label.setAccessibleName("Sayso state")
        self.statusBar().addPermanentWidget(self.state_label)

    def show_page(self, name: str) -> None:
        if name in PAGES:
            self.nav.setCurrentRow(PAGES.index(name))

    def current_page(self) -> str:
        return PAGES[self.nav.currentRow()]

    def bring_to_front(self, page: str = "") -> None:
        if page:
            self.show_page(page)
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def set_state(self, state: AppState, detail: str) -> None:
        from desktop_app.ui.tray import STATE_TEXT

        self.state_label.setText(f"{STATE_TEXT[state]} {detail}".strip())

    def show_notice(self, message: str, level: str = "info") -> None:
        colors = {"error": "#fee2e2", "warning": "#fef3c7", "info": "#dbeafe"}
        self.banner.setStyleSheet(f"QLabel#noticeBanner {{ background: {colors.get(level, colors['info'])};"
                                  " color: #111827; padding: 6px; border-radius: 4px; }")
        self.banner.setText(message)
        self.banner.setVisible(bool(message))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.quitting:
            event.accept()
            return
        event.ignore()
        if self.keep_running_in_tray:
            self.hide()
        else:
            self.showMinimized()

"""A small "recording" badge with the input level, shown while dictating. It never takes the focus, so the
text still lands where the user was typing."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from desktop_app.ui.level_meter import LevelMeter

TITLE = "Sayso recording"


class RecordingIndicator(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint | Qt.WindowType.WindowDoesNotAcceptFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setObjectName("recordingIndicator")
        self.setWindowTitle(TITLE)
        self.setAccessibleName("Recording indicator")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        self.label = QLabel("● Recording")
        self.label.setStyleSheet("color: #dc2626; font-weight: bold;")
        self.meter = LevelMeter()
        self.meter.setFixedWidth(90)
        layout.addWidget(self.label)
        layout.addWidget(self.meter)

    def show_recording(self) -> None:
        """Show at the top centre of the primary screen without activating it."""
        self.adjustSize()
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            area = screen.availableGeometry()
            self.move(area.center().x() - self.width() // 2, area.top() + 40)
        self.meter.set_level(0.0)
        self.show()

    def set_level(self, level: float) -> None:
        if self.isVisible():
            self.meter.set_level(level)

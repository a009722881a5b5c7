"""A small always-on-top pause / stop / next bar shown while Sayso reads aloud. It never takes the focus,
so the user keeps typing in their app while clicking it."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal, SignalInstance
from PySide6.QtGui import QGuiApplication, QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

TITLE = "Sayso reading"


class FloatingControls(QWidget):
    pause_clicked = Signal()
    stop_clicked = Signal()
    next_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint | Qt.WindowType.WindowDoesNotAcceptFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setObjectName("floatingReadControls")
        self.setWindowTitle(TITLE)
        self.setAccessibleName("Read aloud controls")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)
        self.grip = QLabel("🔊")
        self.grip.setToolTip("Sayso is reading aloud (drag to move)")
        self.pause_button = self._button("⏸", "Pause or resume reading", self.pause_clicked)
        self.stop_button = self._button("■", "Stop reading", self.stop_clicked)
        self.next_button = self._button("⏭", "Next sentence", self.next_clicked)
        layout.addWidget(self.grip)
        for button in (self.pause_button, self.stop_button, self.next_button):
            layout.addWidget(button)
        self._drag_from: QPoint | None = None
        self._placed = False

    def _button(self, text: str, name: str, signal: SignalInstance) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setAccessibleName(name)
        button.setToolTip(name)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setMinimumSize(32, 28)
        button.clicked.connect(signal)
        return button

    def set_paused(self, paused: bool) -> None:
        self.pause_button.setText("▶" if paused else "⏸")
        self.pause_button.setToolTip("Resume reading" if paused else "Pause reading")

    def show_near_corner(self) -> None:
        """Show without activating, bottom right of the primary screen the first time (then where the user
        dragged it)."""
        if not self._placed:
            self.adjustSize()
            screen = QGuiApplication.primaryScreen()
            if screen is not None:
                area = screen.availableGeometry()
                self.move(area.right() - self.width() - 24, area.bottom() - self.height() - 48)
            self._placed = True
        self.set_paused(False)
        self.show()
        self.raise_()

    # Dragging by the grip area: a frameless window has no title bar to move it with.
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = event.globalPosition().toPoint() - self.frameGeometry().topLeft()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None:
            self.move(event.globalPosition().toPoint() - self._drag_from)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag_from = None

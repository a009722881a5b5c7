"""A small always-on-top pause / stop / next bar shown while Sayso reads aloud. It never takes the focus,
so the user keeps typing in their app while clicking it."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal, SignalInstance
from PySide6.QtGui import QGuiApplication, QIcon, QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStyle, QToolButton, QWidget

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
        # The style's own media icons, not glyphs like "⏸": a bare Linux desktop may have no font for those.
        self.grip = QLabel()
        self.grip.setPixmap(self._icon(QStyle.StandardPixmap.SP_MediaVolume).pixmap(20, 20))
        self.grip.setToolTip("Sayso is reading aloud (drag to move)")
        self.pause_button = self._button(QStyle.StandardPixmap.SP_MediaPause, "Pause or resume reading",
                                         self.pause_clicked)
        self.stop_button = self._button(QStyle.StandardPixmap.SP_MediaStop, "Stop reading", self.stop_clicked)
        self.next_button = self._button(QStyle.StandardPixmap.SP_MediaSkipForward, "Next sentence",
                                        self.next_clicked)
        layout.addWidget(self.grip)
        for button in (self.pause_button, self.stop_button, self.next_button):
            layout.addWidget(button)
        self._drag_from: QPoint | None = None
        self._placed = False

    def _icon(self, which: QStyle.StandardPixmap) -> QIcon:
        return self.style().standardIcon(which)

    def _button(self, icon: QStyle.StandardPixmap, name: str, signal: SignalInstance) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(self._icon(icon))
        button.setText(name)  # shown only if the icon cannot be
        button.setAccessibleName(name)
        button.setToolTip(name)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setMinimumSize(32, 28)
        button.clicked.connect(signal)
        return button

    def set_paused(self, paused: bool) -> None:
        self.pause_button.setIcon(self._icon(QStyle.StandardPixmap.SP_MediaPlay if paused
                                             else QStyle.StandardPixmap.SP_MediaPause))
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

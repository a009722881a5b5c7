"""The Dictate page: what Sayso hears (level), what it understood (live transcript), and the controls."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from desktop_app.core.models import AppState
from desktop_app.ui.level_meter import LevelMeter


class DictatePage(QWidget):
    start_clicked = Signal()
    stop_clicked = Signal()
    cancel_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dictatePage")
        layout = QVBoxLayout(self)
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        self.hint.setObjectName("dictateHint")
        self.state_label = QLabel("Ready")
        self.state_label.setObjectName("dictateState")
        self.state_label.setAccessibleName("Dictation state")
        self.meter = LevelMeter()
        self.transcript = QPlainTextEdit()
        self.transcript.setObjectName("liveTranscript")
        self.transcript.setReadOnly(True)
        self.transcript.setAccessibleName("Live transcript")
        self.transcript.setPlaceholderText("Your words appear here while Sayso transcribes them.")
        buttons = QHBoxLayout()
        self.start_button = QPushButton("&Start dictation")
        self.stop_button = QPushButton("S&top and insert")
        self.cancel_button = QPushButton("&Cancel")
        for button in (self.start_button, self.stop_button, self.cancel_button):
            button.setAccessibleName(button.text().replace("&", ""))
            buttons.addWidget(button)
        self.start_button.clicked.connect(self.start_clicked)
        self.stop_button.clicked.connect(self.stop_clicked)
        self.cancel_button.clicked.connect(self.cancel_clicked)
        layout.addWidget(self.hint)
        layout.addWidget(self.state_label)
        layout.addWidget(QLabel("Input level:"))
        layout.addWidget(self.meter)
        layout.addWidget(self.transcript, 1)
        layout.addLayout(buttons)
        self.set_state(AppState.IDLE, "")

    def set_hotkey_hint(self, text: str) -> None:
        self.hint.setText(text)

    def set_state(self, state: AppState, detail: str) -> None:
        names = {AppState.IDLE: "Ready", AppState.RECORDING: "Recording…",
                 AppState.TRANSCRIBING: "Transcribing…", AppState.SPEAKING: "Reading aloud…",
                 AppState.ERROR: "Problem"}
        self.state_label.setText(f"{names[state]} {detail}".strip())
        recording = state == AppState.RECORDING
        self.start_button.setEnabled(state in (AppState.IDLE, AppState.ERROR, AppState.SPEAKING))
        self.stop_button.setEnabled(recording)
        self.cancel_button.setEnabled(state in (AppState.RECORDING, AppState.TRANSCRIBING))
        if not recording:
            self.meter.set_level(0.0)

    def begin_transcript(self) -> None:
        self.transcript.clear()

    def show_partial(self, text: str) -> None:
        self.transcript.setPlainText(text)

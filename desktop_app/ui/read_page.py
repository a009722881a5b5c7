"""The Read aloud page: text to read (typed, pasted or opened), voice and speed, transport controls, the
sentence being spoken highlighted."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStyle,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

MAX_EDITOR_CHARS = 2_000_000  # beyond this the editor shows a preview; reading still uses the whole file


class ReadPage(QWidget):
    play_clicked = Signal(str)
    pause_clicked = Signal()
    stop_clicked = Signal()
    next_clicked = Signal()
    previous_clicked = Signal()
    save_clicked = Signal(str, str)  # text, path
    voice_changed = Signal(str)
    speed_changed = Signal(float)

    def __init__(self, voices: list[str], voice: str, speed: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("readPage")
        layout = QVBoxLayout(self)
        self.text = QPlainTextEdit()
        self.text.setObjectName("readText")
        self.text.setAccessibleName("Text to read aloud")
        self.text.setPlaceholderText("Type or paste text here, or open a .txt / .md file.")
        controls = QHBoxLayout()
        self.voice = QComboBox()
        self.voice.setEditable(True)
        self.voice.addItems(voices)
        self.voice.setCurrentText(voice)
        self.voice.setAccessibleName("Voice")
        self.voice.currentTextChanged.connect(self.voice_changed)
        self.speed = QDoubleSpinBox()
        self.speed.setRange(0.25, 4.0)
        self.speed.setSingleStep(0.1)
        self.speed.setValue(speed)
        self.speed.setSuffix("×")
        self.speed.setAccessibleName("Speed")
        self.speed.valueChanged.connect(self.speed_changed)
        voice_label = QLabel("&Voice:")
        voice_label.setBuddy(self.voice)
        speed_label = QLabel("S&peed:")
        speed_label.setBuddy(self.speed)
        controls.addWidget(voice_label)
        controls.addWidget(self.voice, 1)
        controls.addWidget(speed_label)
        controls.addWidget(self.speed)
        transport = QHBoxLayout()
        self.open_button = QPushButton("&Open file…")
        self.previous_button = QPushButton("Pre&vious")
        self.play_button = QPushButton("&Play")
        self.pause_button = QPushButton("P&ause")
        self.stop_button = QPushButton("&Stop")
        self.next_button = QPushButton("&Next")
        # The style's media icons rather than glyphs such as "⏸", which bare Linux desktops have no font for.
        for button, icon in ((self.previous_button, QStyle.StandardPixmap.SP_MediaSkipBackward),
                             (self.play_button, QStyle.StandardPixmap.SP_MediaPlay),
                             (self.pause_button, QStyle.StandardPixmap.SP_MediaPause),
                             (self.stop_button, QStyle.StandardPixmap.SP_MediaStop),
                             (self.next_button, QStyle.StandardPixmap.SP_MediaSkipForward)):
            button.setIcon(self.style().standardIcon(icon))
        self.save_button = QPushButton("Sa&ve audio…")
        names = {self.open_button: "Open file", self.previous_button: "Previous sentence",
                 self.play_button: "Play", self.pause_button: "Pause or resume", self.stop_button: "Stop",
                 self.next_button: "Next sentence", self.save_button: "Save audio to file"}
        for button, name in names.items():
            button.setAccessibleName(name)
            transport.addWidget(button)
        self.open_button.clicked.connect(self._open_file)
        self.play_button.clicked.connect(lambda: self.play_clicked.emit(self.text.toPlainText()))
        self.pause_button.clicked.connect(self.pause_clicked)
        self.stop_button.clicked.connect(self.stop_clicked)
        self.next_button.clicked.connect(self.next_clicked)
        self.previous_button.clicked.connect(self.previous_clicked)
        self.save_button.clicked.connect(self._save)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Reading progress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.status = QLabel("")
        self.status.setObjectName("readStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.text, 1)
        layout.addLayout(controls)
        layout.addLayout(transport)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.set_playing(False)

    def set_playing(self, playing: bool) -> None:
        self.pause_button.setEnabled(playing)
        self.stop_button.setEnabled(playing)
        self.next_button.setEnabled(playing)
        self.previous_button.setEnabled(playing)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def set_progress(self, fraction: float) -> None:
        self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 1000))

    def show_text(self, text: str) -> None:
        self.text.setPlainText(text[:MAX_EDITOR_CHARS])

    def highlight(self, start: int, end: int) -> None:
        """Mark the sentence being spoken (offsets into the shown text)."""
        selection = QTextEdit.ExtraSelection()
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(250, 204, 21, 110))
        selection.format = fmt
        cursor = QTextCursor(self.text.document())
        length = len(self.text.toPlainText())
        cursor.setPosition(min(start, length))
        cursor.setPosition(min(end, length), QTextCursor.MoveMode.KeepAnchor)
        selection.cursor = cursor
        self.text.setExtraSelections([selection] if end > start else [])

    def _open_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Open text", "", "Text (*.txt *.md *.markdown);;All (*)")
        if path:
            self.load_file(Path(path))

    def load_file(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.set_status(f"Could not open {path.name}: {exc.strerror or exc}")
            return
        self.show_text(data.decode("utf-8", errors="replace"))
        self.set_status(f"Opened {path.name}.")

    def _save(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(
            self, "Save audio", "speech.flac", "FLAC (*.flac);;WAV (*.wav);;Ogg (*.ogg);;MP3 (*.mp3)")
        if path:
            self.save_clicked.emit(self.text.toPlainText(), path)

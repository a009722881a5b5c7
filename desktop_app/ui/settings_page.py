"""The Settings page: one editor per setting, generated from the typed settings so none is forgotten,
plus the API key (masked) with Save / Clear / Test connection, and for the local model a Browse… button
(an existing model folder) and a Download button with progress and Cancel.

The page knows nothing of the model catalogue or the downloader (ui/ reaches no adapter): the app gives it
the model labels (``set_local_models``), listens to ``local_download_requested`` / ``…_cancel_requested``
and reports back through ``local_download_*``."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.errors import SettingsError
from desktop_app.core.settings import SECTIONS, all_keys, describe
from desktop_app.qt.key_controller import KeyController
from desktop_app.qt.settings_model import SettingsModel

SECTION_TITLES = {
    "api": "Connection", "dictation": "Dictation", "insert": "Inserting text", "read": "Read aloud",
    "audio": "Audio devices", "ui": "Appearance and behaviour", "history": "History",
}
HOTKEY_KEYS = ("dictation.hotkey", "read.hotkey")
LOCAL_MODEL_KEY = "dictation.local_model"
FREE_TEXT_SUGGESTIONS = {
    "dictation.model": ("gpt-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe", "whisper-1"),
    "dictation.realtime_model": ("gpt-4o-mini-transcribe", "gpt-realtime-whisper", "gpt-live-transcribe",
                                 "gpt-transcribe"),
    "read.model": ("gpt-4o-mini-tts", "tts-1", "tts-1-hd"),
    "read.realtime_model": ("gpt-realtime-2.1-mini",),
    "read.voice": ("marin", "cedar", "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse",
                   "fable", "nova", "onyx"),
    "dictation.local_model": ("tiny.en", "tiny", "base.en", "base", "small.en", "small"),
}


def _label(key: str) -> str:
    return key.split(".", 1)[1].replace("_", " ").capitalize()


class SettingsPage(QWidget):
    hotkey_conflict = Signal(str)
    local_download_requested = Signal(str)  # the dictation.local_model value to download
    local_download_cancel_requested = Signal()

    def __init__(self, model: SettingsModel, keys: KeyController,
                 device_names: tuple[list[str], list[str]] = ([], []), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsPage")
        self._model = model
        self._keys = keys
        self._device_names = device_names
        self.editors: dict[str, QWidget] = {}
        self._updating = False

        outer = QVBoxLayout(self)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        outer.addWidget(scroll)
        body = QWidget()
        scroll.setWidget(body)
        layout = QVBoxLayout(body)
        layout.addWidget(self._build_key_box())
        self.engine_status = QLabel("")
        self.engine_status.setObjectName("engineStatus")
        self.engine_status.setWordWrap(True)
        self.engine_status.setAccessibleName("Engines in use")
        layout.addWidget(self.engine_status)
        self.status = QLabel("")
        self.status.setObjectName("settingsStatus")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Settings status")
        for section in SECTIONS:
            layout.addWidget(self._build_section(section))
        layout.addWidget(self.status)
        layout.addStretch(1)
        model.changed.connect(self._on_model_changed)
        keys.status_changed.connect(self._on_key_status)
        keys.test_finished.connect(self._on_test_finished)
        keys.error.connect(self._on_key_error)

    # ----- API key ---------------------------------------------------------------------------------
    def _build_key_box(self) -> QGroupBox:
        box = QGroupBox("API key")
        form = QFormLayout(box)
        self.key_state = QLabel("Checking the keyring…")
        self.key_state.setWordWrap(True)
        self.key_state.setObjectName("keyState")
        self.key_state.setAccessibleName("API key status")
        self.key_edit = QLineEdit()
        self.key_edit.setObjectName("apiKeyEdit")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("Paste a key (sk-…) to store it in the system keyring")
        self.key_edit.setAccessibleName("API key")
        row = QHBoxLayout()
        self.key_save = QPushButton("&Save key")
        self.key_clear = QPushButton("C&lear key")
        self.key_test = QPushButton("&Test connection")
        for button, name in ((self.key_save, "Save API key"), (self.key_clear, "Clear API key"),
                             (self.key_test, "Test connection")):
            button.setAccessibleName(name)
            row.addWidget(button)
        self.key_save.clicked.connect(self._save_key)
        self.key_clear.clicked.connect(self._keys.clear_key)
        self.key_test.clicked.connect(self._test)
        self.test_result = QLabel("")
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        self.test_result.setAccessibleName("Connection test result")
        form.addRow(self.key_state)
        form.addRow("Key:", self.key_edit)
        form.addRow(row)
        form.addRow(self.test_result)
        return box

    def _save_key(self) -> None:
        key = self.key_edit.text()
        self.key_edit.clear()  # the key does not linger in the widget
        if key.strip():
            self._keys.save_key(key)

    def _test(self) -> None:
        self.test_result.setText("Testing…")
        self._keys.test_connection()

    def _on_key_status(self, status: Any) -> None:
        self.key_state.setText(status.message)

    def _on_key_error(self, message: str) -> None:
        self.key_state.setText(message)

    def _on_test_finished(self, ok: bool, message: str) -> None:
        self.test_result.setText(("✓ " if ok else "✗ ") + message)

    # ----- generated editors ------------------------------------------------------------------------
    def _build_section(self, section: str) -> QGroupBox:
        box = QGroupBox(SECTION_TITLES.get(section, section.capitalize()))
        form = QFormLayout(box)
        for key in all_keys():
            if key.split(".", 1)[0] != section:
                continue
            editor = self._editor_for(key)
            editor.setObjectName(f"setting:{key}")
            spec = describe(key)
            editor.setToolTip(spec.help)
            editor.setAccessibleName(_label(key))
            editor.setAccessibleDescription(spec.help)
            for inner in editor.findChildren(QLineEdit):  # the line edit inside a key-capture widget
                inner.setAccessibleName(_label(key))
            self.editors[key] = editor
            label = QLabel(_label(key) + ":")
            label.setBuddy(editor)
            form.addRow(label, editor)
            if key == LOCAL_MODEL_KEY:
                form.addRow("", self._build_local_model_row())
                form.addRow("", self._build_local_download_row())
        return box

    # ----- local model: browse, download ----------------------------------------------------------
    def _build_local_model_row(self) -> QWidget:
        row_widget = QWidget()
        row = QHBoxLayout(row_widget)
        row.setContentsMargins(0, 0, 0, 0)
        self.local_browse = QPushButton("&Browse…")
        self.local_browse.setObjectName("localModelBrowse")
        self.local_browse.setAccessibleName("Choose an existing local model folder")
        self.local_browse.setToolTip("Use a faster-whisper (CTranslate2) model folder you already have: "
                                     "nothing is downloaded.")
        self.local_download = QPushButton("Do&wnload")
        self.local_download.setObjectName("localModelDownload")
        self.local_download.setAccessibleName("Download the local model")
        self.local_download.setToolTip("Download the chosen model now (once), instead of at the first local "
                                       "dictation.")
        row.addWidget(self.local_browse)
        row.addWidget(self.local_download)
        row.addStretch(1)
        self.local_browse.clicked.connect(self._browse_local_model)
        self.local_download.clicked.connect(self._request_download)
        return row_widget

    def _build_local_download_row(self) -> QWidget:
        row_widget = QWidget()
        column = QVBoxLayout(row_widget)
        column.setContentsMargins(0, 0, 0, 0)
        bar_row = QHBoxLayout()
        self.local_progress = QProgressBar()
        self.local_progress.setObjectName("localModelProgress")
        self.local_progress.setAccessibleName("Local model download progress")
        self.local_progress.setVisible(False)
        self.local_cancel = QPushButton("Cancel download")
        self.local_cancel.setObjectName("localModelCancel")
        self.local_cancel.setAccessibleName("Cancel the local model download")
        self.local_cancel.setVisible(False)
        self.local_cancel.clicked.connect(self.local_download_cancel_requested)
        bar_row.addWidget(self.local_progress, 1)
        bar_row.addWidget(self.local_cancel)
        self.local_state = QLabel("")
        self.local_state.setObjectName("localModelState")
        self.local_state.setWordWrap(True)
        self.local_state.setAccessibleName("Local model status")
        column.addLayout(bar_row)
        column.addWidget(self.local_state)
        return row_widget

    def set_local_models(self, labels: dict[str, str]) -> None:
        """Label each model name in the list (e.g. "base.en — 148 MB, English only"); the value saved stays
        the name. Names not in ``labels`` keep their bare name."""
        combo = self.editors[LOCAL_MODEL_KEY]
        assert isinstance(combo, QComboBox)
        self._updating = True
        try:
            names = [str(combo.itemData(i) or combo.itemText(i)) for i in range(combo.count())]
            for name in labels:
                if name not in names:
                    names.append(name)
            combo.clear()
            for name in names:
                combo.addItem(labels.get(name, name), name)
        finally:
            self._updating = False
        self._show_value(LOCAL_MODEL_KEY)

    def _local_model_value(self, combo: QComboBox) -> str:
        """The setting value behind the combo's text: a label maps back to its model name."""
        text = combo.currentText().strip()
        index = combo.findText(text)
        data = combo.itemData(index) if index >= 0 else None
        return str(data) if data else text

    def _browse_local_model(self) -> None:
        current = str(self._model.get(LOCAL_MODEL_KEY))
        start = current if ("/" in current or "\\" in current) else ""
        folder = QFileDialog.getExistingDirectory(self, "Choose a local model folder", start)
        if folder:
            self._commit(LOCAL_MODEL_KEY, folder)

    def _request_download(self) -> None:
        self.local_download_requested.emit(str(self._model.get(LOCAL_MODEL_KEY)))

    def local_download_started(self, text: str) -> None:
        self.local_progress.setRange(0, 0)  # busy until the sizes are known
        self.local_progress.setVisible(True)
        self.local_cancel.setVisible(True)
        self.local_cancel.setEnabled(True)
        self.local_download.setEnabled(False)
        self.local_state.setText(text)

    def local_download_progress(self, done: int, total: int) -> None:
        """Bytes done of total (kB are enough for the bar: a QProgressBar holds 32-bit values)."""
        if total > 0:
            self.local_progress.setRange(0, max(1, total // 1024))
            self.local_progress.setValue(min(done, total) // 1024)

    def local_download_finished(self, text: str) -> None:
        self.local_progress.setVisible(False)
        self.local_cancel.setVisible(False)
        self.local_download.setEnabled(True)
        self.local_state.setText(text)

    def set_local_model_state(self, text: str) -> None:
        """Whether the chosen local model is here, needs a download (and its size), or cannot be used."""
        if self.local_progress.isHidden():  # a download in progress owns the line
            self.local_state.setText(text)

    def _editor_for(self, key: str) -> QWidget:
        spec = describe(key)
        value = self._model.get(key)
        if key in HOTKEY_KEYS:
            edit = QKeySequenceEdit(QKeySequence(value))
            edit.setMaximumSequenceLength(1)
            edit.editingFinished.connect(lambda k=key, e=edit: self._commit(
                k, e.keySequence().toString(QKeySequence.SequenceFormat.PortableText)))
            return edit
        if spec.type is bool:
            box = QCheckBox()
            box.setChecked(bool(value))
            box.toggled.connect(lambda checked, k=key: self._commit(k, checked))
            return box
        if spec.choices:
            combo = QComboBox()
            combo.addItems(list(spec.choices))
            combo.setCurrentText(str(value))
            combo.currentTextChanged.connect(lambda text, k=key: self._commit(k, text))
            return combo
        if spec.type is int:
            spin = QSpinBox()
            spin.setRange(int(spec.minimum or 0), int(spec.maximum or 1_000_000))
            spin.setValue(int(value))
            spin.valueChanged.connect(lambda number, k=key: self._commit(k, number))
            return spin
        if spec.type is float:
            dspin = QDoubleSpinBox()
            dspin.setDecimals(2)
            dspin.setSingleStep(0.05)
            dspin.setRange(float(spec.minimum or 0), float(spec.maximum or 1e6))
            dspin.setValue(float(value))
            dspin.valueChanged.connect(lambda number, k=key: self._commit(k, number))
            return dspin
        suggestions = FREE_TEXT_SUGGESTIONS.get(key)
        if key == "audio.input_device":
            suggestions = ("", *self._device_names[0])
        elif key == "audio.output_device":
            suggestions = ("", *self._device_names[1])
        if suggestions:
            # Editable: model ids and voices are free text (servers differ; never a hard-coded enum).
            combo = QComboBox()
            combo.setEditable(True)
            for item in dict.fromkeys(suggestions):
                combo.addItem(item, item)
            combo.setCurrentText(str(value))
            line = combo.lineEdit()
            if key == LOCAL_MODEL_KEY:  # items may carry labels ("base.en — 148 MB, …"): save the name
                if line is not None:
                    line.editingFinished.connect(lambda k=key, c=combo: self._commit(k, self._local_model_value(c)))
                combo.activated.connect(lambda i, k=key, c=combo: self._commit(k, str(c.itemData(i) or c.itemText(i))))
                return combo
            if line is not None:
                line.editingFinished.connect(lambda k=key, c=combo: self._commit(k, c.currentText()))
            combo.activated.connect(lambda _i, k=key, c=combo: self._commit(k, c.currentText()))
            return combo
        line_edit = QLineEdit(str(value))
        line_edit.editingFinished.connect(lambda k=key, e=line_edit: self._commit(k, e.text()))
        return line_edit

    def _commit(self, key: str, value: Any) -> None:
        if self._updating:
            return
        try:
            self._model.set(key, value)
        except SettingsError as exc:
            self.status.setText(exc.user_message)
            self._show_value(key)
            return
        self.status.setText(f"Saved {key}.")

    def _on_model_changed(self, key: str) -> None:
        if key in self.editors:
            self._show_value(key)
        if key == "api.base_url":
            self._keys.refresh()

    def _show_value(self, key: str) -> None:
        editor = self.editors[key]
        value = self._model.get(key)
        self._updating = True
        try:
            if isinstance(editor, QKeySequenceEdit):
                editor.setKeySequence(QKeySequence(value))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QComboBox):
                index = editor.findData(str(value)) if key == LOCAL_MODEL_KEY else -1
                if index >= 0:
                    editor.setCurrentIndex(index)
                else:
                    editor.setCurrentText(str(value))
            elif isinstance(editor, QSpinBox):
                editor.setValue(int(value))
            elif isinstance(editor, QDoubleSpinBox):
                editor.setValue(float(value))
            elif isinstance(editor, QLineEdit):
                editor.setText(str(value))
        finally:
            self._updating = False

    def set_engine_status(self, text: str) -> None:
        """Which engines dictate and read right now, and why (computed by the app off the GUI thread)."""
        self.engine_status.setText(text)

    def focus_first(self) -> None:
        self.key_edit.setFocus(Qt.FocusReason.OtherFocusReason)

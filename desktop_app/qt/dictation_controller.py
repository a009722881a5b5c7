"""Qt side of dictation: hotkeys (via the bridge), worker tasks, a level-meter timer, and the service's
callbacks turned into GUI-thread signals. Implements ``AppController.DictationControl``.

The service does the work; this class only decides *when* (push-to-talk vs toggle, debounce, Esc grab) and
*where* (which thread). It never shows or raises a window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from desktop_app.core.errors import PlatformUnsupported, SaysoError
from desktop_app.core.history import HistoryEntry
from desktop_app.core.models import AppState
from desktop_app.core.ports import HotkeyBinding, HotkeyService
from desktop_app.qt.hotkey_bridge import HotkeyBridge, safe_emit
from desktop_app.qt.tasks import Task, TaskRunner
from desktop_app.services.dictation import DictationService

log = logging.getLogger(__name__)

DICTATE = "dictate"
CANCEL = "cancel"
CANCEL_KEY = "Escape"
DEBOUNCE_S = 0.15  # a second press this soon after the last one is key bounce, not intent
LEVEL_INTERVAL_MS = 50  # 20 Hz meter


class DictationController(QObject):
    """Create on the GUI thread; call ``set_service`` once, then ``register_hotkeys``."""

    state_changed = Signal(object, str)  # AppState, detail
    partial = Signal(str)
    level = Signal(float)
    notice = Signal(str, str, str)  # title, message, level
    history_changed = Signal()
    cue = Signal(str)  # "start", "stop", "cancel", "error" — played by whoever owns a Player
    finished = Signal(object)  # Outcome of each dictation

    # Listener callbacks may arrive on worker threads: hop to the GUI thread with queued signals.
    _q_state = Signal(object, str)
    _q_partial = Signal(str)
    _q_notice = Signal(str, str, str)
    _q_history = Signal()

    def __init__(self, tasks: TaskRunner, hotkeys: HotkeyService, mode: Callable[[], str],
                 hotkey: Callable[[], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._hotkeys = hotkeys
        self._mode = mode
        self._hotkey = hotkey
        self._service: DictationService | None = None
        self._bridge = HotkeyBridge(self)
        self._bridge.pressed.connect(self._on_hotkey_press)
        self._bridge.released.connect(self._on_hotkey_release)
        self._live: list[Task] = []
        self._last_press = 0.0
        self._hotkey_down = False
        self._escape_grabbed = False
        self._state = AppState.IDLE
        self._meter = QTimer(self)
        self._meter.setInterval(LEVEL_INTERVAL_MS)
        self._meter.timeout.connect(self._sample_level)
        # Signal-to-signal connections, not ``signal.emit`` as a slot: PySide6 drops a reference to the bool
        # that emit() returns on every call, and after enough calls the interpreter aborts at exit.
        self._q_state.connect(self._deliver_state, Qt.ConnectionType.QueuedConnection)
        self._q_partial.connect(self.partial, Qt.ConnectionType.QueuedConnection)
        self._q_notice.connect(self.notice, Qt.ConnectionType.QueuedConnection)
        self._q_history.connect(self.history_changed, Qt.ConnectionType.QueuedConnection)

    def set_service(self, service: DictationService) -> None:
        self._service = service

    @property
    def service(self) -> DictationService:
        assert self._service is not None, "set_service() first"
        return self._service

    # -- DictationListener (any thread) ----------------------------------------------------------------

    def on_state(self, state: AppState, detail: str) -> None:
        safe_emit(self._q_state, state, detail)

    def on_partial(self, text: str) -> None:
        safe_emit(self._q_partial, text)

    def on_notice(self, title: str, message: str, level: str) -> None:
        safe_emit(self._q_notice, title, message, level)

    def on_history_changed(self) -> None:
        safe_emit(self._q_history)

    # -- DictationControl (GUI thread: IPC, tray, window, hotkeys) --------------------------------------

    def start(self) -> str:
        if self.service.recording:
            return "Already recording."
        message = self.service.start()
        if self.service.recording:
            safe_emit(self.cue, "start")
            self._meter.start()
        return message

    def stop(self, *, from_release: bool = False) -> str:
        if not self.service.recording:
            return "Not recording."
        self._meter.stop()
        safe_emit(self.level, 0.0)
        recording = self.service.stop(short_press_cancels=from_release)
        if recording is None:
            safe_emit(self.cue, "cancel")
            return "Dictation cancelled (the key was released too soon)."
        safe_emit(self.cue, "stop")
        task = self._tasks.start("dictation", lambda token: self.service.process(recording, token))
        self._track(task)
        task.succeeded.connect(self.finished)
        task.failed.connect(self._task_failed)
        return "Transcribing."

    def toggle(self) -> str:
        return self.stop() if self.service.recording else self.start()

    def cancel(self) -> str:
        was_busy = self.service.busy
        self._meter.stop()
        safe_emit(self.level, 0.0)
        for task in list(self._live):
            task.cancel()
        message = self.service.cancel()
        if was_busy:
            safe_emit(self.cue, "cancel")
        return message

    def shutdown(self) -> None:
        self._meter.stop()
        if self.service.recording:
            self.service.cancel()
        self._ungrab_escape()
        try:
            self._hotkeys.unregister(DICTATE)
        except SaysoError:
            pass

    # -- history actions --------------------------------------------------------------------------------

    def retry(self, entry_id: int, model: str = "") -> Task:
        task = self._tasks.start("dictation-retry",
                                 lambda token: self.service.retry(entry_id, model or None, token))
        self._track(task)

        def done(entry: object) -> None:
            if isinstance(entry, HistoryEntry):
                safe_emit(self.notice, "History",
                          f"Entry {entry.entry_id} transcribed again with {entry.model}.", "info")

        task.succeeded.connect(done)
        task.failed.connect(lambda exc: safe_emit(self.notice,
            "Retry failed", exc.full_message() if isinstance(exc, SaysoError) else str(exc), "error"))
        return task

    # -- hotkeys ----------------------------------------------------------------------------------------

    def register_hotkeys(self) -> str:
        """(Re)grab the dictation hotkey for the current mode; returns "" or the problem (also told)."""
        sequence = self._hotkey()
        on_press, on_release = self._bridge.callbacks(DICTATE)
        push_to_talk = self._mode() == "push-to-talk"
        try:
            self._hotkeys.register(HotkeyBinding(DICTATE, sequence), on_press,
                                   on_release if push_to_talk else None)
        except PlatformUnsupported as exc:
            message = f"The dictation hotkey {sequence} is not active: {exc.full_message()}"
            safe_emit(self.notice, "Hotkey", message, "warning")
            return message
        if push_to_talk and not self._hotkeys.supports_release():
            safe_emit(self.notice, "Hotkey", f"This desktop does not report key releases, so {sequence} starts and "
                             "stops dictation with a tap (toggle mode).", "info")
        log.info("Dictation hotkey %s registered (%s, %s)", sequence, self._mode(), self._hotkeys.backend_name())
        return ""

    def _push_to_talk(self) -> bool:
        return self._mode() == "push-to-talk" and self._hotkeys.supports_release()

    @Slot(str)
    def _on_hotkey_press(self, name: str) -> None:
        if name == CANCEL:
            self.cancel()
            return
        if name != DICTATE:
            return
        now = time.monotonic()
        if self._push_to_talk():
            if self._hotkey_down:  # a second press without a release: ignore, one start has one stop
                return
            self._hotkey_down = True
            if not self.service.recording:
                self.start()
            return
        if now - self._last_press < DEBOUNCE_S:
            return
        self._last_press = now
        self.toggle()

    @Slot(str)
    def _on_hotkey_release(self, name: str) -> None:
        if name != DICTATE or not self._push_to_talk():
            return
        if not self._hotkey_down:
            return
        self._hotkey_down = False
        if self.service.recording:
            self.stop(from_release=True)

    def _grab_escape(self) -> None:
        if self._escape_grabbed:
            return
        on_press, _ = self._bridge.callbacks(CANCEL)
        try:
            self._hotkeys.register(HotkeyBinding(CANCEL, CANCEL_KEY), on_press, None)
            self._escape_grabbed = True
        except PlatformUnsupported as exc:
            log.info("Esc is not grabbed for cancel: %s", exc.user_message)

    def _ungrab_escape(self) -> None:
        if not self._escape_grabbed:
            return
        self._escape_grabbed = False
        try:
            self._hotkeys.unregister(CANCEL)
        except SaysoError as exc:
            log.info("Could not release Esc: %s", exc.user_message)

    # -- internals --------------------------------------------------------------------------------------

    @Slot(object, str)
    def _deliver_state(self, state: AppState, detail: str) -> None:
        self._state = state
        if state in (AppState.RECORDING, AppState.TRANSCRIBING):
            self._grab_escape()
        else:
            self._ungrab_escape()
            self._meter.stop()
        safe_emit(self.state_changed, state, detail)

    def _sample_level(self) -> None:
        safe_emit(self.level, self.service.level())

    def _track(self, task: Task) -> None:
        self._live.append(task)
        task.finished.connect(lambda: self._live.remove(task) if task in self._live else None)

    def _task_failed(self, exc: object) -> None:
        log.error("Dictation task failed unexpectedly: %r", exc)
        message = exc.full_message() if isinstance(exc, SaysoError) else f"Unexpected error: {exc}"
        safe_emit(self.notice, "Dictation", message, "error")

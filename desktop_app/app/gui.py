"""The shell: profile, logging, single instance, settings, key, window, tray, platform; then the features."""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from desktop_app import APP_ID, APP_NAME, __version__
from desktop_app.app.shared import build_credentials, connection_tester
from desktop_app.core.models import AppState
from desktop_app.storage.profile import resolve_profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuiOptions:
    profile_dir: str | None = None
    minimized: bool = False
    verbose: bool = False


def run_gui(options: GuiOptions) -> int:
    started = time.perf_counter()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.app.context import AppContext
    from desktop_app.app.features import FEATURES
    from desktop_app.platform.factory import create_platform
    from desktop_app.qt import pyside_emit_fix
    from desktop_app.qt.app_controller import AppController
    from desktop_app.qt.ipc import InstanceLock, IpcServer, Reply, socket_name
    from desktop_app.qt.key_controller import KeyController
    from desktop_app.qt.settings_model import SettingsModel
    from desktop_app.qt.tasks import TaskRunner
    from desktop_app.storage.logs import setup_logging
    from desktop_app.storage.settings_store import SettingsStore
    from desktop_app.ui.dictate_page import DictatePage
    from desktop_app.ui.history_page import HistoryPage
    from desktop_app.ui.icons import app_icon
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.read_page import ReadPage
    from desktop_app.ui.settings_page import FREE_TEXT_SUGGESTIONS, SettingsPage
    from desktop_app.ui.theme import apply_system_theme
    from desktop_app.ui.tray import Tray

    profile = resolve_profile(options.profile_dir).ensure()
    setup_logging(profile.log_dir, verbose=options.verbose)
    log.info("Sayso %s starting (profile %s)", __version__, profile.config_dir)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    pyside_emit_fix.install()  # PySide6 6.12.0 aborts after a few hundred emits without it (see the module)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(app_icon())
    apply_system_theme(app)

    controller = AppController()
    name = socket_name(profile.key)
    instance_lock = InstanceLock(str(profile.config_dir / "sayso.lock"))
    if not instance_lock.acquire():
        return _raise_running_instance(name)
    ipc = IpcServer(name, controller.handle_command)
    ipc.listen()

    first_run = not profile.settings_file.exists()
    store = SettingsStore(profile.settings_file)
    settings = SettingsModel(store.load(), store.save, store.load)
    tasks = TaskRunner()
    credentials = build_credentials(profile)
    keys = KeyController(credentials, settings, tasks, connection_tester())

    s = settings.settings
    dictate_page = DictatePage()
    read_page = ReadPage(list(FREE_TEXT_SUGGESTIONS["read.voice"]), s.read.voice, s.read.speed)
    history_page = HistoryPage()
    settings_page = SettingsPage(settings, keys)
    window = MainWindow({"dictate": dictate_page, "read": read_page, "history": history_page,
                         "settings": settings_page})
    dictate_page.set_hotkey_hint(
        f"Hold {s.dictation.hotkey} and speak; release to insert the text where you were typing. "
        f"Select text anywhere and press {s.read.hotkey} to hear it.")

    platform_services = create_platform(autostart_command())

    tray = Tray()
    tray_ok = Tray.available()
    window.keep_running_in_tray = tray_ok
    if tray_ok:
        tray.show()
    else:
        window.show_notice(
            "No system tray was found on this desktop, so Sayso has no tray icon. The window stays available "
            "(closing it minimises it), and `sayso` or the global hotkeys reach Sayso at any time. "
            "On GNOME, install the AppIndicator extension to get the tray icon.", "warning")
        log.warning("No system tray available")

    def on_state(state: AppState, detail: str) -> None:
        tray.set_state(state, detail)
        window.set_state(state, detail)
        dictate_page.set_state(state, detail)

    def on_notice(title: str, message: str, level: str) -> None:
        if tray_ok and not window.isVisible():
            tray.notify(title, message, level)
        window.show_notice(f"{title}: {message}" if title else message, level)

    controller.state_changed.connect(on_state)
    controller.notice.connect(on_notice)
    controller.show_window_requested.connect(window.bring_to_front)
    controller.settings_reload_requested.connect(settings.reload)
    settings.save_failed.connect(lambda message: on_notice("Settings", message, "error"))
    tray.open_requested.connect(lambda: window.bring_to_front(""))
    tray.settings_requested.connect(lambda: window.bring_to_front("settings"))
    def request_quit() -> None:
        # Qt 6 asks every window to close before quitting; the window must not turn that into "hide".
        # (and a tray menu that was shown once can veto QApplication.quit(); exit() ends the loop outright).
        window.quitting = True
        app.exit(0)

    tray.quit_requested.connect(request_quit)
    tray.dictate_requested.connect(lambda: controller.handle_command("dictate", {"action": "toggle"}))
    tray.read_requested.connect(lambda: controller.handle_command("read", {"source": "selection"}))
    tray.stop_requested.connect(controller.stop_all)
    controller.quit_requested.connect(lambda: QTimer.singleShot(0, request_quit))

    base_handle = controller.handle_command

    def handle_with_ui(command: str, args: dict[str, Any]) -> Reply:
        if command == "status":
            reply = base_handle(command, args)
            geometry = tray.icon.geometry()
            data = dict(reply.data or {})
            data.update({
                "tray": tray_ok and tray.icon.isVisible(),
                "tray_geometry": [geometry.x(), geometry.y(), geometry.width(), geometry.height()],
                "tray_menu_visible": tray.menu.isVisible(),
                "window_visible": window.isVisible(),
                "page": window.current_page(),
                "profile": str(profile.config_dir),
                "pid": os.getpid(),
            })
            return Reply(True, reply.message, data)
        return base_handle(command, args)

    ipc.set_handler(handle_with_ui)

    ctx = AppContext(app=app, profile=profile, controller=controller, settings=settings, tasks=tasks,
                     credentials=credentials, platform=platform_services, window=window, tray=tray,
                     dictate_page=dictate_page, read_page=read_page, history_page=history_page)
    for wire in FEATURES:
        wire(ctx)

    if options.minimized or s.ui.start_minimized:
        if not tray_ok:
            window.showMinimized()
    else:
        window.show()
    def refresh_engine_status(*_args: Any) -> None:
        # Only for a visible Settings page: the status needs the offline-engine and HTTP modules (~13 MB that
        # an app idling in the tray never needs) and may touch the network. Showing the page refreshes it.
        if not settings_page.isVisible():
            return
        task = tasks.start("engine-status", lambda _token: engine_status_text(settings.settings, credentials))
        task.succeeded.connect(settings_page.set_engine_status)

    call_when_shown(settings_page, refresh_engine_status)

    keys.status_changed.connect(refresh_engine_status)
    settings.changed.connect(lambda key: refresh_engine_status() if key.split(".")[0] in ("api", "dictation", "read")
                             else None)

    def welcome_without_key(status: Any) -> None:
        keys.status_changed.disconnect(welcome_without_key)
        if not status.has_key:  # never a dead end: say how to add a key, or how to go offline
            controller.tell("Welcome to Sayso", welcome_text(settings.settings, profile), "info")

    keys.status_changed.connect(welcome_without_key)
    if first_run:
        from desktop_app.diagnostics import first_run_permissions_text

        permissions = first_run_permissions_text()  # macOS: microphone, accessibility and automation grants
        if permissions:
            controller.tell("Permissions", permissions, "info")
    keys.refresh()

    def shutdown() -> None:
        log.info("Shutting down")
        controller.shutdown()
        ipc.close()
        tray.hide()
        for stop in reversed(ctx.on_shutdown):
            stop()
        if not tasks.shutdown():
            log.error("Some worker threads did not stop in time")
        platform_services.close()
        instance_lock.release()

    app.aboutToQuit.connect(shutdown)
    QTimer.singleShot(0, lambda: log.info("Ready in %.0f ms (tray: %s)",
                                          (time.perf_counter() - started) * 1000, tray_ok))
    code = app.exec()
    log.info("Exited with %s", code)
    if tasks.running():
        # A worker stuck in a blocking call (a hung D-Bus or device) would make Qt abort while tearing down
        # its thread; everything the user owns is already saved, so leave without the teardown.
        log.error("Leaving with %d worker thread(s) still blocked: %s", len(tasks.running()),
                  ", ".join(task.name for task in tasks.running()))
        logging.shutdown()
        os._exit(int(code))
    return int(code)


def _raise_running_instance(name: str) -> int:
    """A second start shows the running window and exits 0."""
    from desktop_app.qt.ipc import IpcClientError, send_command

    try:
        send_command(name, "show")
    except IpcClientError as exc:
        print(f"{APP_NAME} is already running for this profile but does not answer ({exc}).", file=sys.stderr)
        return 1
    print(f"{APP_NAME} is already running; its window was brought to the front.")
    return 0


def autostart_command() -> list[str]:
    """How the OS should start Sayso at login (the autostart adapters add --minimized themselves)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "desktop_app"]


def welcome_text(settings: Any, profile: Any) -> str:
    """The first-start text without a key: paste a key, or go offline (with the download size). Only the small
    catalogue and message modules are loaded here, at start."""
    from desktop_app.providers.local_models import INSTALL_HINT, faster_whisper_available, local_model_status
    from desktop_app.services.engine_choice import first_start_message

    return first_start_message(local_model_status(settings.dictation.local_model, profile.models_dir),
                               faster_whisper_available(), INSTALL_HINT)


def call_when_shown(widget: Any, action: Any) -> None:
    """Run ``action()`` every time ``widget`` becomes visible (a page switched to, the window shown)."""
    from PySide6.QtCore import QEvent, QObject

    class ShowWatcher(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Show:
                action()
            return False

    widget.installEventFilter(ShowWatcher(widget))


def engine_status_text(settings: Any, credentials: Any) -> str:
    """Settings page line: which engine dictates and which reads, each with its reason (may touch the network)."""
    from desktop_app.app import offline, realtime_speech

    dictation = offline.choose_engine(settings, credentials)
    has_key = credentials.status(settings).has_key
    read_engine, read_reason = realtime_speech.status(settings, has_key)
    return f"Dictation: {dictation.engine} — {dictation.reason}\nRead aloud: {read_engine} — {read_reason}"

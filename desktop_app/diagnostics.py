"""`sayso doctor` and `sayso --self-test`: what works on this machine, in words a user can paste into a
bug report. Never prints the key (only where it comes from, masked)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import platform
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from desktop_app import APP_NAME, __version__


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True  # a failed optional check (no tray) is reported as a warning, not a broken install



def _os() -> str:
    """"linux", "windows", "macos" or "other" — asked of the platform factory, the one place that knows."""
    from desktop_app.platform.factory import detect_session

    return detect_session().os

def _try(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, True, probe())
    except Exception as exc:
        from desktop_app.core.errors import SaysoError
        from desktop_app.core.redact import redact

        text = exc.full_message() if isinstance(exc, SaysoError) else f"{type(exc).__name__}: {exc}"
        return Check(name, False, redact(text))


def _display() -> str:
    session = os.environ.get("XDG_SESSION_TYPE", "")
    parts = []
    if os.environ.get("WAYLAND_DISPLAY"):
        parts.append(f"Wayland ({os.environ['WAYLAND_DISPLAY']})")
    if os.environ.get("DISPLAY"):
        parts.append(f"X11 ({os.environ['DISPLAY']})")
    if not parts and _os() == "linux":
        raise RuntimeError("no display: neither DISPLAY nor WAYLAND_DISPLAY is set")
    return ", ".join(parts or [_os()]) + (f"; session type {session}" if session else "")


def _qt_and_tray() -> str:
    from PySide6 import __version__ as pyside_version
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    app = QApplication.instance() or QApplication(sys.argv[:1])
    tray = QSystemTrayIcon.isSystemTrayAvailable()
    platform_name = app.platformName() if isinstance(app, QApplication) else "?"
    return (f"PySide6 {pyside_version}, platform plugin {platform_name}; system tray "
            f"{'available' if tray else 'NOT available (the window stays reachable; on GNOME add AppIndicator)'}")


def _audio() -> str:
    from desktop_app.audio.devices import list_input_devices, list_output_devices

    inputs = ", ".join(f"{d.name}{' (default)' if d.is_default_input else ''}" for d in list_input_devices())
    outputs = ", ".join(f"{d.name}{' (default)' if d.is_default_output else ''}" for d in list_output_devices())
    if not inputs:
        raise RuntimeError(f"no microphone found; outputs: {outputs or 'none'}")
    return f"inputs: {inputs}; outputs: {outputs or 'none'}"


def _keyring() -> str:
    from desktop_app.storage.secret_store import KeyringSecretStore

    store = KeyringSecretStore()
    store.get("sayso-doctor-probe")  # a live round trip to the backend; raises with the fix when unusable
    return f"{store.backend_name()} (answers)"


def _key_and_api(profile_dir: str | None) -> str:
    from desktop_app.app import build_credentials
    from desktop_app.storage.profile import resolve_profile
    from desktop_app.storage.settings_store import SettingsStore

    profile = resolve_profile(profile_dir)
    settings = SettingsStore(profile.settings_file).load()
    credentials = build_credentials(profile)
    status = credentials.status(settings)
    return f"base URL {credentials.base_url(settings)}; {status.message}"


def _platform_backends() -> str:
    from desktop_app.platform.factory import describe

    return "; ".join(describe().lines())


def _profile(profile_dir: str | None) -> str:
    from desktop_app.storage.profile import resolve_profile

    profile = resolve_profile(profile_dir)
    return f"settings {profile.settings_file}; data {profile.data_dir}; logs {profile.log_dir}"


def _local_engine(profile_dir: str | None) -> str:
    from desktop_app.app.offline import describe_local_engine
    from desktop_app.storage.profile import resolve_profile
    from desktop_app.storage.settings_store import SettingsStore

    profile = resolve_profile(profile_dir)
    return describe_local_engine(SettingsStore(profile.settings_file).load(), profile)


def collect(profile_dir: str | None) -> list[Check]:
    return [
        Check("version", True, f"{APP_NAME} {__version__}, Python {platform.python_version()}, "
                               f"{platform.system()} {platform.release()}"),
        _try("profile", lambda: _profile(profile_dir)),
        _try("display", _display),
        _try("qt", _qt_and_tray),
        _try("hotkeys/insertion", _platform_backends),
        _try("audio", _audio),
        _try("keyring", _keyring),
        _try("api", lambda: _key_and_api(profile_dir)),
        _try("local engine", lambda: _local_engine(profile_dir)),
    ]


def _label(check: Check) -> str:
    return "ok  " if check.ok else "FAIL" if check.required else "warn"


def _print(checks: list[Check]) -> None:
    width = max(len(check.name) for check in checks)
    for check in checks:
        print(f"{_label(check)} {check.name:<{width}}  {check.detail}")


def doctor(profile_dir: str | None) -> int:
    checks = collect(profile_dir)
    _print(checks)
    return 0 if all(check.ok for check in checks) else 1


# ----- self-test: is this installation complete? -------------------------------------------------------
_OS_PACKAGES = ("linux", "windows", "macos")


def _other_os_package(module: str) -> bool:
    """desktop_app.platform.<os> of another OS may need that OS's libraries; its import is not checked."""
    parts = module.split(".")
    return len(parts) > 2 and parts[1] == "platform" and parts[2] in _OS_PACKAGES and parts[2] != _os()


def app_modules() -> list[str]:
    """Every module of the app (also inside a frozen bundle, whose importer lists its modules too)."""
    import desktop_app

    names = ["desktop_app"]
    for info in pkgutil.walk_packages(desktop_app.__path__, "desktop_app."):
        if not info.name.endswith("__main__"):  # importing __main__ would run the app
            names.append(info.name)
    return sorted(names)


def _import_all(modules: Iterable[str]) -> str:
    imported, skipped, failures = 0, 0, []
    for name in modules:
        if _other_os_package(name):
            skipped += 1
            continue
        try:
            importlib.import_module(name)
            imported += 1
        except Exception as exc:  # ImportError, OSError from a missing shared library, …
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    if failures:
        raise RuntimeError(f"{len(failures)} of {imported + len(failures)} modules do not import: "
                           + "; ".join(failures))
    return f"{imported} modules import" + (f" ({skipped} of other systems not checked)" if skipped else "")


def _audio_devices(profile_dir: str | None) -> list[Check]:
    """Open and close the configured microphone and speaker, both at once (a stream can take ~2 s to start)."""
    from desktop_app.audio.capture import MicCapture
    from desktop_app.audio.playback import Player
    from desktop_app.storage.profile import resolve_profile
    from desktop_app.storage.settings_store import SettingsStore

    try:
        audio = SettingsStore(resolve_profile(profile_dir).settings_file).load().audio
        wanted = {"microphone": audio.input_device, "speaker": audio.output_device}
    except Exception:  # unreadable settings are the profile check's business; test the defaults
        wanted = {"microphone": "", "speaker": ""}
    results: dict[str, Check] = {}

    def probe(kind: str, stream: MicCapture | Player) -> None:
        def run() -> str:
            try:
                stream.open(wanted[kind])
                if not stream.wait_ready(8.0):
                    raise RuntimeError(f"the {kind} {stream.device_name!r} opened but delivered no audio in 8 s")
                warning = f" ({stream.device_warning})" if stream.device_warning else ""
                return f"{stream.device_name or 'default'} opens, runs and closes{warning}"
            finally:
                stream.close()

        results[kind] = _try(kind, run)

    threads = [threading.Thread(target=probe, args=("microphone", MicCapture()), daemon=True),
               threading.Thread(target=probe, args=("speaker", Player()), daemon=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20.0)
    return [results.get(kind, Check(kind, False, "the audio device did not answer within 20 s"))
            for kind in ("microphone", "speaker")]


def _platform_plugin_name(app_platform: str | None = None) -> str:
    explicit = app_platform or os.environ.get("QT_QPA_PLATFORM", "")
    if explicit:
        return explicit.split(":")[0].split(";")[0]
    if _os() == "windows":
        return "windows"
    if _os() == "macos":
        return "cocoa"
    return "wayland" if os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY") else "xcb"


def _qt_platform_plugin() -> str:
    """Find and load the Qt platform plugin *before* QApplication does: a plugin that cannot load makes Qt
    abort the whole process, so name the missing system library here (a report beats a core dump)."""
    import ctypes

    from PySide6.QtCore import QLibraryInfo

    name = _platform_plugin_name()
    folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    candidates = sorted(folder.glob(f"*q{name}.*")) if folder.is_dir() else []
    if not candidates:
        raise RuntimeError(f"the Qt platform plugin {name!r} is missing from {folder}")
    if _os() == "linux":
        try:
            ctypes.CDLL(str(candidates[0]))
        except OSError as exc:  # e.g. "libxcb-cursor.so.0: cannot open shared object file"
            raise RuntimeError(f"the Qt platform plugin {name!r} cannot load: {exc}. Install the missing "
                               "library (Debian/Ubuntu: the package named after it, e.g. libxcb-cursor0)") from exc
    return f"{name} ({candidates[0].name})"


def _qt_application() -> str:
    from PySide6 import __version__ as pyside_version
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    platform_name = app.platformName() if isinstance(app, QApplication) else "?"
    return f"PySide6 {pyside_version}; QApplication runs on the {platform_name!r} platform"


def _tray() -> str:
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    if QApplication.instance() is None:
        raise RuntimeError("no QApplication (see the qt check)")
    if not QSystemTrayIcon.isSystemTrayAvailable():
        raise RuntimeError("no system tray on this desktop: Sayso keeps its window reachable instead "
                           "(on GNOME, the AppIndicator extension adds a tray)")
    return "a system tray is available"


def _self_test_checks(profile_dir: str | None) -> Iterable[Check]:
    """In the order a broken bundle would fail; yielded one by one so a crash still leaves a report."""
    yield Check("version", True, f"{APP_NAME} {__version__}, Python {platform.python_version()}, "
                                 f"{platform.system()} {platform.release()}"
                                 + (" (frozen)" if getattr(sys, "frozen", False) else ""))
    yield _try("modules", lambda: _import_all(app_modules()))
    yield _try("profile", lambda: _profile(profile_dir))
    display = _try("display", _display)
    yield display
    yield _try("qt platform plugin", _qt_platform_plugin)
    # Without a display Qt would abort the process instead of raising: report it instead.
    qt = _try("qt", _qt_application) if display.ok else Check("qt", False, "not started: no display")
    yield qt
    tray = _try("tray", _tray) if qt.ok else Check("tray", False, "not checked: Qt did not start")
    tray.required = False
    yield tray
    yield _try("hotkeys/insertion", _platform_backends)
    yield from _audio_devices(profile_dir)
    yield _try("keyring", _keyring)


def self_test(profile_dir: str | None) -> int:
    """Checks that this installation is complete: every module imports (nothing missing from a bundle), the
    microphone and speaker open and close, the keyring answers, Qt's platform plugin loads and a
    QApplication starts, a tray exists (a warning only). No API key needed. Exit 0 when all required checks
    pass, else 1."""
    print(f"{APP_NAME} self-test", flush=True)
    checks: list[Check] = []
    for check in _self_test_checks(profile_dir):
        checks.append(check)
        print(f"{_label(check)} {check.name:<18}  {check.detail}", flush=True)
    failed = [check.name for check in checks if check.required and not check.ok]
    print(f"self-test {'FAILED: ' + ', '.join(failed) if failed else 'passed'}", flush=True)
    return 1 if failed else 0


# ----- macOS first run -----------------------------------------------------------------------------------
# What macOS really asks for: the hotkeys are a CGEventTap and the text goes in as CGEventPost keystrokes
# (Cmd+V, Cmd+C to read a selection), both governed by Accessibility; some macOS versions list the key
# listening under Input Monitoring as well. No Apple events are sent, so no "control System Events" prompt.
MACOS_PERMISSIONS_TEXT = (
    "Sayso needs two permissions on macOS.\n\n"
    "Microphone: macOS asks the first time you dictate. If you said no, open System Settings → Privacy & "
    "Security → Microphone and switch Sayso on.\n\n"
    "Accessibility: to hear the global hotkeys and to type the text into other apps (Sayso presses the keys "
    "for you), open System Settings → Privacy & Security → Accessibility, click +, choose Sayso in "
    "Applications and switch it on. If Sayso also appears under Privacy & Security → Input Monitoring, switch "
    "it on there too. Then quit and reopen Sayso (macOS applies these permissions at start)."
)


def first_run_permissions_text() -> str | None:
    """What the UI shows at the first start on macOS (None elsewhere: nothing to grant)."""
    return MACOS_PERMISSIONS_TEXT if _os() == "macos" else None

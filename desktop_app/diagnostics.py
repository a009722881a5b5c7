"""`sayso doctor` and `sayso --self-test`: what works on this machine, in words a user can paste into a
bug report. Never prints the key (only where it comes from, masked)."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass

from desktop_app import APP_NAME, __version__


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


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
    if not parts and sys.platform.startswith("linux"):
        raise RuntimeError("no display: neither DISPLAY nor WAYLAND_DISPLAY is set")
    return ", ".join(parts or [sys.platform]) + (f"; session type {session}" if session else "")


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
    ]


def _print(checks: list[Check]) -> None:
    width = max(len(check.name) for check in checks)
    for check in checks:
        print(f"{'ok ' if check.ok else 'FAIL'} {check.name:<{width}}  {check.detail}")


def doctor(profile_dir: str | None) -> int:
    checks = collect(profile_dir)
    _print(checks)
    return 0 if all(check.ok for check in checks) else 1


def self_test(profile_dir: str | None) -> int:
    """Like doctor, plus importing every backend module; exit 1 when anything a user needs is broken."""
    checks = collect(profile_dir)
    checks = [c for c in checks if c.name != "api"]  # a missing key is not a broken install
    _print(checks)
    return 0 if all(check.ok for check in checks) else 1

"""Autostart on each OS: the Linux entry for real on disk; Windows and macOS with the OS edge faked."""

from __future__ import annotations

import configparser
import plistlib
import shlex
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from desktop_app.app import autostart as autostart_wiring
from desktop_app.app.context import AppContext
from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.settings import Settings
from desktop_app.platform.linux.autostart import XdgAutostart, exec_line, login_command
from desktop_app.platform.macos.autostart import LaunchAgentAutostart
from desktop_app.platform.windows.autostart import RUN_KEY, WindowsRunKeyAutostart
from tests.support.desktop import wait_for


def test_xdg_entry_is_written_valid_and_removed(tmp_path: Path) -> None:
    auto = XdgAutostart(["/opt/sayso/sayso-gui"], env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert not auto.is_enabled()
    auto.set_enabled(True)
    path = tmp_path / "autostart" / "sayso.desktop"
    assert auto.is_enabled() and path.is_file()
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(path)
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Exec"] == "/opt/sayso/sayso-gui --minimized"
    assert section["TryExec"] == "/opt/sayso/sayso-gui"
    assert section["Name"] == "Sayso"
    # desktop-file-validate: Debian package desktop-file-utils
    validate = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True,
                              timeout=30)
    assert validate.returncode == 0 and not validate.stdout.strip(), validate.stdout
    auto.set_enabled(False)
    assert not path.exists() and not auto.is_enabled()
    auto.set_enabled(False)  # idempotent


def _gio() -> str:
    gio = shutil.which("gio")
    assert gio, "gio is missing: apt-get install libglib2.0-bin"
    return gio


def test_desktops_skip_the_entry_once_its_program_is_gone(tmp_path: Path) -> None:
    """In practice, with GLib's desktop-entry loader (what GNOME's session runs autostart entries with): the
    entry runs while its program exists and is refused once the program was uninstalled. GLib checks the
    Exec program as well as TryExec; TryExec is what the desktop entry spec gives every desktop (the test
    above checks it names the program)."""
    program = tmp_path / "opt" / "sayso"
    program.parent.mkdir()
    marker = tmp_path / "started"
    program.write_text(f"#!/bin/sh\necho \"$@\" > {shlex.quote(str(marker))}\n")
    program.chmod(0o755)
    auto = XdgAutostart([str(program)], env={"XDG_CONFIG_HOME": str(tmp_path / "config")})
    auto.set_enabled(True)

    installed = subprocess.run([_gio(), "launch", str(auto.path)], capture_output=True, text=True, timeout=30)
    assert installed.returncode == 0, installed.stderr
    wait_for(lambda: marker.is_file() and marker.read_text().strip() != "", 10, "the entry's program to run")
    assert marker.read_text().strip() == "--minimized"

    program.unlink()  # what `dpkg -r` does to /opt/sayso/sayso; the user's entry stays
    removed = subprocess.run([_gio(), "launch", str(auto.path)], capture_output=True, text=True, timeout=30)
    assert removed.returncode != 0 and "Unable to load" in removed.stderr, removed.stderr


def test_tryexec_keeps_awkward_paths_as_plain_strings(tmp_path: Path) -> None:
    auto = XdgAutostart(["/home/a b/100%/sayso\\x"], env={"XDG_CONFIG_HOME": str(tmp_path)})
    auto.set_enabled(True)
    line = next(line for line in auto.path.read_text().splitlines() if line.startswith("TryExec="))
    assert line == "TryExec=/home/a b/100%/sayso\\\\x"  # a string value: only the backslash is escaped


def test_appimage_login_item_starts_the_appimage_file_not_its_mount(tmp_path: Path) -> None:
    mount = "/tmp/.mount_SaysoAbC123"
    env = {"XDG_CONFIG_HOME": str(tmp_path), "APPIMAGE": "/home/me/Apps/Sayso-1.0-x86_64.AppImage",
           "APPDIR": mount}
    assert login_command([f"{mount}/usr/sayso/sayso"], env) == ["/home/me/Apps/Sayso-1.0-x86_64.AppImage"]
    auto = XdgAutostart([f"{mount}/usr/sayso/sayso"], env=env)
    auto.set_enabled(True)
    text = auto.path.read_text()
    assert "Exec=/home/me/Apps/Sayso-1.0-x86_64.AppImage --minimized\n" in text
    assert "TryExec=/home/me/Apps/Sayso-1.0-x86_64.AppImage\n" in text
    assert mount not in text


@pytest.mark.parametrize("env", [
    {},  # not an AppImage
    {"APPIMAGE": "/home/me/Other.AppImage", "APPDIR": "/tmp/.mount_OtherXyz"},  # inherited from another one
    {"APPIMAGE": "/home/me/Sayso.AppImage"},  # no mount named: nothing proves the command is inside it
])
def test_other_installations_keep_their_own_command(env: dict[str, str]) -> None:
    assert login_command(["/opt/sayso/sayso"], env) == ["/opt/sayso/sayso"]
    assert login_command(["/usr/bin/python3", "-m", "desktop_app"], env) == ["/usr/bin/python3", "-m",
                                                                             "desktop_app"]


def test_xdg_falls_back_to_home_config(tmp_path: Path) -> None:
    auto = XdgAutostart(["sayso"], env={"HOME": str(tmp_path)})
    auto.set_enabled(True)
    assert (tmp_path / ".config" / "autostart" / "sayso.desktop").is_file()


def test_exec_quoting_of_awkward_paths() -> None:
    line = exec_line(["/home/a b/.venv/bin/python", "-m", "desktop_app", "100%", 'say "hi"'])
    # Undo the desktop-entry string escaping, then the Exec quoting is shell-like.
    unescaped = line.replace("\\\\", "\\")
    assert shlex.split(unescaped.replace("%%", "%")) == [
        "/home/a b/.venv/bin/python", "-m", "desktop_app", "100%", 'say "hi"']


def test_xdg_hidden_entry_counts_as_disabled(tmp_path: Path) -> None:
    auto = XdgAutostart(["sayso"], env={"XDG_CONFIG_HOME": str(tmp_path)})
    auto.set_enabled(True)
    auto.path.write_text(auto.path.read_text() + "Hidden=true\n")
    assert not auto.is_enabled()


class FakeWinreg:
    """Just the winreg calls the adapter makes, recording what would reach the registry."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_READ, KEY_SET_VALUE, REG_SZ = 1, 2, 1

    def __init__(self) -> None:
        self.values: dict[tuple[str, str, str], tuple[int, str]] = {}
        self.opened: list[tuple[str, str, int]] = []

    class _Key:
        def __init__(self, root: str, path: str) -> None:
            self.root, self.path = root, path

        def __enter__(self) -> FakeWinreg._Key:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def OpenKey(self, root: str, path: str, reserved: int, access: int) -> _Key:
        self.opened.append((root, path, access))
        return self._Key(root, path)

    def CreateKeyEx(self, root: str, path: str, reserved: int, access: int) -> _Key:
        self.opened.append((root, path, access))
        return self._Key(root, path)

    def QueryValueEx(self, key: _Key, name: str) -> tuple[str, int]:
        try:
            kind, value = self.values[(key.root, key.path, name)]
        except KeyError:
            raise FileNotFoundError(name) from None
        return value, kind

    def SetValueEx(self, key: _Key, name: str, reserved: int, kind: int, value: str) -> None:
        self.values[(key.root, key.path, name)] = (kind, value)

    def DeleteValue(self, key: _Key, name: str) -> None:
        if self.values.pop((key.root, key.path, name), None) is None:
            raise FileNotFoundError(name)


def test_windows_run_key_value_is_exactly_the_quoted_command() -> None:
    reg: Any = FakeWinreg()
    auto = WindowsRunKeyAutostart([r"C:\Program Files\Sayso\Sayso.exe"], winreg=reg)
    assert not auto.is_enabled()
    auto.set_enabled(True)
    assert reg.values == {("HKCU", RUN_KEY, "Sayso"): (reg.REG_SZ,
                                                       '"C:\\Program Files\\Sayso\\Sayso.exe" --minimized')}
    assert auto.is_enabled()
    auto.set_enabled(False)
    assert reg.values == {}
    auto.set_enabled(False)  # deleting a missing value is fine
    assert not auto.is_enabled()


def test_macos_launch_agent_plist(tmp_path: Path) -> None:
    auto = LaunchAgentAutostart(["/Applications/Sayso.app/Contents/MacOS/Sayso"], home=tmp_path)
    auto.set_enabled(True)
    path = tmp_path / "Library" / "LaunchAgents" / "app.sayso.Sayso.plist"
    assert auto.is_enabled()
    assert plistlib.loads(path.read_bytes()) == {
        "Label": "app.sayso.Sayso",
        "ProgramArguments": ["/Applications/Sayso.app/Contents/MacOS/Sayso", "--minimized"],
        "RunAtLoad": True, "KeepAlive": False, "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }
    auto.set_enabled(False)
    assert not path.exists()


@pytest.mark.parametrize("enabled", [True, False])
def test_set_enabled_twice_is_stable(tmp_path: Path, enabled: bool) -> None:
    auto = XdgAutostart(["sayso"], env={"XDG_CONFIG_HOME": str(tmp_path)})
    auto.set_enabled(enabled)
    auto.set_enabled(enabled)
    assert auto.is_enabled() is enabled


# ----- app/autostart.py: the setting and the login item ---------------------------------------------------
class Notices:
    def __init__(self) -> None:
        self.told: list[tuple[str, str, str]] = []

    def tell(self, title: str, text: str, level: str) -> None:
        self.told.append((title, text, level))


class BrokenAutostart:
    """A login item the OS refuses to read or write (a locked-down registry, a read-only home)."""

    def is_enabled(self) -> bool:
        raise PlatformUnsupported("the startup items cannot be read")

    def set_enabled(self, enabled: bool) -> None:
        raise OSError(30, "Read-only file system")


def _context(autostart: Any, *, setting: bool) -> tuple[AppContext, list[Settings], Notices]:
    from desktop_app.qt.settings_model import SettingsModel

    saved: list[Settings] = []
    initial = Settings()
    initial.set(autostart_wiring.SETTING, setting)
    model = SettingsModel(initial, saved.append)
    notices = Notices()
    ctx = SimpleNamespace(settings=model, controller=notices, platform=SimpleNamespace(autostart=autostart))
    return cast(AppContext, ctx), saved, notices


def _entry(tmp_path: Path, command: str) -> XdgAutostart:
    return XdgAutostart([command], env={"XDG_CONFIG_HOME": str(tmp_path)})


def test_at_start_the_setting_adopts_a_login_item_made_outside_the_app(tmp_path: Path) -> None:
    """E.g. the Windows installer's "start at login" task, or an older installation's entry: the setting
    turns on (and is saved), and the item is rewritten to start this installation."""
    _entry(tmp_path, "/old/place/sayso").set_enabled(True)
    current = _entry(tmp_path, "/opt/sayso/sayso")
    ctx, saved, notices = _context(current, setting=False)
    autostart_wiring.wire(ctx)
    assert ctx.settings.get("ui.autostart") is True
    assert [s.get("ui.autostart") for s in saved] == [True]
    assert "Exec=/opt/sayso/sayso --minimized" in current.path.read_text()
    assert notices.told == []


def test_at_start_the_setting_adopts_a_login_item_removed_outside_the_app(tmp_path: Path) -> None:
    """The user switched Sayso off in the desktop's startup settings: the app does not bring it back."""
    current = _entry(tmp_path, "/opt/sayso/sayso")
    ctx, saved, _ = _context(current, setting=True)
    autostart_wiring.wire(ctx)
    assert ctx.settings.get("ui.autostart") is False
    assert [s.get("ui.autostart") for s in saved] == [False]
    assert not current.path.exists()


def test_after_start_the_login_item_follows_the_setting(tmp_path: Path) -> None:
    current = _entry(tmp_path, "/opt/sayso/sayso")
    ctx, _, _ = _context(current, setting=False)
    autostart_wiring.wire(ctx)
    assert not current.path.exists()
    ctx.settings.set("ui.autostart", True)
    assert current.is_enabled()
    ctx.settings.set("ui.autostart", False)
    assert not current.path.exists()


def test_an_enabled_item_that_agrees_is_rewritten_for_this_installation(tmp_path: Path) -> None:
    _entry(tmp_path, "/old/place/sayso").set_enabled(True)
    current = _entry(tmp_path, "/opt/sayso/sayso")
    ctx, saved, _ = _context(current, setting=True)
    autostart_wiring.wire(ctx)
    assert saved == []  # nothing to adopt
    assert "Exec=/opt/sayso/sayso --minimized" in current.path.read_text()


def test_an_unreadable_or_unwritable_login_item_is_a_notice_not_a_crash() -> None:
    ctx, saved, notices = _context(BrokenAutostart(), setting=True)
    autostart_wiring.wire(ctx)  # cannot read: the setting is kept as it is, and applied (which fails)
    assert ctx.settings.get("ui.autostart") is True and saved == []
    assert len(notices.told) == 1
    title, text, level = notices.told[0]
    assert title == "Start at login" and level == "warning"
    assert "Could not turn on starting Sayso at login" in text and "Read-only file system" in text

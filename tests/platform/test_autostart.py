"""Autostart on each OS: the Linux entry for real on disk; Windows and macOS with the OS edge faked."""

from __future__ import annotations

import configparser
import plistlib
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from desktop_app.platform.linux.autostart import XdgAutostart, exec_line
from desktop_app.platform.macos.autostart import LaunchAgentAutostart
from desktop_app.platform.windows.autostart import RUN_KEY, WindowsRunKeyAutostart


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
    assert section["Name"] == "Sayso"
    # desktop-file-validate: Debian package desktop-file-utils
    validate = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True,
                              timeout=30)
    assert validate.returncode == 0 and not validate.stdout.strip(), validate.stdout
    auto.set_enabled(False)
    assert not path.exists() and not auto.is_enabled()
    auto.set_enabled(False)  # idempotent


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

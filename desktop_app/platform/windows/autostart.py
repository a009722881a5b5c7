"""Start at login on Windows: a value in HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Sequence
from typing import Any

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE_NAME = "Sayso"


def _winreg() -> Any:
    import winreg  # only exists on Windows: imported when used

    return winreg


class WindowsRunKeyAutostart:
    def __init__(self, command: Sequence[str], winreg: Any = None) -> None:
        self._command = list(command)
        self._reg = winreg

    @property
    def reg(self) -> Any:
        if self._reg is None:
            self._reg = _winreg()
        return self._reg

    def command_line(self) -> str:
        return subprocess.list2cmdline([*self._command, "--minimized"])

    def is_enabled(self) -> bool:
        reg = self.reg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_READ) as key:
                value, _kind = reg.QueryValueEx(key, VALUE_NAME)
        except FileNotFoundError:
            return False
        return bool(value)

    def set_enabled(self, enabled: bool) -> None:
        reg = self.reg
        with reg.CreateKeyEx(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE) as key:
            if enabled:
                reg.SetValueEx(key, VALUE_NAME, 0, reg.REG_SZ, self.command_line())
                return
            with contextlib.suppress(FileNotFoundError):
                reg.DeleteValue(key, VALUE_NAME)

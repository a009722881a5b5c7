"""Start at login on Linux desktops: an XDG autostart entry ($XDG_CONFIG_HOME/autostart/sayso.desktop).

The entry is the user's and outlives the package (`dpkg -r` never touches home directories), so it names its
program in ``TryExec``: once Sayso is uninstalled, desktops skip the entry instead of failing to start a
missing /opt/sayso/sayso at every login."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

ENTRY_NAME = "sayso.desktop"
_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def autostart_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", str(Path.home()))) / ".config")
    return Path(base) / "autostart"


def exec_line(command: Sequence[str]) -> str:
    """Quote for the desktop entry Exec key (arguments with reserved characters in double quotes)."""
    parts = []
    for arg in command:
        arg = arg.replace("%", "%%")
        if arg and not (_EXEC_RESERVED & set(arg)):
            parts.append(arg)
            continue
        inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        parts.append(f'"{inner}"')
    # The whole value is a desktop-entry string, where a backslash itself is written as "\\".
    return " ".join(parts).replace("\\", "\\\\")


def _string_value(text: str) -> str:
    """A desktop-entry string value (TryExec is one: no Exec quoting, only the string escapes)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def login_command(command: Sequence[str], env: Mapping[str, str] | None = None) -> list[str]:
    """What the login item should run. An AppImage runs from a temporary mount ($APPDIR, e.g.
    /tmp/.mount_SaysoXXXX) that is gone once it exits: the login item must start the AppImage file itself,
    which its runtime names in $APPIMAGE. Only when the command really lives inside that mount: a child
    process of some other AppImage inherits both variables too."""
    env = os.environ if env is None else env
    appimage, appdir = env.get("APPIMAGE", ""), env.get("APPDIR", "")
    if appimage and appdir and command and _is_inside(command[0], appdir):
        return [appimage, *command[1:]]
    return list(command)


def _is_inside(path: str, folder: str) -> bool:
    return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(folder))


def desktop_entry(command: Sequence[str]) -> str:
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=Sayso",
        "Comment=Speak instead of typing, listen instead of reading",
        # Desktops skip an entry whose TryExec is missing or not executable (Sayso was uninstalled).
        f"TryExec={_string_value(command[0])}",
        f"Exec={exec_line([*command, '--minimized'])}",
        "Icon=sayso",
        "Terminal=false",
        "Categories=Utility;Accessibility;",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


class XdgAutostart:
    """Autostart for freedesktop sessions (GNOME, KDE, Xfce, …)."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self._command = login_command(command, env)
        self.path = autostart_dir(env) / ENTRY_NAME

    def is_enabled(self) -> bool:
        if not self.path.is_file():
            return False
        lines = {line.strip().lower() for line in self.path.read_text(encoding="utf-8").splitlines()}
        return "hidden=true" not in lines and "x-gnome-autostart-enabled=false" not in lines

    def set_enabled(self, enabled: bool) -> None:
        if not enabled:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(desktop_entry(self._command), encoding="utf-8")
        tmp.replace(self.path)

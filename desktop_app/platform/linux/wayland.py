"""Wayland sessions: what can be done without the X server's global grabs.

- Hotkeys: the XDG GlobalShortcuts portal exists on GNOME 48+ and KDE, but it is not wired up yet (it needs
  a D-Bus session with a request/response dance); until then the user binds `sayso dictate toggle` in the
  desktop's shortcut settings, and ``describe`` says whether the portal is there.
- Insertion: `wtype` (wlroots compositors; it fails on GNOME/KDE) or `ydotool` (needs its daemon) type the
  text; otherwise the text goes to the clipboard (`wl-copy`) with a "press Ctrl+V" notice.
- Selection: `wl-paste --primary` where the compositor supports primary selection.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.ports import FocusTarget, InsertResult, TypingSession

log = logging.getLogger(__name__)
Runner = Callable[[Sequence[str], bytes | None], "subprocess.CompletedProcess[bytes]"]
COPIED_MESSAGE = "Copied — press Ctrl+V"
TOOL_TIMEOUT = 10.0


def run_tool(argv: Sequence[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    # wl-copy forks a child that serves the clipboard and keeps inherited pipes open: give it none.
    serves_clipboard = argv[0].endswith("wl-copy")
    output = subprocess.DEVNULL if serves_clipboard else subprocess.PIPE
    return subprocess.run(list(argv), input=stdin, stdout=output, stderr=output, timeout=TOOL_TIMEOUT,
                          check=False)


@dataclass(frozen=True)
class WaylandTools:
    wtype: str | None
    ydotool: str | None
    wl_copy: str | None
    wl_paste: str | None

    @classmethod
    def find(cls, which: Callable[[str], str | None] = shutil.which) -> WaylandTools:
        return cls(which("wtype"), which("ydotool"), which("wl-copy"), which("wl-paste"))

    @property
    def typer(self) -> str | None:
        return self.wtype or self.ydotool


def global_shortcuts_portal_version(runner: Runner = run_tool) -> int:
    """The GlobalShortcuts portal version on the session bus (0 = absent); asks via `dbus-send`."""
    if shutil.which("dbus-send") is None:
        return 0
    try:
        done = runner(["dbus-send", "--session", "--print-reply=literal", "--reply-timeout=1000",
                       "--dest=org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop",
                       "org.freedesktop.DBus.Properties.Get", "string:org.freedesktop.portal.GlobalShortcuts",
                       "string:version"], None)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    if done.returncode != 0:
        return 0
    words = done.stdout.decode(errors="replace").split()
    return int(words[-1]) if words and words[-1].isdigit() else 0


class WaylandTextInserter:
    """Types with wtype/ydotool when they work here, else leaves the text on the clipboard and says so."""

    def __init__(self, tools: WaylandTools | None = None, runner: Runner = run_tool) -> None:
        self._tools = tools or WaylandTools.find()
        self._run = runner

    def backend_name(self) -> str:
        typer = self._tools.typer
        return f"Wayland {typer.rsplit('/', 1)[-1]}" if typer else "Wayland clipboard only"

    def focused_target(self) -> FocusTarget:
        return FocusTarget()  # Wayland does not tell clients which window has focus

    def insert(self, text: str, target: FocusTarget, method: str) -> InsertResult:
        if method not in ("paste", "type", "clipboard"):
            raise PlatformUnsupported(f"Unknown insertion method “{method}”.")
        if method != "clipboard" and text and self._type(text):
            return InsertResult(delivered=True, left_on_clipboard=False)
        self._copy(text)
        message = COPIED_MESSAGE
        if method == "clipboard":
            message = "Copied to the clipboard — press Ctrl+V to paste."
        return InsertResult(delivered=False, left_on_clipboard=True, message=message)

    def start_typing(self, target: FocusTarget) -> TypingSession | None:
        """No live typing: a wtype/ydotool process per delta (and per BackSpace burst) would lag behind the
        stream and cannot check where the focus is; the final text is typed in one go instead."""
        return None

    def _type(self, text: str) -> bool:
        tools = self._tools
        if tools.wtype:
            argv = [tools.wtype, "--", text]
        elif tools.ydotool:
            argv = [tools.ydotool, "type", "--", text]
        else:
            return False
        try:
            done = self._run(argv, None)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.info("Typing tool failed: %s", exc)
            return False
        if done.returncode != 0:
            log.info("%s failed (%d): %s", argv[0], done.returncode, done.stderr[:200])
        return done.returncode == 0

    def _copy(self, text: str) -> None:
        if not self._tools.wl_copy:
            raise PlatformUnsupported("Cannot reach the clipboard on this Wayland desktop.",
                                      hint="Install wl-clipboard (the wl-copy command).")
        done = self._run([self._tools.wl_copy, "--type", "text/plain;charset=utf-8"], text.encode("utf-8"))
        if done.returncode != 0:
            raise PlatformUnsupported("Copying to the clipboard failed (wl-copy).")


class WaylandPrimarySelectionReader:
    def __init__(self, tools: WaylandTools | None = None, runner: Runner = run_tool) -> None:
        self._tools = tools or WaylandTools.find()
        self._run = runner

    def read_selection(self) -> str | None:
        if not self._tools.wl_paste:
            raise PlatformUnsupported("Cannot read the selection on this Wayland desktop.",
                                      hint="Install wl-clipboard, or copy the text and use “Read clipboard”.")
        done = self._run([self._tools.wl_paste, "--primary", "--no-newline", "--type", "text"], None)
        if done.returncode != 0:
            return None  # nothing selected (or no primary selection support)
        text = done.stdout.decode("utf-8", errors="replace")
        return text or None

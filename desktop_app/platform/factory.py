"""The one place that asks which OS and which display server we run on, and picks the adapters.

OS modules are imported lazily, so importing this (or any platform module) never loads a DLL, a
framework or an X connection. ``describe()`` is what `sayso doctor` prints.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.ports import Autostart, HotkeyService, SelectionReader, TextInserter
from desktop_app.platform.null import (
    WAYLAND_HOTKEY_HINT,
    NullAutostart,
    NullHotkeyService,
    NullSelectionReader,
    NullTextInserter,
)

NO_DISPLAY_REASON = "No graphical session was found (neither DISPLAY nor WAYLAND_DISPLAY is set)."
WAYLAND_HOTKEY_REASON = "Global hotkeys cannot be grabbed on Wayland."


@dataclass(frozen=True)
class SessionInfo:
    os: str  # "linux", "windows", "macos", "other"
    display_server: str  # "x11", "wayland", "windows", "macos", "none"
    display: str = ""
    wayland_display: str = ""
    desktop: str = ""  # XDG_CURRENT_DESKTOP, e.g. "GNOME"


def detect_session(env: Mapping[str, str] | None = None, platform: str | None = None) -> SessionInfo:
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if platform.startswith("win"):
        return SessionInfo("windows", "windows")
    if platform == "darwin":
        return SessionInfo("macos", "macos")
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return SessionInfo("other", "none")
    display = env.get("DISPLAY", "")
    wayland = env.get("WAYLAND_DISPLAY", "")
    session_type = env.get("XDG_SESSION_TYPE", "").lower()
    desktop = env.get("XDG_CURRENT_DESKTOP", "")
    # On Wayland, DISPLAY usually points at XWayland, whose grabs only see keys typed into X windows.
    if session_type == "wayland" or (wayland and session_type != "x11"):
        server = "wayland"
    elif display:
        server = "x11"
    else:
        server = "none"
    return SessionInfo("linux", server, display, wayland, desktop)


@dataclass
class PlatformServices:
    session: SessionInfo
    hotkeys: HotkeyService
    inserter: TextInserter
    selection: SelectionReader
    autostart: Autostart
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for closer in self._closers:
            with contextlib.suppress(Exception):
                closer()
        self._closers.clear()


def create_platform(autostart_command: Sequence[str], env: Mapping[str, str] | None = None,
                    platform: str | None = None) -> PlatformServices:
    """The adapters for this session; anything unavailable is a Null* that explains itself."""
    session = detect_session(env, platform)
    if session.os == "windows":
        return _windows(session, autostart_command)
    if session.os == "macos":
        return _macos(session, autostart_command)
    if session.os == "linux":
        from desktop_app.platform.linux.autostart import XdgAutostart

        autostart: Autostart = XdgAutostart(autostart_command, env)
        if session.display_server == "x11":
            return _x11(session, autostart)
        if session.display_server == "wayland":
            return _wayland(session, autostart)
        return PlatformServices(session, NullHotkeyService(NO_DISPLAY_REASON, hint=""),
                                NullTextInserter(NO_DISPLAY_REASON), NullSelectionReader(NO_DISPLAY_REASON),
                                autostart)
    name = sys.platform if platform is None else platform
    reason = f"Sayso does not support this operating system ({name})."
    return PlatformServices(session, NullHotkeyService(reason, hint=""), NullTextInserter(reason),
                            NullSelectionReader(reason), NullAutostart(reason))


def _x11(session: SessionInfo, autostart: Autostart) -> PlatformServices:
    from desktop_app.platform.linux.x11_hotkeys import X11HotkeyService
    from desktop_app.platform.linux.x11_insert import X11TextInserter
    from desktop_app.platform.linux.x11_selection import X11PrimarySelectionReader

    inserter = X11TextInserter(session.display)
    closers: list[Callable[[], None]] = [inserter.close]
    hotkeys: HotkeyService
    try:
        x11_hotkeys = X11HotkeyService(session.display)
        closers.insert(0, x11_hotkeys.close)
        hotkeys = x11_hotkeys
    except PlatformUnsupported as exc:
        hotkeys = NullHotkeyService(exc.user_message, hint=exc.hint)
    selection = X11PrimarySelectionReader(session.display, inserter.selection_owner)
    return PlatformServices(session, hotkeys, inserter, selection, autostart, closers)


def _wayland(session: SessionInfo, autostart: Autostart) -> PlatformServices:
    from desktop_app.platform.linux.wayland import WaylandPrimarySelectionReader, WaylandTextInserter

    hotkeys = NullHotkeyService(WAYLAND_HOTKEY_REASON, hint=WAYLAND_HOTKEY_HINT)
    return PlatformServices(session, hotkeys, WaylandTextInserter(), WaylandPrimarySelectionReader(),
                            autostart)


def _windows(session: SessionInfo, autostart_command: Sequence[str]) -> PlatformServices:
    from desktop_app.platform.windows.autostart import WindowsRunKeyAutostart
    from desktop_app.platform.windows.hotkeys import WindowsHotkeyService
    from desktop_app.platform.windows.insert import WindowsCopySelectionReader, WindowsTextInserter

    hotkeys = WindowsHotkeyService()
    inserter = WindowsTextInserter()
    return PlatformServices(session, hotkeys, inserter, WindowsCopySelectionReader(inserter),
                            WindowsRunKeyAutostart(autostart_command), [hotkeys.close])


def _macos(session: SessionInfo, autostart_command: Sequence[str]) -> PlatformServices:
    from desktop_app.platform.macos.autostart import LaunchAgentAutostart
    from desktop_app.platform.macos.hotkeys import MacHotkeyService
    from desktop_app.platform.macos.insert import MacCopySelectionReader, MacTextInserter

    hotkeys = MacHotkeyService()
    inserter = MacTextInserter()
    return PlatformServices(session, hotkeys, inserter, MacCopySelectionReader(inserter),
                            LaunchAgentAutostart(autostart_command), [hotkeys.close])


# --- doctor ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlatformReport:
    display_server: str
    hotkey_backend: str
    insertion_backend: str
    selection_backend: str
    push_to_talk: bool  # key release events are delivered
    missing: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        lines = [
            f"Display server: {self.display_server}",
            f"Global hotkeys: {self.hotkey_backend}",
            f"Push-to-talk (key release): {'yes' if self.push_to_talk else 'no — use toggle mode'}",
            f"Text insertion: {self.insertion_backend}",
            f"Selection reading: {self.selection_backend}",
        ]
        lines += [f"Missing: {item}" for item in self.missing]
        return lines


def describe(env: Mapping[str, str] | None = None, platform: str | None = None) -> PlatformReport:
    """What works on this session and what does not (and why), without grabbing anything."""
    session = detect_session(env, platform)
    if session.display_server == "x11":
        return _describe_x11(session)
    if session.display_server == "wayland":
        return _describe_wayland(session)
    if session.os == "windows":
        return PlatformReport("Windows", "RegisterHotKey + keyboard hook", "SendInput (Unicode) / clipboard",
                              "copy shortcut (Ctrl+C)", push_to_talk=True)
    if session.os == "macos":
        from desktop_app.platform.macos.hotkeys import accessibility_trusted

        missing: tuple[str, ...] = ()
        if accessibility_trusted() is False:
            missing = ("Accessibility permission: System Settings → Privacy & Security → Accessibility → "
                       "enable Sayso (needed for hotkeys and pasting).",)
        return PlatformReport("macOS", "CGEventTap", "CGEvent Cmd+V / clipboard", "copy shortcut (Cmd+C)",
                              push_to_talk=True, missing=missing)
    return PlatformReport("none", "none", "none", "none", push_to_talk=False, missing=(NO_DISPLAY_REASON,))


def _describe_x11(session: SessionInfo) -> PlatformReport:
    missing: list[str] = []
    try:
        from Xlib import display as xdisplay

        d = xdisplay.Display(session.display)
        extensions = {name: d.query_extension(name).present for name in ("XTEST", "XKEYBOARD")}
        d.close()
    except ImportError:
        missing.append("python-xlib is not installed: pip install python-xlib")
        extensions = {}
    except Exception as exc:  # any connection failure is reported, not raised
        missing.append(f"Cannot connect to the X display {session.display}: {exc}")
        extensions = {}
    if extensions and not extensions.get("XTEST"):
        missing.append("The XTEST extension is missing: pasting and typing are off (text is copied instead).")
    if extensions and not extensions.get("XKEYBOARD"):
        missing.append("The XKEYBOARD extension is missing: a held hotkey may repeat.")
    connected = bool(extensions)
    return PlatformReport(
        f"X11 ({session.display})",
        "X11 XGrabKey" if connected else "none",
        "clipboard paste (Ctrl+V, Ctrl+Shift+V in terminals) or XTest typing" if connected else "none",
        "PRIMARY selection" if connected else "none",
        push_to_talk=connected, missing=tuple(missing))


def _describe_wayland(session: SessionInfo) -> PlatformReport:
    from desktop_app.platform.linux.wayland import WaylandTools, global_shortcuts_portal_version

    tools = WaylandTools.find()
    missing = [f"{WAYLAND_HOTKEY_REASON} {WAYLAND_HOTKEY_HINT} Push-to-talk needs key release, so use toggle "
               "mode."]
    portal = global_shortcuts_portal_version()
    if portal:
        missing.append(f"The GlobalShortcuts portal (version {portal}) is offered by this desktop, but Sayso "
                       "does not use it yet.")
    if not tools.typer:
        missing.append("No typing tool: install wtype (wlroots desktops) or ydotool; until then text is "
                       "copied and you press Ctrl+V.")
    if not tools.wl_copy:
        missing.append("wl-clipboard is not installed (wl-copy/wl-paste): install it for clipboard and "
                       "selection access.")
    typer = "wtype" if tools.wtype else ("ydotool" if tools.ydotool else "")
    return PlatformReport(
        f"Wayland ({session.desktop or session.wayland_display or 'unknown compositor'})",
        "none — bind `sayso dictate toggle` in the desktop's shortcuts"
        + (f" (portal v{portal} present)" if portal else ""),
        f"{typer} typing, clipboard as fallback" if typer else "clipboard + notice",
        "wl-paste --primary" if tools.wl_paste else "none",
        push_to_talk=False, missing=tuple(missing))

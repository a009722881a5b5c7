"""Text insertion on X11: paste (clipboard + Ctrl+V, confirmed, clipboard restored), type (XTest), copy only.

Paste keeps every format of the user's clipboard, puts the text on it, re-activates the window that had
focus when dictation began, sends Ctrl+V (Ctrl+Shift+V in terminals) and waits until *that* application
has fetched the text from us. Only then is the old clipboard put back — and only if nobody copied something
else in between. Without confirmation the text stays on the clipboard and the user is told to paste.

Type mode streams: ``start_typing`` gives a session that types each delta (XTest Unicode typing) and takes
back its own characters with BackSpace when the final text differs.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from Xlib import X, Xatom, error
from Xlib.protocol import event as xevent

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.ports import FocusTarget, InsertResult
from desktop_app.platform.linux.x11_common import open_display, wait_events
from desktop_app.platform.linux.x11_keyboard import XTestKeyboard
from desktop_app.platform.linux.x11_selection_transfer import (
    SelectionOwner,
    SelectionReader,
    text_formats,
)

log = logging.getLogger(__name__)

TERMINAL_CLASSES = frozenset({
    "xterm", "uxterm", "gnome-terminal", "gnome-terminal-server", "org.gnome.terminal", "org.gnome.console",
    "kgx", "konsole", "org.kde.konsole", "kitty", "alacritty", "terminator", "tilix", "com.gexperts.tilix",
    "wezterm", "org.wezfurlong.wezterm", "foot", "footclient", "xfce4-terminal", "urxvt", "rxvt",
    "rxvt-unicode", "st", "st-256color", "lxterminal", "qterminal", "mate-terminal", "sakura", "terminology",
    "guake", "tilda", "yakuake", "cool-retro-term", "eterm", "aterm", "roxterm", "terminix", "ghostty",
    "com.mitchellh.ghostty", "blackbox", "com.raggesilver.blackbox", "deepin-terminal", "hyper", "tabby",
    "contour", "rio", "warp",
})
COPIED_MESSAGE = "Copied — press Ctrl+V"
PASTE_CONFIRM_TIMEOUT = 3.0
ACTIVATE_TIMEOUT = 0.5


def is_terminal_class(*names: str) -> bool:
    return any(name.lower() in TERMINAL_CLASSES for name in names if name)


class X11TextInserter:
    """TextInserter for X11. Thread-safe: inserts are serialised, any thread may call."""

    def __init__(self, display_name: str | None = None, *, owner: SelectionOwner | None = None,
                 confirm_timeout: float = PASTE_CONFIRM_TIMEOUT) -> None:
        self._display_name = display_name
        self._owner = owner or SelectionOwner(display_name)
        self._owns_owner = owner is None
        self._reader = SelectionReader(display_name, self._owner)
        self._keyboard = XTestKeyboard(display_name)
        self._confirm_timeout = confirm_timeout
        self._lock = threading.Lock()

    def backend_name(self) -> str:
        return "X11 XTest + clipboard"

    def close(self) -> None:
        self._keyboard.close()
        if self._owns_owner:
            self._owner.close()

    @property
    def selection_owner(self) -> SelectionOwner:
        return self._owner

    # --- focus ---------------------------------------------------------------------------------------

    def focused_target(self) -> FocusTarget:
        d = open_display(self._display_name)
        try:
            window = _active_window(d)
            if window is None:
                return FocusTarget()
            client = _client_window(d, window)
            instance, klass = _wm_class(client)
            return FocusTarget(window_id=int(client.id), app_name=klass or instance,
                               is_terminal=is_terminal_class(instance, klass))
        except error.XError as exc:
            log.info("Could not read the focused window: %s", exc)
            return FocusTarget()
        finally:
            d.close()

    def activate(self, target: FocusTarget) -> bool:
        """Give keyboard focus back to ``target``; False when the window is gone or refuses."""
        if not target.window_id:
            return True  # nothing remembered: type into whatever has focus now
        d = open_display(self._display_name)
        try:
            return _activate(d, target.window_id)
        except error.XError as exc:
            log.info("Could not activate window %#x: %s", target.window_id, exc)
            return False
        finally:
            d.close()

    # --- insertion -----------------------------------------------------------------------------------

    def insert(self, text: str, target: FocusTarget, method: str) -> InsertResult:
        if method not in ("paste", "type", "clipboard"):
            raise PlatformUnsupported(f"Unknown insertion method “{method}”.")
        with self._lock:
            if method == "clipboard" or not text:
                return self._copy_only(text, "Copied to the clipboard — press Ctrl+V to paste.")
            if not self.activate(target):
                return self._copy_only(text, f"The window you dictated into is gone. {COPIED_MESSAGE}.")
            if method == "type":
                self._keyboard.type_text(text)
                return InsertResult(delivered=True, left_on_clipboard=False)
            return self._paste(text, target)

    def start_typing(self, target: FocusTarget) -> X11TypingSession:
        return X11TypingSession(self, target)

    def copy_to_clipboard(self, text: str) -> None:
        self._owner.offer("CLIPBOARD", text_formats(text))

    def _copy_only(self, text: str, message: str) -> InsertResult:
        if text:
            self._owner.offer("CLIPBOARD", text_formats(text))
        return InsertResult(delivered=False, left_on_clipboard=bool(text), message=message if text else "")

    def _paste(self, text: str, target: FocusTarget) -> InsertResult:
        saved = self._reader.snapshot("CLIPBOARD")
        watch = self._owner.offer("CLIPBOARD", text_formats(text))
        sent_at = time.monotonic()
        keys = ("Control_L", "Shift_L", "v") if target.is_terminal else ("Control_L", "v")
        self._keyboard.send_shortcut(*keys)
        if not watch.wait_delivered(self._confirm_timeout, since=sent_at, client_of=target.window_id):
            if watch.lost.is_set():  # someone copied something else meanwhile: theirs wins
                return InsertResult(delivered=False, left_on_clipboard=False,
                                    message="The clipboard changed before the paste; nothing was restored.")
            log.info("Paste into %s not confirmed within %.1f s", target.app_name or "?",
                     self._confirm_timeout)
            return InsertResult(delivered=False, left_on_clipboard=True, message=COPIED_MESSAGE)
        if watch.lost.is_set():
            return InsertResult(delivered=True, left_on_clipboard=False)
        if saved.empty:
            self._owner.release("CLIPBOARD")
        else:
            self._owner.offer("CLIPBOARD", saved.formats)
        return InsertResult(delivered=True, left_on_clipboard=False)


class X11TypingSession:
    """Live typing into one window (TypingSession). Focus is checked before every burst of keys, so a
    window the user switched to never receives them; ``refocus`` activates the target first."""

    def __init__(self, inserter: X11TextInserter, target: FocusTarget) -> None:
        self._inserter = inserter
        self._target = target
        self._display: Any | None = None  # own connection for the focus checks (opened on first use)

    def type(self, text: str, *, refocus: bool = False) -> bool:
        with self._inserter._lock:
            if not self._target_has_focus(refocus):
                return False
            self._inserter._keyboard.type_text(text)
            return True

    def erase(self, count: int, *, refocus: bool = False) -> bool:
        if count <= 0:
            return True
        with self._inserter._lock:
            if not self._target_has_focus(refocus):
                return False
            self._inserter._keyboard.press_key("BackSpace", count)
            return True

    def close(self) -> None:
        if self._display is not None:
            self._display.close()
            self._display = None

    def _target_has_focus(self, refocus: bool) -> bool:
        if not self._target.window_id:
            return True  # nothing remembered: type into whatever has focus (as ``insert`` does)
        if refocus:
            return self._inserter.activate(self._target)
        if self._display is None:
            self._display = open_display(self._inserter._display_name)
        try:
            return _focused_client_id(self._display) == self._target.window_id
        except error.XError as exc:  # e.g. the target closed between two deltas
            log.info("Focus check failed: %s", exc)
            return False


# --- window helpers --------------------------------------------------------------------------------------

def _active_window(d: Any) -> Any | None:
    root = d.screen().root
    prop = root.get_full_property(d.intern_atom("_NET_ACTIVE_WINDOW"), Xatom.WINDOW)
    if prop is not None and len(prop.value) and prop.value[0]:
        return d.create_resource_object("window", int(prop.value[0]))
    focus = d.get_input_focus().focus
    if isinstance(focus, int) or focus in (X.NONE, X.PointerRoot) or focus == root:
        return None
    return focus


def _client_window(d: Any, window: Any) -> Any:
    """The focus may sit on a child; walk up to the top-level that carries WM_CLASS."""
    root = d.screen().root
    current = window
    while current is not None and current != root:
        if current.get_wm_class():
            return current
        parent = current.query_tree().parent
        if not parent or parent == root:
            break
        current = parent
    return window


def _wm_class(window: Any) -> tuple[str, str]:
    wm_class = window.get_wm_class()
    if not wm_class:
        return "", ""
    return str(wm_class[0]), str(wm_class[1])


def _focused_client_id(d: Any) -> int:
    window = _active_window(d)
    return int(_client_window(d, window).id) if window is not None else 0


def _activate(d: Any, window_id: int) -> bool:
    window = d.create_resource_object("window", window_id)
    window.get_attributes()  # raises BadWindow when the target was closed
    if _focused_client_id(d) == window_id:
        return True
    root = d.screen().root
    net_active = d.intern_atom("_NET_ACTIVE_WINDOW")
    supported = root.get_full_property(d.intern_atom("_NET_SUPPORTED"), Xatom.ATOM)
    if supported is not None and net_active in supported.value:
        # EWMH: ask the window manager (source 2 = pager-like, so focus-stealing prevention lets it pass).
        root.change_attributes(event_mask=X.PropertyChangeMask)
        message = xevent.ClientMessage(window=window, client_type=net_active,
                                       data=(32, [2, X.CurrentTime, 0, 0, 0]))
        root.send_event(message, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
        d.flush()
        for _ in wait_events(d, ACTIVATE_TIMEOUT,
                             lambda e: e.type == X.PropertyNotify and e.atom == net_active):
            if _focused_client_id(d) == window_id:
                return True
        return _focused_client_id(d) == window_id
    window.set_input_focus(X.RevertToParent, X.CurrentTime)
    window.configure(stack_mode=X.Above)
    d.sync()
    return _focused_client_id(d) == window_id

"""Global hotkeys on a real X server, driven by xdotool (XTest) like a user's keyboard."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from Xlib import XK, X, display

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.ports import HotkeyBinding
from desktop_app.platform.linux.x11_hotkeys import X11HotkeyService
from tests.platform.support import xdotool

pytestmark = pytest.mark.desktop


class Recorder:
    """Counts callbacks; wait() blocks on an event until a count is reached (no sleeping)."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._changed = threading.Condition()

    def press(self) -> None:
        self._add("press")

    def release(self) -> None:
        self._add("release")

    def _add(self, what: str) -> None:
        with self._changed:
            self.events.append(what)
            self._changed.notify_all()

    def wait(self, count: int, timeout: float = 5.0) -> list[str]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.events) >= count, timeout), self.events
            return list(self.events)


@pytest.fixture
def hotkeys(x_display: str) -> Iterator[X11HotkeyService]:
    service = X11HotkeyService(x_display)
    yield service
    service.close()


def test_tap_fires_press_then_release(hotkeys: X11HotkeyService) -> None:
    rec = Recorder()
    hotkeys.register(HotkeyBinding("dictate", "Ctrl+Alt+D"), rec.press, rec.release)
    xdotool("key", "ctrl+alt+d")
    assert rec.wait(2) == ["press", "release"]


def test_works_with_numlock_on(hotkeys: X11HotkeyService) -> None:
    rec = Recorder()
    hotkeys.register(HotkeyBinding("dictate", "Ctrl+Shift+Space"), rec.press)
    xdotool("key", "Num_Lock")
    try:
        xdotool("key", "ctrl+shift+space")
        assert rec.wait(1) == ["press"]
    finally:
        xdotool("key", "Num_Lock")


def test_held_key_gives_one_press_and_one_release_despite_autorepeat(x_display: str,
                                                                     hotkeys: X11HotkeyService) -> None:
    rec = Recorder()
    hotkeys.register(HotkeyBinding("dictate", "Ctrl+Alt+D"), rec.press, rec.release)
    xdotool("keydown", "ctrl+alt+d")
    rec.wait(1)
    # Hold like a push-to-talk user, past the server's auto-repeat delay (660 ms) so repeats do happen.
    time.sleep(1.0)
    assert rec.events == ["press"]
    assert hotkeys.is_pressed("dictate")
    xdotool("keyup", "ctrl+alt+d")
    assert rec.wait(2) == ["press", "release"]
    xdotool("key", "ctrl+alt+d")
    assert rec.wait(4) == ["press", "release", "press", "release"]


def test_hammered_key_pairs_every_press_with_one_release(hotkeys: X11HotkeyService) -> None:
    rec = Recorder()
    hotkeys.register(HotkeyBinding("dictate", "F9"), rec.press, rec.release)
    xdotool("key", "--delay", "0", "F9", "F9", "F9", "F9", "F9")
    events = rec.wait(10)
    assert events == ["press", "release"] * 5


def test_key_taken_by_another_client_gives_a_clear_error(x_display: str, hotkeys: X11HotkeyService) -> None:
    other = display.Display(x_display)
    root = other.screen().root
    keycode = other.keysym_to_keycode(XK.string_to_keysym("k"))
    root.grab_key(keycode, X.ControlMask | X.Mod1Mask, True, X.GrabModeAsync, X.GrabModeAsync)
    other.sync()
    try:
        with pytest.raises(PlatformUnsupported) as info:
            hotkeys.register(HotkeyBinding("dictate", "Ctrl+Alt+K"), lambda: None)
        assert info.value.user_message == \
            "Ctrl+Alt+K is already used by another application; choose another hotkey."
    finally:
        other.close()
    # Once the other application lets go, the same hotkey works.
    rec = Recorder()
    hotkeys.register(HotkeyBinding("dictate", "Ctrl+Alt+K"), rec.press)
    xdotool("key", "ctrl+alt+k")
    assert rec.wait(1) == ["press"]


def test_runtime_register_and_unregister_of_the_escape_cancel(hotkeys: X11HotkeyService) -> None:
    dictate, cancel = Recorder(), Recorder()
    hotkeys.register(HotkeyBinding("dictate", "Ctrl+Alt+D"), dictate.press)
    hotkeys.register(HotkeyBinding("cancel", "Escape"), cancel.press)
    xdotool("key", "Escape")
    assert cancel.wait(1) == ["press"]
    hotkeys.unregister("cancel")
    # Escape is no longer ours: a second client can grab it, which X refuses while we hold it.
    other = X11HotkeyService()
    try:
        other.register(HotkeyBinding("probe", "Escape"), lambda: None)
    finally:
        other.close()
    xdotool("key", "ctrl+alt+d")
    assert dictate.wait(1) == ["press"]
    assert cancel.events == ["press"]


def test_rebinding_moves_the_hotkey(hotkeys: X11HotkeyService) -> None:
    rec = Recorder()
    hotkeys.register(HotkeyBinding("dictate", "Ctrl+Alt+D"), rec.press)
    hotkeys.register(HotkeyBinding("dictate", "Meta+F8"), rec.press)
    xdotool("key", "ctrl+alt+d")  # no longer bound: must not count
    xdotool("key", "super+F8")
    assert rec.wait(1) == ["press"]
    hotkeys.unregister_all()
    other = X11HotkeyService()
    try:
        other.register(HotkeyBinding("probe", "Meta+F8"), lambda: None)  # free again
    finally:
        other.close()


def test_close_is_immediate_and_releases_grabs(x_display: str) -> None:
    service = X11HotkeyService(x_display)
    service.register(HotkeyBinding("dictate", "Ctrl+Alt+D"), lambda: None)
    started = time.monotonic()
    service.close()
    assert time.monotonic() - started < 0.5
    other = X11HotkeyService(x_display)
    try:
        other.register(HotkeyBinding("dictate", "Ctrl+Alt+D"), lambda: None)
    finally:
        other.close()


def test_unparseable_hotkey_is_explained(hotkeys: X11HotkeyService) -> None:
    with pytest.raises(PlatformUnsupported, match="one key"):
        hotkeys.register(HotkeyBinding("dictate", "Ctrl+Alt"), lambda: None)

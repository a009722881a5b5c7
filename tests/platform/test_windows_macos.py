"""Windows and macOS adapters, checked at the OS edge: what would be handed to user32 / CoreGraphics."""

from __future__ import annotations

import ctypes
from typing import Any

import pytest

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.ports import FocusTarget, HotkeyBinding, InsertResult
from desktop_app.platform.macos import hotkeys as mac_hotkeys
from desktop_app.platform.macos.insert import MacTextInserter, utf16_chunks
from desktop_app.platform.windows import hotkeys as win_hotkeys
from desktop_app.platform.windows import insert as win_insert

# --- Windows ---------------------------------------------------------------------------------------------

class FakeUser32:
    def __init__(self, taken: set[tuple[int, int]] | None = None, accept: int | None = None) -> None:
        self.registered: dict[int, tuple[int, int]] = {}
        self.taken = taken or set()
        self.sent: list[list[tuple[int, int, int, int]]] = []
        self.accept = accept  # SendInput returns this many (None: all)
        self.foreground: list[int] = []

    def RegisterHotKey(self, hwnd: Any, hotkey_id: int, mods: int, vk: int) -> bool:
        if (mods & ~win_hotkeys.MOD_NOREPEAT, vk) in self.taken:
            return False
        self.registered[hotkey_id] = (mods, vk)
        return True

    def UnregisterHotKey(self, hwnd: Any, hotkey_id: int) -> bool:
        return self.registered.pop(hotkey_id, None) is not None

    def SendInput(self, count: int, array: Any, size: int) -> int:
        assert size == ctypes.sizeof(win_insert.INPUT)
        self.sent.append([(e.type, e.ki.wVk, e.ki.wScan, e.ki.dwFlags) for e in array[:count]])
        return count if self.accept is None else self.accept

    def IsWindow(self, hwnd: int) -> bool:
        return hwnd == 0x1234

    def SetForegroundWindow(self, hwnd: int) -> bool:
        self.foreground.append(hwnd)
        self.front = hwnd
        return True

    front = 0x1234  # the window in front (GetForegroundWindow)

    def GetForegroundWindow(self) -> int:
        return self.front


def test_register_hotkey_gets_the_win32_modifiers_and_virtual_key() -> None:
    user32 = FakeUser32()
    table = win_hotkeys.HotkeyTable(user32, lambda: 0)
    table.register(HotkeyBinding("dictate", "Ctrl+Alt+D"), lambda: None, None)
    table.register(HotkeyBinding("read", "Meta+Shift+F9"), lambda: None, None)
    assert sorted(user32.registered.values()) == [
        (0x4000 | 0x2 | 0x1, 0x44),  # MOD_NOREPEAT | MOD_CONTROL | MOD_ALT, 'D'
        (0x4000 | 0x8 | 0x4, 0x78),  # MOD_NOREPEAT | MOD_WIN | MOD_SHIFT, VK_F9
    ]


def test_taken_windows_hotkey_is_a_clear_error() -> None:
    user32 = FakeUser32(taken={(0x2 | 0x1, 0x44)})
    table = win_hotkeys.HotkeyTable(user32, lambda: win_hotkeys.ERROR_HOTKEY_ALREADY_REGISTERED)
    with pytest.raises(PlatformUnsupported, match="Ctrl\\+Alt\\+D is already used by another application"):
        table.register(HotkeyBinding("dictate", "Ctrl+Alt+D"), lambda: None, None)


def test_windows_press_release_pairs_from_hotkey_and_hook() -> None:
    events: list[str] = []
    table = win_hotkeys.HotkeyTable(FakeUser32(), lambda: 0)
    table.register(HotkeyBinding("dictate", "Ctrl+Alt+D"), lambda: events.append("p"),
                   lambda: events.append("r"))
    table.on_hotkey(1)
    table.on_hotkey(1)  # a second WM_HOTKEY before the key-up is not a second press
    table.on_key_up(0x11)  # releasing Ctrl first is not the hotkey's release
    table.on_key_up(0x44)
    table.on_key_up(0x44)
    assert events == ["p", "r"]
    table.on_hotkey(1)
    table.unregister_all()  # unbinding mid-hold still delivers the release
    assert events == ["p", "r", "p", "r"]


def test_sendinput_unicode_events_for_non_ascii() -> None:
    user32 = FakeUser32()
    inserter = win_insert.WindowsTextInserter(user32=user32, kernel32=object())
    result = inserter.insert("é😀\n", FocusTarget(window_id=0x1234), "type")
    assert result == InsertResult(delivered=True, left_on_clipboard=False)
    assert user32.foreground == [0x1234]
    unicode, up = win_insert.KEYEVENTF_UNICODE, win_insert.KEYEVENTF_UNICODE | win_insert.KEYEVENTF_KEYUP
    assert user32.sent == [[
        (1, 0, 0xE9, unicode), (1, 0, 0xE9, up),
        (1, 0, 0xD83D, unicode), (1, 0, 0xD83D, up),  # 😀 is a surrogate pair
        (1, 0, 0xDE00, unicode), (1, 0, 0xDE00, up),
        (1, 0x0D, 0, 0), (1, 0x0D, 0, win_insert.KEYEVENTF_KEYUP),
    ]]
    assert ctypes.sizeof(win_insert.INPUT) == (40 if ctypes.sizeof(ctypes.c_void_p) == 8 else 28)


def test_long_text_is_sent_in_chunks() -> None:
    user32 = FakeUser32()
    win_insert.WindowsTextInserter(user32=user32, kernel32=object()).insert("x" * 100, FocusTarget(), "type")
    assert [len(batch) for batch in user32.sent] == [64, 64, 64, 8]


def test_refused_sendinput_falls_back_to_the_clipboard(monkeypatch: pytest.MonkeyPatch) -> None:
    copied: list[str] = []
    inserter = win_insert.WindowsTextInserter(user32=FakeUser32(accept=0), kernel32=object())
    monkeypatch.setattr(inserter, "set_clipboard_text", copied.append)
    result = inserter.insert("secret admin window", FocusTarget(window_id=0x1234), "paste")
    assert result == InsertResult(False, True, win_insert.COPIED_MESSAGE)
    assert copied == ["secret admin window"]


def test_windows_target_gone_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    copied: list[str] = []
    user32 = FakeUser32()
    inserter = win_insert.WindowsTextInserter(user32=user32, kernel32=object())
    monkeypatch.setattr(inserter, "set_clipboard_text", copied.append)
    result = inserter.insert("text", FocusTarget(window_id=0x999), "paste")
    assert not result.delivered and copied == ["text"] and user32.sent == []


def test_windows_live_typing_sends_unicode_pieces_and_backspaces_only_to_the_window_in_front() -> None:
    user32 = FakeUser32()
    session = win_insert.WindowsTextInserter(user32=user32, kernel32=object()).start_typing(
        FocusTarget(window_id=0x1234))
    assert session is not None
    unicode, up = win_insert.KEYEVENTF_UNICODE, win_insert.KEYEVENTF_UNICODE | win_insert.KEYEVENTF_KEYUP
    assert session.type("ö") and session.erase(2)
    assert user32.sent == [[(1, 0, 0xF6, unicode), (1, 0, 0xF6, up)],
                           [(1, 0x08, 0, 0), (1, 0x08, 0, win_insert.KEYEVENTF_KEYUP)] * 2]
    user32.front = 0x5678  # the user switched windows mid-stream: nothing is sent there
    assert not session.type("x") and not session.erase(1) and len(user32.sent) == 2
    assert session.type("ü", refocus=True)  # the final text brings the target back first
    assert user32.foreground == [0x1234] and user32.sent[-1][0] == (1, 0, 0xFC, unicode)
    gone = win_insert.WindowsTextInserter(user32=user32, kernel32=object()).start_typing(FocusTarget(0x999))
    assert gone is not None and not gone.type("lost", refocus=True)
    # No remembered window: the focus cannot be checked before each burst, so no live typing at all.
    assert win_insert.WindowsTextInserter(user32=user32, kernel32=object()).start_typing(FocusTarget()) is None


def test_windows_live_typing_refused_half_way_is_an_error_not_nothing_sent() -> None:
    user32 = FakeUser32(accept=0)  # an elevated window: UIPI drops the keys
    session = win_insert.WindowsTextInserter(user32=user32, kernel32=object()).start_typing(
        FocusTarget(window_id=0x1234))
    assert session is not None
    with pytest.raises(PlatformUnsupported):  # the live typer stops and copies the final text instead
        session.type("x" * 100)


# --- macOS -----------------------------------------------------------------------------------------------

def test_mac_hotkey_flags_follow_qt_command_mapping() -> None:
    chord_flags = mac_hotkeys.mac_flags
    from desktop_app.platform.keys import parse_key_sequence

    assert chord_flags(parse_key_sequence("Ctrl+Alt+D")) == mac_hotkeys.FLAG_COMMAND | mac_hotkeys.FLAG_OPTION
    assert chord_flags(parse_key_sequence("Meta+Shift+Space")) == \
        mac_hotkeys.FLAG_CONTROL | mac_hotkeys.FLAG_SHIFT
    assert mac_hotkeys.mac_keycode(parse_key_sequence("Ctrl+Alt+D")) == 0x02


def test_mac_matcher_swallows_ours_and_pairs_press_with_release() -> None:
    events: list[str] = []
    matcher = mac_hotkeys.HotkeyMatcher()
    matcher.add(HotkeyBinding("dictate", "Ctrl+Alt+D"), lambda: events.append("p"),
                lambda: events.append("r"))
    cmd_opt = mac_hotkeys.FLAG_COMMAND | mac_hotkeys.FLAG_OPTION | 0x100  # plus a device-dependent bit
    down, up = mac_hotkeys.KEY_DOWN, mac_hotkeys.KEY_UP
    assert matcher.on_event(down, 0x02, cmd_opt, autorepeat=False)
    assert matcher.on_event(down, 0x02, cmd_opt, autorepeat=True)  # repeats are swallowed, not re-fired
    assert not matcher.on_event(down, 0x02, mac_hotkeys.FLAG_COMMAND, autorepeat=False)  # Cmd+D: not ours
    assert matcher.on_event(up, 0x02, 0, autorepeat=False)
    assert not matcher.on_event(up, 0x02, 0, autorepeat=False)  # a lone key-up is not ours
    assert not matcher.on_event(down, 0x03, cmd_opt, autorepeat=False)
    assert events == ["p", "r"]


class FakeQuartz:
    def __init__(self) -> None:
        self.posted: list[tuple[bool, list[int], int]] = []
        self.keycodes = []
        self._events: dict[int, dict[str, Any]] = {}

    def CGEventCreateKeyboardEvent(self, source: Any, keycode: int, down: bool) -> int:
        handle = len(self._events) + 1
        self._events[handle] = {"down": down, "keycode": keycode, "text": [], "flags": 0}
        return handle

    def CGEventKeyboardSetUnicodeString(self, event: int, length: int, buffer: Any) -> None:
        self._events[event]["text"] = list(buffer[:length])

    def CGEventSetFlags(self, event: int, flags: int) -> None:
        self._events[event]["flags"] = flags

    def CGEventPost(self, tap: int, event: int) -> None:
        e = self._events[event]
        self.posted.append((e["down"], e["text"], e["flags"]))
        self.keycodes.append(e["keycode"])

    keycodes: list[int]

    def CFRelease(self, event: int) -> None:
        self._events[event]["released"] = True


def test_mac_types_unicode_key_events() -> None:
    cg = FakeQuartz()
    result = MacTextInserter(cg=cg, trusted=lambda: True).insert("héllo ✓", FocusTarget(), "paste")
    assert result.delivered
    units = [ord(c) for c in "héllo ✓"]
    assert cg.posted == [(True, units, 0), (False, units, 0)]


def test_mac_has_no_live_typing_so_no_key_can_reach_an_app_the_user_switched_to() -> None:
    cg = FakeQuartz()
    assert MacTextInserter(cg=cg, trusted=lambda: True).start_typing(FocusTarget()) is None
    assert cg.posted == []


def test_mac_chunks_never_split_surrogates() -> None:
    chunks = utf16_chunks("a" * 19 + "😀" + "b")
    assert chunks == [[0x61] * 19, [0xD83D, 0xDE00, 0x62]]


def test_mac_without_accessibility_copies_and_explains() -> None:
    copied: list[bytes | None] = []

    def run(argv: list[str], data: bytes | None) -> bytes:
        copied.append(data)
        return b""

    inserter = MacTextInserter(cg=FakeQuartz(), run=run, trusted=lambda: False)
    result = inserter.insert("text", FocusTarget(), "paste")
    assert not result.delivered and result.left_on_clipboard
    assert "Accessibility" in result.message
    assert copied == [b"text"]


def test_modules_import_without_the_os_libraries() -> None:
    # Importing did not load user32 or CoreGraphics (this test runs on Linux); using them says why not.
    with pytest.raises(PlatformUnsupported, match="ApplicationServices"):
        mac_hotkeys.accessibility_trusted()

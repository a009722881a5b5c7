"""Stand-ins for OS services this desktop does not offer: each says what is missing and what to do."""

from __future__ import annotations

from collections.abc import Callable

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.ports import FocusTarget, HotkeyBinding, InsertResult, TypingSession

TOGGLE_COMMAND = "sayso dictate toggle"
WAYLAND_HOTKEY_HINT = (f"Bind `{TOGGLE_COMMAND}` in your desktop's keyboard shortcut settings "
                       "(GNOME: Settings → Keyboard → Custom Shortcuts; KDE: System Settings → Shortcuts).")


class NullHotkeyService:
    def __init__(self, reason: str, hint: str = WAYLAND_HOTKEY_HINT) -> None:
        self.reason = reason
        self.hint = hint

    def backend_name(self) -> str:
        return "none"

    def supports_release(self) -> bool:
        return False

    def register(self, binding: HotkeyBinding, on_press: Callable[[], None],
                 on_release: Callable[[], None] | None = None) -> None:
        raise PlatformUnsupported(self.reason, hint=self.hint)

    def unregister(self, name: str) -> None:
        return None

    def unregister_all(self) -> None:
        return None

    def close(self) -> None:
        return None


class NullTextInserter:
    def __init__(self, reason: str, hint: str = "") -> None:
        self.reason = reason
        self.hint = hint

    def backend_name(self) -> str:
        return "none"

    def focused_target(self) -> FocusTarget:
        return FocusTarget()

    def insert(self, text: str, target: FocusTarget, method: str) -> InsertResult:
        raise PlatformUnsupported(self.reason, hint=self.hint)

    def start_typing(self, target: FocusTarget) -> TypingSession | None:
        return None


class NullSelectionReader:
    def __init__(self, reason: str, hint: str = "Copy the text and use “Read clipboard” instead.") -> None:
        self.reason = reason
        self.hint = hint

    def read_selection(self) -> str | None:
        raise PlatformUnsupported(self.reason, hint=self.hint)


class NullAutostart:
    def __init__(self, reason: str) -> None:
        self.reason = reason

    def is_enabled(self) -> bool:
        return False

    def set_enabled(self, enabled: bool) -> None:
        if enabled:
            raise PlatformUnsupported(self.reason)

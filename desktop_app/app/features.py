"""The features the shell wires after building the window, in order. Each is ``wire(ctx) -> None``."""

from __future__ import annotations

from collections.abc import Callable

from desktop_app.app import autostart, dictation, read_aloud
from desktop_app.app.context import AppContext

FEATURES: list[Callable[[AppContext], None]] = [dictation.wire, read_aloud.wire, autostart.wire]

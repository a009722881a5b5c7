"""Wires the `ui.autostart` setting to the platform's Autostart port."""

from __future__ import annotations

from desktop_app.app.context import AppContext


def wire(ctx: AppContext) -> None:
    """Keeps the OS login item in step with the setting."""

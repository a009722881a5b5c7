"""Wires the `ui.autostart` setting to the platform's Autostart port (XDG autostart entry, Windows Run key,
macOS LaunchAgent). The setting is the truth: the login item follows it at start and on every change,
including a `sayso config set ui.autostart …` that the running app reloads."""

from __future__ import annotations

import logging

from desktop_app.app.context import AppContext
from desktop_app.core.errors import SaysoError
from desktop_app.core.ports import Autostart

log = logging.getLogger(__name__)
SETTING = "ui.autostart"


def apply(autostart: Autostart, enabled: bool, *, refresh: bool = False) -> None:
    """Make the login item match ``enabled``. ``refresh`` rewrites an enabled item even when one exists, so
    it points at this installation (after an update or a move of the app)."""
    if enabled != autostart.is_enabled() or (enabled and refresh):
        autostart.set_enabled(enabled)


def _explain(exc: Exception) -> str:
    if isinstance(exc, SaysoError):
        return exc.full_message()
    return f"{type(exc).__name__}: {exc}"


def wire(ctx: AppContext) -> None:
    """Keeps the OS login item in step with the setting; a failure becomes a notice, never a crash."""
    autostart = ctx.platform.autostart

    def sync(*, refresh: bool = False) -> None:
        enabled = bool(ctx.settings.get(SETTING))
        try:
            apply(autostart, enabled, refresh=refresh)
        except (OSError, SaysoError) as exc:
            ctx.controller.tell("Start at login",
                                f"Could not {'turn on' if enabled else 'turn off'} starting Sayso at login: "
                                f"{_explain(exc)}", "warning")
            return
        log.info("start at login %s", "on" if enabled else "off")

    def on_changed(key: str) -> None:
        if key == SETTING:
            sync(refresh=True)

    ctx.settings.changed.connect(on_changed)
    sync(refresh=True)

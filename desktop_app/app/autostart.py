"""Wires the `ui.autostart` setting to the platform's Autostart port (XDG autostart entry, Windows Run key,
macOS LaunchAgent).

At start the setting adopts the OS state: the login item may have been created by the Windows installer's
"start at login" task or removed in the desktop's own startup settings, and the user's last word wins. From
then on the login item follows the setting on every change, including a `sayso config set ui.autostart …`
that the running app reloads. An enabled item is rewritten at start so it points at this installation."""

from __future__ import annotations

import logging

from desktop_app.app.context import AppContext
from desktop_app.core.errors import SaysoError
from desktop_app.core.ports import Autostart

log = logging.getLogger(__name__)
SETTING = "ui.autostart"


def apply(autostart: Autostart, enabled: bool) -> None:
    """Make the login item match ``enabled``; an enabled item is (re)written, so it starts this installation
    even after an update or a move of the app."""
    if enabled or autostart.is_enabled():
        autostart.set_enabled(enabled)


def _explain(exc: Exception) -> str:
    if isinstance(exc, SaysoError):
        return exc.full_message()
    return f"{type(exc).__name__}: {exc}"


def wire(ctx: AppContext) -> None:
    """Keeps the OS login item in step with the setting; a failure becomes a notice, never a crash."""
    autostart = ctx.platform.autostart

    def sync() -> None:
        enabled = bool(ctx.settings.get(SETTING))
        try:
            apply(autostart, enabled)
        except (OSError, SaysoError) as exc:
            ctx.controller.tell("Start at login",
                                f"Could not {'turn on' if enabled else 'turn off'} starting Sayso at login: "
                                f"{_explain(exc)}", "warning")
            return
        log.info("start at login %s", "on" if enabled else "off")

    def on_changed(key: str) -> None:
        if key == SETTING:
            sync()

    try:
        os_state = autostart.is_enabled()
    except (OSError, SaysoError) as exc:
        log.warning("cannot read the start-at-login state: %s", _explain(exc))
        os_state = bool(ctx.settings.get(SETTING))
    ctx.settings.changed.connect(on_changed)
    if os_state != bool(ctx.settings.get(SETTING)):
        ctx.settings.set(SETTING, os_state)  # emits changed → sync()
    elif os_state:
        sync()

"""Wires read-aloud: read hotkey / tray / IPC / Read page → text → speech engine → player; plus `sayso speak`."""

from __future__ import annotations

import argparse

from desktop_app.app.context import AppContext


def wire(ctx: AppContext) -> None:
    """Builds the read-aloud controller and connects it to the hotkey, tray, window and IPC."""


def cli_speak(args: argparse.Namespace) -> int:
    print("sayso speak is not built yet.")
    return 1

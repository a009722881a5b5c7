"""Wires dictation: hotkeys → recording → transcription → insertion → history; plus `sayso transcribe`
and `sayso history`."""

from __future__ import annotations

import argparse

from desktop_app.app.context import AppContext


def wire(ctx: AppContext) -> None:
    """Builds the dictation controller and connects it to the hotkeys, tray, window and IPC."""


def cli_transcribe(args: argparse.Namespace) -> int:
    print("sayso transcribe is not built yet.")
    return 1


def cli_history(args: argparse.Namespace) -> int:
    print("sayso history is not built yet.")
    return 1

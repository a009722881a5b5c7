"""Locates the shipped resources (icons, sounds) in a source checkout and in a frozen (PyInstaller) app."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def icon_path(name: str) -> Path:
    """``name`` like "sayso-recording" → its SVG; the PNG set lives in icons/png/."""
    return resources_dir() / "icons" / f"{name}.svg"

"""Composition root: the only package that imports every layer and wires adapters into services,
controllers and widgets. ``gui.py`` builds the shell; one module per feature wires that feature
(``dictation.py``, ``read_aloud.py``), so features can grow without one giant file."""

from desktop_app.app.gui import GuiOptions, run_gui
from desktop_app.app.shared import build_credentials

__all__ = ["GuiOptions", "build_credentials", "run_gui"]

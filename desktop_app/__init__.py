"""Sayso: speak instead of typing, listen instead of reading."""

# The one source of the version: pyproject, the PyInstaller spec and every installer template read it.
__version__ = "0.1.0"
APP_NAME = "Sayso"
APP_ID = "sayso"

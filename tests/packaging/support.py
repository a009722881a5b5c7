"""Helpers of the packaging tests: the renderer (packaging/render.py is a script, not a package module) and
the freedesktop validators."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

from tests.support.desktop import REPO

PACKAGING = REPO / "packaging"
VALIDATOR_PACKAGES = "desktop-file-utils appstream"  # Debian packages of the two validators


def load_render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sayso_packaging_render", PACKAGING / "render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is missing: apt-get install {VALIDATOR_PACKAGES}")
    return path


def desktop_file_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("desktop-file-validate"), str(path)], capture_output=True, text=True, check=False)


def appstream_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("appstreamcli"), "validate", "--no-net", str(path)], capture_output=True,
                          text=True, check=False)

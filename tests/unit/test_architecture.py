"""House rules that import-linter cannot express (it checks package arrows; these check names inside files)."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "desktop_app"


def _sources(*parts: str) -> list[Path]:
    return sorted((PACKAGE.joinpath(*parts)).rglob("*.py"))


def test_qt_glue_has_no_widgets() -> None:
    offenders = [str(p.relative_to(PACKAGE)) for p in _sources("qt")
                 if re.search(r"PySide6\.(QtWidgets|QtGui)\b|from PySide6 import .*\b(QtWidgets|QtGui)\b",
                              p.read_text())]
    assert offenders == []


def test_only_the_platform_factory_asks_which_os_this_is() -> None:
    factory = PACKAGE / "platform" / "factory.py"
    offenders = [str(p.relative_to(PACKAGE)) for p in _sources()
                 if p != factory and re.search(r"\bsys\.platform\b|\bos\.name\b",
                                               p.read_text())]
    assert offenders == []


def test_core_and_services_never_import_qt() -> None:
    offenders = [str(p.relative_to(PACKAGE)) for p in _sources("core") + _sources("services")
                 if "PySide6" in p.read_text()]
    assert offenders == []


def test_nothing_sleeps_to_wait_in_the_app() -> None:
    """Waiting is done on events and conditions; a sleep in app code is a polling loop or a race."""
    offenders = [f"{p.relative_to(PACKAGE)}:{n}" for p in _sources()
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if re.search(r"\btime\.sleep\(", line) and "allow-sleep" not in line]
    assert offenders == []

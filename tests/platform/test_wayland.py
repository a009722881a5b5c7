"""Wayland insertion and selection with the command-line tools faked at the subprocess edge."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import pytest

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.ports import FocusTarget, InsertResult
from desktop_app.platform.linux.wayland import (
    COPIED_MESSAGE,
    WaylandPrimarySelectionReader,
    WaylandTextInserter,
    WaylandTools,
)


class FakeRunner:
    def __init__(self, returncodes: dict[str, int] | None = None, stdout: bytes = b"") -> None:
        self.calls: list[tuple[list[str], bytes | None]] = []
        self.returncodes = returncodes or {}
        self.stdout = stdout

    def __call__(self, argv: Sequence[str], stdin: bytes | None) -> subprocess.CompletedProcess[bytes]:
        self.calls.append((list(argv), stdin))
        code = self.returncodes.get(argv[0], 0)
        return subprocess.CompletedProcess(list(argv), code, self.stdout, b"failed" if code else b"")


ALL_TOOLS = WaylandTools("wtype", "ydotool", "wl-copy", "wl-paste")


def test_wtype_types_the_text() -> None:
    run = FakeRunner()
    result = WaylandTextInserter(ALL_TOOLS, run).insert("héllo ✓", FocusTarget(), "paste")
    assert result == InsertResult(delivered=True, left_on_clipboard=False)
    assert run.calls == [(["wtype", "--", "héllo ✓"], None)]


def test_ydotool_when_no_wtype() -> None:
    run = FakeRunner()
    inserter = WaylandTextInserter(WaylandTools(None, "ydotool", "wl-copy", None), run)
    inserter.insert("hi", FocusTarget(), "type")
    assert run.calls == [(["ydotool", "type", "--", "hi"], None)]


def test_failing_typer_falls_back_to_clipboard_with_notice() -> None:
    run = FakeRunner({"wtype": 1})  # e.g. GNOME: no virtual-keyboard protocol
    result = WaylandTextInserter(ALL_TOOLS, run).insert("text", FocusTarget(), "paste")
    assert result == InsertResult(delivered=False, left_on_clipboard=True, message=COPIED_MESSAGE)
    assert run.calls[-1] == (["wl-copy", "--type", "text/plain;charset=utf-8"], b"text")


def test_no_clipboard_tool_is_explained() -> None:
    inserter = WaylandTextInserter(WaylandTools(None, None, None, None), FakeRunner())
    with pytest.raises(PlatformUnsupported, match="clipboard"):
        inserter.insert("text", FocusTarget(), "paste")


def test_primary_selection_via_wl_paste() -> None:
    run = FakeRunner(stdout="sélection".encode())
    assert WaylandPrimarySelectionReader(ALL_TOOLS, run).read_selection() == "sélection"
    assert run.calls == [(["wl-paste", "--primary", "--no-newline", "--type", "text"], None)]
    assert WaylandPrimarySelectionReader(ALL_TOOLS, FakeRunner({"wl-paste": 1})).read_selection() is None

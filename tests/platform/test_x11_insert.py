"""Insertion into another process's text field on a real X server (Xvfb)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from desktop_app.core.ports import FocusTarget, InsertResult
from desktop_app.platform.linux.x11_insert import COPIED_MESSAGE, X11TextInserter
from tests.platform.support import TargetApp

pytestmark = pytest.mark.desktop
NON_ASCII = "héllo wörld ✓"


def clipboard(target: str = "UTF8_STRING") -> bytes:
    return subprocess.run(["xclip", "-o", "-selection", "clipboard", "-t", target],
                          capture_output=True, timeout=10).stdout


def clipboard_targets() -> set[str]:
    return set(clipboard("TARGETS").decode().split())


def wait_clipboard(expected: bytes, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while clipboard() != expected:
        assert time.monotonic() < deadline, f"clipboard never became {expected!r}"


@pytest.fixture
def inserter(x_display: str) -> Iterator[X11TextInserter]:
    ins = X11TextInserter(x_display, confirm_timeout=3.0)
    yield ins
    ins.close()


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    """A noisy 400x400 PNG (~500 KB): bigger than one X request, so restoring it needs INCR."""
    path = tmp_path / "noise.png"
    subprocess.run(["convert", "-size", "400x400", "xc:", "+noise", "Random", str(path)],
                   check=True, timeout=30)
    return path


def start_focused(target_app: Callable[..., TargetApp], *args: str) -> TargetApp:
    app = target_app(*args)
    app.focus()
    return app


def test_focused_target_names_the_window_and_app(inserter: X11TextInserter,
                                                 target_app: Callable[..., TargetApp]) -> None:
    app = start_focused(target_app)
    target = inserter.focused_target()
    assert target == FocusTarget(window_id=app.window_id, app_name="SaysoTestTarget", is_terminal=False)


def test_paste_lands_in_the_remembered_window_and_restores_every_clipboard_format(
        inserter: X11TextInserter, target_app: Callable[..., TargetApp], png_file: Path) -> None:
    app = start_focused(target_app)
    target = inserter.focused_target()
    # Another app takes the clipboard (text + image/png) and the focus, as happens while one dictates.
    other = target_app("--clipboard-text", "old clipboard", "--clipboard-png", str(png_file))
    other.focus()
    assert clipboard_targets() >= {"image/png", "UTF8_STRING"}

    result = inserter.insert(NON_ASCII, target, "paste")

    assert result == InsertResult(delivered=True, left_on_clipboard=False)
    app.wait_text(NON_ASCII)
    assert other.text == ""
    assert clipboard() == b"old clipboard"
    assert clipboard("image/png") == png_file.read_bytes()
    assert clipboard_targets() >= {"image/png", "UTF8_STRING"}


def test_paste_with_empty_clipboard_leaves_it_empty(inserter: X11TextInserter,
                                                   target_app: Callable[..., TargetApp]) -> None:
    inserter.selection_owner.offer("CLIPBOARD", {})
    inserter.selection_owner.release("CLIPBOARD")
    app = start_focused(target_app)
    result = inserter.insert("plain words", inserter.focused_target(), "paste")
    assert result.delivered
    app.wait_text("plain words")
    assert clipboard() == b""


def test_terminal_gets_ctrl_shift_v(inserter: X11TextInserter, target_app: Callable[..., TargetApp]) -> None:
    app = start_focused(target_app, "--terminal")
    target = inserter.focused_target()
    assert target.is_terminal and target.app_name == "XTerm"
    result = inserter.insert("ls -la", target, "paste")
    assert result.delivered
    app.wait_text("ls -la")


def test_unconfirmed_paste_leaves_text_on_clipboard_and_says_so(
        x_display: str, target_app: Callable[..., TargetApp]) -> None:
    # A terminal-like field ignores plain Ctrl+V: with is_terminal=False nothing fetches our text.
    app = start_focused(target_app, "--terminal")
    target = FocusTarget(window_id=app.window_id, app_name="XTerm", is_terminal=False)
    ins = X11TextInserter(x_display, confirm_timeout=0.5)
    try:
        result = ins.insert("not pasted", target, "paste")
        assert result == InsertResult(delivered=False, left_on_clipboard=True, message=COPIED_MESSAGE)
        assert clipboard() == b"not pasted"
        assert app.text == ""
    finally:
        ins.close()


def test_clipboard_changed_before_paste_is_not_overwritten(
        inserter: X11TextInserter, target_app: Callable[..., TargetApp]) -> None:
    app = start_focused(target_app, "--terminal")
    target = FocusTarget(window_id=app.window_id, app_name="XTerm", is_terminal=False)
    outcome: list[InsertResult] = []
    worker = threading.Thread(target=lambda: outcome.append(inserter.insert("dictated", target, "paste")))
    worker.start()
    wait_clipboard(b"dictated")
    user_copy = subprocess.Popen(["xclip", "-selection", "clipboard", "-loops", "1"], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL)
    assert user_copy.stdin is not None
    user_copy.stdin.write(b"copied by the user")
    user_copy.stdin.close()
    worker.join(timeout=10)
    assert clipboard() == b"copied by the user"  # not overwritten by a restore (xclip serves once, exits)
    user_copy.wait(timeout=10)
    assert outcome and not outcome[0].delivered and not outcome[0].left_on_clipboard


def test_type_non_ascii_keeps_the_clipboard(inserter: X11TextInserter,
                                           target_app: Callable[..., TargetApp]) -> None:
    inserter.copy_to_clipboard("keep me")
    app = start_focused(target_app)
    result = inserter.insert(NON_ASCII + " Ünïcödé ☺ 123 ABC xyz!", inserter.focused_target(), "type")
    assert result == InsertResult(delivered=True, left_on_clipboard=False)
    app.wait_text(NON_ASCII + " Ünïcödé ☺ 123 ABC xyz!")
    assert clipboard() == b"keep me"


def test_closed_target_window_means_copy_and_notice(inserter: X11TextInserter,
                                                    target_app: Callable[..., TargetApp]) -> None:
    app = start_focused(target_app)
    target = inserter.focused_target()
    app.close()
    result = inserter.insert("orphan text", target, "paste")
    assert not result.delivered and result.left_on_clipboard
    assert "gone" in result.message
    wait_clipboard(b"orphan text")


def test_clipboard_method_copies_only(inserter: X11TextInserter,
                                      target_app: Callable[..., TargetApp]) -> None:
    app = start_focused(target_app)
    result = inserter.insert("just copy", inserter.focused_target(), "clipboard")
    assert not result.delivered and result.left_on_clipboard and "Ctrl+V" in result.message
    assert clipboard() == b"just copy"
    assert app.text == ""


def test_live_typing_types_pieces_and_backspaces_only_its_own_characters(
        inserter: X11TextInserter, target_app: Callable[..., TargetApp]) -> None:
    app = start_focused(target_app)
    subprocess.run(["xdotool", "type", "--delay", "0", "Note: "], check=True, timeout=10)  # the user's text
    app.wait_text("Note: ")
    session = inserter.start_typing(inserter.focused_target())
    try:
        assert session.type("Grü", refocus=True)
        app.wait_text("Note: Grü")  # each piece lands on its own, before the next one is sent
        assert session.type("ße aus Köln")
        app.wait_text("Note: Grüße aus Köln")
        assert session.erase(len("Köln"))  # the final text differs at the end: take back four characters…
        assert session.type("Kiel ✓ ☺")  # …and type the rest
        app.wait_text("Note: Grüße aus Kiel ✓ ☺")
    finally:
        session.close()


def test_live_typing_sends_nothing_while_another_window_has_the_focus_and_refocus_brings_it_back(
        inserter: X11TextInserter, target_app: Callable[..., TargetApp]) -> None:
    app = start_focused(target_app)
    session = inserter.start_typing(inserter.focused_target())
    try:
        assert session.type("first ")
        app.wait_text("first ")
        other = start_focused(target_app)  # the user moved on mid-stream
        assert not session.type("never here")
        assert not session.erase(2)
        assert session.type("last", refocus=True)  # the final text brings the dictated-into window back
        app.wait_text("first last")
        # Had "never here" reached the other window, its text could never be exactly "!" now.
        assert inserter.insert("!", FocusTarget(window_id=other.window_id), "type").delivered
        other.wait_text("!")
    finally:
        session.close()

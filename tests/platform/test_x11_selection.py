"""Reading the user's selection on a real X server: PRIMARY first, the copy-shortcut fallback second."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator

import pytest
from Xlib import X, display
from Xlib.protocol import request

from desktop_app.platform.linux.x11_keyboard import XTestKeyboard
from desktop_app.platform.linux.x11_selection import X11CopySelectionReader, X11PrimarySelectionReader
from desktop_app.platform.linux.x11_selection_transfer import SelectionData, SelectionOwner, text_formats
from tests.platform.support import TargetApp, xdotool

pytestmark = pytest.mark.desktop


def clipboard_text() -> bytes:
    return subprocess.run(["xclip", "-o", "-selection", "clipboard"], capture_output=True, timeout=10).stdout


def clear_primary(x_display: str) -> None:
    d = display.Display(x_display)
    request.SetSelectionOwner(display=d.display, window=X.NONE, selection=d.intern_atom("PRIMARY"),
                              time=X.CurrentTime)
    d.sync()
    d.close()


@pytest.fixture
def owner(x_display: str) -> Iterator[SelectionOwner]:
    own = SelectionOwner(x_display)
    yield own
    own.close()


@pytest.fixture
def keyboard(x_display: str) -> Iterator[XTestKeyboard]:
    kb = XTestKeyboard(x_display)
    yield kb
    kb.close()


def typed_target(target_app: Callable[..., TargetApp], keyboard: XTestKeyboard, text: str) -> TargetApp:
    app = target_app()
    app.focus()
    keyboard.type_text(text)
    app.wait_text(text)
    return app


def test_primary_is_read_after_a_user_selection_and_the_clipboard_is_untouched(
        x_display: str, owner: SelectionOwner, keyboard: XTestKeyboard,
        target_app: Callable[..., TargetApp]) -> None:
    owner.offer("CLIPBOARD", text_formats("clipboard stays"))
    typed_target(target_app, keyboard, "sélected wörds ✓")
    xdotool("key", "ctrl+a")
    reader = X11PrimarySelectionReader(x_display)
    assert reader.read_selection() == "sélected wörds ✓"
    assert owner.owns("CLIPBOARD")
    assert clipboard_text() == b"clipboard stays"


def test_nothing_selected_reads_none(x_display: str) -> None:
    clear_primary(x_display)
    assert X11PrimarySelectionReader(x_display).read_selection() is None


def test_copy_fallback_reads_the_selection_and_restores_the_clipboard(
        x_display: str, owner: SelectionOwner, keyboard: XTestKeyboard,
        target_app: Callable[..., TargetApp]) -> None:
    owner.offer("CLIPBOARD", text_formats("my old clipboard"))
    typed_target(target_app, keyboard, "copy me please")
    xdotool("key", "ctrl+a")
    reader = X11CopySelectionReader(owner, keyboard, x_display, timeout=2.0)
    assert reader.read_selection() == "copy me please"
    assert clipboard_text() == b"my old clipboard"


def test_copy_fallback_with_nothing_selected_gives_none_and_restores(
        x_display: str, owner: SelectionOwner, keyboard: XTestKeyboard,
        target_app: Callable[..., TargetApp]) -> None:
    owner.offer("CLIPBOARD", text_formats("untouched"))
    typed_target(target_app, keyboard, "no selection here")  # the cursor sits at the end, nothing selected
    reader = X11CopySelectionReader(owner, keyboard, x_display, timeout=0.5)
    assert reader.read_selection() is None
    assert clipboard_text() == b"untouched"


def test_large_clipboard_is_served_by_incr_to_one_reader_after_another(owner: SelectionOwner) -> None:
    # Each INCR chunk waits for the reader's delete; a delete event python-xlib had already queued once
    # stalled the transfer until some unrelated wake-up, so one reader after another must all get it whole.
    image = os.urandom(500_000)
    owner.offer("CLIPBOARD", {**text_formats("text"), "image/png": SelectionData("image/png", 8, image)})
    for _ in range(20):
        out = subprocess.run(["xclip", "-o", "-selection", "clipboard", "-t", "image/png"],
                             capture_output=True, timeout=10).stdout
        assert out == image

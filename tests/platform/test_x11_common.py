"""The X connection helpers on a real X server: waiting for events python-xlib has already read."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from Xlib import X, Xatom, display

from desktop_app.platform.linux.x11_common import wait_for_activity, wake_pipe

pytestmark = pytest.mark.desktop


@pytest.fixture
def conn(x_display: str) -> Iterator[display.Display]:
    d = display.Display(x_display)
    yield d
    d.close()


def test_wait_for_activity_sees_an_event_the_library_already_queued(x_display: str,
                                                                     conn: display.Display) -> None:
    window = conn.screen().root.create_window(0, 0, 1, 1, 0, X.CopyFromParent, event_mask=X.PropertyChangeMask)
    conn.sync()
    other = display.Display(x_display)
    try:
        other.create_resource_object("window", window.id).change_property(
            other.intern_atom("_SAYSO_TEST"), Xatom.STRING, 8, b"x")
        other.sync()
    finally:
        other.close()
    # The server sent the PropertyNotify before this reply, so python-xlib reads it off the socket now and
    # queues it: the socket itself has nothing left to select on.
    conn.sync()
    assert wait_for_activity(conn, timeout=5.0) == [conn.fileno()]
    assert conn.next_event().type == X.PropertyNotify


def test_wait_for_activity_wakes_on_the_extra_file_and_times_out_on_nothing(conn: display.Display) -> None:
    read_fd, write_fd = wake_pipe()
    try:
        assert wait_for_activity(conn, also=[read_fd], timeout=0.05) == []
        os.write(write_fd, b"x")
        assert wait_for_activity(conn, also=[read_fd], timeout=5.0) == [read_fd]
    finally:
        os.close(read_fd)
        os.close(write_fd)

"""Session detection, adapter choice and the doctor report."""

from __future__ import annotations

import pytest

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.ports import HotkeyBinding
from desktop_app.platform.factory import create_platform, describe, detect_session
from desktop_app.platform.null import NullHotkeyService


@pytest.mark.parametrize(("env", "platform", "server"), [
    ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, "linux", "x11"),
    ({"DISPLAY": ":0"}, "linux", "x11"),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, "linux", "wayland"),
    ({"DISPLAY": ":1", "WAYLAND_DISPLAY": "wayland-0"}, "linux", "wayland"),  # XWayland is not X11
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "x11"}, "linux", "x11"),
    ({}, "linux", "none"),
    ({"DISPLAY": ":0"}, "win32", "windows"),
    ({}, "darwin", "macos"),
])
def test_detect_session(env: dict[str, str], platform: str, server: str) -> None:
    assert detect_session(env, platform).display_server == server


def test_wayland_gets_the_toggle_command_instruction(tmp_path: object) -> None:
    env = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "XDG_CONFIG_HOME": str(tmp_path)}
    services = create_platform(["sayso"], env, "linux")
    assert isinstance(services.hotkeys, NullHotkeyService)
    assert not services.hotkeys.supports_release()
    with pytest.raises(PlatformUnsupported) as info:
        services.hotkeys.register(HotkeyBinding("dictate", "Ctrl+Alt+D"), lambda: None)
    expected = "Bind `sayso dictate toggle` in your desktop's keyboard shortcut settings"
    assert expected in info.value.full_message()
    report = describe(env, "linux")
    assert not report.push_to_talk
    assert any("sayso dictate toggle" in line for line in report.lines())


def test_no_display_is_explained(tmp_path: object) -> None:
    services = create_platform(["sayso"], {"XDG_CONFIG_HOME": str(tmp_path)}, "linux")
    with pytest.raises(PlatformUnsupported, match="No graphical session"):
        services.inserter.insert("x", services.inserter.focused_target(), "paste")
    assert describe({}, "linux").missing


@pytest.mark.desktop
def test_x11_session_gets_real_adapters_and_a_report(x_display: str, tmp_path: object) -> None:
    env = {"DISPLAY": x_display, "XDG_CONFIG_HOME": str(tmp_path)}
    services = create_platform(["sayso"], env, "linux")
    try:
        assert services.hotkeys.backend_name() == "X11 XGrabKey"
        assert services.hotkeys.supports_release()
        assert services.inserter.backend_name().startswith("X11")
    finally:
        services.close()
    report = describe(env, "linux")
    assert report.push_to_talk and report.missing == ()
    assert report.lines()[0] == f"Display server: X11 ({x_display})"


def test_x11_with_unreachable_display_reports_why() -> None:
    report = describe({"DISPLAY": ":9999"}, "linux")
    assert not report.push_to_talk
    assert any("Cannot connect" in item for item in report.missing)

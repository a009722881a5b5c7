"""Every installer template carries the one version of desktop_app/__init__.py, and the Linux metadata
passes the freedesktop validators."""

from __future__ import annotations

import plistlib
import re
from pathlib import Path

import pytest

import desktop_app
from tests.packaging.support import PACKAGING, appstream_validate, desktop_file_validate, load_render

render = load_render()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(render.render_all(tmp_path_factory.mktemp("rendered")))


@pytest.fixture(scope="module")
def rendered_other(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rendered with another version: proves the templates take it from the renderer, not a typed copy."""
    return Path(render.render_all(tmp_path_factory.mktemp("rendered-other"), version="9.8.7"))


def test_version_comes_from_the_package() -> None:
    assert render.read_version() == desktop_app.__version__
    assert render.version_tuple("1.2.3rc1") == "1, 2, 3, 0"


def test_every_template_is_rendered_and_has_no_placeholder_left(rendered: Path) -> None:
    outputs = sorted(p.relative_to(rendered).as_posix() for p in rendered.rglob("*") if p.is_file())
    assert outputs == ["linux/control", "linux/io.github.sayso.Sayso.metainfo.xml", "macos/Info.plist",
                       "windows/version.iss", "windows/version_info.txt"]
    for path in rendered.rglob("*"):
        if path.is_file():
            assert not re.search(r"@[A-Z_]+@", path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize("version", [desktop_app.__version__, "9.8.7"])
def test_each_output_carries_the_version(rendered: Path, rendered_other: Path, version: str) -> None:
    out = rendered if version == desktop_app.__version__ else rendered_other
    assert f"\nVersion: {version}\n" in (out / "linux/control").read_text()
    assert f'<release version="{version}"' in (out / "linux/io.github.sayso.Sayso.metainfo.xml").read_text()
    assert f'#define AppVersion "{version}"' in (out / "windows/version.iss").read_text()
    numbers = ", ".join([*version.split("."), "0"])
    version_info = (out / "windows/version_info.txt").read_text()
    assert f"filevers=({numbers})" in version_info and f"'ProductVersion', '{version}'" in version_info
    plist = plistlib.loads((out / "macos/Info.plist").read_bytes())
    assert plist["CFBundleShortVersionString"] == version and plist["CFBundleVersion"] == version


def test_info_plist_has_identity_and_usage_strings(rendered: Path) -> None:
    plist = plistlib.loads((rendered / "macos/Info.plist").read_bytes())
    assert plist["CFBundleIdentifier"] == render.APP_ID
    assert "record" in plist["NSMicrophoneUsageDescription"].lower()
    # Sayso sends no Apple events (CGEventTap hotkeys, CGEventPost keystrokes): no Automation string, and
    # no entitlement for it.
    assert "NSAppleEventsUsageDescription" not in plist
    assert plist["LSUIElement"] is True  # a tray app: no Dock icon
    entitlements = plistlib.loads((PACKAGING / "macos/entitlements.plist").read_bytes())
    assert entitlements["com.apple.security.device.audio-input"] is True
    assert "com.apple.security.automation.apple-events" not in entitlements


def test_macos_first_run_text_names_the_permissions_macos_really_asks_for() -> None:
    from desktop_app.diagnostics import MACOS_PERMISSIONS_TEXT

    for place in ("Microphone", "Accessibility", "Input Monitoring"):
        assert f"Privacy & Security → {place}" in MACOS_PERMISSIONS_TEXT
    assert "System Events" not in MACOS_PERMISSIONS_TEXT and "Automation" not in MACOS_PERMISSIONS_TEXT


def test_inno_setup_script_is_per_user_and_reads_the_rendered_version() -> None:
    script = (PACKAGING / "windows/sayso.iss").read_text(encoding="utf-8")
    assert '#include SourcePath + "..\\..\\build\\packaging\\windows\\version.iss"' in script
    assert "AppVersion={#AppVersion}" in script
    assert not re.search(r"\b\d+\.\d+\.\d+\b", script), "a typed version number in sayso.iss"
    for line in ("PrivilegesRequired=lowest", r"DefaultDirName={localappdata}\Programs\{#AppName}"):
        assert line in script
    assert '{userprograms}\\{#AppName}"; Filename: "{app}\\{#AppExe}"' in script  # Start-menu entry
    run_lines = [line for line in script.splitlines() if line.startswith("Root: HKCU")]
    # The key and value name the app's WindowsRunKeyAutostart uses.
    assert all(r"Software\Microsoft\Windows\CurrentVersion\Run" in line and 'ValueName: "{#AppName}"' in line
               for line in run_lines), run_lines
    tasked = [line for line in run_lines if "Tasks: autostart" in line]
    assert len(tasked) == 1 and "ValueType: string" in tasked[0]
    # The app's own setting can write the value without the task: the uninstaller removes it whatever was
    # ticked, and that entry writes nothing at install.
    untasked = [line for line in run_lines if "Tasks:" not in line]
    assert len(untasked) == 1
    assert "ValueType: none" in untasked[0] and "uninsdeletevalue" in untasked[0]


def test_spec_reads_the_version_and_builds_one_folder() -> None:
    spec = (PACKAGING / "pyinstaller/sayso.spec").read_text(encoding="utf-8")
    assert "read_version()" in spec and "version=VERSION" in spec
    assert not re.search(r"['\"]\d+\.\d+\.\d+['\"]", spec), "a typed version number in the spec"
    assert "COLLECT(" in spec and "onefile" not in spec.replace("one-file", "")
    assert '(str(REPO / "resources"), "resources")' in spec


def test_desktop_entry_is_valid() -> None:
    result = desktop_file_validate(PACKAGING / "linux/sayso.desktop")
    assert result.returncode == 0, result.stdout + result.stderr


def test_desktop_validator_rejects_a_broken_entry(tmp_path: Path) -> None:
    broken = tmp_path / "broken.desktop"
    broken.write_text("[Desktop Entry]\nName=Sayso\nExec=sayso\n")  # no Type
    assert desktop_file_validate(broken).returncode != 0


def test_metainfo_is_valid(rendered: Path) -> None:
    result = appstream_validate(rendered / "linux/io.github.sayso.Sayso.metainfo.xml")
    assert result.returncode == 0, result.stdout + result.stderr

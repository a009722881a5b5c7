"""`sayso --self-test` reports a broken installation and exits 1: the report logic with the machine probes
(display, Qt, audio, keyring) replaced, so only the module import check runs for real. The installed
bundle's self-test, passing and failing, is in test_deb.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app import diagnostics

BROKEN_MODULE = "sayso_selftest_broken_probe"
MISSING_LIBRARY = "libportaudio.so.2: cannot open shared object file: No such file or directory"


def _ok(detail: str) -> object:
    return lambda *args: detail


@pytest.fixture()
def machine_probes_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every probe of the machine answers ok; the module check stays real."""
    monkeypatch.setattr(diagnostics, "_display", _ok("X11 (:99)"))
    monkeypatch.setattr(diagnostics, "_qt_platform_plugin", _ok("xcb (libqxcb.so)"))
    monkeypatch.setattr(diagnostics, "_qt_application", _ok("QApplication runs"))
    monkeypatch.setattr(diagnostics, "_tray", _ok("a system tray is available"))
    monkeypatch.setattr(diagnostics, "_platform_backends", _ok("X11 XGrabKey"))
    monkeypatch.setattr(diagnostics, "_keyring", _ok("SecretService (answers)"))
    monkeypatch.setattr(diagnostics, "_audio_devices", lambda profile: [
        diagnostics.Check("microphone", True, "default opens"), diagnostics.Check("speaker", True, "default opens")])


@pytest.fixture()
def broken_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of the app that fails to import the way a bundle missing a shared library does."""
    (tmp_path / f"{BROKEN_MODULE}.py").write_text(f"raise ImportError({MISSING_LIBRARY!r})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return BROKEN_MODULE


def _with_modules(monkeypatch: pytest.MonkeyPatch, *extra: str) -> None:
    monkeypatch.setattr(diagnostics, "app_modules", lambda: ["desktop_app.core.errors", *extra])


def test_a_module_that_does_not_import_fails_the_self_test(machine_probes_pass: None, broken_module: str,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    _with_modules(monkeypatch, broken_module)
    assert diagnostics.self_test(str(tmp_path / "profile")) == 1
    report = capsys.readouterr().out
    modules_line = next(line for line in report.splitlines() if line.startswith("FAIL modules"))
    assert "1 of 2 modules do not import" in modules_line
    assert f"{broken_module}: ImportError: {MISSING_LIBRARY}" in modules_line
    assert report.splitlines()[-1] == "self-test FAILED: modules"


def test_the_same_run_passes_when_every_module_imports(machine_probes_pass: None,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    _with_modules(monkeypatch)
    assert diagnostics.self_test(str(tmp_path / "profile")) == 0
    report = capsys.readouterr().out
    assert "ok   modules             1 modules import" in report
    assert "FAIL" not in report and report.splitlines()[-1] == "self-test passed"


def test_a_missing_tray_is_a_warning_not_a_failure(machine_probes_pass: None, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    def no_tray() -> str:
        raise RuntimeError("no system tray on this desktop")

    _with_modules(monkeypatch)
    monkeypatch.setattr(diagnostics, "_tray", no_tray)
    assert diagnostics.self_test(str(tmp_path / "profile")) == 0
    report = capsys.readouterr().out
    assert "warn tray                RuntimeError: no system tray on this desktop" in report
    assert report.splitlines()[-1] == "self-test passed"

"""The real installer path on this machine: build the PyInstaller bundle and the .deb from a clean state,
`dpkg -i` it, run the installed /usr/bin/sayso (version, self-test passing and failing, GUI with tray, start
at login), then `dpkg -r` it and check nothing is left behind (and that the user's autostart entry, which
stays, is skipped by the desktop), then purge.

Needs root (dpkg), the headless desktop services (scripts/test-services.sh) and pyinstaller in the venv.
The tests of this module share one installation and run in file order; the last one removes it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import desktop_app
from tests.packaging.support import desktop_file_validate
from tests.support.desktop import REPO, require_desktop, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.desktop, pytest.mark.timeout(400)]

SAYSO = "/usr/bin/sayso"
BUNDLE_LIMIT_MB = 200.0  # the limit for the unpacked bundle (a product limit, not a timing goal)
# Where the package puts files; compared before install and after removal.
WATCHED = [Path(p) for p in ("/opt", "/usr/bin", "/usr/share/applications", "/usr/share/icons/hicolor",
                             "/usr/share/metainfo", "/usr/share/doc")]


def _snapshot() -> set[str]:
    files: set[str] = set()
    for root in WATCHED:
        if root.exists():
            files.update(str(p) for p in root.rglob("*"))
    return files


def _run(args: list[str], *, env: Mapping[str, str] | None = None, timeout: float = 120.0,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, env=dict(env or os.environ), timeout=timeout,
                            check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{shlex.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def _status() -> str:
    """dpkg's state of the package: "installed", "config-files" (removed, not purged), "" when unknown."""
    result = _run(["dpkg-query", "-W", "-f=${db:Status-Status}", "sayso"], check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def _installed() -> bool:
    return _status() == "installed"


def _size_mb(folder: Path) -> float:
    """Unpacked size as bench/packaging_bench.py counts it: regular files, symlinks not followed."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


@dataclass
class Installation:
    deb: Path
    bundle: Path  # the PyInstaller one-folder bundle the .deb was made from
    before: set[str]
    files: list[str]  # dpkg -L sayso
    autostart_entry: str = ""  # the entry the installed app wrote (kept by the GUI test for the removal test)


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    if os.geteuid() != 0 or shutil.which("dpkg-deb") is None:
        pytest.skip("installs a .deb: needs root and dpkg (CI runs as root)")
    pyinstaller = REPO / ".venv/bin/pyinstaller"
    assert pyinstaller.exists(), "pyinstaller is missing: .venv/bin/pip install 'pyinstaller>=6.5,<7'"
    if _status():  # a leftover of an interrupted run would spoil the before/after comparison
        _run(["dpkg", "--purge", "sayso"])
    work = tmp_path_factory.mktemp("deb")
    env = {**os.environ, "SAYSO_DIST": str(work / "dist"), "SAYSO_BUILD": str(work / "build"),
           "SAYSO_DEB_COMPRESSION": "gzip", "PYINSTALLER": str(pyinstaller)}
    build = _run(["bash", str(REPO / "packaging/linux/build-deb.sh")], env=env, timeout=300)
    deb = Path(build.stdout.strip().splitlines()[-1])
    assert deb.name == f"sayso_{desktop_app.__version__}_amd64.deb" and deb.is_file()
    before = _snapshot()
    _run(["dpkg", "-i", str(deb)])
    files = _run(["dpkg", "-L", "sayso"]).stdout.split()
    try:
        yield Installation(deb, work / "dist" / "sayso", before, files)
    finally:
        if _status():
            _run(["dpkg", "--purge", "sayso"], check=False)


@pytest.fixture()
def app_env(tmp_path: Path) -> dict[str, str]:
    """The desktop services' environment with a private config home (the autostart folder lives there)."""
    require_desktop()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "QT_QPA_PLATFORM": "xcb"}
    env.pop("OPENAI_API_KEY", None)
    return env


def test_package_metadata_and_layout(installation: Installation) -> None:
    fields = _run(["dpkg-deb", "-f", str(installation.deb), "Package", "Version", "Depends"]).stdout
    assert f"Version: {desktop_app.__version__}" in fields and "libportaudio2" in fields
    files = set(installation.files)
    for path in ("/opt/sayso/sayso", SAYSO, "/usr/share/applications/sayso.desktop",
                 "/usr/share/metainfo/io.github.sayso.Sayso.metainfo.xml",
                 "/usr/share/icons/hicolor/scalable/apps/sayso.svg",
                 "/usr/share/icons/hicolor/48x48/apps/sayso.png"):
        assert path in files, path
    assert os.path.realpath(SAYSO) == "/opt/sayso/sayso"
    assert (Path("/opt/sayso/_internal/resources/icons/sayso.svg")).is_file()
    assert desktop_file_validate(Path("/usr/share/applications/sayso.desktop")).returncode == 0


def test_bundle_is_under_the_size_limit(installation: Installation) -> None:
    assert (installation.bundle / "sayso").is_file()
    size = _size_mb(installation.bundle)
    assert size < BUNDLE_LIMIT_MB, f"the unpacked bundle is {size:.1f} MB (limit {BUNDLE_LIMIT_MB:.0f} MB)"
    # What the package declares (KiB) is the same bundle plus icons and metadata: it must agree.
    installed_kib = int(_run(["dpkg-deb", "-f", str(installation.deb), "Installed-Size"]).stdout.split()[-1])
    assert size * 1e6 / 1024 <= installed_kib


def test_installed_version(installation: Installation) -> None:
    assert _run([SAYSO, "--version"]).stdout.strip() == f"Sayso {desktop_app.__version__}"


def test_installed_self_test(installation: Installation, app_env: dict[str, str], tmp_path: Path) -> None:
    result = _run([SAYSO, "--profile", str(tmp_path / "profile"), "--self-test"], env=app_env, check=False)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    for line in ("(frozen)", "ok   modules", "ok   qt platform plugin  xcb", "ok   tray", "ok   microphone",
                 "ok   speaker", "ok   keyring", "self-test passed"):
        assert line in report, f"{line!r} missing from:\n{report}"


def test_installed_self_test_fails_without_a_display(installation: Installation, app_env: dict[str, str],
                                                    tmp_path: Path) -> None:
    """A broken session is reported, named, and exits 1 (what a user pastes into a bug report)."""
    env = {key: value for key, value in app_env.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = _run([SAYSO, "--profile", str(tmp_path / "profile"), "--self-test"], env=env, check=False)
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    for line in ("FAIL display             RuntimeError: no display: neither DISPLAY nor WAYLAND_DISPLAY is set",
                 "FAIL qt                  not started: no display", "ok   modules", "ok   keyring"):
        assert line in report, f"{line!r} missing from:\n{report}"
    assert result.stdout.strip().splitlines()[-1] == "self-test FAILED: display, qt", report


class InstalledApp:
    def __init__(self, profile: Path, env: dict[str, str]) -> None:
        self.profile, self.env = profile, env
        self.output = profile.parent / f"{profile.name}-output.log"
        with self.output.open("w") as out:
            self.process = subprocess.Popen([SAYSO, "--profile", str(profile)], env=env, stdout=out,
                                            stderr=subprocess.STDOUT)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run([SAYSO, "--profile", str(self.profile), *args], env=self.env, timeout=30, check=False)

    def status(self) -> dict[str, Any] | None:
        if self.process.poll() is not None:
            raise AssertionError(f"sayso exited with {self.process.returncode}:\n{self.output.read_text()}")
        result = self.cli("status")
        return json.loads(result.stdout) if result.returncode == 0 else None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture()
def running_app(installation: Installation, app_env: dict[str, str], tmp_path: Path) -> Iterator[InstalledApp]:
    app = InstalledApp(tmp_path / "profile", app_env)
    try:
        yield app
    finally:
        app.stop()


def test_installed_gui_shows_tray_follows_autostart_and_quits(installation: Installation,
                                                               running_app: InstalledApp,
                                                               app_env: dict[str, str]) -> None:
    def with_tray() -> dict[str, Any]:
        status = running_app.status()
        return status if status and status.get("tray") else {}  # {} = keep waiting

    status = wait_for(with_tray, 60, "the installed app's tray")
    assert status["tray"] is True and status["pid"] == running_app.process.pid

    entry = Path(app_env["XDG_CONFIG_HOME"]) / "autostart" / "sayso.desktop"
    assert not entry.exists()
    assert running_app.cli("config", "set", "ui.autostart", "true").returncode == 0
    wait_for(entry.is_file, 10, "the running app to write the autostart entry")
    result = desktop_file_validate(entry)
    assert result.returncode == 0, result.stdout + result.stderr
    exec_line = next(line for line in entry.read_text().splitlines() if line.startswith("Exec="))
    command = shlex.split(exec_line.removeprefix("Exec=").replace("\\\\", "\\"))
    assert os.path.realpath(command[0]) == "/opt/sayso/sayso", exec_line
    assert "--minimized" in command
    try_exec = next(line for line in entry.read_text().splitlines() if line.startswith("TryExec="))
    assert os.path.realpath(try_exec.removeprefix("TryExec=")) == "/opt/sayso/sayso", try_exec
    installation.autostart_entry = entry.read_text()

    # What the session would do at login: run the entry's command (default profile of this user's config).
    login_env = {**app_env, "HOME": str(running_app.profile.parent / "home"),
                 "XDG_DATA_HOME": str(running_app.profile.parent / "home-data"),
                 "XDG_STATE_HOME": str(running_app.profile.parent / "home-state"),
                 "XDG_CONFIG_HOME": str(running_app.profile.parent / "home-config")}
    login = subprocess.Popen(command, env=login_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def login_status() -> dict[str, Any]:
            assert login.poll() is None, f"the autostart command exited with {login.returncode}"
            result = _run([SAYSO, "status"], env=login_env, timeout=30, check=False)
            answer: dict[str, Any] = json.loads(result.stdout) if result.returncode == 0 else {}
            return answer

        started = wait_for(login_status, 60, "the app started by the autostart entry")
        assert started["pid"] == login.pid and started["window_visible"] is False  # --minimized: tray only
        assert _run([SAYSO, "quit"], env=login_env, timeout=30).returncode == 0
        assert login.wait(30) == 0
    finally:
        if login.poll() is None:
            login.kill()
            login.wait(10)

    assert running_app.cli("config", "set", "ui.autostart", "false").returncode == 0
    wait_for(lambda: not entry.exists(), 10, "the running app to remove the autostart entry")

    assert running_app.cli("quit").returncode == 0
    assert running_app.process.wait(30) == 0


def _gio() -> str:
    gio = shutil.which("gio")
    assert gio, "gio is missing: apt-get install libglib2.0-bin"
    return gio


def test_removal_leaves_nothing_behind(installation: Installation, tmp_path: Path) -> None:
    # The user's autostart entry is in their home: no package manager removes it. It names its program in
    # TryExec, so once the program is gone desktops skip it instead of failing at every login.
    assert installation.autostart_entry, "the GUI test did not leave the entry it wrote"
    entry = tmp_path / "autostart" / "sayso.desktop"
    entry.parent.mkdir()
    entry.write_text(installation.autostart_entry)
    try_exec = next(line for line in entry.read_text().splitlines() if line.startswith("TryExec="))
    program = try_exec.removeprefix("TryExec=")
    assert os.access(program, os.X_OK)

    _run(["dpkg", "-r", "sayso"])  # what most users run: remove, not purge
    assert not _installed()
    left = [path for path in installation.files if os.path.lexists(path) and not os.path.isdir(path)]
    assert left == [], left
    assert not os.path.lexists("/opt/sayso")
    assert _snapshot() == installation.before

    assert not os.path.lexists(program)
    launch = _run([_gio(), "launch", str(entry)], check=False)
    assert launch.returncode != 0 and "Unable to load" in launch.stderr, launch.stdout + launch.stderr

    _run(["dpkg", "--purge", "sayso"])  # drops what dpkg keeps of a removed package (its postrm, status)
    assert _status() in ("", "not-installed")
    assert _snapshot() == installation.before

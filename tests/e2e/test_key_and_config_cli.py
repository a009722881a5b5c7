"""`sayso key …` through the real gnome-keyring (and with no Secret Service at all), and `sayso config …`
on real files, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.app_process import sayso_cli, start_app

FAKE_KEY = "sk-proj-" + "Zq3v9" * 9  # looks real, is not


def _env_without_key() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    return env


def _every_byte_under(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())


def test_key_round_trip_through_the_real_keyring_leaves_no_trace(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    env = _env_without_key()
    sayso_cli(profile, "config", "set", "api.base_url", "http://127.0.0.1:9/v1", env=env)

    stored = sayso_cli(profile, "key", "set", env=env, input_text=FAKE_KEY + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "stored in the system keyring" in stored.stdout
    assert FAKE_KEY not in stored.stdout + stored.stderr

    status = sayso_cli(profile, "key", "status", env=env)
    assert status.returncode == 0
    assert "system keyring for 127.0.0.1:9" in status.stdout
    assert "sk-…" in status.stdout and FAKE_KEY not in status.stdout

    looked_up = subprocess.run(["secret-tool", "lookup", "service", "sayso", "username", "127.0.0.1:9"],
                               capture_output=True, text=True, env=env, timeout=30, check=False)
    assert looked_up.stdout == FAKE_KEY, "the key is in the Secret Service, under service 'sayso', per host"

    doctor = sayso_cli(profile, "doctor", env=env)
    assert FAKE_KEY not in doctor.stdout + doctor.stderr

    app = start_app(profile, env=env)  # the GUI reads the key at start and writes logs
    assert app.quit() == 0
    assert FAKE_KEY.encode() not in _every_byte_under(profile), "no byte of the key in the profile or its logs"
    assert FAKE_KEY[8:].encode() not in _every_byte_under(profile)

    cleared = sayso_cli(profile, "key", "clear", env=env)
    assert cleared.returncode == 0 and "removed" in cleared.stdout
    after = sayso_cli(profile, "key", "status", env=env)
    assert after.returncode == 1 and "No API key is set" in after.stdout


def test_environment_key_is_reported_masked_and_not_stored(tmp_path: Path) -> None:
    env = dict(_env_without_key(), OPENAI_API_KEY=FAKE_KEY)
    status = sayso_cli(tmp_path / "p", "key", "status", env=env)
    assert status.returncode == 0
    assert "OPENAI_API_KEY" in status.stdout and FAKE_KEY not in status.stdout


def test_key_from_argv_is_impossible(tmp_path: Path) -> None:
    result = sayso_cli(tmp_path / "p", "key", "set", FAKE_KEY, env=_env_without_key())
    assert result.returncode == 2  # the parser refuses: keys are read from stdin only


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def bus_without_secret_service(tmp_path: Path) -> Iterator[str]:
    """A session bus with no Secret Service on it and no service activation (nothing can start one)."""
    config = tmp_path / "bus.conf"
    config.write_text(BUS_CONFIG)
    daemon = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile",
                               "--print-address=1"], stdout=subprocess.PIPE, text=True)
    assert daemon.stdout is not None
    address = daemon.stdout.readline().strip()
    try:
        yield address
    finally:
        daemon.terminate()
        daemon.wait(10)


@pytest.mark.parametrize("bus", ["empty-bus", "no-bus"])
def test_without_a_secret_service_the_cli_says_what_to_do(tmp_path: Path, bus: str,
                                                          bus_without_secret_service: str) -> None:
    env = _env_without_key()
    if bus == "empty-bus":
        env["DBUS_SESSION_BUS_ADDRESS"] = bus_without_secret_service
    else:
        env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent/bus"
    for args, stdin in ((("key", "status"), None), (("key", "set"), FAKE_KEY + "\n")):
        result = sayso_cli(tmp_path / "p", *args, env=env, input_text=stdin)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        message = result.stderr
        assert "keyring" in message.lower()
        assert "OPENAI_API_KEY" in message, "the message names the alternative"
        assert "Traceback" not in message
    assert FAKE_KEY.encode() not in _every_byte_under(tmp_path), "never a plaintext fallback"


def test_the_app_keeps_running_without_a_secret_service(tmp_path: Path, bus_without_secret_service: str) -> None:
    env = dict(_env_without_key(), DBUS_SESSION_BUS_ADDRESS=bus_without_secret_service)
    app = start_app(tmp_path / "profile", env=env)
    assert app.status() is not None
    assert app.quit() == 0


def test_config_set_validates_and_a_running_app_picks_it_up(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    bad = sayso_cli(profile, "config", "set", "dictation.mode", "sometimes")
    assert bad.returncode == 2
    assert "expected one of: push-to-talk, toggle" in bad.stderr
    unknown = sayso_cli(profile, "config", "set", "dictation.volume", "3")
    assert unknown.returncode == 2 and "Unknown setting" in unknown.stderr

    app = start_app(profile)
    try:
        good = sayso_cli(profile, "config", "set", "dictation.mode", "toggle")
        assert good.returncode == 0 and good.stdout.strip() == "dictation.mode = toggle"
        assert sayso_cli(profile, "config", "get", "dictation.mode").stdout.strip() == "toggle"
    finally:
        assert app.quit() == 0


def test_an_older_settings_file_migrates(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "settings.json").write_text(json.dumps(
        {"schema_version": 1, "hotkey": "Ctrl+Alt+J", "mode": "toggle", "paste_method": "copy_only"}))
    assert sayso_cli(profile, "config", "get", "dictation.hotkey").stdout.strip() == "Ctrl+Alt+J"
    assert sayso_cli(profile, "config", "get", "insert.method").stdout.strip() == "clipboard"
    assert sayso_cli(profile, "config", "set", "read.voice", "cedar").returncode == 0
    data = json.loads((profile / "settings.json").read_text())
    assert data["schema_version"] == 2
    assert data["dictation"]["hotkey"] == "Ctrl+Alt+J"
    assert data["read"]["voice"] == "cedar"

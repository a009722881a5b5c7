"""dictation.engine: openai | local | auto, the reason shown to the user, and the first-start texts."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.providers.local_models import local_model_status
from desktop_app.services.engine_choice import (
    Reachability,
    choose_engine,
    describe_local_engine,
    first_start_message,
    tcp_reachable,
)


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # bound then closed: connecting is refused at once


@pytest.fixture
def listening_url() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_auto_with_the_server_unreachable_goes_local_and_says_so(closed_port_url: str) -> None:
    choice = choose_engine("auto", has_key=True, base_url=closed_port_url, reachable=Reachability())
    assert choice.engine == "local"
    assert "cannot be reached" in choice.reason and "127.0.0.1" in choice.reason


def test_auto_with_a_key_and_a_reachable_server_uses_openai(listening_url: str) -> None:
    choice = choose_engine("auto", has_key=True, base_url=listening_url, reachable=Reachability())
    assert choice.engine == "openai" and "reachable" in choice.reason


def test_auto_without_a_key_goes_local_without_asking_the_network() -> None:
    def must_not_probe(_url: str) -> bool:
        raise AssertionError("no key: the network must not be asked")

    choice = choose_engine("auto", has_key=False, base_url="https://api.openai.com/v1", reachable=must_not_probe)
    assert choice.engine == "local" and "no OpenAI API key" in choice.reason


@pytest.mark.parametrize("setting", ["openai", "local"])
def test_an_explicit_engine_is_kept(setting: str, closed_port_url: str) -> None:
    choice = choose_engine(setting, has_key=False, base_url=closed_port_url, reachable=Reachability())
    assert choice.engine == setting and f"engine = {setting}" in choice.reason


def test_reachability_is_cached_per_url_for_its_ttl(listening_url: str, closed_port_url: str) -> None:
    now = [0.0]
    probes: list[str] = []

    def probe(url: str) -> bool:
        probes.append(url)
        return tcp_reachable(url)

    reach = Reachability(probe, ttl_s=30, clock=lambda: now[0])
    assert reach(listening_url) and reach(listening_url)
    assert not reach(closed_port_url)
    assert probes == [listening_url, closed_port_url]
    now[0] = 31.0
    assert reach(listening_url)
    assert probes == [listening_url, closed_port_url, listening_url]


def test_first_start_without_a_key_offers_both_ways_with_the_download_size(tmp_path: Path) -> None:
    text = first_start_message(local_model_status("base.en", tmp_path))
    assert "No OpenAI API key" in text and "sayso key set" in text
    assert "base.en" in text and "148 MB" in text and "no key" in text


def test_first_start_with_a_ready_model_says_dictation_works_now(meeting_model_dir: Path, tmp_path: Path) -> None:
    text = first_start_message(local_model_status(str(meeting_model_dir), tmp_path))
    assert "ready" in text and "works now" in text


def test_doctor_line_for_each_model_state(meeting_model_dir: Path, tmp_path: Path) -> None:
    ready = describe_local_engine(True, local_model_status(str(meeting_model_dir), tmp_path), "pip …")
    assert ready.startswith("Local transcription: faster-whisper installed")
    assert f"ready in {meeting_model_dir}" in ready
    pending = describe_local_engine(False, local_model_status("tiny.en", tmp_path), "pip install 'sayso[local]'")
    assert "NOT installed (pip install 'sayso[local]')" in pending and "not downloaded yet (78 MB" in pending
    unknown = describe_local_engine(True, local_model_status("huge", tmp_path), "")
    assert "unusable: Unknown local model 'huge'" in unknown


def test_first_start_without_the_local_engine_gives_the_install_step_not_a_download(tmp_path: Path) -> None:
    text = first_start_message(local_model_status("base.en", tmp_path), False, "pip install 'sayso[local]'")
    assert "not installed" in text and "Install it with: pip install 'sayso[local]'" in text
    assert "Sayso downloads" not in text  # no promise that would end in "faster-whisper not installed"
    assert "148 MB" in text and "sayso key set" in text  # both ways still there, with the size


def test_the_welcome_text_checks_that_faster_whisper_is_installed(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from desktop_app.app.gui import welcome_text
    from desktop_app.core.settings import Settings
    from desktop_app.storage.profile import resolve_profile

    settings, profile = Settings(), resolve_profile(tmp_path)
    assert "Sayso downloads the local model" in welcome_text(settings, profile)
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # as if the `local` extra was never installed
    missing = welcome_text(settings, profile)
    assert "faster-whisper), which is not installed" in missing and "scripts/setup.sh" in missing

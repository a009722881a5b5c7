"""Offline mode through the app's own wiring: `sayso transcribe --engine local` as a process, the engine
choice of the dictation flow (auto with a key and no server), and the first local dictation that downloads
its model (progress lines, cancel, resume) from a local hub."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from desktop_app.app import offline
from desktop_app.app.dictation import transcriber_factory
from desktop_app.app.offline import LocalEngineTranscriber, preload_local_model
from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import Cancelled
from desktop_app.core.models import EncodedAudio, Transcript, TranscriptionOptions
from desktop_app.core.settings import Settings
from desktop_app.providers import local_engine_process
from desktop_app.providers.local_models import local_model_status
from desktop_app.providers.model_download import staging_dir
from desktop_app.services.credentials import Credentials
from desktop_app.storage.profile import Profile, resolve_profile
from tests.offline.conftest import JFK_TEXT
from tests.offline.model_server import ModelServer
from tests.support.app_process import sayso_cli
from tests.support.desktop import wait_for, word_recall


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"  # nobody listens there once the socket closes


class NoKeyring:
    """A secret store that must not be asked: the key comes from the environment in these tests."""

    def _asked(self, what: str) -> AssertionError:
        return AssertionError(f"the keyring was asked ({what}) although the key is in the environment")

    def get(self, account: str) -> str | None:
        raise self._asked("get")

    def set(self, account: str, secret: str) -> None:
        raise self._asked("set")

    def delete(self, account: str) -> bool:
        raise self._asked("delete")

    def backend_name(self) -> str:
        raise self._asked("backend_name")


@pytest.fixture
def cli_env() -> dict[str, str]:
    """No key, and an API base URL where nothing listens: any attempt to reach OpenAI would fail loudly."""
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env.update(OPENAI_BASE_URL=closed_port_url(), HF_HUB_OFFLINE="1")
    return env


@pytest.fixture
def local_profile(tmp_path: Path, meeting_model_dir: Path, cli_env: dict[str, str]) -> Path:
    profile = tmp_path / "profile"
    result = sayso_cli(profile, "config", "set", "dictation.local_model", str(meeting_model_dir), env=cli_env)
    assert result.returncode == 0, result.stderr
    return profile


def test_cli_transcribe_with_the_local_engine(local_profile: Path, cli_env: dict[str, str],
                                              shared_dir: Path) -> None:
    result = sayso_cli(local_profile, "transcribe", str(shared_dir / "audio" / "jfk.flac"), "--engine", "local",
                       env=cli_env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert word_recall(JFK_TEXT, result.stdout) >= 0.8, result.stdout
    assert "Transcribing on this computer" in result.stderr


def test_cli_json_names_the_local_model_that_ran(local_profile: Path, cli_env: dict[str, str],
                                                 shared_dir: Path, meeting_model_dir: Path) -> None:
    result = sayso_cli(local_profile, "transcribe", str(shared_dir / "audio" / "jfk.flac"), "--engine", "local",
                       "--format", "json", env=cli_env, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == f"local:{meeting_model_dir.name}", data
    assert word_recall(JFK_TEXT, data["text"]) >= 0.8 and data["language"] == "en"


def test_cli_refuses_the_local_engine_over_the_realtime_transport(local_profile: Path, cli_env: dict[str, str],
                                                                  shared_dir: Path) -> None:
    result = sayso_cli(local_profile, "transcribe", str(shared_dir / "audio" / "jfk.flac"), "--engine", "local",
                       "--transport", "realtime", env=cli_env)
    assert result.returncode == 2 and result.stdout == ""
    assert "--engine local and --transport realtime do not go together" in result.stderr, result.stderr


def test_auto_with_a_key_and_the_server_unreachable_dictates_locally_and_says_why(
        tmp_path: Path, meeting_model_dir: Path, jfk_flac: EncodedAudio) -> None:
    base_url = closed_port_url()
    credentials = Credentials(NoKeyring(), {"OPENAI_API_KEY": "sk-test-never-sent", "OPENAI_BASE_URL": base_url},
                              lambda url: url)
    settings = Settings()
    settings.dictation.engine = "auto"
    settings.dictation.local_model = str(meeting_model_dir)
    status_lines: list[str] = []
    transcriber = transcriber_factory(credentials, lambda: settings, resolve_profile(tmp_path))(status_lines.append)
    assert isinstance(transcriber, LocalEngineTranscriber)
    assert status_lines == ["Transcribing on this computer: the server 127.0.0.1 cannot be reached (offline?)."]
    text = transcriber.transcribe(jfk_flac, TranscriptionOptions(model=""), lambda _d: None, CancelToken()).text
    assert word_recall(JFK_TEXT, text) >= 0.8, text


def test_preload_at_key_down_loads_the_local_model_only_when_the_dictation_will_be_local(
        tmp_path: Path, meeting_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = local_engine_process.EngineProcess(idle_s=60)
    monkeypatch.setattr(offline, "_engine", [engine])
    settings = Settings()
    settings.dictation.local_model = str(meeting_model_dir)
    profile = resolve_profile(tmp_path)
    with_key = Credentials(NoKeyring(), {"OPENAI_API_KEY": "sk-test-never-sent"}, lambda url: url)
    try:
        settings.dictation.engine = "openai"
        assert not preload_local_model(settings, with_key, profile)
        assert engine.pid is None  # no engine process for an OpenAI dictation
        settings.dictation.engine = "local"
        assert preload_local_model(settings, with_key, profile)
        assert engine.pid is not None  # the child is up with the model loaded ("load" answered)
        # A change of model or engine ends the child at once: its memory goes back.
        assert offline.release_local_model() and engine.pid is None
    finally:
        engine.stop()


# ----- the first local dictation downloads its model -----------------------------------------------------

def first_dictation(profile: Profile, hub: ModelServer, reports: list[str], audio: EncodedAudio,
                    cancel: CancelToken) -> Transcript:
    settings = Settings()
    settings.dictation.local_model = "tiny.en"
    return LocalEngineTranscriber(settings, profile, reports.append).transcribe(
        audio, TranscriptionOptions(model=""), lambda _d: None, cancel)


def percents(reports: list[str]) -> list[int]:
    return [int(line.split(": ")[-1].split("%")[0]) for line in list(reports) if line.startswith("Downloading")]


def test_first_local_dictation_downloads_the_model_with_progress_cancel_and_resume(
        hub: ModelServer, tmp_path: Path, jfk_flac: EncodedAudio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAYSO_MODEL_BASE_URL", hub.url)
    profile = resolve_profile(tmp_path / "profile").ensure()
    hub.stall_after["model.bin"] = 30_000_000  # of ~75 MB: the first attempt stops sending near 40 %
    reports: list[str] = []
    cancel = CancelToken()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            first_dictation(profile, hub, reports, jfk_flac, cancel)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    wait_for(lambda: any(p >= 35 for p in percents(reports)), 60, "download progress up to the stall")
    cancel.cancel()
    worker.join(15)
    assert not worker.is_alive() and len(failure) == 1 and isinstance(failure[0], Cancelled), failure
    shown = percents(reports)
    assert shown[0] == 0 and shown == sorted(shown) and len(set(shown)) == len(shown)  # one line per percent
    assert reports[0] == ("Downloading the local model tiny.en (78 MB): 0% (once; cancel keeps the part "
                          "downloaded)"), reports[0]
    kept = (staging_dir(profile.models_dir, "tiny.en") / "model.bin.part").stat().st_size
    assert 20_000_000 < kept <= 30_000_000  # what arrived before the cancel (35 % counts the small files too)
    assert "Transcribing on this computer…" not in reports

    del hub.stall_after["model.bin"]
    again: list[str] = []
    transcript = first_dictation(profile, hub, again, jfk_flac, CancelToken())
    assert percents(again)[0] >= 35 and percents(again)[-1] == 100, again  # resumed, not from 0
    assert again[-1] == "Transcribing on this computer…"
    assert hub.recorded("GET", "model.bin")[-1].range == f"bytes={kept}-"
    assert word_recall(JFK_TEXT, transcript.text) >= 0.8, transcript.text
    assert local_model_status("tiny.en", profile.models_dir).ready

    # The next dictation finds the model here: no download line at all.
    later: list[str] = []
    first_dictation(profile, hub, later, jfk_flac, CancelToken())
    assert later == []

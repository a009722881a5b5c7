"""Fixtures for the read-aloud service tests: the in-process fake OpenAI server, the real speech provider,
a recording sink (when timing does not matter) and a real warm Player on the test PulseAudio speaker."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from desktop_app.core.models import SAMPLE_WIDTH, ApiConfig, SpeechOptions
from desktop_app.providers.openai_tts import OpenAISpeech
from tests.fakeopenai import FakeOpenAI
from tests.support.fake_server import clean_server, module_server


class RecordingSink:
    """A ReadSink that keeps every write (instant: no real-time pacing) and counts the calls."""

    def __init__(self) -> None:
        self.pieces: list[tuple[bytes, int]] = []
        self.stops = 0
        self.drains = 0
        self.paused = False
        self._seconds = 0.0
        self.lock = threading.Lock()
        self.on_write: list[object] = []

    def write(self, pcm: bytes, sample_rate: int | None = None) -> None:
        rate = sample_rate or 24_000
        with self.lock:
            self.pieces.append((pcm, rate))
            self._seconds += len(pcm) / (SAMPLE_WIDTH * rate)

    def drain(self, timeout: float | None = None) -> bool:
        self.drains += 1
        return True

    def pause(self, paused: bool) -> None:
        self.paused = paused

    def stop(self) -> None:
        self.stops += 1

    @property
    def written_seconds(self) -> float:
        return self._seconds

    @property
    def buffered_seconds(self) -> float:
        return 0.0

    @property
    def underruns(self) -> int:
        return 0

    def audio(self) -> bytes:
        return b"".join(pcm for pcm, _rate in self.pieces)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    yield from module_server(preload=False)


@pytest.fixture
def srv(server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    yield from clean_server(server)


@pytest.fixture
def speech(srv: FakeOpenAI) -> Iterator[OpenAISpeech]:
    engine = OpenAISpeech(ApiConfig(srv.base_url, api_key=srv.api_key, timeout_s=30.0))
    yield engine
    engine.close()


@pytest.fixture
def options() -> SpeechOptions:
    return SpeechOptions(model="gpt-4o-mini-tts", voice="marin", speed=1.0)


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture(scope="module")
def warm_player() -> Iterator[object]:
    """One real Player on the test speaker, opened once (streams start slowly) and shared by the module."""
    from desktop_app.audio.playback import Player
    from tests.support.desktop import require_desktop

    require_desktop()
    player = Player()
    player.open("")
    assert player.wait_ready(10), "the PulseAudio output did not start"
    yield player
    player.close()


@pytest.fixture
def player(warm_player: object) -> Iterator[object]:
    from desktop_app.audio.playback import Player

    assert isinstance(warm_player, Player)
    warm_player.pause(False)
    yield warm_player
    warm_player.stop()
    warm_player.pause(False)

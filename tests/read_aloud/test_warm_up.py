"""Starting a reading fast (issue 5 benchmark: hotkey → first sound ≤ 60 ms beyond the server's first byte):
the read hotkey prepares the speech request while the selection is read, and one reading start looks the
key up in the keyring once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.app.read_aloud import RecentApiConfig
from desktop_app.core.settings import Settings
from desktop_app.qt.read_controller import ReadController
from desktop_app.services.credentials import Credentials
from tests.fakeopenai import FakeOpenAI
from tests.read_aloud.test_controls import Rig


class CountingStore:
    """A keyring stand-in that counts lookups (each is a D-Bus round trip with the real one)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.gets = 0

    def backend_name(self) -> str:
        return "counting"

    def get(self, account: str) -> str | None:
        self.gets += 1
        return self.secret

    def set(self, account: str, secret: str) -> None:
        self.secret = secret

    def delete(self, account: str) -> bool:
        return True


def recent(store: CountingStore, max_age_s: float = 60.0) -> RecentApiConfig:
    return RecentApiConfig(Credentials(store, {}, lambda base_url: base_url), max_age_s)


def test_starting_a_reading_looks_the_key_up_once() -> None:
    store = CountingStore("sk-test-1")
    configs, settings = recent(store), Settings()
    assert configs.has_key(settings)
    assert configs.get(settings).api_key == "sk-test-1"
    assert store.gets == 1


def test_other_api_settings_or_an_old_lookup_ask_the_keyring_again() -> None:
    store = CountingStore("sk-test-1")
    settings = Settings()
    configs = recent(store)
    configs.get(settings)
    settings.set("api.base_url", "http://localhost:9/v1")
    assert configs.get(settings).base_url == "http://localhost:9/v1"
    assert store.gets == 2
    expiring = recent(store, max_age_s=0.0)
    expiring.get(settings)
    store.secret = "sk-test-2"  # a key changed between two readings is seen by the next one
    assert expiring.get(settings).api_key == "sk-test-2"


@pytest.fixture
def rig(srv: FakeOpenAI, qtbot: QtBot) -> Iterator[Rig]:
    made = Rig(srv)
    yield made
    made.controller.stop()
    assert made.tasks.shutdown()


def test_the_read_hotkey_warms_up_while_the_selection_is_read(rig: Rig, qtbot: QtBot) -> None:
    warming = threading.Event()
    warmed_with: list[Settings] = []

    def warm_up(settings: Settings) -> None:
        warmed_with.append(settings)
        warming.set()

    def read_selection() -> str | None:
        # Returns the text only if the warm-up runs at the same time (not before, not after).
        return "Hello there. This is the selection." if warming.wait(5) else None

    controller = ReadController(rig.tasks, replace(rig.deps, read_selection=read_selection, warm_up=warm_up))
    with qtbot.waitSignal(controller.text_started, timeout=10_000) as started:
        controller.toggle()
    assert started.args == ["Hello there. This is the selection.", "selection"]
    assert warmed_with == [rig.settings]
    controller.stop()

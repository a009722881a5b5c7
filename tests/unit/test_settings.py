"""Typed settings: validation names the allowed values, older files migrate, unknown keys survive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.core.errors import SettingsError
from desktop_app.core.settings import SCHEMA_VERSION, Settings, all_keys, describe, migrate
from desktop_app.storage.settings_store import SettingsStore

REQUIRED_KEYS = [
    "api.base_url", "api.organization", "api.project", "dictation.hotkey", "dictation.mode",
    "dictation.transport", "dictation.model", "dictation.language", "dictation.prompt", "insert.method",
    "read.hotkey", "read.engine", "read.model", "read.voice", "read.speed", "read.instructions",
    "audio.input_device", "audio.output_device", "ui.start_minimized", "ui.sound_cues",
    "history.keep_audio_days",
]


def test_every_required_key_exists_with_a_help_text() -> None:
    keys = all_keys()
    for key in REQUIRED_KEYS:
        assert key in keys
        assert describe(key).help


@pytest.mark.parametrize(("key", "text", "expected"), [
    ("dictation.mode", "toggle", "toggle"),
    ("read.speed", "1.5", 1.5),
    ("ui.sound_cues", "off", False),
    ("ui.start_minimized", "yes", True),
    ("history.keep_audio_days", "7", 7),
    ("dictation.model", "my-own-model-id", "my-own-model-id"),
])
def test_text_values_are_parsed_to_their_types(key: str, text: str, expected: object) -> None:
    settings = Settings()
    settings.set(key, text)
    assert settings.get(key) == expected


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("dictation.mode", "hold-forever", "push-to-talk, toggle"),
    ("insert.method", "telepathy", "paste, type, clipboard"),
    ("read.engine", "loud", "auto, speech, realtime, system"),
    ("read.speed", "9", "from 0.25 to 4"),
    ("read.speed", "fast", "from 0.25 to 4"),
    ("ui.sound_cues", "maybe", "true or false"),
    ("history.keep_audio_days", "1.5", "whole number"),
    ("read.speed", "nan", "from 0.25 to 4"),
])
def test_bad_values_name_the_allowed_values(key: str, value: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings().set(key, value)
    assert allowed in error.value.user_message
    assert key in error.value.user_message


def test_unknown_key_lists_the_known_ones() -> None:
    with pytest.raises(SettingsError) as error:
        Settings().set("dictation.colour", "blue")
    assert "Unknown setting 'dictation.colour'" in error.value.user_message
    assert "dictation.hotkey" in error.value.user_message


def test_version_1_file_migrates_to_sections() -> None:
    old = {"hotkey": "Ctrl+Shift+H", "mode": "hold", "paste_method": "keyboard", "voice": "coral",
           "speed": 1.25, "base_url": "http://localhost:8000/v1", "something_else": 3}
    settings = Settings.from_dict(old)
    assert settings.dictation.hotkey == "Ctrl+Shift+H"
    assert settings.dictation.mode == "push-to-talk"
    assert settings.insert.method == "type"
    assert settings.read.voice == "coral"
    assert settings.read.speed == 1.25
    assert settings.api.base_url == "http://localhost:8000/v1"
    data = settings.to_dict()
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["legacy"] == {"something_else": 3}  # nothing of the user's file is lost


def test_migrate_never_mutates_its_input() -> None:
    old = {"hotkey": "F9"}
    migrate(old)
    assert old == {"hotkey": "F9"}


def test_keys_from_a_newer_version_are_kept(tmp_path: Path) -> None:
    raw = Settings().to_dict()
    raw["dictation"]["future_knob"] = 42
    raw["brand_new_section"] = {"x": 1}
    settings = Settings.from_dict(raw)
    assert settings.to_dict()["dictation"]["future_knob"] == 42
    assert settings.to_dict()["brand_new_section"] == {"x": 1}


def test_a_damaged_value_falls_back_to_its_default_only() -> None:
    raw = Settings().to_dict()
    raw["read"]["speed"] = "very fast"
    raw["read"]["voice"] = "cedar"
    settings = Settings.from_dict(raw)
    assert settings.read.speed == 1.0
    assert settings.read.voice == "cedar"


def test_store_round_trip_is_atomic_and_keeps_no_temp_files(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    settings = Settings()
    settings.set("dictation.hotkey", "Ctrl+Alt+Space")
    store.save(settings)
    assert store.load().dictation.hotkey == "Ctrl+Alt+Space"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]
    assert json.loads((tmp_path / "settings.json").read_text())["schema_version"] == SCHEMA_VERSION


def test_store_keeps_a_damaged_file_aside(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{ not json")
    assert SettingsStore(path).load() == Settings()
    assert (tmp_path / "settings.damaged.json").read_text() == "{ not json"


def test_store_loads_an_old_file_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 1, "hotkey": "Ctrl+Alt+V", "tts_model": "tts-1"}))
    settings = SettingsStore(path).load()
    assert settings.dictation.hotkey == "Ctrl+Alt+V"
    assert settings.read.model == "tts-1"

"""Typed settings with defaults, a schema version, migration of older files and dotted-key access.

The store (``storage/settings_store.py``) reads and writes the JSON; this module owns the shape, the
validation and the migrations, so the CLI, the Settings page and tests share one definition.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core.errors import SettingsError

SCHEMA_VERSION = 2

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def _meta(help_text: str, *, choices: tuple[str, ...] = (), minimum: float | None = None,
          maximum: float | None = None) -> dict[str, Any]:
    return {"help": help_text, "choices": choices, "min": minimum, "max": maximum}


@dataclass
class ApiSettings:
    base_url: str = field(default=DEFAULT_BASE_URL, metadata=_meta(
        "Base URL of the OpenAI API or a compatible server (OPENAI_BASE_URL overrides it)."))
    organization: str = field(default="", metadata=_meta("Optional OpenAI organization id (org-…)."))
    project: str = field(default="", metadata=_meta("Optional OpenAI project id (proj_…)."))
    timeout_s: float = field(default=60.0, metadata=_meta(
        "Seconds to wait for the server before giving up.", minimum=5, maximum=600))


@dataclass
class DictationSettings:
    hotkey: str = field(default="Ctrl+Alt+D", metadata=_meta("Global dictation hotkey (Qt key text)."))
    mode: str = field(default="push-to-talk", metadata=_meta(
        "Hold the hotkey while speaking, or tap it to start and stop.", choices=("push-to-talk", "toggle")))
    transport: str = field(default="rest", metadata=_meta(
        "Upload after speaking (rest) or stream while speaking (realtime).", choices=("rest", "realtime")))
    engine: str = field(default="auto", metadata=_meta(
        "Transcribe with OpenAI, on this computer, or OpenAI when a key is set and the server reachable.",
        choices=("auto", "openai", "local")))
    model: str = field(default="gpt-transcribe", metadata=_meta(
        "Transcription model id (any id the server offers)."))
    # gpt-live-transcribe: gpt-4o-mini-transcribe (the old default) shuts down on 2027-02-26 (protocol doc §0).
    realtime_model: str = field(default="gpt-live-transcribe", metadata=_meta(
        "Transcription model for the realtime transport."))
    language: str = field(default="", metadata=_meta("Spoken language as ISO-639-1 (en, de, …); empty: auto."))
    prompt: str = field(default="", metadata=_meta("Context or spelling hints for the transcriber."))
    keywords: str = field(default="", metadata=_meta("Comma-separated words to spell correctly."))
    upload_format: str = field(default="auto", metadata=_meta(
        "How recordings are compressed for upload and history: auto (FLAC, instant to encode, up to 10 minutes; "
        "Ogg/Opus beyond), flac, or opus (a fifth of the size, ~0.7 s to encode 30 s: for slow connections).",
        choices=("auto", "flac", "opus")))
    replacements: str = field(default="", metadata=_meta(
        "Fixes applied to every transcript: 'find => replace', several separated by ';'."))
    noise_reduction: str = field(default="near_field", metadata=_meta(
        "Realtime noise reduction.", choices=("near_field", "far_field", "off")))
    realtime_delay: str = field(default="auto", metadata=_meta(
        "gpt-realtime-whisper only: wait longer for more accurate text (auto: the server's default).",
        choices=("auto", "minimal", "low", "medium", "high", "xhigh")))
    local_model: str = field(default="tiny.en", metadata=_meta(
        "Local model name to download (tiny.en, base, …) or the path of a model folder."))
    min_press_ms: int = field(default=250, metadata=_meta(
        "A push-to-talk press shorter than this is a cancel.", minimum=0, maximum=2000))


@dataclass
class InsertSettings:
    method: str = field(default="paste", metadata=_meta(
        "How text reaches the focused app.", choices=("paste", "type", "clipboard")))
    restore_clipboard: bool = field(default=True, metadata=_meta("Put the old clipboard back after pasting."))


@dataclass
class ReadSettings:
    hotkey: str = field(default="Ctrl+Alt+R", metadata=_meta("Global read-aloud hotkey (Qt key text)."))
    engine: str = field(default="auto", metadata=_meta(
        "Speech engine.", choices=("auto", "speech", "realtime", "system")))
    model: str = field(default="gpt-4o-mini-tts", metadata=_meta("Speech model id for the REST engine."))
    realtime_model: str = field(default="gpt-realtime-2.1-mini", metadata=_meta(
        "Model for the realtime speech engine."))
    voice: str = field(default="marin", metadata=_meta("Voice name (alloy, ash, coral, marin, cedar, …)."))
    speed: float = field(default=1.0, metadata=_meta("Speaking speed.", minimum=0.25, maximum=4.0))
    volume: float = field(default=1.0, metadata=_meta("Playback volume.", minimum=0.0, maximum=1.0))
    instructions: str = field(default="", metadata=_meta("How to speak (tone, accent) for models that take it."))
    strip_markdown: bool = field(default=True, metadata=_meta("Do not speak Markdown syntax and bare URLs."))
    clipboard_fallback: bool = field(default=False, metadata=_meta(
        "Read the clipboard when nothing is selected."))
    system_voice: str = field(default="", metadata=_meta("Voice of the system engine; empty: the default."))


@dataclass
class AudioSettings:
    input_device: str = field(default="", metadata=_meta("Microphone name; empty: the system default."))
    output_device: str = field(default="", metadata=_meta("Speaker name; empty: the system default."))
    keep_mic_ready: bool = field(default=False, metadata=_meta(
        "Keep the microphone running between dictations, so words begun just before the hotkey are kept too "
        "(about 1 % CPU while idle; off: it rests 5 s after a dictation and wakes within milliseconds)."))


@dataclass
class UiSettings:
    start_minimized: bool = field(default=False, metadata=_meta("Start in the tray without the window."))
    sound_cues: bool = field(default=True, metadata=_meta("Play a short sound when recording starts/stops."))
    recording_indicator: bool = field(default=True, metadata=_meta(
        "Show a small indicator while recording (never takes focus)."))
    autostart: bool = field(default=False, metadata=_meta("Start Sayso when you log in."))


@dataclass
class HistorySettings:
    keep_audio_days: int = field(default=30, metadata=_meta(
        "Days to keep recordings (0 keeps none after success, -1 keeps forever).", minimum=-1,
        maximum=36500))


@dataclass
class Settings:
    api: ApiSettings = field(default_factory=ApiSettings)
    dictation: DictationSettings = field(default_factory=DictationSettings)
    insert: InsertSettings = field(default_factory=InsertSettings)
    read: ReadSettings = field(default_factory=ReadSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    # Keys this version does not know (written by a newer Sayso): kept so a downgrade loses nothing.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    # ----- dotted access -------------------------------------------------------------------------
    def get(self, key: str) -> Any:
        section, name = _split(key)
        return getattr(getattr(self, section), name)

    def set(self, key: str, value: Any) -> None:
        """Set ``key`` from a typed value or its text form; raises SettingsError naming allowed values."""
        section, name = _split(key)
        spec = describe(key)
        setattr(getattr(self, section), name, spec.parse(value))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = copy.deepcopy(self.extra)
        for section in SECTIONS:
            data.setdefault(section, {}).update(dataclasses.asdict(getattr(self, section)))
        data["schema_version"] = SCHEMA_VERSION
        return data

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Settings:
        """Build from a stored dict of any known schema version; bad values fall back to defaults."""
        data = migrate(raw)
        settings = cls()
        extra: dict[str, Any] = {}
        for section_name, section_value in data.items():
            if section_name == "schema_version":
                continue
            if section_name not in SECTIONS or not isinstance(section_value, dict):
                extra[section_name] = section_value
                continue
            for name, value in section_value.items():
                key = f"{section_name}.{name}"
                if key not in _SPECS:
                    extra.setdefault(section_name, {})[name] = value
                    continue
                try:
                    settings.set(key, value)
                except SettingsError:
                    pass  # a damaged value keeps its default; the rest of the file still counts
        settings.extra = extra
        return settings


SECTIONS = ("api", "dictation", "insert", "read", "audio", "ui", "history")


@dataclass(frozen=True)
class SettingSpec:
    key: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def allowed(self) -> str:
        if self.choices:
            return "one of: " + ", ".join(self.choices)
        if self.type is bool:
            return "true or false"
        if self.type in (int, float):
            kind = "a whole number" if self.type is int else "a number"
            if self.minimum is not None and self.maximum is not None:
                return f"{kind} from {_fmt(self.minimum)} to {_fmt(self.maximum)}"
            return kind
        return "any text"

    def parse(self, value: Any) -> Any:
        bad = SettingsError(f"Invalid value {value!r} for {self.key}: expected {self.allowed()}.")
        if self.type is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "yes", "on", "1"):
                return True
            if text in ("false", "no", "off", "0"):
                return False
            raise bad
        if self.type in (int, float):
            if isinstance(value, bool):
                raise bad
            try:
                number: float = self.type(str(value).strip()) if isinstance(value, str) else self.type(value)
            except (TypeError, ValueError):
                raise bad from None
            if isinstance(number, float) and not math.isfinite(number):
                raise bad
            if self.type is int and isinstance(value, float) and not float(value).is_integer():
                raise bad
            if (self.minimum is not None and number < self.minimum) or (
                    self.maximum is not None and number > self.maximum):
                raise bad
            return number
        if not isinstance(value, str):
            raise bad
        text = value.strip() if self.key != "dictation.prompt" else value
        if self.choices and text not in self.choices:
            raise bad
        if "\n" in text and self.key not in ("dictation.prompt", "read.instructions"):
            raise bad
        return text


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _build_specs() -> dict[str, SettingSpec]:
    specs: dict[str, SettingSpec] = {}
    defaults = Settings()
    for section in SECTIONS:
        for f in dataclasses.fields(getattr(defaults, section)):
            key = f"{section}.{f.name}"
            specs[key] = SettingSpec(
                key=key,
                type=type(getattr(getattr(defaults, section), f.name)),
                default=getattr(getattr(defaults, section), f.name),
                help=f.metadata.get("help", ""),
                choices=f.metadata.get("choices", ()),
                minimum=f.metadata.get("min"),
                maximum=f.metadata.get("max"),
            )
    return specs


_SPECS = _build_specs()


def all_keys() -> list[str]:
    return list(_SPECS)


def describe(key: str) -> SettingSpec:
    try:
        return _SPECS[key]
    except KeyError:
        raise SettingsError(f"Unknown setting {key!r}. Known settings: {', '.join(_SPECS)}.") from None


def _split(key: str) -> tuple[str, str]:
    spec = describe(key)
    section, name = spec.key.split(".", 1)
    return section, name


# ----- migrations ------------------------------------------------------------------------------------
# Version 1 (Sayso 0.0.x) kept a flat file; version 2 groups settings by section.
_V1_RENAMES = {
    "base_url": "api.base_url",
    "hotkey": "dictation.hotkey",
    "mode": "dictation.mode",
    "model": "dictation.model",
    "language": "dictation.language",
    "paste_method": "insert.method",
    "read_hotkey": "read.hotkey",
    "tts_model": "read.model",
    "voice": "read.voice",
    "speed": "read.speed",
    "input_device": "audio.input_device",
    "start_minimized": "ui.start_minimized",
}
_V1_VALUE_MAPS = {
    "dictation.mode": {"hold": "push-to-talk", "ptt": "push-to-talk", "toggle": "toggle"},
    "insert.method": {"clipboard_paste": "paste", "keyboard": "type", "copy_only": "clipboard"},
}


def _migrate_v1(old: dict[str, Any]) -> dict[str, Any]:
    new: dict[str, Any] = {"schema_version": 2}
    for old_key, value in old.items():
        if old_key == "schema_version":
            continue
        key = _V1_RENAMES.get(old_key)
        if key is None:
            new.setdefault("legacy", {})[old_key] = value
            continue
        value = _V1_VALUE_MAPS.get(key, {}).get(value, value) if isinstance(value, str) else value
        section, name = key.split(".", 1)
        new.setdefault(section, {})[name] = value
    return new


_MIGRATIONS = {1: _migrate_v1}


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring a stored dict of any older schema version to the current one (never mutates ``raw``)."""
    data = copy.deepcopy(raw)
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or version < 1:
        version = 1
    while version < SCHEMA_VERSION:
        data = _MIGRATIONS[version](data)
        version += 1
    return data

"""Which speech engine reads: one small decision, so new engines (Realtime) slot in here.

``read.engine``: *speech* (REST ``/audio/speech``), *realtime* (Realtime API), *system* (the OS voice, no
key, no network) or *auto* — the API when a key is configured, else the system voice.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.core.errors import NoApiKey, SettingsError
from desktop_app.core.models import SpeechOptions
from desktop_app.core.settings import Settings

NETWORK_ENGINES = ("speech", "realtime")
ENGINES = (*NETWORK_ENGINES, "system")


@dataclass(frozen=True)
class EngineChoice:
    name: str  # "speech", "realtime" or "system"
    reason: str  # one line for the log and `sayso speak -v`

    @property
    def needs_key(self) -> bool:
        return self.name in NETWORK_ENGINES

    @property
    def plays_itself(self) -> bool:
        """The engine drives its own audio output (no PCM for our player)."""
        return self.name == "system"


def choose_engine(setting: str, has_key: bool) -> EngineChoice:
    """The engine for ``read.engine`` = ``setting``. Raises NoApiKey when a network engine was chosen
    explicitly but no key is configured (auto falls back to the system voice instead)."""
    if setting == "auto":
        if has_key:
            return EngineChoice("speech", "auto: an API key is configured")
        return EngineChoice("system", "auto: no API key is configured, so the system voice reads")
    if setting not in ENGINES:
        raise SettingsError(f"Unknown speech engine {setting!r}; choose auto, {', '.join(ENGINES)}.")
    if setting in NETWORK_ENGINES and not has_key:
        raise NoApiKey("No API key is set, so the speech service cannot read.",
                       hint="Add a key in Settings → API, or set Read aloud → Engine to system or auto.")
    return EngineChoice(setting, f"read.engine = {setting}")


def speech_options(settings: Settings) -> SpeechOptions:
    """What the PCM engines are asked for, from the read.* settings."""
    read = settings.read
    return SpeechOptions(model=read.model, voice=read.voice, speed=read.speed, instructions=read.instructions)

"""Audio device listing and lookup by the name stored in settings.

Settings keep a device *name* ("" = system default), never a PortAudio index: indexes change when devices
come and go. A name that has vanished (unplugged headset) falls back to the default device and returns a
warning for the caller to show, instead of failing the dictation.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

import sounddevice as sd

from desktop_app.core.errors import AudioDeviceError

log = logging.getLogger(__name__)

Kind = Literal["input", "output"]

_NO_DEVICE = {
    "input": "No microphone was found.",
    "output": "No speaker or headphones were found.",
}
_HINT = {
    "input": "Connect a microphone, check that it is enabled in the system sound settings, "
             "or pick another one in Settings → Audio.",
    "output": "Connect headphones or speakers, check the system sound settings, "
              "or pick another output in Settings → Audio.",
}
_HW_SUFFIX = re.compile(r"\s*\((hw:\d+,\d+)\)\s*$")


@dataclass(frozen=True)
class AudioDevice:
    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool


@dataclass(frozen=True)
class DeviceChoice:
    """The device to open: ``index`` None means PortAudio's default. ``warning`` is for the user."""

    index: int | None
    name: str
    warning: str = ""


def translate_error(exc: BaseException, kind: Kind, device_name: str = "") -> AudioDeviceError:
    """Turn a PortAudio error into a sentence a user understands; the raw text goes to ``detail``."""
    raw = str(exc)
    low = raw.lower()
    what = "microphone" if kind == "input" else "audio output"
    label = f" “{device_name}”" if device_name else ""
    no_device = "querying device -1" in low or "no default" in low
    if no_device or ("device unavailable" in low and not device_name):
        message = _NO_DEVICE[kind]
    elif "invalid sample rate" in low or "sample rate" in low:
        message = f"The {what}{label} does not support the needed sample rate."
    elif "invalid number of channels" in low or "channel" in low:
        message = f"The {what}{label} does not support the needed number of channels."
    elif "device unavailable" in low or "busy" in low or "unanticipated host error" in low:
        message = f"The {what}{label} is busy or was disconnected."
    else:
        message = f"The {what}{label} could not be opened."
    return AudioDeviceError(message, hint=_HINT[kind], detail=raw)


def _default_index(kind: Kind) -> int:
    try:
        info: Any = sd.query_devices(kind=kind)
        return int(info["index"])
    except (sd.PortAudioError, ValueError):
        return -1


def list_devices(kind: Kind | None = None) -> list[AudioDevice]:
    """All devices (or only those that can record / play)."""
    try:
        raw: Any = sd.query_devices()
        host_apis: Any = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise translate_error(exc, kind or "input") from exc
    default_in, default_out = _default_index("input"), _default_index("output")
    devices = [
        AudioDevice(
            index=int(d["index"]),
            name=str(d["name"]),
            host_api=str(host_apis[d["hostapi"]]["name"]),
            max_input_channels=int(d["max_input_channels"]),
            max_output_channels=int(d["max_output_channels"]),
            default_samplerate=float(d["default_samplerate"]),
            is_default_input=int(d["index"]) == default_in,
            is_default_output=int(d["index"]) == default_out,
        )
        for d in raw
    ]
    if kind == "input":
        return [d for d in devices if d.max_input_channels > 0]
    if kind == "output":
        return [d for d in devices if d.max_output_channels > 0]
    return devices


def list_input_devices() -> list[AudioDevice]:
    return list_devices("input")


def list_output_devices() -> list[AudioDevice]:
    return list_devices("output")


def _stable_name(name: str) -> str:
    """ALSA names end in "(hw:1,0)", which changes with plug order; compare without it."""
    return _HW_SUFFIX.sub("", name).strip().casefold()


def resolve(name: str, kind: Kind) -> DeviceChoice:
    """The device for a settings name. Raises AudioDeviceError only when there is no device at all."""
    candidates = list_devices(kind)
    if not candidates:
        raise AudioDeviceError(_NO_DEVICE[kind], hint=_HINT[kind])
    if name:
        for match in (lambda d: d.name == name,
                      lambda d: d.name.casefold() == name.casefold(),
                      lambda d: _stable_name(d.name) == _stable_name(name)):
            found = [d for d in candidates if match(d)]
            if found:
                return DeviceChoice(found[0].index, found[0].name)
    has_default = _default_index(kind) >= 0
    flag = "is_default_input" if kind == "input" else "is_default_output"
    default = next((d for d in candidates if getattr(d, flag)), candidates[0])
    # With a PortAudio default, open with index None (it follows the system's choice); without one, take
    # the first device rather than failing.
    index = None if has_default else default.index
    warning = ""
    if name:
        what = "microphone" if kind == "input" else "audio output"
        warning = f"The {what} “{name}” is not connected; using “{default.name}” instead."
        log.warning("%s device %r not found; falling back to %r", kind, name, default.name)
    return DeviceChoice(index, default.name, warning)


def resolve_input(name: str) -> DeviceChoice:
    return resolve(name, "input")


def resolve_output(name: str) -> DeviceChoice:
    return resolve(name, "output")


def rescan() -> None:
    """Re-read the device list (PortAudio caches it at start-up; new USB/Bluetooth devices appear only after
    this). Only call it while no stream of this process is open: PortAudio is re-initialised."""
    sd._terminate()
    sd._initialize()

"""Short start/stop beeps, played on their own short-lived stream so they never mix into the player's
buffer or the recording's timing. Optional (settings: ui.sound_cues)."""

from __future__ import annotations

import logging
import threading
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import sounddevice as sd

from desktop_app.audio import devices

log = logging.getLogger(__name__)

LEAD_S = 0.15
TAIL_S = 0.25

Cue = Literal["start", "stop", "error"]
_TONES: dict[str, tuple[float, ...]] = {
    "start": (660.0, 880.0), "stop": (880.0, 660.0), "error": (330.0, 330.0)}


def cue_samples(kind: Cue, rate: int = 48000, note_s: float = 0.06,
                gain: float = 0.25) -> npt.NDArray[np.float32]:
    """Two short notes with 5 ms fades (no clicks): rising for start, falling for stop."""
    t = np.arange(int(note_s * rate)) / rate
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.005)
    notes = [np.sin(2 * np.pi * f * t) * fade for f in _TONES[kind]]
    return (gain * np.concatenate(notes)).astype(np.float32)


def cue_pcm(kind: Cue, rate: int = 24_000) -> bytes:
    """The cue as s16le PCM, to write into an already running ``Player``: reliable and instant, whereas a
    fresh stream may start late or clip its first milliseconds (see ``CuePlayer``)."""
    return (cue_samples(kind, rate) * 32767).astype("<i2").tobytes()


class CuePlayer:
    """Plays one cue at a time on its own short-lived stream; ``play`` returns at once; a new cue cuts the
    previous one. Known limit (PortAudio 19.6 through the ALSA pulse plugin): a new output stream starts
    1.5-2 s late and sometimes drops its first ~60 ms, which the silent lead-in absorbs only partly."""

    def __init__(self, device: str = "") -> None:
        self.device = device
        self._stream: sd.OutputStream | None = None
        self._done = threading.Event()
        self._done.set()
        self._samples = np.zeros(0, dtype=np.float32)
        self._pos = 0

    def play(self, kind: Cue) -> None:
        self.close()
        choice = devices.resolve_output(self.device)
        try:
            info: Any = sd.query_devices(choice.index, kind="output")
            rate = int(info["default_samplerate"])
            # Silence around the notes: a new stream's priming burst can be dropped by the ALSA pulse plugin
            # (seen here: the first ~60 ms), and the stream must not stop before the notes left the buffer.
            lead = np.zeros(int(LEAD_S * rate), dtype=np.float32)
            tail = np.zeros(int(TAIL_S * rate), dtype=np.float32)
            self._samples, self._pos = np.concatenate((lead, cue_samples(kind, rate), tail)), 0
            self._done.clear()
            self._stream = sd.OutputStream(device=choice.index, samplerate=rate, channels=1, dtype="float32",
                                           latency="low", blocksize=int(0.01 * rate),
                                           callback=self._callback, finished_callback=self._done.set)
            self._stream.start()
        except sd.PortAudioError as exc:  # a missing beep is not worth failing a dictation for
            self._done.set()
            reason = devices.translate_error(exc, "output").user_message
            log.warning("could not play the %s cue: %s", kind, reason)

    def _callback(self, outdata: npt.NDArray[np.float32], frames: int, _time: Any,
                  _status: sd.CallbackFlags) -> None:
        n = max(0, min(frames, len(self._samples) - self._pos))
        outdata[:n, 0] = self._samples[self._pos:self._pos + n]
        outdata[n:] = 0.0
        self._pos += n
        if n < frames:
            raise sd.CallbackStop

    def wait(self, timeout: float) -> bool:
        """Wait until the cue has played (tests; the app never waits for a beep)."""
        return self._done.wait(timeout)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()
            stream.close()

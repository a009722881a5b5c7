"""Gapless streaming playback from a bounded ring buffer.

One OutputStream is open for as long as the player is open; its callback only copies from a preallocated
float32 ring (scaled by the volume) and advances counters. The producer (``write``, on a worker thread) blocks
while the ring is full, so memory stays flat however long the text is; pieces written back to back play
without gaps because the stream never stops between them. Silence is output only when the ring is empty:
that is an *underrun* if more audio was expected (between ``write`` and ``drain``/``stop``), and simply
idle otherwise.

Standby (issue 2: idle in the tray must cost < 0.3 % CPU): after ``standby_after_s`` of idle silence the
callback ends the stream (``sd.CallbackStop``); the next ``write`` starts the same stream object again. Measured
(bench/audio_bench.py): a restarted stream's first sound reaches the speaker ~20 ms after the write, sooner
than on a running stream (whose device buffer is already full of silence), so reading still starts at once.

Single producer, single consumer: the producer owns ``_w`` (frames written), the callback owns ``_r`` (frames
consumed). ``stop`` asks the callback to skip to ``_w`` (``_skip_to``), so the ring is emptied within one
callback period without the callback ever taking a lock.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import sounddevice as sd

from desktop_app.audio import devices
from desktop_app.audio.resample import StreamResampler, to_float
from desktop_app.core.errors import AudioDeviceError
from desktop_app.core.models import SAMPLE_RATE

log = logging.getLogger(__name__)

BLOCK_S = 0.02  # callback period: stop() silences within about this (plus the device's own latency)
# The stream rests after this much idle silence: sentences and cues in quick succession share a running
# stream, an app idling in the tray has no audio thread waking up every 20 ms.
STANDBY_AFTER_S = 3.0
# Silence for this long before a write (longer than the device's buffer) and a running stream is restarted
# so the new sound does not queue behind the silence already in the device.
DRY_RESTART_AFTER_S = 0.15


class Player:
    """Implements ``core.ports.AudioSink``; ``write`` also accepts PCM at other rates (``sample_rate=``)."""

    def __init__(self, *, buffer_s: float = 3.0, stream_rate: int | None = None,
                 stall_timeout_s: float = 2.0, startup_timeout_s: float = 5.0,
                 standby_after_s: float | None = STANDBY_AFTER_S) -> None:
        """``standby_after_s``: stop the stream after this many idle seconds (None: keep it running)."""
        self.buffer_s = buffer_s
        self.standby_after_s = standby_after_s
        self._forced_rate = stream_rate
        self._stall_timeout_s = stall_timeout_s
        self._startup_timeout_s = startup_timeout_s
        self.device_name = ""
        self.device_warning = ""
        self.sample_rate = SAMPLE_RATE  # rate of PCM given to write() without sample_rate=
        self.stream_rate = 0  # rate the device runs at
        self.channels = 1

        self._stream: sd.OutputStream | None = None
        self._ring = np.zeros(0, dtype=np.float32)
        self._w = 0
        self._r = 0
        self._skip_to = 0
        self._played = 0
        self._epoch = 0  # bumped by stop(): a writer from an older epoch drops the rest of its data
        self._producing = False  # audio is expected: an empty ring now is an underrun
        self._paused = False
        self._volume = 1.0
        self._underruns = 0
        self._xruns = 0
        self._drain_target = 0
        self._plock = threading.Lock()  # producer side only (write/stop); the callback never takes it
        self._space = threading.Event()
        self._drained = threading.Event()
        self._ready = threading.Event()
        self._resampler: StreamResampler | None = None
        self._last_callback = 0.0
        self._paced = 0
        self._opened_at = 0.0
        self._closing = False
        self._error: AudioDeviceError | None = None
        # Serialises standby and wake-up; the callback only try-locks it (a writer waking us wins).
        self._run_lock = threading.Lock()
        self._standby = False  # the callback ended the stream because it was idle
        self._last_write = 0.0  # last write() or open(): the standby timer counts from here ...
        self._last_sound = 0.0  # ... or from the last callback that played audio, whichever is later
        self._started_at = 0.0
        self._device_setting = ""
        self._device_latency_s = 0.0  # the open stream's output latency (a dry restart waits it out)

    # -- lifecycle -------------------------------------------------------------------------------------

    def open(self, device: str, sample_rate: int = SAMPLE_RATE) -> None:
        self.close()
        self._device_setting = device
        choice = devices.resolve_output(device)
        self.device_name, self.device_warning = choice.name, choice.warning
        self.sample_rate = sample_rate
        self.stream_rate, self.channels = self._pick_format(choice, sample_rate)
        self._ring = np.zeros(max(1024, int(self.buffer_s * self.stream_rate)), dtype=np.float32)
        self._w = self._r = self._skip_to = self._played = self._drain_target = 0
        self._underruns = self._xruns = 0
        self._producing = self._paused = self._closing = self._standby = False
        self._error = None
        self._resampler = None
        self._paced = 0
        self._ready.clear()
        try:
            self._stream = sd.OutputStream(device=choice.index, samplerate=self.stream_rate,
                                           channels=self.channels, dtype="float32", latency="low",
                                           blocksize=int(BLOCK_S * self.stream_rate),
                                           callback=self._callback, finished_callback=self._finished)
            self._opened_at = self._started_at = self._last_write = time.monotonic()
            self._device_latency_s = float(self._stream.latency or 0.0)  # fixed while the stream is open
            self._stream.start()
        except sd.PortAudioError as exc:
            self._stream = None
            raise devices.translate_error(exc, "output", device) from exc
        log.info("audio output %r open at %d Hz", self.device_name, self.stream_rate)

    def _pick_format(self, choice: devices.DeviceChoice, wanted: int) -> tuple[int, int]:
        try:
            info: Any = sd.query_devices(choice.index, kind="output")
        except (sd.PortAudioError, ValueError) as exc:
            raise devices.translate_error(exc, "output", choice.name) from exc
        rates = [self._forced_rate] if self._forced_rate else [wanted, int(info["default_samplerate"])]
        last: Exception | None = None
        for rate in rates:
            for channels in (1, min(2, int(info["max_output_channels"]))):
                try:
                    sd.check_output_settings(device=choice.index, samplerate=rate, channels=channels,
                                             dtype="float32")
                    return rate, channels
                except (sd.PortAudioError, ValueError) as exc:
                    last = exc
        raise devices.translate_error(last or RuntimeError("no usable format"), "output", choice.name)

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """Wait until the device clock runs (a new output stream can take ~2 s to start through the ALSA
        pulse plugin: keep the player open rather than reopening it per utterance)."""
        return self._ready.wait(timeout)

    def close(self) -> None:
        # Under the run lock: a writer waking the stream on another thread must not restart it half-closed.
        with self._run_lock:
            stream, self._stream = self._stream, None
            if stream is None:
                return
            self.stop()
            self._closing = True
            self._standby = False
            try:
                stream.abort()
                stream.close()
            except sd.PortAudioError as exc:
                log.info("closing the audio output: %s", exc)
        self._report()

    # -- PortAudio thread ------------------------------------------------------------------------------

    def _callback(self, outdata: npt.NDArray[np.float32], frames: int, _time: Any,
                  status: sd.CallbackFlags) -> None:
        if status.output_underflow:
            self._xruns += 1
        r = self._r
        skip = self._skip_to
        if skip > r:
            r = skip
        n = 0
        if not self._paused:
            n = min(frames, self._w - r)
        if n > 0:
            ring = self._ring
            size = len(ring)
            pos = r % size
            first = min(n, size - pos)
            out = outdata[:, 0]
            np.multiply(ring[pos:pos + first], self._volume, out=out[:first])
            np.multiply(ring[:n - first], self._volume, out=out[first:n])
            if self.channels > 1:
                outdata[:n, 1:] = outdata[:n, :1]
        if n < frames:
            outdata[n:] = 0.0
            if self._producing and not self._paused:
                self._underruns += 1
        r += n
        self._r = r
        self._played += n
        now = time.monotonic()
        if not self._ready.is_set():
            # PortAudio first calls back in a burst to prime the device buffer; through the ALSA pulse plugin
            # the clock then only starts 1.5-2 s later. Ready = three callbacks paced by the clock.
            paced = now - self._last_callback > 0.3 * frames / self.stream_rate
            self._paced = self._paced + 1 if paced else 0
            if self._paced >= 3:
                self._ready.set()
        self._last_callback = now
        if n:
            self._last_sound = now
            self._space.set()
        if r >= self._drain_target and not self._drained.is_set():
            self._drained.set()
        if n == 0 and self._idle_for_standby(now):
            raise sd.CallbackStop  # PortAudio ends the stream after this (silent) block; write() restarts it

    def _idle_for_standby(self, now: float) -> bool:
        limit = self.standby_after_s
        # Not ``_producing``: a writer that never drains (a cue) would keep the stream up forever, and a reader
        # waiting > limit for the server has an audible gap already; its next write restarts the stream.
        if limit is None or now - max(self._last_write, self._last_sound) < limit:
            return False
        if not self._run_lock.acquire(blocking=False):  # a writer is waking us: stay up
            return False
        try:
            if self._w > max(self._r, self._skip_to) or now - self._last_write < limit:  # re-check
                return False
            self._standby = True
            return True
        finally:
            self._run_lock.release()

    def _wake(self) -> None:
        """Audio is about to be written: restart the stream if it is in standby, or if it has run dry (a few
        ms). A running stream that has been playing silence holds ~40 ms of it queued in the device: new audio
        would wait behind that, so a fresh start gets the first sound out sooner (3-22 ms instead of ~55)."""
        with self._run_lock:
            now = self._last_write = time.monotonic()
            stream = self._stream
            if stream is None:
                return
            if self._standby:
                how = "woke from standby"
                restart = stream.stop  # the callback ended it; PortAudio starts only a stopped stream
            elif self._ran_dry(now):
                how = "restarted after silence"
                restart = stream.abort  # drop the queued silence
                self._standby = True  # the abort's finished-callback is ours, not a failure
            else:
                return
            self._started_at = now
            try:
                restart()
                stream.start()
            except sd.PortAudioError as exc:
                self._error = devices.translate_error(exc, "output", self._device_setting)
                raise self._error from exc
            finally:
                self._standby = False
        log.debug("audio output %r %s", self.device_name, how)

    def _ran_dry(self, now: float) -> bool:
        """Running, nothing left to play, and the last real sound is out of the device's buffer too (a
        high-latency device — Bluetooth, some Windows APIs — may still hold it: wait its latency out)."""
        wait_s = max(DRY_RESTART_AFTER_S, self._device_latency_s + 0.05)
        return (self._ready.is_set() and self._w <= max(self._r, self._skip_to) and not self._paused
                and now - max(self._last_sound, self._started_at) > wait_s)

    def _finished(self) -> None:
        if self._standby:  # our own CallbackStop: the stream rests, nothing failed
            return
        if not self._closing and self._error is None:
            self._error = AudioDeviceError(
                "The audio output stopped (it may have been disconnected).",
                hint="Reconnect it or pick another output in Settings → Audio.",
                detail="PortAudio output stream finished unexpectedly")
        self._space.set()
        self._drained.set()

    # -- producer --------------------------------------------------------------------------------------

    def write(self, pcm: bytes, sample_rate: int | None = None) -> None:
        """Queue s16le mono PCM (at ``sample_rate``, default: the rate given to ``open``). Blocks while the
        buffer is full; returns early, dropping the rest, if ``stop`` is called meanwhile."""
        self._raise_if_failed()
        if self._stream is None:
            raise AudioDeviceError("The audio output is not open.")
        self._wake()
        rate = sample_rate or self.sample_rate
        samples = to_float(pcm)
        with self._plock:
            epoch = self._epoch
            if rate != self.stream_rate:
                if self._resampler is None or self._resampler.in_rate != rate:
                    self._resampler = StreamResampler(rate, self.stream_rate)
                samples = self._resampler.push(samples)
        self._enqueue(samples, epoch)

    def _enqueue(self, samples: npt.NDArray[np.float32], epoch: int) -> None:
        size = len(self._ring)
        offset = 0
        while offset < len(samples):
            with self._plock:
                if epoch != self._epoch:
                    return
                free = size - (self._w - max(self._r, self._skip_to))
                if free > 0:
                    n = min(free, len(samples) - offset)
                    pos = self._w % size
                    first = min(n, size - pos)
                    self._ring[pos:pos + first] = samples[offset:offset + first]
                    self._ring[:n - first] = samples[offset + first:offset + n]
                    self._w += n  # publish after the copy: the callback reads only below _w
                    self._producing = True  # only now: an empty ring before the first data is no underrun
                    offset += n
                    continue
                self._space.clear()
            # Re-check after clearing, then sleep until the callback frees space (never a blind sleep).
            if size - (self._w - max(self._r, self._skip_to)) > 0:
                continue
            if not self._space.wait(self._stall_timeout_s):
                self._raise_if_failed()

    def drain(self, timeout: float | None = None) -> bool:
        """End of data: wait until everything written has been handed to the device. False on timeout."""
        with self._plock:
            if self._resampler is not None:  # flush the resampler's filter tail
                tail = self._resampler.push(np.zeros(64, dtype=np.float32))
                self._resampler = None
                epoch = self._epoch
            else:
                tail, epoch = None, self._epoch
        if tail is not None and len(tail):
            self._wake()  # the stream may have rested while the producer waited: data must never sit unplayed
            self._enqueue(tail, epoch)
        self._producing = False
        target = self._w
        self._drain_target = target
        self._drained.clear()
        deadline = None if timeout is None else time.monotonic() + timeout
        while max(self._r, self._skip_to) < target and self._stream is not None:
            remaining = self._stall_timeout_s if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return False
            if not self._drained.wait(min(remaining, self._stall_timeout_s)):
                self._raise_if_failed()
            self._drained.clear()
        return True

    def wait_played(self, seconds: float, timeout: float) -> bool:
        """Wait until ``played_seconds`` reaches ``seconds`` (False on timeout or device failure)."""
        deadline = time.monotonic() + timeout
        while self.played_seconds < seconds:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._check() is not None:
                return False
            self._space.clear()
            if self.played_seconds >= seconds:
                break
            self._space.wait(min(remaining, 0.5))
        return True

    def stop(self) -> None:
        """Drop everything buffered; sound stops within one callback period. The stream stays open (and
        rests in standby once it has been silent for ``standby_after_s``)."""
        with self._plock:
            self._epoch += 1
            self._skip_to = self._w
            self._producing = False
            self._resampler = None
        self._space.set()
        self._drained.set()

    def pause(self, paused: bool) -> None:
        """Paused: the callback outputs silence and keeps its place; writers block once the ring is full."""
        self._paused = paused

    # -- status ----------------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def standby(self) -> bool:
        """The stream is stopped because nothing played for ``standby_after_s``; ``write`` restarts it."""
        return self._standby

    @property
    def stream_running(self) -> bool:
        """PortAudio is calling us (False when closed or in standby: no audio thread wakes up)."""
        stream = self._stream
        return stream is not None and bool(stream.active)

    @property
    def volume(self) -> float:
        return self._volume

    def set_volume(self, volume: float) -> None:
        self._volume = float(min(1.0, max(0.0, volume)))

    @property
    def played_frames(self) -> int:
        """Frames (at ``stream_rate``) handed to the device since ``open``: the position in the stream."""
        return self._played

    @property
    def played_seconds(self) -> float:
        return self._played / self.stream_rate if self.stream_rate else 0.0

    @property
    def written_seconds(self) -> float:
        """Stream position of the end of what was written; compare with ``played_seconds``."""
        return self._w / self.stream_rate if self.stream_rate else 0.0

    @property
    def buffered_seconds(self) -> float:
        return (self._w - max(self._r, self._skip_to)) / self.stream_rate if self.stream_rate else 0.0

    @property
    def latency_s(self) -> float:
        """Output latency reported by PortAudio: sound is heard this long after ``played_frames`` moved."""
        return float(self._stream.latency) if self._stream is not None else 0.0

    @property
    def underruns(self) -> int:
        """Callbacks that ran dry while more audio was expected (audible gaps)."""
        return self._underruns

    @property
    def xruns(self) -> int:
        """Underflows reported by PortAudio itself."""
        return self._xruns

    @property
    def error(self) -> AudioDeviceError | None:
        return self._check()

    def _check(self) -> AudioDeviceError | None:
        if self._error is None and self._stream is not None and not self._closing and not self._standby:
            now = time.monotonic()
            if self._ready.is_set():
                stalled = now - max(self._last_callback, self._started_at) > self._stall_timeout_s
            else:
                stalled = now - self._opened_at > self._startup_timeout_s
            if stalled:
                self._error = AudioDeviceError(
                    "The audio output stopped playing (it may have been disconnected).",
                    hint="Reconnect it or pick another output in Settings → Audio.",
                    detail=f"no output callback for more than {self._stall_timeout_s} s")
        return self._error

    def _raise_if_failed(self) -> None:
        error = self._check()
        if error is not None:
            log.warning("audio output failed: %s (%s)", error.user_message, error.detail)
            raise error

    def _report(self) -> None:
        if self._underruns or self._xruns:
            log.info("playback: %d underrun(s), %d device underflow(s)", self._underruns, self._xruns)

"""Microphone capture with pre-roll so the first word is never cut, on a stream that rests when idle.

Standby (issue 2: idle in the tray must cost < 0.3 % CPU): the first input stream of a process takes 1-2 s
to deliver audio through PortAudio's ALSA-pulse path, so ``open`` starts the stream at once (the warm-up).
After ``standby_after_s`` without a recording the callback ends the stream (``sd.CallbackStop``: no wake-ups,
no CPU); ``mark_start`` starts the same stream object again. Measured (bench/audio_bench.py): a restarted
stream delivers audio from ≤ 10 ms after ``start()`` (only the process's first stream is slow), so speech that
begins at key-down survives; only the pre-roll before key-down is empty after a standby.

Threads: PortAudio calls ``_callback`` on its own thread. The callback only copies the block into
preallocated numpy buffers under a lock held for that copy (microseconds) and bumps counters; logging,
resampling and error reporting happen in the caller's thread (``take_recording``, ``read_new``, ``level``,
``check``).

Buffers (int16 mono at the device rate):
- a 1 s ring that receives audio while the stream runs, so ``mark_start`` can include the last ``preroll_s``
  before key-down (emptied when the stream comes back from standby: it never holds stale audio);
- a linear recording buffer of ``max_seconds`` + pre-roll, allocated once with ``np.zeros`` (the OS maps its
  pages lazily, so memory grows only as far as a recording actually reaches). When it is full, recording
  stops growing, everything so far is kept and ``limit_reached`` turns True (logged, never silent).
"""

from __future__ import annotations

import enum
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import sounddevice as sd

from desktop_app.audio import devices
from desktop_app.audio.resample import StreamResampler, resample, to_pcm16
from desktop_app.core.errors import AudioDeviceError
from desktop_app.core.models import SAMPLE_RATE, PcmAudio

log = logging.getLogger(__name__)

METER_FLOOR_DB = -60.0
BLOCK_S = 0.05  # 50 ms callbacks: the realtime pump sends 50 ms pieces; fewer wake-ups keep idle CPU low
# The stream rests this long after the last recording (or after ``open``): dictations in quick succession keep
# their pre-roll, and an app idling in the tray has no audio thread waking up.
STANDBY_AFTER_S = 5.0


class CaptureState(enum.Enum):
    CLOSED = "closed"
    ARMED = "armed"  # stream running, filling the pre-roll ring
    STANDBY = "standby"  # stream open but stopped (idle); ``mark_start`` starts it again within milliseconds
    RECORDING = "recording"
    FAILED = "failed"


@dataclass(frozen=True)
class Levels:
    rms_dbfs: float
    peak_dbfs: float
    meter: float  # 0..1 for a level meter (RMS, -60 dBFS .. 0 dBFS)


def _dbfs(value: float) -> float:
    return 20.0 * math.log10(value) if value > 1e-9 else -180.0


class MicCapture:
    """Implements ``core.ports.AudioSource``."""

    def __init__(self, *, max_seconds: float = 20 * 60, preroll_s: float = 0.3, ring_s: float = 1.0,
                 out_rate: int = SAMPLE_RATE, device_rate: int | None = None,
                 stall_timeout_s: float = 1.5, startup_timeout_s: float = 5.0,
                 standby_after_s: float | None = STANDBY_AFTER_S) -> None:
        """``standby_after_s``: stop the stream after this many idle seconds (None: keep it running)."""
        if not 0 <= preroll_s <= ring_s:
            raise ValueError("preroll_s must be between 0 and ring_s")
        self.max_seconds = max_seconds
        self.preroll_s = preroll_s
        self.ring_s = ring_s
        self.out_rate = out_rate
        self._forced_rate = device_rate
        self._stall_timeout_s = stall_timeout_s
        self._startup_timeout_s = startup_timeout_s
        self.standby_after_s = standby_after_s

        self.device_name = ""
        self.device_warning = ""  # e.g. "The microphone “X” is not connected; using …"
        self.rate = 0  # the device's rate: buffers hold audio at this rate
        self.channels = 0

        self._stream: sd.InputStream | None = None
        self._lock = threading.Lock()  # guards the fields the callback writes; held only for short copies
        self._take_lock = threading.Lock()  # serialises mark_start / take_recording / read_new copies
        # Serialises standby and wake-up. The callback only ever try-locks it (it never waits): a wake-up in
        # progress simply keeps the stream running one more block.
        self._run_lock = threading.Lock()
        self._standby = False  # the callback ended the stream because it was idle
        self._last_use = 0.0  # open, or the end of the last recording: the standby timer counts from here
        self._started_at = 0.0  # last (re)start: the stall check counts from here until audio flows again
        self._device_setting = ""
        self._ready = threading.Event()  # first audio block arrived
        self._data = threading.Event()  # set by every callback; waiters clear and re-check

        self._ring = np.zeros(0, dtype=np.int16)
        self._ring_count = 0  # frames ever written into the ring
        self._rec = np.zeros(0, dtype=np.int16)
        self._rec_len = 0
        self._recording = False
        self._full = False
        self._mix = np.zeros(0, dtype=np.int32)

        self._overflows = 0
        self._overflows_logged = 0
        self._full_logged = False
        self._last_callback = 0.0
        self._opened_at = 0.0
        self._closing = False
        self._error: AudioDeviceError | None = None
        self._error_logged = False

        self._live_pos = 0
        self._live_resampler: StreamResampler | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def open(self, device: str) -> None:
        """Start the stream on ``device`` (settings name; "" = system default). Returns at once: the first
        stream of a process can take over a second to deliver audio, see ``wait_ready``."""
        self.close()
        self._device_setting = device
        choice = devices.resolve_input(device)
        self.device_name, self.device_warning = choice.name, choice.warning
        rate, channels = self._pick_format(choice)
        self.rate, self.channels = rate, channels
        ring_frames = max(1, int(self.ring_s * rate))
        self._ring = np.zeros(ring_frames, dtype=np.int16)
        self._rec = np.zeros(int(self.max_seconds * rate) + int(self.preroll_s * rate), dtype=np.int16)
        self._mix = np.zeros(ring_frames, dtype=np.int32)
        self._ring_count = self._rec_len = 0
        self._recording = self._full = self._full_logged = self._closing = False
        self._overflows = self._overflows_logged = 0
        self._error = None
        self._error_logged = False
        self._standby = False
        self._ready.clear()
        try:
            self._stream = sd.InputStream(device=choice.index, samplerate=rate, channels=channels,
                                          dtype="int16", latency="low", blocksize=int(BLOCK_S * rate),
                                          callback=self._callback,
                                          finished_callback=self._finished)
            self._opened_at = self._started_at = self._last_use = time.monotonic()
            self._stream.start()
        except sd.PortAudioError as exc:
            self._stream = None
            raise devices.translate_error(exc, "input", device) from exc
        log.info("microphone %r open at %d Hz, %d channel(s)", self.device_name, rate, channels)

    def _pick_format(self, choice: devices.DeviceChoice) -> tuple[int, int]:
        """24 kHz mono when the device can; otherwise its own rate (resampled later) and ≤ 2 channels."""
        try:
            info: Any = sd.query_devices(choice.index if choice.index is not None else None, kind="input")
        except (sd.PortAudioError, ValueError) as exc:
            raise devices.translate_error(exc, "input", choice.name) from exc
        rates = [self._forced_rate] if self._forced_rate else [self.out_rate, int(info["default_samplerate"])]
        channel_options = [1, min(2, int(info["max_input_channels"]))]
        last: Exception | None = None
        for rate in rates:
            for channels in channel_options:
                try:
                    sd.check_input_settings(device=choice.index, samplerate=rate, channels=channels,
                                            dtype="int16")
                    return rate, channels
                except (sd.PortAudioError, ValueError) as exc:
                    last = exc
        raise devices.translate_error(last or RuntimeError("no usable format"), "input", choice.name)

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """Wait until audio flows (the pre-roll can only hold what arrived since then); False if closed."""
        return self._ready.wait(timeout) and self._stream is not None

    def close(self) -> None:
        # Under the run lock: a key-down waking the stream on another thread must not restart it half-closed
        # (it would report a microphone failure for a device change in Settings).
        with self._run_lock:
            stream, self._stream = self._stream, None
            if stream is None:
                return
            self._closing = True
            self._standby = False
            self._ready.set()  # wake anyone waiting for audio: none will come from this stream
            try:
                stream.abort()
                stream.close()
            except sd.PortAudioError as exc:  # the device may already be gone; nothing left to save
                log.info("closing the microphone stream: %s", exc)
        self._recording = False
        self._report()

    # -- PortAudio thread ------------------------------------------------------------------------------

    def _callback(self, indata: npt.NDArray[np.int16], frames: int, _time: Any,
                  status: sd.CallbackFlags) -> None:
        if status.input_overflow:
            self._overflows += 1
        mono: npt.NDArray[np.int16] | npt.NDArray[np.int32]
        if self.channels == 1:
            mono = indata[:, 0]
        else:  # average the channels without allocating: int32 scratch, then integer divide
            if frames > len(self._mix):  # never seen in practice (blocks are ~10 ms); stay correct anyway
                self._mix = np.zeros(frames, dtype=np.int32)
            mix = self._mix[:frames]
            np.sum(indata, axis=1, dtype=np.int32, out=mix)
            np.floor_divide(mix, self.channels, out=mix)
            mono = mix
        with self._lock:
            ring = self._ring
            size = len(ring)
            n = min(frames, size)  # frame f lives at f % size; only the newest `size` frames matter
            pos = (self._ring_count + frames - n) % size
            first = min(n, size - pos)
            ring[pos:pos + first] = mono[frames - n:frames - n + first]
            ring[:n - first] = mono[frames - n + first:]
            self._ring_count += frames
            if self._recording and not self._full:
                n = min(frames, len(self._rec) - self._rec_len)
                self._rec[self._rec_len:self._rec_len + n] = mono[:n]
                self._rec_len += n
                if self._rec_len == len(self._rec):
                    self._full = True
        now = self._last_callback = time.monotonic()
        if not self._ready.is_set():
            self._ready.set()
        self._data.set()
        if self._idle_for_standby(now):
            raise sd.CallbackStop  # PortAudio ends the stream after this block; _wake starts it again

    def _idle_for_standby(self, now: float) -> bool:
        limit = self.standby_after_s
        if limit is None or self._recording or now - self._last_use < limit:
            return False
        if not self._run_lock.acquire(blocking=False):  # a wake-up is running: stay up
            return False
        try:
            if self._recording or now - self._last_use < limit:  # re-check: it may have just woken us
                return False
            self._standby = True
            return True
        finally:
            self._run_lock.release()

    def _wake(self) -> None:
        """Audio is wanted now: restart the stream if it is in standby (a few ms; nothing before it is kept)."""
        with self._run_lock:
            self._last_use = time.monotonic()
            stream = self._stream
            if not self._standby or stream is None:
                return
            with self._lock:
                self._ring_count = 0  # the ring holds audio from before the standby: never use it as pre-roll
            self._started_at = time.monotonic()
            try:
                stream.stop()  # the callback ended it; PortAudio starts only a stopped stream
                stream.start()
            except sd.PortAudioError as exc:
                self._error = devices.translate_error(exc, "input", self._device_setting)
                raise self._error from exc
            self._standby = False
        log.info("microphone %r woke from standby", self.device_name)

    def _finished(self) -> None:
        if self._standby:  # our own CallbackStop: the stream rests, nothing failed
            self._data.set()
            return
        if not self._closing and self._error is None:
            self._error = AudioDeviceError(
                "The microphone stopped (it may have been unplugged).",
                hint="Reconnect it or pick another microphone in Settings → Audio.",
                detail="PortAudio input stream finished unexpectedly")
        self._data.set()

    # -- recording -------------------------------------------------------------------------------------

    def mark_start(self) -> None:
        """Key-down: the recording starts ``preroll_s`` before now (as much of it as has been captured)."""
        if self._stream is None:
            raise AudioDeviceError("The microphone is not open.", hint="Arm the microphone first.")
        self._wake()
        with self._take_lock, self._lock:
            ring, count = self._ring, self._ring_count
            pre = min(int(self.preroll_s * self.rate), count, len(ring))
            start = (count - pre) % len(ring)
            first = min(pre, len(ring) - start)
            self._rec[:first] = ring[start:start + first]
            self._rec[first:pre] = ring[:pre - first]
            self._rec_len = pre
            self._full = False
            self._full_logged = False
            self._recording = True
            self._live_pos = 0
            self._live_resampler = StreamResampler(self.rate, self.out_rate)

    def take_recording(self) -> PcmAudio:
        """Key-up: PCM s16le mono at ``out_rate`` from the pre-roll before ``mark_start`` until now.

        Works after a device failure too (returns what arrived before it). The stream stays warm."""
        with self._take_lock:
            with self._lock:
                length = self._rec_len
                self._recording = False
                self._rec_len = 0  # the callback no longer writes; the next mark_start waits for us
                self._last_use = time.monotonic()  # the standby timer starts now (with _recording: atomic)
            self._live_resampler = None
            raw = self._rec[:length]
            if self.rate == self.out_rate:
                data = raw.astype("<i2").tobytes()
            else:
                data = to_pcm16(resample(raw.astype(np.float32) / 32768.0, self.rate, self.out_rate))
        self._report()
        return PcmAudio(data, self.out_rate)

    def read_new(self, max_s: float = 0.1) -> bytes:
        """Live audio for realtime streaming: PCM (s16le mono ``out_rate``) captured since the last call,
        at most ``max_s`` of it; the rest comes on the next call. Empty when nothing is new."""
        with self._take_lock:
            resampler = self._live_resampler
            if resampler is None:
                return b""
            with self._lock:
                end = min(self._rec_len, self._live_pos + max(1, int(max_s * self.rate)))
            raw = self._rec[self._live_pos:end]
            self._live_pos = end
            if self.rate == self.out_rate:
                chunk = raw.astype("<i2").tobytes()
            else:
                chunk = to_pcm16(resampler.push(raw.astype(np.float32) / 32768.0))
        self._report()
        return chunk

    def wait_captured(self, seconds: float, timeout: float) -> bool:
        """Wait until the current recording holds ``seconds`` of audio (False on timeout or failure)."""
        deadline = time.monotonic() + timeout
        while True:
            self._data.clear()
            if self.recorded_seconds >= seconds:
                return True
            if self.check() is not None:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._data.wait(min(remaining, self._stall_timeout_s))

    def wait_for_sound(self, threshold_dbfs: float = -40.0, timeout: float = 5.0) -> bool:
        """Wait until the newest ~10 ms of input peaks above ``threshold_dbfs`` ("is the mic live?")."""
        self._wake()
        deadline = time.monotonic() + timeout
        while True:
            self._data.clear()
            if self.levels(BLOCK_S).peak_dbfs > threshold_dbfs:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.check() is not None:
                return False
            self._data.wait(min(remaining, self._stall_timeout_s))

    def wait_live(self, seconds: float, timeout: float) -> bool:
        """Wait until ``read_new`` has at least ``seconds`` of audio waiting (for a streaming loop)."""
        deadline = time.monotonic() + timeout
        while True:
            self._data.clear()
            if self._rec_len - self._live_pos >= seconds * max(self.rate, 1):
                return True
            if self.check() is not None or not self._recording:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._data.wait(min(remaining, self._stall_timeout_s))

    # -- status ----------------------------------------------------------------------------------------

    @property
    def state(self) -> CaptureState:
        if self.check() is not None:
            return CaptureState.FAILED
        if self._stream is None:
            return CaptureState.CLOSED
        if self._standby:
            return CaptureState.STANDBY
        return CaptureState.RECORDING if self._recording else CaptureState.ARMED

    @property
    def stream_running(self) -> bool:
        """PortAudio is calling us (False when closed or in standby: no audio thread wakes up)."""
        stream = self._stream
        return stream is not None and bool(stream.active)

    @property
    def error(self) -> AudioDeviceError | None:
        return self.check()

    @property
    def recorded_seconds(self) -> float:
        return self._rec_len / self.rate if self.rate else 0.0

    @property
    def overflows(self) -> int:
        """How many times the device had audio we could not take in time (PortAudio input overflow)."""
        return self._overflows

    @property
    def limit_reached(self) -> bool:
        """The recording hit ``max_seconds``: it holds everything up to the limit, nothing after."""
        return self._full

    def check(self) -> AudioDeviceError | None:
        """The device error, if any: a stream that ended on its own, or one that stopped delivering audio."""
        if self._error is None and self._stream is not None and not self._closing and not self._standby:
            now = time.monotonic()
            if self._ready.is_set():
                stalled = now - max(self._last_callback, self._started_at) > self._stall_timeout_s
            else:
                stalled = now - self._opened_at > self._startup_timeout_s
            if stalled:
                self._error = AudioDeviceError(
                    "The microphone stopped delivering audio (it may have been unplugged).",
                    hint="Reconnect it or pick another microphone in Settings → Audio.",
                    detail=f"no input callback for more than {self._stall_timeout_s} s")
        if self._error is not None and not self._error_logged:
            log.warning("microphone failed: %s (%s)", self._error.user_message, self._error.detail)
            self._error_logged = True
        return self._error

    def levels(self, window_s: float = 0.05) -> Levels:
        """RMS and peak of the last ``window_s`` of input, for a level meter."""
        if self._stream is None or not self.rate or self._standby:
            return Levels(-180.0, -180.0, 0.0)
        with self._lock:
            ring, count = self._ring, self._ring_count
            n = min(int(window_s * self.rate), count, len(ring))
            end = count % len(ring)
            idx = np.arange(end - n, end) % len(ring)
            block = ring[idx].astype(np.float32) / 32768.0
        self._report()
        if n == 0:
            return Levels(-180.0, -180.0, 0.0)
        rms = _dbfs(float(np.sqrt(np.mean(block * block))))
        peak = _dbfs(float(np.max(np.abs(block))))
        meter = min(1.0, max(0.0, (rms - METER_FLOOR_DB) / -METER_FLOOR_DB))
        return Levels(rms, peak, meter)

    def level(self) -> float:
        return self.levels().meter

    def _report(self) -> None:
        """Log, outside the audio thread, what the callback only counted."""
        if self._overflows != self._overflows_logged:
            log.warning("microphone input overflow: %d block(s) lost so far", self._overflows)
            self._overflows_logged = self._overflows
        if self._full and not self._full_logged:
            log.warning("recording reached the %.0f s limit; later audio was not recorded", self.max_seconds)
            self._full_logged = True
        self.check()

"""Audio timing and size figures on a real PulseAudio (virtual mic + speaker). Prints a Markdown table.

    .venv/bin/python bench/audio_bench.py [--long-s 60] [--jfk ../shared/audio/jfk.flac]

Uses the PulseAudio named by PULSE_SERVER/PULSE_RUNTIME_PATH, else starts a private one (tests/audio recipe).
Measures:
- key-down → first sample: a tone starts in the mic; mark_start() is called the moment the tone is seen;
  the pre-roll must hold the onset (lost = how much of the tone's start is missing from the recording);
- key-down on a microphone in standby (issue 2): a continuous noise plays into the mic and ``parec`` records
  it as a timestamped reference; mark_start() wakes the stream at S; the recording's first samples are found in
  the reference by cross-correlation, and their arrival time minus S is how much speech beginning at key-down
  would be lost (an upper bound: parec's own latency counts against us);
- speaker in standby → first sound: write() on a resting stream vs on a running one, heard on the monitor;
- bytes per minute of speech: WAV, FLAC, Ogg/Opus;
- input overflows over a long recording while the main thread is busy with numpy work;
- the largest silent gap at write boundaries when 2 s of tone is written in 50 ms pieces.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from desktop_app.audio import devices, encode  # noqa: E402
from desktop_app.audio.capture import CaptureState, MicCapture  # noqa: E402
from desktop_app.audio.playback import Player  # noqa: E402
from tests.audio.conftest import MonitorRecorder, PulseServer, start_pulse  # noqa: E402
from tests.audio.signals import onset_s, pcm_to_float, to_pcm, tone, tone_span_and_largest_gap  # noqa: E402

RATE = 24_000
TRIALS = 5


class StampedRecorder:
    """``parec`` read by a thread, remembering when each piece arrived: sample index → wall time."""

    def __init__(self, env: dict[str, str], device: str) -> None:
        self.proc = subprocess.Popen(["parec", "-d", device, "--format=s16le", f"--rate={RATE}", "--channels=1",
                                      "--latency-msec=5"], env=env, stdout=subprocess.PIPE)
        self.data = bytearray()
        self.marks: list[tuple[int, float]] = []  # (samples received so far, monotonic time)
        self.lock = threading.Lock()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        stdout: Any = self.proc.stdout  # a BufferedReader: read1 returns what the pipe has
        while chunk := stdout.read1(4096):
            now = time.monotonic()
            with self.lock:
                self.data += chunk
                self.marks.append((len(self.data) // 2, now))

    def samples(self) -> np.ndarray:
        with self.lock:
            raw = bytes(self.data[:len(self.data) // 2 * 2])
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0

    def time_of(self, index: int) -> float:
        with self.lock:
            marks = list(self.marks)
        for count, when in marks:
            if count > index:
                return when - (count - index) / RATE
        raise ValueError("sample not received yet")

    def wait_samples(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.data) // 2 < count:
            if time.monotonic() > deadline:
                raise TimeoutError("parec delivered too little")
            time.sleep(0.01)  # polling a pipe reader's progress is the measurement

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)


def standby_wake_loss(server: PulseServer) -> list[float]:
    """ms between mark_start() on a resting microphone and the first recorded audio reaching the source."""
    noise = (np.random.default_rng(7).standard_normal(RATE * 40) * 0.1).clip(-0.9, 0.9)
    feeder = subprocess.Popen(["pacat", "-p", "-d", "micfeed", "--format=s16le", f"--rate={RATE}", "--channels=1",
                               "--latency-msec=20"], env=server.env, stdin=subprocess.PIPE)
    assert feeder.stdin is not None
    feeder_stdin = feeder.stdin
    stop = threading.Event()

    def feed() -> None:  # real-time pace, 40 ms ahead, so the noise never runs dry nor piles up
        sent, began = 0, time.monotonic()
        while not stop.is_set() and sent < len(noise):
            due = min(len(noise), int((time.monotonic() - began + 0.04) * RATE))
            if due > sent:
                feeder_stdin.write(to_pcm(noise[sent:due]))
                feeder_stdin.flush()
                sent = due
            stop.wait(0.005)

    reference = StampedRecorder(server.env, "mic")
    threading.Thread(target=feed, daemon=True).start()
    mic = MicCapture(standby_after_s=0.5)
    losses = []
    try:
        mic.open("")
        mic.wait_ready(10)
        for _ in range(TRIALS):
            deadline = time.monotonic() + 10
            while mic.state is not CaptureState.STANDBY:  # the standby comes from the audio thread itself
                if time.monotonic() > deadline:
                    raise TimeoutError("the microphone never went to standby")
                time.sleep(0.01)
            key_down = time.monotonic()
            mic.mark_start()
            mic.wait_captured(0.5, timeout=5)
            recorded = pcm_to_float(mic.take_recording().data)
            probe = recorded[:int(0.1 * RATE)]
            ref = reference.samples()
            window = ref[-RATE * 4:]
            corr = np.correlate(window, probe, mode="valid")
            index = len(ref) - len(window) + int(np.argmax(corr))
            losses.append(max(0.0, (reference.time_of(index) - key_down) * 1000))
    finally:
        mic.close()
        stop.set()
        feeder.kill()
        reference.stop()
    return losses


def first_sound_ms(server: PulseServer, standby: bool) -> list[float]:
    """ms from write() to the tone at the speaker monitor: on a resting stream or on a running one."""
    monitor = StampedRecorder(server.env, "speaker.monitor")
    out = Player(standby_after_s=0.3 if standby else None)
    results = []
    try:
        monitor.wait_samples(int(0.05 * RATE))
        out.open("", RATE)
        out.wait_ready(10)
        for _ in range(TRIALS):
            deadline = time.monotonic() + 10
            while standby and not out.standby:
                if time.monotonic() > deadline:
                    raise TimeoutError("the speaker never went to standby")
                time.sleep(0.01)
            if not standby:
                out.wait_played(out.played_seconds + 0.5, timeout=5)  # a running stream, idle for a while
            start_index = len(monitor.samples())
            written = time.monotonic()
            out.write(to_pcm(tone(0.2)))
            out.drain(5)
            deadline = time.monotonic() + 5
            while True:
                heard = np.flatnonzero(np.abs(monitor.samples()[start_index:]) > 0.1)
                if len(heard):
                    results.append((monitor.time_of(start_index + int(heard[0])) - written) * 1000)
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("the tone never reached the speaker monitor")
                time.sleep(0.01)
    finally:
        out.close()
        monitor.stop()
    return results


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ms (max {max(values):.0f})"


def pulse_env() -> tuple[PulseServer, bool]:
    if os.environ.get("PULSE_SERVER") or os.environ.get("PULSE_RUNTIME_PATH"):
        return PulseServer(Path(os.environ.get("PULSE_RUNTIME_PATH", "/")), None), False
    server = start_pulse(Path(tempfile.mkdtemp(prefix="sayso-audio-bench-")))
    os.environ.update({k: v for k, v in server.env.items() if k.startswith("PULSE")})
    devices.rescan()
    return server, True


def key_down_loss(mic: MicCapture, server: PulseServer, tmp: Path) -> tuple[float, float]:
    """(ms of the tone's start missing from the recording, ms between onset and mark_start)."""
    clip = tmp / "onset.wav"
    sf.write(clip, np.concatenate([np.zeros(2400, np.float32), tone(0.5)]), RATE, subtype="PCM_16")
    player = subprocess.Popen(["paplay", "-d", "micfeed", str(clip)], env=server.env)
    assert mic.wait_for_sound(-30.0, timeout=10)
    mic.mark_start()
    player.wait(timeout=10)
    mic.wait_captured(mic.recorded_seconds + 0.1, timeout=5)
    audio = pcm_to_float(mic.take_recording().data)
    onset = onset_s(audio)
    lost = 0.0 if onset > 0.005 else 1.0  # onset at 0: the start was cut (amount unknown, ≥ 0)
    return lost * 1000, (mic.preroll_s - onset) * 1000


def busy_overflows(mic: MicCapture, seconds: float) -> tuple[int, float]:
    mic.mark_start()
    stop = threading.Event()

    def hog() -> None:  # the GIL-heavy work a busy GUI thread might do
        while not stop.is_set():
            np.sort(np.random.default_rng().random(200_000))

    workers = [threading.Thread(target=hog) for _ in range(2)]
    for w in workers:
        w.start()
    mic.wait_captured(seconds, timeout=seconds + 30)
    stop.set()
    for w in workers:
        w.join()
    audio = mic.take_recording()
    return mic.overflows, audio.duration_s


def write_gap(server: PulseServer) -> tuple[float, int]:
    proc = subprocess.Popen(["parec", "-d", "speaker.monitor", "--format=s16le", f"--rate={RATE}",
                             "--channels=1", "--latency-msec=10"], env=server.env, stdout=subprocess.PIPE)
    rec = MonitorRecorder(proc)
    threading.Thread(target=rec._pump, daemon=True).start()
    rec.wait_seconds(0.05)
    out = Player(buffer_s=0.5)
    out.open("", RATE)
    out.wait_ready(10)
    for piece in np.array_split(tone(2.0), 40):
        out.write(to_pcm(piece))
    out.drain(10)
    rec.wait_seconds(rec.seconds + 0.3)
    underruns = out.underruns
    out.close()
    _s, _e, gap = tone_span_and_largest_gap(rec.stop())
    return gap * 1000, underruns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long-s", type=float, default=60.0, help="long-recording length (doc target: 600)")
    parser.add_argument("--jfk", type=Path, default=REPO.parent / "shared" / "audio" / "jfk.flac")
    args = parser.parse_args()

    server, ours = pulse_env()
    tmp = Path(tempfile.mkdtemp(prefix="sayso-audio-bench-files-"))
    rows: list[tuple[str, str]] = []
    try:
        mic = MicCapture()
        t0 = time.monotonic()
        mic.open("")
        mic.wait_ready(10)
        opened_ms = (time.monotonic() - t0) * 1000
        rows.append(("mic open → first audio (first stream of the process)", f"{opened_ms:.0f} ms"))
        lost, before = key_down_loss(mic, server, tmp)
        rows.append(("key-down: tone start missing from the recording", f"{lost:.0f} ms"))
        rows.append(("mark_start after tone onset (300 ms pre-roll)", f"{before:.0f} ms"))
        overflows, dur = busy_overflows(mic, args.long_s)
        rows.append((f"input overflows, {dur:.0f} s recording, 2 busy numpy threads", str(overflows)))
        mic.close()
        rows.append((f"key-down on a microphone in standby: speech lost after mark_start (median of {TRIALS})",
                     _spread(standby_wake_loss(server))))
        rows.append((f"write → first sound, speaker in standby (median of {TRIALS})",
                     _spread(first_sound_ms(server, standby=True))))
        rows.append((f"write → first sound, speaker stream running (median of {TRIALS})",
                     _spread(first_sound_ms(server, standby=False))))

        speech = encode.decode_file(args.jfk)
        for fmt in ("wav", "flac", "opus"):
            enc = encode.encode(speech, fmt)
            rows.append((f"{fmt.upper()} size per minute of speech (24 kHz mono)",
                         f"{encode.bytes_per_minute(enc) / 1024:.0f} KiB"))
        t0 = time.monotonic()
        out = Player()
        out.open("", RATE)
        out.wait_ready(10)
        rows.append(("player open → device clock running", f"{(time.monotonic() - t0) * 1000:.0f} ms"))
        out.close()
        gap, underruns = write_gap(server)
        rows.append(("largest gap at write boundaries (2 s tone in 40 writes)", f"{gap:.0f} ms"))
        rows.append(("playback underruns in that run", str(underruns)))
    finally:
        if ours:
            server.stop()
    print("| Measure | Result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()

"""Audio timing and size figures on a real PulseAudio (virtual mic + speaker). Prints a Markdown table.

    .venv/bin/python bench/audio_bench.py [--long-s 60] [--jfk ../shared/audio/jfk.flac]

Uses the PulseAudio named by PULSE_SERVER/PULSE_RUNTIME_PATH, else starts a private one (tests/audio recipe).
Measures:
- key-down → first sample: a tone starts in the mic; mark_start() is called the moment the tone is seen;
  the pre-roll must hold the onset (lost = how much of the tone's start is missing from the recording);
- bytes per minute of speech: WAV, FLAC, Ogg/Opus;
- input overflows over a long recording while the main thread is busy with numpy work;
- the largest silent gap at write boundaries when 2 s of tone is written in 50 ms pieces.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from desktop_app.audio import devices, encode  # noqa: E402
from desktop_app.audio.capture import MicCapture  # noqa: E402
from desktop_app.audio.playback import Player  # noqa: E402
from tests.audio.conftest import MonitorRecorder, PulseServer, start_pulse  # noqa: E402
from tests.audio.signals import onset_s, pcm_to_float, to_pcm, tone, tone_span_and_largest_gap  # noqa: E402

RATE = 24_000


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

        speech = encode.decode_file(args.jfk)
        for fmt in ("wav", "flac", "opus"):
            enc = encode.encode(speech, fmt)  # type: ignore[arg-type]
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

"""Read-aloud benchmark on the headless test desktop (run it inside scripts/test-services.sh run DIR -- …).

Measures, with the real app process, the fake OpenAI server process and the speaker monitor:

* read hotkey → first sound at the speaker, and that minus the fake server's time to first byte for the
  same first chunk (our overhead; target ≤ 60 ms), with the speaker stream running (the previous reading
  ended a moment ago) and resting in standby (idle for longer than the player's standby delay);
* the largest silent gap at chunk boundaries on the recorded monitor (target ≤ 20 ms), isolated: the fake
  server answers with a steady tone as long as the speech would be (no pauses, no silence at the ends), so
  every silence inside the recording is a gap between chunks; the longest silence inside real speech
  (espeak-ng's own sentence pauses included) is shown next to it;
* read hotkey → silence at the monitor (stop latency; goal 200 ms);
* CPU of the app process while playing; its memory (RSS) while reading a 1 MB text (should stay flat).

Usage: .venv/bin/python -m bench.read_aloud_bench [--runs 5]
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from tests.fakeopenai import FakeOpenAIProcess
from tests.support.app_process import AppProcess, start_app
from tests.support.desktop import clipboard_set, wait_for, xdotool
from tests.support.speaker import SpeakerMonitor

RATE = 24_000
STANDBY_S = 3.0  # desktop_app.audio.playback.STANDBY_AFTER_S: idle longer than this and the stream rests
SENTENCES = [f"Sentence {n} describes a quiet walk along the river on a bright morning." for n in range(1, 400)]


def first_loud(samples: np.ndarray, start: int, threshold: float = 0.01) -> int | None:
    hits = np.flatnonzero(np.abs(samples[start:]) > threshold)
    return start + int(hits[0]) if len(hits) else None


def heard_since(monitor: SpeakerMonitor, start: int) -> bool:
    return first_loud(monitor.samples(), start) is not None


def recorded_since(monitor: SpeakerMonitor, start: int, frames: int) -> bool:
    return len(monitor.samples()) - start > frames


def ttfb(base_url: str, key: str, text: str) -> float:
    """Request sent → first body byte, on a new connection (as the app's first request of a reading). The
    client is built before the clock starts: building one costs 20-40 ms of TLS setup that is not the
    server's time (the app pays it once per process, not per request)."""
    body = {"model": "gpt-4o-mini-tts", "input": text, "voice": "marin", "response_format": "pcm", "speed": 1.0}
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        started = time.perf_counter()
        with client.stream("POST", f"{base_url}/audio/speech", json=body) as response:
            for _piece in response.iter_bytes():
                return time.perf_counter() - started
    return time.perf_counter() - started


def proc_stat(pid: int) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


def first_sound(app: AppProcess, monitor: SpeakerMonitor, fake: FakeOpenAIProcess, text: str,
                idle_s: float = 0.0) -> tuple[float, float]:
    """(read hotkey → first sound, the server's TTFB for the first chunk) in seconds."""
    clipboard_set(text, "primary")
    if idle_s:
        time.sleep(idle_s)  # the condition measured: the app idle this long (its speaker stream rests)
    start = len(monitor.samples())
    began = time.perf_counter()
    xdotool("key", "--clearmodifiers", "ctrl+alt+r")
    wait_for(lambda: first_loud(monitor.samples(), start) is not None, 20, "sound")
    index = first_loud(monitor.samples(), start)
    assert index is not None
    heard = began + (index - start) / RATE
    app.cli("stop")
    app.wait_state("idle", 10)
    # The fake caches by text: time a cold request for a first chunk of the same shape and length.
    first_chunk = text[:text.index(".", text.index(".") + 1) + 1]
    server = ttfb(fake.base_url, fake.api_key, first_chunk.replace("Run", "Ran", 1))
    return heard - began, server


def longest_silence(samples: np.ndarray, threshold: float = 0.003) -> float:
    """Longest run of silence between the first and the last sound (ms)."""
    idx = np.flatnonzero(np.abs(samples) > threshold)
    if len(idx) < 2:
        return 0.0
    return float(np.diff(idx).max() - 1) / RATE * 1000


def silences(samples: np.ndarray, longer_than_ms: float, threshold: float = 0.003) -> list[float]:
    """Every run of silence between the first and the last sound longer than ``longer_than_ms`` (ms)."""
    idx = np.flatnonzero(np.abs(samples) > threshold)
    runs = (np.diff(idx) - 1) / RATE * 1000 if len(idx) > 1 else np.zeros(0)
    return [float(run) for run in runs if run > longer_than_ms]


def read_through(app: AppProcess, monitor: SpeakerMonitor, text: str) -> tuple[np.ndarray, float, float, str]:
    """Read ``text`` to the end: (the monitor from first to last sound, seconds, app CPU seconds, log line)."""
    start = len(monitor.samples())
    cpu0, _ = proc_stat(app.process.pid)
    began = time.perf_counter()
    app.cli("read", text)
    app.wait_state("speaking", 10)
    app.wait_state("idle", 180)
    elapsed = time.perf_counter() - began
    cpu1, _ = proc_stat(app.process.pid)
    samples = monitor.samples()[start:]
    loud = np.flatnonzero(np.abs(samples) > 0.003)
    line = re.findall(r"read-aloud ended: .*", app.log_text())[-1]
    return samples[loud[0]:loud[-1] + 1], elapsed, cpu1 - cpu0, line


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sayso-read-bench-"))
    rows: list[tuple[str, str, str]] = []
    with FakeOpenAIProcess() as fake:
        env = dict(os.environ, OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY=fake.api_key)
        app = start_app(tmp / "profile", env=env, args=("--minimized",))
        monitor = SpeakerMonitor(tmp / "speaker.raw", latency_ms=5)
        try:
            # 1. first sound vs. the server's TTFB (each run uses new text so the fake's cache cannot help),
            #    right after a reading (speaker stream running) and after an idle spell (stream in standby)
            for label, idle_s in (("stream running", 0.0), ("stream in standby", STANDBY_S + 1.0)):
                overheads, firsts, servers = [], [], []
                for run in range(args.runs):
                    text = f"Run {run} {time.time_ns()} starts here. " + " ".join(SENTENCES[:6])
                    first, server = first_sound(app, monitor, fake, text, idle_s)
                    firsts.append(first)
                    servers.append(server)
                    overheads.append(first - server)
                rows.append((f"{label}: read hotkey (xdotool) → first sound at the speaker (median)",
                             f"{statistics.median(firsts) * 1000:.0f} ms", "—"))
                rows.append((f"{label}: fake server's time to first byte for the first chunk (median)",
                             f"{statistics.median(servers) * 1000:.0f} ms", "—"))
                rows.append((f"{label}: overhead beyond the server's first byte (median / max)",
                             f"{statistics.median(overheads) * 1000:.0f} / {max(overheads) * 1000:.0f} ms",
                             "≤ 60 ms"))

            # 2. chunk boundaries (speed 4 keeps it short): a steady tone per chunk isolates the gaps between
            #    chunks; real speech shows them mixed with espeak's own pauses. CPU is measured on the speech.
            app.cli("config", "set", "read.speed", "4.0")
            text = " ".join(SENTENCES[:30])  # ~2,100 chars: chunks of 160, 320, 640, 1,280
            fake.set_steady_tone(True)
            try:
                tone, _, _, line = read_through(app, monitor, text)
            finally:
                fake.set_steady_tone(False)
            chunks = re.search(r"chunks=(\d+)", line).group(1)  # type: ignore[union-attr]
            tone_underruns = re.search(r"underruns=(\d+)", line).group(1)  # type: ignore[union-attr]
            gaps = silences(tone, 1.0)
            rows.append((f"{len(text):,}-char text at speed 4, {chunks} chunks, steady tone per chunk: longest "
                         "silence (= largest gap at a chunk boundary); silences > 1 ms; player underruns",
                         f"{longest_silence(tone):.1f} ms; {len(gaps)}; {tone_underruns}", "≤ 20 ms"))
            speech, elapsed, cpu, line = read_through(app, monitor, text)
            rows.append(("the same text as speech: longest silence (espeak's own sentence pauses included)",
                         f"{longest_silence(speech):.0f} ms", "—"))
            rows.append(("underruns reported by the player (speech run)",
                         re.search(r"underruns=(\d+)", line).group(1), "0"))  # type: ignore[union-attr]
            rows.append(("app CPU while reading (share of one core)", f"{cpu / elapsed * 100:.1f} %", "—"))

            # 3. stop latency: the read hotkey while speaking → the monitor goes silent
            latencies = []
            for _run in range(args.runs):
                clipboard_set(" ".join(SENTENCES[:20]), "primary")
                start = len(monitor.samples())
                xdotool("key", "--clearmodifiers", "ctrl+alt+r")
                wait_for(functools.partial(heard_since, monitor, start), 20, "sound")
                wait_for(functools.partial(recorded_since, monitor, start, RATE * 2), 10, "two seconds")
                pressed = len(monitor.samples())
                xdotool("key", "--clearmodifiers", "ctrl+alt+r")
                app.wait_state("idle", 10)
                wait_for(functools.partial(recorded_since, monitor, pressed, RATE), 5, "a second of recording")
                samples = monitor.samples()
                loud = np.flatnonzero(np.abs(samples[pressed:]) > 0.003)
                latencies.append(loud[-1] / RATE * 1000 if len(loud) else 0.0)
            rows.append(("read hotkey → silence at the monitor (median / max)",
                         f"{statistics.median(latencies):.0f} / {max(latencies):.0f} ms", "≤ 200 ms"))

            # 4. memory while reading a 1 MB text
            app.cli("config", "set", "read.speed", "1.0")
            big = "\n".join(SENTENCES) + "\n"
            big = big * (1_000_000 // len(big) + 1)
            clipboard_set(big[:2000], "primary")
            subprocess.run(["xclip", "-selection", "primary", "-i"], input=big.encode(), check=True, timeout=20,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, rss_before = proc_stat(app.process.pid)
            xdotool("key", "--clearmodifiers", "ctrl+alt+r")
            app.wait_state("speaking", 20)
            samples_rss = []
            for _ in range(20):
                time.sleep(0.5)  # the sampling interval of this measurement, not a wait for a condition
                samples_rss.append(proc_stat(app.process.pid)[1])
            app.cli("stop")
            rows.append((f"RSS while reading a {len(big) / 1e6:.1f} MB selection: before / 1 s / 10 s",
                         f"{rss_before / 1e6:.0f} / {samples_rss[1] / 1e6:.0f} / {samples_rss[-1] / 1e6:.0f} MB",
                         "flat"))
        finally:
            monitor.close()
            app.quit()
    shutil.rmtree(tmp, ignore_errors=True)
    print("| Measure | Result | Target |\n|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")


if __name__ == "__main__":
    main()

"""Read-aloud benchmark of the realtime speech engine next to the REST engine, same run, same app process.

Run it on the headless test desktop:

    bash scripts/test-services.sh run "$(mktemp -d)" -- .venv/bin/python -m bench.realtime_tts_bench [--runs 5]

Like ``bench/read_aloud_bench.py``: the real app (``read.engine`` switched between ``realtime`` and
``speech``), the fake OpenAI server as its own process, the read hotkey pressed with xdotool, and what the
user hears taken from the PulseAudio speaker monitor (``tests/support/speaker.py``). Measures, per engine:

* read hotkey → first sound at the speaker (the speaker stream running: the previous reading ended a
  moment ago; the realtime session is open, as it stays between readings in the app);
* the server's own part: realtime — the fake logs (``FAKEOPENAI_TIMING=1``, on the machine-wide monotonic
  clock) when ``response.create`` arrived and when the first ``response.output_audio.delta`` went out;
  REST — the time to first byte of the same first chunk on a new connection, as the REST bench does;
* overhead beyond the server = hotkey → first sound minus the server's part (target ≤ 60 ms), and for
  realtime also the direct figure: first sound at the speaker minus the moment the first delta was sent;
* chunk-boundary gaps at the speaker (target ≤ 20 ms): the fake answers with a steady tone as long as the
  speech, so a silence inside the recording is either a gap between chunks or a glitch of the audio output
  (a loaded machine): silences within 0.4 s of where a chunk boundary lies in the stream (from the fake's
  audio length for each chunk the read pipeline makes) are the gaps; the others are counted apart;
* read hotkey while speaking → silence at the monitor (stop; goal 200 ms).

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from bench.read_aloud_bench import first_loud, heard_since, read_through, recorded_since
from bench.read_aloud_bench import ttfb as rest_ttfb
from desktop_app.providers.openai_realtime_tts import OpenAIRealtimeSpeech
from desktop_app.services.read_aloud import chunk_sizes_for
from desktop_app.services.read_text import ChunkSizes, PreparedText
from tests.fakeopenai import FakeOpenAIProcess
from tests.support.app_process import AppProcess, start_app
from tests.support.desktop import clipboard_set, wait_for, xdotool
from tests.support.speaker import SpeakerMonitor

RATE = SpeakerMonitor.RATE
HOTKEY = "ctrl+alt+r"
SENTENCES = [f"Sentence {n} describes a quiet walk along the river on a bright morning." for n in range(1, 400)]
ENGINES = (("realtime", "realtime"), ("REST", "speech"))
_CREATE = re.compile(r"response\.create for (resp_\w+) \(chunk (\d*)\) received at monotonic ([\d.]+)")
_DELTA = re.compile(r"first audio delta of (resp_\w+) \(chunk \d*\) sent at monotonic ([\d.]+)")


def server_times(fake: FakeOpenAIProcess, since: float) -> tuple[float, float]:
    """(response.create received, first audio delta sent) for the first chunk-0 response after ``since``."""
    log = fake.log_text()
    created = [(rid, float(at)) for rid, chunk, at in _CREATE.findall(log) if chunk == "0" and float(at) > since]
    if not created:
        raise SystemExit("the fake server logged no response.create (is FAKEOPENAI_TIMING=1 set?)")
    rid, create_at = created[0]
    wait_for(lambda: rid in {r for r, _ in _DELTA.findall(fake.log_text())}, 10, "the first delta's log line")
    deltas = {r: float(at) for r, at in _DELTA.findall(fake.log_text())}
    return create_at, deltas[rid]


def first_sound(app: AppProcess, monitor: SpeakerMonitor, text: str) -> tuple[float, float]:
    """(monotonic time the hotkey was pressed, monotonic time of the first sound at the speaker)."""
    clipboard_set(text, "primary")
    start = len(monitor.samples())
    began = time.monotonic()
    xdotool("key", "--clearmodifiers", HOTKEY)
    wait_for(lambda: first_loud(monitor.samples(), start) is not None, 20, "sound")
    index = first_loud(monitor.samples(), start)
    assert index is not None
    heard = began + (index - start) / RATE
    app.cli("stop")
    app.wait_state("idle", 10)
    return began, heard


def stop_latency(app: AppProcess, monitor: SpeakerMonitor) -> float:
    """Read hotkey while speaking → the monitor goes silent (ms)."""
    clipboard_set(" ".join(SENTENCES[:20]), "primary")
    start = len(monitor.samples())
    xdotool("key", "--clearmodifiers", HOTKEY)
    wait_for(functools.partial(heard_since, monitor, start), 20, "sound")
    wait_for(functools.partial(recorded_since, monitor, start, RATE * 2), 10, "two seconds")
    pressed = len(monitor.samples())
    xdotool("key", "--clearmodifiers", HOTKEY)
    app.wait_state("idle", 10)
    wait_for(functools.partial(recorded_since, monitor, pressed, RATE), 5, "a second of recording")
    loud = np.flatnonzero(np.abs(monitor.samples()[pressed:]) > 0.003)
    return float(loud[-1] / RATE * 1000) if len(loud) else 0.0


def field(line: str, name: str) -> str:
    match = re.search(rf"{name}=(\d+)", line)
    return match.group(1) if match else "?"


def chunk_boundaries(fake: FakeOpenAIProcess, text: str, sizes: ChunkSizes, speed: float) -> list[float]:
    """Where each chunk boundary lies in the played stream (seconds after the first sound): the chunks the
    read pipeline makes of ``text``, each as long as the fake's audio for it (the same espeak-ng rendering
    serves both engines; the fake caches it, so this costs little)."""
    durations = []
    with httpx.Client(headers={"Authorization": f"Bearer {fake.api_key}"}, timeout=60) as client:
        for plan in PreparedText(text).chunks(0, sizes):
            body = {"model": "gpt-4o-mini-tts", "input": " ".join(plan.chunk.text.split()), "voice": "marin",
                    "response_format": "pcm", "speed": speed}
            response = client.post(f"{fake.base_url}/audio/speech", json=body)
            response.raise_for_status()
            durations.append(len(response.content) / (2 * RATE))
    return list(itertools.accumulate(durations))[:-1]


def gaps(samples: np.ndarray, boundaries: list[float], near_s: float = 0.4, threshold: float = 0.003,
         ) -> tuple[list[float], list[tuple[float, float]]]:
    """(the longest silence near each chunk boundary in ms, 0 when none; the silences > 1 ms elsewhere as
    (ms, seconds after the first sound)) — a steady-tone recording from its first to its last sound."""
    idx = np.flatnonzero(np.abs(samples) > threshold)
    runs = [(float(idx[n + 1] - idx[n] - 1) / RATE * 1000, float(idx[n] - idx[0]) / RATE)
            for n in np.flatnonzero(np.diff(idx) > 1 + RATE // 1000)]
    at_boundary = [max([ms for ms, at in runs if abs(at - b) <= near_s] or [0.0]) for b in boundaries]
    elsewhere = [(ms, at) for ms, at in runs if all(abs(at - b) > near_s for b in boundaries)]
    return at_boundary, elsewhere


def measure(label: str, engine: str, app: AppProcess, monitor: SpeakerMonitor, fake: FakeOpenAIProcess,
            runs: int, tone_runs: int) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    app.cli("config", "set", "read.engine", engine)
    app.cli("config", "set", "read.speed", "1.0")
    first_sound(app, monitor, "Warm up. " + SENTENCES[0])  # opens the realtime session, wakes the stream
    totals, servers, overheads, beyond_delta = [], [], [], []
    for run in range(runs):
        text = f"Run {run} {time.time_ns()} starts here. " + " ".join(SENTENCES[:6])
        began, heard = first_sound(app, monitor, text)
        if engine == "realtime":
            create_at, delta_at = server_times(fake, began)
            server = delta_at - create_at
            beyond_delta.append(heard - delta_at)
        else:
            first_chunk = text[:text.index(".", text.index(".") + 1) + 1]
            server = rest_ttfb(fake.base_url, fake.api_key, first_chunk.replace("Run", "Ran", 1))
        totals.append(heard - began)
        servers.append(server)
        overheads.append(heard - began - server)
    rows.append((f"{label}: read hotkey (xdotool) → first sound at the speaker (median)",
                 f"{statistics.median(totals) * 1000:.0f} ms", "—"))
    what = "response.create → first audio delta" if engine == "realtime" else "time to first byte"
    rows.append((f"{label}: fake server's {what}, first chunk (median)",
                 f"{statistics.median(servers) * 1000:.0f} ms", "—"))
    rows.append((f"{label}: overhead = hotkey → first sound minus the server's part (median / max)",
                 f"{statistics.median(overheads) * 1000:.0f} / {max(overheads) * 1000:.0f} ms", "≤ 60 ms"))
    if beyond_delta:
        rows.append((f"{label}: first sound at the speaker − first audio delta sent (median / max)",
                     f"{statistics.median(beyond_delta) * 1000:.0f} / {max(beyond_delta) * 1000:.0f} ms",
                     "≤ 60 ms"))

    app.cli("config", "set", "read.speed", "1.5")  # the realtime maximum; the same for REST
    text = " ".join(SENTENCES[:10])  # chunks of 160, 320 and the rest: two boundaries per reading
    sizes = chunk_sizes_for(OpenAIRealtimeSpeech)  # its class attribute if engine == "realtime" else ChunkSizes()
    boundaries = chunk_boundaries(fake, text, sizes, 1.5)
    at_boundaries: list[float] = []
    elsewhere: list[tuple[float, float]] = []
    underruns, chunks = 0, set()
    fake.set_steady_tone(True)
    try:
        for _ in range(tone_runs):
            tone, _, _, line = read_through(app, monitor, text)
            near, other = gaps(tone, boundaries)
            at_boundaries += near
            elsewhere += other
            underruns += int(field(line, "underruns"))
            chunks.add(field(line, "chunks"))
    finally:
        fake.set_steady_tone(False)
        app.cli("config", "set", "read.speed", "1.0")
    rows.append((f"{label}: {len(text):,}-char text at speed 1.5, {'/'.join(sorted(chunks))} chunks, steady tone, "
                 f"{tone_runs} readings: silence at the chunk boundaries ({len(at_boundaries)}; median / max)",
                 f"{statistics.median(at_boundaries):.1f} / {max(at_boundaries):.1f} ms", "≤ 20 ms"))
    worst = max(elsewhere, default=(0.0, 0.0))
    rows.append((f"{label}: the same readings, silences > 1 ms away from any boundary (audio-output glitches, "
                 "not gaps): count, longest; player underruns",
                 f"{len(elsewhere)}, {worst[0]:.1f} ms at {worst[1]:.1f} s; {underruns}", "—"))

    latencies = [stop_latency(app, monitor) for _ in range(runs)]
    rows.append((f"{label}: read hotkey while speaking → silence at the monitor (median / max)",
                 f"{statistics.median(latencies):.0f} / {max(latencies):.0f} ms", "≤ 200 ms"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tone-runs", type=int, default=3, help="steady-tone readings per engine (gaps)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sayso-realtime-read-bench-"))
    os.environ["FAKEOPENAI_TIMING"] = "1"  # the fake server process inherits it
    rows: list[tuple[str, str, str]] = []
    with FakeOpenAIProcess() as fake:
        env = dict(os.environ, OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY=fake.api_key)
        app = start_app(tmp / "profile", env=env, args=("--minimized",), settings={"read.engine": "realtime"})
        wait_for(lambda: "Read hotkey" in app.log_text(), 20, "the read hotkey to be registered")
        monitor = SpeakerMonitor(tmp / "speaker.raw", latency_ms=5)
        try:
            for label, engine in ENGINES:
                rows += measure(label, engine, app, monitor, fake, args.runs, args.tone_runs)
        finally:
            monitor.close()
            app.quit()
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{args.runs} runs per figure; speaker stream running; realtime session open (kept between "
          "readings).\n")
    print("| Measure | Result | Target |\n|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")


if __name__ == "__main__":
    main()

"""Read-aloud latency and chunk-boundary gaps: the realtime speech engine vs the REST engine, same run.

    bash scripts/test-services.sh run /tmp/bench-svc -- .venv/bin/python bench/realtime_tts_bench.py [--runs 5]

Runs the app's real read pipeline (``services.read_aloud.ReadAloudSession``) into the real warm player on
the PulseAudio "speaker" sink, against the in-process fake OpenAI server (espeak-ng audio; the realtime
session streams audio at about 10× real time, like the real service runs ahead of playback).

Per reading ("hotkey" = the reading starts; selection capture is not included):

- *server first audio*: the first audio from the server — ``response.output_audio.delta`` received
  (realtime), the first PCM bytes of the response body (REST);
- *overhead*: from that moment until the player's callback starts playing the first samples
  (first sound beyond the server's first delta; issue 6 target ≤ 60 ms);
- *gap*: at every chunk boundary, how long the player had nothing to play before the next chunk's first
  audio arrived (0 when audio was still queued; target ≤ 20 ms), plus the player's underrun count.

The realtime engine keeps its session between readings, like the app: run 1 includes the WebSocket
handshake and ``session.update`` (reported as "cold"), later runs are warm. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from desktop_app.audio.playback import Player  # noqa: E402
from desktop_app.core.cancel import CancelToken  # noqa: E402
from desktop_app.core.models import ApiConfig, SpeechChunk, SpeechOptions  # noqa: E402
from desktop_app.core.ports import Synthesizer  # noqa: E402
from desktop_app.providers.openai_realtime_tts import OpenAIRealtimeSpeech  # noqa: E402
from desktop_app.providers.openai_tts import OpenAISpeech  # noqa: E402
from desktop_app.services.read_aloud import ReadAloudSession  # noqa: E402
from desktop_app.services.read_text import ChunkPlan  # noqa: E402
from tests.fakeopenai import FakeOpenAI  # noqa: E402

TEXT = ("The quick brown fox jumps over the lazy dog. A small river runs past the old mill. "
        "Children play football in the green park every Sunday. The baker opens his shop at six. "
        "Fresh bread smells wonderful on a cold morning. Our neighbours walk their dog after lunch. "
        "The library closes early on Saturdays. A gentle rain fell all night long.")
OPTIONS = SpeechOptions(model="gpt-4o-mini-tts", voice="marin")


class Timeline:
    """Times of the events one reading goes through (time.monotonic)."""

    def __init__(self) -> None:
        self.start = 0.0
        self.server_first: float | None = None
        self.first_sound: float | None = None
        self.gaps_ms: list[float] = []


class FirstAudio:
    """Wraps a synthesizer: notes when the first PCM of a reading comes out of the provider."""

    def __init__(self, inner: Synthesizer, timeline: Callable[[], Timeline]) -> None:
        self.inner = inner
        self.timeline = timeline

    def synthesize(self, chunk: SpeechChunk, options: SpeechOptions,
                   on_audio: Callable[[bytes, int], None], cancel: CancelToken) -> None:
        def noted(pcm: bytes, rate: int) -> None:
            line = self.timeline()
            if line.server_first is None:
                line.server_first = time.monotonic()
            on_audio(pcm, rate)

        self.inner.synthesize(chunk, options, noted, cancel)


class GapSink:
    """The player, with the buffered audio measured whenever a new chunk's first audio arrives."""

    def __init__(self, player: Player, timeline: Callable[[], Timeline]) -> None:
        self.player = player
        self.timeline = timeline
        self.new_chunk = False
        self.first_chunk = True
        self.ran_dry_at: float | None = None

    def on_chunk(self, plan: ChunkPlan) -> None:
        self.new_chunk = True

    def write(self, pcm: bytes, sample_rate: int | None = None) -> None:
        if self.new_chunk and not self.first_chunk:
            lead = self.player.buffered_seconds
            now = time.monotonic()
            self.timeline().gaps_ms.append(0.0 if lead > 0.002 else (now - (self.ran_dry_at or now)) * 1000)
        if self.new_chunk:
            self.first_chunk = False
        self.new_chunk = False
        self.player.write(pcm, sample_rate)
        self.ran_dry_at = time.monotonic() + self.player.buffered_seconds

    def drain(self, timeout: float | None = None) -> bool:
        return self.player.drain(timeout)

    def pause(self, paused: bool) -> None:
        self.player.pause(paused)

    def stop(self) -> None:
        self.player.stop()

    @property
    def written_seconds(self) -> float:
        return self.player.written_seconds

    @property
    def buffered_seconds(self) -> float:
        return self.player.buffered_seconds

    @property
    def underruns(self) -> int:
        return self.player.underruns


def watch_first_sound(player: Player, line: Timeline, done: threading.Event) -> None:
    """Poll the player's played position: the first callback that plays audio is the first sound."""
    base = player.played_seconds
    while not done.is_set():
        if player.played_seconds > base:
            line.first_sound = time.monotonic()
            return
        time.sleep(0.0005)


def read_once(engine: Synthesizer, player: Player, line: Timeline) -> tuple[int, int]:
    sink = GapSink(player, lambda: line)
    done = threading.Event()
    watcher = threading.Thread(target=watch_first_sound, args=(player, line, done), daemon=True)
    line.start = time.monotonic()
    watcher.start()
    session = ReadAloudSession(TEXT, engine, sink, OPTIONS, on_chunk=sink.on_chunk)
    outcome = session.run(CancelToken())
    done.set()
    watcher.join()
    if outcome.error is not None:
        raise SystemExit(f"reading failed: {outcome.error.full_message()}")
    return outcome.chunks, outcome.underruns


def ms(value: float | None) -> float:
    return float("nan") if value is None else value * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    player = Player()
    player.open("")
    player.wait_ready()
    rows: list[tuple[str, dict[str, Any]]] = []
    with FakeOpenAI() as srv:
        config = ApiConfig(srv.base_url, api_key=srv.api_key, timeout_s=30)
        now_reading = [Timeline()]  # the reading in progress, for the callbacks

        def observer(event: dict[str, Any], at: float) -> None:
            line = now_reading[0]
            if event.get("type") == "response.output_audio.delta" and line.server_first is None:
                line.server_first = at

        realtime = OpenAIRealtimeSpeech(config, observer=observer)
        rest = OpenAISpeech(config)
        for name, engine in (("realtime", realtime), ("REST", FirstAudio(rest, lambda: now_reading[0]))):
            lines: list[Timeline] = []
            underruns = chunks = 0
            for _ in range(args.runs):
                now_reading[0] = current = Timeline()
                got_chunks, got_underruns = read_once(engine, player, current)
                chunks, underruns = chunks + got_chunks, underruns + got_underruns
                lines.append(current)
            rows.append((name, {"lines": lines, "chunks": chunks, "underruns": underruns}))
        realtime.close()
        rest.close()
    player.close()

    print(f"Reading {len(TEXT)} characters, {args.runs} runs per engine (median; realtime run 1 = cold).\n")
    print("| engine | start → server first audio | server first audio → first sound (overhead) | "
          "start → first sound | chunk-boundary gap median / max | underruns |")
    print("|---|---|---|---|---|---|")
    for name, data in rows:
        lines = data["lines"]
        warm = lines[1:] if name == "realtime" and len(lines) > 1 else lines
        to_server = statistics.median(ms(x.server_first - x.start) for x in warm if x.server_first)
        overhead = statistics.median(ms(x.first_sound - x.server_first) for x in warm
                                     if x.first_sound and x.server_first)
        total = statistics.median(ms(x.first_sound - x.start) for x in warm if x.first_sound)
        gaps = [g for x in lines for g in x.gaps_ms] or [0.0]
        print(f"| {name} | {to_server:.0f} ms | {overhead:.0f} ms | {total:.0f} ms | "
              f"{statistics.median(gaps):.0f} / {max(gaps):.0f} ms ({len(gaps)} boundaries) | "
              f"{data['underruns']} |")
        cold = lines[0]
        if name == "realtime" and len(lines) > 1 and cold.first_sound and cold.server_first:
            print(f"| realtime cold (run 1) | {ms(cold.server_first - cold.start):.0f} ms | "
                  f"{ms(cold.first_sound - cold.server_first):.0f} ms | {ms(cold.first_sound - cold.start):.0f} ms "
                  "| | |")

if __name__ == "__main__":
    main()

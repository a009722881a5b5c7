"""Key release → final text, Realtime vs REST, as overhead beyond the server's own finalize time.

    .venv/bin/python bench/realtime_bench.py [--runs 3] [--speed 1.0] [--lengths 5,30,120]

Against the in-process fake OpenAI server (faster-whisper tiny.en does the transcription), for 5 s / 30 s /
120 s utterances (jfk.flac repeated with short pauses):

- Realtime: the provider streams the audio in 40 ms appends, paced at ``--speed`` × real time (1.0 = like a
  microphone); "release" is the ``commit()`` after the last append, "final" is ``finish()`` returning. The
  server's finalize time is ``committed`` → ``completed`` as received; overhead = (final − release) − that.
- REST: FLAC encode + upload + JSON answer through the app's REST provider; "release" is the start of the
  encode; the server's time is its ``openai-processing-ms`` header; overhead = total − that.

The target (issue 4) is realtime overhead ≤ 150 ms and flat in utterance length. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from desktop_app.audio.encode import decode_file, encode_flac  # noqa: E402
from desktop_app.core.cancel import CancelToken  # noqa: E402
from desktop_app.core.models import ApiConfig, PcmAudio, TranscriptionOptions  # noqa: E402
from desktop_app.providers.http_client import make_client  # noqa: E402
from desktop_app.providers.openai_realtime_stt import OpenAIRealtimeTranscriber  # noqa: E402
from desktop_app.providers.openai_stt import OpenAITranscriber  # noqa: E402
from tests.fakeopenai import FakeOpenAI  # noqa: E402

SHARED = Path(os.environ.get("SAYSO_SHARED_DIR", REPO.parent / "shared"))
RATE = 24_000
CHUNK = 40 * RATE * 2 // 1000
MODEL = "gpt-4o-mini-transcribe"


def utterance(seconds: float) -> PcmAudio:
    """jfk.flac repeated with 0.6 s pauses, cut to ``seconds``."""
    jfk = np.frombuffer(decode_file(SHARED / "audio" / "jfk.flac").data, dtype="<i2")
    gap = np.zeros(int(0.6 * RATE), dtype="<i2")
    pieces, total = [], 0
    while total < seconds * RATE:
        pieces += [jfk, gap]
        total += len(jfk) + len(gap)
    return PcmAudio(np.concatenate(pieces)[: int(seconds * RATE)].tobytes(), RATE)


def realtime_once(config: ApiConfig, pcm: PcmAudio, speed: float) -> tuple[float, float]:
    """(release → final, server finalize) in seconds."""
    session = OpenAIRealtimeTranscriber(config).open(
        TranscriptionOptions(model=MODEL, language="en"), lambda _d: None, lambda _d: None, CancelToken())
    try:
        if not session.wait_ready(15):
            raise RuntimeError(f"realtime session failed: {session.failure}")
        started = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm.data), CHUNK)):
            due = started + index * 0.040 / speed
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            session.append(pcm.data[offset:offset + CHUNK])
        released = time.monotonic()
        session.commit()
        texts = session.finish(timeout=300)
        final = time.monotonic()
        if not texts:
            raise RuntimeError("no text")
        [(committed_at, completed_at)] = session.utterance_timings()
        return final - released, completed_at - committed_at
    finally:
        session.close()


def rest_once(config: ApiConfig, pcm: PcmAudio) -> tuple[float, float]:
    """(release → final, server processing) in seconds."""
    server_ms: list[float] = []
    client = make_client(config)
    client.event_hooks["response"] = [
        lambda response: server_ms.append(float(response.headers.get("openai-processing-ms", "0")))]
    transcriber = OpenAITranscriber(config, client=client)
    try:
        released = time.monotonic()
        encoded = encode_flac(pcm)
        transcriber.transcribe(encoded, TranscriptionOptions(model=MODEL, language="en", stream=False),
                               lambda _d: None, CancelToken())
        final = time.monotonic()
    finally:
        client.close()
    return final - released, server_ms[-1] / 1000.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--speed", type=float, default=1.0, help="realtime pacing: × real time")
    parser.add_argument("--lengths", default="5,30,120", help="utterance lengths in seconds")
    args = parser.parse_args()
    lengths = [float(x) for x in args.lengths.split(",")]
    rows = []
    with FakeOpenAI(preload=True) as srv:
        config = ApiConfig(srv.base_url, api_key=srv.api_key, timeout_s=300)
        rest_once(config, utterance(2))  # warm-up: model load and first connection
        for seconds in lengths:
            pcm = utterance(seconds)
            rt = [realtime_once(config, pcm, args.speed) for _ in range(args.runs)]
            rest = [rest_once(config, pcm) for _ in range(args.runs)]
            rows.append((seconds, rt, rest))
            print(f"… {seconds:.0f} s done", file=sys.stderr, flush=True)

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.0f}"

    print(f"\nRealtime vs REST, key release → final text (median of {args.runs}; realtime paced at "
          f"{args.speed:g}× real time; fake server, faster-whisper tiny.en, model {MODEL})\n")
    print("| utterance | realtime total ms | realtime server finalize ms | **realtime overhead ms** "
          "| REST total ms | REST server ms | **REST overhead ms** |")
    print("|---|---|---|---|---|---|---|")
    for seconds, rt, rest in rows:
        print(f"| {seconds:.0f} s | {ms([t for t, _ in rt])} | {ms([s for _, s in rt])} "
              f"| **{ms([t - s for t, s in rt])}** | {ms([t for t, _ in rest])} | {ms([s for _, s in rest])} "
              f"| **{ms([t - s for t, s in rest])}** |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

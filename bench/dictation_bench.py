"""Dictation latency and upload size against the local fake OpenAI server.

    .venv/bin/python bench/dictation_bench.py [--delay 0.5] [--runs 3]
    (paste timing needs the headless desktop: scripts/test-services.sh run DIR -- .venv/bin/python bench/...)

For 5 s / 30 s / 120 s utterances (jfk.flac repeated with short pauses), with the server told to wait a fixed
``--delay`` before answering, it measures:
- key release → first text / final text inserted, through the real DictationService (VAD, trim, FLAC,
  history on disk, REST streaming transcriber, clean-up, insert), minus the server-side time of the same
  upload sent directly with httpx (request start → first delta / end): the app's own overhead;
- upload bytes per minute of speech (FLAC as uploaded; Ogg/Opus for comparison) vs 16-bit WAV at 24 kHz;
- a 2,000-character paste into another app's window (X11 inserter, paste confirmed), when a display exists.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from desktop_app.app.dictation import VadTools  # noqa: E402
from desktop_app.audio.encode import decode_file, encode_opus, opus_available  # noqa: E402
from desktop_app.core.cancel import CancelToken  # noqa: E402
from desktop_app.core.models import ApiConfig, AppState, EncodedAudio, PcmAudio  # noqa: E402
from desktop_app.core.ports import FocusTarget, InsertResult  # noqa: E402
from desktop_app.core.settings import Settings  # noqa: E402
from desktop_app.providers.openai_stt import OpenAITranscriber  # noqa: E402
from desktop_app.services.dictation import DictationService  # noqa: E402
from desktop_app.storage.history import SqliteHistoryStore  # noqa: E402
from tests.fakeopenai import FakeOpenAI  # noqa: E402

SHARED = Path(os.environ.get("SAYSO_SHARED_DIR", REPO.parent / "shared"))
WAV_BYTES_PER_MIN = 24_000 * 2 * 60


class Mic:
    def __init__(self, pcm: PcmAudio) -> None:
        self.pcm = pcm
        self.error = None
        self.overflows = 0

    def open(self, device: str) -> None: ...
    def close(self) -> None: ...
    def mark_start(self) -> None: ...

    def take_recording(self) -> PcmAudio:
        return self.pcm

    def read_new(self, max_s: float = 0.1) -> bytes:
        return b""

    def level(self) -> float:
        return 0.0


class Inserter:
    def __init__(self) -> None:
        self.at = 0.0

    def backend_name(self) -> str:
        return "bench"

    def focused_target(self) -> FocusTarget:
        return FocusTarget(1)

    def insert(self, text: str, target: FocusTarget, method: str) -> InsertResult:
        self.at = time.monotonic()
        return InsertResult(True, False)


class Quiet:
    def on_state(self, state: AppState, detail: str) -> None: ...
    def on_partial(self, text: str) -> None: ...
    def on_notice(self, title: str, message: str, level: str) -> None: ...
    def on_history_changed(self) -> None: ...


def utterance(jfk: PcmAudio, seconds: float) -> PcmAudio:
    gap = np.zeros(int(0.5 * 24_000), dtype="<i2").tobytes()
    data = b""
    while len(data) < seconds * 24_000 * 2:
        data += jfk.data + gap
    return PcmAudio(data[:int(seconds * 24_000) * 2])


def direct(srv: FakeOpenAI, audio: EncodedAudio) -> tuple[float, float]:
    """Server-side reference: (first delta, done) seconds for the same upload sent straight with httpx."""
    with httpx.Client(timeout=600) as client:
        started = time.monotonic()
        first = 0.0
        with client.stream("POST", f"{srv.base_url}/audio/transcriptions",
                           headers={"Authorization": f"Bearer {srv.api_key}"},
                           data={"model": "gpt-transcribe", "stream": "true"},
                           files={"file": (audio.filename, audio.data, audio.mime_type)}) as response:
            for line in response.iter_lines():
                if not first and "transcript.text.delta" in line:
                    first = time.monotonic() - started
        return first, time.monotonic() - started


def run_case(srv: FakeOpenAI, pcm: PcmAudio, runs: int) -> dict[str, float]:
    tools = VadTools()
    config = ApiConfig(srv.base_url, api_key=srv.api_key, timeout_s=600)
    first_over, final_over, insert_over = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteHistoryStore(Path(tmp) / "h.sqlite3", Path(tmp) / "audio")
        for _ in range(runs):
            inserter = Inserter()
            service = DictationService(audio=Mic(pcm), inserter=inserter, history=store, tools=tools,
                                       transcriber_factory=lambda _r: OpenAITranscriber(config),
                                       settings=Settings, listener=Quiet())
            service.start()
            recording = service.stop()
            assert recording is not None
            outcome = service.process(recording, CancelToken())
            assert outcome.text, outcome
            timings = store.get(outcome.entry_id or 0).timings  # type: ignore[union-attr]
            encoded = tools.encode(tools.trim_silence(pcm))
            ref_first, ref_final = direct(srv, encoded)
            first_over.append(timings["release_to_first_text_ms"] - ref_first * 1000)
            final_over.append(timings["release_to_final_text_ms"] - ref_final * 1000)
            insert_over.append((inserter.at - recording.released_at) * 1000 - ref_final * 1000)
        store.close()
    trimmed = tools.trim_silence(pcm)
    flac = tools.encode(trimmed)
    opus = encode_opus(trimmed) if opus_available() else None
    minutes = trimmed.duration_s / 60
    return {"first": statistics.median(first_over), "final": statistics.median(final_over),
            "insert": statistics.median(insert_over), "server": ref_final * 1000,
            "flac_per_min": len(flac.data) / minutes, "opus_per_min": len(opus.data) / minutes if opus else 0.0}


def paste_ms(chars: int = 2000) -> str:
    if not os.environ.get("DISPLAY"):
        return "n/a (no display)"
    from desktop_app.platform.linux.x11_insert import X11TextInserter
    from tests.support.desktop import start_target_app

    text = ("Sayso pastes long dictations in one go. " * 60)[:chars]
    with tempfile.TemporaryDirectory() as tmp, start_target_app("textedit", tmp) as target:
        inserter = X11TextInserter()
        try:
            focus = inserter.focused_target()
            started = time.monotonic()
            result = inserter.insert(text, focus, "paste")
            elapsed = (time.monotonic() - started) * 1000
            target.wait_text(lambda got: got == text, timeout=10)
        finally:
            inserter.close()
    return f"{elapsed:.0f} ms (confirmed: {result.delivered})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay", type=float, default=0.5, help="server_delay_s before each answer")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    jfk = decode_file(SHARED / "audio" / "jfk.flac")
    rows = []
    with FakeOpenAI(preload=True) as srv:
        srv.add_fault("transcriptions", times=None, server_delay_s=args.delay)
        for seconds in (5, 30, 120):
            rows.append((seconds, run_case(srv, utterance(jfk, seconds), args.runs)))
    print(f"Server delay {args.delay:.2f} s; medians of {args.runs} runs; overhead = app time minus the same "
          "upload sent directly.\n")
    print("| utterance | server time (direct) | release→first text overhead | release→final text overhead "
          "| release→inserted overhead | FLAC upload / min | Opus / min | WAV 16-bit / min |")
    print("|---|---|---|---|---|---|---|---|")
    for seconds, r in rows:
        flac, opus = r["flac_per_min"], r["opus_per_min"]
        print(f"| {seconds} s | {r['server']:.0f} ms | {r['first']:.0f} ms | {r['final']:.0f} ms "
              f"| {r['insert']:.0f} ms | {flac / 1024:.0f} KiB ({flac / WAV_BYTES_PER_MIN:.0%}) "
              f"| {opus / 1024:.0f} KiB ({opus / WAV_BYTES_PER_MIN:.0%}) | {WAV_BYTES_PER_MIN / 1024:.0f} KiB |")
    print(f"\n2,000-character paste into another app (X11, confirmed): {paste_ms()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

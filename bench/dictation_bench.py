"""Dictation latency and upload size against the local fake OpenAI server.

    .venv/bin/python bench/dictation_bench.py [--delay 0.5] [--runs 3]
    (paste timing needs the headless desktop: scripts/test-services.sh run DIR -- .venv/bin/python bench/...)

For 5 s / 30 s / 120 s utterances (jfk.flac repeated with short pauses), with the server told to wait a fixed
``--delay`` before answering, it measures:
- key release → first text / final text inserted, through the real DictationService (VAD, trim, FLAC,
  history on disk, REST streaming transcriber, clean-up, insert), split into the app's own time before the
  upload leaves and after the final text arrives (its overhead) and the request time;
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

import numpy as np  # noqa: E402

from desktop_app.app.dictation import VadTools  # noqa: E402
from desktop_app.audio.encode import decode_file, encode_opus, opus_available  # noqa: E402
from desktop_app.core.cancel import CancelToken  # noqa: E402
from desktop_app.core.models import ApiConfig, AppState, PcmAudio  # noqa: E402
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

    def start_typing(self, target: FocusTarget) -> None:
        return None  # paste is what is measured


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


def run_case(srv: FakeOpenAI, pcm: PcmAudio, runs: int) -> dict[str, float]:
    """The app's own time around the upload, from the service's timings: release → request leaves (VAD, trim,
    FLAC, history write) and final text → inserted. The server's time (its delay plus a real speech model on
    this CPU) varies by seconds between runs, so it is reported, not subtracted."""
    tools = VadTools()
    config = ApiConfig(srv.base_url, api_key=srv.api_key, timeout_s=600)
    before, after, first_wait, total = [], [], [], []
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
            t = store.get(outcome.entry_id or 0).timings  # type: ignore[union-attr]
            upload_at = t["release_to_final_text_ms"] - t["transcribe_ms"]
            before.append(upload_at)
            after.append((inserter.at - recording.released_at) * 1000 - t["release_to_final_text_ms"])
            first_wait.append(t["release_to_first_text_ms"])
            total.append(t["transcribe_ms"])
        store.close()
    trimmed = tools.trim_silence(pcm)
    flac = tools.encode(trimmed)
    opus = encode_opus(trimmed) if opus_available() else None
    minutes = trimmed.duration_s / 60
    return {"before": statistics.median(before), "after": statistics.median(after),
            "first": statistics.median(first_wait), "server": statistics.median(total),
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
    print(f"Server delay {args.delay:.2f} s; medians of {args.runs} runs.\n")
    print("| utterance | release → upload starts | final text → inserted | app overhead | request time "
          "(server + model) | release → first text | FLAC / min | Opus / min | WAV 16-bit / min |")
    print("|---|---|---|---|---|---|---|---|---|")
    for seconds, r in rows:
        flac, opus = r["flac_per_min"], r["opus_per_min"]
        print(f"| {seconds} s | {r['before']:.0f} ms | {r['after']:.1f} ms | {r['before'] + r['after']:.0f} ms "
              f"| {r['server']:.0f} ms | {r['first']:.0f} ms "
              f"| {flac / 1024:.0f} KiB ({flac / WAV_BYTES_PER_MIN:.0%}) "
              f"| {opus / 1024:.0f} KiB ({opus / WAV_BYTES_PER_MIN:.0%}) | {WAV_BYTES_PER_MIN / 1024:.0f} KiB |")
    print(f"\n2,000-character paste into another app (X11, confirmed): {paste_ms()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

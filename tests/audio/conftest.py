"""Real PulseAudio for the audio tests: a virtual speaker and a virtual microphone.

If the test runner already started PulseAudio (PULSE_SERVER or PULSE_RUNTIME_PATH set, see scripts/test.sh),
the tests use it; otherwise this starts a private one (private runtime dir, ``-n`` so idle sinks are not
suspended) and stops exactly that process afterwards. The microphone is ``mic`` (a remap of ``micfeed``'s
monitor): whatever ``paplay -d micfeed`` plays, the app records from its default input. The speaker is the
null sink ``speaker``: ``parec -d speaker.monitor`` hears what the app plays.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from desktop_app.core.models import PcmAudio

PULSE_CONFIG = """\
load-module module-native-protocol-unix auth-anonymous=1
load-module module-null-sink sink_name=speaker sink_properties=device.description=VirtualSpeaker
load-module module-null-sink sink_name=micfeed sink_properties=device.description=MicFeed
load-module module-remap-source master=micfeed.monitor source_name=mic \
source_properties=device.description=VirtualMic
set-default-sink speaker
set-default-source mic
"""
RATE = 24_000


@dataclass
class PulseServer:
    runtime_dir: Path
    pid: int | None  # None: started by the test runner, not ours to stop
    client_conf: Path | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, "PULSE_RUNTIME_PATH": str(self.runtime_dir),
               "PULSE_SERVER": f"unix:{self.runtime_dir / 'native'}"}
        if self.client_conf is not None:
            env["PULSE_CLIENTCONFIG"] = str(self.client_conf)
        return env

    def stop(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)


def start_pulse(base: Path) -> PulseServer:
    """Start a private PulseAudio; ``-D`` returns only once the daemon is ready (no polling needed)."""
    runtime = base / "runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    (base / "pulse.pa").write_text(PULSE_CONFIG)
    (base / "client.conf").write_text("autospawn = no\n")  # a killed server must stay dead (failure tests)
    env = {**os.environ, "PULSE_RUNTIME_PATH": str(runtime), "HOME": str(base),
           "PULSE_CLIENTCONFIG": str(base / "client.conf")}
    env.pop("PULSE_SERVER", None)
    subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1", "--disallow-exit", "-n", "-F",
                    str(base / "pulse.pa"), "--use-pid-file=yes", f"--log-target=file:{base / 'pulse.log'}"],
                   env=env, check=True, timeout=20, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid = int((runtime / "pid").read_text().split()[0])
    return PulseServer(runtime, pid, base / "client.conf")


@pytest.fixture(scope="session")
def pulse() -> Iterator[PulseServer]:
    from desktop_app.audio import devices

    if os.environ.get("PULSE_SERVER") or os.environ.get("PULSE_RUNTIME_PATH"):
        server = os.environ.get("PULSE_SERVER", "")
        runtime = Path(os.environ.get("PULSE_RUNTIME_PATH") or server.removeprefix("unix:").rsplit("/", 1)[0])
        yield PulseServer(runtime, None)
        return
    base = Path(tempfile.mkdtemp(prefix="sayso-audio-pulse-"))
    server_ = start_pulse(base)
    old = {k: os.environ.get(k) for k in ("PULSE_RUNTIME_PATH", "PULSE_SERVER", "PULSE_CLIENTCONFIG")}
    os.environ.update({k: v for k, v in server_.env.items() if k in old})
    devices.rescan()  # PortAudio listed devices before this server existed
    try:
        yield server_
    finally:
        server_.stop()
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def audio_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def jfk_wav(shared_dir: Path, audio_tmp: Path) -> Path:
    """The shared JFK clip as WAV (paplay plays WAV directly), 44.1 kHz stereo as shipped."""
    data, rate = sf.read(shared_dir / "audio" / "jfk.flac", dtype="int16")
    path = audio_tmp / "jfk.wav"
    sf.write(path, data, rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def jfk_pcm(shared_dir: Path) -> PcmAudio:
    from desktop_app.audio.encode import decode_file

    return decode_file(shared_dir / "audio" / "jfk.flac")


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    sf.write(path, samples.astype(np.float32), rate, subtype="PCM_16")
    return path


def play_into_mic(pulse: PulseServer, path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["paplay", "-d", "micfeed", str(path)], env=pulse.env)


@dataclass
class MonitorRecorder:
    """``parec`` on the speaker's monitor, read by a thread; waits are on a Condition, never sleeps."""

    proc: subprocess.Popen[bytes]
    data: bytearray = field(default_factory=bytearray)
    cond: threading.Condition = field(default_factory=threading.Condition)
    closed: bool = False

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        stdout = typing.cast(io.BufferedReader, self.proc.stdout)  # Popen without text=: a buffered reader
        while chunk := stdout.read1(4096):
            with self.cond:
                self.data += chunk
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    @property
    def seconds(self) -> float:
        return len(self.data) / 2 / RATE

    def wait_seconds(self, seconds: float, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.seconds >= seconds or self.closed, timeout)

    def samples(self) -> np.ndarray:
        with self.cond:
            raw = bytes(self.data[:len(self.data) // 2 * 2])
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0

    def stop(self) -> np.ndarray:
        self.proc.terminate()
        self.proc.wait(timeout=5)
        return self.samples()


@pytest.fixture
def speaker_monitor(pulse: PulseServer) -> Iterator[MonitorRecorder]:
    proc = subprocess.Popen(["parec", "-d", "speaker.monitor", "--format=s16le", f"--rate={RATE}",
                             "--channels=1", "--latency-msec=10"], env=pulse.env, stdout=subprocess.PIPE)
    recorder = MonitorRecorder(proc)
    threading.Thread(target=recorder._pump, daemon=True).start()
    assert recorder.wait_seconds(0.05), "parec delivered nothing from speaker.monitor"
    yield recorder
    if recorder.proc.poll() is None:
        recorder.stop()

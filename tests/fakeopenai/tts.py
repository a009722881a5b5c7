"""Real speech for the fake server: espeak-ng, resampled to 24 kHz s16le mono, cached per text."""

from __future__ import annotations

import io
import struct
import subprocess
import threading
from collections import OrderedDict

import numpy as np

from .asr import resample

RATE = 24000
_cache: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_ENTRIES = 256
_NORMAL_WPM = 175  # espeak-ng's default rate: speed 1.0
_fast_wpm: int | None = None  # set_speech_rate(): the rate at speed 1.0 for fast (long-text) tests
_steady_tone = False  # set_steady_tone(): a tone instead of the words (benchmarks of chunk boundaries)
TONE_HZ = 440.0


def set_speech_rate(words_per_minute: int | None) -> None:
    """Render every speech request (REST and realtime) of this server process at ``words_per_minute`` ×
    the request's speed, with no upper cap; None restores the default (175 × speed, capped at 450).

    For tests that must play a long text through in CI time: espeak-ng's sonic speed-up keeps the output
    speech (real words, real pauses, rendered in proportion to its length) up to several thousand words a
    minute, so 20,000 characters last about a minute at 3,600 wpm.
    """
    global _fast_wpm
    if words_per_minute is not None and not 80 <= words_per_minute <= 10_000:
        raise ValueError(f"words_per_minute must be between 80 and 10000, got {words_per_minute}")
    _fast_wpm = words_per_minute


def set_steady_tone(enabled: bool) -> None:
    """Answer every speech request (REST and realtime) with a steady tone exactly as long as the speech
    espeak-ng renders for it (so synthesis time and audio length stay real), with no pause inside it and
    no silence at its ends. Played back to back, the chunks of a reading then make one unbroken tone: any
    silence a recording shows was made between the chunks, by the client (bench/read_aloud_bench.py)."""
    global _steady_tone
    _steady_tone = bool(enabled)


def steady_tone() -> bool:
    return _steady_tone


def _tone_like(pcm: bytes) -> bytes:
    n = len(pcm) // 2
    wave = 0.3 * np.sin(2 * np.pi * TONE_HZ * np.arange(n) / RATE)
    return np.round(wave * 32767).astype("<i2").tobytes()


def speech_rate() -> int | None:
    """The rate set with set_speech_rate (None: the default mapping)."""
    return _fast_wpm


def words_per_minute(speed: float) -> int:
    if _fast_wpm is not None:
        return int(max(80, _fast_wpm * speed))
    return int(min(450, max(80, _NORMAL_WPM * speed)))

# Each OpenAI voice gets its own pitch so tests can hear (and see) that the voice setting arrived.
VOICE_PITCH = {
    "alloy": 50,
    "ash": 35,
    "ballad": 40,
    "coral": 60,
    "echo": 30,
    "fable": 55,
    "onyx": 25,
    "nova": 65,
    "sage": 58,
    "shimmer": 70,
    "verse": 45,
    "marin": 62,
    "cedar": 38,
}


def synthesize(text: str, voice: str = "alloy", speed: float = 1.0) -> bytes:
    """PCM s16le mono 24 kHz for `text` (a steady tone of that length under set_steady_tone)."""
    pcm = _speech(text, voice, speed)
    return _tone_like(pcm) if _steady_tone else pcm


def _speech(text: str, voice: str, speed: float) -> bytes:
    """espeak-ng's speech for `text`, cached. The text goes through stdin, never the command line."""
    rate = words_per_minute(speed)
    key = (text, voice, rate)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    pitch = str(VOICE_PITCH.get(voice, 50))
    completed = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", str(rate), "-p", pitch, "--stdin", "--stdout"],
        input=text.encode(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    pcm = _wav_to_pcm24k(completed.stdout)
    with _cache_lock:
        _cache[key] = pcm
        while len(_cache) > _CACHE_ENTRIES:
            _cache.popitem(last=False)
    return pcm


def _wav_to_pcm24k(wav: bytes) -> bytes:
    """espeak writes a WAV with bogus sizes to a pipe; read the fmt chunk and take everything after `data`."""
    fmt_at = wav.index(b"fmt ")
    channels, rate = struct.unpack_from("<HI", wav, fmt_at + 10)
    data_at = wav.index(b"data", fmt_at) + 8
    samples = np.frombuffer(wav[data_at : data_at + (len(wav) - data_at) // 2 * 2], dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    floats = resample(samples.astype(np.float32), rate, RATE)
    return np.clip(np.round(floats), -32768, 32767).astype("<i2").tobytes()


def wav_header(data_size: int | None) -> bytes:
    """44-byte PCM WAV header. `None` writes 0xFFFFFFFF sizes, as the streaming service does."""
    riff = 0xFFFFFFFF if data_size is None else 36 + data_size
    data = 0xFFFFFFFF if data_size is None else data_size
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data)
    )


CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


def encode(pcm: bytes, response_format: str) -> bytes:
    """Whole-file encodings for the compressed formats (wav/pcm are streamed without this)."""
    samples = np.frombuffer(pcm, dtype="<i2")
    if response_format == "aac":
        return _encode_aac(samples)
    import soundfile

    fmt, subtype = {"mp3": ("MP3", "MPEG_LAYER_III"), "opus": ("OGG", "OPUS"), "flac": ("FLAC", "PCM_16")}[
        response_format
    ]
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, RATE, format=fmt, subtype=subtype)
    return buffer.getvalue()


def _encode_aac(samples: np.ndarray) -> bytes:
    import av  # PyAV comes with faster-whisper

    buffer = io.BytesIO()
    container = av.open(buffer, "w", format="adts")
    stream = container.add_stream("aac", rate=RATE)
    stream.layout = "mono"
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = RATE
    for packet in stream.encode(frame):
        container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    return buffer.getvalue()

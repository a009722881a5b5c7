"""Plain data passed between layers. No behaviour that needs I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# OpenAI's PCM everywhere: 24 kHz, signed 16-bit little endian, mono.
SAMPLE_RATE = 24_000
SAMPLE_WIDTH = 2
CHANNELS = 1


class AppState(enum.Enum):
    IDLE = "idle"
    RECORDING = "recording"
    TRANSCRIBING = "transcribing"
    SPEAKING = "speaking"
    ERROR = "error"


@dataclass(frozen=True)
class PcmAudio:
    """Raw audio: s16le mono at ``sample_rate``."""

    data: bytes
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.data) / (SAMPLE_WIDTH * self.sample_rate)


@dataclass(frozen=True)
class EncodedAudio:
    """Compressed audio ready for upload: the provider never needs to know how it was made."""

    data: bytes
    filename: str  # e.g. "speech.flac"; the extension tells the server the format
    mime_type: str
    duration_s: float


@dataclass(frozen=True)
class TranscriptionOptions:
    model: str
    language: str = ""
    prompt: str = ""
    keywords: tuple[str, ...] = ()
    response_format: str = ""  # "" lets the provider choose (json, or SSE when streaming)
    stream: bool = True


@dataclass(frozen=True)
class TranscriptDelta:
    """A piece of text as it arrives. ``item_id`` groups deltas of one utterance (realtime)."""

    text: str
    item_id: str = ""
    final: bool = False


@dataclass(frozen=True)
class Transcript:
    text: str
    model: str = ""
    language: str = ""
    duration_s: float = 0.0
    request_id: str = ""


@dataclass(frozen=True)
class SpeechOptions:
    model: str
    voice: str
    speed: float = 1.0
    instructions: str = ""


@dataclass(frozen=True)
class SpeechChunk:
    """One piece of text to speak; ``start``/``end`` locate it in the text the user sees."""

    index: int
    text: str
    start: int = 0
    end: int = 0


@dataclass
class ApiConfig:
    """Where and how to reach the API. ``api_key`` lives only in memory (never in settings or logs)."""

    base_url: str
    api_key: str = field(default="", repr=False)
    organization: str = ""
    project: str = ""
    timeout_s: float = 60.0

    def __repr__(self) -> str:
        return f"ApiConfig(base_url={self.base_url!r}, key={'set' if self.api_key else 'unset'})"

"""Save speech to an audio file: every chunk synthesised in order and handed to a writer (the encoder is
injected, as services cannot use audio libraries)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import SAMPLE_WIDTH, SpeechOptions
from desktop_app.core.ports import Synthesizer
from desktop_app.services.read_text import PreparedText

SAVE_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


class AudioFileWriter(Protocol):
    """An audio file open for writing; PCM (s16le mono) arrives in pieces at ``sample_rate``."""

    def write(self, pcm: bytes, sample_rate: int) -> None: ...
    def close(self) -> None: ...


def save_speech(prepared: PreparedText, synthesizer: Synthesizer, options: SpeechOptions,
                writer: AudioFileWriter, cancel: CancelToken,
                on_progress: Callable[[float], None] | None = None) -> float:
    """Synthesise all of ``prepared`` into ``writer`` (closed by the caller). Returns seconds of audio.

    ``on_progress`` gets the share of the text done (0..1) after each chunk. Raises core.errors errors,
    ``Cancelled`` when ``cancel`` trips.
    """
    total = max(1, len(prepared))
    seconds = 0.0

    def on_audio(pcm: bytes, rate: int) -> None:
        nonlocal seconds
        writer.write(pcm, rate)
        seconds += len(pcm) / (SAMPLE_WIDTH * rate)

    if on_progress is not None:
        on_progress(0.0)
    for plan in prepared.chunks():
        cancel.raise_if_cancelled()
        synthesizer.synthesize(plan.chunk, options, on_audio, cancel)
        if on_progress is not None:
            on_progress(min(1.0, plan.chunk.end / total))
    cancel.raise_if_cancelled()
    if on_progress is not None:
        on_progress(1.0)
    return seconds

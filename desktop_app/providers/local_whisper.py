"""The local ``Transcriber``: Whisper on this computer through faster-whisper (CTranslate2), no network.

faster-whisper is optional (``pip install 'sayso[local]'``) and imported only when a model is loaded, so
Sayso starts and works with OpenAI without it. A loaded model is cached per (folder, threads) for the
process's life: loading tiny.en takes ~0.6 s, base ~1 s, and the first dictation should not pay that twice.

Input: the ``EncodedAudio`` the dictation flow already makes for upload (FLAC, WAV or Ogg, any rate). It
is decoded here with soundfile and resampled to Whisper's 16 kHz mono float with numpy, because providers
may not import audio/; any other container falls back to faster-whisper's own PyAV decoder.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import SaysoError
from desktop_app.core.models import EncodedAudio, Transcript, TranscriptDelta, TranscriptionOptions
from desktop_app.providers.local_models import folder_problem

log = logging.getLogger(__name__)

WHISPER_RATE = 16_000
INSTALL_HINT = "pip install 'sayso[local]'"


class LocalEngineUnavailable(SaysoError):
    default_message = "Local transcription is not installed."


def faster_whisper_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("faster_whisper") is not None


def _import_whisper_model() -> Any:
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise LocalEngineUnavailable(
            "Local transcription needs the faster-whisper package, which is not installed.",
            hint=f"Install it with: {INSTALL_HINT} (or set Settings → Dictation → Engine to OpenAI).",
            detail=str(exc)) from exc
    return WhisperModel


def default_threads() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


_models: dict[tuple[str, int], Any] = {}
_models_lock = threading.Lock()


def load_model(folder: Path, cpu_threads: int | None = None) -> Any:
    """The faster-whisper model in ``folder``, loaded once per process (thread-safe; call off the GUI thread)."""
    problem = folder_problem(folder)
    if problem:
        raise SaysoError(problem)
    threads = cpu_threads or default_threads()
    key = (str(folder.resolve()), threads)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            whisper_model = _import_whisper_model()
            started = time.monotonic()
            try:
                model = whisper_model(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)
            except (RuntimeError, ValueError, OSError) as exc:
                raise SaysoError(f"The local model in {folder} could not be loaded: {exc}",
                                 hint="The folder may be damaged: delete it and download the model again.",
                                 detail=repr(exc)) from exc
            log.info("loaded local model %s in %.2f s (%d threads)", folder, time.monotonic() - started, threads)
            _models[key] = model
        return model


def decode_to_16k(audio: EncodedAudio) -> np.ndarray:
    """Mono float32 samples at 16 kHz from FLAC/WAV/Ogg bytes (PyAV for anything soundfile cannot read)."""
    try:
        data, rate = sf.read(io.BytesIO(audio.data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        from faster_whisper.audio import decode_audio

        decoded: np.ndarray = decode_audio(io.BytesIO(audio.data), sampling_rate=WHISPER_RATE)
        return decoded.astype(np.float32, copy=False)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return resample(mono, rate, WHISPER_RATE)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Linear-interpolation resampling: plenty for recognition (Whisper's own features smooth far more)."""
    if rate == target or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    positions = np.arange(0, len(samples), rate / target)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


class LocalWhisperTranscriber:
    """``Transcriber`` on a local model folder. Streams one ``TranscriptDelta`` per decoded segment."""

    def __init__(self, model_dir: Path, *, cpu_threads: int | None = None, beam_size: int = 1,
                 loader: Callable[[Path, int | None], Any] = load_model) -> None:
        self._model_dir = model_dir
        self._threads = cpu_threads
        self._beam_size = beam_size  # greedy: dictation favours latency; accuracy comes from the model size
        self._loader = loader

    @property
    def model_dir(self) -> Path:
        return self._model_dir

    def preload(self) -> None:
        """Load the model now (on a worker thread) so the first dictation does not wait for it."""
        self._loader(self._model_dir, self._threads)

    def transcribe(self, audio: EncodedAudio, options: TranscriptionOptions,
                   on_delta: Callable[[TranscriptDelta], None], cancel: CancelToken) -> Transcript:
        cancel.raise_if_cancelled()
        model = self._loader(self._model_dir, self._threads)
        samples = decode_to_16k(audio)
        cancel.raise_if_cancelled()
        english_only = bool(getattr(model, "model", None) and not getattr(model.model, "is_multilingual", True))
        language = options.language or ("en" if english_only else None)
        prompt = options.prompt
        if options.keywords:  # Whisper has no keyword list: naming the words in the prompt is the known substitute
            prompt = (prompt + "\n" if prompt else "") + "Vocabulary: " + ", ".join(options.keywords) + "."
        segments, info = model.transcribe(samples, language=language, initial_prompt=prompt or None,
                                          beam_size=self._beam_size, vad_filter=True,
                                          condition_on_previous_text=False)
        texts: list[str] = []
        for segment in segments:  # a generator: each step decodes the next segment
            cancel.raise_if_cancelled()
            text = segment.text.strip()
            if not text:
                continue
            piece = text if not texts else " " + text
            texts.append(text)
            on_delta(TranscriptDelta(text=piece, item_id="local"))
        cancel.raise_if_cancelled()
        # Like the OpenAI transcriber: silence gives an empty text, and the dictation flow decides what to say.
        return Transcript(text=" ".join(texts), model=f"local:{self._model_dir.name}", language=info.language or "",
                          duration_s=float(info.duration))

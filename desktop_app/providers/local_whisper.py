"""The local ``Transcriber``: Whisper on this computer through faster-whisper (CTranslate2), no network.

faster-whisper is optional (``pip install 'sayso[local]'``) and imported only when a model is loaded, so
Sayso starts and works with OpenAI without it. One loaded model is kept while it is in use and for a few
idle minutes after (loading tiny.en takes ~0.6 s, base ~1 s), then released.

Where: in a child process (``EngineProcess`` in local_engine_process.py) whenever one can be started,
because once imported, faster-whisper, CTranslate2 and ONNX Runtime keep ~110 MB in a process even after
the model is freed; the child exits when idle and gives all of it back. A frozen app runs the engine in its
own process (``ModelCache``), releasing the model and trimming the heap.

Input: the ``EncodedAudio`` the dictation flow already makes for upload (FLAC, WAV or Ogg, any rate). It
is decoded here with soundfile and resampled to Whisper's 16 kHz mono float with numpy, because providers
may not import audio/; any other container falls back to faster-whisper's own PyAV decoder.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import io
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import SaysoError
from desktop_app.core.models import EncodedAudio, PcmAudio, Transcript, TranscriptDelta, TranscriptionOptions
from desktop_app.providers.local_models import INSTALL_HINT, folder_problem

if TYPE_CHECKING:  # the child-process handle imports this module
    from desktop_app.providers.local_engine_process import EngineProcess

log = logging.getLogger(__name__)

WHISPER_RATE = 16_000


class LocalEngineUnavailable(SaysoError):
    default_message = "Local transcription is not installed."


def _import_whisper_model() -> Any:
    # CTranslate2's x86 wheels use Intel MKL, whose allocator keeps freed buffers for reuse: ~25 MB that a
    # released model would leave behind (and a lower peak without it). Must be set before MKL loads.
    os.environ.setdefault("MKL_DISABLE_FAST_MM", "1")
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


IDLE_RELEASE_ENV = "SAYSO_LOCAL_MODEL_IDLE_S"  # for benchmarks and tests that cannot wait five minutes


def _idle_release_s() -> float:
    """A loaded model (90-500 MB) is given back after this long unused (default five minutes)."""
    try:
        return max(0.0, float(os.environ.get(IDLE_RELEASE_ENV, "") or 300.0))
    except ValueError:
        return 300.0


MODEL_IDLE_RELEASE_S = _idle_release_s()


def _give_memory_back() -> None:
    """Collect the released model and ask glibc to hand the freed heap to the OS (RSS drops ~40 MB more)."""
    gc.collect()
    try:
        import faster_whisper.vad

        faster_whisper.vad.get_vad_model.cache_clear()  # the Silero VAD session, reloaded in ~50 ms
    except (ImportError, AttributeError):
        pass
    try:  # glibc only: elsewhere there is no libc.so.6 (OSError) or no malloc_trim (AttributeError)
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class ModelCache:
    """At most one loaded model per process, released ``idle_s`` after its last use and at once when a
    different model (folder or thread count) is loaded.

    Loading tiny.en takes ~0.6 s and base ~1 s, so back-to-back dictations keep the model; an idle tray app
    should not keep 90+ MB for a model it may not use again today. Callers wrap each use in ``using()`` so
    the timer never drops a model in the middle of a transcription (a dropped reference would only cost a
    reload, but the memory would not go back while a decoder still holds the model)."""

    def __init__(self, idle_s: float = MODEL_IDLE_RELEASE_S,
                 load: Callable[[Path, int], Any] | None = None,
                 after_release: Callable[[], None] = _give_memory_back) -> None:
        self.idle_s = idle_s
        self._load = load or _load_whisper_model
        self._after_release = after_release
        self._lock = threading.Lock()
        self._key: tuple[str, int] | None = None
        self._model: Any = None
        self._users = 0
        self._last_used = 0.0
        self._timer: threading.Timer | None = None

    @property
    def loaded(self) -> tuple[str, int] | None:
        """(folder, threads) of the model held now, or None."""
        with self._lock:
            return self._key if self._model is not None else None

    def get(self, folder: Path, threads: int) -> Any:
        key = (str(folder.resolve()), threads)
        released = False
        with self._lock:
            if self._model is not None and self._key == key:
                self._last_used = time.monotonic()
                return self._model
            if self._model is not None:  # another model was chosen: drop the old one before loading
                log.info("releasing local model %s (another model is loading)", self._key[0] if self._key else "")
                self._model, self._key = None, None
                released = True
            if released:
                self._after_release()
            model = self._load(folder, threads)
            self._model, self._key = model, key
            self._last_used = time.monotonic()
            self._schedule()
            return model

    @contextlib.contextmanager
    def using(self) -> Iterator[None]:
        with self._lock:
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                self._last_used = time.monotonic()
                self._schedule()

    def release(self) -> bool:
        """Drop the model now unless a transcription is using it. True when one was released."""
        with self._lock:
            if self._model is None or self._users:
                return False
            log.info("releasing local model %s", self._key[0] if self._key else "")
            self._model, self._key = None, None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._after_release()
        return True

    def _schedule(self) -> None:  # with the lock held
        if self._timer is not None:
            self._timer.cancel()
        if self._model is None or self.idle_s == float("inf"):  # inf: kept for the process's life
            self._timer = None
            return
        self._timer = threading.Timer(max(0.0, self.idle_s), self._on_timer)
        self._timer.daemon = True
        self._timer.name = "local-model-release"
        self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            idle = time.monotonic() - self._last_used
            if self._model is None or self._users:
                return
            if idle < self.idle_s:  # used again meanwhile (and rescheduled): this timer is stale
                return
        self.release()


def _load_whisper_model(folder: Path, threads: int) -> Any:
    whisper_model = _import_whisper_model()
    started = time.monotonic()
    try:
        model = whisper_model(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)
    except (RuntimeError, ValueError, OSError) as exc:
        raise SaysoError(f"The local model in {folder} could not be loaded: {exc}",
                         hint="The folder may be damaged: delete it and download the model again.",
                         detail=repr(exc)) from exc
    log.info("loaded local model %s in %.2f s (%d threads)", folder, time.monotonic() - started, threads)
    return model


MODELS = ModelCache()


def load_model(folder: Path, cpu_threads: int | None = None) -> Any:
    """The faster-whisper model in ``folder`` through the process's ``MODELS`` cache (thread-safe; call off
    the GUI thread)."""
    problem = folder_problem(folder)
    if problem:
        raise SaysoError(problem)
    return MODELS.get(folder, cpu_threads or default_threads())


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


Splitter = Callable[[PcmAudio], list[PcmAudio]]


def to_pcm16k(samples: np.ndarray) -> PcmAudio:
    clipped = np.clip(samples, -1.0, 1.0 - 1.0 / 32768)
    return PcmAudio((clipped * 32768.0).astype("<i2").tobytes(), WHISPER_RATE)


def from_pcm(pcm: PcmAudio) -> np.ndarray:
    samples = np.frombuffer(pcm.data, dtype="<i2").astype(np.float32) / 32768.0
    return resample(samples, pcm.sample_rate, WHISPER_RATE)


def decode_pieces(model: Any, pieces: list[np.ndarray], options: TranscriptionOptions, beam_size: int,
                  on_text: Callable[[str], None], cancel: CancelToken) -> tuple[str, str]:
    """Decode ``pieces`` in order with faster-whisper; ``on_text`` gets each segment's text as it comes
    (with its leading space). Returns (whole text, language)."""
    english_only = bool(getattr(model, "model", None) and not getattr(model.model, "is_multilingual", True))
    language = options.language or ("en" if english_only else None)
    prompt = options.prompt
    if options.keywords:  # Whisper has no keyword list: naming the words in the prompt is the known substitute
        prompt = (prompt + "\n" if prompt else "") + "Vocabulary: " + ", ".join(options.keywords) + "."
    texts: list[str] = []
    for piece in pieces:
        cancel.raise_if_cancelled()
        segments, info = model.transcribe(piece, language=language, initial_prompt=prompt or None,
                                          beam_size=beam_size, vad_filter=True, condition_on_previous_text=False)
        language = language or info.language  # detected once, on the first piece: one language throughout
        for segment in segments:  # a generator: each step decodes the next segment
            cancel.raise_if_cancelled()
            text = segment.text.strip()
            if not text:
                continue
            on_text(text if not texts else " " + text)
            texts.append(text)
    cancel.raise_if_cancelled()
    return " ".join(texts), language or ""


class LocalWhisperTranscriber:
    """``Transcriber`` on a local model folder. Streams one ``TranscriptDelta`` per decoded segment.

    faster-whisper decodes in 30 s windows and yields nothing before a window is done, so a 10 s dictation
    would appear all at once. With a ``splitter`` (the app passes the VAD splitter from audio/, which
    providers may not import) the recording is cut on silences into pieces of a few seconds, decoded in
    order: the first words show while the rest is still being decoded.

    With a ``worker`` (an ``EngineProcess``) the model lives in a child process, which exits after its idle
    minutes and so gives back everything, libraries included; without one it runs in this process."""

    def __init__(self, model_dir: Path, *, cpu_threads: int | None = None, beam_size: int = 1,
                 loader: Callable[[Path, int | None], Any] = load_model, splitter: Splitter | None = None,
                 cache: ModelCache | None = None, worker: EngineProcess | None = None) -> None:
        self._model_dir = model_dir
        self._threads = cpu_threads
        self._beam_size = beam_size  # greedy: dictation favours latency; accuracy comes from the model size
        self._loader = loader
        self._splitter = splitter
        self._cache = cache or MODELS
        self._worker = worker

    @property
    def model_dir(self) -> Path:
        return self._model_dir

    @property
    def model_label(self) -> str:
        """What history and `transcribe --format json` name as the model: ``local:<folder name>``."""
        return f"local:{self._model_dir.name}"

    def preload(self) -> None:
        """Load the model now (on a worker thread) so the first dictation does not wait for it."""
        if self._worker is not None:
            self._worker.load(self._model_dir, self._threads or default_threads())
            return
        with self._cache.using():
            self._loader(self._model_dir, self._threads)

    def transcribe(self, audio: EncodedAudio, options: TranscriptionOptions,
                   on_delta: Callable[[TranscriptDelta], None], cancel: CancelToken) -> Transcript:
        cancel.raise_if_cancelled()
        samples = decode_to_16k(audio)
        pieces = [samples]
        if self._splitter is not None and len(samples):
            pieces = [from_pcm(piece) for piece in self._splitter(to_pcm16k(samples)) if piece.data]
        cancel.raise_if_cancelled()

        def on_text(text: str) -> None:
            on_delta(TranscriptDelta(text=text, item_id="local"))

        if self._worker is not None:
            text, language = self._worker.transcribe(self._model_dir, self._threads or default_threads(), pieces,
                                                     options, self._beam_size, on_text, cancel)
        else:
            with self._cache.using():
                model = self._loader(self._model_dir, self._threads)
                text, language = decode_pieces(model, pieces, options, self._beam_size, on_text, cancel)
        # Like the OpenAI transcriber: silence gives an empty text, and the dictation flow decides what to say.
        return Transcript(text=text, model=self.model_label, language=language,
                          duration_s=len(samples) / WHISPER_RATE)

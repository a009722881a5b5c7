"""Offline mode wiring: picks the transcription engine, readies the local model, and gives the shell and
the CLI their texts. The logic lives in services/engine_choice.py and providers/local_*.py; this module
only joins them to the profile, the settings and the credentials.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import SaysoError
from desktop_app.core.models import EncodedAudio, PcmAudio, Transcript, TranscriptDelta, TranscriptionOptions
from desktop_app.core.ports import Transcriber
from desktop_app.core.settings import Settings
from desktop_app.providers.local_models import (
    INSTALL_HINT,
    LocalModelStatus,
    faster_whisper_available,
    local_model_status,
)
from desktop_app.services import engine_choice
from desktop_app.services.credentials import Credentials
from desktop_app.services.engine_choice import EngineChoice, Reachability
from desktop_app.storage.profile import Profile, resolve_profile

if TYPE_CHECKING:  # the engine (numpy, soundfile) and the downloader (httpx) load only when used
    from desktop_app.providers.local_engine_process import EngineProcess
    from desktop_app.providers.local_whisper import LocalWhisperTranscriber
    from desktop_app.providers.model_download import ProgressCallback

log = logging.getLogger(__name__)

# One cache for the process: "auto" asks the network at most every 30 s.
_reachability = Reachability()


def local_status(settings: Settings, profile: Profile) -> LocalModelStatus:
    return local_model_status(settings.dictation.local_model, profile.models_dir)


def describe_local_engine(settings: Settings, profile: Profile) -> str:
    """One line for `sayso doctor`."""
    return engine_choice.describe_local_engine(faster_whisper_available(), local_status(settings, profile),
                                               INSTALL_HINT)


def choose_engine(settings: Settings, credentials: Credentials, override: str | None = None,
                  reachable: Callable[[str], bool] = _reachability) -> EngineChoice:
    """openai | local for this dictation, with a reason the UI can show. Cheap: the network check is cached."""
    setting = override or settings.dictation.engine
    has_key = credentials.status(settings).has_key if setting == "auto" else True
    choice = engine_choice.choose_engine(setting, has_key=has_key, base_url=credentials.base_url(settings),
                                         reachable=reachable)
    log.info("dictation engine: %s (%s)", choice.engine, choice.reason)
    return choice


def ensure_local_model(settings: Settings, profile: Profile, cancel: CancelToken,
                       on_progress: ProgressCallback | None = None) -> LocalModelStatus:
    """The local model ready to load: downloads it when it is a catalogue name not yet here (worker thread)."""
    status = local_status(settings, profile)
    if status.ready:
        return status
    if status.catalogue is None:
        raise SaysoError(status.problem, hint="Settings → Dictation → Local model.")
    from desktop_app.providers.model_download import ModelDownloader

    downloader = ModelDownloader(profile.models_dir)
    try:
        downloader.download(status.catalogue, cancel=cancel, on_progress=on_progress)
    finally:
        downloader.close()
    return local_status(settings, profile)


# Live text from the local engine. Whisper encodes every call as a whole 30 s window, so each piece costs
# one encoder run however short it is: pieces of 6 s throughout made 30 s of speech ~3x slower to finish.
# So: a recording up to 10 s is one piece (its text comes in about a second anyway); a longer one gets a
# first piece of 3-6 s (cut in the longest silence of its last 3 s), whose text shows while the rest is
# decoded in pieces of up to 28 s, each cut in a silence (never mid-word, as a fixed 30 s window would).
SINGLE_PIECE_MAX_S = 10.0
FIRST_PIECE_MAX_S, FIRST_PIECE_SEARCH_S = 6.0, 3.0
PIECE_MAX_S, PIECE_SEARCH_S = 28.0, 8.0


def split_on_silences(pcm: PcmAudio) -> list[PcmAudio]:
    """The recording cut on VAD silences into pieces the local engine decodes one after another."""
    from desktop_app.audio import vad

    if pcm.duration_s <= SINGLE_PIECE_MAX_S:
        return [pcm]
    first = vad.split(pcm, FIRST_PIECE_MAX_S, FIRST_PIECE_SEARCH_S)[0]
    rest = PcmAudio(pcm.data[len(first.data):], pcm.sample_rate)
    return [first, *vad.split(rest, PIECE_MAX_S, PIECE_SEARCH_S)] if rest.data else [first]


def local_transcriber(settings: Settings, profile: Profile, cancel: CancelToken,
                      on_progress: ProgressCallback | None = None) -> LocalWhisperTranscriber:
    """A ready LocalWhisperTranscriber (model downloaded if needed; loading happens on first transcribe)."""
    if not faster_whisper_available():
        from desktop_app.providers.local_whisper import LocalEngineUnavailable

        raise LocalEngineUnavailable("Local transcription needs the faster-whisper package, which is not installed.",
                                     hint=f"Install it with: {INSTALL_HINT}, or set a key to use OpenAI.")
    from desktop_app.providers.local_whisper import LocalWhisperTranscriber

    status = ensure_local_model(settings, profile, cancel, on_progress)
    return LocalWhisperTranscriber(status.path, splitter=split_on_silences, worker=engine_process())


class LocalEngineTranscriber:
    """The local ``Transcriber`` as the dictation flow gets it: on first use it downloads the model if it is
    a catalogue name not yet here (progress and cancel through the job), then transcribes on this computer,
    piece by piece so the text shows while the rest is decoded."""

    def __init__(self, settings: Settings, profile: Profile, report: Callable[[str], None]) -> None:
        self._settings = settings
        self._profile = profile
        self._report = report

    @property
    def model_label(self) -> str:
        """``local:<model>``: what history and `transcribe --format json` name as the model."""
        return f"local:{local_status(self._settings, self._profile).path.name}"

    def transcribe(self, audio: EncodedAudio, options: TranscriptionOptions,
                   on_delta: Callable[[TranscriptDelta], None], cancel: CancelToken) -> Transcript:
        status = local_status(self._settings, self._profile)
        shown = [-1]

        def progress(done: int, total: int) -> None:
            percent = int(done * 100 / total) if total else 0
            if percent != shown[0]:  # a line per percent, not per network read
                shown[0] = percent
                self._report(f"Downloading the local model {status.name} ({status.download_size_text}): {percent}% "
                             "(once; cancel keeps the part downloaded)")

        transcriber = local_transcriber(self._settings, self._profile, cancel, progress)
        if shown[0] >= 0:
            self._report("Transcribing on this computer…")
        return transcriber.transcribe(audio, options, on_delta, cancel)


def maybe_local_transcriber(settings: Settings, credentials: Credentials, report: Callable[[str], None],
                            profile: Profile | None = None) -> Transcriber | None:
    """The local transcriber when ``dictation.engine`` resolves to local now, else None (use OpenAI).

    Reports the choice and its reason (e.g. "no OpenAI API key is set") so the UI says which engine runs.
    Call it on the worker thread: with ``auto`` and a key it may wait up to ~1.5 s for the network check.
    """
    choice = choose_engine(settings, credentials)
    if choice.engine != engine_choice.LOCAL:
        return None
    report(choice.reason)
    return LocalEngineTranscriber(settings, profile or resolve_profile(), report)


def preload_local_model(settings: Settings, credentials: Credentials, profile: Profile,
                        cancel: CancelToken | None = None) -> bool:
    """At key-down (worker thread): when this dictation will run locally on a model already here, load it
    while the user speaks, so key release → text does not include the 0.6-1.6 s load. Never downloads
    (that waits for the recording, with its progress shown). True when the model is loaded now."""
    if not faster_whisper_available() or choose_engine(settings, credentials).engine != engine_choice.LOCAL:
        return False
    status = local_status(settings, profile)
    if not status.ready or (cancel is not None and cancel.cancelled):
        return False
    from desktop_app.providers.local_whisper import LocalWhisperTranscriber

    started = time.monotonic()
    worker = engine_process()
    try:
        LocalWhisperTranscriber(status.path, worker=worker).preload()
    except SaysoError as exc:  # the dictation itself reports it, with the recording kept
        log.info("local model not preloaded: %s", exc.user_message)
        return False
    log.info("local model %s ready %s (%.2f s at key-down)", status.name,
             f"in engine process {worker.pid}" if worker else "in this process", time.monotonic() - started)
    return True


_engine: list[EngineProcess] = []  # the one engine child of this process, made on first use
_engine_lock = threading.Lock()


def engine_process() -> EngineProcess | None:
    """The shared engine child process, or None where the engine must run in this process (a frozen app).

    In a child, a released model gives back everything: the child exits after its idle minutes, taking
    faster-whisper, CTranslate2 and ONNX Runtime (~110 MB that stay mapped in a process once imported)."""
    from desktop_app.providers.local_engine_process import EngineProcess, worker_process_possible

    if not worker_process_possible():
        return None
    with _engine_lock:
        if not _engine:
            _engine.append(EngineProcess())
        return _engine[0]


def release_local_model() -> bool:
    """Give the loaded local model's memory back now (the model or engine setting changed). True when a
    model was loaded (in the engine process or in this one). Never imports the engine: a process that never
    loaded it (an OpenAI-only user, at every quit or engine setting change) has nothing to release."""
    with _engine_lock:
        engine = _engine[0] if _engine else None
    ended = engine is not None and engine.pid is not None
    if engine is not None:
        engine.stop()
    in_process = sys.modules.get("desktop_app.providers.local_whisper")
    released = bool(in_process.MODELS.release()) if in_process is not None else False
    return released or ended


def needs_key(settings: Settings, credentials: Credentials) -> bool:
    """Whether dictation needs an API key now: not when the engine is local, or auto without a key."""
    if credentials.status(settings).has_key:
        return False
    return settings.dictation.engine == engine_choice.OPENAI


# ----- Settings page: model labels, Browse…, Download with progress and Cancel ---------------------------

def model_labels() -> dict[str, str]:
    """``{"base.en": "base.en — 148 MB, good balance, English only", …}`` for the Settings list."""
    from desktop_app.providers.local_models import CATALOGUE

    return {name: f"{name} — {model.size_text}, {model.description}" for name, model in CATALOGUE.items()}


def local_model_state_text(settings: Settings, profile: Profile) -> str:
    status = local_status(settings, profile)
    if status.ready:
        return f"The local model {status.name} is ready ({status.path})."
    if status.needs_download:
        return (f"The local model {status.name} is not downloaded yet ({status.download_size_text}): press "
                "Download now, or it downloads at the first local dictation. Or Browse… to a model folder "
                "you already have.")
    return status.problem


def wire_settings_page(page: Any, settings: Any, tasks: Any, profile: Profile) -> None:
    """Connect the Settings page's local-model controls: labels with sizes, the state line, and Download
    running on a task with its progress on the page's bar (page: ui.settings_page.SettingsPage; settings:
    qt.settings_model.SettingsModel; tasks: qt.tasks.TaskRunner)."""
    from PySide6.QtCore import QObject, Signal, Slot

    class Progress(QObject):
        moved = Signal(int, int)  # kB done, kB total (a 32-bit int holds 2 TB of kB)

        @Slot(int, int)
        def show(self, done_kb: int, total_kb: int) -> None:
            page.local_download_progress(done_kb * 1024, total_kb * 1024)

    # The receiver is a QObject of the GUI thread: the worker's emits arrive queued, never touching widgets.
    progress = Progress(page)
    progress.moved.connect(progress.show)
    running: list[Any] = []

    def show_state(*_args: Any) -> None:
        page.set_local_model_state(local_model_state_text(settings.settings, profile))

    def download(value: str) -> None:
        if running:
            return
        status = local_model_status(value, profile.models_dir)
        if status.ready:
            page.local_download_finished(f"The local model {status.name} is already here ({status.path}).")
            return
        if status.catalogue is None:
            page.local_download_finished(status.problem or f"{value} is a folder: there is nothing to download.")
            return
        current = settings.settings

        def run(token: CancelToken) -> None:
            ensure_local_model(current, profile, token,
                               lambda done, total: progress.moved.emit(done // 1024, total // 1024))

        page.local_download_started(f"Downloading the local model {status.name} ({status.download_size_text}, "
                                    "once)…")
        task = tasks.start("local-model-download", run)
        running.append(task)

        def finished(text: str) -> None:
            running.clear()
            page.local_download_finished(text)

        task.succeeded.connect(lambda _result: finished(f"The local model {status.name} is ready "
                                                        f"({profile.models_dir / status.name})."))
        task.cancelled.connect(lambda: finished(
            f"Download of {status.name} cancelled. The part already downloaded is kept: Download resumes it."))
        task.failed.connect(lambda exc: finished(
            exc.full_message() if isinstance(exc, SaysoError) else f"The download failed: {exc}"))

    def cancel() -> None:
        for task in running:
            task.cancel()

    page.set_local_models(model_labels())
    page.local_download_requested.connect(download)
    page.local_download_cancel_requested.connect(cancel)
    settings.changed.connect(lambda key: show_state() if key == "dictation.local_model" else None)
    show_state()

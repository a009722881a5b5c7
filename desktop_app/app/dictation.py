"""Wires dictation: hotkeys → recording → transcription → insertion → history; plus `sayso transcribe`
and `sayso history`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from desktop_app.app.read_aloud import shared_player
from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import Cancelled, NoApiKey, SaysoError
from desktop_app.core.history import HistoryEntry
from desktop_app.core.models import AppState, EncodedAudio, PcmAudio, TranscriptionOptions
from desktop_app.core.ports import Transcriber
from desktop_app.core.settings import Settings
from desktop_app.core.transcript_text import join_transcripts, keywords_from_setting
from desktop_app.services.dictation import (
    DictationService,
    UploadLimits,
    plan_parts,
    transcribe_parts,
)
from desktop_app.ui.recording_indicator import RecordingIndicator

if TYPE_CHECKING:
    from desktop_app.app.context import AppContext
    from desktop_app.services.credentials import Credentials
    from desktop_app.storage.history import SqliteHistoryStore
    from desktop_app.storage.profile import Profile

log = logging.getLogger(__name__)


FLAC_UP_TO_S = 600.0  # auto: FLAC below this (≤ ~14 MB even for noisy speech), Ogg/Opus beyond


def upload_format_for(setting: str, duration_s: float) -> Literal["flac", "opus"]:
    """The ``dictation.upload_format`` choice for one recording.

    Measured (docs/benchmarks.md, REST dictation): libsndfile's Opus encoder takes ~24 ms per second of audio
    on 2 cores (0.7 s for 30 s, 2.9 s for 120 s) and it runs between key release and the upload; FLAC takes
    ~0.2 ms per second but is ~5x larger (~23 KB/s of noisy speech). On a 10 Mbit/s uplink those extra bytes
    cost ~14 ms per second of audio, less than Opus's encode, so *auto* sends FLAC; only recordings long enough
    to approach the 25 MiB limit go as Opus (one request up to ~95 minutes). *opus* suits slow links."""
    if setting == "opus" or (setting == "auto" and duration_s > FLAC_UP_TO_S):
        return "opus"
    return "flac"


class VadTools:
    """``services.dictation.AudioTools`` on audio/vad and audio/encode; ``upload_format`` gives the
    ``dictation.upload_format`` setting at the time of each encode (see ``upload_format_for``)."""

    def __init__(self, upload_format: Callable[[], str] = lambda: "auto") -> None:
        self._upload_format = upload_format

    def has_speech(self, pcm: PcmAudio) -> bool:
        from desktop_app.audio import vad

        return vad.has_speech(pcm)

    def trim_silence(self, pcm: PcmAudio) -> PcmAudio:
        from desktop_app.audio import vad

        return vad.trim_silence(pcm)

    def encode(self, pcm: PcmAudio) -> EncodedAudio:
        from desktop_app.audio import encode

        return encode.encode(pcm, upload_format_for(self._upload_format(), pcm.duration_s))

    def decode(self, audio: EncodedAudio) -> PcmAudio:
        from desktop_app.audio import encode

        return encode.decode_bytes(audio.data)

    def split(self, pcm: PcmAudio, max_s: float) -> list[PcmAudio]:
        from desktop_app.audio import vad

        return vad.split(pcm, max_s)


def transcriber_factory(credentials: Credentials, settings: Callable[[], Settings], profile: Profile | None = None
                        ) -> Callable[[Callable[[str], None]], Transcriber]:
    """A fresh REST transcriber per job: the key, base URL or timeout may have changed since the last one.
    ``profile`` is where a local model is downloaded (the --profile in use; default: the environment's)."""

    def make(report: Callable[[str], None]) -> Transcriber:
        from desktop_app.providers.openai_stt import OpenAITranscriber

        current = settings()
        from desktop_app.app.offline import maybe_local_transcriber  # dictation.engine: local / auto

        local = maybe_local_transcriber(current, credentials, report, profile)
        if local is not None:
            return local
        config = credentials.api_config(current)
        if not config.api_key:
            raise NoApiKey(hint=credentials.status(current).message)
        return OpenAITranscriber(config, on_retry=lambda notice: report(notice.message))

    return make


def streaming_factory(credentials: Credentials, settings: Callable[[], Settings]) -> Callable[[], Any]:
    """The Realtime transcriber for one dictation (issue 4), or None when it cannot be used (local engine,
    no key): the dictation then goes over REST as usual."""

    def make() -> Any:
        from desktop_app.providers.openai_realtime_stt import OpenAIRealtimeTranscriber

        current = settings()
        if current.dictation.engine == "local":
            return None
        config = credentials.api_config(current)
        if not config.api_key:
            return None
        return OpenAIRealtimeTranscriber.from_settings(config, current.dictation)

    return make


def open_history(profile: Profile) -> SqliteHistoryStore:
    from desktop_app.storage.history import SqliteHistoryStore

    return SqliteHistoryStore(profile.history_db, profile.audio_dir)


# ----- GUI wiring ------------------------------------------------------------------------------------------

def wire(ctx: AppContext) -> None:
    """Builds the dictation controller and connects it to the hotkeys, tray, window and IPC."""
    from PySide6.QtGui import QGuiApplication

    from desktop_app.audio.capture import STANDBY_AFTER_S, MicCapture
    from desktop_app.qt.dictation_controller import DictationController
    from desktop_app.services.realtime_dictation import RealtimeDictation
    from desktop_app.ui.history_page import HistoryRow

    settings = ctx.settings
    store = open_history(ctx.profile)
    mic = MicCapture()

    def open_mic() -> None:
        # None: never rest, so the pre-roll before key-down is always there (the user's choice of CPU for it).
        mic.standby_after_s = None if settings.settings.audio.keep_mic_ready else STANDBY_AFTER_S
        try:
            mic.open(settings.settings.audio.input_device)
            if mic.device_warning:
                ctx.controller.tell("Microphone", mic.device_warning, "warning")
        except SaysoError as exc:
            log.warning("Microphone not available: %s", exc.full_message())
            ctx.controller.tell("Microphone", f"{exc.full_message()} Dictation needs a microphone.", "error")

    def preflight() -> str:
        status = ctx.credentials.status(settings.settings)
        from desktop_app.services.engine_choice import engine_needs_key

        if not status.has_key and engine_needs_key(settings.settings.dictation.engine):
            return NoApiKey(hint=status.message if status.source == "unavailable" else
                            "Set one in Settings → API key, with `sayso key set`, or export OPENAI_API_KEY."
                            ).full_message()
        if mic.error is not None:  # unplugged or failed since: try the configured device again
            open_mic()
        preload_local_model()
        return ""

    def preload_local_model() -> None:
        """Key-down: when this dictation will run on the local engine, load its model while the user speaks
        (the engine choice may ask the network, so all of it runs on a worker)."""
        from desktop_app.services.engine_choice import OPENAI

        if settings.settings.dictation.engine == OPENAI:
            return
        from desktop_app.app import offline

        current = settings.settings
        ctx.tasks.start("local-model-preload", lambda token: _preload(offline, current, token))

    def _preload(offline: Any, current: Settings, token: CancelToken) -> None:
        # Returns None on purpose (see report_live): the outcome is in the log.
        offline.preload_local_model(current, ctx.credentials, ctx.profile, token)

    controller = DictationController(ctx.tasks, ctx.platform.hotkeys,
                                     mode=lambda: str(settings.get("dictation.mode")),
                                     hotkey=lambda: str(settings.get("dictation.hotkey")), parent=ctx.controller)
    service = DictationService(audio=mic, inserter=ctx.platform.inserter, history=store,
                               tools=VadTools(lambda: str(settings.get("dictation.upload_format"))),
                               transcriber_factory=transcriber_factory(ctx.credentials, lambda: settings.settings,
                                                                       ctx.profile),
                               settings=lambda: settings.settings, listener=controller, preflight=preflight,
                               limits=UploadLimits(),
                               realtime=RealtimeDictation(streaming_factory(ctx.credentials, lambda: settings.settings),
                                                          controller))
    controller.set_service(service)
    ctx.controller.dictation = controller

    # State, notices, live text, level; the recording badge (never takes the focus) while recording.
    indicator = RecordingIndicator()

    def on_state(state: AppState, detail: str) -> None:
        if state == AppState.RECORDING:
            ctx.dictate_page.begin_transcript()
            if settings.get("ui.recording_indicator"):
                indicator.show_recording()
        else:
            indicator.hide()
        ctx.controller.set_state(state, detail)

    controller.state_changed.connect(on_state)
    controller.notice.connect(ctx.controller.tell)
    controller.partial.connect(ctx.dictate_page.show_partial)
    controller.level.connect(ctx.dictate_page.meter.set_level)
    controller.level.connect(indicator.set_level)
    ctx.dictate_page.start_clicked.connect(controller.start)
    ctx.dictate_page.stop_clicked.connect(controller.stop)
    ctx.dictate_page.cancel_clicked.connect(controller.cancel)
    connect_cues(controller, shared_player, settings)

    # History page.
    page = ctx.history_page

    def refresh() -> None:
        rows = [HistoryRow(entry.entry_id, time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.created_at)),
                           entry.status, entry.model, entry.text or entry.error, entry.has_audio)
                for entry in store.entries(page.search.text(), limit=500)]
        page.set_rows(rows)

    def copy(entry_id: int) -> None:
        entry = store.get(entry_id)
        if entry and entry.text:
            clipboard = QGuiApplication.clipboard()
            clipboard.setText(entry.text)
            ctx.controller.tell("History", "Copied to the clipboard.", "info")

    def reinsert(entry_id: int) -> None:
        task = ctx.tasks.start("dictation-reinsert", lambda _token: service.reinsert(entry_id))
        task.failed.connect(lambda exc: ctx.controller.tell("History", str(exc), "error"))

    def play(entry_id: int) -> None:
        audio = store.load_audio(entry_id)
        if audio is None:
            ctx.controller.tell("History", "The recording of this entry is no longer kept.", "warning")
            return
        player = shared_player()
        if player is None:
            ctx.controller.tell("History", "Playback is not available: no audio output could be opened.",
                                "warning")
            return
        pcm = VadTools().decode(audio)
        ctx.tasks.start("dictation-play", lambda _token: player.write(pcm.data, pcm.sample_rate))

    def delete(entry_id: int) -> None:
        store.delete(entry_id)
        refresh()

    page.search_changed.connect(lambda _text: refresh())
    page.copy_requested.connect(copy)
    page.reinsert_requested.connect(reinsert)
    page.retry_requested.connect(lambda entry_id, model: controller.retry(entry_id, model))
    page.play_requested.connect(play)
    page.delete_requested.connect(delete)
    controller.history_changed.connect(refresh)

    # Recordings cut short by a crash or kill of the last run: say so, offer retry.
    interrupted = store.mark_interrupted()
    store.apply_retention(settings.settings.history.keep_audio_days)
    refresh()
    if interrupted:
        ids = ", ".join(str(entry.entry_id) for entry in interrupted)
        message = (f"{len(interrupted)} dictation(s) were interrupted when Sayso last stopped (entry {ids}). "
                   "Their recordings are kept: select one in History and press Retry, or run "
                   f"`sayso history retry {interrupted[-1].entry_id}`.")
        page.set_notice(message)
        ctx.controller.tell("History", message, "warning")

    # Hotkeys and settings.
    def on_setting(key: str) -> None:
        if key in ("dictation.hotkey", "dictation.mode"):
            if service.recording:
                controller.cancel()
            controller.register_hotkeys()
        elif key in ("dictation.local_model", "dictation.engine"):
            from desktop_app.app.offline import release_local_model

            release_local_model()  # the old model's memory goes back now, not after the idle minutes
        elif key == "audio.input_device":
            open_mic()
        elif key == "audio.keep_mic_ready":
            if service.recording:  # never cut a dictation short: the new choice applies from the next one
                mic.standby_after_s = None if settings.settings.audio.keep_mic_ready else STANDBY_AFTER_S
            else:
                open_mic()  # starts the stream at once when it rests, so the pre-roll is there from now on

    settings.changed.connect(on_setting)
    open_mic()

    # Settings → Dictation → Local model: sizes in the list, Browse…, Download with progress and Cancel.
    from desktop_app.app.offline import wire_settings_page

    settings_page = ctx.window.pages.get("settings")
    if settings_page is not None:
        wire_settings_page(settings_page, settings, ctx.tasks, ctx.profile)

    def report_live(_token: CancelToken) -> None:
        # Returns None on purpose: a bool through a Signal(object) trips a PySide6 refcount bug at exit.
        live = mic.wait_ready(10.0)
        log.info("Microphone %s", "live" if live else "did not deliver audio within 10 s")

    ctx.tasks.start("mic-warm-up", report_live)
    controller.register_hotkeys()

    def shutdown() -> None:
        controller.shutdown()
        mic.close()
        from desktop_app.app.offline import release_local_model

        release_local_model()  # the local engine's child process ends with the app

    ctx.on_shutdown.append(shutdown)


def connect_cues(controller: Any, player_of: Callable[[], Any], settings: Any) -> None:
    """Short sounds at start/stop/cancel through the app's warm Player (never a new output stream)."""
    from desktop_app.audio.cues import cue_pcm

    def play(kind: str) -> None:
        player = player_of()
        if not settings.get("ui.sound_cues") or player is None:
            return
        try:
            player.write(cue_pcm(kind), 24_000)  # type: ignore[arg-type]
        except Exception as exc:  # a cue is a nicety: never let it break dictation
            log.info("Cue %s not played: %s", kind, exc)

    controller.cue.connect(play)


# ----- CLI -----------------------------------------------------------------------------------------------

def _load(args: argparse.Namespace) -> tuple[Profile, Settings]:
    from desktop_app.storage.profile import resolve_profile
    from desktop_app.storage.settings_store import SettingsStore

    profile = resolve_profile(args.profile).ensure()
    return profile, SettingsStore(profile.settings_file).load()


def _cli_transcriber(profile: Profile, settings: Settings, report: Callable[[str], None]) -> Transcriber:
    from desktop_app.app.shared import build_credentials

    return transcriber_factory(build_credentials(profile), lambda: settings, profile)(report)


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cli_transcribe(args: argparse.Namespace) -> int:
    """`sayso transcribe FILE`: the dictation upload path for a file; text streams to stdout."""
    from desktop_app.audio.encode import decode_file

    profile, settings = _load(args)
    from desktop_app.app import realtime_transcribe

    engine = getattr(args, "engine", None)
    if engine == "local" and getattr(args, "transport", None) == "realtime":
        _err(f"--engine {engine} and --transport realtime do not go together: the realtime transport streams to "
             "OpenAI, the local engine transcribes on this computer. Use --engine openai --transport realtime, "
             f"or --engine {engine} alone.")
        return 2
    if realtime_transcribe.wants_realtime(args, settings):  # issue 4: stream the file over the WebSocket
        from desktop_app.app.shared import build_credentials

        return realtime_transcribe.transcribe_file_realtime(args, settings, build_credentials(profile))
    if getattr(args, "engine", None):  # --engine openai|local|auto for this run only
        settings.dictation.engine = args.engine
    model = args.model or settings.dictation.model
    fmt = args.format
    options = TranscriptionOptions(model=model, language=args.language or settings.dictation.language,
                                   prompt=settings.dictation.prompt,
                                   keywords=keywords_from_setting(settings.dictation.keywords),
                                   response_format="" if fmt in ("text", "json") else fmt,
                                   stream=fmt == "text")
    try:
        transcriber = _cli_transcriber(profile, settings, lambda line: _err(line))
        pcm = decode_file(args.file)
        tools = VadTools(lambda: settings.dictation.upload_format)
        encoded = tools.encode(pcm)
        parts = plan_parts(tools, UploadLimits(), lambda: pcm, encoded)
        streamed: list[bool] = []

        def on_part(index: int, count: int) -> None:
            if count > 1:
                _err(f"Transcribing part {index + 1} of {count}…")
            if index and fmt == "text" and streamed:
                sys.stdout.write(" ")

        def on_delta(_index: int, text: str) -> None:
            if fmt == "text":
                streamed.append(True)
                sys.stdout.write(text)
                sys.stdout.flush()

        token = CancelToken()
        results = transcribe_parts(transcriber, parts, options, token, on_part=on_part, on_delta=on_delta)
    except SaysoError as exc:
        _err(exc.full_message())
        if fmt in ("srt", "vtt") and exc.__class__.__name__ == "BadRequest":
            _err(f"Subtitles ({fmt}) come only from models that time their text, such as whisper-1: "
                 f"try --model whisper-1.")
        return 1
    texts = [result.text for result in results]
    if fmt == "text":
        if not streamed:  # a server that does not stream: the whole text at once
            sys.stdout.write(join_transcripts(texts))
        sys.stdout.write("\n")
    elif fmt == "json":
        used = getattr(transcriber, "model_label", "") or model  # local:<model> when the local engine ran
        print(json.dumps({"text": join_transcripts(texts), "model": used,
                          "language": results[0].language if results else "",
                          "duration_s": round(pcm.duration_s, 3), "parts": len(parts)}, ensure_ascii=False))
    else:
        offsets, total = [], 0.0
        for part in parts:
            offsets.append(total)
            total += part.duration_s
        print(join_subtitles(fmt, texts, offsets))
    return 0


def cli_history(args: argparse.Namespace) -> int:
    profile, settings = _load(args)
    store = open_history(profile)
    try:
        if args.history_command == "list":
            entries = store.entries(args.search, args.limit)
            if args.json:
                print(json.dumps([entry.to_json() for entry in entries], ensure_ascii=False, indent=2))
            else:
                for entry in entries:
                    print(_history_line(entry))
                if not entries:
                    print("No dictations yet." if not args.search else "No dictation matches.")
            return 0
        if args.history_command == "retry":
            return _cli_retry(profile, settings, store, args.id, args.model)
        _err(f"Unknown history action {args.history_command!r}.")
        return 2
    finally:
        store.close()


def _cli_retry(profile: Profile, settings: Settings, store: SqliteHistoryStore, entry_id: int,
               model: str | None) -> int:
    from desktop_app.app.shared import build_credentials

    class CliListener:
        def on_state(self, state: AppState, detail: str) -> None:
            if detail:
                _err(detail)

        def on_partial(self, text: str) -> None:
            return None

        def on_notice(self, title: str, message: str, level: str) -> None:
            _err(f"{title}: {message}")

        def on_history_changed(self) -> None:
            return None

    class NoMic:  # retry needs neither microphone nor inserter
        def __getattr__(self, name: str) -> Any:
            raise SaysoError("Not available from the command line.")

    service = DictationService(audio=NoMic(), inserter=NoMic(), history=store,
                               tools=VadTools(lambda: settings.dictation.upload_format),
                               transcriber_factory=transcriber_factory(build_credentials(profile), lambda: settings,
                                                                       profile),
                               settings=lambda: settings, listener=CliListener())
    try:
        entry = service.retry(entry_id, model)
    except Cancelled:
        return 130
    except SaysoError as exc:
        _err(exc.full_message())
        return 1
    print(entry.text)
    return 0


def _history_line(entry: HistoryEntry) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.created_at))
    text = (entry.text or entry.error).replace("\n", " ")
    if len(text) > 80:
        text = text[:79] + "…"
    audio = "audio" if entry.has_audio else "no audio"
    return (f"{entry.entry_id:>5}  {when}  {entry.status:<11} {entry.model:<24} {entry.duration_s:6.1f}s  "
            f"{audio:<8}  {text}")


def join_subtitles(fmt: str, parts: list[str], offsets: list[float]) -> str:
    """SRT or VTT of consecutive parts as one file: cue times shifted by each part's start, SRT renumbered."""
    import re

    stamp = re.compile(r"(\d{2,}):(\d{2}):(\d{2})([.,])(\d{3})")

    def shift(match: re.Match[str], offset: float) -> str:
        h, m, s, sep, ms = match.groups()
        total = int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000 + offset
        whole = int(total)
        return (f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}{sep}"
                f"{round((total - whole) * 1000) % 1000:03d}")

    cues: list[str] = []
    for text, offset in zip(parts, offsets, strict=True):
        body = text.replace("\r\n", "\n").strip()
        if fmt == "vtt" and body.startswith("WEBVTT"):
            body = body.split("\n", 1)[1] if "\n" in body else ""
        for block in re.split(r"\n\s*\n", body.strip()):
            lines = block.strip().split("\n")
            if not lines or not lines[0]:
                continue
            if fmt == "srt" and lines[0].strip().isdigit():
                lines = lines[1:]
            lines = [stamp.sub(lambda m, o=offset: shift(m, o), line) if "-->" in line else line
                     for line in lines]
            cues.append("\n".join(lines))
    if fmt == "srt":
        return "\n\n".join(f"{index}\n{cue}" for index, cue in enumerate(cues, 1)) + "\n"
    return "WEBVTT\n\n" + "\n\n".join(cues) + "\n"

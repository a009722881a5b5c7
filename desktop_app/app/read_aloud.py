"""Wires read-aloud: read hotkey / tray / IPC / Read page → text → speech engine → player; plus `sayso speak`.

The app keeps ONE warm output stream (``audio.playback.Player``) for its whole life (PortAudio streams
start slowly): it is opened here at startup and shared through :func:`shared_player`, which other
features (dictation sound cues, history playback) may call.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import SaysoError
from desktop_app.core.models import ApiConfig
from desktop_app.core.settings import ApiSettings, Settings
from desktop_app.services.read_to_file import SAVE_EXTENSIONS
from desktop_app.services.speech_engine import EngineChoice

if TYPE_CHECKING:
    from desktop_app.app.context import AppContext
    from desktop_app.audio.playback import Player
    from desktop_app.core.ports import Synthesizer
    from desktop_app.services.credentials import Credentials

log = logging.getLogger(__name__)

READ = "read"
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

_player: Player | None = None
_player_problem = ""


# ----- the shared warm player --------------------------------------------------------------------------

def shared_player(ctx: AppContext | None = None) -> Player | None:
    """The app's one warm output stream, or None when it could not be opened (see the notice)."""
    return _player


def _open_player(device: str) -> str:
    """(Re)open the shared player on ``device``; returns "" or the problem for the user."""
    global _player, _player_problem
    from desktop_app.audio.playback import Player

    if _player is None:
        _player = Player()
    try:
        _player.open(device)
        _player_problem = ""
        if _player.device_warning:
            return _player.device_warning
    except SaysoError as exc:
        _player_problem = exc.full_message()
        log.warning("audio output not available: %s", _player_problem)
        return _player_problem
    return ""


def _close_player() -> None:
    if _player is not None:
        _player.close()


# ----- adapters the services get ------------------------------------------------------------------------

def make_synthesizer(credentials: Credentials | RecentApiConfig, choice: EngineChoice,
                     settings: Settings) -> Synthesizer:
    """The PCM speech engine for ``choice`` (the Realtime engine is added by its issue)."""
    from desktop_app.providers.openai_tts import OpenAISpeech

    config: ApiConfig = (credentials.get(settings) if isinstance(credentials, RecentApiConfig)
                         else credentials.api_config(settings))
    if choice.name == "realtime" or settings.read.engine == "auto":
        from desktop_app.app import realtime_speech  # realtime engine, and auto's REST → realtime fallback

        return realtime_speech.network_synthesizer(config, choice.name, settings)
    return OpenAISpeech(config)


class SoundFileWriter:
    """Writes PCM pieces into .wav/.flac/.ogg/.mp3 as they arrive (nothing held in memory)."""

    SUBTYPES: ClassVar[dict[str, str]] = {".wav": "PCM_16", ".flac": "PCM_16", ".ogg": "VORBIS",
                                          ".mp3": "MPEG_LAYER_III"}
    FORMATS: ClassVar[dict[str, str]] = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}

    def __init__(self, path: str) -> None:
        suffix = Path(path).suffix.lower()
        if suffix not in SAVE_EXTENSIONS:
            raise SaysoError(f"Cannot save audio as {suffix or 'a file without extension'}.",
                             hint=f"Use one of {', '.join(SAVE_EXTENSIONS)}.")
        self.path = path
        self._suffix = suffix
        self._file: Any = None
        self._rate = 0
        self._resampler: Any = None

    def write(self, pcm: bytes, sample_rate: int) -> None:
        import numpy as np
        import soundfile as sf

        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        if self._file is None:
            self._rate = sample_rate
            try:
                self._file = sf.SoundFile(self.path, "w", samplerate=sample_rate, channels=1,
                                          format=self.FORMATS[self._suffix], subtype=self.SUBTYPES[self._suffix])
            except (sf.LibsndfileError, OSError) as exc:
                raise SaysoError(f"Cannot write {self.path}: {exc}") from None
        elif sample_rate != self._rate:
            from desktop_app.audio.resample import StreamResampler

            if self._resampler is None or self._resampler.in_rate != sample_rate:
                self._resampler = StreamResampler(sample_rate, self._rate)
            samples = self._resampler.push(samples)
        self._file.write(samples)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _has_key(credentials: Credentials, settings: Settings) -> bool:
    try:
        return bool(credentials.api_config(settings).api_key)
    except SaysoError:
        return False


class RecentApiConfig:
    """``credentials.api_config`` for the start of one reading, looked up once.

    With the key in the system keyring every lookup is a Secret Service round trip over D-Bus (13-17 ms on
    the test desktop), and starting a reading needs the config twice (is there a key? then the engine).
    The read hotkey also looks it up ahead (:func:`warm_up`, while the selection is being read), so the
    reading finds it ready. A config is reused only for ``max_age_s``: a key changed later is seen by the
    next reading.
    """

    def __init__(self, credentials: Credentials, max_age_s: float = 1.5) -> None:
        self._credentials = credentials
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._cached: tuple[float, ApiSettings, ApiConfig] | None = None

    def get(self, settings: Settings) -> ApiConfig:
        with self._lock:  # one lookup at a time: a reading that starts during the warm-up waits for it
            cached = self._cached
            now = time.monotonic()
            if cached is not None and cached[1] == settings.api and now - cached[0] < self._max_age_s:
                return cached[2]
            config = self._credentials.api_config(settings)
            self._cached = (now, replace(settings.api), config)
            return config

    def has_key(self, settings: Settings) -> bool:
        try:
            return bool(self.get(settings).api_key)
        except SaysoError:
            return False


def warm_up(configs: RecentApiConfig, settings: Settings) -> None:
    """Run on a worker as the read hotkey is pressed, while the selection is read: what the reading's first
    request would otherwise wait for (the key from the keyring, the HTTP modules, the shared TLS context)."""
    if not configs.has_key(settings):
        return  # the system voice will read: nothing to prepare
    from desktop_app.providers import openai_tts  # noqa: F401  (imports httpx and the speech client)
    from desktop_app.providers.http_client import tls_context

    tls_context()


# ----- GUI wiring ------------------------------------------------------------------------------------------

def wire(ctx: AppContext) -> None:
    """Builds the read-aloud controller and connects it to the hotkey, tray, window and IPC."""
    from PySide6.QtGui import QGuiApplication

    from desktop_app.app import realtime_speech
    from desktop_app.core.models import AppState
    from desktop_app.core.ports import HotkeyBinding
    from desktop_app.qt import pyside_emit_fix
    from desktop_app.qt.hotkey_bridge import HotkeyBridge
    from desktop_app.qt.read_controller import ReadController, ReadDeps
    from desktop_app.ui.floating_controls import FloatingControls

    pyside_emit_fix.install()  # PySide6 6.12.0 aborts after a few hundred emits without it (see the module)
    settings = ctx.settings
    realtime_speech.attach(ctx.profile, ctx.controller.tell, ctx.on_shutdown)
    problem = _open_player(settings.settings.audio.output_device)
    if problem:
        ctx.controller.tell("Audio output", problem, "warning" if _player_problem == "" else "error")

    def read_clipboard() -> str:
        clipboard = QGuiApplication.clipboard()
        return clipboard.text() if clipboard is not None else ""

    configs = RecentApiConfig(ctx.credentials)
    deps = ReadDeps(
        settings=lambda: settings.settings,
        read_selection=ctx.platform.selection.read_selection,
        read_clipboard=read_clipboard,
        has_key=configs.has_key,
        make_synthesizer=lambda choice, s: make_synthesizer(configs, choice, s),
        sink=lambda: _player if _player_problem == "" else None,
        sink_problem=lambda: _player_problem,
        open_writer=SoundFileWriter,
        warm_up=lambda s: warm_up(configs, s),
    )
    controller = ReadController(ctx.tasks, deps, parent=ctx.controller)
    ctx.controller.reader = controller
    page = ctx.read_page
    floating = FloatingControls()

    # State, notices, page.
    def on_speaking(speaking: bool) -> None:
        page.set_playing(speaking)
        if speaking:
            ctx.controller.set_state(AppState.SPEAKING, "Reading aloud")
            floating.show_near_corner()
        else:
            if ctx.controller.state == AppState.SPEAKING:
                ctx.controller.set_state(AppState.IDLE)
            floating.hide()
            page.highlight(0, 0)

    def on_paused(paused: bool) -> None:
        floating.set_paused(paused)
        page.set_status("Paused." if paused else "Reading aloud…")
        if ctx.controller.state == AppState.SPEAKING or paused:
            ctx.controller.set_state(AppState.SPEAKING, "Paused" if paused else "Reading aloud")

    # What the page showed for the controller's text. The editor does not give it back verbatim (it turns
    # \r\n and no-break spaces into \n and spaces, and shows only a preview of a huge text), so Play on
    # unchanged text maps back to the original: after an error Play then resumes where it stopped.
    shown: list[str | None] = [None]

    def on_text(text: str, source: str) -> None:
        if source != "text" or text != page.text.toPlainText():
            page.show_text(text)
        shown[0] = page.text.toPlainText()
        page.set_status("Reading aloud…")

    def on_play(text: str) -> None:
        controller.play(controller.text if controller.text and text == shown[0] else text)

    controller.speaking_changed.connect(on_speaking)
    controller.paused_changed.connect(on_paused)
    controller.text_started.connect(on_text)
    controller.highlight.connect(page.highlight)
    controller.progress.connect(page.set_progress)
    controller.notice.connect(ctx.controller.tell)
    controller.notice.connect(lambda _title, message, _level: page.set_status(message))
    controller.save_progress.connect(page.set_progress)

    def on_saved(ok: bool, message: str) -> None:
        page.set_status(message)
        ctx.controller.tell("Save audio", message, "info" if ok else "error")

    controller.save_finished.connect(on_saved)

    page.play_clicked.connect(on_play)
    page.pause_clicked.connect(controller.pause_toggle)
    page.stop_clicked.connect(controller.stop)
    page.next_clicked.connect(controller.next_sentence)
    page.previous_clicked.connect(controller.previous_sentence)
    page.save_clicked.connect(controller.save)
    page.voice_changed.connect(lambda voice: _set(ctx, "read.voice", voice))
    page.speed_changed.connect(lambda speed: _set(ctx, "read.speed", speed))
    floating.pause_clicked.connect(controller.pause_toggle)
    floating.stop_clicked.connect(controller.stop)
    floating.next_clicked.connect(controller.next_sentence)

    # The read hotkey (backend thread → GUI thread through the bridge).
    bridge = HotkeyBridge(controller)
    bridge.pressed.connect(lambda name: controller.toggle() if name == READ else None)

    def register_hotkey() -> None:
        sequence = str(settings.get("read.hotkey"))
        on_press, _on_release = bridge.callbacks(READ)
        try:
            ctx.platform.hotkeys.register(HotkeyBinding(READ, sequence), on_press, None)
            log.info("Read hotkey %s registered (%s)", sequence, ctx.platform.hotkeys.backend_name())
        except SaysoError as exc:
            ctx.controller.tell("Hotkey", f"The read hotkey {sequence} is not active: {exc.full_message()}",
                                "warning")

    def on_setting(key: str) -> None:
        if key == "read.hotkey":
            register_hotkey()
        elif key == "audio.output_device":
            controller.stop()
            message = _open_player(settings.settings.audio.output_device)
            if message:
                ctx.controller.tell("Audio output", message, "warning" if not _player_problem else "error")
        elif key == "read.volume" and _player is not None:
            _player.set_volume(float(settings.get("read.volume")))
        elif key == "read.voice" and page.voice.currentText() != settings.get("read.voice"):
            page.voice.setCurrentText(str(settings.get("read.voice")))
        elif key == "read.speed" and abs(page.speed.value() - float(settings.get("read.speed"))) > 1e-6:
            page.speed.setValue(float(settings.get("read.speed")))

    settings.changed.connect(on_setting)
    if _player is not None:
        _player.set_volume(float(settings.get("read.volume")))
    register_hotkey()

    def shutdown() -> None:
        controller.stop()
        controller.cancel_save()
        floating.close()
        _close_player()

    ctx.on_shutdown.append(shutdown)


def _set(ctx: AppContext, key: str, value: object) -> None:
    try:
        ctx.settings.set(key, value)
    except SaysoError as exc:
        ctx.controller.tell("Settings", exc.user_message, "warning")


# ----- `sayso speak` -----------------------------------------------------------------------------------------

def cli_speak(args: argparse.Namespace) -> int:
    """`sayso speak TEXT|- [--out FILE] [--voice] [--model] [--speed] [--engine]`."""
    from desktop_app.app import realtime_speech
    from desktop_app.app.shared import build_credentials
    from desktop_app.core.textprep import decode_text
    from desktop_app.services.read_text import PreparedText
    from desktop_app.services.speech_engine import choose_engine
    from desktop_app.storage.profile import resolve_profile
    from desktop_app.storage.settings_store import SettingsStore

    text = " ".join(args.text)
    if text == "-":
        text = decode_text(sys.stdin.buffer.read())
    profile = resolve_profile(args.profile)
    realtime_speech.attach(profile, realtime_speech.tell_on_stderr)
    settings = SettingsStore(profile.settings_file).load()
    try:
        for key, value in (("read.voice", args.voice), ("read.model", args.model), ("read.speed", args.speed),
                           ("read.engine", args.engine)):
            if value is not None:
                settings.set(key, value)
    except SaysoError as exc:
        print(exc.user_message, file=sys.stderr)
        return EXIT_USAGE
    if args.out and Path(args.out).suffix.lower() not in SAVE_EXTENSIONS:
        print(f"Cannot save audio as {Path(args.out).name}: use a file ending in {', '.join(SAVE_EXTENSIONS)}.",
              file=sys.stderr)
        return EXIT_USAGE
    prepared = PreparedText(text, strip_markdown=settings.read.strip_markdown)
    if prepared.empty:
        print("There is no text to speak.", file=sys.stderr)
        return EXIT_USAGE
    credentials = build_credentials(profile)
    try:
        choice = choose_engine(settings.read.engine, _has_key(credentials, settings))
    except SaysoError as exc:
        print(exc.full_message(), file=sys.stderr)
        return EXIT_FAIL
    if args.verbose:
        print(f"engine: {choice.name} ({choice.reason})", file=sys.stderr)
    token = CancelToken()
    try:
        if args.out:
            if choice.plays_itself:
                print("Saving to a file needs the speech service: set an API key (`sayso key set`).",
                      file=sys.stderr)
                return EXIT_FAIL
            return _speak_to_file(prepared, make_synthesizer(credentials, choice, settings), settings,
                                  args.out, token)
        if choice.plays_itself:
            return _speak_with_system_voice(prepared, settings)
        return _speak_aloud(prepared, make_synthesizer(credentials, choice, settings), settings, token)
    except KeyboardInterrupt:
        token.cancel()
        print("Stopped.", file=sys.stderr)
        return 130


def _speak_to_file(prepared: Any, synthesizer: Any, settings: Settings, path: str, token: CancelToken) -> int:
    from desktop_app.services.read_to_file import save_speech
    from desktop_app.services.speech_engine import speech_options

    writer = SoundFileWriter(path)
    shown = [-1]

    def progress(fraction: float) -> None:
        percent = int(fraction * 100)
        if percent != shown[0]:
            shown[0] = percent
            print(f"\rSaving speech… {percent:3d}%", end="", file=sys.stderr, flush=True)

    try:
        seconds = save_speech(prepared, synthesizer, speech_options(settings), writer, token, progress)
    except SaysoError as exc:
        print(f"\n{exc.full_message()}", file=sys.stderr)
        Path(path).unlink(missing_ok=True)
        return EXIT_FAIL
    finally:
        writer.close()
        synthesizer.close()
    print(f"\nSaved {seconds:.1f} s of speech to {path}.", file=sys.stderr)
    return EXIT_OK


def _speak_aloud(prepared: Any, synthesizer: Any, settings: Settings, token: CancelToken) -> int:
    from desktop_app.audio.playback import Player
    from desktop_app.services.read_aloud import ReadAloudSession
    from desktop_app.services.speech_engine import speech_options

    player = Player()
    try:
        player.open(settings.audio.output_device)
        player.set_volume(settings.read.volume)
        player.wait_ready(5.0)
        outcome = ReadAloudSession(prepared, synthesizer, player, speech_options(settings)).run(token)
    except SaysoError as exc:
        print(exc.full_message(), file=sys.stderr)
        return EXIT_FAIL
    finally:
        player.close()
        synthesizer.close()
    if outcome.error is not None:
        print(outcome.error.full_message(), file=sys.stderr)
        return EXIT_FAIL
    if outcome.underruns:
        log.info("%d playback underrun(s)", outcome.underruns)
    return EXIT_OK


def _speak_with_system_voice(prepared: Any, settings: Settings) -> int:
    from PySide6.QtCore import QCoreApplication

    from desktop_app.qt import pyside_emit_fix
    from desktop_app.qt.system_voice import SystemVoice

    pyside_emit_fix.install()
    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    voice = SystemVoice()
    failures: list[str] = []
    voice.finished.connect(app.quit)

    def on_failed(message: str) -> None:
        failures.append(message)
        app.quit()

    voice.failed.connect(on_failed)
    voice.configure(settings.read.system_voice, settings.read.speed)
    voice.speak(prepared.iter_sentences())
    if voice.speaking:
        app.exec()
    if failures:
        print(failures[0], file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK

"""The system engine: the OS voice through QtTextToSpeech (speech-dispatcher on Linux, SAPI/WinRT on
Windows, AVSpeech on macOS). No key, no network; it plays by itself, so we feed it one sentence at a time
and move on when it reports Ready again (which also gives us the sentence to highlight)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtTextToSpeech import QTextToSpeech

from desktop_app.services.read_text import Span

log = logging.getLogger(__name__)

PREFERRED_ENGINES = ("speechd",)  # Linux: speech-dispatcher (the "flite" plugin is not the system voice)


def rate_for_speed(speed: float) -> float:
    """Our speed (0.25..4, 1 = normal) as QtTextToSpeech's rate (-1..1, 0 = normal), logarithmically."""
    return max(-1.0, min(1.0, math.log(max(0.25, speed), 4.0)))


def create_engine(parent: QObject | None = None) -> QTextToSpeech:
    """The platform's speech engine (takes about a second on Linux: create it once, when first needed)."""
    available = QTextToSpeech.availableEngines()
    name = next((engine for engine in PREFERRED_ENGINES if engine in available), "")
    return QTextToSpeech(name, parent) if name else QTextToSpeech(parent)


class SystemVoice(QObject):
    """Speaks sentences one after another. Signals arrive on the GUI thread."""

    sentence_started = Signal(int, int)  # start, end in the user's text
    finished = Signal()  # the last sentence was spoken
    failed = Signal(str)  # a message for the user

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._engine: QTextToSpeech | None = None
        self._sentences: Iterator[Span] | None = None
        self._current: Span | None = None
        self._speaking = False
        self._paused = False
        # After say(), the Ready that a previous stop() may still deliver must not skip a sentence: only a
        # Ready that follows this sentence's Speaking moves on.
        self._awaiting_start = False

    # ----- engine ------------------------------------------------------------------------------------------
    def engine(self) -> QTextToSpeech:
        if self._engine is None:
            self._engine = create_engine(self)
            self._engine.stateChanged.connect(self._on_state)
            self._engine.errorOccurred.connect(self._on_error)
            log.info("system voice engine %r", self._engine.engine())
        return self._engine

    def voices(self) -> list[str]:
        return [voice.name() for voice in self.engine().availableVoices()]

    def configure(self, voice: str, speed: float) -> None:
        engine = self.engine()
        engine.setRate(rate_for_speed(speed))
        if voice:
            match = next((v for v in engine.availableVoices() if v.name() == voice), None)
            if match is None:
                log.info("system voice %r not found; using the default", voice)
            else:
                engine.setVoice(match)

    def error_message(self) -> str:
        engine = self.engine()
        if engine.state() == QTextToSpeech.State.Error:
            return (f"The system voice is not available ({engine.errorString() or engine.errorReason().name}). "
                    "On Linux install speech-dispatcher and a voice (espeak-ng), or add an API key.")
        return ""

    # ----- reading ---------------------------------------------------------------------------------------
    @property
    def current(self) -> Span | None:
        return self._current

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def paused(self) -> bool:
        return self._paused

    def speak(self, sentences: Iterator[Span]) -> None:
        self.stop()
        problem = self.error_message()
        if problem:
            self.failed.emit(problem)
            return
        self._sentences = sentences
        self._speaking = True
        self._paused = False
        self._say_next()

    def pause(self, paused: bool) -> None:
        if not self._speaking or paused == self._paused:
            return
        self._paused = paused
        if paused:
            self.engine().pause(QTextToSpeech.BoundaryHint.Immediate)
        else:
            self.engine().resume()

    def stop(self) -> None:
        was_speaking = self._speaking
        self._speaking = False
        self._paused = False
        self._sentences = None
        if was_speaking and self._engine is not None:
            self._engine.stop(QTextToSpeech.BoundaryHint.Immediate)

    def _say_next(self) -> None:
        if self._sentences is None:
            return
        span = next(self._sentences, None)
        if span is None:
            self._speaking = False
            self._sentences = None
            self._current = None
            self.finished.emit()
            return
        self._current = span
        self.sentence_started.emit(span.start, span.end)
        self._awaiting_start = True
        self.engine().say(span.text)

    @Slot(QTextToSpeech.State)
    def _on_state(self, state: QTextToSpeech.State) -> None:
        if state == QTextToSpeech.State.Speaking:
            self._awaiting_start = False
        elif state == QTextToSpeech.State.Ready and self._speaking and not self._paused \
                and not self._awaiting_start:
            self._say_next()

    @Slot(QTextToSpeech.ErrorReason, str)
    def _on_error(self, _reason: QTextToSpeech.ErrorReason, message: str) -> None:
        if self._speaking:
            self.stop()
            self.failed.emit(f"The system voice failed: {message}")

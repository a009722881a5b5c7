"""Read aloud on the GUI side: where the text comes from, which engine speaks it, the transport controls,
and the highlight/progress the window shows. Implements ``AppController.ReadControl``.

Blocking work (selection capture, preparing a long text, synthesis and playback) runs in TaskRunner tasks;
this object lives on the GUI thread and only reacts to their outcome. Stop is immediate: cancelling the
task's token stops the player synchronously (its buffer is dropped within one audio callback).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import AudioDeviceError, SaysoError
from desktop_app.core.ports import Synthesizer
from desktop_app.core.settings import Settings
from desktop_app.qt.system_voice import SystemVoice
from desktop_app.qt.tasks import Task, TaskRunner
from desktop_app.services.read_aloud import ReadAloudSession, ReadOutcome, ReadSink
from desktop_app.services.read_text import PreparedText
from desktop_app.services.read_to_file import AudioFileWriter, save_speech
from desktop_app.services.speech_engine import EngineChoice, choose_engine, speech_options

log = logging.getLogger(__name__)

NOTHING_BEING_READ = "Nothing is being read."
NOTHING_SELECTED = ("Select some text first, then press the read hotkey again "
                    "(or turn on Settings → Read aloud → Read the clipboard when nothing is selected).")
POSITION_INTERVAL_MS = 100


@dataclass
class ReadDeps:
    """What the controller needs from the adapters, injected by app/read_aloud.py."""

    settings: Callable[[], Settings]
    read_selection: Callable[[], str | None]  # called on a worker thread
    read_clipboard: Callable[[], str]  # called on the GUI thread
    has_key: Callable[[Settings], bool]  # called on a worker thread (may ask the keyring)
    make_synthesizer: Callable[[EngineChoice, Settings], Synthesizer]  # worker thread
    sink: Callable[[], ReadSink | None]  # the shared warm player; None when it could not be opened
    sink_problem: Callable[[], str]
    open_writer: Callable[[str], AudioFileWriter]  # worker thread
    # Prepares what the first speech request needs (key, HTTP client); run on a worker while the selection
    # is read, so the two waits overlap instead of adding up.
    warm_up: Callable[[Settings], None] | None = None


@dataclass(frozen=True)
class _SystemStart:
    prepared: PreparedText
    offset: int


class ReadController(QObject):
    speaking_changed = Signal(bool)
    paused_changed = Signal(bool)
    text_started = Signal(str, str)  # text, source ("selection", "clipboard", "text")
    highlight = Signal(int, int)  # start, end in the text being read
    progress = Signal(float)  # 0..1
    notice = Signal(str, str, str)  # title, message, level
    save_progress = Signal(float)
    save_finished = Signal(bool, str)  # ok, message

    def __init__(self, tasks: TaskRunner, deps: ReadDeps, system_voice: SystemVoice | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._deps = deps
        self._voice = system_voice or SystemVoice(self)
        self._voice.sentence_started.connect(self._on_system_sentence)
        self._voice.finished.connect(self._on_system_finished)
        self._voice.failed.connect(self._on_system_failed)
        self._task: Task | None = None
        self._selection_task: Task | None = None
        self._save_task: Task | None = None
        self._session: ReadAloudSession | None = None
        self._prepared: PreparedText | None = None
        self._text = ""
        self._source = ""
        self._resume_offset = 0
        self._interrupted = False  # the last reading ended with an error: Play/resume continues it
        self._started_at = 0  # offset the running reading started from (kept if it fails to start)
        self._restart_at: int | None = None
        self._speaking = False
        self._paused = False
        self._last_highlight = (-1, -1)
        self._timer = QTimer(self)
        self._timer.setInterval(POSITION_INTERVAL_MS)
        self._timer.timeout.connect(self._poll_position)

    # ----- ReadControl (IPC, tray, hotkey) ----------------------------------------------------------------
    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def text(self) -> str:
        return self._text

    def read(self, source: str, text: str = "") -> str:
        if source == "text":
            return self.read_text(text, "text")
        if source == "clipboard":
            return self.read_text(self._deps.read_clipboard(), "clipboard")
        return self.read_selection()

    def toggle(self) -> str:
        """The read hotkey: stop when speaking, else read the selection."""
        if self._speaking or self._selection_task is not None:
            return self.stop()
        return self.read_selection()

    def stop(self) -> str:
        self._restart_at = None
        was_active = self._speaking or self._selection_task is not None
        if self._selection_task is not None:
            self._selection_task.cancel()
        if self._task is not None:
            self._task.cancel()  # stops the player at once (see ReadAloudSession)
        self._voice.stop()
        self._resume_offset = 0
        self._interrupted = False
        self._set_speaking(False)
        return "Stopped reading." if was_active else ""

    def pause_toggle(self) -> str:
        if not self._speaking:
            return NOTHING_BEING_READ
        self._set_paused(not self._paused)
        return "Paused." if self._paused else "Resumed."

    def resume(self) -> str:
        """Resume when paused; after an error, continue the same text from where it stopped."""
        if self._speaking:
            if not self._paused:
                return "Already reading."
            self._set_paused(False)
            return "Resumed."
        if self._interrupted and self._text:
            self.read_text(self._text, self._source)
            return "Continuing from where the reading stopped."
        return NOTHING_BEING_READ

    # ----- page controls --------------------------------------------------------------------------------
    def play(self, text: str) -> str:
        """The page's Play: resume when paused, continue after an error, else read ``text``."""
        if self._speaking and self._paused and text == self._text:
            return self.pause_toggle()
        return self.read_text(text, "text")

    def next_sentence(self) -> str:
        return self._skip(forward=True)

    def previous_sentence(self) -> str:
        return self._skip(forward=False)

    def read_selection(self) -> str:
        if self._selection_task is not None:
            return "Reading the selection."
        self.stop()
        deps = self._deps

        def capture(_token: CancelToken) -> tuple[str | None, str]:
            selected = deps.read_selection()
            if (not selected or not selected.strip()) and deps.settings().read.clipboard_fallback:
                return None, "clipboard"
            return selected, "selection"

        task = self._tasks.start("read-selection", capture)
        self._selection_task = task
        warm_up = deps.warm_up
        if warm_up is not None:
            settings = deps.settings()
            self._tasks.start("read-warm-up", lambda _token: warm_up(settings))
        task.succeeded.connect(self._on_selection)
        task.failed.connect(self._on_selection_failed)
        task.finished.connect(lambda: self._clear_selection_task(task))
        return "Reading the selection."

    def read_text(self, text: str, source: str) -> str:
        if not text or not text.strip():
            message = ("The clipboard holds no text to read." if source == "clipboard"
                       else "There is no text to read.")
            self.notice.emit("Read aloud", message, "warning")
            return message
        same = text == self._text
        offset = self._resume_offset if same else 0
        prepared = self._prepared if same else None
        self.stop()
        self._text = text
        self._source = source
        self._prepared = prepared
        self.text_started.emit(text, source)
        self._start(offset)
        return "Reading aloud."

    def save(self, text: str, path: str) -> str:
        if self._save_task is not None:
            return "Already saving."
        deps = self._deps
        settings = deps.settings()
        progress = self.save_progress

        def work(token: CancelToken) -> str:
            choice = choose_engine(settings.read.engine, deps.has_key(settings))
            if choice.plays_itself:
                raise SaysoError("Saving to a file needs the speech service: add an API key in Settings.")
            prepared = PreparedText(text, strip_markdown=settings.read.strip_markdown)
            if prepared.empty:
                raise SaysoError("There is no text to save.")
            synthesizer = deps.make_synthesizer(choice, settings)
            writer = deps.open_writer(path)
            try:
                seconds = save_speech(prepared, synthesizer, speech_options(settings), writer, token,
                                      progress.emit)
            finally:
                writer.close()
                close = getattr(synthesizer, "close", None)
                if callable(close):
                    close()
            return f"Saved {seconds:.0f} s of speech to {path}."

        task = self._tasks.start("read-save", work)
        self._save_task = task
        task.succeeded.connect(lambda message: self.save_finished.emit(True, str(message)))
        task.failed.connect(lambda exc: self.save_finished.emit(False, _message(exc)))
        task.cancelled.connect(lambda: self.save_finished.emit(False, "Saving was cancelled."))
        task.finished.connect(self._clear_save_task)
        return "Saving…"

    def cancel_save(self) -> None:
        if self._save_task is not None:
            self._save_task.cancel()

    # ----- the reading task ------------------------------------------------------------------------------
    def _start(self, offset: int) -> None:
        self._set_speaking(True)
        self._interrupted = False
        self._started_at = offset
        if self._task is not None:
            # The previous reading is still winding down (cancelled): start when its thread has ended, so
            # its last write can never land in the player after the new reading's first one.
            self._restart_at = offset
            return
        deps = self._deps
        settings = deps.settings()
        text = self._text
        prepared = self._prepared

        def work(token: CancelToken) -> object:
            ready = prepared or PreparedText(text, strip_markdown=settings.read.strip_markdown)
            self._prepared = ready
            if ready.empty:
                return "empty"
            choice = choose_engine(settings.read.engine, deps.has_key(settings))
            log.info("reading %d characters from offset %d with the %s engine (%s)", len(text), offset,
                     choice.name, choice.reason)
            if choice.plays_itself:
                return _SystemStart(ready, offset)
            sink = deps.sink()
            if sink is None:
                raise AudioDeviceError(deps.sink_problem() or "The audio output is not open.")
            synthesizer = deps.make_synthesizer(choice, settings)
            session = ReadAloudSession(ready, synthesizer, sink, speech_options(settings), offset)
            self._session = session
            try:
                return session.run(token)
            finally:
                close = getattr(synthesizer, "close", None)
                if callable(close):
                    close()

        task = self._tasks.start("read-aloud", work)
        self._task = task
        task.succeeded.connect(self._on_task_result)
        task.failed.connect(self._on_task_failed)
        task.finished.connect(lambda: self._on_task_finished(task))
        self._timer.start()

    @Slot(object)
    def _on_task_result(self, result: object) -> None:
        if self._restart_at is not None:
            return  # a reading cancelled for a skip: the next one starts at once, nothing to report or reset
        if result == "empty":
            self.notice.emit("Read aloud", "There is nothing to read in this text (no words were found).",
                             "warning")
            self._set_speaking(False)
        elif isinstance(result, _SystemStart):
            settings = self._deps.settings()
            self._voice.configure(settings.read.system_voice, settings.read.speed)
            self._voice.speak(result.prepared.iter_sentences(result.offset))
            if not self._voice.speaking:
                self._set_speaking(False)
        elif isinstance(result, ReadOutcome):
            self._finish_outcome(result)

    def _finish_outcome(self, outcome: ReadOutcome) -> None:
        log.info("read-aloud ended: finished=%s chunks=%d underruns=%d error=%s", outcome.finished,
                 outcome.chunks, outcome.underruns, outcome.error.user_message if outcome.error else "-")
        if outcome.error is not None:
            self._resume_offset = outcome.resume_offset
            self._interrupted = True
            self.notice.emit("Read aloud", _message(outcome.error) + " Press Play to continue from here.",
                             "error")
        else:
            self._resume_offset = 0
        if outcome.finished:
            self.progress.emit(1.0)
        self._set_speaking(False)

    @Slot(object)
    def _on_task_failed(self, exc: object) -> None:
        if self._restart_at is not None:
            return  # a reading cancelled for a skip failed on its way out: the next one starts at once
        # It failed before any audio (no output device, no key, …): Play retries from where it began.
        self._resume_offset = self._started_at
        self._interrupted = True
        self.notice.emit("Read aloud", _message(exc) + " Press Play to continue from here.", "error")
        self._set_speaking(False)

    def _on_task_finished(self, task: Task) -> None:
        if self._task is task:
            self._task = None
            self._session = None
        restart, self._restart_at = self._restart_at, None
        if restart is not None and self._task is None:
            self._start(restart)
        elif self._task is None and not self._voice.speaking and self._speaking:
            self._set_speaking(False)

    # ----- selection --------------------------------------------------------------------------------------
    @Slot(object)
    def _on_selection(self, result: object) -> None:
        text, source = result if isinstance(result, tuple) else (None, "selection")
        if source == "clipboard":
            self.read_text(self._deps.read_clipboard(), "clipboard")
        elif not text or not str(text).strip():
            self.notice.emit("Read aloud", NOTHING_SELECTED, "warning")
        else:
            self.read_text(str(text), "selection")

    @Slot(object)
    def _on_selection_failed(self, exc: object) -> None:
        self.notice.emit("Read aloud", "Could not read the selection: " + _message(exc), "error")

    def _clear_selection_task(self, task: Task) -> None:
        if self._selection_task is task:
            self._selection_task = None

    def _clear_save_task(self) -> None:
        self._save_task = None

    # ----- transport ------------------------------------------------------------------------------------
    def _set_paused(self, paused: bool) -> None:
        if paused == self._paused:
            return
        self._paused = paused
        if self._voice.speaking:
            self._voice.pause(paused)
        else:
            sink = self._deps.sink()
            if sink is not None:
                sink.pause(paused)
        self.paused_changed.emit(paused)

    def _set_speaking(self, speaking: bool) -> None:
        if not speaking:
            self._timer.stop()
            if self._paused:
                self._set_paused(False)
        if speaking != self._speaking:
            self._speaking = speaking
            self.speaking_changed.emit(speaking)

    def _skip(self, forward: bool) -> str:
        prepared = self._prepared
        if not self._speaking:
            return NOTHING_BEING_READ
        current = self._current_sentence() if prepared is not None else None
        if prepared is None or current is None:
            return "The reading has not started yet; try again in a moment."
        start, end = current
        target = prepared.next_sentence_start(end) if forward else prepared.previous_sentence_start(start)
        if target is None:  # past the last sentence: that is the end
            self.stop()
            return "That was the last sentence; stopped reading."
        if self._paused:
            self._set_paused(False)
        done = "Skipped to the next sentence." if forward else "Back to the previous sentence."
        if self._voice.speaking:
            self._voice.speak(prepared.iter_sentences(target))
            return done
        if self._task is not None:
            self._task.cancel()
        self._start(target)
        return done

    def _current_sentence(self) -> tuple[int, int] | None:
        if self._voice.speaking and self._voice.current is not None:
            return self._voice.current.start, self._voice.current.end
        session = self._session
        position = session.position() if session is not None else None
        if position is None:
            return None
        return position.sentence_start, position.sentence_end

    @Slot()
    def _poll_position(self) -> None:
        session = self._session
        position = session.position() if session is not None else None
        if position is None:
            return
        if (position.sentence_start, position.sentence_end) != self._last_highlight:
            self._last_highlight = (position.sentence_start, position.sentence_end)
            self.highlight.emit(position.sentence_start, position.sentence_end)
        self.progress.emit(position.fraction)

    # ----- system voice -----------------------------------------------------------------------------------
    @Slot(int, int)
    def _on_system_sentence(self, start: int, end: int) -> None:
        self.highlight.emit(start, end)
        self.progress.emit(start / max(1, len(self._text)))

    @Slot()
    def _on_system_finished(self) -> None:
        self.progress.emit(1.0)
        self._set_speaking(False)

    @Slot(str)
    def _on_system_failed(self, message: str) -> None:
        self.notice.emit("Read aloud", message, "error")
        self._set_speaking(False)


def _message(exc: Any) -> str:
    if isinstance(exc, SaysoError):
        return exc.full_message()
    return f"Reading failed unexpectedly ({type(exc).__name__})."

"""DictationService with fakes only at the OS edges (microphone, window inserter): the audio tools, the history
store and the REST transcriber are the real ones, and the transcriber talks to the fake OpenAI server over a
real socket (a real speech model transcribes)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from desktop_app.app.dictation import FLAC_UP_TO_S, VadTools, upload_format_for
from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import AudioDeviceError, Cancelled
from desktop_app.core.models import (
    ApiConfig,
    AppState,
    EncodedAudio,
    PcmAudio,
    Transcript,
    TranscriptDelta,
    TranscriptionOptions,
)
from desktop_app.core.ports import FocusTarget, InsertResult, Transcriber
from desktop_app.core.settings import Settings
from desktop_app.providers.openai_stt import OpenAITranscriber
from desktop_app.providers.retry import RetryPolicy
from desktop_app.services.dictation import DictationService, Recording, UploadLimits
from desktop_app.storage.history import SqliteHistoryStore
from tests.dictation.support import JFK_TRANSCRIPT
from tests.fakeopenai import FakeOpenAI
from tests.support.desktop import wait_for, word_recall

TARGET = FocusTarget(window_id=42, app_name="editor")


class FakeMic:
    """The AudioSource edge: hands out a prepared recording."""

    def __init__(self, recording: PcmAudio) -> None:
        self.recording = recording
        self.error: AudioDeviceError | None = None
        self.wake_error: AudioDeviceError | None = None  # a resting stream that cannot start again
        self.overflows = 0
        self.starts = 0

    def open(self, device: str) -> None: ...
    def close(self) -> None: ...

    def mark_start(self) -> None:
        if self.wake_error is not None:
            raise self.wake_error
        self.starts += 1

    def take_recording(self) -> PcmAudio:
        return self.recording

    def read_new(self, max_s: float = 0.1) -> bytes:
        return b""

    def level(self) -> float:
        return 0.5


@dataclass
class FakeTypingSession:
    """The target's text field as keys see it. ``text`` starts with the user's own text; erasing more
    than Sayso typed fails the test. ``focused``/``window_open`` play the user switching or closing."""

    text: str = ""
    own: int = 0  # characters at the end of ``text`` that Sayso typed
    focused: bool = True
    window_open: bool = True
    ops: list[tuple[str, str | int, bool]] = field(default_factory=list)  # (kind, text|count, refocus)
    after_op: Callable[[FakeTypingSession], None] | None = None
    closed: bool = False

    def type(self, text: str, *, refocus: bool = False) -> bool:
        if not self._reachable(refocus):
            return False
        self.text += text
        self.own += len(text)
        self._done(("type", text, refocus))
        return True

    def erase(self, count: int, *, refocus: bool = False) -> bool:
        assert 0 < count <= self.own, f"erasing {count} characters, but Sayso typed only {self.own}"
        if not self._reachable(refocus):
            return False
        self.text = self.text[:-count]
        self.own -= count
        self._done(("erase", count, refocus))
        return True

    def close(self) -> None:
        self.closed = True

    def _reachable(self, refocus: bool) -> bool:
        if refocus and self.window_open:
            self.focused = True
        return self.window_open and self.focused

    def _done(self, op: tuple[str, str | int, bool]) -> None:
        self.ops.append(op)
        if self.after_op is not None:
            self.after_op(self)


@dataclass
class FakeInserter:
    delivered: bool = True
    inserted: list[tuple[str, FocusTarget, str]] = field(default_factory=list)
    session: FakeTypingSession | None = None  # what start_typing hands out (None: no live typing here)
    typing_started: list[FocusTarget] = field(default_factory=list)

    def backend_name(self) -> str:
        return "fake"

    def focused_target(self) -> FocusTarget:
        return TARGET

    def insert(self, text: str, target: FocusTarget, method: str) -> InsertResult:
        self.inserted.append((text, target, method))
        return InsertResult(delivered=self.delivered, left_on_clipboard=not self.delivered)

    def start_typing(self, target: FocusTarget) -> FakeTypingSession | None:
        self.typing_started.append(target)
        return self.session


@dataclass
class Recorder:
    states: list[tuple[AppState, str]] = field(default_factory=list)
    partials: list[str] = field(default_factory=list)
    notices: list[tuple[str, str, str]] = field(default_factory=list)

    def on_state(self, state: AppState, detail: str) -> None:
        self.states.append((state, detail))

    def on_partial(self, text: str) -> None:
        self.partials.append(text)

    def on_notice(self, title: str, message: str, level: str) -> None:
        self.notices.append((title, message, level))

    def on_history_changed(self) -> None:
        return None


@dataclass
class Rig:
    service: DictationService
    mic: FakeMic
    inserter: FakeInserter
    history: SqliteHistoryStore
    listener: Recorder
    clock: list[float]

    def dictate(self, held_s: float = 2.0, short_press_cancels: bool = False) -> Recording | None:
        assert self.service.start() == "Recording."
        self.clock[0] += held_s
        return self.service.stop(short_press_cancels=short_press_cancels)


def make_rig(tmp_path: Path, server: FakeOpenAI, recording: PcmAudio, *,
             transcriber: Callable[[Callable[[str], None]], Transcriber] | None = None,
             limits: UploadLimits | None = None, settings: Settings | None = None,
             listener: Recorder | None = None) -> Rig:
    config = ApiConfig(server.base_url, api_key=server.api_key, timeout_s=30.0)
    fast_retries = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05)
    clock = [1000.0]
    mic, inserter, listener = FakeMic(recording), FakeInserter(), listener or Recorder()
    history = SqliteHistoryStore(tmp_path / "history.sqlite3", tmp_path / "audio")
    current = settings or Settings()
    service = DictationService(
        audio=mic, inserter=inserter, history=history,
        tools=VadTools(lambda: current.dictation.upload_format),
        transcriber_factory=transcriber or (lambda report: OpenAITranscriber(
            config, retry_policy=fast_retries, on_retry=lambda notice: report(notice.message))),
        settings=lambda: current, listener=listener, limits=limits, clock=lambda: clock[0])
    return Rig(service, mic, inserter, history, listener, clock)


def silence(seconds: float) -> PcmAudio:
    return PcmAudio(np.zeros(int(seconds * 24_000), dtype="<i2").tobytes())


def test_a_dictation_lands_in_the_window_that_had_focus_and_is_kept_in_history(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    rig = make_rig(tmp_path, srv, jfk)
    recording = rig.dictate()
    assert recording is not None and recording.target == TARGET
    outcome = rig.service.process(recording, CancelToken())
    assert outcome.inserted and word_recall(JFK_TRANSCRIPT, outcome.text) >= 0.8
    [(text, target, method)] = rig.inserter.inserted
    assert (text, target, method) == (outcome.text, TARGET, "paste")
    assert rig.inserter.typing_started == []  # paste: one insert of the final text, nothing typed live
    assert len(rig.listener.partials) > 2  # live preview from the streamed deltas
    assert outcome.entry_id is not None
    entry = rig.history.get(outcome.entry_id)
    assert entry is not None and entry.status == "done" and entry.text == outcome.text
    assert Path(entry.audio_path).is_file()
    assert {"encode_ms", "transcribe_ms", "release_to_insert_ms", "release_to_first_text_ms"} <= set(entry.timings)
    [upload] = srv.requests
    assert upload.audio_content_type == "audio/flac" and upload.field("model") == "gpt-transcribe"  # auto: FLAC
    assert rig.listener.states[-1] == (AppState.IDLE, "")


def test_the_opus_upload_format_sends_and_keeps_ogg_opus(tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    settings = Settings()
    settings.dictation.upload_format = "opus"  # for slow links: a fifth of FLAC's size, slower to encode
    rig = make_rig(tmp_path, srv, jfk, settings=settings)
    recording = rig.dictate()
    assert recording is not None
    outcome = rig.service.process(recording, CancelToken())
    assert outcome.inserted and word_recall(JFK_TRANSCRIPT, outcome.text) >= 0.8
    [upload] = srv.requests
    assert upload.audio_content_type == "audio/ogg"
    entry = rig.history.get(outcome.entry_id or 0)
    assert entry is not None and entry.audio_path.endswith(".ogg") and Path(entry.audio_path).is_file()


@pytest.mark.parametrize(("setting", "duration_s", "expected"), [
    ("auto", 30.0, "flac"), ("auto", FLAC_UP_TO_S, "flac"), ("auto", FLAC_UP_TO_S + 1, "opus"),
    ("flac", 3600.0, "flac"), ("opus", 5.0, "opus"),
])
def test_upload_format_auto_is_flac_until_recordings_near_the_size_limit(
        setting: str, duration_s: float, expected: str) -> None:
    assert upload_format_for(setting, duration_s) == expected


def test_a_press_shorter_than_min_press_ms_is_a_silent_cancel(tmp_path: Path, srv: FakeOpenAI,
                                                               jfk: PcmAudio) -> None:
    rig = make_rig(tmp_path, srv, jfk)
    assert rig.dictate(held_s=0.1, short_press_cancels=True) is None
    assert rig.listener.notices == [] and rig.history.entries() == []
    assert rig.listener.states[-1] == (AppState.IDLE, "")
    assert rig.dictate(held_s=0.1, short_press_cancels=False) is not None  # toggle/IPC stops are never short


def test_silence_is_not_uploaded_and_says_no_speech(tmp_path: Path, srv: FakeOpenAI) -> None:
    rig = make_rig(tmp_path, srv, silence(2.0))
    recording = rig.dictate()
    assert recording is not None
    outcome = rig.service.process(recording, CancelToken())
    assert outcome.entry_id is None and "No speech" in outcome.message
    assert srv.requests == [] and rig.history.entries() == [] and rig.inserter.inserted == []
    assert any("No speech heard" in message for _t, message, _l in rig.listener.notices)


def test_text_that_was_not_delivered_stays_on_the_clipboard_with_a_notice(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    rig = make_rig(tmp_path, srv, jfk)
    rig.inserter.delivered = False
    recording = rig.dictate()
    assert recording is not None
    outcome = rig.service.process(recording, CancelToken())
    assert not outcome.inserted
    assert any("Copied — press Ctrl+V" in message for _t, message, _l in rig.listener.notices)


def test_three_500s_fail_with_the_audio_kept_and_retry_succeeds(tmp_path: Path, srv: FakeOpenAI,
                                                                jfk: PcmAudio) -> None:
    rig = make_rig(tmp_path, srv, jfk)
    srv.add_fault("transcriptions", status=500, times=3)
    recording = rig.dictate()
    assert recording is not None
    outcome = rig.service.process(recording, CancelToken())
    assert outcome.entry_id is not None and not outcome.inserted
    entry = rig.history.get(outcome.entry_id)
    assert entry is not None and entry.status == "failed" and entry.retryable and entry.error
    assert [title for title, _m, level in rig.listener.notices if level == "error"] == ["Transcription failed"]
    retried = rig.service.retry(outcome.entry_id, model="gpt-4o-mini-transcribe")
    assert retried.status == "done" and retried.model == "gpt-4o-mini-transcribe"
    assert word_recall(JFK_TRANSCRIPT, retried.text) >= 0.8
    assert srv.requests[-1].field("model") == "gpt-4o-mini-transcribe"


def test_the_users_replacements_apply_to_the_inserted_text_and_to_a_retry(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    settings = Settings()
    settings.dictation.replacements = "country => nation; fellow Americans -> friends"
    rig = make_rig(tmp_path, srv, jfk, settings=settings)
    recording = rig.dictate()
    assert recording is not None
    outcome = rig.service.process(recording, CancelToken())
    [(text, _target, _method)] = rig.inserter.inserted
    assert "nation" in text and "friends" in text and "country" not in text.lower(), text
    assert outcome.entry_id is not None
    retried = rig.service.retry(outcome.entry_id)
    assert "nation" in retried.text and "country" not in retried.text.lower(), retried.text


def test_cancel_closes_the_upload_at_once_and_marks_the_entry_cancelled(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    rig = make_rig(tmp_path, srv, jfk)
    srv.add_fault("transcriptions", "hang")
    recording = rig.dictate()
    assert recording is not None
    outcomes: list[Any] = []
    worker = threading.Thread(target=lambda: outcomes.append(rig.service.process(recording, CancelToken())))
    worker.start()
    srv.wait_for_requests(1, timeout=20)
    assert rig.service.cancel() == "Transcription cancelled."
    worker.join(timeout=3)
    assert not worker.is_alive(), "cancel did not end the hanging request"
    [outcome] = outcomes
    assert outcome.message == "Cancelled." and rig.inserter.inserted == []
    assert rig.history.get(outcome.entry_id).status == "cancelled"  # type: ignore[union-attr]


class WaitsForCancel:
    """A transcriber that is "in flight" until its token trips, then ends as soon as ``release`` is set."""

    def __init__(self, release: threading.Event) -> None:
        self.started = threading.Event()
        self._release = release

    def transcribe(self, audio: EncodedAudio, options: TranscriptionOptions,
                   on_delta: Callable[[TranscriptDelta], None], cancel: CancelToken) -> Transcript:
        ended = threading.Event()
        cancel.on_cancel(ended.set)
        self.started.set()
        assert ended.wait(10) and self._release.wait(10)
        raise Cancelled()

    def close(self) -> None: ...


class StagesTheRace(Recorder):
    """Holds the cancelling thread's "transcribing" until the worker has had every chance to end its job and
    tell "idle" first: the order a busy machine produced in CI, where the app then stayed busy for good."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelling = threading.get_ident()
        self.partial_cleared = threading.Event()  # cancel() clears the preview just before it tells the state
        self.job_ended = threading.Event()
        self.worker: threading.Thread | None = None
        self.staged = False

    def on_partial(self, text: str) -> None:
        super().on_partial(text)
        if text == "" and threading.get_ident() == self.cancelling:
            self.partial_cleared.set()

    def on_history_changed(self) -> None:
        if threading.get_ident() != self.cancelling:
            self.job_ended.set()  # the worker's last act before it drops the job and tells the state

    def on_state(self, state: AppState, detail: str) -> None:
        if (state == AppState.TRANSCRIBING and threading.get_ident() == self.cancelling
                and self.partial_cleared.is_set() and self.worker is not None):
            self.staged = True
            assert self.job_ended.wait(10)
            self.worker.join(0.5)  # fixed service: the worker waits for this tell, so this join times out
        super().on_state(state, detail)


def stage_cancel_racing_the_job_end(tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> StagesTheRace:
    release = threading.Event()
    transcriber = WaitsForCancel(release)
    listener = StagesTheRace()
    rig = make_rig(tmp_path, srv, PcmAudio(jfk.data[:24_000 * 2 * 2]), transcriber=lambda report: transcriber,
                   listener=listener)
    recording = rig.dictate()
    assert recording is not None
    listener.worker = threading.Thread(target=rig.service.process, args=(recording, CancelToken()))
    listener.worker.start()
    assert transcriber.started.wait(10)
    listener.partial_cleared.clear()

    def release_once_cancel_cleared_the_preview() -> None:
        if listener.partial_cleared.wait(10):
            release.set()

    threading.Thread(target=release_once_cancel_cleared_the_preview).start()
    assert rig.service.cancel() == "Transcription cancelled."
    listener.worker.join(10)
    rig.history.close()
    return listener


def test_the_last_state_told_is_idle_when_cancel_races_the_job_ending(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    # Cancel (GUI thread) and the ending job (worker) both tell the state; a listener that queues (Qt)
    # delivers in telling order, so a stale "transcribing" told after the worker's "idle" would stick.
    for _ in range(5):  # a round where cancel() read "no job left" proves nothing: stage it again
        listener = stage_cancel_racing_the_job_end(tmp_path, srv, jfk)
        assert listener.states[-1] == (AppState.IDLE, ""), listener.states[-3:]
        if listener.staged:
            return
    pytest.fail("cancel() never saw the job still running: the race was not staged")


def test_a_late_result_of_a_cancelled_dictation_is_dropped(tmp_path: Path, srv: FakeOpenAI,
                                                           jfk: PcmAudio) -> None:
    rig = make_rig(tmp_path, srv, jfk)
    recording = rig.dictate()
    assert recording is not None
    rig.service.cancel()  # before the worker even started: its result must not be inserted
    outcome = rig.service.process(recording, CancelToken())
    assert rig.inserter.inserted == [] and outcome.message == "Cancelled."
    # The next dictation is a new generation and goes through.
    second = rig.dictate()
    assert second is not None and rig.service.process(second, CancelToken()).inserted


class PartEcho:
    """A transcriber that answers each part with its number: shows the parts and their order."""

    def __init__(self) -> None:
        self.parts: list[EncodedAudio] = []

    def transcribe(self, audio: EncodedAudio, options: TranscriptionOptions,
                   on_delta: Callable[[TranscriptDelta], None], cancel: CancelToken) -> Transcript:
        self.parts.append(audio)
        text = f"part{len(self.parts)}."
        on_delta(TranscriptDelta(text))
        return Transcript(text)


def test_a_recording_over_the_upload_limit_is_split_on_silence_and_joined_in_order(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    long = PcmAudio((jfk.data + silence(0.8).data) * 4)  # ~47 s with pauses between the sentences
    echo = PartEcho()
    rig = make_rig(tmp_path, srv, long, transcriber=lambda _report: echo,
                   limits=UploadLimits(max_bytes=60_000))
    recording = rig.dictate()
    assert recording is not None
    outcome = rig.service.process(recording, CancelToken())
    assert len(echo.parts) >= 3 and all(len(part.data) <= 60_000 for part in echo.parts)
    assert outcome.text == " ".join(f"part{n}." for n in range(1, len(echo.parts) + 1))
    assert sum(part.duration_s for part in echo.parts) == pytest.approx(
        VadTools().trim_silence(long).duration_s, abs=0.05)


def test_a_long_recording_split_by_a_lowered_limit_is_transcribed_by_the_server_in_order(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    opening = PcmAudio(jfk.data[:int(7.4 * 24_000) * 2])  # "… ask not what your country can do for you"
    closing = PcmAudio(jfk.data[int(7.6 * 24_000) * 2:])  # "ask what you can do for your country"
    gap = silence(1.0)
    recording_audio = PcmAudio(opening.data + gap.data + closing.data + gap.data + opening.data)
    rig = make_rig(tmp_path, srv, recording_audio, limits=UploadLimits(max_duration_s=9.0))
    recording = rig.dictate()
    assert recording is not None
    outcome = rig.service.process(recording, CancelToken())
    assert len(srv.requests) == 3
    words = outcome.text.lower()
    assert words.index("americans") < words.index("ask what you") < words.rindex("americans")
    assert outcome.entry_id is not None
    assert rig.history.get(outcome.entry_id).timings["parts"] == 3  # type: ignore[union-attr]


def test_a_silence_hallucination_is_dropped(tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    class Hallucinating(PartEcho):
        def transcribe(self, audio: EncodedAudio, options: TranscriptionOptions,
                       on_delta: Callable[[TranscriptDelta], None], cancel: CancelToken) -> Transcript:
            return Transcript("Thank you for watching!")

    rig = make_rig(tmp_path, srv, jfk, transcriber=lambda _report: Hallucinating())
    recording = rig.dictate()
    assert recording is not None
    outcome = rig.service.process(recording, CancelToken())
    assert rig.inserter.inserted == [] and outcome.text == ""


def test_a_missing_microphone_is_told_instead_of_recording(tmp_path: Path, srv: FakeOpenAI,
                                                           jfk: PcmAudio) -> None:
    rig = make_rig(tmp_path, srv, jfk)
    rig.mic.error = AudioDeviceError("The microphone was unplugged.")
    message = rig.service.start()
    assert "unplugged" in message and not rig.service.recording and rig.mic.starts == 0


def test_a_microphone_that_cannot_wake_from_rest_is_told_and_nothing_records(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    rig = make_rig(tmp_path, srv, jfk)
    rig.mic.wake_error = AudioDeviceError("The microphone is not connected.")
    message = rig.service.start()
    assert "not connected" in message and "Settings → Audio" in message and not rig.service.recording
    assert rig.listener.notices[-1][0] == "Microphone" and rig.listener.notices[-1][2] == "error"


def test_start_twice_is_one_recording_and_stop_without_start_does_nothing(tmp_path: Path, srv: FakeOpenAI,
                                                                          jfk: PcmAudio) -> None:
    rig = make_rig(tmp_path, srv, jfk)
    assert rig.service.stop() is None
    assert rig.service.start() == "Recording."
    assert rig.service.start() == "Already recording."
    assert rig.mic.starts == 1
    assert rig.service.stop() is not None and rig.service.stop() is None
    wait_for(lambda: rig.listener.states[-1][0] == AppState.TRANSCRIBING, 1, "transcribing state")

"""insert.method "type": the words are typed into the target while the transcript streams in, and the final
(authoritative) text is made exact with the fewest BackSpaces over Sayso's own characters.

The DictationService runs with the real REST transcriber against the fake OpenAI server (a real model
transcribes jfk.flac and streams the deltas); only the OS edges are fakes. The target is FakeTypingSession:
a text field that starts with the user's own text and fails the test if Sayso erases more than it typed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import ApiConfig, EncodedAudio, PcmAudio, Transcript, TranscriptDelta
from desktop_app.core.models import TranscriptionOptions as Options
from desktop_app.core.ports import Transcriber
from desktop_app.core.settings import Settings
from desktop_app.providers.openai_stt import OpenAITranscriber
from desktop_app.services.dictation import TYPED_STAYS_ON_CANCEL, Outcome
from desktop_app.services.live_typing import LiveTyper, common_prefix_length
from tests.dictation.support import JFK_TRANSCRIPT
from tests.dictation.test_service import TARGET, FakeTypingSession, Rig, make_rig
from tests.fakeopenai import FakeOpenAI
from tests.support.desktop import wait_for, word_recall

USER_TEXT = "Notes from Zoë: "  # already in the field before dictating; must survive everything
FINAL = "And so, my fellow Earthlings, ask not what your planet can do for you — Grüße, café ✓"


class MarksTheFinal:
    """The real transcriber; notes what the target held at the moment the final text came back."""

    def __init__(self, inner: OpenAITranscriber, target: FakeTypingSession) -> None:
        self._inner = inner
        self._target = target
        self.text_at_final: str | None = None
        self.ops_at_final = 0

    def transcribe(self, audio: EncodedAudio, options: Options, on_delta: Callable[[TranscriptDelta], None],
                   cancel: CancelToken) -> Transcript:
        result = self._inner.transcribe(audio, options, on_delta, cancel)
        self.text_at_final, self.ops_at_final = self._target.text, len(self._target.ops)
        return result

    def close(self) -> None:
        self._inner.close()


def type_mode_rig(tmp_path: Path, server: FakeOpenAI, jfk: PcmAudio,
                  target: FakeTypingSession | None = None) -> tuple[Rig, FakeTypingSession, MarksTheFinal]:
    settings = Settings()
    settings.set("insert.method", "type")
    target = target or FakeTypingSession(text=USER_TEXT)
    config = ApiConfig(server.base_url, api_key=server.api_key, timeout_s=30.0)
    marker = MarksTheFinal(OpenAITranscriber(config), target)

    def factory(_report: Callable[[str], None]) -> Transcriber:
        return marker

    rig = make_rig(tmp_path, server, jfk, settings=settings, transcriber=factory)
    rig.inserter.session = target
    return rig, target, marker


def dictate(rig: Rig) -> Outcome:
    recording = rig.dictate()
    assert recording is not None and recording.insert_method == "type"
    return rig.service.process(recording, CancelToken())


def typed_texts(ops: list[tuple[str, Any, bool]]) -> list[str]:
    return [str(value) for kind, value, _refocus in ops if kind == "type"]


def test_deltas_are_typed_as_they_stream_in_and_the_final_text_is_exact(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    rig, target, marker = type_mode_rig(tmp_path, srv, jfk)
    outcome = dictate(rig)

    assert outcome.inserted and word_recall(JFK_TRANSCRIPT, outcome.text) >= 0.8
    assert marker.text_at_final is not None  # before the final text arrived, the words were in already:
    assert marker.text_at_final.startswith(USER_TEXT)
    assert word_recall(JFK_TRANSCRIPT, marker.text_at_final[len(USER_TEXT):]) >= 0.8
    assert len(typed_texts(target.ops[:marker.ops_at_final])) >= 5  # piece by piece, not in one go
    assert target.text == USER_TEXT + outcome.text  # and the field ends with exactly the final text
    assert target.ops[0][2] is True  # the first keys bring the dictated-into window back if needed
    assert not any(refocus for _kind, _value, refocus in target.ops[1:marker.ops_at_final])
    assert rig.inserter.inserted == [] and rig.inserter.typing_started == [TARGET]
    assert target.closed
    entry = rig.history.get(outcome.entry_id or 0)
    assert entry is not None and entry.status == "done" and entry.text == outcome.text
    assert {"release_to_first_typed_ms", "release_to_insert_ms", "release_to_first_text_ms"} <= set(entry.timings)


def test_a_final_text_that_differs_from_the_deltas_is_corrected_with_the_fewest_backspaces(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    srv.add_fault("transcriptions", "done_text", text=FINAL)
    rig, target, marker = type_mode_rig(tmp_path, srv, jfk)
    outcome = dictate(rig)

    assert outcome.inserted and outcome.text == FINAL
    assert marker.text_at_final is not None
    live = marker.text_at_final[len(USER_TEXT):]
    assert word_recall(JFK_TRANSCRIPT, live) >= 0.8  # the live words were the streamed ones
    keep = common_prefix_length(live, FINAL)
    assert 0 < keep < len(live)  # the test's premise: a shared start, then a difference
    correction = [(kind, value) for kind, value, _refocus in target.ops[marker.ops_at_final:]]
    assert correction == [("erase", len(live) - keep), ("type", FINAL[keep:])]
    assert target.text == USER_TEXT + FINAL
    entry = rig.history.get(outcome.entry_id or 0)
    assert entry is not None and entry.text == FINAL


def test_a_final_silence_hallucination_takes_back_everything_typed_and_nothing_of_the_users(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    srv.add_fault("transcriptions", "done_text", text="Thank you for watching.")
    rig, target, _marker = type_mode_rig(tmp_path, srv, jfk)
    outcome = dictate(rig)
    assert not outcome.inserted and "No speech" in outcome.message
    assert typed_texts(target.ops)  # the live words went in first…
    assert target.text == USER_TEXT  # …and all of them, only them, came out again
    entry = rig.history.get(outcome.entry_id or 0)
    assert entry is not None and entry.status == "done" and entry.text == ""


def test_cancel_mid_stream_stops_typing_at_once_and_leaves_what_was_typed(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    srv.add_fault("transcriptions", "slow_stream", delta_gap_s=0.3)
    rig, target, _marker = type_mode_rig(tmp_path, srv, jfk)
    recording = rig.dictate()
    assert recording is not None
    outcomes: list[Outcome] = []
    worker = threading.Thread(target=lambda: outcomes.append(rig.service.process(recording, CancelToken())))
    worker.start()
    wait_for(lambda: len(typed_texts(target.ops)) >= 2, 30, "a few words typed live")
    assert rig.service.cancel() == "Transcription cancelled."
    ops_at_cancel, text_at_cancel = len(target.ops), target.text
    worker.join(30)
    assert not worker.is_alive()

    assert outcomes[0].message == "Cancelled."
    assert len(target.ops) <= ops_at_cancel + 1  # at most the keys already on their way; then nothing
    assert target.text.startswith(USER_TEXT) and len(target.text) > len(USER_TEXT)
    assert target.text in (text_at_cancel, text_at_cancel + str(target.ops[-1][1]))
    assert ("Dictation", TYPED_STAYS_ON_CANCEL, "info") in rig.listener.notices
    entry = rig.history.get(outcomes[0].entry_id or 0)
    assert entry is not None and entry.status == "cancelled"


def test_when_the_user_switches_windows_mid_stream_typing_pauses_and_the_final_brings_the_target_back(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    def switch_away_after_two_pieces(session: FakeTypingSession) -> None:
        if len(session.ops) == 2:
            session.focused = False

    rig, target, marker = type_mode_rig(tmp_path, srv, jfk,
                                        FakeTypingSession(text=USER_TEXT, after_op=switch_away_after_two_pieces))
    outcome = dictate(rig)
    assert marker.ops_at_final == 2  # no key went anywhere while another window had the focus
    assert [refocus for _kind, _value, refocus in target.ops[2:]] == [True]  # one refocus, then the rest
    assert target.text == USER_TEXT + outcome.text and outcome.inserted


def test_a_target_closed_mid_stream_gets_the_whole_text_on_the_clipboard_with_a_notice(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    def close_after_two_pieces(session: FakeTypingSession) -> None:
        if len(session.ops) == 2:
            session.window_open = False

    rig, _target, _marker = type_mode_rig(tmp_path, srv, jfk,
                                          FakeTypingSession(text=USER_TEXT, after_op=close_after_two_pieces))
    outcome = dictate(rig)
    assert not outcome.inserted and "could not be finished" in outcome.message
    assert rig.inserter.inserted == [(outcome.text, TARGET, "clipboard")]
    assert any("Ctrl+V" in message for _t, message, level in rig.listener.notices if level == "warning")
    entry = rig.history.get(outcome.entry_id or 0)
    assert entry is not None and entry.status == "done" and word_recall(JFK_TRANSCRIPT, entry.text) >= 0.8


def test_without_live_typing_on_this_platform_the_final_text_is_typed_in_one_insert(
        tmp_path: Path, srv: FakeOpenAI, jfk: PcmAudio) -> None:
    rig, _target, _marker = type_mode_rig(tmp_path, srv, jfk)
    rig.inserter.session = None  # e.g. Wayland or no permission
    outcome = dictate(rig)
    assert rig.inserter.inserted == [(outcome.text, TARGET, "type")] and outcome.inserted


def test_typing_pauses_while_the_user_is_in_another_window_and_resumes_when_they_come_back() -> None:
    target = FakeTypingSession(text=USER_TEXT)
    typer = LiveTyper(lambda: target, stopped=lambda: False)
    typer.show("And so,")
    target.focused = False
    typer.show("And so, my fellow")  # nothing typed into the other window, and the focus is not stolen
    assert target.text == USER_TEXT + "And so," and not target.focused
    target.focused = True
    typer.show("And so, my fellow Americans")
    assert target.ops[1:] == [("type", " my fellow Americans", False)]
    assert typer.finish("And so, my fellow Americans.") and target.text == USER_TEXT + "And so, my fellow Americans."

"""The local engine in a child process: the model lives there, text streams back segment by segment, the
child exits by itself when idle (giving all its memory back), cancel kills it, errors cross with their
words, and a child that died is replaced on the next request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.app.offline import split_on_silences
from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import Cancelled, SaysoError
from desktop_app.core.models import EncodedAudio, TranscriptDelta, TranscriptionOptions
from desktop_app.providers.local_engine_process import EngineProcess
from desktop_app.providers.local_whisper import LocalWhisperTranscriber
from tests.offline.conftest import JFK_TEXT
from tests.support.desktop import wait_for, word_recall


@pytest.fixture
def engine() -> Iterator[EngineProcess]:
    process = EngineProcess(idle_s=120)
    try:
        yield process
    finally:
        process.stop()


def test_jfk_in_the_child_streams_text_piece_by_piece(engine: EngineProcess, meeting_model_dir: Path,
                                                      jfk_flac: EncodedAudio) -> None:
    deltas: list[TranscriptDelta] = []
    transcriber = LocalWhisperTranscriber(meeting_model_dir, cpu_threads=2, splitter=split_on_silences,
                                          worker=engine)
    transcript = transcriber.transcribe(jfk_flac, TranscriptionOptions(model="", language="en"), deltas.append,
                                        CancelToken())
    assert word_recall(JFK_TEXT, transcript.text) >= 0.8, transcript.text
    assert len(deltas) >= 2 and "".join(d.text for d in deltas) == transcript.text
    assert transcript.language == "en" and transcript.model == f"local:{meeting_model_dir.name}"
    assert engine.pid is not None  # kept for the next dictation


def test_an_idle_child_exits_by_itself(meeting_model_dir: Path) -> None:
    engine = EngineProcess(idle_s=1.0)
    try:
        engine.load(meeting_model_dir, 1)
        pid = engine.pid
        assert pid is not None
        wait_for(lambda: engine.pid is None, 30, "the idle engine process to exit")
        # The next use starts a new child, transparently.
        engine.load(meeting_model_dir, 1)
        assert engine.pid not in (None, pid)
    finally:
        engine.stop()


def test_cancel_kills_the_child_and_the_next_request_gets_a_new_one(
        engine: EngineProcess, meeting_model_dir: Path, jfk_flac: EncodedAudio) -> None:
    transcriber = LocalWhisperTranscriber(meeting_model_dir, cpu_threads=2, splitter=split_on_silences,
                                          worker=engine)
    cancel = CancelToken()
    first = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        def on_delta(_delta: TranscriptDelta) -> None:
            first.set()

        try:
            transcriber.transcribe(jfk_flac, TranscriptionOptions(model="", language="en"), on_delta, cancel)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert first.wait(60), "no text from the child"
    pid = engine.pid
    cancel.cancel()
    worker.join(15)
    assert not worker.is_alive() and len(failure) == 1 and isinstance(failure[0], Cancelled), failure
    assert engine.pid != pid
    text = transcriber.transcribe(jfk_flac, TranscriptionOptions(model=""), lambda _d: None, CancelToken()).text
    assert word_recall(JFK_TEXT, text) >= 0.8


def test_an_error_in_the_child_arrives_with_its_words(engine: EngineProcess, tmp_path: Path,
                                                      jfk_flac: EncodedAudio) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.bin").write_bytes(b"not a model")
    (tmp_path / "vocabulary.txt").write_text("a\n")
    transcriber = LocalWhisperTranscriber(tmp_path, worker=engine)
    with pytest.raises(SaysoError) as caught:
        transcriber.transcribe(jfk_flac, TranscriptionOptions(model=""), lambda _d: None, CancelToken())
    assert f"The local model in {tmp_path} could not be loaded" in caught.value.user_message
    assert "download the model again" in caught.value.hint
    assert engine.pid is not None  # the child survives a bad request


def test_a_child_that_died_is_replaced(engine: EngineProcess, meeting_model_dir: Path) -> None:
    engine.load(meeting_model_dir, 1)
    pid = engine.pid
    assert pid is not None
    import os
    import signal

    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: engine.pid is None, 10, "the killed child to be gone")
    engine.load(meeting_model_dir, 1)
    assert engine.pid not in (None, pid)


def test_stop_during_a_transcription_lets_it_finish_then_ends_the_child(
        engine: EngineProcess, meeting_model_dir: Path, jfk_flac: EncodedAudio) -> None:
    transcriber = LocalWhisperTranscriber(meeting_model_dir, cpu_threads=2, splitter=split_on_silences,
                                          worker=engine)
    stopped: list[bool] = []

    def stop_on_first_text(_delta: TranscriptDelta) -> None:
        if not stopped:  # e.g. the user picked another model while this dictation was being decoded
            stopped.append(True)
            engine.stop()

    text = transcriber.transcribe(jfk_flac, TranscriptionOptions(model="", language="en"), stop_on_first_text,
                                  CancelToken()).text
    assert stopped and word_recall(JFK_TEXT, text) >= 0.8, text
    assert engine.pid is None  # ended right after answering


def test_the_child_never_gets_the_api_key(meeting_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-must-not-reach-the-engine")
    engine = EngineProcess(idle_s=60)
    try:
        engine.load(meeting_model_dir, 1)
        assert engine.pid is not None
        environ = Path(f"/proc/{engine.pid}/environ").read_bytes()
        assert b"sk-test-must-not-reach-the-engine" not in environ and b"MKL_DISABLE_FAST_MM=1" in environ
    finally:
        engine.stop()

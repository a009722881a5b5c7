"""Transport controls of the reading from the command line and IPC (`sayso read --pause|--resume|--stop|
--next|--previous`): argument parsing, the command hub's read branch, and the ReadController's answers —
including "after an error, Play/resume continues where it stopped" (issue 5, Build 7)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pytestqt.qtbot import QtBot

from desktop_app import cli
from desktop_app.core.models import ApiConfig
from desktop_app.core.settings import Settings
from desktop_app.providers.openai_tts import OpenAISpeech
from desktop_app.qt.app_controller import AppController
from desktop_app.qt.read_controller import NOTHING_BEING_READ, ReadController, ReadDeps
from desktop_app.qt.tasks import TaskRunner
from desktop_app.services.read_aloud import ReadSink
from desktop_app.services.read_text import PreparedText
from tests.fakeopenai import FakeOpenAI
from tests.read_aloud.conftest import RecordingSink
from tests.read_aloud.test_session import TEXT, GatedSink, speech_inputs

# ----- parsing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["pause", "resume", "stop", "next", "previous"])
def test_each_control_option_parses_to_its_action(action: str) -> None:
    args = cli.build_parser().parse_args(["read", f"--{action}"])
    assert args.control == action and args.text == []


def test_reading_text_has_no_control() -> None:
    args = cli.build_parser().parse_args(["read", "hello", "world"])
    assert args.control is None and args.text == ["hello", "world"]


@pytest.mark.parametrize("argv", [["read", "--pause", "--stop"], ["read", "--clipboard", "--next"],
                                  ["read", "--selection", "--previous"]])
def test_two_controls_or_a_control_with_a_source_are_refused(argv: list[str],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(argv)
    assert exit_info.value.code == cli.EXIT_USAGE
    assert "not allowed with argument" in capsys.readouterr().err


def recorder(sent: list[object]) -> Callable[..., tuple[int, None]]:
    """Stands in for cli._remote: records (command, payload) instead of talking to a running Sayso."""

    def remote(_args: object, command: str, payload: object = None) -> tuple[int, None]:
        sent.append((command, payload))
        return cli.EXIT_OK, None

    return remote


def test_a_control_with_text_is_a_usage_error_before_anything_is_sent(
        tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[object] = []
    monkeypatch.setattr(cli, "_remote", recorder(sent))
    assert cli.main(["--profile", str(tmp_path), "read", "--pause", "some", "text"]) == cli.EXIT_USAGE
    assert "takes no text" in capsys.readouterr().err
    assert sent == []


def test_a_control_is_sent_as_the_read_command_with_its_action(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[object] = []
    monkeypatch.setattr(cli, "_remote", recorder(sent))
    assert cli.main(["--profile", str(tmp_path), "read", "--previous"]) == cli.EXIT_OK
    assert sent == [("read", {"action": "previous"})]


# ----- the command hub ------------------------------------------------------------------------------------


class ScriptedReader:
    """A ReadControl that answers like ReadController and records what was asked."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.reading = False

    def read(self, source: str, text: str = "") -> str:
        self.calls.append(f"read:{source}")
        return "Reading aloud."

    def stop(self) -> str:
        self.calls.append("stop")
        return "Stopped reading." if self.reading else ""

    def pause_toggle(self) -> str:
        self.calls.append("pause")
        return "Paused." if self.reading else NOTHING_BEING_READ

    def resume(self) -> str:
        self.calls.append("resume")
        return "Resumed."

    def next_sentence(self) -> str:
        self.calls.append("next")
        return "Skipped to the next sentence."

    def previous_sentence(self) -> str:
        self.calls.append("previous")
        return "Back to the previous sentence."


@pytest.fixture
def hub(qtbot: QtBot) -> Iterator[tuple[AppController, ScriptedReader]]:
    controller = AppController()
    reader = ScriptedReader()
    controller.reader = reader
    yield controller, reader


@pytest.mark.parametrize(("action", "call", "message"), [
    ("pause", "pause", "Paused."), ("resume", "resume", "Resumed."), ("stop", "stop", "Stopped reading."),
    ("next", "next", "Skipped to the next sentence."), ("previous", "previous", "Back to the previous sentence."),
])
def test_the_hub_routes_each_action_to_the_reader(hub: tuple[AppController, ScriptedReader], action: str,
                                                  call: str, message: str) -> None:
    controller, reader = hub
    reader.reading = True
    reply = controller.handle_command("read", {"action": action})
    assert (reply.ok, reply.message) == (True, message)
    assert reader.calls == [call]


def test_with_nothing_read_the_hub_says_so_without_failing(hub: tuple[AppController, ScriptedReader]) -> None:
    controller, _reader = hub
    for action in ("pause", "stop"):
        reply = controller.handle_command("read", {"action": action})
        assert (reply.ok, reply.message) == (True, NOTHING_BEING_READ)


def test_an_unknown_action_is_refused_and_texts_still_read(hub: tuple[AppController, ScriptedReader]) -> None:
    controller, reader = hub
    reply = controller.handle_command("read", {"action": "rewind"})
    assert not reply.ok and "Unknown read action 'rewind'" in reply.message
    reply = controller.handle_command("read", {"source": "text", "text": "Hello."})
    assert reply.ok and reader.calls == ["read:text"]


def test_no_reader_in_this_session(qtbot: QtBot) -> None:
    reply = AppController().handle_command("read", {"action": "pause"})
    assert not reply.ok and "not available" in reply.message


# ----- the controller -------------------------------------------------------------------------------------


class Rig:
    """A ReadController on the real speech provider and the in-process fake server; the sink is swappable."""

    def __init__(self, srv: FakeOpenAI) -> None:
        self.settings = Settings()
        self.settings.set("read.engine", "speech")
        self.sink: ReadSink | None = RecordingSink()
        self.tasks = TaskRunner()
        self.notices: list[str] = []
        deps = ReadDeps(
            settings=lambda: self.settings,
            read_selection=lambda: None,
            read_clipboard=lambda: "",
            has_key=lambda _settings: True,
            make_synthesizer=lambda _choice, _settings: OpenAISpeech(
                ApiConfig(srv.base_url, api_key=srv.api_key, timeout_s=30.0)),
            sink=lambda: self.sink,
            sink_problem=lambda: "no output device in this test",
            open_writer=lambda path: pytest.fail("nothing is saved here"),
        )
        self.deps = deps
        self.controller = ReadController(self.tasks, deps)
        self.controller.notice.connect(lambda _title, message, _level: self.notices.append(message))


@pytest.fixture
def rig(srv: FakeOpenAI, qtbot: QtBot) -> Iterator[Rig]:
    made = Rig(srv)
    yield made
    made.controller.stop()
    assert made.tasks.shutdown()


def test_with_nothing_read_every_control_says_so(rig: Rig) -> None:
    controller = rig.controller
    assert controller.pause_toggle() == NOTHING_BEING_READ
    assert controller.resume() == NOTHING_BEING_READ
    assert controller.next_sentence() == NOTHING_BEING_READ
    assert controller.previous_sentence() == NOTHING_BEING_READ
    assert controller.stop() == ""  # the hub turns this into "Nothing is being read."


def test_pause_and_resume_answer_and_reach_the_sink(rig: Rig, qtbot: QtBot) -> None:
    sink = GatedSink()  # the reading stays "playing" until the gate opens
    rig.sink = sink
    controller = rig.controller
    assert controller.read("text", TEXT) == "Reading aloud."
    assert controller.pause_toggle() == "Paused."
    assert sink.paused and controller.paused
    assert controller.resume() == "Resumed."
    assert not sink.paused
    assert controller.resume() == "Already reading."
    assert controller.pause_toggle() == "Paused."
    assert controller.pause_toggle() == "Resumed."
    with qtbot.waitSignal(controller.speaking_changed, timeout=10_000):
        assert controller.stop() == "Stopped reading."
    assert not controller.speaking


def fail_at_the_third_chunk(rig: Rig, srv: FakeOpenAI, qtbot: QtBot) -> int:
    """Read TEXT and revoke the key while chunk 1 plays, so chunk 3 fails with 401; returns its offset."""
    sink = GatedSink()  # the reading stays "playing" until the gate opens
    rig.sink = sink
    rig.controller.read("text", TEXT)
    srv.wait_for_requests(2, timeout=20)
    srv.valid_keys = ["another-key"]
    with qtbot.waitSignal(rig.controller.speaking_changed, timeout=20_000):
        sink.gate.set()
    assert any("Press Play to continue from here" in n for n in rig.notices), rig.notices
    srv.valid_keys = [srv.api_key]
    srv.clear_requests()
    rig.sink = RecordingSink()
    return list(PreparedText(TEXT).chunks())[2].chunk.start


def test_after_an_error_resume_continues_with_the_chunk_that_failed(rig: Rig, srv: FakeOpenAI,
                                                                    qtbot: QtBot) -> None:
    failed_at = fail_at_the_third_chunk(rig, srv, qtbot)
    with qtbot.waitSignal(rig.controller.speaking_changed, timeout=10_000, check_params_cb=lambda on: not on):
        assert rig.controller.resume() == "Continuing from where the reading stopped."
    assert TEXT.index(speech_inputs(srv)[0]) == failed_at  # not the first chunk again


def test_the_page_play_on_the_same_text_also_continues(rig: Rig, srv: FakeOpenAI, qtbot: QtBot) -> None:
    failed_at = fail_at_the_third_chunk(rig, srv, qtbot)
    with qtbot.waitSignal(rig.controller.speaking_changed, timeout=10_000, check_params_cb=lambda on: not on):
        rig.controller.play(TEXT)
    assert TEXT.index(speech_inputs(srv)[0]) == failed_at


def test_stop_after_an_error_forgets_the_place(rig: Rig, srv: FakeOpenAI, qtbot: QtBot) -> None:
    fail_at_the_third_chunk(rig, srv, qtbot)
    rig.controller.stop()
    assert rig.controller.resume() == NOTHING_BEING_READ
    with qtbot.waitSignal(rig.controller.speaking_changed, timeout=10_000, check_params_cb=lambda on: not on):
        rig.controller.play(TEXT)
    assert TEXT.index(speech_inputs(srv)[0]) == 0


def test_a_continuation_that_cannot_start_keeps_the_place(rig: Rig, srv: FakeOpenAI, qtbot: QtBot) -> None:
    failed_at = fail_at_the_third_chunk(rig, srv, qtbot)
    rig.sink = None  # the audio output is gone when the user presses Play
    with qtbot.waitSignal(rig.controller.speaking_changed, timeout=10_000, check_params_cb=lambda on: not on):
        rig.controller.resume()
    assert "no output device in this test" in rig.notices[-1]
    assert speech_inputs(srv) == []

    rig.sink = RecordingSink()
    with qtbot.waitSignal(rig.controller.speaking_changed, timeout=10_000, check_params_cb=lambda on: not on):
        assert rig.controller.resume() == "Continuing from where the reading stopped."
    assert TEXT.index(speech_inputs(srv)[0]) == failed_at

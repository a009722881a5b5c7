"""The task runner: every task ends with exactly one outcome signal, threads are joined, and many short
tasks in a row neither leak threads nor crash when Python and Qt release their objects."""

from __future__ import annotations

import functools
import gc
import threading

from pytestqt.qtbot import QtBot

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import Cancelled
from desktop_app.qt.tasks import TaskRunner


def number_for(n: int, _token: CancelToken) -> int:
    return n


def test_many_short_tasks_each_end_once_and_release_their_threads(qtbot: QtBot) -> None:
    runner = TaskRunner()
    outcomes: list[object] = []
    finished: list[str] = []
    for n in range(200):
        task = runner.start(f"t{n}", functools.partial(number_for, n))
        task.succeeded.connect(outcomes.append)
        task.finished.connect(functools.partial(finished.append, task.name))
    qtbot.waitUntil(lambda: len(finished) == 200, timeout=30_000)
    gc.collect()
    assert sorted(outcomes) == list(range(200))  # type: ignore[type-var]
    assert runner.running() == []
    assert runner.shutdown()


def test_failures_and_cancels_are_reported_as_such(qtbot: QtBot) -> None:
    runner = TaskRunner()

    def fail(_token: CancelToken) -> None:
        raise ValueError("boom")

    failed = runner.start("fail", fail)
    with qtbot.waitSignal(failed.failed, timeout=5000) as blocker:
        pass
    assert isinstance(blocker.args[0], ValueError)

    gate = threading.Event()

    def wait_for_cancel(token: CancelToken) -> None:
        gate.set()
        token.wait(30)
        raise Cancelled()

    waiting = runner.start("wait", wait_for_cancel)
    gate.wait(5)
    with qtbot.waitSignal(waiting.cancelled, timeout=5000):
        waiting.cancel()
    assert runner.shutdown()


def test_shutdown_cancels_and_joins_running_tasks(qtbot: QtBot) -> None:
    runner = TaskRunner()
    started = threading.Event()

    def long_running(token: CancelToken) -> str:
        started.set()
        token.wait(60)
        return "stopped"

    runner.start("long", long_running)
    assert started.wait(5)
    assert runner.shutdown(timeout_ms=5000)
    assert runner.running() == []

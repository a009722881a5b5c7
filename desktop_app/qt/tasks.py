"""Runs blocking calls off the GUI thread and brings their outcome back as queued signals.

Each task gets its own worker QObject on its own QThread with the full wiring (started→run, terminal
signal→quit, finished→release). ``TaskRunner.shutdown()`` cancels and joins every thread still alive,
so Quit never leaves a "QThread destroyed while running".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import Cancelled

log = logging.getLogger(__name__)


class _Worker(QObject):
    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    done = Signal()

    def __init__(self, fn: Callable[[CancelToken], Any], token: CancelToken) -> None:
        super().__init__()
        self._fn = fn
        self._token = token

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn(self._token)
        except Cancelled:
            self.cancelled.emit()
        except BaseException as exc:
            if self._token.cancelled:
                self.cancelled.emit()
            else:
                log.debug("Task failed: %r", exc)
                self.failed.emit(exc)
        else:
            if self._token.cancelled:
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
        finally:
            self.done.emit()


class Task(QObject):
    """Handle of a running task; exactly one of succeeded / failed / cancelled is emitted."""

    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.token = CancelToken()
        self.worker_thread: QThread | None = None

    def cancel(self) -> None:
        self.token.cancel()


class TaskRunner(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._live: dict[int, tuple[Task, QThread, _Worker]] = {}

    def start(self, name: str, fn: Callable[[CancelToken], Any]) -> Task:
        # Ownership is never shared between Python and Qt (a double delete crashes): the task and its thread
        # have the runner as Qt parent and are deleted by Qt; the worker cannot have a parent (it moves to
        # the thread), so Python owns it and drops it here once its thread has finished.
        task = Task(name, self)
        thread = QThread(self)
        thread.setObjectName(f"sayso-{name}")
        worker = _Worker(fn, task.token)
        worker.moveToThread(thread)
        task.worker_thread = thread
        thread.started.connect(worker.run)
        worker.succeeded.connect(task.succeeded)
        worker.failed.connect(task.failed)
        worker.cancelled.connect(task.cancelled)
        worker.done.connect(thread.quit)
        key = id(task)
        # A bound slot, not a closure: a closure would hold the runner and the thread alive from inside the
        # thread's own connection, and their teardown order would then be up to the garbage collector.
        thread.finished.connect(self._on_thread_finished)
        self._live[key] = (task, thread, worker)
        thread.start()
        return task

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self.sender()
        key = next((key for key, (_task, live_thread, _worker) in self._live.items() if live_thread is thread),
                   None)
        if key is None:  # already released by shutdown()
            return
        task, live_thread, _worker = self._live[key]
        live_thread.wait()
        del self._live[key]  # releases the worker: its thread has ended, so deleting it here is safe
        task.finished.emit()
        live_thread.deleteLater()
        task.deleteLater()

    def running(self) -> list[Task]:
        """Tasks whose thread is still alive (checked directly: after the event loop has ended, the queued
        'finished' bookkeeping may never run)."""
        return [task for task, thread, _worker in self._live.values() if thread.isRunning()]

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel every task and join its thread. True when all threads ended in time."""
        all_joined = True
        for key, (task, thread, _worker) in list(self._live.items()):
            task.cancel()
            thread.quit()
            if thread.wait(timeout_ms):
                # The loop that would run the 'finished' bookkeeping may be gone: release the worker here.
                del self._live[key]
            else:
                log.error("Thread %s did not stop within %d ms", thread.objectName(), timeout_ms)
                all_joined = False
        return all_joined

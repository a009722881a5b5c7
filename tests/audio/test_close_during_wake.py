"""A device change (close + open from Settings) racing a key-down or a reading start that wakes a resting stream.

The wake-up restarts the PortAudio stream under the run lock; ``close()`` must wait for it instead of closing
the stream under its feet, which made the wake report a failed microphone or speaker to the user.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from desktop_app.audio.capture import CaptureState, MicCapture
from desktop_app.audio.playback import Player
from tests.audio.conftest import PulseServer
from tests.audio.signals import to_pcm, tone
from tests.support.desktop import wait_for

pytestmark = [pytest.mark.desktop]


class HeldStop:
    """Stands in for the resting stream's ``stop()`` during a wake: holds the waking thread inside it."""

    def __init__(self, stream: Any) -> None:
        self.real_stop: Callable[[], None] = stream.stop
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        self.entered.set()
        assert self.release.wait(10), "the test never released the held wake-up"
        self.real_stop()


def race_close_against_wake(stream: Any, wake: Callable[[], None], close: Callable[[], None]) -> list[BaseException]:
    held = HeldStop(stream)
    stream.stop = held
    errors: list[BaseException] = []

    def run(step: Callable[[], None]) -> None:
        try:
            step()
        except BaseException as exc:  # the test reports whatever the thread hit
            errors.append(exc)

    waker = threading.Thread(target=run, args=(wake,))
    waker.start()
    assert held.entered.wait(10), "the wake-up never reached the stream restart"
    closer = threading.Thread(target=run, args=(close,))
    closer.start()
    # Give an unguarded close() time to tear the stream down under the held wake-up (with the run lock it
    # simply waits); either way the outcome below is decided by the lock, not by this wait.
    closer.join(0.5)
    held.release.set()
    waker.join(10)
    closer.join(10)
    assert not waker.is_alive() and not closer.is_alive()
    return errors


def test_closing_the_microphone_while_a_key_down_wakes_it(pulse: PulseServer) -> None:
    mic = MicCapture(standby_after_s=0.3)
    try:
        mic.open("")
        assert mic.wait_ready(10), "the microphone stream delivered no audio"
        wait_for(lambda: mic.state is CaptureState.STANDBY, 10, "the idle microphone to go to standby")
        stream = mic._stream
        assert stream is not None
        errors = race_close_against_wake(stream, mic.mark_start, mic.close)
        assert errors == [], f"the key-down failed because the stream was closed under it: {errors}"
        assert mic.error is None
    finally:
        mic.close()


def test_closing_the_speaker_while_a_reading_wakes_it(pulse: PulseServer) -> None:
    out = Player(buffer_s=0.5, standby_after_s=0.3)
    try:
        out.open("", 24_000)
        assert out.wait_ready(10), "the output stream never started"
        wait_for(lambda: out.standby, 10, "the idle speaker to go to standby")
        stream = out._stream
        assert stream is not None
        errors = race_close_against_wake(stream, lambda: out.write(to_pcm(tone(0.05))), out.close)
        assert errors == [], f"the write failed because the stream was closed under it: {errors}"
        assert out.error is None
    finally:
        out.close()

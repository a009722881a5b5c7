"""Proof that the headless desktop the end-to-end tests run on is real: a tray host on the X display, a
Secret Service that stores secrets, a microphone that hears what is played into it, a speaker that can be
recorded, and another application's window that receives typed keys. If one of these fails, every
end-to-end test that relies on it would fail for the wrong reason: look here first."""

from __future__ import annotations

import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.desktop import (
    TargetApp,
    clipboard_get,
    clipboard_set,
    play_into_mic,
    record_speaker,
    require_desktop,
    screenshot,
    start_target_app,
    transcribe,
    wait_for,
    word_recall,
    xdotool,
)

pytestmark = pytest.mark.desktop

JFK_TRANSCRIPT = (
    "And so, my fellow Americans, ask not what your country can do for you,"
    " ask what you can do for your country."
)


@pytest.fixture(autouse=True)
def _desktop() -> None:
    require_desktop()


def test_a_tray_host_owns_the_system_tray_selection() -> None:
    from Xlib import X, display

    screen_display = display.Display()
    try:
        atom = screen_display.intern_atom(f"_NET_SYSTEM_TRAY_S{screen_display.get_default_screen()}")
        assert screen_display.get_selection_owner(atom) != X.NONE
    finally:
        screen_display.close()


def test_keyring_stores_secrets_in_the_real_gnome_keyring() -> None:
    import keyring
    from keyring.backends.SecretService import Keyring as SecretServiceKeyring

    assert isinstance(keyring.get_keyring(), SecretServiceKeyring)
    service, user, secret = f"sayso-env-test-{uuid.uuid4().hex}", "tester", "s3cret-✓"
    keyring.set_password(service, user, secret)
    try:
        assert keyring.get_password(service, user) == secret
        # A second, independent client sees the same item: the secret really lives in gnome-keyring.
        looked_up = subprocess.run(
            ["secret-tool", "lookup", "service", service, "username", user],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        assert looked_up.stdout == secret
    finally:
        keyring.delete_password(service, user)
    assert keyring.get_password(service, user) is None


class _Recorder:
    """Captures the default input device (the virtual mic) with sounddevice, as the app does."""

    def __init__(self, sample_rate: int = 16_000) -> None:
        self.sample_rate = sample_rate
        self._blocks: list[np.ndarray] = []
        self._lock = threading.Lock()

    def _callback(self, indata: np.ndarray, _frames: int, _time: object, _status: object) -> None:
        with self._lock:
            self._blocks.append(indata[:, 0].copy())

    def frames(self) -> int:
        with self._lock:
            return sum(len(block) for block in self._blocks)

    def audio(self) -> np.ndarray:
        with self._lock:
            return np.concatenate(self._blocks) if self._blocks else np.zeros(0, dtype=np.float32)

    def stream(self) -> Any:  # a sounddevice.InputStream (untyped library)
        import sounddevice

        return sounddevice.InputStream(
            samplerate=self.sample_rate, channels=1, dtype="float32", callback=self._callback
        )


@pytest.mark.slow
def test_audio_played_into_the_mic_is_recorded_from_the_default_input(
    shared_dir: Path, artifacts_dir: Path
) -> None:
    import soundfile

    recorder = _Recorder()
    with recorder.stream():
        # The first stream needs ~0.5 s before audio flows: play only once capture really runs,
        # and keep ~0.3 s of (silent) capture to compare against.
        wait_for(lambda: recorder.frames() >= recorder.sample_rate * 0.3, 10, "the microphone stream to run")
        silent_frames = recorder.frames()
        player = play_into_mic(shared_dir / "audio" / "jfk.flac")
        assert player.wait(timeout=60) == 0
        wait_for(
            lambda: recorder.frames() >= silent_frames + recorder.sample_rate * 10.5, 10, "the whole clip"
        )
    audio = recorder.audio()
    soundfile.write(str(artifacts_dir / "env-mic-jfk.wav"), audio, recorder.sample_rate)

    def rms(samples: np.ndarray) -> float:
        return float(np.sqrt(np.mean(np.square(samples))))

    assert rms(audio[: silent_frames // 2]) < 1e-4, "the virtual mic is not silent when nothing plays"
    assert rms(audio[silent_frames:]) > 0.01, "the clip played into the mic was not heard"
    heard = transcribe(artifacts_dir / "env-mic-jfk.wav")
    assert word_recall(JFK_TRANSCRIPT, heard) >= 0.7, heard


@pytest.mark.slow
def test_speech_dispatcher_speaks_into_the_virtual_speaker(tmp_path: Path) -> None:
    sentence = "Please read this sentence out loud"
    with record_speaker(tmp_path / "speaker.wav") as recording:
        subprocess.run(["spd-say", "--wait", "--language", "en", sentence], timeout=30, check=True)
    heard = transcribe(recording)
    assert word_recall(sentence, heard) >= 0.7, heard


@pytest.fixture
def lineedit_target(tmp_path: Path) -> Iterator[TargetApp]:
    with start_target_app("lineedit", tmp_path) as app:
        yield app


def test_another_apps_field_receives_typed_keys(lineedit_target: TargetApp) -> None:
    xdotool("type", "--delay", "5", "typed into another app 123")
    assert lineedit_target.wait_text(lambda text: text == "typed into another app 123", what="the typed text")


def test_selecting_text_in_another_app_sets_primary(tmp_path: Path) -> None:
    with start_target_app("textedit", tmp_path, initial_text="select me") as app:
        assert app.text() == "select me"
        xdotool("key", "ctrl+a")
        wait_for(lambda: clipboard_get("primary") == "select me", 5, "PRIMARY to hold the selected text")


def test_terminal_target_pastes_only_with_ctrl_shift_v(tmp_path: Path) -> None:
    with start_target_app("terminal", tmp_path) as app:
        window_class = subprocess.run(
            ["xprop", "-id", str(app.window_id), "WM_CLASS"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        assert '"xterm", "XTerm"' in window_class.stdout
        clipboard_set("from the clipboard")
        xdotool("key", "ctrl+v")
        xdotool("type", "x")  # a key after the ignored Ctrl+V proves that Ctrl+V has been handled
        app.wait_text(lambda text: text == "x", what="the key after Ctrl+V")
        xdotool("key", "ctrl+shift+v")
        app.wait_text(lambda text: text == "xfrom the clipboard", what="the Ctrl+Shift+V paste")


def test_screenshot_of_the_display(tmp_path: Path) -> None:
    shot = screenshot(tmp_path / "display.png")
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    assert (width, height) == (1280, 800)


def test_word_recall_ignores_case_punctuation_and_order() -> None:
    assert word_recall("Ask not, what!", "what ASK not") == 1.0
    assert word_recall("ask not ask", "ask") == pytest.approx(1 / 3)
    assert word_recall("don't stop", "dont") == 0.5
    with pytest.raises(ValueError):
        word_recall("...", "anything")

"""Global hotkeys on X11: XGrabKey on the root window, press and release, on one background thread.

The thread blocks in ``select`` on the X connection and a wake-up pipe, so ``close()`` and runtime
(un)registration take effect at once. Detectable auto-repeat makes a held key produce one press and one
release; a per-binding "pressed" flag guarantees every press callback is followed by exactly one release.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from Xlib import X, error

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.core.ports import HotkeyBinding
from desktop_app.platform.keys import parse_key_sequence
from desktop_app.platform.linux.x11_common import (
    ModifierMasks,
    chord_keysym,
    drain,
    modifier_masks,
    open_display,
    set_detectable_autorepeat,
    wait_for_activity,
    wake_pipe,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
COMMAND_TIMEOUT = 5.0


@dataclass
class _Grab:
    binding: HotkeyBinding
    text: str
    keycode: int
    modifiers: int
    on_press: Callable[[], None]
    on_release: Callable[[], None] | None
    pressed: bool = False
    grabbed_masks: list[int] = field(default_factory=list)


class X11HotkeyService:
    """HotkeyService for X11. Callbacks run on this service's thread."""

    def __init__(self, display_name: str | None = None) -> None:
        self._display = open_display(display_name)
        self._root = self._display.screen().root
        self._masks: ModifierMasks = modifier_masks(self._display)
        self._detectable_repeat = set_detectable_autorepeat(self._display)
        self._grabs: dict[str, _Grab] = {}
        self._commands: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self._wake_read, self._wake_write = wake_pipe()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="x11-hotkeys", daemon=True)
        self._thread.start()

    # --- HotkeyService -------------------------------------------------------------------------------

    def backend_name(self) -> str:
        return "X11 XGrabKey"

    def supports_release(self) -> bool:
        return True

    def register(self, binding: HotkeyBinding, on_press: Callable[[], None],
                 on_release: Callable[[], None] | None = None) -> None:
        """Grab ``binding.sequence``; replaces an earlier binding with the same name.

        Raises PlatformUnsupported when the key cannot be parsed or another application holds it.
        """
        chord = parse_key_sequence(binding.sequence)
        keysym = chord_keysym(chord)
        self._call(lambda: self._grab(binding, chord.text, keysym, chord_mask=self._masks.for_chord(chord),
                                      on_press=on_press, on_release=on_release))

    def unregister(self, name: str) -> None:
        self._call(lambda: self._ungrab(name))

    def unregister_all(self) -> None:
        self._call(self._ungrab_all)

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        self._wake()
        self._thread.join(timeout=COMMAND_TIMEOUT)
        for fd in (self._wake_read, self._wake_write):
            os.close(fd)

    def is_pressed(self, name: str) -> bool:
        grab = self._grabs.get(name)
        return bool(grab and grab.pressed)

    # --- work on the X thread --------------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        if self._closing.is_set():
            raise PlatformUnsupported("The hotkey service is closed.")
        future: Future[T] = Future()
        self._commands.put((fn, future))
        self._wake()
        return future.result(timeout=COMMAND_TIMEOUT)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):  # pipe full (already woken) or closed
            os.write(self._wake_write, b"x")

    def _grab(self, binding: HotkeyBinding, text: str, keysym: int, chord_mask: int,
              on_press: Callable[[], None], on_release: Callable[[], None] | None) -> None:
        d = self._display
        keycode = int(d.keysym_to_keycode(keysym))
        if not keycode:
            raise PlatformUnsupported(f"The key in “{text}” is not on this keyboard layout; choose another.")
        if d.keycode_to_keysym(keycode, 0) != keysym and d.keycode_to_keysym(keycode, 1) == keysym:
            chord_mask |= self._masks.shift  # e.g. "Ctrl+!" is Ctrl+Shift+1 on the wire
        self._ungrab(binding.name)
        for other in self._grabs.values():
            if other.keycode == keycode and other.modifiers == chord_mask:
                raise PlatformUnsupported(
                    f"{text} is already used for “{other.binding.name}” in Sayso; choose another hotkey.")
        grab = _Grab(binding, text, keycode, chord_mask, on_press, on_release)
        catcher = error.CatchError(error.BadAccess)
        for lock in self._masks.lock_variants():
            self._root.grab_key(keycode, chord_mask | lock, True, X.GrabModeAsync, X.GrabModeAsync,
                                onerror=catcher)
            grab.grabbed_masks.append(chord_mask | lock)
        d.sync()
        if catcher.get_error() is not None:
            self._release_grab(grab)
            raise PlatformUnsupported(
                f"{text} is already used by another application; choose another hotkey.",
                hint="Pick a different combination in Settings → Dictation.")
        self._grabs[binding.name] = grab

    def _ungrab(self, name: str) -> None:
        grab = self._grabs.pop(name, None)
        if grab is None:
            return
        self._release_grab(grab)
        if grab.pressed and grab.on_release is not None:
            grab.pressed = False
            self._safe(grab.on_release)  # a press must always get its release, even when unbound mid-hold

    def _release_grab(self, grab: _Grab) -> None:
        for mask in grab.grabbed_masks:
            self._root.ungrab_key(grab.keycode, mask, onerror=error.CatchError())
        self._display.sync()

    def _ungrab_all(self) -> None:
        for name in list(self._grabs):
            self._ungrab(name)

    def _run(self) -> None:
        d = self._display
        try:
            while not self._closing.is_set():
                self._run_commands()
                self._dispatch_pending()
                if self._wake_read in wait_for_activity(d, also=[self._wake_read]):
                    drain(self._wake_read)
        except (error.ConnectionClosedError, OSError) as exc:
            log.warning("X connection for hotkeys ended: %s", exc)
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        try:
            self._ungrab_all()
            self._display.close()
        except (error.ConnectionClosedError, OSError):
            pass
        while not self._commands.empty():
            _, future = self._commands.get_nowait()
            future.set_exception(PlatformUnsupported("The hotkey service is closed."))

    def _run_commands(self) -> None:
        while True:
            try:
                fn, future = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                future.set_result(fn())
            except Exception as exc:  # handed to the caller's thread
                future.set_exception(exc)

    def _dispatch_pending(self) -> None:
        d = self._display
        held_back: Any = None
        while held_back is not None or d.pending_events():
            event, held_back = (held_back, None) if held_back is not None else (d.next_event(), None)
            if event.type == X.KeyPress:
                self._on_press(event)
            elif event.type == X.KeyRelease:
                if not self._detectable_repeat and d.pending_events():
                    following = d.next_event()
                    if (following.type == X.KeyPress and following.detail == event.detail
                            and following.time == event.time):
                        continue  # server auto-repeat: a release+press pair at the same instant
                    held_back = following
                self._on_release(event)
            elif event.type == X.MappingNotify:
                d.refresh_keyboard_mapping(event)

    def _on_press(self, event: Any) -> None:
        state = event.state & self._masks.relevant
        for grab in self._grabs.values():
            if grab.keycode == event.detail and grab.modifiers == state:
                if not grab.pressed:  # auto-repeat and hammering give one press until the release
                    grab.pressed = True
                    self._safe(grab.on_press)
                return

    def _on_release(self, event: Any) -> None:
        # The modifiers may already be up when the key is released, so match on the key alone.
        for grab in self._grabs.values():
            if grab.keycode == event.detail and grab.pressed:
                grab.pressed = False
                if grab.on_release is not None:
                    self._safe(grab.on_release)

    @staticmethod
    def _safe(callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:
            log.exception("Hotkey callback failed")

"""Small python-xlib helpers shared by the X11 adapters: connections, key maps, modifiers, timestamps.

python-xlib connections are not thread-safe, so every adapter thread opens its own ``Display``.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from Xlib import XK, X, Xatom, display, error
from Xlib.protocol import rq

from desktop_app.core.errors import PlatformUnsupported
from desktop_app.platform.keys import KeyChord

NAMED_KEYSYMS = {
    "space": "space", "escape": "Escape", "tab": "Tab", "backspace": "BackSpace", "return": "Return",
    "enter": "KP_Enter", "insert": "Insert", "delete": "Delete", "pause": "Pause", "print": "Print",
    "home": "Home", "end": "End", "left": "Left", "up": "Up", "right": "Right", "down": "Down",
    "pageup": "Prior", "pagedown": "Next", "capslock": "Caps_Lock", "scrolllock": "Scroll_Lock",
    "numlock": "Num_Lock", "menu": "Menu",
}
NAMED_KEYSYMS.update({f"f{n}": f"F{n}" for n in range(1, 36)})


def open_display(name: str | None = None) -> display.Display:
    try:
        return display.Display(name)
    except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
        raise PlatformUnsupported(
            "Cannot connect to the X display.",
            hint="Sayso needs a running X11 session (DISPLAY must be set).", detail=str(exc)) from exc


def char_to_keysym(char: str) -> int:
    """The keysym for one character: Latin-1 keysyms equal the code point, the rest use 0x01000000 + U."""
    code = ord(char)
    if char == "\n":
        return XK.string_to_keysym("Return")
    if char == "\t":
        return XK.string_to_keysym("Tab")
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return 0x01000000 + code


def chord_keysym(chord: KeyChord) -> int:
    if chord.key in NAMED_KEYSYMS:
        keysym = XK.string_to_keysym(NAMED_KEYSYMS[chord.key])
    else:
        keysym = char_to_keysym(chord.key)
    if not keysym:
        raise PlatformUnsupported(f"The key “{chord.text}” has no X11 key symbol.")
    return int(keysym)


@dataclass(frozen=True)
class ModifierMasks:
    """Which X modifier bit each logical modifier lives on in this keyboard map."""

    ctrl: int
    shift: int
    alt: int
    meta: int
    num_lock: int
    caps_lock: int

    def for_chord(self, chord: KeyChord) -> int:
        mask = 0
        for name in chord.modifiers:
            mask |= getattr(self, name)
        return mask

    def lock_variants(self) -> list[int]:
        """NumLock/CapsLock combinations a grab must also cover, since X matches modifiers exactly."""
        locks = [m for m in (self.num_lock, self.caps_lock) if m]
        variants = {0}
        for lock in locks:
            variants |= {v | lock for v in variants}
        return sorted(variants)

    @property
    def relevant(self) -> int:
        return self.ctrl | self.shift | self.alt | self.meta


def modifier_masks(d: display.Display) -> ModifierMasks:
    """Find Alt, Super and NumLock among Mod1..Mod5 (their bits differ between keyboard setups)."""
    found: dict[str, int] = {}
    roles = {"Alt_L": "alt", "Alt_R": "alt", "Meta_L": "alt", "Super_L": "meta", "Super_R": "meta",
             "Hyper_L": "meta", "Num_Lock": "num_lock"}
    wanted = {XK.string_to_keysym(name): role for name, role in roles.items()}
    for index, keycodes in enumerate(d.get_modifier_mapping()):
        if index < 3:  # Shift, Lock, Control have fixed bits
            continue
        for keycode in keycodes:
            if not keycode:
                continue
            for column in range(4):
                role = wanted.get(d.keycode_to_keysym(keycode, column))
                if role and role not in found:
                    found[role] = 1 << index
    return ModifierMasks(ctrl=X.ControlMask, shift=X.ShiftMask, alt=found.get("alt", X.Mod1Mask),
                         meta=found.get("meta", X.Mod4Mask), num_lock=found.get("num_lock", 0),
                         caps_lock=X.LockMask)


def keycode_for(d: display.Display, keysym: int) -> int:
    return int(d.keysym_to_keycode(keysym))


def get_timestamp(d: display.Display, window: Any, others: Callable[[Any], None] | None = None) -> int:
    """A real server timestamp (ICCCM wants one for selection ownership): touch a property, read its event.

    Events that arrive meanwhile go to ``others`` (a selection owner must not lose a SelectionRequest).
    """
    atom = d.intern_atom("_SAYSO_TIMESTAMP")
    window.change_attributes(event_mask=X.PropertyChangeMask)
    window.change_property(atom, Xatom.STRING, 8, b"")
    d.flush()
    wanted = lambda e: e.type == X.PropertyNotify and e.atom == atom and e.window == window  # noqa: E731
    for event in wait_events(d, 1.0, wanted, others):
        return int(event.time)
    return X.CurrentTime


def wait_events(d: display.Display, timeout: float, wanted: Callable[[Any], bool],
                others: Callable[[Any], None] | None = None) -> Iterator[Any]:
    """Yield events matching ``wanted`` until the caller stops or ``timeout`` passes; the rest go to
    ``others`` (or are dropped). Blocks in ``select`` on the connection: nothing sleeps, nothing spins.
    """
    deadline = time.monotonic() + timeout
    while True:
        while d.pending_events():
            event = d.next_event()
            if wanted(event):
                yield event
            elif others is not None:
                others(event)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not wait_for_activity(d, timeout=remaining):
            return


def wait_for_activity(d: display.Display, *, also: Sequence[int] = (), timeout: float | None = None) -> list[int]:
    """Send what is queued for the server, then block until events are queued or a file in ``also`` is
    readable (or ``timeout`` passes); returns the ready file descriptors, the connection's when events wait.

    Never ``flush()`` and then ``select()`` on the connection directly: python-xlib's flush (like every
    request) also reads the socket and queues the events it finds there, and a select on the socket cannot
    see those — the thread would sleep on an event that has already arrived (a lost key release, an INCR
    clipboard transfer stalled until some unrelated wake-up).
    """
    d.flush()
    if d.pending_events():  # reads too; nothing talks to the server between this and select()
        return [d.fileno()]
    readable, _, _ = select.select([d.fileno(), *also], [], [], timeout)
    return list(readable)


# --- XKB, which python-xlib does not wrap: just the two requests we need ---------------------------------

class _XkbUseExtension(rq.ReplyRequest):
    _request = rq.Struct(
        rq.Card8("opcode"), rq.Opcode(0), rq.RequestLength(),
        rq.Card16("wanted_major"), rq.Card16("wanted_minor"))
    _reply = rq.Struct(
        rq.ReplyCode(), rq.Bool("supported"), rq.Card16("sequence_number"), rq.ReplyLength(),
        rq.Card16("server_major"), rq.Card16("server_minor"), rq.Pad(20))


class _XkbPerClientFlags(rq.ReplyRequest):
    _request = rq.Struct(
        rq.Card8("opcode"), rq.Opcode(21), rq.RequestLength(),
        rq.Card16("device_spec"), rq.Pad(2),
        rq.Card32("change"), rq.Card32("value"), rq.Card32("ctrls_to_change"),
        rq.Card32("auto_ctrls"), rq.Card32("auto_ctrls_values"))
    _reply = rq.Struct(
        rq.ReplyCode(), rq.Card8("device_id"), rq.Card16("sequence_number"), rq.ReplyLength(),
        rq.Card32("supported"), rq.Card32("value"), rq.Card32("auto_ctrls"),
        rq.Card32("auto_ctrls_values"), rq.Pad(8))


XKB_USE_CORE_KBD = 0x100
XKB_PCF_DETECTABLE_AUTO_REPEAT = 1 << 0


def set_detectable_autorepeat(d: display.Display) -> bool:
    """XkbSetDetectableAutoRepeat: a held key then sends presses only, and one release when let go."""
    ext = d.query_extension("XKEYBOARD")
    if not ext.present:
        return False
    opcode = ext.major_opcode
    use = _XkbUseExtension(display=d.display, opcode=opcode, wanted_major=1, wanted_minor=0)
    if not use.supported:
        return False
    flags = _XkbPerClientFlags(
        display=d.display, opcode=opcode, device_spec=XKB_USE_CORE_KBD,
        change=XKB_PCF_DETECTABLE_AUTO_REPEAT, value=XKB_PCF_DETECTABLE_AUTO_REPEAT,
        ctrls_to_change=0, auto_ctrls=0, auto_ctrls_values=0)
    return bool(flags.value & XKB_PCF_DETECTABLE_AUTO_REPEAT)


def wake_pipe() -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    return read_fd, write_fd


def drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass

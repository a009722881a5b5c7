"""Runtime hook of the frozen Sayso, run before the app's first import.

The bootloader points LD_LIBRARY_PATH at the bundle so the bundled libraries win inside the app. Programs the
app starts (xdotool, xsel, wl-copy, speech-dispatcher, a browser for links) must see the user's original
environment instead, or they load our copies of libstdc++/libglib and crash. The running process has already
resolved its library path, so restoring the variable affects only child processes.
"""

import os
import sys

_bundle = getattr(sys, "_MEIPASS", "")
for _name in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
    if not _bundle or _bundle not in os.environ.get(_name, "").split(os.pathsep):
        continue  # not set by the bootloader: the user's own value stays
    _original = os.environ.pop(f"{_name}_ORIG", None)
    if _original is not None:
        os.environ[_name] = _original
    else:
        os.environ.pop(_name, None)

"""Lazy ctypes handles to the macOS frameworks (nothing is loaded on import, so Linux can import this)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

from desktop_app.core.errors import PlatformUnsupported

ACCESSIBILITY_HINT = ("Open System Settings → Privacy & Security → Accessibility, enable Sayso "
                      "(or your terminal when running from source), then restart Sayso.")


@functools.cache
def framework(name: str) -> Any:
    path = ctypes.util.find_library(name)
    if not path:
        raise PlatformUnsupported(f"The macOS framework {name} was not found.")
    return ctypes.cdll.LoadLibrary(path)


def quartz() -> Any:
    """CoreGraphics event functions with their C signatures."""
    cg = framework("ApplicationServices")
    vp, u16p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint16)
    cg.CGEventCreateKeyboardEvent.restype = vp
    cg.CGEventCreateKeyboardEvent.argtypes = [vp, ctypes.c_uint16, ctypes.c_bool]
    cg.CGEventKeyboardSetUnicodeString.argtypes = [vp, ctypes.c_ulong, u16p]
    cg.CGEventSetFlags.argtypes = [vp, ctypes.c_uint64]
    cg.CGEventPost.argtypes = [ctypes.c_uint32, vp]
    cg.CGEventGetIntegerValueField.restype = ctypes.c_int64
    cg.CGEventGetIntegerValueField.argtypes = [vp, ctypes.c_uint32]
    cg.CGEventGetFlags.restype = ctypes.c_uint64
    cg.CGEventGetFlags.argtypes = [vp]
    cg.AXIsProcessTrusted.restype = ctypes.c_bool
    return cg


def core_foundation() -> Any:
    cf = framework("CoreFoundation")
    cf.CFRelease.argtypes = [ctypes.c_void_p]
    return cf

"""Set up the process and Kivy's window before Kivy is imported.

Kivy reads its configuration once, when kivy.core.window is first imported;
every app module imports Kivy at its top, so `configure()` runs before an app
module is imported (the app's `run()` entry points and the CLI do this). This
module imports no Kivy at its top and is safe to import anywhere.
"""
from __future__ import annotations

import os
import sys


class NoScreen(RuntimeError):
    """No X or Wayland display to open a window on."""


def parse_size(text: str | None, example: str = "1920x1080") -> tuple[int, int] | None:
    """'1280x720' -> (1280, 720); None or '' -> None (the app's default size)."""
    if not text:
        return None
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size {text!r}: give WIDTHxHEIGHT, e.g. {example}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"--size {text!r}: give WIDTHxHEIGHT, e.g. {example}")
    return w, h


def require_screen(where: str) -> None:
    """Refuse to start a window where there is no screen, saying where to run it."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise NoScreen(f"no screen: run {where} (or under xvfb-run for a test)")


def _one_heap() -> None:
    """One malloc arena for all threads (glibc makes one per thread that
    allocates, up to 8 per core): the kiosk's printing thread otherwise leaves
    a second heap of its own behind. Must run before threads start."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").mallopt(-8, 1)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc
        pass


def _sqlite_utils_without_numpy() -> None:
    """Import sqlite-utils with numpy hidden, then un-hide it.

    sqlite-utils imports numpy whenever it is installed (the reports' charts
    bring it), only to store numpy values; no screen stores any, and numpy
    would cost each kiosk and display 15 MB of its 200. Only sqlite-utils is
    kept from it: numpy stays importable for anything else in the process."""
    if "sqlite_utils" in sys.modules or "numpy" in sys.modules:
        return
    sys.modules["numpy"] = None  # `import numpy` -> ImportError, which sqlite-utils expects
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del sys.modules["numpy"]


def configure(fullscreen: bool = False, size: tuple[int, int] | None = None,
              default_size: tuple[int, int] = (540, 960)) -> None:
    """Kivy set up for a public screen: no Escape to quit, our own on-screen
    keyboard, no multitouch dots, no cursor when fullscreen, no multisampling;
    a window of `size` (else `default_size`) for development."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    _one_heap()
    _sqlite_utils_without_numpy()
    from kivy.config import Config
    Config.set("kivy", "exit_on_escape", "0")          # a citizen's Escape must not quit
    Config.set("kivy", "keyboard_mode", "system")      # our own on-screen keyboard, not Kivy's
    Config.set("input", "mouse", "mouse,disable_multitouch")  # no red multitouch dots
    Config.set("kivy", "window_icon", "")
    if fullscreen:
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "borderless", "1")
        Config.set("graphics", "show_cursor", "0")
    else:
        w, h = size or default_size
        Config.set("graphics", "fullscreen", "0")
        Config.set("graphics", "width", str(w))
        Config.set("graphics", "height", str(h))
    Config.set("graphics", "resizable", "1")
    # No multisampling: text and flat shapes gain nothing from it, and without a
    # GPU (llvmpipe) it multiplies the cost of every frame.
    Config.set("graphics", "multisamples", "0")

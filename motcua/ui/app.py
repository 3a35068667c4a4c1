"""The base of the three Kivy apps (kiosk, displays, counter terminal): what
they share, so each app holds only what is its own.

Importing this module imports Kivy: run motcua.ui.bootstrap.configure() first
(the packages' `run()` entry points do).

- fonts: DejaVuSans (Vietnamese, with its bold) and Numbers (Roboto Bold, for
  big digits), registered before any kv file is read;
- `u`: one hundredth of the window's shorter side (`unit()` may say otherwise),
  the unit every size in the kv files is given in; `portrait`;
- `clock_text`, set every `clock_interval` seconds with `clock_format` once
  `start_clock()` is called, and `every_tick(now)` for the rest of the app's
  timed work;
- `banner`: the text of the red link banner (`LinkBanner` in ui/widgets.kv),
  empty when the centre and broker are reachable;
- `trigger(fn)`: Clock.create_trigger, a call that runs once on the UI thread
  at the next frame however many times (and from whatever thread) it is made;
- `ask(work, done)`: work() in a thread of its own, done(result, error) on the
  UI thread, unless a newer ask or `forget_answers()` came in the meantime;
- `after_next_frame(fn)`, `go(name)` and the kv helper `field()`.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

from kivy.app import App
from kivy.clock import Clock, mainthread
from kivy.core.text import LabelBase
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.resources import resource_find

from motcua.resources import FONT_DIR, package_path

log = logging.getLogger("motcua.ui")


def register_fonts() -> None:
    LabelBase.register("DejaVuSans", str(FONT_DIR / "DejaVuSans.ttf"),
                       fn_bold=str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    LabelBase.register("Numbers", resource_find("data/fonts/Roboto-Bold.ttf"))


class MotcuaApp(App):
    """Subclasses set the class attributes, build their root in `build_root()`
    and load their kv files in `load_kv_files()`."""
    u = NumericProperty(10)                 # one hundredth of the window's shorter side
    portrait = BooleanProperty(False)
    clock_text = StringProperty("")
    banner = StringProperty("")             # the link to the centre or broker is down: why

    clear_colour: tuple = (1, 1, 1, 1)      # the window's background
    clock_format = "%H:%M"
    clock_interval = 1.0                    # seconds between clock ticks

    def __init__(self, site, **kwargs):
        super().__init__(**kwargs)
        self.site = site
        self.tz = ZoneInfo(site.timezone)
        self._asked = 0                     # the serial of the newest ask()

    # -- building --------------------------------------------------------------------
    def build(self):
        register_fonts()
        Builder.load_file(str(package_path("motcua.ui", "widgets.kv")))
        self.load_kv_files()
        root = self.build_root()
        Window.clearcolor = self.clear_colour
        Window.bind(size=self._resize)
        self._resize(Window, Window.size)
        return root

    def load_kv_files(self) -> None:
        """Load the app's kv files (the shared ui/widgets.kv is loaded already)."""

    def build_root(self):
        raise NotImplementedError

    def unit(self, width: float, height: float) -> float:
        return min(width, height) / 100.0

    def _resize(self, window, size):
        w, h = size
        self.u = self.unit(w, h)
        self.resized(w, h)

    def resized(self, width: float, height: float) -> None:
        """After `u` follows a change of the window's size."""
        self.portrait = height >= width

    # -- the clock -------------------------------------------------------------------------
    def start_clock(self) -> None:
        Clock.schedule_interval(self._tick, self.clock_interval)
        self._tick(0)

    def _tick(self, dt):
        now = datetime.now(self.tz)
        self.clock_text = now.strftime(self.clock_format)
        self.every_tick(now)

    def every_tick(self, now: datetime) -> None:
        """The app's own timed work, after the clock is set."""

    # -- the UI thread ----------------------------------------------------------------------
    @staticmethod
    def trigger(fn, timeout: float = 0):
        """fn(dt) on the UI thread at the next frame, once however often it is asked for."""
        return Clock.create_trigger(fn, timeout)

    def ask(self, work, done, errors: tuple = (Exception,), keep: bool = False) -> None:
        """work() in a thread of its own (a request to the centre, a print job), then
        done(result, None) or done(None, exc) for an exception among `errors` on the
        UI thread. The answer is dropped when a newer ask (unless that one `keep`s) or
        forget_answers() came since: the citizen or officer has moved on."""
        if not keep:
            self._asked += 1
        serial = self._asked

        def run():
            try:
                result, error = work(), None
            except errors as exc:
                result, error = None, exc
            self._deliver(serial, keep, done, result, error)

        threading.Thread(target=run, daemon=True).start()

    @mainthread
    def _deliver(self, serial, keep, done, result, error):
        if not keep and serial != self._asked:
            log.info("answer for an abandoned request ignored")
            return
        done(result, error)

    def forget_answers(self) -> None:
        """Answers still on their way are not for anyone on screen any more."""
        self._asked += 1

    @staticmethod
    def after_next_frame(fn) -> None:
        """fn() once the next frame is on screen (work that would delay that frame)."""
        def flipped(*args):
            Window.unbind(on_flip=flipped)
            Clock.schedule_once(lambda dt: fn())
        Window.bind(on_flip=flipped)

    # -- for the kv files --------------------------------------------------------------------
    def go(self, name: str):
        self.root.current = name

    @staticmethod
    def field(data, key, default=""):
        """kv reads dict values through this, with the dict as an argument: kv does not
        follow `app.d.get(...)`, so the text would not change when the dict is replaced."""
        return (data or {}).get(key, default)

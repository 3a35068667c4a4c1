"""Drive a real Kivy app window (under Xvfb) step by step, from inside its own
event loop: tap widgets with real touch events, type keys, wait for
conditions, save screenshots. Used by the UI tests as a subprocess:

    python tests/support/kivy_driver.py kiosk SITE DEVICE OUTDIR SCENARIO WIDTHxHEIGHT

A scenario is a generator function in tests/support/kiosk_scenarios.py taking a
Driver; each `yield` hands control back to Kivy for a frame (or for a
condition). The result (JSON) goes to OUTDIR/result.json. A display's board
comes from $MOTCUA_DISPLAY_BOARD: `hall` (default), `tallies` or `counter:N`. The
province board (kind `province`) takes the provincial file for SITE and its
clock from $MOTCUA_BOARD_CLOCK (tests/support/province_scenarios.py).
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


class StepTimeout(AssertionError):
    pass


class Driver:
    def __init__(self, app, outdir: Path):
        self.app = app
        self.outdir = outdir
        self.result: dict = {"shots": [], "checks": {}}

    # -- widgets -----------------------------------------------------------------------
    def screen(self, name=None):
        return self.app.root.get_screen(name or self.app.root.current)

    def find(self, pred, root=None):
        """The first widget under root (depth first) for which pred(widget) is true."""
        stack = [root or self.app.root]
        while stack:
            w = stack.pop()
            try:
                if pred(w):
                    return w
            except Exception:  # noqa: BLE001 - predicates look at optional attributes
                pass
            stack.extend(reversed(w.children))
        return None

    @staticmethod
    def _visible_in(view, widget) -> bool:
        x, y = widget.to_window(*widget.pos)
        vx, vy = view.to_window(*view.pos)
        return vy - 1 <= y and y + widget.height <= vy + view.height + 1

    def tap(self, widget):
        """A finger on the widget for a few frames (a ScrollView needs to see it
        held before it lets the button under it have the touch)."""
        from kivy.tests.common import UnitTestTouch
        from kivy.uix.scrollview import ScrollView
        parent = widget.parent
        for _ in range(100):  # the window is its own parent: walk up a bounded way
            if parent is None or isinstance(parent, ScrollView):
                break
            parent = parent.parent
        else:
            parent = None
        if not isinstance(parent, ScrollView):
            parent = None
        if parent is not None and not self._visible_in(parent, widget):
            parent.scroll_to(widget, animate=False)  # as a finger would, scroll it into view first
        yield from self.settled()
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        yield from self.sleep(0.08)
        touch.touch_up()
        yield

    def settled(self):
        """Wait for screen transitions to end."""
        manager = self.app.root
        while getattr(manager, "transition", None) is not None and manager.transition.is_active:
            yield

    def hold(self, widget, seconds):
        from kivy.tests.common import UnitTestTouch
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        yield from self.sleep(seconds)
        touch.touch_up()

    def key(self, key: int, codepoint: str = "", modifiers=()):
        from kivy.core.window import Window
        Window.dispatch("on_key_down", key, 0, codepoint, list(modifiers))
        if codepoint:
            Window.dispatch("on_textinput", codepoint)
        Window.dispatch("on_key_up", key, 0)

    def scan(self, text: str):
        """A keyboard-wedge scanner: every key of the code within one frame, as a
        real scanner sends them within a few milliseconds (one key per frame would
        be typing speed when frames are slow under Xvfb)."""
        for ch in text:
            self.key(13 if ch == "\n" else ord(ch.lower()) if ch.isascii() else 0, "" if ch == "\n" else ch)
        yield

    def type_text(self, text: str, gap: float = 0.0):
        for ch in text:
            self.key(13 if ch == "\n" else ord(ch.lower()) if ch.isascii() else 0, "" if ch == "\n" else ch)
            if gap:
                yield from self.sleep(gap)
            else:
                yield

    # -- time ------------------------------------------------------------------------------
    def sleep(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            yield

    def until(self, cond, timeout=10.0, what="condition"):
        end = time.monotonic() + timeout
        while True:
            try:
                if cond():
                    return
            except Exception:  # noqa: BLE001
                pass
            if time.monotonic() > end:
                raise StepTimeout(f"timed out after {timeout} s waiting for {what}")
            yield

    def shot(self, name: str):
        """Save a screenshot after the next frame is drawn."""
        from kivy.core.window import Window
        yield from self.settled()
        yield
        yield
        path = self.outdir / f"{name}.png"
        Window.screenshot(str(path))
        # Kivy appends a counter to the name: find what it wrote and rename it
        written = sorted(self.outdir.glob(f"{name}*.png"), key=lambda p: p.stat().st_mtime)[-1]
        written.rename(path)
        self.result["shots"].append(str(path))

    def check(self, name, value):
        self.result["checks"][name] = value


def parse_board(text: str | None) -> tuple[str, int | None]:
    """'hall' -> ('hall', None); 'counter:3' -> ('counter', 3)."""
    text = (text or "hall").strip().lower()
    if text in ("hall", "tallies"):
        return text, None
    if text.startswith("counter:") and text[8:].isdigit():
        return "counter", int(text[8:])
    raise ValueError(f"board {text!r}: give 'hall', 'tallies' or 'counter:N'")


def run(kind: str, site_path: str, device_id: str, outdir: str, scenario: str, size: str) -> None:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    w, h = (int(v) for v in size.split("x"))
    import importlib
    import os

    from motcua.config import load_site
    from motcua.ui.bootstrap import configure
    configure(fullscreen=False, size=(w, h))  # before anything imports Kivy
    site = load_site(site_path) if kind != "province" else None   # the board reads a provincial file
    from kivy.clock import Clock
    if kind == "kiosk":
        from motcua.kiosk.app import KioskApp
        app = KioskApp(site, device_id)
    elif kind == "display":  # the board comes from the test: $MOTCUA_DISPLAY_BOARD
        from motcua.display.app import DisplayApp
        board, counter = parse_board(os.environ.get("MOTCUA_DISPLAY_BOARD"))
        app = DisplayApp(site, device_id, board=board, counter=counter)
    elif kind == "counter":  # the officer's counter terminal, at the device's own counter
        from motcua.counter.app import CounterApp
        app = CounterApp(site, device_id)
    elif kind == "province":  # the province board: site_path is the provincial file, the clock the scene's
        from motcua.province.board.app import ProvinceBoardApp
        from motcua.province.config import load_province
        from support.province_scenarios import SceneClock
        app = ProvinceBoardApp(load_province(site_path), page_s=float(os.environ.get("MOTCUA_BOARD_PAGE_S", "8")),
                               clock=SceneClock(os.environ["MOTCUA_BOARD_CLOCK"]))
    else:
        raise SystemExit(f"unknown app kind {kind}")
    scenarios = importlib.import_module(f"support.{kind}_scenarios")
    driver = Driver(app, out)
    state = {"gen": None, "error": None}

    def step(dt):
        try:
            if state["gen"] is None:
                state["gen"] = getattr(scenarios, scenario)(driver)
            next(state["gen"])
        except StopIteration:
            finish()
        except Exception:  # noqa: BLE001 - reported to the test
            state["error"] = traceback.format_exc()
            finish()

    def finish():
        ev.cancel()
        driver.result["error"] = state["error"]
        (out / "result.json").write_text(json.dumps(driver.result, ensure_ascii=False, indent=1))
        app.stop()

    ev = None

    def start(dt):
        nonlocal ev
        ev = Clock.schedule_interval(step, 0)

    Clock.schedule_once(start, 0.5)
    app.run()


if __name__ == "__main__":
    run(*sys.argv[1:7])

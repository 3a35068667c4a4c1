"""The displays (Kivy): `DisplayApp` runs the TV hall board, the counter
display or the managers' board of today's satisfaction. `motcua display`
starts it through motcua.display.run(), which sets the window up before this
module imports Kivy.

What the boards show is worked out in display/model.py (hall and counter) and
display/tallies.py (the managers' board), without a screen. Sizes are in
`app.u`, one hundredth of the window's shorter side. Nothing moves on screen
except the flashing newest call and the notice ticker, so without a GPU the
board draws a frame only when something changes.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime

from kivy.app import App
from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.core.text.markup import MarkupLabel
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.graphics import Color, Rectangle
from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    ListProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from motcua.config import Site
from motcua.devices import display_device
from motcua.resources import package_path
from motcua.ui.app import MotcuaApp

from . import choose_player, model
from .link import DisplayLink
from .tallies import board_rows, level_colours

log = logging.getLogger("motcua.display")
ROOTS = {"hall": "HallBoard", "counter": "CounterBoard", "tallies": "TalliesBoard"}


class LevelBar(Widget):
    """One bar split by level, most satisfied on the left; each part carries its
    count when it is wide enough to read."""
    levels = ListProperty([])
    fractions = ListProperty([])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, levels=self._draw, fractions=self._draw)

    def _draw(self, *args):
        app = App.get_running_app()
        u = app.u if app else 10
        self.canvas.clear()
        with self.canvas:
            Color(0.09, 0.23, 0.45, 1)          # an empty bar: no rating yet
            Rectangle(pos=self.pos, size=self.size)
            x = self.x
            for n, frac, colour in zip(self.levels, self.fractions, level_colours(len(self.levels))):
                w = self.width * frac
                if w <= 0:
                    continue
                Color(*colour)
                Rectangle(pos=(x, self.y), size=(w, self.height))
                text = CoreLabel(text=str(n), font_size=min(u * 2.4, self.height * 0.8),
                                 font_name="DejaVuSans", bold=True)
                text.refresh()
                tw, th = text.texture.size
                if tw + u * 0.6 <= w:
                    Color(0.02, 0.09, 0.22, 1)
                    Rectangle(texture=text.texture, size=(tw, th),
                              pos=(x + (w - tw) / 2, self.y + (self.height - th) / 2))
                x += w


def text_width(text: str, font_size: float, font_name: str = "DejaVuSans", bold: bool = False,
               markup: bool = False) -> float:
    """How wide `text` is drawn on one line."""
    core = (MarkupLabel if markup else CoreLabel)(text=text, font_size=font_size, font_name=font_name, bold=bold)
    core.refresh()
    return core.texture.size[0]


class FitLabel(Label):
    """One line that always shows all its text: its font is `max_font`, made smaller
    when the text would not fit the width (never an ellipsis). Styled in widgets.kv."""
    max_font = NumericProperty(20)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(text=self._fit, width=self._fit, max_font=self._fit, bold=self._fit, font_name=self._fit)
        self._fit()

    def _fit(self, *args):
        room = self.width - self.padding[0] - self.padding[2] - 4   # Kivy shortens within 2 px of the edge
        size = self.max_font
        for _ in range(6):   # letters do not shrink exactly in proportion: measure again
            need = text_width(self.text, size, self.font_name, self.bold, self.markup) if self.text else 0
            if need <= room or room <= 0:
                break
            size = max(1.0, size * min(room / need, 0.98))
        self.font_size = size


def sync_rows(parent, rule: str, rows: list[dict]) -> None:
    """Reuse the row widgets under parent: same count as rows, properties set."""
    have = list(reversed(parent.children))
    for w in have[len(rows):]:
        parent.remove_widget(w)
    for i, row in enumerate(rows):
        if i < len(have):
            w = have[i]
            for k, v in row.items():
                if getattr(w, k) != v:
                    setattr(w, k, v)
        else:
            w = getattr(Factory, rule)()
            for k, v in row.items():
                setattr(w, k, v)
            parent.add_widget(w)


class DisplayApp(MotcuaApp):
    date_text = StringProperty("")
    site_name = StringProperty("")
    notice = StringProperty("")
    tiles = ListProperty([])               # open/paused counters for the hall board
    calls = ListProperty([])               # recent calls, newest first
    services = ListProperty([])            # waiting figures
    newest = DictProperty({})
    flash_on = BooleanProperty(False)
    number_font = NumericProperty(100)
    grid_cols = NumericProperty(3)
    estimate_width = NumericProperty(80)   # the hall board's column of estimated waits
    counter_view = DictProperty({})        # the counter display's counter
    tally_overall = DictProperty({})       # the managers' board: the centre today
    tally_extra = ListProperty([0, 0])     # presses not counted: duplicate, unprompted

    clear_colour = (0.02, 0.09, 0.22, 1)

    def __init__(self, site: Site, device_id: str | None = None, board: str = "hall",
                 counter: int | None = None, player: str | None = None, **kwargs):
        super().__init__(site, **kwargs)
        if board not in ROOTS:
            raise ValueError(f"board {board!r}: give 'hall', 'tallies' or 'counter'")
        if board == "counter" and counter is None:
            raise ValueError("a counter display needs its counter number")
        if board == "counter":
            site.counter(counter)  # KeyError with the number if the site has no such counter
        self.board = board
        self.counter_number = counter
        self.device = site.device(device_id or display_device(site, board, counter))
        self.names = model.service_names(site.services)
        self.site_name = site.name
        self.title = f"motcua — {site.name}"
        self.refresh_soon = self.trigger(self._refresh)  # from any thread: once, at the next frame
        self.link = DisplayLink(site, self.device.id, on_change=self.refresh_soon, on_call=self._called)
        self.announcer = None
        if self.device.speaks and board != "tallies":
            from .voice import Announcer
            chosen = choose_player(player)
            self.announcer = Announcer(player=chosen, out_dir=site.data_dir / f"{self.device.id}-voice",
                                       gap_s=0.5 if chosen else 0.0)
        self._pending_calls: list[tuple[dict, float]] = []   # (call, when it was received)
        self._flash_until = 0.0
        self._flash_ev = None
        self._ticker_ev = None

    # -- Kivy life cycle
    def load_kv_files(self):
        Builder.load_file(str(package_path("motcua.display", "widgets.kv")))
        Builder.load_file(str(package_path("motcua.display", f"{self.board}.kv")))

    def build_root(self):
        return getattr(Factory, ROOTS[self.board])()

    def on_start(self):
        if self.announcer is not None:
            self.announcer.start()
        self.link.start()
        self.start_clock()
        self._refresh(0)

    def on_stop(self):
        self.link.stop()
        if self.announcer is not None:
            self.announcer.stop(drain=False, timeout=2)

    def resized(self, width, height):
        self.portrait = height > width
        self._layout_tiles()

    # -- from the link (paho's thread)
    def _called(self, call: dict, received: float):
        self._pending_calls.append((dict(call), received))
        self.refresh_soon()

    # -- drawing
    def _refresh(self, dt):
        snap = self.link.snapshot()
        self.site_name = snap["name"]
        self.notice = snap["notice"]
        self.banner = model.link_text(snap["broker_connected"], snap["centre_online"])
        calls, self._pending_calls = self._pending_calls, []
        if self.board == "hall":
            self._draw_hall(snap, calls)
        elif self.board == "tallies":
            self._draw_tallies(snap)
        else:
            self._draw_counter(snap, calls)
        if calls and self.announcer is not None:
            for call, _ in calls:
                try:
                    self.announcer.announce(call["ticket"], call["counter"], seq=call.get("seq"),
                                            recall=bool(call.get("recall")))
                except (ValueError, RuntimeError) as exc:
                    log.error("cannot announce call %s: %s", call, exc)
        self._update_ticker()

    def _draw_hall(self, snap, new_calls):
        self.tiles = model.hall_tiles(snap["counters"], self.names)
        self._layout_tiles()
        ids = self.root.ids
        sync_rows(ids.tiles, "CounterTile", self.tiles)
        self.calls = snap["recent_calls"]
        newest = model.newest_call(snap["recent_calls"])
        if model.newest_changed(self.newest, newest):
            self.newest = newest
            if new_calls:
                self._flash()
        sync_rows(ids.previous, "CallRow", model.previous_rows(snap["recent_calls"]))
        # the estimates' column as wide as the longest of them; a name too long for
        # what is left wraps to two lines (ServiceRow in hall.kv)
        estimates = [self.minutes(s.get("estimated_wait_s")) if s.get("waiting") else "—" for s in snap["services"]]
        self.estimate_width = max([text_width(t, self.u * 2.4) for t in estimates] + [self.u * 7]) + 6
        name_room = ids.waiting.width - self.u * 10 - self.estimate_width - 4   # padding, spacing, count

        def lines(name):
            return 1 if text_width(name, self.u * 2.5) <= name_room else 2
        self.services = model.waiting_rows(snap["services"], ids.waiting.height / (self.u * 3.4), lines)
        sync_rows(ids.waiting, "ServiceRow", self.services)

    def _draw_tallies(self, snap):
        board = board_rows(snap["ratings"], self.site, datetime.now(self.tz).date().isoformat())
        self.tally_overall = board["overall"]
        self.tally_extra = [board["duplicate"], board["unprompted"]]
        ids = self.root.ids
        sync_rows(ids.legend, "LegendItem", board["levels"])
        keys = ("label", "count", "levels", "fractions", "index_text", "satisfied_text")
        sync_rows(ids.by_counter, "TallyRow", [{k: r[k] for k in keys} for r in board["counters"]])
        sync_rows(ids.by_service, "TallyRow", [{k: r[k] for k in keys} for r in board["services"]])
        self.tally_board = board

    def _draw_counter(self, snap, new_calls):
        conf = self.site.counter(self.counter_number)
        self.counter_view = model.counter_view(self.link.counter(self.counter_number), conf.name, self.names)
        flash = model.counter_flash(self.counter_view, [c for c, _ in new_calls], self.counter_number)
        if flash:
            self._flash()
        elif flash is False:
            self._stop_flash()

    def _layout_tiles(self):
        if self.board != "hall":
            return
        w, h = Window.size
        self.grid_cols, self.number_font = model.tile_layout(self.tiles, w, h, self.u, self.portrait,
                                                             bool(self.notice))

    def _flash(self):
        self._flash_until = time.monotonic() + model.FLASH_SECONDS
        self.flash_on = True
        if self._flash_ev is None:
            self._flash_ev = Clock.schedule_interval(self._blink, 0.5)

    def _blink(self, dt):
        if time.monotonic() >= self._flash_until:
            self._stop_flash()
            return
        self.flash_on = not self.flash_on

    def _stop_flash(self):
        self.flash_on = False
        if self._flash_ev is not None:
            self._flash_ev.cancel()
            self._flash_ev = None

    # -- ticker
    def _update_ticker(self):
        ticker = self.root.ids.get("ticker") if self.root else None
        if ticker is None:
            return
        if self.notice and self._ticker_ev is None:
            self._ticker_ev = Clock.schedule_interval(self._tick_ticker, 1 / 30)
        elif not self.notice and self._ticker_ev is not None:
            self._ticker_ev.cancel()
            self._ticker_ev = None

    def _tick_ticker(self, dt):
        ticker = self.root.ids.ticker
        label = ticker.ids.text
        if label.texture_size[0] <= ticker.width:   # fits: stands still
            label.x = ticker.x + (ticker.width - label.texture_size[0]) / 2
            return
        label.x -= self.u * 12 * dt
        if label.right < ticker.x:
            label.x = ticker.right

    # -- clock
    def every_tick(self, now):
        date_text = model.date_text(now)
        if date_text != self.date_text and self.board == "tallies" and self.root is not None:
            self.refresh_soon()   # yesterday's tallies are no longer today's
        self.date_text = date_text

    minutes = staticmethod(model.minutes)

"""The displays (Kivy): the TV hall board and the counter display.

`run(site, device_id, board="hall" | "counter", counter=N)` is what `motcua
display` calls. As in the kiosk, `configure()` must run before anything imports
kivy.core.window. Without arguments (the UI tests' driver) the board comes from
$MOTCUA_DISPLAY_BOARD: `hall` (default) or `counter:N`.

Sizes are in `app.u`, one hundredth of the window's shorter side. Nothing moves
on screen except the flashing newest call and the notice ticker, so without a
GPU the board draws a frame only when something changes.
"""
from __future__ import annotations

import collections
import logging
import math
import os
import shutil
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from motcua.config import Site
from motcua.devices import display_device as default_device

from . import choose_player

log = logging.getLogger("motcua.display")
HERE = Path(__file__).resolve().parent
FLASH_SECONDS = 6.0
WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"]


def configure(fullscreen: bool = False, size: tuple[int, int] | None = None) -> None:
    """Kivy set up as for the kiosk (one place for it: no Escape to quit, no
    multitouch dots, no cursor when fullscreen, no multisampling); 1280x720 by
    default for development."""
    from motcua.kiosk.app import configure as configure_window
    configure_window(fullscreen, size or (1280, 720))


def parse_board(text: str | None) -> tuple[str, int | None]:
    """'hall' -> ('hall', None); 'counter:3' -> ('counter', 3)."""
    text = (text or "hall").strip().lower()
    if text in ("hall", "tallies"):
        return text, None
    if text.startswith("counter:") and text[8:].isdigit():
        return "counter", int(text[8:])
    raise ValueError(f"board {text!r}: give 'hall', 'tallies' or 'counter:N'")


def counter_grid(n: int, width: float, height: float, digits: int = 4, chrome: float = 0.0) -> tuple[int, float]:
    """Columns for n counter tiles in width×height, and the number's font size that
    fits a tile whose name and service take `chrome` of its height (Roboto Bold
    digits are about 0.57 em wide, its lines 1.17 em high): the layout with the
    biggest numbers wins."""
    best = (1, 0.0)
    for cols in range(1, max(1, n) + 1):
        rows = math.ceil(max(1, n) / cols)
        tile_w, tile_h = width / cols, height / rows
        font = min((tile_h - chrome) / 1.18, (tile_w * 0.88) / (0.6 * digits + 0.1))
        if font > best[1]:
            best = (cols, font)
    return best


def build_app_class():
    """Import Kivy only now (after configure())."""
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.text import LabelBase
    from kivy.core.window import Window
    from kivy.lang import Builder
    from kivy.properties import (BooleanProperty, DictProperty, ListProperty, NumericProperty,
                                 StringProperty)
    from kivy.resources import resource_find

    from .link import DisplayLink

    from kivy.graphics import Color, Rectangle
    from kivy.uix.widget import Widget

    from .tallies import level_colours

    class LevelBar(Widget):
        """One bar split by level, most satisfied on the left; each part carries its
        count when it is wide enough to read."""
        levels = ListProperty([])
        fractions = ListProperty([])

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.bind(pos=self._draw, size=self._draw, levels=self._draw, fractions=self._draw)

        def _draw(self, *args):
            from kivy.core.text import Label as CoreLabel
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

    class DisplayApp(App):
        u = NumericProperty(10)
        portrait = BooleanProperty(False)
        clock_text = StringProperty("")
        date_text = StringProperty("")
        site_name = StringProperty("")
        status_text = StringProperty("")       # discreet: centre away or link lost
        notice = StringProperty("")
        tiles = ListProperty([])               # open/paused counters for the hall board
        calls = ListProperty([])               # recent calls, newest first
        services = ListProperty([])            # waiting figures
        newest = DictProperty({})
        flash_on = BooleanProperty(False)
        number_font = NumericProperty(100)
        grid_cols = NumericProperty(3)
        counter_view = DictProperty({})        # the counter display's counter
        tally_overall = DictProperty({})       # the managers' board: the centre today
        tally_extra = ListProperty([0, 0])     # presses not counted: duplicate, unprompted

        def __init__(self, site: Site, device_id: str | None = None, board: str | None = None,
                 counter: int | None = None, player: str | None = None, **kwargs):
            super().__init__(**kwargs)
            if board is None:
                board, counter = parse_board(os.environ.get("MOTCUA_DISPLAY_BOARD"))
            if board == "counter" and counter is None:
                raise ValueError("a counter display needs its counter number")
            if board == "counter":
                site.counter(counter)  # KeyError with the number if the site has no such counter
            self.site = site
            self.board = board
            self.counter_number = counter
            self.device = site.device(device_id or default_device(site, board, counter))
            self.tz = ZoneInfo(site.timezone)
            self.site_name = site.name
            self.title = f"motcua — {site.name}"
            self.link = DisplayLink(site, self.device.id, on_change=self._changed, on_call=self._called)
            self.announcer = None
            if self.device.speaks and board != "tallies":
                from .voice import Announcer
                chosen = choose_player(player)
                self.announcer = Announcer(player=chosen, out_dir=site.data_dir / f"{self.device.id}-voice",
                                           gap_s=0.5 if chosen else 0.0)
            # event received -> first frame drawn with it (seconds), and the last call drawn
            self.call_latencies: collections.deque = collections.deque(maxlen=20000)
            self.drawn_seq, self.drawn_at = 0, 0.0
            self.frames = 0
            self._pending_calls: list[tuple[dict, float]] = []
            self._refresh_scheduled = False
            self._flash_until = 0.0
            self._flash_ev = None
            self._ticker_ev = None

        # -- Kivy life cycle
        def build(self):
            fonts = HERE.parent / "motcua" / "fonts"
            LabelBase.register("DejaVuSans", str(fonts / "DejaVuSans.ttf"), fn_bold=str(fonts / "DejaVuSans-Bold.ttf"))
            LabelBase.register("Numbers", resource_find("data/fonts/Roboto-Bold.ttf"))
            Builder.load_file(str(HERE / "widgets.kv"))
            Builder.load_file(str(HERE / f"{self.board}.kv"))
            from kivy.factory import Factory
            root = getattr(Factory, {"hall": "HallBoard", "tallies": "TalliesBoard"}.get(
                self.board, "CounterBoard"))()
            Window.clearcolor = (0.02, 0.09, 0.22, 1)
            Window.bind(size=self._resize, on_flip=self._flipped)
            self._resize(Window, Window.size)
            return root

        def on_start(self):
            if self.announcer is not None:
                self.announcer.start()
            self.link.start()
            Clock.schedule_interval(self._every_second, 1)
            self._every_second(0)
            self._refresh(0)

        def on_stop(self):
            self.link.stop()
            if self.announcer is not None:
                self.announcer.stop(drain=False, timeout=2)

        def _resize(self, window, size):
            w, h = size
            self.u = min(w, h) / 100.0
            self.portrait = h > w
            self._layout_tiles()

        def _flipped(self, *args):
            self.frames += 1

        # -- from the link (paho's thread): hop to the UI thread, coalesced
        def _changed(self):
            if not self._refresh_scheduled:
                self._refresh_scheduled = True
                Clock.schedule_once(self._refresh, 0)

        def refresh_soon(self):
            self._changed()

        def _called(self, call: dict, received: float):
            self._pending_calls.append((dict(call), received))
            self._changed()

        # -- drawing
        def _refresh(self, dt):
            self._refresh_scheduled = False
            snap = self.link.snapshot()
            self.site_name = snap["name"]
            self.notice = snap["notice"]
            if not snap["broker_connected"]:
                self.status_text = "Đang kết nối lại với hệ thống…"
            elif snap["centre_online"] is False:
                self.status_text = "Hệ thống tạm gián đoạn — thông tin có thể chưa cập nhật"
            else:
                self.status_text = ""
            calls, self._pending_calls = self._pending_calls, []
            if self.board == "hall":
                self._draw_hall(snap, calls)
            elif self.board == "tallies":
                self._draw_tallies(snap)
            else:
                self._draw_counter(snap, calls)
            if calls:
                received = [t for _, t in calls]

                top = max((c.get("seq") or 0) for c, _ in calls)

                def flipped(*args):
                    Window.unbind(on_flip=flipped)
                    now = time.monotonic()
                    self.call_latencies.extend(now - t for t in received)
                    self.drawn_seq, self.drawn_at = max(self.drawn_seq, top), now
                Window.bind(on_flip=flipped)
                if self.announcer is not None:
                    for call, _ in calls:
                        try:
                            self.announcer.announce(call["ticket"], call["counter"], seq=call.get("seq"),
                                                    recall=bool(call.get("recall")))
                        except (ValueError, RuntimeError) as exc:
                            log.error("cannot announce call %s: %s", call, exc)
            self._update_ticker()

        def _draw_hall(self, snap, new_calls):
            names = {s.code: s.name_vi for s in self.site.services}
            tiles = []
            for c in snap["counters"]:
                if c.get("state") not in ("open", "paused"):
                    continue
                t = c.get("ticket") or {}
                tiles.append({"counter": c["counter"], "name": f"Quầy {c['counter']}",
                              "state": c["state"], "number": t.get("ticket") or "",
                              "service": names.get(t.get("service"), "") if t else "",
                              "reason": c.get("pause_reason") or ""})
            self.tiles = tiles
            self._layout_tiles()
            ids = self.root.ids
            self._sync(ids.tiles, "CounterTile", tiles)
            self.calls = snap["recent_calls"]
            newest = snap["recent_calls"][0] if snap["recent_calls"] else {}
            if newest.get("seq") != self.newest.get("seq") or newest != dict(self.newest):
                self.newest = newest
                if new_calls:
                    self._flash()
            self._sync(ids.previous, "CallRow", [
                {"number": c.get("ticket", ""), "counter": c.get("counter", 0), "recall": bool(c.get("recall"))}
                for c in snap["recent_calls"][1:4]])
            # a service nobody serves now and nobody waits for is left out; when they do not
            # all fit, the longest lines stay (in site-file order)
            rows = [{"name": s.get("name_vi", s["service"]), "waiting": s.get("waiting", 0),
                     "wait_s": s.get("estimated_wait_s", 0)}
                    for s in snap["services"] if s.get("waiting") or s.get("open_counters")]
            fit = max(0, int(ids.waiting.height // (self.u * 3.4)))
            if len(rows) > fit:
                keep = sorted(range(len(rows)), key=lambda i: -rows[i]["waiting"])[:fit]
                rows = [rows[i] for i in sorted(keep)]
            self.services = rows
            self._sync(ids.waiting, "ServiceRow", rows)

        @staticmethod
        def _sync(parent, rule: str, rows: list[dict]):
            """Reuse the row widgets under parent: same count as rows, properties set."""
            from kivy.factory import Factory
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

        def _draw_tallies(self, snap):
            from .tallies import board_rows
            board = board_rows(snap["ratings"], self.site, datetime.now(self.tz).date().isoformat())
            self.tally_overall = board["overall"]
            self.tally_extra = [board["duplicate"], board["unprompted"]]
            ids = self.root.ids
            self._sync(ids.legend, "LegendItem", board["levels"])
            keys = ("label", "count", "levels", "fractions", "index_text", "satisfied_text")
            self._sync(ids.by_counter, "TallyRow", [{k: r[k] for k in keys} for r in board["counters"]])
            self._sync(ids.by_service, "TallyRow", [{k: r[k] for k in keys} for r in board["services"]])
            self.tally_board = board

        def _draw_counter(self, snap, new_calls):
            c = self.link.counter(self.counter_number) or {}
            conf = self.site.counter(self.counter_number)
            t = c.get("ticket") or {}
            names = {s.code: s.name_vi for s in self.site.services}
            self.counter_view = {
                "name": c.get("name") or conf.name, "state": c.get("state", "closed"),
                "number": t.get("ticket", ""), "service": names.get(t.get("service"), ""),
                "reason": c.get("pause_reason") or "", "officer": c.get("officer_name") or "",
                "serving": t.get("state") == "serving"}
            if any(call.get("counter") == self.counter_number for call, _ in new_calls):
                self._flash()
            elif self.counter_view["state"] != "open" or not self.counter_view["number"]:
                self._stop_flash()

        def _layout_tiles(self):
            from kivy.core.window import Window
            w, h = Window.size
            if self.board != "hall":
                return
            ticker = self.u * 6 if self.notice else 0
            area_w = w * (0.68 if not self.portrait else 1.0) - self.u * 2
            area_h = (h - self.u * 11 - ticker) * (1 if not self.portrait else 0.55)
            digits = max([len(t["number"]) for t in self.tiles if t["number"]] + [4])
            # name and service line 3.6u + padding 1.4u + margins 0.8u
            cols, font = counter_grid(len(self.tiles) or 1, area_w, area_h, digits, chrome=self.u * 5.8)
            self.grid_cols = cols
            self.number_font = min(font, self.u * 24)

        def _flash(self):
            self._flash_until = time.monotonic() + FLASH_SECONDS
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
                self._ticker_ev = Clock.schedule_interval(self._tick, 1 / 30)
            elif not self.notice and self._ticker_ev is not None:
                self._ticker_ev.cancel()
                self._ticker_ev = None

        def _tick(self, dt):
            ticker = self.root.ids.ticker
            label = ticker.ids.text
            if label.texture_size[0] <= ticker.width:   # fits: stands still
                label.x = ticker.x + (ticker.width - label.texture_size[0]) / 2
                return
            label.x -= self.u * 12 * dt
            if label.right < ticker.x:
                label.x = ticker.right

        # -- clock
        def _every_second(self, dt):
            now = datetime.now(self.tz)
            self.clock_text = now.strftime("%H:%M")
            date_text = f"{WEEKDAYS[now.weekday()]}, {now.strftime('%d/%m/%Y')}"
            if date_text != self.date_text and self.board == "tallies" and self.root is not None:
                self.refresh_soon()   # yesterday's tallies are no longer today's
            self.date_text = date_text

        @staticmethod
        def field(data, key, default=""):
            """kv reads dict values through this, with the dict as an argument: kv does not
            follow `app.d.get(...)`, so the text would not change when the dict is replaced."""
            return (data or {}).get(key, default)

        @staticmethod
        def minutes(seconds) -> str:
            if not seconds:
                return "—"
            return f"~{max(1, round(seconds / 60))} phút"

    return DisplayApp


DisplayApp = build_app_class()  # for a moment: module-level classes come next

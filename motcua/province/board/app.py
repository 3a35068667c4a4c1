"""The province board (Kivy): `ProvinceBoardApp` on the TV of the province's
operations room. `motcua display province` starts it through
motcua.province.board.run(), which sets the window up before this module
imports Kivy.

What it shows is worked out in model.py without a screen; this module only
draws it. Its update path, kept short for "a call at a centre to its tile in
under a second": the link (paho's thread) notes which centre changed in
`pending` and asks for one refresh at the next frame (at most one every
REFRESH_S); the refresh works out again only the centres that changed (all of
them once a second, for the durations), and sets only the properties of the
tiles on screen that differ, so a label is rendered again only when its text
changed. A benchmark measures it through a subclass that wraps `_refresh`:
`pending` holds, per centre, when its newest message came, and `on_screen(id)`
says whether its tile is on the page shown.
"""
from __future__ import annotations

import logging
import time

from kivy.core.text import Label as CoreLabel
from kivy.core.text.markup import MarkupLabel
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    ListProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from motcua.resources import package_path
from motcua.ui.app import MotcuaApp

from . import PAGE_SECONDS, model
from .link import BoardLink, utc_now

log = logging.getLogger("motcua.province.board")
MARK = "ffd640"       # the alert marks' colour in markup (MARK in board.kv)
# A message draws at the next frame, unless the board drew less than REFRESH_S ago: then
# with what else came meanwhile. Each label drawn again is a text rendered again; 170
# busy centres would otherwise have the tiles drawn at every frame, a CPU's whole work.
REFRESH_S = 0.2
# After connecting, the retained tiles come in a burst: the first cycle starts in their
# order once none came for RETAINED_QUIET_S, or RETAINED_MAX_S after connecting.
RETAINED_QUIET_S, RETAINED_MAX_S = 1.0, 10.0
WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"]


_WIDTHS: dict = {}


def text_width(text: str, font_size: float, font_name: str = "DejaVuSans", bold: bool = False,
               markup: bool = False) -> float:
    """How wide `text` is drawn on one line. Remembered: the tiles' texts come back
    ("lâu nhất 12′"), and measuring is rendering, which a busy board pays per frame."""
    key = (text, round(font_size, 2), font_name, bold, markup)
    width = _WIDTHS.get(key)
    if width is None:
        core = (MarkupLabel if markup else CoreLabel)(text=text, font_size=font_size, font_name=font_name,
                                                      bold=bold)
        core.refresh()
        if len(_WIDTHS) > 20000:
            _WIDTHS.clear()
        width = _WIDTHS[key] = core.texture.size[0]
    return width


class FitText(Label):
    """One line that shows all its text: the first of `texts` that fits at
    `max_font` (or at `min_ratio` of it, shrunk), else the last, shrunk until it
    fits. A centre's name is its full name, else with its kind abbreviated
    ("P. Thuận Hóa"), never cut."""
    texts = ListProperty([])
    max_font = NumericProperty(20)
    min_ratio = NumericProperty(0.85)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(texts=self._fit, width=self._fit, max_font=self._fit, bold=self._fit)
        self.bind(is_shortened=self._still_cut)
        self._fit()

    def _still_cut(self, *args):
        # Kivy's own verdict after drawing: its measure can differ from ours by a few
        # pixels (hinting at a fractional size); a little smaller, then, never cut
        if self.is_shortened and self.font_size > 4:
            self.font_size *= 0.97

    def _fit(self, *args):
        room = self.width - self.padding[0] - self.padding[2] - 4   # Kivy shortens within 2 px of the edge
        texts = [t for t in self.texts if t] or [""]
        for i, text in enumerate(texts):
            size = self.max_font
            for _ in range(6):   # letters do not shrink exactly in proportion: measure again
                need = text_width(text, size, self.font_name, self.bold, self.markup) if text else 0
                if need <= room or room <= 0:
                    break
                size = max(1.0, size * min(room / need, 0.98))
            if size >= self.max_font * self.min_ratio or i == len(texts) - 1:
                self.text, self.font_size = text, size
                return


class BoardTile(BoxLayout):
    """One centre (board.kv draws it). `centre` is empty on the last page's spare places."""
    centre = StringProperty("")
    name = StringProperty("")
    short_name = StringProperty("")
    status = StringProperty("nodata")
    status_icon = StringProperty("")
    status_word = StringProperty("")
    level = NumericProperty(0)
    alert_count = NumericProperty(0)
    waiting_text = StringProperty("—")
    longest_text = StringProperty("—")
    wait_alert = BooleanProperty(False)
    open = NumericProperty(0)
    paused = NumericProperty(0)
    closed = NumericProperty(0)
    counters_known = BooleanProperty(False)
    paused_alert = BooleanProperty(False)
    closed_alert = BooleanProperty(False)
    index_text = StringProperty("—")
    ratings_text = StringProperty("0")
    late = NumericProperty(0)
    last_text = StringProperty("")


TILE_KEYS = ("name", "short_name", "status", "status_icon", "status_word", "level", "alert_count",
             "waiting_text", "longest_text", "wait_alert", "open", "paused", "closed", "counters_known",
             "paused_alert", "closed_alert", "index_text", "ratings_text", "late", "last_text")


class AlertRow(BoxLayout):
    name = StringProperty("")
    text = StringProperty("")
    level = NumericProperty(0)


class ProvinceBoardApp(MotcuaApp):
    province_name = StringProperty("")
    date_text = StringProperty("")
    summary = DictProperty({})
    page_text = StringProperty("")
    alerts_title = StringProperty("")
    alert_page_text = StringProperty("")
    alert_total = NumericProperty(0)
    cols = NumericProperty(4)
    rows = NumericProperty(5)
    tile_h = NumericProperty(100)

    clear_colour = (0.02, 0.09, 0.22, 1)

    def __init__(self, province, page_s: float = PAGE_SECONDS, clock=utc_now, **kwargs):
        super().__init__(province, **kwargs)
        self.province = province
        self.province_name = province.name
        self.title = f"motcua — {province.name}"
        self.rules = model.Rules.of(province)
        self.centres = [(c.id, c.name) for c in province.centres]
        self.clock = clock                      # the board's time (a test may set a day of its own)
        self.pager = model.Pager(page_s=page_s)
        self.layout = model.grid(1280, 720)
        self.views: dict[str, dict] = {}
        self.alerts: list[dict] = []
        self.pending: dict[str, float] = {}     # centre -> when its newest message came (monotonic), not yet drawn
        self.refresh_soon = self.trigger(lambda dt: self._refresh(dt))           # at the next frame
        self._refresh_later = self.trigger(lambda dt: self._refresh(dt), REFRESH_S)
        self._refreshed_at = 0.0
        self.link = BoardLink(province, on_change=self._heard, clock=lambda: self.clock())
        self._all_due = True                    # work every centre out again (durations, the link)
        self._restart_at: float | None = None   # when to start a cycle in the order of the retained tiles
        self._burst_ends = 0.0

    # -- Kivy life cycle
    def load_kv_files(self):
        Builder.load_file(str(package_path("motcua.province.board", "board.kv")))

    def build_root(self):
        return Factory.ProvinceBoard()

    def on_start(self):
        self.link.start()
        self.start_clock()
        self._relayout()
        self._refresh(0)

    def on_stop(self):
        self.link.stop()

    def unit(self, width, height):
        return model.unit(width, height)

    def resized(self, width, height):
        self.portrait = height > width
        self.layout = model.grid(width, height)
        if self.root is not None:
            self._relayout()

    def _relayout(self):
        g = self.layout
        self.cols, self.rows, self.tile_h = g["cols"], g["rows"], g["tile_h"]
        self.pager.resize(g["per_page"])
        tiles = self.root.ids.tiles
        while len(tiles.children) < g["per_page"]:
            tiles.add_widget(BoardTile())
        while len(tiles.children) > g["per_page"]:
            tiles.remove_widget(tiles.children[0])
        alerts = self.root.ids.alerts
        while len(alerts.children) < g["alert_rows"]:
            alerts.add_widget(AlertRow())
        while len(alerts.children) > g["alert_rows"]:
            alerts.remove_widget(alerts.children[0])
        self._all_due = True
        self.refresh_soon()

    # -- from the link (paho's thread)
    def _heard(self, centre: str | None, received: float):
        if centre is None:
            self._all_due = True            # connected or not: every centre may read otherwise
            if self.link.connected:         # the retained tiles come now: a cycle in their order,
                self._burst_ends = received + RETAINED_MAX_S     # once they have all come
                self._restart_at = received + RETAINED_QUIET_S
        else:
            self.pending.setdefault(centre, received)
            if self._restart_at is not None:
                self._restart_at = min(max(self._restart_at, received + RETAINED_QUIET_S), self._burst_ends)
            if received - self._refreshed_at < REFRESH_S:
                self._refresh_later()       # busy: the tiles change at most 1/REFRESH_S times a second
                return
        self.refresh_soon()

    # -- the clock: durations move on, pages turn
    def _tick(self, dt):
        now = self.clock()
        local = now.astimezone(self.tz)
        self.clock_text = local.strftime(self.clock_format)
        self.date_text = f"{WEEKDAYS[local.weekday()]}, {local:%d/%m/%Y}"
        self._all_due = True
        self._refresh(0)

    def on_screen(self, centre: str) -> bool:
        return centre in self.pager.visible()

    # -- drawing
    def _refresh(self, dt):
        if self.root is None:
            return
        self._refreshed_at = time.monotonic()
        now = self.clock()
        heard = self.link.snapshot()
        connected_for = self.link.connected_for(now)
        pending, self.pending = self.pending, {}
        ids = [c for c, _ in self.centres] if self._all_due or not self.views else \
            [c for c in pending if c in heard]
        names = dict(self.centres)
        for cid in ids:
            self.views[cid] = model.centre_view(cid, names[cid], heard.get(cid), now, self.rules, connected_for,
                                                self.link.lost_at)
        self._all_due = False
        views = list(self.views.values())
        self.alerts = model.sorted_alerts(views)
        self.summary = model.summary(views, now, self.rules)
        self.banner = self._banner(connected_for)
        if self._restart_at is not None and time.monotonic() >= self._restart_at:
            self._restart_at = None
            self.pager.restart()
        turned = self.pager.tick(time.monotonic(), lambda: model.worst_first(self.views.values()),
                                 len(self.alerts), self.layout["alert_rows"])
        self._draw_tiles(ids if not turned else None)
        self._draw_alerts()

    def _banner(self, connected_for) -> str:
        if self.link.refused:
            return f"Máy chủ tỉnh từ chối đăng nhập của bảng ({self.link.refused}): kiểm tra mật khẩu [board]"
        if connected_for is None:
            return "Đang kết nối lại với máy chủ tỉnh… số liệu có thể chưa cập nhật"
        return ""

    def _draw_tiles(self, changed: list[str] | None):
        """Set the tiles on screen; `changed`: only those centres (None: every tile)."""
        visible = self.pager.visible()
        widgets = list(reversed(self.root.ids.tiles.children))
        only = None if changed is None else set(changed)
        for i, w in enumerate(widgets):
            cid = visible[i] if i < len(visible) else ""
            if only is not None and cid == w.centre and cid not in only:
                continue
            w.centre = cid
            v = self.views.get(cid) if cid else None
            if v is None:
                w.opacity = 0
                continue
            w.opacity = 1
            for k in TILE_KEYS:
                setattr(w, k, v[k])    # a Kivy property that gets the value it has does nothing
        self.page_text = f"Trang {self.pager.page + 1}/{self.pager.pages}"

    def _draw_alerts(self):
        rows = list(reversed(self.root.ids.alerts.children))
        shown, page, pages = self.pager.alert_slice(self.alerts, len(rows))
        for i, w in enumerate(rows):
            if i < len(shown):
                a = shown[i]
                w.name, w.text, w.level, w.opacity = a["name"], a["text"], a["level"], 1
            else:
                w.name, w.text, w.level, w.opacity = "", "", 0, 0
        n = self.alert_total = len(self.alerts)
        self.alerts_title = f"Cảnh báo ({model.vn_int(n)})" if n else "Không có cảnh báo"
        self.alert_page_text = f"{page + 1}/{pages}" if pages > 1 else ""

    # -- for the kv file
    @staticmethod
    def summary_line(s: dict) -> str:
        """The province now: centres on line or not, people waiting, today's satisfaction."""
        if not s:
            return ""
        parts = [f"[color=5de675]●[/color] [b]{s['online']}[/b] hoạt động"]
        if s["offline"]:
            parts.append(f"[color=ff6b66]✕[/color] [b]{s['offline']}[/b] mất kết nối")
        if s["nodata"]:
            parts.append(f"○ [b]{s['nodata']}[/b] chưa có dữ liệu")
        waiting = f"Đang chờ [b]{s['waiting_text']}[/b]" + (
            f", lâu nhất [b]{model.short_duration(s['longest_wait_s'])}[/b]" if s["longest_wait_s"] else "")
        index = f"Hài lòng hôm nay [b]{s['index_text']}[/b] ({s['ratings_text']} lượt)" \
            if s["index"] is not None else "Chưa có đánh giá hôm nay"
        return "   ".join(parts) + "      " + waiting + "      " + index

    def order_text(self, s: dict) -> str:
        hours = "" if not s or s.get("office") else " · ngoài giờ làm việc"
        return f"Xếp: có cảnh báo trước, rồi chờ lâu nhất · đổi trang sau {self.pager.page_s:.0f} giây{hours}"

    @staticmethod
    def wait_markup(longest: str, alert: bool) -> str:
        """Under "đang chờ": the longest wait, marked when it is too long."""
        if longest == "—":
            return ""
        text = f"lâu nhất [b]{longest}[/b]"
        return f"[color={MARK}]⚠ {text}[/color]" if alert else text

    @staticmethod
    def counters_texts(open_: int, paused: int, closed: int, paused_alert: bool, closed_alert: bool) -> list[str]:
        """Counters open, paused, closed (the ones too long marked); then without the
        word "Quầy" if that does not fit."""
        def part(n, word, alert):
            return f"[color={MARK}][b]⚠ {n}[/b] {word}[/color]" if alert else f"[b]{n}[/b] {word}"
        text = f"{part(open_, 'mở', False)} · {part(paused, 'dừng', paused_alert)} · " \
            f"{part(closed, 'đóng', closed_alert)}"
        return ["Quầy " + text, text]

    @staticmethod
    def satisfaction_texts(status: str, index: str, ratings: str, late: int) -> list[str]:
        """Today's satisfaction and ratings, late dossiers without an apology marked;
        then a shorter form if that does not fit."""
        if status == "nodata":
            return [""]
        late_mark = f" · [color={MARK}][b]⚠ {late}[/b] trễ[/color]" if late else ""
        if index == "—":
            return ["Chưa có đánh giá" + late_mark]
        return [f"Hài lòng [b]{index}[/b] · {ratings} lượt" + late_mark,
                f"Hài lòng [b]{index}[/b] ({ratings})" + late_mark]

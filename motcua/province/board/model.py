"""What the province board shows, without Kivy or MQTT (docs/province.md, "The
province board"): tiles in, ordered tiles, alerts, a summary and pages out.

The board hears two retained topics per centre (`ship/live`, the centre's tile,
and `ship/link`, its bridge up or down) and keeps what it heard in `Heard`.
Everything else is worked out here from that and the time passed in, so the
same inputs always give the same board.

Time. Centres' clocks may be off (a commune's PC is not always on NTP), so the
board never compares a centre's time with its own: a duration is the tile's own
(its `at` minus a counter's `since`, or its `longest_wait_s`) plus the time
since the board heard the tile, on the board's clock. A tile heard as a
retained copy (published before the board subscribed) is taken as heard at its
`at` when that is earlier: it may be old.

Order. Worst first: red alerts (someone waiting past the threshold, a centre
offline), then amber ones (a counter closed or paused too long, late dossiers
without an apology), then the rest by their longest wait; so the first pages
always hold every centre with an alert. 170 tiles do not fit one screen at a
size read across a room, so the board pages through them every few seconds
("Trang 2/9"): each page the worst of the centres not yet shown in the cycle
(Pager), while the figures and the alerts panel are live.
"""
from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from motcua import protocol

COUNTER_STATES = ("open", "called", "serving", "paused", "closed")
WORKING = ("open", "called", "serving")   # a counter that serves: open, whatever its ticket

RED, AMBER = 2, 1                         # an alert's level
KINDS = {  # kind: (level, order in the alerts panel within its level)
    "wait": (RED, 0), "offline": (RED, 1),
    "counter_closed": (AMBER, 2), "counter_paused": (AMBER, 3), "late": (AMBER, 4)}

# Sizes, in the board's unit u (see unit()): the tiles' grid and the panels around it.
SMALLEST_TEXT_U = 2.3      # the smallest text on the board, in u
MIN_TEXT_PX = 17.0         # ... never smaller than this many pixels (Vietnamese marks: ệ, ẫ, ở)
TOP_U = 9.4               # the strip of province figures
PAGER_U = 3.6              # the line under the tiles: page, what the order is
ALERTS_U = 40.0            # the alerts panel, on the right
MARGIN_U = 1.0
TILE_MIN_W_U = 33.0        # a tile is at least this wide ...
TILE_H_U = 16.4            # ... and this high
ALERT_ROW_U = 6.4          # one alert in the panel (two lines)

# Retained tiles come within a moment of subscribing: a centre still without one this
# long after the board connected has none (it never shipped, or its tile was cleared).
NODATA_GRACE_S = 10.0


# -- what the board heard ------------------------------------------------------------------------

class BadTile(ValueError):
    """A `ship/live` payload the board cannot show; the message says why."""


@dataclass
class Heard:
    """What the board knows of one centre: its last tile, when it was heard (the
    board's clock, UTC) and the bridge's notification (None: not heard)."""
    tile: dict | None = None
    heard: datetime | None = None
    link: bool | None = None
    link_at: datetime | None = None


def _when(text, what: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise BadTile(f"{what} {text!r} is not an ISO 8601 time") from None
    if t.tzinfo is None:
        raise BadTile(f"{what} {text!r} has no time zone")
    return t.astimezone(timezone.utc)


def _count(data: dict, key: str) -> int:
    v = data.get(key, 0)
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf:   # NaN fails too
        raise BadTile(f"{key} {v!r} is not a count")
    return int(v)


def parse_tile(payload: bytes | str | dict) -> dict:
    """A centre's `ship/live` payload, checked and normalised (times as UTC
    datetimes, counts as ints, a missing figure as 0 or None). Raises BadTile."""
    if isinstance(payload, dict):
        data = payload
    else:
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadTile(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadTile("not a JSON object")
    if data.get("v") != 1 or isinstance(data.get("v"), bool):
        raise BadTile(f"version {data.get('v')!r}: this board reads version 1")
    counters = []
    for c in data.get("counters") or []:
        if not isinstance(c, dict) or c.get("state") not in COUNTER_STATES:
            raise BadTile(f"counter {c!r}: needs a state among {', '.join(COUNTER_STATES)}")
        n = c.get("counter")
        counters.append({"counter": n if isinstance(n, int) and not isinstance(n, bool) else None,
                         "state": c["state"],
                         "since": _when(c["since"], "since") if c.get("since") else None})
    index = data.get("satisfaction_index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, (int, float))
                              or not 0 <= index <= 100):
        raise BadTile(f"satisfaction_index {index!r} is not between 0 and 100")
    longest = data.get("longest_wait_s") or 0
    if isinstance(longest, bool) or not isinstance(longest, (int, float)) or longest < 0:
        raise BadTile(f"longest_wait_s {longest!r} is not a number of seconds")
    return {"centre": data.get("centre"), "name": data.get("name"), "at": _when(data.get("at"), "at"),
            "waiting": _count(data, "waiting"), "longest_wait_s": float(longest),
            "served_today": _count(data, "served_today"), "counters": counters,
            "ratings_today": _count(data, "ratings_today"),
            "satisfaction_index": None if index is None else float(index),
            "late_without_apology": _count(data, "late_without_apology"),
            "unshipped": _count(data, "unshipped")}


parse_link = protocol.link_state    # the bridge's notification: `1` up, `0` down; else None (ignored)


def heard_at(received: datetime, tile: dict, retained: bool) -> datetime:
    """When the board takes a tile as heard: when it came, or (a retained copy,
    perhaps old) its own `at` if that is earlier."""
    return min(received, tile["at"]) if retained else received


# -- words and numbers ---------------------------------------------------------------------------

def vn_int(n: int) -> str:
    """1234 -> '1.234' (Vietnamese groups thousands with a dot)."""
    return f"{n:,}".replace(",", ".")


def vn_decimal(x: float, places: int = 1) -> str:
    """86.25 -> '86,3' (a decimal comma)."""
    return f"{x:,.{places}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def duration(seconds: float) -> str:
    """14 phút, 1 giờ 5 phút, 2 ngày: how long, as said on the board."""
    m = int(max(0, seconds) // 60)
    if m < 1:
        return "dưới 1 phút"
    if m < 60:
        return f"{m} phút"
    if m < 24 * 60:
        h, m = divmod(m, 60)
        return f"{h} giờ {m} phút" if m else f"{h} giờ"
    return f"{m // (24 * 60)} ngày"


def short_duration(seconds: float) -> str:
    """The tile's shorter form: 14′, 1 g 05′ (the alerts panel says it in words)."""
    m = int(max(0, seconds) // 60)
    if m < 60:
        return f"{m}′"
    h, m = divmod(m, 60)
    return f"{h} g {m:02d}′" if h < 24 else f"{h // 24} ngày"


PREFIXES = (("Thị trấn ", "TT. "), ("Phường ", "P. "), ("Đặc khu ", "ĐK. "), ("Xã ", "X. "))


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text or "")


def short_name(name: str) -> str:
    """A name that does not fit its tile: its kind abbreviated as in official lists
    (Phường Thuận Hóa -> P. Thuận Hóa); the place's own name is never cut."""
    name = nfc(name)
    for long, short in PREFIXES:
        if name.startswith(long):
            return short + name[len(long):]
    return name


# -- office hours ------------------------------------------------------------------------------

def office_seconds(start: datetime, end: datetime, hours, days, tz, cap_days: int = 8) -> float:
    """Seconds of [start, end) in office hours (local `hours` on weekdays `days`,
    0 = Monday). Looks back `cap_days` at most: every threshold is under a day."""
    if end <= start:
        return 0.0
    start = max(start, end - timedelta(days=cap_days))
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    total = 0.0
    day = first
    while day <= last:
        if day.weekday() in days:
            for a, b in hours:
                lo = max(start, datetime.combine(day, a, tzinfo=tz))
                hi = min(end, datetime.combine(day, b, tzinfo=tz))
                if hi > lo:
                    total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


# -- one centre --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rules:
    """What the board needs of the provincial file (motcua.province.config.Province)."""
    offline_after_s: float
    counter_closed_s: float
    counter_paused_s: float
    wait_s: float
    hours: tuple
    days: tuple
    tz: object

    @classmethod
    def of(cls, province) -> "Rules":
        a = province.alerts
        return cls(a.offline_after_s, a.counter_closed_min * 60, a.counter_paused_min * 60, a.wait_min * 60,
                   province.office_hours, province.office_days, province.tz)

    def in_office(self, now: datetime) -> bool:
        local = now.astimezone(self.tz)
        return local.weekday() in self.days and any(a <= local.time() < b for a, b in self.hours)


def _alert(kind: str, centre: str, name: str, text: str, amount: float = 0.0) -> dict:
    level, order = KINDS[kind]
    return {"kind": kind, "level": level, "order": order, "centre": centre, "name": name, "text": text,
            "amount": amount}


def _counters_text(n: int) -> str:
    return ", ".join(str(x) for x in n)


def centre_view(centre_id: str, name: str, heard: Heard | None, now: datetime, rules: Rules,
                connected_for_s: float | None, lost_at: datetime | None = None) -> dict:
    """One centre's tile as the board shows it, with its alerts. `connected_for_s`:
    how long the board has been connected to the provincial broker; None: it is not,
    since `lost_at` (None: never connected). A board that hears nothing cannot tell
    a silent centre: silence counts up to when it last listened."""
    heard = heard or Heard()
    name = nfc(name)
    office = rules.in_office(now)
    tile = heard.tile
    age = (now - heard.heard).total_seconds() if heard.heard else None
    listened = now if connected_for_s is not None else lost_at
    silent = (listened - heard.heard).total_seconds() if listened and heard.heard else None
    if heard.link is False:
        status = "offline"
    elif tile is None:
        status = "nodata"
    elif silent is not None and silent > rules.offline_after_s:
        status = "offline"
    else:
        status = "online"
    v = {"id": centre_id, "name": name, "short_name": short_name(name), "status": status,
         "waiting": 0, "longest_wait_s": 0.0, "open": 0, "paused": 0, "closed": 0,
         "ratings": 0, "index": None, "late": 0, "served": 0, "alerts": [], "last_heard": heard.heard}
    alerts = v["alerts"]
    if tile is not None:
        shift = heard.heard - tile["at"]               # the centre's clock to the board's
        elapsed = max(0.0, silent or 0.0)     # as long as the board listened, not during its own outage
        v["waiting"] = tile["waiting"]
        # still waiting since the tile (as far as the board knows): the wait goes on
        v["longest_wait_s"] = tile["longest_wait_s"] + (elapsed if tile["waiting"] and status == "online" else 0.0)
        closed_for, paused_for = [], []
        for c in tile["counters"]:
            state = "open" if c["state"] in WORKING else c["state"]
            v[state] += 1
            if state in ("closed", "paused") and c["since"] is not None and status == "online" and office:
                secs = office_seconds(c["since"] + shift, now, rules.hours, rules.days, rules.tz)
                limit = rules.counter_closed_s if state == "closed" else rules.counter_paused_s
                if secs >= limit:
                    (closed_for if state == "closed" else paused_for).append((c["counter"], secs))
        today = now.astimezone(rules.tz).date()
        if tile["at"].astimezone(rules.tz).date() == today:    # yesterday's figures are not today's
            v["ratings"], v["index"] = tile["ratings_today"], tile["satisfaction_index"]
            v["served"] = tile["served_today"]
        v["late"] = tile["late_without_apology"]
        if status == "online":
            if v["waiting"] and v["longest_wait_s"] >= rules.wait_s:
                alerts.append(_alert("wait", centre_id, name, f"Có người chờ {duration(v['longest_wait_s'])}",
                                     v["longest_wait_s"]))
            for kind, found, word in (("counter_closed", closed_for, "đóng"), ("counter_paused", paused_for,
                                                                                "tạm dừng")):
                if not found:
                    continue
                longest = max(s for _, s in found)
                numbers = sorted(n for n, _ in found if n is not None)
                who = f"Quầy {_counters_text(numbers)}" if numbers else f"{len(found)} quầy"
                text = f"{who} {word} {duration(longest)}" if len(found) == 1 else \
                    f"{who} {word}, lâu nhất {duration(longest)}"
                alerts.append(_alert(kind, centre_id, name, text, longest))
        if v["late"]:
            alerts.append(_alert("late", centre_id, name, f"{v['late']} hồ sơ trễ hạn chưa xin lỗi",
                                 v["late"]))
    if status != "online" and office and (status == "offline" or (connected_for_s or 0) > NODATA_GRACE_S):
        alerts.insert(0, _alert("offline", centre_id, name, offline_text(v, now, rules),
                                age if age is not None else math.inf))
    v.update(tile_texts(v, rules))
    v["last_text"] = last_heard_text(heard.heard, now, rules) if heard.heard else ""
    return v


def offline_text(v: dict, now: datetime, rules: Rules) -> str:
    if v["status"] == "nodata":
        return "Chưa gửi dữ liệu nào"
    return "Mất kết nối" + (f", lần cuối {last_heard_text(v['last_heard'], now, rules)}"
                            if v["last_heard"] else "")


def last_heard_text(when: datetime, now: datetime, rules: Rules) -> str:
    local, today = when.astimezone(rules.tz), now.astimezone(rules.tz).date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%d/%m %H:%M")


def level(v: dict) -> int:
    return max((a["level"] for a in v["alerts"]), default=0)


STATUS_WORDS = {"online": ("●", "Hoạt động"), "offline": ("✕", "Mất kết nối"),
                "nodata": ("○", "Chưa có dữ liệu")}


def tile_texts(v: dict, rules: Rules) -> dict:
    """The words on a tile: every figure with its word, the marks of its alerts."""
    kinds = {a["kind"] for a in v["alerts"]}
    icon, word = STATUS_WORDS[v["status"]]
    live = v["status"] == "online"
    return {
        "level": level(v),
        "status_icon": icon, "status_word": word,
        "wait_alert": "wait" in kinds, "counter_alert": bool(kinds & {"counter_closed", "counter_paused"}),
        "paused_alert": "counter_paused" in kinds, "closed_alert": "counter_closed" in kinds,
        "late_alert": "late" in kinds,
        "alert_count": len(v["alerts"]),
        "waiting_text": str(v["waiting"]) if live or v["waiting"] else "—",
        "longest_text": short_duration(v["longest_wait_s"]) if v["waiting"] else "—",
        "counters_known": v["open"] + v["paused"] + v["closed"] > 0,
        "index_text": "—" if v["index"] is None or not v["ratings"] else vn_decimal(v["index"]),
        "ratings_text": vn_int(v["ratings"]),
    }


# -- the board ---------------------------------------------------------------------------------

def worst_first(views: Iterable[dict]) -> list[str]:
    """Centre ids, worst first: by the level of their worst alert, how many alerts,
    then the longest wait, the people waiting, and the name."""
    return [v["id"] for v in sorted(views, key=lambda v: (
        -v["level"], -v["alert_count"], -(v["longest_wait_s"] if v["waiting"] else 0), -v["waiting"],
        v["status"] != "online", nfc(v["name"]).casefold()))]


def sorted_alerts(views: Iterable[dict]) -> list[dict]:
    alerts = [a for v in views for a in v["alerts"]]
    return sorted(alerts, key=lambda a: (-a["level"], a["order"], -a["amount"], a["name"].casefold()))


def summary(views: list[dict], now: datetime, rules: Rules) -> dict:
    """The province's figures across the top: centres online or not, people waiting,
    today's satisfaction (every centre's index weighted by its ratings)."""
    online = [v for v in views if v["status"] == "online"]
    rated = [v for v in views if v["index"] is not None and v["ratings"]]
    ratings = sum(v["ratings"] for v in rated)
    index = sum(v["index"] * v["ratings"] for v in rated) / ratings if ratings else None
    longest = max((v["longest_wait_s"] for v in online if v["waiting"]), default=0.0)
    alerts = sum(len(v["alerts"]) for v in views)
    return {"centres": len(views), "online": len(online),
            "offline": sum(v["status"] == "offline" for v in views),
            "nodata": sum(v["status"] == "nodata" for v in views),
            "waiting": sum(v["waiting"] for v in online), "longest_wait_s": longest,
            "ratings": ratings, "index": index, "alerts": alerts,
            "red": sum(1 for v in views for a in v["alerts"] if a["level"] == RED),
            "served": sum(v["served"] for v in views),
            "office": rules.in_office(now),
            "index_text": "—" if index is None else vn_decimal(index),
            "ratings_text": vn_int(ratings), "waiting_text": vn_int(sum(v["waiting"] for v in online)),
            "longest_text": duration(longest) if longest else "—"}


@dataclass
class Board:
    views: dict[str, dict]
    alerts: list[dict]
    summary: dict


def board(centres: list[tuple[str, str]], heard: dict[str, Heard], now: datetime, rules: Rules,
          connected_for_s: float | None, lost_at: datetime | None = None) -> Board:
    """The whole board: every centre of the provincial file, in its order, whether
    or not anything was heard from it."""
    views = {cid: centre_view(cid, name, heard.get(cid), now, rules, connected_for_s, lost_at)
             for cid, name in centres}
    vs = list(views.values())
    return Board(views, sorted_alerts(vs), summary(vs, now, rules))


# -- pages -------------------------------------------------------------------------------------

@dataclass
class Pager:
    """Turns the pages of tiles every `page_s` seconds. Each page holds the worst
    `per_page` centres, at the time it turns, of those not yet shown in this cycle;
    the cycle ends when every centre has been shown, and starts again. So every
    centre is seen once a cycle, a page does not reshuffle while it is read, and a
    centre that gets an alert is on the next page (unless already shown this cycle:
    then on the first page of the next). The alerts panel turns its own pages with
    the tiles'."""
    page_s: float = 8.0
    per_page: int = 1
    total: int = 0
    page: int = 0
    current: list[str] = field(default_factory=list)
    shown: set = field(default_factory=set)
    turned_at: float | None = None
    alert_page: int = 0

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / max(1, self.per_page)))

    def visible(self) -> list[str]:
        return list(self.current)

    def restart(self) -> None:
        """Start a new cycle at the next tick (a new layout; the retained tiles just came)."""
        self.turned_at = None

    def resize(self, per_page: int) -> None:
        if per_page != self.per_page:
            self.per_page = max(1, per_page)
            self.restart()

    def _turn(self, now_s: float, order: list[str]) -> None:
        self.total = len(order)
        if self.turned_at is None or self.page + 1 >= self.pages or not [c for c in order if c not in self.shown]:
            self.page, self.shown = 0, set()
        else:
            self.page += 1
        self.current = [c for c in order if c not in self.shown][:self.per_page]
        self.shown |= set(self.current)
        self.turned_at = now_s

    def tick(self, now_s: float, order: Callable[[], list[str]], alerts: int, alerts_per_page: int) -> bool:
        """Turn the page when it is due. True when the tiles on screen changed."""
        if self.turned_at is not None and now_s - self.turned_at < self.page_s:
            return False
        if self.turned_at is not None:
            alert_pages = max(1, math.ceil(alerts / max(1, alerts_per_page)))
            self.alert_page = (self.alert_page + 1) % alert_pages
        self._turn(now_s, order())
        return True

    def alert_slice(self, alerts: list, per_page: int) -> tuple[list, int, int]:
        """The alerts on the panel now, its page and its pages."""
        per_page = max(1, per_page)
        pages = max(1, math.ceil(len(alerts) / per_page))
        page = min(self.alert_page, pages - 1)
        return alerts[page * per_page:(page + 1) * per_page], page, pages


# -- layout ------------------------------------------------------------------------------------

def unit(width: float, height: float) -> float:
    """The board's unit: a hundredth of the shorter side, but never so small that
    the smallest text is under MIN_TEXT_PX (so a 720p board has bigger tiles,
    relative to its height, and fewer of them)."""
    return max(min(width, height) / 100.0, MIN_TEXT_PX / SMALLEST_TEXT_U)


def grid(width: float, height: float) -> dict:
    """Columns and rows of tiles for a width×height window, and the alerts that fit
    the panel beside them."""
    u = unit(width, height)
    area_w = width - (ALERTS_U + 3 * MARGIN_U) * u
    area_h = height - (TOP_U + PAGER_U + 2 * MARGIN_U) * u
    cols = max(1, int(area_w // (TILE_MIN_W_U * u)))
    rows = max(1, int(area_h // (TILE_H_U * u)))
    alert_rows = max(1, int((height - (TOP_U + 2 * MARGIN_U + 6.0) * u) // (ALERT_ROW_U * u)))
    return {"u": u, "cols": cols, "rows": rows, "per_page": cols * rows, "alert_rows": alert_rows,
            "tile_w": area_w / cols, "tile_h": area_h / rows}

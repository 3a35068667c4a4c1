"""What the displays show, without Kivy: the hall board's counter tiles, last
calls and waiting figures, the counter display's counter, the discreet notice
when the link is down, the date line, and the layout of the tiles.

Everything here reads the link's snapshot of the centre's retained state
(docs/protocol.md) and the site file; nothing here talks to MQTT. The
managers' board has its own pure module, display/tallies.py.
"""
from __future__ import annotations

import math
from datetime import datetime

FLASH_SECONDS = 6.0     # the newest call flashes this long
PREVIOUS_CALLS = 3      # calls listed under the newest one
WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"]


def link_text(broker_connected: bool, centre_online: bool | None) -> str:
    """Discreet: the board keeps showing the last state it knows. centre_online is
    None until the centre's availability is known, which is not an outage."""
    if not broker_connected:
        return "Đang kết nối lại với hệ thống…"
    if centre_online is False:
        return "Hệ thống tạm gián đoạn — thông tin có thể chưa cập nhật"
    return ""


def date_text(now: datetime) -> str:
    return f"{WEEKDAYS[now.weekday()]}, {now.strftime('%d/%m/%Y')}"


def minutes(seconds) -> str:
    """The estimated wait as the hall board writes it: "~12 phút"; from an hour on in
    hours and minutes, the minutes rounded to 5 (an estimate that long is no more
    precise): "~1 giờ 5 phút", "~2 giờ"."""
    if not seconds:
        return "—"
    m = max(1, round(seconds / 60))
    if m < 60:
        return f"~{m} phút"
    h, m = divmod(5 * round(m / 5), 60)
    return f"~{h} giờ {m} phút" if m else f"~{h} giờ"


def service_names(site_services) -> dict:
    return {s.code: s.name_vi for s in site_services}


# -- the hall board --------------------------------------------------------------------------


def hall_tiles(counters: list[dict], names: dict) -> list[dict]:
    """A tile for every open or paused counter (closed ones are left out), with the
    ticket it calls or serves."""
    tiles = []
    for c in counters:
        if c.get("state") not in ("open", "paused"):
            continue
        t = c.get("ticket") or {}
        tiles.append({"counter": c["counter"], "name": f"Quầy {c['counter']}",
                      "state": c["state"], "number": t.get("ticket") or "",
                      "service": names.get(t.get("service"), "") if t else "",
                      "reason": c.get("pause_reason") or ""})
    return tiles


def newest_call(recent_calls: list[dict]) -> dict:
    return recent_calls[0] if recent_calls else {}


def newest_changed(shown: dict, newest: dict) -> bool:
    return newest.get("seq") != shown.get("seq") or newest != dict(shown)


def previous_rows(recent_calls: list[dict]) -> list[dict]:
    """The calls before the newest, newest first."""
    return [{"number": c.get("ticket", ""), "counter": c.get("counter", 0), "recall": bool(c.get("recall"))}
            for c in recent_calls[1:1 + PREVIOUS_CALLS]]


TALL_ROW = 5.8 / 3.4   # a service row whose name takes two lines, in one-line rows


def waiting_rows(services: list[dict], fit: float, lines=None) -> list[dict]:
    """Waiting figures per service. A service nobody serves now and nobody waits for
    is left out; `lines(name)` says whether a name takes one line or two (a long one
    wraps rather than shrinking or being cut). When they do not all fit in `fit`
    one-line rows (a two-line row counts TALL_ROW), the longest lines stay, in the
    site file's order."""
    rows = [{"name": s.get("name_vi", s["service"]), "waiting": s.get("waiting", 0),
             "wait_s": s.get("estimated_wait_s", 0)}
            for s in services if s.get("waiting") or s.get("open_counters")]
    for r in rows:
        r["lines"] = lines(r["name"]) if lines else 1
    keep, used = [], 0.0
    for i in sorted(range(len(rows)), key=lambda i: -rows[i]["waiting"]):
        size = 1 if rows[i]["lines"] == 1 else TALL_ROW
        if used + size <= fit + 1e-9:
            keep.append(i)
            used += size
    return [rows[i] for i in sorted(keep)]


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


def tile_layout(tiles: list[dict], width: float, height: float, u: float, portrait: bool,
                notice: bool) -> tuple[int, float]:
    """The hall board's columns of tiles and their number's font size in a
    width×height window: the tiles take the left 68% (landscape) or the top 55%
    (portrait) under the header, above the ticker when a notice runs."""
    ticker = u * 6 if notice else 0
    area_w = width * (0.68 if not portrait else 1.0) - u * 2
    area_h = (height - u * 11 - ticker) * (1 if not portrait else 0.55)
    digits = max([len(t["number"]) for t in tiles if t["number"]] + [4])
    # name and service line 3.6u + padding 1.4u + margins 0.8u
    cols, font = counter_grid(len(tiles) or 1, area_w, area_h, digits, chrome=u * 5.8)
    return cols, min(font, u * 24)


# -- the counter display ----------------------------------------------------------------------


def counter_view(counter: dict | None, conf_name: str, names: dict) -> dict:
    """The counter above which the display hangs, as it shows it."""
    c = counter or {}
    t = c.get("ticket") or {}
    return {"name": c.get("name") or conf_name, "state": c.get("state", "closed"),
            "number": t.get("ticket", ""), "service": names.get(t.get("service"), ""),
            "reason": c.get("pause_reason") or "", "officer": c.get("officer_name") or "",
            "serving": t.get("state") == "serving"}


def counter_flash(view: dict, new_calls: list[dict], number: int) -> bool | None:
    """True: a call to this counter came (flash); False: nothing to call attention
    to any more (stop flashing); None: leave the flashing as it is."""
    if any(call.get("counter") == number for call in new_calls):
        return True
    if view["state"] != "open" or not view["number"]:
        return False
    return None

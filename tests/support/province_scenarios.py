"""The province board's tests: a province of 170 centres with realistic tiles, a
provincial broker for it, and the scenarios run inside the real board by
tests/support/kivy_driver.py (kind `province`).

Test side: `write_province` (a provincial file of N centres with Vietnamese
commune and ward names), `ProvincialBroker` (a real Mosquitto with a password
file and an ACL for the board and a publisher; the provincial broker's own
configuration is the province broker's business, this is only for the board),
`Scene` (what 170 centres look like at 09:40 on a working Wednesday: varied
loads, some offline, some silent, some with alerts) and `Publisher`, which
publishes the tiles and bridge notifications retained, as the centres' `motcua
ship` and bridges do.

The board's clock is the scene's (SceneClock, given to the app by the driver
from $MOTCUA_BOARD_CLOCK), so office hours and durations do not depend on when
the test runs; everything else is real: broker, MQTT, Kivy, Xvfb.
"""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

BASE = "2026-12-09T09:40:00+07:00"      # a Wednesday, in the morning's office hours
PUBLISHER = ("publisher", "test-publisher-secret")
BOARD_PASSWORD = "test-board-secret-1"

# Communes and wards as the two-tier provinces name them since 1 July 2025: a few
# real ones, the rest made of the syllables such names are made of.
REAL = ["Phường Thuận Hóa", "Phường Phú Xuân", "Phường Kim Long", "Phường Vỹ Dạ", "Phường Thuận An",
        "Phường Hương Thủy", "Phường Phú Bài", "Phường Hương Trà", "Phường Phong Điền", "Xã Phú Vinh",
        "Xã Phú Hồ", "Xã Phú Vang", "Xã Quảng Điền", "Xã Đan Điền", "Xã Lộc An", "Xã Chân Mây - Lăng Cô",
        "Xã Nam Đông", "Xã Khe Tre", "Xã A Lưới 1", "Xã A Lưới 2", "Xã A Lưới 3", "Xã Bình Điền",
        "Xã Vinh Lộc", "Xã Hưng Lộc", "Đặc khu Lý Sơn", "Đặc khu Cồn Cỏ", "Xã Ea H'leo",
        "Phường Bình Hưng Hòa", "Xã Quảng Điền Phong Hải Đông"]   # the last: longer than any tile
FIRST = ["Phú", "An", "Hòa", "Hương", "Phong", "Quảng", "Vinh", "Thủy", "Lộc", "Thuận", "Tân", "Bình", "Long",
         "Mỹ", "Đông", "Xuân", "Hải", "Điền", "Kim", "Thanh", "Minh", "Đức", "Trung", "Gia", "Quang", "Hồng",
         "Ngọc", "Nghĩa", "Cẩm", "Triệu"]
SECOND = ["Vinh", "Lộc", "Xuân", "Điền", "Hòa", "An", "Thạnh", "Phong", "Thủy", "Bình", "Long", "Mỹ", "Lợi",
          "Hưng", "Thịnh", "Sơn", "Hải", "Khánh", "Tiến", "Thái", "Phước", "Định", "Trà", "Lâm", "Dương"]


def slug(name: str) -> str:
    """Phường Thuận Hóa -> phuong-thuan-hoa (the site id a centre would have)."""
    text = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def centre_names(n: int = 170, seed: int = 13) -> list[tuple[str, str]]:
    """n (id, name) pairs: the real names first, then made ones (about one ward to
    four communes), all different."""
    rng = random.Random(seed)
    names = list(REAL)
    while len(names) < n:
        kind = "Phường" if rng.random() < 0.22 else "Xã"
        name = f"{kind} {rng.choice(FIRST)} {rng.choice(SECOND)}"
        if name not in names and name.split(" ", 1)[1] not in {x.split(" ", 1)[1] for x in names}:
            names.append(name)
    names = names[:n]
    out = [(slug(x), x) for x in names]
    # one name as a Windows editor might save it: decomposed (NFD); the board shows it composed
    i = next(i for i, (_, x) in enumerate(out) if x == "Xã Phú Vinh")
    out[i] = (out[i][0], unicodedata.normalize("NFD", out[i][1]))
    return out


def write_province(folder: Path, port: int, centres: list[tuple[str, str]], extra_board: str = "") -> Path:
    lines = ["[province]", 'id = "hue"', 'name = "Thành phố Huế"', 'timezone = "Asia/Ho_Chi_Minh"',
             f'data_dir = "{folder / "province"}"', "", "[broker]", 'host = "127.0.0.1"', f"port = {port}",
             "", "[database]", 'dsn = "postgresql:///unused?host=/tmp"', "", "[hub]",
             'password = "test-hub-secret-1"', "", "[board]", f'password = "{BOARD_PASSWORD}"',
             'office_hours = ["07:30-11:30", "13:30-17:00"]', "office_days = [1, 2, 3, 4, 5, 6]",
             "offline_after_s = 120", "counter_closed_min = 30", "counter_paused_min = 20", "wait_min = 45",
             extra_board, ""]
    for cid, name in centres:
        lines += ["[[centres]]", f'id = "{cid}"', f'name = "{name}"', f'password = "centre-{cid}-pw"', ""]
    path = folder / "province.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class ProvincialBroker:
    """A Mosquitto for the board's tests: user `board` reads the tiles and links,
    user `publisher` writes them (standing for the centres' bridges)."""

    def __init__(self, folder: Path, port: int):
        from motcua.broker import _mosquitto_user
        self.folder, self.port = folder, port
        folder.mkdir(parents=True, exist_ok=True)
        passwd, acl = folder / "passwd", folder / "acl"
        passwd.write_text(f"board:{BOARD_PASSWORD}\n{PUBLISHER[0]}:{PUBLISHER[1]}\n")
        passwd.chmod(0o600)
        subprocess.run([shutil.which("mosquitto_passwd"), "-U", str(passwd)], check=True)
        acl.write_text("user board\ntopic read motcua/+/ship/live\ntopic read motcua/+/ship/link\n\n"
                       f"user {PUBLISHER[0]}\ntopic write motcua/#\n")
        user = _mosquitto_user()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text("\n".join([
            "per_listener_settings false", "allow_anonymous false", f"password_file {passwd}",
            f"acl_file {acl}", f"listener {port} 127.0.0.1", "persistence false", "set_tcp_nodelay true",
            "max_queued_messages 100000", "log_dest stderr", "log_type error", "log_type warning",
            "user mosquitto" if user else ""]) + "\n")
        if user:
            import os
            for p in (folder, passwd, acl, self.conf):
                os.chown(p, user.pw_uid, user.pw_gid)
        self.proc = None

    def start(self) -> "ProvincialBroker":
        from motcua.broker import mosquitto_command
        from support.broker import wait_port
        with open(self.folder / "log", "ab") as log:   # the child keeps its own copy
            self.proc = subprocess.Popen(mosquitto_command(self.conf), stdout=log, stderr=subprocess.STDOUT)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


class Publisher:
    """Publishes tiles and bridge notifications, retained, QoS 1."""

    def __init__(self, port: int):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"publisher-{time.monotonic_ns()}",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(*PUBLISHER)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self._last = None

    def tile(self, centre: str, tile: dict):
        self._last = self.client.publish(f"motcua/{centre}/ship/live", json.dumps(tile, ensure_ascii=False),
                                         qos=1, retain=True)

    def link(self, centre: str, up: bool):
        self._last = self.client.publish(f"motcua/{centre}/ship/link", "1" if up else "0", qos=1, retain=True)

    def flush(self, timeout: float = 10):
        if self._last is not None:
            self._last.wait_for_publish(timeout)

    def stop(self):
        self.flush()
        self.client.disconnect()
        self.client.loop_stop()


# -- the scene ----------------------------------------------------------------------------------

def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def make_tile(cid: str, name: str, at: datetime, *, waiting: int = 0, longest_min: float = 0,
              counters: list[tuple[str, float]] = (), ratings: int = 0, index: float | None = None,
              late: int = 0, served: int = 0) -> dict:
    """A tile as `motcua ship` publishes it; `counters`: (state, minutes in it)."""
    return {"v": 1, "centre": cid, "name": name, "at": iso(at), "waiting": waiting,
            "longest_wait_s": int(longest_min * 60) if waiting else 0, "served_today": served,
            "counters": [{"counter": i + 1, "state": s, "since": iso(at - timedelta(minutes=m))}
                         for i, (s, m) in enumerate(counters)],
            "ratings_today": ratings, "satisfaction_index": index if ratings else None,
            "late_without_apology": late, "unshipped": 0}


@dataclass
class Scene:
    """What every centre is doing at `now`, and what the board should make of it."""
    now: datetime
    centres: list[tuple[str, str]]
    tiles: dict[str, dict] = field(default_factory=dict)
    links: dict[str, bool] = field(default_factory=dict)
    expect: dict[str, set] = field(default_factory=dict)   # centre -> alert kinds expected
    status: dict[str, str] = field(default_factory=dict)


def scene(centres: list[tuple[str, str]], now: datetime | None = None, seed: int = 7) -> Scene:
    """170 centres at 09:40: most busy and well; a few with long waits, counters
    paused or closed too long, late dossiers without an apology; a few with the
    bridge down, a few silent for minutes (the bridge up but nothing shipped) and
    a few that never sent anything."""
    now = now or datetime.fromisoformat(BASE)
    rng = random.Random(seed)
    s = Scene(now, centres)
    ids = [c for c, _ in centres]
    order = ids[:]
    rng.shuffle(order)
    roles = (["nodata"] * 3 + ["link_down"] * 5 + ["silent"] * 3 + ["wait"] * 7 + ["paused"] * 5 +
             ["closed"] * 4 + ["late"] * 5 + ["wait_late"] * 2)
    role = {cid: roles[i] if i < len(roles) else "ok" for i, cid in enumerate(order)}
    names = dict(centres)
    for cid in ids:
        r = role[cid]
        s.expect[cid] = set()
        s.status[cid] = "online"
        if r == "nodata":
            s.status[cid] = "nodata"
            s.expect[cid] = {"offline"}
            continue
        at = now - timedelta(seconds=rng.uniform(1, 25))
        ncounters = rng.choice([2, 3, 3, 4, 4, 5, 6, 8])
        counters = []
        for _ in range(ncounters):
            x = rng.random()
            counters.append(("serving", rng.uniform(1, 12)) if x < 0.55 else ("called", rng.uniform(0, 2))
                            if x < 0.65 else ("open", rng.uniform(0, 5)) if x < 0.8 else
                            ("paused", rng.uniform(1, 12)) if x < 0.9 else ("closed", rng.uniform(2, 25)))
        waiting = rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 9, 12, 15, 18, 24, 31])
        longest = rng.uniform(2, 38) if waiting else 0
        ratings = rng.randint(0, 90)
        index = round(rng.triangular(62, 99, 86), 1)
        late = 0
        if r in ("wait", "wait_late"):
            waiting, longest = max(waiting, rng.randint(9, 40)), rng.uniform(47, 95)
            s.expect[cid].add("wait")
        if r == "paused":
            counters[0] = ("paused", rng.uniform(22, 70))
            s.expect[cid].add("counter_paused")
        if r == "closed":
            counters[-1] = ("closed", rng.uniform(40, 130))   # since before 07:30: office time only counts
            s.expect[cid].add("counter_closed")
        if r in ("late", "wait_late"):
            late = rng.randint(1, 4)
            s.expect[cid].add("late")
        if r == "link_down":
            at = now - timedelta(minutes=rng.uniform(15, 90))
            s.links[cid] = False
            s.status[cid] = "offline"
            s.expect[cid] = {"offline"}
        elif r == "silent":
            at = now - timedelta(minutes=rng.uniform(4, 12))
            s.links[cid] = True
            s.status[cid] = "offline"
            s.expect[cid] = {"offline"}
        else:
            s.links[cid] = True
        s.tiles[cid] = make_tile(cid, names[cid], at, waiting=waiting, longest_min=longest, counters=counters,
                                 ratings=ratings, index=index, late=late, served=rng.randint(5, 160))
        if r in ("link_down", "silent") and late:
            s.expect[cid].add("late")
    return s


def publish_scene(s: Scene, port: int) -> None:
    p = Publisher(port)
    try:
        for cid, tile in s.tiles.items():
            p.tile(cid, tile)
        for cid, up in s.links.items():
            p.link(cid, up)
    finally:
        p.stop()


def load(port: int, tiles: dict[str, dict], seconds: float = 8.0, rate: float = 3.0, seed: int = 1) -> int:
    """Every tile `rate` times a second for `seconds`, with new waiting figures, as
    170 busy centres would; returns how many were sent."""
    rng = random.Random(seed)
    p = Publisher(port)
    sent = 0
    at = iso(datetime.fromisoformat(BASE) + timedelta(minutes=1))   # the scene's day: today's figures
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            tick = time.monotonic()
            for cid, tile in tiles.items():
                waiting = rng.randint(0, 30)
                p.tile(cid, tile | {"at": at, "waiting": waiting,
                                    "longest_wait_s": rng.randint(60, 2400) if waiting else 0})
                sent += 1
            time.sleep(max(0.0, 1 / rate - (time.monotonic() - tick)))
    finally:
        p.stop()
    return sent


class SceneClock:
    """The board's clock in a test: the scene's time, running on from when the app
    was made; `advance(s)` jumps ahead (a centre silent for minutes, at once)."""

    def __init__(self, base: str | datetime):
        self.base = datetime.fromisoformat(base) if isinstance(base, str) else base
        self.t0 = time.monotonic()
        self.skipped = 0.0

    def __call__(self) -> datetime:
        return (self.base + timedelta(seconds=time.monotonic() - self.t0 + self.skipped)).astimezone(timezone.utc)

    def advance(self, seconds: float) -> None:
        self.skipped += seconds


# -- the app's side (run inside the board by the driver) ---------------------------------------

def _labels_cut(d):
    from support.ui import cut_labels
    return cut_labels(d.app.root)


def _expected(d) -> dict:
    """The scene the test published (a JSON file, $MOTCUA_BOARD_SCENE)."""
    import os
    return json.loads(Path(os.environ["MOTCUA_BOARD_SCENE"]).read_text())


def _views_ready(d, n: int):
    from motcua.province.board import model
    app = d.app
    yield from d.until(lambda: app.link.connected and app.link.messages >= n, timeout=20,
                       what=f"{n} retained messages from the provincial broker")
    yield from d.sleep(0.3)
    app.clock.advance(model.NODATA_GRACE_S + 1)   # past the grace a silent centre gets before its alert
    app._all_due = True
    app._refresh(0)
    yield


def _tile_widgets(app):
    return [w for w in reversed(app.root.ids.tiles.children)]


def _visible_tiles(app) -> list[dict]:
    return [{"centre": w.centre, "status": w.status, "level": w.level, "waiting": w.waiting_text,
             "longest": w.longest_text, "alerts": w.alert_count, "open": w.open, "paused": w.paused,
             "closed": w.closed, "index": w.index_text, "ratings": w.ratings_text, "late": w.late}
            for w in _tile_widgets(app) if w.centre and w.opacity > 0]


def _page_record(d, name: str):
    app = d.app
    yield from d.shot(name)
    return {"page": app.pager.page, "pages": app.pager.pages, "visible": app.pager.visible(),
            "page_text": app.page_text, "cut": _labels_cut(d), "tiles": _visible_tiles(app)}


def board_170(d):
    """170 centres as the test published them: the summary, the statuses, the
    alerts, worst first; then the board pages through them all by itself (every
    centre seen once per cycle, the alerts first) with no label cut on any page."""
    from motcua.province.board import model
    app = d.app
    scene_data = _expected(d)
    yield from _views_ready(d, scene_data["messages"])
    d.check("views", {cid: {"status": v["status"], "alerts": sorted(a["kind"] for a in v["alerts"]),
                            "name": v["name"], "waiting": v["waiting"], "level": v["level"]}
                      for cid, v in app.views.items()})
    d.check("summary", {k: v for k, v in app.summary.items() if isinstance(v, (int, float, str, type(None)))})
    d.check("summary_line", app.summary_line(app.summary))
    d.check("alerts", [{"centre": a["centre"], "kind": a["kind"], "text": a["text"], "level": a["level"]}
                       for a in app.alerts])
    d.check("order", model.worst_first(app.views.values()))
    d.check("layout", dict(app.layout))
    d.check("alert_rows_shown", [w.text for w in reversed(app.root.ids.alerts.children) if w.opacity > 0])
    # wait for the start of a cycle, then record each page as it turns by itself
    # the board starts a cycle by itself once the retained tiles have come
    yield from d.until(lambda: app._restart_at is None and app.pager.turned_at is not None, timeout=15,
                       what="the first cycle in the order of the retained tiles")
    app.pager.restart()      # and one from now, so this records a whole cycle from its first page
    app._refresh(0)
    pages = []
    seen_pages = set()
    start = time.monotonic()
    while True:
        page = app.pager.page
        if page in seen_pages:
            break
        seen_pages.add(page)
        rec = yield from _page_record(d, f"page-{page + 1}")
        rec["at"] = time.monotonic() - start
        pages.append(rec)
        yield from d.until(lambda page=page: app.pager.page != page, timeout=app.pager.page_s * 3,
                           what=f"the page after page {page + 1}")
    d.check("pages", pages)


def _find(app, cid):
    return next((w for w in _tile_widgets(app) if w.centre == cid and w.opacity > 0), None)


def board_live(d):
    """The board follows the centres: a new retained tile redraws its tile; the
    bridge's `0` makes a centre offline with an alert at once, `1` and a fresh tile
    bring it back; a long wait raises an alert and its end clears it; a centre
    that stops shipping goes offline after offline_after_s. Then 170 tiles three
    times a second each, with the frame times."""
    from kivy.core.window import Window

    from support.province_scenarios import Publisher, make_tile
    app = d.app
    data = _expected(d)
    yield from _views_ready(d, data["messages"])
    yield from d.until(lambda: app._restart_at is None, timeout=15, what="the first cycle")
    yield
    d.check("first_page", app.pager.visible())
    pub = Publisher(data["port"])
    try:
        now = app.clock
        # a centre on screen (page 1 holds the worst: take an ok centre shown now)
        visible = app.pager.visible()
        target = next(c for c in visible if app.views[c]["status"] == "online")
        name = app.views[target]["name"]
        yield from d.shot("live-before")
        pub.tile(target, make_tile(target, name, now(), waiting=17, longest_min=12,
                                   counters=[("serving", 3), ("serving", 1), ("open", 1), ("paused", 2)],
                                   ratings=41, index=91.5))
        t0 = time.monotonic()
        yield from d.until(lambda: (_find(app, target) or app).waiting_text == "17", timeout=5,
                           what="the new tile on screen")
        d.check("update_s", time.monotonic() - t0)
        w = _find(app, target)
        d.check("updated", {"waiting": w.waiting_text, "longest": w.longest_text, "open": w.open,
                            "paused": w.paused, "closed": w.closed, "index": w.index_text,
                            "ratings": w.ratings_text, "status": w.status})
        # a long wait: red, an alert in words; then nobody waits: the alert goes
        pub.tile(target, make_tile(target, name, now(), waiting=9, longest_min=58,
                                   counters=[("serving", 3), ("serving", 1)], ratings=41, index=91.5))
        yield from d.until(lambda: any(a["centre"] == target and a["kind"] == "wait" for a in app.alerts),
                           timeout=5, what="the wait alert")
        d.check("wait_alert", [a["text"] for a in app.alerts if a["centre"] == target])
        d.check("wait_level", app.views[target]["level"])
        yield from d.shot("live-wait-alert")
        pub.tile(target, make_tile(target, name, now(), waiting=0, counters=[("open", 1), ("open", 1)],
                                   ratings=42, index=91.0))
        yield from d.until(lambda: not any(a["centre"] == target for a in app.alerts), timeout=5,
                           what="the wait alert to go")
        d.check("after_wait", {"level": app.views[target]["level"], "alerts": app.views[target]["alerts"]})
        # the bridge goes down: offline at once, an alert; it comes back: online again
        pub.link(target, False)
        yield from d.until(lambda: app.views[target]["status"] == "offline", timeout=5, what="offline")
        d.check("offline_alerts", [a["text"] for a in app.alerts if a["centre"] == target])
        w = _find(app, target)
        d.check("offline_tile", None if w is None else {"status": w.status, "word": w.status_word,
                                                        "icon": w.status_icon, "last": w.last_text})
        yield from d.shot("live-offline")
        pub.link(target, True)
        pub.tile(target, make_tile(target, name, now(), waiting=2, longest_min=3, counters=[("serving", 1)],
                                   ratings=42, index=91.0))
        yield from d.until(lambda: app.views[target]["status"] == "online" and not app.views[target]["alerts"]
                           and app.views[target]["waiting"] == 2, timeout=5, what="back online, its new tile")
        d.check("back", app.views[target]["status"])
        # silent: no tile for longer than offline_after_s (the clock jumps 130 s; every
        # other centre is silent too, then all are heard again)
        app.clock.advance(130)
        yield from d.until(lambda: app.views[target]["status"] == "offline", timeout=5, what="silent: offline")
        d.check("silent", {"status": app.views[target]["status"], "online": app.summary["online"],
                           "alerts": [a["kind"] for a in app.alerts if a["centre"] == target]})
        for cid, _ in app.centres:
            if data["status"].get(cid) == "online":
                pub.tile(cid, data["tiles"][cid] | {"at": now().isoformat()})
        pub.flush()
        yield from d.until(lambda: app.summary["online"] == data["online"], timeout=10, what="all heard again")
        d.check("online_again", app.summary["online"])
        # load: every online centre three times a second for 8 s, from the test's process;
        # frame times, refresh times, and a tile's message to the frame that shows it
        from support.ui import ask_test
        frames: list[float] = []
        refresh: list[float] = []
        latency: list[float] = []
        waiting: list[float] = []

        def flipped(*a):
            now_s = time.monotonic()
            frames.append(now_s)
            latency.extend(now_s - t for t in waiting)
            waiting.clear()
        Window.bind(on_flip=flipped)
        orig = app._refresh

        def timed(dt):   # as a benchmark would wrap it: what was pending and on screen
            on_screen = [t for c, t in app.pending.items() if app.on_screen(c)]
            t = time.perf_counter()
            orig(dt)
            refresh.append(time.perf_counter() - t)
            waiting.extend(on_screen)
        app._refresh = timed    # the triggers call app._refresh as it is when they fire
        msgs0 = app.link.messages
        yield from d.sleep(2)
        idle = len(frames)
        frames.clear()
        refresh.clear()
        t_load = time.monotonic()
        yield from ask_test(d, "load", timeout=60)
        sent = int((d.outdir / "load.sent").read_text())
        yield from d.until(lambda: app.link.messages - msgs0 >= sent, timeout=20, what="every tile heard")
        Window.unbind(on_flip=flipped)
        load_s = time.monotonic() - t_load
        gaps = sorted(b - a for a, b in zip(frames, frames[1:]))
        latency.sort()
        refresh.sort()

        def q(xs, p):
            return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else None
        d.check("load", {"sent": sent, "heard": app.link.messages - msgs0, "seconds": load_s,
                         "frames": len(frames),
                         "idle_frames_2s": idle,
                         "gap_p50": q(gaps, 0.5), "gap_p95": q(gaps, 0.95), "gap_max": q(gaps, 1.0),
                         "refreshes": len(refresh), "refresh_p50": q(refresh, 0.5),
                         "refresh_p95": q(refresh, 0.95), "refresh_max": q(refresh, 1.0),
                         "tile_latency_n": len(latency), "tile_latency_p50": q(latency, 0.5),
                         "tile_latency_p99": q(latency, 0.99), "tile_latency_max": q(latency, 1.0)})
        yield from d.shot("live-after-load")
        # the board's own link: the provincial broker stops for a while, then comes back
        yield from ask_test(d, "stop-broker")
        yield from d.until(lambda: not app.link.connected and app.banner, timeout=10, what="the banner")
        app.clock.advance(300)       # silent for five minutes, as far as the board can tell
        yield from d.sleep(1.5)
        yield from d.shot("live-broker-down")
        d.check("broker_down", {"banner": app.banner, "online": app.summary["online"]})
        yield from ask_test(d, "start-broker")
        yield from d.until(lambda: app.link.connected and not app.banner, timeout=15, what="reconnected")
        d.check("broker_back", app.banner)
    finally:
        pub.stop()

"""Display scenarios run inside the real app by tests/support/kivy_driver.py (kind `display`).

The board comes from $MOTCUA_DISPLAY_BOARD (hall, tallies, counter:N), read by the driver. Scenarios act on the
queue themselves through MQTT, as the admin device (which may act at any counter),
or as the centre (crafted call events); they talk to the test process through files
in the output folder when the test must do something to the broker or the centre.
"""
from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from motcua import protocol
from motcua.mqtt import DeviceClient
from support.ui import ask_test, cut_labels


def _client(site, device_id: str) -> DeviceClient:
    c = DeviceClient(site, device_id).start()
    if not c.wait_connected(10):
        raise AssertionError(f"{device_id} could not connect to the broker")
    return c


def _raw_centre(site):
    """A bare paho client logged in as the centre (no Last Will: it must not say the
    real centre is gone), to publish crafted call events."""
    dev = site.device("centre")
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="crafted-centre", protocol=mqtt.MQTTv5)
    c.username_pw_set(dev.id, dev.password)
    c.connect(site.broker.host, site.broker.port)
    c.loop_start()
    return c


def _publish(c, topic, payload: dict, retain=False):
    c.publish(topic, protocol.encode(payload), qos=1, retain=retain).wait_for_publish(5)


def _sign_in(client, counter: int, officer: str, officer_name: str | None = None) -> dict:
    """An officer registered (once) with the test PIN, then signed in (issue 12)."""
    from support import officers
    officers.register(client, (officer, officer_name or officer))
    return officers.sign_in(client, counter, officer)


def _ready(d):
    app = d.app
    yield from d.until(lambda: app.link.broker_connected and app.link.hall and app.link.centre_online,
                       timeout=15, what="the retained hall summary and the centre online")
    yield from d.sleep(0.2)


def _tile(app, counter: int):
    return next((t for t in app.tiles if t["counter"] == counter), None)


def _history(app) -> list[dict]:
    if app.announcer is None:
        return []
    return [{"ticket": a.ticket, "counter": a.counter, "seq": a.seq, "recall": a.recall,
             "state": a.state, "wav": str(a.wav_path) if a.wav_path else None, "duration": a.duration,
             "text": a.text, "skipped": a.skipped_words}
            for a in app.announcer.history]


def _wait_idle(d, timeout=20):
    app = d.app
    if app.announcer is not None:
        yield from d.until(lambda: app.announcer.pending == 0, timeout=timeout, what="the voice to finish")


# -- hall board ---------------------------------------------------------------------------

def hall_call(d):
    """Two counters open and call; a third is paused with a public reason; a notice
    runs along the bottom. The numbers must be on the board and announced."""
    from kivy.core.window import Window
    app = d.app
    yield from _ready(d)
    yield from d.shot("hall-empty")
    admin = _client(app.site, "admin")
    try:
        for svc in ("HT", "HT", "CT", "DD", "KD"):
            admin.request("ticket.issue", service=svc)
        _sign_in(admin, counter=1, officer="nguyenvana", officer_name="Nguyễn Văn A")
        _sign_in(admin, counter=3, officer="tranthib")
        _sign_in(admin, counter=5, officer="lethic")
        _sign_in(admin, counter=8, officer="phamvand")
        admin.request("counter.pause", counter=8, reason="Họp giao ban", public=True)
        from motcua.display.link import notice_payload
        admin.client.publish(admin.topics.notice, notice_payload(
            "Trung tâm làm việc từ 7 giờ 30 đến 17 giờ, từ thứ Hai đến thứ Sáu. Công dân vui lòng "
            "chuẩn bị đầy đủ giấy tờ trước khi đến quầy."), qos=1, retain=True).wait_for_publish(5)
        admin.request("counter.next", counter=1)
        admin.request("counter.next", counter=3)
        admin.request("counter.next", counter=5)
    finally:
        admin.stop()
    yield from d.until(lambda: (_tile(app, 1) or {}).get("number") == "1001"
                       and (_tile(app, 3) or {}).get("number") == "2001"
                       and app.newest.get("ticket") == "3001", what="the calls on the board")
    yield from d.until(lambda: app.notice, what="the notice")
    yield from d.until(lambda: (_tile(app, 8) or {}).get("state") == "paused", what="the paused counter")
    yield from d.shot("hall-calls")
    d.check("tiles", list(app.tiles))
    d.check("newest", dict(app.newest))
    d.check("flash", app.flash_on)
    d.check("number_font_ratio", app.number_font / Window.height)
    d.check("newest_font_ratio", app.root.ids.newest_number.font_size / Window.height)
    d.check("previous", [w.number for w in reversed(app.root.ids.previous.children)])
    d.check("waiting", [dict(s) for s in app.services])
    d.check("notice", app.notice)
    d.check("overflow", cut_labels(app.root))
    # the citizen has not come: the officer calls the same number again
    admin = _client(app.site, "admin")
    try:
        admin.request("counter.recall", counter=1)
    finally:
        admin.stop()
    yield from d.until(lambda: app.newest.get("ticket") == "1001" and app.newest.get("recall"), what="the recall")
    yield from _wait_idle(d)
    d.check("history", _history(app))


def hall_burst(d):
    """20 calls within one second from 10 counters: each shown once, announced once, in order."""
    app = d.app
    yield from _ready(d)
    admin = _client(app.site, "admin")
    start_seq = app.link.tracker.last or 0
    drawn: list[int] = []
    orig = app._draw_hall

    def spy(snap, calls):  # every call the board drew, in the order it drew them
        drawn.extend(c["seq"] for c, _ in calls)
        return orig(snap, calls)
    app._draw_hall = spy
    counters = [1, 2, 3, 5, 7, 8, 9, 10, 11, 12]
    services = {1: "HT", 2: "HT", 3: "CT", 5: "DD", 7: "XD", 8: "KD", 9: "CU", 10: "LLTP", 11: "XH", 12: "TKQ"}
    try:
        for n in counters:
            _sign_in(admin, counter=n, officer=f"canbo{n}")
        for n in counters:
            for _ in range(2):
                admin.request("ticket.issue", service=services[n])
        times: list[float] = []

        def work(n):
            admin.request("counter.next", counter=n)
            admin.request("counter.start", counter=n)
            admin.request("counter.next", counter=n)

        t0 = time.monotonic()
        threads = [threading.Thread(target=work, args=(n,)) for n in counters]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        times.append(time.monotonic() - t0)
    finally:
        admin.stop()
    d.check("burst_seconds", times[0])
    yield from d.until(lambda: (app.link.tracker.last or 0) >= start_seq + 20, what="20 call events")
    yield from d.until(lambda: len(drawn) >= 20, what="20 calls drawn")
    yield from d.sleep(0.5)
    d.check("start_seq", start_seq)
    d.check("drawn", drawn)
    d.check("board_calls", [c["seq"] for c in app.calls])
    d.check("dropped_duplicates", app.link.dropped_duplicates)
    from kivy.core.window import Window
    d.check("open_tiles", len(app.tiles))
    d.check("number_font_ratio", app.number_font / Window.height)
    d.check("overflow", cut_labels(app.root))
    yield from d.shot("hall-burst")
    yield from _wait_idle(d, timeout=60)
    d.check("history", _history(app))


def hall_late_start(d):
    """Started after the calls were made: the right state at once, and nothing old spoken."""
    app = d.app
    t0 = time.monotonic()
    yield from d.until(lambda: (_tile(app, 1) or {}).get("number") == "1002", timeout=10,
                       what="counter 1's number from the retained state")
    d.check("seconds_to_state", time.monotonic() - t0)
    d.check("tiles", list(app.tiles))
    d.check("calls", [c["seq"] for c in app.calls])
    yield from d.sleep(1.0)
    yield from d.shot("hall-late")
    d.check("history", _history(app))


def hall_broker_restart(d):
    """The broker restarts: the board says it is reconnecting, then is right again,
    with a call made just after the restart, within 2 s."""
    app = d.app
    yield from _ready(d)
    # the test stops the broker; the board must notice and say so
    (d.outdir / "stop-broker").write_text("")
    yield from d.until(lambda: not app.link.broker_connected, timeout=10, what="the link to drop")
    # (the broker may first hand on the centre's Last Will: "centre away", then the link drops)
    yield from d.until(lambda: "kết nối" in app.banner, timeout=5, what="the reconnecting notice")
    d.check("status_while_down", app.banner)
    yield from d.shot("hall-broker-down")
    # the test starts it again and makes a call as soon as its counter client is back
    up_file = d.outdir / "broker-up"
    yield from d.until(up_file.exists, timeout=30, what="the broker to be back")
    up_at = float(up_file.read_text())
    yield from d.until(lambda: (_tile(app, 1) or {}).get("number") == "1001", timeout=10,
                       what="the call made after the restart")
    d.check("seconds_after_restart", time.time() - up_at)
    yield from d.until(lambda: not app.banner, timeout=5, what="the notice to go")
    d.check("status_after", app.banner)
    yield from _wait_idle(d)
    d.check("history", _history(app))


def hall_crafted_events(d):
    """Crafted call events as the centre: a duplicate, a gap, an out-of-order one; then a
    real call from the centre, whose sequence is behind the crafted ones (as after a
    centre reset)."""
    app = d.app
    yield from _ready(d)
    link = app.link
    base = link.tracker.last or 0
    hall = dict(link.hall)
    fake = _raw_centre(app.site)
    topics = protocol.Topics(app.site.id)
    now = "2026-11-23T10:00:00.000+00:00"

    def call(seq, ticket, counter):
        return {"seq": seq, "ticket": ticket, "service": "HT", "counter": counter, "recall": False,
                "at": now, "priority": None, "counter_name": f"Quầy {counter}"}
    c1, c2, c3 = call(base + 1, "1901", 2), call(base + 2, "1902", 4), call(base + 3, "1903", 2)
    try:
        _publish(fake, topics.call_event, c1)
        _publish(fake, topics.call_event, c1)                     # QoS 1 duplicate
        yield from d.until(lambda: link.dropped_duplicates >= 1, what="the duplicate dropped")
        resyncs = link.resyncs
        _publish(fake, topics.call_event, c3)                     # c2 missed: a gap
        yield from d.until(lambda: link.resyncs > resyncs, what="a re-read after the gap")
        # the centre's summary after the batch, with the missed call in it
        _publish(fake, topics.hall_state, {**{k: v for k, v in hall.items() if k != "v"},
                                            "call_seq": base + 3,
                                            "recent_calls": [c3, c2, c1] + hall.get("recent_calls", [])},
                 retain=True)
        yield from d.until(lambda: [c["seq"] for c in app.calls][:3] == [base + 3, base + 2, base + 1],
                           what="the missed call on the board")
        _publish(fake, topics.call_event, c2)                     # late, out of order: already known
        _publish(fake, topics.call_event, {**c2, "ticket": "1999"})  # an old seq for another ticket
        yield from d.until(lambda: link.resyncs > resyncs + 1, what="a re-read after a seq going back")
        yield from d.sleep(0.5)
        d.check("after_crafted", [c["seq"] for c in app.calls][:3])
        d.check("history_crafted", _history(app))
        # now the real centre calls: its seq (base + 1) is behind ours, for another ticket
        admin = _client(app.site, "admin")
        try:
            admin.request("ticket.issue", service="HT")
            _sign_in(admin, counter=1, officer="nguyenvana")
            admin.request("counter.next", counter=1)
        finally:
            admin.stop()
        yield from d.until(lambda: app.newest.get("ticket") == "1001", what="the real call after the reset")
        d.check("last_after_reset", link.tracker.last)
        d.check("calls_after_reset", [(c["seq"], c["ticket"]) for c in app.calls])
    finally:
        fake.loop_stop()
        fake.disconnect()
    yield from _wait_idle(d)
    d.check("history", _history(app))


def hall_centre_offline(d):
    """The centre goes away: the board keeps its state and says so, discreetly."""
    app = d.app
    yield from _ready(d)
    admin = _client(app.site, "admin")
    try:
        admin.request("ticket.issue", service="HT")
        _sign_in(admin, counter=1, officer="nguyenvana")
        admin.request("counter.next", counter=1)
    finally:
        admin.stop()
    yield from d.until(lambda: (_tile(app, 1) or {}).get("number") == "1001", what="the call")
    yield from ask_test(d, "stop-centre")
    yield from d.until(lambda: app.banner, timeout=10, what="the centre-away notice")
    d.check("status", app.banner)
    d.check("tiles", list(app.tiles))
    yield from d.shot("hall-centre-offline")


def hall_full(d):
    """Every counter of the site open with a number, and a notice along the bottom:
    the numbers must still be readable from 10 m (at least 12% of the height)."""
    from kivy.core.window import Window
    app = d.app
    yield from _ready(d)
    admin = _client(app.site, "admin")
    try:
        from motcua.display.link import notice_payload
        admin.client.publish(admin.topics.notice, notice_payload(
            "Từ ngày 01/12, Trung tâm nhận hồ sơ đất đai cả sáng thứ Bảy."), qos=1, retain=True).wait_for_publish(5)
        for c in app.site.counters:
            admin.request("ticket.issue", service=c.services[0])
            _sign_in(admin, counter=c.number, officer=f"canbo{c.number}")
            admin.request("counter.next", counter=c.number)
    finally:
        admin.stop()
    n = len(app.site.counters)
    yield from d.until(lambda: len([t for t in app.tiles if t["number"]]) == n and app.notice,
                       what="every counter with its number, and the notice")
    yield from d.sleep(0.5)
    d.check("counters", n)
    d.check("number_font_ratio", app.number_font / Window.height)
    d.check("overflow", cut_labels(app.root))
    yield from d.shot("hall-full")


def hall_waiting(d):
    """Every counter open with a number, a notice, and long lines for several services
    (40 for Hộ tịch: over an hour by the site's default service time), the longest
    service names among them: no label may be cut or end in an ellipsis."""
    app = d.app
    yield from _ready(d)
    admin = _client(app.site, "admin")
    lines = {"HT": 43, "XH": 13, "KD": 12, "CT": 8, "LLTP": 3, "DD": 4, "TKQ": 2, "CU": 2, "XD": 3}
    try:
        from motcua.display.link import notice_payload
        admin.client.publish(admin.topics.notice, notice_payload(
            "Từ ngày 01/12, Trung tâm nhận hồ sơ đất đai cả sáng thứ Bảy."), qos=1, retain=True).wait_for_publish(5)
        for svc, n in lines.items():
            for _ in range(n):
                admin.request("ticket.issue", service=svc)
        for c in app.site.counters:
            _sign_in(admin, c.number, f"canbo{c.number}")
            admin.request("counter.next", counter=c.number)
    finally:
        admin.stop()
    n = len(app.site.counters)
    yield from d.until(lambda: len([t for t in app.tiles if t["number"]]) == n and app.notice
                       and len(app.services) >= 3 and all(s["wait_s"] for s in app.services),
                       what="every counter with its number, the waiting lines and the notice")
    yield from d.sleep(0.5)
    d.check("waiting", [dict(s) for s in app.services])
    d.check("estimates", [app.minutes(s["wait_s"]) for s in app.services])
    d.check("cut", cut_labels(app.root))
    from motcua.display.app import FitLabel
    d.check("shrunk", [(w.text, round(w.font_size / w.max_font, 2)) for w in app.root.walk()
                       if isinstance(w, FitLabel) and w.font_size < w.max_font])
    yield from d.shot("hall-waiting")


# -- counter display ------------------------------------------------------------------------

def counter_states(d):
    """Closed, then a number called, then paused with a public reason."""
    app = d.app
    n = app.counter_number
    yield from _ready(d)
    yield from d.until(lambda: app.counter_view.get("state") == "closed", what="the closed counter")
    d.check("closed_caption", app.root.ids.caption.text)
    yield from d.shot("counter-closed")
    admin = _client(app.site, "admin")
    try:
        admin.request("ticket.issue", service="HT")
        _sign_in(admin, counter=n, officer="nguyenvana", officer_name="Nguyễn Văn A")
        admin.request("counter.next", counter=n)
        yield from d.until(lambda: app.counter_view.get("number") == "1001", what="the number on the counter display")
        d.check("number", app.root.ids.number.text)
        d.check("number_font_ratio", app.root.ids.number.font_size / min(app.root.width, app.root.height))
        d.check("service", app.root.ids.service.text)
        d.check("caption", app.root.ids.caption.text)
        d.check("overflow_called", cut_labels(app.root))
        yield from d.shot("counter-called")
        admin.request("counter.done", counter=n)
        admin.request("counter.pause", counter=n, reason="Nghỉ giữa giờ, quay lại lúc 10 giờ", public=True)
        yield from d.until(lambda: app.counter_view.get("state") == "paused", what="the pause")
        d.check("paused_caption", app.root.ids.caption.text)
        d.check("paused_reason", app.root.ids.service.text)
        d.check("overflow_paused", cut_labels(app.root))
        yield from d.shot("counter-paused")
    finally:
        admin.stop()
    d.check("history", _history(app))


# -- managers' board --------------------------------------------------------------------------

def _full_day_of_ratings(site, day: str) -> dict:
    """A busy day's tallies as the centre publishes them (motcua.ratings.tally's shape):
    every counter rated, uneven numbers per level, for the screenshot and the layout."""
    from motcua import ratings as rt
    rows = []
    services = [s.code for s in site.services]
    for c in site.counters:
        for i in range(10 + 7 * c.number):
            level = 1 + (i * (c.number + 3)) % (len(site.rating_levels) if c.number % 3 else 2)
            rows.append({"status": "counted", "counter": c.number, "officer": f"cb{c.number}",
                         "service": c.services[0] if c.services else services[0], "hour": 8 + i % 9,
                         "level": level, "weight": site.rating_levels[level - 1].weight})
    rows += [{"status": "duplicate"}] * 3 + [{"status": "unprompted"}] * 5
    return rt.tally(rows, site.rating_levels, day)


def tallies_board(d):
    """Empty at first; a crafted busy day (layout, colours, counts); then two real
    ratings through the centre replace it with the centre's own figures."""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    app = d.app
    site = app.site
    topics = protocol.Topics(site.id)
    today = datetime.now(ZoneInfo(site.timezone)).date().isoformat()
    yield from _ready(d)
    # the centre's own (empty) tallies first: published after its availability and its
    # catalogue check, they would otherwise land after the crafted day below and replace it
    yield from d.until(lambda: app.link.ratings.get("day") == today, timeout=15, what="the centre's own tallies")
    d.check("empty_summary", app.root.ids.summary.text)
    d.check("rows_empty", [(r["label"], r["count"]) for r in app.tally_board["counters"]])
    yield from d.shot("tallies-empty")
    busy = _full_day_of_ratings(site, today)
    raw = _raw_centre(site)
    try:
        _publish(raw, topics.ratings_state, busy, retain=True)
    finally:
        raw.loop_stop()
        raw.disconnect()
    yield from d.until(lambda: app.tally_overall.get("count") == busy["counted"], what="the busy day")
    yield from d.sleep(0.3)
    d.check("busy", busy)
    d.check("busy_board", app.tally_board)
    d.check("busy_summary", app.root.ids.summary.text)
    d.check("overflow_busy", cut_labels(app.root))
    d.check("rows_on_screen", [w.y >= 0 and w.top <= app.root.height
                               for w in app.root.ids.by_counter.children])
    yield from d.shot("tallies-busy")
    # the real path: a ticket done at counter 1 opens a prompt on its pad; the pad answers
    admin = _client(site, "admin")
    pad = _client(site, "pad-1")
    prompts: list[dict] = []
    admin.subscribe(topics.pad(1), lambda t, p: prompts.append(p))
    try:
        _sign_in(admin, counter=1, officer="nguyenvana", officer_name="Nguyễn Văn A")
        for seq, level in ((1, 1), (2, 3)):
            ticket = admin.request("ticket.issue", service="HT")["ticket"]
            admin.request("counter.next", counter=1)
            admin.request("counter.done", counter=1)
            yield from d.until(lambda: prompts and prompts[-1].get("ticket") == ticket,
                               what=f"the pad's prompt for {ticket}")
            body = {"rating": f"PADTEST:1:{seq}", "pad": "PADTEST", "boot": 1, "seq": seq, "counter": 1,
                    "level": level, "prompt": prompts[-1]["prompt"],
                    "pressed_at": datetime.now(ZoneInfo(site.timezone)).isoformat()}
            pad.client.publish(topics.rating(1), protocol.encode(body), qos=1).wait_for_publish(5)
        yield from d.until(lambda: app.tally_overall.get("count") == 2, timeout=15,
                           what="the centre's tallies of the two real ratings")
    finally:
        admin.stop()
        pad.stop()
    yield from d.sleep(0.3)
    d.check("real_board", app.tally_board)
    yield from d.shot("tallies-real")

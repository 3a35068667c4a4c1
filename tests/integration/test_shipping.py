"""`motcua ship` against a real centre: a real Mosquitto from our configuration,
the centre service, the shipper as its own process, and a fake hub in this
process (a paho client on the same broker that stores each record once,
publishes the retained acknowledgement of the highest contiguous seq, and can
go away). The real hub (PostgreSQL) and the bridge are tested on their own;
they follow the same contract (docs/province.md)."""
from __future__ import annotations

import json
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from motcua import protocol
from motcua.cli import main
from motcua.mqtt import RequestRefused
from support.broker import ROOT
from support.officers import register_on, sign_in

BATCH, WINDOW = 20, 3


def ship_process(site, log, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "motcua", "--site", str(site.path), "ship", *args],
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, cwd=ROOT)


def wait_until(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def outbox(site) -> list[tuple[int, str, dict]]:
    db = sqlite3.connect(f"file:{site.database}?mode=ro", uri=True)
    try:
        return [(s, k, json.loads(b)) for s, k, b in db.execute("SELECT seq, kind, body FROM outbox ORDER BY seq")]
    finally:
        db.close()


def head(site) -> int:
    db = sqlite3.connect(f"file:{site.database}?mode=ro", uri=True)
    try:
        return db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
    finally:
        db.close()


class FakeHub:
    """The hub's side of the contract on the centre's broker: each record stored once,
    the highest contiguous seq acknowledged (retained, QoS 1) after storing. Away, it
    neither stores nor acknowledges (the province unreachable, or the hub stopped)."""

    def __init__(self, site):
        self.site = site
        centre = site.devices_of("centre")[0]
        self.topic = f"motcua/{site.id}/ship/batch"
        self.ack_topic = f"motcua/{site.id}/ship/ack"
        self.link_topic = f"motcua/{site.id}/ship/link"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fake-hub", protocol=mqtt.MQTTv5)
        self.client.username_pw_set(centre.id, centre.password)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(self.topic, qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1.0)
        self.lock = threading.Lock()
        self.stored: dict[int, tuple[str, dict]] = {}
        self.acked = 0
        self.copies = 0
        self.away = False
        # every batch received: (time, first, last, hub's acked then, away then)
        self.batches: list[tuple[float, int, int, int, bool]] = []

    def start(self) -> "FakeHub":
        self.client.connect(self.site.broker.host, self.site.broker.port)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, client, userdata, message):
        batch = json.loads(message.payload)
        assert batch["v"] == 1 and batch["centre"] == self.site.id
        records = batch["records"]
        assert [r["seq"] for r in records] == list(range(batch["first"], batch["last"] + 1))
        assert len(records) <= 500
        with self.lock:
            self.batches.append((time.monotonic(), batch["first"], batch["last"], self.acked, self.away))
            if self.away:
                return
            for r in records:
                if r["seq"] in self.stored:
                    self.copies += 1
                else:
                    self.stored[r["seq"]] = (r["kind"], r["body"])
            while self.acked + 1 in self.stored:
                self.acked += 1
            acked = self.acked
        body = {"v": 1, "centre": self.site.id, "acked": acked,
                "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
        client.publish(self.ack_topic, json.dumps(body), qos=1, retain=True)

    def link(self, up: bool) -> None:
        """What the bridge's notification would say."""
        self.client.publish(self.link_topic, b"1" if up else b"0", qos=1, retain=True).wait_for_publish(5)

    def received_since(self, t: float) -> list[tuple[float, int, int, int, bool]]:
        with self.lock:
            return [b for b in self.batches if b[0] >= t]


@pytest.fixture
def hub(site, broker):
    h = FakeHub(site).start()
    yield h
    h.stop()


@pytest.fixture
def shipper(site, centre, workdir):
    """start(*args) -> the shipper process (stopped after the test)."""
    procs = []

    def start(*args):
        p = ship_process(site, workdir / "ship.log", "--batch", str(BATCH), "--window", str(WINDOW), *args)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.terminate()
            p.wait(10)


class Burst:
    """Tickets, calls and ratings through the broker, as the devices make them."""

    def __init__(self, site, connect):
        self.site = site
        self.kiosk = connect("kiosk-1")
        self.counter = connect("counter-1")
        self.pad = connect("pad-1")
        register_on(site, "nguyenvana")
        sign_in(self.counter, 1, "nguyenvana")
        self.n = 0

    def run(self, tickets: int, stop: threading.Event | None = None) -> None:
        topics = protocol.Topics(self.site.id)
        for i in range(tickets):
            if stop is not None and stop.is_set():
                return
            self.kiosk.request("ticket.issue", service="HT")
            if i % 2 == 0:
                try:
                    self.counter.request("counter.next", counter=1)
                    self.counter.request("counter.done", counter=1)
                except RequestRefused:
                    pass
            if i % 3 == 0:  # a press on the pad (unprompted or counted: a rating row either way)
                self.n += 1
                body = {"rating": f"P:1:{self.n}", "pad": "P", "boot": 1, "seq": self.n, "counter": 1,
                        "level": 1 + self.n % 4, "prompt": None,
                        "pressed_at": datetime.now(timezone.utc).isoformat()}
                self.pad.client.publish(topics.rating(1), protocol.encode(body), qos=1).wait_for_publish(5)


def assert_hub_has_the_outbox(site, hub):
    rows = outbox(site)
    with hub.lock:
        assert sorted(hub.stored) == [s for s, _, _ in rows]
        assert [(s, *hub.stored[s]) for s, _, _ in rows] == rows
    kinds = {k for _, k, _ in rows}
    assert {"site", "event", "ticket", "counter", "rating"} <= kinds, kinds


def test_every_record_of_a_burst_reaches_the_hub_once_in_order(site, centre, connect, hub, shipper):
    ship = shipper("--resend-after", "10")
    Burst(site, connect).run(150)
    wait_until(lambda: hub.acked == head(site) > 300, what="the hub to hold every record")
    assert_hub_has_the_outbox(site, hub)
    batches = hub.received_since(0)
    # in order: each batch starts where the one before ended; no record sent twice
    assert [b[1] for b in batches] == [1] + [b[2] + 1 for b in batches[:-1]]
    assert hub.copies == 0
    assert all(b[2] - b[1] + 1 <= BATCH for b in batches)
    assert all(b[2] <= b[3] + WINDOW * BATCH for b in batches)   # never beyond a window
    assert ship.poll() is None
    # SIGTERM: a clean stop
    ship.send_signal(signal.SIGTERM)
    assert ship.wait(10) == 0


def test_the_hub_away_during_a_burst_gets_everything_and_never_more_than_a_window(
        site, centre, connect, hub, shipper):
    shipper("--resend-after", "0.5")
    burst = Burst(site, connect)
    burst.run(20)
    wait_until(lambda: hub.acked == head(site), what="the first records")
    with hub.lock:
        hub.away = True
        acked_at_cut = hub.acked
    cut = time.monotonic()
    burst.run(120)                 # the centre works on; the province hears nothing
    time.sleep(2.0)
    away_s = time.monotonic() - cut
    during = hub.received_since(cut)
    # at most one window beyond the acknowledgement, ever
    assert during and all(last <= acked_at_cut + WINDOW * BATCH for _, _, last, _, _ in during), during
    # the first window, then one batch per resend (0.5 s, doubling): far fewer than a
    # window every half second
    resends_possible = 1 + sum(1 for k in range(10) if 0.5 * (2 ** (k + 1) - 1) <= away_s)
    assert len(during) <= WINDOW + resends_possible, (len(during), away_s)
    with hub.lock:
        hub.away = False
    wait_until(lambda: hub.acked == head(site), timeout=30, what="everything after the hub came back")
    assert_hub_has_the_outbox(site, hub)


def test_the_link_down_sends_nothing_more_and_its_return_sends_again_at_once(
        site, centre, connect, hub, shipper):
    shipper("--resend-after", "0.5")
    burst = Burst(site, connect)
    burst.run(10)
    wait_until(lambda: hub.acked == head(site), what="the first records")
    hub.link(True)
    with hub.lock:
        hub.away = True
    hub.link(False)                      # the bridge is down: nothing reaches the province
    time.sleep(0.5)
    cut = time.monotonic()
    burst.run(80)
    time.sleep(3.0)                      # six resend periods: none may happen with the link down
    during = hub.received_since(cut)
    assert len(during) <= WINDOW, during   # what was sent before it knew, at most one window
    with hub.lock:
        hub.away = False
    back = time.monotonic()
    hub.link(True)
    wait_until(lambda: hub.received_since(back), timeout=5, what="a batch after the link came back")
    assert hub.received_since(back)[0][0] - back < 0.5   # at once, not after a resend period
    wait_until(lambda: hub.acked == head(site), timeout=30, what="everything after the link came back")
    assert_hub_has_the_outbox(site, hub)


def test_a_shipper_killed_mid_burst_resumes_from_the_retained_acknowledgement(
        site, centre, connect, hub, shipper):
    ship = shipper("--resend-after", "10")
    burst = Burst(site, connect)
    stop = threading.Event()
    worker = threading.Thread(target=burst.run, args=(400, stop))
    worker.start()
    try:
        wait_until(lambda: hub.acked >= 100, what="shipping under way")
        ship.send_signal(signal.SIGKILL)
        ship.wait(10)
        time.sleep(0.3)
        with hub.lock:
            acked_at_kill = hub.acked
        time.sleep(1.0)                 # the burst goes on without the shipper
        assert head(site) > acked_at_kill
        restart = time.monotonic()
        shipper("--resend-after", "10")
        wait_until(lambda: hub.received_since(restart), what="a batch from the new shipper")
        first = hub.received_since(restart)[0]
        assert first[1] == acked_at_kill + 1, (first, acked_at_kill)   # from the acknowledgement, not from 1
    finally:
        stop.set()
        worker.join(60)
    wait_until(lambda: hub.acked == head(site), timeout=30, what="everything")
    assert_hub_has_the_outbox(site, hub)
    assert hub.copies <= WINDOW * BATCH   # at most what was in flight at the kill


def test_the_broker_restarted_mid_burst_loses_nothing(site, centre, connect, hub, shipper, broker):
    shipper("--resend-after", "1")
    burst = Burst(site, connect)
    burst.run(30)
    wait_until(lambda: hub.acked == head(site), what="the first records")
    broker.restart(down_for=1.0)
    wait_until(lambda: centre.connected.is_set(), what="the centre back")
    burst.run(60)
    wait_until(lambda: hub.acked == head(site), timeout=40, what="everything after the restart")
    assert_hub_has_the_outbox(site, hub)


def test_the_live_tile_changes_within_a_second_of_a_call(site, centre, connect, shipper, hub):
    shipper()
    live = f"motcua/{site.id}/ship/live"
    tiles: queue.Queue = queue.Queue()
    watcher = connect("admin")
    watcher.subscribe(live, lambda t, d: tiles.put((time.monotonic(), d)))
    kiosk, counter = connect("kiosk-1"), connect("counter-1")
    register_on(site, "nguyenvana")
    sign_in(counter, 1, "nguyenvana")
    kiosk.request("ticket.issue", service="HT")
    kiosk.request("ticket.issue", service="HT")

    def latest(pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                at, d = tiles.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if pred(d):
                return at, d
        raise AssertionError("no such tile")

    _, before = latest(lambda d: d["waiting"] == 2)
    assert before["centre"] == site.id and before["name"] == site.name
    assert [c["state"] for c in before["counters"]][:1] == ["open"]
    asked = time.monotonic()
    counter.request("counter.next", counter=1)
    at, after = latest(lambda d: d["waiting"] == 1 and d["counters"][0]["state"] == "called")
    assert at - asked < 1.0, at - asked
    assert after["longest_wait_s"] >= 0 and after["unshipped"] >= 0
    # retained: a board that connects later gets it at once
    later: queue.Queue = queue.Queue()
    connect("admin").subscribe(live, lambda t, d: later.put(d))
    assert later.get(timeout=5)["centre"] == site.id


def test_clear_errors_without_a_database_and_the_status(site, workdir, capsys):
    assert main(["--site", str(site.path), "ship"]) == 2
    err = capsys.readouterr().err
    assert "no centre database" in err and "motcua centre" in err
    assert main(["--site", str(site.path), "ship", "--batch", "501"]) == 2
    assert "at most 500" in capsys.readouterr().err
    assert main(["--site", str(site.path), "ship", "--status"]) == 2
    assert "no centre database" in capsys.readouterr().err


def test_the_status_says_how_far_shipping_is(site, centre, connect, hub, shipper, capsys):
    ship = shipper()
    Burst(site, connect).run(10)
    wait_until(lambda: hub.acked == head(site), what="the records")
    time.sleep(2.5)   # the note is written at most every 2 s
    assert main(["--site", str(site.path), "ship", "--status"]) == 0
    out = capsys.readouterr().out
    assert f"acknowledged by the province: up to {hub.acked}; waiting: 0 records" in out
    assert f"runs (pid {ship.pid})" in out
    ship.terminate()
    ship.wait(10)
    assert main(["--site", str(site.path), "ship", "--status"]) == 1
    assert "is not running" in capsys.readouterr().out


PHONES = ("0912345678", "0355000111", "0987654321")


def test_numbers_from_afar_and_bookings_reach_the_hub_never_a_phone(site, centre, connect, hub, shipper):
    """Issue 14 through the real path: a number taken from afar and bookings made and
    cancelled through the web device's operations on the real broker and centre reach
    the hub as `ticket` records with their origin and `booking` records (migration
    10), and nothing the hub receives holds a phone, however it was typed."""
    web = connect("web")
    reserved = web.request("ticket.reserve", service="HT", phone="0912 345 678")
    made = []
    for ahead in range(1, site.web.booking_days_ahead + 1):    # the first day ahead with HT slots
        day = (datetime.now(site.tz).date() + timedelta(days=ahead)).isoformat()
        try:
            made = [web.request("booking.create", service="HT", day=day, time=t, phone=p)
                    for t, p in (("08:00", "+84 355 000 111"), ("09:00", PHONES[2]))]
            break
        except RequestRefused:
            continue
    assert made, "no day ahead with HT slots"
    web.request("booking.cancel", booking=made[1]["booking"], phone=PHONES[2])
    shipper("--resend-after", "1")
    wait_until(lambda: hub.acked == head(site), what="the hub to hold every record")
    rows = outbox(site)
    with hub.lock:
        assert [(s, *hub.stored[s]) for s, _, _ in rows] == rows
        records = [(k, b) for k, b in hub.stored.values()]
    bookings = {b["id"]: b for k, b in records if k == "booking"}
    assert {i: b["state"] for i, b in bookings.items()} == {made[0]["booking"]: "booked",
                                                             made[1]["booking"]: "cancelled"}
    tickets = [b for k, b in records if k == "ticket" and b["origin"] == "remote"]
    assert tickets and tickets[-1]["label"] == reserved["ticket"] and tickets[-1]["state"] == "reserved"
    text = json.dumps(records, ensure_ascii=False)
    for phone in PHONES:
        assert phone not in text and phone[1:] not in text, phone
    assert "phone" not in text

"""The rating pad end to end: a simulated pad on a real pty, the bridge, a real
Mosquitto and the real centre (in-process, or a subprocess to SIGKILL)."""
from __future__ import annotations

import os
import queue
import random
import signal
import sqlite3
import time

import pytest

from motcua.hardware import padproto as pp
from motcua.hardware.pad_bridge import PadBridge
from motcua.hardware.pad_sim import PadSimulator
from motcua import protocol
from motcua.config import load_site

from support.broker import Broker, free_port, run_centre_process, write_site
from support.officers import register_on, sign_in

LOCKOUT_MS = 300


def wait_until(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def ratings(site) -> list[dict]:
    db = sqlite3.connect(site.database)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM ratings ORDER BY pressed_at")]
    except sqlite3.OperationalError:  # the centre has not created its tables yet
        return []
    finally:
        db.close()


@pytest.fixture
def pad(workdir):
    sim = PadSimulator("PAD-0001", link=workdir / "pad-1.tty", lockout_ms=LOCKOUT_MS,
                       state_file=workdir / "pad-1.eeprom").start()
    yield sim
    sim.stop()


@pytest.fixture
def bridge(site, broker, pad, workdir):
    b = PadBridge(site, 1, pad.path, journal=workdir / "journal.sqlite").start()
    wait_until(lambda: b.mqtt_connected.is_set() and b.hello is not None, what="the bridge to see the pad")
    yield b
    b.stop()


def serve(counter, kiosk, officer: str = "nguyenvana", first: bool = True) -> str:
    """Issue a ticket, call it at counter 1 and finish it; the ticket's label."""
    t = kiosk.request("ticket.issue", service="HT")
    if first:
        register_on(counter.site, officer)
        sign_in(counter, 1, officer)
    counter.request("counter.next", counter=1)
    r = counter.request("counter.done", counter=1)
    assert r["finished"] == [{"ticket": t["ticket"], "state": "done"}]
    return t["ticket"]


def collect(client, topic: str) -> queue.Queue:
    q: queue.Queue = queue.Queue()
    client.subscribe(topic, lambda t, d: q.put(d))
    return q


def latest(q: queue.Queue, predicate, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            d = q.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if predicate(d):
            return d
    raise AssertionError("no matching message")


def test_finished_ticket_prompts_the_pad_and_the_press_is_stored_against_it(site, centre, bridge, pad,
                                                                             connect):
    admin = connect("admin")
    prompts = collect(admin, protocol.Topics(site.id).pad(1))
    tallies = collect(admin, protocol.Topics(site.id).ratings_state)
    label = serve(connect("counter-1"), connect("kiosk-1"))
    prompt = latest(prompts, lambda d: d["prompt"] is not None)
    assert prompt["ticket"] == label and prompt["officer"] == "nguyenvana" and prompt["counter"] == 1
    assert prompt["levels"] == [lv.code for lv in site.rating_levels]
    wait_until(lambda: pad.prompt == prompt["prompt"], what="the PROMPT on the pad")
    assert pad.leds() == 0b1111  # four buttons lit
    pad.press(2)
    rows = wait_until(lambda: ratings(site), what="the rating at the centre")
    assert len(rows) == 1
    r = rows[0]
    assert (r["status"], r["ticket"], r["officer"], r["service"], r["counter"], r["level"]) == \
        ("counted", label, "nguyenvana", "HT", 1, 2)
    assert r["level_code"] == "hai_long" and r["weight"] == 66.7
    assert r["rating_id"] == f"PAD-0001:{pad.pad.boot_id}:{r['seq']}"
    # the centre ended the prompt, acknowledged the rating; the bridge forgot it
    assert latest(prompts, lambda d: d["prompt"] is None)["counter"] == 1
    wait_until(lambda: len(bridge.journal) == 0 and bridge.stats["acknowledged"] == 1, what="the ack")
    assert pad.pad.unacked == []
    t = latest(tallies, lambda d: d["counted"] == 1)
    assert t["by_officer"]["nguyenvana"]["levels"] == [0, 1, 0, 0]
    assert t["by_counter"]["1"]["index"] == 66.7 and t["by_service"]["HT"]["count"] == 1


def test_presses_during_the_lock_out_count_once(site, centre, bridge, pad, connect):
    serve(connect("counter-1"), connect("kiosk-1"))
    wait_until(lambda: pad.prompt is not None, what="the prompt")
    pad.press(1)
    for level in (1, 3, 4, 1):
        pad.press(level)           # within the 300 ms lock-out: ignored by the pad
    time.sleep(LOCKOUT_MS / 1000 + 0.3)
    wait_until(lambda: ratings(site), what="the rating")
    time.sleep(0.3)
    rows = ratings(site)
    assert [(r["status"], r["level"]) for r in rows] == [("counted", 1)]
    assert len({f.seq for f in pad.ratings_sent()}) == 1
    assert pad.pad.ignored == 4


def test_a_press_without_a_prompt_is_kept_apart_not_counted(site, centre, bridge, pad, connect):
    tallies = collect(connect("admin"), protocol.Topics(site.id).ratings_state)
    pad.press(4)
    rows = wait_until(lambda: ratings(site), what="the rating")
    assert [(r["status"], r["ticket"], r["officer"], r["prompt"]) for r in rows] == \
        [("unprompted", None, None, None)]
    t = latest(tallies, lambda d: d["unprompted"] == 1)
    assert t["counted"] == 0 and t["index"] is None and t["by_counter"] == {}


def test_the_centre_stores_a_rating_id_once_and_a_ticket_counts_once(site, centre, connect):
    """What the centre does with what a bridge sends, including the cases a
    well-behaved pad rarely produces: the same id again, a second rating of a
    ticket (pad reset), an unknown prompt, a press after the prompt's expiry."""
    from datetime import datetime, timedelta, timezone
    topics = protocol.Topics(site.id)
    admin = connect("admin")
    prompts = collect(admin, topics.pad(1))
    acks = collect(admin, topics.pad_ack(1))
    serve(connect("counter-1"), connect("kiosk-1"))
    p = latest(prompts, lambda d: d["prompt"] is not None)
    padc = connect("pad-1")
    now = datetime.now(timezone.utc)

    def send(seq, prompt, pressed_at=now, level=1):
        body = {"rating": f"X:1:{seq}", "pad": "X", "boot": 1, "seq": seq, "counter": 1, "level": level,
                "prompt": prompt, "pressed_at": pressed_at.isoformat()}
        padc.client.publish(topics.rating(1), protocol.encode(body), qos=1).wait_for_publish(5)

    send(1, p["prompt"])
    send(1, p["prompt"], level=4)          # the same id again (a retry): stored once, as first sent
    send(2, p["prompt"])                   # a second rating for the same ticket
    send(3, "T999.1")                      # a prompt the centre never opened
    send(4, p["prompt"], pressed_at=datetime.fromisoformat(p["expires_at"]) + timedelta(seconds=10))
    padc.client.publish(topics.rating(1), b'{"v":1,"rating":"bad"}', qos=1).wait_for_publish(5)
    got = {}
    while len(got) < 4:
        a = acks.get(timeout=5)
        got[a["rating"]] = a["status"]
    assert got == {"X:1:1": "counted", "X:1:2": "duplicate", "X:1:3": "unprompted", "X:1:4": "unprompted"}
    rows = {r["rating_id"]: r for r in ratings(site)}
    assert len(rows) == 4 and rows["X:1:1"]["level"] == 1
    assert rows["X:1:2"]["ticket"] == rows["X:1:1"]["ticket"]  # bound, kept, not counted


def test_an_unanswered_prompt_expires_and_a_later_press_is_unprompted(workdir):
    from motcua.mqtt import DeviceClient
    from motcua.service import CentreService
    site = load_site(write_site(workdir, free_port(), replace={"prompt_timeout_s = 60": "prompt_timeout_s = 5"}))
    assert site.rating_prompt_timeout_s == 5
    b = Broker(site, workdir / "broker").start()
    centre = CentreService(site).start()
    sim = PadSimulator("PAD-0002", lockout_ms=LOCKOUT_MS).start()
    bridge = PadBridge(site, 1, sim.path, journal=workdir / "j.sqlite").start()
    clients = [DeviceClient(site, d).start() for d in ("admin", "counter-1", "kiosk-1")]
    try:
        assert all(c.wait_connected(10) for c in clients)
        admin, counter, kiosk = clients
        prompts = collect(admin, protocol.Topics(site.id).pad(1))
        serve(counter, kiosk)
        p = latest(prompts, lambda d: d["prompt"] is not None)
        assert p["timeout_s"] == 5
        wait_until(lambda: sim.prompt == p["prompt"], what="the prompt on the pad")
        assert latest(prompts, lambda d: d["prompt"] is None, timeout=8)["counter"] == 1
        wait_until(lambda: sim.prompt is None, 3, "the pad to end the prompt")
        sim.press(1)
        rows = wait_until(lambda: ratings(site), what="the rating")
        assert [r["status"] for r in rows] == ["unprompted"]
        ended = sqlite3.connect(site.database).execute("SELECT ended FROM pad_prompts").fetchall()
        assert ended == [("expired",)]
    finally:
        for c in clients:
            c.stop()
        bridge.stop()
        sim.stop()
        centre.stop()
        b.stop()


def test_broker_down_while_pressing_everything_arrives_once(site, centre, bridge, pad, broker, connect):
    serve(connect("counter-1"), connect("kiosk-1"))
    wait_until(lambda: pad.prompt is not None, what="the prompt")
    broker.stop()
    wait_until(lambda: not bridge.mqtt_connected.is_set(), what="the bridge to notice")
    presses = 5
    for i in range(presses):
        pad.press(1 + i % 4)
        time.sleep(LOCKOUT_MS / 1000 + 0.05)
    # the pad has them acknowledged: they are in the bridge's journal, nowhere else
    wait_until(lambda: pad.pad.unacked == [] and len(bridge.journal) == presses, what="the journal")
    assert ratings(site) == []
    broker.start()
    wait_until(lambda: len(ratings(site)) == presses and len(bridge.journal) == 0, 15,
               "every rating at the centre and the journal empty")
    time.sleep(1.0)  # any late duplicate would show now
    rows = ratings(site)
    assert len({r["rating_id"] for r in rows}) == presses == len(rows)
    assert [r["status"] for r in rows] == ["counted"] + ["unprompted"] * (presses - 1)
    assert [r["level"] for r in rows] == [1 + i % 4 for i in range(presses)]


def test_centre_killed_between_the_send_and_the_ack_loses_and_doubles_nothing(site, broker, pad,
                                                                             workdir, connect):
    log = workdir / "centre.log"
    proc = run_centre_process(site.path, log)
    bridge = PadBridge(site, 1, pad.path, journal=workdir / "journal.sqlite", resend_s=0.5).start()
    try:
        alive = collect(connect("admin"), protocol.Topics(site.id).centre_availability)
        latest(alive, lambda d: d["state"] == "online", timeout=15)
        serve(connect("counter-1"), connect("kiosk-1"))
        wait_until(lambda: pad.prompt is not None, what="the prompt")
        pad.press(1)
        os.kill(proc.pid, signal.SIGKILL)  # the rating is on its way: stored or not, never acked
        proc.wait()
        time.sleep(LOCKOUT_MS / 1000 + 0.05)
        pad.press(2)                       # pressed while the centre is dead
        wait_until(lambda: len(bridge.journal) >= 1 and pad.pad.unacked == [], what="the journal")
        time.sleep(1.2)                    # the bridge retries into the void (broker queues them)
        assert len(bridge.journal) >= 1
        proc = run_centre_process(site.path, log)
        wait_until(lambda: len(bridge.journal) == 0, 20, "the restarted centre to acknowledge everything")
        time.sleep(0.5)
        rows = ratings(site)
        assert sorted(r["level"] for r in rows) == [1, 2]
        assert len({r["rating_id"] for r in rows}) == 2
        assert [r["status"] for r in rows] == ["counted", "unprompted"]
        assert bridge.stats["republished"] >= 1
    finally:
        bridge.stop()
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


def test_the_port_closed_and_reopened_the_bridge_recovers_by_itself(site, centre, bridge, pad, connect):
    seen = collect(connect("admin"), protocol.Topics(site.id).device_availability("pad-1"))
    assert latest(seen, lambda d: d.get("pad") == "connected")["state"] == "online"
    pad.disconnect()
    assert latest(seen, lambda d: d.get("pad") == "disconnected")["state"] == "online"
    assert not bridge.pad_connected.is_set()
    pad.press(3)                   # the pad keeps it and repeats it until someone ACKs
    time.sleep(0.8)
    assert ratings(site) == []
    pad.reconnect()                # a new pty: another /dev/pts path behind the same link
    assert latest(seen, lambda d: d.get("pad") == "connected")["state"] == "online"
    rows = wait_until(lambda: ratings(site), what="the rating pressed while unplugged")
    assert [(r["level"], r["status"]) for r in rows] == [(3, "unprompted")]
    wait_until(lambda: pad.pad.unacked == [], what="the ACK over the new port")
    assert bridge.stats["lost"] == 1 and bridge.stats["opened"] == 2


def test_garbage_and_corrupted_frames_count_nothing_and_crash_nothing(site, centre, bridge, pad):
    rng = random.Random(5)
    good = pp.Rating(900, pad.pad.boot_id, "-", 1, 0).encode()
    bad_checksum = good[:-4] + (b"00" if good[-4:-2] != b"00" else b"11") + b"\r\n"
    bad_field = b"$RATING,901,%d,-,9,0*" % pad.pad.boot_id
    bad_field += b"%02X\r\n" % pp.checksum(bad_field[1:-1])
    for chunk in (bytes(rng.randrange(256) for _ in range(3000)), bad_checksum, bad_field,
                  good[:12] + b"\r\n", good[:20] + good, b"$" * 200 + b"\n", b"\x00\xff" * 500):
        pad.inject(chunk)
        time.sleep(0.05)
    # `good[:20] + good`: the decoder resynchronises on the second '$', so this one is a valid
    # rating from the pad's point of view (seq 900): it is the only thing that may be stored.
    wait_until(lambda: ratings(site), what="the one valid frame")
    pad.press(2)
    wait_until(lambda: len(ratings(site)) == 2, what="a real press after the noise")
    time.sleep(0.5)
    rows = ratings(site)
    assert sorted((r["seq"], r["level"]) for r in rows) == sorted([(900, 1), (pad.pad.next_seq - 1, 2)])
    assert bridge.stats["error_bad_checksum"] >= 1 and bridge.stats["error_bad_field"] >= 1
    assert bridge.stats["error_garbage"] >= 1
    assert bridge._thread.is_alive()


def test_the_cli_simulator_and_bridge_work_together(site, centre, workdir, connect):
    """`motcua pad-sim` (driven by lines on its stdin) and `motcua pad` as two processes."""
    import subprocess
    import sys
    from support.broker import ROOT
    link = workdir / "cli-pad.tty"
    base = [sys.executable, "-m", "motcua", "--site", str(site.path)]
    sim = subprocess.Popen(base + ["pad-sim", "--counter", "1", "--link", str(link), "--lockout-ms", "300"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           cwd=ROOT, text=True)
    bridge = subprocess.Popen(base + ["pad", "--counter", "1", "--serial", str(link), "--journal",
                                      str(workdir / "cli-journal.sqlite")],
                              stdout=open(workdir / "bridge.log", "ab"), stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        seen = collect(connect("admin"), protocol.Topics(site.id).device_availability("pad-1"))
        latest(seen, lambda d: d.get("pad") == "connected", timeout=15)
        label = serve(connect("counter-1"), connect("kiosk-1"))
        time.sleep(0.5)                      # the prompt reaches the pad through the bridge
        sim.stdin.write("1 1\n")
        sim.stdin.flush()
        rows = wait_until(lambda: ratings(site), 10, "the rating pressed through the CLI")
        assert [(r["status"], r["ticket"], r["level"]) for r in rows] == [("counted", label, 1)]
        assert rows[0]["pad"] == "PADSIM-1"
    finally:
        for p in (bridge, sim):
            p.send_signal(signal.SIGINT)
        for p in (bridge, sim):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_bridge_restarted_with_ratings_in_its_journal_delivers_them(site, centre, broker, pad, workdir):
    """The bridge ACKed the pad (the pad forgot the rating), then died before the
    centre heard of it: the journal is the only copy, and the next bridge sends it."""
    journal = workdir / "restart-journal.sqlite"
    first = PadBridge(site, 1, pad.path, journal=journal).start()
    wait_until(lambda: first.hello is not None and first.mqtt_connected.is_set(), what="the first bridge")
    broker.stop()
    wait_until(lambda: not first.mqtt_connected.is_set(), what="the bridge to lose the broker")
    pad.press(4)
    wait_until(lambda: len(first.journal) == 1 and pad.pad.unacked == [], what="the journal")
    first.stop()
    broker.start()
    second = PadBridge(site, 1, pad.path, journal=journal).start()
    try:
        rows = wait_until(lambda: ratings(site), 15, "the journalled rating at the centre")
        assert [(r["level"], r["pad"]) for r in rows] == [(4, "PAD-0001")]
        wait_until(lambda: len(second.journal) == 0, what="the centre's acknowledgement")
    finally:
        second.stop()

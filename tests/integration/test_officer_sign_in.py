"""Officers sign in with a PIN (issue 12), against a real Mosquitto and SQLite file."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from motcua.mqtt import RequestRefused
from motcua.service import CentreService
from motcua.store import Store
from support.officers import register, sign_in

START = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)  # 08:00 in Hà Nội


@pytest.fixture
def clock():
    now = [START]
    return now


@pytest.fixture
def timed_centre(site, broker, clock):
    service = CentreService(site, clock=lambda: clock[0]).start()
    assert service.connected.wait(10)
    yield service
    service.stop()


def refused(fn, *args, **kw) -> RequestRefused:
    with pytest.raises(RequestRefused) as exc:
        fn(*args, **kw)
    return exc.value


def test_sign_in_needs_the_registered_officer_and_the_right_pin(site, timed_centre, connect):
    admin, counter = connect("admin"), connect("counter-1")
    e = refused(sign_in, counter, 1, "nguyenvana")
    assert e.code == "unknown_officer" and "motcua officers add nguyenvana" in e.message
    register(admin, ("nguyenvana", "Nguyễn Văn A"), pin="739205")
    e = refused(sign_in, counter, 1, "nguyenvana", pin="111111")
    assert e.code == "bad_pin" and e.details == {"tries_left": 4} and "111111" not in e.message
    r = sign_in(counter, 1, "nguyenvana", pin="739205")
    # the name comes from the register, and the reply never carries the PIN
    assert r["state"] == "open" and r["officer"] == "nguyenvana" and r["officer_name"] == "Nguyễn Văn A"
    assert "739205" not in str(r)
    types = [(e["type"], e.get("reason")) for e in Store(site.database).officer_events()][::-1]
    assert types == [("officer_sign_in_refused", "unknown_officer"), ("officer_added", None),
                     ("officer_sign_in_refused", "bad_pin"), ("counter_signed_in", None)]


def test_five_wrong_pins_lock_the_officer_out_on_every_counter_for_five_minutes(site, timed_centre,
                                                                                 connect, clock):
    admin, c1, c2 = connect("admin"), connect("counter-1"), connect("counter-2")
    register(admin, "tranthib", pin="739205")
    for left in (4, 3, 2, 1):
        assert refused(sign_in, c1, 1, "tranthib", pin="000111").details == {"tries_left": left}
    e = refused(sign_in, c1, 1, "tranthib", pin="000111")
    assert e.code == "officer_locked" and e.details["locked_until"] == (START + timedelta(minutes=5)).isoformat()
    # locked on another counter too, even with the right PIN
    assert refused(sign_in, c2, 2, "tranthib", pin="739205").code == "officer_locked"
    clock[0] = START + timedelta(minutes=4, seconds=59)
    assert refused(sign_in, c2, 2, "tranthib", pin="739205").code == "officer_locked"
    clock[0] = START + timedelta(minutes=5)
    assert sign_in(c2, 2, "tranthib", pin="739205")["state"] == "open"
    events = Store(site.database).officer_events("tranthib")
    assert sum(e["type"] == "officer_locked_out" for e in events) == 1
    assert [e["reason"] for e in events if e["type"] == "officer_sign_in_refused"][:2] == ["locked", "locked"]


def test_the_same_request_again_is_not_a_second_wrong_pin(timed_centre, connect):
    admin, c1 = connect("admin"), connect("counter-1")
    register(admin, "lethic", pin="739205")
    for _ in range(3):
        assert refused(sign_in, c1, 1, "lethic", pin="000111", request_id="c1-pin-1").details == {"tries_left": 4}
    assert refused(sign_in, c1, 1, "lethic", pin="000111").details == {"tries_left": 3}


def test_only_the_admin_resets_a_pin_and_the_reset_lifts_a_lock(site, timed_centre, connect):
    admin, c1 = connect("admin"), connect("counter-1")
    register(admin, "phamvand", pin="739205")
    for _ in range(5):
        refused(sign_in, c1, 1, "phamvand", pin="000111")
    e = refused(c1.request, "officer.reset_pin", officer="phamvand", pin="864209")
    assert e.code == "forbidden"
    assert refused(connect("kiosk-1").request, "officer.add", officer="x1", name="X", pin="864209").code == "forbidden"
    assert refused(admin.request, "officer.reset_pin", officer="phamvand", pin="1234").code == "weak_pin"
    assert refused(admin.request, "officer.reset_pin", officer="nobody", pin="864209").code == "unknown_officer"
    admin.request("officer.reset_pin", officer="phamvand", pin="864209")
    assert refused(sign_in, c1, 1, "phamvand", pin="739205").code == "bad_pin"
    assert sign_in(c1, 1, "phamvand", pin="864209")["state"] == "open"
    listed = admin.request("officer.list")["officers"]
    assert listed == [{"officer": "phamvand", "name": "phamvand", "failures": 0, "locked_until": None}]
    assert refused(admin.request, "officer.add", officer="phamvand", name="P", pin="864209").code == "officer_exists"


def test_a_pin_sent_in_clear_is_refused_without_counting(timed_centre, connect):
    admin, c1 = connect("admin"), connect("counter-1")
    register(admin, "hoangvane", pin="739205")
    from motcua import protocol
    c1.client.publish(c1.topics.request("counter-1"),
                      protocol.request("counter.sign_in", "clear-1", counter=1, officer="hoangvane", pin="739205"))
    # the sealed one right after still has all five tries
    assert refused(sign_in, c1, 1, "hoangvane", pin="000111").details == {"tries_left": 4}


PINS = ("73920518", "46193057", "80264913")


def test_no_pin_appears_in_the_database_the_logs_or_the_broker_traffic(site, broker, connect, caplog,
                                                                         workdir):
    """Known PINs, every kind of use, then a byte grep of everything that was written or sent."""
    traffic: list[bytes] = []
    done = threading.Event()
    spy = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    centre_dev = site.devices_of("centre")[0]
    spy.username_pw_set(centre_dev.id, centre_dev.password)  # the centre reads everything
    spy.on_connect = lambda c, u, f, rc, p: c.subscribe("#", qos=1)
    spy.on_subscribe = lambda *a: done.set()
    spy.on_message = lambda c, u, m: traffic.append(m.topic.encode() + b" " + bytes(m.payload))
    spy.connect(site.broker.host, site.broker.port)
    spy.loop_start()
    assert done.wait(5)
    caplog.set_level(logging.DEBUG)
    service = CentreService(site).start()
    try:
        assert service.connected.wait(10)
        admin, c1, c2 = connect("admin"), connect("counter-1"), connect("counter-2")
        register(admin, ("nguyenvana", "Nguyễn Văn A"), pin=PINS[0])
        register(admin, "tranthib", pin=PINS[1])
        sign_in(c1, 1, "nguyenvana", pin=PINS[0])
        for _ in range(5):
            refused(sign_in, c2, 2, "tranthib", pin=PINS[0])      # another officer's PIN, five times
        refused(sign_in, c2, 2, "tranthib", pin=PINS[1])          # locked
        admin.request("officer.reset_pin", officer="tranthib", pin=PINS[2])
        sign_in(c2, 2, "tranthib", pin=PINS[2], request_id="c2-again")
        sign_in(c2, 2, "tranthib", pin=PINS[2], request_id="c2-again")  # a repeat, from the store
        admin.request("officer.list")
        n = len(traffic)
    finally:
        service.stop()
    spy.loop_stop()
    spy.disconnect()
    assert len(traffic) >= n > 10
    logs = "\n".join(r.getMessage() for r in caplog.records).encode()
    files = [p for p in workdir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in files) and any(p.name == "mosquitto.log" for p in files)
    written = {str(p): p.read_bytes() for p in files}
    # the grep sees what was written and sent: the officers and their sign-ins are there
    assert any(b"tranthib" in data for data in written.values()) and b"officer_locked_out" in b"".join(
        written.values())
    assert [t for t in traffic if b"counter.sign_in" in t] and b"tranthib" in logs
    for pin in PINS:
        needle = pin.encode()
        assert needle not in logs, f"PIN {pin} in the centre's log"
        assert not [t for t in traffic if needle in t], f"PIN {pin} in the broker traffic"
        assert not [p for p, data in written.items() if needle in data], f"PIN {pin} in a file"

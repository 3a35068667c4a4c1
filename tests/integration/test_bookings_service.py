"""Numbers taken from afar and bookings through a real Mosquitto and the real
centre (issue 14): a burst for one slot books exactly its capacity and nothing
half; the phone limit; a number that lapses; check-in at the kiosk and the order
of the queue with the booking cap; and the phone gone from the database file,
its WAL and the centre's log once its number or booking has ended."""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

from motcua import bookings as bk
from motcua import web_tokens
from motcua.mqtt import RequestRefused
from motcua.service import CentreService
from support.officers import register, sign_in
from support.clock import Clock
from support.centre_db import rows


@pytest.fixture
def clock():
    # a Monday, 07:40 in Hà Nội: before the first slots, numbers from afar open
    return Clock(datetime(2026, 11, 23, 0, 40, tzinfo=timezone.utc))


@pytest.fixture
def centre_at(site, broker, clock):
    service = CentreService(site, clock=clock).start()
    assert service.connected.wait(10), "the centre did not connect to the broker"
    yield service
    service.stop()


def refusal(fn, *args, **kwargs) -> RequestRefused:
    with pytest.raises(RequestRefused) as exc:
        fn(*args, **kwargs)
    return exc.value


def wait_until(pred, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the condition did not come true in time")


def test_a_burst_for_one_slot_books_exactly_its_capacity_and_nothing_half(site, centre, connect):
    web = connect("web")
    today = datetime.now(site.tz).date()
    day = next(d for d in bk.bookable_days(today, site.web.booking_days_ahead)[1:]
               if bk.slots_on(site.web.slots, "CT", d))
    slot = bk.slots_on(site.web.slots, "CT", day)[0]
    assert slot.capacity == 3

    def book(i: int):
        try:
            return web.request("booking.create", timeout=15, service="CT", day=day.isoformat(), time=slot.time,
                               phone=f"09{i:08d}")
        except RequestRefused as exc:
            return exc

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(book, range(50)))
    booked = [a for a in answers if isinstance(a, dict)]
    refused = [a for a in answers if isinstance(a, RequestRefused)]
    assert len(booked) == 3 and len(refused) == 47
    assert {r.code for r in refused} == {"slot_full"}
    assert refused[0].details["message_vi"] == "Khung giờ này đã hết chỗ. Vui lòng chọn khung giờ khác."
    assert sorted(b["booking"] for b in booked) == [1, 2, 3]
    assert all(b["state"] == "booked" and b["time"] == slot.time and "phone" not in b for b in booked)
    # on disk: three bookings, three phones, three events; nothing of the 47
    assert rows(site, "SELECT count(*) FROM bookings") == [(3,)]
    assert rows(site, "SELECT count(*) FROM phones") == [(3,)]
    assert rows(site, "SELECT count(*) FROM events WHERE type = 'booking_created'") == [(3,)]
    phones = {p for (p,) in rows(site, "SELECT phone FROM phones")}
    assert phones == {f"09{i:08d}" for i, a in enumerate(answers) if isinstance(a, dict)}
    # what the web page shows of the day: the slot full, the next one free
    slots = web.request("booking.slots", service="CT", day=day.isoformat())["days"][0]["slots"]
    assert slots[0] == {"time": slot.time, "ends": slot.ends, "capacity": 3, "free": 0, "bookable": False}
    assert slots[1]["free"] == 3 and slots[1]["bookable"]
    # a repeated request id: the same booking, not a fourth one (nor a refusal)
    again = [web.request("booking.create", request_id="web-form-77", service="CT", day=day.isoformat(),
                         time=slots[1]["time"], phone="0355000111") for _ in range(2)]
    assert again[0] == again[1] and again[0]["booking"] == 4
    assert rows(site, "SELECT count(*) FROM bookings") == [(4,)]


def test_the_phone_limit_counts_numbers_and_bookings_of_a_day(site, centre_at, connect, clock):
    web = connect("web")
    first = web.request("ticket.reserve", service="HT", phone="0912 345 678")
    assert first["state"] == "reserved" and first["ticket"] == "1001" and "phone" not in first
    assert first["check_in_by"] == "2026-11-23T01:40:00.000+00:00"      # 60 minutes
    web.request("booking.create", service="CT", day="2026-11-23", time="09:10", phone="+84912345678")
    err = refusal(web.request, "booking.create", service="HT", day="2026-11-23", time="09:30",
                  phone="0912345678")
    assert err.code == "phone_limit" and err.details == {
        "message_vi": "Mỗi số điện thoại chỉ được lấy 2 số mỗi ngày (gồm số lấy từ xa và lịch hẹn).", "limit": 2}
    assert "0912345678" not in err.message
    err = refusal(web.request, "ticket.reserve", service="HT", phone="0243 826 1234")
    assert err.code == "bad_phone" and "10 chữ số" in err.details["message_vi"]
    # another day is another day
    web.request("booking.create", service="HT", day="2026-11-24", time="09:30", phone="0912345678")
    # the web service may not check anybody in, nor take a walk-in number
    assert refusal(web.request, "ticket.check_in", ticket="1001").code == "forbidden"
    assert refusal(web.request, "ticket.issue", service="HT").code == "forbidden"


def test_a_number_not_checked_in_lapses_and_tells_the_kiosk_why(site, centre_at, connect, clock):
    web, kiosk = connect("web"), connect("kiosk-1")
    events = []
    kiosk.subscribe(f"motcua/{site.id}/event/ticket", lambda t, d: events.append(d))
    taken = web.request("ticket.reserve", service="HT", phone="0912345678")
    token = web_tokens.make_token(site.web.secret, site.id, "t", taken["day"], taken["ticket"])
    clock.move(minutes=61)
    wait_until(lambda: [e for e in events if e["event"] == "lapsed"])
    assert rows(site, "SELECT state FROM tickets WHERE label = '1001'") == [("lapsed",)]
    assert rows(site, "SELECT count(*) FROM phones") == [(0,)]
    err = refusal(kiosk.request, "ticket.check_in", token=token)
    assert err.code == "ticket_lapsed" and "60 phút" in err.details["message_vi"]
    assert web.request("ticket.status", ticket="1001")["state"] == "lapsed"
    # a forged link: refused, and nothing said of any ticket
    forged = web_tokens.make_token("not-the-centre-secret", site.id, "t", taken["day"], "1001")
    assert refusal(kiosk.request, "ticket.check_in", token=forged).code == "bad_token"


def test_checked_in_at_the_kiosk_bookings_go_first_with_the_cap(site, centre_at, connect, clock):
    """booking_max_consecutive = 2 in the sample: after two bookings, a walk-in."""
    web, kiosk, admin, counter = connect("web"), connect("kiosk-1"), connect("admin"), connect("counter-1")
    register(admin, "nguyenvana")
    early = web.request("ticket.reserve", service="HT", phone="0900000009")          # 1001, at 07:40
    bookings = [web.request("booking.create", service="HT", day="2026-11-23", time="08:00",
                            phone=f"09000000{i:02d}") for i in range(2)]
    bookings += [web.request("booking.create", service="HT", day="2026-11-23", time="08:30",
                             phone=f"09000000{i:02d}") for i in range(2, 4)]
    walk_ins = [kiosk.request("ticket.issue", service="HT")["ticket"] for _ in range(2)]   # 1002 1003
    # too early for the 08:00 slot (from 07:45)
    link = web_tokens.booking_link(site.web.base_url, site.web.secret, site.id, "2026-11-23", bookings[0]["booking"])
    err = refusal(kiosk.request, "booking.check_in", token=link)
    assert err.code == "too_early" and err.details["opens"] == "2026-11-23T00:45:00.000+00:00"
    clock.move(minutes=36)                                                           # 08:16
    got = []
    for b in bookings:
        link = web_tokens.booking_link(site.web.base_url, site.web.secret, site.id, "2026-11-23", b["booking"])
        t = kiosk.request("booking.check_in", token=link)
        assert t["checked_in"] and t["booking"]["state"] == "checked_in" and t["booking"]["ticket"] == t["ticket"]
        got.append(t["ticket"])
    assert got == ["1004", "1005", "1006", "1007"]
    again = kiosk.request("booking.check_in", token=link)                             # scanned twice
    assert not again["checked_in"] and again["ticket"] == "1007"
    # the number from afar checks in with its place: taken at 07:40, before the walk-ins
    t = kiosk.request("ticket.check_in", token=web_tokens.ticket_link(
        site.web.base_url, site.web.secret, site.id, "2026-11-23", early["ticket"]))
    assert t["checked_in"] and t["state"] == "waiting"
    walk_in = kiosk.request("ticket.check_in", token=web_tokens.make_token(
        site.web.secret, site.id, "t", "2026-11-23", walk_ins[0]))                    # a printed ticket's link
    assert not walk_in["checked_in"] and walk_in["state"] == "waiting"
    sign_in(counter, 1, "nguyenvana")
    called = []
    for _ in range(7):
        r = counter.request("counter.next", counter=1)
        called.append(r["ticket"]["ticket"])
        counter.request("counter.start", counter=1)
    assert called == ["1004", "1005", "1001", "1006", "1007", "1002", "1003"]
    assert web.request("booking.get", booking=1)["ticket"] == "1004"


def test_no_phone_is_left_in_the_database_its_wal_or_the_log_once_ended(site, centre_at, connect, clock, caplog):
    web, kiosk, admin, counter = connect("web"), connect("kiosk-1"), connect("admin"), connect("counter-1")
    phones = ["0912345678", "0987654321", "0355000111", "0706222333", "0812000444"]
    with caplog.at_level(logging.DEBUG):
        register(admin, "nguyenvana")
        sign_in(counter, 1, "nguyenvana")
        t = web.request("ticket.reserve", service="HT", phone=phones[0])              # served
        web.request("ticket.reserve", service="CT", phone=phones[1])                  # lapses
        b = web.request("booking.create", service="HT", day="2026-11-23", time="08:00", phone=phones[2])  # served
        c = web.request("booking.create", service="HT", day="2026-11-24", time="08:00", phone=phones[3])  # cancelled
        refusal(web.request, "booking.cancel", booking=c["booking"], phone="0912000000")
        web.request("booking.create", service="HT", day="2026-11-23", time="10:00", phone=phones[4])  # lapses
        assert rows(site, "SELECT count(*) FROM phones") == [(5,)]
        web.request("booking.cancel", booking=c["booking"], phone=phones[3])
        clock.move(minutes=10)                                                          # 07:50
        kiosk.request("ticket.check_in", ticket=t["ticket"])
        kiosk.request("booking.check_in", booking=b["booking"])
        for _ in range(2):
            counter.request("counter.next", counter=1)
            counter.request("counter.start", counter=1)
        counter.request("counter.done", counter=1)
        clock.move(hours=3)                                                             # 10:50: both lapse
        wait_until(lambda: rows(site, "SELECT count(*) FROM phones") == [(0,)])
        # the centre checkpoints when idle; the next commit starts the WAL again, cut short
        time.sleep(1.2)
        kiosk.request("ticket.issue", service="HT")
        time.sleep(1.2)
        kiosk.request("ticket.issue", service="HT")
        time.sleep(1.2)
    db = site.database
    files = [p for p in (db, db.with_name(db.name + "-wal")) if p.exists()]
    assert db in files
    for path in files:
        raw = path.read_bytes()
        for phone in phones:
            assert phone.encode() not in raw, f"{phone} is still in {path.name}"
    assert [c for c in rows(site, "SELECT state FROM bookings ORDER BY id")] == [
        ("checked_in",), ("cancelled",), ("lapsed",)]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "booking" in logged and not [p for p in phones if p in logged or p[1:] in logged]


def test_the_counter_terminal_checks_in_a_booking_through_its_link(site, centre_at, connect, clock):
    """The terminal's link (counter/link.py) asks a check-in without a counter
    argument; a counter device may check in, at its own counter or another."""
    from motcua.counter.link import CounterLink
    web = connect("web")
    b = web.request("booking.create", service="CT", day="2026-11-23", time="08:10", phone="0912345678")
    clock.move(minutes=16)                                           # 07:56: its window is open
    link = CounterLink(site, "counter-3", 3, lambda: None)
    link.start()
    try:
        wait_until(lambda: link.usable, timeout=10)
        token = web_tokens.booking_link(site.web.base_url, site.web.secret, site.id, b["day"], b["booking"])
        t = link.ask("booking.check_in", "counter-3-checkin-1", token=token)
        assert t["checked_in"] and t["ticket"] == "2001" and t["booking"]["state"] == "checked_in"
        again = link.ask("booking.check_in", "counter-3-checkin-2", booking=b["booking"])
        assert not again["checked_in"] and again["ticket"] == "2001"
    finally:
        link.stop()

"""`motcua bookings` for a manager (issue 14), against a real Mosquitto and the real
centre: list (never a phone), slots (capacity and free places, asked of the centre),
cancel with a reason (through the centre as the admin device, its event keeping the
reason); a day closed after it was booked (the bookings stand, marked, the centre
warns at start, the manager cancels them); and the centre's booking operations
across local midnight with its clock set, through the broker."""
from __future__ import annotations

import json
import logging
from datetime import date, datetime

import pytest

from motcua import bookings as bk
from motcua.config import load_site
from motcua.mqtt import RequestRefused
from motcua.service import CentreService
from motcua.store import Store
from support.broker import write_site
from support.clock import Clock

PHONES = ("0912345678", "0355000111", "0987654321")


def next_bookable_day(site) -> date:
    """The first day after today with HT slots (so no slot has begun) and not closed."""
    today = datetime.now(site.tz).date()
    return next(d for d in bk.bookable_days(today, site.web.booking_days_ahead)[1:]
                if bk.slots_on(site.web.slots, "HT", d, site.web.closed_days))


def store_rows(site, sql: str, args=()) -> list:
    store = Store(site.database)
    try:
        return list(store.db.query(sql, list(args)))
    finally:
        store.close()


def closed_site(site, workdir, day: date):
    """The same centre (same data, same broker) with `day` added to [web] closed_days:
    the site file as a manager edits it after bookings were made."""
    (workdir / "closed").mkdir()
    path = write_site(workdir / "closed", site.broker.port,
                      replace={"closed_days = [\n": f'closed_days = [\n  "{day.isoformat()}",\n',
                               f'data_dir = "{workdir / "closed" / "data"}"': f'data_dir = "{site.data_dir}"'})
    return load_site(path)


def test_list_slots_and_cancel_with_a_reason(site, centre, connect, motcua):
    web = connect("web")
    day = next_bookable_day(site)
    made = [web.request("booking.create", service="HT", day=day.isoformat(), time=t, phone=p)
            for t, p in (("08:00", PHONES[0]), ("08:00", PHONES[1]), ("09:00", PHONES[2]))]
    ids = [b["booking"] for b in made]

    r = motcua(site, "bookings", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["Mã", "Ngày", "Giờ", "Lĩnh", "vực", "Trạng", "thái", "Số"]
    assert [int(l.split()[0]) for l in lines[1:]] == ids
    assert f"{day:%d/%m/%Y} 08:00–08:30 HT" in " ".join(lines[1].split())
    assert "đã đặt / booked" in lines[1] and lines[1].rstrip().endswith("—")
    for phone in PHONES:  # never a phone, however written
        assert phone not in r.stdout and phone[1:] not in r.stdout and phone[-6:] not in r.stdout

    r = motcua(site, "bookings", "slots", "--service", "HT", "--day", f"{day:%d/%m/%Y}")
    assert r.returncode == 0, r.stderr
    slots = {l.split()[0]: l for l in r.stdout.splitlines() if "–" in l and "free" in l}
    assert "còn / free 0/2" in slots["08:00–08:30"] and "không đặt được nữa" in slots["08:00–08:30"]
    assert "còn / free 1/2" in slots["09:00–09:30"] and "không đặt" not in slots["09:00–09:30"]
    assert "còn / free 2/2" in slots["07:30–08:00"]

    r = motcua(site, "bookings", "cancel", str(ids[1]), "--reason", "Công", "dân", "báo", "bận")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Đã huỷ lịch hẹn / Cancelled booking {ids[1]}: {day:%d/%m/%Y} 08:00–08:30")
    assert centre.engine.state.bookings[ids[1]].state == "cancelled"
    [event] = [json.loads(e["data"]) for e in store_rows(site, "SELECT data FROM events WHERE type = ?",
                                                         ["booking_cancelled"])]
    assert {k: event[k] for k in ("booking_id", "device", "reason")} == {
        "booking_id": ids[1], "device": "admin", "reason": "Công dân báo bận"}
    assert store_rows(site, "SELECT ref FROM phones WHERE kind = 'booking' ORDER BY ref") == [
        {"ref": ids[0]}, {"ref": ids[2]}]
    assert web.request("booking.get", booking=ids[1])["state"] == "cancelled"  # what the citizen's page reads
    r = motcua(site, "bookings", "slots", "--service", "HT", "--day", day.isoformat())
    assert "còn / free 1/2" in next(l for l in r.stdout.splitlines() if l.split()[0] == "08:00–08:30")

    # once more: refused by the centre, in its words, nothing changed
    r = motcua(site, "bookings", "cancel", str(ids[1]))
    assert r.returncode == 2 and "refused (booking_closed)" in r.stderr and "was cancelled" in r.stderr
    r = motcua(site, "bookings", "cancel", "999")
    assert r.returncode == 2 and "refused (unknown_booking)" in r.stderr

    # filters and CSV
    r = motcua(site, "bookings", "list", "--state", "cancelled")
    assert [l.split()[0] for l in r.stdout.splitlines()[1:]] == [str(ids[1])]
    r = motcua(site, "bookings", "list", "--service", "CT")
    assert r.returncode == 0 and r.stdout.startswith("Không có lịch hẹn nào / No bookings")
    r = motcua(site, "bookings", "list", "--day", day.isoformat(), "--csv")
    rows = r.stdout.splitlines()
    assert rows[0] == "booking,day,time,ends,service,state,ticket,closed_day"
    assert rows[1:] == [f"{ids[0]},{day},08:00,08:30,HT,booked,,0", f"{ids[1]},{day},08:00,08:30,HT,cancelled,,0",
                        f"{ids[2]},{day},09:00,09:30,HT,booked,,0"]


def test_what_the_commands_refuse_says_what_to_do(site, centre, motcua):
    r = motcua(site, "bookings", "list", "--day", "31/02/2027")
    assert r.returncode == 2 and "--day: '31/02/2027' is not a real date" in r.stderr
    r = motcua(site, "bookings", "list", "--service", "ZZ")
    assert r.returncode == 2 and "there is no service 'ZZ'; known: HT" in r.stderr
    r = motcua(site, "bookings", "slots", "--service", "LLTP")
    assert r.returncode == 2 and "service LLTP has no [[web.slots]]" in r.stderr and "HT, CT" in r.stderr
    r = motcua(site, "bookings", "list", "--state", "gone")
    assert r.returncode == 2 and "invalid choice: 'gone'" in r.stderr
    r = motcua(site, "bookings", "cancel")
    assert r.returncode == 2 and "needs the booking's ID" in r.stderr


def test_a_day_closed_after_it_was_booked(site, broker, centre, connect, motcua, workdir, caplog):
    """The bookings stand (the centre promised them): listed and marked, a warning at
    start names them; the phone page sees the day closed; the manager cancels them."""
    web = connect("web")
    day = next_bookable_day(site)
    b = web.request("booking.create", service="HT", day=day.isoformat(), time="10:00", phone=PHONES[0])
    closed = closed_site(site, workdir, day)
    assert day in closed.web.closed_days and closed.database == site.database
    centre.stop()
    with caplog.at_level(logging.WARNING, logger="motcua.service"):
        again = CentreService(closed).start()
    try:
        assert again.connected.wait(10)
        assert any(f"1 bookings are on {day}, a closed day" in m and f"motcua bookings list --day {day}" in m
                   for m in caplog.messages), caplog.messages
        answer = web.request("booking.slots", service="HT", day=day.isoformat())
        assert answer["days"] == [{"day": day.isoformat(), "closed": True, "slots": []}]
        with pytest.raises(RequestRefused) as exc:
            web.request("booking.create", service="HT", day=day.isoformat(), time="10:30", phone=PHONES[1])
        assert exc.value.code == "day_closed"
        assert web.request("booking.get", booking=b["booking"])["state"] == "booked"  # kept

        r = motcua(closed, "bookings", "list", "--day", day.isoformat())
        assert "(ngày nghỉ / closed day)" in r.stdout.splitlines()[1]
        assert "1 lịch hẹn vào ngày nghỉ / bookings on a closed day" in r.stdout
        r = motcua(closed, "bookings", "slots", "--service", "HT", "--day", day.isoformat())
        assert "nghỉ, không nhận đặt lịch / closed, no bookings" in r.stdout
        r = motcua(closed, "bookings", "cancel", str(b["booking"]), "--reason", "Nghỉ lễ")
        assert r.returncode == 0, r.stderr
        assert web.request("booking.get", booking=b["booking"])["state"] == "cancelled"
        assert store_rows(site, "SELECT * FROM phones") == []
    finally:
        again.stop()


# -- across local midnight, through the broker ----------------------------------------------------


def hanoi(day: str, hhmm: str) -> datetime:
    from zoneinfo import ZoneInfo
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def test_bookings_across_local_midnight_through_the_centre(site, broker, connect):
    """Monday 23:59 in Hà Nội is 16:59 UTC: the UTC day is not the centre's day. A booking
    made then for tomorrow is read and cancelled at 00:01; one made at 00:05 for today is
    read and cancelled at 00:08 (the step a fresh-clone run once failed at, 00:08
    Vietnamese time); with the phone and without, as the page does."""
    clock = Clock(hanoi("2026-11-23", "23:59"))
    centre = CentreService(site, clock=clock).start()
    try:
        assert centre.connected.wait(10)
        web = connect("web")
        b = web.request("booking.create", service="HT", day="2026-11-24", time="08:00", phone=PHONES[0])
        clock.set(hanoi("2026-11-24", "00:01"))
        assert web.request("booking.get", booking=b["booking"])["state"] == "booked"
        assert web.request("booking.cancel", booking=b["booking"])["state"] == "cancelled"
        assert centre.engine.state.day == "2026-11-24"
        clock.set(hanoi("2026-11-24", "00:05"))
        days = web.request("booking.slots", service="HT")["days"]
        assert days[0]["day"] == "2026-11-24" and days[0]["slots"][1] == {
            "time": "08:00", "ends": "08:30", "capacity": 2, "free": 2, "bookable": True}
        b = web.request("booking.create", service="HT", day="2026-11-24", time="08:00", phone=PHONES[1])
        clock.set(hanoi("2026-11-24", "00:08"))
        got = web.request("booking.get", booking=b["booking"])
        assert got["state"] == "booked" and got["check_in_from"] == "2026-11-24T00:45:00.000+00:00"
        assert web.request("booking.cancel", booking=b["booking"], phone="0355 000 111")["state"] == "cancelled"
        assert store_rows(site, "SELECT * FROM phones") == []
    finally:
        centre.stop()

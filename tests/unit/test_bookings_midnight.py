"""Bookings across local midnight (issue 14): the engine with a set clock, in the
site's time zone (Asia/Ho_Chi_Minh, UTC+7: local midnight is 17:00 UTC, when the
UTC date is still the day before). A booking made at 23:59 for tomorrow and
cancelled at 00:01; one made at 00:05 for today, read and cancelled at 00:08;
yesterday's booking lapsing at the roll-over; the per-phone limit across the day
change; and the same through the store, reloaded after midnight."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from motcua import protocol
from motcua.config import load_site
from motcua.engine import Engine, QueueError
from motcua.store import Store

from support.broker import EXAMPLE

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY, TUESDAY, WEDNESDAY = "2026-11-23", "2026-11-24", "2026-11-25"


def local(day: str, hhmm: str) -> datetime:
    """A local time of the site, as the aware UTC moment the engine is given."""
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=HANOI).astimezone(timezone.utc)


@pytest.fixture
def site():
    return load_site(EXAMPLE)


def booked(e: Engine, day: str, at: str, phone: str, now: datetime) -> int:
    events, _ = e.create_booking("HT", day, at, phone, now, device="web")
    assert events[-1]["type"] == "booking_created"
    return events[-1]["booking"]["id"]


def test_local_midnight_is_not_utc_midnight():
    assert local(TUESDAY, "00:01") == datetime(2026, 11, 23, 17, 1, tzinfo=timezone.utc)


def test_booked_at_2359_for_tomorrow_and_cancelled_at_0001(site):
    e = Engine(site)
    e.tick(local(MONDAY, "23:00"))
    b = booked(e, TUESDAY, "08:00", "0912345678", local(MONDAY, "23:59"))
    assert e.state.day == MONDAY
    events, changes = e.cancel_booking(b, local(TUESDAY, "00:01"), device="web")
    assert [ev["type"] for ev in events] == ["day_started", "booking_cancelled"]
    assert e.state.day == TUESDAY and e.state.bookings[b].state == "cancelled"
    assert changes.phones == {("booking", b): None}  # its phone erased in the same transaction
    assert e.slots("HT", TUESDAY, local(TUESDAY, "00:02"))[1][1] == 0  # its place free again


def test_booked_at_0005_for_today_read_and_cancelled_at_0008(site):
    e = Engine(site)
    e.tick(local(MONDAY, "23:58"))
    # the first command after midnight starts the day: the booking is today's
    b = booked(e, TUESDAY, "08:00", "0912345678", local(TUESDAY, "00:05"))
    assert e.state.day == TUESDAY
    view = protocol.booking_view(e, e.booking(b))
    assert view["state"] == "booked" and view["day"] == TUESDAY
    assert view["check_in_from"] == "2026-11-24T00:45:00.000+00:00"  # 07:45 local, not a day off
    assert e.slots("HT", TUESDAY, local(TUESDAY, "00:08"))[1][1] == 1
    events, _ = e.cancel_booking(b, local(TUESDAY, "00:08"), phone="0912 345 678", device="web")
    assert [ev["type"] for ev in events] == ["booking_cancelled"]
    assert protocol.booking_view(e, e.booking(b))["state"] == "cancelled"


def test_yesterdays_booking_lapses_at_the_roll_over_and_its_phone_goes(site, tmp_path):
    store = Store(tmp_path / "c.db")
    e = Engine(site, store.load_state(site.queue.estimate_window))

    def run(events_changes):
        store.commit(*events_changes)
        return events_changes[0]

    run(e.tick(local(MONDAY, "15:00")))
    run(e.create_booking("HT", MONDAY, "16:00", "0912345678", local(MONDAY, "15:00"), device="web"))
    run(e.create_booking("HT", TUESDAY, "08:00", "0912345678", local(MONDAY, "15:01"), device="web"))
    # 16:00 + 30 + 15 min of grace = 16:45: not yet lapsed at 16:40; the centre is then off until after midnight
    run(e.tick(local(MONDAY, "16:40")))
    assert e.state.bookings[1].state == "booked"
    e = Engine(site, store.load_state(site.queue.estimate_window))  # restarted at 00:03
    events = run(e.tick(local(TUESDAY, "00:03")))
    assert [(ev["type"], ev.get("booking_id")) for ev in events] == [("booking_lapsed", 1), ("day_started", None)]
    assert store.booking(1)["state"] == "lapsed" and store.booking(2)["state"] == "booked"
    phones = {(r["kind"], r["ref"]) for r in store.db.query("SELECT kind, ref FROM phones")}
    assert phones == {("booking", 2)}
    assert list(e.state.bookings) == [2]  # only today's and later are kept in memory
    with pytest.raises(QueueError) as exc:  # yesterday's cannot be cancelled any more
        e.cancel_booking(1, local(TUESDAY, "00:04"))
    assert exc.value.code == "unknown_booking"
    store.close()


def test_the_per_phone_limit_is_per_booked_day_across_the_day_change(site):
    e = Engine(site)
    phone = "0912345678"
    booked(e, TUESDAY, "08:00", phone, local(MONDAY, "23:58"))
    booked(e, TUESDAY, "08:30", phone, local(MONDAY, "23:59"))
    with pytest.raises(QueueError) as exc:  # a third for Tuesday, just after midnight
        e.create_booking("HT", TUESDAY, "09:00", phone, local(TUESDAY, "00:01"))
    assert exc.value.code == "phone_limit"
    with pytest.raises(QueueError) as exc:  # a number from afar for today (Tuesday) counts with them
        e.reserve("HT", phone, local(TUESDAY, "00:02"))
    assert exc.value.code == "phone_limit"
    booked(e, WEDNESDAY, "08:00", phone, local(TUESDAY, "00:03"))  # another day: its own two
    # Monday's own bookings never counted against Tuesday's, and after the roll-over
    # a booking of Monday's (lapsed) no longer holds its phone
    e2 = Engine(site)
    booked(e2, MONDAY, "15:30", phone, local(MONDAY, "15:00"))
    booked(e2, MONDAY, "16:00", phone, local(MONDAY, "15:01"))
    booked(e2, TUESDAY, "08:00", phone, local(MONDAY, "23:59"))
    booked(e2, TUESDAY, "08:30", phone, local(TUESDAY, "00:01"))
    assert sorted(d for p, d in e2.state.phones.values()) == [TUESDAY, TUESDAY]

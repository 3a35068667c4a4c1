"""Closed days for bookings (issue 14, what remained): `[web] closed_days` in the site
file (days and ranges, checked), no slots on such a day, `booking.slots` saying so,
`booking.create` and `ticket.reserve` refused in Vietnamese, and bookings made before
a day was closed kept for the manager to cancel."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from motcua import bookings as bk
from motcua import protocol
from motcua.config import SiteConfigError, load_site
from motcua.engine import Engine, QueueError

from support.broker import EXAMPLE

# Monday 23 November 2026, 07:00 in Hà Nội (UTC+7)
MONDAY_7 = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
WEB = '[web]\nbase_url = "https://x.example"\nsecret = "0123456789abcdef"\n'


def _site_with(tmp_path, web_text: str):
    text = EXAMPLE.read_text(encoding="utf-8").replace('"../var', '"var')
    start, end = text.index("\n[web]\n"), text.index("\n[queue]\n")
    path = tmp_path / "site.toml"
    path.write_text(text[:start] + "\n" + web_text + text[end:], encoding="utf-8")
    return path


def closed(site, *days: str):
    return replace(site, web=replace(site.web, closed_days=tuple(date.fromisoformat(d) for d in days)))


@pytest.fixture
def site():
    return load_site(EXAMPLE)


# -- the site file ------------------------------------------------------------------------------

def test_days_and_ranges_are_written_out_sorted_and_toml_dates_are_taken(tmp_path):
    site = load_site(_site_with(tmp_path, WEB + 'closed_days = ["2027-09-02", "2027-02-05..2027-02-08", '
                                                '2027-01-01, "2027-02-06"]\n'))
    assert site.web.closed_days == (date(2027, 1, 1), date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7),
                                    date(2027, 2, 8), date(2027, 9, 2))
    assert load_site(_site_with(tmp_path, WEB)).web.closed_days == ()


def test_the_sample_lists_2027s_public_holidays(site):
    days = site.web.closed_days
    assert date(2027, 1, 1) in days and date(2027, 9, 2) in days and date(2027, 4, 30) in days
    assert {date(2027, 2, 5) + timedelta(days=n) for n in range(6)} <= set(days)  # Tết, 29 Tết to mùng 5
    assert date(2027, 4, 16) in days  # Giỗ Tổ Hùng Vương, 10/3 âm lịch


@pytest.mark.parametrize("entries, where, says", [
    ('["2027-02-30"]', "web.closed_days[0]", "'2027-02-30' is not a day; write each as \"YYYY-MM-DD\""),
    ('["2027-01-01", "02/09/2027"]', "web.closed_days[1]", "'02/09/2027' is not a day"),
    ('["2027-02-10..2027-02-05"]', "web.closed_days[0]", "a range goes forward"),
    ('["2027-02-05..2028-02-10"]', "web.closed_days[0]", "spans at most 32 days"),
    ('["2027-02-05..2027-02-06..2027-02-07"]', "web.closed_days[0]", "is not a day"),
    ('["2027-02-05.."]', "web.closed_days[0]", "is not a day"),
    ('[20270101]', "web.closed_days[0]", "20270101 is not a day"),
    ('"2027-01-01"', "web.closed_days", "must be a list"),
])
def test_a_wrong_closed_day_stops_with_its_place_and_what_to_write(tmp_path, entries, where, says):
    with pytest.raises(SiteConfigError) as exc:
        load_site(_site_with(tmp_path, WEB + f"closed_days = {entries}\n"))
    message = str(exc.value)
    assert f"{where}: " in message and says in message, message
    if "not a day" in says:
        assert '"2027-02-05..2027-02-10"' in message  # the range form is shown too


# -- slots, bookings, numbers from afar ----------------------------------------------------------

def test_a_closed_day_has_no_slots_and_the_reply_says_closed(site):
    tuesday = "2026-11-24"
    e = Engine(closed(site, tuesday))
    assert bk.slots_on(e.site.web.slots, "HT", date(2026, 11, 24), e.site.web.closed_days) == []
    assert len(bk.slots_on(e.site.web.slots, "HT", date(2026, 11, 24))) == 14  # the weekday's rules
    assert e.slots("HT", tuesday, MONDAY_7) == []
    view = protocol.slots_view(e, "HT", [(d, e.slots("HT", d, MONDAY_7)) for d in ("2026-11-23", tuesday)])
    assert [(d["day"], d["closed"], len(d["slots"])) for d in view["days"]] == [
        ("2026-11-23", False, 14), (tuesday, True, 0)]


def test_booking_a_closed_day_is_refused_in_vietnamese_and_leaves_nothing(site):
    e = Engine(closed(site, "2026-11-24"))
    with pytest.raises(QueueError) as exc:
        e.create_booking("HT", "2026-11-24", "09:00", "0912345678", MONDAY_7, device="web")
    assert exc.value.code == "day_closed"
    assert exc.value.details["message_vi"].startswith("Ngày 24/11/2026 Trung tâm nghỉ")
    assert "2026-11-24" in exc.value.message and "closed_days" in exc.value.message
    assert e.state.bookings == {} and e.state.phones == {}
    # the day before is open as ever
    events, _ = e.create_booking("HT", "2026-11-23", "09:00", "0912345678", MONDAY_7, device="web")
    assert events[-1]["type"] == "booking_created"


def test_no_number_from_afar_on_a_closed_day(site):
    e = Engine(closed(site, "2026-11-23"))
    with pytest.raises(QueueError) as exc:
        e.reserve("HT", "0912345678", MONDAY_7, device="web")
    assert exc.value.code == "day_closed" and "Trung tâm nghỉ" in exc.value.details["message_vi"]
    assert not any(t.state == "reserved" for t in e.state.tickets.values())
    # the kiosk still gives numbers: a closed day is the phone's, not the hall's
    events, _ = e.issue("HT", MONDAY_7 + timedelta(minutes=1))
    assert events[-1]["type"] == "ticket_issued"


def test_a_booking_made_before_its_day_was_closed_stands_until_the_manager_cancels_it(site):
    """Kept, not dropped: the centre promised it. It can be checked in if the centre
    opens for it, or cancelled by a manager with a reason the event keeps."""
    e = Engine(site)
    events, _ = e.create_booking("HT", "2026-11-24", "09:00", "0912345678", MONDAY_7, device="web")
    kept = events[-1]["booking"]["id"]
    events, _ = e.create_booking("HT", "2026-11-24", "09:30", "0987654321", MONDAY_7, device="web")
    other = events[-1]["booking"]["id"]
    e.site = closed(site, "2026-11-24")  # the site file changed, the centre restarted
    assert e.is_closed("2026-11-24") and e.state.bookings[kept].state == "booked"
    events, _ = e.cancel_booking(other, MONDAY_7 + timedelta(hours=1), device="admin", reason="Nghỉ lễ bù")
    assert {k: events[-1][k] for k in ("type", "booking_id", "device", "reason")} == {
        "type": "booking_cancelled", "booking_id": other, "device": "admin", "reason": "Nghỉ lễ bù"}
    assert ("booking", other) not in e.state.phones
    # the one kept checks in on its day like any other
    events, _ = e.check_in_booking(kept, datetime(2026, 11, 24, 1, 50, tzinfo=timezone.utc), device="kiosk-1")
    assert [ev["type"] for ev in events][-2:] == ["ticket_issued", "booking_checked_in"]

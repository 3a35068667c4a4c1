"""Numbers taken from afar and bookings (issue 14): the pure rules (motcua.bookings)
and the engine's commands over them, with real SQLite files where the store is
concerned: limits, windows, the order of the queue with the booking cap, lapses,
the phone kept only while its number or booking lives."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from motcua import bookings as bk
from motcua import config
from motcua.config import SiteConfigError, load_site
from motcua.engine import Engine, QueueError, replay
from motcua.store import Store

from support.broker import EXAMPLE

# Monday 23 November 2026, 07:00 in Hà Nội (UTC+7)
MONDAY_7 = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
TODAY = "2026-11-23"


@pytest.fixture
def site():
    return load_site(EXAMPLE)


def web(site, **changes):
    return replace(site, web=replace(site.web, **changes))


def at(minutes: float) -> datetime:
    return MONDAY_7 + timedelta(minutes=minutes)


def refused(code: str, fn, *args, **kwargs) -> QueueError:
    with pytest.raises(QueueError) as exc:
        fn(*args, **kwargs)
    assert exc.value.code == code, exc.value.message
    return exc.value


# -- phones --------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, phone", [
    ("0912345678", "0912345678"), ("0912 345 678", "0912345678"), ("091.234.5678", "0912345678"),
    ("+84 912 345 678", "0912345678"), ("+84912345678", "0912345678"), ("84912345678", "0912345678"),
    ("(+84) 0912-345-678", "0912345678"), ("0084 912345678", "0912345678"), ("0355 000 111", "0355000111"),
    ("0706222333", "0706222333"), ("0587000111", "0587000111"), ("0812000111", "0812000111"),
])
def test_a_vietnamese_mobile_number_is_normalised(typed, phone):
    assert bk.normalise_phone(typed) == phone


@pytest.mark.parametrize("typed", ["", "0243 826 1234", "024 3826 1234", "091234567", "09123456789", "1912345678",
                                   "+1 415 555 0100", "abc0912345678", "０９１２３４５６７８", "0912 345 67x",
                                   None, "0" * 50])
def test_landlines_foreign_and_malformed_numbers_are_not_taken(typed):
    assert bk.normalise_phone(typed) is None


# -- the site file ---------------------------------------------------------------------------------

def _site_with(tmp_path, web_text: str):
    text = EXAMPLE.read_text(encoding="utf-8").replace('"../var', '"var')
    start = text.index("\n[web]\n")
    end = text.index("\n[queue]\n")
    path = tmp_path / "site.toml"
    path.write_text(text[:start] + "\n" + web_text + text[end:], encoding="utf-8")
    return path


def test_the_sample_offers_numbers_from_afar_and_slots(site):
    w = site.web
    assert w.remote_tickets and w.per_phone_per_day == 2 and w.secret and w.base_url.startswith("https://")
    ht = bk.slots_on(w.slots, "HT", date(2026, 11, 23))
    assert ht[0] == bk.Slot("07:30", "08:00", 2) and ht[-1].time == "16:00" and len(ht) == 14
    assert bk.slots_on(w.slots, "HT", date(2026, 11, 29)) == []            # Sunday
    assert [s.ends for s in bk.slots_on(w.slots, "CT", date(2026, 11, 28))][:2] == ["07:50", "08:10"]
    assert site.device("web").role == "web"


@pytest.mark.parametrize("web_text, says", [
    ('[web]\nbase_url = "https://x.example"\n', "web.secret: missing; set secret"),
    ('[web]\nbase_url = "https://x.example"\nsecret = "short"\n', "web.secret: must be at least 16"),
    ('[web]\nsecret = "0123456789abcdef"\n', "web.base_url: missing"),
    ('[web]\nbase_url = "x.example"\nsecret = "0123456789abcdef"\n', "must be the web service's address"),
    ('[web]\nbase_url = "https://x.example"\nsecret = "0123456789abcdef"\nper_phone = 2\n',
     "unknown key per_phone"),
    ('[web]\nbase_url = "https://x.example"\nsecret = "0123456789abcdef"\n[[web.slots]]\nservice = "ZZ"\n'
     'days = [1]\ntimes = ["08:00"]\ncapacity = 1\n', "unknown service 'ZZ'"),
    ('[web]\nbase_url = "https://x.example"\nsecret = "0123456789abcdef"\n[[web.slots]]\nservice = "HT"\n'
     'days = [0, 8]\ntimes = ["08:00"]\ncapacity = 1\n', "1 = Monday"),
    ('[web]\nbase_url = "https://x.example"\nsecret = "0123456789abcdef"\n[[web.slots]]\nservice = "HT"\n'
     'days = [1]\ncapacity = 1\n', "give either times"),
    ('[web]\nbase_url = "https://x.example"\nsecret = "0123456789abcdef"\n[[web.slots]]\nservice = "HT"\n'
     'days = [1]\ntimes = ["8:00"]\ncapacity = 1\n', "written HH:MM"),
    ('[web]\nbase_url = "https://x.example"\nsecret = "0123456789abcdef"\n[[web.slots]]\nservice = "HT"\n'
     'days = [1]\ntimes = ["08:00", "08:15"]\ncapacity = 1\n', "would overlap"),
    ('[web]\nbase_url = "https://x.example"\nsecret = "0123456789abcdef"\n[[web.slots]]\nservice = "HT"\n'
     'days = [1, 2]\nstart = "08:00"\nend = "10:00"\ncapacity = 1\n[[web.slots]]\nservice = "HT"\n'
     'days = [2]\ntimes = ["09:45"]\ncapacity = 1\n', "overlaps one of an earlier"),
])
def test_a_wrong_web_table_stops_with_what_to_do(tmp_path, web_text, says):
    with pytest.raises(SiteConfigError) as exc:
        load_site(_site_with(tmp_path, web_text))
    assert says in str(exc.value)


def test_start_end_every_are_written_out_and_web_is_optional(tmp_path):
    site = load_site(_site_with(tmp_path, '[web]\nbase_url = "https://x.example/"\nsecret = "0123456789abcdef"\n'
                                '[[web.slots]]\nservice = "HT"\ndays = [1]\nstart = "08:00"\nend = "09:30"\n'
                                'every = 45\ncapacity = 4\n'))
    assert site.web.base_url == "https://x.example" and not site.web.remote_tickets
    assert site.web.slots[0].times == ("08:00", "08:45") and site.web.slots[0].every == 45
    text = EXAMPLE.read_text(encoding="utf-8").replace('"../var', '"var')
    path = tmp_path / "none.toml"
    path.write_text(text[:text.index("\n[web]\n")] + text[text.index("\n[queue]\n"):], encoding="utf-8")
    assert load_site(path).web is None
    assert "web.secret" in config.sample_secrets(load_site(EXAMPLE))


# -- numbers taken from afar ----------------------------------------------------------------------

def test_a_number_from_afar_is_numbered_held_and_not_called_until_checked_in(site):
    e = Engine(site)
    events, changes = e.reserve("HT", "0912 345 678", at(0), device="web")
    t = e.state.tickets[events[-1]["ticket"]["id"]]
    assert (t.label, t.state, t.origin) == ("1001", "reserved", "remote")
    assert events[-1]["type"] == "ticket_reserved" and events[-1]["check_in_by"] == "2026-11-23T01:00:00.000+00:00"
    assert "0912345678" not in json.dumps(events)          # the phone is never in an event
    assert changes.phones == {("ticket", t.id): ("0912345678", TODAY)}
    e.issue("HT", at(10))                                  # a walk-in: 1002
    e.sign_in(1, "a", at(11))
    _, ch = e.call_next(1, at(12))
    assert ch.calls[0]["ticket"] == "1002"                 # the held number is never called
    e.done(1, at(13))
    refused("queue_empty", e.call_next, 1, at(14))
    # a walk-in after it: the number checked in takes its place, taken at 07:00
    e.issue("HT", at(20))                                  # 1003
    assert e.people_ahead(t) == 0                          # where it would stand now
    events, _ = e.check_in("1001", at(30))
    assert [ev["type"] for ev in events] == ["ticket_checked_in"] and t.state == "waiting"
    assert [w.label for w in e.waiting("HT")] == ["1001", "1003"]
    assert t.checked_in_at == "2026-11-23T00:30:00.000+00:00"
    assert e.check_in("1001", at(31)) == ([], e.check_in("1001", at(31))[1])   # again: nothing


def test_a_number_not_checked_in_in_time_lapses_and_its_phone_goes(site, tmp_path):
    store = Store(tmp_path / "c.db")
    e = Engine(site, store.load_state())
    store.commit(*e.reserve("HT", "0912345678", at(0), device="web"))
    assert store.db.execute("SELECT phone FROM phones").fetchall() == [("0912345678",)]
    events, changes = e.tick(at(59))
    assert events == []
    events, changes = e.tick(at(60))                       # remote_window_min = 60
    assert [ev["type"] for ev in events] == ["ticket_lapsed"]
    store.commit(events, changes)
    assert store.ticket(TODAY, "1001")["state"] == "lapsed"
    assert store.db.execute("SELECT count(*) FROM phones").fetchone()[0] == 0
    # gone from the engine's open tickets (the centre answers ticket_lapsed from the store)
    refused("unknown_ticket", e.check_in, "1001", at(61))
    assert e.lapsed_error("1001").details["message_vi"].startswith("Số này đã quá 60 phút")
    store.close()


def test_a_number_checked_in_after_its_window_lapses_first(site):
    """No tick came between: the check-in itself finds it lapsed."""
    e = Engine(site)
    e.reserve("HT", "0912345678", at(0))
    refused("ticket_lapsed", e.check_in, "1001", at(75))
    events, _ = e.tick(at(75))
    assert [ev["type"] for ev in events] == ["ticket_lapsed"]


def test_limits_per_phone_per_service_and_the_switch(site):
    e = Engine(web(site, remote_per_service_per_day=3))
    e.reserve("HT", "0912345678", at(0))
    e.reserve("CT", "+84 912 345 678", at(1))              # the same phone, written otherwise
    err = refused("phone_limit", e.reserve, "HT", "0912345678", at(2))
    assert err.details == {"message_vi": "Mỗi số điện thoại chỉ được lấy 2 số mỗi ngày "
                                         "(gồm số lấy từ xa và lịch hẹn).", "limit": 2}
    assert "0912345678" not in err.message                 # refusals are logged: no phone in them
    # a booking counts too, on its own day
    refused("phone_limit", e.create_booking, "HT", TODAY, "09:00", "0912345678", at(3))
    e.create_booking("HT", "2026-11-24", "09:00", "0912345678", at(3))
    e.reserve("HT", "0987000001", at(4))
    e.reserve("HT", "0987000002", at(4))
    err = refused("remote_full", e.reserve, "HT", "0987000003", at(5))
    assert err.details["limit"] == 3                       # three numbers from afar of HT today
    e.reserve("CT", "0987000003", at(5))                   # CT has its own three
    refused("bad_phone", e.reserve, "CT", "024 3826 1234", at(6))
    refused("not_offered", Engine(web(site, remote_tickets=False)).reserve, "HT", "0912345678", at(0))
    refused("not_offered", Engine(web(site, remote_services=("CT",))).reserve, "HT", "0912345678", at(0))
    refused("not_offered", Engine(replace(site, web=None)).reserve, "HT", "0912345678", at(0))
    refused("unknown_service", e.reserve, "ZZ", "0912345678", at(0))


def test_a_phone_whose_number_was_served_may_take_another(site):
    """The limit counts what a phone holds: once a number ends its phone is erased, so
    the centre cannot count it any more (docs/web.md, privacy)."""
    e = Engine(site)
    e.reserve("HT", "0912345678", at(0))
    e.reserve("HT", "0912345678", at(1))
    e.check_in("1001", at(5))
    e.sign_in(1, "a", at(6))
    e.call_next(1, at(7))
    e.done(1, at(8))
    assert [k for k, (p, _) in e.state.phones.items()] == [("ticket", 2)]
    e.reserve("HT", "0912345678", at(9))


# -- bookings ------------------------------------------------------------------------------------

def test_slots_fill_up_and_a_cancelled_place_is_free_again(site):
    e = Engine(site)
    e.create_booking("HT", TODAY, "09:00", "0912000001", at(0))
    e.create_booking("HT", TODAY, "09:00", "0912000002", at(0))
    err = refused("slot_full", e.create_booking, "HT", TODAY, "09:00", "0912000003", at(0))
    assert err.details["message_vi"] == "Khung giờ này đã hết chỗ. Vui lòng chọn khung giờ khác."
    slots = {s.time: (taken, ok) for s, taken, ok in e.slots("HT", TODAY, at(0))}
    assert slots["09:00"] == (2, False) and slots["09:30"] == (0, True)
    e.cancel_booking(1, at(1), phone="0912 000 001")
    assert e.state.bookings[1].state == "cancelled" and ("booking", 1) not in e.state.phones
    e.create_booking("HT", TODAY, "09:00", "0912000003", at(2))
    refused("booking_closed", e.cancel_booking, 1, at(3))
    refused("not_your_booking", e.cancel_booking, 2, at(3), phone="0987654321")


def test_what_cannot_be_booked(site):
    e = Engine(site)
    refused("slot_past", e.create_booking, "HT", TODAY, "07:30", "0912000001", at(31))   # began at 07:30
    refused("no_slot", e.create_booking, "HT", TODAY, "07:45", "0912000001", at(0))
    refused("no_slot", e.create_booking, "HT", "2026-11-29", "08:00", "0912000001", at(0))  # a Sunday
    refused("bad_day", e.create_booking, "HT", "2026-11-30", "08:00", "0912000001", at(0))  # 7 days ahead
    refused("bad_day", e.create_booking, "HT", "2026-11-22", "08:00", "0912000001", at(0))
    refused("bad_day", e.create_booking, "HT", "2026-02-30", "08:00", "0912000001", at(0))
    refused("not_offered", e.create_booking, "DD", TODAY, "08:00", "0912000001", at(0))   # no slots for DD
    refused("bad_phone", e.create_booking, "HT", TODAY, "08:00", "12345", at(0))
    # the last slot of the furthest day is bookable
    e.create_booking("HT", "2026-11-27", "16:00", "0912000001", at(0))


def test_a_booking_checks_in_within_its_window_and_becomes_a_ticket(site):
    e = Engine(site)
    e.create_booking("HT", TODAY, "09:00", "0912000001", at(0))
    e.create_booking("HT", "2026-11-24", "09:00", "0912000002", at(0))
    err = refused("too_early", e.check_in_booking, 1, at(120 - 16), device="kiosk-1")   # 08:44
    assert err.details["opens"] == "2026-11-23T01:45:00.000+00:00"                      # 08:45 local
    refused("wrong_day", e.check_in_booking, 2, at(120))
    events, changes = e.check_in_booking(1, at(120 - 15), device="kiosk-1")
    assert [ev["type"] for ev in events] == ["ticket_issued", "booking_checked_in"]
    t = e.state.tickets[e.state.bookings[1].ticket_id]
    assert (t.label, t.origin, t.booking, t.state, t.device) == ("1001", "booking", 1, "waiting", "kiosk-1")
    assert t.order_at == "2026-11-23T02:00:00.000+00:00"                                # its slot's start
    assert ("booking", 1) in e.state.phones                                            # kept while it lives
    assert e.check_in_booking(1, at(106))[0] == []                                     # again: nothing
    refused("unknown_booking", e.check_in_booking, 99, at(106))


def test_a_booking_not_checked_in_lapses_after_its_slot_and_grace(site, tmp_path):
    store = Store(tmp_path / "c.db")
    e = Engine(site, store.load_state())
    store.commit(*e.create_booking("HT", TODAY, "09:00", "0912000001", at(0)))
    store.commit(*e.create_booking("HT", "2026-11-24", "09:00", "0912000002", at(0)))
    assert e.tick(at(120 + 30 + 14))[0] == []                          # 09:44: still in its window
    events, changes = e.tick(at(120 + 30 + 15))                        # 09:45: slot end + 15 min
    assert [(ev["type"], ev["booking_id"]) for ev in events] == [("booking_lapsed", 1)]
    store.commit(events, changes)
    refused("booking_lapsed", e.check_in_booking, 1, at(170))
    assert store.booking(1)["state"] == "lapsed" and store.booking(1)["ended_at"]
    # the next day: tomorrow's booking lives on; one left booked from an earlier day lapses at midnight
    events, changes = e.tick(datetime(2026, 11, 24, 17, 0, tzinfo=timezone.utc))   # 00:00 on the 25th
    assert [ev["type"] for ev in events] == ["booking_lapsed", "day_started"]
    store.commit(events, changes)
    assert store.db.execute("SELECT count(*) FROM phones").fetchone()[0] == 0
    store.close()


def test_bookings_are_served_first_with_a_cap_that_lets_walk_ins_in(site):
    """booking_max_consecutive = 2: two bookings, then a walk-in; a priority citizen
    neither counts in nor breaks the run (walk-ins are never starved between the two)."""
    e = Engine(site)
    for i, hhmm in enumerate(["08:00", "08:00", "08:30", "08:30"]):
        e.create_booking("HT", TODAY, hhmm, f"091200000{i}", at(0))
    for i in range(3):
        e.issue("HT", at(40 + i))                                      # walk-ins W1 W2 W3: 1001-1003
    for b in range(1, 5):
        e.check_in_booking(b, at(80 + b))                               # bookings B1-B4: 1004-1007
    e.issue("HT", at(90), priority="cao_tuoi")                          # P: 1008
    e.sign_in(1, "a", at(91))
    called = []
    for i in range(8):
        _, ch = e.call_next(1, at(92 + i))
        called.append(ch.calls[0]["ticket"])
        e.start(1, at(92 + i))
    # P first (priority), then B1 B2 (run 2), W1 (cap), B3 B4, W2, W3
    assert called == ["1008", "1004", "1005", "1001", "1006", "1007", "1002", "1003"]
    assert e.state.counters[1].booking_run == 0


def test_the_booking_cap_is_per_counter_and_without_web_nothing_changes(site):
    e = Engine(web(site, booking_max_consecutive=1))
    e.create_booking("HT", TODAY, "08:00", "0912000001", at(0))
    e.create_booking("HT", TODAY, "08:00", "0912000002", at(0))
    e.issue("HT", at(40))
    e.check_in_booking(1, at(50))
    e.check_in_booking(2, at(51))
    e.sign_in(1, "a", at(52))
    e.sign_in(2, "b", at(52))
    assert e.call_next(1, at(53))[1].calls[0]["ticket"] == "1002"      # a booking
    assert e.call_next(2, at(53))[1].calls[0]["ticket"] == "1003"      # counter 2 has its own run
    e.issue("HT", at(54))
    e.start(1, at(54))
    assert e.call_next(1, at(55))[1].calls[0]["ticket"] == "1001"      # counter 1: the cap of 1


def test_a_refused_command_leaves_no_half_booking(site, tmp_path):
    store = Store(tmp_path / "c.db")
    e = Engine(site, store.load_state())
    store.commit(*e.create_booking("HT", TODAY, "09:00", "0912000001", at(0)))
    store.commit(*e.create_booking("HT", TODAY, "09:00", "0912000002", at(0)))
    before = (store.booking_rows(), store.db.execute("SELECT * FROM phones").fetchall())
    for phone in ("0912000003", "0912000004"):
        refused("slot_full", e.create_booking, "HT", TODAY, "09:00", phone, at(0))
    refused("bad_phone", e.create_booking, "HT", TODAY, "09:30", "0243", at(0))
    events, changes = e.tick(at(1))
    store.commit(events, changes)
    assert (store.booking_rows(), store.db.execute("SELECT * FROM phones").fetchall()) == before
    assert e.state.next_booking_id == 3 and len(e.state.phones) == 2
    store.close()


def test_tables_equal_the_replayed_log_and_a_reloaded_engine_goes_on(site, tmp_path):
    store = Store(tmp_path / "c.db")
    e = Engine(site, store.load_state())

    def do(r):
        store.commit(*r)

    do(e.reserve("HT", "0912000001", at(0)))
    do(e.reserve("CT", "0912000002", at(1)))
    do(e.create_booking("HT", TODAY, "08:00", "0912000003", at(2)))
    do(e.create_booking("HT", "2026-11-24", "08:00", "0912000004", at(2)))
    do(e.create_booking("CT", TODAY, "08:30", "0912000005", at(2)))
    do(e.cancel_booking(3, at(3)))
    do(e.check_in("1001", at(20)))
    do(e.check_in_booking(1, at(50)))
    do(e.sign_in(1, "a", at(51)))
    do(e.call_next(1, at(52)))
    do(e.done(1, at(53)))
    do(e.tick(at(75)))                                  # 1 from afar lapses (CT 2001)
    bookings: dict = {}
    _, tickets, counters = replay(site, store.events(), bookings)
    assert tickets == store.ticket_rows() and bookings == store.booking_rows()
    stored = store.counter_rows()
    assert {n: counters[n] for n in stored} == stored
    assert {r["state"] for r in tickets.values()} >= {"lapsed", "waiting", "done"}
    # a new engine from the tables: the same holds, the same phones, numbering goes on
    again = Engine(site, store.load_state())
    # left: 1001 from afar, waiting; tomorrow's booking (the others were served, lapsed, cancelled)
    assert again.state.phones == e.state.phones == {("ticket", 1): ("0912000001", TODAY),
                                                     ("booking", 2): ("0912000004", "2026-11-24")}
    assert again.state.remote_taken == {(TODAY, "HT"): 1, (TODAY, "CT"): 1}
    assert again.state.next_booking_id == 4 and set(again.state.bookings) == {1, 2, 3}
    events, _ = again.create_booking("HT", TODAY, "08:30", "0912000006", at(80))
    assert events[-1]["booking"]["id"] == 4
    store.close()


# -- reports ------------------------------------------------------------------------------------

def test_the_report_counts_numbers_from_afar_and_bookings_per_service(site, tmp_path):
    from motcua import report_output as out
    from motcua.reports import Period, build_report
    store = Store(tmp_path / "c.db")
    e = Engine(site, store.load_state())

    def do(r):
        store.commit(*r)

    do(e.reserve("HT", "0912000001", at(0)))                        # checked in, served
    do(e.reserve("HT", "0912000002", at(1)))                        # lapses
    do(e.reserve("CT", "0912000003", at(2)))                        # checked in, waits
    do(e.create_booking("HT", TODAY, "08:00", "0912000004", at(3)))  # checked in
    do(e.create_booking("HT", TODAY, "08:30", "0912000005", at(3)))  # lapses
    do(e.create_booking("CT", TODAY, "08:30", "0912000006", at(3)))  # cancelled
    do(e.create_booking("CT", "2026-11-24", "08:30", "0912000007", at(3)))  # another day: not in the period
    do(e.cancel_booking(3, at(4)))
    do(e.check_in("1001", at(10)))
    do(e.check_in("2001", at(11)))
    do(e.check_in_booking(1, at(50)))
    do(e.sign_in(1, "a", at(51)))
    do(e.call_next(1, at(52)))                                      # the booking's 1003 first
    do(e.start(1, at(53)))
    do(e.call_next(1, at(70)))                                      # 1001 (taken at 07:00, checked in 07:10)
    do(e.done(1, at(75)))
    do(e.tick(at(140)))                                             # 1002 and the 08:30 booking lapse
    report = build_report(store.db, site, Period(date(2026, 11, 23), date(2026, 11, 23)), now=at(141))
    h = report.holds
    assert (h.remote, h.remote_checked_in, h.remote_lapsed, h.remote_open) == (3, 2, 1, 0)
    assert (h.booked, h.booking_checked_in, h.booking_lapsed, h.booking_cancelled, h.booking_open) == (3, 1, 1, 1, 0)
    per = {code: f for code, _, f in report.holds_by_service}
    assert per["HT"].remote == 2 and per["CT"].booking_cancelled == 1
    assert report.queue.lapsed == 1 and report.queue.served == 2
    # the number from afar waited from its check-in (07:10), not from when it was taken (07:00)
    assert sorted(report.queue.waits) == [pytest.approx(120, abs=0.01), pytest.approx(3600, abs=0.01)]
    text = out.format_text(report)
    assert "LẤY SỐ TỪ XA VÀ LỊCH HẸN" in text and "quá giờ, không đến" in text
    # the table per service, with the terminal's short headings, fits a terminal
    table = text[text.index("Lấy số từ xa và lịch hẹn theo lĩnh vực"):].split("\n\n")[0]
    assert "Đã XN" in table and "Không đến" in table and max(map(out.display_width, table.splitlines()[2:])) <= 120
    rows = {r[3]: r for r in out.csv_rows(report) if r[0] == "remote" and r[1] == "" and r[5] == "current"}
    assert rows["booking_lapsed"][-2] == 1 and rows["remote_lapsed"][-2] == 1
    store.close()


def test_the_store_zeroes_what_it_deletes_and_cuts_its_wal_back(tmp_path):
    """How an erased phone leaves no copy in the file (docs/store.md)."""
    store = Store(tmp_path / "c.db")
    assert store.db.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert store.db.execute("PRAGMA journal_size_limit").fetchone()[0] == 0
    store.close()


# -- the kiosk and the counter: what a scanned link asks for ----------------------------------------

def test_the_kiosk_reads_a_phone_link_as_a_check_in(site):
    from motcua import web_tokens
    from motcua.kiosk import model as kiosk
    w = site.web
    link = web_tokens.ticket_link(w.base_url, w.secret, site.id, TODAY, "1001")
    scan = kiosk.read_scan(link + "\r\n", site.id)
    assert scan.kind == "check_in_ticket" and web_tokens.verify_token(w.secret, scan.token).ref == "1001"
    scan = kiosk.read_scan(web_tokens.booking_link(w.base_url, w.secret, site.id, TODAY, 7), site.id)
    assert scan.kind == "check_in_booking"
    other = kiosk.read_scan(web_tokens.ticket_link(w.base_url, w.secret, "hcc-other", TODAY, "1001"), site.id)
    assert other.kind == "error" and other.error == kiosk.NOT_OURS
    assert kiosk.read_scan("MOTCUA-T:hcc-demo:2026-11-23:1001", site.id).kind == "ticket"   # the older QR
    text = kiosk.check_in_error("too_early", {"opens": "2026-11-23T02:45:00.000+00:00"}, "vi", site.tz)
    assert text == "Chưa đến giờ hẹn. Mời quý khách quay lại xác nhận từ 09:45."
    assert kiosk.check_in_error("too_early", {"opens": "2026-11-23T02:45:00.000+00:00"}, "en", site.tz) == \
        "It is too early for your appointment. Please confirm from 09:45."
    assert kiosk.check_in_error(None, None, "vi", site.tz) == kiosk.LOOKUP_UNAVAILABLE
    assert kiosk.check_in_error("weird", None, "vi", site.tz) == kiosk.CHECK_IN_REFUSED
    assert kiosk.ticket_state_text({"state": "reserved"}, "vi").startswith("Số lấy từ xa")
    assert kiosk.ticket_state_text({"state": "lapsed"}, "vi") == kiosk.CHECK_IN_ERRORS["ticket_lapsed"]


def test_the_counter_checks_in_a_scanned_link_instead_of_attaching_it(site):
    from motcua import web_tokens
    from motcua.counter import model as counter
    w = site.web
    key, args = counter.check_in_of(web_tokens.booking_link(w.base_url, w.secret, site.id, TODAY, 3) + "\n")
    assert key == "check_in_booking" and counter.action_of(key).op == "booking.check_in"
    assert web_tokens.verify_token(w.secret, args["token"]).booking == 3
    assert counter.check_in_of("000.00.31.H12-261123-0001") is None          # a dossier code stays a dossier
    assert counter.check_in_of("MOTCUA-D:000.00.31.H12-261123-0001:6EANS4YC33") is None
    assert counter.done_text("check_in_booking", {"ticket": "1004", "checked_in": True,
                                                  "booking": {"time": "08:30"}}, {}) == \
        "Đã xác nhận lịch hẹn 08:30: cấp số 1004, được gọi trước trong khung giờ hẹn."
    assert counter.done_text("check_in_ticket", {"ticket": "1001", "checked_in": True}, {}) == \
        "Đã xác nhận số 1001 lấy từ xa: vào hàng chờ theo giờ lấy số."
    assert "không cần xác nhận lại" in counter.done_text("check_in_ticket", {"ticket": "1001"}, {})
    assert counter.error_text("too_early").startswith("Chưa đến giờ")

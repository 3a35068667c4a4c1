"""The live tile (motcua.shipping.tile) from plain rows, against figures worked
out by hand."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from motcua.config import load_site
from motcua.dossiers.model import Apology, Dossier, Step
from motcua.shipping.tile import counter_state, live_tile
from support.broker import EXAMPLE

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# 09:30 in Hanoi on 7 December 2026
NOW = datetime(2026, 12, 7, 2, 30, 0, tzinfo=timezone.utc)


def ticket(id, state, issued, day="2026-12-07"):
    return {"id": id, "day": day, "state": state, "issued_at": issued}


def rating(status, level, weight, counter=1, hour=9):
    return {"status": status, "level": level, "weight": weight, "counter": counter, "officer": "a",
            "service": "HT", "hour": hour}


def dossier(code, due, steps, apology=None):
    return Dossier(code=code, procedure_code="1.001193", procedure_name="Đăng ký khai sinh", field="Hộ tịch",
                   applicant_name="", received_at=datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc),
                   due_at=date.fromisoformat(due), status=steps[-1][0],
                   steps=tuple(Step(s, datetime.fromisoformat(at)) for s, at in steps), apology=apology)


def test_the_tile_against_hand_computation():
    site = load_site(EXAMPLE)
    levels = site.rating_levels                       # weights 100, 66.7, 33.3, 0
    tickets = [
        ticket(1, "waiting", "2026-12-07T02:16:00.000+00:00"),   # waited 14 min = 840 s: the longest
        ticket(2, "waiting", "2026-12-07T02:25:30.000+00:00"),
        ticket(3, "called", "2026-12-07T02:10:00.000+00:00"),    # not waiting any more
        ticket(4, "serving", "2026-12-07T02:00:00.000+00:00"),
        ticket(5, "done", "2026-12-07T01:30:00.000+00:00"),
        ticket(6, "done", "2026-12-07T01:35:00.000+00:00"),
        ticket(7, "no_show", "2026-12-07T01:40:00.000+00:00"),   # not served
        ticket(8, "done", "2026-12-06T08:00:00.000+00:00", day="2026-12-06"),  # yesterday
    ]
    counters = [
        {"number": 1, "state": "open", "ticket_id": 3, "updated_at": "2026-12-07T02:29:00.000+00:00"},
        {"number": 2, "state": "open", "ticket_id": 4, "updated_at": "2026-12-07T02:05:00.000+00:00"},
        {"number": 3, "state": "paused", "ticket_id": None, "updated_at": "2026-12-07T02:01:00.000+00:00"},
        {"number": 4, "state": "open", "ticket_id": None, "updated_at": "2026-12-07T01:00:00.000+00:00"},
        {"number": 99, "state": "open", "ticket_id": None, "updated_at": None},  # no longer in the site
    ]
    ratings = [rating("counted", 1, 100.0), rating("counted", 2, 66.7), rating("counted", 4, 0.0),
               rating("duplicate", 1, 100.0), rating("unprompted", 4, 0.0)]
    dossiers = [
        dossier("A", "2026-12-04", [("received", "2026-12-01T01:00:00+00:00"),
                                    ("processing", "2026-12-01T02:00:00+00:00")]),             # late, no apology
        dossier("B", "2026-12-04", [("received", "2026-12-01T01:00:00+00:00")],
                Apology("Cần xác minh", date(2026, 12, 10), datetime(2026, 12, 3, tzinfo=timezone.utc))),
        dossier("C", "2026-12-04", [("received", "2026-12-01T01:00:00+00:00"),
                                    ("result_ready", "2026-12-05T01:00:00+00:00")]),           # clock stopped
        dossier("D", "2026-12-07", [("received", "2026-12-01T01:00:00+00:00")]),                # due today
        dossier("E", "2026-12-02", [("received", "2026-12-01T01:00:00+00:00"),
                                    ("supplement_requested", "2026-12-01T05:00:00+00:00")]),   # waits on the citizen
        dossier("F", "2026-12-06", [("received", "2026-12-01T01:00:00+00:00")]),                # late since today
    ]
    tile = live_tile(centre=site.id, name=site.name, now=NOW, tz=TZ, tickets=tickets, counters=counters,
                     ratings=ratings, rating_levels=levels, dossiers=dossiers, unshipped=42,
                     counter_numbers=[1, 2, 3, 4, 5])
    assert tile == {
        "v": 1, "centre": site.id, "name": site.name, "at": "2026-12-07T02:30:00.000+00:00",
        "waiting": 2, "longest_wait_s": 840, "served_today": 2,
        "counters": [
            {"counter": 1, "state": "called", "since": "2026-12-07T02:29:00.000+00:00"},
            {"counter": 2, "state": "serving", "since": "2026-12-07T02:05:00.000+00:00"},
            {"counter": 3, "state": "paused", "since": "2026-12-07T02:01:00.000+00:00"},
            {"counter": 4, "state": "open", "since": "2026-12-07T01:00:00.000+00:00"},
            {"counter": 5, "state": "closed", "since": None},          # never opened: no row yet
        ],
        # (100 + 66.7 + 0) / 3 = 55.57 -> 55.6; the duplicate and unprompted presses not counted
        "ratings_today": 3, "satisfaction_index": 55.6,
        "late_without_apology": 2, "unshipped": 42,
    }


def test_a_quiet_centre():
    site = load_site(EXAMPLE)
    tile = live_tile(centre=site.id, name=site.name, now=NOW, tz=TZ, tickets=[], counters=[], ratings=[],
                     rating_levels=site.rating_levels, dossiers=[], unshipped=0)
    assert (tile["waiting"], tile["longest_wait_s"], tile["served_today"], tile["counters"],
            tile["ratings_today"], tile["satisfaction_index"], tile["late_without_apology"]) == \
        (0, 0, 0, [], 0, None, 0)


def test_today_is_the_sites_local_day():
    """At 23:30 UTC it is already the next morning in Vietnam: a ticket served then
    is today's; one of the UTC date is yesterday's."""
    site = load_site(EXAMPLE)
    late_evening_utc = datetime(2026, 12, 6, 23, 30, tzinfo=timezone.utc)
    tickets = [ticket(1, "done", "2026-12-06T23:10:00.000+00:00", day="2026-12-07"),
               ticket(2, "done", "2026-12-06T09:00:00.000+00:00", day="2026-12-06")]
    tile = live_tile(centre=site.id, name=site.name, now=late_evening_utc, tz=TZ, tickets=tickets, counters=[],
                     ratings=[], rating_levels=site.rating_levels, dossiers=[], unshipped=0)
    assert tile["served_today"] == 1


def test_a_counter_holding_a_finished_ticket_is_open():
    assert counter_state({"state": "open", "ticket_id": 9}, {9: "done"}) == "open"
    assert counter_state({"state": "open", "ticket_id": 9}, {}) == "open"
    assert counter_state({"state": "closed", "ticket_id": None}, {}) == "closed"

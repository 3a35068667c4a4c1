"""The province board's view-model (motcua.province.board.model), without a screen
or a broker: tiles in, ordered tiles, alerts, a summary and pages out, with the
time passed in."""
from __future__ import annotations

import json
import math
import unicodedata
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motcua.province.board import model
from motcua.province.board.model import BadTile, Heard, Pager, Rules

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
RULES = Rules(offline_after_s=120, counter_closed_s=30 * 60, counter_paused_s=20 * 60, wait_s=45 * 60,
              hours=((time(7, 30), time(11, 30)), (time(13, 30), time(17, 0))), days=(0, 1, 2, 3, 4, 5), tz=TZ)
NOW = datetime(2026, 12, 9, 9, 40, tzinfo=TZ).astimezone(timezone.utc)     # a Wednesday morning
EVENING = datetime(2026, 12, 9, 19, 0, tzinfo=TZ).astimezone(timezone.utc)
DOC_TILE = {"v": 1, "centre": "phuong-thuan-hoa", "name": "Phường Thuận Hóa", "at": "2026-12-07T02:31:05.120+00:00",
            "waiting": 12, "longest_wait_s": 840, "served_today": 140,
            "counters": [{"counter": 1, "state": "serving", "since": "2026-12-07T02:30:11.000+00:00"},
                         {"counter": 2, "state": "paused", "since": "2026-12-07T02:01:00.000+00:00"}],
            "ratings_today": 57, "satisfaction_index": 86.2, "late_without_apology": 2, "unshipped": 0}


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat()


def tile(at=NOW, waiting=3, longest_min=5.0, counters=(("serving", 2),), ratings=10, index=88.0, late=0, **extra):
    return model.parse_tile({"v": 1, "centre": "x", "name": "X", "at": iso(at), "waiting": waiting,
                             "longest_wait_s": longest_min * 60, "served_today": 4,
                             "counters": [{"counter": i + 1, "state": s, "since": iso(at - timedelta(minutes=m))}
                                          for i, (s, m) in enumerate(counters)],
                             "ratings_today": ratings, "satisfaction_index": index,
                             "late_without_apology": late, **extra})


def view(heard=None, now=NOW, connected_for=60.0, name="Xã Phú Vinh", lost_at=None):
    return model.centre_view("xa-phu-vinh", name, heard, now, RULES, connected_for, lost_at)


def kinds(v) -> list[str]:
    return [a["kind"] for a in v["alerts"]]


# -- reading what the board hears --------------------------------------------------------------

def test_the_documented_tile_is_read():
    t = model.parse_tile(json.dumps(DOC_TILE).encode())
    assert t["waiting"] == 12 and t["longest_wait_s"] == 840.0 and t["ratings_today"] == 57
    assert t["satisfaction_index"] == 86.2 and t["late_without_apology"] == 2
    assert t["at"] == datetime(2026, 12, 7, 2, 31, 5, 120000, tzinfo=timezone.utc)
    assert [(c["counter"], c["state"]) for c in t["counters"]] == [(1, "serving"), (2, "paused")]


@pytest.mark.parametrize("change, says", [
    ({"v": 2}, "version 2"), ({"v": True}, "version"), ({"at": "yesterday"}, "not an ISO 8601 time"),
    ({"at": "2026-12-07T02:31:05"}, "no time zone"), ({"waiting": -1}, "waiting -1 is not a count"),
    ({"waiting": "3"}, "not a count"), ({"counters": [{"counter": 1, "state": "lunch"}]}, "needs a state"),
    ({"satisfaction_index": 130}, "between 0 and 100"), ({"longest_wait_s": -5}, "seconds")])
def test_a_bad_tile_says_why(change, says):
    with pytest.raises(BadTile, match=says):
        model.parse_tile(DOC_TILE | change)


@pytest.mark.parametrize("payload", [b"{", b"[1, 2]", b"\xff\xfe"])
def test_a_tile_that_is_not_a_json_object_is_refused(payload):
    with pytest.raises(BadTile):
        model.parse_tile(payload)


def test_missing_figures_count_as_none():
    t = model.parse_tile({"v": 1, "at": iso(NOW)})
    assert (t["waiting"], t["longest_wait_s"], t["counters"], t["satisfaction_index"]) == (0, 0.0, [], None)


def test_the_bridge_notification():
    assert model.parse_link(b"1") is True and model.parse_link(b"0") is False
    assert model.parse_link(b"") is None and model.parse_link(b"up") is None


def test_a_retained_tile_is_as_old_as_it_says_a_live_one_as_when_it_came():
    t = tile(at=NOW - timedelta(minutes=10))
    assert model.heard_at(NOW, t, retained=True) == NOW - timedelta(minutes=10)
    assert model.heard_at(NOW, t, retained=False) == NOW
    ahead = tile(at=NOW + timedelta(minutes=3))        # a centre whose clock runs ahead
    assert model.heard_at(NOW, ahead, retained=True) == NOW


# -- words and numbers ---------------------------------------------------------------------------

def test_numbers_and_durations_in_vietnamese():
    assert model.vn_int(1234567) == "1.234.567" and model.vn_int(7) == "7"
    assert model.vn_decimal(86.25) in ("86,2", "86,3") and model.vn_decimal(1234.5) == "1.234,5"
    assert model.duration(30) == "dưới 1 phút" and model.duration(14 * 60 + 59) == "14 phút"
    assert model.duration(65 * 60) == "1 giờ 5 phút" and model.duration(120 * 60) == "2 giờ"
    assert model.duration(3 * 86400) == "3 ngày"
    assert model.short_duration(14 * 60) == "14′" and model.short_duration(89 * 60) == "1 g 29′"


def test_a_long_name_is_shortened_by_its_kind_never_cut():
    assert model.short_name("Phường Thuận Hóa") == "P. Thuận Hóa"
    assert model.short_name("Xã Quảng Điền Phong Hải Đông") == "X. Quảng Điền Phong Hải Đông"
    assert model.short_name("Đặc khu Lý Sơn") == "ĐK. Lý Sơn" and model.short_name("Thị trấn Sịa") == "TT. Sịa"
    decomposed = unicodedata.normalize("NFD", "Phường Vỹ Dạ")
    assert model.short_name(decomposed) == "P. Vỹ Dạ"
    assert view(name=decomposed)["name"] == "Phường Vỹ Dạ"


# -- office hours -------------------------------------------------------------------------------

def at(day: int, h: int, m: int = 0) -> datetime:
    return datetime(2026, 12, day, h, m, tzinfo=TZ)


def test_office_seconds_count_only_office_hours():
    def office(a, b):
        return model.office_seconds(a, b, RULES.hours, RULES.days, TZ) / 60
    assert office(at(9, 7, 0), at(9, 7, 40)) == 10              # from 07:30
    assert office(at(9, 11, 0), at(9, 14, 0)) == 60             # 30 before lunch, 30 after
    assert office(at(8, 16, 0), at(9, 8, 0)) == 90              # yesterday's last hour, this morning's half
    assert office(at(12, 8, 0), at(14, 8, 0)) == 3.5 * 60 * 2 + 30  # Saturday (a working day here), no Sunday,
    #                                                                  Monday from 07:30
    assert office(at(9, 8, 0), at(9, 8, 0)) == 0 and office(at(9, 9, 0), at(9, 8, 0)) == 0
    # a counter closed for a month counts eight days at most: every threshold is under one
    assert office(at(1, 8, 0) - timedelta(days=30), at(9, 8, 0)) < 8 * 8 * 60


# -- one centre ----------------------------------------------------------------------------------

def test_a_centre_never_heard_shows_no_data_and_is_an_alert_after_the_grace():
    v = view(None, connected_for=3)
    assert v["status"] == "nodata" and v["status_word"] == "Chưa có dữ liệu" and v["status_icon"] == "○"
    assert kinds(v) == []       # the retained tiles may still be on their way
    v = view(None, connected_for=model.NODATA_GRACE_S + 1)
    assert kinds(v) == ["offline"] and v["alerts"][0]["text"] == "Chưa gửi dữ liệu nào"
    assert kinds(view(None, now=EVENING, connected_for=600)) == []    # outside office hours: no alert


def test_the_bridge_down_is_offline_at_once_with_when_it_was_last_heard():
    t = tile(at=NOW - timedelta(minutes=2))
    v = view(Heard(t, NOW - timedelta(minutes=2), link=False))
    assert v["status"] == "offline" and v["status_icon"] == "✕" and kinds(v) == ["offline"]
    assert v["alerts"][0]["text"] == "Mất kết nối, lần cuối 09:38" and v["last_text"] == "09:38"
    yesterday = Heard(tile(at=NOW - timedelta(days=1)), NOW - timedelta(days=1), link=False)
    assert view(yesterday)["alerts"][0]["text"] == "Mất kết nối, lần cuối 08/12 09:40"


def test_a_centre_silent_longer_than_offline_after_s_is_offline_counting_while_the_board_listened():
    t = tile(at=NOW - timedelta(seconds=121))
    heard = Heard(t, NOW - timedelta(seconds=121), link=True)
    assert view(heard)["status"] == "offline"
    assert view(Heard(t, NOW - timedelta(seconds=119), link=True))["status"] == "online"
    # the board itself cut off: silence counts up to when it last listened
    recent = Heard(t, NOW - timedelta(seconds=100), link=True)
    assert view(recent, connected_for=None, lost_at=NOW - timedelta(seconds=60))["status"] == "online"
    assert view(recent, connected_for=None, lost_at=None)["status"] == "online"
    long_silent = Heard(t, NOW - timedelta(seconds=400), link=True)     # silent before the board was cut off
    assert view(long_silent, connected_for=None, lost_at=NOW - timedelta(seconds=60))["status"] == "offline"


def test_an_offline_centre_raises_no_alerts_from_its_stale_figures_but_keeps_its_late_dossiers():
    t = tile(at=NOW - timedelta(minutes=5), waiting=9, longest_min=80, counters=(("paused", 90),), late=2)
    v = view(Heard(t, NOW - timedelta(minutes=5), link=False))
    assert kinds(v) == ["offline", "late"]
    assert v["longest_wait_s"] == 80 * 60       # as last heard, not made longer


def test_a_wait_past_the_threshold_is_a_red_alert_and_goes_on_counting():
    t = tile(waiting=4, longest_min=44)
    v = view(Heard(t, NOW))
    assert kinds(v) == [] and v["level"] == 0
    later = NOW + timedelta(seconds=61)                       # nobody told the board otherwise: still waiting
    v = view(Heard(t, NOW), now=later)
    assert kinds(v) == ["wait"] and v["level"] == model.RED and v["wait_alert"]
    assert v["alerts"][0]["text"] == "Có người chờ 45 phút" and v["longest_text"] == "45′"
    assert kinds(view(Heard(tile(waiting=0, longest_min=0), NOW), now=later)) == []
    # the board cut off 30 s after the tile: the wait counts on to then, not through the outage
    v = view(Heard(t, NOW), now=later, connected_for=None, lost_at=NOW + timedelta(seconds=30))
    assert kinds(v) == [] and v["longest_wait_s"] == 44 * 60 + 30


def test_counters_paused_or_closed_too_long_in_office_hours():
    t = tile(counters=(("serving", 3), ("paused", 21), ("paused", 25), ("closed", 29), ("open", 1)))
    v = view(Heard(t, NOW))
    assert kinds(v) == ["counter_paused"] and v["level"] == model.AMBER
    assert v["alerts"][0]["text"] == "Quầy 2, 3 tạm dừng, lâu nhất 25 phút"
    assert (v["open"], v["paused"], v["closed"]) == (2, 2, 1) and v["paused_alert"] and not v["closed_alert"]
    v = view(Heard(tile(counters=(("closed", 31),)), NOW))
    assert v["alerts"][0]["text"] == "Quầy 1 đóng 31 phút" and v["closed_alert"]
    # the same at seven in the evening: no alert (only the figures)
    evening = tile(at=EVENING, counters=(("closed", 120), ("paused", 90)))
    assert kinds(view(Heard(evening, EVENING), now=EVENING)) == []


def test_a_counter_closed_overnight_counts_from_the_opening_of_the_office():
    since = at(8, 17, 5)                                    # closed at the end of yesterday
    for minutes, alert in ((29, False), (31, True)):
        now = (at(9, 7, 30) + timedelta(minutes=minutes)).astimezone(timezone.utc)
        t = model.parse_tile({"v": 1, "at": iso(now), "counters": [{"counter": 4, "state": "closed",
                                                                    "since": iso(since)}]})
        assert ("counter_closed" in kinds(view(Heard(t, now), now=now))) is alert


def test_durations_use_the_centres_own_clock_for_its_own_times():
    # a centre 10 minutes ahead: its tile says `at` 09:50 and the pause since 09:30 (20 min);
    # the board hears it at 09:40 and counts 20 minutes, not 10
    skew = timedelta(minutes=10)
    t = tile(at=NOW + skew, counters=(("paused", 20),))
    v = view(Heard(t, NOW))
    assert kinds(v) == ["counter_paused"] and v["alerts"][0]["text"] == "Quầy 1 tạm dừng 20 phút"


def test_late_dossiers_without_an_apology():
    v = view(Heard(tile(late=3), NOW))
    assert kinds(v) == ["late"] and v["alerts"][0]["text"] == "3 hồ sơ trễ hạn chưa xin lỗi"
    assert v["late"] == 3 and v["level"] == model.AMBER


def test_only_todays_satisfaction_counts():
    v = view(Heard(tile(ratings=57, index=86.2), NOW))
    assert (v["ratings"], v["index_text"], v["ratings_text"]) == (57, "86,2", "57")
    old = tile(at=NOW - timedelta(days=1), ratings=57, index=86.2)
    v = view(Heard(old, NOW - timedelta(days=1), link=False))
    assert (v["ratings"], v["index"], v["index_text"]) == (0, None, "—")


# -- the board --------------------------------------------------------------------------------

def board(heard: dict, now=NOW, connected_for=60.0):
    centres = [(cid, f"Xã {cid.title()}") for cid in sorted(heard)]
    return model.board(centres, heard, now, RULES, connected_for)


def test_worst_first_red_then_amber_then_the_longest_waits():
    heard = {
        "a": Heard(tile(waiting=2, longest_min=10), NOW),
        "b": Heard(tile(waiting=5, longest_min=30), NOW),
        "c": Heard(tile(late=1), NOW),
        "d": Heard(tile(waiting=9, longest_min=50), NOW),
        "e": Heard(tile(), NOW, link=False),
        "f": Heard(tile(waiting=9, longest_min=50, late=1), NOW),
        "g": None,
    }
    b = board({k: v for k, v in heard.items() if v}, connected_for=60)
    assert model.worst_first(b.views.values()) == ["f", "d", "e", "c", "b", "a"]
    assert [(a["centre"], a["kind"]) for a in b.alerts] == [
        ("d", "wait"), ("f", "wait"), ("e", "offline"), ("c", "late"), ("f", "late")]


def test_the_summary_weighs_each_index_by_its_ratings():
    b = board({"a": Heard(tile(ratings=30, index=90.0, waiting=4, longest_min=12), NOW),
               "b": Heard(tile(ratings=10, index=70.0, waiting=6, longest_min=20), NOW),
               "c": Heard(tile(ratings=0, index=None), NOW),
               "d": Heard(tile(waiting=50, longest_min=80, ratings=10, index=88.0), NOW, link=False)})
    s = b.summary
    # (30 × 90 + 10 × 70 + 10 × 88) / 50: the offline centre's ratings of today still count
    assert s["index"] == pytest.approx(85.6) and s["index_text"] == "85,6" and s["ratings"] == 50
    assert (s["online"], s["offline"], s["nodata"], s["centres"]) == (3, 1, 0, 4)
    # the offline centre's stale figures left out
    assert s["waiting"] == 4 + 6 + 3 and s["longest_text"] == "20 phút"
    assert s["office"] is True and s["alerts"] == 1


# -- pages ------------------------------------------------------------------------------------

def test_pages_turn_by_themselves_and_show_every_centre_once_a_cycle():
    order = [f"c{i:03d}" for i in range(170)]
    p = Pager(page_s=8, per_page=20)
    assert p.tick(0.0, lambda: order, 0, 10)
    assert p.visible() == order[:20] and (p.page, p.pages) == (0, 9)
    assert not p.tick(7.9, lambda: order, 0, 10)
    seen = list(p.visible())
    for k in range(1, 9):
        assert p.tick(8.0 * k, lambda: order, 0, 10) and p.page == k
        seen += p.visible()
    assert sorted(seen) == order and len(p.visible()) == 10          # the last page: the 10 left
    assert p.tick(72.0, lambda: order, 0, 10) and p.page == 0 and p.visible() == order[:20]


def test_a_centre_that_gets_an_alert_is_on_the_next_page():
    order = [f"c{i:03d}" for i in range(100)]
    p = Pager(page_s=8, per_page=10)
    p.tick(0, lambda: order, 0, 10)
    worse = ["c077"] + [c for c in order if c != "c077"]                # c077 just got an alert
    p.tick(8, lambda: worse, 0, 10)
    assert p.visible()[0] == "c077"
    # c005 was shown on page 1: it gets its alert now and waits for the next cycle's first page
    worst = ["c005"] + [c for c in worse if c != "c005"]
    p.tick(16, lambda: worst, 0, 10)
    assert "c005" not in p.visible()


def test_alert_pages_turn_with_the_tiles():
    p = Pager(page_s=8, per_page=10)
    alerts = list(range(25))
    p.tick(0, lambda: ["a"], 25, 10)
    pages = []
    for k in range(4):
        shown, page, n = p.alert_slice(alerts, 10)
        pages.append((shown[0], page, n))
        p.tick(8.0 * (k + 1), lambda: ["a"], 25, 10)
    assert pages == [(0, 0, 3), (10, 1, 3), (20, 2, 3), (0, 0, 3)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 200), per_page=st.integers(1, 40), seed=st.randoms())
def test_every_centre_is_seen_once_a_cycle_whatever_the_order_does(n, per_page, seed):
    ids = [f"c{i}" for i in range(n)]
    p = Pager(page_s=1, per_page=per_page)
    p.tick(0, lambda: ids, 0, 1)
    seen = list(p.visible())
    for k in range(1, p.pages):
        shuffled = ids[:]
        seed.shuffle(shuffled)                   # the order changes between every two pages
        p.tick(float(k), lambda order=shuffled: order, 0, 1)
        seen += p.visible()
    assert sorted(seen) == sorted(ids)
    assert p.pages == math.ceil(n / per_page)


# -- layout -----------------------------------------------------------------------------------

def test_a_720p_board_has_bigger_letters_and_fewer_tiles():
    big, small = model.grid(1920, 1080), model.grid(1280, 720)
    assert big["u"] == pytest.approx(10.8) and big["per_page"] == 20
    assert small["u"] * model.SMALLEST_TEXT_U >= model.MIN_TEXT_PX            # never under 17 px
    assert small["u"] / 720 > big["u"] / 1080 and small["per_page"] < big["per_page"]
    for g in (big, small):
        assert g["tile_w"] >= model.TILE_MIN_W_U * g["u"] and g["tile_h"] >= model.TILE_H_U * g["u"]

"""The displays' choices without Kivy or a broker (display/model.py): which
counters the hall board shows and how big, the last calls, which waiting lines
fit, the counter display's view and flashing, and the discreet link notice."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime

from motcua.display import model

NAMES = {"HT": "Hộ tịch", "CT": "Chứng thực", "DD": "Đất đai"}


def test_the_model_does_not_import_kivy():
    code = ("import sys; import motcua.display.model; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kivy', 'paho')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_hall_shows_open_and_paused_counters_only():
    counters = [
        {"counter": 1, "state": "open", "ticket": {"ticket": "1001", "service": "HT", "state": "called"}},
        {"counter": 2, "state": "closed", "ticket": None},
        {"counter": 3, "state": "open", "ticket": None},
        {"counter": 8, "state": "paused", "ticket": None, "pause_reason": "Họp giao ban"},
    ]
    tiles = model.hall_tiles(counters, NAMES)
    assert [t["counter"] for t in tiles] == [1, 3, 8]
    assert tiles[0] == {"counter": 1, "name": "Quầy 1", "state": "open", "number": "1001",
                        "service": "Hộ tịch", "reason": ""}
    assert tiles[1]["number"] == "" and tiles[1]["service"] == ""
    assert tiles[2]["state"] == "paused" and tiles[2]["reason"] == "Họp giao ban"


def test_the_newest_call_and_the_three_before_it():
    calls = [{"seq": 9 - i, "ticket": str(1005 - i), "counter": i + 1, "recall": i == 1} for i in range(5)]
    assert model.newest_call(calls)["seq"] == 9 and model.newest_call([]) == {}
    assert model.previous_rows(calls) == [
        {"number": "1004", "counter": 2, "recall": True},
        {"number": "1003", "counter": 3, "recall": False},
        {"number": "1002", "counter": 4, "recall": False}]
    assert model.newest_changed({}, calls[0])
    assert not model.newest_changed(dict(calls[0]), calls[0])
    assert model.newest_changed(calls[0], {**calls[0], "recall": True})  # same seq, changed call


def test_waiting_lines_keep_the_longest_in_site_order_when_they_do_not_fit():
    services = [{"service": "HT", "name_vi": "Hộ tịch", "waiting": 2, "open_counters": 1, "estimated_wait_s": 300},
                {"service": "CT", "name_vi": "Chứng thực", "waiting": 0, "open_counters": 0},
                {"service": "DD", "name_vi": "Đất đai", "waiting": 0, "open_counters": 2},
                {"service": "XD", "waiting": 7, "open_counters": 0}]
    rows = model.waiting_rows(services, fit=10)
    assert [r["name"] for r in rows] == ["Hộ tịch", "Đất đai", "XD"]   # nobody serves or waits: left out
    assert rows[0] == {"name": "Hộ tịch", "waiting": 2, "wait_s": 300, "lines": 1}
    assert [r["name"] for r in model.waiting_rows(services, fit=2)] == ["Hộ tịch", "XD"]
    assert model.waiting_rows(services, fit=0) == []
    # a long name takes two lines, and the room of 1.7 rows
    two = model.waiting_rows(services, fit=2.5, lines=lambda name: 2 if name == "XD" else 1)
    assert [(r["name"], r["lines"]) for r in two] == [("XD", 2)]
    assert [r["name"] for r in model.waiting_rows(services, fit=2.8, lines=lambda n: 2 if n == "XD" else 1)] == [
        "Hộ tịch", "XD"]


def test_the_tile_grid_makes_the_numbers_as_big_as_they_fit():
    cols, font = model.counter_grid(1, 1000, 500)
    assert cols == 1 and font > 0
    cols6, font6 = model.counter_grid(6, 1200, 600)
    assert cols6 in (2, 3) and font6 < model.counter_grid(1, 1200, 600)[1]
    assert model.counter_grid(12, 1200, 600, digits=6)[1] < model.counter_grid(12, 1200, 600, digits=4)[1]
    tiles = [{"number": "1001"}, {"number": ""}, {"number": "2001"}]
    cols, font = model.tile_layout(tiles, 1920, 1080, 10.8, False, notice=False)
    _, font_ticker = model.tile_layout(tiles, 1920, 1080, 10.8, False, notice=True)
    assert font <= 10.8 * 24 and font_ticker <= font   # the ticker takes room from the tiles


def test_the_counter_display_and_when_it_flashes():
    c = {"counter": 4, "state": "open", "name": "", "officer_name": "Nguyễn Văn A",
         "ticket": {"ticket": "2001", "service": "CT", "state": "serving"}}
    view = model.counter_view(c, "Quầy 4", NAMES)
    assert view == {"name": "Quầy 4", "state": "open", "number": "2001", "service": "Chứng thực",
                    "reason": "", "officer": "Nguyễn Văn A", "serving": True}
    assert model.counter_view(None, "Quầy 4", NAMES)["state"] == "closed"
    assert model.counter_flash(view, [{"counter": 4}], 4) is True
    assert model.counter_flash(view, [{"counter": 5}], 4) is None     # someone else's call
    closed = model.counter_view({"state": "closed"}, "Quầy 4", NAMES)
    assert model.counter_flash(closed, [], 4) is False


def test_the_link_notice_is_discreet_and_the_date_is_vietnamese():
    assert model.link_text(False, True) == "Đang kết nối lại với hệ thống…"
    assert model.link_text(True, False).startswith("Hệ thống tạm gián đoạn")
    assert model.link_text(True, None) == ""       # the centre's availability not known yet
    assert model.link_text(True, True) == ""
    assert model.date_text(datetime(2026, 11, 23)) == "Thứ Hai, 23/11/2026"
    assert model.date_text(datetime(2026, 11, 29)) == "Chủ Nhật, 29/11/2026"
    assert model.minutes(0) == "—" and model.minutes(20) == "~1 phút" and model.minutes(600) == "~10 phút"
    assert model.minutes(59 * 60) == "~59 phút" and model.minutes(65 * 60) == "~1 giờ 5 phút"
    assert model.minutes(80 * 60 + 50) == "~1 giờ 20 phút" and model.minutes(119 * 60) == "~2 giờ"

"""The displays (issue 4): the call-sequence logic on its own, then the real hall
board and counter display under Xvfb against a real broker and centre, with the
voice rendering to WAV (no sound card in tests). Screenshots go to
test-output/screens/display-*.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from display.link import CallTracker, notice_payload
from motcua import protocol

from ui_support import first_ask, run_scenario

HALL_SIZES = ["1920x1080", "1280x720"]
needs_x = pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (apt-get install xvfb)")


# -- the seq rule, without a broker ------------------------------------------------------

def call(seq, ticket="1001", counter=1):
    return {"seq": seq, "ticket": ticket, "service": "HT", "counter": counter, "recall": False,
            "at": "2026-11-23T10:00:00.000+00:00", "priority": None, "counter_name": f"Quầy {counter}"}


def hall(call_seq, recent=()):
    return {"call_seq": call_seq, "recent_calls": list(recent), "counters": [], "services": []}


def test_start_from_the_hall_summary_does_not_announce_old_calls():
    t = CallTracker()
    assert t.on_hall(hall(2, [call(2, "1002"), call(1, "1001")])) == []
    assert t.last == 2
    assert [c["seq"] for c in t.recent()] == [2, 1]
    assert t.on_call(call(2, "1002")).announce is False      # already in recent_calls
    v = t.on_call(call(3, "1003"))
    assert (v.announce, v.resync, v.reason) == (True, False, "next")
    assert [c["seq"] for c in t.recent()] == [3, 2, 1]


def test_duplicates_are_dropped_and_a_recall_is_a_new_call():
    t = CallTracker()
    t.on_hall(hall(0))
    assert t.on_call(call(1)).announce
    v = t.on_call(call(1))
    assert (v.announce, v.resync, v.reason) == (False, False, "duplicate")
    recall = {**call(2), "recall": True}  # same ticket, new seq
    assert t.on_call(recall).announce


def test_a_gap_announces_the_call_and_asks_for_the_state_without_speaking_the_missed():
    t = CallTracker()
    t.on_hall(hall(5, [call(5, "1005")]))
    v = t.on_call(call(8, "1008"))
    assert (v.announce, v.resync, v.reason) == (True, True, "gap")
    # the re-read can bring the summary from just before the centre's next one: not a reset
    assert t.on_hall(hall(5, [call(5, "1005")])) == [] and t.last == 8
    # then the summary of the batch fills the missed calls in, silently
    assert t.on_hall(hall(8, [call(8, "1008"), call(7, "1007"), call(6, "1006"), call(5, "1005")])) == []
    assert [c["seq"] for c in t.recent()] == [8, 7, 6, 5]
    assert t.on_call(call(7, "1007")).reason == "duplicate"   # late, out of order, known


def test_a_centre_reset_starts_again_and_announces_the_held_call():
    t = CallTracker()
    t.on_hall(hall(40, [call(40, "1040", 2)]))
    v = t.on_call(call(1, "1001", 3))                          # seq back to 1: new database
    assert (v.announce, v.resync, v.reason) == (False, True, "backwards")
    rescued = t.on_hall(hall(1, [call(1, "1001", 3)]))
    assert [c["ticket"] for c in rescued] == ["1001"] and t.last == 1
    assert [c["seq"] for c in t.recent()] == [1]
    assert t.on_call(call(2, "1002")).reason == "next"


def test_an_empty_summary_behind_us_is_a_reset():
    t = CallTracker()
    t.on_hall(hall(9, [call(9)]))
    t.on_hall(hall(0))
    assert t.last == 0 and t.recent() == []
    assert t.on_call(call(1, "1001")).announce


def test_a_burst_in_order_is_announced_each_once_and_recent_keeps_ten():
    t = CallTracker()
    t.on_hall(hall(0))
    verdicts = [t.on_call(call(s, str(1000 + s))) for s in range(1, 21)]
    verdicts += [t.on_call(call(s, str(1000 + s))) for s in (5, 20, 13)]  # redelivered
    assert [v.announce for v in verdicts] == [True] * 20 + [False] * 3
    assert [c["seq"] for c in t.recent()] == list(range(20, 10, -1))


def test_a_summary_ahead_of_us_moves_last_so_missed_calls_are_never_spoken_late():
    t = CallTracker()
    t.on_hall(hall(2, [call(2, "1002"), call(1, "1001")]))
    t.on_hall(hall(4, [call(4, "1004"), call(3, "1003"), call(2, "1002")]))  # back from an outage
    assert t.last == 4
    assert not t.on_call(call(3, "1003")).announce and not t.on_call(call(4, "1004")).announce
    assert t.on_call(call(5, "1005")).reason == "next"


def test_malformed_events_are_ignored():
    t = CallTracker()
    t.on_hall(hall(0))
    for bad in ({"ticket": "1"}, {**call(1), "seq": "1"}, {**call(1), "seq": True}, {**call(1), "seq": 0}):
        assert not t.on_call(bad).announce
    assert t.last == 0


def test_notice_payload():
    data = protocol.decode(notice_payload("  Nghỉ   lễ 2/9 \n"), 10000)
    assert data["text"] == "Nghỉ lễ 2/9" and data["set_at"].endswith("+00:00")
    with pytest.raises(ValueError, match="at most 500"):
        notice_payload("x" * 501)


def test_the_player_falls_back_to_render_only_without_audio(monkeypatch, tmp_path):
    from display.app import choose_player
    monkeypatch.delenv("MOTCUA_DISPLAY_PLAYER", raising=False)
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no pulse or pipewire socket here
    import display.app as appmod
    monkeypatch.setattr(appmod, "_alsa_has_card", lambda: False)
    assert choose_player() is None
    assert choose_player("none") is None
    assert choose_player("aplay") == ["aplay", "-q"]
    monkeypatch.setattr(appmod, "_alsa_has_card", lambda: True)
    if shutil.which("aplay") or shutil.which("play"):
        assert choose_player()[0] in ("aplay", "play")


# -- the real app under Xvfb -----------------------------------------------------------------

def drive(site, scenario: str, size: str, board: str = "hall", device: str = "display-hall",
          timeout: int = 90, on_signal=None) -> dict:
    return run_scenario("display", site, device, scenario, size, timeout=timeout, on_signal=on_signal,
                        env={"MOTCUA_DISPLAY_BOARD": board, "MOTCUA_DISPLAY_PLAYER": "none"})

def check_wavs(history: list[dict]) -> None:
    """Each announcement rendered to a WAV as long as the pack makes it."""
    from display.speller import announcement_words
    from display.voice import VoicePack, wav_duration
    pack = VoicePack()
    for a in history:
        assert a["state"] == "done", a
        assert not a["skipped"], a
        assert Path(a["wav"]).exists(), a
        expected = pack.render(announcement_words(a["ticket"], a["counter"], pauses=True)).duration
        assert abs(wav_duration(a["wav"]) - expected) < 0.01 and abs(a["duration"] - expected) < 0.01
        assert 2.0 < expected < 12.0


@needs_x
@pytest.mark.parametrize("size", HALL_SIZES)
def test_hall_board_shows_and_announces_calls(site, centre, size):
    r = drive(site, "hall_call", size)
    c = r["checks"]
    tiles = {t["counter"]: t for t in c["tiles"]}
    assert tiles[1]["number"] == "1001" and tiles[1]["service"] == "Hộ tịch"
    assert tiles[3]["number"] == "2001" and tiles[5]["number"] == "3001"
    assert tiles[8]["state"] == "paused" and tiles[8]["reason"] == "Họp giao ban"
    assert 2 not in tiles  # closed counters are left out
    assert c["newest"]["ticket"] == "3001" and c["newest"]["counter"] == 5
    assert c["flash"] is True
    assert c["previous"] == ["2001", "1001"]
    assert c["number_font_ratio"] >= 0.12 and c["newest_font_ratio"] >= 0.12
    waiting = {s["name"]: s for s in c["waiting"]}
    assert waiting["Hộ tịch"]["waiting"] == 1 and waiting["Đăng ký kinh doanh"]["waiting"] == 1
    assert c["notice"].startswith("Trung tâm làm việc từ 7 giờ 30")
    assert c["overflow"] == []
    h = c["history"]
    assert [(a["ticket"], a["counter"], a["recall"]) for a in h] == [
        ("1001", 1, False), ("2001", 3, False), ("3001", 5, False), ("1001", 1, True)]  # a recall is spoken again
    assert h[0]["text"].startswith("Mời công dân có số thứ tự")
    check_wavs(h)


@needs_x
def test_a_burst_of_20_calls_is_shown_and_announced_each_once_in_order(site, centre):
    r = drive(site, "hall_burst", "1920x1080")
    c = r["checks"]
    assert c["burst_seconds"] < 1.0, f"the burst took {c['burst_seconds']:.2f} s, not within one second"
    expected = list(range(c["start_seq"] + 1, c["start_seq"] + 21))
    assert c["drawn"] == expected
    assert c["board_calls"] == expected[::-1][:10]
    assert c["open_tiles"] == 10 and c["number_font_ratio"] >= 0.12   # readable from 10 m, 10 counters open
    assert c["overflow"] == []
    h = c["history"]
    assert [a["seq"] for a in h] == expected
    check_wavs(h)


@needs_x
def test_a_late_started_board_shows_the_state_at_once_and_speaks_nothing_old(site, centre, connect):
    admin = connect("admin")
    first_ask(admin, "ticket.issue", service="HT")
    for _ in range(2):
        admin.request("ticket.issue", service="HT")
    admin.request("counter.sign_in", counter=1, officer="nguyenvana")
    admin.request("counter.next", counter=1)
    admin.request("counter.start", counter=1)
    admin.request("counter.next", counter=1)
    admin.request("counter.sign_in", counter=4, officer="tranthib")
    admin.request("counter.next", counter=4)
    r = drive(site, "hall_late_start", "1280x720")
    c = r["checks"]
    assert c["seconds_to_state"] < 3
    tiles = {t["counter"]: t["number"] for t in c["tiles"]}
    assert tiles == {1: "1002", 4: "1003"}
    assert c["calls"] == [3, 2, 1]
    assert c["history"] == []


@needs_x
def test_broker_restart_the_board_is_right_again_within_2_s(site, workdir):
    # not the `broker` fixture (nor `connect`, which uses it): this test owns the broker
    from conftest import Broker
    from motcua.mqtt import DeviceClient
    from motcua.service import CentreService
    b = Broker(site, workdir / "broker").start()
    centre = CentreService(site).start()
    counter = DeviceClient(site, "counter-1").start()
    kiosk = DeviceClient(site, "kiosk-1").start()
    try:
        assert centre.connected.wait(10) and counter.wait_connected(10) and kiosk.wait_connected(10)
        first_ask(kiosk, "ticket.issue", service="HT")
        counter.request("counter.sign_in", counter=1, officer="nguyenvana")

        def on_signal(name, out):
            if name == "stop-broker":
                b.stop()
                time.sleep(1.0)
                b.start()
                (out / "broker-up").write_text(str(time.time()))
                assert counter.wait_connected(5), "the counter did not reconnect"
                deadline = time.monotonic() + 5
                while True:  # the centre may need a moment more than the counter
                    try:
                        counter.request("counter.next", counter=1, timeout=1)
                        break
                    except Exception:
                        if time.monotonic() > deadline:
                            raise
        r = drive(site, "hall_broker_restart", "1280x720", on_signal=on_signal)
    finally:
        counter.stop()
        kiosk.stop()
        centre.stop()
        b.stop()
    c = r["checks"]
    assert "kết nối" in c["status_while_down"]
    assert c["seconds_after_restart"] <= 2.0
    assert c["status_after"] == ""
    assert [(a["ticket"], a["counter"]) for a in c["history"]] == [("1001", 1)]


@needs_x
def test_duplicates_gaps_and_out_of_order_events(site, centre):
    r = drive(site, "hall_crafted_events", "1280x720")
    c = r["checks"]
    crafted = [(a["ticket"], a["seq"]) for a in c["history_crafted"]]
    assert crafted == [("1901", 1), ("1903", 3)]       # the duplicate and the missed one are not spoken
    assert c["after_crafted"] == [3, 2, 1]
    # the real centre's seq 1 is behind our 3: a reset, and its call is announced
    assert c["last_after_reset"] == 1
    assert c["calls_after_reset"][0] == [1, "1001"]
    assert [(a["ticket"], a["seq"]) for a in c["history"]] == [("1901", 1), ("1903", 3), ("1001", 1)]


@needs_x
def test_centre_offline_shows_a_discreet_indicator_and_keeps_the_board(site, centre):
    def on_signal(name, out):
        if name == "stop-centre":
            centre.stop()
            (out / "stop-centre.done").write_text(str(time.time()))
    r = drive(site, "hall_centre_offline", "1920x1080", on_signal=on_signal)
    c = r["checks"]
    assert "gián đoạn" in c["status"]
    assert {t["counter"]: t["number"] for t in c["tiles"]} == {1: "1001"}


@needs_x
@pytest.mark.parametrize("size", ["1920x1080", "1080x1920", "1280x720"])
def test_counter_display_number_pause_and_closed(site, centre, size):
    r = drive(site, "counter_states", size, board="counter:1", device="display-counter-1")
    c = r["checks"]
    assert c["closed_caption"] == "Đóng"
    assert c["number"] == "1001" and c["service"] == "Hộ tịch"
    assert c["caption"] == "Mời công dân có số"
    assert c["number_font_ratio"] >= 0.3
    assert c["overflow_called"] == [] and c["overflow_paused"] == []
    assert c["paused_caption"] == "Tạm dừng"
    assert c["paused_reason"] == "Nghỉ giữa giờ, quay lại lúc 10 giờ"
    assert c["history"] == []  # counter displays do not speak (speaks is off in the site file)


# -- the command line ---------------------------------------------------------------------

def test_notice_command_sets_and_clears_the_retained_notice(site, broker, connect, capsys):
    import queue
    from motcua.cli import main
    assert main(["--site", str(site.path), "notice", "Chiều", "nay", "nghỉ", "từ", "16", "giờ"]) == 0
    assert "Chiều nay nghỉ từ 16 giờ" in capsys.readouterr().out
    got: queue.Queue = queue.Queue()
    display = connect("display-hall")  # starts after the notice: it is retained
    display.subscribe(protocol.Topics(site.id).notice, lambda t, d: got.put(d))
    assert got.get(timeout=5)["text"] == "Chiều nay nghỉ từ 16 giờ"
    assert main(["--site", str(site.path), "notice", "--clear"]) == 0
    assert got.get(timeout=5)["text"] == ""


def test_notice_command_needs_text_and_an_admin(site, broker, capsys):
    from motcua.cli import main
    assert main(["--site", str(site.path), "notice"]) == 2
    assert "give the notice text" in capsys.readouterr().err
    assert main(["--site", str(site.path), "notice", "--device", "kiosk-1", "x"]) == 2
    assert "only admin devices may" in capsys.readouterr().err


def test_display_command_explains_bad_arguments(site, capsys):
    from motcua.cli import main
    assert main(["--site", str(site.path), "display", "counter"]) == 2
    assert "needs the counter number" in capsys.readouterr().err
    assert main(["--site", str(site.path), "display", "counter", "99"]) == 2
    assert "no counter 99" in capsys.readouterr().err
    assert main(["--site", str(site.path), "display", "hall", "--device", "kiosk-1"]) == 2
    assert "not a display device" in capsys.readouterr().err


def _satisfied(levels: list[int]) -> str:
    total = sum(levels)
    return f"{100 * (levels[0] + levels[1]) / total:.0f}%" if total else "—"


@needs_x
@pytest.mark.parametrize("size", HALL_SIZES)
def test_managers_board_shows_todays_satisfaction_per_counter_and_service(site, centre, size):
    r = drive(site, "tallies_board", size, board="tallies", device="display-manager")
    c = r["checks"]
    names = [k.name for k in site.counters]
    # nothing rated yet: every counter listed with nothing, and the board says so
    assert c["empty_summary"] == "Chưa có đánh giá nào hôm nay"
    assert c["rows_empty"] == [[n, 0] for n in names]
    # a busy day: the board's rows are the centre's figures, in the site's order
    busy, board = c["busy"], c["busy_board"]
    assert [row["label"] for row in board["counters"]] == names
    for k, row in zip(site.counters, board["counters"]):
        levels = busy["by_counter"][str(k.number)]["levels"]
        assert row["levels"] == levels and row["count"] == sum(levels)
        assert row["satisfied_text"] == _satisfied(levels)
        assert abs(sum(row["fractions"]) - 1) < 1e-9
    rated = [s for s in site.services if s.code in busy["by_service"]]
    assert [row["label"] for row in board["services"]] == [s.name_vi for s in rated]
    assert board["overall"]["count"] == busy["counted"] == sum(sum(v["levels"]) for v in busy["by_counter"].values())
    assert f"{busy['index']:.0f}" in c["busy_summary"] and f"{busy['counted']}" in c["busy_summary"]
    assert (board["duplicate"], board["unprompted"]) == (3, 5)
    assert c["overflow_busy"] == [] and all(c["rows_on_screen"])
    # two real presses at counter 1 (most satisfied, then neutral) through pad, centre and broker
    real = c["real_board"]
    row1 = real["counters"][0]
    assert row1["levels"] == [1, 0, 1, 0] and row1["satisfied_text"] == "50%"
    weights = [lv.weight for lv in site.rating_levels]
    assert row1["index"] == pytest.approx((weights[0] + weights[2]) / 2, abs=0.05)
    assert all(row["count"] == 0 for row in real["counters"][1:])
    assert [row["label"] for row in real["services"]] == ["Hộ tịch"]
    assert real["overall"]["count"] == 2 and (real["duplicate"], real["unprompted"]) == (0, 0)


def test_tallies_board_rows_take_tallies_of_today_only(site):
    from display.tallies import board_rows, level_colours
    from motcua import ratings as rt
    rows = [{"status": "counted", "counter": 2, "officer": "a", "service": "HT", "hour": 9,
             "level": lv, "weight": site.rating_levels[lv - 1].weight} for lv in (1, 1, 2, 4)]
    t = rt.tally(rows, site.rating_levels, "2026-11-23")
    today = board_rows(t, site, "2026-11-23")
    row2 = today["counters"][1]
    assert row2["levels"] == [2, 1, 0, 1] and row2["satisfied_text"] == "75%" and row2["count"] == 4
    assert today["overall"]["count"] == 4 and today["has_data"]
    assert board_rows(t, site, "2026-11-24")["overall"]["count"] == 0  # yesterday's are not today's
    assert board_rows(None, site, "2026-11-24")["counters"][0]["index_text"] == "—"
    assert level_colours(4)[0] != level_colours(4)[-1] and len(level_colours(2)) == 2


def test_tallies_board_needs_a_display_of_its_own(site, capsys):
    from display.app import default_device
    assert default_device(site, "tallies", None) == "display-manager"


@needs_x
@pytest.mark.parametrize("size", HALL_SIZES)
def test_every_counter_open_with_a_notice_keeps_numbers_readable(site, centre, size):
    r = drive(site, "hall_full", size)
    c = r["checks"]
    assert c["counters"] == len(site.counters) >= 12
    assert c["number_font_ratio"] >= 0.12, f"numbers are {c['number_font_ratio']:.1%} of the height"
    assert c["overflow"] == []

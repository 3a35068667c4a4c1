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
from support.officers import register, register_on, sign_in
from support.ui import first_ask, run_scenario

from motcua import protocol

HALL_SIZES = ["1920x1080", "1280x720"]
needs_x = pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (apt-get install xvfb)")


# -- the seq rule, without a broker ------------------------------------------------------





















# -- the real app under Xvfb -----------------------------------------------------------------

def drive(site, scenario: str, size: str, board: str = "hall", device: str = "display-hall",
          timeout: int = 90, on_signal=None) -> dict:
    return run_scenario("display", site, device, scenario, size, timeout=timeout, on_signal=on_signal,
                        env={"MOTCUA_DISPLAY_BOARD": board, "MOTCUA_DISPLAY_PLAYER": "none"})

def check_wavs(history: list[dict]) -> None:
    """Each announcement rendered to a WAV as long as the pack makes it."""
    from motcua.display.speller import announcement_words
    from motcua.display.voice import VoicePack, wav_duration
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
    register(admin, "nguyenvana", "tranthib")
    sign_in(admin, 1, "nguyenvana")
    admin.request("counter.next", counter=1)
    admin.request("counter.start", counter=1)
    admin.request("counter.next", counter=1)
    sign_in(admin, 4, "tranthib")
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
    from support.broker import Broker

    from motcua.mqtt import DeviceClient
    from motcua.service import CentreService
    b = Broker(site, workdir / "broker").start()
    centre = CentreService(site).start()
    counter = DeviceClient(site, "counter-1").start()
    kiosk = DeviceClient(site, "kiosk-1").start()
    try:
        assert centre.connected.wait(10) and counter.wait_connected(10) and kiosk.wait_connected(10)
        first_ask(kiosk, "ticket.issue", service="HT")
        register_on(site, "nguyenvana")
        sign_in(counter, 1, "nguyenvana")

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
@pytest.mark.parametrize("size", HALL_SIZES)
def test_hall_board_with_long_lines_cuts_no_label(site, centre, size):
    """Every counter of the sample site open, nine services waiting, 43 for Hộ tịch
    (over an hour): every service row, its count and its estimate shown whole."""
    r = drive(site, "hall_waiting", size)
    c = r["checks"]
    assert c["cut"] == []
    names = [s["name"] for s in c["waiting"]]
    assert "Hộ tịch" in names and "Bảo trợ xã hội và người có công" in names and len(names) >= 3
    assert any("giờ" in e for e in c["estimates"]), c["estimates"]   # over an hour: in hours and minutes


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






@needs_x
@pytest.mark.parametrize("size", HALL_SIZES)
def test_every_counter_open_with_a_notice_keeps_numbers_readable(site, centre, size):
    r = drive(site, "hall_full", size)
    c = r["checks"]
    assert c["counters"] == len(site.counters) >= 12
    assert c["number_font_ratio"] >= 0.12, f"numbers are {c['number_font_ratio']:.1%} of the height"
    assert c["overflow"] == []

"""The displays' rules without a window: call events in order, de-duplicated,
gaps and resets; notices; the managers' board rows; bad arguments."""
from __future__ import annotations

import shutil

import pytest
from motcua.display.link import CallTracker, notice_payload

from motcua import protocol


def call(seq, ticket="1001", counter=1):
    return {"seq": seq, "ticket": ticket, "service": "HT", "counter": counter, "recall": False,
            "at": "2026-11-23T10:00:00.000+00:00", "priority": None, "counter_name": f"Quầy {counter}"}


def hall(call_seq, recent=()):
    return {"call_seq": call_seq, "recent_calls": list(recent), "counters": [], "services": []}


# -- the seq rule, without a broker ------------------------------------------------------

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
    from motcua.display import choose_player
    monkeypatch.delenv("MOTCUA_DISPLAY_PLAYER", raising=False)
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no pulse or pipewire socket here
    import motcua.display as appmod
    monkeypatch.setattr(appmod, "_alsa_has_card", lambda: False)
    assert choose_player() is None
    assert choose_player("none") is None
    assert choose_player("aplay") == ["aplay", "-q"]
    monkeypatch.setattr(appmod, "_alsa_has_card", lambda: True)
    if shutil.which("aplay") or shutil.which("play"):
        assert choose_player()[0] in ("aplay", "play")


def test_display_command_explains_bad_arguments(site, capsys):
    from motcua.cli import main
    assert main(["--site", str(site.path), "display", "counter"]) == 2
    assert "needs the counter number" in capsys.readouterr().err
    assert main(["--site", str(site.path), "display", "counter", "99"]) == 2
    assert "no counter 99" in capsys.readouterr().err
    assert main(["--site", str(site.path), "display", "hall", "--device", "kiosk-1"]) == 2
    assert "not a display device" in capsys.readouterr().err


def test_tallies_board_rows_take_tallies_of_today_only(site):
    from motcua.display.tallies import board_rows, level_colours

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
    from motcua.devices import display_device
    assert display_device(site, "tallies", None) == "display-manager"

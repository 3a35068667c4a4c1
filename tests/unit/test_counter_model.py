"""The counter terminal's rules without Kivy or a broker (counter/model.py):
which buttons make sense, the timer, the day's figures, the centre's refusals
in Vietnamese, and the outbox that never drops an action silently."""
from __future__ import annotations

import ast
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from motcua.counter import model
from motcua import protocol
from motcua.config import load_site
from motcua.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def site():
    return load_site(ROOT / "examples" / "site.toml")


def counter(state="open", ticket_state=None, **extra):
    t = None if ticket_state is None else {"ticket": "1001", "service": "HT", "state": ticket_state,
                                           "priority": None, "called_at": "2026-11-23T03:00:00.000+00:00",
                                           "started_at": None}
    return {"counter": 1, "state": state, "ticket": t, "updated_at": "2026-11-23T03:00:00.000+00:00", **extra}


def test_the_model_does_not_import_kivy():
    tree = ast.parse((ROOT / "counter" / "model.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m and m.split(".")[0] == "kivy" for m in imported)


def test_actions_have_distinct_f_keys_and_known_operations():
    assert [a.shortcut for a in model.ACTIONS] == [f"F{i}" for i in range(1, 11)]
    assert len({a.keycode for a in model.ACTIONS}) == 10
    assert all(282 <= a.keycode <= 291 for a in model.ACTIONS)   # Kivy's F1..F10
    others = tuple(model.OTHER_ACTIONS.values())   # sign-in, and the dossiers of the visit
    for a in (*model.ACTIONS, *others):
        assert a.op in protocol.OPERATIONS and a.op in protocol.ROLE_OPERATIONS["counter"]
    assert {a.op for a in (*model.ACTIONS, *others)} == protocol.ROLE_OPERATIONS["counter"] - {"ticket.status"}


@pytest.mark.parametrize("view, waiting, expected", [
    (None, None, set()),
    (counter("closed"), 3, set()),
    (counter("open"), 3, {"next", "call", "pause", "close"}),
    (counter("open"), None, {"next", "call", "pause", "close"}),     # figures not known yet: allow
    (counter("open"), 0, {"pause", "close"}),                        # nobody to call
    (counter("open", "called"), 0, {"recall", "start", "done", "no_show", "transfer"}),
    (counter("open", "serving"), 0, {"next", "done", "transfer"}),    # next ends this one even if nobody waits
    (counter("open", "serving"), 4, {"next", "done", "transfer"}),
    (counter("paused"), 5, {"resume", "close"}),
])
def test_enabled_actions_follow_the_counter_state(view, waiting, expected):
    assert model.enabled_actions(view, waiting) == expected


def test_enabled_actions_are_what_the_engine_accepts(site):
    """Every enabled action succeeds on a real engine in that state, and every
    disabled one (nobody waiting aside) is refused by it."""
    def engine_in(state: str) -> Engine:
        e = Engine(site)
        for _ in range(3):
            e.issue("HT", NOW)
        e.sign_in(1, "a", NOW)
        if state in ("called", "serving"):
            e.call_next(1, NOW)
        if state == "serving":
            e.start(1, NOW)
        if state == "paused":
            e.pause(1, "Họp", NOW)
        return e

    calls = {"next": lambda e: e.call_next(1, NOW), "call": lambda e: e.call_ticket(1, "1003", NOW),
             "recall": lambda e: e.recall(1, NOW), "start": lambda e: e.start(1, NOW),
             "done": lambda e: e.done(1, NOW), "no_show": lambda e: e.no_show(1, NOW),
             "transfer": lambda e: e.transfer(1, "CT", NOW), "pause": lambda e: e.pause(1, "Họp", NOW),
             "resume": lambda e: e.resume(1, NOW), "close": lambda e: e.close(1, NOW)}
    from motcua.engine import QueueError
    for state in ("idle", "called", "serving", "paused"):
        view = protocol.counter_view(engine_in(state), 1)
        enabled = model.enabled_actions(view, 3)
        for key, call in calls.items():
            e = engine_in(state)
            try:
                call(e)
                accepted = True
            except QueueError:
                accepted = False
            assert accepted == (key in enabled), (state, key)


def test_newer_keeps_the_latest_view_of_the_counter():
    old = {"updated_at": "2026-11-23T03:00:00.000+00:00"}
    new = {"updated_at": "2026-11-23T03:00:01.000+00:00"}
    assert model.newer(None, old) and model.newer(old, new) and model.newer(new, dict(new))
    assert not model.newer(new, old) and not model.newer(new, None)


def test_timer_runs_from_the_call_then_from_the_start():
    assert model.timer_text(None, NOW) == ""
    called = {"state": "called", "called_at": "2026-11-23T02:59:18.400+00:00", "started_at": None}
    assert model.timer_text(called, NOW) == "Đã gọi, chờ công dân  00:41"
    serving = {"state": "serving", "called_at": "2026-11-23T01:00:00+00:00",
               "started_at": "2026-11-23T01:57:55.000+00:00"}
    assert model.timer_text(serving, NOW) == "Đang phục vụ  1:02:05"
    # a terminal clock a little behind the centre's never shows a negative time
    ahead = {"state": "called", "called_at": (NOW + timedelta(seconds=3)).isoformat()}
    assert model.timer_text(ahead, NOW).endswith("00:00")
    assert model.clock(59.9) == "00:59" and model.clock(600) == "10:00"


def test_satisfaction_from_the_counters_group_of_todays_tallies():
    tallies = {"day": "2026-11-23", "by_counter": {"1": {"count": 4, "levels": [2, 1, 0, 1], "index": 66.7},
                                                   "2": {"count": 1, "levels": [0, 0, 0, 1], "index": 0.0}}}
    s = model.satisfaction(tallies, 1, "2026-11-23")
    assert (s["count"], s["share"], s["index"]) == (4, 75.0, 66.7)
    assert s["text"] == "75% (4 đánh giá · chỉ số 67)"
    assert model.satisfaction(tallies, 2, "2026-11-23")["text"] == "0% (1 đánh giá · chỉ số 0)"
    assert model.satisfaction(tallies, 3, "2026-11-23")["text"] == "Chưa có đánh giá hôm nay"
    # yesterday's tallies (before the centre publishes the new day's) count as none
    assert model.satisfaction(tallies, 1, "2026-11-24")["count"] == 0
    assert model.satisfaction(None, 1, "2026-11-23")["share"] is None


def test_waiting_rows_and_pickable_tickets(site):
    names = {s.code: s.name_vi for s in site.services}
    services = {"HT": {"service": "HT", "waiting": 3, "waiting_priority": 1,
                       "next_tickets": [{"ticket": "1003", "priority": "cao_tuoi"},
                                        {"ticket": "1001", "priority": None}]}}
    rows = model.waiting_rows(["HT", "CT"], services, names)
    assert rows == [{"code": "HT", "name": "Hộ tịch", "waiting": 3, "priority": 1},
                    {"code": "CT", "name": "Chứng thực", "waiting": None, "priority": 0}]
    assert model.waiting_total(rows) is None            # CT not known yet
    assert model.waiting_total(rows[:1]) == 3
    assert [model.waiting_text(r) for r in rows] == ["3 (1 ưu tiên)", "…"]
    assert model.pickable(["HT", "CT"], services, names) == [
        {"ticket": "1003", "service": "HT", "name": "Hộ tịch", "priority": "cao_tuoi"},
        {"ticket": "1001", "service": "HT", "name": "Hộ tịch", "priority": None}]
    targets = model.transfer_targets(site.services, "HT")
    assert "HT" not in [t["code"] for t in targets] and len(targets) == len(site.services) - 1
    assert model.normalise_ticket(" 10 05 ") == "1005"


def test_every_refusal_of_a_counter_operation_has_a_vietnamese_text():
    import re
    src = (ROOT / "motcua" / "engine.py").read_text(encoding="utf-8")
    codes = set(re.findall(r'QueueError\(\s*"([a-z_]+)"', src)) - {"unknown_priority", "service_full"}
    codes |= {"forbidden", "bad_arguments", "unknown_operation"}
    # the dossier code's refusals reach the terminal through counter.attach_dossier (issue 12)
    codes |= {"malformed_code", "malformed_qr", "unverified", "no_secret"}
    missing = codes - set(model.ERROR_TEXTS)
    assert not missing
    assert model.error_text("queue_empty") == "Không có công dân nào đang chờ ở các lĩnh vực của quầy."
    assert model.error_text("weird_code", "msg") == "Hệ thống từ chối (weird_code): msg"


def test_status_after_each_accepted_action(site):
    names = {s.code: s.name_vi for s in site.services}
    called = {"ticket": {"ticket": "1002"}, "finished": [{"ticket": "1001", "state": "done"}]}
    assert model.done_text("next", called, names) == "Xong số 1001. Đã gọi số 1002."
    assert model.done_text("next", {"ticket": None, "finished": []}, names) == "Không còn ai chờ."
    assert model.done_text("no_show", {"ticket": None, "finished": [{"ticket": "1002", "state": "no_show"}]},
                           names) == "Số 1002 vắng mặt."
    assert model.done_text("transfer", {"ticket": None}, names, {"service": "CT"}, "1003") == \
        "Đã chuyển số 1003 sang Chứng thực."


# -- the outbox --------------------------------------------------------------------------

def req(action="next", at=0.0, rid="counter-1-a"):
    return model.Request(action=action, args={}, id=rid, created=at)


def test_with_the_link_up_an_action_goes_at_once_and_ends_with_the_answer():
    box = model.Outbox()
    r = req()
    assert box.add(r, link_ok=True) == "send" and r.state == model.SENDING and r.attempts == 1
    assert box.add(req("recall", rid="other"), link_ok=True) == "refused"    # one at a time
    assert box.answered("someone-else") is None and box.current is r
    assert box.answered(r.id) is r and box.current is None


def test_pressed_while_the_link_is_down_it_waits_and_goes_with_its_id_when_back():
    box = model.Outbox(hold_s=120)
    r = req(at=100.0)
    assert box.add(r, link_ok=False) == "queued"
    assert box.tick(150.0) is False and r.state == model.QUEUED
    assert box.cancel() is r and box.current is None          # the officer may give it up
    r2 = req(at=200.0, rid="counter-1-b")
    box.add(r2, link_ok=False)
    sent = box.link_up(230.0)
    assert sent is r2 and sent.id == "counter-1-b" and r2.state == model.SENDING
    assert box.cancel() is None                                # not while it is on its way


def test_held_too_long_it_waits_for_the_officer_instead_of_going_by_itself():
    box = model.Outbox(hold_s=120)
    r = req(at=0.0)
    box.add(r, link_ok=False)
    assert box.tick(121.0) is True and r.state == model.FAILED and r.why == "expired"
    assert "quá 2 phút" in model.outbox_text(r)
    assert box.link_up(130.0) is None                          # not sent behind the officer's back
    again = box.retry(link_ok=True)
    assert again is r and r.state == model.SENDING and r.id == "counter-1-a"


def test_no_answer_is_resent_with_the_same_id_then_shown_failed():
    box = model.Outbox(max_attempts=3)
    r = req()
    box.add(r, link_ok=True)
    assert box.lost(r.id, link_ok=True) == "send" and r.attempts == 2
    assert box.lost(r.id, link_ok=True) == "send" and r.attempts == 3
    assert box.lost(r.id, link_ok=True) == "failed" and r.why == "timeout"
    assert "Gửi lại" in model.outbox_text(r) and "không bị làm hai lần" in model.outbox_text(r)
    assert box.retry(link_ok=False) is None and r.state == model.QUEUED   # link gone meanwhile: waits
    assert box.link_up(1.0) is r and r.id == "counter-1-a"


def test_no_answer_because_the_link_went_down_waits_for_the_link():
    box = model.Outbox()
    r = req()
    box.add(r, link_ok=True)
    assert box.lost(r.id, link_ok=False) == "queued" and r.state == model.QUEUED
    assert "sẽ tự gửi" in model.outbox_text(r)
    assert box.lost("stale-id", link_ok=True) == "ignored"


def test_request_ids_are_valid_and_unique():
    ids = {model.new_request_id("counter-12") for _ in range(200)}
    assert len(ids) == 200 and all(protocol.REQUEST_ID_RE.match(i) for i in ids)


def test_connection_banner():
    assert model.connection_text(True, True) == ""
    assert model.connection_text(False, True).startswith("Mất kết nối")
    assert model.connection_text(True, False).startswith("Hệ thống trung tâm không hoạt động")
    assert model.connection_text(True, None).startswith("Hệ thống trung tâm")   # nothing heard yet


# -- the command line ---------------------------------------------------------------------

def test_counter_app_command_explains_bad_arguments(monkeypatch, capsys):
    from motcua.cli import main
    example = str(ROOT / "examples" / "site.toml")
    assert main(["--site", example, "counter-app", "99"]) == 2
    assert "no counter 99" in capsys.readouterr().err
    assert main(["--site", example, "counter-app", "1", "--device", "kiosk-1"]) == 2
    assert "cannot act at counter 1" in capsys.readouterr().err
    assert main(["--site", example, "counter-app", "1", "--device", "counter-2"]) == 2
    assert "cannot act at counter 1" in capsys.readouterr().err
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["--site", example, "counter-app", "1"]) == 2
    assert "no screen" in capsys.readouterr().err


def test_the_terminal_runs_as_the_counters_own_device(site):
    from motcua.devices import counter_device
    assert counter_device(site, 3) == "counter-3"
    with pytest.raises(KeyError):
        counter_device(site, 99)


# -- the dossiers of the visit (issue 12) --------------------------------------------------

def test_where_a_scanned_dossier_goes():
    called = counter("open", "called")
    called["ticket"]["dossiers"] = ["000.00.31.H12-261123-0001"]
    assert model.dossier_target(called) == {"ticket": "1001", "dossiers": ["000.00.31.H12-261123-0001"],
                                            "finished": False}
    after = counter("open", finished_ticket={"ticket": "1000", "service": "HT", "dossiers": [],
                                             "until": "2026-11-23T03:01:00.000+00:00"})
    assert model.dossier_target(after) == {"ticket": "1000", "dossiers": [], "finished": True}
    # the current ticket first, even while the pad still asks about the one before
    both = {**called, "finished_ticket": after["finished_ticket"]}
    assert model.dossier_target(both)["ticket"] == "1001"
    assert model.dossier_target(counter("open")) is None
    assert model.dossier_target(counter("closed", finished_ticket=after["finished_ticket"])) is None
    assert model.dossier_target(None) is None
    assert model.dossier_hint(None) == "Hồ sơ: gọi số trước khi gắn"
    assert model.dossier_hint(model.dossier_target(called)) == "Hồ sơ: quét mã QR hoặc gõ mã, Enter"
    assert model.dossier_hint(model.dossier_target(after)) == "Hồ sơ trả cho số 1000"
    assert model.finished_caption(model.dossier_target(after)) == "Vừa xong số 1000 · công dân đang đánh giá"
    assert model.finished_caption(model.dossier_target(called)) == ""


def test_dossier_texts():
    code = "000.00.31.H12-261123-0001"
    assert model.short_code(code) == "261123-0001" and model.short_code("ABC") == "ABC"
    assert model.normalise_dossier("  MOTCUA-D:x:y\r\n") == "MOTCUA-D:x:y"
    known = {"code": code, "ticket": "1001", "known": True, "procedure_code": "1.001193",
             "procedure_name": "Đăng ký khai sinh", "changed": True}
    assert model.done_text("attach_dossier", {"dossier": known}, {}) == \
        f"Đã gắn hồ sơ {code} (Đăng ký khai sinh) vào số 1001."
    assert model.done_text("attach_dossier", {"dossier": {**known, "changed": False}}, {}) == \
        f"Hồ sơ {code} đã gắn với số 1001 rồi."
    unknown = {**known, "known": False, "procedure_code": None, "procedure_name": None}
    assert "chưa có trong dữ liệu của trung tâm" in model.done_text("attach_dossier", {"dossier": unknown}, {})
    assert model.done_text("detach_dossier", {"dossier": known}, {}) == f"Đã gỡ hồ sơ {code} khỏi số 1001."
    assert model.error_text("malformed_code").startswith("Mã hồ sơ không đúng dạng")
    assert model.action_of("attach_dossier").op == "counter.attach_dossier"
    assert model.action_of("detach_dossier").op == "counter.detach_dossier"

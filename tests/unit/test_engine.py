"""The queue engine's rules, one test per rule. Pure Python: no broker, no Kivy."""
from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone

import pytest

from motcua.config import load_site
from motcua.engine import Engine, QueueError, replay

SITE = """
[site]
id = "t"
name = "Trung tâm thử"

[queue]
priority_max_consecutive = 2
default_service_minutes = 5
estimate_window = 3

[[services]]
code = "HT"
name_vi = "Hộ tịch"
name_en = "Civil status"
start = 1001
end = 1999

[[services]]
code = "CT"
name_vi = "Chứng thực"
name_en = "Certification"
prefix = "C"
digits = 3
start = 1
end = 3

[[counters]]
number = 1
services = ["HT"]

[[counters]]
number = 2
services = ["HT", "CT"]

[[counters]]
number = 3
services = ["CT"]

[[devices]]
id = "centre"
role = "centre"
password = "centre-password"

[kiosk]
admin_pin = "97531"

[dossiers]
agency_code = "000.00.31.H12"
secret = "engine-test-dossier-secret"
"""

# 09:00 in Hà Nội is 02:00 UTC.
MORNING = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def site(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(textwrap.dedent(SITE), encoding="utf-8")
    return load_site(path)


class Run:
    """An engine plus a clock and the log of every event, for replay checks."""

    def __init__(self, site):
        self.site = site
        self.engine = Engine(site)
        self.now = MORNING
        self.log: list[dict] = []

    def at(self, **delta) -> "Run":
        self.now += timedelta(**delta)
        return self

    def __getattr__(self, name):
        method = getattr(self.engine, name)

        def call(*args, **kwargs):
            events, changes = method(*args, now=self.now, **kwargs)
            self.log.extend(events)
            return events, changes
        return call

    def issue_label(self, service, priority=None) -> str:
        events, _ = self.issue(service, priority=priority)
        return events[-1]["ticket"]["label"]

    def called(self, counter) -> str:
        c = self.engine.state.counters[counter]
        return self.engine.state.tickets[c.ticket_id].label


@pytest.fixture
def run(site):
    return Run(site)


def test_numbers_follow_each_service_block_and_format(run):
    assert [run.issue_label("HT") for _ in range(3)] == ["1001", "1002", "1003"]
    assert [run.issue_label("CT") for _ in range(2)] == ["C001", "C002"]


def test_a_full_block_is_refused_with_a_fix(run):
    for _ in range(3):
        run.issue_label("CT")
    with pytest.raises(QueueError) as exc:
        run.issue_label("CT")
    assert exc.value.code == "service_full" and "widen the block" in exc.value.message


def test_numbers_restart_at_local_midnight_and_history_stays(run):
    run.now = datetime(2026, 11, 23, 16, 58, tzinfo=timezone.utc)  # 23:58 in Hà Nội
    assert run.issue_label("HT") == "1001"
    assert run.issue_label("HT") == "1002"
    run.now = datetime(2026, 11, 23, 17, 0, 1, tzinfo=timezone.utc)  # 00:00:01 next day
    events, changes = run.issue("HT")
    assert events[-1]["ticket"]["label"] == "1001"
    assert events[-1]["ticket"]["day"] == "2026-11-24"
    # yesterday's waiting tickets are closed as expired, not deleted
    expired = [e for e in events if e["type"] == "ticket_expired"]
    assert len(expired) == 2
    assert {t.state for t in changes.tickets.values() if t.day == "2026-11-23"} == {"expired"}
    _, tickets, _ = replay(run.site, run.log)
    assert len(tickets) == 3


def test_utc_midnight_is_not_the_reset(run):
    run.now = datetime(2026, 11, 23, 23, 59, tzinfo=timezone.utc)  # 06:59 on the 24th locally
    assert run.issue_label("HT") == "1001"
    run.now = datetime(2026, 11, 24, 0, 1, tzinfo=timezone.utc)  # 07:01, same local day
    assert run.issue_label("HT") == "1002"


def test_call_next_takes_the_oldest_from_the_counters_services(run):
    run.sign_in(1, "a")
    run.sign_in(3, "b")
    run.issue_label("CT")
    run.at(seconds=1).issue_label("HT")
    run.at(seconds=1).issue_label("HT")
    run.call_next(1)
    assert run.called(1) == "1001"  # counter 1 does not serve CT, oldest HT
    run.call_next(3)
    assert run.called(3) == "C001"


def test_priority_first_then_ordinary_after_the_cap(run):
    run.sign_in(1, "a")
    ordinary = [run.at(seconds=1).issue_label("HT") for _ in range(2)]
    prio = [run.at(seconds=1).issue_label("HT", priority="cao_tuoi") for _ in range(3)]
    order = []
    for _ in range(5):
        run.call_next(1)
        order.append(run.called(1))
        run.start(1)
    # cap = 2: two priority, then the oldest ordinary, then priority again
    assert order == [prio[0], prio[1], ordinary[0], prio[2], ordinary[1]]


def test_priority_cap_does_not_hold_back_priority_when_nobody_else_waits(run):
    run.sign_in(1, "a")
    prio = [run.at(seconds=1).issue_label("HT", priority="khuyet_tat") for _ in range(4)]
    got = []
    for _ in range(4):
        run.call_next(1)
        got.append(run.called(1))
        run.start(1)
    assert got == prio


def test_unknown_priority_is_refused(run):
    with pytest.raises(QueueError) as exc:
        run.issue("HT", priority="vip")
    assert exc.value.code == "unknown_priority"


def test_call_a_chosen_ticket_and_not_one_of_another_service(run):
    run.sign_in(1, "a")
    run.issue_label("HT")
    run.issue_label("HT")
    cert = run.issue_label("CT")
    run.call_ticket(1, "1002")
    assert run.called(1) == "1002"
    run.done(1)
    with pytest.raises(QueueError) as exc:
        run.call_ticket(1, cert)
    assert exc.value.code == "wrong_service"
    with pytest.raises(QueueError) as exc:
        run.call_ticket(1, "1002")  # already served
    assert exc.value.code == "ticket_not_waiting"


def test_recall_announces_again_with_a_new_sequence(run):
    run.sign_in(1, "a")
    run.issue_label("HT")
    events, _ = run.call_next(1)
    first = events[-1]["call_seq"]
    events, changes = run.at(seconds=30).recall(1)
    assert events[-1]["type"] == "ticket_recalled" and events[-1]["call_seq"] == first + 1
    assert changes.calls[0]["recall"] is True
    t = run.engine.state.tickets[run.engine.state.counters[1].ticket_id]
    assert t.recalls == 1 and t.called_at == run.log[-2]["at"]  # waiting time ends at the first call
    run.start(1)
    with pytest.raises(QueueError) as exc:
        run.recall(1)
    assert exc.value.code == "not_called"


def test_times_and_officer_are_recorded(run):
    run.sign_in(1, "nguyenvana")
    run.issue_label("HT")
    run.at(minutes=3).call_next(1)
    run.at(minutes=1).start(1)
    _, changes = run.at(minutes=4).done(1)
    (t,) = changes.tickets.values()
    assert t.state == "done" and t.officer == "nguyenvana" and t.counter == 1
    assert t.issued_at < t.called_at < t.started_at < t.finished_at
    assert t.finished_at.startswith("2026-11-23T02:08")


def test_done_without_start_counts_service_from_the_call(run):
    run.sign_in(1, "a")
    run.issue_label("HT")
    run.at(minutes=1).call_next(1)
    _, changes = run.at(minutes=2).done(1)
    (t,) = changes.tickets.values()
    assert t.started_at == t.called_at


def test_next_ends_the_served_ticket_but_not_a_called_one(run):
    run.sign_in(1, "a")
    run.issue_label("HT")
    run.issue_label("HT")
    run.call_next(1)
    with pytest.raises(QueueError) as exc:
        run.call_next(1)
    assert exc.value.code == "current_not_started"
    run.start(1)
    events, _ = run.call_next(1)
    assert [e["type"] for e in events] == ["ticket_done", "ticket_called"]
    run.start(1)
    events, _ = run.call_next(1)  # nobody left: the served one still ends
    assert [e["type"] for e in events] == ["ticket_done"]
    with pytest.raises(QueueError) as exc:
        run.call_next(1)
    assert exc.value.code == "queue_empty"


def test_no_show_only_for_a_citizen_who_has_not_come(run):
    run.sign_in(1, "a")
    run.issue_label("HT")
    run.call_next(1)
    _, changes = run.no_show(1)
    (t,) = changes.tickets.values()
    assert t.state == "no_show" and run.engine.state.counters[1].ticket_id is None
    run.issue_label("HT")
    run.call_next(1)
    run.start(1)
    with pytest.raises(QueueError):
        run.no_show(1)


def test_transfer_keeps_number_and_place_by_original_issue_time(run):
    run.sign_in(1, "a")
    run.sign_in(3, "b")
    moved = run.issue_label("HT")             # issued first
    run.at(minutes=1).issue_label("CT")       # C001, issued after it
    run.at(minutes=1).issue_label("CT")       # C002
    run.call_next(1)
    run.start(1)
    _, changes = run.at(minutes=5).transfer(1, "CT")
    t = changes.tickets[1]
    assert (t.label, t.service, t.state, t.original_service) == (moved, "CT", "waiting", "HT")
    assert run.engine.state.counters[1].ticket_id is None
    # it goes ahead of C001/C002 because it was issued before them
    run.call_next(3)
    assert run.called(3) == moved
    with pytest.raises(QueueError) as exc:
        run.transfer(3, "CT")
    assert exc.value.code == "same_service"


def test_pause_needs_a_reason_and_a_free_counter_then_resume_and_close(run):
    run.sign_in(1, "a")
    run.issue_label("HT")
    run.call_next(1)
    with pytest.raises(QueueError) as exc:
        run.pause(1, "Nghỉ giải lao")
    assert exc.value.code == "ticket_in_progress"
    run.done(1)
    with pytest.raises(QueueError) as exc:
        run.pause(1, "   ")
    assert exc.value.code == "bad_reason"
    run.pause(1, "Họp giao ban", public=True)
    c = run.engine.state.counters[1]
    assert (c.state, c.pause_reason, c.pause_public) == ("paused", "Họp giao ban", True)
    run.issue_label("HT")
    with pytest.raises(QueueError) as exc:
        run.call_next(1)
    assert exc.value.code == "counter_paused"
    run.resume(1)
    assert c.state == "open" and c.pause_reason is None
    run.call_next(1)
    run.done(1)
    run.close(1)
    assert (c.state, c.officer) == ("closed", None)
    with pytest.raises(QueueError) as exc:
        run.call_next(1)
    assert exc.value.code == "counter_closed"


def test_an_officer_signs_in_at_one_counter_only(run):
    run.sign_in(1, "nguyenvana")
    with pytest.raises(QueueError) as exc:
        run.sign_in(2, "nguyenvana")
    assert exc.value.code == "officer_elsewhere"
    run.sign_in(1, "tranthib")  # a shift change at the same counter is fine
    assert run.engine.state.counters[1].officer == "tranthib"
    run.sign_in(2, "nguyenvana")


def test_people_ahead_and_wait_from_recent_service_times(run):
    run.sign_in(1, "a")
    # no history yet: the site's default of 5 minutes per citizen, one open counter
    first = run.issue_label("HT")
    second = run.issue_label("HT")
    t2 = run.engine.find_today(second)
    assert run.engine.people_ahead(t2) == 1
    assert run.engine.estimated_wait("HT", 1) == 300
    # serve the first in 2 minutes: blended with the default (5 - 1 = 4 default tickets)
    run.call_next(1)
    run.start(1)
    run.at(minutes=2).done(1)
    assert run.engine.mean_service_seconds("HT") == (4 * 300 + 120) / 5
    assert run.engine.estimated_wait("HT", 3) == 3 * 264
    # two open counters share the line
    run.sign_in(2, "b")
    assert run.engine.estimated_wait("HT", 3) == 3 * 264 / 2
    assert first == "1001"


def _run_with(tmp_path, queue: str) -> Run:
    """A run on the test site with other [queue] settings."""
    path = tmp_path / "site.toml"
    text = textwrap.dedent(SITE).replace("default_service_minutes = 5\nestimate_window = 3", queue)
    path.write_text(text, encoding="utf-8")
    return Run(load_site(path))


def _serve(run, seconds: list[float]) -> None:
    """Issue, call, start and finish one HT ticket at counter 1 per duration."""
    for secs in seconds:
        run.issue_label("HT")
        run.call_next(1)
        run.start(1)
        run.at(seconds=secs).done(1)


def test_one_quick_service_does_not_promise_one_minute_to_four_people(tmp_path):
    run = _run_with(tmp_path, "default_service_minutes = 6\nestimate_window = 20")
    run.sign_in(1, "a")
    _serve(run, [2])                       # the officer finished in 2 seconds
    wait = run.engine.estimated_wait("HT", 4)
    assert wait >= 4 * 4 * 60              # not "about 1 minute": near the default of 6 each
    assert round(wait / 60) == round(4 * (4 * 360 + 2) / 5 / 60)


def test_many_real_service_times_converge_on_their_mean(tmp_path):
    run = _run_with(tmp_path, "default_service_minutes = 6\nestimate_window = 20")
    run.sign_in(1, "a")
    assert run.engine.mean_service_seconds("HT") == 360          # none yet: the default
    _serve(run, [120, 180, 60, 240])
    assert 150 < run.engine.mean_service_seconds("HT") < 360      # 4 of 5: still blended
    _serve(run, [150] * 16)
    assert run.engine.mean_service_seconds("HT") == pytest.approx((120 + 180 + 60 + 240 + 16 * 150) / 20)
    _serve(run, [90] * 20)                                         # the window keeps the last 20
    assert run.engine.mean_service_seconds("HT") == pytest.approx(90)


def test_estimate_min_samples_zero_trusts_the_first(tmp_path):
    run = _run_with(tmp_path, "default_service_minutes = 6\nestimate_min_samples = 0")
    run.sign_in(1, "a")
    assert run.engine.mean_service_seconds("HT") == 360
    _serve(run, [30])
    assert run.engine.mean_service_seconds("HT") == 30


def test_a_refused_command_does_not_lose_the_midnight_rollover(run):
    run.issue_label("HT")
    run.now = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)
    with pytest.raises(QueueError):
        run.call_next(1)  # closed counter: refused, but the day still turned
    events, _ = run.tick()
    assert [e["type"] for e in events] == ["ticket_expired", "day_started"]
    events, _ = run.tick()
    assert events == []


def test_replaying_the_log_rebuilds_the_same_state(run):
    run.sign_in(1, "a")
    run.sign_in(3, "b")
    for i in range(6):
        run.at(seconds=20).issue_label("HT" if i % 2 else "CT", priority="co_thai" if i == 4 else None)
    run.at(minutes=1).call_next(1)
    run.recall(1)
    run.start(1)
    run.at(minutes=3).transfer(1, "CT")
    run.call_next(3)
    run.no_show(3)
    run.call_next(3)
    run.done(3)
    run.pause(1, "Nghỉ trưa")
    state, tickets, counters = replay(run.site, run.log)
    live = run.engine.state
    assert state.call_seq == live.call_seq == 4
    assert {k: v.as_row() for k, v in state.tickets.items()} == {k: v.as_row() for k, v in live.tickets.items()}
    assert {k: v.as_row() for k, v in state.counters.items()} == {k: v.as_row() for k, v in live.counters.items()}
    assert state.sequences == live.sequences
    assert len(tickets) == 6


def test_places_in_the_queue_match_a_full_scan_through_random_days(site):
    """The centre keeps the waiting line per service as an index; it must always
    agree with scanning every ticket, whatever happens in whatever order."""
    import random
    from motcua.engine import QueueState, Ticket
    rng = random.Random(20261123)
    run = Run(site)
    for n in (1, 2, 3):
        run.sign_in(n, f"officer{n}")
    priorities = [None, None, None, site.priorities[0].code] if site.priorities else [None]

    def check():
        e = run.engine
        state = e.state
        for service in ("HT", "CT"):
            full = sorted((t for t in state.tickets.values() if t.state == "waiting" and t.service == service),
                          key=Ticket.sort_key)
            assert [t.id for t in e.waiting(service)] == [t.id for t in full]
            for place, t in enumerate(full):
                assert e.people_ahead(t) == place
        # a state loaded afresh (as after a restart) builds the same index
        fresh = QueueState(tickets=dict(state.tickets))
        def non_empty(index):
            return {service: entries for service, entries in index.items() if entries}
        assert non_empty(fresh.waiting_index()) == non_empty(state.waiting_index())

    actions = 0
    for step in range(600):
        run.at(seconds=rng.randint(1, 90))
        counter = rng.choice((1, 2, 3))
        action = rng.choice(("issue", "issue", "issue", "next", "start", "done", "noshow", "transfer",
                             "call", "recall"))
        try:
            if action == "issue":
                run.issue(rng.choice(("HT", "HT", "CT")), priority=rng.choice(priorities))
            elif action == "next":
                run.call_next(counter)
            elif action == "start":
                run.start(counter)
            elif action == "done":
                run.done(counter)
            elif action == "noshow":
                run.no_show(counter)
            elif action == "transfer":
                run.transfer(counter, rng.choice(("HT", "CT")))
            elif action == "recall":
                run.recall(counter)
            elif action == "call":
                waiting = run.engine.waiting()
                if waiting:
                    run.call_ticket(counter, rng.choice(waiting).label)
            actions += 1
        except QueueError:
            pass
        check()
    assert actions > 150  # most steps did something, not only refusals
    # and across midnight: the waiting tickets expire, the line is empty
    run.at(days=1)
    run.tick()
    check()
    assert run.engine.waiting() == []


def test_waiting_counts_agree_with_the_list(run, site):
    code = site.priorities[0].code
    for p in (None, code, None, code, code, None):
        run.issue("HT", priority=p)
    waiting = run.engine.waiting("HT")
    assert run.engine.waiting_counts("HT") == (len(waiting), sum(1 for t in waiting if t.priority)) == (6, 3)
    assert run.engine.waiting_counts("CT") == (0, 0)

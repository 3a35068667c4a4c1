"""What the centre publishes for the counter terminal (issue 6): today's served
count in the counter state, and the first waiting tickets in the service state.
Against a real Mosquitto, SQLite file and centre, as tests/integration/test_service.py."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from motcua import protocol
from motcua.engine import Engine
from motcua.store import Store

from support.officers import register, sign_in
from test_service import collect, wait_for

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)


def test_served_today_and_next_tickets_are_in_the_retained_state(site, centre, connect):
    kiosk, counter, terminal = connect("kiosk-1"), connect("counter-1"), connect("counter-2")
    topics = protocol.Topics(site.id)
    for priority in (None, None, "cao_tuoi"):
        kiosk.request("ticket.issue", service="HT", priority=priority)
    services = collect(terminal, topics.service_state("HT"))
    _, ht = wait_for(services, lambda m: m[1]["waiting"] == 3)
    # the queue's order: the priority ticket first, then by issue time
    assert ht["next_tickets"] == [{"ticket": "1003", "priority": "cao_tuoi"},
                                  {"ticket": "1001", "priority": None}, {"ticket": "1002", "priority": None}]
    register(connect("admin"), "nguyenvana")
    sign_in(counter, 1, "nguyenvana")
    r = counter.request("counter.next", counter=1)
    assert r["served_today"] == 0 and r["ticket"]["ticket"] == "1003"
    counter.request("counter.start", counter=1)
    r = counter.request("counter.next", counter=1)        # "next" finishes 1003 as done
    assert r["served_today"] == 1
    counter.request("counter.no_show", counter=1)         # a no-show is not served
    r = counter.request("counter.next", counter=1)
    r = counter.request("counter.done", counter=1)
    assert r["served_today"] == 2 and r["finished"] == [{"ticket": "1002", "state": "done"}]
    states = collect(terminal, topics.counter_state(1))   # any device reading state/# sees it
    _, c1 = wait_for(states, lambda m: m[1]["served_today"] == 2)
    assert c1["ticket"] is None
    _, ht = wait_for(services, lambda m: m[1]["waiting"] == 0)
    assert ht["next_tickets"] == []
    # closing keeps the counter's figure for the day; other counters have their own
    counter.request("counter.close", counter=1)
    _, c1 = wait_for(states, lambda m: m[1]["state"] == "closed")
    assert c1["served_today"] == 2
    hall = collect(terminal, topics.hall_state)
    # the hall view is coalesced (at most 20 a second): wait for the one made after the close
    _, h = wait_for(hall, lambda m: m[1]["counters"][0]["updated_at"] == c1["updated_at"])
    assert [c["served_today"] for c in h["counters"][:2]] == [2, 0]


def test_next_tickets_lists_ten_at_most(site):
    engine = Engine(site)
    for _ in range(12):
        engine.issue("CT", NOW)
    view = protocol.service_view(engine, "CT")
    assert view["waiting"] == 12 and len(view["next_tickets"]) == protocol.NEXT_TICKETS == 10
    assert view["next_tickets"][0] == {"ticket": "2001", "priority": None}


def test_served_today_survives_a_restart_and_starts_again_at_midnight(site, tmp_path):
    store = Store(tmp_path / "c.db")
    engine = Engine(site)
    store.commit(*engine.sign_in(1, "a", NOW))
    store.commit(*engine.sign_in(4, "b", NOW))
    for _ in range(4):
        store.commit(*engine.issue("HT", NOW))
    for counter in (1, 1, 4):
        store.commit(*engine.call_next(counter, NOW))
        store.commit(*engine.done(counter, NOW))
    store.commit(*engine.call_next(1, NOW))
    store.commit(*engine.transfer(1, "CT", NOW))          # a transfer is not served
    assert engine.state.served == {1: 2, 4: 1}
    store.close()
    again = Store(tmp_path / "c.db")
    loaded = Engine(site, again.load_state())
    assert loaded.state.served == {1: 2, 4: 1}
    assert protocol.counter_view(loaded, 1)["served_today"] == 2
    assert protocol.counter_view(loaded, 2)["served_today"] == 0
    # the first command of the next day starts the count again
    tomorrow = NOW + timedelta(days=1)
    events, changes = loaded.tick(tomorrow)
    assert changes.day_started and loaded.state.served == {}
    again.commit(events, changes)
    again.close()
    assert Engine(site, Store(tmp_path / "c.db").load_state()).state.served == {}

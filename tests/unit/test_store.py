"""The SQLite store: schema, durability rules, replay."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from motcua.config import load_site
from motcua.engine import Engine, replay
from motcua.shipping import outbox
from motcua.store import SCHEMA_VERSION, Store

from support.broker import EXAMPLE

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def site():
    return load_site(EXAMPLE)


def drive(engine: Engine, store: Store, n: int = 30) -> None:
    """A morning's mixed work, each command committed as the centre does."""
    now = NOW

    def do(events_changes):
        store.commit(*events_changes)

    for c, officer in ((1, "a"), (2, "b"), (3, "c")):
        do(engine.sign_in(c, officer, now))
    for i in range(n):
        now += timedelta(seconds=30)
        do(engine.issue(["HT", "CT"][i % 2], now, priority="cao_tuoi" if i % 7 == 0 else None))
    for i in range(8):
        now += timedelta(minutes=1)
        counter = (1, 2, 3)[i % 3]
        do(engine.call_next(counter, now))
        if i % 4 == 0:
            do(engine.no_show(counter, now))
            continue
        do(engine.start(counter, now))
        if i == 5:
            do(engine.transfer(counter, "LLTP", now))
        else:
            do(engine.done(counter, now))
    do(engine.pause(2, "Nghỉ trưa", now))


def test_schema_is_created_in_wal_mode(tmp_path):
    store = Store(tmp_path / "c.db")
    assert store.version == SCHEMA_VERSION
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert {"events", "tickets", "counters", "sequences", "requests", "meta"} <= set(store.db.table_names())
    store.close()
    Store(tmp_path / "c.db").close()  # opening again migrates nothing and fails nothing


def test_a_newer_database_is_refused_clearly(tmp_path):
    conn = sqlite3.connect(tmp_path / "c.db")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="upgrade motcua"):
        Store(tmp_path / "c.db")


def test_tables_equal_the_replayed_event_log(site, tmp_path):
    store = Store(tmp_path / "c.db")
    drive(Engine(site), store)
    _, tickets, counters = replay(site, store.events())
    assert tickets == store.ticket_rows()
    stored_counters = store.counter_rows()
    assert {n: counters[n] for n in stored_counters} == stored_counters
    states = {r["state"] for r in store.ticket_rows().values()}
    assert {"waiting", "done", "no_show"} <= states


def test_reopened_store_continues_numbers_and_state(site, tmp_path):
    store = Store(tmp_path / "c.db")
    engine = Engine(site)
    drive(engine, store)
    store.close()
    again = Store(tmp_path / "c.db")
    loaded = Engine(site, again.load_state())
    assert loaded.state.sequences == {k: v for k, v in engine.state.sequences.items()}
    assert {k: v.as_row() for k, v in loaded.state.tickets.items()} == \
        {k: v.as_row() for k, v in engine.state.tickets.items()}
    assert loaded.state.call_seq == engine.state.call_seq
    assert loaded.mean_service_seconds("HT") == engine.mean_service_seconds("HT")
    events, _ = loaded.issue("HT", NOW + timedelta(hours=2))
    assert events[-1]["ticket"]["number"] == engine.state.sequences[("2026-11-23", "HT")] + 1


def test_the_database_refuses_a_reused_number(site, tmp_path):
    store = Store(tmp_path / "c.db")
    engine = Engine(site)
    store.commit(*engine.issue("HT", NOW))
    row = dict(store.ticket_rows()[1], id=99)
    with pytest.raises(sqlite3.IntegrityError):
        with store.db.atomic():
            store.db["tickets"].insert(row)


def test_a_failed_batch_writes_nothing(site, tmp_path):
    store = Store(tmp_path / "c.db")
    engine = Engine(site)
    events, changes = engine.issue("HT", NOW)
    bad_reply = [("kiosk-1", "r1", "2026", object())]  # not storable: the whole batch must roll back
    with pytest.raises(Exception):
        store.commit(events, changes, bad_reply)
    assert store.ticket_rows() == {} and list(store.events()) == []


def test_a_database_made_before_first_called_at_gets_it_from_the_event_log(site, tmp_path):
    """Databases made before tickets.first_called_at joined the schema lack the
    column (the centre could not write a ticket, reports could not read one):
    migration 4 adds it, filled with each ticket's first call from the events."""
    store = Store(tmp_path / "c.db")
    engine = Engine(site, store.load_state(site.queue.estimate_window))
    drive(engine, store)
    store.commit(*engine.call_next(1, NOW + timedelta(hours=1)))
    store.commit(*engine.recall(1, NOW + timedelta(hours=1, minutes=1)))  # a recall must not move it
    expected = {r["id"]: r["first_called_at"] for r in store.db.query(
        "SELECT id, first_called_at FROM tickets")}
    assert sum(v is not None for v in expected.values()) == 9
    # (a database of version 3 had no outbox either: migration 8 adds it)
    for name, _ in outbox.triggers():
        store.db.execute(f"DROP TRIGGER {name}")
    store.db.execute("DROP TABLE outbox")
    store.db.execute("ALTER TABLE tickets DROP COLUMN first_called_at")
    store.db.execute("PRAGMA user_version=3")
    store.db.conn.commit()
    store.close()
    again = Store(tmp_path / "c.db")
    assert again.version == SCHEMA_VERSION
    assert {r["id"]: r["first_called_at"] for r in again.db.query(
        "SELECT id, first_called_at FROM tickets")} == expected
    # and the centre's own work goes on in it
    engine = Engine(site, again.load_state(site.queue.estimate_window))
    again.commit(*engine.call_next(3, NOW + timedelta(hours=2)))
    again.close()


def test_the_centre_checkpoints_the_wal_itself_after_answering(site, tmp_path):
    """SQLite's own checkpoint ran inside whichever commit crossed 1,000 pages (a
    late call event); the centre turns it off and checkpoints after answering. The
    WAL must still stop growing."""
    from motcua.store import CHECKPOINT_EVERY_COMMITS

    def wal_after(n_commits: int, checkpoint: bool) -> int:
        folder = tmp_path / f"{checkpoint}"
        store = Store(folder / "c.db")
        store.defer_checkpoints()
        engine = Engine(site, store.load_state(site.queue.estimate_window))
        now = NOW
        for i in range(n_commits):
            now += timedelta(seconds=1)
            store.commit(*engine.issue(["HT", "CT", "DD"][i % 3], now))
            if checkpoint:
                store.checkpoint()
        size = (folder / "c.db-wal").stat().st_size
        assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        store.close()
        return size

    n = CHECKPOINT_EVERY_COMMITS * 4
    kept, unbounded = wal_after(n, True), wal_after(n, False)
    assert kept * 2.5 < unbounded, (kept, unbounded)

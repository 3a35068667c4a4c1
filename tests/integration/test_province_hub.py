"""The province hub with its real parts: a provincial Mosquitto (written by the
test: tests/support/hub.py), a real PostgreSQL (tests/support/postgres.py) and
`motcua province hub` as a process. Centres are simulated by one client that
ships by the contract's rules (a window beyond the last acknowledgement, sent
again from acked + 1 when nothing moves).

What must hold, whatever happens: every record stored exactly once, the
acknowledgement the highest contiguous sequence committed, and it never goes
back in the database."""
from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest

from motcua.dossiers import DossierStore
from motcua.province import store as hub_store
from motcua.province.ingest import KINDS
from motcua.store import Store
from support.broker import ROOT
from support.hub import (ProvinceBroker, SimCentres, batch_payload, batches, centre_records, run_hub_process,
                         wait_log, write_province)
from support.postgres import new_cluster

READY = "connected to the provincial broker"


@pytest.fixture
def province(workdir, pg_database):
    """A provincial broker, the provincial file, and a way to start hubs (stopped after)."""
    broker = ProvinceBroker(workdir / "broker").start()
    hubs: list = []

    class P:
        dsn = pg_database
        folder = workdir

        @staticmethod
        def path(centres=("c1", "c2", "c3"), dsn=None):
            return write_province(workdir, broker.port, dsn or pg_database, list(centres))

        @staticmethod
        def hub(instance="main", path=None, wait=True):
            log = workdir / f"hub-{instance}.log"
            before = log.read_text().count(READY) if log.exists() else 0
            proc = run_hub_process(path or P.path(), log, instance)
            hubs.append(proc)
            if wait:
                wait_log(log, READY, timeout=30, count=before + 1)
            proc.log = log
            return proc

        @staticmethod
        def centres(records, **kw):
            sim = SimCentres(broker.port, records, **kw).start()
            assert sim.connected.wait(10)
            sims.append(sim)
            return sim

    sims: list = []
    P.broker = broker
    yield P
    for s in sims:
        s.stop()
    for h in hubs:
        if h.poll() is None:
            h.kill()
            h.wait()
    broker.stop()


def db(dsn):
    return psycopg.connect(dsn, autocommit=True)


def counts(dsn) -> dict[str, tuple[int, int]]:
    """Per centre: (records stored, distinct seqs)."""
    with db(dsn) as conn:
        return {c: (n, d) for c, n, d in conn.execute(
            "SELECT centre, count(*), count(DISTINCT seq) FROM records GROUP BY centre")}


def acked(dsn) -> dict[str, int]:
    with db(dsn) as conn:
        return dict(conn.execute("SELECT id, acked FROM centres"))


def watch_acks(dsn) -> None:
    """Record every change of an acknowledgement in the database (a trigger the
    hub does not know of), to show none ever goes back."""
    hub_store.connect(dsn).close()   # the hub's tables, as a hub would make them
    with db(dsn) as conn:
        conn.execute("CREATE TABLE ack_log (centre text, old bigint, new bigint)")
        conn.execute("CREATE FUNCTION log_ack() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                     "INSERT INTO ack_log VALUES (NEW.id, OLD.acked, NEW.acked); RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER ack_log AFTER UPDATE OF acked ON centres FOR EACH ROW EXECUTE FUNCTION log_ack()")


def assert_exactly_once(dsn, records: dict[str, list]) -> None:
    got = counts(dsn)
    assert got == {c: (len(r), len(r)) for c, r in records.items()}
    assert acked(dsn) == {c: len(r) for c, r in records.items()}
    # the projections hold the latest version of each key
    with db(dsn) as conn:
        for c, recs in records.items():
            latest = {}
            for kind, body in recs:
                if kind == "ticket":
                    latest[body["id"]] = body["state"]
            rows = dict(conn.execute("SELECT id, state FROM tickets WHERE centre = %s", [c]))
            assert rows == latest
            events = sum(1 for k, _ in recs if k == "event")
            assert conn.execute("SELECT count(*) FROM events WHERE centre = %s", [c]).fetchone()[0] == events


def wait_until(what, timeout=30, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"still not so after {timeout} s")


def hub_in_transaction(dsn) -> bool:
    with db(dsn) as conn:
        return bool(conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'motcua province hub' "
            "AND xact_start IS NOT NULL").fetchone())


# -- one batch, twice; a gap, then filled ---------------------------------------------------------

def test_a_batch_delivered_twice_is_stored_once(province):
    hub = province.hub()
    sim = province.centres({})
    recs = centre_records("c1", 500)
    payload = batch_payload("c1", 1, recs)
    sim.publish_raw("motcua/c1/ship/batch", payload)
    assert sim.wait_ack("c1", 500)
    sim.publish_raw("motcua/c1/ship/batch", payload)            # a resend: stored already
    wait_until(lambda: len(sim.history["c1"]) >= 2)             # answered again, for the resender
    assert sim.history["c1"] == [500, 500]
    assert counts(province.dsn) == {"c1": (500, 500)}
    with db(province.dsn) as conn:
        tickets = {b["id"] for k, b in recs if k == "ticket"}
        assert conn.execute("SELECT count(*) FROM tickets").fetchone()[0] == len(tickets)
    hub.send_signal(signal.SIGTERM)                             # systemctl stop
    assert hub.wait(timeout=15) == 0
    log = wait_log(hub.log, "hub stopped")
    assert "500 new records stored, 500 delivered again and skipped, 2 batches, 0 refused" in log


def test_after_a_gap_only_the_contiguous_run_is_acknowledged(province):
    province.hub()
    sim = province.centres({})
    recs = centre_records("c2", 1500)
    sim.publish_raw("motcua/c2/ship/batch", batch_payload("c2", 1001, recs[1000:]))   # 1..1000 missing
    assert sim.wait_ack("c2", 0)
    sim.publish_raw("motcua/c2/ship/batch", batch_payload("c2", 1, recs[:500]))
    assert sim.wait_ack("c2", 500)                              # 501..1000 still missing
    assert counts(province.dsn) == {"c2": (1000, 1000)}
    sim.publish_raw("motcua/c2/ship/batch", batch_payload("c2", 501, recs[500:1000]))
    assert sim.wait_ack("c2", 1500)                             # the gap filled: all of it
    assert sim.history["c2"] == [0, 500, 1500]
    assert_exactly_once(province.dsn, {"c2": recs})


def test_a_batch_off_the_contract_is_refused_and_never_acknowledged(province):
    hub = province.hub()
    sim = province.centres({})
    recs = centre_records("c1", 20)
    bad = {
        "motcua/c1/ship/batch": [b"{not json", batch_payload("c3", 1, recs[:10]),   # another centre's
                                 json.dumps({"v": 1, "centre": "c1", "first": 1, "last": 2, "records": [
                                     {"seq": 1, "kind": "ticket", "body": {"id": "one"}},
                                     {"seq": 2, "kind": "ticket", "body": {"id": 2}}]}).encode()],
    }
    for topic, payloads in bad.items():
        for p in payloads:
            sim.publish_raw(topic, p)
    log = wait_log(hub.log, "refused a batch", count=3)
    assert "not JSON" in log
    assert "centre 'c3' is not the topic's centre 'c1'" in log
    assert "record 1 (ticket): body.id must be a whole number" in log
    sim.publish_raw("motcua/c1/ship/batch", batch_payload("c1", 1, recs))
    assert sim.wait_ack("c1", 20)
    assert sim.history["c1"] == [20]                           # nothing answered the refused ones
    assert counts(province.dsn) == {"c1": (20, 20)}
    # refused is refused for good: the broker was told, so a restarted hub does not see them again
    hub.kill()
    hub.wait()
    hub = province.hub()
    time.sleep(1.0)
    assert hub.log.read_text().count("refused a batch") == 3


def test_the_bridge_link_is_kept_per_centre(province):
    province.hub()
    sim = province.centres({})
    sim.publish_raw("motcua/c1/ship/link", b"1", retain=True)
    sim.publish_raw("motcua/c2/ship/link", b"0", retain=True)
    wait_until(lambda: _links(province.dsn) == {"c1": True, "c2": False})


def _links(dsn):
    with db(dsn) as conn:
        return dict(conn.execute("SELECT id, link FROM centres WHERE link IS NOT NULL"))


# -- crashes and restarts -------------------------------------------------------------------------

def _stream(n_centres=6, n_records=3000):
    return {f"c{i}": centre_records(f"c{i}", n_records) for i in range(1, n_centres + 1)}


def test_the_hub_killed_mid_batch_and_restarted_loses_and_doubles_nothing(province):
    records = _stream()
    path = province.path(list(records))
    watch_acks(province.dsn)
    hub = province.hub(path=path)
    # The centres never send again here (resend_after 10 min): what the hub had not
    # acknowledged when it died must come back from its session at the broker.
    sim = province.centres(records, batch_size=100, window=8, resend_after=600.0)
    for _ in range(3):   # three kills, each while the hub is inside a transaction
        wait_until(lambda: hub_in_transaction(province.dsn), every=0.005)
        hub.send_signal(signal.SIGKILL)
        hub.wait()
        assert not sim.done()
        time.sleep(0.5)
        hub = province.hub(path=path)
    assert sim.wait_done(120), (sim.acks, hub.log.read_text()[-2000:])
    assert_exactly_once(province.dsn, records)
    with db(province.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM ack_log WHERE new < old").fetchone()[0] == 0
    for c, seen in sim.history.items():
        assert seen == sorted(seen), f"{c}: the published acknowledgement went back: {seen}"


def test_the_provincial_broker_restarted_mid_stream(province):
    records = _stream()
    path = province.path(list(records))
    province.hub(path=path)
    sim = province.centres(records, batch_size=100, window=8, resend_after=3.0)
    wait_until(lambda: sum(sim.acks.values()) > 2000)
    province.broker.restart(down_for=1.0)           # persistence on: the hub's session survives
    assert sim.wait_done(120), sim.acks
    assert_exactly_once(province.dsn, records)


def test_two_hubs_on_one_database_never_double_count(province):
    records = _stream(n_centres=8, n_records=2500)
    path = province.path(list(records))
    watch_acks(province.dsn)
    a = province.hub("a", path=path)
    b = province.hub("b", path=path)
    sim = province.centres(records, batch_size=100, window=8, resend_after=3.0)
    assert sim.wait_done(120), sim.acks
    assert_exactly_once(province.dsn, records)
    with db(province.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM ack_log WHERE new < old").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM ack_log").fetchone()[0] > 0
    # both hubs received every batch: between them they stored each record once
    stored = []
    for h in (a, b):
        h.send_signal(signal.SIGTERM)
        assert h.wait(timeout=15) == 0
        line = re.search(r"(\d+) new records stored, (\d+) delivered again", wait_log(h.log, "hub stopped"))
        stored.append((int(line[1]), int(line[2])))
    total = sum(len(r) for r in records.values())
    assert sum(new for new, _ in stored) == total
    assert all(new > 0 for new, _ in stored), stored          # both did real work


def test_postgresql_down_nothing_is_acknowledged_and_nothing_lost(province):
    cluster = new_cluster(prefix="motcua-pg-outage-")
    try:
        dsn = cluster.create_database("outage")
        records = _stream(n_centres=4, n_records=3000)
        path = province.path(list(records), dsn=dsn)
        hub = province.hub(path=path)
        sim = province.centres(records, batch_size=100, window=8, resend_after=3.0)
        wait_until(lambda: sum(sim.acks.values()) > 1000)
        cluster.kill()                                    # as a crash: no clean shutdown
        wait_log(hub.log, "PostgreSQL is unavailable")
        time.sleep(0.5)                                   # acknowledgements already on their way arrive
        during = dict(sim.acks)
        # away for long: the hub leaves the broker, which keeps the batches for its session
        wait_log(hub.log, "the hub leaves the provincial broker until it is back")
        time.sleep(1)
        assert sim.acks == during, "acknowledged while PostgreSQL was down"
        assert not sim.done()
        cluster.start()
        wait_log(hub.log, "PostgreSQL is back")
        wait_log(hub.log, READY, count=2)                 # back on the broker
        assert sim.wait_done(120), (sim.acks, hub.log.read_text()[-3000:])
        assert_exactly_once(dsn, records)
        assert hub.poll() is None
    finally:
        cluster.remove()


# -- privacy --------------------------------------------------------------------------------------

def test_no_citizen_name_or_id_reaches_the_provinces_database(province, workdir, pg_cluster):
    """Realistic dossiers (examples/dossiers.json: names, ID numbers, notes,
    apology reasons) in a real centre database, shipped carelessly with every
    column: the hub stores none of it; a pg_dump of its database holds no name,
    no ID number, no note and no reason."""
    sample = json.loads((ROOT / "examples" / "dossiers.json").read_text(encoding="utf-8"))
    centre_db = Store(workdir / "centre.db")
    report = DossierStore(centre_db.db, timezone="Asia/Ho_Chi_Minh").import_file(ROOT / "examples" / "dossiers.json")
    assert report.imported == len(sample) and not report.errors
    conn = sqlite3.connect(workdir / "centre.db")
    conn.row_factory = sqlite3.Row
    recs = []
    for kind, table in (("dossier", "dossiers"), ("dossier_step", "dossier_steps"), ("apology", "dossier_apologies")):
        for row in conn.execute(f"SELECT * FROM {table}"):
            body = dict(row)
            if kind == "dossier":
                body["documents"] = json.loads(body["documents"] or "[]")
                body["applicant_id"] = next((d.get("applicant_id") for d in sample if d["code"] == body["code"]), None)
            recs.append((kind, body))
    assert any("applicant_name" in b for _, b in recs) and any(b.get("note") for _, b in recs)
    province.hub(path=province.path(["c1"]))
    sim = province.centres({})
    for p in batches("c1", recs):
        sim.publish_raw("motcua/c1/ship/batch", p)
    assert sim.wait_ack("c1", len(recs))
    dump = pg_cluster.dump(province.dsn.split("///")[1].split("?")[0])
    secrets = set()
    for d in sample:
        secrets.add(d["applicant_name"])
        secrets.update(v for k, v in d.items() if k.startswith("applicant_id"))
        secrets.update(s["note"] for s in d.get("steps", []) if s.get("note"))
        secrets.update(d["documents"] if d.get("documents") else [])
        if d.get("apology"):
            secrets.add(d["apology"]["reason"])
    assert len(secrets) > 40
    found = sorted(s for s in secrets if s in dump)
    assert not found, f"citizen data in the province's database: {found[:5]}"
    # the dump does hold the dossiers (so the grep looks where they would be)
    assert all(d["code"] in dump for d in sample)
    assert "field(s) that could name a citizen" in (province.folder / "hub-main.log").read_text()


# -- the schema -----------------------------------------------------------------------------------

def test_the_tables_have_every_field_of_their_kind_and_migrate_once(pg_database):
    conn = hub_store.connect(pg_database)
    assert hub_store.migrate(conn) == hub_store.VERSION        # the second time: nothing to do
    for kind in KINDS.values():
        cols = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [kind.table])}
        assert cols >= {"centre", "rec_seq", *kind.fields}, kind.name
        for citizen in ("applicant_name", "documents", "note", "reason"):
            assert citizen not in cols, (kind.table, citizen)
    conn.execute("UPDATE hub_schema SET version = 99 WHERE version = 1")
    conn.commit()
    with pytest.raises(hub_store.StoreError, match="newer than this motcua"):
        hub_store.migrate(conn)
    conn.close()


# -- the projections, whatever the order the batches come in ----------------------------------------

def _stream_with_rewrites():
    """A dossier written, attached, rated; written again with fewer steps; one
    attachment taken off the ticket (a `dossier_detached` event); tickets updated."""
    recs = [
        ("ticket", {"id": 1, "day": "2026-12-07", "service": "HT", "state": "waiting"}),
        ("dossier", {"code": "D1", "procedure_code": "1.001193", "status": "received"}),
        ("dossier_step", {"code": "D1", "seq": 1, "step": "received", "at": "2026-12-07T01:00:00.000+00:00"}),
        ("dossier_step", {"code": "D1", "seq": 2, "step": "processing", "at": "2026-12-07T02:00:00.000+00:00"}),
        ("dossier_step", {"code": "D1", "seq": 3, "step": "approved", "at": "2026-12-07T03:00:00.000+00:00"}),
        ("ticket_dossier", {"ticket_id": 1, "code": "D1", "procedure_code": "1.001193"}),
        ("ticket_dossier", {"ticket_id": 1, "code": "D2", "procedure_code": "1.004227"}),
        ("ticket", {"id": 1, "day": "2026-12-07", "service": "HT", "state": "serving"}),
        # written again: two steps only (the third was a mistake at the one-stop software)
        ("dossier", {"code": "D1", "procedure_code": "1.001193", "status": "processing"}),
        ("dossier_step", {"code": "D1", "seq": 1, "step": "received", "at": "2026-12-07T01:00:00.000+00:00"}),
        ("dossier_step", {"code": "D1", "seq": 2, "step": "processing", "at": "2026-12-07T02:30:00.000+00:00"}),
        ("event", {"seq": 9, "at": "2026-12-07T02:40:00.000+00:00", "type": "dossier_detached", "ticket_id": 1,
                   "counter": 2, "data": {"type": "dossier_detached", "ticket_id": 1, "code": "D2",
                                          "dossiers": ["D1"]}}),
        ("ticket", {"id": 1, "day": "2026-12-07", "service": "HT", "state": "done"}),
        ("rating", {"rating_id": "pad-2:1:1", "ticket_id": 1, "level": 3, "weight": 1.0, "dossiers": ["D1"]}),
    ]
    return recs


@pytest.mark.parametrize("order", [(0, 1, 2, 3, 4), (4, 3, 2, 1, 0), (2, 0, 4, 1, 3), (1, 3, 0, 4, 2, 1, 3)])
def test_the_projections_hold_the_latest_version_whatever_the_order(pg_database, order):
    recs = _stream_with_rewrites()
    parts = batches("c1", recs, size=3)                 # five batches, applied in `order` (some twice)
    st = hub_store.HubStore(pg_database).open()
    from motcua.province.ingest import parse_batch
    for i in order:
        st.store([parse_batch("motcua/c1/ship/batch", parts[i])], [parts[i].decode()])
    conn = st.conn
    assert st.acked("c1") == len(recs)
    assert conn.execute("SELECT state, rec_seq FROM tickets").fetchall() == [("done", 13)]
    assert conn.execute("SELECT status FROM dossiers").fetchall() == [("processing",)]
    assert conn.execute("SELECT seq, step, at FROM dossier_steps ORDER BY seq").fetchall() == [
        (1, "received", "2026-12-07T01:00:00.000+00:00"), (2, "processing", "2026-12-07T02:30:00.000+00:00")]
    assert conn.execute("SELECT ticket_id, code FROM ticket_dossiers").fetchall() == [(1, "D1")]
    assert conn.execute("SELECT dossiers FROM ratings").fetchall() == [(["D1"],)]
    assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == len(recs)
    st.close()


def test_a_cluster_where_postgres_cannot_reach_is_refused_saying_where(workdir):
    """Started by root, the throwaway cluster runs as `postgres`, which must get
    through every folder above it; a private one (a clone in root's home) is
    refused before initdb, naming it. Started by anyone else it runs as them."""
    from motcua.province.pgcluster import Cluster, ClusterError
    private = workdir / "private"
    private.mkdir(mode=0o700)
    os.chmod(private, 0o700)
    cluster = Cluster(private / "pg", 5999)
    if os.geteuid() != 0:
        assert cluster.user is None      # no runuser: PostgreSQL runs as the caller
        return
    assert cluster.user.pw_name == "postgres"
    with pytest.raises(ClusterError, match=rf"{private} does not let the postgres user through.*under /tmp"):
        cluster.start()
    assert not (private / "pg" / "data").exists()

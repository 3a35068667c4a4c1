"""What `motcua ship` reads from the centre's database (motcua.shipping.shipper.
CentreDatabase): read only, the batches as the contract says them, cut to their
size, the tile's rows, and clear errors for a file that is not ready. Real
SQLite files; no broker."""
from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
import sqlite_utils

from motcua.config import load_site
from motcua.dossiers import DossierStore
from motcua.engine import Engine
from motcua.migrations import MIGRATIONS
from motcua.shipping import outbox, tile
from motcua.shipping.shipper import CentreDatabase, ShipError
from motcua.store import Store
from support.broker import EXAMPLE, ROOT

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def site():
    return load_site(EXAMPLE)


@pytest.fixture
def centre_db(site, tmp_path):
    store = Store(tmp_path / "centre.db")
    engine = Engine(site, store.load_state())
    now = NOW
    store.commit(*engine.sign_in(1, "a", now))
    for i in range(40):
        now += timedelta(seconds=10)
        store.commit(*engine.issue("HT", now))
    DossierStore(store.db, site.dossiers, site.timezone).import_file(ROOT / "examples" / "dossiers.json")
    outbox.record_site(store.db, site)
    yield store
    store.close()


def test_a_batch_is_the_contracts_json_with_the_outbox_bodies_as_they_are(site, centre_db):
    db = CentreDatabase(centre_db.path)
    head = db.head()
    assert head == centre_db.db.execute("SELECT count(*) FROM outbox").fetchone()[0] > 100
    last, payload = db.batch(site.id, 11, 60)
    batch = json.loads(payload)
    assert (last, batch["v"], batch["centre"], batch["first"], batch["last"]) == (60, 1, site.id, 11, 60)
    rows = centre_db.db.execute("SELECT seq, kind, body FROM outbox WHERE seq BETWEEN 11 AND 60 ORDER BY seq")
    assert batch["records"] == [{"seq": s, "kind": k, "body": json.loads(b)} for s, k, b in rows]
    db.close()


def test_a_batch_of_too_many_bytes_is_cut_but_never_below_one_record(site, centre_db):
    db = CentreDatabase(centre_db.path)
    whole = len(db.batch(site.id, 1, 100)[1])
    last, payload = db.batch(site.id, 1, 100, max_bytes=whole // 3)
    assert 1 < last < 100 and len(payload) <= whole // 3
    assert json.loads(payload)["last"] == last and len(json.loads(payload)["records"]) == last
    last, payload = db.batch(site.id, 5, 100, max_bytes=10)
    assert last == 5 and [r["seq"] for r in json.loads(payload)["records"]] == [5]
    db.close()


def test_a_gap_in_the_outbox_stops_the_batch_before_it(site, centre_db, caplog):
    centre_db.db.execute("DELETE FROM outbox WHERE seq = 30")  # by hand: never done by motcua
    centre_db.db.conn.commit()
    db = CentreDatabase(centre_db.path)
    last, payload = db.batch(site.id, 20, 40)
    assert last == 29 and json.loads(payload)["last"] == 29
    assert "no record 30" in caplog.text
    db.close()


def test_it_reads_and_never_writes(centre_db):
    db = CentreDatabase(centre_db.path)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.conn.execute("INSERT INTO tickets(id) VALUES (999)")
    before = db.data_version()
    centre_db.db.execute("INSERT INTO events(at, type, data) VALUES ('x', 'test', '{}')")
    centre_db.db.conn.commit()
    assert db.data_version() != before  # the centre's commit is seen
    db.close()


def test_clear_errors_for_a_database_that_is_not_ready(site, tmp_path):
    with pytest.raises(ShipError, match="no centre database .* start the centre first"):
        CentreDatabase(tmp_path / "nothing.db")
    old = sqlite_utils.Database(tmp_path / "old.db")
    for v in range(1, 8):
        MIGRATIONS[v](old)
    old.execute("PRAGMA user_version=7")
    old.conn.commit()
    with pytest.raises(ShipError, match="schema version 7; the outbox comes with version 8: start the centre"):
        CentreDatabase(tmp_path / "old.db")
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("PRAGMA application_id=1234")
    other.execute("CREATE TABLE x(y)")
    other.commit()
    with pytest.raises(ShipError, match="not a centre's database"):
        CentreDatabase(tmp_path / "other.db")


def test_a_database_put_in_its_place_is_noticed(centre_db, tmp_path):
    db = CentreDatabase(centre_db.path)
    assert not db.replaced()
    copy = tmp_path / "restored.db"
    shutil.copyfile(centre_db.path, copy)
    copy.replace(centre_db.path)
    assert db.replaced()
    db.close()


def test_the_tiles_late_dossiers_are_those_the_centres_own_rule_finds(site, centre_db):
    """The tile's candidates (SQL) and the dossier rules give what the centre's
    `motcua dossiers overdue` gives, late ones only."""
    store = DossierStore(centre_db.db, site.dossiers, site.timezone)
    db = CentreDatabase(centre_db.path)
    for days in (0, 3, 10, 30):
        now = NOW + timedelta(days=days)
        today = now.astimezone(site.tz).date().isoformat()
        rows = db.tile_rows(today)
        t = tile.live_tile(centre=site.id, name=site.name, now=now, tz=site.tz, tickets=rows["tickets"],
                           counters=rows["counters"], ratings=rows["ratings"], rating_levels=site.rating_levels,
                           dossiers=rows["dossiers"], unshipped=0)
        expected = len(store.overdue(now, within_days=-1))
        assert t["late_without_apology"] == expected, days
        if days == 30:
            assert expected > 0
        assert t["waiting"] == 40 and all(d.applicant_name == "" for d in rows["dossiers"])
    db.close()

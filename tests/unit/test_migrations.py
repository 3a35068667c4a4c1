"""One migration mechanism for every table of the centre's database
(motcua.migrations): databases made by the code before it, in each of the
states it left them, open, keep every row, and end with the schema of a new
database. The old database is an SQL dump, tests/support/old_databases/
centre-v4.sql, written from commit b3f0fef by make.py there: the newest state
that code left (schema version 4, with the dossier mirror and the catalogue,
which created their tables themselves). The older states are built from it by
leaving out what did not exist yet: the same statements made every table then."""
from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import sqlite_utils

from motcua import migrations
from motcua.catalogue import Catalogue
from motcua.config import load_site
from motcua.dossiers import DossierStore
from motcua.engine import Engine, parse_iso
from motcua.store import SCHEMA_VERSION, Store

ROOT = Path(__file__).resolve().parents[2]
OLD = ROOT / "tests" / "support" / "old_databases"
SITE = load_site(ROOT / "examples" / "site.toml")


REPORT_INDEXES = ("idx_dossiers_received_at", "idx_dossiers_status",
                  "idx_dossier_steps_at_step_code", "ratings_report")
DOSSIER_TABLES = ("dossiers", "dossier_steps", "dossier_apologies")
CATALOGUE_TABLES = ("catalogue_procedures", "catalogue_names_fts", "catalogue_text_fts",
                    "catalogue_meta")
# Columns later steps added to old tables, and what old rows hold in them (step 9, issue 14:
# where a ticket came from, its booking and check-in; a counter's run of bookings).
WIDENED = {"tickets": (None, None, None), "counters": (0,)}
# What the old code left, state by state: (what to leave out of version 4, user_version).
OLD_STATES = {
    # the newest: a centre that ran, with dossiers imported and the catalogue
    "centre-v4": ((), 4),
    # before the report indexes (3): the mirror and the catalogue made by themselves
    "centre-v2": (REPORT_INDEXES, 2),
    # the queue alone, before ratings (2); no dossiers and no catalogue yet
    "centre-v1": (REPORT_INDEXES + ("ratings", "pad_prompts") + DOSSIER_TABLES + CATALOGUE_TABLES, 1),
    # a kiosk's copy of the catalogue: nothing else, user_version 0, its own
    # schema number in catalogue_meta
    "kiosk-catalogue": (REPORT_INDEXES + ("events", "tickets", "counters", "sequences",
                                          "requests", "meta", "ratings", "pad_prompts")
                        + DOSSIER_TABLES, 0),
}


def load(name: str, path: Path) -> Path:
    left_out, version = OLD_STATES[name]
    conn = sqlite3.connect(path)
    conn.executescript((OLD / "centre-v4.sql").read_text(encoding="utf-8"))
    kinds = dict(conn.execute("SELECT name, type FROM sqlite_master"))
    for thing in left_out:
        conn.execute(f'DROP {kinds[thing].upper()} "{thing}"')
    conn.execute(f"PRAGMA user_version={version}")
    conn.commit()
    conn.close()
    return path


def schema(db) -> set[tuple]:
    """Every table, index, trigger and virtual table as SQLite keeps it."""
    conn = db.conn if isinstance(db, sqlite_utils.Database) else db
    return set(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))


def rows(db) -> dict[str, list[tuple]]:
    """The rows of every real table (FTS5 indexes and their shadow tables are
    derived: compared through searches instead)."""
    conn = db.conn if isinstance(db, sqlite_utils.Database) else db
    objects = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    virtual = [n for n, sql in objects if sql.startswith("CREATE VIRTUAL TABLE")]
    return {n: sorted(conn.execute(f'SELECT * FROM "{n}"'), key=repr) for n, _ in objects
            if n not in virtual and not any(n.startswith(v + "_") for v in virtual)}


def searches(catalogue: Catalogue) -> list:
    return [catalogue.search(q) for q in ("dang ky", "khai sinh", "1.00", "giay", "ban sao")]


def without_schema_number(table_rows: list[tuple]) -> list[tuple]:
    # The catalogue kept its tables' version in catalogue_meta; user_version has it now.
    return [r for r in table_rows if r[0] != "schema"]


@pytest.mark.parametrize("name", ["centre-v1", "centre-v2", "centre-v4"])
def test_an_old_centre_database_upgrades_keeping_its_rows(name, tmp_path):
    path = load(name, tmp_path / "centre.db")
    conn = sqlite3.connect(path)
    before, old_version = rows(conn), conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    assert old_version < SCHEMA_VERSION and before["tickets"]

    store = Store(path)
    fresh = Store(tmp_path / "fresh.db")
    assert store.version == fresh.version == SCHEMA_VERSION
    assert migrations.application_id(store.db) == migrations.CENTRE.application_id
    assert schema(store.db) == schema(fresh.db)
    after = rows(store.db)
    assert set(after) == set(rows(fresh.db))
    for table, kept in before.items():
        if table == "catalogue_meta":
            kept = without_schema_number(kept)
        if table in WIDENED:  # step 9 added columns at the end: the old ones are kept as they were
            added = WIDENED[table]
            assert [r[:-len(added)] for r in after[table]] == kept, table
            assert {r[-len(added):] for r in after[table]} == {added}, table
            continue
        assert after[table] == kept, table
    assert store.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    # The centre goes on in it: the queue, the dossier mirror, the catalogue.
    engine = Engine(SITE, store.load_state(SITE.queue.estimate_window))
    assert engine.state.tickets
    store.commit(*engine.issue("HT", engine_now(store)))
    dossiers = DossierStore(store.db, SITE.dossiers, SITE.timezone)
    for code in dossiers.codes():
        assert dossiers.get(code).code == code
    catalogue = Catalogue(store.db)
    if "catalogue_procedures" in before:
        again = Catalogue(sqlite_utils.Database(memory=True))
        again.replace_all(catalogue.export())
        assert catalogue.count() == 3 and searches(catalogue) == searches(again)
        assert catalogue.version() == again.version()
    fresh.close()
    store.close()

    reopened = Store(path)   # opening again changes nothing
    assert reopened.version == SCHEMA_VERSION and schema(reopened.db) == schema(
        sqlite3.connect(tmp_path / "fresh.db"))
    reopened.close()


def engine_now(store: Store):
    last = store.db.execute("SELECT max(at) FROM events").fetchone()[0]
    return parse_iso(last) + timedelta(minutes=1)


def test_an_old_kiosk_copy_of_the_catalogue_upgrades_keeping_its_rows(tmp_path):
    path = load("kiosk-catalogue", tmp_path / "kiosk.db")
    conn = sqlite3.connect(path)
    before = rows(conn)
    conn.close()
    copy = Catalogue(sqlite_utils.Database(path))
    fresh = Catalogue(sqlite_utils.Database(tmp_path / "fresh.db"))
    assert migrations.version(copy.db) == migrations.CATALOGUE_COPY.version == 1
    assert migrations.application_id(copy.db) == migrations.CATALOGUE_COPY.application_id
    assert schema(copy.db) == schema(fresh.db)
    after = rows(copy.db)
    assert after["catalogue_procedures"] == before["catalogue_procedures"]
    assert after["catalogue_meta"] == without_schema_number(before["catalogue_meta"])
    fresh.replace_all(copy.export())
    assert searches(copy) == searches(fresh) and copy.version() == fresh.version()
    # only the catalogue: a kiosk's copy holds no table of the centre's
    assert set(copy.db.table_names()) == set(fresh.db.table_names())
    assert "tickets" not in copy.db.table_names()


def test_a_new_centre_database_gets_every_table_from_the_migrations(tmp_path):
    store = Store(tmp_path / "c.db")
    tables = set(store.db.table_names())
    assert {"events", "tickets", "counters", "sequences", "requests", "meta", "pad_prompts",
            "ratings", "dossiers", "dossier_steps", "dossier_apologies", "catalogue_procedures",
            "catalogue_meta", "catalogue_names_fts", "catalogue_text_fts"} <= tables
    # The dossier mirror and the catalogue create nothing of their own any more.
    DossierStore(store.db, SITE.dossiers, SITE.timezone)
    Catalogue(store.db)
    assert set(store.db.table_names()) == tables
    assert store.version == SCHEMA_VERSION == len(migrations.CENTRE.steps)
    assert list(migrations.MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))
    store.close()


def test_a_kiosk_copy_and_a_centre_database_are_not_taken_for_each_other(tmp_path):
    Catalogue(sqlite_utils.Database(tmp_path / "kiosk.db")).db.close()
    with pytest.raises(RuntimeError, match="a kiosk's copy of the procedure catalogue, not the "
                                           "centre's database"):
        Store(tmp_path / "kiosk.db")
    Store(tmp_path / "centre.db").close()
    db = sqlite_utils.Database(tmp_path / "centre.db")
    with pytest.raises(RuntimeError, match="the centre's database, not a kiosk's copy"):
        migrations.migrate(db, migrations.CATALOGUE_COPY, "centre.db")


def test_a_failed_step_leaves_the_database_as_it_was(tmp_path):
    path = load("centre-v2", tmp_path / "centre.db")
    steps = list(migrations.CENTRE.steps)

    def broken(db):
        db.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("disk I/O error")

    steps[3] = migrations.Step(4, "broken", broken)
    schema_with_a_broken_step = migrations.Schema("the centre's database",
                                                  migrations.CENTRE.application_id, tuple(steps))
    db = sqlite_utils.Database(sqlite3.connect(path))
    with pytest.raises(sqlite3.OperationalError):
        migrations.migrate(db, schema_with_a_broken_step)
    assert migrations.version(db) == 3           # step 3 done and kept, step 4 not at all
    assert "half_done" not in db.table_names()
    db.close()
    store = Store(path)
    assert store.version == SCHEMA_VERSION
    store.close()

"""Writes centre-v4.sql beside this file: a centre's database as motcua made it
before motcua.migrations owned every table (commit b3f0fef: schema version 4,
the dossier mirror's and the catalogue's tables made by themselves), after a
morning's tickets, an import of dossiers with an apology, and a catalogue.
tests/unit/test_migrations.py builds the older states from it (the same
statements made every table then; an older database lacks some of them).
Run it with that commit's tree:

    git worktree add /tmp/old b3f0fef
    cd /tmp/old && PYTHONPATH=/tmp/old python /path/to/tests/support/old_databases/make.py

The dump is the file's schema, its rows and its `PRAGMA user_version`."""
from __future__ import annotations

import json
import sqlite3
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlite_utils

from motcua.catalogue import Catalogue
from motcua.config import load_site
from motcua.dossiers import DossierStore
from motcua.engine import Engine
from motcua.store import Store

HERE = Path(__file__).resolve().parent
EXAMPLES = Path.cwd() / "examples"
SITE = load_site(EXAMPLES / "site.toml")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
PROCEDURES = json.loads((EXAMPLES / "procedures.json").read_text(encoding="utf-8"))[:3]
DOSSIERS = json.loads((EXAMPLES / "dossiers.json").read_text(encoding="utf-8"))[:3]


def morning(store: Store) -> None:
    """A few tickets issued, called, served and one no-show, as the centre commits them."""
    engine = Engine(SITE, store.load_state(SITE.queue.estimate_window))
    now = NOW
    store.commit(*engine.sign_in(1, "nguyenvana", now))
    for i in range(5):
        now += timedelta(seconds=30)
        store.commit(*engine.issue(["HT", "CT"][i % 2], now))
    for i in range(3):
        now += timedelta(minutes=2)
        store.commit(*engine.call_next(1, now))
        if i == 1:
            store.commit(*engine.no_show(1, now))
            continue
        store.commit(*engine.start(1, now))
        store.commit(*engine.done(1, now + timedelta(minutes=1)))


def mirror(db: sqlite_utils.Database) -> None:
    dossiers = DossierStore(db, SITE.dossiers, SITE.timezone)
    report = dossiers.import_records(enumerate(DOSSIERS, 1))
    assert report.ok, report.errors
    later = NOW + timedelta(days=30)
    late = dossiers.overdue(later)[0]
    dossiers.apologise(late.dossier.code, "Chờ kết quả xác minh", later.date() + timedelta(days=10),
                       later)


def catalogue(db: sqlite_utils.Database) -> None:
    Catalogue(db).replace_all(PROCEDURES)


def dump(path: Path, name: str) -> None:
    """The schema as sqlite_master holds it (FTS5 shadow tables left to their
    CREATE VIRTUAL TABLE), then every row with its rowid; the FTS5 indexes
    fill again through their triggers as the rows go in."""
    conn = sqlite3.connect(path)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    objects = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                           "ORDER BY rowid").fetchall()
    virtual = [n for t, n, sql in objects if sql.startswith("CREATE VIRTUAL TABLE")]
    shadow = {n for t, n, _ in objects if any(n.startswith(v + "_") for v in virtual)}
    lines = ["BEGIN TRANSACTION;"]
    lines += [f"{sql};" for t, n, sql in objects if n not in shadow]
    for t, table, sql in objects:
        if t != "table" or table in shadow or table in virtual:
            continue
        columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
        values = " || ',' || ".join(f'quote("{c}")' for c in ["rowid", *columns])
        names = ", ".join(f'"{c}"' for c in ["rowid", *columns])
        lines += [row[0] for row in conn.execute(
            f"SELECT 'INSERT INTO \"{table}\"({names}) VALUES(' || {values} || ');' "
            f'FROM "{table}" ORDER BY rowid')]
    lines += ["COMMIT;", f"PRAGMA user_version={version};"]
    conn.close()
    (HERE / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{name}: user_version {version}, {len(lines)} statements")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # The latest of the old code: a centre that has run, with dossiers and the catalogue.
        store = Store(tmp / "v4.db")
        morning(store)
        mirror(store.db)
        catalogue(store.db)
        store.close()
        dump(tmp / "v4.db", "centre-v4.sql")


if __name__ == "__main__":
    main()

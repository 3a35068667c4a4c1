"""A centre's SQLite file as a test reads it: rows of a running centre's file, and a
file made by the migrations of an older version (to be upgraded by today's code)."""
from __future__ import annotations

import sqlite3

import sqlite_utils


def rows(site, sql: str, args=()) -> list[tuple]:
    """The rows of `sql` in the site's database (a connection of its own, closed after)."""
    from motcua.store import Store
    store = Store(site.database)
    try:
        return store.db.execute(sql, list(args)).fetchall()
    finally:
        store.close()


def database_at_version(path, version: int) -> sqlite_utils.Database:
    """A database as motcua made it when `version` was its newest migration."""
    from motcua.migrations import CENTRE, MIGRATIONS
    db = sqlite_utils.Database(sqlite3.connect(str(path)))
    for v in range(1, version + 1):
        with db.atomic():
            MIGRATIONS[v](db)
            db.execute(f"PRAGMA user_version={v}")
            db.execute(f"PRAGMA application_id={CENTRE.application_id}")
    return db

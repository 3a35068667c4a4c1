"""The catalogue's store: `Catalogue` reads and writes the catalogue's tables
(motcua.catalogue.schema), imports files (motcua.catalogue.importers) and
searches (motcua.catalogue.search). It touches no other table.

Importing a code that exists replaces it, so a corrected file can simply be
imported again. `replace_all` (a kiosk taking the centre's catalogue) is
all-or-nothing.

The catalogue's `version()` is kept in catalogue_meta by every write through
this class; a table changed behind its back would keep a stale version.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

import sqlite_utils

from .. import migrations
from ..vntext import fold
from .importers import ImportProblem, ImportReport, read_file
from .records import CatalogueError, Procedure, ProcedureError, from_stored
from .schema import (FOLD_VERSION, NAMES_FTS, TABLE, TEXT_FTS, create_triggers, drop_triggers,
                     get_meta, in_search_order, search_row, set_meta, stored_row)
from .search import Hit, Recent, Search

# A put() of at least this many procedures merges the FTS segments afterwards.
OPTIMIZE_AFTER = 500


class Catalogue:
    """The catalogue in a database: the centre's (whose migrations made its
    tables) or a kiosk's copy (made, or upgraded, here by CATALOGUE_COPY's
    steps: the copy holds nothing else)."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        if migrations.application_id(db) != migrations.CENTRE.application_id:
            migrations.migrate(db, migrations.CATALOGUE_COPY)
        if get_meta(db, "fold") != str(FOLD_VERSION):
            self._refold()
        # The previous keystroke's candidates, which the next one narrows.
        self._recent: dict[str, Recent] = {}

    def _meta(self, key: str) -> str | None:
        return get_meta(self.db, key)

    def _set_meta(self, key: str, value: str) -> None:
        set_meta(self.db, key, value)

    def _refold(self) -> None:
        """The search columns again, after vntext.fold changed (FOLD_VERSION)."""
        with self.db.atomic():
            for code, data in self.db.execute(f"SELECT code, data FROM {TABLE}").fetchall():
                row = search_row(from_stored(json.loads(data)))
                sets = ", ".join(f"{c} = :{c}" for c in row)
                self.db.execute(f"UPDATE {TABLE} SET {sets} WHERE code = :code", {**row, "code": code})
            self._set_meta("fold", str(FOLD_VERSION))

    # -- writing ------------------------------------------------------------------
    def put(self, procedures: Iterable[Procedure]) -> int:
        """Add or replace procedures (by code) in one transaction; returns how many."""
        rows = in_search_order(stored_row(p) for p in procedures)
        with self.db.atomic():
            # Delete then insert, so the triggers update the FTS indexes and a
            # code that differs only in case replaces the old spelling.
            self.db.conn.executemany(f"DELETE FROM {TABLE} WHERE code = ?", [(r["code"],) for r in rows])
            self.db[TABLE].insert_all(rows)
            if len(rows) >= OPTIMIZE_AFTER:
                # Row-by-row inserts leave the FTS indexes in many small
                # segments, and every prefix query then reads each of them: on
                # 20,000 procedures that doubles the p99 search time.
                self._optimize()
            self._store_version()
        return len(rows)

    def replace_all(self, records: Iterable[dict]) -> int:
        """Swap the whole catalogue atomically (a kiosk syncing the centre's).
        Every record is validated first; on any problem nothing changes."""
        procedures, problems, seen = [], [], {}
        for i, record in enumerate(records):
            try:
                p = Procedure.from_dict(record)
            except ProcedureError as exc:
                problems += [(f"[{i}].{f}" if f else f"[{i}]", m) for f, m in exc.problems]
                continue
            if p.code.upper() in seen:
                problems.append((f"[{i}].code", f"{p.code} already at [{seen[p.code.upper()]}]"))
                continue
            seen[p.code.upper()] = i
            procedures.append(p)
        if problems:
            raise CatalogueError(f"{len(problems)} problem(s) in the new catalogue; "
                                 "the old one is kept", problems)
        rows = in_search_order(stored_row(p) for p in procedures)
        with self.db.atomic():
            # Bulk path: row-by-row trigger work would dominate a full swap, so
            # the triggers are dropped and the indexes rebuilt, all inside the
            # transaction (SQLite DDL is transactional: a failure restores them).
            drop_triggers(self.db)
            self.db.execute(f"DELETE FROM {TABLE}")
            self.db[TABLE].insert_all(rows)
            for fts in (NAMES_FTS, TEXT_FTS):
                self.db.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
            create_triggers(self.db)
            self._store_version()
        return len(rows)

    def _optimize(self) -> None:
        for fts in (NAMES_FTS, TEXT_FTS):
            self.db.execute(f"INSERT INTO {fts}({fts}) VALUES ('optimize')")

    def import_file(self, path: str | Path) -> ImportReport:
        """Load a JSON or CSV file (see the module docstring). A partial
        import: each bad row is reported (row, code, field, what is wrong and
        what to do) and skipped, the good rows are imported in one transaction;
        a problem that spoils every row (unreadable file, invalid JSON, bad
        header) imports nothing. Errors come in file order."""
        report, rows = read_file(path)
        good: dict[str, tuple[int, Procedure]] = {}
        for row_no, record in rows:
            code = record.get("code") if isinstance(record, dict) else None
            code = code.strip() if isinstance(code, str) else ""
            try:
                p = Procedure.from_dict(record)
            except ProcedureError as exc:
                report.errors += [ImportProblem(row_no, code, f, m) for f, m in exc.problems]
                continue
            key = p.code.upper()
            if key in good:
                report.errors.append(ImportProblem(row_no, p.code, "code", (
                    f"duplicate: row {good[key][0]} already has this code; this row was skipped: "
                    "give it its own code or delete one of the two")))
                continue
            good[key] = (row_no, p)
        report.imported = self.put(p for _, p in good.values())
        report.errors.sort(key=lambda e: e.row or 0)    # in file order, whichever check found them
        return report

    # -- reading ------------------------------------------------------------------
    def get(self, code: str) -> Procedure | None:
        row = self.db.execute(f"SELECT data FROM {TABLE} WHERE code = ?", [code.strip()]).fetchone()
        return None if row is None else from_stored(json.loads(row[0]))

    def count(self) -> int:
        return self.db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]

    def fields(self) -> list[tuple[str, int]]:
        rows = self.db.execute(f"SELECT field, count(*) FROM {TABLE} GROUP BY field").fetchall()
        return sorted(((f, n) for f, n in rows), key=lambda r: (fold(r[0]), r[0]))

    def in_field(self, field: str) -> list[Procedure]:
        rows = self.db.execute(f"SELECT data FROM {TABLE} WHERE field = ? ORDER BY s_name, name",
                               [field]).fetchall()
        return [from_stored(json.loads(r[0])) for r in rows]

    def export(self) -> list[dict]:
        return [json.loads(r[0]) for r in self.db.execute(f"SELECT data FROM {TABLE} ORDER BY code")]

    def version(self) -> str:
        """A hash of the whole catalogue: equal for equal content, whatever the
        order of import; a kiosk compares it with the centre's to know when to
        sync. Kept in catalogue_meta by every write (hashing 20,000 records
        takes ~80 ms, too long for each sync check)."""
        return self._meta("version") or self._compute_version()

    def _compute_version(self) -> str:
        digest = hashlib.sha256()
        for code, h in self.db.execute(f"SELECT upper(code), hash FROM {TABLE} ORDER BY upper(code)"):
            digest.update(f"{code}\t{h}\n".encode("utf-8"))
        return digest.hexdigest()

    def _store_version(self) -> None:
        self._set_meta("version", self._compute_version())

    # -- search -------------------------------------------------------------------
    def search(self, query: str, limit: int = 20, field: str | None = None) -> list[Hit]:
        """Procedures matching `query` as typed so far, best first (see the
        module docstring for the tiers); `field` keeps one lĩnh vực only."""
        return Search(self.db, limit, field, self._recent).run(query)

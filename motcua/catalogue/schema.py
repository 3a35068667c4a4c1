"""The catalogue's tables, the same in the centre's database and in each
kiosk's copy: `catalogue_procedures` (one row per procedure, the record as
JSON plus folded search columns), two FTS5 indexes over it,
`catalogue_names_fts` and `catalogue_text_fts` (with their shadow tables and
triggers), and `catalogue_meta` (the catalogue's version and the fold version
of its search columns).

`create_tables` is the catalogue's step of the migrations (motcua.migrations):
of the centre's database, and of a kiosk's copy, which holds nothing else.
Text is stored folded (`vntext.fold`: no case, no diacritics, đ → d) in the
search columns, because FTS5's unicode61 tokenizer does not fold đ and mangles
letters with two marks.
"""
from __future__ import annotations

import functools
import hashlib
from typing import Iterable

import sqlite_utils

from ..vntext import fold
from .records import Procedure, canonical

TABLE = "catalogue_procedures"
NAMES_FTS = "catalogue_names_fts"    # name, code, field, agency: small, for the name tiers
TEXT_FTS = "catalogue_text_fts"      # every search column: for "anywhere"
META = "catalogue_meta"
# Bump when vntext.fold changes: the stored search columns are then rebuilt.
FOLD_VERSION = 1

# Search columns: (column, label in Hit.matched_in, bm25 weight). The name weighs most.
SEARCH_COLUMNS = (
    ("s_name", "name", 10.0),
    ("s_code", "code", 6.0),
    ("s_field", "field", 3.0),
    ("s_agency", "agency", 2.0),
    ("s_documents", "documents", 1.0),
    ("s_steps", "steps", 1.0),
    ("s_other", "other", 0.5),
)
NAME_COLUMNS = SEARCH_COLUMNS[:4]
LABEL_COLUMNS = tuple(c for c, _, _ in NAME_COLUMNS)     # s_name first


def create_tables(db: sqlite_utils.Database) -> None:
    """The catalogue's tables, indexes and triggers, if they are not there yet
    (databases made before the migrations owned them got them from the
    catalogue on first use, with the same statements)."""
    search_cols = ", ".join(f"{c} TEXT NOT NULL DEFAULT ''" for c, _, _ in SEARCH_COLUMNS)
    # Small columns first: SQLite reads a row's columns in order, and the
    # ranking queries should not wade through the JSON record to reach s_name.
    # NOCASE on the code lets "2.000815.000.00.00.h38" find ...H38 by index.
    db.execute(f"""CREATE TABLE IF NOT EXISTS {TABLE} (
            code TEXT PRIMARY KEY COLLATE NOCASE, name TEXT NOT NULL, field TEXT NOT NULL,
            hash TEXT NOT NULL, {search_cols}, data TEXT NOT NULL)""")
    db[TABLE].create_index(["s_name"], if_not_exists=True)
    db[TABLE].create_index(["field", "s_name"], if_not_exists=True)
    # sqlite-utils' enable_fts cannot set FTS5's prefix= and detail= options,
    # which the per-keystroke search needs, so the indexes are declared here.
    # Every query word is a prefix, and without a prefix index FTS5 merges the
    # doclists of all words starting with it; folded Vietnamese syllables are
    # at most 7 letters, so indexing prefixes up to 6 covers nearly all (at
    # about +25% index size). The text is folded already: the tokenizer only
    # splits words.
    for fts, columns, options in ((NAMES_FTS, NAME_COLUMNS, ""),
                                  (TEXT_FTS, SEARCH_COLUMNS, ", detail=column")):
        names = ", ".join(c for c, _, _ in columns)
        db.execute(f"""CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({names},
                content='{TABLE}', prefix='1 2 3 4 5 6'{options},
                tokenize='unicode61 remove_diacritics 0')""")
    create_triggers(db)
    db[META].create({"key": str, "value": str}, pk="key", if_not_exists=True)
    # The tables' version is now the database's (user_version); the catalogue
    # kept its own here before.
    db.execute(f"DELETE FROM {META} WHERE key = 'schema'")
    if get_meta(db, "fold") is None:
        set_meta(db, "fold", str(FOLD_VERSION))


def create_triggers(db: sqlite_utils.Database) -> None:
    # External-content FTS: the triggers keep both indexes in step with the table.
    add, remove = [], []
    for fts, columns in ((NAMES_FTS, NAME_COLUMNS), (TEXT_FTS, SEARCH_COLUMNS)):
        names = ", ".join(c for c, _, _ in columns)
        new = ", ".join(f"new.{c}" for c, _, _ in columns)
        old = ", ".join(f"old.{c}" for c, _, _ in columns)
        add.append(f"INSERT INTO {fts}(rowid, {names}) VALUES (new.rowid, {new});")
        remove.append(f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.rowid, {old});")
    add, remove = " ".join(add), " ".join(remove)
    db.execute(f"CREATE TRIGGER IF NOT EXISTS {TABLE}_ai AFTER INSERT ON {TABLE} BEGIN {add} END")
    db.execute(f"CREATE TRIGGER IF NOT EXISTS {TABLE}_ad AFTER DELETE ON {TABLE} BEGIN {remove} END")
    db.execute(f"CREATE TRIGGER IF NOT EXISTS {TABLE}_au AFTER UPDATE ON {TABLE} "
               f"BEGIN {remove} {add} END")


def drop_triggers(db: sqlite_utils.Database) -> None:
    for suffix in ("ai", "ad", "au"):
        db.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{suffix}")


def get_meta(db: sqlite_utils.Database, key: str) -> str | None:
    row = db.execute(f"SELECT value FROM {META} WHERE key = ?", [key]).fetchone()
    return None if row is None else row[0]


def set_meta(db: sqlite_utils.Database, key: str, value: str) -> None:
    db[META].upsert({"key": key, "value": value}, pk="key")


# Catalogues repeat their texts (the same identity paper, step or fee in
# hundreds of procedures), so folding each piece once saves most of the work
# of a bulk import.
_fold_piece = functools.lru_cache(maxsize=8192)(fold)


def _fold_all(pieces: Iterable[str]) -> str:
    return " ".join(filter(None, map(_fold_piece, pieces)))


def search_row(p: Procedure) -> dict[str, str]:
    other = [p.conditions, p.result, p.level, *p.legal_basis,
             *(text for c in p.channels for text in (c.time_limit, c.fee, c.notes))]
    return {
        "s_name": fold(p.name),
        "s_code": fold(p.code),
        "s_field": _fold_piece(p.field),
        "s_agency": _fold_piece(p.agency),
        "s_documents": _fold_all(text for d in p.documents for text in (d.name, d.form)),
        "s_steps": _fold_all(p.steps),
        "s_other": _fold_all(other),
    }


def in_search_order(rows: Iterable[dict]) -> list[dict]:
    """Rows to insert, shortest name first. FTS5 yields matches in rowid
    order and a search ranks the first CANDIDATE_CAP (motcua.catalogue.search) of them by name length,
    so rowids given in that order make those the shortest of all matches."""
    return sorted(rows, key=lambda row: (len(row["s_name"]), row["s_name"]))



def stored_row(p: Procedure) -> dict:
    """The table's row for a procedure: its record, hash and search columns."""
    data = canonical(p.to_dict())
    return {"code": p.code, "name": p.name, "field": p.field,
            "hash": hashlib.sha256(data.encode("utf-8")).hexdigest(), **search_row(p),
            "data": data}

"""The procedure catalogue (thủ tục hành chính): store, import, search.

The centre's database and each kiosk's local copy hold the same tables, written
with sqlite-utils. `Catalogue(db)` creates them if missing and touches no other
table: `catalogue_procedures` (one row per procedure, the record as JSON plus
folded search columns), two FTS5 indexes over it, `catalogue_names_fts` and
`catalogue_text_fts` (with their shadow tables and triggers), and
`catalogue_meta`.

A procedure follows the national database's record: code (e.g. 1.001193; a
provincial copy may add a suffix, 2.000815.000.00.00.H38), name, field (lĩnh
vực), agency, level, per channel the time limit, fee and notes, documents,
steps, conditions, result, legal basis, online level and related procedures.

Import files
------------
JSON: a list of procedure objects, or {"procedures": [...]}, with the keys of
`Procedure` (see `Procedure.to_dict`). Unknown keys are errors, so a misspelt
"documnets" is reported instead of silently dropped.

CSV (UTF-8, with or without BOM; comma, semicolon or tab separated, as Excel
writes it), one row per procedure, a header row with these columns:

    code, name, field             required text
    agency, level, online_level,  text (level: xã, huyện, tỉnh or trung ương, comma
    conditions, result,           separated if several, "Cấp xã" accepted; online_level:
    source_note                   toan_trinh, mot_phan or empty)
    channels                      JSON array of {"channel", "time_limit", "fee", "notes"}
    documents                     JSON array of {"name", "original_or_copy", "count", "form"}
    steps, legal_basis            JSON array of text, or one item per line in the cell
    related                       JSON array of codes, or codes separated by commas/lines

Only code, name and field must be present as columns; a column without a name
in the header is ignored while its cells are empty. The fixed choices may be
written in Vietnamese as well: "Trực tiếp" is truc_tiep, "Bản sao" ban_sao,
"Một phần" mot_phan.

Partial import: every bad row gives an error naming its row, the row's code,
the field and what is wrong and what to do, and is skipped; the good rows are
imported, in one transaction. Rows are numbered as a spreadsheet shows them
(the header is row 1), JSON items from 1. Importing a code that exists
replaces it, so a corrected file can simply be imported again. What spoils
every row imports nothing: a file that is not UTF-8 JSON or CSV, invalid JSON,
a header row lacking code/name/field, or with an unknown or repeated column.
`replace_all` (a kiosk taking the centre's catalogue) is all-or-nothing.

Search
------
Text is compared folded (`vntext.fold`: no case, no diacritics, đ → d) on both
sides, because FTS5's unicode61 tokenizer does not fold đ and mangles letters
with two marks; so NFC or NFD input and old or new tone placement (hòa / hoà)
all match. Every query word matches as a prefix (the last one is still being
typed). Hits come in tiers, best first, each ordered by name length (every
candidate of a tier holds every word, so the shortest name is the closest
match; codes in code order):

    7 the code starts with the query (1.0011 → 1.001193; a provincial code
      2.000815.000.00.00.H38 also finds 2.000815)
    6 the name starts with the query
    5 the name holds the words in the order typed
    4 the name holds every word
    3 name, code, field and agency together hold every word
    2 the documents hold every word
    1 every word somewhere (steps, conditions, result, fees, legal basis)

A tier looks at most at the first CANDIDATE_CAP matches FTS5 yields (in rowid
order), which keeps every keystroke within a few milliseconds on 20,000
procedures. Rows are stored shortest name first, so these are the shortest
matching names; procedures added later by a small `put` or import go after the
others, so a vague query may rank them lower until the whole catalogue is
imported again or swapped by `replace_all`. While
typing, a keystroke that only narrows the previous one filters that one's
candidates instead of asking FTS5 again (see `_Search`).
`Hit.score // SCORE_STEP` is the tier, and `Hit.matched_in` names the columns
holding every word (or, when the words are spread, any of them).

The catalogue's `version()` is kept in catalogue_meta by every write through
this class; a table changed behind its back would keep a stale version.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import sqlite_utils

from .vntext import fold

CHANNELS = ("truc_tiep", "truc_tuyen", "buu_chinh")
COPY_KINDS = ("ban_chinh", "ban_sao", "ban_chinh_hoac_ban_sao")
ONLINE_LEVELS = ("toan_trinh", "mot_phan", "")
LEVELS = ("xã", "huyện", "tỉnh", "trung ương")
CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")
# What a person typing a procedure code looks like: digits and dots (1.001193,
# 2.000815.000.00.00.H38) — then the code column is searched first.
_CODE_QUERY = re.compile(r"^\s*(\d+(?:\.[0-9A-Za-z.]*)?)\s*$")

TABLE = "catalogue_procedures"
NAMES_FTS = "catalogue_names_fts"    # name, code, field, agency: small, for the name tiers
TEXT_FTS = "catalogue_text_fts"      # every search column: for "anywhere"
META = "catalogue_meta"
SCHEMA_VERSION = 1
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
# A MATCH yields at most this many candidates to rank (the cost of a
# keystroke grows with it). FTS5 yields rowids in order, and rowids are given
# shortest name first (`_in_search_order`), so these are the shortest names
# matching: the ones ranked first anyway.
CANDIDATE_CAP = 50
TEXT_CANDIDATE_CAP = 50     # documents and "anywhere"
# Search tiers, best first; Hit.score // SCORE_STEP is the tier.
TIER_CODE = 7          # the code starts with the query (1.0011 → 1.001193)
TIER_STARTS = 6        # the name starts with the query
TIER_NAME_ORDER = 5    # the name holds the words in the order typed
TIER_NAME = 4          # the name holds every word
TIER_LABEL = 3         # name, code, field and agency together hold every word
TIER_DOCUMENTS = 2     # the documents hold every word
TIER_ANYWHERE = 1      # every word somewhere (steps, conditions, result, fees…)
SCORE_STEP = 1_000_000
# A put() of at least this many procedures merges the FTS segments afterwards.
OPTIMIZE_AFTER = 500

# Abbreviations people type at a kiosk. None of them is the start of a
# Vietnamese syllable, so expanding them never hides a real prefix match.
ABBREVIATIONS = {
    "dk": "dang ky",
    "dkkd": "dang ky kinh doanh",
    "gcn": "giay chung nhan",
    "gp": "giay phep",
    "gpxd": "giay phep xay dung",
    "xd": "xay dung",
    "qsdd": "quyen su dung dat",
    "hkd": "ho kinh doanh",
    "lltp": "ly lich tu phap",
    "tthn": "tinh trang hon nhan",
    "btxh": "bao tro xa hoi",
}


class CatalogueError(ValueError):
    """A catalogue operation was refused; `problems` lists (field, message)."""

    def __init__(self, message: str, problems: Iterable[tuple[str, str]] = ()):
        super().__init__(message)
        self.problems = list(problems)


class ProcedureError(CatalogueError):
    """One procedure record is invalid; `problems` lists (field, message)."""


@dataclass(frozen=True)
class Channel:
    channel: str                 # truc_tiep | truc_tuyen | buu_chinh
    time_limit: str = ""         # as published, e.g. "03 ngày làm việc"
    fee: str = ""                # as published; text, because fees have conditions
    notes: str = ""


@dataclass(frozen=True)
class Document:
    name: str
    original_or_copy: str = "ban_chinh"   # ban_chinh | ban_sao | ban_chinh_hoac_ban_sao
    count: int = 1
    form: str = ""                        # form file name, "" if none


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    field: str                   # lĩnh vực
    agency: str = ""             # cơ quan thực hiện
    level: str = ""              # xã | huyện | tỉnh | trung ương (comma separated)
    channels: tuple[Channel, ...] = ()
    documents: tuple[Document, ...] = ()
    steps: tuple[str, ...] = ()
    conditions: str = ""
    result: str = ""
    legal_basis: tuple[str, ...] = ()
    online_level: str = ""       # toan_trinh | mot_phan | ""
    related: tuple[str, ...] = ()
    source_note: str = ""        # where a fact comes from, or that it is unconfirmed

    def to_dict(self) -> dict:
        """Plain JSON-ready dict with every key (the import/export format)."""
        return {
            "code": self.code, "name": self.name, "field": self.field, "agency": self.agency,
            "level": self.level,
            # By hand: dataclasses.asdict deep-copies, a third of a bulk import's time.
            "channels": [{"channel": c.channel, "time_limit": c.time_limit, "fee": c.fee,
                          "notes": c.notes} for c in self.channels],
            "documents": [{"name": d.name, "original_or_copy": d.original_or_copy,
                           "count": d.count, "form": d.form} for d in self.documents],
            "steps": list(self.steps), "conditions": self.conditions, "result": self.result,
            "legal_basis": list(self.legal_basis), "online_level": self.online_level,
            "related": list(self.related), "source_note": self.source_note,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Procedure":
        """Validate and build; raises ProcedureError listing every problem."""
        return _Checker().procedure(data)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(_canonical(self.to_dict()).encode("utf-8")).hexdigest()


PROCEDURE_KEYS = tuple(f.name for f in dataclasses.fields(Procedure))
CHANNEL_KEYS = tuple(f.name for f in dataclasses.fields(Channel))
DOCUMENT_KEYS = tuple(f.name for f in dataclasses.fields(Document))
REQUIRED_KEYS = ("code", "name", "field")


@dataclass(frozen=True)
class Hit:
    code: str
    name: str
    field: str
    score: float                       # larger is better; hits come sorted by it
    matched_in: tuple[str, ...]        # the columns holding every word (else any): code,
                                       # name, field, agency, documents, steps, other
    tier: int = 0                      # TIER_CODE … TIER_ANYWHERE: why it was found


@dataclass(frozen=True)
class ImportProblem:
    row: int | None          # spreadsheet row (header = 1) or JSON item (from 1); None: the file
    code: str                # the row's code if it had one
    field: str               # e.g. "channels[1].channel"; "" for the whole row or file
    message: str

    def __str__(self) -> str:
        where = "file" if self.row is None else f"row {self.row}"
        if self.code:
            where += f" (code {self.code})"
        return f"{where}: {self.field + ': ' if self.field else ''}{self.message}"


@dataclass
class ImportReport:
    path: str
    format: str | None                  # "json", "csv" or None when unreadable
    imported: int = 0
    errors: list[ImportProblem] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        lines = [f"{self.path}: {self.imported} procedure(s) imported, {len(self.errors)} error(s)"]
        lines += [f"  {e}" for e in self.errors]
        return "\n".join(lines)


def _canonical(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _keyword(value: str) -> str:
    """The stored spelling of a fixed choice; staff writing a sheet by hand
    type it in Vietnamese: "Trực tiếp" → truc_tiep, "Bản chính" → ban_chinh."""
    return fold(value).replace(" ", "_")


def _text(value: str) -> str:
    # Files come NFC or NFD; store one form so equal text hashes equal.
    return unicodedata.normalize("NFC", value).strip()


class _Checker:
    """Validates one record, collecting every problem with its field path."""

    def __init__(self):
        self.problems: list[tuple[str, str]] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append((field, message))

    def procedure(self, data: Any) -> Procedure:
        if not isinstance(data, dict):
            raise ProcedureError("not an object", [("", f"must be an object with the keys "
                                                        f"{', '.join(REQUIRED_KEYS)}, …; got "
                                                        f"{type(data).__name__}")])
        for key in data:
            if key not in PROCEDURE_KEYS:
                self.fail(str(key), f"unknown field; rename it to one of {', '.join(PROCEDURE_KEYS)} "
                                    "or remove it")
        values: dict[str, Any] = {}
        for key in ("code", "name", "field"):
            values[key] = self.string(data, key, key, required=True)
        code = values["code"]
        if code and not CODE_RE.match(code):
            self.fail("code", f"{code!r} must be letters, digits, '.', '_' or '-' "
                              "(at most 64), e.g. 1.001193 or 2.000815.000.00.00.H38")
        for key in ("agency", "conditions", "result", "source_note"):
            values[key] = self.string(data, key, key)
        values["level"] = self.level(data)
        online = _keyword(self.string(data, "online_level", "online_level"))
        if online not in ONLINE_LEVELS:
            self.fail("online_level", f"{online!r} is not an online level; write toan_trinh "
                                      "(toàn trình), mot_phan (một phần) or leave it empty")
        values["online_level"] = online
        values["channels"] = tuple(self.objects(data, "channels", self.channel))
        values["documents"] = tuple(self.objects(data, "documents", self.document))
        for key in ("steps", "legal_basis", "related"):
            values[key] = tuple(self.strings(data, key))
        for i, rel in enumerate(values["related"]):
            if not CODE_RE.match(rel):
                self.fail(f"related[{i}]", f"{rel!r} is not a procedure code; write codes "
                                           "such as 1.001193")
        if self.problems:
            raise ProcedureError("; ".join(f"{f}: {m}" if f else m for f, m in self.problems),
                                 self.problems)
        return Procedure(**values)

    def string(self, data: dict, key: str, where: str, required: bool = False) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(where, "missing; every procedure needs it, fill it in")
            return ""
        if not isinstance(value, str):
            self.fail(where, f"must be text, not {type(value).__name__} {value!r}; "
                             "write it in quotes")
            return ""
        value = _text(value)
        if required and not value:
            self.fail(where, "is empty; every procedure needs it, fill it in")
        return value

    def level(self, data: dict) -> str:
        raw = self.string(data, "level", "level")
        if not raw:
            return ""
        known = {fold(level): level for level in LEVELS}
        out = []
        for part in re.split(r"[,;/]", raw):
            key = re.sub(r"^cap ", "", fold(part))
            if key not in known:
                self.fail("level", f"{part.strip()!r} is not a level; write {', '.join(LEVELS)} "
                                   "(several separated by commas)")
                return raw
            out.append(known[key])
        return ", ".join(dict.fromkeys(out))

    def strings(self, data: dict, key: str) -> list[str]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"must be a list of text, not {type(value).__name__}; "
                           'write ["…", "…"]')
            return []
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(f"{key}[{i}]", f"must be text, not {type(item).__name__} {item!r}; "
                                         "write it in quotes")
            elif _text(item):
                out.append(_text(item))
        return out

    def objects(self, data: dict, key: str, build) -> list:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"must be a list of objects, not {type(value).__name__}; "
                           'write [{…}, {…}]')
            return []
        out = []
        for i, item in enumerate(value):
            where = f"{key}[{i}]"
            if not isinstance(item, dict):
                self.fail(where, f"must be an object, not {type(item).__name__} {item!r}; "
                                 'write {"name": …}')
                continue
            built = build(item, where)
            if built is not None:
                out.append(built)
        return out

    def _unknown(self, item: dict, where: str, known: tuple[str, ...]) -> None:
        for k in item:
            if k not in known:
                self.fail(f"{where}.{k}", f"unknown field; rename it to one of "
                                          f"{', '.join(known)} or remove it")

    def channel(self, item: dict, where: str) -> Channel | None:
        before = len(self.problems)
        self._unknown(item, where, CHANNEL_KEYS)
        kind = _keyword(self.string(item, "channel", f"{where}.channel", required=True))
        if kind and kind not in CHANNELS:
            self.fail(f"{where}.channel", f"{kind!r} is not a channel; write truc_tiep "
                                          "(trực tiếp), truc_tuyen (trực tuyến) or buu_chinh "
                                          "(bưu chính)")
        fields = {k: self.string(item, k, f"{where}.{k}") for k in ("time_limit", "fee", "notes")}
        return None if len(self.problems) > before else Channel(kind, **fields)

    def document(self, item: dict, where: str) -> Document | None:
        before = len(self.problems)
        self._unknown(item, where, DOCUMENT_KEYS)
        name = self.string(item, "name", f"{where}.name", required=True)
        kind = _keyword(self.string(item, "original_or_copy", f"{where}.original_or_copy")) or "ban_chinh"
        if kind not in COPY_KINDS:
            self.fail(f"{where}.original_or_copy", f"{kind!r} is not a kind of paper; write "
                                                   f"{', '.join(COPY_KINDS)}")
        count = item.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int):
            self.fail(f"{where}.count", f"must be a whole number such as 1, not {count!r}")
        elif count < 0:
            self.fail(f"{where}.count", f"is {count}; write how many papers, 0 or more")
        form = self.string(item, "form", f"{where}.form")
        return None if len(self.problems) > before else Document(name, kind, count, form)


def _from_stored(data: dict) -> Procedure:
    """Build from a stored record (validated when it was written)."""
    return Procedure(
        **{**data, "channels": tuple(Channel(**c) for c in data["channels"]),
           "documents": tuple(Document(**d) for d in data["documents"]),
           "steps": tuple(data["steps"]), "legal_basis": tuple(data["legal_basis"]),
           "related": tuple(data["related"])})


# Catalogues repeat their texts (the same identity paper, step or fee in
# hundreds of procedures), so folding each piece once saves most of the work
# of a bulk import.
_fold_piece = functools.lru_cache(maxsize=8192)(fold)


def _fold_all(pieces: Iterable[str]) -> str:
    return " ".join(filter(None, map(_fold_piece, pieces)))


def _search_row(p: Procedure) -> dict[str, str]:
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


def _in_search_order(rows: Iterable[dict]) -> list[dict]:
    """Rows to insert, shortest name first. FTS5 yields matches in rowid
    order and a search ranks the first CANDIDATE_CAP of them by name length,
    so rowids given in that order make those the shortest of all matches."""
    return sorted(rows, key=lambda row: (len(row["s_name"]), row["s_name"]))


class Catalogue:
    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self._ensure_schema()
        # The previous keystroke's candidates, which the next one narrows.
        self._recent: dict[str, _Recent] = {}

    # -- schema -------------------------------------------------------------------
    def _ensure_schema(self) -> None:
        schema = self._meta("schema") if self.db[META].exists() else None
        if schema not in (None, str(SCHEMA_VERSION)):
            raise CatalogueError(f"the catalogue tables have schema version {schema}, "
                                 f"not {SCHEMA_VERSION}; upgrade motcua")
        if schema is None:
            with self.db.atomic():
                self._create_schema()
        elif self._meta("fold") != str(FOLD_VERSION):
            self._refold()

    def _create_schema(self) -> None:
        search_cols = ", ".join(f"{c} TEXT NOT NULL DEFAULT ''" for c, _, _ in SEARCH_COLUMNS)
        # Small columns first: SQLite reads a row's columns in order, and the
        # ranking queries should not wade through the JSON record to reach s_name.
        # NOCASE on the code lets "2.000815.000.00.00.h38" find ...H38 by index.
        self.db.execute(f"""CREATE TABLE IF NOT EXISTS {TABLE} (
            code TEXT PRIMARY KEY COLLATE NOCASE, name TEXT NOT NULL, field TEXT NOT NULL,
            hash TEXT NOT NULL, {search_cols}, data TEXT NOT NULL)""")
        self.db[TABLE].create_index(["s_name"], if_not_exists=True)
        self.db[TABLE].create_index(["field", "s_name"], if_not_exists=True)
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
            self.db.execute(f"""CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({names},
                content='{TABLE}', prefix='1 2 3 4 5 6'{options},
                tokenize='unicode61 remove_diacritics 0')""")
        self._create_triggers()
        self.db[META].create({"key": str, "value": str}, pk="key", if_not_exists=True)
        self._set_meta("schema", str(SCHEMA_VERSION))
        self._set_meta("fold", str(FOLD_VERSION))

    def _create_triggers(self) -> None:
        # External-content FTS: the triggers keep both indexes in step with the table.
        add, remove = [], []
        for fts, columns in ((NAMES_FTS, NAME_COLUMNS), (TEXT_FTS, SEARCH_COLUMNS)):
            names = ", ".join(c for c, _, _ in columns)
            new = ", ".join(f"new.{c}" for c, _, _ in columns)
            old = ", ".join(f"old.{c}" for c, _, _ in columns)
            add.append(f"INSERT INTO {fts}(rowid, {names}) VALUES (new.rowid, {new});")
            remove.append(f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.rowid, {old});")
        add, remove = " ".join(add), " ".join(remove)
        self.db.execute(f"CREATE TRIGGER IF NOT EXISTS {TABLE}_ai AFTER INSERT ON {TABLE} BEGIN {add} END")
        self.db.execute(f"CREATE TRIGGER IF NOT EXISTS {TABLE}_ad AFTER DELETE ON {TABLE} BEGIN {remove} END")
        self.db.execute(f"CREATE TRIGGER IF NOT EXISTS {TABLE}_au AFTER UPDATE ON {TABLE} "
                        f"BEGIN {remove} {add} END")

    def _meta(self, key: str) -> str | None:
        row = self.db.execute(f"SELECT value FROM {META} WHERE key = ?", [key]).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: str) -> None:
        self.db[META].upsert({"key": key, "value": value}, pk="key")

    def _refold(self) -> None:
        with self.db.atomic():
            for code, data in self.db.execute(f"SELECT code, data FROM {TABLE}").fetchall():
                row = _search_row(_from_stored(json.loads(data)))
                sets = ", ".join(f"{c} = :{c}" for c in row)
                self.db.execute(f"UPDATE {TABLE} SET {sets} WHERE code = :code", {**row, "code": code})
            self._set_meta("fold", str(FOLD_VERSION))

    # -- writing ------------------------------------------------------------------
    @staticmethod
    def _row(p: Procedure) -> dict:
        data = _canonical(p.to_dict())
        return {"code": p.code, "name": p.name, "field": p.field,
                "hash": hashlib.sha256(data.encode("utf-8")).hexdigest(), **_search_row(p),
                "data": data}

    def put(self, procedures: Iterable[Procedure]) -> int:
        """Add or replace procedures (by code) in one transaction; returns how many."""
        rows = _in_search_order(self._row(p) for p in procedures)
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
        rows = _in_search_order(self._row(p) for p in procedures)
        with self.db.atomic():
            # Bulk path: row-by-row trigger work would dominate a full swap, so
            # the triggers are dropped and the indexes rebuilt, all inside the
            # transaction (SQLite DDL is transactional: a failure restores them).
            for suffix in ("ai", "ad", "au"):
                self.db.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{suffix}")
            self.db.execute(f"DELETE FROM {TABLE}")
            self.db[TABLE].insert_all(rows)
            for fts in (NAMES_FTS, TEXT_FTS):
                self.db.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
            self._create_triggers()
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
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            return ImportReport(str(path), None, errors=[ImportProblem(
                None, "", "", f"cannot read the file ({exc.strerror})")])
        report = ImportReport(str(path), None)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            report.errors.append(ImportProblem(None, "", "", (
                f"not UTF-8 text (byte {exc.start}); this is not a JSON or CSV procedure file "
                "— save the sheet as 'CSV UTF-8' or export JSON")))
            return report
        kind = self._sniff(path, text)
        if kind == "json":
            report.format = "json"
            rows = self._json_rows(text, report)
        elif kind == "csv":
            report.format = "csv"
            rows = self._csv_rows(text, report)
        else:
            report.errors.append(ImportProblem(None, "", "", (
                "not a JSON or CSV procedure file: expected a JSON list of procedures or "
                "a CSV with a header row including code, name, field")))
            return report

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

    @staticmethod
    def _sniff(path: Path, text: str) -> str | None:
        suffix = path.suffix.lower()
        if suffix == ".json":
            return "json"
        if suffix in (".csv", ".tsv"):
            return "csv"
        start = text.lstrip()[:1]
        if start in ("[", "{"):
            return "json"
        header = fold(text.splitlines()[0]) if text.strip() else ""
        if {"code", "name", "field"} <= set(header.split()):
            return "csv"
        return None

    @staticmethod
    def _json_rows(text: str, report: ImportReport) -> list[tuple[int, Any]]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            report.errors.append(ImportProblem(None, "", "", (
                f"not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); nothing "
                "was imported: fix the file there (a missing comma or quote?) and import it again")))
            return []
        if isinstance(data, dict) and isinstance(data.get("procedures"), list):
            data = data["procedures"]
        if not isinstance(data, list):
            report.errors.append(ImportProblem(None, "", "", (
                'expected a JSON list of procedures or {"procedures": [...]}, '
                f"got {type(data).__name__}; nothing was imported")))
            return []
        return list(enumerate(data, start=1))

    @staticmethod
    def _csv_rows(text: str, report: ImportReport) -> list[tuple[int, Any]]:
        first = text.splitlines()[0] if text.strip() else ""
        # Excel in a Vietnamese locale separates with ';' (the decimal mark is ',').
        delimiter = max(",;\t", key=first.count)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            header = []
        except csv.Error as exc:
            report.errors.append(ImportProblem(1, "", "", (
                f"the header row is not valid CSV ({exc}); nothing was imported: write the "
                "column names in row 1 without quotes")))
            return []
        missing = [k for k in REQUIRED_KEYS if k not in header]
        if missing:
            report.errors.append(ImportProblem(1, "", "", (
                f"the header row lacks the column(s) {', '.join(missing)}; nothing was imported: "
                f"name the columns in row 1 with {', '.join(PROCEDURE_KEYS)}")))
            return []
        # A header problem spoils every row (a misspelt "documnets" column would
        # drop every procedure's documents), so the file is refused as a whole.
        for h in dict.fromkeys(h for h in header if h and h not in PROCEDURE_KEYS):
            report.errors.append(ImportProblem(1, "", h, (
                f"unknown column; nothing was imported: rename it to one of "
                f"{', '.join(PROCEDURE_KEYS)} or delete the column")))
        for h in dict.fromkeys(h for h in header if h and header.count(h) > 1):
            report.errors.append(ImportProblem(1, "", h, (
                "column appears more than once; nothing was imported: keep one of them")))
        if report.errors:
            return []
        rows = []
        row_no = 1
        while True:
            row_no += 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                # Strict reading: a quote opened and never closed would otherwise
                # swallow the rest of the file into one cell without a word.
                lost = ("this row and all after it were not read" if "end of data" in str(exc)
                        else "this row was not read")
                report.errors.append(ImportProblem(row_no, "", "", (
                    f"not valid CSV ({exc}): {lost}; check that every quote (\") in it is "
                    "closed and that a quoted cell has nothing after its closing quote")))
                continue
            if not any(c.strip() for c in cells):
                continue
            record, problems = _csv_record(header, cells)
            if problems:
                code = (record.get("code") or "").strip()
                report.errors += [ImportProblem(row_no, code, f, m) for f, m in problems]
                continue
            rows.append((row_no, record))
        return rows

    # -- reading ------------------------------------------------------------------
    def get(self, code: str) -> Procedure | None:
        row = self.db.execute(f"SELECT data FROM {TABLE} WHERE code = ?", [code.strip()]).fetchone()
        return None if row is None else _from_stored(json.loads(row[0]))

    def count(self) -> int:
        return self.db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]

    def fields(self) -> list[tuple[str, int]]:
        rows = self.db.execute(f"SELECT field, count(*) FROM {TABLE} GROUP BY field").fetchall()
        return sorted(((f, n) for f, n in rows), key=lambda r: (fold(r[0]), r[0]))

    def in_field(self, field: str) -> list[Procedure]:
        rows = self.db.execute(f"SELECT data FROM {TABLE} WHERE field = ? ORDER BY s_name, name",
                               [field]).fetchall()
        return [_from_stored(json.loads(r[0])) for r in rows]

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
        return _Search(self.db, limit, field, self._recent).run(query)


@dataclass(frozen=True)
class _Recent:
    """One tier's candidates for a search, kept for the next keystroke."""
    words: tuple[str, ...]
    field: str | None
    stamp: tuple[int, int]       # (PRAGMA data_version, connection's total_changes)
    rows: list
    complete: bool               # FTS5 found them all (fewer than the cap)

    def narrowed_by(self, words: tuple[str, ...], field: str | None, stamp) -> bool:
        """Whether every match of `words` is among these rows: the catalogue
        has not changed, and each word only lengthens or adds to the previous
        ones (AND of prefixes), as typing does."""
        return (self.complete and stamp == self.stamp and field == self.field
                and len(words) >= len(self.words)
                and all(new.startswith(old) for old, new in zip(self.words, words)))


class _Search:
    """One search: runs the tiers in order until `limit` hits are found.

    No bm25: FTS5 computes its IDF by scanning the whole doclist of every query
    word, about 16 ms for common words over 20,000 procedures, whatever the
    number of hits. Instead a search is at most a few cheap statements: an
    index range for the code and the name's start, one MATCH on the names
    index (name, code, field, agency) whose candidates are sorted into tiers 5
    to 3 here, and one on everything for tiers 2 and 1; the first `cap` rowids
    of each, ordered by name length (within a tier every candidate holds every
    word, so the shortest name is the closest match).

    Typing narrows: when a keystroke only lengthens the last word or adds one,
    and the catalogue has not changed, the names tiers' candidates are those
    of the previous keystroke that hold the words, without a MATCH. Whether a
    text holds a word is `" " + word in " " + text` on the folded text:
    several times faster than a regular expression, or SQLite's instr, over
    long documents.
    """

    def __init__(self, db: sqlite_utils.Database, limit: int, field: str | None,
                 recent: dict[str, _Recent] | None = None):
        self.db, self.limit, self.field = db, limit, field
        self.recent = {} if recent is None else recent
        self.stamp = (0, 0)
        self.hits: dict[int, int] = {}      # rowid -> tier, in rank order
        self.words: list[str] = []
        self.params: dict[str, Any] = {}
        self.spaced: list[str] = []

    def run(self, query: str) -> list[Hit]:
        self.words = list(dict.fromkeys(w for word in fold(query).split()
                                        for w in ABBREVIATIONS.get(word, word).split()))
        if not self.words or self.limit <= 0:
            return []
        self.spaced = [" " + w for w in self.words]
        # Writes through this connection move total_changes; other connections'
        # commits move data_version. Either makes the kept candidates stale.
        self.stamp = (self.db.execute("PRAGMA data_version").fetchone()[0],
                      self.db.conn.total_changes)
        self.params = {"field": self.field, "n": self.limit, "cap": CANDIDATE_CAP}
        in_field = " AND field = :field" if self.field is not None else ""
        code = _CODE_QUERY.match(query)
        if code:
            typed = code.group(1)
            # A provincial copy's code (2.000815.000.00.00.H38) also finds the
            # national procedure it copies (2.000815).
            # Two statements: one with OR would collect and sort the whole code
            # range ("1." is a third of the catalogue) instead of walking the index.
            self.take(TIER_CODE, self.rowids(
                f"SELECT rowid FROM {TABLE} WHERE code >= :lo AND code < :hi{in_field} "
                f"ORDER BY code LIMIT :n", lo=typed, hi=typed + "\uffff"))
            national = ".".join(typed.split(".")[:2])
            if national != typed:
                self.take(TIER_CODE, self.rowids(
                    f"SELECT rowid FROM {TABLE} WHERE code = :national{in_field}", national=national))
        phrase = " ".join(self.words)
        if self.wanted():
            # The first `cap` names (alphabetically, by index) starting with the
            # query, shortest first: "dang k" puts Đăng ký kết hôn before Đăng ký
            # biến động quyền sử dụng đất, quyền sở hữu tài sản...
            self.take(TIER_STARTS, self.rowids(
                f"SELECT rowid FROM (SELECT rowid, s_name FROM {TABLE} WHERE s_name >= :lo "
                f"AND s_name < :hi{in_field} ORDER BY s_name LIMIT :cap) "
                f"ORDER BY length(s_name), s_name LIMIT :n", lo=phrase, hi=phrase + "\uffff"))
        all_words = " AND ".join(f'"{w}"*' for w in self.words)
        if self.wanted():
            # Every word in the name, code, field or agency together ("chung
            # thuc ban sao" is "Chứng thực", the field, + "bản sao", the name);
            # of those, the names holding every word first, and of these the
            # names holding them in the order typed. The names are picked out
            # here rather than by a MATCH on the name column (~0.3 ms each),
            # unless FTS5 stopped at the cap before finding enough of them.
            labelled = self.narrowed(
                "label", lambda row: " ".join(row[1:]),
                lambda: self.candidates(NAMES_FTS, all_words, CANDIDATE_CAP, *LABEL_COLUMNS[1:]))
            named = [row for row in labelled if self.all_in(row[1])]
            if len(labelled) >= CANDIDATE_CAP and len(named) < self.limit - len(self.hits):
                named = self.narrowed(
                    "name", lambda row: row[1],
                    lambda: self.candidates(NAMES_FTS, f"s_name : ({all_words})"))
            in_order = re.compile(r"(?:^| )" + r"\S* ".join(map(re.escape, self.words)))
            self.take(TIER_NAME_ORDER, [r for r, s_name, *_ in named if in_order.search(s_name)])
            self.take(TIER_NAME, [r for r, *_ in named])
            self.take(TIER_LABEL, [r for r, *_ in labelled])
        if self.wanted():
            # Everywhere else; those whose documents hold every word first
            # ("giay chung sinh" → the procedures asking for a Giấy chứng sinh).
            # Sorted here rather than by a second MATCH on the documents column:
            # a MATCH that finds little reads its words' whole doclists (~3 ms).
            rest = [row for row in self.candidates(TEXT_FTS, all_words, TEXT_CANDIDATE_CAP,
                                                   "s_documents") if row[0] not in self.hits]
            self.take(TIER_DOCUMENTS, [r for r, _, documents in rest if self.all_in(documents)])
            self.take(TIER_ANYWHERE, [r for r, *_ in rest])
        return self.results()

    def narrowed(self, tier: str, text, fetch, cap: int = CANDIDATE_CAP) -> list[tuple]:
        """A tier's candidates: while typing, those of the previous keystroke
        holding the words (in `text(row)`), without asking FTS5 again; else
        fetched."""
        words = tuple(self.words)
        recent = self.recent.get(tier)
        if recent is not None and recent.narrowed_by(words, self.field, self.stamp):
            rows = [row for row in recent.rows if self.all_in(text(row))]
            complete = True
        else:
            rows = fetch()
            complete = len(rows) < cap
        self.recent[tier] = _Recent(words, self.field, self.stamp, rows, complete)
        return rows

    def all_in(self, text: str) -> bool:
        """Whether every query word starts a word of the folded `text`."""
        return all(map((" " + text).__contains__, self.spaced))

    def wanted(self) -> bool:
        return len(self.hits) < self.limit

    def take(self, tier: int, rowids: list[int]) -> None:
        for rowid in rowids:
            if not self.wanted():
                return
            self.hits.setdefault(rowid, tier)

    def rowids(self, sql: str, **params) -> list[int]:
        return [r[0] for r in self.db.execute(sql, {**self.params, **params})]

    def candidates(self, fts: str, match: str, cap: int = CANDIDATE_CAP,
                   *columns: str) -> list[tuple]:
        """(rowid, folded name, *columns) of up to `cap` matches, shortest name
        first. FTS5 yields rowids in order and stops at the cap, so a vague
        query costs no more than a precise one. Sorted here: an ORDER BY in
        SQLite copies every row into a sorter, and costs more than the MATCH."""
        inner = f"SELECT rowid FROM {fts} WHERE {fts} MATCH :match"
        where = (f"rowid IN ({inner} LIMIT :cap)" if self.field is None
                 else f"rowid IN ({inner}) AND field = :field LIMIT :cap")
        rows = self.db.execute(
            f"SELECT rowid, s_name{''.join(', ' + c for c in columns)} FROM {TABLE} WHERE {where}",
            {**self.params, "match": match, "cap": cap}).fetchall()
        rows.sort(key=lambda row: (len(row[1]), row[1]))
        return rows

    def results(self) -> list[Hit]:
        """One read of the chosen rows; the score puts the tier first, then rank."""
        if not self.hits:
            return []
        cols = ", ".join(c for c, _, _ in SEARCH_COLUMNS)
        rows = {r[0]: r for r in self.db.execute(
            f"SELECT rowid, code, name, field, {cols} FROM {TABLE} "
            f"WHERE rowid IN ({','.join(map(str, self.hits))})")}
        everything, spaced = len(self.words), self.spaced
        labels = [label for _, label, _ in SEARCH_COLUMNS]
        out = []
        for rank, (rowid, tier) in enumerate(self.hits.items()):
            row = rows[rowid]
            # How many of the words each column holds.
            found = [(label, sum(map((" " + text).__contains__, spaced)))
                     for label, text in zip(labels, row[4:])]
            # The columns holding every word; when the words are spread over
            # several columns, those holding any.
            matched = (tuple(label for label, n in found if n == everything)
                       or tuple(label for label, n in found if n))
            if tier == TIER_CODE and "code" not in matched:
                matched = ("code",) + matched
            out.append(Hit(row[1], row[2], row[3], tier * SCORE_STEP + SCORE_STEP - 1 - rank,
                           matched, tier))
        return out


def _csv_record(header: list[str], cells: list[str]) -> tuple[dict, list[tuple[str, str]]]:
    """One CSV row as a procedure dict; nested columns are parsed here so their
    errors name the column."""
    record: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    # Spreadsheets pad rows with empty cells; only text outside the named columns is lost.
    stray = [i for i, c in enumerate(cells) if c.strip() and (i >= len(header) or not header[i])]
    if stray:
        problems.append(("", f"text in column {stray[0] + 1}, which has no name in the header "
                             "row; move it under a named column or give the column a name"))
    for key, cell in zip(header, cells):
        if key not in PROCEDURE_KEYS:
            continue
        cell = cell.strip()
        if key in ("channels", "documents"):
            if not cell:
                continue
            try:
                record[key] = json.loads(cell)
            except json.JSONDecodeError as exc:
                example = ('[{"channel": "truc_tiep", "time_limit": "…", "fee": "…"}]'
                           if key == "channels" else '[{"name": "…", "original_or_copy": '
                           '"ban_chinh", "count": 1}]')
                problems.append((key, f"not a JSON array of objects ({exc.msg} at character "
                                      f"{exc.pos}): {cell[:60]!r}; write it like {example}"))
        elif key in ("steps", "legal_basis", "related"):
            if cell.startswith("["):
                try:
                    record[key] = json.loads(cell)
                except json.JSONDecodeError as exc:
                    problems.append((key, f"starts with '[' but is not a JSON array ({exc.msg}); "
                                          "write one item per line instead"))
            else:
                sep = r"[\n,;]" if key == "related" else r"\n"
                record[key] = [part for part in re.split(sep, cell) if part.strip()]
        else:
            record[key] = cell
    return record, problems

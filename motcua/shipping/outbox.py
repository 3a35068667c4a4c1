"""The outbox: the centre's records in the order they were committed, for
`motcua ship` to send to the province (docs/province.md).

Migration 8 (`create`) adds the table `outbox` (`seq INTEGER PRIMARY KEY
AUTOINCREMENT`, `kind`, `body`) and a trigger on each shipped table that adds
one row per record in the same transaction as the record, its body built by
SQLite's json_object from the columns of its Source. A rolled-back transaction
takes its rows and its seqs back, and SQLite has one writer at a time, so the
seqs are 1, 2, 3… with no gap, in commit order. The rows already in the
database when the migration runs are copied in first (the province gets the
history), table by table.

Migration 10 (`add_bookings`, issue 14) ships what migration 9 added: the
tickets' `origin`, `booking`, `checked_in_at`, the counters' `booking_run`
and the `bookings` table (kind `booking`), by making the tickets' and
counters' triggers again and adding the bookings' (SOURCES); the rows whose
shipped form it changed are copied in once (every counter, every booking, the
tickets with any of the new columns set). Migration 8 keeps the sources of
its day (SOURCES_8): a step never changes once shipped, and a database older
than 9 has no bookings to ship when 8 runs; migration 10 keeps its own
(SOURCES_10).

Migration 11 (`private_pauses`, issue 13): an officer's pause reason is the
officer's unless made public (`pause_public`); 8 and 10 shipped it anyway. The
counters' and events' triggers are made again with `Source.shipped_as` (the
counter's `pause_reason`, the `counter_paused` event's `data.reason`: null
unless public), and the records still in the outbox are scrubbed of it.

Never shipped: a citizen's name or ID number (`dossiers.applicant_name`; the
ID is never stored at all), the documents handed in, the free text of dossier
steps and apologies, the phones of numbers from afar and bookings (`phones`),
the officers' register (PIN hashes), the requests' replies, the pads'
prompts, the reason of a pause not made public. `tests/unit/test_shipping_outbox.py` fails when a table gains a
column that SOURCES neither ships nor leaves out: a later migration that adds
one must decide, and drop and create that table's triggers again
(`trigger_sql`), as migration 10 does.

`record_site` is the one record the centre writes itself: the site's
description (services, counters, rating levels, the kinds it ships), at
start, when it changed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

import sqlite_utils

from ..config import Site


@dataclass(frozen=True)
class Source:
    """One shipped table: the kind of its records, the columns shipped (stored
    JSON text among them shipped parsed), those left out, and on which changes."""
    kind: str
    table: str
    columns: tuple[str, ...]
    on: tuple[str, ...] = ("INSERT",)
    parsed: tuple[str, ...] = ()          # stored JSON text, shipped as JSON
    left_out: tuple[str, ...] = ()        # never shipped: why in the comment beside
    order: str = "rowid"                  # the copy of existing rows, in this order
    # column -> the SQL that ships it in place of the column itself, `{row}` standing
    # for "NEW." in a trigger and "" in the copy-in (both use body_sql: one truth)
    shipped_as: tuple[tuple[str, str], ...] = ()


TICKET_COLUMNS = ("id", "day", "service", "number", "label", "priority", "state", "issued_at", "order_at",
                  "device", "called_at", "first_called_at", "started_at", "finished_at", "counter",
                  "officer", "recalls", "transfers", "original_service")
COUNTER_COLUMNS = ("number", "state", "officer", "officer_name", "ticket_id", "pause_reason", "pause_public",
                   "priority_run", "updated_at")

# Migration 9 (issue 14) added these columns; none names a citizen. Migration 10
# ships them (the province report counts numbers from afar by `origin` and waits
# from `checked_in_at`, as the centre's does).
ADDED_9 = {"tickets": ("origin", "booking", "checked_in_at"), "counters": ("booking_run",)}
BOOKING_COLUMNS = ("id", "day", "service", "time", "ends", "state", "created_at", "device", "ticket_id",
                   "checked_in_at", "ended_at")     # no phone: phones live apart, in `phones`, never shipped

_OTHERS_8: tuple[Source, ...] = (
    Source("event", "events", ("seq", "at", "type", "ticket_id", "counter", "data"), parsed=("data",),
           order="seq"),
    Source("rating", "ratings", ("rating_id", "pad", "boot", "seq", "counter", "prompt", "status", "ticket_id",
                                 "ticket", "officer", "service", "level", "level_code", "weight", "pressed_at",
                                 "received_at", "day", "hour", "dossiers"),
           parsed=("dossiers",), order="received_at, rating_id"),
    Source("dossier", "dossiers", ("code", "procedure_code", "procedure_name", "field", "received_at",
                                   "due_at", "status"),
           on=("INSERT", "UPDATE"),
           left_out=("applicant_name",      # the citizen's name
                     "documents"),          # what the citizen handed in
           order="code"),
    # A dossier written again (an update, a re-import) has all its steps deleted and
    # written again after its `dossier` record: its steps are the step records that
    # follow its latest `dossier` record (docs/province.md, "The centre's side").
    Source("dossier_step", "dossier_steps", ("code", "seq", "step", "at"),
           left_out=("note",),              # free text: may name the citizen
           order="code, seq"),
    Source("apology", "dossier_apologies", ("code", "new_due_at", "issued_at"),
           left_out=("reason",),            # free text: may name the citizen
           order="code"),
    # A dossier detached from a ticket (a mistaken scan) deletes its row: that is
    # shipped as the `dossier_detached` event of the same transaction, not as a record
    # of its own (docs/province.md, "The centre's side").
    Source("ticket_dossier", "ticket_dossiers", ("ticket_id", "code", "procedure_code", "counter", "officer",
                                                 "attached_at"),
           on=("INSERT", "UPDATE"), order="attached_at, ticket_id, code"),
)

# What migration 8 shipped, as it was then (its step must not change: it runs on
# databases without the columns of migration 9).
SOURCES_8: tuple[Source, ...] = (
    Source("counter", "counters", COUNTER_COLUMNS, on=("INSERT", "UPDATE"), order="number",
           left_out=ADDED_9["counters"]),
    Source("ticket", "tickets", TICKET_COLUMNS, on=("INSERT", "UPDATE"), order="id",
           left_out=ADDED_9["tickets"]),
    *_OTHERS_8,
)

# Numbers from afar and bookings (issue 14): a booking's row, each insert and
# update (booked, checked in, cancelled, lapsed); its phone is never in it.
_BOOKINGS = Source("booking", "bookings", BOOKING_COLUMNS, on=("INSERT", "UPDATE"), order="id")

# What migration 10 shipped, as it was then (its step must not change either).
SOURCES_10: tuple[Source, ...] = (
    Source("counter", "counters", COUNTER_COLUMNS + ADDED_9["counters"], on=("INSERT", "UPDATE"),
           order="number"),
    Source("ticket", "tickets", TICKET_COLUMNS + ADDED_9["tickets"], on=("INSERT", "UPDATE"), order="id"),
    *_OTHERS_8,
    _BOOKINGS,
)

# An officer's pause reason is shown to the hall only when the officer made it
# public (counter.pause with `public`); a private one ("đi khám bệnh") is the
# officer's and never leaves the centre: the counter's pause_reason and the
# counter_paused event's data.reason are shipped as null unless public
# (migration 11; 8 and 10 shipped them whatever pause_public said).
PRIVATE_PAUSE_REASON = "CASE WHEN coalesce({row}pause_public, 0) THEN {row}pause_reason END"
PRIVATE_PAUSE_DATA = ("CASE WHEN NOT json_valid({row}data) THEN {row}data "
                      "WHEN {row}type = 'counter_paused' AND NOT coalesce(json_extract({row}data, '$.public'), 0) "
                      "THEN json_set({row}data, '$.reason', NULL) ELSE json({row}data) END")

# What is shipped now (migration 11 and after).
SOURCES: tuple[Source, ...] = tuple(
    replace(s, shipped_as=(("pause_reason", PRIVATE_PAUSE_REASON),)) if s.table == "counters" else
    replace(s, shipped_as=(("data", PRIVATE_PAUSE_DATA),)) if s.table == "events" else s
    for s in SOURCES_10)

# Never shipped, whole tables (docs/province.md): the officers' PIN hashes, the
# replies kept for repeated requests, the pads' prompts, numbering, the catalogue,
# and the phones of numbers taken from afar and of bookings (the only personal
# datum a centre keeps, erased when its number or booking ends).
NOT_SHIPPED = ("officers", "requests", "pad_prompts", "sequences", "meta", "phones")

KINDS = tuple(s.kind for s in SOURCES) + ("site",)


def _value(source: Source, column: str, row: str) -> str:
    expression = dict(source.shipped_as).get(column)
    if expression is not None:
        return expression.format(row=f"{row}." if row else "")
    ref = f"{row}.{column}" if row else column
    if column in source.parsed:
        # json() embeds it as JSON; anything not JSON goes as text (a bad row must never
        # make the centre's own transaction fail)
        return f"CASE WHEN json_valid({ref}) THEN json({ref}) ELSE {ref} END"
    return ref


def body_sql(source: Source, row: str = "NEW") -> str:
    """json_object(...) of a row's shipped columns (row: NEW in a trigger, '' in a SELECT)."""
    pairs = ", ".join(f"'{c}', {_value(source, c, row)}" for c in source.columns)
    return f"json_object({pairs})"


def trigger_name(source: Source, on: str) -> str:
    return f"outbox_{source.table}_{on.lower()}"


def trigger_sql(source: Source, on: str) -> str:
    return (f"CREATE TRIGGER {trigger_name(source, on)} AFTER {on} ON {source.table} BEGIN "
            f"INSERT INTO outbox(kind, body) VALUES ('{source.kind}', {body_sql(source)}); END")


def triggers(sources: tuple[Source, ...] = SOURCES) -> list[tuple[str, str]]:
    """(name, CREATE TRIGGER statement) of every outbox trigger."""
    return [(trigger_name(s, on), trigger_sql(s, on)) for s in sources for on in s.on]


def _copy(db: sqlite_utils.Database, s: Source, where: str = "") -> None:
    db.execute(f"INSERT INTO outbox(kind, body) SELECT '{s.kind}', {body_sql(s, '')} "
               f"FROM {s.table} {where} ORDER BY {s.order}")


def create(db: sqlite_utils.Database) -> None:
    """Migration 8: the outbox, the rows already there copied into it (the history,
    table by table), then the triggers that add every record from now on."""
    db.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
               "body TEXT NOT NULL)")
    for s in SOURCES_8:
        _copy(db, s)
    for _, sql in triggers(SOURCES_8):
        db.execute(sql)


def add_bookings(db: sqlite_utils.Database) -> None:
    """Migration 10 (issue 14): the tickets' and counters' triggers made again with
    the columns of migration 9, and the bookings' added. What the province lacks is
    copied in once: every counter (a handful of rows), the tickets with any of the
    new columns set (a walk-in's are all empty: its record already says so), and
    every booking. The phones are never read."""
    source = {s.table: s for s in SOURCES_10}
    for table in ("counters", "tickets"):
        for on in source[table].on:
            db.execute(f"DROP TRIGGER IF EXISTS {trigger_name(source[table], on)}")
    _copy(db, source["counters"])
    _copy(db, source["tickets"], "WHERE " + " OR ".join(f"{c} IS NOT NULL" for c in ADDED_9["tickets"]))
    _copy(db, source["bookings"])
    for s in (source["counters"], source["tickets"], source["bookings"]):
        for on in s.on:
            db.execute(trigger_sql(s, on))


def private_pauses(db: sqlite_utils.Database) -> None:
    """Migration 11 (issue 13): the counters' and events' triggers made again so that
    a private pause's reason is shipped as null (SOURCES), and the records of such
    pauses still in the outbox scrubbed of it: a counter record whose pause_public
    is not true, a counter_paused event whose data.public is not true. Their seqs
    stay: the records shipped already cannot be called back (the hub's migration 3
    scrubs what it holds)."""
    source = {s.table: s for s in SOURCES}
    for table in ("counters", "events"):
        for on in source[table].on:
            db.execute(f"DROP TRIGGER IF EXISTS {trigger_name(source[table], on)}")
            db.execute(trigger_sql(source[table], on))
    db.execute("UPDATE outbox SET body = json_set(body, '$.pause_reason', NULL) WHERE kind = 'counter' "
               "AND json_extract(body, '$.pause_reason') IS NOT NULL "
               "AND NOT coalesce(json_extract(body, '$.pause_public'), 0)")
    db.execute("UPDATE outbox SET body = json_set(body, '$.data.reason', NULL) WHERE kind = 'event' "
               "AND json_extract(body, '$.type') = 'counter_paused' "
               "AND json_type(body, '$.data') = 'object' AND json_extract(body, '$.data.reason') IS NOT NULL "
               "AND NOT coalesce(json_extract(body, '$.data.public'), 0)")


# -- the site's description ------------------------------------------------------------

SITE_META_KEY = "shipped_site"


def site_body(site: Site) -> dict:
    """What the province knows of the centre: its name, time zone, services,
    counters, priorities and rating levels (never a password, PIN or secret), and
    the kinds of record it ships: a centre of before issue 14 ships no bookings, and
    the province must not count it as taking none (docs/province.md)."""
    return {
        "kinds": list(KINDS),
        "id": site.id, "name": site.name, "name_en": site.name_en, "timezone": site.timezone,
        "services": [{"code": s.code, "name_vi": s.name_vi, "name_en": s.name_en, "start": s.start,
                      "end": s.end, "prefix": s.prefix} for s in site.services],
        "counters": [{"number": c.number, "name": c.name, "services": list(c.services)}
                     for c in site.counters],
        "priorities": [{"code": p.code, "name_vi": p.name_vi, "name_en": p.name_en} for p in site.priorities],
        "rating_levels": [{"code": lv.code, "name_vi": lv.name_vi, "name_en": lv.name_en, "weight": lv.weight}
                          for lv in site.rating_levels],
    }


def record_site(db: sqlite_utils.Database, site: Site) -> bool:
    """Add a `site` record when the site's description differs from the last one
    recorded (kept in meta, so no search through the outbox); True if added.
    The centre calls it at start, before it takes requests."""
    body = json.dumps(site_body(site), ensure_ascii=False, sort_keys=True)
    with db.atomic():
        row = db.execute("SELECT value FROM meta WHERE key = ?", [SITE_META_KEY]).fetchone()
        if row is not None and row[0] == body:
            return False
        db.execute("INSERT INTO outbox(kind, body) VALUES ('site', ?)", [body])
        db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                   "value = excluded.value", [SITE_META_KEY, body])
    return True

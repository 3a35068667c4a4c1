"""Every table of the centre's database, and how a database of any earlier
version becomes the current one: numbered steps in one list, one version
number (SQLite's `user_version`), each subsystem contributing its steps.

Opening a database (`migrate`) runs, each in its own transaction, the steps
above the version it records, and records each step's number with it, so a
step runs once, whole or not at all. A step only adds: tables, columns,
indexes (and fills what it adds); it never drops what an older motcua wrote.
A database newer than the code is refused with a message saying so.

SQLite's `application_id` says which list a file follows: the centre's
database (CENTRE) or a kiosk's copy of the catalogue (CATALOGUE_COPY), so
neither is opened as the other. Files made before the migrations owned every
table carry 0 there and are taken as what they are opened as.

Before, the queue's tables had their own migrations (user_version 1 to 4),
while the dossier mirror (DossierStore) and the procedure catalogue (which
kept a schema number in catalogue_meta) created their tables themselves on
first use. Those tables come from the same statements now, `IF NOT EXISTS`:
a database made then, in whichever of its states, gets what it lacks, keeps
its rows, and ends with the same schema as a new one (tests/unit/
test_migrations.py opens dumps of such databases made by that code).

To change a table: add a step at the end of the list (never edit one that
has shipped) and say in docs/store.md what it adds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sqlite_utils

from .catalogue import schema as catalogue_schema
from .dossiers import storage as dossier_storage
from .shipping import outbox


@dataclass(frozen=True)
class Step:
    version: int
    what: str
    apply: Callable[[sqlite_utils.Database], None]


@dataclass(frozen=True)
class Schema:
    name: str
    application_id: int
    steps: tuple[Step, ...]

    def __post_init__(self):
        assert [s.version for s in self.steps] == list(range(1, len(self.steps) + 1)), \
            f"{self.name}: steps must be numbered 1, 2, 3 … in order"

    @property
    def version(self) -> int:
        return len(self.steps)


# -- the queue (motcua.store) ------------------------------------------------------


def _queue_tables(db: sqlite_utils.Database) -> None:
    db["events"].create({"seq": int, "at": str, "type": str, "ticket_id": int, "counter": int,
                         "data": str}, pk="seq")
    db["events"].create_index(["at"])
    db["events"].create_index(["ticket_id"])
    db["tickets"].create({
        "id": int, "day": str, "service": str, "number": int, "label": str, "priority": str,
        "state": str, "issued_at": str, "order_at": str, "device": str, "called_at": str,
        "first_called_at": str, "started_at": str, "finished_at": str, "counter": int,
        "officer": str, "recalls": int, "transfers": int, "original_service": str,
    }, pk="id", not_null={"day", "service", "number", "label", "state", "issued_at", "order_at"})
    # The database itself refuses a second ticket with the same number on the same day.
    db["tickets"].create_index(["day", "service", "number"], unique=True)
    db["tickets"].create_index(["day", "label"])
    db["tickets"].create_index(["state"])
    db["counters"].create({
        "number": int, "state": str, "officer": str, "officer_name": str, "ticket_id": int,
        "pause_reason": str, "pause_public": int, "priority_run": int, "updated_at": str,
    }, pk="number")
    db["sequences"].create({"day": str, "service": str, "last_number": int}, pk=("day", "service"))
    db["requests"].create({"device": str, "request_id": str, "at": str, "reply": str},
                          pk=("device", "request_id"))
    db["requests"].create_index(["at"])
    db["meta"].create({"key": str, "value": str}, pk="key")


def _ratings(db: sqlite_utils.Database) -> None:
    """Satisfaction ratings (issue 5): the pads' prompts and the ratings, append-only."""
    db["pad_prompts"].create({
        "id": str, "counter": int, "ticket_id": int, "ticket": str, "day": str, "service": str,
        "officer": str, "issued_at": str, "expires_at": str, "ended": str,
    }, pk="id", not_null={"counter", "ticket_id", "issued_at", "expires_at"})
    db["pad_prompts"].create_index(["counter", "issued_at"])
    db["ratings"].create({
        "rating_id": str, "pad": str, "boot": int, "seq": int, "counter": int, "prompt": str,
        "status": str, "ticket_id": int, "ticket": str, "officer": str, "service": str,
        "level": int, "level_code": str, "weight": float, "pressed_at": str, "received_at": str,
        "day": str, "hour": int,
    }, pk="rating_id", not_null={"counter", "status", "level", "weight", "pressed_at", "received_at", "day"})
    db["ratings"].create_index(["day"])
    # The database itself refuses a second counted rating for one ticket.
    db.execute("CREATE UNIQUE INDEX ratings_counted_ticket ON ratings(ticket_id) WHERE status = 'counted'")


def _report_indexes(db: sqlite_utils.Database) -> None:
    """Manager reports (issue 6): indexes that find a month's ratings and dossiers
    among years of them (motcua.reports). The dossier mirror's tables are made
    here if they are not there yet, so that their indexes always exist."""
    dossier_storage.create_tables(db)
    db["dossiers"].create_index(["received_at"], if_not_exists=True)
    db["dossiers"].create_index(["status"], if_not_exists=True)
    # Covers the search for the steps of a period (when, which step, which dossier).
    db["dossier_steps"].create_index(["at", "step", "code"], if_not_exists=True)
    # Covers a report's ratings query (ratings are append-only: never updated, so
    # the index costs one insert per rating).
    db["ratings"].create_index(["day", "status", "level", "weight", "counter", "officer", "service",
                                "hour"], index_name="ratings_report", if_not_exists=True)


def _first_called_at(db: sqlite_utils.Database) -> None:
    """tickets.first_called_at (waiting time ends at the first call, not a recall)
    joined the schema of version 1 after centres had already made databases
    with it; those get the column now, filled from the event log."""
    if "first_called_at" in db["tickets"].columns_dict:
        return
    db.execute("ALTER TABLE tickets ADD COLUMN first_called_at TEXT")
    # (a transferred ticket waits again with called_at empty, but was called before)
    db.execute("UPDATE tickets SET first_called_at = (SELECT min(e.at) FROM events e WHERE "
               "e.ticket_id = tickets.id AND e.type = 'ticket_called')")


def _officers(db: sqlite_utils.Database) -> None:
    """The officers' register (issue 12): each officer's PIN only as a salted
    scrypt hash (motcua.officers), and the count of wrong PINs behind the
    lock-out. Sign-ins, refusals, lock-outs and resets go to `events`."""
    db["officers"].create({
        "id": str, "name": str, "pin_hash": str, "failures": int, "locked_until": str,
        "created_at": str, "updated_at": str,
    }, pk="id", not_null={"name", "pin_hash", "failures"}, if_not_exists=True)


def _ticket_dossiers(db: sqlite_utils.Database) -> None:
    """A rating knows the dossier (issue 12): the dossiers an officer attached to
    a ticket at the counter (received or returned during that visit), and on each
    rating the codes its ticket carried when it was bound (JSON list, or null)."""
    db["ticket_dossiers"].create({
        "ticket_id": int, "code": str, "procedure_code": str, "counter": int, "officer": str,
        "attached_at": str,
    }, pk=("ticket_id", "code"), not_null={"attached_at"}, if_not_exists=True)
    db["ticket_dossiers"].create_index(["code"], if_not_exists=True)
    if "dossiers" not in db["ratings"].columns_dict:
        db.execute("ALTER TABLE ratings ADD COLUMN dossiers TEXT")


def _bookings(db: sqlite_utils.Database) -> None:
    """Numbers taken from afar and bookings (issue 14): where a ticket came from
    (`origin` remote or booking, its `booking`, when it was `checked_in_at`), a
    counter's run of bookings called (`booking_run`, the cap that lets walk-ins in),
    the bookings, and the phones: the one personal datum, kept apart, one row per
    live number or booking, deleted in the transaction that ends it. None of these
    is shipped (motcua.shipping.outbox: the new columns are left out, the tables
    never shipped), so the outbox's triggers stay as they were (migration 10 ships
    all but the phones)."""
    for table, column, sql in (("tickets", "origin", "TEXT"), ("tickets", "booking", "INTEGER"),
                               ("tickets", "checked_in_at", "TEXT"),
                               ("counters", "booking_run", "INTEGER NOT NULL DEFAULT 0")):
        if column not in db[table].columns_dict:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql}")
    db["bookings"].create({
        "id": int, "day": str, "service": str, "time": str, "ends": str, "state": str, "created_at": str,
        "device": str, "ticket_id": int, "checked_in_at": str, "ended_at": str,
    }, pk="id", not_null={"day", "service", "time", "ends", "state", "created_at"}, if_not_exists=True)
    db["bookings"].create_index(["day", "service", "time"], if_not_exists=True)
    db.execute("CREATE TABLE IF NOT EXISTS phones (kind TEXT NOT NULL, ref INTEGER NOT NULL, "
               "phone TEXT NOT NULL, day TEXT NOT NULL, PRIMARY KEY (kind, ref))")


# -- the lists -------------------------------------------------------------------------

CENTRE = Schema("the centre's database", 0x4D435543, (   # "MCUC"
    Step(1, "the queue: events, tickets, counters, sequences, requests, meta", _queue_tables),
    Step(2, "satisfaction ratings: pad_prompts, ratings", _ratings),
    Step(3, "the dossier mirror's tables, if missing, and the manager reports' indexes",
         _report_indexes),
    Step(4, "tickets.first_called_at for databases made before it, from the event log",
         _first_called_at),
    Step(5, "the procedure catalogue's tables, FTS5 indexes and triggers, if missing",
         catalogue_schema.create_tables),
    Step(6, "the officers' register: officers (PIN hashes, wrong-PIN counts, lock-outs)", _officers),
    Step(7, "dossiers attached to tickets: ticket_dossiers, ratings.dossiers", _ticket_dossiers),
    Step(8, "the outbox for shipping to the province: outbox and its triggers", outbox.create),
    Step(9, "numbers from afar and bookings: tickets.origin, booking, checked_in_at, counters.booking_run, "
            "bookings, phones", _bookings),
    Step(10, "numbers from afar and bookings shipped to the province: the tickets' and counters' outbox "
             "triggers with the columns of 9, the bookings' (never a phone), their rows copied in once",
         outbox.add_bookings),
    Step(11, "a private pause's reason never shipped: the counters' and events' outbox triggers ship "
             "pause_reason and counter_paused's data.reason only when public, the outbox scrubbed of them",
         outbox.private_pauses),
))

# A kiosk's own copy of the catalogue (motcua.kiosk.catalogue_sync): nothing else.
CATALOGUE_COPY = Schema("a kiosk's copy of the procedure catalogue", 0x4D43554B, (   # "MCUK"
    Step(1, "the procedure catalogue's tables, FTS5 indexes and triggers, if missing",
         catalogue_schema.create_tables),
))

SCHEMAS = (CENTRE, CATALOGUE_COPY)


def version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def application_id(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA application_id").fetchone()[0]


def migrate(db: sqlite_utils.Database, schema: Schema, where: str = "the database") -> int:
    """Bring `db` to the current version of `schema`; returns the version it had.
    Refuses (RuntimeError) a database of another kind or newer than this code."""
    kind = application_id(db)
    if kind not in (0, schema.application_id):
        other = next((s.name for s in SCHEMAS if s.application_id == kind),
                     f"another program's database (application_id {kind})")
        raise RuntimeError(f"{where} is {other}, not {schema.name}; check the path")
    current = version(db)
    if current > schema.version:
        raise RuntimeError(f"{where} has schema version {current}, newer than this motcua "
                           f"({schema.version}); upgrade motcua or use a matching database")
    for step in schema.steps[current:]:
        with db.atomic():
            step.apply(db)
            db.execute(f"PRAGMA user_version={step.version}")
            db.execute(f"PRAGMA application_id={schema.application_id}")
    if kind == 0 and current == schema.version:
        db.execute(f"PRAGMA application_id={schema.application_id}")
    return current


# The centre's steps by number (tests build older databases with them).
MIGRATIONS = {step.version: step.apply for step in CENTRE.steps}

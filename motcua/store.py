"""The centre's SQLite store (sqlite-utils).

Two kinds of table: `events`, an append-only log of everything that happened,
and current-state tables (`tickets`, `counters`, `sequences`, `meta`) that are
what the log adds up to. Both are written in one transaction together with the
reply to the request that caused them, so a reply that left the centre is
always on disk (WAL, synchronous=FULL: a commit survives a power cut).

Every table of the database, the dossier mirror's and the catalogue's too, is
made and brought up to date by motcua.migrations when a Store opens the file.
"""
from __future__ import annotations

import json
import sqlite3
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator

import sqlite_utils

from .bookings import Booking
from .engine import ACTIVE, Changes, CounterState, QueueState, Ticket, parse_iso
from .migrations import CENTRE, MIGRATIONS, migrate  # noqa: F401 (MIGRATIONS: for callers)

# The tables and their versions: motcua.migrations (names kept here for callers).
SCHEMA_VERSION = CENTRE.version


# A commit of a few requests writes a few pages: about SQLite's own 1,000-page threshold.
CHECKPOINT_EVERY_COMMITS = 200


class Store:
    def __init__(self, path: str | Path, synchronous: str = "FULL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The centre's worker thread owns the connection; the service hands it over.
        conn = sqlite3.connect(str(self.path), check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self._upsert_sql: dict[tuple, str] = {}
        self._since_checkpoint = 0
        self.db.execute("PRAGMA journal_mode=WAL").fetchall()
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute("PRAGMA busy_timeout=5000")
        # Phones are erased when their number or booking ends (issue 14): a deleted row's
        # bytes are zeroed in the file, not left in a free page, and the WAL is cut back
        # to what its next transaction writes once it has been checkpointed, so older
        # page images (a phone among them) do not linger at its end.
        self.db.execute("PRAGMA secure_delete=ON")
        self.db.execute("PRAGMA journal_size_limit=0")
        self.migrate()

    def defer_checkpoints(self) -> None:
        """The centre copies the WAL back into the database itself (`checkpoint`),
        after it has answered, instead of SQLite doing it inside whichever commit
        crosses 1,000 pages, which then took three times as long: the call event
        waiting on that commit was late."""
        self.db.execute("PRAGMA wal_autocheckpoint=0")
        self._since_checkpoint = 0

    def checkpoint(self, every: int = CHECKPOINT_EVERY_COMMITS) -> None:
        """A passive checkpoint once `every` commits have gone by. Passive: it never
        waits for readers, so a report running beside the centre is safe."""
        if self._since_checkpoint >= every:
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self._since_checkpoint = 0

    def close(self) -> None:
        self.db.close()

    @property
    def version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        """Every table of the centre's database, created or brought up to date
        (motcua.migrations); a newer database is refused."""
        migrate(self.db, CENTRE, str(self.path))

    # -- writing ------------------------------------------------------------------
    def commit(self, events: list[dict], changes: Changes,
               replies: Iterable[tuple[str, str, str, str]] = (), ratings: Iterable[dict] = (),
               prompts: Iterable[dict] = (), officers: Iterable[dict] = ()) -> None:
        """Write events, the rows they changed, the replies (device, request id,
        time, reply JSON), new ratings, pad prompts (new or ended) and officers'
        register rows (motcua.officers.Officer.as_row) in one durable transaction."""
        self._since_checkpoint += 1
        with self.db.atomic():
            ratings, prompts = list(ratings), list(prompts)
            if ratings:  # append-only: the centre checks ids first; a repeat is an error, never a change
                self.db["ratings"].insert_all(ratings)
            # a prompt per ticket done: plain executemany, as for the rows below
            for columns in {tuple(p) for p in prompts}:
                self._upsert("pad_prompts", [p for p in prompts if tuple(p) == columns], ("id",))
            officers = list(officers)
            if officers:
                self._upsert("officers", officers, ("id",))
            # Plain executemany for the rows of every request: sqlite-utils'
            # insert_all/upsert_all look up the table and its columns each time,
            # 36 statements for one ticket, most of the centre's cost per request.
            conn = self.db.conn
            if events:
                conn.executemany(
                    "INSERT INTO events(at, type, ticket_id, counter, data) VALUES (?, ?, ?, ?, ?)",
                    [(e["at"], e["type"],
                      e["ticket"]["id"] if e["type"] in ("ticket_issued", "ticket_reserved")
                      else e.get("ticket_id"),
                      e.get("counter"), json.dumps(e, ensure_ascii=False)) for e in events])
            if changes.tickets:
                self._upsert("tickets", [t.as_row() for t in changes.tickets.values()], ("id",))
            if changes.counters:
                self._upsert("counters", [{**c.as_row(), "pause_public": int(c.pause_public)}
                                          for c in changes.counters.values()], ("number",))
            if changes.bookings:  # issue 14
                self._upsert("bookings", [b.as_row() for b in changes.bookings.values()], ("id",))
            if changes.phones:
                kept = [(kind, ref, *v) for (kind, ref), v in changes.phones.items() if v is not None]
                if kept:
                    conn.executemany("INSERT INTO phones(kind, ref, phone, day) VALUES (?, ?, ?, ?) "
                                     "ON CONFLICT(kind, ref) DO UPDATE SET phone = excluded.phone, "
                                     "day = excluded.day", kept)
                gone = [k for k, v in changes.phones.items() if v is None]
                if gone:  # its number or booking ended in this very transaction: erased with it
                    conn.executemany("DELETE FROM phones WHERE kind = ? AND ref = ?", gone)
            if changes.sequences:
                conn.executemany(
                    "INSERT INTO sequences(day, service, last_number) VALUES (?, ?, ?) "
                    "ON CONFLICT(day, service) DO UPDATE SET last_number = excluded.last_number",
                    [(d, s, n) for (d, s), n in changes.sequences.items()])
            if changes.dossiers:  # dossiers attached to tickets at the counter (issue 12)
                rows = [r for r in changes.dossiers.values() if r is not None]
                if rows:
                    self._upsert("ticket_dossiers", rows, ("ticket_id", "code"))
                gone = [k for k, r in changes.dossiers.items() if r is None]
                if gone:
                    conn.executemany("DELETE FROM ticket_dossiers WHERE ticket_id = ? AND code = ?", gone)
            for e in events:
                if e["type"] in ("ticket_called", "ticket_recalled"):
                    self._set_meta("call_seq", e["call_seq"])
                elif e["type"] == "day_started":
                    self._set_meta("day", e["day"])
            replies = list(replies)
            if replies:
                # The first answer to an id stays the answer (a later malformed
                # repeat of the same id must not replace it).
                conn.executemany("INSERT OR IGNORE INTO requests(device, request_id, at, reply) "
                                 "VALUES (?, ?, ?, ?)", replies)

    def _upsert(self, table: str, rows: list[dict], pk: tuple[str, ...]) -> None:
        columns = tuple(rows[0])
        sql = self._upsert_sql.get((table, columns))
        if sql is None:
            names = ", ".join(columns)
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in pk)
            sql = (f"INSERT INTO {table}({names}) VALUES ({', '.join('?' * len(columns))}) "
                   f"ON CONFLICT({', '.join(pk)}) DO UPDATE SET {updates}")
            self._upsert_sql[(table, columns)] = sql
        self.db.conn.executemany(sql, [tuple(r[c] for c in columns) for r in rows])

    def _set_meta(self, key: str, value) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, json.dumps(value)])

    def meta(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return default if row is None else json.loads(row[0])

    def forget_requests_before(self, at: str) -> int:
        """Request ids are remembered long enough for any retry; older ones go."""
        with self.db.atomic():
            return self.db.execute("DELETE FROM requests WHERE at < ?", [at]).rowcount

    # -- reading ------------------------------------------------------------------
    def rating(self, rating_id: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM ratings WHERE rating_id = ?", [rating_id]))
        return rows[0] if rows else None

    def ticket_rated(self, ticket_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM ratings WHERE ticket_id = ? AND status = 'counted'",
                               [ticket_id]).fetchone() is not None

    def prompt(self, prompt_id: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM pad_prompts WHERE id = ?", [prompt_id]))
        return rows[0] if rows else None

    def open_prompts(self) -> list[dict]:
        """The latest prompt of each counter, if it has not ended."""
        return list(self.db.query(
            "SELECT * FROM pad_prompts p WHERE ended IS NULL AND issued_at = "
            "(SELECT max(issued_at) FROM pad_prompts q WHERE q.counter = p.counter)"))

    def ticket_dossier_codes(self, ticket_id: int) -> list[str]:
        """The dossier codes attached to a ticket, in the order attached."""
        return [c for (c,) in self.db.execute(
            "SELECT code FROM ticket_dossiers WHERE ticket_id = ? ORDER BY attached_at, rowid", [ticket_id])]

    def ratings_of_day(self, day: str) -> list[dict]:
        return list(self.db.query("SELECT * FROM ratings WHERE day = ? ORDER BY pressed_at", [day]))

    def officer(self, officer_id: str) -> dict | None:
        """An officer's register row (with the PIN's hash: for the centre only)."""
        rows = list(self.db.query("SELECT * FROM officers WHERE id = ?", [officer_id]))
        return rows[0] if rows else None

    def officer_rows(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM officers ORDER BY id"))

    def officer_events(self, officer_id: str | None = None, limit: int = 50) -> list[dict]:
        """The latest sign-ins, refusals, lock-outs and resets, newest first."""
        where = "(type LIKE 'officer_%' OR type = 'counter_signed_in')"
        args: list = []
        if officer_id is not None:
            where += " AND json_extract(data, '$.officer') = ?"
            args.append(officer_id)
        rows = self.db.execute(f"SELECT data FROM events WHERE {where} ORDER BY seq DESC LIMIT ?",
                               [*args, limit]).fetchall()
        return [json.loads(d) for (d,) in rows]

    def reply_for(self, device: str, request_id: str) -> str | None:
        row = self.db.execute("SELECT reply FROM requests WHERE device = ? AND request_id = ?",
                              [device, request_id]).fetchone()
        return None if row is None else row[0]

    def events(self) -> Iterator[dict]:
        for (data,) in self.db.execute("SELECT data FROM events ORDER BY seq"):
            yield json.loads(data)

    def ticket_rows(self) -> dict[int, dict]:
        return {r["id"]: r for r in self.db["tickets"].rows}

    def counter_rows(self) -> dict[int, dict]:
        return {r["number"]: {**r, "pause_public": bool(r["pause_public"])} for r in self.db["counters"].rows}

    def load_state(self, window: int = 20) -> QueueState:
        """The engine's state from the current-state tables (no full replay needed)."""
        state = QueueState()
        state.day = self.meta("day")
        state.call_seq = self.meta("call_seq", 0)
        row = self.db.execute("SELECT max(id) FROM tickets").fetchone()
        state.next_ticket_id = (row[0] or 0) + 1
        state.next_booking_id = (self.db.execute("SELECT max(id) FROM bookings").fetchone()[0] or 0) + 1
        state.phones = {(k, ref): (p, d) for k, ref, p, d in
                        self.db.execute("SELECT kind, ref, phone, day FROM phones")}
        marks = ",".join("?" * len(ACTIVE))
        for r in self.db.query(f"SELECT * FROM tickets WHERE state IN ({marks})", list(ACTIVE)):
            state.tickets[r["id"]] = Ticket(**r)
        for r in self.counter_rows().values():
            state.counters[r["number"]] = CounterState(**r)
        if state.day:
            for r in self.db.query("SELECT * FROM sequences WHERE day = ?", [state.day]):
                state.sequences[(r["day"], r["service"])] = r["last_number"]
            # Dossiers attached to today's tickets, active or finished (a rating bound
            # after the ticket ends records them).
            for r in self.db.query("SELECT td.ticket_id, td.code FROM ticket_dossiers td JOIN tickets t "
                                   "ON t.id = td.ticket_id WHERE t.day = ? ORDER BY td.attached_at, td.rowid",
                                   [state.day]):
                state.dossiers.setdefault(r["ticket_id"], []).append(r["code"])
            # Bookings of today and the days ahead, the numbers taken from afar today.
            for r in self.db.query("SELECT * FROM bookings WHERE day >= ?", [state.day]):
                state.bookings[r["id"]] = Booking(**r)
            for r in self.db.query("SELECT service, count(*) AS n FROM tickets WHERE day = ? AND "
                                   "origin = 'remote' GROUP BY service", [state.day]):
                state.remote_taken[(state.day, r["service"])] = r["n"]
            # Tickets done at each counter today (counter terminals show it).
            for r in self.db.query("SELECT counter, count(*) AS n FROM tickets WHERE day = ? AND "
                                   "state = 'done' AND counter IS NOT NULL GROUP BY counter", [state.day]):
                state.served[r["counter"]] = r["n"]
        # Recent service times per service feed the wait estimates.
        for r in self.db.query(
                "SELECT service, started_at, finished_at FROM tickets WHERE state = 'done' "
                "AND started_at IS NOT NULL ORDER BY id DESC LIMIT ?", [window * 50]):
            times = state.service_times.setdefault(r["service"], deque(maxlen=window))
            if len(times) < window:
                secs = (parse_iso(r["finished_at"]) - parse_iso(r["started_at"])).total_seconds()
                times.appendleft(secs)
        return state

    def ticket_by_id(self, ticket_id: int) -> dict | None:
        rows = list(self.db.query("SELECT * FROM tickets WHERE id = ?", [ticket_id]))
        return rows[0] if rows else None

    def booking(self, booking_id: int) -> dict | None:
        rows = list(self.db.query("SELECT * FROM bookings WHERE id = ?", [booking_id]))
        return rows[0] if rows else None

    def booking_rows(self) -> dict[int, dict]:
        return {r["id"]: r for r in self.db["bookings"].rows}

    def ticket(self, day: str, label: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM tickets WHERE day = ? AND label = ?", [day, label]))
        return rows[0] if rows else None

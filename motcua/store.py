"""The centre's SQLite store (sqlite-utils).

Two kinds of table: `events`, an append-only log of everything that happened,
and current-state tables (`tickets`, `counters`, `sequences`, `meta`) that are
what the log adds up to. Both are written in one transaction together with the
reply to the request that caused them, so a reply that left the centre is
always on disk (WAL, synchronous=FULL: a commit survives a power cut).
"""
from __future__ import annotations

import json
import sqlite3
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator

import sqlite_utils

from .engine import ACTIVE, Changes, CounterState, QueueState, Ticket, parse_iso

SCHEMA_VERSION = 1


def _migrate_1(db: sqlite_utils.Database) -> None:
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


MIGRATIONS = {1: _migrate_1}


class Store:
    def __init__(self, path: str | Path, synchronous: str = "FULL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The centre's worker thread owns the connection; the service hands it over.
        conn = sqlite3.connect(str(self.path), check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL").fetchall()
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.migrate()

    def close(self) -> None:
        self.db.close()

    @property
    def version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        current = self.version
        if current > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} has schema version {current}, newer than this motcua "
                               f"({SCHEMA_VERSION}); upgrade motcua or use a matching database")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self.db.atomic():
                MIGRATIONS[version](self.db)
                self.db.execute(f"PRAGMA user_version={version}")

    # -- writing ------------------------------------------------------------------
    def commit(self, events: list[dict], changes: Changes,
               replies: Iterable[tuple[str, str, str, str]] = ()) -> None:
        """Write events, the rows they changed and the replies (device, request id,
        time, reply JSON) in one durable transaction."""
        with self.db.atomic():
            if events:
                self.db["events"].insert_all(
                    ({"at": e["at"], "type": e["type"],
                      "ticket_id": e["ticket"]["id"] if e["type"] == "ticket_issued" else e.get("ticket_id"),
                      "counter": e.get("counter"), "data": json.dumps(e, ensure_ascii=False)}
                     for e in events))
            if changes.tickets:
                self.db["tickets"].upsert_all((t.as_row() for t in changes.tickets.values()), pk="id")
            if changes.counters:
                self.db["counters"].upsert_all(
                    ({**c.as_row(), "pause_public": int(c.pause_public)} for c in changes.counters.values()),
                    pk="number")
            if changes.sequences:
                self.db["sequences"].upsert_all(
                    ({"day": d, "service": s, "last_number": n} for (d, s), n in changes.sequences.items()),
                    pk=("day", "service"))
            for e in events:
                if e["type"] in ("ticket_called", "ticket_recalled"):
                    self._set_meta("call_seq", e["call_seq"])
                elif e["type"] == "day_started":
                    self._set_meta("day", e["day"])
            replies = list(replies)
            if replies:
                # The first answer to an id stays the answer (a later malformed
                # repeat of the same id must not replace it).
                self.db["requests"].insert_all(
                    ({"device": d, "request_id": r, "at": at, "reply": body} for d, r, at, body in replies),
                    ignore=True)

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
        marks = ",".join("?" * len(ACTIVE))
        for r in self.db.query(f"SELECT * FROM tickets WHERE state IN ({marks})", list(ACTIVE)):
            state.tickets[r["id"]] = Ticket(**r)
        for r in self.counter_rows().values():
            state.counters[r["number"]] = CounterState(**r)
        if state.day:
            for r in self.db.query("SELECT * FROM sequences WHERE day = ?", [state.day]):
                state.sequences[(r["day"], r["service"])] = r["last_number"]
        # Recent service times per service feed the wait estimates.
        for r in self.db.query(
                "SELECT service, started_at, finished_at FROM tickets WHERE state = 'done' "
                "AND started_at IS NOT NULL ORDER BY id DESC LIMIT ?", [window * 50]):
            times = state.service_times.setdefault(r["service"], deque(maxlen=window))
            if len(times) < window:
                secs = (parse_iso(r["finished_at"]) - parse_iso(r["started_at"])).total_seconds()
                times.appendleft(secs)
        return state

    def ticket(self, day: str, label: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM tickets WHERE day = ? AND label = ?", [day, label]))
        return rows[0] if rows else None

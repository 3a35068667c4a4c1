"""The dossier mirror's storage: its three tables in the centre's database
and the repository that reads and writes them (DossierStore). Every SQL
statement about dossiers is here.

Tables (created by `create_tables`, a step of the centre's migrations,
motcua.migrations): `dossiers` (one row per dossier), `dossier_steps` (its
steps, numbered from 1), `dossier_apologies` (at most one per dossier: the
primary key makes the database itself refuse a second apology). Times are
stored in the store's UTC form (motcua.timefmt.utc_iso), dates as YYYY-MM-DD.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

import sqlite_utils

from ..config import DossierSettings
from ..timefmt import utc_iso, vn_date
from .codes import parse_code, verified_code
from .importing import ImportReport, RowError, read_records
from .model import CLOCK_STOPPED, CLOSED, DEFAULT_TIMEZONE, STATUSES, Apology, Dossier, DossierError, Step
from .records import (ID_FIELDS, MAX_NOTE, apology_field, check_update, dossier_from_record,
                      parse_date, text_field)
from .rules import OVERDUE_WITHIN_DAYS, OverdueDossier, local, overdue
from .views import public_view


def create_tables(db: sqlite_utils.Database) -> None:
    """The mirror's tables, if they are not there yet (databases made before
    the migrations owned them got them from DossierStore on first use, with
    the same statements)."""
    db["dossiers"].create({
        "code": str, "procedure_code": str, "procedure_name": str, "field": str,
        "applicant_name": str, "received_at": str, "due_at": str, "status": str,
        "documents": str,
    }, pk="code", not_null={"procedure_code", "procedure_name", "applicant_name",
                            "received_at", "due_at", "status"}, if_not_exists=True)
    db["dossier_steps"].create({"code": str, "seq": int, "step": str, "at": str, "note": str},
                               pk=("code", "seq"), not_null={"step", "at"}, if_not_exists=True)
    # One row per dossier: the database itself refuses a second apology.
    db["dossier_apologies"].create({"code": str, "reason": str, "new_due_at": str,
                                    "issued_at": str},
                                   pk="code", not_null={"reason", "new_due_at", "issued_at"},
                                   if_not_exists=True)


class DossierStore:
    """The dossier mirror in the centre's SQLite database. It uses only its own
    tables, dossiers, dossier_steps and dossier_apologies, which the centre's
    migrations create (`create_tables`, in motcua.migrations)."""

    def __init__(self, db: sqlite_utils.Database, settings: DossierSettings | None = None,
                 timezone: str = DEFAULT_TIMEZONE):
        self.db = db
        self.settings = settings or DossierSettings()
        self.tz = ZoneInfo(timezone)

    # -- reading ----------------------------------------------------------------------
    def get(self, code: str) -> Dossier:
        code = parse_code(code, self.settings).code
        rows = list(self.db.query("SELECT * FROM dossiers WHERE code = ?", [code]))
        if not rows:
            raise DossierError("unknown_dossier", f"no dossier {code} here yet; it may not have "
                               "reached the centre's copy: ask at the reception desk",
                               field="code")
        r = rows[0]
        steps = tuple(Step(s["step"], datetime.fromisoformat(s["at"]), s["note"] or "")
                      for s in self.db.query("SELECT * FROM dossier_steps WHERE code = ? "
                                             "ORDER BY seq", [code]))
        a = list(self.db.query("SELECT * FROM dossier_apologies WHERE code = ?", [code]))
        apology = None if not a else Apology(a[0]["reason"], date.fromisoformat(a[0]["new_due_at"]),
                                             datetime.fromisoformat(a[0]["issued_at"]))
        return Dossier(code=r["code"], procedure_code=r["procedure_code"],
                       procedure_name=r["procedure_name"], field=r["field"] or "",
                       applicant_name=r["applicant_name"],
                       received_at=datetime.fromisoformat(r["received_at"]),
                       due_at=date.fromisoformat(r["due_at"]), status=r["status"], steps=steps,
                       apology=apology, documents=tuple(json.loads(r["documents"] or "[]")))

    def procedure_of(self, code: str) -> tuple[str, str] | None:
        """(procedure code, procedure name) of a dossier in the mirror, or None when
        the mirror does not have it (yet): what the counter records when an officer
        attaches a dossier to a ticket. `code` is canonical (parse_code)."""
        row = self.db.execute("SELECT procedure_code, procedure_name FROM dossiers WHERE code = ?",
                              [code]).fetchone()
        return None if row is None else (row[0], row[1])

    def codes(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT code FROM dossiers ORDER BY code")]

    def overdue(self, now: datetime, within_days: int = OVERDUE_WITHIN_DAYS) -> list[OverdueDossier]:
        """`overdue` over the stored dossiers: SQL picks the candidates (running,
        no apology, due by the cut-off), the pure function decides."""
        cutoff = local(now, self.tz).date().toordinal() + within_days
        stopped = sorted(CLOCK_STOPPED)
        rows = self.db.execute(
            f"SELECT code FROM dossiers WHERE status NOT IN ({','.join('?' * len(stopped))}) "
            "AND due_at <= ? AND code NOT IN (SELECT code FROM dossier_apologies) ORDER BY code",
            [*stopped, date.fromordinal(cutoff).isoformat()]).fetchall()
        return overdue((self.get(code) for (code,) in rows), now, self.tz, within_days)

    def public_view(self, code: str, now: datetime) -> dict:
        """The kiosk's view of one dossier. The caller has verified the citizen's
        proof (verified_code); citizen_view does both."""
        return public_view(self.get(code), now, self.tz)

    def citizen_view(self, now: datetime, *, scanned: str | None = None, code: str | None = None,
                     lookup: str | None = None) -> dict:
        """Verify a scanned QR text, or a typed code with its lookup code, then
        return the public view."""
        return self.public_view(verified_code(self.settings, scanned=scanned, code=code,
                                              lookup=lookup), now)

    # -- writing ----------------------------------------------------------------------
    def _write(self, d: Dossier, keep_apology: bool = True) -> None:
        self.db.execute(
            "INSERT INTO dossiers(code, procedure_code, procedure_name, field, applicant_name, "
            "received_at, due_at, status, documents) VALUES (?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(code) DO UPDATE SET procedure_code=excluded.procedure_code, "
            "procedure_name=excluded.procedure_name, field=excluded.field, "
            "applicant_name=excluded.applicant_name, received_at=excluded.received_at, "
            "due_at=excluded.due_at, status=excluded.status, documents=excluded.documents",
            [d.code, d.procedure_code, d.procedure_name, d.field, d.applicant_name,
             utc_iso(d.received_at), d.due_at.isoformat(), d.status,
             json.dumps(list(d.documents), ensure_ascii=False)])
        self.db.execute("DELETE FROM dossier_steps WHERE code = ?", [d.code])
        self.db.conn.executemany("INSERT INTO dossier_steps(code, seq, step, at, note) VALUES (?,?,?,?,?)",
                            [(d.code, i, s.step, utc_iso(s.at), s.note)
                             for i, s in enumerate(d.steps, 1)])
        if d.apology is not None:
            self._write_apology(d.code, d.apology)

    def _write_apology(self, code: str, a: Apology) -> None:
        self.db.execute("INSERT OR IGNORE INTO dossier_apologies(code, reason, new_due_at, issued_at) "
                        "VALUES (?,?,?,?)", [code, a.reason, a.new_due_at.isoformat(),
                                             utc_iso(a.issued_at)])

    def _existing(self, code: str) -> Dossier | None:
        try:
            return self.get(code)
        except DossierError as exc:
            if exc.code == "unknown_dossier":
                return None
            raise

    def _write_transaction(self):
        """The write lock first (BEGIN IMMEDIATE), then read, check and write: no
        other connection (the centre, an import) commits in between. A deferred
        transaction that reads and then writes fails at once with "database is
        locked" when another connection wrote meanwhile (WAL: the busy timeout
        does not help a reader turning writer); IMMEDIATE waits for the lock
        instead. Inside the caller's transaction: a savepoint of it."""
        conn = self.db.conn
        if conn.in_transaction:
            return self.db.atomic()
        conn.execute("BEGIN IMMEDIATE")
        return conn   # sqlite3's context manager commits, or rolls back on any error

    def save(self, dossier: Dossier) -> bool:
        """Store one dossier, replacing its earlier copy; True if it is new. An
        apology already stored is kept; a different second one is refused."""
        with self._write_transaction():
            old = self._existing(dossier.code)
            if old is not None and old.apology is not None:
                if dossier.apology is None:
                    dossier = replace(dossier, apology=old.apology)
                elif dossier.apology != old.apology:
                    raise DossierError("apology_already_issued", f"{dossier.code} already has an "
                                       f"apology with a new date ({vn_date(old.apology.new_due_at)}); "
                                       "the due date may be reset only once", field="apology")
            self._write(dossier)
        return old is None

    def import_records(self, records: Iterable[tuple[int, Any]], path: str = "") -> ImportReport:
        """Import (row number, record) pairs: good rows are stored, each bad row
        is reported with what to fix."""
        report = ImportReport(path=path)
        seen: dict[str, int] = {}
        ignored: set[str] = set()
        for row, record in records:
            try:
                if isinstance(record, dict):
                    # Drop the ID number before anything else can touch it.
                    record = {k: v for k, v in record.items()
                              if str(k).strip().lower() not in ID_FIELDS}
                dossier, extra = dossier_from_record(record, self.settings, self.tz)
                ignored.update(extra)
                if dossier.code in seen:
                    raise DossierError("duplicate_row", f"{dossier.code} is also in row "
                                       f"{seen[dossier.code]}; keep one row per dossier",
                                       field="code")
                seen[dossier.code] = row
                if self.save(dossier):
                    report.imported += 1
                else:
                    report.updated += 1
            except DossierError as exc:
                report.errors.append(RowError(row, exc.field, exc.code, exc.message))
        report.ignored_fields = sorted(ignored)
        return report

    def import_file(self, path: str | Path) -> ImportReport:
        """Import a JSON list of dossiers or a CSV export (UTF-8, comma, semicolon
        or tab separated; documents separated by |). Re-importing a code updates it."""
        return self.import_records(read_records(path), str(path))

    def apply_update(self, payload: dict) -> Dossier:
        """Apply one status update from the one-stop software (its shape and
        checks: motcua.dossiers.records) and return the dossier as it now is."""
        u = check_update(payload, self.tz)
        status, at, note = u.status, u.at, u.note
        with self._write_transaction():
            d = self.get(u.code)
            last = d.steps[-1]
            apology = None
            if u.apology is not None:
                apology = apology_field(u.apology, self.tz, at, "apology")
            # MQTT may deliver an update twice: the same step again changes nothing.
            if (last.step, last.at, last.note) == (status, at, note) and (
                    apology is None or apology == d.apology):
                return d
            if d.status in CLOSED:
                raise DossierError("dossier_closed", f"{d.code} is closed ({STATUSES[d.status][0]}); "
                                   "no further updates: re-import it to correct it", field="status")
            if status == "received":
                raise DossierError("invalid_payload", "a dossier is received once: import it "
                                   "instead of sending 'received'", field="status")
            if at < last.at:
                raise DossierError("date_backwards", f"at: {at.isoformat()} is before the last step "
                                   f"({last.step}, {last.at.astimezone(self.tz).isoformat()}); "
                                   "send updates in order", field="at")
            due = d.due_at
            if u.due_at is not None:
                if d.apology is not None:
                    raise DossierError("due_date_already_reset", f"{d.code}: the due date was "
                                       "already reset by an apology and may be reset only once",
                                       field="due_at")
                due = parse_date(u.due_at, "due_at", self.tz)
                if due < d.received_at.astimezone(self.tz).date():
                    raise DossierError("invalid_field", "due_at: before the date received",
                                       field="due_at")
            if apology is not None:
                if d.apology is not None:
                    raise DossierError("apology_already_issued", f"{d.code} already has an apology "
                                       f"with a new date ({vn_date(d.apology.new_due_at)}); the due "
                                       "date may be reset only once", field="apology")
                if apology.new_due_at <= d.effective_due:
                    raise DossierError("invalid_field", "apology.new_due_at: must be after the "
                                       f"current due date ({vn_date(d.effective_due)})",
                                       field="apology.new_due_at")
            updated = replace(d, status=status, due_at=due, steps=d.steps + (Step(status, at, note),),
                              apology=apology or d.apology)
            self._write(updated)
        return updated

    # -- apologies (mẫu 04) ---------------------------------------------------------------
    def plan_apology(self, code: str, reason: Any, new_due: Any, now: datetime) -> Dossier:
        """The dossier as it will be once the apology is recorded, checked but not
        written: render the letter from it, then `apologise` with the same
        arguments. Refuses (DossierError): an unknown or closed dossier, a second
        apology, an empty reason, a new date not after the due date or already past."""
        return self._planned(self._for_apology(code), reason, new_due, now)

    def apologise(self, code: str, reason: Any, new_due: Any, now: datetime, *,
                  expect: Dossier | None = None,
                  before_commit: Callable[[Dossier], None] | None = None) -> Dossier:
        """Record an apology issued at `now` with its reason and new date: the
        dossier's due date becomes the new date (`effective_due`; `due_at` stays
        the date on the receipt) and may not be reset again. Returns the dossier
        as it now is.

        Checked again inside one write transaction (BEGIN IMMEDIATE, so the
        centre or an MQTT update cannot slip in between). `expect`: the planned
        dossier the letter was rendered from; if the dossier changed since,
        nothing is written (dossier_changed). `before_commit(dossier)` runs last
        inside the transaction (e.g. move the rendered letter into place): if it
        raises, nothing is recorded."""
        with self._write_transaction():
            current = self._for_apology(code)
            updated = self._planned(current, reason, new_due, now)
            if expect is not None and updated != expect:
                raise DossierError("dossier_changed", f"{updated.code} changed while the letter was "
                                   "being prepared (an import or an update from the one-stop "
                                   "software); nothing was recorded: run the command again")
            a = updated.apology
            try:
                self.db.execute("INSERT INTO dossier_apologies(code, reason, new_due_at, issued_at) "
                                "VALUES (?,?,?,?)", [updated.code, a.reason, a.new_due_at.isoformat(),
                                                     utc_iso(a.issued_at)])
            except sqlite3.IntegrityError:  # the table's one-row-per-dossier key: never two
                raise self._second_apology(self.get(updated.code)) from None
            if before_commit is not None:
                before_commit(updated)
        return updated

    def _for_apology(self, code: str) -> Dossier:
        try:
            return self.get(code)
        except DossierError as exc:
            if exc.code != "unknown_dossier":
                raise
            canonical = parse_code(code, self.settings).code
            raise DossierError("unknown_dossier", f"no dossier {canonical} in the centre's copy: "
                               "`motcua dossiers overdue` lists the late ones; import the one-stop "
                               "software's export first (`motcua dossiers import FILE`)",
                               field="code") from None

    def _second_apology(self, d: Dossier) -> DossierError:
        a = d.apology
        return DossierError("apology_already_issued", f"{d.code} already has an apology, issued on "
                            f"{vn_date(local(a.issued_at, self.tz).date())} with the new date "
                            f"{vn_date(a.new_due_at)}; the due date may be reset only once, so no "
                            "second apology can be recorded (`motcua dossiers letter CODE` prints "
                            "the first one's letter again)", field="apology")

    def _planned(self, d: Dossier, reason: Any, new_due: Any, now: datetime) -> Dossier:
        if d.apology is not None:
            raise self._second_apology(d)
        if d.status in CLOSED:
            raise DossierError("dossier_closed", f"{d.code} is closed ({STATUSES[d.status][0]}); "
                               "a closed dossier needs no apology", field="status")
        if not isinstance(reason, str) or not reason.strip():
            raise DossierError("invalid_field", "reason: missing; say why the dossier is late (it is "
                               "printed in the letter and shown at the kiosk)", field="reason")
        reason = text_field({"reason": reason}, "reason", limit=MAX_NOTE)
        new = parse_date(new_due, "new_due_at", self.tz)
        # Milliseconds, as stored: the dossier returned equals the one read back.
        now = local(now, self.tz)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if new <= d.effective_due:
            raise DossierError("invalid_field", f"new_due_at: {vn_date(new)} is not after the "
                               f"current due date ({vn_date(d.effective_due)}); give a later date",
                               field="new_due_at")
        if new < now.date():
            raise DossierError("invalid_field", f"new_due_at: {vn_date(new)} is already past "
                               f"(today is {vn_date(now.date())}); give a date from today on",
                               field="new_due_at")
        return replace(d, apology=Apology(reason=reason, new_due_at=new, issued_at=now))

"""The manager report's loader for the centre's SQLite database (`motcua report`):
reads the tables `tickets`, `ratings`, `counters`, `dossiers`, `dossier_steps`,
`dossier_apologies` and `ticket_dossiers` into the plain rows of
motcua.report_figures, which computes every figure. build_report() is the two together.

A loader for another database (the province's, say) yields the same rows through
the same ReportSource methods and hands them to report_figures.report_from(); no
figure is computed here, only what the SQL does faster than Python: the rows of a
period, a local hour, a waiting time, and the rating counts per group, day, status
and level.

Privacy: no applicant name or ID is ever read from the database here.
"""
from __future__ import annotations

import re
import sqlite3
from datetime import date, datetime, time, timedelta
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

from .config import Site
from .dossiers import CLOCK_STOPPED, CLOSED, STATUSES
from .report_figures import (BY_CHOICES, OUTCOMES, DossierRow, HoldCount, Period, ProcedureRatingCount,
                             RatedDossierRow, RatingCount, ReceivedCount, Report, ReportError, TicketRow,
                             report_from)


def _conn(db) -> sqlite3.Connection:
    return db.conn if hasattr(db, "conn") else db


def build_report(db, site: Site, period: Period, by: str | None = None,
                 now: datetime | None = None) -> Report:
    """The report of `period` and of the period before it. `db`: the centre's
    database (sqlite_utils.Database or sqlite3.Connection); `by`: one of
    BY_CHOICES or None for totals only."""
    if by is not None and by not in BY_CHOICES:
        raise ReportError(f"--by {by!r}: choose one of {', '.join(BY_CHOICES)}")
    return report_from(SqliteSource(_conn(db), site.tz), site, period, by, now)


class SqliteSource:
    """The centre's records over a period, as the rows of motcua.report_figures (a
    ReportSource). None for records whose tables the database does not have."""

    def __init__(self, conn: sqlite3.Connection, tz: ZoneInfo):
        self.conn, self.tz = conn, tz
        self.tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def tickets(self, period: Period, by: str | None) -> list[TicketRow] | None:
        """The period's tickets (TicketRow tuples), in one query."""
        if "tickets" not in self.tables:
            return None
        conn, tz = self.conn, self.tz
        hour = _hour_sql(conn, tz, period, "issued_at")
        key = {"counter": "counter", "officer": "officer", "service": "service", "day": "day",
               "hour": hour}.get(by, "NULL")
        # By hour, the response rate sets a rating (pressed as the citizen leaves) against
        # the tickets finished in that hour, not those issued in it.
        finished_hour = _hour_sql(conn, tz, period, "finished_at") if by == "hour" else "NULL"
        # a number taken from afar, or a booking, waits in the hall from its check-in (issue 14)
        waited_from = ("coalesce(checked_in_at, issued_at)" if "checked_in_at" in self._columns("tickets")
                       else "issued_at")
        return conn.execute(
            f"SELECT {key}, {hour}, day, state, transfers > 0, "
            f"max(0.0, (julianday(first_called_at) - julianday({waited_from})) * 86400.0), "
            "CASE WHEN state = 'done' "
            "  THEN max(0.0, (julianday(finished_at) - julianday(started_at)) * 86400.0) END, "
            f"CASE WHEN state = 'done' THEN {finished_hour} END "
            "FROM tickets WHERE day BETWEEN ? AND ?",
            [period.start.isoformat(), period.end.isoformat()]).fetchall()

    def _columns(self, table: str) -> set[str]:
        return {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}

    def holds(self, period: Period) -> Iterable[HoldCount] | None:
        """Numbers taken from afar (tickets by state) and bookings (by state) per
        service, of the period's days (issue 14); None before migration 9."""
        if "bookings" not in self.tables:
            return None
        days = [period.start.isoformat(), period.end.isoformat()]
        return self.conn.execute(
            "SELECT service, 'remote', state, count(*) FROM tickets WHERE origin = 'remote' "
            "AND day BETWEEN ? AND ? GROUP BY 1, 3 UNION ALL "
            "SELECT service, 'booking', state, count(*) FROM bookings WHERE day BETWEEN ? AND ? GROUP BY 1, 3",
            days + days).fetchall()

    def rating_counts(self, period: Period, by: str | None) -> Iterable[RatingCount] | None:
        if "ratings" not in self.tables:
            return None
        key = by if by in BY_CHOICES else "NULL"  # the ratings table has a column of each name
        return self.conn.execute(
            f"SELECT {key}, day, status, level, count(*), total(weight) FROM ratings "
            "WHERE day BETWEEN ? AND ? GROUP BY 1, 2, 3, 4",
            [period.start.isoformat(), period.end.isoformat()])

    def _has_dossiers(self) -> bool:
        return {"dossiers", "dossier_steps", "dossier_apologies"} <= self.tables

    def dossiers_received(self, period: Period) -> Iterable[ReceivedCount] | None:
        if not self._has_dossiers():
            return None
        s_utc, e_utc = period.utc_bounds(self.tz)
        return self.conn.execute(
            "SELECT procedure_code, max(procedure_name), coalesce(field, ''), count(*) FROM dossiers "
            "WHERE received_at >= ? AND received_at < ? GROUP BY 1, 3", [s_utc, e_utc])

    def dossier_states(self, period: Period) -> Iterator[DossierRow] | None:
        if not self._has_dossiers():
            return None
        return self._dossier_states(period)

    def _dossier_states(self, period: Period) -> Iterator[DossierRow]:
        s_utc, e_utc = period.utc_bounds(self.tz)
        # Which dossiers: an outcome step in the period; or not closed now; or changed
        # since the end of the period. Every other dossier was closed before the period
        # began. (One received after the end has no step before it: the join drops it.)
        # timeliness() judges a dossier by its due dates and by the start of its last run
        # of clock-stopped steps, so per dossier the query returns those: `run_after`,
        # the last step before the end that kept the clock running, then the first step
        # after it (the run's start) and the first outcome in the run. Indexed by
        # motcua.store migration 3.
        sql = f"""
            WITH c(code) AS (
              SELECT code FROM dossier_steps WHERE at >= :s AND at < :e AND step IN ({_in(OUTCOMES)})
              UNION SELECT code FROM dossiers WHERE status IN ({_in(set(STATUSES) - CLOSED)})
              UNION SELECT code FROM dossier_steps WHERE at >= :e),
            r AS (
              SELECT st.code,
                     max(CASE WHEN st.step IN ({_in(CLOCK_STOPPED)}) THEN 0 ELSE st.seq END) AS run_after,
                     max(st.seq) AS last
              FROM c JOIN dossier_steps st ON st.code = c.code AND st.at < :e GROUP BY st.code)
            SELECT d.procedure_code, d.procedure_name, coalesce(d.field, ''), d.received_at, d.due_at,
              a.new_due_at, a.issued_at,
              (SELECT step FROM dossier_steps x WHERE x.code = r.code AND x.seq = r.last),
              (SELECT step FROM dossier_steps x WHERE x.code = r.code AND x.seq > r.run_after
                 AND x.at < :e ORDER BY x.seq LIMIT 1),
              (SELECT at FROM dossier_steps x WHERE x.code = r.code AND x.seq > r.run_after
                 AND x.at < :e ORDER BY x.seq LIMIT 1),
              (SELECT at FROM dossier_steps x WHERE x.code = r.code AND x.seq > r.run_after
                 AND x.at < :e AND x.step IN ({_in(OUTCOMES)}) ORDER BY x.seq LIMIT 1)
            FROM r JOIN dossiers d ON d.code = r.code
            LEFT JOIN dossier_apologies a ON a.code = d.code AND a.issued_at < :e"""
        fromiso, day = datetime.fromisoformat, date.fromisoformat
        for (proc, name, fld, received_at, due_at, new_due, issued, status, run_step, run_at,
             outcome_at) in self.conn.execute(sql, {"s": s_utc, "e": e_utc}):
            if outcome_at is not None and outcome_at < s_utc:
                continue  # its outcome was reached before the period (the figures skip it too)
            yield (proc, name, fld, fromiso(received_at), day(due_at),  # a DossierRow
                   None if new_due is None else day(new_due),
                   None if issued is None else fromiso(issued), status, run_step,
                   None if run_at is None else fromiso(run_at),
                   None if outcome_at is None else fromiso(outcome_at))

    def procedure_rating_counts(self, period: Period) -> Iterable[ProcedureRatingCount] | None:
        """Counted ratings per procedure and level (ProcedureRatingCount): each code of
        `ratings.dossiers` (a JSON list) through the dossier mirror (or, for a code it
        lost, the procedure `ticket_dossiers` recorded), one row per rating and
        procedure; then the counted ratings without a dossier (procedure None)."""
        if "ratings" not in self.tables or not {"dossiers", "ticket_dossiers"} <= self.tables:
            return None
        if "dossiers" not in {r[1] for r in self.conn.execute("PRAGMA table_info(ratings)")}:
            return None
        days = {"s": period.start.isoformat(), "e": period.end.isoformat()}
        return self.conn.execute("""
            WITH rp AS (
              SELECT r.rating_id, r.level, r.weight,
                     coalesce(d.procedure_code, td.procedure_code, '') AS proc,
                     max(coalesce(d.procedure_name, '')) AS name
              FROM ratings r JOIN json_each(r.dossiers) j
              LEFT JOIN dossiers d ON d.code = j.value
              LEFT JOIN ticket_dossiers td ON td.ticket_id = r.ticket_id AND td.code = j.value
              WHERE r.day BETWEEN :s AND :e AND r.status = 'counted' AND r.dossiers IS NOT NULL
              GROUP BY r.rating_id, proc)
            SELECT proc, max(name), level, count(*), total(weight) FROM rp GROUP BY proc, level
            UNION ALL
            SELECT NULL, '', level, count(*), total(weight) FROM ratings
              WHERE day BETWEEN :s AND :e AND status = 'counted' AND dossiers IS NULL GROUP BY level""",
            days)

    def rated_dossiers(self, period: Period) -> tuple[list[RatedDossierRow], int] | None:
        """`motcua ratings export`: one RatedDossierRow per code of each counted rating
        of the period (by the local day of the press), in the order pressed; and how
        many counted ratings of the period had no dossier. None: the database cannot say."""
        if "ratings" not in self.tables or not {"tickets", "dossiers", "ticket_dossiers"} <= self.tables:
            return None
        if "dossiers" not in {r[1] for r in self.conn.execute("PRAGMA table_info(ratings)")}:
            return None
        days = {"s": period.start.isoformat(), "e": period.end.isoformat()}
        rows = [RatedDossierRow(*r) for r in self.conn.execute("""
            SELECT r.rating_id, r.pressed_at, r.level, r.level_code, r.weight, r.officer, r.counter,
                   r.service, r.ticket, t.issued_at, t.first_called_at, t.started_at, t.finished_at,
                   j.value, coalesce(d.procedure_code, td.procedure_code), d.procedure_name
            FROM ratings r JOIN json_each(r.dossiers) j
            LEFT JOIN tickets t ON t.id = r.ticket_id
            LEFT JOIN dossiers d ON d.code = j.value
            LEFT JOIN ticket_dossiers td ON td.ticket_id = r.ticket_id AND td.code = j.value
            WHERE r.day BETWEEN :s AND :e AND r.status = 'counted' AND r.dossiers IS NOT NULL
            ORDER BY r.pressed_at, r.rating_id, j.key""", days)]
        (without,) = self.conn.execute(
            "SELECT count(*) FROM ratings WHERE day BETWEEN :s AND :e AND status = 'counted' "
            "AND dossiers IS NULL", days).fetchone()
        return rows, without

    def officer_register(self) -> dict[str, str]:
        """Officers' names from the register (issue 12), else as the counters last had them."""
        names = self.officer_names()
        if "officers" in self.tables:
            names.update(self.conn.execute("SELECT id, name FROM officers"))
        return names

    def officer_names(self) -> dict[str, str]:
        if "counters" not in self.tables:
            return {}
        return {o: n for o, n in self.conn.execute(
            "SELECT officer, officer_name FROM counters WHERE officer IS NOT NULL "
            "AND officer_name IS NOT NULL")}


def _fixed_offset_minutes(tz: ZoneInfo, period: Period) -> int | None:
    """The zone's UTC offset in whole minutes if it does not change over the
    period (Asia/Ho_Chi_Minh: +420 always), else None."""
    offsets = set()
    d = period.start - timedelta(days=1)
    while d <= period.end + timedelta(days=1):
        for t in (time(0), time(12)):
            offsets.add(datetime.combine(d, t, tz).utcoffset())
        d += timedelta(days=1)
    if len(offsets) != 1:
        return None
    (off,) = offsets
    return None if off.total_seconds() % 60 else int(off.total_seconds() // 60)


def _hour_sql(conn: sqlite3.Connection, tz: ZoneInfo, period: Period, column: str) -> str:
    """SQL for the local hour (0-23) of a stored UTC time."""
    minutes = _fixed_offset_minutes(tz, period)
    if minutes is not None:
        # Stored times are all UTC, "YYYY-MM-DDTHH:MM:SS.mmm+00:00" (engine.iso): the
        # hour and minute are at fixed places, which is twice as fast as strftime.
        return (f"((CAST(substr({column}, 12, 2) AS INTEGER) * 60 + CAST(substr({column}, 15, 2) "
                f"AS INTEGER) + {minutes + 1440}) % 1440) / 60")
    # A zone with a change of offset in the period: each row through Python.
    conn.create_function("motcua_local_hour", 1,
                         lambda s: datetime.fromisoformat(s).astimezone(tz).hour if s else None,
                         deterministic=True)
    return f"motcua_local_hour({column})"


def _in(values: Iterable[str]) -> str:
    # Status codes are fixed identifiers of motcua.dossiers (letters and '_'), never input.
    values = sorted(values)
    assert all(re.fullmatch(r"[a-z_]+", v) for v in values)
    return ", ".join(f"'{v}'" for v in values)

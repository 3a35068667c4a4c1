"""The province report's loader: the hub's PostgreSQL copy of the centres'
records (motcua.province.store) read into the plain rows of
motcua.report_figures, for one centre or for several pooled (PostgresSource, a
ReportSource), and the province report made of them (build_province_report).

Every figure is the centre report's own: report_figures.report_from() computes
it from the same rows the centre's SQLite loader (motcua.report_sqlite) gives.
The hub's tables are the centre's with a `centre` column in front, times the
centre's UTC text ("2026-12-07T02:31:05.120+00:00", one fixed form, so text
order is time order in any collation, as in SQLite) and days "YYYY-MM-DD", so
each query is the centre's with `centre = ANY(...)` added. Only what SQLite
does differently is done differently here: durations are exact (SQLite's
julianday() rounds them to about 0.1 ms), the local hour comes from the zone's
rules, `greatest` skips NULLs where SQLite's max() returns NULL (so the
queries test for NULL first), and text maxima take the C collation (SQLite's
byte order).

The province total is report_from over the pooled rows of every centre (one
PostgresSource over all of them), not a mean of the centres' figures.

Privacy: the hub holds no applicant name or ID (docs/province.md), and these
queries read none.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

import psycopg

from ..dossiers import CLOCK_STOPPED, CLOSED, STATUSES
from ..report_figures import (BY_CHOICES, OUTCOMES, DossierRow, Period, ProcedureRatingCount, RatingCount,
                              ReceivedCount, Report, ReportError, TicketRow, report_from)
from . import ranking
from .config import Province


class SharedRows:
    """The rows of a report's queries fetched once for a whole batch of centres
    (those of one time zone) and kept split by centre, so that each centre's report
    and the province's pooled report read the same rows and the database is asked
    each question once, not once per centre and again for the province."""

    def __init__(self, batches: dict[str, Sequence[str]]):
        self.batches = {tz: list(ids) for tz, ids in batches.items()}   # time zone -> centre ids
        self.rows: dict[tuple, dict[str, list]] = {}

    def batch(self, tz: ZoneInfo, centres: Sequence[str]) -> list[str] | None:
        """The batch that holds every one of `centres` in zone `tz`, or None."""
        ids = self.batches.get(str(tz))
        return ids if ids is not None and set(centres) <= set(ids) else None


class PostgresSource:
    """One centre's records (centres=[id]), or several centres' pooled, over a
    period, as the rows of motcua.report_figures (a ReportSource). `tz`: the zone
    of local hours and of a period's days for dossiers (a centre's own; the
    province's for the pooled rows). Pooled rows can be grouped by service, day
    or hour, not by counter or officer: those are a centre's own. With `shared`,
    each query runs once for the whole batch of centres (SharedRows)."""

    def __init__(self, conn: psycopg.Connection, tz: ZoneInfo, centres: Sequence[str],
                 shared: SharedRows | None = None):
        self.conn, self.tz, self.centres, self.shared = conn, tz, list(centres), shared

    def _args(self, period: Period, centres: list[str]) -> dict:
        s_utc, e_utc = period.utc_bounds(self.tz)
        return {"centres": centres, "from": period.start.isoformat(), "to": period.end.isoformat(),
                "s": s_utc, "e": e_utc, "tz": str(self.tz)}

    def _rows(self, kind: str, period: Period, by: str | None, sql: str,
              convert: Callable[[tuple], tuple | None] | None = None) -> list:
        """The rows of `sql` (its first column the centre) for this source's centres,
        without the centre column, each through `convert` (which may drop it: None);
        through the shared rows if there are any."""
        def rows(centres):
            got = ((r[0], r[1:]) for r in self.conn.execute(sql, self._args(period, centres)).fetchall())
            if convert is None:
                return got
            return ((c, x) for c, x in ((c, convert(r)) for c, r in got) if x is not None)

        batch = self.shared.batch(self.tz, self.centres) if self.shared is not None else None
        if batch is None:
            return [r for _, r in rows(self.centres)]
        key = (kind, period, by, str(self.tz))
        split = self.shared.rows.get(key)
        if split is None:
            split = {c: [] for c in batch}
            for c, r in rows(batch):
                split[c].append(r)
            self.shared.rows[key] = split
        if len(self.centres) == 1:
            return split[self.centres[0]]
        return [r for c in self.centres for r in split[c]]

    def _check_by(self, by: str | None) -> None:
        if by is not None and by not in BY_CHOICES:
            raise ReportError(f"--by {by!r}: choose one of {', '.join(BY_CHOICES)}")
        if by in ("counter", "officer") and len(self.centres) != 1:
            raise ReportError(f"--by {by}: a {by} belongs to one centre; group each centre's report by it")

    def tickets(self, period: Period, by: str | None) -> list[TicketRow]:
        self._check_by(by)
        hour = "extract(hour FROM (issued_at::timestamptz AT TIME ZONE %(tz)s))::int"
        key = {"counter": "counter", "officer": "officer", "service": "service", "day": "day",
               "hour": hour}.get(by, "NULL")
        # By hour, the response rate sets a rating against the tickets finished in that hour.
        finished_hour = ("extract(hour FROM (finished_at::timestamptz AT TIME ZONE %(tz)s))::int"
                         if by == "hour" else "NULL::int")
        return self._rows("tickets", period, by,
            f"SELECT centre, {key}, {hour}, day, state, transfers > 0, "
            "CASE WHEN first_called_at IS NOT NULL AND issued_at IS NOT NULL THEN greatest(0.0, extract(epoch FROM "
            "  first_called_at::timestamptz - issued_at::timestamptz))::float8 END, "
            "CASE WHEN state = 'done' AND finished_at IS NOT NULL AND started_at IS NOT NULL THEN greatest(0.0, "
            "  extract(epoch FROM finished_at::timestamptz - started_at::timestamptz))::float8 END, "
            f"CASE WHEN state = 'done' THEN {finished_hour} END "
            "FROM tickets WHERE centre = ANY(%(centres)s) AND day BETWEEN %(from)s AND %(to)s")

    def rating_counts(self, period: Period, by: str | None) -> Iterable[RatingCount]:
        self._check_by(by)
        key = by if by in BY_CHOICES else "NULL"  # the ratings table has a column of each name
        return self._rows("ratings", period, by,
            f"SELECT centre, {key}, day, status, level, count(*), coalesce(sum(weight), 0.0) FROM ratings "
            "WHERE centre = ANY(%(centres)s) AND day BETWEEN %(from)s AND %(to)s GROUP BY 1, 2, 3, 4, 5")

    def dossiers_received(self, period: Period) -> Iterable[ReceivedCount]:
        return self._rows("received", period, None,
            "SELECT centre, procedure_code, max(procedure_name COLLATE \"C\"), coalesce(field, ''), count(*) "
            "FROM dossiers WHERE centre = ANY(%(centres)s) AND received_at >= %(s)s AND received_at < %(e)s "
            "GROUP BY 1, 2, 4")

    def dossier_states(self, period: Period) -> list[DossierRow]:
        # The centre's query (motcua.report_sqlite), each dossier by (centre, code):
        # the dossiers with an outcome step in the period, not closed now, or changed
        # since the end; per dossier its last step before the end, and the first step
        # and first outcome of its last run of clock-stopped steps.
        sql = f"""
            WITH c(centre, code) AS (
              SELECT centre, code FROM dossier_steps WHERE centre = ANY(%(centres)s)
                AND at >= %(s)s AND at < %(e)s AND step IN ({_in(OUTCOMES)})
              UNION SELECT centre, code FROM dossiers WHERE centre = ANY(%(centres)s)
                AND status IN ({_in(set(STATUSES) - CLOSED)})
              UNION SELECT centre, code FROM dossier_steps WHERE centre = ANY(%(centres)s) AND at >= %(e)s),
            r AS (
              SELECT st.centre, st.code,
                     max(CASE WHEN st.step IN ({_in(CLOCK_STOPPED)}) THEN 0 ELSE st.seq END) AS run_after,
                     max(st.seq) AS last
              FROM c JOIN dossier_steps st ON st.centre = c.centre AND st.code = c.code AND st.at < %(e)s
              GROUP BY st.centre, st.code)
            SELECT d.centre, d.procedure_code, d.procedure_name, coalesce(d.field, ''), d.received_at, d.due_at,
              a.new_due_at, a.issued_at,
              (SELECT step FROM dossier_steps x WHERE x.centre = r.centre AND x.code = r.code AND x.seq = r.last),
              run.step, run.at,
              (SELECT at FROM dossier_steps x WHERE x.centre = r.centre AND x.code = r.code
                 AND x.seq > r.run_after AND x.at < %(e)s AND x.step IN ({_in(OUTCOMES)}) ORDER BY x.seq LIMIT 1)
            FROM r JOIN dossiers d ON d.centre = r.centre AND d.code = r.code
            LEFT JOIN LATERAL (SELECT step, at FROM dossier_steps x WHERE x.centre = r.centre AND x.code = r.code
                 AND x.seq > r.run_after AND x.at < %(e)s ORDER BY x.seq LIMIT 1) run ON true
            LEFT JOIN dossier_apologies a ON a.centre = d.centre AND a.code = d.code AND a.issued_at < %(e)s"""
        s_utc = period.utc_bounds(self.tz)[0]
        fromiso, day = datetime.fromisoformat, date.fromisoformat

        def dossier_row(row: tuple) -> DossierRow | None:
            (proc, name, fld, received_at, due_at, new_due, issued, status, run_step, run_at, outcome_at) = row
            if outcome_at is not None and outcome_at < s_utc:
                return None  # its outcome was reached before the period (the figures skip it too)
            return (proc, name, fld, fromiso(received_at), day(due_at),  # a DossierRow
                    None if new_due is None else day(new_due),
                    None if issued is None else fromiso(issued), status, run_step,
                    None if run_at is None else fromiso(run_at),
                    None if outcome_at is None else fromiso(outcome_at))
        return self._rows("states", period, None, sql, dossier_row)

    def procedure_rating_counts(self, period: Period) -> Iterable[ProcedureRatingCount]:
        """Counted ratings per procedure and level: each code of `ratings.dossiers`
        through the dossier mirror (or the procedure `ticket_dossiers` recorded), one
        row per rating and procedure; then the counted ratings without a dossier."""
        return self._rows("procedures", period, None, """
            WITH rp AS (
              SELECT r.centre, r.rating_id, min(r.level) AS level, min(r.weight) AS weight,
                     coalesce(d.procedure_code, td.procedure_code, '') AS proc,
                     max(coalesce(d.procedure_name, '') COLLATE "C") AS name
              FROM ratings r CROSS JOIN LATERAL jsonb_array_elements_text(r.dossiers) j(code)
              LEFT JOIN dossiers d ON d.centre = r.centre AND d.code = j.code
              LEFT JOIN ticket_dossiers td ON td.centre = r.centre AND td.ticket_id = r.ticket_id
                AND td.code = j.code
              WHERE r.centre = ANY(%(centres)s) AND r.day BETWEEN %(from)s AND %(to)s
                AND r.status = 'counted' AND jsonb_typeof(r.dossiers) = 'array'
              GROUP BY r.centre, r.rating_id, proc)
            SELECT centre, proc, max(name COLLATE "C"), level, count(*), coalesce(sum(weight), 0.0) FROM rp
              GROUP BY centre, proc, level
            UNION ALL
            SELECT centre, NULL, '', level, count(*), coalesce(sum(weight), 0.0) FROM ratings
              WHERE centre = ANY(%(centres)s) AND day BETWEEN %(from)s AND %(to)s AND status = 'counted'
                AND dossiers IS NULL
              GROUP BY centre, level""")

    def officer_names(self) -> dict[str, str]:
        return dict(self.conn.execute(
            "SELECT officer, officer_name FROM counters WHERE centre = ANY(%s) AND officer IS NOT NULL "
            "AND officer_name IS NOT NULL ORDER BY centre, number", [self.centres]).fetchall())


def _in(values: Iterable[str]) -> str:
    # Status codes are fixed identifiers of motcua.dossiers (letters and '_'), never input.
    values = sorted(values)
    assert all(v.replace("_", "").isalpha() and v.islower() for v in values)
    return ", ".join(f"'{v}'" for v in values)


def site_records(conn: psycopg.Connection) -> dict[str, dict]:
    """Each centre's latest `site` record (its body), by centre id."""
    return {centre: body or {} for centre, body in conn.execute("SELECT centre, body FROM sites").fetchall()}


def build_province_report(conn: psycopg.Connection, province: Province, period: Period, by: str = "centre",
                          now: datetime | None = None,
                          min_ratings: int = ranking.DEFAULT_MIN_RATINGS) -> ranking.ProvinceReport:
    """The province report: each centre of the provincial file by the centre
    report's own code (report_from over its rows in the hub's copy), the province
    total by the same code over every centre's rows pooled, ranked by satisfaction
    index. By officer: every centre's report grouped by officer; by service: the
    pooled report grouped by service code (docs/province.md, "The province report")."""
    if by not in ranking.BY_CHOICES:
        raise ReportError(f"--by {by!r}: choose one of {', '.join(ranking.BY_CHOICES)}")
    now = now or datetime.now(timezone.utc)
    sites = site_records(conn)
    described = [(c, ranking.site_from_record(c.id, c.name, sites.get(c.id), province.timezone))
                 for c in province.centres]
    batches: dict[str, list[str]] = {}
    for c, site in described:
        batches.setdefault(site.timezone, []).append(c.id)
    shared = SharedRows(batches)
    entries, groups = [], []
    for c, site in described:
        source = PostgresSource(conn, site.tz, [c.id], shared)
        if by == "officer":
            report = report_from(source, site, period, "officer", now)
            before = report_from(source, site, period.previous(), "officer", now)
            groups += ranking.group_rows(report, before, c.id, c.name)
        else:
            report = report_from(source, site, period, None, now)
        entries.append((c.id, c.name, report))
    ids = [c.id for c in province.centres]
    psite = ranking.province_site(province.id, province.name, province.timezone,
                                  (sites.get(i) for i in ids))
    # The province's rows are the centres' own, pooled (the same rows when every
    # centre is in the province's time zone, as in Vietnam).
    pooled = PostgresSource(conn, psite.tz, ids, shared)
    total = report_from(pooled, psite, period, "service" if by == "service" else None, now)
    if by == "service":
        groups = ranking.group_rows(total, report_from(pooled, psite, period.previous(), "service", now))
    shared.rows.clear()
    return ranking.province_report(province.name, province.timezone, period, by, now, entries, total,
                                   groups, min_ratings)


def connect(dsn: str, timeout: float = 10) -> psycopg.Connection:
    """A read-only connection to the province's database (the report never writes),
    in one repeatable-read transaction: every centre and the province total are
    read from the same snapshot, while the hub goes on storing."""
    conn = psycopg.connect(dsn, connect_timeout=max(1, int(timeout)), application_name="motcua province report")
    conn.read_only = True
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    # The dossier query sorts the steps of every open or settled dossier of the
    # province: in memory, not in temporary files (PostgreSQL's default is 4 MB).
    conn.execute("SET work_mem = '64MB'")
    conn.commit()
    return conn

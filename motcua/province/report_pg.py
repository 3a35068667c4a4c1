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
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql as psql

from ..dossiers import CLOCK_STOPPED, CLOSED, STATUSES
from ..report_figures import (BY_CHOICES, OUTCOMES, DossierRow, HoldCount, Period, ProcedureRatingCount,
                              RatingCount, ReceivedCount, Report, ReportError, TicketRow, report_from)
from . import ranking
from .config import Province


class SharedRows:
    """The rows of a report's queries fetched once for a whole batch of centres
    (those of one time zone) and kept split by centre, so that each centre's report
    and the province's pooled report read the same rows and the database is asked
    each question once, not once per centre and again for the province.

    With `fetchers` (connections of their own, each in the main connection's
    snapshot), the questions are first collected by a dry run (`planning`: each
    is handed to a fetcher and answered with no rows) and then asked at once, so
    that PostgreSQL answers them side by side while Python computes the figures."""

    def __init__(self, batches: dict[str, Sequence[str]], fetchers: "Fetchers | None" = None):
        self.batches = {tz: list(ids) for tz, ids in batches.items()}   # time zone -> centre ids
        self.rows: dict[tuple, dict[str, list]] = {}
        self.columns: dict[str, set[str]] = {}    # the hub's tables' columns, asked once
        self.without_bookings: set[str] | None = None   # centres that ship no bookings yet, asked once
        self.fetchers = fetchers
        self.planning = False
        self.pending: dict[tuple, Future] = {}

    def batch(self, tz: ZoneInfo, centres: Sequence[str]) -> list[str] | None:
        """The batch that holds every one of `centres` in zone `tz`, or None."""
        ids = self.batches.get(str(tz))
        return ids if ids is not None and set(centres) <= set(ids) else None

    def get(self, key: tuple, fetch: Callable[[psycopg.Connection], dict[str, list]],
            conn: psycopg.Connection) -> dict[str, list] | None:
        """The rows of `key` by centre: kept, or fetched by a fetcher, or fetched
        here on `conn`; None while planning (the question is handed on)."""
        split = self.rows.get(key)
        if split is not None:
            return split
        if self.planning:
            if key not in self.pending:
                self.pending[key] = self.fetchers.submit(fetch)
            return None
        future = self.pending.pop(key, None)
        split = self.rows[key] = future.result() if future is not None else fetch(conn)
        return split


class Fetchers:
    """A few connections of their own, each reading in the snapshot of the main
    connection's transaction (pg_export_snapshot), so that what they read is what
    the main connection would: the report stays one consistent moment."""

    def __init__(self, main: psycopg.Connection, open_connection: Callable[[], psycopg.Connection], count: int):
        self.snapshot = main.execute("SELECT pg_export_snapshot()").fetchone()[0]
        self.open_connection = open_connection
        self.local = threading.local()
        self.connections: list[psycopg.Connection] = []
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="province-report")

    def _connection(self) -> psycopg.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = self.open_connection()
            conn.execute(psql.SQL("SET TRANSACTION SNAPSHOT {}").format(psql.Literal(self.snapshot)))
            with self.lock:
                self.connections.append(conn)
        return conn

    def submit(self, fetch: Callable[[psycopg.Connection], dict[str, list]]) -> Future:
        return self.pool.submit(lambda: fetch(self._connection()))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for conn in self.connections:
            conn.close()


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
        self._columns: dict[str, set[str]] = shared.columns if shared is not None else {}
        self._without_bookings: set[str] | None = None

    def columns(self, table: str) -> set[str]:
        """The columns the hub's table has (its schema grows with the centre's)."""
        if table not in self._columns:
            self._columns[table] = {r[0] for r in self.conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = %s", [table]).fetchall()}
        return self._columns[table]

    def _args(self, period: Period, centres: list[str]) -> dict:
        s_utc, e_utc = period.utc_bounds(self.tz)
        return {"centres": centres, "from": period.start.isoformat(), "to": period.end.isoformat(),
                "s": s_utc, "e": e_utc, "tz": str(self.tz)}

    def _rows(self, kind: str, period: Period, by: str | None, sql: str,
              convert: Callable[[tuple], tuple | None] | None = None) -> list:
        """The rows of `sql` (its first column the centre) for this source's centres,
        without the centre column, each through `convert` (which may drop it: None);
        through the shared rows if there are any."""
        def fetch(conn: psycopg.Connection, centres: list[str]) -> dict[str, list]:
            split: dict[str, list] = {c: [] for c in centres}
            for r in conn.execute(sql, self._args(period, centres)).fetchall():
                x = r[1:] if convert is None else convert(r[1:])
                if x is not None:
                    split[r[0]].append(x)
            return split

        batch = self.shared.batch(self.tz, self.centres) if self.shared is not None else None
        if batch is None:
            split = fetch(self.conn, self.centres)
        else:
            split = self.shared.get((kind, period, by, str(self.tz)), lambda conn: fetch(conn, batch), self.conn)
            if split is None:
                return []       # planning: the question is asked, the answer comes later
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
        # A number taken from afar waits in the hall from its check-in (issue 14), as
        # at the centre (a hub's database before its migration 2 has no such column).
        waited_from = ("coalesce(checked_in_at, issued_at)" if "checked_in_at" in self.columns("tickets")
                       else "issued_at")
        return self._rows("tickets", period, by,
            f"SELECT centre, {key}, {hour}, day, state, transfers > 0, "
            f"CASE WHEN first_called_at IS NOT NULL AND {waited_from} IS NOT NULL THEN greatest(0.0, "
            f"  extract(epoch FROM first_called_at::timestamptz - ({waited_from})::timestamptz))::float8 END, "
            "CASE WHEN state = 'done' AND finished_at IS NOT NULL AND started_at IS NOT NULL THEN greatest(0.0, "
            "  extract(epoch FROM finished_at::timestamptz - started_at::timestamptz))::float8 END, "
            f"CASE WHEN state = 'done' THEN {finished_hour} END "
            "FROM tickets WHERE centre = ANY(%(centres)s) AND day BETWEEN %(from)s AND %(to)s")

    def without_bookings(self) -> set[str]:
        """The centres whose latest `site` record does not list the kind `booking`:
        their code is older than issue 14's shipping (the centre's migration 10), so
        the hub has none of their bookings nor their tickets' origins, whatever they
        took. (A centre that never shipped has no record and took nothing here.)"""
        cached = self.shared.without_bookings if self.shared is not None else self._without_bookings
        if cached is None:
            cached = {c for (c,) in self.conn.execute(
                "SELECT centre FROM sites WHERE NOT coalesce(body->'kinds' ? 'booking', false)").fetchall()}
            if self.shared is not None:
                self.shared.without_bookings = cached
            else:
                self._without_bookings = cached
        return cached

    def holds(self, period: Period) -> list[HoldCount] | None:
        """Numbers taken from afar (tickets by state) and bookings (by state) per
        service, of the period's days (issue 14): the centre's query. None when the
        hub cannot say: its database has no bookings (before its migration 2), or a
        centre of this source does not ship them yet (a zero would be untrue)."""
        if not self.columns("bookings") or "origin" not in self.columns("tickets"):
            return None
        if self.without_bookings() & set(self.centres):
            return None
        return self._rows("holds", period, None,
            "SELECT centre, service, 'remote', state, count(*) FROM tickets WHERE centre = ANY(%(centres)s) "
            "AND origin = 'remote' AND day BETWEEN %(from)s AND %(to)s GROUP BY 1, 2, 4 UNION ALL "
            "SELECT centre, service, 'booking', state, count(*) FROM bookings WHERE centre = ANY(%(centres)s) "
            "AND day BETWEEN %(from)s AND %(to)s GROUP BY 1, 2, 4")

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
        # and first outcome of its last run of clock-stopped steps. (Reading each
        # dossier's steps through the primary key instead, LATERAL, was slower here:
        # the previous period's dossiers include every one changed since.)
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


class PeriodGroups:
    """A source's tickets and ratings of one period only, nothing else: for the
    previous period's groups (officers, services), which need only those. Its
    report_from has the groups of that period exactly as a full report's; the
    rest (the period before it, dossiers, procedures) is left empty, not read."""

    def __init__(self, source: PostgresSource, period: Period):
        self.source, self.period = source, period

    def tickets(self, period: Period, by: str | None):
        return self.source.tickets(period, by) if period == self.period else []

    def rating_counts(self, period: Period, by: str | None):
        return self.source.rating_counts(period, by) if period == self.period else []

    def dossiers_received(self, period: Period):
        return None

    def dossier_states(self, period: Period):
        return None

    def procedure_rating_counts(self, period: Period):
        return None

    def officer_names(self) -> dict[str, str]:
        return self.source.officer_names()


def site_records(conn: psycopg.Connection) -> dict[str, dict]:
    """Each centre's latest `site` record (its body), by centre id."""
    return {centre: body or {} for centre, body in conn.execute("SELECT centre, body FROM sites").fetchall()}


def build_province_report(conn: psycopg.Connection, province: Province, period: Period, by: str = "centre",
                          now: datetime | None = None, min_ratings: int = ranking.DEFAULT_MIN_RATINGS,
                          open_connection: Callable[[], psycopg.Connection] | None = None,
                          fetchers: int = 4) -> ranking.ProvinceReport:
    """The province report: each centre of the provincial file by the centre
    report's own code (report_from over its rows in the hub's copy), the province
    total by the same code over every centre's rows pooled, ranked by satisfaction
    index. By officer: every centre's report grouped by officer; by service: the
    pooled report grouped by service code (docs/province.md, "The province report").
    With `open_connection`, `fetchers` more connections read side by side, in the
    same snapshot as `conn` (which must be a repeatable-read one: `connect`)."""
    if by not in ranking.BY_CHOICES:
        raise ReportError(f"--by {by!r}: choose one of {', '.join(ranking.BY_CHOICES)}")
    now = now or datetime.now(timezone.utc)
    sites = site_records(conn)
    described = [(c, ranking.site_from_record(c.id, c.name, sites.get(c.id), province.timezone))
                 for c in province.centres]
    batches: dict[str, list[str]] = {}
    for c, site in described:
        batches.setdefault(site.timezone, []).append(c.id)
    ids = [c.id for c in province.centres]
    psite = ranking.province_site(province.id, province.name, province.timezone, (sites.get(i) for i in ids))
    pool = Fetchers(conn, open_connection, fetchers) if open_connection is not None and fetchers > 0 else None
    shared = SharedRows(batches, pool)

    def run():
        entries, groups = [], []
        for c, site in described:
            source = PostgresSource(conn, site.tz, [c.id], shared)
            if by == "officer":
                report = report_from(source, site, period, "officer", now)
                before = report_from(PeriodGroups(source, period.previous()), site, period.previous(), "officer",
                                     now)
                groups += ranking.group_rows(report, before, c.id, c.name)
            else:
                report = report_from(source, site, period, None, now)
            entries.append((c.id, c.name, report))
        # The province's rows are the centres' own, pooled (the same rows when every
        # centre is in the province's time zone, as in Vietnam).
        pooled = PostgresSource(conn, psite.tz, ids, shared)
        total = report_from(pooled, psite, period, "service" if by == "service" else None, now)
        if by == "service":
            groups = ranking.group_rows(total, report_from(PeriodGroups(pooled, period.previous()), psite,
                                                           period.previous(), "service", now))
        return entries, total, groups

    try:
        if pool is not None:
            # A dry run asks every question the report will ask (the fetchers start
            # on them at once); its figures, made of no rows, are thrown away.
            shared.planning = True
            run()
            shared.planning = False
        entries, total, groups = run()
    finally:
        shared.rows.clear()
        if pool is not None:
            pool.close()
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

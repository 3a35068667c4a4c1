"""Manager reports (`motcua report`): satisfaction, queue and dossiers over a
period of local dates, beside the previous period of the same length.

The functional core: plain data from the centre's database, no printing (the
terminal table, XLSX, CSV and chart are motcua.report_output). Definitions of
every figure are in docs/reports.md; in short:

Period
    `start` to `end`, both inclusive, local dates in the site's time zone
    (Asia/Ho_Chi_Minh). A ticket belongs to the day (and hour) it was issued, a
    rating to the day and hour it was pressed, a dossier to the day it was
    received (received) or the day it reached its outcome (settled). The
    previous period has the same number of days and ends the day before `start`.

Satisfaction (table `ratings`)
    Only `counted` ratings make the figures; `unprompted` and `duplicate` presses
    are counted apart. Share satisfied = motcua.ratings.satisfied_share (the two
    most satisfied levels over all counted ratings, 0..100). Index = the mean of
    the counted ratings' stored weights (0..100, as motcua.ratings.tally).
    Response rate = counted ratings / tickets served (`done`), 0..100 (by hour:
    the tickets finished in that hour).

Queue (table `tickets`)
    Issued = tickets of the period; served = ended `done`; no-show; transferred =
    moved to another service at least once; expired = never called before the day
    ended; open = still waiting, called or being served. Waiting time = first
    call - issue (every ticket that was called); service time = finish - start
    (served tickets). Medians and 90th percentiles by `percentile()`.

Dossiers (tables `dossiers`, `dossier_steps`, `dossier_apologies`)
    Each dossier is taken as it stood at the end of the period (steps and apology
    recorded before then) and judged by motcua.dossiers.timeliness(). Received in
    the period; settled in the period (an outcome reached: early, on time or
    late); pending at the end (within the time limit or overdue); waiting for the
    citizen (supplement requested). Missed the original date = settled after, or
    still pending past, the due date first set (before any apology); of those,
    with an apology letter, and with one issued at least one day before that
    original due date (the rule of Nghị định 118/2025).

Privacy: no applicant name or ID is ever read from the database here.
"""
from __future__ import annotations

import re
import statistics
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from itertools import compress
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from . import ratings as rt
from .config import Site
from . import timefmt
from .timefmt import utc_iso
from .vntext import fold
from .dossiers import CLOCK_STOPPED, CLOSED, STATUSES, Apology, Dossier, Step, timeliness

BY_CHOICES = ("counter", "officer", "service", "day", "hour")
# An outcome reached: the dossier is settled (supplement_requested only waits for the citizen).
OUTCOMES = frozenset(CLOCK_STOPPED - {"supplement_requested"})
WEEKDAYS_VI = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")


class ReportError(ValueError):
    """Bad report input (dates, grouping); the message says what to do."""


# -- periods -------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Period":
        """The period of the same length that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)

    def utc_bounds(self, tz: ZoneInfo) -> tuple[str, str]:
        """[local midnight of start, local midnight after end) as the store's UTC text."""
        return (_utc_text(datetime.combine(self.start, time(), tz)),
                _utc_text(datetime.combine(self.end + timedelta(days=1), time(), tz)))

    def label(self) -> str:
        return f"{self.start:%d/%m/%Y} – {self.end:%d/%m/%Y}"


_utc_text = utc_iso


def parse_day(text: str, what: str = "date") -> date:
    """YYYY-MM-DD or dd/mm/yyyy (as Vietnamese managers write it)."""
    try:
        return timefmt.parse_day(text)
    except ValueError as exc:
        raise ReportError(f"{what} {exc}") from None


def resolve_period(start: str | date | None, end: str | date | None, today: date) -> Period:
    """The report's period from --from / --to. Defaults: --to today; --from the
    first day of --to's month (so, with neither, this month up to today)."""
    end_d = end if isinstance(end, date) else (parse_day(end, "--to") if end else today)
    start_d = (start if isinstance(start, date) else
               parse_day(start, "--from") if start else end_d.replace(day=1))
    if start_d > end_d:
        raise ReportError(f"--from {start_d.isoformat()} is after --to {end_d.isoformat()}; "
                          "give the earlier date to --from")
    if (end_d - start_d).days >= 3660:
        raise ReportError("a report covers at most ten years; give a shorter period")
    return Period(start_d, end_d)


# -- percentiles ---------------------------------------------------------------------


def percentile(sorted_values: list[float], p: int) -> float | None:
    """The p-th percentile (0..100) of values sorted ascending, by linear
    interpolation between closest ranks: rank h = (n - 1) * p / 100, then
    v[floor h] + (h - floor h) * (v[floor h + 1] - v[floor h]). This is Excel's
    PERCENTILE.INC, numpy's default and R's type 7; p = 50 is the usual median
    (the mean of the two middle values when n is even). None for no values."""
    n = len(sorted_values)
    if n == 0:
        return None
    if n == 1 or p >= 100:
        return float(sorted_values[-1])
    if p <= 0:
        return float(sorted_values[0])
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[int(p) - 1]


# -- figures ---------------------------------------------------------------------------


@dataclass
class Satisfaction:
    levels: list[int]              # counted ratings per level, most satisfied first
    counted: int = 0
    duplicate: int = 0
    unprompted: int = 0
    weight_sum: float = 0.0        # of counted ratings
    served: int = 0                # tickets served, for the response rate
    rate_known: bool = True        # False: no rating at all in the period (no pads in use)

    @property
    def share_satisfied(self) -> float | None:
        return rt.satisfied_share(self.levels)

    @property
    def index(self) -> float | None:
        return self.weight_sum / self.counted if self.counted else None

    @property
    def response_rate(self) -> float | None:
        if not self.served or not self.rate_known:
            return None
        return 100.0 * self.counted / self.served

    def add(self, status: str, level: int, n: int, weight_sum: float) -> None:
        if status == rt.COUNTED:
            while len(self.levels) < level:
                self.levels.append(0)  # a level of an older, longer scale
            self.levels[level - 1] += n
            self.counted += n
            self.weight_sum += weight_sum
        elif status == rt.DUPLICATE:
            self.duplicate += n
        else:
            self.unprompted += n


@dataclass
class Queue:
    issued: int = 0
    served: int = 0
    no_show: int = 0
    transferred: int = 0
    expired: int = 0
    open: int = 0                  # still waiting, called or being served
    waits: list[float] = field(default_factory=list, repr=False)      # seconds
    services: list[float] = field(default_factory=list, repr=False)   # seconds
    wait_median: float | None = None
    wait_p90: float | None = None
    service_median: float | None = None
    service_p90: float | None = None
    waited: int = 0                # tickets with a waiting time (called)

    def finish(self) -> "Queue":
        self.waits.sort()
        self.services.sort()
        self.waited = len(self.waits)
        self.wait_median, self.wait_p90 = percentile(self.waits, 50), percentile(self.waits, 90)
        self.service_median = percentile(self.services, 50)
        self.service_p90 = percentile(self.services, 90)
        return self


@dataclass
class DossierFigures:
    received: int = 0
    settled: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    pending: int = 0
    pending_overdue: int = 0
    waiting_citizen: int = 0
    missed_original: int = 0       # settled after / pending past the first due date
    with_apology: int = 0          # of missed_original
    apology_day_before: int = 0    # of with_apology: issued >= 1 day before the first due date

    @property
    def settled_on_time(self) -> int:
        return self.early + self.on_time

    @property
    def share_on_time(self) -> float | None:
        return 100.0 * self.settled_on_time / self.settled if self.settled else None

    @property
    def pending_in_time(self) -> int:
        return self.pending - self.pending_overdue


@dataclass
class Group:
    key: Any
    label: str
    satisfaction: Satisfaction
    queue: Queue


@dataclass
class HourRow:
    hour: int
    issued: int
    issued_previous: int
    wait_median: float | None
    wait_p90: float | None


@dataclass
class DayRow:
    day: date
    issued: int
    counted: int
    index: float | None


@dataclass
class DossierGroup:
    key: str
    label: str
    field: str
    figures: DossierFigures


@dataclass
class Report:
    site_name: str
    period: Period
    previous: Period
    by: str | None
    generated_at: datetime
    level_names: list[str]
    satisfaction: Satisfaction
    satisfaction_previous: Satisfaction
    queue: Queue
    queue_previous: Queue
    groups: list[Group]
    hours: list[HourRow]
    days: list[DayRow]
    dossiers: DossierFigures
    dossiers_previous: DossierFigures
    dossiers_by_field: list[DossierGroup]
    dossiers_by_procedure: list[DossierGroup]
    has_dossier_tables: bool = True
    timezone: str = "Asia/Ho_Chi_Minh"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# -- the database ------------------------------------------------------------------------


def _conn(db) -> sqlite3.Connection:
    return db.conn if hasattr(db, "conn") else db


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


def _queues(keys, states, transferred, waits, services) -> dict[Any, Queue]:
    """Queue figures per key, from the columns of the period's tickets (C-speed
    counting: a year's report must not loop over tickets more than it has to)."""
    out: dict[Any, Queue] = {}
    for (k, state), n in Counter(zip(keys, states)).items():
        q = out.get(k)
        if q is None:
            q = out[k] = Queue()
        q.issued += n
        if state == "done":
            q.served += n
        elif state == "no_show":
            q.no_show += n
        elif state == "expired":
            q.expired += n
        else:
            q.open += n
    for k, n in Counter(compress(keys, transferred)).items():
        out[k].transferred += n
    for k, w in zip(keys, waits):
        if w is not None:
            out[k].waits.append(w)
    for k, s in zip(keys, services):
        if s is not None:
            out[k].services.append(s)
    for q in out.values():
        q.finish()
    return out


def _queue(conn, tz, period: Period, by: str | None, detail: bool = True):
    """The queue figures of a period: (total, per group of `by`, per local hour of
    issue, tickets issued per day, and by hour tickets served per hour they were
    finished in). Without `detail` (the previous period), the hours have only
    their number of tickets issued."""
    hour = _hour_sql(conn, tz, period, "issued_at")
    key = {"counter": "counter", "officer": "officer", "service": "service", "day": "day",
           "hour": hour}.get(by, "NULL")
    # By hour, the response rate sets a rating (pressed as the citizen leaves) against
    # the tickets finished in that hour, not those issued in it.
    finished_hour = _hour_sql(conn, tz, period, "finished_at") if by == "hour" else "NULL"
    rows = conn.execute(
        f"SELECT {key}, {hour}, day, state, transfers > 0, "
        "max(0.0, (julianday(first_called_at) - julianday(issued_at)) * 86400.0), "
        "CASE WHEN state = 'done' "
        "  THEN max(0.0, (julianday(finished_at) - julianday(started_at)) * 86400.0) END, "
        f"CASE WHEN state = 'done' THEN {finished_hour} END "
        "FROM tickets WHERE day BETWEEN ? AND ?",
        [period.start.isoformat(), period.end.isoformat()]).fetchall()
    if not rows:
        return Queue().finish(), {}, {}, Counter(), Counter()
    keys, hours, days, states, transferred, waits, services, finished = zip(*rows)
    cols = (states, transferred, waits, services)
    total = _queues([None] * len(rows), *cols)[None]
    groups = _queues(keys, *cols) if by else {}
    if detail:
        per_hour = _queues(hours, *cols)
    else:
        per_hour = {h: Queue(issued=n) for h, n in Counter(hours).items()}
    served_in_hour = Counter(h for h in finished if h is not None)
    return total, groups, per_hour, Counter(days), served_in_hour


def _satisfaction(conn, period: Period, by: str | None, nlevels: int):
    """(total, per group of `by`, per day) satisfaction of a period; served not yet set."""
    key = by if by in BY_CHOICES else "NULL"  # the ratings table has a column of each name
    total = Satisfaction([0] * nlevels)
    groups: dict[Any, Satisfaction] = {}
    days: dict[str, Satisfaction] = {}
    for k, day, status, level, n, wsum in conn.execute(
            f"SELECT {key}, day, status, level, count(*), total(weight) FROM ratings "
            "WHERE day BETWEEN ? AND ? GROUP BY 1, 2, 3, 4",
            [period.start.isoformat(), period.end.isoformat()]):
        total.add(status, level, n, wsum)
        if by:
            s = groups.get(k)
            if s is None:
                s = groups[k] = Satisfaction([0] * nlevels)
            s.add(status, level, n, wsum)
        if status == rt.COUNTED:
            s = days.get(day)
            if s is None:
                s = days[day] = Satisfaction([0] * nlevels)
            s.add(status, level, n, wsum)
    return total, groups, days


def _tables(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _in(values: Iterable[str]) -> str:
    # Status codes are fixed identifiers of motcua.dossiers (letters and '_'), never input.
    values = sorted(values)
    assert all(re.fullmatch(r"[a-z_]+", v) for v in values)
    return ", ".join(f"'{v}'" for v in values)


def _dossiers(conn, tz: ZoneInfo, period: Period, as_of: datetime):
    """Dossier figures of a period: (total, by field, by procedure). Each dossier is
    judged as it stood at the end of the period (or at `as_of`, if earlier): its
    steps and apology recorded before then."""
    s_utc, e_utc = period.utc_bounds(tz)
    total = DossierFigures()
    by_field: dict[str, DossierFigures] = {}
    by_proc: dict[tuple[str, str], DossierFigures] = {}
    names: dict[tuple[str, str], str] = {}
    buckets_of: dict[tuple[str, str], list[DossierFigures]] = {}

    def buckets(proc: str, fld: str, name: str) -> list[DossierFigures]:
        b = buckets_of.get((proc, fld))
        if b is None:
            names[(proc, fld)] = name
            b = buckets_of[(proc, fld)] = [total, by_field.setdefault(fld, DossierFigures()),
                                           by_proc.setdefault((proc, fld), DossierFigures())]
        return b

    for proc, name, fld, n in conn.execute(
            "SELECT procedure_code, max(procedure_name), coalesce(field, ''), count(*) FROM dossiers "
            "WHERE received_at >= ? AND received_at < ? GROUP BY 1, 3", [s_utc, e_utc]):
        for f in buckets(proc, fld, name):
            f.received += n

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
    now_local = as_of.astimezone(tz)
    fromiso = datetime.fromisoformat
    for (proc, name, fld, received_at, due_at, new_due, issued, status, run_step, run_at,
         outcome_at) in conn.execute(sql, {"s": s_utc, "e": e_utc}):
        if outcome_at is not None and not s_utc <= outcome_at < e_utc:
            continue  # its outcome was reached before the period
        received = fromiso(received_at)
        steps = [Step("received", received)]
        if run_step is not None:
            steps.append(Step(run_step, fromiso(run_at)))
        due = date.fromisoformat(due_at)
        apology = None if new_due is None else Apology("", date.fromisoformat(new_due), fromiso(issued))
        d = Dossier(code="", procedure_code=proc, procedure_name=name, field=fld, applicant_name="",
                    received_at=received, due_at=due, status=status, steps=tuple(steps),
                    apology=apology)
        t = timeliness(d, now_local, tz)
        if t.clock_stopped_on is None:
            state, end_day = "pending", now_local.date()
        elif outcome_at is not None:
            state, end_day = "settled", t.clock_stopped_on
        else:
            state, end_day = "waiting", None   # supplement requested: the citizen must act
        missed = end_day is not None and end_day > due
        for f in buckets(proc, fld, name):
            if state == "settled":
                f.settled += 1
                if t.code == "late":
                    f.late += 1
                elif t.code == "on_time":
                    f.on_time += 1
                else:
                    f.early += 1
            elif state == "pending":
                f.pending += 1
                if t.late:
                    f.pending_overdue += 1
            else:
                f.waiting_citizen += 1
            if missed:
                f.missed_original += 1
                if apology is not None:
                    f.with_apology += 1
                    if apology.issued_at.astimezone(tz).date() <= due - timedelta(days=1):
                        f.apology_day_before += 1

    fields = [DossierGroup(k, k or "(không ghi lĩnh vực)", k, f)
              for k, f in sorted(by_field.items(), key=lambda kv: _vn_key(kv[0]))]
    procs = [DossierGroup(p, f"{p} {names[(p, fld)]}".strip(), fld, f)
             for (p, fld), f in sorted(by_proc.items(),
                                       key=lambda kv: (_vn_key(kv[0][1]), _vn_key(names[kv[0]])))]
    return total, fields, procs


def _vn_key(text: str) -> tuple[str, str]:
    """Vietnamese alphabetical order, near enough: Đ among the Ds, marks after the letter."""
    return fold(text or ""), text or ""


# -- labels --------------------------------------------------------------------------------


def _group_label(site: Site, by: str, key: Any, officer_names: dict[str, str]) -> str:
    if key is None:
        return {"counter": "(chưa gọi tới quầy)", "officer": "(không rõ cán bộ)",
                "service": "(không rõ lĩnh vực)"}.get(by, "(không rõ)")
    if by == "counter":
        try:
            return site.counter(int(key)).name
        except (KeyError, ValueError):
            return f"Quầy {key}"
    if by == "officer":
        name = officer_names.get(key)
        return f"{key} ({name})" if name else str(key)
    if by == "service":
        try:
            return f"{key} – {site.service(key).name_vi}"
        except KeyError:
            return str(key)
    if by == "day":
        d = date.fromisoformat(key)
        return f"{d:%d/%m/%Y} ({WEEKDAYS_VI[d.weekday()]})"
    return f"{int(key):02d}:00–{int(key):02d}:59"


def _group_order(by: str, key: Any, site: Site) -> tuple:
    if key is None:
        return (1, 0, "", "")
    if by == "service":
        codes = [s.code for s in site.services]
        return (0, codes.index(key) if key in codes else len(codes), str(key), "")
    if by in ("counter", "hour"):
        return (0, int(key), "", "")
    return (0, 0, *_vn_key(str(key)))


# -- the report ------------------------------------------------------------------------------


def build_report(db, site: Site, period: Period, by: str | None = None,
                 now: datetime | None = None) -> Report:
    """The report of `period` and of the period before it. `db`: the centre's
    database (sqlite_utils.Database or sqlite3.Connection); `by`: one of
    BY_CHOICES or None for totals only."""
    if by is not None and by not in BY_CHOICES:
        raise ReportError(f"--by {by!r}: choose one of {', '.join(BY_CHOICES)}")
    conn = _conn(db)
    tz = site.tz
    now = now or datetime.now(timezone.utc)
    previous = period.previous()
    nlevels = len(site.rating_levels)
    tables = _tables(conn)

    if "tickets" in tables:
        queue, q_groups, q_hours, q_days, served_in_hour = _queue(conn, tz, period, by)
        queue_prev, _, prev_hours, _, _ = _queue(conn, tz, previous, None, detail=False)
    else:
        queue, q_groups, q_hours, q_days, served_in_hour = Queue().finish(), {}, {}, Counter(), Counter()
        queue_prev, prev_hours = Queue().finish(), {}
    if "ratings" in tables:
        sat, s_groups, s_days = _satisfaction(conn, period, by, nlevels)
        sat_prev, _, _ = _satisfaction(conn, previous, None, nlevels)
    else:
        sat, s_groups, s_days = Satisfaction([0] * nlevels), {}, {}
        sat_prev = Satisfaction([0] * nlevels)

    # The response rate: counted ratings over tickets served, in the same group.
    rated_at_all = bool(sat.counted or sat.duplicate or sat.unprompted)
    sat.served, sat.rate_known = queue.served, rated_at_all
    sat_prev.served = queue_prev.served
    sat_prev.rate_known = bool(sat_prev.counted or sat_prev.duplicate or sat_prev.unprompted)

    officer_names: dict[str, str] = {}
    if by == "officer" and "counters" in tables:
        officer_names = {o: n for o, n in conn.execute(
            "SELECT officer, officer_name FROM counters WHERE officer IS NOT NULL "
            "AND officer_name IS NOT NULL")}
    groups = []
    if by:
        keys = set(q_groups) | set(s_groups)
        for key in sorted(keys, key=lambda k: _group_order(by, k, site)):
            q = q_groups.get(key) or Queue().finish()
            s = s_groups.get(key) or Satisfaction([0] * nlevels)
            s.served = served_in_hour[key] if by == "hour" else q.served
            s.rate_known = rated_at_all
            groups.append(Group(key, _group_label(site, by, key, officer_names), s, q))

    hours = [HourRow(h, q_hours[h].issued if h in q_hours else 0,
                     prev_hours[h].issued if h in prev_hours else 0,
                     q_hours[h].wait_median if h in q_hours else None,
                     q_hours[h].wait_p90 if h in q_hours else None)
             for h in sorted(set(q_hours) | set(prev_hours))]
    days = []
    d = period.start
    while d <= period.end:
        s = s_days.get(d.isoformat())
        days.append(DayRow(d, q_days[d.isoformat()], s.counted if s else 0, s.index if s else None))
        d += timedelta(days=1)

    has_dossiers = {"dossiers", "dossier_steps", "dossier_apologies"} <= tables
    if has_dossiers:
        end_moment = datetime.combine(period.end + timedelta(days=1), time(), tz) - timedelta(microseconds=1)
        prev_end = datetime.combine(previous.end + timedelta(days=1), time(), tz) - timedelta(microseconds=1)
        dossiers, d_fields, d_procs = _dossiers(conn, tz, period, min(end_moment, now))
        dossiers_prev, _, _ = _dossiers(conn, tz, previous, min(prev_end, now))
    else:
        dossiers, d_fields, d_procs, dossiers_prev = DossierFigures(), [], [], DossierFigures()

    return Report(site_name=site.name, period=period, previous=previous, by=by, generated_at=now,
                  level_names=[lv.name_vi for lv in site.rating_levels] + [
                      f"Mức {i}" for i in range(nlevels + 1, len(sat.levels) + 1)],
                  satisfaction=sat, satisfaction_previous=sat_prev, queue=queue,
                  queue_previous=queue_prev, groups=groups, hours=hours, days=days,
                  dossiers=dossiers, dossiers_previous=dossiers_prev, dossiers_by_field=d_fields,
                  dossiers_by_procedure=d_procs, has_dossier_tables=has_dossiers,
                  timezone=site.timezone)

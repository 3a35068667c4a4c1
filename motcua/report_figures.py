"""Manager reports (`motcua report`): the figures. Satisfaction, queue and dossiers
over a period of local dates, beside the previous period of the same length.

The functional core: figures from plain rows, no database and no printing. A
loader reads one centre's records into the rows below (TicketRow, RatingCount,
ReceivedCount, DossierRow) through a ReportSource; report_from() turns them into a
Report. The centre's SQLite loader is motcua.report_sqlite (build_report); the
terminal table, XLSX, CSV and chart are motcua.report_output; motcua.reports gathers
the public names. Definitions of every figure are in docs/reports.md; in short:

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

Satisfaction per procedure (`ratings.dossiers`, issue 12)
    The dossiers an officer attached to the rated ticket, through the dossier
    mirror, give each counted rating its procedures: a rating counts once for each
    procedure among its ticket's dossiers (two dossiers of two procedures: once
    for each; two of the same procedure: once). Dossiers the mirror does not have
    make one group of their own; counted ratings of tickets without a dossier are
    counted apart.

Queue (table `tickets`)
    Issued = tickets of the period; served = ended `done`; no-show; transferred =
    moved to another service at least once; expired = never called before the day
    ended; lapsed = taken from afar and never checked in (issue 14); open =
    still waiting, called or being served, or taken from afar and not checked in
    yet. Waiting time = first call - issue, or - check-in for a number taken from
    afar or a booking (every ticket that was called); service time = finish -
    start (served tickets). Medians and 90th percentiles by `percentile()`.

Numbers from afar and bookings (tickets' `origin`, table `bookings`, issue 14)
    Per service: numbers taken from afar, checked in, lapsed, not yet checked
    in; bookings made, checked in, lapsed, cancelled, still booked. A number
    belongs to the day it was taken for, a booking to the day of its slot.

Dossiers (tables `dossiers`, `dossier_steps`, `dossier_apologies`)
    Each dossier is taken as it stood at the end of the period (steps and apology
    recorded before then) and judged by motcua.dossiers.timeliness(). Received in
    the period; settled in the period (an outcome reached: early, on time or
    late); pending at the end (within the time limit or overdue); waiting for the
    citizen (supplement requested). Missed the original date = settled after, or
    still pending past, the due date first set (before any apology); of those,
    with an apology letter, and with one issued at least one day before that
    original due date (the rule of Nghị định 118/2025).

Privacy: no applicant name or ID is in the rows (no loader may read them).
"""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from itertools import compress
from typing import Any, Iterable, NamedTuple, Protocol, Sequence
from zoneinfo import ZoneInfo

from . import ratings as rt
from .config import Site
from . import timefmt
from .timefmt import utc_iso
from .vntext import fold
from .dossiers.model import CLOCK_STOPPED, Apology, Dossier, Step
from .dossiers.rules import timeliness

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
    lapsed: int = 0                # taken from afar, never checked in (issue 14)
    open: int = 0                  # still waiting, called or being served (or taken from afar, not checked in)
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
class HoldFigures:
    """Numbers taken from afar and bookings of one service (or all) in a period."""
    remote: int = 0                # numbers taken from afar
    remote_checked_in: int = 0
    remote_lapsed: int = 0
    remote_open: int = 0           # not checked in yet (today's)
    booked: int = 0                # bookings made (cancelled ones included)
    booking_checked_in: int = 0
    booking_lapsed: int = 0
    booking_cancelled: int = 0
    booking_open: int = 0          # still booked (today's and the days ahead)

    def add(self, kind: str, state: str, n: int) -> None:
        if kind == "remote":
            self.remote += n
            if state == "lapsed":
                self.remote_lapsed += n
            elif state == "reserved":
                self.remote_open += n
            else:
                self.remote_checked_in += n
        else:
            self.booked += n
            if state == "checked_in":
                self.booking_checked_in += n
            elif state == "lapsed":
                self.booking_lapsed += n
            elif state == "cancelled":
                self.booking_cancelled += n
            else:
                self.booking_open += n


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
class ProcedureSatisfaction:
    code: str | None           # the procedure's code; '' for dossiers the mirror does not have
    label: str
    satisfaction: Satisfaction


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
    # Satisfaction per procedure (issue 12): counted ratings through their tickets' dossiers
    satisfaction_by_procedure: list[ProcedureSatisfaction] = field(default_factory=list)
    rated_without_dossier: Satisfaction | None = None        # counted ratings of tickets without one
    rated_with_dossier: int = 0                               # counted ratings with at least one
    rated_with_dossier_previous: int = 0
    has_procedure_ratings: bool = True                        # False: the database cannot say
    timezone: str = "Asia/Ho_Chi_Minh"
    # Numbers from afar and bookings (issue 14): the period's, the previous one's, per service
    holds: HoldFigures | None = None                          # None: the source cannot say
    holds_previous: HoldFigures | None = None
    holds_by_service: list[tuple[str, str, HoldFigures]] = field(default_factory=list)  # (code, label, figures)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# -- the rows a loader gives ---------------------------------------------------------------
#
# The figures are computed from plain rows, never from a database: a loader (the
# centre's SQLite, motcua.report_sqlite; another database for another report) reads
# its tables into these shapes and hands them over through a ReportSource. A row is
# any tuple in the field order below (a loader may return its driver's rows as they
# come, or build these named tuples). Moments are aware datetimes, days dates, hours
# local hours 0..23 in the site's time zone.


class TicketRow(NamedTuple):
    """One ticket issued in the period."""
    key: Any                   # its group of `by` (counter, officer, service, day ISO text, local hour of issue), None without `by`
    hour: int                  # local hour of issue
    day: str                   # day of issue, ISO text (YYYY-MM-DD)
    state: str                 # waiting, called, serving, done, no_show, expired
    transferred: bool          # moved to another service at least once
    wait: float | None         # seconds, first call - issue (None: never called)
    service: float | None      # seconds, finish - start, for served (`done`) tickets only
    finished_hour: int | None  # local hour it was finished, served tickets and `by` hour only


class RatingCount(NamedTuple):
    """The ratings of one group, day, status and level of a period, counted."""
    key: Any                   # the rating's own group of `by` (None without `by`)
    day: str                   # day of the press, ISO text
    status: str                # motcua.ratings COUNTED, DUPLICATE or UNPROMPTED
    level: int                 # 1 = most satisfied
    n: int                     # ratings
    weight_sum: float          # the sum of their stored weights


class ReceivedCount(NamedTuple):
    """The dossiers of one procedure received in the period, counted."""
    procedure_code: str
    procedure_name: str
    field: str                 # '' when the dossier names none
    n: int


class DossierRow(NamedTuple):
    """A dossier that may count in the period, as it stood at the end of it: every
    dossier with an outcome step in the period, not closed now, or changed since the
    end (any other one was closed before the period began)."""
    procedure_code: str
    procedure_name: str
    field: str                 # '' when the dossier names none
    received_at: datetime
    due_at: date               # the due date first set
    new_due_at: date | None    # the apology's new due date, if one was issued before the end
    apology_issued_at: datetime | None
    status: str                # its last step before the end
    run_step: str | None       # the first step after the last one that kept the clock running
    run_at: datetime | None    # and when it was taken
    outcome_at: datetime | None  # the first outcome in that run (None: no outcome yet)


class HoldCount(NamedTuple):
    """Numbers taken from afar (kind "remote": tickets by their state) or bookings
    (kind "booking": by the booking's state) of one service in a period, counted."""
    service: str
    kind: str                  # "remote" or "booking"
    state: str                 # a ticket's state, or a booking's (booked, checked_in, lapsed, cancelled)
    n: int


class ProcedureRatingCount(NamedTuple):
    """The counted ratings of one procedure and level of a period, counted. A rating
    counts once for each procedure among the dossiers its ticket carried when it was
    bound (ratings.dossiers), the procedure from the dossier mirror."""
    procedure_code: str | None  # None: ratings of tickets without a dossier; '': dossiers not in the mirror
    procedure_name: str         # '' when not known
    level: int                  # 1 = most satisfied
    n: int                      # ratings
    weight_sum: float           # the sum of their stored weights


class ReportSource(Protocol):
    """What a report reads: one centre's records over a period, as plain rows. Each
    method returns None when the database has no such records at all (an older
    database without the dossier tables, say), which the report shows apart from
    an empty period."""

    def tickets(self, period: Period, by: str | None) -> Sequence[TicketRow] | None: ...

    def rating_counts(self, period: Period, by: str | None) -> Iterable[RatingCount] | None: ...

    def dossiers_received(self, period: Period) -> Iterable[ReceivedCount] | None: ...

    def dossier_states(self, period: Period) -> Iterable[DossierRow] | None: ...

    def procedure_rating_counts(self, period: Period) -> Iterable[ProcedureRatingCount] | None: ...

    def officer_names(self) -> dict[str, str]: ...

    # Optional (issue 14): a source without it (the province's, so far) shows no such figures.
    # def holds(self, period: Period) -> Iterable[HoldCount] | None: ...


# -- figures from rows ------------------------------------------------------------------------


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
        elif state == "lapsed":
            q.lapsed += n
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


def queue_figures(rows: Sequence[TicketRow], by: str | None, detail: bool = True):
    """The queue figures of a period's tickets: (total, per group of `by`, per local
    hour of issue, tickets issued per day, and by hour tickets served per hour they
    were finished in). Without `detail` (the previous period), the hours have only
    their number of tickets issued."""
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


def satisfaction_figures(rows: Iterable[RatingCount], by: str | None, nlevels: int):
    """(total, per group of `by`, per day) satisfaction of a period's rating counts;
    served not yet set."""
    total = Satisfaction([0] * nlevels)
    groups: dict[Any, Satisfaction] = {}
    days: dict[str, Satisfaction] = {}
    for k, day, status, level, n, wsum in rows:
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


def procedure_satisfaction(rows: Iterable[ProcedureRatingCount], nlevels: int
                           ) -> tuple[list[ProcedureSatisfaction], Satisfaction]:
    """Satisfaction per procedure from counted ratings through their dossiers: (the
    procedures in Vietnamese order of their names, then the dossiers the mirror does
    not have; the counted ratings of tickets without a dossier). A rating with
    dossiers of two procedures is in both groups, so the groups add up to more than
    the ratings."""
    by_code: dict[str, Satisfaction] = {}
    names: dict[str, str] = {}
    without = Satisfaction([0] * nlevels)
    for code, name, level, n, wsum in rows:
        if code is None:
            without.add(rt.COUNTED, level, n, wsum)
            continue
        s = by_code.get(code)
        if s is None:
            s = by_code[code] = Satisfaction([0] * nlevels)
        s.add(rt.COUNTED, level, n, wsum)
        names[code] = max(names.get(code, ""), name or "")
    for s in [without, *by_code.values()]:
        s.rate_known = False   # no response rate: tickets are not served per procedure
    groups = [ProcedureSatisfaction(code, f"{code} {names[code]}".strip(), s)
              for code, s in sorted(((c, s) for c, s in by_code.items() if c),
                                    key=lambda cs: (_vn_key(names[cs[0]]), cs[0]))]
    if "" in by_code:
        groups.append(ProcedureSatisfaction("", "(hồ sơ chưa có trong dữ liệu hồ sơ)", by_code[""]))
    return groups, without


def dossier_figures(received: Iterable[ReceivedCount], states: Iterable[DossierRow],
                    tz: ZoneInfo, period: Period, as_of: datetime):
    """Dossier figures of a period: (total, by field, by procedure). Each dossier is
    judged by motcua.dossiers.timeliness() as it stood at the end of the period (the
    rows), at `as_of` if that is earlier."""
    start = datetime.combine(period.start, time(), tz).astimezone(timezone.utc)
    end = datetime.combine(period.end + timedelta(days=1), time(), tz).astimezone(timezone.utc)
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

    for proc, name, fld, n in received:
        for f in buckets(proc, fld, name):
            f.received += n

    now_local = as_of.astimezone(tz)
    for (proc, name, fld, received_at, due, new_due, issued, status, run_step, run_at,
         outcome_at) in states:
        if outcome_at is not None and not start <= outcome_at < end:
            continue  # its outcome was reached before the period
        steps = [Step("received", received_at)]
        if run_step is not None:
            steps.append(Step(run_step, run_at))
        apology = None if new_due is None else Apology("", new_due, issued)
        d = Dossier(code="", procedure_code=proc, procedure_name=name, field=fld, applicant_name="",
                    received_at=received_at, due_at=due, status=status, steps=tuple(steps),
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


def hold_figures(rows: Iterable[HoldCount], site: Site) -> tuple[HoldFigures, list[tuple[str, str, HoldFigures]]]:
    """Numbers from afar and bookings: the total and per service (site order)."""
    total, per = HoldFigures(), {}
    for service, kind, state, n in rows:
        total.add(kind, state, n)
        per.setdefault(service, HoldFigures()).add(kind, state, n)
    codes = [s.code for s in site.services]
    out = []
    for code in sorted(per, key=lambda c: (codes.index(c) if c in codes else len(codes), c)):
        out.append((code, _group_label(site, "service", code, {}), per[code]))
    return total, out


# -- the report ------------------------------------------------------------------------------


def report_from(source: ReportSource, site: Site, period: Period, by: str | None = None,
                now: datetime | None = None) -> Report:
    """The report of `period` and of the period before it, from one centre's rows
    (`source`: its loader); `by`: one of BY_CHOICES or None for totals only."""
    if by is not None and by not in BY_CHOICES:
        raise ReportError(f"--by {by!r}: choose one of {', '.join(BY_CHOICES)}")
    tz = site.tz
    now = now or datetime.now(timezone.utc)
    previous = period.previous()
    nlevels = len(site.rating_levels)

    tickets = source.tickets(period, by)
    if tickets is not None:
        queue, q_groups, q_hours, q_days, served_in_hour = queue_figures(tickets, by)
        del tickets
        queue_prev, _, prev_hours, _, _ = queue_figures(source.tickets(previous, None), None,
                                                        detail=False)
    else:
        queue, q_groups, q_hours, q_days, served_in_hour = Queue().finish(), {}, {}, Counter(), Counter()
        queue_prev, prev_hours = Queue().finish(), {}
    ratings = source.rating_counts(period, by)
    if ratings is not None:
        sat, s_groups, s_days = satisfaction_figures(ratings, by, nlevels)
        sat_prev, _, _ = satisfaction_figures(source.rating_counts(previous, None), None, nlevels)
    else:
        sat, s_groups, s_days = Satisfaction([0] * nlevels), {}, {}
        sat_prev = Satisfaction([0] * nlevels)

    # The response rate: counted ratings over tickets served, in the same group.
    rated_at_all = bool(sat.counted or sat.duplicate or sat.unprompted)
    sat.served, sat.rate_known = queue.served, rated_at_all
    sat_prev.served = queue_prev.served
    sat_prev.rate_known = bool(sat_prev.counted or sat_prev.duplicate or sat_prev.unprompted)

    officer_names = source.officer_names() if by == "officer" else {}
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

    received = source.dossiers_received(period)
    has_dossiers = received is not None
    if has_dossiers:
        end_moment = datetime.combine(period.end + timedelta(days=1), time(), tz) - timedelta(microseconds=1)
        prev_end = datetime.combine(previous.end + timedelta(days=1), time(), tz) - timedelta(microseconds=1)
        dossiers, d_fields, d_procs = dossier_figures(received, source.dossier_states(period), tz,
                                                      period, min(end_moment, now))
        dossiers_prev, _, _ = dossier_figures(source.dossiers_received(previous),
                                              source.dossier_states(previous), tz, previous,
                                              min(prev_end, now))
    else:
        dossiers, d_fields, d_procs, dossiers_prev = DossierFigures(), [], [], DossierFigures()

    # Satisfaction per procedure (issue 12), through the rated tickets' dossiers.
    proc_rows = source.procedure_rating_counts(period)
    has_proc = proc_rows is not None
    by_proc, without = procedure_satisfaction(proc_rows or (), nlevels)
    _, without_prev = procedure_satisfaction(
        (source.procedure_rating_counts(previous) or ()) if has_proc else (), nlevels)

    # Numbers from afar and bookings (issue 14), when the source can say
    holds_of = getattr(source, "holds", None)
    hold_rows = holds_of(period) if holds_of is not None else None
    holds = holds_prev = None
    holds_by_service: list = []
    if hold_rows is not None:
        holds, holds_by_service = hold_figures(hold_rows, site)
        holds_prev, _ = hold_figures(holds_of(previous) or (), site)

    return Report(site_name=site.name, period=period, previous=previous, by=by, generated_at=now,
                  level_names=[lv.name_vi for lv in site.rating_levels] + [
                      f"Mức {i}" for i in range(nlevels + 1, len(sat.levels) + 1)],
                  satisfaction=sat, satisfaction_previous=sat_prev, queue=queue,
                  queue_previous=queue_prev, groups=groups, hours=hours, days=days,
                  dossiers=dossiers, dossiers_previous=dossiers_prev, dossiers_by_field=d_fields,
                  dossiers_by_procedure=d_procs, has_dossier_tables=has_dossiers,
                  satisfaction_by_procedure=by_proc, rated_without_dossier=without,
                  rated_with_dossier=sat.counted - without.counted if has_proc else 0,
                  rated_with_dossier_previous=sat_prev.counted - without_prev.counted if has_proc else 0,
                  has_procedure_ratings=has_proc, timezone=site.timezone,
                  holds=holds, holds_previous=holds_prev, holds_by_service=holds_by_service)


# -- one row per rated dossier (`motcua ratings export`, issue 12) -------------------------------
#
# For the provincial one-stop system, whose satisfaction scoring counts per dossier: one
# row for each code of each counted rating's `dossiers`. The loader gives RatedDossierRow
# (times as the store keeps them, UTC text); export_rows() makes the file's rows.


class RatedDossierRow(NamedTuple):
    """One dossier of one counted rating of the period (a rating of a ticket with two
    dossiers gives two rows)."""
    rating_id: str
    pressed_at: str            # the store's UTC text
    level: int                 # 1 = most satisfied
    level_code: str
    weight: float
    officer: str | None
    counter: int
    service: str | None
    ticket: str | None         # the number as printed
    issued_at: str | None      # the ticket's times, the store's UTC text
    called_at: str | None      # its first call
    started_at: str | None
    finished_at: str | None
    code: str                  # the dossier code
    procedure_code: str | None  # from the dossier mirror (or as recorded when attached); None: unknown
    procedure_name: str | None


EXPORT_COLUMNS = (  # (column, Vietnamese meaning): docs/reports.md says the same
    ("dossier_code", "Mã hồ sơ"),
    ("procedure_code", "Mã thủ tục"),
    ("procedure_name", "Tên thủ tục"),
    ("level", "Mức đánh giá (1 = hài lòng nhất)"),
    ("level_name", "Tên mức đánh giá"),
    ("weight", "Điểm của mức (0–100)"),
    ("officer", "Mã cán bộ"),
    ("officer_name", "Tên cán bộ"),
    ("counter", "Quầy"),
    ("counter_name", "Tên quầy"),
    ("service", "Lĩnh vực (dịch vụ)"),
    ("ticket", "Số thứ tự"),
    ("ticket_issued_at", "Giờ lấy số"),
    ("ticket_called_at", "Giờ gọi (lần đầu)"),
    ("ticket_started_at", "Giờ bắt đầu phục vụ"),
    ("ticket_finished_at", "Giờ xong"),
    ("rated_at", "Giờ bấm đánh giá"),
    ("rating_id", "Mã lượt đánh giá"),
)


def local_iso(stored: str | None, tz: ZoneInfo) -> str:
    """A stored UTC time as local ISO 8601 to the second (2026-11-23T10:51:52+07:00); '' for none."""
    if not stored:
        return ""
    return datetime.fromisoformat(stored).astimezone(tz).isoformat(timespec="seconds")


def export_rows(rows: Iterable[RatedDossierRow], site: Site, officer_names: dict[str, str]) -> list[dict]:
    """The file's rows (EXPORT_COLUMNS), times local, names from the site file and the
    officers' register. No citizen data: the rows have none to give."""
    tz = site.tz
    levels = {lv.code: lv.name_vi for lv in site.rating_levels}
    counters = {c.number: c.name for c in site.counters}
    out = []
    for r in rows:
        level_name = levels.get(r.level_code) or (
            site.rating_levels[r.level - 1].name_vi if r.level <= len(site.rating_levels) else f"Mức {r.level}")
        out.append({
            "dossier_code": r.code, "procedure_code": r.procedure_code or "",
            "procedure_name": r.procedure_name or "", "level": r.level, "level_name": level_name,
            "weight": r.weight, "officer": r.officer or "", "officer_name": officer_names.get(r.officer or "", ""),
            "counter": r.counter, "counter_name": counters.get(r.counter, f"Quầy {r.counter}"),
            "service": r.service or "", "ticket": r.ticket or "",
            "ticket_issued_at": local_iso(r.issued_at, tz), "ticket_called_at": local_iso(r.called_at, tz),
            "ticket_started_at": local_iso(r.started_at, tz),
            "ticket_finished_at": local_iso(r.finished_at, tz),
            "rated_at": local_iso(r.pressed_at, tz), "rating_id": r.rating_id,
        })
    return out

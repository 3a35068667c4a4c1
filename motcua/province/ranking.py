"""The province report's own figures (`motcua province report`, issue 13): pure,
no database and no printing. Every figure of a centre is the centre report's
(motcua.report_figures.report_from over the hub's copy of its records,
motcua.province.report_pg); this module only

- describes a centre as its latest `site` record says (CentreSite: what
  report_from reads of a site), and the province as one pooled site;
- ranks the centres (or officers, or services) by satisfaction index, each
  figure beside the previous period's and its change.

The province total is never an average of the centres' figures: it is
report_from over the pooled rows of every centre (docs/province.md, "The
province report").
"""
from __future__ import annotations

from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from ..config import CentreDescription, Counter, RatingLevel, Service
from ..report_figures import DossierFigures, Group, Period, Queue, Report, Satisfaction
from ..vntext import fold

BY_CHOICES = ("centre", "officer", "service")
# Fewer counted ratings than this and a centre is listed, not ranked: below 30 one
# press moves the index by more than 3 points of 100, so the order would be luck.
DEFAULT_MIN_RATINGS = 30

# The column kinds of motcua.report_output (the documents room; named again here
# because the core imports no shell; tests/unit/test_province_ranking.py keeps them equal).
COUNT, PERCENT, INDEX, MINUTES = "count", "percent", "index", "minutes"

DEFAULT_LEVELS = (RatingLevel("rat_hai_long", "Rất hài lòng", "Very satisfied", 100.0),
                  RatingLevel("hai_long", "Hài lòng", "Satisfied", 66.7),
                  RatingLevel("binh_thuong", "Bình thường", "Neutral", 33.3),
                  RatingLevel("khong_hai_long", "Không hài lòng", "Not satisfied", 0.0))


# -- a centre as the province knows it ----------------------------------------------------


@dataclass(frozen=True)
class CentreSite(CentreDescription):
    """What report_from reads of a site (name, time zone, services, counters,
    rating levels), from the centre's latest `site` record; built of the site
    file's own dataclasses."""
    id: str
    name: str
    timezone: str
    services: tuple[Service, ...] = ()
    counters: tuple[Counter, ...] = ()
    rating_levels: tuple[RatingLevel, ...] = DEFAULT_LEVELS


def _services(body: dict) -> tuple[Service, ...]:
    return tuple(Service(code=s["code"], name_vi=s.get("name_vi") or s["code"], name_en=s.get("name_en") or "",
                         start=int(s.get("start") or 1), end=int(s.get("end") or 999),
                         prefix=s.get("prefix") or "")
                 for s in body.get("services") or () if s.get("code"))


def _levels(body: dict) -> tuple[RatingLevel, ...]:
    levels = tuple(RatingLevel(code=lv.get("code") or f"level_{i}", name_vi=lv.get("name_vi") or f"Mức {i}",
                               name_en=lv.get("name_en") or "", weight=float(lv.get("weight") or 0.0))
                   for i, lv in enumerate(body.get("rating_levels") or (), 1))
    return levels or DEFAULT_LEVELS


def site_from_record(centre_id: str, name: str, body: dict | None, default_timezone: str) -> CentreSite:
    """The centre as its latest `site` record describes it (outbox.site_body).
    `name`: the provincial file's name for it (the province names its centres);
    without a record yet (a centre that never shipped), the province's time
    zone and the sample's rating levels."""
    body = body or {}
    counters = tuple(Counter(number=int(c["number"]), name=c.get("name") or f"Quầy {c['number']}",
                             services=tuple(c.get("services") or ()))
                     for c in body.get("counters") or () if c.get("number") is not None)
    tz = body.get("timezone") or default_timezone
    try:
        ZoneInfo(tz)
    except (KeyError, ValueError):   # a zone this machine does not know: the province's
        tz = default_timezone
    return CentreSite(id=centre_id, name=name or body.get("name") or centre_id, timezone=tz,
                      services=_services(body), counters=counters, rating_levels=_levels(body))


def province_site(province_id: str, name: str, timezone: str, bodies: Iterable[dict | None]) -> CentreSite:
    """The province as one site for the pooled report: the centres' services pooled
    by code (each code named as most centres name it), the rating scale most
    centres use. No counters: counters are a centre's own."""
    names: dict[str, Tally] = {}
    first: dict[str, Service] = {}
    scales: Tally = Tally()
    for body in bodies:
        if not body:
            continue
        for s in _services(body):
            names.setdefault(s.code, Tally())[s.name_vi] += 1
            first.setdefault(s.code, s)
        scales[_levels(body)] += 1
    services = tuple(Service(code=code, name_vi=min(n.items(), key=lambda kv: (-kv[1], kv[0]))[0],
                             name_en=first[code].name_en, start=first[code].start, end=first[code].end)
                     for code, n in names.items())
    levels = min(scales.items(), key=lambda kv: (-kv[1], -len(kv[0])))[0] if scales else DEFAULT_LEVELS
    return CentreSite(id=province_id, name=name, timezone=timezone, services=services, rating_levels=levels)


# -- the ranked figures -------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One row's figures for one period: the centre report's satisfaction, queue
    and (for a centre or the province) dossier figures."""
    satisfaction: Satisfaction
    queue: Queue
    dossiers: DossierFigures | None = None


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60


def no_show_rate(q: Queue) -> float | None:
    """No-shows ÷ tickets called (0..100): of the citizens called, the share who did
    not come. Tickets never called (expired) are not in it."""
    return 100.0 * q.no_show / q.waited if q.waited else None


@dataclass(frozen=True)
class Measure:
    section: str          # satisfaction, queue, dossiers
    code: str             # the stable code (CSV)
    label: str            # Vietnamese, as in the centre report
    short: str            # the terminal's column heading
    kind: str             # COUNT, PERCENT, INDEX, MINUTES (durations in minutes, percents 0..100)
    get: Callable[[Figures], Any]


def _d(fn: Callable[[DossierFigures], Any]) -> Callable[[Figures], Any]:
    return lambda f: None if f.dossiers is None else fn(f.dossiers)


MEASURES: tuple[Measure, ...] = (
    Measure("satisfaction", "index", "Chỉ số hài lòng (0–100)", "Chỉ số", INDEX,
            lambda f: f.satisfaction.index),
    Measure("satisfaction", "share_satisfied", "Tỷ lệ hài lòng (2 mức cao nhất)", "Hài lòng", PERCENT,
            lambda f: f.satisfaction.share_satisfied),
    Measure("satisfaction", "counted", "Số đánh giá được tính", "Số ĐG", COUNT,
            lambda f: f.satisfaction.counted),
    Measure("satisfaction", "response_rate", "Tỷ lệ đánh giá / lượt đã phục vụ", "Tỷ lệ ĐG", PERCENT,
            lambda f: f.satisfaction.response_rate),
    Measure("queue", "issued", "Số phiếu đã cấp", "Số phiếu", COUNT, lambda f: f.queue.issued),
    Measure("queue", "wait_median", "Thời gian chờ – trung vị (phút)", "Chờ TV", MINUTES,
            lambda f: _minutes(f.queue.wait_median)),
    Measure("queue", "wait_p90", "Thời gian chờ – 90% số lượt không quá (phút)", "Chờ P90", MINUTES,
            lambda f: _minutes(f.queue.wait_p90)),
    Measure("queue", "service_median", "Thời gian phục vụ – trung vị (phút)", "PV TV", MINUTES,
            lambda f: _minutes(f.queue.service_median)),
    Measure("queue", "service_p90", "Thời gian phục vụ – 90% số lượt không quá (phút)", "PV P90", MINUTES,
            lambda f: _minutes(f.queue.service_p90)),
    Measure("queue", "no_show_rate", "Tỷ lệ vắng mặt khi gọi", "Vắng", PERCENT, lambda f: no_show_rate(f.queue)),
    Measure("dossiers", "settled", "Hồ sơ đã giải quyết", "Đã GQ", COUNT, _d(lambda d: d.settled)),
    Measure("dossiers", "settled_on_time", "Giải quyết đúng hạn (trước hạn và đúng hạn)", "Đúng hạn", COUNT,
            _d(lambda d: d.settled_on_time)),
    Measure("dossiers", "share_on_time", "Tỷ lệ giải quyết đúng hạn", "Đúng hạn %", PERCENT,
            _d(lambda d: d.share_on_time)),
    Measure("dossiers", "missed_original", "Trễ so với ngày hẹn ban đầu", "Trễ hẹn", COUNT,
            _d(lambda d: d.missed_original)),
    Measure("dossiers", "with_apology", "Trễ hẹn có văn bản xin lỗi", "Có XL", COUNT,
            _d(lambda d: d.with_apology)),
    Measure("dossiers", "apology_day_before", "Trễ hẹn, xin lỗi trước hạn ít nhất 1 ngày", "XL trước ≥1 ngày",
            COUNT, _d(lambda d: d.apology_day_before)),
)
MEASURE = {m.code: m for m in MEASURES}
GROUP_MEASURES = tuple(m for m in MEASURES if m.section != "dossiers")   # officers, services: no dossiers


@dataclass
class Row:
    """One ranked line: a centre, an officer of a centre, or a service."""
    key: str                     # centre id; "centre/officer"; service code
    label: str
    current: Figures
    previous: Figures | None     # None: nothing of it in the previous period
    centre: str = ""             # the centre's name (officers)
    rank: int | None = None      # None: too few counted ratings to rank

    def value(self, measure: Measure) -> tuple[Any, Any, Any]:
        """(this period, previous period, change)."""
        a = measure.get(self.current)
        b = None if self.previous is None else measure.get(self.previous)
        return a, b, (None if a is None or b is None else a - b)


def rank(rows: Iterable[Row], min_ratings: int = DEFAULT_MIN_RATINGS) -> list[Row]:
    """Ranked by satisfaction index, then share satisfied, then counted ratings
    (more ratings first); rows equal on all three share a rank (1, 2, 2, 4).
    Rows with fewer than `min_ratings` counted ratings come after, unranked, in
    Vietnamese alphabetical order."""
    ranked, rest = [], []
    for r in rows:
        s = r.current.satisfaction
        if s.index is not None and s.counted >= max(1, min_ratings):
            ranked.append(r)
        else:
            r.rank = None
            rest.append(r)

    def key(r: Row):
        s = r.current.satisfaction
        return (-s.index, -(s.share_satisfied or 0.0), -s.counted)
    ranked.sort(key=lambda r: (key(r), fold(r.label), r.label, r.key))
    previous = None
    for i, r in enumerate(ranked, 1):
        r.rank = previous.rank if previous is not None and key(previous) == key(r) else i
        previous = r
    rest.sort(key=lambda r: (fold(r.label), r.label, r.key))
    return ranked + rest


def report_figures(report: Report) -> tuple[Figures, Figures]:
    """A report's totals: (this period, previous period)."""
    return (Figures(report.satisfaction, report.queue, report.dossiers),
            Figures(report.satisfaction_previous, report.queue_previous, report.dossiers_previous))


def centre_row(centre_id: str, name: str, report: Report) -> Row:
    current, previous = report_figures(report)
    return Row(centre_id, name, current, previous)


def group_rows(report: Report, previous: Report | None, centre_id: str = "", centre_name: str = "") -> list[Row]:
    """The groups of a report made `by` officer or service, each beside its group of
    the previous period's report (made the same way). The group without a key (no
    officer: tickets never called, presses without a prompt) is left out: it is
    nobody's to rank."""
    before: dict[Any, Group] = {g.key: g for g in previous.groups} if previous is not None else {}
    rows = []
    for g in report.groups:
        if g.key is None:
            continue
        p = before.get(g.key)
        rows.append(Row(f"{centre_id}/{g.key}" if centre_id else str(g.key), g.label,
                        Figures(g.satisfaction, g.queue), Figures(p.satisfaction, p.queue) if p else None,
                        centre=centre_name))
    return rows


@dataclass
class ProvinceReport:
    name: str                    # the province's
    period: Period
    previous: Period
    by: str                      # centre, officer or service
    generated_at: datetime
    timezone: str
    min_ratings: int
    centres: list[Row]           # ranked, then those with too few ratings
    total: Report                # the pooled report of every centre (by service: with its groups)
    groups: list[Row] = field(default_factory=list)   # officers or services, ranked
    reports: dict[str, Report] = field(default_factory=dict)   # each centre's own report

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def total_row(self) -> Row:
        current, previous = report_figures(self.total)
        return Row("", "Toàn tỉnh", current, previous)

    @property
    def ranked(self) -> list[Row]:
        return [r for r in self.centres if r.rank is not None]


def province_report(name: str, timezone: str, period: Period, by: str, generated_at: datetime,
                    centres: list[tuple[str, str, Report]], total: Report,
                    groups: Iterable[Row] = (), min_ratings: int = DEFAULT_MIN_RATINGS) -> ProvinceReport:
    """The ranked province report from each centre's report (id, name, report), the
    pooled report and, for --by officer or service, their rows."""
    if by not in BY_CHOICES:
        raise ValueError(f"--by {by!r}: choose one of {', '.join(BY_CHOICES)}")
    return ProvinceReport(
        name=name, period=period, previous=period.previous(), by=by, generated_at=generated_at,
        timezone=timezone, min_ratings=min_ratings,
        centres=rank((centre_row(cid, cname, rep) for cid, cname, rep in centres), min_ratings),
        total=total, groups=rank(groups, min_ratings), reports={cid: rep for cid, _, rep in centres})

"""Manager reports (motcua/reports.py, motcua/report_output.py, `motcua report`).

One generated stretch of realistic data, 1 October to 20 November 2026, made
the way the centre makes it: tickets through motcua.engine and Store.commit
(one batch a day, as the centre's group commit), ratings through
motcua.ratings (open_prompt, parse_rating, bind, rating_row, as the centre's
service does), dossiers through DossierStore.import_records (with applicant
names and ID numbers, as exports carry them), from September. While it drives
them, the generator keeps its own record of what happened; every expected
figure is computed from that record in plain Python, never through the report's
SQL, and compared with the report.
"""
from __future__ import annotations

import csv
import heapq
import io
import random
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from support.broker import ROOT, write_site
from support.centre_activity import add_working_days, working_days
from motcua import ratings as rt
from motcua import report_output as out
from motcua import reports
from motcua.config import load_site
from motcua.dossiers import DossierStore
from motcua.engine import Changes, Engine, QueueError
from motcua.store import SCHEMA_VERSION, Store

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST_DAY, LAST_DAY = date(2026, 10, 1), date(2026, 11, 20)
DOSSIERS_FROM = date(2026, 9, 1)
NO_PAD_DAY = date(2026, 11, 10)          # the pads were off: tickets, but not one press
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=TZ)   # when the report is made (in-process tests)
PERIOD = reports.Period(date(2026, 11, 1), date(2026, 11, 20))
OFFICERS = [f"cb{n:02d}" for n in range(1, 17)]
OFFICER_NAMES = {o: f"Cán bộ {o[2:]}" for o in OFFICERS}
SERVICE_WEIGHTS = {"HT": 24, "CT": 30, "DD": 10, "XD": 5, "KD": 6, "CU": 9, "LLTP": 5, "XH": 4, "TKQ": 7}
PROCEDURES = [  # code, name, field, working days
    ("1.001193", "Đăng ký khai sinh", "Hộ tịch", 1),
    ("1.000894", "Đăng ký kết hôn", "Hộ tịch", 3),
    ("1.004873", "Xác nhận tình trạng hôn nhân", "Hộ tịch", 3),
    ("2.000815", "Chứng thực bản sao từ bản chính", "Chứng thực", 1),
    ("2.001035", "Chứng thực hợp đồng, giao dịch", "Chứng thực", 2),
    ("1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Xây dựng", 15),
    ("2.000889", "Đăng ký biến động quyền sử dụng đất", "Đất đai", 10),
    ("1.004194", "Đăng ký tạm trú", "Cư trú", 3),
    ("2.000488", "Cấp Phiếu lý lịch tư pháp", "Lý lịch tư pháp", 10),
]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô", "Dương"]
MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh", "Quốc", "Thùy"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Giang", "Hằng", "Hùng", "Khoa", "Lan", "Nhung", "Phượng",
         "Quân", "Sơn", "Thảo", "Tuấn", "Uyên", "Vinh", "Yến", "Đức", "Ánh"]
# The rules of docs/reports.md, written out here (and checked against the code below).
STOPPED = {"result_ready", "returned", "refused", "stopped", "withdrawn", "supplement_requested"}
OUTCOME = STOPPED - {"supplement_requested"}


def local(dt: datetime) -> datetime:
    return dt.astimezone(TZ)


def at(day: date, hh: int, mm: int = 0, ss: float = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), TZ) + timedelta(seconds=round(ss))


# -- the generator's own record -----------------------------------------------------------


@dataclass
class T:
    """A ticket as the generator saw it happen."""
    id: int
    issued: datetime
    service: str
    state: str = "waiting"
    counter: int | None = None
    officer: str | None = None
    first_called: datetime | None = None
    started: datetime | None = None
    service_secs: float | None = None
    finished: datetime | None = None
    transferred: bool = False


@dataclass
class R:
    """A rating press and the status the generator meant it to get."""
    status: str
    level: int
    weight: float
    pressed: datetime
    counter: int
    officer: str | None
    service: str | None


@dataclass
class D:
    code: str
    procedure: str
    name: str
    field: str
    applicant: str
    received: datetime
    due: date
    steps: list[tuple[str, datetime]]
    apology: tuple[date, datetime] | None = None   # (new due date, issued at)


@dataclass
class World:
    site: object
    path: Path
    tickets: dict[int, T] = field(default_factory=dict)
    ratings: list[R] = field(default_factory=list)
    dossiers: list[D] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)


def generate(site, path: Path, seed: int = 2026) -> World:
    rng = random.Random(seed)
    world = World(site, path)
    store = Store(path, synchronous="OFF")
    engine = Engine(site)
    levels = site.rating_levels
    serves = {c.number: set(c.services) for c in site.counters}
    services, weights = zip(*SERVICE_WEIGHTS.items())
    pad_seq: dict[int, int] = {}
    counted_tickets: set[int] = set()

    for day in working_days(FIRST_DAY, LAST_DAY):
        batch_events: list[dict] = []
        batch = Changes()
        rating_rows: list[dict] = []
        prompt_rows: list[dict] = []

        def run(result):
            events, changes = result
            batch_events.extend(events)
            batch.merge(changes)
            return events

        # Tickets still waiting from yesterday are expired by the day's first command.
        for t in world.tickets.values():
            if t.state == "waiting":
                t.state = "expired"
        officer_at = dict(zip(sorted(serves), rng.sample(OFFICERS, len(site.counters))))
        n = rng.randint(170, 230)
        heap, seq = [], 0

        def push(when, *item):
            nonlocal seq
            seq += 1
            heapq.heappush(heap, (when, seq, *item))

        for _ in range(n):
            r = rng.random()
            if r < 0.08:
                minutes = rng.uniform(7 * 60, 7 * 60 + 30)          # before the doors open
            elif r < 0.64:
                minutes = rng.triangular(7 * 60 + 30, 11 * 60, 8 * 60 + 15)
            elif r < 0.97:
                minutes = rng.triangular(13 * 60 + 15, 16 * 60 + 55, 14 * 60 + 15)
            else:
                minutes = rng.uniform(17 * 60, 17 * 60 + 10)       # too late: no more calls today
            push(at(day, 0, 0, minutes * 60), "arrive", rng.choices(services, weights)[0])
        for c in sorted(serves):  # officers sign in from 7:25; counters open at 7:30
            push(at(day, 7, 25, rng.randint(0, 240)), "sign_in", c)
        idle = set()
        opening, last_call = at(day, 7, 30), at(day, 17, 0)
        lunch = (at(day, 11, 30), at(day, 13, 30))
        current: dict[int, int] = {}

        def wake(now, service):
            for c in sorted(idle):
                if service in serves[c]:
                    idle.discard(c)
                    push(now + timedelta(seconds=rng.randint(5, 60)), "free", c)  # the officer notices

        while heap:
            now, _, kind, *data = heapq.heappop(heap)
            if kind == "sign_in":
                c = data[0]
                run(engine.sign_in(c, officer_at[c], now, OFFICER_NAMES[officer_at[c]]))
                push(max(now, opening) + timedelta(seconds=rng.randint(0, 90)), "free", c)
            elif kind == "arrive":
                prio = "cao_tuoi" if rng.random() < 0.07 else None
                ev = run(engine.issue(data[0], now, priority=prio, device="kiosk-1"))[-1]
                tid = ev["ticket"]["id"]
                world.tickets[tid] = T(tid, now, data[0])
                wake(now, data[0])
            elif kind == "free":
                c = data[0]
                if now > last_call:
                    idle.add(c)
                    continue
                if lunch[0] <= now < lunch[1]:
                    push(lunch[1] + timedelta(seconds=rng.randint(0, 300)), "free", c)
                    continue
                try:
                    ev = [e for e in run(engine.call_next(c, now)) if e["type"] == "ticket_called"][0]
                except QueueError as exc:
                    assert exc.code == "queue_empty"
                    idle.add(c)
                    continue
                t = world.tickets[ev["ticket_id"]]
                t.state, t.counter, t.officer = "called", c, officer_at[c]
                t.first_called = t.first_called or now
                current[c] = t.id
                if rng.random() < 0.06:
                    push(now + timedelta(seconds=rng.randint(60, 150)), "no_show", c)
                else:
                    push(now + timedelta(seconds=rng.randint(15, 70)), "start", c)
            elif kind == "no_show":
                c = data[0]
                run(engine.no_show(c, now))
                world.tickets[current.pop(c)].state = "no_show"
                push(now + timedelta(seconds=5), "free", c)
            elif kind == "start":
                c = data[0]
                run(engine.start(c, now))
                t = world.tickets[current[c]]
                t.state, t.started = "serving", now
                if rng.random() < 0.04:
                    push(now + timedelta(seconds=rng.randint(40, 200)), "transfer", c)
                else:
                    push(now + timedelta(seconds=round(rng.lognormvariate(6.1, 0.5))), "done", c)
            elif kind == "transfer":
                c = data[0]
                t = world.tickets[current.pop(c)]
                to = rng.choice([s for s in services if s != t.service])
                run(engine.transfer(c, to, now))
                t.state, t.service, t.transferred = "waiting", to, True
                t.counter = t.officer = t.started = None
                push(now + timedelta(seconds=5), "free", c)
                wake(now, to)
            elif kind == "done":
                c = data[0]
                events = run(engine.done(c, now))
                t = world.tickets[current.pop(c)]
                t.state, t.service_secs, t.finished = "done", (now - t.started).total_seconds(), now
                push(now + timedelta(seconds=rng.randint(5, 25)), "free", c)
                if day != NO_PAD_DAY:
                    done_ev = [e for e in events if e["type"] == "ticket_done"][0]
                    ticket = batch.tickets[t.id]
                    prompt = rt.open_prompt(done_ev, ticket, now, site.rating_prompt_timeout_s)
                    prompt_rows.append(prompt.as_row())
                    presses = []
                    r = rng.random()
                    if r < 0.74:
                        first = now + timedelta(seconds=rng.randint(3, 40))
                        presses.append((first, prompt.id, rt.COUNTED))
                        if rng.random() < 0.05:   # pressed again: a pad reset between presses
                            presses.append((first + timedelta(seconds=rng.randint(1, 8)), prompt.id,
                                            rt.DUPLICATE))
                    elif r < 0.78:                # pressed after the prompt ended
                        presses.append((prompt.expires_at + timedelta(seconds=rng.randint(10, 50)),
                                        prompt.id, rt.UNPROMPTED))
                    elif r < 0.80:                # pressed with no prompt on the pad
                        presses.append((now + timedelta(seconds=rng.randint(3, 30)), None, rt.UNPROMPTED))
                    for pressed, pid, meant in presses:
                        pad_seq[c] = pad_seq.get(c, 0) + 1
                        level = rng.choices(range(1, len(levels) + 1), (55, 28, 10, 7))[0]
                        incoming = rt.parse_rating(
                            {"rating": rt.rating_id(f"PAD-{c}", 1, pad_seq[c]), "pad": f"PAD-{c}",
                             "boot": 1, "seq": pad_seq[c], "level": level, "prompt": pid,
                             "pressed_at": pressed.isoformat()}, len(levels))
                        status = rt.bind(incoming, c, prompt if pid else None, t.id in counted_tickets)
                        assert status == meant
                        if status == rt.COUNTED:
                            counted_tickets.add(t.id)
                        lp = local(pressed)
                        rating_rows.append(rt.rating_row(incoming, c, status, prompt if pid else None,
                                                         levels, pressed + timedelta(milliseconds=50),
                                                         lp.date().isoformat(), lp.hour))
                        bound = status != rt.UNPROMPTED
                        world.ratings.append(R(status, level, levels[level - 1].weight, pressed, c,
                                               officer_at[c] if bound else None,
                                               t.service if bound else None))
        for c in sorted(serves):
            run(engine.close(c, at(day, 17, 45)))
        store.commit(batch_events, batch, ratings=rating_rows, prompts=prompt_rows)

    # Dossiers, from September, imported as the one-stop software exports them.
    records = []
    now = NOW
    for day in working_days(DOSSIERS_FROM, LAST_DAY):
        for seq in range(1, rng.randint(25, 40)):
            proc, name, fld, allowed = rng.choice(PROCEDURES)
            received = at(day, 7, 45, rng.randint(0, 8 * 3600))
            due = add_working_days(day, allowed)
            applicant = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
            id_number = f"0{rng.randint(10**10, 10**11 - 1)}"
            code = f"{site.dossiers.agency_code}-{day:%y%m%d}-{seq:04d}"
            t = received + timedelta(hours=rng.uniform(0.5, 3))
            steps = [("received", received), ("processing", t)]
            r = rng.random()
            if r < 0.06:                        # documents missing: the citizen must bring them
                t += timedelta(hours=rng.uniform(2, 20))
                steps.append(("supplement_requested", t))
                if rng.random() < 0.6:
                    t += timedelta(days=rng.uniform(1, 6))
                    steps.append(("processing", t))
                else:
                    steps.append(None)          # still waiting for the citizen
            if steps[-1] is None:
                steps.pop()
                finish = None
            elif r < 0.09:                      # refused or withdrawn quickly
                finish = t + timedelta(hours=rng.uniform(1, 30))
                steps.append((rng.choice(["refused", "withdrawn"]), finish))
                finish = None
            else:
                if r < 0.80:
                    end_day = add_working_days(day, rng.randint(0, allowed))
                else:
                    end_day = add_working_days(due, rng.randint(1, 8))
                finish = max(t + timedelta(hours=1), at(end_day, 8, 0, rng.randint(0, 8 * 3600)))
            apology = None
            if finish is not None:
                if rng.random() < 0.12:         # a night step: the clock stops on a local date near midnight
                    finish = at(finish.astimezone(TZ).date(), 23, 50)
                steps.append(("approved", finish - timedelta(minutes=30)))
                steps.append(("result_ready", finish))
                steps.append(("returned", finish + timedelta(hours=rng.uniform(1, 70))))
                if local(finish).date() > due and rng.random() < 0.7:
                    # mostly before the due date; some on it or after it (the rule not kept)
                    issued = at(due - timedelta(days=rng.choice((3, 2, 1, 1, 0, -1, -4))), 15, 0)
                    issued = max(issued, received + timedelta(minutes=30))
                    apology = (add_working_days(due, rng.randint(1, 8)), issued)
            steps = [s for s in steps if s[1] <= now]          # what has happened by now
            if apology and apology[1] > now:
                apology = None
            d = D(code, proc, name, fld, applicant, received, due, steps, apology)
            world.dossiers.append(d)
            world.names.add(applicant)
            world.ids.add(id_number)
            rec = {"code": code, "procedure_code": proc, "procedure_name": name, "field": fld,
                   "applicant_name": applicant, "cccd": id_number, "received_at": received.isoformat(),
                   "due_at": due.isoformat(), "status": steps[-1][0],
                   "steps": [{"step": s, "at": a.isoformat(), "note": f"Cán bộ xử lý hồ sơ của {applicant}"}
                             for s, a in steps]}
            if apology:
                rec["apology"] = {"reason": f"Cần xác minh thêm giấy tờ của {applicant}",
                                  "new_due_at": apology[0].isoformat(), "issued_at": apology[1].isoformat()}
            records.append(rec)
    report = DossierStore(store.db, site.dossiers, site.timezone).import_records(enumerate(records, 1))
    assert report.ok, report.errors[:3]
    assert report.imported == len(records)
    store.close()
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    site = load_site(write_site(folder, 18830))
    return generate(site, site.database)


@pytest.fixture(scope="module")
def db(world):
    store = Store(world.path)
    yield store.db
    store.close()


def build(world, db, period=PERIOD, by=None, now=NOW):
    return reports.build_report(db, world.site, period, by=by, now=now)


# -- expected figures, from the generator's record -------------------------------------------


def pct(sorted_values, p):
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return sorted_values[0]
    if p == 50:
        return statistics.median(sorted_values)
    return statistics.quantiles(sorted_values, n=10, method="inclusive")[p // 10 - 1]


def in_period(d: date, period) -> bool:
    return period.start <= d <= period.end


def ticket_key(t: T, by):
    return {"counter": t.counter, "officer": t.officer, "service": t.service,
            "day": local(t.issued).date().isoformat(), "hour": local(t.issued).hour, None: None}[by]


def rating_key(r: R, by):
    return {"counter": r.counter, "officer": r.officer, "service": r.service,
            "day": local(r.pressed).date().isoformat(), "hour": local(r.pressed).hour, None: None}[by]


def expected_queue(world, period, by=None) -> dict:
    groups: dict = {}
    served_in_hour: dict = {}
    for t in world.tickets.values():
        if not in_period(local(t.issued).date(), period):
            continue
        g = groups.setdefault(ticket_key(t, by), {"issued": 0, "done": 0, "no_show": 0, "expired": 0,
                                                  "open": 0, "transferred": 0, "waits": [], "services": []})
        g["issued"] += 1
        g[t.state if t.state in ("done", "no_show", "expired") else "open"] += 1
        g["transferred"] += t.transferred
        if t.first_called:
            g["waits"].append((t.first_called - t.issued).total_seconds())
        if t.state == "done":
            g["services"].append(t.service_secs)
            h = local(t.finished).hour
            served_in_hour[h] = served_in_hour.get(h, 0) + 1
    for g in groups.values():
        g["waits"].sort()
        g["services"].sort()
    if by == "hour":   # the response rate by hour: tickets finished in the hour
        for h, n in served_in_hour.items():
            groups.setdefault(h, {"issued": 0, "done": 0, "no_show": 0, "expired": 0, "open": 0,
                                  "transferred": 0, "waits": [], "services": []})["served_in_hour"] = n
    return groups


def expected_satisfaction(world, period, by=None) -> dict:
    groups: dict = {}
    for r in world.ratings:
        if not in_period(local(r.pressed).date(), period):
            continue
        g = groups.setdefault(rating_key(r, by), {"levels": [0, 0, 0, 0], "weights": [], "duplicate": 0,
                                                  "unprompted": 0})
        if r.status == rt.COUNTED:
            g["levels"][r.level - 1] += 1
            g["weights"].append(r.weight)
        else:
            g[r.status] += 1
    return groups


def expected_dossiers(world, period, as_of: datetime, key=lambda d: None) -> dict:
    end = datetime.combine(period.end + timedelta(days=1), time(), TZ)
    as_of_day = local(min(as_of, end - timedelta(microseconds=1))).date()
    out: dict = {}
    for d in world.dossiers:
        f = out.setdefault(key(d), dict.fromkeys(
            ["received", "settled", "early", "on_time", "late", "pending", "pending_overdue",
             "waiting_citizen", "missed_original", "with_apology", "apology_day_before"], 0))
        if in_period(local(d.received).date(), period):
            f["received"] += 1
        steps = [(s, a) for s, a in d.steps if a < end]
        if not steps:
            continue
        run = []
        for s, a in reversed(steps):
            if s not in STOPPED:
                break
            run.insert(0, (s, a))
        apology = d.apology if d.apology and d.apology[1] < end else None
        due = apology[0] if apology else d.due
        if run and any(s in OUTCOME for s, _ in run):
            settled_on = local(next(a for s, a in run if s in OUTCOME)).date()
            if not in_period(settled_on, period):
                continue
            stopped_on = local(run[0][1]).date()
            f["settled"] += 1
            f["late" if stopped_on > due else "on_time" if stopped_on == due else "early"] += 1
            last_day = stopped_on
        elif run:
            f["waiting_citizen"] += 1
            last_day = None
        else:
            f["pending"] += 1
            f["pending_overdue"] += as_of_day > due
            last_day = as_of_day
        if last_day is not None and last_day > d.due:
            f["missed_original"] += 1
            if apology:
                f["with_apology"] += 1
                f["apology_day_before"] += local(apology[1]).date() <= d.due - timedelta(days=1)
    return out


def check_queue(q: reports.Queue, e: dict) -> None:
    assert (q.issued, q.served, q.no_show, q.expired, q.open, q.transferred) == (
        e["issued"], e["done"], e["no_show"], e["expired"], e["open"], e["transferred"])
    for got, values, p in ((q.wait_median, e["waits"], 50), (q.wait_p90, e["waits"], 90),
                           (q.service_median, e["services"], 50), (q.service_p90, e["services"], 90)):
        want = pct(values, p)
        assert (got is None) == (want is None)
        if want is not None:
            assert got == pytest.approx(want, abs=0.01)


def check_satisfaction(s: reports.Satisfaction, e: dict | None, served: int, any_rating: bool) -> None:
    e = e or {"levels": [0, 0, 0, 0], "weights": [], "duplicate": 0, "unprompted": 0}
    counted = sum(e["levels"])
    assert s.levels[:4] == e["levels"] and s.counted == counted
    assert (s.duplicate, s.unprompted) == (e["duplicate"], e["unprompted"])
    if counted:
        assert s.index == pytest.approx(sum(e["weights"]) / counted, abs=1e-9)
        assert s.share_satisfied == pytest.approx(100 * (e["levels"][0] + e["levels"][1]) / counted)
    else:
        assert s.index is None and s.share_satisfied is None
    if served and any_rating:
        assert s.response_rate == pytest.approx(100 * counted / served)
    else:
        assert s.response_rate is None


def check_dossiers(f: reports.DossierFigures, e: dict) -> None:
    got = {k: getattr(f, k) for k in e}
    assert got == e
    if e["settled"]:
        assert f.share_on_time == pytest.approx(100 * (e["early"] + e["on_time"]) / e["settled"])


# -- the tests ---------------------------------------------------------------------------------


def test_the_generated_data_is_realistic_and_varied(world, db):
    period_tickets = [t for t in world.tickets.values() if in_period(local(t.issued).date(), PERIOD)]
    assert len(world.tickets) > 5000 and len(period_tickets) > 2000
    assert len(world.ratings) > 3500 and len(world.dossiers) > 1500
    states = {t.state for t in world.tickets.values()}
    assert {"done", "no_show", "expired", "waiting"} <= states
    assert sum(t.transferred for t in world.tickets.values()) > 50
    assert {r.status for r in world.ratings} == set(rt.STATUSES)
    # the store agrees with the generator about every ticket's end
    stored = {r["id"]: r["state"] for r in db["tickets"].rows}
    assert stored == {t.id: t.state for t in world.tickets.values()}
    # the rules written out in this test are the module's
    from motcua.dossiers import CLOCK_STOPPED
    assert STOPPED == set(CLOCK_STOPPED) and OUTCOME == set(reports.OUTCOMES)


def test_totals_of_a_period_match_the_record(world, db):
    rep = build(world, db)
    assert rep.period == PERIOD and rep.previous == reports.Period(date(2026, 10, 12), date(2026, 10, 31))
    e = expected_queue(world, PERIOD)[None]
    check_queue(rep.queue, e)
    s = expected_satisfaction(world, PERIOD)[None]
    check_satisfaction(rep.satisfaction, s, e["done"], True)
    assert 0 < rep.satisfaction.response_rate < 100
    dossiers = expected_dossiers(world, PERIOD, NOW)[None]
    check_dossiers(rep.dossiers, dossiers)
    # the cases the rules are for all occur in the data
    assert rep.dossiers.early and rep.dossiers.on_time and rep.dossiers.late and rep.dossiers.pending
    assert rep.dossiers.pending_overdue and rep.dossiers.waiting_citizen
    assert 0 < rep.dossiers.apology_day_before < rep.dossiers.with_apology < rep.dossiers.missed_original


def test_the_previous_period_of_the_same_length(world, db):
    rep = build(world, db, by="counter")
    prev = rep.previous
    assert prev.days == PERIOD.days and prev.end == PERIOD.start - timedelta(days=1)
    e = expected_queue(world, prev)[None]
    check_queue(rep.queue_previous, e)
    check_satisfaction(rep.satisfaction_previous, expected_satisfaction(world, prev)[None], e["done"], True)
    end_prev = datetime.combine(prev.end + timedelta(days=1), time(), TZ)
    check_dossiers(rep.dossiers_previous, expected_dossiers(world, prev, end_prev)[None])
    # the previous period judged on its own gives the same figures
    alone = build(world, db, period=prev)
    assert alone.queue.issued == rep.queue_previous.issued
    assert alone.satisfaction.levels == rep.satisfaction_previous.levels
    assert alone.dossiers == rep.dossiers_previous


@pytest.mark.parametrize("by", reports.BY_CHOICES)
def test_each_grouping_matches_the_record(world, db, by):
    rep = build(world, db, by=by)
    eq = expected_queue(world, PERIOD, by)
    es = expected_satisfaction(world, PERIOD, by)
    keys = [g.key for g in rep.groups]
    assert len(keys) == len(set(keys)) and set(keys) == {k for k in set(eq) | set(es)
                                                         if k in es or eq[k]["issued"]}
    for g in rep.groups:
        q = eq.get(g.key)
        if q is None:
            assert g.queue.issued == 0
        else:
            check_queue(g.queue, q)
        served = (q or {}).get("served_in_hour", 0) if by == "hour" else (q["done"] if q else 0)
        check_satisfaction(g.satisfaction, es.get(g.key), served, True)
        if g.satisfaction.response_rate is not None:
            assert g.satisfaction.response_rate <= 100
    # the groups add up to the total
    assert sum(g.queue.issued for g in rep.groups) == rep.queue.issued
    assert sum(g.satisfaction.counted for g in rep.groups) == rep.satisfaction.counted
    if by == "counter":
        assert [g.key for g in rep.groups][:3] == [1, 2, 3]
        assert rep.groups[0].label == world.site.counter(1).name
        assert rep.groups[-1].key is None and rep.groups[-1].queue.expired > 0   # never called
    if by == "officer":
        assert any(g.key is None and g.satisfaction.unprompted for g in rep.groups)
    if by == "hour":
        assert all(0 <= g.key <= 23 for g in rep.groups)
    if by == "day":
        assert all(g.label.endswith(")") for g in rep.groups)   # with the weekday


def test_hours_and_days_match_the_record(world, db):
    rep = build(world, db)
    cur = {h: g for h, g in expected_queue(world, PERIOD, "hour").items() if g["issued"]}
    prev = {h: g for h, g in expected_queue(world, rep.previous, "hour").items() if g["issued"]}
    assert [h.hour for h in rep.hours] == sorted(set(cur) | set(prev))
    for h in rep.hours:
        assert h.issued == cur.get(h.hour, {"issued": 0})["issued"]
        assert h.issued_previous == prev.get(h.hour, {"issued": 0})["issued"]
        if h.hour in cur and cur[h.hour]["waits"]:
            assert h.wait_median == pytest.approx(pct(cur[h.hour]["waits"], 50), abs=0.01)
            assert h.wait_p90 == pytest.approx(pct(cur[h.hour]["waits"], 90), abs=0.01)
    days_q = expected_queue(world, PERIOD, "day")
    days_s = expected_satisfaction(world, PERIOD, "day")
    assert [d.day for d in rep.days] == [PERIOD.start + timedelta(days=i) for i in range(PERIOD.days)]
    for d in rep.days:
        key = d.day.isoformat()
        assert d.issued == days_q.get(key, {"issued": 0})["issued"]
        weights = days_s.get(key, {"weights": []})["weights"]
        assert d.counted == len(weights)
        assert d.index == (pytest.approx(sum(weights) / len(weights)) if weights else None)
    assert rep.days[0].issued == 0            # 1 November 2026 is a Sunday


def test_dossiers_by_field_and_procedure(world, db):
    rep = build(world, db)
    by_field = expected_dossiers(world, PERIOD, NOW, key=lambda d: d.field)
    by_proc = expected_dossiers(world, PERIOD, NOW, key=lambda d: d.procedure)
    assert {g.key for g in rep.dossiers_by_field} <= set(by_field)
    for key, e in by_field.items():
        g = next((g for g in rep.dossiers_by_field if g.key == key), None)
        if g is None:
            assert not any(e.values())
        else:
            check_dossiers(g.figures, e)
    for g in rep.dossiers_by_procedure:
        check_dossiers(g.figures, by_proc[g.key])
        assert g.label.startswith(g.key) and g.field == next(p[2] for p in PROCEDURES if p[0] == g.key)
    assert sum(g.figures.received for g in rep.dossiers_by_procedure) == rep.dossiers.received
    # Vietnamese order: Đ among the Ds, not after Z
    fields = [g.key for g in rep.dossiers_by_field]
    assert fields.index("Đất đai") < fields.index("Hộ tịch")


def test_a_report_as_of_a_time_before_the_end_of_its_period(world, db):
    """A period that is not over: dossiers are judged as they stand now."""
    now = datetime(2026, 11, 18, 12, 0, tzinfo=TZ)
    rep = build(world, db, now=now)
    check_dossiers(rep.dossiers, expected_dossiers(world, PERIOD, now)[None])
    check_dossiers(build(world, db, now=NOW).dossiers, expected_dossiers(world, PERIOD, NOW)[None])
    assert rep.dossiers.pending_overdue <= build(world, db, now=NOW).dossiers.pending_overdue


def test_a_day_without_a_single_press_has_no_response_rate(world, db):
    day = reports.Period(NO_PAD_DAY, NO_PAD_DAY)
    rep = build(world, db, period=day, by="counter")
    assert rep.queue.served > 50
    assert rep.satisfaction.counted == 0 and rep.satisfaction.index is None
    assert rep.satisfaction.share_satisfied is None and rep.satisfaction.response_rate is None
    assert all(g.satisfaction.response_rate is None for g in rep.groups)
    text = out.format_text(rep)
    assert "không tính được tỷ lệ đánh giá" in text


def test_an_empty_period(world, db, tmp_path):
    empty = reports.Period(date(2025, 1, 1), date(2025, 1, 31))
    rep = build(world, db, period=empty, by="service")
    assert rep.groups == [] and rep.hours == [] and len(rep.days) == 31
    assert rep.queue.issued == 0 and rep.queue.wait_median is None and rep.queue.service_p90 is None
    assert rep.satisfaction.index is None and rep.satisfaction.response_rate is None
    assert rep.dossiers == reports.DossierFigures() and rep.dossiers.share_on_time is None
    # every output copes
    assert "—" in out.format_text(rep)
    out.write_xlsx(rep, tmp_path / "e.xlsx")
    out.write_csv(rep, tmp_path / "e.csv")
    out.write_chart(rep, tmp_path / "e.png")
    assert (tmp_path / "e.png").stat().st_size > 10_000


def test_a_database_without_any_table_gives_an_empty_report(world, tmp_path):
    import sqlite3
    rep = reports.build_report(sqlite3.connect(tmp_path / "blank.db"), world.site, PERIOD, by="day", now=NOW)
    assert rep.queue.issued == 0 and not rep.has_dossier_tables
    assert "motcua dossiers import" in out.format_text(rep)


# -- outputs ---------------------------------------------------------------------------------


def test_the_terminal_table_is_aligned_and_in_vietnamese(world, db):
    rep = build(world, db, by="officer")
    text = out.format_text(rep)
    for heading in ("MỨC ĐỘ HÀI LÒNG", "HÀNG ĐỢI", "HỒ SƠ", "Tỷ lệ hài lòng", "Chỉ số hài lòng",
                    "Hài lòng theo cán bộ", "Hồ sơ theo thủ tục", rep.site_name, "Kỳ trước"):
        assert heading in text
    assert f"{rep.queue.issued:,}".replace(",", " ") in text
    # every block: rows end at the same column as its rule line (numbers right-aligned)
    blocks = text.split("\n\n")
    checked = 0
    for block in blocks:
        lines = block.splitlines()
        rule = next((i for i, line in enumerate(lines) if line.startswith("─")), None)
        if rule is None:
            continue
        width = out.display_width(lines[rule])
        for line in lines[rule + 1:]:
            assert out.display_width(line) == width, line
        checked += 1
    assert checked >= 8


def test_alignment_counts_columns_not_code_points():
    import unicodedata
    nfc = "Quầy 2 – Hộ tịch"
    nfd = unicodedata.normalize("NFD", nfc)
    assert len(nfd) > len(nfc) and out.display_width(nfd) == out.display_width(nfc) == 16
    assert out.display_width("服务") == 4
    table = out.Table("t", "t", [out.Column("Tên", out.TEXT), out.Column("Số")],
                      [[nfc, 1], [nfd, 22], ["服务", 333]])
    lines = out.render_table(table).splitlines()
    assert len({out.display_width(line) for line in lines}) == 1
    assert lines[2].endswith(" 1") and lines[4].endswith("333")


def test_xlsx_reread_with_openpyxl(world, db, tmp_path):
    from openpyxl import load_workbook
    rep = build(world, db, by="service")
    path = out.write_xlsx(rep, tmp_path / "báo cáo.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames[:7] == ["Tổng hợp", "Hài lòng", "Hàng đợi", "Theo giờ", "Theo ngày",
                                 "Hồ sơ theo lĩnh vực", "Hồ sơ theo thủ tục"]
    assert wb.sheetnames[7] == "Hài lòng theo thủ tục"     # issue 12: through the rated tickets' dossiers
    assert wb.sheetnames[8] == "Từ xa theo lĩnh vực"     # issue 14: numbers from afar and bookings
    assert wb.sheetnames[9] == "Thông tin" and "Kỳ báo cáo" in [c.value for c in wb["Thông tin"]["A"]]
    for ws in wb.worksheets[:7]:
        assert all(c.font.bold for c in ws[1] if c.value is not None)
        assert ws.column_dimensions["A"].width >= 8
    summary = wb["Tổng hợp"]
    rows = {r[1].value.strip(): r for r in summary.iter_rows(min_row=2)}
    assert rows["Số phiếu đã cấp"][2].value == rep.queue.issued
    assert isinstance(rows["Số phiếu đã cấp"][3].value, int)
    share = rows["Tỷ lệ hài lòng (2 mức cao nhất)"]
    assert share[2].value == pytest.approx(rep.satisfaction.share_satisfied / 100)
    assert share[2].number_format == "0.0%"
    wait = rows["Thời gian chờ – trung vị (phút)"]
    assert wait[2].value == pytest.approx(rep.queue.wait_median / 60)
    assert rows["Rất hài lòng"][0].value == "Hài lòng"
    sat = wb["Hài lòng"]
    header = [c.value for c in sat[1]]
    assert header[:3] == ["Lĩnh vực (dịch vụ)", "Số đánh giá", "Rất hài lòng"]
    labels = [r[0].value for r in sat.iter_rows(min_row=2)]
    assert "HT – Hộ tịch" in labels and labels[-1] == "Toàn trung tâm"
    ht = next(r for r in sat.iter_rows(min_row=2) if r[0].value == "HT – Hộ tịch")
    g = next(g for g in rep.groups if g.key == "HT")
    assert [c.value for c in ht[1:6]] == [g.satisfaction.counted, *g.satisfaction.levels[:4]]
    assert ht[header.index("Chỉ số")].value == pytest.approx(g.satisfaction.index)
    procs = wb["Hồ sơ theo thủ tục"]
    names = [r[0].value for r in procs.iter_rows(min_row=2)]
    assert "2.000889 Đăng ký biến động quyền sử dụng đất" in names
    assert all(isinstance(c.value, (int, float)) or c.value is None
               for r in procs.iter_rows(min_row=2) for c in r[2:])
    cells = " ".join(str(c.value) for ws in wb.worksheets for r in ws.iter_rows() for c in r)
    assert_no_citizen_data(world, cells)


def test_csv_reread_with_bom(world, db, tmp_path):
    rep = build(world, db, by="counter")
    path = out.write_csv(rep, tmp_path / "bao-cao.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "Tỷ lệ hài lòng" in text and "Quầy 4 – Chứng thực" in text and "Đất đai" in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == out.CSV_HEADER

    def value(section, measure, period="current", group="Toàn trung tâm", group_by=""):
        hits = [r for r in rows if (r["section"], r["measure"], r["period"], r["group"], r["group_by"])
                == (section, measure, period, group, group_by)]
        assert len(hits) == 1, (section, measure, group, hits)
        return hits[0]

    assert int(value("queue", "issued")["value"]) == rep.queue.issued
    assert int(value("queue", "issued", "previous")["value"]) == rep.queue_previous.issued
    assert value("queue", "issued", "previous")["from"] == rep.previous.start.isoformat()
    assert float(value("satisfaction", "index")["value"]) == pytest.approx(rep.satisfaction.index, abs=1e-4)
    r = value("satisfaction", "share_satisfied")
    assert r["unit"] == "percent"
    assert float(r["value"]) == pytest.approx(rep.satisfaction.share_satisfied, abs=1e-4)
    assert float(value("queue", "wait_p90")["value"]) == pytest.approx(rep.queue.wait_p90 / 60, abs=1e-3)
    c4 = next(g for g in rep.groups if g.key == 4)
    assert int(value("satisfaction", "counted", group="Quầy 4 – Chứng thực", group_by="counter")["value"]) \
        == c4.satisfaction.counted
    assert int(value("dossiers", "received")["value"]) == rep.dossiers.received
    assert value("dossiers", "late", group="Hộ tịch", group_by="field")["label_vi"] == "Quá hạn"
    h = rep.hours[2]
    label = f"{h.hour:02d}:00–{h.hour:02d}:59"
    assert int(value("queue", "issued", group=label, group_by="hour_of_issue")["value"]) == h.issued
    prev_hour = value("queue", "issued", "previous", group=label, group_by="hour_of_issue")
    assert int(prev_hour["value"]) == h.issued_previous and prev_hour["to"] == rep.previous.end.isoformat()
    assert_no_citizen_data(world, text)


def test_chart_is_a_png_of_sensible_size(world, db, tmp_path):
    from PIL import Image
    for by in ("counter", None):
        rep = build(world, db, by=by)
        path = out.write_chart(rep, tmp_path / f"chart-{by}.png")
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size == (1300, 900)
            colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
            assert len(colours) > 200           # bars, text and lines, not a blank page
        assert 30_000 < path.stat().st_size < 2_000_000


def test_terminal_output_has_no_citizen_data(world, db):
    for by in (None, *reports.BY_CHOICES):
        assert_no_citizen_data(world, out.format_text(build(world, db, by=by)))


def assert_no_citizen_data(world, text: str) -> None:
    assert len(world.names) > 500
    assert not [name for name in world.names if name in text]
    assert not [i for i in world.ids if i in text]


# -- the command ---------------------------------------------------------------------------------


def motcua(site, *args):
    return subprocess.run([sys.executable, "-m", "motcua", "--site", str(site.path), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_report_command_end_to_end(world, tmp_path):
    from openpyxl import load_workbook
    site = world.site
    r = motcua(site, "report", "--from", "01/11/2026", "--to", "2026-11-20", "--by", "counter",
               "--xlsx", str(tmp_path / "r.xlsx"), "--csv", str(tmp_path / "r.csv"),
               "--chart", str(tmp_path / "r.png"))
    assert r.returncode == 0, r.stderr
    e = expected_queue(world, PERIOD)[None]
    assert "Kỳ báo cáo: 01/11/2026 – 20/11/2026 (20 ngày)" in r.stdout
    assert "Quầy 12 – Trả kết quả" in r.stdout
    assert f"{e['issued']:,}".replace(",", " ") in r.stdout
    for name in ("r.xlsx", "r.csv", "r.png"):
        assert (tmp_path / name).stat().st_size > 1000 and f"r{Path(name).suffix}" in r.stdout
    wb = load_workbook(tmp_path / "r.xlsx")
    rows = {row[1].value.strip(): row for row in wb["Tổng hợp"].iter_rows(min_row=2)}
    assert rows["Số phiếu đã cấp"][2].value == e["issued"]
    assert rows["Đã phục vụ xong"][2].value == e["done"]
    s = expected_satisfaction(world, PERIOD)[None]
    assert rows["Số đánh giá được tính"][2].value == sum(s["levels"])
    assert_no_citizen_data(world, r.stdout)


@pytest.mark.parametrize("args, message", [
    (["--from", "2026-13-01"], "not a real date"),
    (["--from", "yesterday"], "YYYY-MM-DD"),
    (["--from", "2026-11-20", "--to", "2026-11-01"], "is after --to"),
    (["--xlsx", "/nonexistent-folder/r.xlsx"], "does not exist"),
    (["--xlsx", "report.xls"], "ending in .xlsx"),
    (["--chart", "chart.svg"], "ending in .png"),
    (["--by", "month"], "invalid choice"),
])
def test_bad_input_is_refused_clearly(world, args, message):
    r = motcua(world.site, "report", *args)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_a_site_without_a_database_is_told_so(tmp_path):
    site = load_site(write_site(tmp_path, 18831))
    r = motcua(site, "report")
    assert r.returncode == 2 and "no centre database" in r.stderr
    assert not site.database.exists()


# -- pieces ----------------------------------------------------------------------------------------


def test_percentile_is_linear_interpolation_between_closest_ranks():
    rng = random.Random(5)
    for n in (1, 2, 3, 4, 10, 11, 101, 1000):
        values = sorted(rng.uniform(0, 3600) for _ in range(n))
        assert reports.percentile(values, 50) == pytest.approx(statistics.median(values))
        if n > 1:
            assert reports.percentile(values, 90) == pytest.approx(
                statistics.quantiles(values, n=10, method="inclusive")[8])
        assert reports.percentile(values, 100) == values[-1] and reports.percentile(values, 0) == values[0]
    assert reports.percentile([], 50) is None
    assert reports.percentile([1, 2, 3, 4], 50) == 2.5


def test_periods_and_dates():
    today = date(2026, 11, 23)
    assert reports.resolve_period(None, None, today) == reports.Period(date(2026, 11, 1), today)
    assert reports.resolve_period(None, "2026-10-15", today) == reports.Period(date(2026, 10, 1),
                                                                               date(2026, 10, 15))
    assert reports.resolve_period("5/11/2026", None, today).start == date(2026, 11, 5)
    p = reports.Period(date(2026, 3, 1), date(2026, 3, 31))
    assert p.previous() == reports.Period(date(2026, 1, 29), date(2026, 2, 28))
    assert p.utc_bounds(TZ) == ("2026-02-28T17:00:00.000+00:00", "2026-03-31T17:00:00.000+00:00")
    with pytest.raises(reports.ReportError, match="after --to"):
        reports.resolve_period("2026-11-24", None, today)
    with pytest.raises(reports.ReportError, match="not a real date"):
        reports.resolve_period("31/02/2026", None, today)


def test_store_migration_3_indexes_reports_on_an_older_database(tmp_path):
    import sqlite3

    import sqlite_utils

    from motcua.store import MIGRATIONS
    path = tmp_path / "v2.db"
    db = sqlite_utils.Database(sqlite3.connect(path))
    for v in (1, 2):
        MIGRATIONS[v](db)
    db.execute("PRAGMA user_version=2")
    DossierStore(db)  # a centre that already mirrors dossiers
    db.conn.commit()
    db.close()
    store = Store(path)
    assert store.version == SCHEMA_VERSION >= 3
    indexes = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"idx_dossier_steps_at_step_code", "idx_dossiers_received_at", "idx_dossiers_status",
            "ratings_report"} <= indexes
    store.close()
    fresh = Store(tmp_path / "new.db")       # and a new database has the dossier tables at once
    assert {"dossiers", "dossier_steps", "dossier_apologies"} <= set(fresh.db.table_names())
    fresh.close()

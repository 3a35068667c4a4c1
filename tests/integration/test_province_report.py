"""The province report (`motcua province report`, issue 13, item 5) checked against
the centres' own databases.

Four centres' SQLite databases are filled with weeks of activity by the centre's
own code (tests/support/centre_activity.py: the engine, the store, ratings,
dossiers at the counter, the dossier mirror, numbers taken from afar and
bookings on citizens' phones), their records moved to a real
PostgreSQL by the real path without brokers (each centre's `outbox` read as
`motcua ship` reads it, parsed as the hub parses a batch, stored by the hub's
store), and a fifth centre of the provincial file never ships. Two centres use
the same agency code, so their dossier codes collide: a query that forgot the
centre would mix them.

Then:
- each centre's figures in the province report equal, field by field, those of
  `build_report` on the centre's own SQLite file (the centre report), for the
  period and the previous one, by nothing, counter, officer, service, day, hour
  (numbers from afar and bookings among them, and for the week ahead too);
- the province total equals figures computed here, independently, from the
  union of the centres' SQLite rows read with plain SQL (statistics for the
  medians and 90th percentiles, the dossier rules of docs/reports.md written
  out, numbers from afar and bookings counted by state), not with
  motcua.report_figures;
- no phone a citizen gave is anywhere in the province's database (pg_dump);
- the ranking, the officers and the services follow from those figures;
- the command prints it and writes the XLSX, CSV and chart.

Durations: SQLite's julianday() arithmetic rounds a waiting time to about
0.01 ms (143.99999 s for 144 s); PostgreSQL's is exact, so durations are
compared to a millisecond, every count exactly.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import sqlite3
import statistics
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from motcua import cli
from motcua.config import load_site
from motcua.province import ranking, report_pg
from motcua.province.config import load_province
from motcua.province.ingest import parse_batch
from motcua.province.store import HubStore
from motcua.report_figures import Period, report_from
from motcua.reports import build_report
from motcua.shipping import outbox
from motcua.shipping.shipper import CentreDatabase
from support.broker import ROOT, write_site
from support.centre_activity import Style, generate

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PERIOD = Period(date(2026, 11, 1), date(2026, 11, 20))
PREVIOUS = PERIOD.previous()
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=TZ)
AHEAD = Period(date(2026, 11, 21), date(2026, 11, 27))   # bookings made for the days after the last one
FIRST_DAY, DOSSIERS_FROM = date(2026, 10, 5), date(2026, 9, 1)
STOPPED = {"result_ready", "returned", "refused", "stopped", "withdrawn", "supplement_requested"}
OUTCOME = STOPPED - {"supplement_requested"}


@dataclass(frozen=True)
class C:
    id: str
    name: str
    seed: int
    style: Style
    agency: str = "000.00.31.H12"
    first_day: date = FIRST_DAY


CENTRES = [
    C("phuong-an-cuu", "Phường An Cựu", 1, Style(tickets_per_day=(100, 150), service_mu=6.3)),
    C("xa-phu-vinh", "Xã Phú Vinh", 2, Style(level_weights=(30, 35, 20, 15), late=0.35, apology=0.5)),
    C("phuong-kim-long", "Phường Kim Long", 3, Style(tickets_per_day=(30, 50), level_weights=(70, 20, 6, 4),
                                                     late=0.1), agency="000.00.33.H12"),
    # only the last two days: too few ratings to rank
    C("xa-a-luoi-1", "Xã A Lưới 1", 4, Style(tickets_per_day=(8, 12)), agency="000.00.35.H12",
      first_day=date(2026, 11, 19)),
]
SILENT = ("xa-chua-gui", "Xã Chưa Gửi")     # in the provincial file, never shipped


@pytest.fixture(scope="module")
def world(tmp_path_factory, pg_cluster):
    folder = tmp_path_factory.mktemp("province-report")
    dsn = pg_cluster.create_database("province_report_test", exist_ok=True)
    with psycopg.connect(dsn, autocommit=True) as conn:   # a rerun in the same session starts clean
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    hub = HubStore(dsn).open()
    sites, shipped, phones = {}, {}, {}
    for c in CENTRES:
        sub = folder / c.id
        sub.mkdir()
        site = load_site(write_site(sub, 18830, replace={
            'id = "hcc-demo"': f'id = "{c.id}"', 'agency_code = "000.00.31.H12"': f'agency_code = "{c.agency}"'}))
        phones[c.id] = generate(site, site.database, c.first_day, PERIOD.end, DOSSIERS_FROM, NOW, seed=c.seed,
                                style=c.style)
        sites[c.id] = site
        shipped[c.id] = ship(site, hub)
    hub.close()
    lines = ['[province]', 'id = "hue"', 'name = "Thành phố Huế"', 'timezone = "Asia/Ho_Chi_Minh"',
             f'data_dir = "{folder}"', '', '[database]', f'dsn = "{dsn}"', '',
             '[hub]', 'password = "test-hub-secret-1"', '', '[board]', 'password = "test-board-secret-1"', '']
    for cid, name in [(c.id, c.name) for c in CENTRES] + [SILENT]:
        lines += ['[[centres]]', f'id = "{cid}"', f'name = "{name}"', f'password = "pw-{cid}-secret"', '']
    path = folder / "province.toml"
    path.write_text("\n".join(lines), encoding="utf-8")

    class W:
        pass
    W.folder, W.dsn, W.sites, W.shipped, W.path, W.phones = folder, dsn, sites, shipped, path, phones
    W.province = load_province(path)
    yield W


def ship(site, hub: HubStore) -> int:
    """The centre's outbox to the hub's database as `motcua ship` and the hub do it,
    without the brokers: batches of 500 read from the outbox, parsed as the hub
    parses them, stored by its store; the first batch delivered twice (a resend)."""
    db = CentreDatabase(site.database)
    head, first, payloads = db.head(), 1, []
    while first <= head:
        last, payload = db.batch(site.id, first, min(first + 499, head))
        payloads.append(payload)
        first = last + 1
    db.close()
    for payload in payloads + payloads[:1]:
        batch = parse_batch(f"motcua/{site.id}/ship/batch", payload)
        hub.store([batch], [payload.decode("utf-8")])
    assert hub.acked(site.id) == head
    return head


@pytest.fixture(scope="module")
def conn(world):
    c = report_pg.connect(world.dsn)
    yield c
    c.close()


@pytest.fixture(scope="module")
def by_centre(world, conn):
    return report_pg.build_province_report(conn, world.province, PERIOD, "centre", NOW)


# -- comparing reports ------------------------------------------------------------------------


def differences(a, b, path="", out=None) -> list[str]:
    """Every field of a and b that differs (floats to a millisecond of a duration,
    a billionth of the rest), by its path."""
    out = [] if out is None else out
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        if type(a) is not type(b):
            out.append(f"{path}: {type(a).__name__} != {type(b).__name__}")
            return out
        for f in dataclasses.fields(a):
            differences(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}", out)
    elif isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            out.append(f"{path}: {len(a)} items != {b!r:.200}")
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                differences(x, y, f"{path}[{i}]", out)
    elif isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-3):
            out.append(f"{path}: {a!r} != {b!r}")
    elif a != b:
        out.append(f"{path}: {a!r} != {b!r}")
    return out


def centre_report(world, cid, period=PERIOD, by=None):
    """The centre report, on the centre's own SQLite file."""
    conn = sqlite3.connect(world.sites[cid].database)
    try:
        return build_report(conn, world.sites[cid], period, by=by, now=NOW)
    finally:
        conn.close()


def test_every_record_of_every_centre_reached_the_hub(world, conn):
    for c in CENTRES:
        n = conn.execute("SELECT count(*), min(seq), max(seq) FROM records WHERE centre = %s", [c.id]).fetchone()
        assert n == (world.shipped[c.id], 1, world.shipped[c.id])
        with sqlite3.connect(world.sites[c.id].database) as lite:
            for table in ("tickets", "ratings", "dossiers", "dossier_steps", "dossier_apologies",
                          "ticket_dossiers", "counters", "bookings"):
                (want,) = lite.execute(f"SELECT count(*) FROM {table}").fetchone()
                (got,) = conn.execute(f"SELECT count(*) FROM {table} WHERE centre = %s", [c.id]).fetchone()
                assert got == want, (c.id, table)
    conn.commit()


def test_the_data_is_varied_enough_to_test_something(world):
    """Every kind of ticket, rating and dossier the report counts is there."""
    lite = sqlite3.connect(world.sites["phuong-an-cuu"].database)
    d = dict
    assert {"done", "no_show", "expired"} <= {s for (s,) in lite.execute("SELECT DISTINCT state FROM tickets")}
    assert lite.execute("SELECT count(*) FROM tickets WHERE transfers > 0").fetchone()[0] > 20
    assert set(d(lite.execute("SELECT status, count(*) FROM ratings GROUP BY 1"))) == {
        "counted", "duplicate", "unprompted"}
    assert lite.execute("SELECT count(*) FROM ratings WHERE dossiers IS NOT NULL").fetchone()[0] > 100
    assert lite.execute("SELECT count(*) FROM ratings r JOIN json_each(r.dossiers) j "
                        "WHERE j.value NOT IN (SELECT code FROM dossiers)").fetchone()[0] > 0
    rep = centre_report(world, "phuong-an-cuu")
    f = rep.dossiers
    assert f.late and f.missed_original > f.with_apology > f.apology_day_before > 0
    assert f.pending and f.waiting_citizen and f.early and f.on_time
    # dossier codes collide between two centres: only (centre, code) names a dossier
    codes = [set(r for (r,) in sqlite3.connect(world.sites[c].database).execute("SELECT code FROM dossiers"))
             for c in ("phuong-an-cuu", "xa-phu-vinh")]
    assert len(codes[0] & codes[1]) > 100
    # numbers from afar and bookings (issue 14) in every state the report counts, in the period
    h, ahead = rep.holds, centre_report(world, "phuong-an-cuu", AHEAD).holds
    assert h.remote > h.remote_checked_in > h.remote_lapsed > 0 and h.remote_open > 0
    assert h.booked > h.booking_checked_in > h.booking_lapsed > h.booking_cancelled > 0
    assert ahead.booking_open > 0 and len(rep.holds_by_service) >= 5
    # a number from afar waits from its check-in, not from when it was taken
    assert lite.execute("SELECT count(*) FROM tickets WHERE origin = 'remote' AND first_called_at IS NOT NULL "
                        "AND checked_in_at > issued_at").fetchone()[0] > 20


@pytest.mark.parametrize("by", [None, "counter", "officer", "service", "day", "hour"])
def test_each_centre_equals_its_own_report_field_by_field(world, conn, by):
    """The province's loader over the hub's copy gives, through the same
    report_from, exactly the centre's report on its own database: every figure,
    group, hour, day, dossier and procedure, this period and the previous one."""
    sites = report_pg.site_records(conn)
    for c in CENTRES:
        site = ranking.site_from_record(c.id, world.sites[c.id].name, sites[c.id], "Asia/Ho_Chi_Minh")
        source = report_pg.PostgresSource(conn, site.tz, [c.id])
        for period in (PERIOD, PREVIOUS) + ((AHEAD,) if by is None else ()):
            want = centre_report(world, c.id, period, by)
            got = report_from(source, site, period, by, NOW)
            assert differences(want, got) == [], (c.id, by, period)
            if by is None and period == PERIOD:
                assert want.satisfaction.counted and want.queue.issued and want.dossiers.settled
                if c.id != "xa-a-luoi-1":
                    assert want.satisfaction_by_procedure and want.rated_without_dossier.counted
    conn.commit()


def test_the_province_report_holds_each_centres_own_figures(world, by_centre):
    """What the ranked table shows of a centre is its own report's figures."""
    for c in CENTRES:
        want = centre_report(world, c.id)
        got = by_centre.reports[c.id]
        assert [d for d in differences(want, got) if not d.startswith(".site_name")] == []
        assert got.site_name == c.name   # the provincial file names its centres
        row = next(r for r in by_centre.centres if r.key == c.id)
        s, sp, q, qp, f, fp = (want.satisfaction, want.satisfaction_previous, want.queue, want.queue_previous,
                               want.dossiers, want.dossiers_previous)
        assert row.value(ranking.MEASURE["apology_day_before"]) == (
            f.apology_day_before, fp.apology_day_before, f.apology_day_before - fp.apology_day_before)
        assert row.value(ranking.MEASURE["wait_p90"])[0] == pytest.approx(q.wait_p90 / 60, abs=1e-4)
        if c.first_day > PREVIOUS.end:          # the two-day centre: nothing before
            assert row.value(ranking.MEASURE["index"])[1:] == (None, None)
            continue
        assert row.value(ranking.MEASURE["index"]) == pytest.approx((s.index, sp.index, s.index - sp.index))
        assert row.value(ranking.MEASURE["no_show_rate"])[1] == pytest.approx(100 * qp.no_show / qp.waited)


# -- the province total, computed here from the centres' SQLite rows ---------------------------


def pct(values: list[float], p: int) -> float | None:
    """Excel's PERCENTILE.INC, as docs/reports.md defines the median and P90."""
    values = sorted(values)
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def seconds(a: str, b: str) -> float:
    return max(0.0, (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds())


def pooled(world, period: Period) -> dict:
    """The province's figures from the union of the centres' own databases: plain
    SQL for the rows, plain Python for the figures."""
    t = {"issued": 0, "done": 0, "no_show": 0, "expired": 0, "lapsed": 0, "open": 0, "transferred": 0, "called": 0,
         "waits": [], "services": [], "levels": [0, 0, 0, 0], "weights": [], "duplicate": 0, "unprompted": 0,
         "procedures": {}, "without": 0}
    d = dict.fromkeys(["received", "settled", "early", "on_time", "late", "pending", "pending_overdue",
                       "waiting_citizen", "missed_original", "with_apology", "apology_day_before"], 0)
    start = datetime.combine(period.start, time(), TZ)
    end = datetime.combine(period.end + timedelta(days=1), time(), TZ)
    as_of_day = min(NOW, end - timedelta(microseconds=1)).astimezone(TZ).date()
    days = [period.start.isoformat(), period.end.isoformat()]
    for cid, site in world.sites.items():
        lite = sqlite3.connect(site.database)
        # a number taken from afar, or a booking, waits in the hall from its check-in
        for state, transfers, issued, called, started, finished in lite.execute(
                "SELECT state, transfers, coalesce(checked_in_at, issued_at), first_called_at, started_at, "
                "finished_at FROM tickets WHERE day BETWEEN ? AND ?", days):
            t["issued"] += 1
            t[state if state in ("done", "no_show", "expired", "lapsed") else "open"] += 1
            t["transferred"] += transfers > 0
            if called:
                t["called"] += 1
                t["waits"].append(seconds(issued, called))
            if state == "done":
                t["services"].append(seconds(started, finished))
        procedure = dict(lite.execute("SELECT code, procedure_code FROM dossiers"))
        attached = {(tid, code): p for tid, code, p in lite.execute(
            "SELECT ticket_id, code, procedure_code FROM ticket_dossiers")}
        for status, level, weight, ticket_id, dossiers in lite.execute(
                "SELECT status, level, weight, ticket_id, dossiers FROM ratings WHERE day BETWEEN ? AND ?", days):
            if status != "counted":
                t[status] += 1
                continue
            t["levels"][level - 1] += 1
            t["weights"].append(weight)
            if dossiers is None:
                t["without"] += 1
                continue
            for proc in {procedure.get(code) or attached.get((ticket_id, code)) or ""
                         for code in json.loads(dossiers)}:
                p = t["procedures"].setdefault(proc, {"levels": [0, 0, 0, 0], "weights": []})
                p["levels"][level - 1] += 1
                p["weights"].append(weight)
        steps: dict[str, list] = {}
        for code, step, at in lite.execute("SELECT code, step, at FROM dossier_steps ORDER BY code, seq"):
            steps.setdefault(code, []).append((step, datetime.fromisoformat(at)))
        apologies = {code: (date.fromisoformat(new), datetime.fromisoformat(issued)) for code, new, issued in
                     lite.execute("SELECT code, new_due_at, issued_at FROM dossier_apologies")}
        for code, received, due in lite.execute("SELECT code, received_at, due_at FROM dossiers"):
            first_due = date.fromisoformat(due)
            if start <= datetime.fromisoformat(received) < end:
                d["received"] += 1
            before = [(s, a) for s, a in steps.get(code, []) if a < end]
            if not before:
                continue
            run = []
            for s, a in reversed(before):          # the last run of clock-stopped steps
                if s not in STOPPED:
                    break
                run.insert(0, (s, a))
            apology = apologies.get(code)
            apology = apology if apology and apology[1] < end else None
            due_now = apology[0] if apology else first_due
            outcomes = [a for s, a in run if s in OUTCOME]
            if outcomes:
                if not start <= outcomes[0] < end:
                    continue                       # settled before the period
                stopped_on = run[0][1].astimezone(TZ).date()
                d["settled"] += 1
                d["late" if stopped_on > due_now else "on_time" if stopped_on == due_now else "early"] += 1
                last_day = stopped_on
            elif run:
                d["waiting_citizen"] += 1
                last_day = None
            else:
                d["pending"] += 1
                d["pending_overdue"] += as_of_day > due_now
                last_day = as_of_day
            if last_day is not None and last_day > first_due:
                d["missed_original"] += 1
                if apology:
                    d["with_apology"] += 1
                    d["apology_day_before"] += apology[1].astimezone(TZ).date() <= first_due - timedelta(days=1)
        lite.close()
    t["dossiers"] = d
    return t


def test_the_province_total_equals_the_pooled_rows_computed_independently(world, by_centre):
    """The province line is the centres' rows pooled (the median of every wait of
    every centre, not a mean of medians), computed here without report_figures."""
    total = by_centre.total
    for period, s, q, f in ((PERIOD, total.satisfaction, total.queue, total.dossiers),
                            (PREVIOUS, total.satisfaction_previous, total.queue_previous,
                             total.dossiers_previous)):
        e = pooled(world, period)
        assert (q.issued, q.served, q.no_show, q.expired, q.lapsed, q.open, q.transferred, q.waited) == (
            e["issued"], e["done"], e["no_show"], e["expired"], e["lapsed"], e["open"], e["transferred"],
            e["called"])
        for got, values, p in ((q.wait_median, e["waits"], 50), (q.wait_p90, e["waits"], 90),
                               (q.service_median, e["services"], 50), (q.service_p90, e["services"], 90)):
            assert got == pytest.approx(pct(values, p), abs=1e-3)
        counted = sum(e["levels"])
        assert s.levels[:4] == e["levels"] and s.counted == counted
        assert (s.duplicate, s.unprompted) == (e["duplicate"], e["unprompted"])
        assert s.index == pytest.approx(sum(e["weights"]) / counted, abs=1e-9)
        assert s.share_satisfied == pytest.approx(100 * sum(e["levels"][:2]) / counted)
        assert s.response_rate == pytest.approx(100 * counted / e["done"])
        assert ranking.no_show_rate(q) == pytest.approx(100 * e["no_show"] / e["called"])
        assert dataclasses.asdict(f) == e["dossiers"]
        assert f.share_on_time == pytest.approx(100 * (e["dossiers"]["early"] + e["dossiers"]["on_time"])
                                                / e["dossiers"]["settled"])
        # not a mean of the centres' figures: the pooled figure is its own
        reports = [by_centre.reports[c.id] for c in CENTRES if by_centre.reports[c.id].queue_previous.issued
                   or period == PERIOD]
        if period == PERIOD:
            assert s.index != pytest.approx(statistics.mean(r.satisfaction.index for r in reports), abs=0.01)
            assert q.wait_p90 != pytest.approx(statistics.mean(r.queue.wait_p90 for r in reports), abs=0.01)
    e = pooled(world, PERIOD)
    got = {g.code: g.satisfaction for g in total.satisfaction_by_procedure}
    assert set(got) == set(e["procedures"]) and "" in got      # '' : codes the mirror does not have
    for code, p in e["procedures"].items():
        assert got[code].levels[:4] == p["levels"], code
        assert got[code].index == pytest.approx(statistics.mean(p["weights"]), abs=1e-9)
    assert total.rated_without_dossier.counted == e["without"]


def held(world, period: Period) -> dict[str, dict[str, int]]:
    """Numbers from afar and bookings per service, from the union of the centres' own
    databases with plain SQL, by docs/reports.md's definitions written out here:
    a number by the day it was taken for, a booking by its slot's day."""
    out: dict[str, dict[str, int]] = {}
    days = [period.start.isoformat(), period.end.isoformat()]
    for site in world.sites.values():
        lite = sqlite3.connect(site.database)
        for service, state, n in lite.execute("SELECT service, state, count(*) FROM tickets "
                                              "WHERE origin = 'remote' AND day BETWEEN ? AND ? GROUP BY 1, 2", days):
            f = out.setdefault(service, dict.fromkeys(FIGURES, 0))
            f["remote"] += n
            f["remote_lapsed" if state == "lapsed" else "remote_open" if state == "reserved"
              else "remote_checked_in"] += n      # checked in, whatever happened after
        for service, state, n in lite.execute("SELECT service, state, count(*) FROM bookings "
                                              "WHERE day BETWEEN ? AND ? GROUP BY 1, 2", days):
            f = out.setdefault(service, dict.fromkeys(FIGURES, 0))
            f["booked"] += n
            f[{"checked_in": "booking_checked_in", "lapsed": "booking_lapsed", "cancelled": "booking_cancelled",
               "booked": "booking_open"}[state]] += n
        lite.close()
    return out


FIGURES = ("remote", "remote_checked_in", "remote_lapsed", "remote_open", "booked", "booking_checked_in",
           "booking_lapsed", "booking_cancelled", "booking_open")


def test_numbers_from_afar_and_bookings_of_the_province_equal_the_pooled_rows(world, by_centre, conn):
    """Issue 14 at the province: per service and in total, every figure of numbers
    taken from afar and of bookings is the count of the centres' own rows."""
    sites = report_pg.site_records(conn)
    psite = ranking.province_site("hue", "Thành phố Huế", "Asia/Ho_Chi_Minh", sites.values())
    pooled_source = report_pg.PostgresSource(conn, TZ, [c.id for c in CENTRES] + [SILENT[0]])
    for period in (PERIOD, PREVIOUS, AHEAD):
        want = held(world, period)
        report = by_centre.total if period == PERIOD else report_from(pooled_source, psite, period, None, NOW)
        got = {code: dataclasses.asdict(f) for code, _, f in report.holds_by_service}
        assert got == want, period
        assert dataclasses.asdict(report.holds) == {k: sum(f[k] for f in want.values()) for k in FIGURES}
        if period == PERIOD:
            assert report.holds.remote > 50 and report.holds.booked > 50 and {"HT", "CT"} <= set(got)
            assert dataclasses.asdict(by_centre.total.holds_previous) == {
                k: sum(f[k] for f in held(world, PREVIOUS).values()) for k in FIGURES}
        if period == AHEAD:
            assert report.holds.booking_open > 0
    conn.commit()


def test_no_phone_reaches_the_provinces_database(world, pg_cluster):
    """The phone a citizen gave for a number from afar or a booking (issue 14) is
    kept only at the centre, in `phones`, while it lives: a pg_dump of the
    province's database holds none of them, however it was typed, while it does
    hold the bookings and the numbers from afar themselves."""
    dump = pg_cluster.dump("province_report_test")
    typed = [p for ps in world.phones.values() for p in ps]
    assert len(typed) > 300
    digits = {"".join(ch for ch in p if ch.isdigit()) for p in typed}
    national = {("0" + d[2:]) if d.startswith("84") else d for d in digits}
    looked_for = set(typed) | national | {n[1:] for n in national} | {"84" + n[1:] for n in national}
    found = sorted(p for p in looked_for if p in dump)
    assert not found, f"phones in the province's database: {found[:5]}"
    # the grep looks where a phone would be: the bookings and the tickets from afar are there
    assert "COPY public.bookings " in dump and "remote" in dump
    for cid in world.phones:     # some phones were still held at the centre when it shipped
        with sqlite3.connect(world.sites[cid].database) as lite:
            kept = [p for (p,) in lite.execute("SELECT phone FROM phones")]
        assert cid == "xa-a-luoi-1" or kept
        assert not [p for p in kept if p in dump]


def test_reading_side_by_side_gives_the_same_report(world, by_centre):
    """The command's way: four more connections in the main one's snapshot read
    the rows side by side; the report is the one read by a single connection."""
    opened = []

    def more():
        opened.append(report_pg.connect(world.dsn))
        return opened[-1]
    with report_pg.connect(world.dsn) as conn:
        fast = report_pg.build_province_report(conn, world.province, PERIOD, "centre", NOW,
                                               open_connection=more, fetchers=4)
    assert 1 <= len(opened) <= 4 and all(c.closed for c in opened)
    assert differences(by_centre.total, fast.total) == []
    for c in CENTRES:
        assert differences(by_centre.reports[c.id], fast.reports[c.id]) == []
    assert [(r.key, r.rank) for r in by_centre.centres] == [(r.key, r.rank) for r in fast.centres]


def test_centres_are_ranked_by_index_and_the_thin_ones_listed_after(world, by_centre):
    rows = by_centre.centres
    assert [r.key for r in rows if r.rank is not None] == [
        c for c, _ in sorted(((c.id, by_centre.reports[c.id].satisfaction.index) for c in CENTRES
                              if by_centre.reports[c.id].satisfaction.counted >= 30), key=lambda x: -x[1])]
    assert [r.rank for r in rows] == [1, 2, 3, None, None]
    # the two-day centre has ratings, but fewer than 30; the silent one has none
    thin = next(r for r in rows if r.key == "xa-a-luoi-1")
    assert 0 < thin.current.satisfaction.counted < 30 and thin.rank is None
    silent = next(r for r in rows if r.key == SILENT[0])
    assert silent.current.queue.issued == 0 and silent.label == SILENT[1]
    assert [r.key for r in rows[3:]] == ["xa-a-luoi-1", "xa-chua-gui"]     # alphabetical: A Lưới, Chưa Gửi
    # the thin centre is still in the province's total
    assert by_centre.total.queue.issued == sum(r.queue.issued for r in by_centre.reports.values())


def test_officers_of_every_centre_ranked_with_their_centre(world, conn):
    pr = report_pg.build_province_report(conn, world.province, PERIOD, "officer", NOW)
    assert pr.groups and all(r.centre for r in pr.groups)
    keys = [r.key for r in pr.groups]
    assert len(keys) == len(set(keys))           # cb01 of two centres: two rows
    assert {k.split("/")[1] for k in keys if k.startswith("phuong-an-cuu/")} & \
           {k.split("/")[1] for k in keys if k.startswith("xa-phu-vinh/")}
    for c in CENTRES:
        want = {g.key: g for g in centre_report(world, c.id, PERIOD, "officer").groups if g.key}
        before = {g.key: g for g in centre_report(world, c.id, PREVIOUS, "officer").groups if g.key}
        rows = {r.key.split("/", 1)[1]: r for r in pr.groups if r.key.startswith(c.id + "/")}
        assert set(rows) == set(want)
        for key, row in rows.items():
            assert row.centre == c.name
            assert differences(want[key].satisfaction, row.current.satisfaction) == []
            assert differences(want[key].queue, row.current.queue) == []
            if key in before:
                assert differences(before[key].satisfaction, row.previous.satisfaction) == []
    ranked = [r for r in pr.groups if r.rank is not None]
    assert all(r.current.satisfaction.counted >= 30 for r in ranked)
    indexes = [r.current.satisfaction.index for r in ranked]
    assert indexes == sorted(indexes, reverse=True) and len(ranked) > 10


def test_services_pooled_by_code_across_the_province(world, conn):
    pr = report_pg.build_province_report(conn, world.province, PERIOD, "service", NOW)
    by_code = {r.key: r for r in pr.groups}
    days = [PERIOD.start.isoformat(), PERIOD.end.isoformat()]
    for code in ("HT", "CT", "DD"):
        issued, counted, weights, waits = 0, 0, [], []
        for site in world.sites.values():
            lite = sqlite3.connect(site.database)
            for issued_at, called in lite.execute("SELECT coalesce(checked_in_at, issued_at), first_called_at "
                                                  "FROM tickets WHERE service = ? AND day BETWEEN ? AND ?",
                                                  [code, *days]):
                issued += 1
                if called:
                    waits.append(seconds(issued_at, called))
            for (w,) in lite.execute("SELECT weight FROM ratings WHERE service = ? AND status = 'counted' "
                                     "AND day BETWEEN ? AND ?", [code, *days]):
                weights.append(w)
            lite.close()
        row = by_code[code]
        assert row.current.queue.issued == issued
        assert row.current.satisfaction.counted == len(weights)
        assert row.current.satisfaction.index == pytest.approx(statistics.mean(weights))
        assert row.current.queue.wait_median == pytest.approx(pct(waits, 50), abs=1e-3)
        assert row.previous is not None and row.previous.queue.issued > 0
    assert by_code["HT"].label == "HT – Hộ tịch"


# -- the command -----------------------------------------------------------------------------------


def test_the_command_prints_the_ranking_and_writes_the_files(world, by_centre, tmp_path):
    xlsx, csv_path, chart = tmp_path / "tinh.xlsx", tmp_path / "tinh.csv", tmp_path / "xep-hang.png"
    done = subprocess.run([sys.executable, "-m", "motcua", "province", "report", "--province", str(world.path),
                           "--from", "01/11/2026", "--to", "2026-11-20", "--by", "officer",
                           "--xlsx", str(xlsx), "--csv", str(csv_path), "--chart", str(chart)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "BÁO CÁO TOÀN TỈNH – Thành phố Huế" in text and "01/11/2026 – 20/11/2026" in text
    assert "1. TOÀN TỈNH" in text and "XẾP HẠNG CÁN BỘ" in text
    ranked = [r.label for r in by_centre.ranked]
    section = text.split("2. XẾP HẠNG TRUNG TÂM")[1].split("3. HÀNG ĐỢI")[0]
    positions = [section.index(name) for name in ranked]
    assert positions == sorted(positions)
    assert "2 trung tâm chưa đủ 30 đánh giá" in section
    top = by_centre.ranked[0].current.satisfaction.index
    assert f"{top:.1f}".replace(".", ",") in section.splitlines()[3]
    # numbers from afar and bookings (issue 14): per service for the province, then per centre
    h = by_centre.total.holds
    remote = text.split("4b. LẤY SỐ TỪ XA VÀ LỊCH HẸN THEO LĨNH VỰC")[1].split("4c.")[0]
    last = remote.strip().splitlines()[-1].split()
    assert last[:2] == ["Toàn", "tỉnh"] and [int(v.replace(" ", "")) for v in last[2:]] == [
        getattr(h, f) for f in FIGURES]
    per_centre = text.split("4c. LẤY SỐ TỪ XA VÀ LỊCH HẸN THEO TRUNG TÂM")[1].split("5. ")[0]
    assert all(c.name in per_centre for c in CENTRES)

    from openpyxl import load_workbook
    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["Xếp hạng trung tâm", "Toàn tỉnh", "Cán bộ", "Từ xa theo lĩnh vực",
                             "Từ xa theo trung tâm", "Thông tin"]
    ws = wb["Từ xa theo trung tâm"]
    rows = {r[0]: r[1:] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert list(rows["Toàn tỉnh"]) == [getattr(by_centre.total.holds, f) for f in FIGURES]
    for c in CENTRES:
        assert list(rows[c.name]) == [getattr(by_centre.reports[c.id].holds, f) for f in FIGURES]
    ws = wb["Xếp hạng trung tâm"]
    head = [c.value for c in ws[1]]
    assert head[:2] == ["Trung tâm", "Hạng"]
    i = head.index("Chỉ số hài lòng (0–100) – kỳ này")
    assert head[i + 1].endswith("kỳ trước") and head[i + 2].endswith("chênh lệch")
    first = [c.value for c in ws[2]]
    assert first[0] == ranked[0] and first[1] == 1
    assert first[i] == pytest.approx(top) and first[i + 2] == pytest.approx(top - first[i + 1])
    last = [c.value for c in ws[ws.max_row]]
    assert last[0] == "Toàn tỉnh" and ws.cell(ws.max_row, 1).font.bold
    assert last[i] == pytest.approx(by_centre.total.satisfaction.index)
    j = head.index("Tỷ lệ giải quyết đúng hạn – kỳ này")
    assert ws.cell(2, j + 1).number_format == "0.0%" and 0 < first[j] <= 1
    assert wb["Toàn tỉnh"].max_row > 30

    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    idx = {(r["group_by"], r["key"], r["measure"], r["period"]): r["value"] for r in rows}
    assert float(idx[("province", "", "index", "current")]) == pytest.approx(by_centre.total.satisfaction.index,
                                                                             abs=1e-4)
    assert idx[("centre", by_centre.ranked[0].key, "rank", "current")] == "1"
    assert idx[("centre", "xa-chua-gui", "rank", "current")] == ""
    assert any(k[0] == "officer" for k in idx)
    remote = {(r["group_by"], r["key"], r["measure"], r["period"]): r["value"] for r in rows
              if r["section"] == "remote"}
    for f in FIGURES:
        assert int(remote[("province", "", f, "current")]) == getattr(by_centre.total.holds, f)
        assert int(remote[("province", "", f, "previous")]) == getattr(by_centre.total.holds_previous, f)
        assert int(remote[("centre", "phuong-an-cuu", f, "current")]) == getattr(
            by_centre.reports["phuong-an-cuu"].holds, f)
        assert int(remote[("service", "HT", f, "current")]) == getattr(
            dict((c, x) for c, _, x in by_centre.total.holds_by_service)["HT"], f)

    png = chart.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_clear_errors(world, tmp_path, capsys):
    def run(*args):
        return cli.main(["province", "report", "--province", str(world.path), *args])
    assert run("--from", "2026-11-20", "--to", "2026-11-01") == 2
    assert "is after --to" in capsys.readouterr().err
    assert run("--xlsx", str(tmp_path / "nope" / "x.xlsx")) == 2
    assert "does not exist" in capsys.readouterr().err
    assert run("--min-ratings", "0") == 2
    assert "--min-ratings 0" in capsys.readouterr().err
    assert run("--by", "hour") == 2
    assert "invalid choice: 'hour'" in capsys.readouterr().err
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(world.path.read_text(encoding="utf-8").replace(
        f'dsn = "{world.dsn}"', 'dsn = "postgresql:///nothing?host=/tmp/no-such-dir&port=1"'), encoding="utf-8")
    assert cli.main(["province", "report", "--province", str(wrong)]) == 2
    err = capsys.readouterr().err
    assert "cannot open the province's database" in err and "[database] dsn" in err


# -- an older centre and an older hub, both upgraded (issue 14) ------------------------------------


def _centre_of_schema_9(site, path: Path) -> None:
    """A centre database as motcua left it before migration 10: the outbox of
    migration 8 (tickets without their new columns, no bookings), written by the
    store of then (the same code, into a version-9 file) through the engine: a day
    of walk-ins, numbers from afar (checked in, lapsed), bookings (checked in,
    lapsed, cancelled, booked ahead), calls."""
    from motcua.engine import Engine
    from motcua.store import Store
    from support.centre_db import database_at_version
    db = database_at_version(path, 9)
    store = Store.__new__(Store)
    store.db, store._upsert_sql, store._since_checkpoint, store.path = db, {}, 0, path
    # the site record as the code of then wrote it at start: without the kinds it ships
    then = {k: v for k, v in outbox.site_body(site).items() if k != "kinds"}
    with db.atomic():
        db.execute("INSERT INTO outbox(kind, body) VALUES ('site', ?)", [json.dumps(then, ensure_ascii=False)])
    engine = Engine(site, store.load_state())
    t0 = datetime(2026, 11, 23, 8, 0, tzinfo=TZ)              # a Monday

    def at(minutes):
        return t0 + timedelta(minutes=minutes)
    store.commit(*engine.sign_in(1, "cb01", at(0), "Cán bộ 01"))
    store.commit(*engine.sign_in(2, "cb02", at(0), "Cán bộ 02"))
    for i, svc in enumerate(("HT", "CT", "HT")):
        store.commit(*engine.reserve(svc, f"09120000{i:02d}", at(i), device="web"))
    store.commit(*engine.create_booking("HT", "2026-11-23", "09:00", "0912000010", at(1), device="web"))
    store.commit(*engine.create_booking("HT", "2026-11-23", "09:30", "0912000011", at(2), device="web"))
    store.commit(*engine.create_booking("CT", "2026-11-24", "08:10", "0912000012", at(3), device="web"))
    store.commit(*engine.create_booking("CT", "2026-11-24", "08:30", "0912000013", at(4), device="web"))
    store.commit(*engine.cancel_booking(4, at(5)))
    for i in range(6):
        store.commit(*engine.issue(("HT", "CT")[i % 2], at(5 + i), device="kiosk-1"))
    store.commit(*engine.check_in("1001", at(20)))
    store.commit(*engine.check_in("2001", at(30)))
    store.commit(*engine.check_in_booking(1, at(55), device="kiosk-1"))
    for i in range(8):
        for c in (1, 2):
            try:
                store.commit(*engine.call_next(c, at(60 + 10 * i)))
            except Exception:
                continue
            store.commit(*engine.start(c, at(61 + 10 * i)))
            store.commit(*engine.done(c, at(66 + 10 * i)))
    store.commit(*engine.tick(at(240)))                        # the 09:30 booking lapses (1002 has)
    db.conn.close()


def write_province_file(folder: Path, dsn: str, centres: list[tuple[str, str]]):
    lines = ['[province]', 'id = "hue"', 'name = "Thành phố Huế"', 'timezone = "Asia/Ho_Chi_Minh"',
             f'data_dir = "{folder}"', '', '[database]', f'dsn = "{dsn}"', '',
             '[hub]', 'password = "test-hub-secret-1"', '', '[board]', 'password = "test-board-secret-1"', '']
    for cid, name in centres:
        lines += ['[[centres]]', f'id = "{cid}"', f'name = "{name}"', f'password = "pw-{cid}-secret"', '']
    path = folder / "province.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return load_province(path)


def _old_hub(dsn: str):
    """The province's database as the hub of before issue 14 made it and stored into
    it: migration 1 only, and its projections (every kind's upsert without the columns
    of the centre's schema 10; no bookings)."""
    import dataclasses as dc
    from motcua.province import ingest, store as hub_store
    conn = psycopg.connect(dsn)
    with conn.transaction():
        conn.execute(hub_store.STEPS[0].sql)
        conn.execute("CREATE TABLE hub_schema (version integer PRIMARY KEY, what text NOT NULL, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        conn.execute("INSERT INTO hub_schema(version, what) VALUES (1, %s)", [hub_store.STEPS[0].what])
    new = {"ticket": ("origin", "booking", "checked_in_at"), "counter": ("booking_run",)}
    old_kinds = {k: dc.replace(kind, fields={f: t for f, t in kind.fields.items() if f not in new.get(k, ())})
                 for k, kind in ingest.KINDS.items() if k != "booking"}
    projections = [hub_store._upsert(old_kinds[k]) for k in ("event", "ticket", "counter", "rating", "site")]

    def store_old(payload: bytes) -> int:
        body = json.loads(payload)
        assert all(r["kind"] in old_kinds for r in body["records"])     # the old hub refused any other
        with conn.transaction():
            conn.execute(hub_store.NEW_RECORDS)
            conn.execute(hub_store.INSERT_RECORDS, {"payloads": [payload.decode()],
                                                    "citizen": list(ingest.CITIZEN_KEYS)})
            for sql in projections:
                conn.execute(sql)
            conn.execute("INSERT INTO centres (id, acked) VALUES (%s, %s) ON CONFLICT (id) DO UPDATE "
                         "SET acked = excluded.acked", [body["centre"], body["last"]])
            conn.execute("DROP TABLE new_records")
        return body["last"]
    return conn, store_old


def test_an_older_centre_and_an_older_hub_upgrade_and_agree(pg_database, tmp_path):
    """Issue 14 after the fact: a centre that took numbers from afar and bookings
    under schema 9 shipped what it shipped then to a hub of before (no bookings, no
    origins); the centre upgraded first and its first new records reached the old
    hub (their origins kept only in `records`); then the hub upgraded. The hub's
    migration 2 fills the origins from the records, the centre's migration 10 has
    copied its bookings and origins in once, and what follows is shipped by the new
    triggers: the province's report of the centre then equals `motcua report` on
    its own file, numbers from afar and bookings included, and no phone is stored."""
    from motcua.province import store as hub_store
    from motcua.store import Store
    site = load_site(write_site(tmp_path, 18830, replace={'id = "hcc-demo"': 'id = "xa-cu"'}))
    path = site.database
    path.parent.mkdir(parents=True, exist_ok=True)
    _centre_of_schema_9(site, path)
    conn, store_old = _old_hub(pg_database)
    db = CentreDatabase(path)
    acked = store_old(db.batch(site.id, 1, db.head())[1])       # everything of schema 9 (one batch)
    db.close()
    assert acked > 50

    Store(path).close()                                          # the centre upgrades: migration 10
    db = CentreDatabase(path)
    copied = json.loads(db.batch(site.id, acked + 1, db.head())[1])["records"]
    lite = sqlite3.connect(path)
    (counters,) = lite.execute("SELECT count(*) FROM counters").fetchone()
    (held,) = lite.execute("SELECT count(*) FROM tickets WHERE origin IS NOT NULL").fetchone()
    lite.close()
    assert [r["kind"] for r in copied] == ["counter"] * counters + ["ticket"] * held + ["booking"] * 4
    assert {r["body"]["origin"] for r in copied if r["kind"] == "ticket"} == {"remote", "booking"} and held == 4
    # the tickets' copies reach the old hub in a batch of their own (one with bookings it would refuse)
    acked = store_old(db.batch(site.id, acked + 1, acked + counters + held)[1])
    assert conn.execute("SELECT count(*) FROM records WHERE kind = 'ticket' AND body ? 'origin'").fetchone()[0] \
        == held
    assert hub_store.version(conn) == 1
    conn.close()

    hub = hub_store.HubStore(pg_database).open()                 # the hub upgrades: its migration 2
    assert hub_store.version(hub.conn) == hub_store.VERSION >= 2
    got = dict(hub.conn.execute("SELECT id, origin FROM tickets WHERE origin IS NOT NULL").fetchall())
    hub.conn.commit()
    want = dict(sqlite3.connect(path).execute("SELECT id, origin FROM tickets WHERE origin IS NOT NULL"))
    assert got == want and set(want.values()) == {"remote", "booking"}
    hub.conn.commit()

    # Until the centre's new site record arrives the hub cannot know its bookings: no figure, not a zero
    province = write_province_file(tmp_path, pg_database, [(site.id, "Xã Cũ")])
    day = Period(date(2026, 11, 23), date(2026, 11, 23))
    with report_pg.connect(pg_database) as rconn:
        assert report_pg.PostgresSource(rconn, site.tz, [site.id]).holds(day) is None
        pr = report_pg.build_province_report(rconn, province, day, "centre", datetime(2026, 11, 23, 16, 0, tzinfo=TZ))
    assert pr.reports[site.id].holds is None and pr.total.holds is None
    from motcua.province import report_output as pout
    assert not pout.holds_known(pr) and "4b." not in pout.format_text(pr)
    # beside an upgraded centre (its site record lists `booking`): its figures, the old one's —, no total
    with psycopg.connect(pg_database) as w:
        w.execute("INSERT INTO sites (centre, rec_seq, id, name, timezone, body) VALUES ('xa-moi', 1, 'xa-moi', "
                  "'Xã Mới', 'Asia/Ho_Chi_Minh', %s)", [json.dumps({"kinds": ["booking"], "services": []})])
        w.execute("INSERT INTO bookings (centre, rec_seq, id, day, service, time, ends, state) VALUES "
                  "('xa-moi', 2, 1, '2026-11-23', 'HT', '08:00', '08:30', 'checked_in')")
    two = write_province_file(tmp_path, pg_database, [(site.id, "Xã Cũ"), ("xa-moi", "Xã Mới")])
    with report_pg.connect(pg_database) as rconn:
        pr = report_pg.build_province_report(rconn, two, day, "centre", datetime(2026, 11, 23, 16, 0, tzinfo=TZ))
    assert pr.total.holds is None and pr.reports["xa-moi"].holds.booking_checked_in == 1
    text = pout.format_text(pr)
    assert "Chưa có số liệu toàn tỉnh: 1 trung tâm chưa gửi" in text and "Xã Cũ." in text
    lines = {l.split("  ")[0]: l for l in text.split("4c.")[1].splitlines()}
    assert lines["Xã Cũ"].split()[2:] == ["—"] * 9 and lines["Toàn tỉnh"].split()[2:] == ["—"] * 9
    assert lines["Xã Mới"].split()[2:] == ["0", "0", "0", "0", "1", "1", "0", "0", "0"]
    rows = [r for r in pout.csv_rows(pr) if r[0] == "remote"]
    assert {r[-1] for r in rows} == {"xa-moi"}
    province = write_province_file(tmp_path, pg_database, [(site.id, "Xã Cũ")])

    centre = Store(path)                                         # the centre starts: its site record of now
    assert outbox.record_site(centre.db, site)
    centre.close()
    head = db.head()
    while acked < head:                                          # the rest, bookings first, by the new hub
        last, payload = db.batch(site.id, acked + 1, head)
        hub.store([parse_batch(f"motcua/{site.id}/ship/batch", payload)], [payload.decode()])
        acked = last
    assert hub.acked(site.id) == head
    db.close()
    hub.close()

    rconn = report_pg.connect(pg_database)
    for period in (Period(date(2026, 11, 23), date(2026, 11, 23)), Period(date(2026, 11, 23), date(2026, 11, 29))):
        lite = sqlite3.connect(path)
        want = build_report(lite, site, period, now=datetime(2026, 11, 23, 16, 0, tzinfo=TZ))
        lite.close()
        got = report_from(report_pg.PostgresSource(rconn, site.tz, [site.id]), site, period, None,
                          datetime(2026, 11, 23, 16, 0, tzinfo=TZ))
        assert differences(want, got) == [], period
    h = want.holds
    assert (h.remote, h.remote_checked_in, h.remote_lapsed, h.booked, h.booking_checked_in, h.booking_lapsed,
            h.booking_cancelled, h.booking_open) == (3, 2, 1, 4, 1, 1, 1, 1)
    assert want.queue.waited and want.queue.lapsed == 1
    pr = report_pg.build_province_report(rconn, province, period, "centre", datetime(2026, 11, 23, 16, 0, tzinfo=TZ))
    assert differences(pr.total.holds, want.holds) == [] and pr.reports[site.id].holds == want.holds
    text = json.dumps(rconn.execute("SELECT json_agg(r) FROM records r").fetchone()[0])
    rconn.close()
    assert "09120000" not in text and "912000" not in text

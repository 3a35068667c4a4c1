#!/usr/bin/env python3
"""Manager report benchmark: a full monthly report over a year of a large centre.

    .venv/bin/python benchmarks/bench_report.py
    .venv/bin/python benchmarks/bench_report.py --db /tmp/big.db --runs 9 --by officer

Not a test: it prints figures. It builds (once; the file is kept and reused
while its size parameters match) a centre database of one year, 2025-11-01 to
2026-10-31, working days Monday to Friday: 500,000 tickets, 400,000 rating
rows and 100,000 dossiers by default, with the schema of motcua.store (all
its migrations) and motcua.dossiers.DossierStore. The rows are inserted
directly with executemany, not through the engine: driving half a million
tickets through the engine and the store, as the tests do for a month, would
take tens of minutes and measure the engine, not the report. The event log is
left empty (reports do not read it).

Then it times motcua.reports.build_report for October 2026 (all sections,
with the comparison with the 31 days before), through a fresh connection to
the file as `motcua report` opens it, --runs times, and prints the median and
max wall time with the rows each section read. The first run is counted
(the page cache is warm from the build; a cold disk is slower).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import percentile  # noqa: E402
from motcua.config import load_site  # noqa: E402
from motcua.dossiers import DossierStore  # noqa: E402
from motcua.reports import Period, build_report  # noqa: E402
from motcua.store import Store  # noqa: E402

SITE = ROOT / "examples" / "site.toml"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
YEAR_START, YEAR_END = date(2025, 11, 1), date(2026, 10, 31)
REPORT = Period(date(2026, 10, 1), date(2026, 10, 31))
SERVICE_WEIGHTS = {"HT": 22, "CT": 30, "DD": 12, "XD": 5, "KD": 6, "CU": 9, "LLTP": 5, "XH": 4, "TKQ": 7}
OFFICERS = [f"cb{n:02d}" for n in range(1, 25)]
PROCEDURES = [  # (code, name, field, working days allowed)
    ("1.001193", "Đăng ký khai sinh", "Hộ tịch", 1),
    ("1.000894", "Đăng ký kết hôn", "Hộ tịch", 3),
    ("1.004873", "Xác nhận tình trạng hôn nhân", "Hộ tịch", 3),
    ("1.004859", "Thay đổi, cải chính, bổ sung thông tin hộ tịch", "Hộ tịch", 3),
    ("2.000815", "Chứng thực bản sao từ bản chính", "Chứng thực", 1),
    ("2.000884", "Chứng thực chữ ký", "Chứng thực", 1),
    ("2.001035", "Chứng thực hợp đồng, giao dịch liên quan đến tài sản", "Chứng thực", 2),
    ("1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Xây dựng", 15),
    ("1.009995", "Gia hạn giấy phép xây dựng", "Xây dựng", 5),
    ("2.000889", "Đăng ký biến động quyền sử dụng đất", "Đất đai", 10),
    ("1.004227", "Đăng ký thành lập hộ kinh doanh", "Đăng ký kinh doanh", 3),
    ("1.004194", "Đăng ký tạm trú", "Cư trú", 3),
    ("2.000488", "Cấp Phiếu lý lịch tư pháp", "Lý lịch tư pháp", 10),
    ("1.001776", "Trợ cấp xã hội hằng tháng", "Bảo trợ xã hội và người có công", 7),
]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hùng", "Lan", "Minh", "Nhung", "Phúc", "Thảo"]


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def working_days(start: date, end: date) -> list[date]:
    out, d = [], start
    while d <= end:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def add_working_days(d: date, n: int) -> date:
    while n > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            n -= 1
    return d


def arrival(rng: random.Random, day: date) -> datetime:
    """Most citizens come in the morning; a smaller afternoon peak."""
    if rng.random() < 0.62:
        minutes = rng.triangular(7 * 60 + 30, 11 * 60 + 30, 8 * 60 + 45)
    else:
        minutes = rng.triangular(13 * 60 + 30, 16 * 60 + 45, 14 * 60 + 30)
    return datetime.combine(day, datetime.min.time(), TZ) + timedelta(minutes=minutes)


def build(path: Path, n_tickets: int, n_ratings: int, n_dossiers: int, seed: int) -> dict:
    site = load_site(SITE)
    rng = random.Random(seed)
    if path.exists():
        path.unlink()
    store = Store(path, synchronous="OFF")
    DossierStore(store.db, site.dossiers, site.timezone)  # its tables
    conn = store.db.conn
    days = working_days(YEAR_START, YEAR_END)
    counters_of = {s.code: [c.number for c in site.counters if s.code in c.services] for s in site.services}
    services, weights = zip(*SERVICE_WEIGHTS.items())
    levels = site.rating_levels

    # tickets: spread evenly over the working days
    per_day = [n_tickets // len(days) + (1 if i < n_tickets % len(days) else 0) for i in range(len(days))]
    # ratings are a share of the done tickets; computed to reach n_ratings in total
    tid, seq_of_pad = 0, {}
    ticket_rows, rating_rows, done = [], [], []
    for day, count in zip(days, per_day):
        officer_at = dict(zip(range(1, 13), rng.sample(OFFICERS, 12)))
        numbers = {}
        for at in sorted(arrival(rng, day) for _ in range(count)):
            tid += 1
            svc = rng.choices(services, weights)[0]
            block = site.service(svc)
            numbers[svc] = numbers.get(svc, block.start - 1) + 1
            number = numbers[svc]
            r = rng.random()
            state = "done" if r < 0.89 else "no_show" if r < 0.95 else "expired"
            transfers = 1 if state == "done" and rng.random() < 0.03 else 0
            counter = rng.choice(counters_of[svc])
            wait = rng.expovariate(1 / 600)
            first_called = at + timedelta(seconds=wait)
            row = {"id": tid, "day": day.isoformat(), "service": svc, "number": number, "label": str(number),
                   "priority": "cao_tuoi" if rng.random() < 0.06 else None, "state": state,
                   "issued_at": iso(at), "order_at": iso(at), "device": "kiosk-1", "called_at": None,
                   "first_called_at": None, "started_at": None, "finished_at": None, "counter": None,
                   "officer": None, "recalls": 0, "transfers": transfers, "original_service": None}
            if state != "expired":
                row.update(counter=counter, officer=officer_at[counter], called_at=iso(first_called),
                           first_called_at=iso(first_called))
                if state == "done":
                    started = first_called + timedelta(seconds=rng.uniform(20, 90))
                    finished = started + timedelta(seconds=rng.lognormvariate(5.6, 0.55))
                    row.update(started_at=iso(started), finished_at=iso(finished))
                    done.append(row)
                else:
                    row.update(finished_at=iso(first_called + timedelta(minutes=3)))
            else:
                row.update(finished_at=iso(datetime.combine(day + timedelta(days=1), datetime.min.time(), TZ)))
            ticket_rows.append(row)
    # ratings: counted for a share of the done tickets, plus duplicates and unprompted presses
    extra = 0.06
    counted_n = min(len(done), round(n_ratings / (1 + extra)))
    for row in rng.sample(done, counted_n):
        finished = datetime.fromisoformat(row["finished_at"])
        rating_rows.append(_rating(rng, seq_of_pad, row, finished + timedelta(seconds=rng.uniform(2, 40)),
                                   "counted", levels))
    while len(rating_rows) < n_ratings:
        row = rng.choice(done)
        finished = datetime.fromisoformat(row["finished_at"])
        status = "duplicate" if rng.random() < 0.3 else "unprompted"
        rating_rows.append(_rating(rng, seq_of_pad, row, finished + timedelta(seconds=rng.uniform(5, 300)),
                                   status, levels))
    cols = list(ticket_rows[0])
    conn.executemany(f"INSERT INTO tickets({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                     [tuple(r[c] for c in cols) for r in ticket_rows])
    cols = list(rating_rows[0])
    conn.executemany(f"INSERT INTO ratings({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                     [tuple(r[c] for c in cols) for r in rating_rows])
    conn.commit()

    # dossiers
    per_day = [n_dossiers // len(days) + (1 if i < n_dossiers % len(days) else 0) for i in range(len(days))]
    drows, srows, arows = [], [], []
    agency = site.dossiers.agency_code
    for day, count in zip(days, per_day):
        for seq in range(1, count + 1):
            code = f"{agency}-{day:%y%m%d}-{seq:04d}"
            proc, name, fld, allowed = rng.choice(PROCEDURES)
            received = arrival(rng, day)
            due = add_working_days(day, allowed)
            steps = [("received", received)]
            r = rng.random()
            # outcome day: mostly early or on time, some late
            if r < 0.90:
                finish_day = add_working_days(day, rng.randint(0, allowed))
            else:
                finish_day = add_working_days(due, rng.randint(1, 6))
            t = received + timedelta(hours=rng.uniform(1, 5))
            steps.append(("processing", t))
            if rng.random() < 0.04:
                t += timedelta(hours=rng.uniform(2, 30))
                steps.append(("supplement_requested", t))
                t += timedelta(days=rng.uniform(1, 4))
                steps.append(("processing", t))
            done_at = max(t + timedelta(minutes=30), datetime.combine(finish_day, datetime.min.time(), TZ)
                          + timedelta(hours=rng.uniform(8, 16)))
            status = "returned"
            if done_at.date() > YEAR_END + timedelta(days=20):
                status = "processing"  # still open at the end of the data
            else:
                steps.append(("approved", done_at - timedelta(minutes=20)))
                steps.append(("result_ready", done_at))
                steps.append(("returned", done_at + timedelta(days=rng.uniform(0, 3))))
            apology = None
            if finish_day > due and rng.random() < 0.65:
                issued = datetime.combine(due - timedelta(days=rng.choice((3, 2, 1, 1, 0))),
                                          datetime.min.time(), TZ) + timedelta(hours=15)
                issued = max(issued, received + timedelta(hours=1))
                apology = (code, "Cần xác minh thêm thông tin", add_working_days(finish_day, 1).isoformat(),
                           iso(issued))
            drows.append((code, proc, name, fld, f"{rng.choice(FAMILY)} Văn {rng.choice(GIVEN)}",
                          iso(received), due.isoformat(), status, "[]"))
            srows += [(code, i, s, iso(at), "") for i, (s, at) in enumerate(steps, 1)]
            if apology:
                arows.append(apology)
    conn.executemany("INSERT INTO dossiers(code, procedure_code, procedure_name, field, applicant_name, "
                     "received_at, due_at, status, documents) VALUES (?,?,?,?,?,?,?,?,?)", drows)
    conn.executemany("INSERT INTO dossier_steps(code, seq, step, at, note) VALUES (?,?,?,?,?)", srows)
    conn.executemany("INSERT INTO dossier_apologies(code, reason, new_due_at, issued_at) VALUES (?,?,?,?)",
                     arows)
    conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    meta = {"tickets": len(ticket_rows), "ratings": len(rating_rows), "dossiers": len(drows),
            "dossier_steps": len(srows), "apologies": len(arows), "seed": seed}
    store._set_meta("bench_report", meta)
    conn.commit()
    store.close()
    return meta


def _rating(rng, seq_of_pad, ticket: dict, pressed: datetime, status: str, levels) -> dict:
    pad = f"PAD-{ticket['counter']}"
    seq_of_pad[pad] = seq_of_pad.get(pad, 0) + 1
    level = rng.choices(range(1, len(levels) + 1), (58, 27, 9, 6)[:len(levels)])[0]
    local = pressed.astimezone(TZ)
    bound = status != "unprompted"
    return {"rating_id": f"{pad}:1:{seq_of_pad[pad]}", "pad": pad, "boot": 1, "seq": seq_of_pad[pad],
            "counter": ticket["counter"], "prompt": f"T{ticket['id']}" if bound else None, "status": status,
            "ticket_id": ticket["id"] if bound else None, "ticket": ticket["label"] if bound else None,
            "officer": ticket["officer"] if bound else None, "service": ticket["service"] if bound else None,
            "level": level, "level_code": levels[level - 1].code, "weight": levels[level - 1].weight,
            "pressed_at": iso(pressed), "received_at": iso(pressed + timedelta(milliseconds=40)),
            "day": local.date().isoformat(), "hour": local.hour}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default=os.path.join(tempfile.gettempdir(), "motcua-bench-report.db"),
                   help="the database to build or reuse (default: a file in the temp folder)")
    p.add_argument("--tickets", type=int, default=500_000)
    p.add_argument("--ratings", type=int, default=400_000)
    p.add_argument("--dossiers", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--runs", type=int, default=7, help="timed reports")
    p.add_argument("--by", choices=["counter", "officer", "service", "day", "hour"], default="counter",
                   help="the grouping of the timed report (default counter)")
    p.add_argument("--rebuild", action="store_true", help="build the database again even if it matches")
    args = p.parse_args()
    path = Path(args.db)
    wanted = {"tickets": args.tickets, "ratings": args.ratings, "dossiers": args.dossiers, "seed": args.seed}
    meta = None
    if path.exists() and not args.rebuild:
        store = Store(path, synchronous="OFF")  # also migrates an older file to the current schema
        meta = store.meta("bench_report")
        store.close()
        if not meta or any(meta.get(k) != v for k, v in wanted.items()):
            meta = None
    if meta is None:
        t0 = time.perf_counter()
        meta = build(path, args.tickets, args.ratings, args.dossiers, args.seed)
        print(f"built {path} in {time.perf_counter() - t0:.1f} s")
    print(f"database {path} ({path.stat().st_size / 1e6:.0f} MB): {meta['tickets']:,} tickets, "
          f"{meta['ratings']:,} ratings, {meta['dossiers']:,} dossiers ({meta['dossier_steps']:,} steps, "
          f"{meta['apologies']:,} apologies), {YEAR_START} to {YEAR_END}")

    site = load_site(SITE)
    times, cpu, report = [], [], None
    for _ in range(args.runs):
        store = Store(path)  # as `motcua report` opens it
        t0, c0 = time.perf_counter(), time.process_time()
        report = build_report(store.db, site, REPORT, by=args.by)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        store.close()
    q, s, d = report.queue, report.satisfaction, report.dossiers
    print(f"report {REPORT.label()} by {args.by}, compared with {report.previous.label()}:")
    print(f"  tickets {q.issued:,} (previous {report.queue_previous.issued:,}), ratings counted {s.counted:,} "
          f"+ {s.duplicate:,} duplicate + {s.unprompted:,} unprompted, dossiers received {d.received:,}, "
          f"settled {d.settled:,}, pending {d.pending:,}; {len(report.groups)} groups")
    print(f"  index {s.index:.1f}, satisfied {s.share_satisfied:.1f}%, response {s.response_rate:.1f}%, "
          f"wait median {q.wait_median / 60:.1f} min, p90 {q.wait_p90 / 60:.1f} min, "
          f"on time {d.share_on_time:.1f}%")
    print(f"  {args.runs} runs: median {statistics.median(times) * 1000:.0f} ms, "
          f"p90 {percentile([t * 1000 for t in times], 90):.0f} ms, max {max(times) * 1000:.0f} ms "
          f"(target 2000 ms); CPU time median {statistics.median(cpu) * 1000:.0f} ms; "
          f"load average {os.getloadavg()[0]:.2f}")
    # The outputs, once each (matplotlib's import and first drawing included in the chart).
    from motcua import report_output as out
    folder = Path(tempfile.mkdtemp(prefix="motcua-bench-report-"))
    timings = []
    for name, fn in (("terminal table", lambda: out.format_text(report)),
                     ("xlsx", lambda: out.write_xlsx(report, folder / "r.xlsx")),
                     ("csv", lambda: out.write_csv(report, folder / "r.csv")),
                     ("chart", lambda: out.write_chart(report, folder / "r.png"))):
        t0 = time.perf_counter()
        fn()
        timings.append(f"{name} {(time.perf_counter() - t0) * 1000:.0f} ms")
    print("  outputs: " + ", ".join(timings) + f" (in {folder})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

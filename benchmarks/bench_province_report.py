#!/usr/bin/env python3
"""Province report benchmark: `motcua province report` for 170 centres and a month.

    .venv/bin/python benchmarks/bench_province_report.py                 # builds once (a few minutes), then reuses
    .venv/bin/python benchmarks/bench_province_report.py --by officer --runs 3

Not a test: it prints figures. It starts (or reuses) a throwaway PostgreSQL
cluster in /tmp/motcua-bench-pg-report (motcua.province.pgcluster, fsync off:
a benchmark's data need not survive a crash) and fills the hub's tables
(motcua.province.store's schema) for 170 centres: October and November 2026,
working days Monday to Friday, each centre with its own load (30 to 400
tickets a working day, about 150 on average, as communes and wards differ),
about 75 % of the served citizens rating, with the dossiers attached to the
rated tickets, dossiers from August on (about a quarter as many as tickets,
five steps each, some late, most late ones with an apology), numbers taken
from afar (about 4 % of the tickets: most checked in, some lapsed) and
bookings (about 5 % as many as tickets: most came, some lapsed or cancelled;
issue 14). The rows go in
with COPY straight into the projection tables, not through the hub: this
measures the report, not the hub (bench_outbox.py and the hub's own tests do
that). A table `bench_meta` keeps the parameters so a matching database is
reused.

Then it times motcua.province.report_pg.build_province_report for November
2026 (every centre's report and the pooled province total, each with the 31
days before), through a fresh connection as the command opens it, --runs
times, and prints the median and max wall time, CPU time and peak memory,
and the outputs once each.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

import psycopg  # noqa: E402
from measure import python_speed_s  # noqa: E402
from support.centre_activity import add_working_days, working_days  # noqa: E402

from motcua.province import report_output as out  # noqa: E402
from motcua.province import store  # noqa: E402
from motcua.province.config import Centre  # noqa: E402
from motcua.province.pgcluster import Cluster  # noqa: E402
from motcua.province.report_pg import build_province_report, connect  # noqa: E402
from motcua.report_figures import Period  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DATA_START, DATA_END, DOSSIERS_FROM = date(2026, 10, 1), date(2026, 11, 30), date(2026, 8, 1)
REPORT = Period(date(2026, 11, 1), date(2026, 11, 30))
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=TZ)
SERVICES = [("HT", "Hộ tịch", 24), ("CT", "Chứng thực", 30), ("DD", "Đất đai", 10), ("XD", "Xây dựng", 5),
            ("KD", "Đăng ký kinh doanh", 6), ("CU", "Cư trú", 9), ("LLTP", "Lý lịch tư pháp", 5),
            ("XH", "Bảo trợ xã hội", 4), ("TKQ", "Trả kết quả", 7)]
LEVELS = [("rat_hai_long", "Rất hài lòng", 100.0), ("hai_long", "Hài lòng", 66.7),
          ("binh_thuong", "Bình thường", 33.3), ("khong_hai_long", "Không hài lòng", 0.0)]
PROCEDURES = [("1.001193", "Đăng ký khai sinh", "Hộ tịch", 1), ("1.000894", "Đăng ký kết hôn", "Hộ tịch", 3),
              ("2.000815", "Chứng thực bản sao từ bản chính", "Chứng thực", 1),
              ("1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Xây dựng", 15),
              ("2.000889", "Đăng ký biến động quyền sử dụng đất", "Đất đai", 10),
              ("1.004194", "Đăng ký tạm trú", "Cư trú", 3)]
FIRST = ["Phú", "An", "Hòa", "Hương", "Phong", "Quảng", "Vinh", "Thủy", "Lộc", "Thuận", "Tân", "Bình", "Long",
         "Mỹ", "Đông", "Xuân", "Hải", "Điền", "Kim", "Thanh", "Minh", "Đức", "Trung", "Gia"]
SECOND = ["Vinh", "Lộc", "Xuân", "Điền", "Hòa", "An", "Thạnh", "Phong", "Thủy", "Bình", "Long", "Mỹ", "Lợi",
          "Hưng", "Thịnh", "Sơn", "Hải", "Khánh", "Tiến", "Thái", "Phước", "Định", "Trà", "Lâm", "Dương"]


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def centres(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    names: list[str] = []
    while len(names) < n:
        name = f"{'Phường' if rng.random() < 0.22 else 'Xã'} {rng.choice(FIRST)} {rng.choice(SECOND)}"
        if name not in names:
            names.append(name)
    return [(f"c{i:03d}", name) for i, name in enumerate(names)]


def site_body(cid: str, name: str) -> dict:
    return {"id": cid, "name": name, "name_en": "", "timezone": "Asia/Ho_Chi_Minh",
            "services": [{"code": c, "name_vi": n, "name_en": "", "start": 1 + 100 * i, "end": 99 + 100 * i,
                          "prefix": ""} for i, (c, n, _) in enumerate(SERVICES)],
            "counters": [{"number": k, "name": f"Quầy {k}", "services": [c for c, _, _ in SERVICES]}
                         for k in range(1, 7)],
            "priorities": [], "rating_levels": [{"code": c, "name_vi": n, "name_en": "", "weight": w}
                                                for c, n, w in LEVELS],
            "kinds": ["counter", "ticket", "event", "rating", "dossier", "dossier_step", "apology",
                      "ticket_dossier", "booking", "site"]}


def fill(conn: psycopg.Connection, n_centres: int, seed: int) -> dict:
    """Every centre's rows, COPYed into the hub's projection tables."""
    rng = random.Random(seed)
    counts = dict.fromkeys(["tickets", "ratings", "dossiers", "dossier_steps", "dossier_apologies",
                            "ticket_dossiers", "bookings"], 0)
    days = working_days(DATA_START, DATA_END)
    codes, names, weights = zip(*SERVICES)
    rec = 0
    for cid, name in centres(n_centres, seed):
        load = min(400, max(30, int(rng.lognormvariate(4.9, 0.55))))      # tickets a working day
        good = rng.uniform(25, 80)                                         # how satisfied its citizens are
        late = rng.uniform(0.03, 0.3)
        officers = [f"cb{k:02d}" for k in range(1, 9)]
        tickets, ratings, attached, bookings = [], [], [], []
        dossiers, steps, apologies = [], [], []
        by_day: dict[date, list] = {}
        for day in working_days(DOSSIERS_FROM, DATA_END):
            for seq in range(1, max(2, int(load / 4 * rng.uniform(0.6, 1.4)))):
                proc, pname, fld, allowed = rng.choice(PROCEDURES)
                code = f"000.00.{int(cid[1:]):02d}.H12-{day:%y%m%d}-{seq:04d}"
                received = datetime.combine(day, datetime.min.time(), TZ) + timedelta(minutes=rng.uniform(450, 990))
                due = add_working_days(day, allowed)
                finish_day = (add_working_days(due, rng.randint(1, 5)) if rng.random() < late
                              else add_working_days(day, rng.randint(0, allowed)))
                t = received + timedelta(hours=rng.uniform(0.5, 3))
                st = [("received", received), ("processing", t)]
                done_at = max(t + timedelta(minutes=30), datetime.combine(finish_day, datetime.min.time(), TZ)
                              + timedelta(hours=rng.uniform(8, 16)))
                status = "processing"
                if done_at < NOW - timedelta(days=2):
                    st += [("approved", done_at - timedelta(minutes=20)), ("result_ready", done_at),
                           ("returned", done_at + timedelta(days=rng.uniform(0, 2)))]
                    status = "returned"
                if finish_day > due and rng.random() < 0.7:
                    issued = datetime.combine(due - timedelta(days=rng.choice((2, 1, 1, 0))),
                                              datetime.min.time(), TZ) + timedelta(hours=15)
                    apologies.append((cid, rec, code, add_working_days(finish_day, 1).isoformat(),
                                      iso(max(issued, received + timedelta(hours=1)))))
                dossiers.append((cid, rec, code, proc, pname, fld, iso(received), due.isoformat(), status))
                steps += [(cid, rec, code, i, s, iso(a)) for i, (s, a) in enumerate(st, 1) if a <= NOW]
                by_day.setdefault(day, []).append((code, proc))
        tid = 0
        for day in days:
            todays = by_day.get(day, [])
            numbers: dict[str, int] = {}
            for _ in range(max(5, int(load * rng.uniform(0.7, 1.3)))):
                tid += 1
                svc = rng.choices(codes, weights)[0]
                numbers[svc] = numbers.get(svc, 0) + 1
                minutes = (rng.triangular(450, 660, 495) if rng.random() < 0.62 else rng.triangular(810, 1005, 870))
                at = datetime.combine(day, datetime.min.time(), TZ) + timedelta(minutes=minutes)
                r = rng.random()
                state = "done" if r < 0.89 else "no_show" if r < 0.95 else "expired"
                counter, officer = rng.randint(1, 6), rng.choice(officers)
                called = at + timedelta(seconds=rng.expovariate(1 / (300 + load * 4)))
                row = [cid, rec, tid, day.isoformat(), svc, numbers[svc], f"{svc}{numbers[svc]:03d}", None, state,
                       iso(at), iso(at), "kiosk-1", None, None, None, None, None, None, 0,
                       int(state == "done" and rng.random() < 0.03), None]
                if state == "expired":
                    row[15] = iso(datetime.combine(day + timedelta(days=1), datetime.min.time(), TZ))
                else:
                    row[12] = row[13] = iso(called)
                    row[16], row[17] = counter, officer
                    if state == "done":
                        started = called + timedelta(seconds=rng.uniform(20, 90))
                        finished = started + timedelta(seconds=rng.lognormvariate(6.0, 0.55))
                        row[14], row[15] = iso(started), iso(finished)
                        codes_of = []
                        if todays and rng.random() < 0.4:
                            code, proc = todays.pop(rng.randrange(len(todays)))
                            codes_of.append(code)
                            attached.append((cid, rec, tid, code, proc, counter, officer, iso(started)))
                        r2 = rng.random()
                        if r2 < 0.75:
                            level = rng.choices([1, 2, 3, 4], [good, 30, 10, 5])[0]
                            pressed = finished + timedelta(seconds=rng.uniform(3, 40))
                            lp = pressed.astimezone(TZ)
                            ratings.append((cid, rec, f"PAD-{counter}:1:{tid}", f"PAD-{counter}", 1, tid, counter,
                                            f"T{tid}", "counted", tid, row[6], officer, svc, level,
                                            LEVELS[level - 1][0], LEVELS[level - 1][2], iso(pressed),
                                            iso(pressed), lp.date().isoformat(), lp.hour,
                                            json.dumps(codes_of) if codes_of else None))
                        elif r2 < 0.8:
                            pressed = finished + timedelta(seconds=rng.uniform(70, 200))
                            lp = pressed.astimezone(TZ)
                            ratings.append((cid, rec, f"PAD-{counter}:1:{tid}", f"PAD-{counter}", 1, tid, counter,
                                            None, "unprompted", None, None, None, None, 2, LEVELS[1][0],
                                            LEVELS[1][2], iso(pressed), iso(pressed), lp.date().isoformat(),
                                            lp.hour, None))
                    else:
                        row[15] = iso(called + timedelta(minutes=3))
                # a number taken from afar (issue 14): taken on the phone before the citizen came and
                # checked in (the wait counts from the check-in, `at`); a few never came and lapsed
                if rng.random() < 0.04:
                    taken = iso(at - timedelta(minutes=rng.uniform(5, 55)))
                    row[9] = row[10] = taken
                    if state == "expired" and rng.random() < 0.5:
                        row[8], row[15] = "lapsed", None
                        row += ["remote", None, None]
                    else:
                        row += ["remote", None, iso(at)]
                else:
                    row += [None, None, None]
                tickets.append(row)
            for b in range(int(load * 0.05 * rng.uniform(0.5, 1.5))):      # bookings for the day
                r = rng.random()
                state = "checked_in" if r < 0.75 else "lapsed" if r < 0.88 else "cancelled"
                slot = datetime.combine(day, datetime.min.time(), TZ) + timedelta(minutes=450 + 30 * rng.randint(0, 15))
                bookings.append((cid, rec, len(bookings) + 1, day.isoformat(), rng.choice(("HT", "CT")),
                                 f"{slot.astimezone(TZ):%H:%M}", f"{(slot + timedelta(minutes=30)).astimezone(TZ):%H:%M}",
                                 state, iso(slot - timedelta(days=rng.randint(0, 6), hours=3)), "web", None,
                                 iso(slot) if state == "checked_in" else None, None))
        with conn.cursor() as cur:
            for table, cols, rows in (
                    ("tickets", "centre, rec_seq, id, day, service, number, label, priority, state, issued_at, "
                                "order_at, device, called_at, first_called_at, started_at, finished_at, counter, "
                                "officer, recalls, transfers, original_service, origin, booking, checked_in_at",
                     tickets),
                    ("bookings", "centre, rec_seq, id, day, service, time, ends, state, created_at, device, "
                                 "ticket_id, checked_in_at, ended_at", bookings),
                    ("ratings", "centre, rec_seq, rating_id, pad, boot, seq, counter, prompt, status, ticket_id, "
                                "ticket, officer, service, level, level_code, weight, pressed_at, received_at, "
                                "day, hour, dossiers", ratings),
                    ("ticket_dossiers", "centre, rec_seq, ticket_id, code, procedure_code, counter, officer, "
                                        "attached_at", attached),
                    ("dossiers", "centre, rec_seq, code, procedure_code, procedure_name, field, received_at, "
                                 "due_at, status", dossiers),
                    ("dossier_steps", "centre, rec_seq, code, seq, step, at", steps),
                    ("dossier_apologies", "centre, rec_seq, code, new_due_at, issued_at", apologies)):
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
                counts[table] += len(rows)
            cur.execute("INSERT INTO counters (centre, rec_seq, number, state) "
                        "SELECT %s, 0, n, 'closed' FROM generate_series(1, 6) n", [cid])
            cur.execute("INSERT INTO sites (centre, rec_seq, id, name, timezone, body) VALUES (%s, 0, %s, %s, "
                        "'Asia/Ho_Chi_Minh', %s)", [cid, cid, name, json.dumps(site_body(cid, name))])
        conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    return counts


def server_cpu_s(cluster: Cluster) -> float:
    """CPU seconds the cluster's processes have used: the postmaster's own and its
    ended children's (cutime, cstime), and each running child's."""
    tick = os.sysconf("SC_CLK_TCK")
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])

    def stat(pid):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[1]), [int(x) for x in fields[11:15]]   # ppid; utime, stime, cutime, cstime
    total = sum(stat(postmaster)[1])
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid, times = stat(entry.name)
            except (OSError, IndexError, ValueError):
                continue
            if ppid == postmaster:
                total += times[0] + times[1]
    return total / tick


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cluster", default="/tmp/motcua-bench-pg-report", help="the throwaway cluster's folder")
    p.add_argument("--port", type=int, default=25433)
    p.add_argument("--centres", type=int, default=170)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--by", choices=["centre", "officer", "service"], default="centre")
    p.add_argument("--fetchers", type=int, default=4, help="connections reading side by side, as the command "
                   "(0: the main connection only)")
    p.add_argument("--rebuild", action="store_true")
    p.add_argument("--keep", action="store_true", help="leave the cluster running (default: stop it)")
    args = p.parse_args()
    cluster = Cluster(args.cluster, args.port, fsync=False).start()
    dsn = cluster.create_database("bench")
    wanted = {"centres": args.centres, "seed": args.seed, "version": 2}   # 2: numbers from afar, bookings
    with psycopg.connect(dsn) as conn:
        store.migrate(conn)
        conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (v jsonb)")
        row = conn.execute("SELECT v FROM bench_meta").fetchone()
        meta = row[0] if row else None
        if args.rebuild or not meta or any(meta.get(k) != v for k, v in wanted.items()):
            for t in ("tickets", "ratings", "ticket_dossiers", "dossiers", "dossier_steps", "dossier_apologies",
                      "counters", "sites", "bookings", "bench_meta"):
                conn.execute(f"TRUNCATE {t}")
            conn.commit()
            t0 = time.perf_counter()
            meta = {**wanted, **fill(conn, args.centres, args.seed)}
            conn.execute("INSERT INTO bench_meta VALUES (%s)", [json.dumps(meta)])
            conn.commit()
            print(f"built in {time.perf_counter() - t0:.0f} s")
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    print(f"database {dsn} ({size}): {args.centres} centres, {meta['tickets']:,} tickets, {meta['ratings']:,} "
          f"ratings, {meta['dossiers']:,} dossiers ({meta['dossier_steps']:,} steps, "
          f"{meta['dossier_apologies']:,} apologies), {DATA_START} to {DATA_END}")
    province = SimpleNamespace(id="bench", name="Tỉnh thử", timezone="Asia/Ho_Chi_Minh", tz=TZ,
                               centres=tuple(Centre(cid, name, "x" * 8) for cid, name in
                                             centres(args.centres, args.seed)))
    times, cpu, server, report = [], [], [], None
    for _ in range(args.runs):
        t0, c0, s0 = time.perf_counter(), time.process_time(), server_cpu_s(cluster)
        with connect(dsn) as conn:
            report = build_province_report(conn, province, REPORT, args.by, NOW,
                                           open_connection=(lambda: connect(dsn)) if args.fetchers else None,
                                           fetchers=args.fetchers)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        server.append(server_cpu_s(cluster) - s0)
    total = report.total
    print(f"province report {REPORT.label()} --by {args.by}, compared with {report.previous.label()}, "
          f"{args.fetchers} fetchers:")
    print(f"  tickets {total.queue.issued:,} (previous {total.queue_previous.issued:,}), counted ratings "
          f"{total.satisfaction.counted:,}, dossiers settled {total.dossiers.settled:,}, pending "
          f"{total.dossiers.pending:,}; {len(report.ranked)} of {len(report.centres)} centres ranked, "
          f"{len(report.groups)} {args.by} rows")
    print(f"  {args.runs} runs: median {statistics.median(times):.2f} s, max {max(times):.2f} s; CPU time: "
          f"this process {statistics.median(cpu):.2f} s, PostgreSQL {statistics.median(server):.2f} s "
          f"(medians); peak memory "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; load average {os.getloadavg()[0]:.2f}; "
          f"{os.cpu_count()} cores; Python speed {python_speed_s():.2f} s for 10M additions")
    folder = Path(tempfile.mkdtemp(prefix="motcua-bench-province-"))
    timings = []
    for name, fn in (("terminal", lambda: out.format_text(report)),
                     ("xlsx", lambda: out.write_xlsx(report, folder / "tinh.xlsx")),
                     ("csv", lambda: out.write_csv(report, folder / "tinh.csv")),
                     ("chart", lambda: out.write_chart(report, folder / "xep-hang.png"))):
        t0 = time.perf_counter()
        fn()
        timings.append(f"{name} {(time.perf_counter() - t0) * 1000:.0f} ms")
    print("  outputs: " + ", ".join(timings) + f" (in {folder})")
    if not args.keep:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

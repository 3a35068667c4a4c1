#!/usr/bin/env python3
"""Migration 8 on a year of a large centre: how long the outbox's backfill takes.

    .venv/bin/python benchmarks/bench_outbox.py
    .venv/bin/python benchmarks/bench_outbox.py --db /tmp/big7.db --events-per-ticket 4

Not a test: it prints figures. It builds (once; the file is kept and reused)
the database of benchmarks/bench_report.py (500,000 tickets, 400,000 ratings,
100,000 dossiers by default) as migration 7 left it, with no outbox, and adds
an event log of --events-per-ticket events per ticket shaped like the
engine's (bench_report leaves the log empty; a real centre writes an issue,
a call, a start and an end per ticket). Then it copies the file and opens the
copy with motcua.store.Store, as the centre does at start after an upgrade:
migration 8 copies every row into the outbox and makes the triggers. It
prints the time of that, the records, and the file's size before and after.

Then the triggers' cost on the centre's own work: two fresh databases, one as
migration 8 makes it and one with the outbox triggers dropped, each driven
through motcua.engine.Engine and Store.commit as the centre's worker does
(per ticket: issue, call, start, done, each its own commit), --cycles
tickets in turns of 200 on one then the other (so the machine's drift falls
on both), with synchronous=OFF (the CPU cost alone) and FULL (as the
centre runs).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_report  # noqa: E402
from motcua import migrations, store as store_module  # noqa: E402
from motcua.store import Store  # noqa: E402

STEPS = ("ticket_issued", "ticket_called", "ticket_started", "ticket_done")


def build_v7(path: Path, tickets: int, ratings: int, dossiers: int, events_per_ticket: int) -> None:
    """bench_report's database at schema version 7, plus an event log."""
    v7 = replace(migrations.CENTRE, steps=migrations.CENTRE.steps[:7])
    saved = store_module.CENTRE
    store_module.CENTRE = v7          # Store migrates to 7 only: the database of before
    try:
        bench_report.build(path, tickets, ratings, dossiers, seed=6)
    finally:
        store_module.CENTRE = saved
    import sqlite3
    conn = sqlite3.connect(str(path))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    rows = conn.execute("SELECT * FROM tickets ORDER BY id")
    names = [d[0] for d in rows.description]
    batch = []
    for r in rows:
        t = dict(zip(names, r))
        for kind in STEPS[:events_per_ticket]:
            at = {"ticket_issued": t["issued_at"], "ticket_called": t["called_at"],
                  "ticket_started": t["started_at"], "ticket_done": t["finished_at"]}[kind] or t["issued_at"]
            data = {"type": kind, "at": at, "ticket": t} if kind == "ticket_issued" else \
                {"type": kind, "at": at, "ticket_id": t["id"], "ticket": t["label"], "service": t["service"],
                 "counter": t["counter"], "officer": t["officer"]}
            batch.append((at, kind, t["id"], t["counter"], json.dumps(data, ensure_ascii=False)))
        if len(batch) >= 50_000:
            conn.executemany("INSERT INTO events(at, type, ticket_id, counter, data) VALUES (?,?,?,?,?)", batch)
            batch = []
    conn.executemany("INSERT INTO events(at, type, ticket_id, counter, data) VALUES (?,?,?,?,?)", batch)
    conn.commit()
    conn.execute("VACUUM")
    conn.close()


def commit_cost(cycles: int, synchronous: str) -> tuple[float, float, float]:
    """(µs per commit with the triggers, without, outbox records per ticket)."""
    from datetime import datetime, timedelta, timezone
    from motcua.config import load_site
    from motcua.engine import Engine
    from motcua.shipping import outbox
    site = load_site(bench_report.SITE)
    site = replace(site, services=tuple(replace(s, start=s.start * 100, end=s.start * 100 + 99999)
                                        for s in site.services))
    folder = Path(tempfile.mkdtemp(prefix="motcua-bench-outbox-"))
    runs = {}
    for name in ("with", "without"):
        st = Store(folder / f"{name}.db", synchronous=synchronous)
        if name == "without":
            for trigger, _ in outbox.triggers():
                st.db.execute(f"DROP TRIGGER {trigger}")
        engine = Engine(site, st.load_state())
        now = datetime(2026, 12, 7, 1, 0, tzinfo=timezone.utc)
        st.commit(*engine.sign_in(1, "a", now))
        runs[name] = {"store": st, "engine": engine, "now": now, "time": 0.0, "commits": 0}
    done = 0
    while done < cycles:
        for name, r in runs.items():
            st, engine = r["store"], r["engine"]
            t0 = time.perf_counter()
            for _ in range(200):
                r["now"] += timedelta(seconds=1)
                for step in (lambda: engine.issue("HT", r["now"]), lambda: engine.call_next(1, r["now"]),
                             lambda: engine.start(1, r["now"]), lambda: engine.done(1, r["now"])):
                    st.commit(*step())
                    r["commits"] += 1
            r["time"] += time.perf_counter() - t0
        done += 200
    per = {name: r["time"] / r["commits"] * 1e6 for name, r in runs.items()}
    records = runs["with"]["store"].db.execute("SELECT count(*) FROM outbox").fetchone()[0] / done
    for r in runs.values():
        r["store"].close()
    shutil.rmtree(folder, ignore_errors=True)
    return per["with"], per["without"], records


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default=os.path.join(tempfile.gettempdir(), "motcua-bench-outbox-v7.db"),
                   help="the version-7 database to build or reuse")
    p.add_argument("--tickets", type=int, default=500_000)
    p.add_argument("--ratings", type=int, default=400_000)
    p.add_argument("--dossiers", type=int, default=100_000)
    p.add_argument("--events-per-ticket", type=int, default=4, choices=range(0, 5))
    p.add_argument("--rebuild", action="store_true")
    p.add_argument("--cycles", type=int, default=4000, help="tickets driven through the engine and store, "
                   "for the triggers' cost per commit")
    args = p.parse_args()
    for sync in ("OFF", "FULL"):
        with_t, without_t, records = commit_cost(args.cycles, sync)
        print(f"centre commits, synchronous={sync}: {with_t:.0f} µs with the triggers, {without_t:.0f} µs "
              f"without ({with_t - without_t:+.0f} µs, {100 * (with_t / without_t - 1):+.1f} %); "
              f"{records:.1f} outbox records per ticket; load average {os.getloadavg()[0]:.2f}")
    path = Path(args.db)
    if args.rebuild or not path.exists():
        t0 = time.perf_counter()
        build_v7(path, args.tickets, args.ratings, args.dossiers, args.events_per_ticket)
        print(f"built {path} in {time.perf_counter() - t0:.0f} s")
    import sqlite3
    with sqlite3.connect(str(path)) as c:
        counts = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("events", "tickets", "counters", "ratings", "dossiers", "dossier_steps",
                            "dossier_apologies", "ticket_dossiers")}
    print(f"version-7 database {path}: {path.stat().st_size / 1e6:.0f} MB; "
          + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
    copy = path.with_name(path.stem + "-migrated.db")
    for suffix in ("", "-wal", "-shm"):
        Path(str(copy) + suffix).unlink(missing_ok=True)
    shutil.copyfile(path, copy)
    t0, c0 = time.perf_counter(), time.process_time()
    store = Store(copy)               # the centre's start after the upgrade: migration 8
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = store.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    print(f"migration 8: {wall:.1f} s wall, {cpu:.1f} s CPU, {n:,} records in the outbox "
          f"(expected {sum(counts.values()):,}); file {path.stat().st_size / 1e6:.0f} MB -> "
          f"{copy.stat().st_size / 1e6:.0f} MB; load average {os.getloadavg()[0]:.2f}")
    return 0 if n == sum(counts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

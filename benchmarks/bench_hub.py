#!/usr/bin/env python3
"""Province hub benchmark (issue 13): records committed per second from 500
centres, and the hub's memory.

    .venv/bin/python benchmarks/bench_hub.py                 # 500 centres x 2000 records

Not a test: it prints figures. It starts a throwaway PostgreSQL cluster under
/tmp (motcua.province.pgcluster, fsync ON and synchronous_commit on: every
commit waits for the disk, as in a province), a provincial Mosquitto written as
the hub's tests write it (tests/support/hub.py), and `motcua province hub` as
its own process. Then one client stands in for the centres' bridges: each of
--centres centres ships --records records (realistic bodies: tickets, events,
counters, ratings, dossiers, as tests/support/hub.centre_records makes them)
by the contract's rules: batches of --batch records, at most --window batches
beyond its last acknowledgement, the next sent as acknowledgements come. Every
batch is encoded before the clock starts, so the publisher costs little.

records committed/s = all records / (from the first batch published to the
last centre's last acknowledgement: an acknowledgement is sent only after the
commit). Hub memory: its peak resident size (VmHWM) and the resident size
sampled every half second. At the end the database is counted: every record
once, every acknowledgement the centre's last seq.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import psycopg  # noqa: E402

from motcua.province.pgcluster import Cluster  # noqa: E402
from support.broker import free_port  # noqa: E402
from support.hub import (ProvinceBroker, SimCentres, centre_records, run_hub_process, wait_log,  # noqa: E402
                         write_province)
from measure import python_speed_s  # noqa: E402


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid: int) -> float:
    """user + system CPU seconds of a process (and its waited-for children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def postgres_cpu_s(cluster: Cluster) -> float:
    """CPU seconds of every process of the cluster (the postmaster's children)."""
    try:
        master = int((cluster.data / "postmaster.pid").read_text().split()[0])
    except OSError:
        return 0.0
    total = cpu_s(master)
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == master:
                total += cpu_s(int(proc.name))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--centres", type=int, default=500)
    parser.add_argument("--records", type=int, default=2000, help="records per centre")
    parser.add_argument("--batch", type=int, default=500, help="records per batch (the contract's most)")
    parser.add_argument("--window", type=int, default=8, help="batches in flight per centre")
    parser.add_argument("--workers", type=int, default=2, help="the hub's workers (motcua province hub --workers)")
    parser.add_argument("--no-fsync", action="store_true", help="PostgreSQL without fsync (not a province's)")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="motcua-bench-hub-", dir="/tmp"))
    os.chmod(folder, 0o755)
    cluster = Cluster(folder / "pg", free_port(), fsync=not args.no_fsync)
    broker = hub = sim = None
    try:
        print(f"python speed: {python_speed_s():.2f} s for 10M additions; {os.cpu_count()} CPUs; "
              f"{platform.python_version()}")
        cluster.start()
        dsn = cluster.create_database("bench")
        broker = ProvinceBroker(folder / "broker", max_queued=args.centres * args.window * 2).start()
        centres = [f"centre-{i:03d}" for i in range(args.centres)]
        path = write_province(folder, broker.port, dsn, centres)
        t = time.perf_counter()
        records = {c: centre_records(c, args.records) for c in centres}
        total = args.centres * args.records
        sim = SimCentres(broker.port, records, batch_size=args.batch, window=args.window, resend_after=600.0,
                         client_id="bench-centres").prepare()
        print(f"{args.centres} centres x {args.records} records = {total} records in batches of {args.batch}, "
              f"window {args.window}; hub with {args.workers} workers; PostgreSQL fsync "
              f"{'off' if args.no_fsync else 'on'}; made and encoded in {time.perf_counter() - t:.1f} s")
        log = folder / "hub.log"
        hub = run_hub_process(path, log, workers=args.workers)
        wait_log(log, "connected to the provincial broker", timeout=60)
        samples: list[int] = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                samples.append(status_kb(hub.pid, "VmRSS"))
                stop.wait(0.5)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        hub_cpu0, pg_cpu0 = cpu_s(hub.pid), postgres_cpu_s(cluster)
        broker_cpu0, own_cpu0, machine0 = cpu_s(broker.proc.pid), cpu_s(os.getpid()), machine_cpu()
        load0 = os.getloadavg()[0]
        sim.start()
        ok = sim.wait_done(args.timeout)
        t_end = max(sim.finished.values()) if sim.finished else time.monotonic()
        elapsed = t_end - sim.first_publish
        hub_cpu, pg_cpu = cpu_s(hub.pid) - hub_cpu0, postgres_cpu_s(cluster) - pg_cpu0
        broker_cpu, own_cpu = cpu_s(broker.proc.pid) - broker_cpu0, cpu_s(os.getpid()) - own_cpu0
        machine = machine_cpu()
        busy = (machine[0] - machine0[0]) / max(1, machine[1] - machine0[1])
        load1 = os.getloadavg()[0]
        peak = status_kb(hub.pid, "VmHWM")
        stop.set()
        sampler.join()
        if not ok:
            print(f"NOT DONE after {args.timeout} s: {sum(sim.acks.values())} of {total} acknowledged")
        print(f"records committed/s: {total / elapsed:,.0f} ({total} records in {elapsed:.1f} s, "
              f"{sim.published} batches published)")
        print(f"hub memory: peak {peak / 1024:.0f} MB (VmHWM); resident sampled: max "
              f"{max(samples) / 1024:.0f} MB, last {samples[-1] / 1024:.0f} MB")
        ours = (hub_cpu + pg_cpu + broker_cpu + own_cpu) / elapsed
        others = max(0.0, busy * (os.cpu_count() or 1) - ours)
        print(f"CPU over the run (% of one core): hub {100 * hub_cpu / elapsed:.0f}%, PostgreSQL "
              f"{100 * pg_cpu / elapsed:.0f}%, Mosquitto {100 * broker_cpu / elapsed:.0f}%, the centres' "
              f"publisher {100 * own_cpu / elapsed:.0f}%; CPU per record committed (all four) "
              f"{1e6 * ours * elapsed / total:.0f} us")
        print(f"other processes used {others:.2f} of the {os.cpu_count()} cores meanwhile (load average "
              f"{load0:.1f} before, {load1:.1f} after)")
        with psycopg.connect(dsn) as conn:
            n, distinct = conn.execute("SELECT count(*), count(DISTINCT (centre, seq)) FROM records").fetchone()
            short = conn.execute("SELECT count(*) FROM centres WHERE acked <> %s", [args.records]).fetchone()[0]
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        print(f"check: {n} records stored, {distinct} distinct, {short} centres acknowledged short of "
              f"their last record; database {size}")
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=30)
        print("hub log:", *[line for line in log.read_text().splitlines() if "records/s" in line][-3:], sep="\n  ")
        return 0 if ok and n == distinct == total and short == 0 else 1
    finally:
        if sim is not None:
            sim.stop()
        if hub is not None and hub.poll() is None:
            hub.kill()
        if broker is not None:
            broker.stop()
        cluster.stop()
        if os.environ.get("KEEP"):
            print("kept", folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

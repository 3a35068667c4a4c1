#!/usr/bin/env python3
"""Centre benchmark (issue 2): latency and durable throughput through a real Mosquitto.

    .venv/bin/python benchmarks/bench_centre.py              # or: make bench

Not a test: it prints figures. It starts Mosquitto with the configuration
`motcua broker config` writes and the centre as its own process
(`python -m motcua --site FILE centre`), on a copy of examples/site.toml in a
temporary folder with a fresh SQLite file (WAL, synchronous=FULL). Then,
through the broker:

1. request -> reply: kiosk-1 asks ticket.issue, one request after the other,
   with DeviceClient.request (what the kiosk does);
2. call -> event: counter-1 sends counter.next and display-hall waits for the
   call event of the ticket called (then counter.start, not timed);
3. durable tickets/s: kiosk-1 and kiosk-2, --threads threads each, ask
   ticket.issue back to back for --duration seconds; tickets/s = ok replies
   received inside that window / its length.

Both ends of every latency are time.perf_counter() in this one process. At
the end the centre is killed with SIGKILL (no clean shutdown to help) and the
database is opened: every ok ticket reply of every phase must be a stored
ticket (same id, day, service, number), and no number may be stored or
replied twice.

The only change to the sample site: number blocks k00001-k99999 instead of
k001-k999, because a sustained run issues more than 999 numbers a service.
"""
from __future__ import annotations

import argparse
import collections
import importlib.metadata
import math
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from motcua import protocol  # noqa: E402
from motcua.broker import mosquitto_command, write_config  # noqa: E402
from motcua.config import load_site  # noqa: E402
from motcua.mqtt import CentreUnavailable, DeviceClient, RequestRefused  # noqa: E402
from support.broker import free_port, wait_port  # noqa: E402  (the test fixtures' own)
from measure import python_speed_s  # noqa: E402

TIMEOUT_S = 5.0  # a kiosk's request timeout in the sample site


def write_site(folder: Path) -> Path:
    text = (ROOT / "examples" / "site.toml").read_text(encoding="utf-8")
    replace = {'data_dir = "../var"': f'data_dir = "{folder / "data"}"', "port = 1883": f"port = {free_port()}"}
    for k in range(1, 10):
        replace[f"start = {k}001\nend = {k}999"] = f"start = {k}00001\nend = {k}99999"
    for old, new in replace.items():
        if old not in text:
            raise RuntimeError(f"examples/site.toml changed: {old!r} not found")
        text = text.replace(old, new)
    (folder / "site.toml").write_text(text, encoding="utf-8")
    return folder / "site.toml"


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)] if s else float("nan")


def stats(ms: list[float]) -> dict:
    return {"n": len(ms), "p50": pct(ms, 50), "p99": pct(ms, 99), "max": max(ms, default=float("nan"))}


class CpuMeter:
    """Cores used on average since start(): by each process given, and by every other process
    of the machine (from /proc; other users of this machine make the figures worse)."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self.start()

    @staticmethod
    def _process(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _machine() -> float:
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait

    def start(self) -> None:
        self.t0, self.machine0 = time.perf_counter(), self._machine()
        self.cpu0 = {k: self._process(p) for k, p in self.pids.items()}

    def cores(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self.t0
        out = {k: (self._process(p) - self.cpu0[k]) / elapsed for k, p in self.pids.items()}
        # (tick rounding can make this slightly negative on an idle machine)
        out["other processes"] = max(0.0, (self._machine() - self.machine0) / elapsed - sum(out.values()))
        return out


def commit_ms(folder: Path, n: int = 50) -> dict:
    """One-row commits in WAL + synchronous=FULL on this disk: the floor of a durable reply."""
    db = sqlite3.connect(folder / "probe.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (x)")
    ms = []
    for i in range(n):
        t = time.perf_counter()
        db.execute("BEGIN")
        db.execute("INSERT INTO t VALUES (?)", [i])
        db.execute("COMMIT")
        ms.append((time.perf_counter() - t) * 1000)
    db.close()
    return stats(ms)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    mosquitto = subprocess.run([mosquitto_command(Path("x"))[0], "-h"], capture_output=True,
                               text=True).stdout.splitlines()[0]
    debian = Path("/etc/debian_version").read_text().strip() if Path("/etc/debian_version").exists() else "-"
    return (f"{os.cpu_count()} CPUs ({cpu}), Debian {debian}, Linux {platform.release()}; "
            f"Python {platform.python_version()}, {mosquitto}, paho-mqtt {importlib.metadata.version('paho-mqtt')}, "
            f"SQLite {sqlite3.sqlite_version}")


def source() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True).stdout.strip()
    changed = git("status", "--porcelain", "--", "motcua", "broker_config")
    return f"git {git('rev-parse', '--short', 'HEAD') or '?'}" + (
        " + uncommitted changes to motcua/ or broker_config/" if changed else "")


class Rig:
    """Mosquitto + the centre process + the devices this benchmark connects."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="motcua-bench-"))
        os.chmod(self.folder, 0o755)  # started as root, Mosquitto drops to the `mosquitto` user
        self.site_path = write_site(self.folder)
        self.site = load_site(self.site_path)
        self.topics = protocol.Topics(self.site.id)
        self.clients: dict[str, DeviceClient] = {}
        self.broker = self.centre = None

    def start(self) -> None:
        conf = write_config(self.site, self.folder / "broker")
        self.broker = subprocess.Popen(mosquitto_command(conf), stdout=open(self.folder / "mosquitto.log", "ab"),
                                       stderr=subprocess.STDOUT)
        wait_port(self.site.broker.port)
        online = threading.Event()
        self.device("display-manager", {self.topics.centre_availability:
                                        lambda t, d: d.get("state") == "online" and online.set()})
        cmd = [sys.executable, "-m", "motcua", "--site", str(self.site_path), "centre"]
        self.centre = subprocess.Popen(cmd, cwd=ROOT, stdout=open(self.folder / "centre.log", "ab"),
                                       stderr=subprocess.STDOUT)
        if not online.wait(20):
            raise RuntimeError(f"the centre did not come online: {self.log_tail()}")

    def device(self, device_id: str, subscriptions: dict | None = None) -> DeviceClient:
        """The device's one connection (a second one would receive every reply again)."""
        if device_id in self.clients:
            return self.clients[device_id]
        c = self.clients[device_id] = DeviceClient(self.site, device_id)
        for topic, handler in (subscriptions or {}).items():
            c.subscribe(topic, handler)  # made on connect, so before anything is published
        c.start()
        if not c.wait_connected(10):
            raise RuntimeError(f"{device_id} could not connect to the broker")
        return c

    def cpu_meter(self) -> CpuMeter:
        return CpuMeter({"centre": self.centre.pid, "broker": self.broker.pid, "bench": os.getpid()})

    def log_tail(self) -> str:
        log = self.folder / "centre.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"

    def kill_centre(self) -> None:
        if self.centre.poll() is None:
            self.centre.kill()
        self.centre.wait()

    def stop(self, keep: bool) -> None:
        for c in self.clients.values():
            c.stop()
        for proc in (self.centre, self.broker):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        if not keep:
            shutil.rmtree(self.folder, ignore_errors=True)


def waiting_tickets(rig: Rig) -> int:
    with closing(sqlite3.connect(rig.site.database)) as db:
        return db.execute("SELECT count(*) FROM tickets WHERE state = 'waiting'").fetchone()[0]


# -- 1. request -> reply ----------------------------------------------------------------------

def bench_reply(rig: Rig, tickets: list, n: int, warmup: int) -> dict:
    kiosk = rig.device("kiosk-1")
    services = [s.code for s in rig.site.services]
    ms = []
    for i in range(warmup + n):
        t0 = time.perf_counter()
        tickets.append(kiosk.request("ticket.issue", timeout=TIMEOUT_S, service=services[i % len(services)]))
        if i >= warmup:
            ms.append((time.perf_counter() - t0) * 1000)
    return stats(ms)


# -- 2. counter.next -> call event ------------------------------------------------------------

def bench_call(rig: Rig, tickets: list, n: int, warmup: int) -> dict:
    arrived: dict[str, float] = {}
    cond = threading.Condition()

    def on_call(topic, data):
        now = time.perf_counter()
        with cond:
            arrived.setdefault(data.get("ticket"), now)
            cond.notify_all()

    rig.device("display-hall", {rig.topics.call_event: on_call})
    kiosk, counter = rig.device("kiosk-2"), rig.device("counter-1")  # counter 1 calls HT only
    with ThreadPoolExecutor(16) as pool:  # the tickets to call, 16 requests at a time (not timed)
        tickets.extend(pool.map(lambda _: kiosk.request("ticket.issue", timeout=TIMEOUT_S, service="HT"),
                                range(warmup + n)))
    try:  # a registered officer and the PIN (issue 12); the PIN check is not timed
        rig.device("admin").request("officer.add", timeout=TIMEOUT_S, officer="bench", name="Bench", pin="2580")
    except RequestRefused as exc:
        if exc.code != "officer_exists":
            raise
    counter.request("counter.sign_in", timeout=TIMEOUT_S, counter=1, officer="bench", pin="2580")
    ms, reply_ms = [], []
    for i in range(warmup + n):
        t0 = time.perf_counter()
        label = counter.request("counter.next", timeout=TIMEOUT_S, counter=1)["ticket"]["ticket"]
        t_reply = time.perf_counter()
        with cond:
            if not cond.wait_for(lambda: label in arrived, timeout=TIMEOUT_S):
                raise RuntimeError(f"no call event for {label} within {TIMEOUT_S} s")
        if i >= warmup:
            ms.append((arrived[label] - t0) * 1000)
            reply_ms.append((t_reply - t0) * 1000)
        counter.request("counter.start", timeout=TIMEOUT_S, counter=1)
    return {**stats(ms), "reply": stats(reply_ms)}


# -- 3. sustained durable tickets/s -----------------------------------------------------------

def bench_throughput(rig: Rig, tickets: list, duration: float, threads: int) -> dict:
    services = [s.code for s in rig.site.services]
    kiosks = [rig.device("kiosk-1"), rig.device("kiosk-2")]
    lock = threading.Lock()
    ms: list[float] = []
    per_second = collections.Counter()
    failures = collections.Counter()
    t_start = time.perf_counter() + 0.2
    t_end = t_start + duration

    def load(kiosk: DeviceClient, k: int) -> None:
        while time.perf_counter() < t_start:
            time.sleep(0.001)
        while (t0 := time.perf_counter()) < t_end:
            k += 1
            try:
                r = kiosk.request("ticket.issue", timeout=TIMEOUT_S, service=services[k % len(services)])
            except (RequestRefused, CentreUnavailable) as exc:
                with lock:
                    failures[getattr(exc, "code", "no reply")] += 1
                continue
            t1 = time.perf_counter()
            with lock:
                tickets.append(r)  # every ok reply is checked in the database, in the window or not
                if t1 <= t_end:
                    ms.append((t1 - t0) * 1000)
                    per_second[int(t1 - t_start)] += 1

    workers = [threading.Thread(target=load, args=(kiosks[i % 2], i), daemon=True) for i in range(2 * threads)]
    waiting_before = waiting_tickets(rig)
    for w in workers:
        w.start()
    while time.perf_counter() < t_start:
        time.sleep(0.001)
    meter = rig.cpu_meter()
    time.sleep(max(0.0, t_end - time.perf_counter()))
    cpu = meter.cores()
    for w in workers:
        w.join()
    return {"tickets_per_s": len(ms) / duration, "latency": stats(ms), "failures": dict(failures),
            "per_second": [per_second[s] for s in range(int(duration))], "cpu": cpu,
            "waiting": (waiting_before, waiting_tickets(rig)), "in_flight": 2 * threads}


# -- the database afterwards ------------------------------------------------------------------

def verify(database: Path, tickets: list[dict]) -> dict:
    replied = [(t["id"], t["day"], t["service"], t["number"]) for t in tickets]
    with closing(sqlite3.connect(database)) as db:  # after SIGKILL: what a restarted centre would find
        stored = set(db.execute("SELECT id, day, service, number FROM tickets"))
        dup_db = db.execute("SELECT count(*) FROM (SELECT 1 FROM tickets GROUP BY day, service, number "
                            "HAVING count(*) > 1)").fetchone()[0]
        journal = db.execute("PRAGMA journal_mode").fetchone()[0]
    dup_replies = len(replied) - len({r[1:] for r in replied})
    missing = len(set(replied) - stored)
    return {"ok_replies": len(replied), "stored": len(stored), "missing": missing, "dup_replies": dup_replies,
            "dup_db": dup_db, "unreplied_stored": len(stored - set(replied)), "journal": journal,
            "ok": missing == 0 and dup_replies == 0 and dup_db == 0}


# -- main ---------------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=1000, help="sequential ticket requests timed (phase 1)")
    p.add_argument("--calls", type=int, default=500, help="counter.next calls timed (phase 2)")
    p.add_argument("--warmup", type=int, default=20, help="untimed requests/calls before phases 1 and 2")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of sustained load (phase 3)")
    p.add_argument("--threads", type=int, default=32, help="requests in flight per kiosk (phase 3)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops broker and centre

    print(f"motcua: {source()}")
    print(f"machine: {machine()}; Python speed now: 10M loop additions in {python_speed_s():.2f} s")
    rig = Rig()
    tickets: list[dict] = []
    try:
        commit = commit_ms(rig.folder)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; SQLite WAL+FULL "
              f"one-row commit here: p50 {commit['p50']:.2f} ms, max {commit['max']:.2f} ms", flush=True)
        rig.start()
        run_meter = rig.cpu_meter()
        t = time.perf_counter()
        reply = bench_reply(rig, tickets, args.requests, args.warmup)
        print(f"1. request -> reply: {reply['n']} requests in {time.perf_counter() - t:.0f} s", flush=True)
        t = time.perf_counter()
        call = bench_call(rig, tickets, args.calls, args.warmup)
        print(f"2. call -> event: {call['n']} calls in {time.perf_counter() - t:.0f} s", flush=True)
        tp = bench_throughput(rig, tickets, args.duration, args.threads)
        print(f"3. throughput: {args.duration:g} s, {tp['in_flight']} requests in flight", flush=True)
        run_cpu = run_meter.cores()
        rig.kill_centre()
        db = verify(rig.site.database, tickets)
    except Exception:
        print(f"failed; the centre's log ends with:\n{rig.log_tail()}", file=sys.stderr)
        raise
    finally:
        rig.stop(args.keep)
    if args.keep:
        print(f"files kept in {rig.folder}")

    ok_reply, ok_call, ok_tp = reply["p99"] <= 10, call["p99"] <= 5, tp["tickets_per_s"] >= 1000
    print(f"\n{'':38}{'p50':>9}{'p99':>9}{'max':>9}   target")
    for label, s, target in (("1. ticket request -> reply (ms)", reply, f"p99 <= 10 ms: {verdict(ok_reply)}"),
                             ("2. counter.next -> call event (ms)", call, f"p99 <= 5 ms: {verdict(ok_call)}"),
                             ("   counter.next -> its reply (ms)", call["reply"], ""),
                             ("3. reply latency under load (ms)", tp["latency"], "")):
        print(f"{label:38}{s['p50']:9.2f}{s['p99']:9.2f}{s['max']:9.2f}   {target}")
    print(f"{'3. durable tickets/s':38}{tp['tickets_per_s']:9.0f}{'':18}   >= 1000/s: {verdict(ok_tp)}")
    print(f"   tickets each second: {' '.join(map(str, tp['per_second']))}; failures: {tp['failures'] or 'none'}; "
          f"waiting tickets {tp['waiting'][0]} -> {tp['waiting'][1]}")
    print(f"   CPU during phase 3 (cores of {os.cpu_count()}): "
          + ", ".join(f"{k} {v:.2f}" for k, v in tp["cpu"].items()))
    print(f"CPU during the whole run (cores of {os.cpu_count()}): "
          + ", ".join(f"{k} {v:.2f}" for k, v in run_cpu.items()))
    print(f"database after SIGKILL of the centre (journal_mode={db['journal']}, synchronous=FULL): "
          f"{db['ok_replies']} ok ticket replies, {db['stored']} tickets stored, {db['missing']} replied but "
          f"not stored, {db['dup_replies']} numbers replied twice, {db['dup_db']} stored twice, "
          f"{db['unreplied_stored']} stored without a reply received -> {'OK' if db['ok'] else 'FAILED'}")
    return 0 if db["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

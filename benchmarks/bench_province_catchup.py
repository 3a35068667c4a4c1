#!/usr/bin/env python3
"""Province catch-up benchmark (issue 13): many centres, each holding back a busy
day behind a cut line, released at once: how long until the hub has every record
and every centre has its acknowledgement. Target: 100 centres x 2,000 records in
60 s or less.

    .venv/bin/python benchmarks/bench_province_catchup.py              # 100 centres x 2,000 records
    .venv/bin/python benchmarks/bench_province_catchup.py --centres 20 --records 500   # a quick look

Not a test: it prints figures (and exits 1 if a record is missing or wrong).

What is real (every part runs as in a province, on this one machine):
- the provincial Mosquitto with the configuration, password file and ACL `motcua
  province broker config` writes (TLS listener, a throwaway CA from tests/support/tls.py);
- `motcua province hub` as its own process, on a throwaway PostgreSQL cluster with
  fsync on (synchronous commits reach the disk, as in a province);
- per centre: its own Mosquitto with the configuration `motcua broker config` writes
  from its site file (the centre's ACL and passwords, and the bridge: TLS, the centre's
  own login, MQTT 3.1.1, cleansession false, restart_timeout 2 30), and `motcua ship`
  as its own process on the centre's SQLite file;
- per centre, the line between its bridge and the provincial broker: a TCP forwarder
  (tests/support/netcut.py) that is cut (connections dropped, port closed: the bridge
  gets "connection refused" and backs off) and restored; the forwarders run in a
  process of their own;
- the records: the centre's day written into its database by the centre's own code
  in-process (motcua.engine.Engine and Store.commit, one commit per command, as the
  centre's worker does at a quiet moment; ratings through motcua.ratings, the day's
  dossiers through DossierStore), so the outbox triggers make the records.

What is not: the centre service (`motcua centre`) and the hall's devices do not run
(their work is written in-process, above, before the line comes back); and everything
shares one machine (2 cores here) with whatever else runs on it.

The run:
1. every centre starts as the centre does (its database with the site record), its
   broker and `motcua ship`; the line is up: the hub acknowledges the site record;
2. every line is cut; each centre's busy day (--records records) is written into
   its database; `motcua ship` sends what its window allows into its own broker,
   which queues it for the bridge; the cut lasts at least --cut-s;
3. every line is restored at once (the clock starts), and the benchmark watches:
   each bridge's `ship/link` 1 at the provincial broker, the hub's `acked` in
   PostgreSQL (every record up to it committed) and each centre's acknowledgement
   as it arrives at the centre's own broker (what `motcua ship` reads).
Finally every record in PostgreSQL is compared with each centre's outbox (seq, kind
and body).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import paho.mqtt.client as mqtt  # noqa: E402
import psycopg  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from bench_hub import postgres_cpu_s  # noqa: E402
from bench_province_broker import machine_busy_s, ours_s, province_file  # noqa: E402
from measure import percentile, python_speed_s  # noqa: E402
from motcua.config import WARNED_ENV  # noqa: E402
from motcua.province.pgcluster import Cluster  # noqa: E402
from support.broker import Broker, free_port, write_site  # noqa: E402
from support.hub import run_hub_process, wait_log  # noqa: E402
from support.province_broker import OBSERVER, OBSERVER_PASSWORD, ProvincialBroker  # noqa: E402
from support.tls import make_ca  # noqa: E402

DAY = date(2026, 12, 7)   # the busy day (a Monday)


def centre_id(i: int) -> str:
    return f"xa-{i:03d}"   # as bench_province_broker.province_file names them


def password(i: int) -> str:
    return f"bench-centre-{i}-secret"


# -- the lines: a process of their own -----------------------------------------------------

def lines_process(conn, target_port: int, n: int) -> None:
    """n forwarders to the provincial broker's TLS port; commands from the pipe:
    'cut', 'restore' (answered with time.monotonic() once done: the clock is the
    machine's, the same in every process), 'connections', 'stop'."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.netcut import Link
    links = [Link(target_port).start() for _ in range(n)]
    conn.send([link.port for link in links])
    while True:
        cmd = conn.recv()
        if cmd == "cut":
            for link in links:
                link.cut()
            conn.send(time.monotonic())
        elif cmd == "restore":
            for link in links:
                link.restore()
            conn.send(time.monotonic())
        elif cmd == "connections":
            conn.send([link.connections for link in links])
        elif cmd == "stop":
            for link in links:
                link.stop()
            conn.send(None)
            return


# -- a centre's busy day, by the centre's own code ------------------------------------------

SERVICE_WEIGHTS = {"HT": 24, "CT": 30, "DD": 10, "XD": 5, "KD": 6, "CU": 9, "LLTP": 5, "XH": 4, "TKQ": 7}
PROCEDURES = [("1.001193", "Đăng ký khai sinh", "Hộ tịch", 1), ("1.000894", "Đăng ký kết hôn", "Hộ tịch", 3),
              ("2.000815", "Chứng thực bản sao từ bản chính", "Chứng thực", 1),
              ("1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Xây dựng", 15),
              ("2.000889", "Đăng ký biến động quyền sử dụng đất", "Đất đai", 10)]


def busy_day(site_path: str, records: int, seed: int) -> tuple[int, float]:
    """Write a busy day into the centre's database until its outbox has `records`
    more records (a few more: a command's records go together): citizens take
    numbers, eight counters call, start and finish them, most citizens rate, some
    bring a dossier the officer attaches; the day's dossiers come from the one-stop
    software first. One commit per command, as the centre's worker does. Returns
    (the outbox's last seq, seconds taken)."""
    os.environ[WARNED_ENV] = str(Path(site_path).resolve())
    from motcua import ratings as rt
    from motcua.config import load_site
    from motcua.dossiers import DossierStore
    from motcua.engine import Changes, Engine, QueueError
    from motcua.store import Store
    t0 = time.perf_counter()
    site = load_site(site_path)
    rng = random.Random(seed)
    tz = site.tz
    store = Store(site.database, synchronous="OFF")   # the CPU's work only: this is the benchmark's setup
    head = lambda: store.db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]  # noqa: E731
    target = head() + records
    engine = Engine(site, store.load_state())
    now = datetime.combine(DAY, clock_time(7, 20), tz)
    codes = []
    dossiers = []
    for k in range(1, 21):
        proc, name, fld, days = rng.choice(PROCEDURES)
        received = now - timedelta(days=rng.randint(0, 12), hours=rng.randint(0, 8))
        code = f"{site.dossiers.agency_code}-{received:%y%m%d}-{k:04d}"
        steps = [{"step": "received", "at": received.isoformat(), "note": "Tiếp nhận"},
                 {"step": "processing", "at": (received + timedelta(hours=2)).isoformat(), "note": "Thụ lý"}]
        dossiers.append({"code": code, "procedure_code": proc, "procedure_name": name, "field": fld,
                         "applicant_name": f"Nguyễn Văn {k}", "received_at": received.isoformat(),
                         "due_at": (received.date() + timedelta(days=days + 2)).isoformat(),
                         "status": "processing", "steps": steps})
        codes.append((code, proc))
    report = DossierStore(store.db, site.dossiers, site.timezone).import_records(enumerate(dossiers, 1))
    assert report.ok, report.errors[:3]
    counters = [c.number for c in site.counters][:8]
    for c in counters:
        now += timedelta(seconds=rng.randint(5, 40))
        store.commit(*engine.sign_in(c, f"cb{c:02d}", now, f"Cán bộ {c}"))
    services = [s.code for s in site.services]
    weights = [SERVICE_WEIGHTS.get(s, 5) for s in services]
    levels = site.rating_levels
    current: dict[int, int] = {}
    pad_seq: dict[int, int] = {}
    pace = min(1.0, 2000 / max(1, records))   # a bigger day is a busier one, not one past midnight
    while head() < target:
        now += timedelta(seconds=rng.randint(10, 60) * pace)
        if rng.random() < 0.33:   # a citizen takes a number
            store.commit(*engine.issue(rng.choices(services, weights)[0], now,
                                       priority="cao_tuoi" if rng.random() < 0.07 else None, device="kiosk-1"))
            continue
        c = rng.choice(counters)
        if c not in current:      # a free counter calls the next citizen, who comes to it
            try:
                events, changes = engine.call_next(c, now)
            except QueueError:
                continue
            store.commit(events, changes)
            current[c] = next(e["ticket_id"] for e in events if e["type"] == "ticket_called")
            store.commit(*engine.start(c, now + timedelta(seconds=rng.randint(15, 60))))
            continue
        tid = current.pop(c)
        if codes and rng.random() < 0.2:   # the visit's dossier, scanned at the counter
            code, proc = codes.pop()
            store.commit(*engine.attach_dossier(c, code, now - timedelta(seconds=30), proc))
        try:
            events, changes = engine.done(c, now)
        except QueueError:   # the counter lost its citizen meanwhile (a new day): nothing to finish
            continue
        done_ev = next(e for e in events if e["type"] == "ticket_done")
        prompt = rt.open_prompt(done_ev, changes.tickets[tid], now, site.rating_prompt_timeout_s)
        store.commit(events, changes, prompts=[prompt.as_row()])
        if rng.random() < 0.75:   # the citizen presses the pad: its own commit, as the centre's
            pad_seq[c] = pad_seq.get(c, 0) + 1
            pressed = now + timedelta(seconds=rng.randint(3, 30))
            incoming = rt.parse_rating(
                {"rating": rt.rating_id(f"PAD-{c}", 1, pad_seq[c]), "pad": f"PAD-{c}", "boot": 1,
                 "seq": pad_seq[c], "level": rng.choices(range(1, len(levels) + 1), (55, 28, 10, 7)[:len(levels)])[0],
                 "prompt": prompt.id, "pressed_at": pressed.isoformat()}, len(levels))
            status = rt.bind(incoming, c, prompt, False)
            local = pressed.astimezone(tz)
            row = rt.rating_row(incoming, c, status, prompt, levels, pressed + timedelta(milliseconds=50),
                                local.date().isoformat(), local.hour,
                                dossiers=list(engine.state.dossiers.get(tid, ())))
            store.commit([], Changes(), ratings=[row])
    last = head()
    store.close()
    return last, time.perf_counter() - t0


# -- watching -------------------------------------------------------------------------------

class Watch:
    """What arrives where, with time.monotonic(): each centre's acknowledgements at its
    own broker (as the admin device, which may read the centre's root), and each
    bridge's `ship/link` at the provincial broker (as the test's observer login)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acks: dict[str, list[tuple[float, int]]] = {}
        self.links: dict[str, list[tuple[float, bytes]]] = {}
        self.clients: list[mqtt.Client] = []

    def centre(self, site) -> None:
        admin = site.devices_of("admin")[0]
        cid = site.id
        self.acks[cid] = []
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-watch-{cid}", protocol=mqtt.MQTTv5)
        c.username_pw_set(admin.id, admin.password)

        def on_message(client, userdata, msg, cid=cid):
            try:
                acked = json.loads(msg.payload)["acked"]
            except (ValueError, KeyError):
                return
            with self.lock:
                self.acks[cid].append((time.monotonic(), acked))
        c.on_message = on_message
        c.on_connect = lambda client, u, f, rc, p, cid=cid: client.subscribe(f"motcua/{cid}/ship/ack", 1)
        c.connect_async("127.0.0.1", site.broker.port, keepalive=30)
        c.loop_start()
        self.clients.append(c)

    def province(self, port: int) -> None:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-watch-province", protocol=mqtt.MQTTv5)
        c.username_pw_set(OBSERVER, OBSERVER_PASSWORD)

        def on_message(client, userdata, msg):
            cid = msg.topic.split("/")[1]
            with self.lock:
                self.links.setdefault(cid, []).append((time.monotonic(), bytes(msg.payload)))
        c.on_message = on_message
        c.on_connect = lambda client, u, f, rc, p: client.subscribe("motcua/+/ship/link", 1)
        c.connect_async("127.0.0.1", port, keepalive=30)
        c.loop_start()
        self.clients.append(c)

    def acked(self, cid: str) -> int:
        with self.lock:
            return max((a for _, a in self.acks[cid]), default=0)

    def ack_reached(self, cid: str, seq: int) -> float | None:
        with self.lock:
            return next((t for t, a in self.acks[cid] if a >= seq), None)

    def link_state(self, cid: str) -> bytes | None:
        with self.lock:
            got = self.links.get(cid)
            return got[-1][1] if got else None

    def link_up_after(self, cid: str, t0: float) -> float | None:
        with self.lock:
            return next((t for t, v in self.links.get(cid, []) if t >= t0 and v == b"1"), None)

    def stop(self) -> None:
        for c in self.clients:
            c.disconnect()
            c.loop_stop()


def ship_status(site) -> dict:
    try:
        return json.loads((site.data_dir / "ship-status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def wait_until(predicate, timeout: float, what: str, step: float = 0.2) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():
            return time.monotonic() - t0
        time.sleep(step)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def spread(values: list[float]) -> str:
    return (f"p50 {percentile(values, 50):.1f} s, p90 {percentile(values, 90):.1f} s, "
            f"max {max(values):.1f} s") if values else "none"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--centres", type=int, default=100)
    ap.add_argument("--records", type=int, default=2000, help="records each centre holds back")
    ap.add_argument("--cut-s", type=float, default=90.0, help="the cut lasts at least this long")
    ap.add_argument("--workers", type=int, default=2, help="the hub's workers")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs, databases)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="motcua-bench-catchup-", dir="/tmp"))
    os.chmod(work, 0o755)   # Mosquitto and PostgreSQL run as their own users
    cluster = Cluster(work / "pg", free_port(), fsync=True)
    province_broker = hub = None
    brokers: list[Broker] = []
    shippers: list[subprocess.Popen] = []
    watch = Watch()
    lines = lines_conn = None
    ok = False
    try:
        print(f"python speed: {python_speed_s():.2f} s for 10M additions; {os.cpu_count()} CPUs; load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start", flush=True)
        t_setup = time.monotonic()
        cluster.start()
        dsn = cluster.create_database("province")
        pki = make_ca(work / "pki")
        cert, key = pki.server("broker")
        province_path = province_file(work, pki.ca, cert, key, args.centres)
        text = province_path.read_text(encoding="utf-8")
        dsn_line = next(line for line in text.splitlines() if line.startswith("dsn = "))
        province_path.write_text(text.replace(dsn_line, f'dsn = "{dsn}"'), encoding="utf-8")
        (work / "province-broker").mkdir()
        province_broker = ProvincialBroker(province_path, work / "province-broker").start()
        watch.province(province_broker.port)
        hub = run_hub_process(province_path, work / "hub.log", workers=args.workers)
        wait_log(work / "hub.log", "connected to the provincial broker", timeout=60)

        ctx = mp.get_context("spawn")
        lines_conn, child_conn = ctx.Pipe()
        lines = ctx.Process(target=lines_process, args=(child_conn, province_broker.tls_port, args.centres),
                            daemon=True)
        lines.start()
        line_ports = lines_conn.recv()

        # 1. every centre as it starts: its database (the site record), its broker, `motcua ship`
        from motcua.config import load_site
        from motcua.shipping import outbox
        from motcua.store import Store
        sites = []
        for i in range(args.centres):
            folder = work / "centres" / centre_id(i)
            folder.mkdir(parents=True)
            path = write_site(folder, free_port(), replace={'id = "hcc-demo"': f'id = "{centre_id(i)}"'}, extra=(
                f'\n[province]\nhost = "127.0.0.1"\nport = {line_ports[i]}\n'
                f'cafile = "{pki.ca}"\npassword = "{password(i)}"\n'))
            os.environ[WARNED_ENV] = str(path.resolve())   # the sample's secrets: known, say nothing
            site = load_site(path)
            site.database.parent.mkdir(parents=True, exist_ok=True)
            store = Store(site.database)
            outbox.record_site(store.db, site)   # what CentreService does at start
            store.close()
            brokers.append(Broker(site, folder / "broker").start())
            sites.append(site)
        env = {k: v for k, v in os.environ.items() if k != WARNED_ENV}
        for site in sites:
            shippers.append(subprocess.Popen(
                [sys.executable, "-m", "motcua", "--site", str(site.path), "ship"],
                stdout=open(site.path.parent / "ship.log", "ab"), stderr=subprocess.STDOUT, cwd=ROOT,
                env={**env, WARNED_ENV: str(site.path.resolve())}))
            watch.centre(site)
        first = {s.id: sqlite3.connect(s.database).execute("SELECT max(seq) FROM outbox").fetchone()[0]
                 for s in sites}
        took = wait_until(lambda: all(watch.acked(s.id) >= first[s.id] for s in sites), 300,
                          "every centre's first records acknowledged (the lines up)")
        print(f"{args.centres} centres up, bridged over TLS, their first records acknowledged "
              f"{took:.0f} s after their brokers and shippers started (setup {time.monotonic() - t_setup:.0f} s)",
              flush=True)
        wait_until(lambda: all(watch.link_state(s.id) == b"1" for s in sites), 60, "every link 1")

        # 2. the lines cut; each centre's busy day written behind them
        lines_conn.send("cut")
        t_cut = lines_conn.recv()
        took = wait_until(lambda: all(watch.link_state(s.id) == b"0" for s in sites), 120,
                          "every bridge's will (0) at the provincial broker")
        print(f"lines cut: every bridge's 0 at the province after {took:.1f} s", flush=True)
        try:
            wait_until(lambda: all(ship_status(s).get("link") is False for s in sites), 30,
                       "every shipper to hear its link is down")
        except RuntimeError:
            print("  (not every shipper heard its link go down:",
                  sum(ship_status(s).get("link") is not False for s in sites), "did not)")
        t0 = time.monotonic()
        with ctx.Pool(2) as pool:
            written = pool.starmap(busy_day, [(str(s.path), args.records, 1000 + i) for i, s in enumerate(sites)])
        heads = {s.id: last for s, (last, _) in zip(sites, written)}
        new = {s.id: heads[s.id] - first[s.id] for s in sites}
        total = sum(new.values())
        print(f"busy days written in {time.monotonic() - t0:.0f} s (2 processes): {total} records "
              f"({min(new.values())} to {max(new.values())} a centre), "
              f"{sum(t for _, t in written) / len(written):.2f} s a centre", flush=True)
        mix = {}
        for s in sites[:1]:
            db = sqlite3.connect(s.database)
            mix = dict(db.execute("SELECT kind, count(*) FROM outbox WHERE seq > ? GROUP BY kind", [first[s.id]]))
            size = db.execute("SELECT avg(length(body)) FROM outbox WHERE seq > ?", [first[s.id]]).fetchone()[0]
            db.close()
        print(f"  one centre's records: {mix}; {size:.0f} bytes of body on average", flush=True)

        def settled():
            st = [ship_status(s) for s in sites]
            return all(x.get("head") == heads[s.id] for x, s in zip(st, sites))
        wait_until(settled, 120, "every shipper to see its day")
        time.sleep(4)   # its window sent into its own broker (the status note is 2 s behind)
        st = [ship_status(s) for s in sites]
        in_flight = [x.get("in_flight", 0) for x in st]
        sent = [x.get("records_sent", 0) for x in st]
        print(f"  behind the cut: each shipper sent {min(sent)} to {max(sent)} records "
              f"({min(in_flight)} to {max(in_flight)} batches) into its own broker, queued for the bridge",
              flush=True)
        time.sleep(max(0.0, args.cut_s - (time.monotonic() - t_cut)))

        # 3. released at once
        procs = {"hub": [hub.pid], "provincial broker": [province_broker.proc.pid],
                 "centre brokers": [b.proc.pid for b in brokers], "shippers": [p.pid for p in shippers],
                 "lines": [lines.pid], "this process": [os.getpid()]}
        cpu0 = {k: ours_s(v) for k, v in procs.items()}
        pg0, busy0 = postgres_cpu_s(cluster), machine_busy_s()
        load0 = os.getloadavg()
        hub_log_at = (work / "hub.log").stat().st_size
        lines_conn.send("restore")
        t_release = lines_conn.recv()
        pg_done: dict[str, float] = {}
        timeline = []
        conn = psycopg.connect(dsn, autocommit=True)
        deadline = t_release + args.timeout
        next_line = t_release + 5
        while time.monotonic() < deadline:
            now = time.monotonic()
            rows = dict(conn.execute("SELECT id, acked FROM centres").fetchall())
            for s in sites:
                if s.id not in pg_done and rows.get(s.id, 0) >= heads[s.id]:
                    pg_done[s.id] = now
            at_centres = sum(watch.ack_reached(s.id, heads[s.id]) is not None for s in sites)
            if now >= next_line:
                next_line += 5
                ups = sum(watch.link_up_after(s.id, t_release) is not None for s in sites)
                stored = sum(min(rows.get(s.id, 0), heads[s.id]) - first[s.id] for s in sites)
                timeline.append((now - t_release, ups, stored, at_centres))
                print(f"  +{now - t_release:5.1f} s: {ups:3d} links up, {stored:7d} of {total} records stored "
                      f"(contiguous), {at_centres:3d} centres acknowledged to their last record", flush=True)
            if len(pg_done) == len(sites) and at_centres == len(sites):
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - t_release
        cpu = {k: ours_s(v) - cpu0[k] for k, v in procs.items()}
        pg_cpu, busy = postgres_cpu_s(cluster) - pg0, machine_busy_s() - busy0
        load1 = os.getloadavg()
        conn.close()

        ups = {s.id: watch.link_up_after(s.id, t_release) for s in sites}
        at_centre = {s.id: watch.ack_reached(s.id, heads[s.id]) for s in sites}
        link_s = [t - t_release for t in ups.values() if t is not None]
        pg_s = [t - t_release for t in pg_done.values()]
        centre_s = [t - t_release for t in at_centre.values() if t is not None]
        after_link = [at_centre[c] - ups[c] for c in at_centre if at_centre[c] and ups[c]]
        done = len(pg_done) == len(sites) and len(centre_s) == len(sites)
        print()
        print(f"CATCH-UP: {args.centres} centres x ~{args.records} records = {total} records held back, lines "
              f"released at once:")
        if done:
            print(f"  every record in PostgreSQL (every centre's acked = its last seq) {max(pg_s):.1f} s after the "
                  f"release; every centre's acknowledgement at its own broker {max(centre_s):.1f} s after")
        else:
            print(f"  NOT DONE after {elapsed:.0f} s: {len(pg_done)} centres complete in PostgreSQL, "
                  f"{len(centre_s)} acknowledged at their broker")
        print(f"  each bridge back (ship/link 1 at the province): {spread(link_s)} ({len(link_s)} of {len(sites)})")
        print(f"  each centre complete in PostgreSQL:              {spread(pg_s)}")
        print(f"  each centre's last acknowledgement at its broker: {spread(centre_s)}")
        print(f"  from its bridge back to its last acknowledgement: {spread(after_link)}")
        print(f"  CPU over those {elapsed:.0f} s (cores): " + ", ".join(f"{k} {v / elapsed:.2f}" for k, v in cpu.items())
              + f", PostgreSQL {pg_cpu / elapsed:.2f}; the machine {busy / elapsed:.2f} of {os.cpu_count()} "
              f"(other work {max(0.0, busy - sum(cpu.values()) - pg_cpu) / elapsed:.2f})")
        print(f"  load average {' '.join(f'{x:.1f}' for x in load0)} before, "
              f"{' '.join(f'{x:.1f}' for x in load1)} after")
        lines_conn.send("connections")
        conns = lines_conn.recv()
        print(f"  TCP connections through the lines in all: {sum(conns)} ({args.centres} in phase 1; the rest "
              f"the bridges' tries after the release)")

        # the hub's own account, then every record checked against the centres' outboxes
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=60)
        log = (work / "hub.log").read_text(encoding="utf-8", errors="replace")
        periodic = [line for line in log[hub_log_at:].splitlines() if "records/s" in line]
        final = [line for line in log.splitlines() if "hub stopped" in line]
        for line in periodic:
            print("  hub:", line.split(" ", 3)[-1] if line.count(" ") > 3 else line)
        if final:
            print("  hub:", final[-1].split("hub stopped", 1)[-1].strip())
        mismatched = 0
        with psycopg.connect(dsn) as pg:
            n, distinct = pg.execute("SELECT count(*), count(DISTINCT (centre, seq)) FROM records").fetchone()
            for s in sites:
                theirs = [(seq, kind, body) for seq, kind, body in pg.execute(
                    "SELECT seq, kind, body FROM records WHERE centre = %s ORDER BY seq", [s.id])]
                db = sqlite3.connect(f"file:{s.database}?mode=ro", uri=True)
                mine = [(seq, kind, json.loads(body)) for seq, kind, body in
                        db.execute("SELECT seq, kind, body FROM outbox ORDER BY seq")]
                db.close()
                if theirs != mine:
                    mismatched += 1
        expected = sum(heads.values())
        print(f"  check: {n} records in PostgreSQL, {distinct} distinct, {expected} in the centres' outboxes; "
              f"{mismatched} centres whose records differ from their outbox (seq, kind, body)")
        ok = done and n == distinct == expected and mismatched == 0
        return 0 if ok else 1
    finally:
        watch.stop()
        for p in shippers:
            if p.poll() is None:
                p.terminate()
        for p in shippers:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if hub is not None and hub.poll() is None:
            hub.terminate()
            try:
                hub.wait(timeout=30)
            except subprocess.TimeoutExpired:
                hub.kill()
        for b in brokers:
            b.stop()
        if lines_conn is not None:
            try:
                lines_conn.send("stop")
                lines_conn.recv()
            except (OSError, EOFError):
                pass
        if lines is not None:
            lines.join(timeout=10)
        if province_broker is not None:
            province_broker.stop()
        cluster.stop()
        if args.keep or not ok:
            print("work folder kept:", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

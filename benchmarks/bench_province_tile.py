#!/usr/bin/env python3
"""A call at a centre to its tile on the province board (issue 13): target p99 1 s
or less, through both brokers.

    .venv/bin/python benchmarks/bench_province_tile.py                # 300 calls, one every 2 s on average
    .venv/bin/python benchmarks/bench_province_tile.py --calls 50 --others 20   # a quick look

Not a test: it prints figures.

Everything on the path is real and runs as in a province, on this one machine:
the centre (`motcua centre`, its own process) with its Mosquitto as `motcua broker
config` writes it, bridged over TLS to the provincial Mosquitto (the configuration
`motcua province broker config` writes, a throwaway CA), and `motcua ship`; the hub
(`motcua province hub` on a throwaway PostgreSQL with fsync on), which acknowledges
every batch as in a province (the acknowledgement moves the tile's `unshipped` and
wakes `motcua ship`); and the province board itself, `ProvinceBoardApp`, under its
own Xvfb (Mesa's software renderer), logged in as `board`. The province has
1 + --others centres: the others' tiles (healthy, a new one every --other-period
seconds each, at random phases) come from this process through the provincial
broker, as their bridges would bring them; the board pages 20 at a time at
1920x1080, worst first, and the page does not turn during the run (--page-s), so
the measured centre is on the page shown (each sample says whether it was).

The board runs in a child process that also works the centre's counters, as the
hall's devices do, through the centre's broker: six counters signed in with their
officers' PINs; each round, a counter finishes its citizen (counter.done) and the
kiosk gives a new number, then half an interval later the next counter calls
(counter.next: the timed call), then starts serving (counter.start). So each call
changes what the tile shows (one fewer waiting) and is told apart by its counter's
state, `called`, with a new `since`. For each call, from the request sent (one
clock, time.monotonic(), in the child):

- reply: the centre's ok reply to counter.next;
- centre tile: the tile that shows the call, published by `motcua ship`, as it
  reaches a subscriber on the centre's broker (the admin device);
- board heard: the same tile as the board's link hears it from the provincial
  broker (after the bridge);
- on screen: the first frame drawn after the board's refresh that took it in
  (Window.on_flip after `_refresh`, wrapped by a subclass as the board's docs say).
Also the board's own part (heard -> on screen) and its refresh times.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import percentile, python_speed_s  # noqa: E402

COUNTERS = 6          # counters signed in and calling in turn
WARMUP = 10           # calls not counted (the first tiles, caches)


# -- the child: the real board, measuring itself, and the centre's counters ------------------------

def child(province_path: str, site_path: str, out: str, calls: int, interval: float, size: str,
          page_s: float) -> None:
    from motcua.ui.bootstrap import configure
    w, h = (int(x) for x in size.split("x"))
    configure(False, (w, h))
    import paho.mqtt.client as mqtt
    from kivy.clock import Clock
    from kivy.core.window import Window
    from paho.mqtt.enums import CallbackAPIVersion

    from motcua.config import load_site
    from motcua.mqtt import DeviceClient, RequestRefused
    from motcua.province.board.app import ProvinceBoardApp
    from motcua.province.config import load_province
    from support.officers import sign_in

    province = load_province(province_path)
    site = load_site(site_path)
    target = site.id
    lock = threading.Lock()
    result: dict = {"samples": [], "refresh_ms": [], "frames": 0, "missed": 0, "refused": 0}

    class MeasuredBoard(ProvinceBoardApp):
        """The shipped board; what it adds only notes times (docs/province.md, "Update path")."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.expect: dict | None = None     # the call being timed (set by the driver thread)
            self.to_draw: list = []             # its tile heard, waiting for a refresh
            self.to_flip: list = []             # taken in by a refresh, waiting for the frame

        def on_start(self):
            super().on_start()
            Window.bind(on_flip=self._flipped)

        def _heard(self, centre, received):
            if centre == target:
                e = self.expect
                if e is not None and "heard" not in e:
                    tile = self.link.snapshot()[centre].tile or {}
                    st = next((x for x in tile.get("counters", ()) if x["counter"] == e["counter"]), None)
                    if st and st["state"] == "called" and st["since"] != e["since_board"]:
                        e["heard"], e["waiting"] = received, tile["waiting"]
                        with lock:
                            e["noted"] = time.monotonic()   # stored in the link before this
                            self.to_draw.append(e)
            super()._heard(centre, received)

        def _refresh(self, dt):
            t = time.monotonic()
            with lock:
                ready = [e for e in self.to_draw if e["noted"] <= t]
                self.to_draw = [e for e in self.to_draw if e["noted"] > t]
            p = time.perf_counter()
            super()._refresh(dt)
            result["refresh_ms"].append((time.perf_counter() - p) * 1000)
            for e in ready:
                e["on_screen"] = self.on_screen(target)
            self.to_flip.extend(ready)

        def _flipped(self, *args):
            now = time.monotonic()
            result["frames"] += 1
            if not self.to_flip:
                return
            shown = next((wd.waiting_text for wd in self.root.ids.tiles.children if wd.centre == target), None)
            for e in self.to_flip:
                e["frame"], e["drawn"] = now, shown
            self.to_flip = []

    app = MeasuredBoard(province, page_s=page_s)

    # the tile as it leaves the centre's broker (the admin device may read the centre's root)
    admin = site.devices_of("admin")[0]
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-tile-watch", protocol=mqtt.MQTTv5)
    watcher.username_pw_set(admin.id, admin.password)
    centre_tile: dict = {}

    def on_tile(client, userdata, msg):
        now = time.monotonic()
        tile = json.loads(msg.payload)
        with lock:
            centre_tile["last"] = tile
            e = app.expect
            if e is not None and "centre_tile" not in e:
                st = next((x for x in tile.get("counters", ()) if x["counter"] == e["counter"]), None)
                if st and st["state"] == "called" and st["since"] != e["since_centre"]:
                    e["centre_tile"] = now
    watcher.on_message = on_tile
    watcher.on_connect = lambda c, u, f, rc, p: c.subscribe(f"motcua/{target}/ship/live", 1)
    watcher.connect("127.0.0.1", site.broker.port)
    watcher.loop_start()

    def since_of(tile: dict | None, counter: int):
        st = next((x for x in (tile or {}).get("counters", ()) if x["counter"] == counter), None)
        return st["since"] if st else None

    def drive():
        try:
            deadline = time.monotonic() + 60
            while not (app.link.connected and target in app.link.snapshot() and app._restart_at is None):
                if time.monotonic() > deadline:
                    raise RuntimeError("the board never heard the centre's tile")
                time.sleep(0.1)
            if not app.on_screen(target):   # a new cycle, worst first, now that its tile is in
                Clock.schedule_once(lambda dt: (app.pager.restart(), app.refresh_soon()), 0)
                deadline = time.monotonic() + 10
                while not app.on_screen(target) and time.monotonic() < deadline:
                    time.sleep(0.1)
            result["on_screen_at_start"] = app.on_screen(target)
            result["late_alert"] = [a["kind"] for a in app.alerts if a["centre"] == target]
            kiosk = DeviceClient(site, "kiosk-1").start()
            devices = {d.counter: d.id for d in site.devices_of("counter")}
            order = sorted(devices)[:COUNTERS]
            serves = {c.number: list(c.services) for c in site.counters}
            clients = {}
            for n in order:
                clients[n] = DeviceClient(site, devices[n]).start()
            for c in [kiosk, *clients.values()]:
                assert c.wait_connected(15), "a device could not connect"
            for n in order:
                sign_in(clients[n], n, f"canbo{n}")
                for svc in serves[n]:
                    for _ in range(3):
                        kiosk.request("ticket.issue", service=svc)
            busy: set[int] = set()
            rng = random.Random(7)
            i = 0
            while i < calls + WARMUP:
                n = order[i % len(order)]
                if n in busy:
                    clients[n].request("counter.done", counter=n)
                    busy.discard(n)
                kiosk.request("ticket.issue", service=serves[n][0])
                time.sleep(interval * rng.uniform(0.25, 0.75))
                with lock:
                    e = {"i": i, "counter": n, "since_centre": since_of(centre_tile.get("last"), n)}
                heard = app.link.snapshot().get(target)
                e["since_board"] = since_of(heard.tile if heard else None, n)
                app.expect = e
                e["t0"] = time.monotonic()
                try:
                    clients[n].request("counter.next", counter=n)
                except RequestRefused:   # nobody waiting for this counter now: not a sample
                    app.expect = None
                    result["refused"] += 1
                    for svc in serves[n]:
                        kiosk.request("ticket.issue", service=svc)
                    continue
                e["reply"] = time.monotonic()
                busy.add(n)
                while "frame" not in e and time.monotonic() - e["t0"] < 10:
                    time.sleep(0.005)
                app.expect = None
                if "frame" not in e:
                    result["missed"] += 1
                if i >= WARMUP:
                    result["samples"].append({k: v for k, v in e.items() if k not in ("since_centre",
                                                                                        "since_board")})
                clients[n].request("counter.start", counter=n)
                time.sleep(interval * rng.uniform(0.25, 0.75))
                i += 1
            for c in [kiosk, *clients.values()]:
                c.stop()
        except Exception as exc:  # noqa: BLE001 - reported to the parent in the result
            import traceback
            result["error"] = traceback.format_exc()
            print(exc, file=sys.stderr)
        finally:
            Clock.schedule_once(lambda dt: app.stop(), 0)

    def started(dt):
        threading.Thread(target=drive, daemon=True).start()
    Clock.schedule_once(started, 1)
    app.run()
    watcher.disconnect()
    watcher.loop_stop()
    result["messages"] = app.link.messages
    Path(out).write_text(json.dumps(result, default=str))


# -- the parent ----------------------------------------------------------------------------------

def others_publisher(port: int, centres: list[tuple[str, str]], period: float, stop: threading.Event) -> None:
    """The other centres' tiles, as their bridges would bring them (healthy centres)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from support.province_broker import OBSERVER, OBSERVER_PASSWORD
    from support.province_scenarios import make_tile
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-others", protocol=mqtt.MQTTv5)
    c.username_pw_set(OBSERVER, OBSERVER_PASSWORD)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    rng = random.Random(3)
    due = {cid: time.monotonic() + rng.uniform(0, period) for cid, _ in centres}
    for cid, _ in centres:
        c.publish(f"motcua/{cid}/ship/link", "1", qos=1, retain=True)

    def tile(cid, name):
        now = datetime.now(timezone.utc)
        waiting = rng.randint(0, 6)
        counters = [(rng.choice(["open", "serving", "serving", "called"]), rng.uniform(0, 8)) for _ in range(4)]
        return make_tile(cid, name, now, waiting=waiting, longest_min=rng.uniform(0, 12), counters=counters,
                         ratings=rng.randint(10, 60), index=rng.uniform(80, 98), served=rng.randint(20, 120))
    for cid, name in centres:
        c.publish(f"motcua/{cid}/ship/live", json.dumps(tile(cid, name), ensure_ascii=False), qos=1, retain=True)
    names = dict(centres)
    while not stop.is_set():
        now = time.monotonic()
        for cid, t in due.items():
            if t <= now:
                c.publish(f"motcua/{cid}/ship/live", json.dumps(tile(cid, names[cid]), ensure_ascii=False),
                          qos=1, retain=True)
                due[cid] = t + period
        stop.wait(0.05)
    c.disconnect()
    c.loop_stop()


def figures(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"p50 {percentile(values, 50):4.0f}  p90 {percentile(values, 90):4.0f}  p99 {percentile(values, 99):4.0f}  "
            f"max {max(values):4.0f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between calls, on average")
    ap.add_argument("--others", type=int, default=169, help="other centres of the province (simulated tiles)")
    ap.add_argument("--other-period", type=float, default=10.0, help="seconds between an other centre's tiles")
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--page-s", type=float, default=3600.0, help="the board's page time (the page stays)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--child", nargs=3, metavar=("PROVINCE", "SITE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child, calls=args.calls, interval=args.interval, size=args.size, page_s=args.page_s)
        return 0

    import psycopg  # noqa: F401 - the hub needs it; fail early with a clear import error

    from bench_hub import postgres_cpu_s
    from bench_province_broker import machine_busy_s, ours_s, province_file
    from motcua.config import WARNED_ENV, load_site
    from motcua.province.pgcluster import Cluster
    from support.broker import Broker, free_port, run_centre_process, write_site
    from support.hub import run_hub_process, wait_log
    from support.officers import register_on
    from support.province_broker import ProvincialBroker
    from support.province_scenarios import centre_names
    from support.tls import make_ca

    work = Path(tempfile.mkdtemp(prefix="motcua-bench-tile-", dir="/tmp"))
    os.chmod(work, 0o755)
    cluster = Cluster(work / "pg", free_port(), fsync=True)
    procs: list[subprocess.Popen] = []
    province_broker = broker = xvfb = None
    stop_others = threading.Event()
    ok = False
    try:
        print(f"python speed: {python_speed_s():.2f} s for 10M additions; {os.cpu_count()} CPUs; load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start", flush=True)
        cluster.start()
        dsn = cluster.create_database("province")
        pki = make_ca(work / "pki")
        cert, key = pki.server("broker")
        names = centre_names(1 + args.others)
        real_id = names[0][0]
        path = province_file(work, pki.ca, cert, key, 0)
        text = path.read_text(encoding="utf-8")
        dsn_line = next(line for line in text.splitlines() if line.startswith("dsn = "))
        text = text.replace(dsn_line, f'dsn = "{dsn}"')
        for k, (cid, name) in enumerate(names):
            text += f'[[centres]]\nid = "{cid}"\nname = "{name}"\npassword = "bench-tile-centre-{k}-secret"\n\n'
        path.write_text(text, encoding="utf-8")
        (work / "province-broker").mkdir()
        province_broker = ProvincialBroker(path, work / "province-broker").start()
        procs.append(run_hub_process(path, work / "hub.log"))
        wait_log(work / "hub.log", "connected to the provincial broker", timeout=60)

        folder = work / "centre"
        folder.mkdir()
        site_path = write_site(folder, free_port(), replace={'id = "hcc-demo"': f'id = "{real_id}"'}, extra=(
            f'\n[province]\nhost = "127.0.0.1"\nport = {province_broker.tls_port}\n'
            f'cafile = "{pki.ca}"\npassword = "bench-tile-centre-0-secret"\n'))
        os.environ[WARNED_ENV] = str(site_path.resolve())   # the sample's secrets: known, say nothing
        site = load_site(site_path)
        broker = Broker(site, folder / "broker").start()
        procs.append(run_centre_process(site_path, folder / "centre.log"))
        deadline = time.monotonic() + 30
        while not site.database.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        register_on(site, *[f"canbo{n}" for n in range(1, 13)])
        # The sample dossiers: some are late without an apology, an amber alert on the centre's tile, so
        # the board's worst-first order puts it on the page shown (the others are healthy)
        subprocess.run([sys.executable, "-m", "motcua", "--site", str(site_path), "dossiers", "import",
                        str(ROOT / "examples" / "dossiers.json")], check=True, capture_output=True, cwd=ROOT,
                       timeout=120)
        procs.append(subprocess.Popen([sys.executable, "-m", "motcua", "--site", str(site_path), "ship"],
                                      stdout=open(folder / "ship.log", "ab"), stderr=subprocess.STDOUT, cwd=ROOT))
        others = threading.Thread(target=others_publisher, args=(province_broker.port, names[1:],
                                                                 args.other_period, stop_others), daemon=True)
        others.start()

        display = f":{free_port() % 5000 + 300}"
        w, h = args.size.split("x")
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", f"{int(w) + 100}x{int(h) + 100}x24",
                                 "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
        time.sleep(1)
        out = work / "result.json"
        mine = [os.getpid(), province_broker.proc.pid, broker.proc.pid, *(p.pid for p in procs)]
        cpu0, pg0, busy0, load0 = ours_s(mine), postgres_cpu_s(cluster), machine_busy_s(), os.getloadavg()
        xvfb0, kids0 = ours_s([xvfb.pid]), resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        done = subprocess.run([sys.executable, __file__, "--child", str(path), str(site_path), str(out),
                               "--calls", str(args.calls), "--interval", str(args.interval), "--size", args.size,
                               "--page-s", str(args.page_s)],
                              env={**os.environ, "DISPLAY": display}, capture_output=True, text=True,
                              timeout=args.calls * args.interval * 3 + 300)
        elapsed = time.monotonic() - t0
        busy, load1 = machine_busy_s() - busy0, os.getloadavg()
        cpu, pg_cpu = ours_s(mine) - cpu0, postgres_cpu_s(cluster) - pg0
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)   # the board's process, waited for: only it
        board_cpu = kids.ru_utime + kids.ru_stime - kids0.ru_utime - kids0.ru_stime
        xvfb_cpu = ours_s([xvfb.pid]) - xvfb0
        if not out.exists():
            print("the child wrote no result:", done.stderr[-3000:])
            return 1
        r = json.loads(out.read_text())
        if r.get("error"):
            print("the child failed:", r["error"])
        s = r["samples"]
        ms = lambda a, b: [(x[b] - x[a]) * 1000 for x in s if a in x and b in x]  # noqa: E731
        print()
        print(f"CALL TO TILE: {len(s)} calls (after {WARMUP} not counted), one every {args.interval:g} s on "
              f"average at {COUNTERS} counters in turn; the board at {args.size} with {1 + args.others} centres "
              f"({args.others} others, a tile every {args.other_period:g} s each)")
        print(f"  counter.next -> centre's reply:                {figures(ms('t0', 'reply'))}")
        print(f"  counter.next -> tile at the centre's broker:   {figures(ms('t0', 'centre_tile'))}")
        print(f"  counter.next -> tile heard by the board:       {figures(ms('t0', 'heard'))}")
        print(f"  counter.next -> tile on screen (the frame):    {figures(ms('t0', 'frame'))}   <- target p99 <= 1000")
        print(f"  the bridge and the provincial broker (centre's broker -> board heard): "
              f"{figures(ms('centre_tile', 'heard'))}")
        print(f"  the board's own part (heard -> on screen):      {figures(ms('heard', 'frame'))}")
        print(f"  the board's refreshes: {figures(r['refresh_ms'])} ({len(r['refresh_ms'])}); "
              f"{r['frames']} frames in {elapsed:.0f} s; {r['messages']} messages heard")
        print(f"  the centre's tile on the page shown at the start: {r.get('on_screen_at_start')} "
              f"(its alerts: {r.get('late_alert')})")
        off = sum(1 for x in s if not x.get("on_screen", True))
        drawn_ok = sum(1 for x in s if x.get("drawn") == str(x.get("waiting")))
        print(f"  missed (no frame within 10 s): {r['missed']}; off screen: {off}; the frame showing the "
              f"tile's waiting figure: {drawn_ok} of {len(s)}; calls refused (nobody waiting): {r['refused']}")
        print(f"  CPU over the run (cores): the board {board_cpu / elapsed:.2f}, its Xvfb {xvfb_cpu / elapsed:.2f}; "
              f"the centre, its broker, motcua ship, the hub, the provincial broker and this process "
              f"{cpu / elapsed:.2f}; PostgreSQL {pg_cpu / elapsed:.2f}; the machine {busy / elapsed:.2f} of "
              f"{os.cpu_count()} (other work {max(0.0, busy - board_cpu - xvfb_cpu - cpu - pg_cpu) / elapsed:.2f})")
        print(f"  load average {' '.join(f'{x:.1f}' for x in load0)} before, "
              f"{' '.join(f'{x:.1f}' for x in load1)} after")
        ok = not r.get("error") and r["missed"] == 0 and len(s) == args.calls
        return 0 if ok else 1
    finally:
        stop_others.set()
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        if broker is not None:
            broker.stop()
        if province_broker is not None:
            province_broker.stop()
        if xvfb is not None:
            xvfb.terminate()
        cluster.stop()
        if args.keep or not ok:
            print("work folder kept:", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

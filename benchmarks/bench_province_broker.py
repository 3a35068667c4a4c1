"""One provincial Mosquitto and many centres' bridges (docs/province.md, "Brokers").

    .venv/bin/python benchmarks/bench_province_broker.py                    # 170 centres, 60 s
    .venv/bin/python benchmarks/bench_province_broker.py --centres 500 --period 1

Everything is real and on this machine: the provincial broker with the
configuration, password file and ACL `motcua province broker config` writes (TLS
listener, throwaway CA from tests/support/tls.py), and one Mosquitto per centre
with the bridge block `motcua broker config` writes (TLS, the centre's own login,
MQTT 3.1.1, cleansession false), so N real bridges log in over TLS.

A load process stands in for each centre's `motcua ship`: on its centre's broker
it publishes a batch (QoS 1, `--records` records of ~400 bytes) and a retained live
tile (~900 bytes) every `--period` seconds, at a random phase. A hub on the
provincial broker's plain listener takes every batch and answers with the
retained acknowledgement; a board reads the tiles. Measured:

- how long N bridges take to log in and say `1`;
- the provincial broker's CPU (its own process, from /proc) and memory, idle with
  N bridges and under load;
- latency from `motcua ship`'s publish to the hub (batch), to the board (tile) and
  back to the centre (the acknowledgement, through both brokers twice);
- the provincial broker stopped and started again: how long until every bridge
  is back (Mosquitto's restart_timeout 2 30 backs off with jitter).

This machine's CPUs carry the centres' brokers, the load and the hub too, so the
latencies are an upper bound for a provincial server that carries only its broker.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from measure import percentile  # noqa: E402
from support.broker import EXAMPLE, free_port, wait_port  # noqa: E402
from support.tls import make_ca  # noqa: E402
from motcua.broker import bridge_text, broker_user, mosquitto_command  # noqa: E402
from motcua.config import WARNED_ENV, ProvinceLink, load_site  # noqa: E402
from motcua.province.broker import write_config  # noqa: E402
from motcua.province.config import load_province  # noqa: E402

PROVINCE_SAMPLE = ROOT / "examples" / "province.toml"


def centre_id(i: int) -> str:
    return f"xa-{i:03d}"


def province_file(work: Path, ca, cert, key, n: int) -> Path:
    text = PROVINCE_SAMPLE.read_text(encoding="utf-8")
    text = text[:text.index("[[centres]]")]
    for old, new in (('data_dir = "../var/province"', f'data_dir = "{work / "province"}"'),
                     ("port = 18840", f"port = {free_port()}"),
                     ("tls_port = 18841", f'tls_port = {free_port()}\ntls_host = "127.0.0.1"'),
                     ('# tls_cafile = "/etc/motcua/province/ca.crt"', f'tls_cafile = "{ca}"'),
                     ('# tls_certfile = "/etc/motcua/province/broker.crt"', f'tls_certfile = "{cert}"'),
                     ('# tls_keyfile = "/etc/motcua/province/broker.key"', f'tls_keyfile = "{key}"')):
        text = text.replace(old, new)
    for i in range(n):
        text += f'[[centres]]\nid = "{centre_id(i)}"\nname = "Xã {i}"\npassword = "bench-centre-{i}-secret"\n\n'
    path = work / "province.toml"
    path.write_text(text, encoding="utf-8")
    return path


def centre_broker_conf(work: Path, site, province, i: int, port: int) -> Path:
    """A centre's broker: one anonymous loopback listener for the load, and the
    bridge exactly as `motcua broker config` writes it."""
    folder = work / "centres" / centre_id(i)
    folder.mkdir(parents=True)
    me = replace(site, id=centre_id(i))
    link = ProvinceLink(host="127.0.0.1", port=province.broker.tls_port, cafile=str(province.broker.tls_cafile),
                        password=f"bench-centre-{i}-secret")
    _, user_line = broker_user(keep_user=True)
    conf = folder / "mosquitto.conf"
    conf.write_text(f"allow_anonymous true\nlistener {port} 127.0.0.1\npersistence false\nset_tcp_nodelay true\n"
                    f"log_dest stderr\nlog_type error\nlog_type warning\n{user_line}\n"
                    + bridge_text(me, link), encoding="utf-8")
    return conf


class Usage:
    """CPU seconds and resident memory of one process, from /proc."""

    def __init__(self, pid: int):
        self.pid = pid
        self.tick = os.sysconf("SC_CLK_TCK")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (all but idle and iowait)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def ours_s(pids: list[int]) -> float:
    """CPU seconds of these processes (those that have ended count 0)."""
    total = 0.0
    for pid in pids:
        try:
            total += Usage(pid).cpu_s()
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def batch_payload(centre: str, first: int, records: int) -> bytes:
    body = {"id": 0, "day": "2026-12-07", "service": "HT", "number": 12, "label": "HT012", "state": "done",
            "issued_at": "2026-12-07T01:02:03.000+00:00", "called_at": "2026-12-07T01:12:03.000+00:00",
            "started_at": "2026-12-07T01:12:30.000+00:00", "finished_at": "2026-12-07T01:19:03.000+00:00",
            "counter": 3, "officer": "cb03", "recalls": 0, "transfers": 0, "device": "kiosk-1"}
    recs = [{"seq": first + k, "kind": "ticket", "body": {**body, "id": first + k}} for k in range(records)]
    return json.dumps({"v": 1, "centre": centre, "first": first, "last": first + records - 1,
                       "records": recs, "sent": time.time()}, separators=(",", ":")).encode()


def tile_payload(centre: str) -> bytes:
    counters = [{"counter": c, "state": "serving", "since": "2026-12-07T02:30:11.000+00:00"} for c in range(1, 9)]
    return json.dumps({"v": 1, "centre": centre, "name": f"Xã {centre}", "at": "2026-12-07T02:31:05.120+00:00",
                       "waiting": 12, "longest_wait_s": 840, "served_today": 140, "counters": counters,
                       "ratings_today": 57, "satisfaction_index": 86.2, "late_without_apology": 2,
                       "unshipped": 0, "sent": time.time()}, separators=(",", ":")).encode()


def load_worker(centres: list[tuple[str, int]], period: float, records: int, duration: float,
                start_at: float, out: mp.Queue) -> None:
    """Stand in for `motcua ship` at each of `centres` (id, its broker's port)."""
    ack_latency: list[float] = []
    lock = threading.Lock()
    clients = []
    for cid, port in centres:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id=f"ship-{cid}")
        sent: dict[int, float] = {}

        def on_message(client, userdata, msg, sent=sent):
            last = json.loads(msg.payload)["acked"]
            t = sent.pop(last, None)
            if t is not None:
                with lock:
                    ack_latency.append(time.time() - t)
        c.on_message = on_message
        c.connect("127.0.0.1", port)
        c.subscribe(f"motcua/{cid}/ship/ack", 1)
        c.loop_start()
        clients.append((cid, c, sent))
    time.sleep(max(0.0, start_at - time.time()))
    rnd = random.Random(os.getpid())
    due = {cid: time.monotonic() + rnd.uniform(0, period) for cid, _, _ in clients}
    seq = {cid: 1 for cid, _, _ in clients}
    end = time.monotonic() + duration
    published = 0
    while time.monotonic() < end:
        now = time.monotonic()
        for cid, c, sent in clients:
            if due[cid] <= now:
                first = seq[cid]
                seq[cid] += records
                sent[first + records - 1] = time.time()
                c.publish(f"motcua/{cid}/ship/batch", batch_payload(cid, first, records), qos=1)
                c.publish(f"motcua/{cid}/ship/live", tile_payload(cid), qos=1, retain=True)
                published += 1
                due[cid] += period
        time.sleep(0.01)
    time.sleep(3)   # the last acknowledgements
    for _, c, _ in clients:
        c.disconnect()
        c.loop_stop()
    with lock:
        out.put({"published": published, "ack_latency": ack_latency})


class Hub:
    """Every batch in, the retained acknowledgement out; the board's tiles too."""

    def __init__(self, province):
        b = province.broker
        self.batch_latency: list[float] = []
        self.tile_latency: list[float] = []
        self.links: dict[str, bytes] = {}
        self.batches = 0
        self.measure = False
        self.lock = threading.Lock()
        self.hub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id="bench-hub")
        self.hub.username_pw_set("hub", province.hub_password)
        self.hub.on_message = self._batch
        self.hub.on_connect = lambda c, u, f, rc, p: c.subscribe([("motcua/+/ship/batch", 1),
                                                                   ("motcua/+/ship/link", 1)])
        self.hub.connect("127.0.0.1", b.port)
        self.hub.loop_start()
        self.board = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id="bench-board")
        self.board.username_pw_set("board", province.board_password)
        self.board.on_message = self._tile
        self.board.on_connect = lambda c, u, f, rc, p: c.subscribe("motcua/+/ship/live", 1)
        self.board.connect("127.0.0.1", b.port)
        self.board.loop_start()

    def _batch(self, client, userdata, msg):
        centre = msg.topic.split("/")[1]
        if msg.topic.endswith("/link"):
            with self.lock:
                self.links[centre] = msg.payload
            return
        batch = json.loads(msg.payload)
        with self.lock:
            self.batches += 1
            if self.measure:
                self.batch_latency.append(time.time() - batch["sent"])
        client.publish(f"motcua/{centre}/ship/ack", json.dumps(
            {"v": 1, "centre": centre, "acked": batch["last"], "at": "…"}), qos=1, retain=True)

    def _tile(self, client, userdata, msg):
        if self.measure and not msg.retain:
            with self.lock:
                self.tile_latency.append(time.time() - json.loads(msg.payload)["sent"])

    def up(self) -> int:
        with self.lock:
            return sum(1 for v in self.links.values() if v == b"1")

    def stop(self):
        for c in (self.hub, self.board):
            c.disconnect()
            c.loop_stop()


def connected_since(log: Path, offset: int) -> set[str]:
    """The centres that logged in to the provincial broker after byte `offset` of its log."""
    with open(log, "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    return set(re.findall(r"New (?:bridge|client) connected from \S+ as \S+ \(p\d+, c\d+, k\d+, u'(xa-\d+)'\)", text))


def ms(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"p50 {percentile(values, 50) * 1000:.0f} ms, p95 {percentile(values, 95) * 1000:.0f} ms, "
            f"p99 {percentile(values, 99) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms ({len(values)})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--centres", type=int, default=170)
    ap.add_argument("--period", type=float, default=3.0, help="seconds between a centre's batches (and tiles)")
    ap.add_argument("--records", type=int, default=5, help="records per batch")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2, help="load processes")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="motcua-bench-province-"))
    os.chmod(work, 0o755)
    procs: list[subprocess.Popen] = []
    province_proc = None
    try:
        pki = make_ca(work / "pki")
        cert, key = pki.server("broker")
        province = load_province(province_file(work, pki.ca, cert, key, args.centres))
        conf = write_config(province, work / "province-broker", keep_user=True)
        log = work / "province.log"

        def start_province():
            p = subprocess.Popen(mosquitto_command(conf), stdout=open(log, "ab"), stderr=subprocess.STDOUT)
            wait_port(province.broker.tls_port)
            wait_port(province.broker.port)
            return p
        province_proc = start_province()
        usage = Usage(province_proc.pid)
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work on this machine "
              "slows every figure below)", flush=True)
        print(f"provincial broker up: {usage.rss_mb():.1f} MB", flush=True)
        hub = Hub(province)

        os.environ[WARNED_ENV] = str(EXAMPLE.resolve())  # only its id is used here: no warning
        site = load_site(EXAMPLE)
        ports = []
        t0 = time.monotonic()
        for i in range(args.centres):
            port = free_port()
            ports.append(port)
            procs.append(subprocess.Popen(mosquitto_command(centre_broker_conf(work, site, province, i, port)),
                                          stdout=subprocess.DEVNULL, stderr=open(work / "centres.log", "ab")))
        deadline = time.monotonic() + 120
        while hub.up() < args.centres and time.monotonic() < deadline:
            time.sleep(0.1)
        up_s = time.monotonic() - t0
        print(f"{hub.up()}/{args.centres} bridges up (link 1 at the hub) {up_s:.1f} s after starting "
              f"their brokers", flush=True)
        time.sleep(3)
        cpu0, w0 = usage.cpu_s(), time.monotonic()
        time.sleep(10)
        idle_cpu = (usage.cpu_s() - cpu0) / (time.monotonic() - w0) * 100
        print(f"idle with {args.centres} bridges: CPU {idle_cpu:.1f} % of one core, {usage.rss_mb():.1f} MB",
              flush=True)

        # the load
        for port in ports:
            wait_port(port)
        out: mp.Queue = mp.Queue()
        pairs = [(centre_id(i), ports[i]) for i in range(args.centres)]
        start_at = time.time() + 3 + args.centres / 100
        workers = [mp.Process(target=load_worker, args=(pairs[k::args.workers], args.period, args.records,
                                                        args.duration, start_at, out))
                   for k in range(args.workers)]
        for w in workers:
            w.start()
        time.sleep(max(0.0, start_at - time.time()))
        hub.measure = True
        mine = [os.getpid(), province_proc.pid, *(p.pid for p in procs), *(w.pid for w in workers)]
        busy0, ours0 = machine_busy_s(), ours_s(mine)
        cpu0, w0, rss_max = usage.cpu_s(), time.monotonic(), 0.0
        while time.monotonic() - w0 < args.duration:
            time.sleep(1)
            rss_max = max(rss_max, usage.rss_mb())
        elapsed = time.monotonic() - w0
        load_cpu = (usage.cpu_s() - cpu0) / elapsed * 100
        ours = (ours_s(mine) - ours0) / elapsed
        others = max(0.0, (machine_busy_s() - busy0) / elapsed - ours)
        results = [out.get(timeout=120) for _ in workers]
        for w in workers:
            w.join()
        hub.measure = False
        published = sum(r["published"] for r in results)
        acks = [x for r in results for x in r["ack_latency"]]
        rate = published / args.duration
        batch_bytes = len(batch_payload("xa-000", 1, args.records))
        print(f"load: {args.centres} centres, a batch of {args.records} records ({batch_bytes} B) and a tile "
              f"every {args.period:g} s each: {rate:.0f} batches/s and {rate:.0f} tiles/s for {args.duration:g} s")
        print(f"  provincial broker: CPU {load_cpu:.1f} % of one core, up to {rss_max:.1f} MB; the whole "
              f"bench {ours:.2f} cores, other processes {others:.2f} cores")
        print(f"  batch to the hub:        {ms(hub.batch_latency)}")
        print(f"  tile to the board:       {ms(hub.tile_latency)}")
        print(f"  acknowledgement back:    {ms(acks)}  (published {published})", flush=True)

        # the provincial broker restarts
        province_proc.terminate()
        province_proc.wait(timeout=30)
        offset = log.stat().st_size
        time.sleep(1)
        t0 = time.monotonic()
        busy0 = machine_busy_s()
        ours0 = ours_s([os.getpid(), *(p.pid for p in procs)])
        province_proc = start_province()
        deadline = time.monotonic() + 180
        back: set[str] = set()
        marks = {}
        while time.monotonic() < deadline:
            back = connected_since(log, offset)
            for share in (0.5, 0.9, 0.99, 1.0):
                if share not in marks and len(back) >= share * args.centres:
                    marks[share] = time.monotonic() - t0
            if len(back) >= args.centres:
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - t0
        ours = ours_s([os.getpid(), province_proc.pid, *(p.pid for p in procs)]) - ours0
        others = max(0.0, (machine_busy_s() - busy0 - ours) / elapsed)
        print(f"provincial broker restarted: {len(back)}/{args.centres} bridges back after "
              f"{elapsed:.1f} s (" + ", ".join(f"{share:.0%} after {s:.1f} s" for share, s in marks.items())
              + f"); other processes {others:.2f} cores meanwhile", flush=True)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        hub.stop()
        return 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if province_proc and province_proc.poll() is None:
            province_proc.terminate()
            province_proc.wait(timeout=10)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

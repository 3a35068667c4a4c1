#!/usr/bin/env python3
"""`motcua web` benchmark (issue 14): 5,000 phones following tickets on one process.

    .venv/bin/python benchmarks/bench_web.py [--phones 5000] [--calls 300]

Not a test: it prints figures. It starts Mosquitto (the configuration `motcua
broker config` writes), the centre and `motcua web` each as its own process
(`python -m motcua --site FILE centre` / `web`), on a copy of
examples/site.toml in a temporary folder. Then:

1. the kiosks issue --phones tickets, spread over the nine services;
2. the first load of one ticket page: every byte the server sends (headers and
   body; the page loads nothing else: its CSS and script are inline);
3. --phones Server-Sent Event streams are opened, one per ticket, from this
   process (asyncio, raw sockets, HTTP/1.0), and each reads its first event;
4. twelve counters open; --calls times, a counter starts its ticket (not
   timed) and sends counter.next; latency = from just before the request is
   sent to the moment the called ticket's stream has read the event whose
   view says it is called (both ends time.perf_counter() in this process,
   so the centre's work and the broker are inside the figure);
5. the web process's memory: VmRSS and its peak VmHWM from /proc.

At the end every stream must still be open (the web process's /healthz says
how many it holds) and every call must have reached its phone.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from motcua.broker import mosquitto_command, write_config  # noqa: E402
from motcua.config import load_site  # noqa: E402
from motcua.mqtt import DeviceClient, RequestRefused  # noqa: E402
from support.broker import free_port, wait_port, write_site  # noqa: E402
from support.officers import register, sign_in  # noqa: E402
from support.web import ticket_path, web_device  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def rss_kib(pid: int) -> dict:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1])
    return out


class Phones:
    """--phones SSE streams in an asyncio loop of their own thread."""

    def __init__(self, port: int, paths: dict[str, str]):
        self.port, self.paths = port, paths
        self.first: dict[str, float] = {}
        self.called: dict[str, float] = {}      # label -> perf_counter when its stream read the call
        self.events = 0
        self.failed: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.writers: list = []

    async def _phone(self, label: str, path: str, sem: asyncio.Semaphore) -> None:
        async with sem:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
                await writer.drain()
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
                if b" 200 " not in head.split(b"\r\n", 1)[0]:
                    self.failed.append(label)
                    return
                self.writers.append(writer)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                self.failed.append(f"{label}: {exc!r}")
                return
        while True:
            try:
                block = await reader.readuntil(b"\n\n")
            except (asyncio.IncompleteReadError, OSError):
                return
            for line in block.split(b"\n"):
                if line.startswith(b"data: "):
                    now = time.perf_counter()
                    self.events += 1
                    view = json.loads(line[6:])
                    self.first.setdefault(label, now)
                    if view.get("called") and label not in self.called:
                        self.called[label] = now

    def open_all(self, parallel: int = 200) -> None:
        self.thread.start()

        async def go():
            sem = asyncio.Semaphore(parallel)
            for label, path in self.paths.items():
                asyncio.ensure_future(self._phone(label, path, sem))
        asyncio.run_coroutine_threadsafe(go(), self.loop).result()

    def close(self) -> None:
        def shut():
            for w in self.writers:
                w.close()
        self.loop.call_soon_threadsafe(shut)
        time.sleep(0.5)
        self.loop.call_soon_threadsafe(self.loop.stop)


def health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
        return json.loads(r.read())


def first_load_bytes(port: int, path: str) -> tuple[int, int]:
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    return len(data), len(body)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--phones", type=int, default=5000)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    # This process holds the 5,000 phones too: its own full collections would stop
    # their reading and show up as latency of the web process. None here.
    gc.set_threshold(700, 10, 1_000_000_000)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.phones + 200:
        sys.exit(f"the open-files limit ({hard}) is below {args.phones} phones: raise it (ulimit -n)")

    folder = Path(tempfile.mkdtemp(prefix="motcua-bench-web-"))
    os.chmod(folder, 0o755)
    procs: list[subprocess.Popen] = []
    try:
        site_path = write_site(folder, free_port())
        site = load_site(site_path)
        conf = write_config(site, folder / "broker", persistence=False)
        procs.append(subprocess.Popen(mosquitto_command(conf), stdout=open(folder / "mosquitto.log", "ab"),
                                      stderr=subprocess.STDOUT))
        wait_port(site.broker.port)
        procs.append(subprocess.Popen([sys.executable, "-m", "motcua", "--site", str(site_path), "centre"],
                                      stdout=open(folder / "centre.log", "ab"), stderr=subprocess.STDOUT, cwd=ROOT))
        web_port = free_port()
        web = subprocess.Popen([sys.executable, "-m", "motcua", "--site", str(site_path), "web",
                                "--http-port", str(web_port), "--device", web_device(site)],
                               stdout=open(folder / "web.log", "ab"), stderr=subprocess.STDOUT, cwd=ROOT)
        procs.append(web)
        wait_port(web_port, timeout=30)
        deadline = time.monotonic() + 20
        while not health(web_port)["centres"][site.id]["online"]:
            if time.monotonic() > deadline:
                sys.exit("motcua web never saw the centre online")
            time.sleep(0.1)
        print(f"python {platform.python_version()}, {os.cpu_count()} cores; {args.phones} phones, "
              f"{args.calls} calls")

        kiosks = [DeviceClient(site, k).start() for k in ("kiosk-1", "kiosk-2")]
        for k in kiosks:
            assert k.wait_connected(10)
        services = [s.code for s in site.services]
        started = time.perf_counter()

        def issue(i: int) -> dict:
            return kiosks[i % 2].request("ticket.issue", service=services[i % len(services)], timeout=30)
        with ThreadPoolExecutor(16) as pool:
            tickets = list(pool.map(issue, range(args.phones)))
        print(f"issued {len(tickets)} tickets in {time.perf_counter() - started:.1f} s")
        paths = {t["ticket"]: ticket_path(site, t["day"], t["ticket"]) for t in tickets}

        total, body = first_load_bytes(web_port, next(iter(paths.values())))
        print(f"first load of the ticket page: {total} bytes ({body} body), nothing else to load")

        # Every MQTT client before the phones: paho waits on select(), which takes no
        # file descriptor above 1023, and the phones' sockets take those.
        admin = DeviceClient(site, "admin").start()
        assert admin.wait_connected(10)
        counters = []
        for n in range(1, 13):
            register(admin, f"officer{n}")
            c = DeviceClient(site, f"counter-{n}").start()
            assert c.wait_connected(10)
            sign_in(c, n, f"officer{n}")
            counters.append((n, c))
        phones = Phones(web_port, {label: p + "/events" for label, p in paths.items()})
        started = time.perf_counter()
        phones.open_all()
        deadline = time.monotonic() + 300
        while len(phones.first) + len(phones.failed) < args.phones and time.monotonic() < deadline:
            time.sleep(0.2)
        opened_s = time.perf_counter() - started
        held = health(web_port)["centres"][site.id]["streams"]
        mem_open = rss_kib(web.pid)
        print(f"{len(phones.first)} streams open with their first event in {opened_s:.1f} s "
              f"({len(phones.failed)} failed); the web process holds {held}; "
              f"RSS {mem_open['VmRSS'] / 1024:.0f} MB")

        time.sleep(1.0)
        latencies, after_reply = [], []
        current: dict[int, str | None] = {n: None for n, _ in counters}
        for i in range(args.calls):
            n, c = counters[i % len(counters)]
            if current[n]:
                c.request("counter.start", counter=n)
            t0 = time.perf_counter()
            try:
                answer = c.request("counter.next", counter=n)
            except RequestRefused as exc:
                if exc.code == "queue_empty":
                    continue
                raise
            t_reply = time.perf_counter()
            label = (answer.get("ticket") or {}).get("ticket")
            current[n] = label
            if not label:
                continue
            deadline = time.perf_counter() + 5
            while label not in phones.called and time.perf_counter() < deadline:
                time.sleep(0.0005)
            if label not in phones.called:
                print(f"call {i}: ticket {label} never reached its phone")
                continue
            latencies.append(phones.called[label] - t0)
            after_reply.append(phones.called[label] - t_reply)
            time.sleep(0.05)   # calls a few a second across the centre, as a busy hall
        mem = rss_kib(web.pid)
        h = health(web_port)["centres"][site.id]
        ms = [x * 1000 for x in latencies]
        print(f"call -> the phone's event: {len(ms)} calls, p50 {percentile(ms, 50):.1f} ms, "
              f"p90 {percentile(ms, 90):.1f} ms, "
              f"p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms "
              f"(from the counter's reply: p99 {percentile([x * 1000 for x in after_reply], 99):.1f} ms)")
        print(f"web process: RSS {mem['VmRSS'] / 1024:.0f} MB, peak {mem['VmHWM'] / 1024:.0f} MB; "
              f"{h['streams']} streams still open, {h['pushed']} pushes, {phones.events} events read")
        ok = (len(ms) >= args.calls * 0.9 and percentile(ms, 99) <= 1000 and mem["VmHWM"] <= 500 * 1024
              and total <= 60 * 1024 and h["streams"] == args.phones and not phones.failed)
        print("targets (p99 <= 1 s, memory <= 500 MB, first load <= 60 KB, every stream held):",
              "met" if ok else "NOT met")
        phones.close()
        for _, c in counters:
            c.stop()
        admin.stop()
        for k in kiosks:
            k.stop()
        return 0 if ok else 1
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept {folder}")


if __name__ == "__main__":
    sys.exit(main())

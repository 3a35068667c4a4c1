"""The simulated traffic of one demo centre (`motcua province demo` starts one per
centre): citizens take numbers at the kiosk, officers sign in with their PIN and
call, serve, attach dossiers and finish at their counters, citizens take numbers
from afar and book times on their phones and are checked in at the kiosk, citizens
press the rating pad, and the one-stop software sends an apology for a late dossier. All
of it as the devices do it, through the centre's broker (kiosk-1, counter-N,
pad-N, the integration device); the profile says how busy
(motcua.province.demo_plan).

    python -m motcua.province.demo_traffic --site SITE --profile N [--seed S]

Runs until SIGTERM or SIGINT."""
from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .. import protocol
from ..config import Site, load_site
from ..mqtt import CentreUnavailable, DeviceClient, RequestRefused
from ..timefmt import utc_iso
from .demo_plan import OFFICERS, Profile, profile_of

log = logging.getLogger("motcua.demo-traffic")
PIN = "2580"   # motcua.cli.demo.DEMO_PIN: the demo's officers only


class Traffic:
    def __init__(self, site: Site, profile: Profile, seed: int, dossier_codes: list[str], late_code: str | None):
        self.site, self.profile = site, profile
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.codes = dossier_codes         # the dossiers this centre mirrors (some returned at the counter)
        self.late_code = late_code         # the late dossier the one-stop software apologises for
        self.clients: list[DeviceClient] = []
        self.waiting = 0                   # from the hall's retained state
        self.boot = int(time.time()) % 100000
        self.rated = self.issued = self.served = 0
        self._lock = threading.Lock()
        self._new_seq = 100                # dossiers received today get codes from -0101 on

    # -- plumbing ---------------------------------------------------------------------------------
    def client(self, device: str) -> DeviceClient:
        c = DeviceClient(self.site, device).start()
        self.clients.append(c)
        return c

    def ask(self, client: DeviceClient, op: str, **args) -> dict | None:
        """A request; None when the centre refused it (logged) or is away for now."""
        while not self.stop.is_set():
            try:
                return client.request(op, **args)
            except CentreUnavailable as exc:
                log.info("%s: %s; again in 1 s", op, exc)
                self.stop.wait(1)
            except RequestRefused as exc:
                if exc.code != "queue_empty":
                    log.info("%s refused: %s (%s)", op, exc, exc.code)
                return None
        return None

    def sleep(self, lo: float, hi: float | None = None) -> bool:
        """Wait (a uniform time in lo..hi); False once the traffic is stopping."""
        return not self.stop.wait(lo if hi is None else self.rng.uniform(lo, hi))

    # -- the parts --------------------------------------------------------------------------------
    def kiosk(self) -> None:
        kiosk = self.client("kiosk-1")
        kiosk.subscribe(kiosk.topics.hall_state, self._on_hall)
        services = sorted({s for n in self.profile.counters for s in self.site.counter(n).services})
        while self.sleep(self.rng.expovariate(1 / self.profile.arrival_s)):
            if self.waiting >= self.profile.max_waiting:
                continue
            priority = None
            if self.rng.random() < 0.1 and self.site.priorities:
                priority = self.rng.choice(self.site.priorities).code
            if self.ask(kiosk, "ticket.issue", service=self.rng.choice(services), priority=priority):
                with self._lock:
                    self.issued += 1

    def phones(self) -> None:
        """Citizens who take a number from afar or book a time before coming (the site
        file's [web]): most come and are checked in at the second kiosk, some never
        come (the number lapses), a few cancel their booking."""
        web = self.site.web
        device = next((d.id for d in self.site.devices if d.role == "web"), None)
        kiosk_id = next((d.id for d in self.site.devices if d.role == "kiosk" and d.id != "kiosk-1"), None)
        if web is None or device is None or kiosk_id is None:
            return
        served = {s for n in self.profile.counters for s in self.site.counter(n).services}
        remote = sorted(served & set(web.remote_services or served)) if web.remote_tickets else []
        booked = sorted(served & {r.service for r in web.slots})
        phone, kiosk = self.client(device), self.client(kiosk_id)
        while self.sleep(self.rng.expovariate(1 / (self.profile.arrival_s * 4))):
            number = f"09{self.rng.randrange(10**8):08d}"   # a made-up mobile number, erased at the end
            if remote and (not booked or self.rng.random() < 0.6):
                t = self.ask(phone, "ticket.reserve", service=self.rng.choice(remote), phone=number)
                if t is not None and self.rng.random() < 0.8:
                    self._later(self.rng.uniform(10, 60), kiosk, "ticket.check_in", ticket=t["ticket"])
            elif booked:
                self._book(phone, kiosk, self.rng.choice(booked), number)

    def _book(self, phone: DeviceClient, kiosk: DeviceClient, service: str, number: str) -> None:
        """A slot of today that can be checked in now if there is one (the citizen comes),
        else the next bookable one (checked in another day, or it lapses)."""
        answer = self.ask(phone, "booking.slots", service=service)
        if answer is None:
            return
        slots = [(d["day"], s) for d in answer["days"] for s in d["slots"] if s["bookable"]]
        if not slots:
            return
        day, slot = slots[0]
        b = self.ask(phone, "booking.create", service=service, day=day, time=slot["time"], phone=number)
        if b is None:
            return
        if self.rng.random() < 0.1:
            self._later(self.rng.uniform(5, 30), phone, "booking.cancel", booking=b["booking"])
        elif datetime.fromisoformat(b["check_in_from"]) <= datetime.now(timezone.utc):
            self._later(self.rng.uniform(10, 60), kiosk, "booking.check_in", booking=b["booking"])

    def _later(self, delay: float, client: DeviceClient, op: str, **args) -> None:
        timer = threading.Timer(delay, lambda: None if self.stop.is_set() else self.ask(client, op, **args))
        timer.daemon = True
        timer.start()

    def _on_hall(self, topic: str, data: dict) -> None:
        services = data.get("services")
        if isinstance(services, list):
            self.waiting = sum(s.get("waiting", 0) for s in services if isinstance(s, dict))

    def counter(self, n: int, officer: str) -> None:
        p = self.profile
        c = self.client(f"counter-{n}")
        pad = self.client(f"pad-{n}") if any(d.counter == n for d in self.site.devices_of("pad")) else None
        if pad is not None:
            pad.subscribe(pad.topics.pad(n), lambda topic, data: self._on_prompt(pad, n, data))
        self._sign_in(c, n, officer)
        started = time.monotonic()
        paused_at = started
        closed = False
        while not self.stop.is_set():
            now = time.monotonic()
            if p.pause and p.pause[0] == n and now - paused_at >= p.pause[1]:
                self.ask(c, "counter.pause", counter=n, reason="Họp giao ban", public=True)
                if not self.sleep(p.pause[2]):
                    return
                self.ask(c, "counter.resume", counter=n)
                paused_at = time.monotonic()
                continue
            if p.close and p.close[0] == n and not closed and now - started >= p.close[1]:
                closed = True
                self.ask(c, "counter.close", counter=n)
                if not self.sleep(p.close[2]):
                    return
                self._sign_in(c, n, officer)
                continue
            if self.ask(c, "counter.next", counter=n) is None:
                self.sleep(1.0)
                continue
            if not self.sleep(1.0, 3.0):      # the citizen walks to the counter
                return
            if self.rng.random() < p.no_show:
                self.ask(c, "counter.no_show", counter=n)
                continue
            self.ask(c, "counter.start", counter=n)
            if not self.sleep(*p.service_s):
                return
            if self.rng.random() < p.attach:
                self.ask(c, "counter.attach_dossier", counter=n, code=self._dossier_code())
            if self.ask(c, "counter.done", counter=n) is not None:
                with self._lock:
                    self.served += 1

    def _sign_in(self, c: DeviceClient, n: int, officer: str) -> None:
        while not self.stop.is_set():
            if self.ask(c, "counter.sign_in", counter=n, officer=officer, pin=PIN) is not None:
                log.info("%s signed in at counter %d", officer, n)
                return
            self.sleep(2.0)

    def _dossier_code(self) -> str:
        """A dossier handed back (one of the mirror's) or received at this visit (a new code)."""
        if self.codes and self.rng.random() < 0.3:
            return self.rng.choice(self.codes)
        with self._lock:
            self._new_seq += 1
            seq = self._new_seq
        today = datetime.now(self.site.tz).strftime("%y%m%d")
        return f"{self.site.dossiers.agency_code}-{today}-{seq:04d}"

    def _on_prompt(self, pad: DeviceClient, n: int, data: dict) -> None:
        prompt = data.get("prompt")
        if not prompt or self.stop.is_set() or self.rng.random() >= self.profile.rated:
            return
        # a citizen presses a moment later, on paho's thread's behalf: not on it
        delay = self.rng.uniform(1.0, 3.0)
        threading.Timer(delay, self._press, args=(pad, n, data)).start()

    def _press(self, pad: DeviceClient, n: int, data: dict) -> None:
        if self.stop.is_set():
            return
        level = self.rng.choices(range(1, len(self.profile.levels) + 1), weights=self.profile.levels)[0]
        level = min(level, len(self.site.rating_levels))
        with self._lock:
            self.rated += 1
            seq = self.rated
        pad_id = f"SIM-{n}"
        payload = {"rating": f"{pad_id}:{self.boot}:{seq}", "pad": pad_id, "boot": self.boot, "seq": seq,
                   "counter": n, "device": pad.device.id, "level": level, "prompt": data["prompt"],
                   "ticket": data.get("ticket"), "officer": data.get("officer"),
                   "pressed_at": utc_iso(datetime.now(timezone.utc))}
        pad.client.publish(pad.topics.rating(n), protocol.encode(payload), qos=1)

    def one_stop_software(self) -> None:
        """After a while, the one-stop software records an apology and a new date for
        one late dossier: the board's late count drops by one."""
        if self.profile.apology_after_s is None or self.late_code is None:
            return
        if not self.sleep(self.profile.apology_after_s):
            return
        device = next((d.id for d in self.site.devices if d.role == "integration"), None)
        if device is None:
            return
        c = self.client(device)
        now = datetime.now(self.site.tz)
        result = self.ask(c, "dossier.update", code=self.late_code, status="processing",
                          at=now.replace(microsecond=0, tzinfo=None).isoformat(),
                          note="Chờ ý kiến cơ quan liên quan",
                          apology={"reason": "Chờ ý kiến của cơ quan có liên quan",
                                   "new_due_at": (now.date() + timedelta(days=7)).isoformat()})
        if result is not None:
            log.info("the one-stop software apologised for late dossier %s", self.late_code)

    def run(self) -> None:
        threads = [threading.Thread(target=self.kiosk, name="kiosk", daemon=True),
                   threading.Thread(target=self.one_stop_software, name="one-stop", daemon=True),
                   threading.Thread(target=self.phones, name="phones", daemon=True)]
        for i, n in enumerate(self.profile.counters):
            officer = OFFICERS[i % len(OFFICERS)][0]
            threads.append(threading.Thread(target=self.counter, args=(n, officer), name=f"counter-{n}",
                                            daemon=True))
        for t in threads:
            t.start()
        last = time.monotonic()
        while not self.stop.wait(1.0):
            if time.monotonic() - last >= 30:
                last = time.monotonic()
                log.info("so far: %d numbers taken, %d served, %d ratings pressed; %d waiting",
                         self.issued, self.served, self.rated, self.waiting)
        for t in threads:
            t.join(timeout=8)
        for c in self.clients:
            try:
                c.stop()
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
        log.info("stopped: %d numbers taken, %d served, %d ratings pressed", self.issued, self.served, self.rated)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m motcua.province.demo_traffic",
                                     description="One demo centre's simulated traffic (motcua province demo).")
    parser.add_argument("--site", required=True)
    parser.add_argument("--profile", type=int, required=True, help="the centre's place in the provincial file")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--dossiers", help="the JSON file of the dossiers the centre mirrors")
    parser.add_argument("--late", help="the late dossier the one-stop software apologises for")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("motcua.mqtt").setLevel(logging.WARNING)
    site = load_site(args.site)
    codes = []
    if args.dossiers:
        codes = [d["code"] for d in json.loads(Path(args.dossiers).read_text(encoding="utf-8"))]
    traffic = Traffic(site, profile_of(args.profile), args.seed + args.profile, codes, args.late)

    def stop(signum, frame):
        traffic.stop.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("%s (%s): %s, counters %s", site.name, site.id, traffic.profile.kind,
             ", ".join(map(str, traffic.profile.counters)))
    traffic.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

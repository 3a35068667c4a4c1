"""`motcua demo`: the broker, the centre and (with a screen) the apps, with the
sample site, until Ctrl-C."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..config import WARNED_ENV, Site
from .common import CliError, centre_db, device_for


DEMO_OFFICERS = (("nguyenvana", "Nguyễn Văn A"), ("tranthib", "Trần Thị B"))
DEMO_PIN = "2580"  # the demo's officers only; a real centre's come from `motcua officers add`


def _demo_samples(site: Site) -> None:
    """The sample procedures, dossiers and officers, the first time the demo runs
    (before the centre starts: nothing else writes the file then)."""
    from datetime import datetime, timezone

    from .. import officers
    from ..engine import Changes
    from ..catalogue import Catalogue
    from ..dossiers import DossierStore
    examples = Path(__file__).resolve().parents[2] / "examples"
    store = centre_db(site)
    try:
        catalogue = Catalogue(store.db)
        if catalogue.count() == 0 and (examples / "procedures.json").exists():
            catalogue.import_file(examples / "procedures.json")
        dossiers = DossierStore(store.db, site.dossiers, site.timezone)  # creates its tables
        if store.db["dossiers"].count == 0 and (examples / "dossiers.json").exists():
            dossiers.import_file(examples / "dossiers.json")
        now = datetime.now(timezone.utc)
        new = [officers.new_officer(o, name, DEMO_PIN, now) for o, name in DEMO_OFFICERS if store.officer(o) is None]
        if new:
            store.commit([{"type": "officer_added", "at": now.isoformat(), "officer": o.id, "name": o.name,
                           "device": "demo"} for o in new], Changes(), officers=[o.as_row() for o in new])
    finally:
        store.close()


def cmd_demo(site: Site, args) -> int:
    """The broker, the centre and (with a screen) a kiosk, a hall board and the counter
    terminal of the first counter, with the sample site, until Ctrl-C."""
    from ..broker import mosquitto_command, write_config
    _demo_samples(site)
    # The demo's broker keeps the caller's user: it reads its files wherever the project
    # was cloned (a 0700 folder, root's home), where the mosquitto user could not.
    conf = write_config(site, port=args.broker_port, keep_user=True)
    procs = [subprocess.Popen(mosquitto_command(conf))]
    # the processes it starts do not repeat the warning about sample secrets it gave
    env = {**os.environ, "MOTCUA_SITE": str(site.path), WARNED_ENV: str(site.path.resolve())}
    time.sleep(0.5)
    if procs[0].poll() is not None:
        raise CliError(f"mosquitto stopped at once; is port {args.broker_port or site.broker.port} in use? "
                       "try `motcua --broker-port 18830 demo`")
    cmd = [sys.executable, "-m", "motcua", "--site", str(site.path)]
    if args.broker_port:
        cmd += ["--broker-port", str(args.broker_port)]
    procs.append(subprocess.Popen(cmd + ["centre"], env=env))
    screen = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    apps = []
    web = None
    if site.devices_of("web") and site.web is not None and not args.no_web:
        # the citizen's phone pages, the one-time codes printed here instead of texted
        apps.append(subprocess.Popen(cmd + ["web", "--http-port", str(args.web_port), "--demo-messages"], env=env))
        web = f"http://127.0.0.1:{args.web_port}/"
        print(f"motcua demo: the phone's pages on {web} (one-time codes are printed here)")
    if site.devices_of("pad"):  # a simulated pad and its bridge at every counter that has a pad
        apps.append(subprocess.Popen(cmd + ["pad-sim", "--all", "--bridge"], env=env))
    if screen and not args.no_screens:
        kiosk = device_for(site, "kiosk", None)
        apps.append(subprocess.Popen(cmd + ["kiosk", "--device", kiosk, "--size", "540x960"], env=env))
        print(f"motcua demo: kiosk {kiosk} on screen {screen}")
        if site.devices_of("display"):
            apps.append(subprocess.Popen(cmd + ["display", "hall", "--size", "1280x720"], env=env))
            print(f"motcua demo: hall board on screen {screen}")
        if site.counters:  # the officer's terminal at the first counter
            first = site.counters[0].number
            apps.append(subprocess.Popen(cmd + ["counter-app", str(first), "--officer", "nguyenvana"],
                                         env=env))
            print(f"motcua demo: counter terminal of counter {first} on screen {screen}")
    elif not args.no_screens:
        print("motcua demo: no screen ($DISPLAY), so no kiosk, hall board or counter window; the broker and "
              "centre run alone")
    print(f"motcua demo: broker on {site.broker.host}:{args.broker_port or site.broker.port}, centre running.\n"
          f"Try, in another terminal:\n"
          f"  motcua --site {site.path} ticket HT\n"
          f"  motcua --site {site.path} counter 1 sign_in nguyenvana    (the demo's PIN: {DEMO_PIN})\n"
          f"  motcua --site {site.path} counter 1 next\n"
          f"  motcua --site {site.path} status\n"
          + (f"Phone pages (take a number from afar, book a time, follow a ticket): {web}\n" if web else "")
          + ("Rating pads: type `1 2` and Enter here to press button 2 on counter 1's pad.\n"
             if site.devices_of("pad") else "") +
          "Ctrl-C stops everything.")
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in apps:  # a window closed by hand does not stop the demo; Ctrl-C stops all
            if p.poll() is None:
                p.terminate()
        for p in apps:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT if p is not procs[0] else signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


def add_commands(sub) -> None:
    d = sub.add_parser("demo", help="broker, centre, a kiosk, a hall board and a counter terminal with "
                       "the sample site",
                       example=["motcua demo", "motcua --broker-port 18830 demo --no-screens"])
    d.add_argument("--no-screens", action="store_true", help="no kiosk, hall board or counter window")
    d.add_argument("--web-port", type=int, default=8080, metavar="N",
                   help="the port of the phone's pages, motcua web (default 8080)")
    d.add_argument("--no-web", action="store_true", help="without the phone's pages (motcua web)")
    d.set_defaults(fn=cmd_demo)

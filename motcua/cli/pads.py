"""The rating pads: `motcua pad` (a pad's bridge, its serial device to the
centre) and `motcua pad-sim` (simulated pads on ptys)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..config import Site
from .common import CliError, Renamed


def cmd_pad(site: Site, args) -> int:
    """The rating pad's bridge: serial device <-> MQTT, with its journal."""
    from motcua.hardware.pad_bridge import PadBridge
    try:
        bridge = PadBridge(site, args.counter, args.serial, device_id=args.device, journal=args.journal)
    except (ValueError, KeyError) as exc:
        raise CliError(str(exc)) from None
    print(f"motcua pad: counter {args.counter}, serial {args.serial}, device {bridge.device.id}, "
          f"journal {bridge.journal.path}", flush=True)
    try:
        bridge.run_forever()
    except KeyboardInterrupt:
        pass
    return 0


def cmd_pad_sim(site: Site, args) -> int:
    """Simulated rating pads on ptys (optionally with their bridges in this process)."""
    from motcua.hardware.pad_sim import PadSimulator, run_keyboard
    pads = sorted({d.counter for d in site.devices_of("pad")})
    if args.all:
        counters = pads
    else:
        counters = [args.counter if args.counter is not None else (pads[0] if pads else 1)]
    if args.link and len(counters) > 1:
        raise CliError("--link names one port: use it with --counter, not --all")
    if args.bridge and not set(counters) <= set(pads):
        raise CliError(f"no pad device at counter(s) {sorted(set(counters) - set(pads))} in {site.path}")
    folder = site.data_dir / "pads"
    folder.mkdir(parents=True, exist_ok=True)
    single = len(counters) == 1
    sims, bridges = [], []
    try:
        for n in counters:
            link = Path(args.link) if args.link else folder / f"pad-{n}.tty"
            sim = PadSimulator(f"PADSIM-{n}", link=link, state_file=folder / f"pad-sim-{n}.json",
                               lockout_ms=args.lockout_ms, echo=single and not args.no_keys).start()
            sims.append(sim)
            print(f"pad-sim counter {n}: {sim.path} -> {sim.slave_path}"
                  + ("" if args.bridge else f"   (bridge: motcua pad --counter {n} --serial {sim.path})"),
                  flush=True)
            if args.bridge:
                from motcua.hardware.pad_bridge import PadBridge
                bridges.append(PadBridge(site, n, sim.path, journal=folder / f"pad-{n}.journal.sqlite").start())
        if args.no_keys:
            while True:
                time.sleep(1)
        elif single and sys.stdin.isatty():
            run_keyboard(sims)
        else:  # lines: `COUNTER BUTTON` (or `BUTTON` for the first pad); q quits
            print("pad-sim: type COUNTER BUTTON and Enter (e.g. `1 2`), q to quit", flush=True)
            by_counter = dict(zip(counters, sims))
            for line in sys.stdin:
                words = line.split()
                if words[:1] == ["q"]:
                    return 0
                if not words or not all(w.isdigit() for w in words) or len(words) > 2:
                    continue
                n = int(words[0]) if len(words) == 2 else counters[0]
                if n in by_counter:
                    by_counter[n].press(int(words[-1]))
                    print(f"pad-sim: counter {n} button {words[-1]} pressed", flush=True)
            while True:  # no more input (stdin closed): the pads run on until Ctrl-C
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for b in bridges:
            b.stop()
        for sim in sims:
            sim.stop()
    return 0


def add_commands(sub) -> None:
    pd = sub.add_parser("pad", help="the rating pad's bridge: its serial device to the centre",
                        example=["motcua pad --counter 1 --serial /dev/ttyUSB0",
                                 "motcua --broker-port 18830 pad --counter 2 --serial /dev/ttyACM0"],
                        needs="`motcua pad` needs --counter N (the counter the pad stands at) and "
                              "--serial DEVICE (the pad's serial device, e.g. /dev/ttyUSB0)")
    pd.add_argument("--serial", required=True, metavar="DEVICE",
                    help="the pad's serial device, e.g. /dev/ttyUSB0 (the broker's port: "
                         "`motcua --broker-port N pad ...`)")
    pd.add_argument("--port", action=Renamed, new="--serial",
                    hint=" (the pad's serial device); the broker's port is `motcua --broker-port N pad …`")
    pd.add_argument("--counter", type=int, required=True, help="the counter the pad stands at")
    pd.add_argument("--device", help="the pad's device id in the site file (default: the counter's pad)")
    pd.add_argument("--journal", help="the bridge's journal (default: <data_dir>/pad-N.journal.sqlite)")
    pd.set_defaults(fn=cmd_pad)

    ps = sub.add_parser("pad-sim", help="a simulated rating pad on a pty (keys 1-4 press buttons)",
                        example=["motcua pad-sim --counter 1 --link /tmp/pad-1",
                                 "motcua pad-sim --all --bridge"])
    which = ps.add_mutually_exclusive_group()
    which.add_argument("--counter", type=int, help="the counter (default: the first with a pad)")
    which.add_argument("--all", action="store_true", help="one simulated pad per counter that has a pad")
    ps.add_argument("--link", help="also make this path a symlink to the pty (one pad only)")
    ps.add_argument("--bridge", action="store_true", help="run each pad's bridge in this process too")
    ps.add_argument("--no-keys", action="store_true", help="do not read the keyboard")
    ps.add_argument("--lockout-ms", type=int, default=3000, help="lock-out after a press (default 3000)")
    ps.set_defaults(fn=cmd_pad_sim)

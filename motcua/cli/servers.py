"""The site's servers: `motcua centre` (the centre service) and `motcua broker`
(Mosquitto for the site, or its configuration and password file)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..config import Site
from .common import CliError


def cmd_centre(site: Site, args) -> int:
    import signal

    from ..service import CentreAlreadyRunning, run_centre

    def stop(signum, frame):  # `systemctl stop` sends SIGTERM: stop as cleanly as Ctrl-C does
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    try:
        run_centre(site)
    except CentreAlreadyRunning as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_broker(site: Site, args) -> int:
    from ..broker import BrokerSetupError, bridge_to, mosquitto_command, write_config, write_password_file
    if args.action == "passwords":
        out = Path(args.out or site.data_dir / "broker")
        out.mkdir(parents=True, exist_ok=True)
        write_password_file(site, out / "passwd")
        print(f"wrote {out / 'passwd'} ({len(site.devices)} devices); restart the broker to use it")
        return 0
    try:
        province = bridge_to(site, args.bridge_to) if args.bridge_to else site.province
        conf = write_config(site, Path(args.out) if args.out else None, port=args.broker_port,
                            province=province)
    except BrokerSetupError as exc:
        raise CliError(str(exc)) from None
    if args.action == "config":
        bridged = f"; bridged to the province at {province.host}:{province.port}" if province else ""
        print(f"wrote {conf} with its passwd and acl{bridged}")
        return 0
    os.execv(mosquitto_command(conf)[0], mosquitto_command(conf))
    return 0  # pragma: no cover


def add_commands(sub) -> None:
    sub.add_parser("centre", help="run the centre service", example="motcua --site site.toml centre"
                   ).set_defaults(fn=cmd_centre)

    out_help = "folder for the generated files (default: <data_dir>/broker)"
    bridge_help = ("bridge the centre's broker to the provincial broker at HOST[:PORT] (TLS, default port "
                   "8883), with the password and CA of the site file's [province]; without it, the bridge "
                   "is added when the site file has [province]")
    b = sub.add_parser("broker", help="run Mosquitto for the site, or write its configuration",
                       description="Run Mosquitto for the site (the default action), or write its "
                       "configuration or password file. The broker's port is the site file's, or "
                       "`motcua --broker-port N broker`.",
                       example=["motcua --site site.toml broker",
                                "motcua --site site.toml --broker-port 18830 broker config --out deploy/",
                                "motcua --site site.toml broker config --bridge-to mqtt.province.example"])
    b.add_argument("--out", help=out_help)
    b.add_argument("--bridge-to", metavar="HOST[:PORT]", help=bridge_help)
    actions = b.add_subparsers(dest="action", metavar="ACTION", title="actions (default: run)")
    b.set_defaults(fn=cmd_broker, action="run")  # after the sub-parsers, whose own default is None
    for name, what, example in (
            ("run", "run Mosquitto with a configuration written for the site", "motcua broker run"),
            ("config", "write mosquitto.conf with its passwd and acl, and stop",
             ["motcua --broker-port 18830 broker config --out deploy/",
              "motcua broker config --bridge-to mqtt.province.example:8883"]),
            ("passwords", "write the password file of every device of the site file",
             "motcua broker passwords --out /etc/mosquitto/motcua")):
        a = actions.add_parser(name, help=what, example=example)
        a.add_argument("--out", default=argparse.SUPPRESS, help=out_help)
        if name != "passwords":
            a.add_argument("--bridge-to", metavar="HOST[:PORT]", default=argparse.SUPPRESS, help=bridge_help)

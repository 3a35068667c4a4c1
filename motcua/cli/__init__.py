"""`motcua`: one command that starts every role.

Every command that acts on the queue goes through MQTT like the device it
stands for, so the CLI exercises exactly what a kiosk or counter does.

The commands live by group: queue (ticket, counter, status, notice), officers, dossiers,
procedures, reports, ratings (export), bookings (list, slots, cancel), servers (centre, broker), screens (kiosk, display,
counter-app), pads (pad, pad-sim), demo, province and ship. Each command and each action takes
only its own arguments; every --help ends with an example.
"""
from __future__ import annotations

import logging
import sys

from ..config import SiteConfigError
from . import (backup, bookings, demo, dossiers, install, officers, pads, procedures, province, queue, ratings,
               reports, screens, servers, ship, web)
from . import province_demo  # noqa: F401 - registers `motcua province demo` with the province group
from .common import CliError, Parser, Renamed, commands, find_site

__all__ = ["CliError", "build_parser", "commands", "main"]


def build_parser() -> Parser:
    p = Parser(prog="motcua", description="Queue system for one-stop public administration centres "
               "(Bộ phận Một cửa).",
               example=["motcua --site examples/site.toml demo", "motcua ticket HT",
                        "motcua counter 1 next"])
    p.add_argument("--site", help="site file (default: $MOTCUA_SITE or ./site.toml)")
    p.add_argument("--broker-port", type=int, metavar="N", help="the MQTT broker's port, overriding the site file")
    p.add_argument("--port", action=Renamed, new="--broker-port",
                   hint=" (the broker's port); a pad's serial device is `motcua pad --serial DEVICE`")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           title="commands (COMMAND --help says more, with an example)")
    for group in (servers, queue, officers, dossiers, procedures, screens, pads, reports, ratings, bookings, backup,
                  install, demo, province, ship, web):
        group.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a command line the parser refused (it has said why)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # its subsetting chatter is not ours
    try:
        # The province's commands read the provincial file, not a site file.
        site = None if getattr(args, "site_free", False) else find_site(args.site, demo=args.command == "demo")
        if site is not None and args.broker_port:
            from dataclasses import replace
            site = replace(site, broker=replace(site.broker, port=args.broker_port))
        return args.fn(site, args)
    except (SiteConfigError, CliError) as exc:
        print(f"motcua: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the broker module's errors and friends: say what, not a traceback
        from ..broker import BrokerSetupError
        if isinstance(exc, BrokerSetupError):
            print(f"motcua: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())

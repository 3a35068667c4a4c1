"""`motcua province demo` (`make demo-province`): its command line. The action is
registered into `motcua province` through its `registers` hook when this module is
imported (motcua.cli imports it); the demo itself is motcua.province.demo."""
from __future__ import annotations

from .province import add_province_option, find_province, registers


@registers
def _demo_actions(actions) -> None:
    d = actions.add_parser("demo", help="a whole province on this machine: PostgreSQL, the provincial broker, "
                           "the hub, its centres with their brokers and simulated traffic, and the board",
                           description="Start, in a data folder of its own, a throwaway PostgreSQL cluster, the "
                           "provincial broker (TLS with a CA of its own), the hub, and for each centre of the "
                           "provincial file its own broker bridged to the province, its centre, `motcua ship` and "
                           "simulated traffic; then the province board when there is a screen. Says what runs "
                           "where; Ctrl-C stops everything. Each run starts afresh.",
                           example=["motcua province demo",
                                    "motcua province demo --no-board --for 60 --data /tmp/province-demo"])
    add_province_option(d)
    d.add_argument("--data", metavar="DIR", help="the demo's folder: certificates, site files, databases, logs "
                   "(default: var/province-demo of the clone; wiped at every run)")
    d.add_argument("--for", dest="duration", type=float, metavar="SECONDS",
                   help="stop after this long (traffic first, then once the hub has every record); "
                   "default: until Ctrl-C")
    d.add_argument("--no-board", action="store_true", help="no board window (a headless run)")
    d.add_argument("--size", default="1280x720", metavar="WxH", help="the board window's size (default 1280x720)")
    d.add_argument("--centre-port", type=int, default=18851, metavar="N",
                   help="the first centre's broker port; the next centres take the next ports (default 18851)")

    def run(site, args) -> int:
        province = find_province(args.province, demo=True)   # default: examples/province.toml
        from ..province.demo import cmd_demo
        return cmd_demo(province, args)
    d.set_defaults(fn=run)

"""`motcua province …`: the province's side (issue 13, docs/province.md). These
commands read the provincial file (--province FILE, $MOTCUA_PROVINCE or
./province.toml), not a site file. Each action lives in its own module of
motcua.province; this only declares the command line."""
from __future__ import annotations

import os
from pathlib import Path

from .common import CliError

EXAMPLE_PROVINCE = Path(__file__).resolve().parents[2] / "examples" / "province.toml"


def find_province(arg: str | None, demo: bool = False):
    from ..province.config import ProvinceConfigError, load_province
    path = arg or os.environ.get("MOTCUA_PROVINCE")
    if path is None:
        if Path("province.toml").exists():
            path = "province.toml"
        elif demo and EXAMPLE_PROVINCE.exists():
            path = str(EXAMPLE_PROVINCE)
        else:
            raise CliError("no provincial file: pass --province FILE, set MOTCUA_PROVINCE, or put "
                           f"province.toml here (a sample is {EXAMPLE_PROVINCE})")
    try:
        return load_province(path)
    except ProvinceConfigError as exc:
        raise CliError(str(exc)) from None


def add_province_option(parser) -> None:
    parser.add_argument("--province", metavar="FILE",
                        help="the provincial file (default: $MOTCUA_PROVINCE or ./province.toml)")


def cmd_check(site, args) -> int:
    p = find_province(args.province)
    print(f"{p.path}: {p.name} ({p.id}), {p.timezone}")
    print(f"  broker: {p.broker.host}:{p.broker.port}" + (f", TLS {p.broker.tls_port}" if p.broker.tls_port else ""))
    print(f"  database: {p.dsn}")
    hours = ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in p.office_hours)
    print(f"  office hours: {hours}; days {', '.join(str(d + 1) for d in p.office_days)} (1 = Monday)")
    print(f"  {len(p.centres)} centre{'s' if len(p.centres) != 1 else ''}: "
          + ", ".join(c.id for c in p.centres))
    return 0


def _run(module: str, function: str):
    """An action implemented in motcua.province.<module>.<function>(province, args)."""
    def fn(site, args) -> int:
        import importlib
        province = find_province(args.province)
        return importlib.import_module(f"motcua.province.{module}").__dict__[function](province, args)
    return fn


def add_commands(sub) -> None:
    p = sub.add_parser("province", help="the province's hub, broker and report (reads the provincial file)",
                       description="The province: every centre's figures in one place (docs/province.md).",
                       example=["motcua province check --province /etc/motcua/province.toml"])
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    p.set_defaults(site_free=True)
    c = actions.add_parser("check", help="check the provincial file and say what it describes",
                           description="Read the provincial file, check every key, and print the "
                           "province, its broker, its database and its centres (never a password).",
                           example="motcua province check --province examples/province.toml")
    add_province_option(c)
    c.set_defaults(fn=cmd_check)
    # Each part of the province adds its actions here (hub, broker, report).
    for register in _REGISTER:
        register(actions)


_REGISTER: list = []


def registers(fn):
    """Decorator: an action group of `motcua province` (keeps the parts in their own functions)."""
    _REGISTER.append(fn)
    return fn


@registers
def _broker_actions(actions) -> None:
    b = actions.add_parser("broker", help="the provincial Mosquitto: write its configuration, or run it",
                           description="Write the provincial Mosquitto's configuration, password file and "
                           "ACL from the provincial file (each centre publishes only under its own root "
                           "and reads only its own acknowledgement; docs/province.md, \"Brokers\"), or "
                           "write them and run Mosquitto with them.",
                           example="motcua province broker config --province /etc/motcua/province.toml")
    acts = b.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    for name, what, example in (
            ("config", "write mosquitto.conf, passwd and acl, and stop",
             "motcua province broker config --province province.toml --out /etc/motcua/province-broker"),
            ("run", "write them, then replace this process by mosquitto",
             "motcua province broker run --province /etc/motcua/province.toml")):
        a = acts.add_parser(name, help=what, example=example)
        add_province_option(a)
        a.add_argument("--out", metavar="DIR", help="folder for the generated files "
                       "(default: <data_dir>/broker of the provincial file)")
        a.set_defaults(fn=_run("broker", "cmd_broker"))


def cmd_province_install(site, args) -> int:
    from ..install import Target
    from ..province.install import files, next_steps
    from .install import _exe, write_units
    province = find_province(args.province)
    t = Target(exe=_exe(args.exe), site_file=str(Path(province.path).absolute()),
               data_dir=str(Path(province.data_dir).absolute()), user=args.user)
    out = files(args.role, t, workers=getattr(args, "workers", None), http_port=getattr(args, "http_port", None))
    return write_units(out, args, lambda: next_steps(args.role, out, t))


@registers
def _install_actions(actions) -> None:
    i = actions.add_parser("install", help="write the systemd units of the province's server (hub, broker, web)",
                           description="Write what brings the province's server back after a reboot: a systemd "
                           "unit per role, restarted always, hardened like the centre's (docs/province.md, "
                           "\"Installing\").",
                           example=["motcua province install hub --province /etc/motcua/province.toml",
                                    "motcua province install broker --province /etc/motcua/province.toml --print"])
    roles = i.add_subparsers(dest="role", required=True, metavar="ROLE", title="roles")
    for name, what in (("hub", "the hub: shipped records into PostgreSQL (Type=notify)"),
                       ("broker", "the provincial Mosquitto, in place of Debian's mosquitto.service"),
                       ("web", "the phones' pages of every bridged centre (motcua web --province)")):
        r = roles.add_parser(name, help=what, description=what[0].upper() + what[1:] + ".",
                             example=f"motcua province install {name} --province /etc/motcua/province.toml")
        add_province_option(r)
        r.add_argument("--print", action="store_true", help="print the files instead of writing them")
        r.add_argument("--dest", metavar="DIR", help="write under DIR instead of / (DIR/etc/systemd/…)")
        r.add_argument("--exe", metavar="PATH", help="the installed motcua program (default: the one running)")
        r.add_argument("--user", default="motcua", help="the system user of the services (default motcua)")
        if name == "hub":
            r.add_argument("--workers", type=int, default=2, metavar="N", help="the hub's workers (default 2)")
        if name == "web":
            r.add_argument("--http-port", type=int, default=8080, metavar="N",
                           help="the port it listens on, on 127.0.0.1, for the proxy (default 8080)")
        r.set_defaults(fn=cmd_province_install)


@registers
def _hub_actions(actions) -> None:
    h = actions.add_parser("hub", help="store every centre's shipped records in the province's PostgreSQL",
                           description="Receive the centres' batches from the provincial broker, store each "
                           "record once in PostgreSQL ([database] dsn, migrated at start) and acknowledge "
                           "every centre up to the highest sequence committed without a gap "
                           "(docs/province.md, \"The hub\"). Runs until stopped (SIGTERM or Ctrl-C).",
                           example=["motcua province hub --province /etc/motcua/province.toml",
                                    "motcua province hub --province province.toml --instance second"])
    add_province_option(h)
    h.add_argument("--instance", default="main", metavar="NAME",
                   help="this hub's name, when two hubs share one database (its broker session is "
                   "motcua-hub-<province>-<NAME>; default main)")
    h.add_argument("--workers", type=int, default=2, metavar="N",
                   help="workers storing in parallel, each with its own PostgreSQL connection and share of "
                   "the centres (default 2, for two cores)")
    h.set_defaults(fn=_run("hub", "run_hub"))


@registers
def _report_actions(actions) -> None:
    from ..province.ranking import BY_CHOICES, DEFAULT_MIN_RATINGS
    r = actions.add_parser("report", help="the province report: every centre's figures ranked, and the province's",
                           description="The centre report's figures (docs/reports.md) for every centre of the "
                           "provincial file and for the province (all centres' records pooled, not averaged), "
                           "from the hub's database, ranked by satisfaction index, each beside the previous "
                           "period (docs/province.md, \"The province report\").",
                           example=["motcua province report --province /etc/motcua/province.toml",
                                    "motcua province report --from 01/11/2026 --to 30/11/2026 --by officer "
                                    "--xlsx tinh-thang-11.xlsx --chart xep-hang.png"])
    add_province_option(r)
    r.add_argument("--from", dest="start", metavar="DATE", help="first day, YYYY-MM-DD or dd/mm/yyyy "
                   "(default: the first day of --to's month)")
    r.add_argument("--to", dest="end", metavar="DATE", help="last day, included (default: today)")
    r.add_argument("--by", choices=BY_CHOICES, default="centre",
                   help="centre (default): the ranked centres; officer: also every officer of every centre "
                   "ranked; service: also the province's services, pooled by service code")
    r.add_argument("--min-ratings", type=int, default=DEFAULT_MIN_RATINGS, metavar="N",
                   help=f"counted ratings a centre (or officer, service) needs to be ranked (default "
                   f"{DEFAULT_MIN_RATINGS}; fewer: listed after the ranked ones)")
    r.add_argument("--xlsx", metavar="FILE", help="also write an Excel workbook (FILE.xlsx)")
    r.add_argument("--csv", metavar="FILE", help="also write a CSV file, UTF-8 with BOM (FILE.csv)")
    r.add_argument("--chart", metavar="FILE", help="also write the ranking chart (FILE.png)")
    r.set_defaults(fn=_run("report", "cmd_report"))

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

"""`motcua officers …`: the officers' register (issue 12), through the centre as
the admin device (the centre's worker owns the database: it is the only
writer), and `officers log`, read beside the running centre.

A PIN is asked twice without echo (getpass) when the terminal is a person's,
or read from standard input with --pin-stdin (scripts); it is never an
argument on the command line, where `ps` and the shell's history would keep it.
"""
from __future__ import annotations

import getpass
import sys

from ..config import Site
from ..officers import PIN_RULES, pin_problem
from .common import CliError, centre_db, device_for, request


def read_pin(args, prompt: str = "PIN: ", twice: bool = False) -> str:
    """The PIN from standard input (--pin-stdin) or asked without echo."""
    if getattr(args, "pin_stdin", False):
        pin = sys.stdin.readline().strip()
        if not pin:
            raise CliError("--pin-stdin: standard input held no PIN")
        return pin
    if not sys.stdin.isatty():
        raise CliError("the PIN is asked on a terminal; a script gives it on standard input "
                       "with --pin-stdin (never on the command line)")
    pin = getpass.getpass(prompt).strip()
    if twice:
        problem = pin_problem(pin)
        if problem:
            raise CliError(f"{problem}; choose another")
        if getpass.getpass("Nhập lại / again: ").strip() != pin:
            raise CliError("the two PINs differ; nothing was changed")
    return pin


def _admin(site: Site, args) -> str:
    device = device_for(site, "admin", args.device)
    if site.device(device).role != "admin":
        raise CliError(f"{device} may not change the officers' register (role {site.device(device).role!r}); "
                       "use --device with an admin device of the site file")
    return device


def cmd_add(site: Site, args) -> int:
    pin = read_pin(args, "PIN mới / new PIN: ", twice=True)
    r = request(site, _admin(site, args), "officer.add", officer=args.officer, name=args.name, pin=pin)
    print(f"Đã đăng ký cán bộ / Registered: {r['officer']} ({r['name']})")
    return 0


def cmd_reset_pin(site: Site, args) -> int:
    pin = read_pin(args, f"PIN mới cho {args.officer} / new PIN: ", twice=True)
    r = request(site, _admin(site, args), "officer.reset_pin", officer=args.officer, pin=pin)
    print(f"Đã đặt lại PIN / PIN reset: {r['officer']} (khoá đã mở / any lock-out lifted)")
    return 0


def cmd_unlock(site: Site, args) -> int:
    r = request(site, _admin(site, args), "officer.unlock", officer=args.officer)
    print(f"Đã mở khoá / Unlocked: {r['officer']}")
    return 0


def cmd_list(site: Site, args) -> int:
    r = request(site, _admin(site, args), "officer.list")
    rows = [f"{'Mã cán bộ':<20} {'Sai':>3}  {'Khoá đến':<25} Họ và tên"]
    for o in r["officers"]:
        rows.append(f"{o['officer']:<20} {o['failures']:>3}  {o['locked_until'] or '—':<25} {o['name']}")
    print("\n".join(rows) if r["officers"] else "Chưa có cán bộ nào / no officer registered yet")
    return 0


_WHAT = {"counter_signed_in": "đăng nhập / signed in", "officer_added": "đăng ký / registered",
         "officer_pin_reset": "đặt lại PIN / PIN reset", "officer_unlocked": "mở khoá / unlocked",
         "officer_locked_out": "bị khoá / locked out", "officer_sign_in_refused": "từ chối / refused"}


def cmd_log(site: Site, args) -> int:
    store = centre_db(site)
    try:
        events = store.officer_events(args.officer, args.limit)
    finally:
        store.close()
    for e in reversed(events):
        what = _WHAT.get(e["type"], e["type"])
        where = f" quầy {e['counter']}" if e.get("counter") is not None else ""
        why = f" ({e['reason']})" if e.get("reason") else ""
        print(f"{e['at']}  {e['officer']:<20} {what}{why}{where}")
    if not events:
        print("Chưa có gì / nothing yet")
    return 0


def add_commands(sub) -> None:
    o = sub.add_parser("officers", help="the officers' register: add, reset a PIN, unlock, list, log",
                       description="Officers sign in at a counter with their id and a PIN. " + PIN_RULES[0].upper()
                       + PIN_RULES[1:] + "; five wrong PINs lock the officer out for five minutes on "
                       "every counter. Changes go through the running centre as the admin device.",
                       example=['motcua officers add nguyenvana --name "Nguyễn Văn A"',
                                "motcua officers reset-pin nguyenvana", "motcua officers list"])
    acts = o.add_subparsers(dest="officers_action", required=True, metavar="ACTION")

    def action(name, fn, help_, example, officer=True, pin=False):
        a = acts.add_parser(name, help=help_, description=help_[0].upper() + help_[1:] + ".", example=example,
                            needs=f"`motcua officers {name}` needs OFFICER" if officer else None)
        if officer:
            a.add_argument("officer", metavar="OFFICER", help="the officer's id, e.g. nguyenvana")
        if pin:
            a.add_argument("--pin-stdin", action="store_true",
                           help="read the PIN from standard input (for scripts) instead of asking twice")
        a.add_argument("--device", help="act as this admin device (default: the first admin)")
        a.set_defaults(fn=fn)
        return a

    a = action("add", cmd_add, "register an officer with a PIN (asked twice, never shown)",
               ['motcua officers add nguyenvana --name "Nguyễn Văn A"',
                'motcua officers add tranthib --name "Trần Thị B" --pin-stdin'], pin=True)
    a.add_argument("--name", required=True, help="the officer's full name, shown at the counter")
    action("reset-pin", cmd_reset_pin, "give an officer a new PIN (and lift a lock-out)",
           "motcua officers reset-pin nguyenvana", pin=True)
    action("unlock", cmd_unlock, "lift an officer's lock-out before its five minutes are over",
           "motcua officers unlock nguyenvana")
    action("list", cmd_list, "the registered officers, wrong-PIN counts and lock-outs (never a PIN or hash)",
           "motcua officers list", officer=False)
    g = acts.add_parser("log", help="the latest sign-ins, refusals, lock-outs and resets",
                        description="The latest sign-ins, refusals, lock-outs and PIN resets, from the "
                        "centre's event log (read beside the running centre).",
                        example=["motcua officers log", "motcua officers log nguyenvana --limit 20"])
    g.add_argument("officer", metavar="OFFICER", nargs="?", help="only this officer")
    g.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    g.set_defaults(fn=cmd_log)

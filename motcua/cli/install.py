"""`motcua install ROLE`: what brings a machine of the centre back after a reboot
(systemd units; for kiosks and displays the X session too). --print shows the
files; without it they are written (to / or --dest DIR) with the commands to run
next. See motcua.install and docs/operations.md."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ..config import Site
from .common import CliError


def _exe(given: str | None) -> str:
    """The installed `motcua`: beside this Python (a venv's bin), else on PATH."""
    if given:
        path = Path(given)
    else:
        beside = Path(sys.executable).parent / "motcua"
        found = shutil.which("motcua")
        path = beside if beside.exists() else Path(found) if found else beside
    path = path.absolute()
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise CliError(f"{path} is not the installed motcua program: give it with --exe PATH "
                       "(e.g. /opt/motcua/venv/bin/motcua)")
    return str(path)


def cmd_install(site: Site, args) -> int:
    from ..install import Target, files, next_steps
    t = Target(exe=_exe(args.exe), site_file=str(Path(site.path).absolute()), data_dir=str(site.data_dir),
               user=args.user, screen_user=getattr(args, "screen_user", "kiosk"))
    options = {k: getattr(args, k, None) for k in ("watchdog_s", "keep", "when", "dest_dir", "counter",
                                                   "serial", "device", "board", "officer", "number", "http_port")}
    options["dest"] = options.pop("dest_dir")
    if args.role == "display":
        if args.board == "counter" and args.counter is None:
            raise CliError("`motcua install display counter N` needs the counter's number")
        if args.board != "counter":
            options["counter"] = None
    if args.role == "counter":
        options["number"], options["counter"] = None, None
        options["number"] = args.counter_number
    try:
        out = files(args.role, t, **{k: v for k, v in options.items() if v is not None})
    except (ValueError, TypeError) as exc:
        raise CliError(str(exc)) from None
    return write_units(out, args, lambda: next_steps(args.role, out, t))


def write_units(out, args, steps) -> int:
    """Print the files (--print), or write them under / (or --dest) and say what to run next."""
    if args.print:
        for f in out:
            print(f"# ---- {f.path} (mode {f.mode:o})")
            print(f.text)
        return 0
    root = Path(args.dest or "/")
    for f in out:
        path = root / f.path.lstrip("/")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f.text, encoding="utf-8")
            path.chmod(f.mode)
        except PermissionError:
            raise CliError(f"cannot write {path}: run it as root (sudo), or --print, or --dest DIR") from None
        print(f"wrote {path}")
    print("\nthen, as root:")
    for step in steps():
        print(f"  {step}")
    return 0


def add_commands(sub) -> None:
    i = sub.add_parser("install", help="write the systemd units (and screen sessions) that bring a "
                       "machine of the centre back at boot",
                       description="Write what brings a machine of the centre back after a reboot: a "
                       "systemd unit per role (restarted on failure, logs in the journal; the centre "
                       "with a watchdog), for kiosks and displays an X session that LightDM starts at "
                       "boot, full screen. The units run `motcua --site SITE_FILE`, the site file given "
                       "(keep it in /etc/motcua/site.toml). See docs/operations.md.",
                       example=["motcua --site /etc/motcua/site.toml install centre",
                                "motcua --site /etc/motcua/site.toml install kiosk --print"])
    roles = i.add_subparsers(dest="role", required=True, metavar="ROLE", title="roles")

    def role(name, what, example, **kw):
        r = roles.add_parser(name, help=what, description=what[0].upper() + what[1:] + ".",
                             example=example, **kw)
        r.add_argument("--print", action="store_true", help="print the files instead of writing them")
        r.add_argument("--dest", metavar="DIR", help="write under DIR instead of / (DIR/etc/systemd/…)")
        r.add_argument("--exe", metavar="PATH", help="the installed motcua program (default: the one "
                       "running, e.g. /opt/motcua/venv/bin/motcua)")
        r.add_argument("--user", default="motcua", help="the system user of the services (default motcua)")
        r.set_defaults(fn=cmd_install)
        return r

    c = role("centre", "the centre service (Type=notify, watchdog, restarted always)",
             "motcua --site /etc/motcua/site.toml install centre --print")
    c.add_argument("--watchdog-sec", dest="watchdog_s", type=int, default=30, metavar="S",
                   help="restart the centre when its worker is stuck this long (default 30)")
    role("broker", "Mosquitto configured from the site file, in place of Debian's mosquitto.service",
         "motcua --site /etc/motcua/site.toml install broker")
    role("shipper", "shipping to the province (`motcua ship`: the records and the live tile), restarted always",
         "motcua --site /etc/motcua/site.toml install shipper")
    w = role("web", "the citizen's phone pages (`motcua web`) behind the centre's HTTPS proxy, restarted always",
             "motcua --site /etc/motcua/site.toml install web --http-port 8080")
    w.add_argument("--http-port", type=int, default=8080, metavar="N",
                   help="the port it listens on, on 127.0.0.1, for the proxy (default 8080)")
    b = role("backup", "a daily backup of the centre database (a service and its timer)",
             "motcua --site /etc/motcua/site.toml install backup --keep 30")
    b.add_argument("--keep", type=int, default=14, metavar="N", help="backups kept (default 14)")
    b.add_argument("--when", metavar="CALENDAR", action="append", help="when, as systemd's OnCalendar= "
                   "(repeat for several; default: '*-*-* 12:15:00' and '*-*-* 18:30:00', the "
                   "machine's local time)")
    b.add_argument("--backup-dest", dest="dest_dir", metavar="DIR",
                   help="where the backups go (default: <data_dir>/backups)")
    p = role("pad", "the rating pad's bridge of one counter", "motcua install pad --counter 1 --serial "
             "/dev/serial/by-id/usb-motcua_pad-if00",
             needs="`motcua install pad` needs --counter N and --serial DEVICE (best a stable "
                   "/dev/serial/by-id/… name)")
    p.add_argument("--counter", type=int, required=True, help="the counter the pad stands at")
    p.add_argument("--serial", required=True, metavar="DEVICE", help="the pad's serial device")
    p.add_argument("--device", help="the pad's device id in the site file (default: the counter's pad)")
    k = role("kiosk", "the citizen kiosk, full screen at boot (LightDM autologin, X session, user unit)",
             "motcua install kiosk --print")
    k.add_argument("--device", help="which kiosk of the site file (default: the first)")
    k.add_argument("--screen-user", default="kiosk", help="the user logged in at boot (default kiosk)")
    d = role("display", "a display (hall board, counter display, satisfaction board), full screen at boot",
             ["motcua install display hall", "motcua install display counter 3 --print"])
    d.add_argument("board", choices=("hall", "counter", "tallies"), help="which board")
    d.add_argument("counter", type=int, nargs="?", metavar="N", help="the counter (board `counter`)")
    d.add_argument("--device", help="which display of the site file")
    d.add_argument("--screen-user", default="kiosk", help="the user logged in at boot (default kiosk)")
    t = role("counter", "the officer's counter terminal, started with the officer's desktop",
             "motcua install counter 2", needs="`motcua install counter` needs the counter's number N")
    t.add_argument("counter_number", type=int, metavar="N", help="the counter's number")
    t.add_argument("--officer", help="the officer id to suggest on the sign-in screen")
    t.add_argument("--device", help="act as this device (default: the counter's own)")

"""`motcua ship`: the centre's records to the province, and its live tile
(motcua.shipping.shipper, docs/province.md). A process of its own beside the
centre (systemd: `motcua install shipper`)."""
from __future__ import annotations

import os
import time

from ..config import Site
from .common import CliError


def cmd_ship(site: Site, args) -> int:
    if args.status:
        return _status(site, args)
    import signal

    from ..shipping.shipper import Shipper, ShipError
    from ..shipping.window import BATCH_MAX
    if not 1 <= args.batch <= BATCH_MAX:
        raise CliError(f"--batch {args.batch}: give 1 to {BATCH_MAX} (the province takes at most {BATCH_MAX} "
                       "records in a batch)")
    try:
        shipper = Shipper(site, args.database, batch_max=args.batch, window=args.window,
                          resend_after_s=args.resend_after)
    except (ShipError, ValueError) as exc:
        raise CliError(str(exc)) from None

    def stop(signum, frame):  # `systemctl stop` sends SIGTERM: stop between two turns
        shipper.stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    shipper.run()
    return 0


def _status(site: Site, args) -> int:
    """The shipper's own note (what it last knew of the province's acknowledgement)
    and the outbox's head now."""
    from ..shipping.shipper import CentreDatabase, ShipError, read_status, status_path
    try:
        db = CentreDatabase(args.database or site.database)
        head = db.head()
        db.close()
    except ShipError as exc:
        raise CliError(str(exc)) from None
    note = read_status(site)
    print(f"{site.name} ({site.id}): the outbox of {args.database or site.database} holds {head} records")
    if note is None:
        print(f"no note from `motcua ship` at {status_path(site)}: it has not run here yet")
        return 1
    age = time.time() - status_path(site).stat().st_mtime
    alive = note.get("running") and _alive(note.get("pid"))
    acked = note.get("acked")
    link = {True: "up", False: "down", None: "not reported (no bridge?)"}[note.get("link")]
    print(f"`motcua ship` {'runs (pid %s)' % note['pid'] if alive else 'is not running'}; its note is "
          f"{age:.0f} s old ({note.get('at')})")
    print(f"  broker: {'connected' if note.get('connected') else 'not connected'}; link to the province: {link}")
    if acked is None:
        print("  acknowledged by the province: not known yet")
    else:
        print(f"  acknowledged by the province: up to {acked}; waiting: {max(0, head - acked)} records; "
              f"{note.get('in_flight')} batches in flight; {note.get('resends')} resends")
    return 0 if alive else 1


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def add_commands(sub) -> None:
    from ..shipping.window import BATCH_MAX, RESEND_AFTER_S, WINDOW
    s = sub.add_parser("ship", help="ship the centre's records to the province, and its live tile",
                       description="Send the centre's records (the outbox of its database) to the province "
                       "in acknowledged batches through the centre's broker and its bridge, and publish the "
                       "centre's live tile. Runs beside the centre, never in its way; after an outage of any "
                       "length it sends again from the province's last acknowledgement "
                       "(docs/province.md). --status says how far shipping is.",
                       example=["motcua --site /etc/motcua/site.toml ship",
                                "motcua --site /etc/motcua/site.toml ship --status"])
    s.add_argument("--status", action="store_true", help="say how far shipping is, and stop")
    s.add_argument("--database", metavar="FILE", help="the centre's database (default: <data_dir>/centre.db)")
    s.add_argument("--batch", type=int, default=BATCH_MAX, metavar="N",
                   help=f"records per batch, at most (default {BATCH_MAX}, the most the province takes)")
    s.add_argument("--window", type=int, default=WINDOW, metavar="N",
                   help=f"batches in flight beyond the last acknowledgement (default {WINDOW})")
    s.add_argument("--resend-after", type=float, default=RESEND_AFTER_S, metavar="S",
                   help=f"send again from the last acknowledgement after S seconds without progress "
                   f"(default {RESEND_AFTER_S:g}; doubling while nothing moves, up to 30 times that)")
    s.set_defaults(fn=cmd_ship)

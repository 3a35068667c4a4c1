"""The centre's database kept safe: `motcua backup` (a consistent copy of the
live database, the newest N kept) and `motcua restore FILE` (one put back while
the centre is stopped). See docs/operations.md."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..config import Site
from .common import CliError

KEEP = 14


def cmd_backup(site: Site, args) -> int:
    from ..backup import BackupError, backup, backups
    dest = Path(args.dest) if args.dest else site.data_dir / "backups"
    try:
        made = backup(site.database, dest, args.keep, datetime.now(site.tz))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    kept = backups(dest)
    print(f"backed up {site.database} to {made} ({made.stat().st_size // 1024} KiB, integrity ok); "
          f"{len(kept)} backup{'s' if len(kept) != 1 else ''} kept in {dest}")
    return 0


def cmd_restore(site: Site, args) -> int:
    from ..backup import BackupError, restore
    try:
        aside = restore(site.database, Path(args.file), datetime.now(site.tz))
    except BackupError as exc:
        raise CliError(f"not restored: {exc}") from None
    print(f"restored {args.file} as {site.database}"
          + (f"; the database before is kept as {aside} (with its -wal, if any)" if aside else "")
          + "\nstart the centre again: systemctl start motcua-centre")
    return 0


def add_commands(sub) -> None:
    b = sub.add_parser("backup", help="copy the live centre database (safe while the centre runs)",
                       description="Copy the centre's database with SQLite's online backup into "
                       "DIR/motcua-YYYYMMDD-HHMMSS.db (the site's local time), check the copy, and "
                       f"keep the newest N there. Safe while the centre runs.",
                       example=["motcua --site /etc/motcua/site.toml backup",
                                "motcua backup --dest /mnt/usb/motcua --keep 30"])
    b.add_argument("--dest", metavar="DIR", help="where the backups go (default: <data_dir>/backups)")
    b.add_argument("--keep", type=int, default=KEEP, metavar="N",
                   help=f"how many backups to keep in DIR, the newest (default {KEEP})")
    b.set_defaults(fn=cmd_backup)

    r = sub.add_parser("restore", help="put a backup back in place of the centre database "
                       "(the centre stopped)",
                       description="Put a backup made by `motcua backup` in place of the centre's "
                       "database. Refused while the centre runs, and for a file that is not a centre's "
                       "database. The database before is kept beside it, renamed, not deleted.",
                       example="motcua --site /etc/motcua/site.toml restore "
                               "/var/lib/motcua/backups/motcua-20261206-180000.db",
                       needs="`motcua restore` needs the backup FILE (e.g. one from <data_dir>/backups)")
    r.add_argument("file", metavar="FILE", help="the backup to put back")
    r.set_defaults(fn=cmd_restore)

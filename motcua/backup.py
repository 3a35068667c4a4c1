"""Backups of the centre's database, and putting one back.

`backup` copies the live database with SQLite's online backup, in one step:
the copy is one read transaction, so it is exactly the database as it was at
one commit, while the centre goes on writing (WAL lets readers and the writer
work side by side). The copy is a single self-contained file (journal mode
DELETE), checked with `PRAGMA integrity_check` before it gets its dated name
`motcua-YYYYMMDD-HHMMSS.db`; only the newest N are kept.

`restore` refuses while a centre runs on the database (it takes the very lock
file the centre takes, `motcua.service._lock_database`, and holds it until it
is done, so no centre starts half-way), refuses a file that is not a centre's
database or is newer than this code, keeps the current database aside
(renamed with its WAL, never deleted), and puts the backup in its place.
"""
from __future__ import annotations

import fcntl
import os
import re
import sqlite3
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from .migrations import CENTRE

__all__ = ["BackupError", "CentreRunning", "backup", "backups", "check_centre_database", "restore"]

NAME = re.compile(r"^motcua-\d{8}-\d{6}(-\d+)?\.db$")


class BackupError(Exception):
    pass


class CentreRunning(BackupError):
    pass


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _same_owner(paths, like: Path) -> None:
    """Run as root, files made beside the centre's database get its owner, or the
    centre (User=motcua) could not open them afterwards."""
    if os.geteuid() != 0 or not like.exists():
        return
    st = like.stat()
    for p in paths:
        if p.exists():
            os.chown(p, st.st_uid, st.st_gid)


def backups(dest: Path) -> list[Path]:
    """The backups in `dest`, oldest first (the names sort by time)."""
    if not dest.is_dir():
        return []
    return sorted((p for p in dest.iterdir() if NAME.match(p.name)),
                  key=lambda p: (p.name[7:22], int(p.stem[23:] or 0)))


def backup(database: Path, dest: Path, keep: int, now: datetime) -> Path:
    """Copy the live `database` into `dest` as motcua-<now>.db, check it, and keep
    only the newest `keep` backups there. `now` is the site's local time."""
    database, dest = Path(database), Path(dest)
    if keep < 1:
        raise BackupError("keep at least one backup")
    if not database.exists():
        raise BackupError(f"no database at {database}: nothing to back up (has the centre ever run?)")
    dest.mkdir(parents=True, exist_ok=True)
    stem = f"motcua-{now:%Y%m%d-%H%M%S}"
    target, n = dest / f"{stem}.db", 1
    while target.exists():  # two backups in one second
        target, n = dest / f"{stem}-{n}.db", n + 1
    part = dest / f".{target.name}.part"
    part.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{database}?mode=rw", uri=True)  # never creates a database
    try:
        dst = sqlite3.connect(str(part))
        try:
            src.backup(dst)  # pages=-1: the whole file in one step, one read transaction
            dst.execute("PRAGMA journal_mode=DELETE").fetchall()  # one file, no -wal beside it
            result = dst.execute("PRAGMA integrity_check").fetchall()
            if result != [("ok",)]:
                raise BackupError(f"the copy of {database} fails SQLite's integrity check: "
                                  + "; ".join(r[0] for r in result[:5]))
        finally:
            dst.close()
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    _same_owner([database.parent / f"{database.name}-wal", database.parent / f"{database.name}-shm"],
                database)
    _fsync(part)
    part.rename(target)
    _fsync(dest)
    for old in backups(dest)[:-keep]:
        old.unlink()
    return target


def check_centre_database(path: Path) -> int:
    """The file's schema version, if it is a centre's database this code can open;
    BackupError saying what it is otherwise."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            kind = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            check = db.execute("PRAGMA quick_check").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not an SQLite database ({exc})") from None
    if kind != CENTRE.application_id and not (kind == 0 and {"events", "tickets"} <= tables and version):
        raise BackupError(f"{path} is not a motcua centre's database (application_id {kind:#x}, "
                          f"tables: {', '.join(sorted(tables)) or 'none'})")
    if version > CENTRE.version:
        raise BackupError(f"{path} is at schema version {version}, newer than this motcua "
                          f"({CENTRE.version}): restore it with the motcua that made it")
    if check != [("ok",)]:
        raise BackupError(f"{path} fails SQLite's integrity check: " + "; ".join(r[0] for r in check[:5]))
    return version


@contextmanager
def centre_stopped(database: Path):
    """Hold the centre's lock (the lock file `motcua.service._lock_database` takes):
    CentreRunning while a centre runs on `database`, and no centre starts meanwhile."""
    lock = Path(database).with_suffix(".lock")
    existed = lock.exists()
    f = open(lock, "a")
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CentreRunning(f"a centre is running on {database}: stop it first "
                                "(systemctl stop motcua-centre)") from None
        if not existed:
            _same_owner([lock], Path(database).parent)
        yield
    finally:
        f.close()


def restore(database: Path, backup_file: Path, now: datetime) -> Path | None:
    """Put `backup_file` in place of `database` while no centre runs. Returns where
    the database before it was kept (None when there was none)."""
    database, backup_file = Path(database), Path(backup_file).resolve()
    check_centre_database(backup_file)
    with centre_stopped(database):
        aside = None
        if database.exists():
            base = f"{database.name}.before-restore-{now:%Y%m%d-%H%M%S}"
            aside, n = database.with_name(base), 1
            while aside.exists():
                aside, n = database.with_name(f"{base}-{n}"), n + 1
        owner = database if database.exists() else database.parent
        part = database.with_name(f".{database.name}.restoring")
        part.write_bytes(backup_file.read_bytes())
        _fsync(part)
        _same_owner([part], owner)
        if aside is not None:
            # the WAL goes with its database: committed transactions not yet copied
            # back are in it, and left here it would be read with the restored file
            for suffix in ("", "-wal", "-shm"):
                old = database.with_name(database.name + suffix)
                if old.exists():
                    old.rename(aside.with_name(aside.name + suffix))
        part.rename(database)
        _fsync(database.parent)
    return aside

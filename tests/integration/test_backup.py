"""`motcua backup` and `motcua restore` on real SQLite files: a backup taken while
a real centre (a process, with a real Mosquitto) issues tickets to a kiosk holds
every ticket acknowledged before it started and passes SQLite's integrity check;
the newest N are kept; restore is refused while the centre runs and for a file
that is not a centre's database; a restored database is what the centre serves."""
from __future__ import annotations

import signal
import sqlite3
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from motcua.backup import BackupError, backup, backups, check_centre_database, restore
from motcua.cli import main
from motcua.mqtt import CentreUnavailable
from motcua.store import Store
from support.broker import run_centre_process


def _stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except Exception:
        proc.kill()
        proc.wait()


def _tickets(path: Path) -> set[tuple[str, int]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return set(db.execute("SELECT day, number FROM tickets"))
    finally:
        db.close()


def _wait_connected_centre(kiosk, timeout=15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            kiosk.request("ticket.status", timeout=1, ticket="HT-0000")
        except CentreUnavailable:
            continue
        except Exception:  # refused (no such ticket): the centre answers
            return
        return
    raise AssertionError("the centre did not answer")


def test_backup_while_tickets_are_issued_then_restore(site, broker, connect, workdir, capsys):
    log = workdir / "centre.log"
    proc = run_centre_process(site.path, log)
    kiosk = connect("kiosk-1")
    _wait_connected_centre(kiosk)
    acked: list[tuple[str, int]] = []
    stop = threading.Event()

    def issue():
        while not stop.is_set():
            try:
                t = kiosk.request("ticket.issue", timeout=3, service="HT")
            except CentreUnavailable:
                continue
            acked.append((t["day"], t["number"]))

    threads = [threading.Thread(target=issue) for _ in range(3)]
    for th in threads:
        th.start()
    dest = workdir / "backups"
    try:
        deadline = time.monotonic() + 30
        while len(acked) < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        before = set(acked)  # acknowledged before the backup started
        assert len(before) >= 60
        assert main(["--site", str(site.path), "backup", "--dest", str(dest), "--keep", "3"]) == 0
        n_at_end_of_backup = len(acked)
        time.sleep(0.5)  # and the centre goes on issuing
        assert len(acked) > n_at_end_of_backup, "the centre stopped issuing during the backup"
        out = capsys.readouterr().out
        assert "integrity ok" in out
        [made] = backups(dest)

        # every acknowledged ticket before the backup is in it; nothing the centre never issued
        in_backup = _tickets(made)
        assert before <= in_backup
        assert in_backup <= set(acked)
        assert sqlite3.connect(made).execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert not Path(f"{made}-wal").exists()  # one self-contained file

        # while the centre runs, restore is refused and nothing is touched
        assert main(["--site", str(site.path), "restore", str(made)]) == 2
        assert "a centre is running" in capsys.readouterr().err
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=10)
    all_issued = set(acked)
    _stop(proc)
    assert _tickets(site.database) >= all_issued

    # the backup opens with the current code, its tables as the event log adds them up
    copy = workdir / "copy.db"
    copy.write_bytes(made.read_bytes())
    store = Store(copy)
    try:
        state = store.load_state(site.queue.estimate_window)
        assert {(t.day, t.number) for t in state.tickets.values()} == in_backup
    finally:
        store.close()

    # restored while stopped: the database before is kept aside, the centre serves the backup
    assert main(["--site", str(site.path), "restore", str(made)]) == 0
    out = capsys.readouterr().out
    aside = [p for p in site.database.parent.iterdir() if ".before-restore-" in p.name and
             not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and f"kept as {aside[0]}" in out
    assert _tickets(aside[0]) >= all_issued  # nothing lost: the old database, with its WAL
    assert _tickets(site.database) == in_backup
    proc = run_centre_process(site.path, log)
    try:
        _wait_connected_centre(kiosk)
        last = max(n for d, n in in_backup)
        t = kiosk.request("ticket.issue", service="HT")
        assert t["number"] == last + 1  # numbering goes on from the restored database
        first = sqlite3.connect(made).execute("SELECT label, number FROM tickets ORDER BY number LIMIT 1").fetchone()
        assert kiosk.request("ticket.status", ticket=first[0])["number"] == first[1]
    finally:
        _stop(proc)
        print(log.read_text(errors="replace")[-3000:])


def _centre_db(path: Path) -> Path:
    """A real centre database, as the store makes it."""
    Store(path).close()
    return path


def test_the_newest_n_are_kept(workdir):
    db = _centre_db(workdir / "centre.db")
    dest = workdir / "backups"
    start = datetime(2026, 12, 6, 18, 0, 0)
    made = [backup(db, dest, 3, start + timedelta(days=i)) for i in range(5)]
    assert [p.name for p in made] == [f"motcua-202612{6 + i:02d}-180000.db" for i in range(5)]
    assert backups(dest) == made[-3:]
    again = backup(db, dest, 3, start + timedelta(days=4))  # the same second: a second name
    assert again.name == "motcua-20261210-180000-1.db"
    assert backups(dest) == [made[3], made[4], again]
    (dest / "notes.txt").write_text("mine")  # other files in the folder are left alone
    backup(db, dest, 1, start + timedelta(days=9))
    assert sorted(p.name for p in dest.iterdir()) == ["motcua-20261215-180000.db", "notes.txt"]
    with pytest.raises(BackupError, match="no database"):
        backup(workdir / "none.db", dest, 3, start)
    assert not (workdir / "none.db").exists()  # a backup never creates a database


def test_restore_refuses_what_is_not_a_centre_database(workdir):
    db = _centre_db(workdir / "centre.db")
    before = db.read_bytes()
    other = workdir / "other.db"
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE notes (x)")
    c.commit()
    c.close()
    text = workdir / "text.db"
    text.write_text("not a database at all " * 100)
    now = datetime(2026, 12, 6, 18, 0)
    for bad, said in ((other, "not a motcua centre's database"), (text, "not an SQLite database"),
                      (workdir / "missing.db", "no such file")):
        with pytest.raises(BackupError, match=said):
            restore(db, bad, now)
    newer = workdir / "newer.db"
    newer.write_bytes(before)
    c = sqlite3.connect(newer)
    c.execute("PRAGMA user_version=999")
    c.close()
    with pytest.raises(BackupError, match="newer than this motcua"):
        restore(db, newer, now)
    assert db.read_bytes() == before
    assert [p.name for p in workdir.iterdir() if "before-restore" in p.name] == []
    assert check_centre_database(db) >= 1


def test_restore_is_refused_while_a_centre_holds_the_database(site, workdir):
    from motcua.service import CentreService
    service = CentreService(site)  # takes the lock, as a running centre does
    try:
        made = backup(site.database, workdir / "b", 2, datetime(2026, 12, 6, 18, 0))
        with pytest.raises(BackupError, match="a centre is running"):
            restore(site.database, made, datetime(2026, 12, 6, 18, 1))
    finally:
        service.store.close()
        service._lock_file.close()
    assert restore(site.database, made, datetime(2026, 12, 6, 18, 1)) is not None

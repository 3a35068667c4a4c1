"""The province end to end, every part real (issue 13): three centres, each with
its own Mosquitto bridged over TLS to the provincial Mosquitto, its centre
service and `motcua ship`; the hub on a real PostgreSQL. One centre's line is
cut while it serves a burst, for minutes ($MOTCUA_CUT_S, 120 s by default), then
restored: the hub must hold exactly each centre's own records, no more, no fewer
(the records compared one by one with each centre's outbox), and none of a
citizen's name in the hub's database."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest

from motcua.config import load_site
from motcua.mqtt import DeviceClient, RequestRefused
from support.broker import ROOT, Broker, free_port, run_centre_process, write_site
from support.hub import run_hub_process, wait_log
from support.netcut import Link
from support.officers import register_on, sign_in
from support.province_broker import ProvincialBroker, write_province
from support.tls import make_ca

CENTRES = ("e2e-a", "e2e-b", "e2e-c")
CUT_S = float(os.environ.get("MOTCUA_CUT_S", "120"))


@pytest.fixture(scope="module")
def pki():
    folder = Path(tempfile.mkdtemp(prefix="motcua-pki-"))
    folder.chmod(0o755)   # the mosquitto user reads the certificates when root starts it
    pki = make_ca(folder / "province")
    cert, key = pki.server("broker")
    yield pki, cert, key
    shutil.rmtree(folder, ignore_errors=True)


class Centre:
    """One commune's centre: its broker (bridged through a line the test can cut),
    the centre service and the shipper, as processes."""

    def __init__(self, folder: Path, centre_id: str, password: str, tls_port: int, ca: Path):
        folder.mkdir(parents=True)
        self.line = Link(tls_port).start()
        path = write_site(folder, free_port(), replace={'id = "hcc-demo"': f'id = "{centre_id}"'}, extra=(
            f'\n[province]\nhost = "127.0.0.1"\nport = {self.line.port}\n'
            f'cafile = "{ca}"\npassword = "{password}"\n'))
        self.site = load_site(path)
        self.folder = folder
        self.broker = Broker(self.site, folder / "broker").start()
        self.procs = [run_centre_process(path, folder / "centre.log")]
        self.ready()
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "motcua", "--site", str(path), "ship"],
            stdout=open(folder / "ship.log", "ab"), stderr=subprocess.STDOUT, cwd=ROOT))

    def ready(self) -> None:
        deadline = time.monotonic() + 30
        while not self.site.database.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        kiosk = self.client("kiosk-1")
        kiosk.stop()

    def client(self, device: str) -> DeviceClient:
        c = DeviceClient(self.site, device).start()
        assert c.wait_connected(15), f"{device} of {self.site.id} could not connect"
        return c

    def outbox(self) -> list[tuple[int, str, dict]]:
        db = sqlite3.connect(f"file:{self.site.database}?mode=ro", uri=True)
        try:
            return [(s, k, json.loads(b)) for s, k, b in
                    db.execute("SELECT seq, kind, body FROM outbox ORDER BY seq")]
        finally:
            db.close()

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.broker.stop()
        self.line.stop()


def serve(centre: Centre, tickets: int) -> None:
    """A burst as the devices make it: tickets taken, called, served, rated, with a
    dossier (and its applicant's name) in the centre's mirror."""
    kiosk, counter, pad = centre.client("kiosk-1"), centre.client("counter-1"), centre.client("pad-1")
    try:
        for i in range(tickets):
            kiosk.request("ticket.issue", service="HT")
            if i % 2 == 0:
                try:
                    counter.request("counter.next", counter=1)
                    counter.request("counter.done", counter=1)
                except RequestRefused:
                    pass
    finally:
        for c in (kiosk, counter, pad):
            c.stop()


def hub_acked(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT id, acked FROM centres").fetchall())


def hub_records(dsn: str, centre: str) -> list[tuple[int, str, dict]]:
    with psycopg.connect(dsn) as conn:
        return [(s, k, b) for s, k, b in conn.execute(
            "SELECT seq, kind, body FROM records WHERE centre = %s ORDER BY seq", [centre])]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_three_centres_one_cut_for_minutes_the_hub_holds_exactly_their_records(workdir, pki, pg_cluster,
                                                                              pg_database):
    ca_pki, cert, key = pki
    passwords = {c: f"e2e-{c}-province-secret" for c in CENTRES}
    province_path = write_province(workdir, ca_pki, cert, key, free_port(), free_port(), passwords)
    text = province_path.read_text(encoding="utf-8")
    dsn_line = next(line for line in text.splitlines() if line.startswith("dsn = "))
    province_path.write_text(text.replace(dsn_line, f'dsn = "{pg_database}"'), encoding="utf-8")
    province = ProvincialBroker(province_path, workdir / "province-broker", observer=False).start()
    hub = run_hub_process(province_path, workdir / "hub.log")
    centres: list[Centre] = []
    try:
        wait_log(workdir / "hub.log", "connected to the provincial broker", timeout=30)
        for c in CENTRES:
            centres.append(Centre(workdir / c, c, passwords[c], province.tls_port, ca_pki.ca))
        a, b, c = centres
        sample = json.loads((ROOT / "examples" / "dossiers.json").read_text(encoding="utf-8"))
        for centre in centres:   # the dossier mirror, with applicants' names and ID numbers
            done = subprocess.run([sys.executable, "-m", "motcua", "--site", str(centre.site.path), "dossiers",
                                   "import", str(ROOT / "examples" / "dossiers.json")],
                                  capture_output=True, text=True, cwd=ROOT, timeout=120)
            assert done.returncode == 0, done.stderr
            register_on(centre.site, "nguyenvana")
            counter = centre.client("counter-1")
            sign_in(counter, 1, "nguyenvana")
            counter.stop()
        # Everything so far reaches the province.
        for centre in centres:
            serve(centre, 10)
        wait_for(lambda: all(hub_acked(pg_database).get(x.site.id, 0) == len(x.outbox()) for x in centres),
                 60, "the first records of every centre acknowledged")

        # Centre A's line dies; A keeps serving (its own work never waits), B and C too.
        a.line.cut()
        cut_at = time.monotonic()
        burst = [threading.Thread(target=serve, args=(x, n)) for x, n in ((a, 150), (b, 60), (c, 60))]
        for t in burst:
            t.start()
        for t in burst:
            t.join(CUT_S + 120)
        wait_for(lambda: hub_acked(pg_database).get(b.site.id, 0) == len(b.outbox())
                 and hub_acked(pg_database).get(c.site.id, 0) == len(c.outbox()), 60,
                 "B and C shipped while A's line is cut")
        acked_a = hub_acked(pg_database)[a.site.id]
        assert acked_a < len(a.outbox()), "A's burst reached the province through a cut line"
        time.sleep(max(0.0, CUT_S - (time.monotonic() - cut_at)))
        assert hub_acked(pg_database)[a.site.id] == acked_a, "records crossed a cut line"

        a.line.restore()
        wait_for(lambda: hub_acked(pg_database).get(a.site.id, 0) == len(a.outbox()), 120,
                 "A's records after the line came back")

        # Exactly each centre's own records: the same seqs, kinds and bodies, nothing else.
        for centre in centres:
            assert hub_records(pg_database, centre.site.id) == centre.outbox(), centre.site.id
        with psycopg.connect(pg_database) as conn:
            others = conn.execute("SELECT DISTINCT centre FROM records").fetchall()
            assert sorted(r[0] for r in others) == sorted(CENTRES)
            tickets = dict(conn.execute("SELECT centre, count(*) FROM tickets GROUP BY 1").fetchall())
        for centre in centres:
            db = sqlite3.connect(f"file:{centre.site.database}?mode=ro", uri=True)
            assert tickets[centre.site.id] == db.execute("SELECT count(*) FROM tickets").fetchone()[0]
            db.close()
        with psycopg.connect(pg_database) as conn:
            assert conn.execute("SELECT count(*) FROM dossiers").fetchone()[0] == 3 * len(sample)
        dump = pg_cluster.dump(psycopg.conninfo.conninfo_to_dict(pg_database)["dbname"])
        for d in sample:
            assert d["applicant_name"] not in dump, d["code"]
            assert not d.get("applicant_id") or d["applicant_id"] not in dump, d["code"]
        assert any(d.get("applicant_id") for d in sample)
    except BaseException:
        # The logs of every part, kept for whoever reads the failure.
        keep = ROOT / "test-output" / "province-end-to-end"
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(workdir, keep, ignore=shutil.ignore_patterns("*.db*", "persistence", "*.key"),
                        dirs_exist_ok=True)
        raise
    finally:
        for centre in centres:
            centre.stop()
        if hub.poll() is None:
            hub.terminate()
            hub.wait(10)
        province.stop()

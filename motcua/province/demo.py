"""`motcua province demo`: a whole province on one machine, until Ctrl-C.

In its data folder (var/province-demo/ of the clone by default) it makes a CA and
the provincial broker's certificate (openssl), and starts: a throwaway PostgreSQL
cluster under /tmp (as the `postgres` user when started by root: PostgreSQL
refuses root), the provincial Mosquitto, the hub, and for each centre of the
provincial file its own Mosquitto bridged to the province over TLS, its centre
service, `motcua ship` and simulated traffic (motcua.province.demo_traffic);
then the province board, when there is a screen.

Every part is a process of its own with its own log. Each runs in its own
process group, so that Ctrl-C reaches the demo alone and it stops them in order
(traffic, shippers, centres, their brokers, the hub, the provincial broker, the
cluster); and each dies with the demo if the demo is killed. Each run starts
afresh: the centres' databases, the brokers' sessions and the hub's database
of the run before are wiped (the acknowledgement a centre's broker keeps must
match the hub's database, so they go together)."""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..cli.common import CliError
from ..broker import BrokerSetupError
from .config import Province, ProvinceConfigError, load_province
from .demo_plan import OFFICERS, centre_site_text, dossiers_for, profile_of, province_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DEFAULT_DATA = ROOT / "var" / "province-demo"
MARK = ".motcua-province-demo"      # a folder the demo may wipe holds this file
CENTRE_PORT = 18851                 # the first demo centre's broker; the next ones follow
MAX_CENTRES = 6
STATUS_EVERY_S = 30
DRAIN_S = 60                         # --for: how long the records may take to reach the hub at the end


class DemoError(RuntimeError):
    """A part did not start; the message names it and its log."""


@dataclass
class Part:
    kind: str            # board, traffic, ship, centre, centre-broker, hub, province-broker
    name: str            # for people
    proc: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM

    @property
    def essential(self) -> bool:
        return self.kind != "board"   # a board window closed by hand does not stop the demo


# The order the parts stop in: nothing is left writing to a part already stopped.
STOP_ORDER = ("board", "traffic", "ship", "centre", "centre-broker", "hub", "province-broker")


def _own_group_and_die_with_parent() -> None:
    """In the child, before exec: its own process group (Ctrl-C at the terminal reaches
    the demo only, which stops the parts in order), and SIGTERM when the demo dies."""
    os.setpgid(0, 0)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text) or "    (empty)"


def _show(path: Path) -> str:
    """A path as short as it can be said from here."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class ProvinceDemo:
    def __init__(self, province: Province, args):
        self.province = province
        self.args = args
        self.data = Path(args.data).resolve() if args.data else DEFAULT_DATA
        self.parts: list[Part] = []
        self.cluster = None
        self.sites = []                # (centre, Site) in the provincial file's order
        self.dsn = ""
        self.file = self.data / "province.toml"
        self.started_at = time.monotonic()

    # -- the parts --------------------------------------------------------------------------------
    def start(self, kind: str, name: str, argv: list[str], log: Path, env: dict | None = None,
              stop_signal: int = signal.SIGTERM) -> Part:
        with open(log, "ab") as out:   # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=ROOT, env={**os.environ, **(env or {})},
                                    preexec_fn=_own_group_and_die_with_parent)
        part = Part(kind, name, proc, log, stop_signal)
        self.parts.append(part)
        return part

    def wait_for(self, part: Part, ready, what: str, timeout: float = 30) -> None:
        """Until ready() says so; DemoError naming the part and its log if it stops or takes too long."""
        deadline = time.monotonic() + timeout
        while not ready():
            if part.proc.poll() is not None:
                raise DemoError(f"{part.name} stopped at once (exit code {part.proc.returncode}); its log, "
                                f"{_show(part.log)}, ends with:\n{_tail(part.log)}")
            if time.monotonic() > deadline:
                raise DemoError(f"{part.name}: {what} after {timeout:g} s; its log, {_show(part.log)}, ends "
                                f"with:\n{_tail(part.log)}")
            time.sleep(0.2)

    @staticmethod
    def log_says(path: Path, text: str):
        return lambda: path.exists() and text in path.read_text(encoding="utf-8", errors="replace")

    # -- set-up -----------------------------------------------------------------------------------
    def fresh_folder(self) -> None:
        d = self.data
        if d.exists() and any(d.iterdir()) and not (d / MARK).exists():
            raise DemoError(f"{d} is not empty and is not a demo folder of ours (no {MARK} in it): give "
                            "another --data folder, or empty it")
        for name in ("pki", "province", "centres"):
            shutil.rmtree(d / name, ignore_errors=True)
        for log in d.glob("*.log"):
            log.unlink()
        d.mkdir(parents=True, exist_ok=True)
        (d / MARK).write_text("motcua province demo: this folder is wiped at the next run\n", encoding="utf-8")

    def check_ports(self) -> None:
        b = self.province.broker
        taken = [f"{what} {p}" for what, p in (("the provincial broker's port", b.port),
                                              ("its TLS port", b.tls_port),
                                              *((f"centre {c.id}'s broker port", self.centre_port(i))
                                                for i, c in enumerate(self.province.centres)))
                 if not _free(p)]
        if taken:
            raise DemoError(f"in use: {', '.join(taken)}. Is another demo (`make demo`, `make demo-province`) "
                            "running? Stop it, or give other ports: --centre-port N, and [broker] port and "
                            f"tls_port in a copy of {_show(self.province.path)} passed with --province")

    def centre_port(self, index: int) -> int:
        return self.args.centre_port + index

    def start_cluster(self) -> None:
        from psycopg.conninfo import conninfo_to_dict

        from .pgcluster import Cluster, ClusterError
        given = conninfo_to_dict(self.province.dsn)
        port, dbname = int(given.get("port") or 15432), given.get("dbname") or "motcua_province"
        # Under /tmp: started by root, PostgreSQL runs as `postgres`, which must reach it (a
        # clone in root's home is 0700). One folder per demo data folder.
        tag = hashlib.sha1(str(self.data).encode()).hexdigest()[:8]
        folder = Path(tempfile.gettempdir()) / f"motcua-province-demo-{os.getuid()}-{tag}"
        self.cluster_log = folder / "postgres.log"
        try:
            old = Cluster(folder, port)
            if old.initialised:
                old.stop("immediate")   # a demo killed before it could stop it
            shutil.rmtree(folder, ignore_errors=True)
            self.cluster = Cluster(folder, port).start()
            self.dsn = self.cluster.create_database(dbname)
        except ClusterError as exc:
            raise DemoError(f"PostgreSQL did not start: {exc}\n  its log: {self.cluster_log}") from None

    def write_province(self) -> Province:
        from .demo_pki import OpenSSLError, make_ca
        try:
            pki = make_ca(self.data / "pki", name=f"motcua demo CA {self.province.id}", days=30)
            cert, key = pki.server("broker", hosts=("127.0.0.1", "localhost"), days=30)
        except OpenSSLError as exc:
            raise DemoError(f"could not make the demo's certificates: {exc}") from None
        self.ca = pki.ca
        self.file.write_text(province_text(self.province, data_dir=str(self.data / "province"), dsn=self.dsn,
                                           cafile=str(pki.ca), certfile=str(cert), keyfile=str(key)),
                             encoding="utf-8")
        return load_province(self.file)

    def start_province(self, demo: Province) -> None:
        from ..broker import mosquitto_command
        from .broker import write_config
        # The demo's broker keeps the caller's user (as `motcua demo`'s): it reads its files
        # wherever the project was cloned, a 0700 folder in root's home too.
        conf = write_config(demo, self.data / "province" / "broker", keep_user=True)
        b = demo.broker
        broker = self.start("province-broker", "the provincial broker", mosquitto_command(conf),
                            self.data / "province-broker.log")
        self.wait_for(broker, lambda: _listening(b.port, b.host) and _listening(b.tls_port),
                      f"nothing listens on {b.host}:{b.port} and 127.0.0.1:{b.tls_port}", timeout=15)
        hub = self.start("hub", "the hub", [sys.executable, "-m", "motcua", "province", "hub", "--province",
                                            str(self.file)], self.data / "hub.log")
        self.wait_for(hub, self.log_says(hub.log, "connected to the provincial broker"),
                      "not connected to the provincial broker", timeout=60)

    def make_centre(self, index: int, centre) -> tuple:
        """The centre's site file, its database with the demo's officers and dossiers."""
        from ..config import WARNED_ENV, SiteConfigError, load_site
        folder = self.data / "centres" / centre.id
        folder.mkdir(parents=True, exist_ok=True)
        b = self.province.broker
        text = centre_site_text((EXAMPLES / "site.toml").read_text(encoding="utf-8"), centre_id=centre.id,
                                name=centre.name, broker_port=self.centre_port(index), province_host="127.0.0.1",
                                province_port=b.tls_port, cafile=str(self.ca), password=centre.password)
        path = folder / "site.toml"
        path.write_text(text, encoding="utf-8")
        os.environ[WARNED_ENV] = str(path.resolve())   # sample secrets: said once, by the demo
        try:
            site = load_site(path)
        except SiteConfigError as exc:
            raise DemoError(f"the site file made for centre {centre.id} is refused: {exc}") from None
        samples = json.loads((EXAMPLES / "dossiers.json").read_text(encoding="utf-8"))
        today = datetime.now(site.tz).date()
        chosen = dossiers_for(samples, profile_of(index).dossiers, today)
        dossier_file = folder / "dossiers.json"
        dossier_file.write_text(json.dumps(chosen, ensure_ascii=False, indent=1), encoding="utf-8")
        late = self.seed(site, dossier_file)
        return site, dossier_file, late

    @staticmethod
    def seed(site, dossier_file: Path) -> str | None:
        """Officers (the demo's PIN) and the dossiers, before the centre starts (nothing else
        writes the file then); returns the least late dossier without an apology, if any."""
        from .. import officers
        from ..cli.demo import DEMO_PIN
        from ..dossiers import DossierStore
        from ..dossiers.rules import overdue
        from ..engine import Changes
        from ..store import Store
        store = Store(site.database)
        try:
            dossiers = DossierStore(store.db, site.dossiers, site.timezone)
            report = dossiers.import_file(dossier_file)
            if report.errors:
                raise DemoError(f"the demo's dossiers for {site.id} were refused: {report.errors[0]}")
            now = datetime.now(timezone.utc)
            new = [officers.new_officer(o, name, DEMO_PIN, now) for o, name in OFFICERS if store.officer(o) is None]
            store.commit([{"type": "officer_added", "at": now.isoformat(), "officer": o.id, "name": o.name,
                           "device": "demo"} for o in new], Changes(), officers=[o.as_row() for o in new])
            late = overdue([dossiers.get(c) for c in dossiers.codes()], now, site.tz, within_days=-1)
            return late[-1].dossier.code if late else None
        finally:
            store.close()

    def start_centre(self, index: int, centre, site, dossier_file: Path, late: str | None) -> None:
        from ..broker import mosquitto_command, write_config
        from ..config import WARNED_ENV
        folder = site.path.parent
        env = {WARNED_ENV: str(site.path.resolve())}
        try:
            conf = write_config(site, folder / "broker", keep_user=True)
        except BrokerSetupError as exc:
            raise DemoError(f"centre {centre.id}'s broker: {exc}") from None
        port = site.broker.port
        broker = self.start("centre-broker", f"centre {centre.id}'s broker", mosquitto_command(conf),
                            folder / "broker.log")
        self.wait_for(broker, lambda: _listening(port), f"nothing listens on 127.0.0.1:{port}", timeout=15)
        cmd = [sys.executable, "-m", "motcua", "--site", str(site.path)]
        service = self.start("centre", f"centre {centre.id}", cmd + ["centre"], folder / "centre.log", env,
                             stop_signal=signal.SIGINT)
        self.wait_for(service, self.log_says(service.log, "connected to the broker"),
                      "not connected to its broker", timeout=60)
        self.start("ship", f"centre {centre.id}'s shipper (motcua ship)", cmd + ["ship"], folder / "ship.log", env)
        traffic = [sys.executable, "-m", "motcua.province.demo_traffic", "--site", str(site.path),
                   "--profile", str(index), "--dossiers", str(dossier_file)]
        if late:
            traffic += ["--late", late]
        self.traffic_argv.append(("traffic", f"centre {centre.id}'s traffic", traffic, folder / "traffic.log", env))

    def start_board(self) -> str:
        if self.args.no_board:
            return "not started (--no-board)"
        screen = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        if not screen:
            return "not started: no screen ($DISPLAY); run it where there is one (below)"
        board = self.start("board", "the province board", [sys.executable, "-m", "motcua", "display", "province",
                                                  "--province", str(self.file), "--size", self.args.size],
                           self.data / "board.log")
        return f"on screen {screen}, log {_show(board.log)}"

    # -- while it runs ----------------------------------------------------------------------------
    def progress(self) -> list[tuple[str, int | None, int | None]]:
        """(centre, records in its outbox, acknowledged by the hub) for every centre."""
        from ..shipping.shipper import CentreDatabase, ShipError
        acked: dict[str, int] = {}
        try:
            import psycopg
            with psycopg.connect(self.dsn, connect_timeout=3) as conn:
                acked = dict(conn.execute("SELECT id, acked FROM centres").fetchall())
        except Exception:  # noqa: BLE001 - the hub's tables may not be there yet; the figures say so
            pass
        out = []
        for centre, site in self.sites:
            head = None
            try:
                db = CentreDatabase(site.database)
                head = db.head()
                db.close()
            except ShipError:
                pass
            out.append((centre.id, head, acked.get(centre.id)))
        return out

    def say_progress(self) -> bool:
        rows = self.progress()
        print("motcua province demo: records acknowledged by the hub / in the centre's outbox: "
              + " · ".join(f"{c} {a if a is not None else '–'}/{h if h is not None else '–'}" for c, h, a in rows),
              flush=True)
        return all(h is not None and a == h for _, h, a in rows)

    def drain(self, timeout: float) -> bool:
        """Until the hub has acknowledged every record of every centre (traffic stopped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.progress()
            if all(h is not None and a == h for _, h, a in rows):
                return True
            time.sleep(0.5)
        return False

    def stop(self, kind: str, timeout: float = 10) -> None:
        """Every part of a kind: its signal, then at most `timeout` s before it is killed."""
        group = [p for p in self.parts if p.kind == kind and p.proc.poll() is None]
        for p in group:
            try:
                p.proc.send_signal(p.stop_signal)
            except ProcessLookupError:
                pass
        for p in group:
            try:
                p.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"motcua province demo: {p.name} did not stop in {timeout:g} s: killed", flush=True)
                p.proc.kill()
                p.proc.wait()

    def stop_all(self, drain_s: float) -> bool:
        """Everything, in order (STOP_ORDER), the cluster last; with drain_s, first waits
        that long at most for the hub to have every record. True when it had them all."""
        drained = True
        for kind in STOP_ORDER:
            if kind == "ship" and drain_s and self.dsn and any(p.kind == "traffic" for p in self.parts):
                print(f"motcua province demo: traffic stopped; waiting (at most {drain_s:g} s) for the hub to "
                      "acknowledge every record", flush=True)
                try:
                    drained = self.drain(drain_s)
                except KeyboardInterrupt:
                    drained = False
                drained = self.say_progress() and drained
                signal.signal(signal.SIGINT, signal.SIG_IGN)   # stopping now, whatever is pressed
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self.stop(kind, timeout=15 if kind == "traffic" else 10)
        for p in self.parts:   # anything left (none should be)
            if p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait()
        if self.cluster is not None:
            try:
                self.cluster.stop()
            except Exception as exc:  # noqa: BLE001 - said, and the rest is stopped anyway
                print(f"motcua province demo: PostgreSQL did not stop cleanly: {exc}", flush=True)
        return drained

    # -- the whole ----------------------------------------------------------------------------------
    def run(self) -> int:
        p = self.province
        if len(p.centres) > MAX_CENTRES:
            raise CliError(f"{p.path} lists {len(p.centres)} centres; the demo runs at most {MAX_CENTRES} "
                           "(each is a broker, a centre, a shipper and traffic): give a provincial file with fewer")
        self.traffic_argv: list = []
        interrupted = False

        def to_interrupt(signum, frame):
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, to_interrupt)
        ok = True
        try:
            self.fresh_folder()
            self.check_ports()
            print(f"motcua province demo: {p.name} ({p.id}), {len(p.centres)} centres, in {_show(self.data)}; "
                  "starting…", flush=True)
            self.start_cluster()
            demo = self.write_province()
            self.start_province(demo)
            for i, c in enumerate(p.centres):
                site, dossier_file, late = self.make_centre(i, c)
                self.sites.append((c, site))
                self.start_centre(i, c, site, dossier_file, late)
            hub_log = self.data / "hub.log"
            hub = next(x for x in self.parts if x.kind == "hub")
            for c, site in self.sites:
                self.wait_for(hub, self.log_says(hub_log, f"centre {c.id}: bridge up"),
                              f"centre {c.id}'s bridge did not come up over TLS (see also "
                              f"{_show(site.path.parent / 'broker.log')})")
            for kind, name, argv, log, env in self.traffic_argv:
                self.start(kind, name, argv, log, env)
            board = self.start_board()
            self.say_started(board)
            deadline = None if self.args.duration is None else time.monotonic() + self.args.duration
            last = time.monotonic()
            told: list[Part] = []
            while True:
                time.sleep(0.5)
                for part in self.parts:
                    if not part.essential and part.proc.poll() is not None and part not in told:
                        told.append(part)   # a window closed by hand, or one that could not open
                        print(f"motcua province demo: {part.name} stopped (exit code {part.proc.returncode}); "
                              f"the rest runs on. Its log, {_show(part.log)}, ends with:\n{_tail(part.log)}",
                              flush=True)
                    if part.essential and part.proc.poll() is not None:
                        raise DemoError(f"{part.name} stopped (exit code {part.proc.returncode}); its log, "
                                        f"{_show(part.log)}, ends with:\n{_tail(part.log)}")
                if deadline is not None and time.monotonic() >= deadline:
                    print(f"motcua province demo: {self.args.duration:g} s are over (--for)", flush=True)
                    break
                if time.monotonic() - last >= STATUS_EVERY_S:
                    last = time.monotonic()
                    self.say_progress()
        except KeyboardInterrupt:
            interrupted = True
            print("\nmotcua province demo: stopping…", flush=True)
        except (DemoError, BrokerSetupError, ProvinceConfigError) as exc:
            print(f"motcua province demo: {exc}", file=sys.stderr, flush=True)
            ok = False
        finally:
            drained = self.stop_all(drain_s=0 if not ok else (10 if interrupted else DRAIN_S))
            if self.cluster is not None:
                print(f"motcua province demo: everything stopped, PostgreSQL too (its files stay in "
                      f"{self.cluster.directory} until the next run)", flush=True)
        if not ok:
            return 1
        if not drained and not interrupted:
            print("motcua province demo: some records had not reached the hub when it stopped "
                  "(see the figures above)", file=sys.stderr)
            return 1
        return 0

    def say_started(self, board: str) -> None:
        p, b = self.province, self.province.broker
        as_whom = "as the postgres user" if os.geteuid() == 0 else "as you"
        today = datetime.now(p.tz).strftime("%d/%m/%Y")
        lines = [
            "motcua province demo: running.",
            f"  PostgreSQL      {self.cluster.directory} (socket only, port {self.cluster.port}, {as_whom}); "
            f"log {self.cluster.log}",
            f"  DSN             {self.dsn}",
            f"  provincial broker  {b.host}:{b.port} (the hub, the board), TLS 127.0.0.1:{b.tls_port} (the centres' "
            f"bridges); log {_show(self.data / 'province-broker.log')}",
            f"  hub             log {_show(self.data / 'hub.log')}",
            f"  provincial file {_show(self.file)} (CA and certificate in {_show(self.data / 'pki')})"]
        for i, (c, site) in enumerate(self.sites):
            folder = site.path.parent
            lines.append(f"  centre {c.id} ({c.name}, {profile_of(i).kind}): broker 127.0.0.1:{site.broker.port}, "
                         f"site file {_show(site.path)}; logs {_show(folder)}/"
                         "{broker,centre,ship,traffic}.log")
        lines += [
            f"  board           {board}",
            "Open the board (another screen, or again):",
            f"  motcua display province --province {_show(self.file)}",
            "The province report, in another terminal:",
            f"  motcua province report --province {_show(self.file)} --from {today} --to {today}",
            "A centre by hand (its officers' PIN is 2580):",
            f"  motcua --site {_show(self.sites[0][1].path)} status",
            ("Stops after " + f"{self.args.duration:g} s (--for)." if self.args.duration is not None
             else "Ctrl-C stops everything.")]
        print("\n".join(lines), flush=True)


def cmd_demo(province: Province, args) -> int:
    """`motcua province demo`."""
    if args.duration is not None and args.duration <= 0:
        raise CliError(f"--for {args.duration:g}: give a number of seconds above 0")
    from ..ui.bootstrap import parse_size
    try:
        parse_size(args.size, "1280x720")
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if not 1024 <= args.centre_port <= 65535 - MAX_CENTRES:
        raise CliError(f"--centre-port {args.centre_port}: give a port from 1024 to {65535 - MAX_CENTRES}")
    return ProvinceDemo(province, args).run()

"""`motcua province demo` (`make demo-province`), run as a user runs it: the real
command as a process, with its own PostgreSQL, brokers, hub, three centres and
their traffic, and the board in a real window under Xvfb. The test reads only
what the demo printed (the DSN) and the files it left: the hub's database holds
records of all three centres, the live tiles differ as the profiles do, every
record of every centre was acknowledged when it stopped, and after it stopped no
process of it is left and its PostgreSQL is down. The screenshot of the board is
kept in test-output/screens/province-demo/ for people to look at."""
from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from psycopg.conninfo import conninfo_to_dict

from motcua.province.config import load_province
from motcua.province.pgcluster import Cluster
from support.broker import ROOT, free_port

SAMPLE = ROOT / "examples" / "province.toml"
SHOTS = ROOT / "test-output" / "screens" / "province-demo"
CENTRES = ("phuong-thuan-hoa", "phuong-phu-xuan", "xa-phu-vinh")
# late dossiers without an apology, as the profiles mirror them (motcua.province.demo_plan):
# the busy ward has five, one of which the one-stop software apologises for during the run
LATE = {"phuong-thuan-hoa": 4, "phuong-phu-xuan": 1, "xa-phu-vinh": 0}


def free_ports(n: int) -> int:
    """The first of n consecutive free ports."""
    import socket
    for _ in range(200):
        first = free_port()
        if first + n > 65535:
            continue
        ok = True
        for p in range(first, first + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return first
    raise RuntimeError("no run of free ports")


def province_file(folder: Path) -> Path:
    """The sample provincial file with ports of the test's own (beside a running demo)."""
    text = SAMPLE.read_text(encoding="utf-8")
    for old, new in (("port = 18840", f"port = {free_port()}"), ("tls_port = 18841", f"tls_port = {free_port()}"),
                     ("port=15432", f"port={free_port()}")):
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "province.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Demo:
    """The demo as a process; its output kept line by line."""

    def __init__(self, folder: Path, *args: str, env: dict | None = None, user: str | None = None,
                 python: str = sys.executable):
        self.folder = folder
        self.province = load_province(province_file(folder))
        self.data = folder / "demo"
        argv = [python, "-m", "motcua", "province", "demo", "--province", str(self.province.path),
                "--data", str(self.data), "--centre-port", str(free_ports(3)), *args]
        if user:
            argv = ["runuser", "-u", user, "--", *argv]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                                     env={**os.environ, **(env or {})}, start_new_session=True)
        self.lines: list[str] = []
        self.seen: set[int] = set()    # every process the demo started, seen while it ran
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_line(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                m = re.search(pattern, line)
                if m:
                    return m
            if self.proc.poll() is not None and not any(re.search(pattern, x) for x in self.lines):
                time.sleep(0.3)   # the reader may still be reading the last lines
                if not any(re.search(pattern, x) for x in self.lines):
                    break
            time.sleep(0.2)
        raise AssertionError(f"the demo did not print {pattern!r}:\n{self.output}\n{self.logs()}")

    def note_processes(self) -> None:
        self.seen |= descendants(self.proc.pid)

    def logs(self) -> str:
        out = []
        for log in sorted(self.data.rglob("*.log")):
            text = log.read_text(encoding="utf-8", errors="replace").splitlines()
            out.append(f"--- {log.relative_to(self.data)}\n" + "\n".join(text[-15:]))
        return "\n".join(out)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def processes_naming(text: str) -> list[str]:
    """Command lines of running processes that name `text` (the demo's folders)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args and int(cmdline.parent.name) != os.getpid():
            found.append(f"{cmdline.parent.name}: {args}")
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def hub_counts(dsn: str) -> dict[str, dict[str, int]]:
    with psycopg.connect(dsn, connect_timeout=3) as conn:
        rows = conn.execute("SELECT centre, kind, count(*) FROM records GROUP BY 1, 2").fetchall()
    out: dict[str, dict[str, int]] = {}
    for centre, kind, n in rows:
        out.setdefault(centre, {})[kind] = n
    return out


class Tiles:
    """The live tiles as the board hears them: the `board` login on the plain listener."""

    def __init__(self, province):
        self.tiles: dict[str, dict] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-board-{os.getpid()}",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set("board", province.board_password)
        self.client.on_connect = lambda c, *a: c.subscribe("motcua/+/ship/live", qos=1)
        self.client.on_message = self._on_message
        self.client.connect_async(province.broker.host, province.broker.port)
        self.client.loop_start()

    def _on_message(self, client, userdata, message):
        tile = json.loads(message.payload)
        self.tiles[tile["centre"]] = tile

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()


def wait_for(predicate, timeout: float, what: str, demo: Demo) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        demo.note_processes()
        if predicate():
            return
        assert demo.proc.poll() is None, f"the demo stopped while waiting for {what}:\n{demo.output}\n{demo.logs()}"
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}:\n{demo.output}\n{demo.logs()}")


def outbox_length(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        conn.close()


def check_stopped_cleanly(demo: Demo, cluster_dir: Path) -> None:
    assert demo.seen, "no process of the demo was seen"
    left = [pid for pid in demo.seen if alive(pid)]
    assert not left, f"processes of the demo still running: {left}"
    for text in (str(demo.data), str(cluster_dir)):
        assert not processes_naming(text), processes_naming(text)
    port = int(conninfo_to_dict(demo.dsn)["port"])
    assert not Cluster(cluster_dir, port).running(), "the demo's PostgreSQL still runs"


ASK_HUB = """
import json, sys, psycopg
from motcua.province.pgcluster import Cluster
cluster = Cluster(sys.argv[1], int(sys.argv[2])).start()
try:
    with psycopg.connect(sys.argv[3]) as conn:
        print(json.dumps([dict(conn.execute("SELECT id, acked FROM centres").fetchall()),
                          dict(conn.execute("SELECT centre, count(*) FROM records GROUP BY 1").fetchall())]))
finally:
    cluster.stop()
"""


def check_everything_acknowledged(demo: Demo, cluster_dir: Path, user: str | None = None,
                                  python: str = sys.executable, env: dict | None = None) -> dict:
    """The hub's acknowledgement of each centre against its outbox, in the files the
    demo left: its stopped cluster started again for the question (by the user who
    ran the demo: as root it would run as postgres, whose files these are not)."""
    port = int(conninfo_to_dict(demo.dsn)["port"])
    argv = [python, "-c", ASK_HUB, str(cluster_dir), str(port), demo.dsn]
    done = subprocess.run((["runuser", "-u", user, "--"] if user else []) + argv, capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    acked, stored = json.loads(done.stdout)
    figures = {}
    for c in CENTRES:
        length = outbox_length(demo.data / "centres" / c / "data" / "centre.db")
        figures[c] = (acked.get(c), length)
        assert length > 0, c
        assert acked.get(c) == length == stored.get(c), (c, acked.get(c), length, stored.get(c))
    return figures


@pytest.fixture
def xvfb():
    """A screen of the test's own, without access control, so that the test can take
    a screenshot of another process's window (PIL's grab over XCB)."""
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    number = b""
    with os.fdopen(read, "rb") as f:
        while not number.endswith(b"\n"):
            chunk = f.read(1)
            if not chunk:
                break
            number += chunk
    assert number.strip(), "Xvfb did not start"
    yield f":{int(number)}"
    proc.terminate()
    proc.wait(10)


def test_the_province_demo_runs_a_province_and_stops_it_cleanly(workdir, xvfb):
    demo = Demo(workdir, "--for", "75", "--size", "1280x720", env={"DISPLAY": xvfb})
    tiles = None
    try:
        demo.dsn = demo.wait_line(r"^\s+DSN\s+(\S+)", timeout=120)[1]
        cluster_dir = Path(conninfo_to_dict(demo.dsn)["host"])
        demo.wait_line(r"board\s+on screen", timeout=5)
        for what in ("Open the board", "motcua province report --province ", "Stops after 75 s"):
            assert what in demo.output, what
        tiles = Tiles(demo.province)

        # Records of all three centres reach the hub's database, of every kind the traffic makes.
        def all_kinds():
            counts = hub_counts(demo.dsn)
            return all({"event", "ticket", "counter", "dossier", "site"} <= set(counts.get(c, {}))
                       for c in CENTRES) and "rating" in counts.get("phuong-thuan-hoa", {})
        wait_for(all_kinds, 60, "records of every kind from the three centres in the hub's database", demo)

        # The tiles are live and differ as the profiles do: people served, late dossiers,
        # the busy ward's apology included.
        def live():
            t = tiles.tiles
            return (all(c in t and t[c]["served_today"] + t[c]["waiting"] > 0 for c in CENTRES)
                    and all(t[c]["late_without_apology"] == LATE[c] for c in CENTRES)
                    and t["phuong-thuan-hoa"]["ratings_today"] > 0)
        wait_for(live, 60, "live tiles of the three centres", demo)
        demo.note_processes()
        time.sleep(1.5)   # the board redraws at most 5 times a second
        from PIL import ImageGrab
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = ImageGrab.grab(xdisplay=xvfb)
        shot.save(SHOTS / "board.png")
        board = [p for p in demo.seen if alive(p) and "display province" in
                 Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()]
        assert board, "no board process"
        assert len(shot.getcolors(1 << 20) or range(1 << 20)) > 50, "the board's screen is blank"
        with psycopg.connect(demo.dsn) as conn:
            apologies = dict(conn.execute("SELECT centre, count(*) FROM dossier_apologies GROUP BY 1").fetchall())
        assert apologies["phuong-thuan-hoa"] == 4   # the sample's three and the one-stop software's
        tiles.stop()
        tiles = None

        # --for: it stops by itself, having waited for every record to be acknowledged.
        assert demo.proc.wait(timeout=200) == 0, demo.output + "\n" + demo.logs()
        time.sleep(0.5)
        assert "everything stopped" in demo.output, demo.output
        check_stopped_cleanly(demo, cluster_dir)
        figures = check_everything_acknowledged(demo, cluster_dir)
        print(figures)
        # (Kivy logs a Traceback of its own at start, probing for input devices: after that, none)
        board_log = (demo.data / "board.log").read_text(encoding="utf-8", errors="replace")
        running = board_log.split("Start application main loop", 1)
        assert len(running) == 2, board_log[-3000:]
        assert "Traceback" not in running[1] and " ERROR " not in running[1], running[1][-3000:]
    finally:
        if tiles is not None:
            tiles.stop()
        demo.kill()
        if getattr(demo, "dsn", None):
            d = Path(conninfo_to_dict(demo.dsn)["host"])
            Cluster(d, int(conninfo_to_dict(demo.dsn)["port"])).stop("immediate") if (d / "data").exists() else None
            shutil.rmtree(d, ignore_errors=True)


def python_for(user: str, folder: Path) -> tuple[str, dict]:
    """An interpreter `user` may run with this venv's packages, and its environment: this
    one, or (a venv made from a Python in root's 0700 home) the system's Python of the
    same version, given the venv's site-packages by a sitecustomize of the test's."""
    def runs(python: str, env: dict) -> bool:
        done = subprocess.run(["runuser", "-u", user, "--", python, "-c", "import motcua.cli, psycopg"],
                              capture_output=True, cwd=ROOT, env={**os.environ, **env}, timeout=60)
        return done.returncode == 0
    if runs(sys.executable, {}):
        return sys.executable, {}
    system = shutil.which("python3", path="/usr/bin:/bin")
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if system:
        version = subprocess.run([system, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True).stdout.strip()
        if version == here:
            custom = folder / "sitecustomize"
            custom.mkdir()
            packages = str(Path(sys.prefix) / "lib" / f"python{here}" / "site-packages")
            (custom / "sitecustomize.py").write_text(f"import site\nsite.addsitedir({packages!r})\n")
            custom.chmod(0o755)
            env = {"PYTHONPATH": str(custom)}
            if runs(system, env):
                return system, env
    pytest.skip(f"{user} can run neither {sys.executable} nor a system Python {here} with this venv's packages")


@pytest.mark.skipif(os.geteuid() != 0, reason="the test above ran as this user already")
def test_the_demo_as_a_user_who_is_not_root(workdir):
    """PostgreSQL as the calling user (no runuser), the brokers as that user: the same
    demo as `nobody`, headless, in a folder of its own, stopped with Ctrl-C (SIGINT to
    its process group, as a terminal sends it)."""
    user = pwd.getpwnam("nobody")
    home = workdir / "home"
    home.mkdir()
    os.chown(workdir, user.pw_uid, user.pw_gid)
    os.chown(home, user.pw_uid, user.pw_gid)
    python, env = python_for("nobody", workdir)
    demo = Demo(workdir, "--no-board", user="nobody", python=python,
                env={"HOME": str(home), "MPLCONFIGDIR": str(home), **env})
    try:
        demo.dsn = demo.wait_line(r"^\s+DSN\s+(\S+)", timeout=120)[1]
        assert "as you" in demo.wait_line(r"PostgreSQL\s+.*", timeout=5)[0]
        cluster_dir = Path(conninfo_to_dict(demo.dsn)["host"])
        assert cluster_dir.stat().st_uid == user.pw_uid
        wait_for(lambda: set(hub_counts(demo.dsn)) == set(CENTRES), 60, "records of the three centres", demo)
        demo.note_processes()
        owners = {Path(f"/proc/{p}").stat().st_uid for p in demo.seen if alive(p)}
        assert owners == {user.pw_uid}, owners
        time.sleep(5)
        os.killpg(demo.proc.pid, signal.SIGINT)
        assert demo.proc.wait(timeout=150) == 0, demo.output + "\n" + demo.logs()
        assert "stopping" in demo.output
        check_stopped_cleanly(demo, cluster_dir)
        check_everything_acknowledged(demo, cluster_dir, user="nobody", python=python, env=env)
    finally:
        demo.kill()
        if getattr(demo, "dsn", None):
            d = Path(conninfo_to_dict(demo.dsn)["host"])
            subprocess.run(["runuser", "-u", "nobody", "--", python, "-m", "motcua.province.pgcluster",
                            "stop", str(d)], capture_output=True, timeout=60, cwd=ROOT, env={**os.environ, **env})
            shutil.rmtree(d, ignore_errors=True)


def test_a_port_in_use_is_named_before_anything_starts(workdir):
    import socket
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    try:
        province = province_file(workdir)
        text = province.read_text(encoding="utf-8")
        tls = re.search(r"^tls_port = (\d+)", text, flags=re.M)[1]
        province.write_text(text.replace(f"tls_port = {tls}", f"tls_port = {taken}"), encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "motcua", "province", "demo", "--province", str(province),
                               "--data", str(workdir / "demo"), "--no-board", "--for", "5",
                               "--centre-port", str(free_ports(3))],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
    finally:
        holder.close()
    assert done.returncode == 1
    assert f"in use: its TLS port {taken}" in done.stderr and "--centre-port" in done.stderr, done.stderr
    assert "PostgreSQL" not in done.stdout   # nothing was started
    # and a folder that is not the demo's is never wiped
    other = workdir / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    done = subprocess.run([sys.executable, "-m", "motcua", "province", "demo", "--province", str(province),
                           "--data", str(other), "--no-board", "--for", "5"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 1 and "is not a demo folder of ours" in done.stderr, done.stderr
    assert (other / "keep.txt").read_text() == "mine"

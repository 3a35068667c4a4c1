"""`motcua web` for tests: uvicorn serving the real application in a thread of
the test process (or as a process, `run_web_process`), and a plain SSE reader."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from support.broker import ROOT, free_port, wait_port


class WebServer:
    """uvicorn in a thread, on a free port of 127.0.0.1."""

    def __init__(self, app, port: int | None = None):
        import uvicorn
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    def start(self) -> "WebServer":
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("motcua web did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def get(self, path: str, data: bytes | None = None) -> tuple[int, str, dict]:
        """(status, body, headers with lower-case names); `data`: POST it as a form."""
        req = urllib.request.Request(self.url + path, data=data)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode("utf-8"), {k.lower(): v for k, v in r.headers.items()}
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8"), {k.lower(): v for k, v in e.headers.items()}

    def post(self, path: str, data: bytes) -> tuple[int, str, str]:
        """POST a form, following a redirect: (status, body, the path it ended on)."""
        from urllib.parse import urlsplit
        req = urllib.request.Request(self.url + path, data=data)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                u = urlsplit(r.geturl())
                return r.status, r.read().decode("utf-8"), u.path + (f"?{u.query}" if u.query else "")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8"), path

    def health(self) -> dict:
        return json.loads(self.get("/healthz")[1])

    def wait_ready(self, centre: str, timeout: float = 10) -> None:
        """Until the web process is on the broker and has seen the centre online."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            c = self.health()["centres"].get(centre, {})
            if c.get("broker") and c.get("online"):
                return
            time.sleep(0.05)
        raise AssertionError(f"motcua web never saw the centre {centre} online: {self.health()}")


class SSEReader:
    """A raw HTTP/1.0 stream (no chunking) of Server-Sent Events, read in a thread: `events`
    gets (time.monotonic(), event name, parsed data) as they arrive."""

    def __init__(self, port: int, path: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
        self.events: list[tuple[float, str, dict]] = []
        self.status: int | None = None
        self.headers = ""
        self.raw = b""
        self._cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buf = b""
        head_done = False
        self.sock.settimeout(None)
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            now = time.monotonic()
            self.raw += chunk
            buf += chunk
            if not head_done:
                if b"\r\n\r\n" not in buf:
                    continue
                head, buf = buf.split(b"\r\n\r\n", 1)
                self.headers = head.decode()
                self.status = int(self.headers.split()[1])
                head_done = True
                with self._cond:
                    self._cond.notify_all()
            # HTTP/1.0: the body is not chunked, it ends when the connection does
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                name, data = "message", None
                for line in block.decode("utf-8").splitlines():
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        data = json.loads(line[6:])
                if data is not None:
                    with self._cond:
                        self.events.append((now, name, data))
                        self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 5.0):
        """The first event whose data satisfies predicate, as (time, name, data)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.events:
                    if predicate(e[2]):
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such event within {timeout} s; got {[e[2] for e in self.events]}")
                self._cond.wait(left)

    def wait_status(self, timeout: float = 5.0) -> int:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.status is None and time.monotonic() < deadline:
                self._cond.wait(0.05)
        return self.status

    def close(self) -> None:
        """Hang up as a phone does (shutdown wakes the reading thread, close alone would not)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def run_web_process(site_path: Path, device: str, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "motcua", "--site", str(site_path), "web", "--http-port", str(port),
                             "--device", device], stdout=open(log, "ab"), stderr=subprocess.STDOUT, cwd=ROOT)
    wait_port(port, timeout=20)
    return proc


# -- the web device and the ticket links of a test site ------------------------------------------

def web_device(site) -> str:
    """The site file's web device (role = "web")."""
    webs = site.devices_of("web")
    assert webs, f"{site.path} has no device with role = \"web\""
    return webs[0].id


def web_secret(site) -> str:
    assert site.web is not None, f"{site.path} has no [web] table"
    return site.web.secret


def ticket_path(site, day: str, label: str, lang: str | None = None) -> str:
    from motcua.web_tokens import make_token
    token = make_token(web_secret(site), site.id, "t", day, label)
    return f"/t/{token}" + (f"?lang={lang}" if lang else "")


def load_sample_data(site) -> None:
    """The sample's procedures and dossiers in the centre's database, as `motcua
    procedures import` and `motcua dossiers import` put them (before the centre starts)."""
    from motcua import dossiers
    from motcua.catalogue import Catalogue
    from motcua.store import Store
    store = Store(site.database)
    try:
        assert Catalogue(store.db).import_file(ROOT / "examples" / "procedures.json").ok
        report = dossiers.DossierStore(store.db, site.dossiers, site.timezone).import_file(
            ROOT / "examples" / "dossiers.json")
        assert report.ok
    finally:
        store.close()

"""Test helpers for the province hub (motcua.province.hub): a centre's records
shaped as the centre's outbox ships them (motcua.shipping.outbox: every column
of its tables, the event's data parsed), batches of them, a provincial
Mosquitto for tests, the hub as a process, and simulated centres that ship
by the contract's rules (a window of batches beyond the last acknowledgement,
sent again from acked + 1 when nothing moves: docs/province.md).

The provincial broker here is written by the test itself (password file and
ACL in Mosquitto's own format): user `hub` with the rights the contract gives
it (read motcua/+/ship/batch and /link, write motcua/+/ship/ack) and a user
`centres` that may publish for every centre, standing in for the bridges.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from motcua.broker import mosquitto_command
from support.broker import ROOT, free_port, wait_port

HUB_PASSWORD = "test-province-hub-secret"
CENTRES_PASSWORD = "test-centres-secret"
SERVICES = [("HT", "Hộ tịch"), ("DD", "Đất đai"), ("XD", "Xây dựng"), ("CT", "Chứng thực")]
PROCEDURES = [("1.001193", "Đăng ký khai sinh", "Hộ tịch"),
              ("1.009994", "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ", "Xây dựng"),
              ("1.004227", "Chứng thực bản sao từ bản chính giấy tờ, văn bản", "Chứng thực")]


# -- a centre's records --------------------------------------------------------------------

def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def centre_records(centre: str, count: int, seed: int | None = None,
                   start: datetime = datetime(2026, 12, 7, 0, 30, tzinfo=timezone.utc)) -> list[tuple[str, dict]]:
    """`count` records (kind, body) as a busy centre writes them: per citizen the
    ticket issued, called, started and done (each a ticket record, an event, and
    the counter's change), most rated, some with a dossier received and attached."""
    rnd = random.Random(seed if seed is not None else centre)
    out: list[tuple[str, dict]] = []
    t = start
    event_seq = 0
    tid = 0
    numbers: dict[str, int] = {}
    day = start.date().isoformat()

    def event(kind, ticket, counter=None, **data):
        nonlocal event_seq
        event_seq += 1
        out.append(("event", {"seq": event_seq, "at": _iso(t), "type": kind, "ticket_id": ticket["id"],
                              "counter": counter, "data": {"type": kind, "at": _iso(t), "ticket_id": ticket["id"],
                                                           "ticket": ticket["label"], "service": ticket["service"],
                                                           "counter": counter, **data}}))

    while len(out) < count:
        tid += 1
        code, _ = rnd.choice(SERVICES)
        numbers[code] = numbers.get(code, 0) + 1
        counter = rnd.randint(1, 6)
        officer = f"cb{counter:02d}"
        ticket = {"id": tid, "day": day, "service": code, "number": numbers[code],
                  "label": f"{code}{numbers[code]:03d}", "priority": rnd.choice([None] * 9 + ["elderly"]),
                  "state": "waiting", "issued_at": _iso(t), "order_at": _iso(t), "device": "kiosk-1",
                  "called_at": None, "first_called_at": None, "started_at": None, "finished_at": None,
                  "counter": None, "officer": None, "recalls": 0, "transfers": 0, "original_service": None}
        out.append(("ticket", dict(ticket)))
        event("ticket_issued", ticket)
        t += timedelta(seconds=rnd.randint(30, 900))
        ticket.update(state="called", called_at=_iso(t), first_called_at=_iso(t), counter=counter, officer=officer)
        out.append(("ticket", dict(ticket)))
        counter_row = {"number": counter, "state": "called", "officer": officer,
                       "officer_name": f"Cán bộ {counter}", "ticket_id": tid, "pause_reason": None,
                       "pause_public": 0, "priority_run": 0, "updated_at": _iso(t)}
        out.append(("counter", dict(counter_row)))
        event("ticket_called", ticket, counter, officer=officer, by_next=True)
        t += timedelta(seconds=rnd.randint(5, 60))
        ticket.update(state="serving", started_at=_iso(t))
        out.append(("ticket", dict(ticket)))
        out.append(("counter", dict(counter_row, state="serving", updated_at=_iso(t))))
        event("ticket_started", ticket, counter, officer=officer)
        if rnd.random() < 0.15:
            proc, name, fld = rnd.choice(PROCEDURES)
            dcode = f"000.00.31.H12-{day[2:4]}{day[5:7]}{day[8:10]}-{tid:04d}"
            out.append(("dossier", {"code": dcode, "procedure_code": proc, "procedure_name": name, "field": fld,
                                    "received_at": _iso(t), "due_at": (t + timedelta(days=10)).date().isoformat(),
                                    "status": "received"}))
            out.append(("dossier_step", {"code": dcode, "seq": 1, "step": "received", "at": _iso(t)}))
            out.append(("ticket_dossier", {"ticket_id": tid, "code": dcode, "procedure_code": proc,
                                           "counter": counter, "officer": officer, "attached_at": _iso(t)}))
            event("dossier_attached", ticket, counter, code=dcode)
        t += timedelta(seconds=rnd.randint(60, 1200))
        ticket.update(state="done", finished_at=_iso(t))
        out.append(("ticket", dict(ticket)))
        out.append(("counter", dict(counter_row, state="open", ticket_id=None, updated_at=_iso(t))))
        event("ticket_done", ticket, counter, officer=officer)
        if rnd.random() < 0.7:
            level = rnd.choice([1, 2, 3, 3, 3])
            out.append(("rating", {"rating_id": f"pad-{counter}:1:{tid}", "pad": f"pad-{counter}", "boot": 1,
                                   "seq": tid, "counter": counter, "prompt": f"p{tid}", "status": "counted",
                                   "ticket_id": tid, "ticket": ticket["label"], "officer": officer,
                                   "service": code, "level": level, "level_code": ["", "bad", "ok", "good"][level],
                                   "weight": [0, 0.0, 0.5, 1.0][level], "pressed_at": _iso(t),
                                   "received_at": _iso(t), "day": day, "hour": (t.hour + 7) % 24,
                                   "dossiers": None}))
        t -= timedelta(seconds=rnd.randint(900, 2000))  # citizens overlap: the next one came meanwhile
    return out[:count]


def batch_payload(centre: str, first: int, records: list[tuple[str, dict]]) -> bytes:
    return json.dumps({"v": 1, "centre": centre, "first": first, "last": first + len(records) - 1,
                       "records": [{"seq": first + i, "kind": k, "body": b} for i, (k, b) in enumerate(records)]},
                      ensure_ascii=False, separators=(",", ":")).encode()


def batches(centre: str, records: list[tuple[str, dict]], size: int = 500, first: int = 1) -> list[bytes]:
    return [batch_payload(centre, first + i, records[i:i + size]) for i in range(0, len(records), size)]


# -- the provincial broker, the province file, the hub ----------------------------------------

class ProvinceBroker:
    """Mosquitto for the province as a test writes it (see the module's docstring)."""

    def __init__(self, folder: Path, port: int | None = None, persistence: bool = True,
                 max_queued: int = 10000):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o755)
        self.port = port or free_port()
        self.log = self.folder / "mosquitto.log"
        self.proc = None
        passwd, acl = self.folder / "passwd", self.folder / "acl"
        passwd.write_text(f"hub:{HUB_PASSWORD}\ncentres:{CENTRES_PASSWORD}\n", encoding="utf-8")
        subprocess.run([shutil.which("mosquitto_passwd") or "mosquitto_passwd", "-U", str(passwd)], check=True)
        acl.write_text("user hub\ntopic read motcua/+/ship/batch\ntopic read motcua/+/ship/link\n"
                       "topic write motcua/+/ship/ack\n\nuser centres\ntopic readwrite motcua/#\n",
                       encoding="utf-8")
        persist = self.folder / "persistence"
        persist.mkdir(exist_ok=True)
        # keeps the caller's user (root), so it reads its files wherever they are
        self.conf = self.folder / "mosquitto.conf"
        self.conf.write_text(
            f"{'user root' if os.geteuid() == 0 else ''}\n"
            f"listener {self.port} 127.0.0.1\nallow_anonymous false\n"
            f"password_file {passwd}\nacl_file {acl}\n"
            f"persistence {'true' if persistence else 'false'}\npersistence_location {persist}/\n"
            f"max_queued_messages {max_queued}\n"
            "message_size_limit 0\nlog_dest stderr\nlog_type error\nlog_type warning\n", encoding="utf-8")

    def start(self) -> "ProvinceBroker":
        self.proc = subprocess.Popen(mosquitto_command(self.conf), stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


def write_province(folder: Path, broker_port: int, dsn: str, centres: list[str]) -> Path:
    lines = ['[province]', 'id = "test"', 'name = "Tỉnh thử"', f'data_dir = "{folder}"', '',
             '[broker]', 'host = "127.0.0.1"', f'port = {broker_port}', '',
             '[database]', f'dsn = "{dsn}"', '', '[hub]', f'password = "{HUB_PASSWORD}"', '',
             '[board]', 'password = "test-province-board-secret"', '']
    for c in centres:
        lines += ['[[centres]]', f'id = "{c}"', f'name = "Trung tâm {c}"', f'password = "pw-{c}-secret"', '']
    path = folder / "province.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def wait_log(path: Path, text: str, timeout: float = 20, count: int = 1) -> str:
    """The log once it holds `text` (`count` times); AssertionError with its tail if not."""
    deadline = time.monotonic() + timeout
    content = ""
    while time.monotonic() < deadline:
        content = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        if content.count(text) >= count:
            return content
        time.sleep(0.05)
    raise AssertionError(f"{path.name} does not say {text!r} after {timeout} s:\n{content[-3000:]}")


def run_hub_process(province_path: Path, log: Path, instance: str = "main", workers: int = 2) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "motcua", "province", "hub", "--province", str(province_path),
                             "--instance", instance, "--workers", str(workers)],
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, cwd=ROOT)


# -- centres that ship by the contract ------------------------------------------------------

class SimCentres:
    """Many centres shipping through one connection (as their bridges would, all
    at once): each keeps at most `window` batches beyond its last acknowledgement
    in flight, sends on as acknowledgements come, and sends again from acked + 1
    when nothing has moved for `resend_after` s. `acks[c]` is the last
    acknowledgement seen for centre c; `history[c]` every one, in order."""

    def __init__(self, port: int, records: dict[str, list[tuple[str, dict]]], batch_size: int = 500,
                 window: int = 8, resend_after: float = 10.0, client_id: str = "test-centres"):
        self.port = port
        self.records = records
        self.batch_size = batch_size
        self.window = window
        self.resend_after = resend_after
        self.total = {c: len(r) for c, r in records.items()}
        self.acks: dict[str, int] = {c: 0 for c in records}
        self.history: dict[str, list[int]] = {c: [] for c in records}
        self.sent_to: dict[str, int] = {c: 0 for c in records}
        self.moved: dict[str, float] = {c: time.monotonic() for c in records}
        self.published = 0
        self.first_publish: float | None = None
        self.finished: dict[str, float] = {}   # when each centre's last record was acknowledged
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set("centres", CENTRES_PASSWORD)
        self.client.reconnect_delay_set(0.2, 1.0)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = self._on_message
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            client.subscribe("motcua/+/ship/ack", qos=1)
            self.connected.set()
            self._wake.set()

    def _on_message(self, client, userdata, message):
        data = json.loads(message.payload)
        c = data["centre"]
        with self._lock:
            self.history.setdefault(c, []).append(data["acked"])
            if c in self.acks and data["acked"] > self.acks[c]:
                self.acks[c] = data["acked"]
                self.moved[c] = time.monotonic()
                if data["acked"] >= self.total[c]:
                    self.finished.setdefault(c, self.moved[c])
        self._wake.set()

    def start(self) -> "SimCentres":
        self.client.connect_async("127.0.0.1", self.port, keepalive=15)
        self.client.loop_start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def done(self) -> bool:
        with self._lock:
            return all(self.acks[c] >= self.total[c] for c in self.records)

    def wait_done(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.done():
                return True
            time.sleep(0.05)
        return self.done()

    def publish_raw(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(timeout=10)

    def last_ack(self, centre: str) -> int | None:
        with self._lock:
            seen = self.history.get(centre) or []
            return seen[-1] if seen else None

    def wait_ack(self, centre: str, acked: int, timeout: float = 20) -> bool:
        """Until an acknowledgement of `acked` for the centre arrives."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if acked in self.history.get(centre, []):
                    return True
            time.sleep(0.02)
        return False

    def prepare(self) -> "SimCentres":
        """Encode every batch now (a benchmark's publisher then costs little)."""
        self._encoded = {(c, first): batch_payload(c, first, r[first - 1:first - 1 + self.batch_size])
                         for c, r in self.records.items() for first in range(1, len(r) + 1, self.batch_size)}
        return self

    def publish_batch(self, centre: str, first: int) -> None:
        payload = getattr(self, "_encoded", {}).get((centre, first))
        if payload is None:
            recs = self.records[centre][first - 1:first - 1 + self.batch_size]
            payload = batch_payload(centre, first, recs)
        if self.first_publish is None:
            self.first_publish = time.monotonic()
        self.client.publish(f"motcua/{centre}/ship/batch", payload, qos=1)
        self.published += 1

    def _run(self) -> None:
        self.connected.wait(30)
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            if not self.connected.is_set():
                continue
            now = time.monotonic()
            for c in self.records:
                with self._lock:
                    acked, moved = self.acks[c], self.moved[c]
                if acked >= self.total[c]:
                    continue
                if now - moved > self.resend_after and self.sent_to[c] > acked:
                    self.sent_to[c] = acked   # no progress: send again from acked + 1
                    self.moved[c] = now
                limit = min(self.total[c], acked + self.window * self.batch_size)
                while self.sent_to[c] < limit:
                    first = self.sent_to[c] + 1
                    self.publish_batch(c, first)
                    self.sent_to[c] = min(self.total[c], first + self.batch_size - 1)

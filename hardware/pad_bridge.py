"""The rating pad's bridge: the pad's serial port on one side, MQTT on the other.

`motcua pad --serial /dev/ttyUSB0 --counter N` runs one per counter host. It

* speaks docs/pad-protocol.md to the pad: WHO when the port opens, PING every
  heartbeat, PROMPT when the centre prompts the counter's pad (retained
  `pad/<counter>`), CANCEL when the centre ends the prompt, ACK for ratings;
* writes every RATING to a local SQLite journal (synchronous=FULL) BEFORE it
  ACKs it to the pad, publishes it on `rating/<counter>`, and deletes it only
  when the centre acknowledges it on `pad/<counter>/ack` (after the centre's
  own commit). Unacknowledged ratings are published again on every reconnection
  and every few seconds, so a broker or centre outage loses nothing; the centre
  stores each rating id once, so nothing is counted twice;
* logs garbage and corrupted frames (hardware.padproto.Decoder) and goes on;
* survives the port going away (USB unplugged, pty closed): it says so in its
  availability (`"pad": "disconnected"`) and reopens the port when it is back.
"""
from __future__ import annotations

import json
import logging
import math
import queue
import sqlite3
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from motcua.hardware import padproto as pp
from motcua import protocol
from motcua.config import Site
from motcua.mqtt import guarded, make_client, start
from motcua.ratings import rating_id
from motcua.timefmt import utc_iso

log = logging.getLogger("motcua.pad")

REOPEN_S = 0.5            # how often a missing port is tried again
RESEND_S = 3.0            # an unacknowledged rating is published again after this
PROMPT_RETRY_S = 2.0      # a prompt the pad's HB does not show is sent again, at most this often


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Journal:
    """Ratings taken from the pad and not yet acknowledged by the centre."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS pending (rating_id TEXT PRIMARY KEY, "
                        "payload TEXT NOT NULL, taken_at TEXT NOT NULL)")

    def add(self, rid: str, payload: dict) -> bool:
        """Durably keep a rating; False if it was already kept."""
        with self._lock:
            cur = self.db.execute("INSERT OR IGNORE INTO pending VALUES (?, ?, ?)",
                                  [rid, json.dumps(payload, ensure_ascii=False), _utc_now().isoformat()])
            return cur.rowcount == 1

    def remove(self, rid: str) -> bool:
        with self._lock:
            return self.db.execute("DELETE FROM pending WHERE rating_id = ?", [rid]).rowcount == 1

    def pending(self) -> list[tuple[str, dict]]:
        with self._lock:
            rows = self.db.execute("SELECT rating_id, payload FROM pending ORDER BY taken_at").fetchall()
        return [(rid, json.loads(p)) for rid, p in rows]

    def __len__(self) -> int:
        with self._lock:
            return self.db.execute("SELECT count(*) FROM pending").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self.db.close()


class PadBridge:
    def __init__(self, site: Site, counter: int, port: str, device_id: str | None = None,
                 journal: str | Path | None = None, baudrate: int = pp.BAUD,
                 ping_interval_s: float = pp.HB_INTERVAL_MS / 1000, resend_s: float = RESEND_S):
        self.site = site
        self.counter = counter
        self.port = port
        self.baudrate = baudrate
        if device_id is None:
            pads = [d for d in site.devices_of("pad") if d.counter == counter]
            if not pads:
                raise ValueError(f"{site.path} has no pad device at counter {counter}")
            device_id = pads[0].id
        self.device = site.device(device_id)
        if self.device.role != "pad" or self.device.counter != counter:
            raise ValueError(f"device {device_id} is not the pad of counter {counter}")
        self.topics = protocol.Topics(site.id)
        self.journal = Journal(journal or site.data_dir / f"pad-{counter}.journal.sqlite")
        self.ping_interval_s = ping_interval_s
        self.resend_s = resend_s
        self.decoder = pp.Decoder(name=f"pad at counter {counter}")
        self.hello: pp.Hello | None = None
        self.pad_connected = threading.Event()
        self.mqtt_connected = threading.Event()
        self.stats: Counter[str] = Counter()
        self._serial = None
        self._inbox: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._prompt: dict | None = None            # the centre's prompt for this counter
        self._prompts_seen: dict[str, dict] = {}    # prompt id -> prompt, for the ratings' ticket
        self._answered: set[str] = set()            # prompts the pad sent a rating for
        self._prompt_sent_at = 0.0
        self._sent_at: dict[str, float] = {}        # rating id -> last publish (monotonic)
        self._next_ping = 0.0
        self._next_open = 0.0
        self._next_resend = 0.0
        self._ping_token = 0
        self.client = make_client(site, self.device)
        self.client.on_connect = guarded(self._on_connect)
        self.client.on_disconnect = guarded(self._on_disconnect)
        self.client.on_message = guarded(self._on_message)
        self._thread = threading.Thread(target=self._run, name=f"pad-bridge-{counter}", daemon=True)

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> "PadBridge":
        self._thread.start()
        start(self.client, self.site)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.mqtt_connected.is_set():
            self.client.publish(self.topics.device_availability(self.device.id),
                                protocol.availability(False), qos=1, retain=True).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()
        self._close_port()
        self.journal.close()

    def run_forever(self) -> None:
        self.start()
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=1)
        finally:
            self.stop()

    # -- MQTT (network thread): hand over to the bridge's thread ---------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("broker refused %s: %s", self.device.id, reason_code)
            return
        client.subscribe(f"{self.topics.pad(self.counter)}/#", qos=1)
        self.mqtt_connected.set()
        self._publish_availability()
        self._inbox.put(("connected", None))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.mqtt_connected.clear()

    def _on_message(self, client, userdata, message):
        try:
            data = protocol.decode(message.payload, protocol.MAX_STATE_BYTES)
        except protocol.ProtocolError as exc:
            log.warning("dropped message on %s: %s", message.topic, exc)
            return
        if message.topic == self.topics.pad(self.counter):
            self._inbox.put(("prompt", data))
        elif message.topic == self.topics.pad_ack(self.counter):
            self._inbox.put(("ack", data))

    def _publish_availability(self) -> None:
        if self.mqtt_connected.is_set():
            self.client.publish(self.topics.device_availability(self.device.id),
                                protocol.availability(True, pad="connected" if self.pad_connected.is_set()
                                                      else "disconnected"), qos=1, retain=True)

    # -- the bridge's thread -------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # noqa: BLE001 - the bridge outlives anything one step does
                log.exception("unexpected error in the pad bridge; going on")
                time.sleep(0.1)

    def _step(self) -> None:
        now = time.monotonic()
        if self._serial is None and now >= self._next_open:
            self._open_port()
        data = b""
        if self._serial is not None:
            try:
                data = self._serial.read(max(1, self._serial.in_waiting))
            except Exception as exc:  # noqa: BLE001 - SerialException, OSError: the port went away
                self._lost_port(exc)
        else:
            time.sleep(0.02)
        for item in self.decoder.feed(data) if data else ():
            if isinstance(item, pp.FrameError):
                self.stats[f"error_{item.reason}"] += 1
            else:
                self._on_frame(item)
        while True:
            try:
                kind, payload = self._inbox.get_nowait()
            except queue.Empty:
                break
            if kind == "prompt":
                self._on_prompt(payload)
            elif kind == "ack":
                self._on_ack(payload)
            elif kind == "connected":
                self._resend(force=True)
        now = time.monotonic()
        if self._serial is not None and now >= self._next_ping:
            self._ping_token = (self._ping_token + 1) % 100000
            self._send(pp.Ping(f"h{self._ping_token}"))
            self._next_ping = now + self.ping_interval_s
        self._resend()

    # -- serial port ---------------------------------------------------------------------------
    def _open_port(self) -> None:
        import serial
        self._next_open = time.monotonic() + REOPEN_S
        try:
            self._serial = serial.Serial(self.port, self.baudrate, timeout=0.02, write_timeout=0.5)
        except (serial.SerialException, OSError, ValueError) as exc:
            if self.pad_connected.is_set() or not self.stats["open_failures"]:
                log.warning("cannot open the pad's port %s (%s); trying again every %.1f s",
                            self.port, exc, REOPEN_S)
            self.stats["open_failures"] += 1
            return
        log.info("pad port %s open", self.port)
        self.stats["opened"] += 1
        self.decoder.reset()
        self.pad_connected.set()
        self._publish_availability()
        self._send(pp.Who())
        self._next_ping = time.monotonic() + self.ping_interval_s
        self._prompt_sent_at = 0.0
        self._push_prompt()

    def _lost_port(self, exc: Exception) -> None:
        log.warning("lost the pad's port %s (%s); reopening it when it is back", self.port, exc)
        self.stats["lost"] += 1
        self._close_port()
        self.pad_connected.clear()
        self._publish_availability()

    def _close_port(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except Exception:  # noqa: BLE001
                pass
            self._serial = None

    def _send(self, frame: pp.Frame) -> bool:
        if self._serial is None:
            return False
        try:
            self._serial.write(frame.encode())
            return True
        except Exception as exc:  # noqa: BLE001
            self._lost_port(exc)
            return False

    # -- frames from the pad ---------------------------------------------------------------------
    def _on_frame(self, frame: pp.Frame) -> None:
        if isinstance(frame, pp.Hello):
            new_boot = self.hello is None or (frame.device, frame.boot) != (self.hello.device, self.hello.boot)
            self.hello = frame
            if frame.proto != pp.PROTO_VERSION:
                log.error("pad %s speaks protocol %d, not %d: not prompting it", frame.device, frame.proto,
                          pp.PROTO_VERSION)
            elif new_boot:
                log.info("pad %s (firmware %s, boot %d, %d buttons) at counter %d", frame.device, frame.fw,
                         frame.boot, frame.buttons, self.counter)
                self._prompt_sent_at = 0.0
                self._push_prompt()   # a pad that restarted forgot its prompt
        elif isinstance(frame, pp.Rating):
            self._on_rating(frame)
        elif isinstance(frame, pp.Hb):
            if self.hello is None or frame.boot != self.hello.boot:
                self._send(pp.Who())
            elif self._prompt_wanted() and frame.prompt != self._prompt["prompt"]:
                self._push_prompt()   # the PROMPT was lost on the line: again
        elif isinstance(frame, pp.Lock):
            self.stats["ignored_presses"] += frame.ignored
        elif frame.SENDER == "host":
            self.stats["echo"] += 1   # our own frames coming back: a loopback, not a pad

    def _on_rating(self, frame: pp.Rating) -> None:
        if self.hello is None:
            self._send(pp.Who())      # not knowing the pad's id, no rating id: the pad repeats it
            return
        rid = rating_id(self.hello.device, frame.boot, frame.seq)
        prompt = frame.prompt if frame.prompted else None
        seen = self._prompts_seen.get(prompt) if prompt else None
        pressed_at = _utc_now() - timedelta(milliseconds=frame.age_ms)
        payload = {"rating": rid, "pad": self.hello.device, "boot": frame.boot, "seq": frame.seq,
                   "counter": self.counter, "device": self.device.id, "level": frame.level,
                   "prompt": prompt, "ticket": seen.get("ticket") if seen else None,
                   "officer": seen.get("officer") if seen else None,
                   "pressed_at": utc_iso(pressed_at)}
        new = self.journal.add(rid, payload)       # on disk before the pad forgets it
        self._send(pp.Ack(frame.seq, frame.boot))
        if prompt:
            self._answered.add(prompt)
            if len(self._answered) > 100:
                self._answered = {prompt}
        if new:
            self.stats["ratings"] += 1
            log.info("rating %s: level %d, prompt %s", rid, frame.level, prompt or "none")
            self._publish_rating(rid, payload)

    # -- the centre ---------------------------------------------------------------------------------
    def _publish_rating(self, rid: str, payload: dict) -> None:
        self._sent_at[rid] = time.monotonic()
        if self.mqtt_connected.is_set():
            self.client.publish(self.topics.rating(self.counter), protocol.encode(payload), qos=1)

    def _resend(self, force: bool = False) -> None:
        if not self.mqtt_connected.is_set():
            return
        now = time.monotonic()
        if not force and now < self._next_resend:
            return
        self._next_resend = now + min(1.0, self.resend_s)
        for rid, payload in self.journal.pending():
            if force or now - self._sent_at.get(rid, -math.inf) >= self.resend_s:
                self.stats["republished"] += 1
                self._publish_rating(rid, payload)

    def _on_ack(self, data: dict) -> None:
        rid = data.get("rating")
        if not isinstance(rid, str):
            return
        self._sent_at.pop(rid, None)
        if self.journal.remove(rid):
            self.stats["acknowledged"] += 1

    def _on_prompt(self, data: dict) -> None:
        old = self._prompt
        if data.get("prompt") is None:
            self._prompt = None
            if old is not None and old["prompt"] not in self._answered:
                self._send(pp.Cancel(old["prompt"]))
            return
        if not isinstance(data["prompt"], str):
            return
        self._prompt = data
        self._prompts_seen[data["prompt"]] = data
        if len(self._prompts_seen) > 100:
            self._prompts_seen.pop(next(iter(self._prompts_seen)))
        if old is None or old["prompt"] != data["prompt"]:
            self._prompt_sent_at = 0.0
            self._push_prompt()

    def _prompt_wanted(self) -> bool:
        p = self._prompt
        if p is None or p["prompt"] in self._answered:
            return False
        return self._remaining(p) > 0

    @staticmethod
    def _remaining(p: dict) -> float:
        try:
            return (datetime.fromisoformat(p["expires_at"]) - _utc_now()).total_seconds()
        except (KeyError, TypeError, ValueError):
            return 0.0

    def _push_prompt(self) -> None:
        if not self._prompt_wanted() or self._serial is None:
            return
        now = time.monotonic()
        if now - self._prompt_sent_at < PROMPT_RETRY_S:
            return
        p = self._prompt
        buttons = self.hello.buttons if self.hello else pp.MAX_BUTTONS
        levels = max(2, min(len(p.get("levels") or ()) or 4, buttons, pp.MAX_BUTTONS))
        timeout = max(1, min(3600, math.ceil(self._remaining(p))))
        try:
            frame = pp.Prompt(p["prompt"], levels, timeout)
        except ValueError as exc:
            log.warning("cannot send prompt %r to the pad: %s", p.get("prompt"), exc)
            return
        if self._send(frame):
            self._prompt_sent_at = now

"""`motcua ship`: the centre's records to the province, and its live tile
(docs/province.md). A process of its own, beside the centre: the centre's
worker only pays for the outbox triggers; it never waits for this process,
nor for the province.

It reads the centre's database through a read-only connection (WAL: it never
blocks the centre's writer, and it cannot write the queue's tables), and talks
to the CENTRE's broker as the centre device (the bridge carries `ship/batch`
and `ship/live` out and `ship/ack` and `ship/link` in):

- batches of the outbox, QoS 1, on `motcua/<site>/ship/batch`, as the window
  says (motcua.shipping.window: go-back-N from the hub's acknowledgement);
- the hub's retained acknowledgement from `ship/ack` is the only record of
  what the province has: this process keeps none but a note for people
  (<data_dir>/ship-status.json, `motcua ship --status`). So a restart, a
  SIGKILL, a day without the province all end the same way: it reads the
  retained acknowledgement and sends from there;
- the tile, retained, on `ship/live`: when the database changes (PRAGMA
  data_version, four times a second) and at least every 30 s.

One thread runs everything here; paho's network thread only hands messages
over through a queue.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from .. import protocol
from ..config import Site
from ..dossiers.model import CLOCK_STOPPED, STATUSES, Dossier, Step
from ..migrations import CENTRE
from ..mqtt import guarded, make_client, start
from . import tile as tiles
from .window import BATCH_MAX, RESEND_AFTER_S, WINDOW, Window

log = logging.getLogger("motcua.ship")

OUTBOX_VERSION = 8              # the migration that made the outbox
POLL_S = 0.25                   # how often the database is checked for new records
TILE_EVERY_S = 30.0             # the tile at least this often, changed or not
ACK_GRACE_S = 1.0               # after subscribing: time for the retained acknowledgement to come
# A batch's bytes: 500 records of a few hundred bytes each fit; a batch of long
# records is cut shorter so it stays under the brokers' max_packet_size (262,144
# on the centre's broker, broker_config/mosquitto.conf.in).
MAX_BATCH_BYTES = 192 * 1024
STATUS_EVERY_S = 2.0            # the status note at most this often
FILE_CHECK_S = 5.0              # how often to look whether the database file was replaced
PROGRESS_LOG_EVERY_S = 60.0
RUNNING = tuple(s for s in STATUSES if s not in CLOCK_STOPPED)  # a dossier whose clock runs


class ShipError(RuntimeError):
    """Shipping cannot start; the message says what to do."""


def ship_topic(site_id: str, leaf: str) -> str:
    return f"motcua/{site_id}/ship/{leaf}"


def status_path(site: Site) -> Path:
    return site.data_dir / "ship-status.json"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# -- the centre's database, read only ---------------------------------------------------------

class CentreDatabase:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.inode = self.path.stat().st_ino if self.path.exists() else None
        if not self.path.exists():
            raise ShipError(f"no centre database at {self.path}: start the centre first (`motcua centre` "
                            "makes it), or give the database with --database FILE")
        try:
            # Read only: this process must never write the queue's tables. WAL lets it
            # read beside the centre without ever blocking the centre's writes.
            self.conn = sqlite3.connect(f"file:{quote(str(self.path.absolute()))}?mode=ro", uri=True,
                                        isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA busy_timeout=5000")
            kind = self.conn.execute("PRAGMA application_id").fetchone()[0]
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise ShipError(f"cannot read {self.path}: {exc}; check that it is the centre's database "
                            "and that this user may read it and its folder") from None
        if kind not in (0, CENTRE.application_id):
            raise ShipError(f"{self.path} is not a centre's database (application_id {kind}); check the path")
        if version < OUTBOX_VERSION:
            raise ShipError(f"{self.path} has schema version {version}; the outbox comes with version "
                            f"{OUTBOX_VERSION}: start the centre of this motcua once (it brings the "
                            "database up to date), then `motcua ship`")

    def close(self) -> None:
        self.conn.close()

    def replaced(self) -> bool:
        """The file at the path is no longer the one opened (`motcua restore` put a
        backup in its place: this connection still reads the old one, set aside)."""
        try:
            return self.path.stat().st_ino != self.inode
        except FileNotFoundError:
            return False  # between the two steps of a restore: look again later

    def data_version(self) -> int:
        """Changes whenever another connection (the centre) has committed."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def head(self) -> int:
        row = self.conn.execute("SELECT seq FROM outbox ORDER BY seq DESC LIMIT 1").fetchone()
        return row[0] if row else 0

    def batch(self, centre: str, first: int, last: int, max_bytes: int = MAX_BATCH_BYTES) -> tuple[int, bytes]:
        """The batch of first … at most last, as its JSON bytes, cut shorter if it would
        exceed max_bytes (never below one record); returns (its last seq, payload).
        The bodies are the outbox's JSON text as SQLite made it, put in as they are."""
        rows = self.conn.execute("SELECT seq, kind, body FROM outbox WHERE seq BETWEEN ? AND ? ORDER BY seq",
                                 (first, last)).fetchall()
        parts: list[str] = []
        size, expect = 200, first
        for seq, kind, body in rows:
            if seq != expect:
                log.error("the outbox has no record %d (the next is %d): it was changed by hand? Records "
                          "beyond the gap cannot be acknowledged by the province", expect, seq)
                break
            part = f'{{"seq":{seq},"kind":{json.dumps(kind)},"body":{body}}}'
            n = len(part.encode("utf-8")) + 1
            if parts and size + n > max_bytes:
                break
            parts.append(part)
            size += n
            expect += 1
        got = expect - 1
        payload = (f'{{"v":1,"centre":{json.dumps(centre)},"first":{first},"last":{got},'
                   f'"records":[{",".join(parts)}]}}')
        return got, payload.encode("utf-8")

    # -- the tile's rows ---------------------------------------------------------------------
    def _rows(self, sql: str, args=()) -> list[dict]:
        cur = self.conn.execute(sql, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def tile_rows(self, today: str) -> dict:
        tickets = self._rows("SELECT id, day, state, issued_at FROM tickets WHERE state IN "
                             "('waiting', 'called', 'serving') UNION "
                             "SELECT id, day, state, issued_at FROM tickets WHERE day = ?", (today,))
        counters = self._rows("SELECT number, state, ticket_id, updated_at FROM counters")
        ratings = self._rows("SELECT status, level, weight, counter, officer, service, hour FROM ratings "
                             "WHERE day = ?", (today,))
        # Dossiers that may be late without an apology: still running (the index on
        # status finds them), due before today, no apology; the rules decide.
        marks = ",".join("?" * len(RUNNING))
        rows = self._rows(f"SELECT code, procedure_code, procedure_name, field, received_at, due_at, status "
                          f"FROM dossiers WHERE status IN ({marks}) AND due_at < ? AND code NOT IN "
                          "(SELECT code FROM dossier_apologies)", (*RUNNING, today))
        steps: dict[str, list[Step]] = {}
        for r in rows:
            steps[r["code"]] = [Step(s, datetime.fromisoformat(at)) for s, at in self.conn.execute(
                "SELECT step, at FROM dossier_steps WHERE code = ? ORDER BY seq", (r["code"],)).fetchall()]
        dossiers = [Dossier(code=r["code"], procedure_code=r["procedure_code"], procedure_name=r["procedure_name"],
                            field=r["field"] or "", applicant_name="",   # never read here
                            received_at=datetime.fromisoformat(r["received_at"]),
                            due_at=date.fromisoformat(r["due_at"]), status=r["status"],
                            steps=tuple(steps[r["code"]])) for r in rows]
        return {"tickets": tickets, "counters": counters, "ratings": ratings, "dossiers": dossiers}


# -- the shipper ----------------------------------------------------------------------------

class Shipper:
    def __init__(self, site: Site, database: str | Path | None = None, *, batch_max: int = BATCH_MAX,
                 window: int = WINDOW, resend_after_s: float = RESEND_AFTER_S,
                 clock: Callable[[], datetime] = utc_now, status_file: Path | None = None):
        self.site = site
        self.db = CentreDatabase(database or site.database)
        self.window = Window(batch_max=batch_max, window=window, resend_after_s=resend_after_s,
                             resend_max_s=max(30 * resend_after_s, resend_after_s))
        self.clock = clock
        self.status_file = status_file if status_file is not None else status_path(site)
        self.topics = {leaf: ship_topic(site.id, leaf) for leaf in ("batch", "ack", "live", "link")}
        self.availability = f"motcua/{site.id}/centre/availability"
        centre = site.devices_of("centre")[0]
        self.device = centre.id
        self.client = make_client(site, centre, client_id=f"motcua-ship-{site.id}")
        # make_client gives the centre device the centre's availability as its Last
        # Will: this process dying must not tell the hall the centre is offline.
        self.client.will_clear()
        self.client.on_connect = guarded(self._on_connect)
        self.client.on_subscribe = guarded(self._on_subscribe)
        self.client.on_disconnect = guarded(self._on_disconnect)
        self.client.on_message = guarded(self._on_message)
        self.inbox: queue.Queue = queue.Queue()
        self.connected = threading.Event()   # connected and subscribed
        self._subscribe_mid: int | None = None
        self._subscribed_at: float | None = None
        self._stop = threading.Event()
        self.head = 0
        self._data_version: int | None = None
        self._tile_body: dict | None = None
        self._tile_published_at = float("-inf")
        self._tile_unshipped: int | None = None
        self._tile_computed_at = float("-inf")
        self._tile_pending = True
        self._file_checked_at = time.monotonic()
        self.tile: dict | None = None
        self.batches_sent = 0
        self.records_sent = 0
        self._beyond_warned = False
        self._progress_logged_at = 0.0
        self._status_at = float("-inf")
        self._status: dict | None = None
        self._centre_online: bool | None = None

    # -- life cycle ---------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask run() to return (a signal handler may call it)."""
        self._stop.set()

    def run(self) -> None:
        log.info("shipping %s (%s) from %s through the broker at %s:%s as %s", self.site.name, self.site.id,
                 self.db.path, self.site.broker.host, self.site.broker.port, self.device)
        start(self.client, self.site)
        started = time.monotonic()
        warned = False
        try:
            while not self._stop.is_set():
                try:
                    item = self.inbox.get(timeout=POLL_S)
                except queue.Empty:
                    item = None
                while item is not None:
                    self._handle(item)
                    try:
                        item = self.inbox.get_nowait()
                    except queue.Empty:
                        item = None
                try:
                    self._turn()
                except sqlite3.Error as exc:  # a busy or vanished file: say so, try again
                    log.error("cannot read the centre's database %s: %s; trying again", self.db.path, exc)
                    self._stop.wait(1.0)
                if not warned and not self.connected.is_set() and time.monotonic() - started > 5:
                    warned = True
                    log.warning("cannot reach the centre's broker at %s:%s as %s yet; still trying (is "
                                "`motcua broker` running?)", self.site.broker.host, self.site.broker.port,
                                self.device)
        finally:
            self._note(time.monotonic(), force=True, running=False)
            self.client.disconnect()
            self.client.loop_stop()
            self.db.close()
            log.info("stopped; %d batches (%d records) sent in this run, acknowledged up to %s",
                     self.batches_sent, self.records_sent, self.window.acked)

    # -- paho's thread: hand over only --------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("the broker refused %s: %s (check the centre device's password in the site file, "
                      "then `motcua broker passwords` and restart the broker)", self.device, reason_code)
            return
        _, self._subscribe_mid = client.subscribe([(self.topics["ack"], 1), (self.topics["link"], 1),
                                                   (self.availability, 1)])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        if mid != self._subscribe_mid:
            return
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            log.error("the broker refused the subscriptions to %s and %s (%s): the centre device needs "
                      "`topic readwrite motcua/%s/ship/#` in the broker's ACL (`motcua broker config`)",
                      self.topics["ack"], self.topics["link"], ", ".join(refused), self.site.id)
            return
        self.inbox.put(("subscribed",))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.inbox.put(("disconnected", str(reason_code)))

    def _on_message(self, client, userdata, message):
        self.inbox.put(("message", message.topic, bytes(message.payload)))

    # -- this thread --------------------------------------------------------------------------
    def _handle(self, item: tuple) -> None:
        now = time.monotonic()
        if item[0] == "subscribed":
            self._subscribed_at = now
            self.connected.set()
            self.window.reconnected(now)  # what was in flight on a lost connection: again
            log.info("connected to the broker at %s:%s", self.site.broker.host, self.site.broker.port)
        elif item[0] == "disconnected":
            if self.connected.is_set() and not self._stop.is_set():
                log.warning("lost the broker (%s); reconnecting by itself", item[1])
            self.connected.clear()
            self._subscribed_at = None
        else:
            _, topic, payload = item
            if topic == self.topics["ack"]:
                self._on_ack(payload, now)
            elif topic == self.topics["link"]:
                self._on_link(payload, now)
            elif topic == self.availability:
                self._on_centre(payload)

    def _on_ack(self, payload: bytes, now: float) -> None:
        try:
            data = json.loads(payload)
            acked = data["acked"]
            if type(acked) is not int or acked < 0 or data.get("centre", self.site.id) != self.site.id:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            log.warning("ignored an acknowledgement that is not {\"acked\": N} for %s: %r", self.site.id,
                        payload[:200])
            return
        first_known = self.window.acked is None
        before = self.window.backwards
        if self.window.ack(acked, now):
            if first_known:
                log.info("the province has every record up to %d (%d waiting in the outbox)", acked,
                         self.window.unshipped(self.head))
        elif self.window.backwards != before:
            log.warning("ignored an acknowledgement going backwards (%d, after %d): a stale message or a "
                        "second hub", acked, self.window.acked)
        if acked > self.head and not self._beyond_warned:
            self.head = max(self.head, self.db.head())
            if acked > self.head:
                self._beyond_warned = True
                log.error("the province acknowledges up to %d but this centre's outbox ends at %d: the "
                          "database is older than what the province holds (restored from a backup?). "
                          "Records %d to %d written from now on will NOT reach the province: see "
                          "docs/province.md, \"The centre's side\"", acked, self.head, self.head + 1, acked)

    def _on_link(self, payload: bytes, now: float) -> None:
        up = protocol.link_state(payload)
        if up is None:
            log.warning("ignored a link notification that is neither 1 nor 0: %r", payload[:50])
            return
        was = self.window.link_up
        if self.window.link(up, now):
            log.info("the link to the province is back: sending again from %d", self.window.acked + 1)
        elif up != was:
            log.log(logging.INFO if up else logging.WARNING, "the link to the province is %s",
                    "up" if up else "down: records wait in the outbox")

    def _on_centre(self, payload: bytes) -> None:
        try:
            online = json.loads(payload).get("state") == "online"
        except (ValueError, AttributeError):
            return
        if online != self._centre_online:
            self._centre_online = online
            if not online:
                log.warning("the centre is offline (`motcua centre` stopped?): nothing new to ship until "
                            "it is back; what its database holds is shipped meanwhile")
            else:
                log.info("the centre is online")

    def _turn(self) -> None:
        now = time.monotonic()
        if now - self._file_checked_at >= FILE_CHECK_S:
            self._file_checked_at = now
            if self.db.replaced():
                self._reopen()
        version = self.db.data_version()
        changed = version != self._data_version
        if changed:
            self._data_version = version
            self.head = self.db.head()
            self._tile_pending = True
        if self.connected.is_set():
            if self.window.acked is None and now - self._subscribed_at >= ACK_GRACE_S:
                # No retained acknowledgement: the province has nothing of this centre yet.
                self.window.ack(0, now)
                log.info("no acknowledgement from the province yet: shipping from the first record "
                         "(%d in the outbox)", self.head)
            self._send(now)
            self._publish_tile()
        self._note(now)

    def _reopen(self) -> None:
        log.warning("%s was replaced (a restore?): reading the new file", self.db.path)
        path = self.db.path
        self.db.close()
        self.db = CentreDatabase(path)
        self._data_version = None
        self._beyond_warned = False
        self.head = self.db.head()

    def _send(self, now: float) -> None:
        while True:
            planned = self.window.next_batch(self.head, now)
            if planned is None:
                return
            first, last = planned
            got, payload = self.db.batch(self.site.id, first, last)
            if got < first:
                return  # a record missing: logged; nothing can go beyond it
            info = self.client.publish(self.topics["batch"], payload, qos=1)
            if info.rc != 0:
                return  # the connection went meanwhile: sent again once it is back
            self.window.sent(first, got, self.head, now)
            self.batches_sent += 1
            self.records_sent += got - first + 1
            log.debug("sent %d-%d (%d bytes)", first, got, len(payload))

    def _publish_tile(self) -> None:
        unshipped = self.window.unshipped(self.head)
        mono = time.monotonic()
        due = mono - self._tile_published_at >= TILE_EVERY_S
        if not (self._tile_pending or due or unshipped != self._tile_unshipped or self._tile_body is None):
            return
        if not due and mono - self._tile_computed_at < POLL_S:
            return  # acknowledgements pouring in: the tile at most four times a second
        self._tile_computed_at = mono
        self._tile_pending = False
        now = self.clock()
        rows = self.db.tile_rows(now.astimezone(self.site.tz).date().isoformat())
        body = tiles.live_tile(centre=self.site.id, name=self.site.name, now=now, tz=self.site.tz,
                               tickets=rows["tickets"], counters=rows["counters"], ratings=rows["ratings"],
                               rating_levels=self.site.rating_levels, dossiers=rows["dossiers"],
                               unshipped=unshipped, counter_numbers=[c.number for c in self.site.counters])
        self._tile_unshipped = unshipped
        same = self._tile_body is not None and {**body, "at": None} == {**self._tile_body, "at": None}
        if same and not due:
            return
        info = self.client.publish(self.topics["live"], json.dumps(body, ensure_ascii=False,
                                                                   separators=(",", ":")).encode("utf-8"),
                                   qos=1, retain=True)
        if info.rc == 0:
            self._tile_body = body
            self.tile = body
            self._tile_published_at = time.monotonic()

    def _note(self, now: float, force: bool = False, running: bool = True) -> None:
        """The note for people (`motcua ship --status`, the log): never read back."""
        w = self.window
        status = {"centre": self.site.id, "database": str(self.db.path), "running": running, "pid": os.getpid(),
                  "connected": self.connected.is_set(), "link": w.link_up, "acked": w.acked, "head": self.head,
                  "unshipped": w.unshipped(self.head), "in_flight": len(w.in_flight), "resends": w.resends,
                  "batches_sent": self.batches_sent, "records_sent": self.records_sent}
        if w.acked is not None and now - self._progress_logged_at >= PROGRESS_LOG_EVERY_S:
            self._progress_logged_at = now
            log.info("acknowledged up to %d of %d (%d waiting, %d batches in flight)", w.acked, self.head,
                     w.unshipped(self.head), len(w.in_flight))
        if not force and (status == self._status or now - self._status_at < STATUS_EVERY_S):
            return
        self._status, self._status_at = status, now
        try:
            tmp = self.status_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({**status, "at": self.clock().isoformat(timespec="seconds")}, indent=1),
                           encoding="utf-8")
            os.replace(tmp, self.status_file)
        except OSError as exc:
            if force:
                log.warning("could not write the status note %s: %s", self.status_file, exc)


def read_status(site: Site) -> dict | None:
    try:
        return json.loads(status_path(site).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None

"""`motcua province hub`: every centre's shipped records into the province's
PostgreSQL database, acknowledged only once committed (docs/province.md, "The hub").

The hub has two connections to the provincial broker. On the first, its
persistent session, batches come in: the hub's network thread runs paho's
loop and hands each message to the worker of its centre, and stops reading
while INBOX_MESSAGES wait, so the broker keeps the rest (Mosquitto 2.0.11,
Debian 12's, does not hold to the Receive Maximum once acknowledgements flow:
its bug #2306, fixed in 2.0.13). On the second the acknowledgements go out, so
that they (and the broker's PUBACKs for them) never wait behind that pause.

WORKERS workers, each with its own PostgreSQL connection and its own share of
the centres (a centre always goes to the same one, so its batches keep their
order and no two workers ever write the same rows), each take every batch
waiting for them (up to GROUP_RECORDS records), check each against the
contract (motcua.province.ingest; a refused batch is logged and never
acknowledged to its centre), store the group in one transaction
(motcua.province.store), and only after the commit publish each centre's
acknowledgement (retained, QoS 1) and acknowledge the batches to the broker
(PUBACK, by hand). Two workers keep both of a small machine's cores busy: one
stores while the other parses or waits for its commit. So:

- killed at any moment, the hub loses nothing: a batch not yet committed was
  not PUBACKed, and the broker sends it again to the hub's persistent session
  (fixed client id, clean_start false) when it comes back; what was committed
  but not acknowledged arrives again and is skipped (the primary key);
- PostgreSQL down: each worker keeps its group, the log says so once, they
  retry every few seconds; nothing is acknowledged meanwhile. After
  OFFLINE_AFTER_S the hub leaves the broker until PostgreSQL is back: the
  broker keeps the batches for its session (and the centres keep theirs in
  their outboxes);
- two hubs on one database each store what they receive; the primary key and
  the centre's row lock keep every row single and every acknowledgement
  moving forward (store.HubStore._advance).
"""
from __future__ import annotations

import logging
import queue
import re
import threading
import time
import zlib
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from .. import protocol, sdnotify
from ..mqtt import _no_delay, guarded
from .config import Province
from .ingest import TOPIC_RE, BatchRefused, ack_payload, ack_topic, parse_batch, topic_centre
from .store import HubStore, StoreError

log = logging.getLogger("motcua.province.hub")

HUB_USER = "hub"                    # the hub's login on the provincial broker
BATCH_TOPICS = "motcua/+/ship/batch"
LINK_TOPICS = "motcua/+/ship/link"
WORKERS = 2                         # each with its own PostgreSQL connection and share of the centres
GROUP_RECORDS = 5000                # records per transaction (ten full batches)
# QoS 1 batches the broker may hand the hub before it acknowledges them (MQTT v5
# Receive Maximum): enough for the groups being stored and the next ones, few
# enough that the hub's memory stays small (a full batch is ~150 kB).
RECEIVE_MAXIMUM = 64
# With this many messages waiting for the workers, the network thread reads no
# more (it still writes and keeps the connection alive): the broker keeps the
# rest. Without it Mosquitto 2.0.11 had 745 batches (~110 MB) waiting in the hub.
INBOX_MESSAGES = 32
KEEPALIVE_S = 30
RECONNECT_MIN_S, RECONNECT_MAX_S = 0.2, 2.0
OFFLINE_AFTER_S = 5.0               # PostgreSQL away this long: leave the broker until it is back
SESSION_EXPIRY_S = 3600             # batches wait this long at the broker for a hub that is down
RETRY_MIN_S, RETRY_MAX_S = 0.5, 5.0  # PostgreSQL unavailable: wait this long, doubling, and try again
STATS_EVERY_S = 10.0
INSTANCE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


@dataclass
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int


@dataclass
class _Stats:
    since: float = field(default_factory=time.monotonic)
    new: int = 0
    received: int = 0
    batches: int = 0
    refused: int = 0

    def add(self, batches: int, received: int, new: int) -> None:
        self.batches += batches
        self.received += received
        self.new += new


class Hub:
    def __init__(self, province: Province, instance: str = "main", workers: int = WORKERS,
                 group_records: int = GROUP_RECORDS, receive_maximum: int = RECEIVE_MAXIMUM):
        self.province = province
        self.instance = instance
        self.group_records = group_records
        self.receive_maximum = receive_maximum
        self.known = {c.id for c in province.centres}
        self._unknown_told: set[str] = set()
        self.stores = [HubStore(province.dsn) for _ in range(workers)]
        self.inboxes: list[queue.Queue[_Message]] = [queue.Queue() for _ in range(workers)]
        # A fixed client id per hub and a persistent session: what the broker sent
        # and the hub did not acknowledge comes again after a restart.
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"motcua-hub-{province.id}-{instance}",
                                  protocol=mqtt.MQTTv5, manual_ack=True)
        self.client.username_pw_set(HUB_USER, province.hub_password)
        self.client.max_queued_messages_set(0)
        self.client.on_socket_open = _no_delay
        # Only the network thread writes to the socket: a PUBACK queued by a
        # worker wakes it instead of being written there.
        self.client.on_socket_register_write = lambda client, userdata, sock: self._room.set()
        self.client.on_connect = guarded(self._on_connect)
        self.client.on_subscribe = guarded(self._on_subscribe)
        self.client.on_disconnect = guarded(self._on_disconnect)
        self.client.on_message = guarded(self._on_message)
        # The acknowledgements' own connection (paho's usual thread).
        self.publisher = mqtt.Client(CallbackAPIVersion.VERSION2,
                                     client_id=f"motcua-hub-{province.id}-{instance}-acks", protocol=mqtt.MQTTv5)
        self.publisher.username_pw_set(HUB_USER, province.hub_password)
        self.publisher.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        self.publisher.max_queued_messages_set(0)   # acknowledgements wait for the broker, never dropped
        self.publisher.on_socket_open = _no_delay
        self.connected = threading.Event()   # connected and subscribed
        self.database_ready = threading.Event()
        self._subscribe_mid: int | None = None
        self._connection = 0
        self._ack_lock = threading.Lock()
        self._room = threading.Event()      # a worker took messages or has something to send
        self._offline = threading.Event()   # PostgreSQL away for long: stay off the broker
        self._stop = threading.Event()
        self._lock = threading.Lock()       # the counts and the outage's start, shared by the workers
        self._stats = _Stats()
        self.totals = _Stats()
        self._db_down_since: float | None = None
        self.failed: str | None = None      # why the hub could not run at all
        self._workers = [threading.Thread(target=self._run, args=(i,), name=f"motcua-hub-worker-{i}", daemon=True)
                         for i in range(workers)]
        self._main = threading.Thread(target=self._start_all, name="motcua-hub-start", daemon=True)
        self._network = threading.Thread(target=self._network_loop, name="motcua-hub-network", daemon=True)

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> "Hub":
        self._main.start()
        return self

    def _start_all(self) -> None:
        """Open the database (migrating it), then the workers and the broker."""
        if not self._open_database():
            return
        for w in self._workers:
            w.start()
        b = self.province.broker
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = self.receive_maximum
        self.client.connect_async(b.host, b.port, keepalive=KEEPALIVE_S, clean_start=False, properties=props)
        self._network.start()
        self.publisher.connect_async(b.host, b.port, keepalive=KEEPALIVE_S)
        self.publisher.loop_start()

    def alive(self) -> bool:
        return self._main.is_alive() or any(w.is_alive() for w in self._workers)

    def stop(self) -> None:
        sdnotify.notify("STOPPING=1")
        self._stop.set()
        self._room.set()
        for t in (self._main, *self._workers, self._network):
            if t.is_alive():
                t.join(timeout=30)
        if self._network.ident is not None:
            self.publisher.disconnect()
            self.publisher.loop_stop()
        for store in self.stores:
            store.close()
        t = self.totals
        log.info("hub stopped; since it started: %d new records stored, %d delivered again and skipped, "
                 "%d batches, %d refused", t.new, t.received - t.new, t.batches, t.refused)

    def run_forever(self) -> None:
        self.start()
        try:
            while self.alive():
                time.sleep(0.5)
        finally:
            self.stop()

    def _open_database(self) -> bool:
        """Connect (every worker's connection) and migrate, retrying while
        PostgreSQL is unavailable."""
        delay, told = RETRY_MIN_S, 0.0
        while not self._stop.is_set():
            try:
                for store in self.stores:
                    store.open()
                info = self.stores[0].conn.info
                log.info("PostgreSQL: database %s on %s:%s ready", info.dbname, info.host, info.port)
                self.database_ready.set()
                return True
            except StoreError as exc:
                log.error("%s", exc)
                self.failed = str(exc)
                return False
            except psycopg.OperationalError as exc:
                if time.monotonic() - told > 60:   # said once a minute, not at every try
                    told = time.monotonic()
                    log.error("PostgreSQL is unavailable (%s); the hub waits for it, trying every %.0f s "
                              "(check [database] dsn in %s)", _first_line(exc), RETRY_MAX_S, self.province.path)
                for store in self.stores:
                    store.close()
                self._stop.wait(delay)
                delay = min(RETRY_MAX_S, delay * 2)
        return False

    # -- the network thread: paho's loop, with a pause -----------------------------------------
    def _waiting(self) -> int:
        return sum(q.qsize() for q in self.inboxes)

    def _network_loop(self) -> None:
        """Connect, and reconnect, to the provincial broker; read while there is
        room in the inboxes; off the broker while PostgreSQL is away for long."""
        c, delay, told = self.client, RECONNECT_MIN_S, False
        b = self.province.broker
        while not self._stop.is_set():
            if self._offline.is_set():
                self._stop.wait(0.2)
                continue
            try:
                c.reconnect()
            except OSError as exc:
                if not told:
                    log.warning("cannot reach the provincial broker at %s:%s (%s); trying again",
                                b.host, b.port, exc)
                    told = True
                self._stop.wait(delay)
                delay = min(RECONNECT_MAX_S, delay * 2)
                continue
            delay, told = RECONNECT_MIN_S, False
            rc = mqtt.MQTT_ERR_SUCCESS
            while rc == mqtt.MQTT_ERR_SUCCESS and not self._stop.is_set() and not self._offline.is_set():
                if self._waiting() >= INBOX_MESSAGES:
                    # full: write (PUBACKs) and keep alive, read nothing
                    rc = c.loop_write() if c.want_write() else mqtt.MQTT_ERR_SUCCESS
                    rc = rc or c.loop_misc()
                    self._room.wait(0.05)
                    self._room.clear()
                else:
                    rc = c.loop(timeout=0.2)
            if self._stop.is_set() or self._offline.is_set():
                self._leave_broker()
            elif not self._stop.wait(delay):
                delay = min(RECONNECT_MAX_S, delay * 2)

    def _leave_broker(self) -> None:
        c = self.client
        c.disconnect()
        deadline = time.monotonic() + 2
        while c.socket() is not None and time.monotonic() < deadline:
            c.loop(timeout=0.1)   # sends the DISCONNECT, then closes
        if self._offline.is_set():
            # what waits here came on this connection: the broker sends it again
            for q in self.inboxes:
                while True:
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        break

    # -- paho callbacks (network thread): hand over, never block ---------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("the provincial broker refused the hub: %s (check [hub] password in %s and the "
                      "broker's password file: `motcua province broker config`)", reason_code,
                      self.province.path)
            return
        _, self._subscribe_mid = client.subscribe([(BATCH_TOPICS, 1), (LINK_TOPICS, 1)])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        if mid != self._subscribe_mid:
            return
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            log.error("the provincial broker refused the hub's subscriptions (%s): its ACL must let "
                      "user %s read %s and %s and write motcua/+/ship/ack", ", ".join(refused),
                      HUB_USER, BATCH_TOPICS, LINK_TOPICS)
            return
        self.connected.set()
        sdnotify.notify(f"READY=1\nSTATUS=storing into PostgreSQL from "
                        f"{self.province.broker.host}:{self.province.broker.port}")
        log.info("connected to the provincial broker at %s:%s as %s (session motcua-hub-%s-%s)",
                 self.province.broker.host, self.province.broker.port, HUB_USER, self.province.id,
                 self.instance)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()
        with self._ack_lock:  # packet ids of the old connection mean nothing on the new one
            self._connection += 1
        if not self._stop.is_set() and not self._offline.is_set():
            log.warning("lost the provincial broker (%s); reconnecting by itself", reason_code)

    def _on_message(self, client, userdata, message):
        m = TOPIC_RE.match(message.topic)
        worker = zlib.crc32(m[1].encode()) % len(self.inboxes) if m else 0
        self.inboxes[worker].put(_Message(message.topic, bytes(message.payload), message.mid, message.qos,
                                          self._connection))

    def _acknowledge(self, messages: list[_Message]) -> None:
        """PUBACK messages whose batches are committed (or refused for good). One
        that came on an earlier connection is left: the broker sends it again."""
        with self._ack_lock:
            for m in messages:
                if m.qos > 0 and m.connection == self._connection:
                    self.client.ack(m.mid, m.qos)
        self._room.set()

    # -- the workers --------------------------------------------------------------------------
    def _run(self, i: int) -> None:
        inbox, store = self.inboxes[i], self.stores[i]
        while not self._stop.is_set():
            try:
                first = inbox.get(timeout=0.5)
            except queue.Empty:
                self._log_stats()
                continue
            group, records = [first], _records_hint(first)
            while records < self.group_records:
                try:
                    m = inbox.get_nowait()
                except queue.Empty:
                    break
                group.append(m)
                records += _records_hint(m)
            self._room.set()   # the network thread may read again
            while not self._stop.is_set():
                try:
                    self._handle(store, group)
                    break
                except Exception:  # noqa: BLE001 - the hub must outlive one bad group
                    # Not acknowledged, these messages would stay with the hub until it
                    # reconnects, holding its window: keep them and try again.
                    log.exception("unexpected error storing %d messages; nothing of them is "
                                  "acknowledged; trying again in %.0f s", len(group), RETRY_MAX_S)
                    store.close()
                    self._stop.wait(RETRY_MAX_S)
            self._log_stats()

    def _handle(self, store: HubStore, group: list[_Message]) -> None:
        batches, payloads, keep = [], [], []
        done: list[_Message] = []
        for m in group:
            link_centre = topic_centre(m.topic, "link")
            if link_centre is not None:
                self._store_link(store, link_centre, m)
                done.append(m)
                continue
            try:
                batch = parse_batch(m.topic, m.payload)
            except BatchRefused as exc:
                self._refuse(m.topic, str(exc))
                done.append(m)   # dropped at the broker; never acknowledged to the centre
                continue
            if batch.centre not in self.known and batch.centre not in self._unknown_told:
                self._unknown_told.add(batch.centre)
                log.warning("centre %s is not in %s; its records are stored all the same (add it to "
                            "the provincial file)", batch.centre, self.province.path)
            if batch.citizen_keys:
                log.warning("centre %s, records %d-%d: %d field(s) that could name a citizen (a name, an ID "
                            "number, documents, free text) in the bodies, dropped before storing; the "
                            "centre's shipping must never send them", batch.centre, batch.first,
                            batch.last, batch.citizen_keys)
            batches.append(batch)
            payloads.append(m.payload.decode("utf-8"))
            keep.append(m)
        if batches:
            self._store(store, batches, payloads, keep)
        self._acknowledge(done)

    def _store(self, store: HubStore, batches, payloads, messages) -> None:
        """Store and acknowledge; on a data error, batch by batch, refusing the one that fails."""
        stored = self._with_retries(store, lambda: store.store(batches, payloads))
        if stored is None:
            return  # stopping with PostgreSQL away: nothing acknowledged, the broker keeps it all
        if isinstance(stored, psycopg.Error):
            if len(batches) > 1:
                for b, p, m in zip(batches, payloads, messages):
                    self._store(store, [b], [p], [m])
                return
            self._refuse(messages[0].topic, f"PostgreSQL refused records {batches[0].first}-"
                         f"{batches[0].last}: {_first_line(stored)}")
            self._acknowledge(messages)
            return
        for centre, acked in sorted(stored.acked.items()):
            self.publisher.publish(ack_topic(centre), ack_payload(centre, acked), qos=1, retain=True)
        self._acknowledge(messages)
        received, new = sum(len(b) for b in batches), sum(stored.new.values())
        with self._lock:
            self._stats.add(len(batches), received, new)
            self.totals.add(len(batches), received, new)

    def _with_retries(self, store: HubStore, fn):
        """fn() until it succeeds; PostgreSQL unavailable: log, wait, retry (None
        if the hub is stopped meanwhile); a refusal of the data: the error."""
        delay = RETRY_MIN_S
        while True:
            try:
                result = fn()
            except psycopg.errors.OperationalError as exc:
                if (exc.sqlstate or "").startswith("40"):
                    # A deadlock or serialisation failure with another hub: the
                    # transaction was rolled back whole; do it again.
                    log.info("PostgreSQL rolled the group back (%s); storing it again", _first_line(exc))
                    continue
                self._database_away(exc)
                store.close()
                if self._stop.wait(delay):
                    return None
                delay = min(RETRY_MAX_S, delay * 2)
                continue
            except psycopg.errors.InterfaceError as exc:   # the connection is gone
                log.warning("PostgreSQL connection lost (%s); reconnecting", _first_line(exc))
                store.close()
                if self._stop.wait(delay):
                    return None
                continue
            except psycopg.Error as exc:
                return exc
            self._database_back()
            return result

    def _database_away(self, exc: Exception) -> None:
        with self._lock:
            now = time.monotonic()
            if self._db_down_since is None:
                self._db_down_since = now
                log.error("PostgreSQL is unavailable (%s): nothing is acknowledged until it is back; "
                          "retrying every %.0f s at most", _first_line(exc), RETRY_MAX_S)
            elif not self._offline.is_set() and now - self._db_down_since > OFFLINE_AFTER_S:
                self._offline.set()
                log.warning("PostgreSQL still unavailable: the hub leaves the provincial broker until "
                            "it is back (the broker keeps the batches for the hub's session, the "
                            "centres keep theirs)")

    def _database_back(self) -> None:
        if self._db_down_since is None:
            return
        with self._lock:
            if self._db_down_since is not None:
                log.warning("PostgreSQL is back after %.0f s; storing and acknowledging again",
                            time.monotonic() - self._db_down_since)
                self._db_down_since = None
                self._offline.clear()

    def _store_link(self, store: HubStore, centre: str, m: _Message) -> None:
        up = protocol.link_state(m.payload)
        if up is None:
            log.warning("ignored %s: %r is not 1 or 0", m.topic, m.payload[:40])
            return
        self._with_retries(store, lambda: store.set_link(centre, up))
        log.info("centre %s: bridge %s", centre, "up" if up else "down")

    def _refuse(self, topic: str, reason: str) -> None:
        with self._lock:
            self._stats.refused += 1
            self.totals.refused += 1
        log.error("refused a batch on %s: %s (not acknowledged; the centre's shipping must be fixed)",
                  topic, reason)

    def _log_stats(self) -> None:
        with self._lock:
            s = self._stats
            elapsed = time.monotonic() - s.since
            if elapsed < STATS_EVERY_S:
                return
            self._stats = _Stats()
        if s.batches or s.refused:
            log.info("stored %d new records (%d delivered again, skipped) from %d batches in %.0f s "
                     "(%.0f records/s)%s; %d messages waiting", s.new, s.received - s.new, s.batches, elapsed,
                     s.new / elapsed, f"; {s.refused} refused" if s.refused else "", self._waiting())


def _records_hint(m: _Message) -> int:
    """How many records a message holds, guessed from its size (a record is ~300
    bytes) without parsing it: enough to size a group."""
    return max(1, len(m.payload) // 300)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def run_hub(province: Province, args) -> int:
    """`motcua province hub`: run until SIGTERM or Ctrl-C."""
    import signal

    def stop(signum, frame):  # `systemctl stop` sends SIGTERM: stop as cleanly as Ctrl-C does
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    instance = getattr(args, "instance", None) or "main"
    if not INSTANCE_RE.match(instance):
        log.error("--instance %r: use lower-case letters, digits and '-' (it names the hub's broker session)",
                  instance)
        return 2
    workers = getattr(args, "workers", None)
    workers = WORKERS if workers is None else workers
    if not 1 <= workers <= 16:
        log.error("--workers %d: give 1 to 16 (one per core is plenty)", workers)
        return 2
    hub = Hub(province, instance=instance, workers=workers)
    try:
        hub.run_forever()
    except KeyboardInterrupt:
        pass
    return 1 if hub.failed else 0

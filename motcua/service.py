"""The centre service: the shell that joins the engine, the store and MQTT.

paho's network thread only puts incoming messages on a queue. One worker
thread owns the engine and the database: it takes every message waiting,
handles them, commits all their effects in one transaction (group commit),
and only then publishes replies, events and retained state. So an
acknowledged ticket is on disk, and two kiosks can never get the same number.
"""
from __future__ import annotations

import fcntl
import json
import logging
import queue
import threading
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from . import officers as of
from . import protocol
from . import ratings as rt
from . import sdnotify
from . import web_tokens
from .config import Site
from .catalogue import Catalogue
from .dossiers import DossierError, DossierStore, public_view
from .bookings import Booking, bookable_days
from .engine import Changes, Engine, FinishedTicket, QueueError, Ticket, iso
from .mqtt import guarded, make_client, start
from .shipping import outbox
from .store import Store

log = logging.getLogger("motcua.centre")

BATCH_MAX = 500  # messages per transaction
# QoS 1 messages the broker may send the centre before it acknowledges them (MQTT v5
# Receive Maximum; Mosquitto's default is 20). The centre acknowledges a request only
# once its batch is committed, so the window must hold a whole batch and the next one
# arriving meanwhile, or the broker would hand out requests 20 at a time.
RECEIVE_MAXIMUM = 2 * BATCH_MAX
REMEMBER_REQUESTS = timedelta(days=2)
CATALOGUE_CHECK_S = 5.0  # how soon an import beside the running centre reaches the kiosks
HALL_EVERY_S = 0.05  # the hall view (every counter and service) at most 20 times a second
IDLE_TICK_S = 0.5  # quiet for this long: checkpoint, expire, publish tallies
_CONNECTED = object()  # inbox marker: (re)connected, publish all retained state
BAD_TOKEN_VI = "Mã QR không hợp lệ. Vui lòng mở lại đường dẫn trên điện thoại hoặc hỏi cán bộ hướng dẫn."


class CentreAlreadyRunning(RuntimeError):
    pass


class Refused(QueueError):
    """A refusal that is itself recorded: its events (a wrong PIN, a lock-out) are
    written with the reply; `details` go into the reply's error."""

    def __init__(self, code: str, message: str, events: list[dict] = (), **details):
        super().__init__(code, message)
        self.events = list(events)
        self.details = details


def _lock_database(db: Path):
    """One centre per database: two would hand out the same numbers."""
    f = open(db.with_suffix(".lock"), "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise CentreAlreadyRunning(f"another centre is already running on {db}; stop it first "
                                   "(one centre per site)") from None
    return f


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class CentreService:
    def __init__(self, site: Site, database: str | None = None,
                 clock: Callable[[], datetime] = utc_now, synchronous: str = "FULL"):
        self.site = site
        self.topics = protocol.Topics(site.id)
        self.clock = clock
        self.store = Store(database or site.database, synchronous=synchronous)
        self.store.defer_checkpoints()
        self._lock_file = _lock_database(self.store.path)
        # The site's description, for the province, when it changed (motcua ship sends it).
        outbox.record_site(self.store.db, site)
        self.engine = Engine(site, self.store.load_state(site.queue.estimate_window))
        self.dossiers = DossierStore(self.store.db, site.dossiers, site.timezone)
        # `motcua procedures import` writes beside the running centre; the tick
        # notices the new version and tells the kiosks (retained).
        self.catalogue = Catalogue(self.store.db)
        self._catalogue: tuple[str, list[list[dict]]] | None = None
        self._catalogue_checked = 0.0
        self.recent_calls: deque[dict] = deque(self._load_recent_calls(), maxlen=protocol.RECENT_CALLS)
        centre = site.devices_of("centre")[0]
        # A fixed client id and a persistent session: requests sent while the
        # centre restarts wait at the broker (each until its own expiry).
        # Requests and ratings are acknowledged to the broker by hand, only once the
        # transaction holding their effects has committed (`_acknowledge`): a request
        # in flight when the centre dies stays at the broker, which sends it again
        # when the centre comes back.
        self.client = make_client(site, centre, client_id=f"motcua-centre-{site.id}", manual_ack=True)
        self._ack_lock = threading.Lock()
        self._connection = 0  # counts disconnections: a packet id means nothing after one
        self.client.on_connect = guarded(self._on_connect)
        self.client.on_subscribe = guarded(self._on_subscribe)
        self.client.on_disconnect = guarded(self._on_disconnect)
        self.client.on_message = guarded(self._on_message)
        self.inbox: queue.Queue = queue.Queue()
        self.connected = threading.Event()  # connected and subscribed: requests reach the centre
        self._subscribe_mid: int | None = None
        self._stop = threading.Event()
        # systemd (Type=notify): READY=1 once connected with the worker running;
        # WATCHDOG=1 from the worker's loop, so a stuck worker gets the centre restarted.
        self._watchdog = sdnotify.Watchdog()
        self._ready_told = False
        self._worker = threading.Thread(target=self._run, name="motcua-centre-worker", daemon=True)
        self._published: dict[str, bytes] = {}
        # Rating pads (issue 5): the open prompt of each counter that has a pad.
        self._pad_counters = sorted({d.counter for d in site.devices_of("pad")})
        self._prompts: dict[int, rt.Prompt] = {}
        self._pads: _PadBatch | None = None  # the batch being handled: its prompts are the live ones
        for row in self.store.open_prompts():
            if row["counter"] in self._pad_counters:
                self._prompts[row["counter"]] = rt.Prompt.from_row(row)
        self._tallies_due = True
        self._tallies_at = 0.0
        # Calls reach the boards as events at once; the hall view, a snapshot of
        # everything, is coalesced: building and sending it after every request
        # delayed the next request and woke every display for each ticket.
        self._hall_due = False
        self._hall_at = 0.0

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> "CentreService":
        self.store.forget_requests_before(iso(self.clock() - REMEMBER_REQUESTS))
        self._warn_closed_day_bookings()
        self._worker.start()
        start(self.client, self.site, persistent_session=True, receive_maximum=RECEIVE_MAXIMUM)
        return self

    def stop(self) -> None:
        sdnotify.notify("STOPPING=1")
        self._stop.set()
        if self._worker.is_alive():
            self._worker.join(timeout=10)
        if self.connected.is_set():
            self.client.publish(self.topics.centre_availability, protocol.availability(False),
                                qos=1, retain=True).wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()
        self.store.close()
        self._lock_file.close()

    def run_forever(self) -> None:
        self.start()
        try:
            while self._worker.is_alive():
                self._worker.join(timeout=1)
        finally:
            self.stop()

    # -- paho callbacks (network thread): hand over, never block ---------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("broker refused the centre: %s (check the centre's password in the site "
                      "file, then run `motcua broker passwords` and restart the broker)", reason_code)
            return
        _, self._subscribe_mid = client.subscribe([(self.topics.request_all, 1), (self.topics.rating_all, 1)])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        # Ready only once the broker has the subscriptions: a request sent before
        # then would be dropped by the broker, and devices would see "online" too early.
        if mid != self._subscribe_mid:
            return
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            log.error("the broker refused the centre's subscriptions (%s): check the centre's "
                      "lines in broker_config's ACL file, then restart the broker", ", ".join(refused))
            return
        self.connected.set()
        self.inbox.put(_CONNECTED)
        if not self._ready_told and self._worker.is_alive():
            self._ready_told = True
            sdnotify.notify(f"READY=1\nSTATUS=connected to the broker at {self.site.broker.host}:"
                            f"{self.site.broker.port}")
        log.info("connected to the broker at %s:%s", self.site.broker.host, self.site.broker.port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()
        with self._ack_lock:  # paho drops unsent packets when it reconnects, after this
            self._connection += 1
        if not self._stop.is_set():
            log.warning("lost the broker (%s); reconnecting by itself", reason_code)

    def _on_message(self, client, userdata, message):
        self.inbox.put((message.topic, bytes(message.payload), message.mid, message.qos, self._connection))

    def _acknowledge(self, batch: list) -> None:
        """PUBACK every QoS 1 message of a batch whose effects are committed (or that
        was dropped): the broker then forgets it. A message that came on an earlier
        connection is not acknowledged: its packet id may now name another message,
        and the broker sends it again on the new session anyway (answered from the
        store as a repeat)."""
        with self._ack_lock:
            for item in batch:
                if item is _CONNECTED:
                    continue
                _, _, mid, qos, connection = item
                if qos > 0 and connection == self._connection:
                    self.client.ack(mid, qos)

    # -- the worker -------------------------------------------------------------------------
    def _run(self) -> None:
        self._guard(self._tick)  # start the business day before anything is published
        while not self._stop.is_set():
            self._watchdog.feed()
            hall_wait = self._hall_at + HALL_EVERY_S - time.monotonic()
            try:
                first = self.inbox.get(timeout=max(0.0, hall_wait) if self._hall_due else IDLE_TICK_S)
            except queue.Empty:
                if self._hall_due:
                    self._guard(self._publish_hall, True)
                else:
                    self._guard(self._tick)
                continue
            batch = [first]
            while len(batch) < BATCH_MAX:
                try:
                    batch.append(self.inbox.get_nowait())
                except queue.Empty:
                    break
            self._guard(self._handle_batch, batch)

    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - the centre must outlive any one bad batch
            log.exception("unexpected error; state reloaded from the database")
            self.engine = Engine(self.site, self.store.load_state(self.site.queue.estimate_window))

    def _tick(self) -> None:
        self.store.checkpoint(every=1)  # quiet for half a second: a good moment
        self._check_catalogue()
        events, changes = self.engine.tick(self.clock())
        if events:
            self.store.commit(events, changes)
            self._publish_changes(changes, events)
        self._expire_prompts()
        self._publish_tallies()

    def _handle_batch(self, batch: list) -> None:
        pads = self._pads = _PadBatch(dict(self._prompts))
        try:
            self._handle_batch_with(batch, pads)
        finally:
            self._pads = None

    def _handle_batch_with(self, batch: list, pads: "_PadBatch") -> None:
        events: list[dict] = []
        changes = Changes()
        replies: list[tuple[str, str, str, str]] = []
        outgoing: list[tuple[str, bytes]] = []
        republish_all = False
        seen: dict[tuple[str, str], bytes] = {}
        self._officer_rows: dict[str, dict] = {}  # register rows this batch changes (issue 12)
        rating_prefix = self.topics.rating("")
        for item in batch:
            if item is _CONNECTED:
                republish_all = True
                continue
            topic, payload = item[:2]
            if topic.startswith(rating_prefix):
                self._handle_rating(topic, payload, pads)
                continue
            result = self._handle_message(topic, payload, seen)
            if result is None:
                continue
            device, request_id, reply, evs, ch, remember = result
            events.extend(evs)
            changes.merge(ch)
            if request_id is not None:
                outgoing.append((self.topics.reply(device), reply))
                if remember and (device, request_id) not in seen:
                    seen[(device, request_id)] = reply
                    replies.append((device, request_id, iso(self.clock()), reply.decode("utf-8")))
        if events or replies or pads.ratings or pads.prompt_rows or self._officer_rows:
            try:
                self.store.commit(events, changes, replies, ratings=pads.ratings.values(),
                                  prompts=pads.prompt_rows.values(), officers=self._officer_rows.values())
            except Exception:
                # Nothing was answered nor acknowledged to the broker: devices retry with
                # the same id or time out; the broker sends the batch again when the
                # centre reconnects (a repeat already stored is answered as before).
                log.exception("could not save a batch of %d requests; nothing was answered", len(batch))
                self.engine = Engine(self.site, self.store.load_state(self.site.queue.estimate_window))
                return
        # Calls first: a citizen watches the hall board, the officer's terminal can
        # wait a millisecond for its reply.
        self._publish_calls(changes)
        for topic, body in outgoing:
            self.client.publish(topic, body, qos=protocol.REPLY_QOS)
        # Ratings are on disk now: acknowledge them, so the bridges forget them.
        for counter, rating_id, status in pads.acks:
            self.client.publish(self.topics.pad_ack(counter),
                                protocol.encode({"rating": rating_id, "status": status}), qos=1)
        # Only now tell the broker it may forget the batch's messages: paho sends packets
        # in order, so a broker that has a PUBACK also has the reply queued before it.
        self._acknowledge(batch)
        if pads.ratings:
            self._tallies_due = True
        self._prompts = pads.prompts
        self._pads = None  # from here on the batch's prompts are the centre's
        self._publish_changes(changes, events, republish_all)
        for counter in sorted(pads.changed):
            self._publish_prompt(counter)
        self._expire_prompts()
        self._publish_tallies()
        self.store.checkpoint()  # everyone has been answered: the copy-back delays nobody

    def _handle_message(self, topic: str, payload: bytes, seen: dict):
        """Returns (device, request_id, reply, events, changes, remember) or None when dropped."""
        try:
            device_id = self.topics.device_of(topic, "request")
            data = protocol.decode(payload, self.site.max_payload_bytes)
            try:
                device = self.site.device(device_id)
            except KeyError:
                raise protocol.ProtocolError(f"unknown device {device_id!r}; add it to the site file") from None
            request_id = protocol.request_id_of(data)
        except protocol.ProtocolError as exc:
            log.warning("dropped message on %s: %s", topic, exc)
            return None
        # The same id again (a retry after a lost reply): the same answer, never a
        # second ticket - checked before anything else about the request.
        earlier = seen.get((device_id, request_id))
        if earlier is None:
            stored = self.store.reply_for(device_id, request_id)
            earlier = stored.encode("utf-8") if stored is not None else None
        if earlier is not None:
            log.info("repeated request %s from %s: answered as before", request_id, device_id)
            return device_id, request_id, earlier, [], Changes(), False
        try:
            req = protocol.parse_request(device_id, data)
            if req.op not in protocol.ROLE_OPERATIONS.get(device.role, set()):
                raise QueueError("forbidden", f"a {device.role} device may not ask for {req.op}")
            if device.role == "counter" and "counter" in req.args and req.args["counter"] != device.counter:
                raise QueueError("forbidden", f"device {device_id} stands at counter {device.counter}, "
                                 f"not {req.args['counter']}")
            result, events, changes = self._execute(req, device_id)
        except (protocol.BadRequest, QueueError) as exc:
            log.info("refused request %s from %s: %s (%s)", request_id, device_id, exc.message, exc.code)
            return (device_id, request_id,
                    protocol.reply_error(request_id, exc.code, exc.message, **getattr(exc, "details", {})),
                    getattr(exc, "events", []), Changes(), True)
        return (device_id, request_id, protocol.reply_ok(request_id, result), events, changes,
                req.op not in protocol.UNREMEMBERED_OPERATIONS)

    def _execute(self, req: protocol.Request, device_id: str) -> tuple[dict, list, Changes]:
        e, a, now = self.engine, req.args, self.clock()
        if req.op == "ticket.issue":
            events, changes = e.issue(a["service"], now, priority=a.get("priority"), device=device_id)
            ticket = e.state.tickets[events[-1]["ticket"]["id"]]
            return protocol.ticket_view(e, ticket), events, changes
        if req.op == "ticket.status":
            return self._ticket_status(a["ticket"], a.get("day")), [], Changes()
        if req.op == "dossier.status":
            return self._dossier_status(a, now), [], Changes()
        if req.op == "catalogue.page":
            return self._catalogue_page(a["page"], a["version"]), [], Changes()
        if req.op == "dossier.update":
            try:
                dossier = self.dossiers.apply_update(a)
            except DossierError as exc:
                raise QueueError(exc.code, exc.message) from None
            return public_view(dossier, now, self.site.timezone), [], Changes()
        if req.op.startswith("officer."):
            return self._officer_op(req, device_id, now), self._officer_events, Changes()
        if req.op.startswith("booking.") or req.op in ("ticket.reserve", "ticket.check_in"):
            return self._web_op(req, device_id, now)
        n = a["counter"]
        ops = {
            "counter.sign_in": lambda: e.sign_in(n, a["officer"], now, self._check_pin(req, device_id, now)),
            "counter.next": lambda: e.call_next(n, now),
            "counter.call": lambda: e.call_ticket(n, a["ticket"], now),
            "counter.recall": lambda: e.recall(n, now),
            "counter.start": lambda: e.start(n, now),
            "counter.done": lambda: e.done(n, now),
            "counter.no_show": lambda: e.no_show(n, now),
            "counter.transfer": lambda: e.transfer(n, a["service"], now),
            "counter.pause": lambda: e.pause(n, a["reason"], now, a.get("public", False)),
            "counter.resume": lambda: e.resume(n, now),
            "counter.close": lambda: e.close(n, now),
        }
        dossier = None
        if req.op in ("counter.attach_dossier", "counter.detach_dossier"):
            events, changes, dossier = self._dossier_op(req.op, n, a["code"], now)
        else:
            events, changes = ops[req.op]()
        # A ticket finished at a counter with a pad prompts the pad now, so the reply
        # shows it as the counter's finished_ticket as the retained state does.
        self._open_prompts(events, changes, self._pads)
        result = self._counter_view(n)
        finished = [t for t in changes.tickets.values() if t.state in ("done", "no_show") and t.counter == n]
        result["finished"] = [{"ticket": t.label, "state": t.state} for t in finished]
        if dossier is not None:
            result["dossier"] = dossier
        return result, events, changes

    # -- numbers from afar and bookings (issue 14) --------------------------------------
    def _web_op(self, req: protocol.Request, device_id: str, now: datetime) -> tuple[dict, list, Changes]:
        """ticket.reserve, ticket.check_in and booking.*: the engine's rules, the
        reply the citizen's page (or the kiosk) needs. Replies never hold a phone."""
        e, a, op = self.engine, req.args, req.op
        if op == "ticket.reserve":
            events, changes = e.reserve(a["service"], a["phone"], now, device=device_id)
            return protocol.reserved_view(e, e.state.tickets[events[-1]["ticket"]["id"]]), events, changes
        if op == "ticket.check_in":
            return self._check_in_ticket(a, now)
        if op == "booking.slots":
            web, _ = e.web_for(a["service"], "booking")
            days = [a["day"]] if a.get("day") else [
                d.isoformat() for d in bookable_days(now.astimezone(self.site.tz).date(), web.booking_days_ahead)]
            slots = [(d, e.slots(a["service"], d, now)) for d in days]
            return protocol.slots_view(e, a["service"], slots), [], Changes()
        if op == "booking.create":
            events, changes = e.create_booking(a["service"], a["day"], a["time"], a["phone"], now, device=device_id)
            return protocol.booking_view(e, e.state.bookings[events[-1]["booking"]["id"]]), events, changes
        if op == "booking.get":
            return self._booking_view(self._booking(a["booking"])), [], Changes()
        if op == "booking.cancel":
            events, changes = e.cancel_booking(a["booking"], now, a.get("phone"), device=device_id,
                                               reason=a.get("reason"))
            return self._booking_view(e.state.bookings[a["booking"]]), events, changes
        return self._check_in_booking(a, device_id, now)

    def _warn_closed_day_bookings(self) -> None:
        """Bookings made before their day was added to [web] closed_days are kept (the
        centre promised them); the manager decides, so say where they are."""
        kept: dict[str, int] = {}
        for b in self.engine.state.bookings.values():
            if b.state == "booked" and self.engine.is_closed(b.day):
                kept[b.day] = kept.get(b.day, 0) + 1
        for day, n in sorted(kept.items()):
            log.warning("%d bookings are on %s, a closed day ([web] closed_days): they stand until cancelled; "
                        "list them with `motcua bookings list --day %s`, cancel each with "
                        "`motcua bookings cancel ID --reason \"…\"`", n, day, day)

    def _token(self, a: dict, kind: str) -> web_tokens.Token | None:
        """The verified token of a check-in (a["token"]: the token or the whole link),
        None when the request names the ticket or booking instead."""
        if a.get("token") is None:
            return None
        web = self.site.web
        if web is None:
            raise QueueError("not_offered", "this centre has no [web] table: it offers no numbers from afar "
                             "nor bookings", message_vi="Trung tâm chưa nhận lấy số từ xa và đặt lịch hẹn.")
        found = web_tokens.token_of_link(a["token"])
        try:
            if found is None:
                raise web_tokens.TokenError("not a motcua link (…/t/<token> or …/b/<token>)")
            return web_tokens.verify_token(web.secret, found[1], site=self.site.id, kind=kind)
        except web_tokens.TokenError as exc:
            if exc.code == "not_ours":
                raise QueueError("not_ours", exc.message, message_vi="Mã này là của Trung tâm khác.") from None
            raise QueueError("bad_token", exc.message, message_vi=BAD_TOKEN_VI) from None

    def _check_in_ticket(self, a: dict, now: datetime) -> tuple[dict, list, Changes]:
        e = self.engine
        token = self._token(a, "t")
        if token is None and not a.get("ticket"):
            raise QueueError("bad_arguments", "ticket.check_in needs argument 'token' or 'ticket'")
        label = token.ref if token else a["ticket"].strip()
        day = token.day if token else (e.state.day or e.local_day(now))
        if day == e.local_day(now):
            try:
                events, changes = e.check_in(label, now)
            except QueueError as exc:
                if exc.code != "unknown_ticket":
                    raise
            else:
                t = e.find_today(label)
                checked = any(ev["type"] == "ticket_checked_in" for ev in events)
                if checked:
                    log.info("ticket %s checked in", label)
                return {**protocol.ticket_view(e, t), "checked_in": checked}, events, changes
        row = self.store.ticket(day, label)  # ended, or of another day: its status
        if row is None:
            raise QueueError("unknown_ticket", f"no ticket {label} on {day}",
                             message_vi="Không tìm thấy số này.")
        if row["state"] == "lapsed":
            raise e.lapsed_error(label)
        return {**protocol.ticket_view(e, Ticket(**row), self._dossiers_of(row["id"], day)),
                "checked_in": False}, [], Changes()

    def _booking(self, booking_id: int):
        """A booking, today's and later from the engine, earlier ones from the store."""
        b = self.engine.state.bookings.get(booking_id)
        if b is not None:
            return b
        row = self.store.booking(booking_id)
        if row is None:
            raise QueueError("unknown_booking", f"no booking {booking_id}",
                             message_vi="Không tìm thấy lịch hẹn này.")
        return Booking(**row)

    def _ticket_row(self, ticket_id: int) -> Ticket | None:
        t = self.engine.state.tickets.get(ticket_id)
        if t is not None:
            return t
        row = self.store.ticket_by_id(ticket_id)
        return None if row is None else Ticket(**row)

    def _booking_view(self, b) -> dict:
        t = self._ticket_row(b.ticket_id) if b.ticket_id is not None else None
        return protocol.booking_view(self.engine, b, t.label if t else None)

    def _check_in_booking(self, a: dict, device_id: str, now: datetime) -> tuple[dict, list, Changes]:
        e = self.engine
        token = self._token(a, "b")
        if token is None and a.get("booking") is None:
            raise QueueError("bad_arguments", "booking.check_in needs argument 'token' or 'booking'")
        b = self._booking(token.booking if token else a["booking"])
        if token is not None and token.day != b.day:
            raise QueueError("bad_token", "the link's day is not its booking's", message_vi=BAD_TOKEN_VI)
        if b.id in e.state.bookings:
            events, changes = e.check_in_booking(b.id, now, device=device_id)
            b = e.state.bookings[b.id]
        else:  # a booking of an earlier day: it lapsed, was cancelled or was checked in then
            e.check_open(b)
            events, changes = [], Changes()
        checked = any(ev["type"] == "booking_checked_in" for ev in events)
        if checked:
            log.info("booking %d checked in: ticket %s", b.id, e.state.tickets[b.ticket_id].label)
        t = self._ticket_row(b.ticket_id)
        return {**protocol.ticket_view(e, t), "checked_in": checked,
                "booking": self._booking_view(b)}, events, changes

    # -- dossiers at the counter (issue 12) ----------------------------------------------
    def _dossier_op(self, op: str, n: int, text: str, now: datetime) -> tuple[list, Changes, dict]:
        """counter.attach_dossier / detach_dossier: to the counter's current ticket, or
        to the ticket it finished while its rating prompt is open (engine.dossier_target).
        A code the dossier mirror does not have (yet) is attached all the same."""
        e = self.engine
        code = e.dossier_code(text)
        finished = self._finished_target(n, now)
        _, label, _, _, before = e.dossier_target(n, finished)
        procedure = self.dossiers.procedure_of(code)
        if op == "counter.attach_dossier":
            events, changes = e.attach_dossier(n, code, now, procedure[0] if procedure else None, finished)
            if events:
                log.info("dossier %s attached to ticket %s at counter %d%s", code, label, n,
                         "" if procedure else " (not in the dossier mirror yet)")
        else:
            events, changes = e.detach_dossier(n, code, now, finished)
            log.info("dossier %s detached from ticket %s at counter %d", code, label, n)
        changed = any(ev["type"].startswith("dossier_") for ev in events)
        return events, changes, protocol.dossier_result(code, label, procedure, changed)

    def _prompt_of(self, counter: int) -> rt.Prompt | None:
        """The counter's open prompt: the batch's while one is handled."""
        return (self._pads.prompts if self._pads is not None else self._prompts).get(counter)

    def _dossiers_of(self, ticket_id: int, day: str) -> list[str]:
        """A ticket's dossier codes: today's from the engine (this batch's changes
        included), another day's from the store."""
        if day == self.engine.state.day:
            return list(self.engine.state.dossiers.get(ticket_id, ()))
        return self.store.ticket_dossier_codes(ticket_id)

    def _finished_target(self, counter: int, now: datetime) -> FinishedTicket | None:
        p = self._prompt_of(counter)
        if p is None or p.expired(now):
            return None
        return FinishedTicket(p.ticket_id, p.ticket, p.service, tuple(self._dossiers_of(p.ticket_id, p.day)))

    def _finished_view(self, counter: int) -> dict | None:
        p = self._prompt_of(counter)
        if p is None or self.engine.state.counters[counter].state == "closed":
            return None  # (a closed counter takes no dossier: engine.dossier_target)
        return protocol.finished_ticket_view(p.ticket, p.service, self._dossiers_of(p.ticket_id, p.day),
                                             iso(p.expires_at))

    def _counter_view(self, n: int) -> dict:
        return protocol.counter_view(self.engine, n, self._finished_view(n))

    # -- officers and their PINs (issue 12) ----------------------------------------------
    def _pin(self, req: protocol.Request, device_id: str) -> str:
        """The PIN of a request, opened with the device's own password (never logged)."""
        try:
            return of.open_pin(req.args["pin"], self.site.device(device_id).password, device_id, req.id)
        except of.PinError as exc:
            raise protocol.BadRequest(req.id, "bad_arguments", f"argument 'pin': {exc}") from None

    def _officer(self, officer_id: str) -> of.Officer | None:
        row = self._officer_rows.get(officer_id) or self.store.officer(officer_id)
        return None if row is None else of.Officer(**row)

    def _keep_officer(self, officer: of.Officer) -> None:
        self._officer_rows[officer.id] = officer.as_row()

    def _check_pin(self, req: protocol.Request, device_id: str, now: datetime) -> str:
        """Sign-in's PIN check, before the engine's sign_in; returns the officer's
        registered name. A refusal is recorded (Refused carries its events)."""
        a = req.args
        officer_id = (a["officer"] or "").strip()
        pin = self._pin(req, device_id)
        base = {"at": iso(now), "counter": a["counter"], "officer": officer_id, "device": device_id}
        officer = self._officer(officer_id)
        if officer is None:
            raise Refused("unknown_officer", f"officer {officer_id!r} is not registered; an admin registers "
                          f"officers with `motcua officers add {officer_id or 'ID'} --name \"…\"`",
                          [{**base, "type": "officer_sign_in_refused", "reason": "unknown_officer"}])
        result = of.attempt(officer, pin, now)
        if result.changed:
            self._keep_officer(result.officer)
        if result.outcome == "ok":
            return officer.name
        if result.outcome == "bad_pin":
            left = of.tries_left(result.officer)
            raise Refused("bad_pin", f"wrong PIN for officer {officer_id}; {left} tries left before a "
                          f"{of.LOCK_FOR.seconds // 60}-minute lock-out",
                          [{**base, "type": "officer_sign_in_refused", "reason": "bad_pin",
                            "failures": result.officer.failures}], tries_left=left)
        until = result.officer.locked_until
        events = [{**base, "type": "officer_sign_in_refused",
                   "reason": "bad_pin" if result.outcome == "locked_out" else "locked",
                   "failures": result.officer.failures}]
        if result.outcome == "locked_out":
            events.append({**base, "type": "officer_locked_out", "until": until})
        raise Refused("officer_locked", f"officer {officer_id} is locked out after {of.MAX_FAILURES} wrong PINs "
                      f"until {until}, on every counter; wait, or ask an admin to reset the PIN "
                      f"(`motcua officers reset-pin {officer_id}`)", events, locked_until=until)

    def _officer_op(self, req: protocol.Request, device_id: str, now: datetime) -> dict:
        """officer.add / reset_pin / unlock / list (the admin's). Sets
        self._officer_events to what the change records."""
        a = req.args
        self._officer_events = []
        if req.op == "officer.list":
            return {"officers": [of.Officer(**r).public(now) for r in self.store.officer_rows()]}
        officer_id = a["officer"]
        problem = of.officer_problem(officer_id)
        if problem:
            raise QueueError("bad_officer", problem)
        officer = self._officer(officer_id)
        base = {"at": iso(now), "counter": None, "officer": officer_id, "device": device_id}
        if req.op == "officer.add":
            name = " ".join(a["name"].split())
            if not name:
                raise QueueError("bad_officer", "give the officer's full name (shown on the counter's display)")
            if officer is not None:
                raise QueueError("officer_exists", f"officer {officer_id} is already registered; "
                                 f"`motcua officers reset-pin {officer_id}` gives a new PIN")
            pin = self._pin(req, device_id)
            if of.pin_problem(pin):
                raise QueueError("weak_pin", f"{of.pin_problem(pin)}; choose another")
            officer = of.new_officer(officer_id, name, pin, now)
            self._officer_events = [{**base, "type": "officer_added", "name": name}]
        else:
            if officer is None:
                raise QueueError("unknown_officer", f"officer {officer_id!r} is not registered; "
                                 f"`motcua officers add {officer_id} --name \"…\"` registers them")
            if req.op == "officer.reset_pin":
                pin = self._pin(req, device_id)
                if of.pin_problem(pin):
                    raise QueueError("weak_pin", f"{of.pin_problem(pin)}; choose another")
                officer = of.reset_pin(officer, pin, now)
                self._officer_events = [{**base, "type": "officer_pin_reset"}]
            else:
                officer = of.unlock(officer, now)
                self._officer_events = [{**base, "type": "officer_unlocked"}]
        self._keep_officer(officer)
        log.info("%s %s by %s", self._officer_events[0]["type"].replace("_", " "), officer_id, device_id)
        return officer.public(now)

    # -- rating pads (issue 5) ---------------------------------------------------------------
    def _open_prompts(self, events: list[dict], changes: Changes, pads: "_PadBatch") -> None:
        """A ticket finished at a counter with a pad: prompt the pad (replacing any open prompt)."""
        for ev in events:
            if ev["type"] != "ticket_done" or ev.get("counter") not in self._pad_counters:
                continue
            ticket = changes.tickets.get(ev["ticket_id"]) or self.engine.state.tickets.get(ev["ticket_id"])
            if ticket is None:
                continue
            at = datetime.fromisoformat(ev["at"])
            prompt = rt.open_prompt(ev, ticket, at, self.site.rating_prompt_timeout_s)
            old = pads.prompts.get(prompt.counter)
            if old is not None:
                pads.end(old, "replaced")
            pads.prompts[prompt.counter] = prompt
            pads.known[prompt.id] = prompt
            pads.prompt_rows[prompt.id] = prompt.as_row()
            pads.changed.add(prompt.counter)

    def _handle_rating(self, topic: str, payload: bytes, pads: "_PadBatch") -> None:
        now = self.clock()
        try:
            rest = topic[len(self.topics.rating("")):]
            if not rest.isdigit() or int(rest) not in self._pad_counters:
                raise protocol.ProtocolError(f"no pad at the counter of {topic!r}")
            counter = int(rest)
            data = protocol.decode(payload, self.site.max_payload_bytes)
            rating = rt.parse_rating(data, len(self.site.rating_levels))
        except (protocol.ProtocolError, rt.RatingError) as exc:
            log.warning("dropped rating on %s: %s", topic, exc)
            return
        earlier = pads.ratings.get(rating.id) or self.store.rating(rating.id)
        if earlier is not None:  # the same press again (QoS 1 redelivery, a bridge retry)
            pads.acks.append((counter, rating.id, earlier["status"]))
            return
        prompt = None
        if rating.prompt is not None:
            prompt = pads.known.get(rating.prompt)
            if prompt is None:
                row = self.store.prompt(rating.prompt)
                prompt = rt.Prompt.from_row(row) if row else None
        rated = prompt is not None and (prompt.ticket_id in pads.counted_tickets
                                        or self.store.ticket_rated(prompt.ticket_id))
        status = rt.bind(rating, counter, prompt, rated)
        local = rating.pressed_at.astimezone(self.site.tz)
        # A bound rating keeps the dossiers its ticket carries now (issue 12): attached
        # during the visit, or as the citizen left, this batch's included.
        dossiers = self._dossiers_of(prompt.ticket_id, prompt.day) if status != rt.UNPROMPTED else ()
        row = rt.rating_row(rating, counter, status, prompt, self.site.rating_levels, now,
                            local.date().isoformat(), local.hour, dossiers)
        pads.ratings[rating.id] = row
        pads.acks.append((counter, rating.id, status))
        log.info("rating %s at counter %d: level %d, %s%s", rating.id, counter, rating.level, status,
                 f" (ticket {prompt.ticket})" if status != rt.UNPROMPTED and prompt else "")
        if status == rt.COUNTED:
            pads.counted_tickets.add(prompt.ticket_id)
            if pads.prompts.get(counter) is not None and pads.prompts[counter].id == prompt.id:
                pads.end(prompt, "rated")
                del pads.prompts[counter]
                pads.changed.add(counter)

    def _expire_prompts(self) -> None:
        now = self.clock()
        expired = [p for p in self._prompts.values() if p.expired(now)]
        if not expired:
            return
        rows = [{**p.as_row(), "ended": "expired"} for p in expired]
        self.store.commit([], Changes(), prompts=rows)
        for p in expired:
            del self._prompts[p.counter]
            self._publish_prompt(p.counter)

    def _publish_prompt(self, counter: int) -> None:
        view = rt.prompt_view(self._prompts.get(counter), counter, self.site.rating_levels)
        self._retain(self.topics.pad(counter), view)
        # the counter's finished_ticket follows its prompt (a dossier may go to it until it ends)
        self._retain(self.topics.counter_state(counter), self._counter_view(counter))
        self._hall_due = True

    def _publish_tallies(self, force: bool = False) -> None:
        """Today's tallies, retained; at most twice a second while ratings pour in."""
        if not (self._tallies_due or force) or (not force and time.monotonic() - self._tallies_at < 0.5):
            return
        self._tallies_due = False
        self._tallies_at = time.monotonic()
        day = self.engine.local_day(self.clock())
        self._retain(self.topics.ratings_state,
                     rt.tally(self.store.ratings_of_day(day), self.site.rating_levels, day))

    def _dossier_status(self, a: dict, now: datetime) -> dict:
        try:
            return self.dossiers.citizen_view(now, scanned=a.get("qr"), code=a.get("code"),
                                              lookup=a.get("lookup"))
        except DossierError as exc:
            raise QueueError(exc.code, exc.message) from None

    # -- the procedure catalogue ---------------------------------------------------------
    def _check_catalogue(self, force: bool = False) -> None:
        """Publish the catalogue's version when it changed (at most every few seconds:
        the version hashes every procedure's hash)."""
        now = time.monotonic()
        if not force and now - self._catalogue_checked < CATALOGUE_CHECK_S:
            return
        self._catalogue_checked = now
        version = self.catalogue.version()
        if self._catalogue is None or self._catalogue[0] != version:
            self._catalogue = (version, protocol.catalogue_pages(self.catalogue.export()))
            log.info("procedure catalogue %s: %d procedures in %d pages", version[:12],
                     self.catalogue.count(), len(self._catalogue[1]))
        pages = self._catalogue[1]
        self._retain(self.topics.catalogue_version,
                     protocol.catalogue_version_view(version, sum(map(len, pages)), len(pages)))

    def _catalogue_page(self, page: int, version: str) -> dict:
        if self._catalogue is None:
            self._check_catalogue(force=True)
        current, pages = self._catalogue
        if version != current:
            raise QueueError("catalogue_changed", f"the catalogue is now version {current}; "
                             "start the sync again from page 0")
        if not 0 <= page < len(pages):
            raise QueueError("bad_page", f"page {page} is not between 0 and {len(pages) - 1}")
        return {"version": current, "page": page, "pages": len(pages), "procedures": pages[page]}

    def _ticket_status(self, label: str, day: str | None) -> dict:
        day = day or self.engine.state.day or self.engine.local_day(self.clock())
        t = self.engine.find_today(label) if day == self.engine.state.day else None
        if t is not None:
            return protocol.ticket_view(self.engine, t)
        row = self.store.ticket(day, label)
        if row is None:
            raise QueueError("unknown_ticket", f"no ticket {label} on {day}")
        return protocol.ticket_view(self.engine, Ticket(**row), self._dossiers_of(row["id"], day))

    # -- publishing -------------------------------------------------------------------------
    def _publish_calls(self, changes: Changes) -> None:
        """Each call event once, whichever of the two callers comes first."""
        if getattr(changes, "calls_published", False):
            return
        for call in changes.calls:
            view = protocol.call_view(self.engine, call)
            self.recent_calls.append(view)
            self.client.publish(self.topics.call_event, protocol.encode(view), qos=protocol.EVENT_QOS)
        changes.calls_published = True

    def _publish_changes(self, changes: Changes, events: list[dict] = (), republish_all: bool = False) -> None:
        e = self.engine
        republish_all = republish_all or changes.day_started  # a new day: every figure restarts
        self._publish_calls(changes)
        for ev in events:
            view = protocol.ticket_event_view(ev)
            if view is not None:
                self.client.publish(self.topics.ticket_event, protocol.encode(view), qos=protocol.EVENT_QOS)
        if republish_all:
            self._published.clear()
            self.client.publish(self.topics.centre_availability, protocol.availability(True), qos=1, retain=True)
            self._check_catalogue(force=True)
            for n in self._pad_counters:
                self._publish_prompt(n)
            self._publish_tallies(force=True)
        counters = {c.number for c in self.site.counters} if republish_all else set(changes.counters)
        services = {s.code for s in self.site.services} if republish_all else set(changes.services)
        if changes.counters:
            # an open/closed counter changes the estimates of every service it serves
            for n in changes.counters:
                services.update(self.site.counter(n).services)
        for n in sorted(counters):
            self._retain(self.topics.counter_state(n), self._counter_view(n))
        for code in sorted(services):
            self._retain(self.topics.service_state(code), protocol.service_view(e, code))
        if republish_all or counters or services or changes.calls:
            self._hall_due = True
        self._publish_hall(force=republish_all)

    def _publish_hall(self, force: bool = False) -> None:
        """The hall view when due, at most every HALL_EVERY_S (the worker publishes a
        due one as soon as that time has passed, busy or not)."""
        if not self._hall_due or (not force and time.monotonic() - self._hall_at < HALL_EVERY_S):
            return
        self._hall_due = False
        self._hall_at = time.monotonic()
        finished = {n: v for n in self._pad_counters if (v := self._finished_view(n)) is not None}
        self._retain(self.topics.hall_state, protocol.hall_view(self.engine, list(self.recent_calls), finished))

    def _retain(self, topic: str, view: dict) -> None:
        body = protocol.encode(view)
        if self._published.get(topic) == body:
            return  # unchanged: do not wake every display for nothing
        self._published[topic] = body
        self.client.publish(topic, body, qos=protocol.STATE_QOS, retain=True)

    def _load_recent_calls(self) -> list[dict]:
        rows = self.store.db.execute(
            "SELECT data FROM events WHERE type IN ('ticket_called', 'ticket_recalled') "
            "ORDER BY seq DESC LIMIT ?", [protocol.RECENT_CALLS]).fetchall()
        out = []
        for (data,) in reversed(rows):
            ev = json.loads(data)
            try:
                out.append(protocol.call_view(self.engine, protocol.call_of_event(ev)))
            except KeyError:
                continue  # a counter since removed from the site file
        return out


class _PadBatch:
    """What one batch does to the pads, applied only once the batch is on disk."""

    def __init__(self, prompts: dict[int, rt.Prompt]):
        self.prompts = prompts                          # counter -> open prompt, after the batch
        self.known = {p.id: p for p in prompts.values()}
        self.prompt_rows: dict[str, dict] = {}          # prompt rows to write (new or ended)
        self.ratings: dict[str, dict] = {}              # rating id -> new row
        self.counted_tickets: set[int] = set()
        self.acks: list[tuple[int, str, str]] = []      # (counter, rating id, status)
        self.changed: set[int] = set()                  # counters whose prompt changed

    def end(self, prompt: rt.Prompt, why: str) -> None:
        self.prompt_rows[prompt.id] = {**prompt.as_row(), "ended": why}


def run_centre(site: Site) -> None:
    service = CentreService(site)
    log.info("centre for %s (%s): database %s", site.name, site.id, service.store.path)
    try:
        service.run_forever()
    except KeyboardInterrupt:
        pass

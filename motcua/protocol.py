"""The MQTT protocol: every topic name and payload shape, in one place.

docs/protocol.md describes the same things for people; a screen or device
never builds a topic string by hand, it asks `Topics`.

Payloads are UTF-8 JSON objects carrying `"v": SCHEMA_VERSION`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .schema import Field, Invalid, Schema, Wording
from .timefmt import utc_iso

SCHEMA_VERSION = 1
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
DEVICE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
RECENT_CALLS = 10  # calls kept in the retained hall summary
NEXT_TICKETS = 10  # waiting tickets listed in a service's retained state, in queue order
# What a device accepts from the centre (the hall summary grows with the site);
# the broker's max_packet_size (broker_config/mosquitto.conf.in) is the same.
MAX_STATE_BYTES = 262144
# QoS of what the centre publishes (docs/protocol.md, "QoS"). Replies and retained
# state go at QoS 0: a device's session is clean, so QoS 1 kept nothing for a
# device that was away, and what a dropped connection loses comes back anyway (a
# device asks again with the same request id; the centre republishes all state on
# reconnect and the broker hands retained state to every new subscription). It
# spares the centre a PUBACK per message: 30% more tickets per second. Events
# (calls, tickets), acknowledgements to pads and availability stay at QoS 1.
REPLY_QOS = 0
STATE_QOS = 0
EVENT_QOS = 1


class ProtocolError(ValueError):
    """A message we cannot accept; the text is the reason that gets logged."""


class Topics:
    """Topic names for one site: motcua/<site>/..."""

    def __init__(self, site_id: str):
        self.root = f"motcua/{site_id}"

    # availability (retained, with a Last Will of "offline")
    @property
    def centre_availability(self) -> str:
        return f"{self.root}/centre/availability"

    def device_availability(self, device: str) -> str:
        return f"{self.root}/device/{device}/availability"

    # request / reply
    def request(self, device: str) -> str:
        return f"{self.root}/request/{device}"

    @property
    def request_all(self) -> str:
        return f"{self.root}/request/+"

    def reply(self, device: str) -> str:
        return f"{self.root}/reply/{device}"

    # retained state
    def counter_state(self, counter: int) -> str:
        return f"{self.root}/state/counter/{counter}"

    @property
    def counter_state_all(self) -> str:
        return f"{self.root}/state/counter/+"

    def service_state(self, service: str) -> str:
        return f"{self.root}/state/service/{service}"

    @property
    def service_state_all(self) -> str:
        return f"{self.root}/state/service/+"

    @property
    def hall_state(self) -> str:
        return f"{self.root}/state/hall"

    # events (not retained, QoS 1)
    @property
    def call_event(self) -> str:
        return f"{self.root}/event/call"

    @property
    def ticket_event(self) -> str:
        return f"{self.root}/event/ticket"

    @property
    def catalogue_version(self) -> str:
        """Retained: the procedure catalogue's version; kiosks sync when it changes."""
        return f"{self.root}/catalogue/version"

    @property
    def ship_link(self) -> str:
        """On the provincial broker: `1` while the centre's bridge is up, `0` (its will) once down."""
        return f"{self.root}/ship/link"

    @property
    def notice(self) -> str:
        return f"{self.root}/notice"

    def pad(self, counter: int) -> str:
        """Retained: the rating pad's prompt at a counter, or none (issue 5)."""
        return f"{self.root}/pad/{counter}"

    def pad_ack(self, counter: int) -> str:
        """The centre has stored a rating from the pad at this counter."""
        return f"{self.root}/pad/{counter}/ack"

    @property
    def ratings_state(self) -> str:
        """Retained: today's satisfaction tallies."""
        return f"{self.root}/state/ratings"

    # device-originated streams
    def rating(self, counter: int) -> str:
        return f"{self.root}/rating/{counter}"

    @property
    def rating_all(self) -> str:
        return f"{self.root}/rating/+"

    def alert(self, device: str) -> str:
        return f"{self.root}/alert/{device}"

    @property
    def alert_all(self) -> str:
        return f"{self.root}/alert/+"

    def device_of(self, topic: str, kind: str) -> str:
        """The device id in a `<root>/<kind>/<device>` topic (the broker's ACL
        guarantees it is the publisher's own user name)."""
        prefix = f"{self.root}/{kind}/"
        if not topic.startswith(prefix):
            raise ProtocolError(f"topic {topic!r} is not under {prefix}")
        device = topic[len(prefix):]
        if not DEVICE_ID_RE.match(device):
            raise ProtocolError(f"bad device id in topic {topic!r}")
        return device


# -- payloads -------------------------------------------------------------------

def encode(payload: dict) -> bytes:
    return json.dumps({"v": SCHEMA_VERSION, **payload}, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def decode(raw: bytes, max_bytes: int) -> dict:
    """Parse a JSON object payload with our schema version, or raise ProtocolError."""
    if len(raw) > max_bytes:
        raise ProtocolError(f"payload of {len(raw)} bytes is over the {max_bytes}-byte limit")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProtocolError("payload is not UTF-8") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"payload is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"payload must be a JSON object, not {type(data).__name__}")
    # exactly the integer 1: `true` and `1.0` equal 1 in Python but are not version 1
    if type(data.get("v")) is not int or data.get("v") != SCHEMA_VERSION:
        raise ProtocolError(f"schema version {data.get('v')!r} is not {SCHEMA_VERSION}; "
                            "update the device's software")
    return data


def availability(online: bool, **extra) -> bytes:
    """{"state": "online"|"offline"}; a device may add its own fields (a pad
    bridge: "pad": "connected"|"disconnected")."""
    return encode({"state": "online" if online else "offline", **extra})


# Argument shapes of each request operation: name -> Field (type, required; it
# unpacks as that pair, the two columns docs/protocol.md shows). Every text
# argument is at most MAX_ARG_CHARS long; unknown arguments are refused.
MAX_ARG_CHARS = 500
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_DAY_SAYS = {"no_match": "argument 'day' must be written YYYY-MM-DD"}
_ARG_WORDING = Wording(unknown="{context} takes no argument {key!r}",
                       missing="{context} needs argument {name!r}",
                       wrong_type="argument {name!r} of {context} has the wrong type",
                       too_long="argument {name!r} is too long")


def _arg(kind: type | tuple, required: bool = False, **kw) -> Field:
    return Field(kind, required=required, max_len=MAX_ARG_CHARS, **kw)


def _args(**fields: Field) -> Schema:
    return Schema(fields, unknown="refuse", wording=_ARG_WORDING)


_COUNTER = {"counter": _arg(int, True)}
_TEXT_OR_NULL = (str, type(None))
OPERATIONS: dict[str, Schema] = {
    "ticket.issue": _args(service=_arg(str, True), priority=_arg(_TEXT_OR_NULL)),
    "ticket.status": _args(ticket=_arg(str, True), day=_arg(str, pattern=DAY_RE, says={
        "no_match": "argument 'day' must be written YYYY-MM-DD"})),
    # The officer must be registered (officer.add); `pin` travels sealed (SEALED_ARGUMENTS).
    "counter.sign_in": _args(**_COUNTER, officer=_arg(str, True), pin=_arg(str, True)),
    "counter.next": _args(**_COUNTER),
    "counter.call": _args(**_COUNTER, ticket=_arg(str, True)),
    "counter.recall": _args(**_COUNTER),
    "counter.start": _args(**_COUNTER),
    "counter.done": _args(**_COUNTER),
    "counter.no_show": _args(**_COUNTER),
    "counter.transfer": _args(**_COUNTER, service=_arg(str, True)),
    "counter.pause": _args(**_COUNTER, reason=_arg(str, True), public=_arg(bool)),
    "counter.resume": _args(**_COUNTER),
    "counter.close": _args(**_COUNTER),
    # The dossier received or returned during the visit (issue 12): its code, or the
    # receipt's QR text as the counter's scanner reads it.
    "counter.attach_dossier": _args(**_COUNTER, code=_arg(str, True)),
    "counter.detach_dossier": _args(**_COUNTER, code=_arg(str, True)),
    # A citizen's dossier, from a scanned receipt QR or a typed code with its lookup code.
    "dossier.status": _args(qr=_arg(str), code=_arg(str), lookup=_arg(str)),
    # The integration point for the one-stop software: one status update.
    "dossier.update": _args(code=_arg(str, True), status=_arg(str, True), at=_arg(str, True),
                            note=_arg(_TEXT_OR_NULL), due_at=_arg(_TEXT_OR_NULL),
                            apology=_arg((dict, type(None)))),
    # One page of the procedure catalogue, for a kiosk's local copy.
    "catalogue.page": _args(page=_arg(int, True), version=_arg(str, True)),
    # The officers' register (issue 12), the admin's only.
    "officer.add": _args(officer=_arg(str, True), name=_arg(str, True), pin=_arg(str, True)),
    "officer.reset_pin": _args(officer=_arg(str, True), pin=_arg(str, True)),
    "officer.unlock": _args(officer=_arg(str, True)),
    "officer.list": _args(),
    # Numbers taken from afar and bookings (issue 14): the web service asks for them
    # for a citizen's phone; the kiosk and the counter check them in. `token`: the
    # signed token of the link in the QR (motcua.web_tokens), or the link itself.
    "ticket.reserve": _args(service=_arg(str, True), phone=_arg(str, True)),
    "ticket.check_in": _args(token=_arg(str), ticket=_arg(str)),
    "booking.slots": _args(service=_arg(str, True), day=_arg(str, pattern=DAY_RE, says=_DAY_SAYS)),
    "booking.create": _args(service=_arg(str, True), day=_arg(str, True, pattern=DAY_RE, says=_DAY_SAYS),
                            time=_arg(str, True, pattern=TIME_RE, says={
                                "no_match": "argument 'time' must be a slot's start, written HH:MM"}),
                            phone=_arg(str, True)),
    "booking.get": _args(booking=_arg(int, True)),
    "booking.cancel": _args(booking=_arg(int, True), phone=_arg(str), reason=_arg(str)),
    "booking.check_in": _args(token=_arg(str), booking=_arg(int)),
}
# Arguments that never travel in clear: DeviceClient.request seals them with the
# device's own password for that request id (motcua.officers.seal_pin), the
# centre opens them; neither a reply, a log line nor the store ever holds them.
SEALED_ARGUMENTS = {"counter.sign_in": "pin", "officer.add": "pin", "officer.reset_pin": "pin"}
# Reads whose answers are not kept for repeated ids: asking again is harmless,
# and a catalogue page is too big to store once per kiosk and sync.
UNREMEMBERED_OPERATIONS = {"catalogue.page", "officer.list",
                           # the web service's reads, asked at every page view (7 days of slots ~10 KB)
                           "booking.slots", "booking.get"}
# A catalogue page stays well under the broker's max_packet_size (MAX_STATE_BYTES).
CATALOGUE_PAGE_BYTES = 64 * 1024

# Which operations each role may ask for. Counter devices are further held to
# their own counter by the centre; the broker's ACL holds each device to its
# own request topic.
CHECK_IN_OPERATIONS = {"ticket.check_in", "booking.check_in"}
# The citizen's phone (motcua web, docs/web.md): never a check-in (the citizen must be there).
WEB_OPERATIONS = {"ticket.reserve", "ticket.status", "booking.slots", "booking.create", "booking.get",
                  "booking.cancel", "dossier.status", "catalogue.page"}
ROLE_OPERATIONS = {
    "kiosk": {"ticket.issue", "ticket.status", "dossier.status", "catalogue.page"} | CHECK_IN_OPERATIONS,
    "integration": {"dossier.update"},
    "counter": {op for op in OPERATIONS if op.startswith("counter.")} | {"ticket.status"} | CHECK_IN_OPERATIONS,
    "web": WEB_OPERATIONS,
    "admin": set(OPERATIONS),
    "display": set(),
    "pad": set(),
    "centre": set(),
}


@dataclass(frozen=True)
class Request:
    device: str
    id: str
    op: str
    args: dict[str, Any]


def request(op: str, request_id: str, **args) -> bytes:
    if op not in OPERATIONS:
        raise ProtocolError(f"unknown operation {op!r}")
    return encode({"id": request_id, "op": op, "args": args})


def request_id_of(data: dict) -> str:
    request_id = data.get("id")
    if not isinstance(request_id, str) or not REQUEST_ID_RE.match(request_id):
        raise ProtocolError("request has no valid 'id' (1-64 of A-Z a-z 0-9 _ . : -)")
    return request_id


def parse_request(device: str, data: dict) -> Request:
    """Check a decoded request. The id is checked first so that later errors can
    be answered to the device instead of leaving it to time out."""
    request_id = request_id_of(data)
    op = data.get("op")
    if op not in OPERATIONS:
        raise BadRequest(request_id, "unknown_operation", f"unknown operation {op!r}; "
                         f"known: {', '.join(sorted(OPERATIONS))}")
    args = data.get("args", {})
    if not isinstance(args, dict):
        raise BadRequest(request_id, "bad_arguments", "'args' must be a JSON object")
    try:
        OPERATIONS[op].check(args, context=op)
    except Invalid as exc:
        raise BadRequest(request_id, "bad_arguments", exc.message) from None
    return Request(device=device, id=request_id, op=op, args=args)


class BadRequest(ProtocolError):
    """A request we can answer with an error, because its id is known."""

    def __init__(self, request_id: str, code: str, message: str):
        super().__init__(message)
        self.request_id = request_id
        self.code = code
        self.message = message


def reply_ok(request_id: str, result: dict) -> bytes:
    return encode({"id": request_id, "ok": True, "result": result})


def reply_error(request_id: str, code: str, message: str, **details) -> bytes:
    """details: what a screen needs beyond the code (`tries_left`, `locked_until`)."""
    return encode({"id": request_id, "ok": False, "error": {"code": code, "message": message, **details}})


# -- payload builders (the centre's view of the engine, as published) ----------

def ticket_view(engine, ticket, dossiers: list[str] | None = None) -> dict:
    """A ticket as a kiosk or counter shows it, with its place in the queue.
    `dossiers`: its dossier codes, for a ticket of another day (today's are the engine's)."""
    site = engine.site
    svc = site.service(ticket.service)
    ahead = engine.people_ahead(ticket)
    return {
        "id": ticket.id, "ticket": ticket.label, "number": ticket.number, "day": ticket.day,
        "service": svc.code, "service_name_vi": svc.name_vi, "service_name_en": svc.name_en,
        "priority": ticket.priority, "state": ticket.state, "issued_at": ticket.issued_at,
        "called_at": ticket.called_at, "started_at": ticket.started_at,
        "finished_at": ticket.finished_at, "counter": ticket.counter,
        "people_ahead": ahead,
        # a number taken from afar and not checked in: where it would stand if it were now
        "estimated_wait_s": engine.estimated_wait(svc.code, ahead) if ticket.state in ("waiting", "reserved") else 0,
        "counters": engine.serving_counters(svc.code),
        "dossiers": list(engine.state.dossiers.get(ticket.id, ()) if dossiers is None else dossiers),
    }


def reserved_view(engine, ticket) -> dict:
    """ticket.reserve's answer: the ticket and when it lapses if not checked in."""
    return {**ticket_view(engine, ticket), "check_in_by": engine.remote_deadline(ticket)}


def booking_view(engine, booking, ticket: str | None = None) -> dict:
    """A booking as the citizen's page shows it (never its phone). `ticket`: the
    label of the ticket it became at check-in."""
    svc = engine.site.service(booking.service)
    opens, closes = engine.check_in_window(booking)
    return {
        "booking": booking.id, "day": booking.day, "time": booking.time, "ends": booking.ends,
        "service": svc.code, "service_name_vi": svc.name_vi, "service_name_en": svc.name_en,
        "state": booking.state, "created_at": booking.created_at,
        "check_in_from": utc_iso(opens), "check_in_until": utc_iso(closes),
        "checked_in_at": booking.checked_in_at, "ended_at": booking.ended_at, "ticket": ticket,
    }


def slots_view(engine, service: str, days: list[tuple[str, list]]) -> dict:
    """booking.slots' answer: per day, whether the centre is closed then ([web]
    closed_days: no slots), each slot with its capacity, what is free and whether
    it can still be booked (not begun, not full)."""
    svc = engine.site.service(service)
    return {"service": svc.code, "service_name_vi": svc.name_vi, "service_name_en": svc.name_en,
            "days": [{"day": day, "closed": engine.is_closed(day),
                      "slots": [{"time": s.time, "ends": s.ends, "capacity": s.capacity,
                                 "free": max(0, s.capacity - taken), "bookable": bookable}
                                for s, taken, bookable in slots]}
                     for day, slots in days]}


def counter_view(engine, number: int, finished: dict | None = None) -> dict:
    """A counter as its terminal and the displays show it. `finished`: the ticket it
    finished whose rating prompt is still open (finished_ticket_view), else None."""
    c = engine.state.counters[number]
    conf = engine.site.counter(number)
    current = engine.state.tickets.get(c.ticket_id) if c.ticket_id is not None else None
    return {
        "counter": number, "name": conf.name, "state": c.state, "services": list(conf.services),
        "officer": c.officer, "officer_name": c.officer_name,
        "ticket": None if current is None else {
            "ticket": current.label, "service": current.service, "state": current.state,
            "priority": current.priority, "called_at": current.called_at,
            "started_at": current.started_at,
            "dossiers": list(engine.state.dossiers.get(current.id, ()))},
        "finished_ticket": finished,
        "pause_reason": c.pause_reason if c.pause_public else None,
        "served_today": engine.state.served.get(number, 0),
        "updated_at": c.updated_at,
    }


def finished_ticket_view(ticket: str, service: str, dossiers: list[str], until: str) -> dict:
    """The ticket a counter finished while the pad still asks the citizen to rate it
    (until the prompt ends): a dossier scanned now is attached to it."""
    return {"ticket": ticket, "service": service, "dossiers": list(dossiers), "until": until}


def dossier_result(code: str, ticket: str, procedure: tuple[str, str] | None, changed: bool) -> dict:
    """What counter.attach_dossier and counter.detach_dossier add to the counter:
    the dossier, the ticket it went to (or left), its procedure in the centre's
    dossier mirror (null when the mirror does not have the code, yet)."""
    return {"code": code, "ticket": ticket, "known": procedure is not None,
            "procedure_code": procedure[0] if procedure else None,
            "procedure_name": procedure[1] if procedure else None, "changed": changed}


def service_view(engine, code: str) -> dict:
    svc = engine.site.service(code)
    waiting, priority = engine.waiting_counts(code)
    return {
        "service": code, "name_vi": svc.name_vi, "name_en": svc.name_en,
        "waiting": waiting, "waiting_priority": priority,
        # what a citizen taking a number now would wait
        "estimated_wait_s": engine.estimated_wait(code, waiting),
        "open_counters": engine.serving_counters(code, open_only=True),
        "counters": engine.serving_counters(code),
        # the first waiting tickets in queue order (priority tickets first)
        "next_tickets": [{"ticket": t.label, "priority": t.priority} for t in
                         (engine.state.tickets[tid] for _, tid in
                          engine.state.waiting_index().get(code, [])[:NEXT_TICKETS])],
        # numbers from afar and bookings offered for it (the site file's [web])
        "offers": engine.offers(code),
    }


def link_state(payload: bytes | str) -> bool | None:
    """A bridge's notification on `ship/link` (Topics.ship_link): `1` up, `0` down (the
    bridge's will); anything else None, to be ignored (and logged by the reader)."""
    text = payload.decode("ascii", "replace") if isinstance(payload, bytes) else str(payload)
    return {"1": True, "0": False}.get(text.strip())


def call_of_event(event: dict) -> dict:
    from .engine import call_of_event as _call
    return _call(event)


# The state a ticket is in right after each kind of event.
_STATE_AFTER = {"ticket_issued": "waiting", "ticket_called": "called", "ticket_recalled": "called",
                "ticket_started": "serving", "ticket_done": "done", "ticket_no_show": "no_show",
                "ticket_transferred": "waiting", "ticket_expired": "expired",
                "ticket_reserved": "reserved", "ticket_checked_in": "waiting", "ticket_lapsed": "lapsed"}


def ticket_event_view(event: dict) -> dict | None:
    """What a ticket event says, at the event's own time (None for counter events).
    A dossier attached to or detached from a ticket is one too, with its `code`."""
    kind = event["type"]
    if kind in ("dossier_attached", "dossier_detached"):
        return {"event": kind, "id": event["ticket_id"], "ticket": event["ticket"],
                "service": event["service"], "state": event["state"], "counter": event["counter"],
                "officer": event.get("officer"), "at": event["at"], "dossiers": list(event["dossiers"]),
                "code": event["code"]}
    if kind not in _STATE_AFTER:
        return None
    issued = event["ticket"] if kind in ("ticket_issued", "ticket_reserved") else None
    return {"event": kind.removeprefix("ticket_"),
            "id": issued["id"] if issued else event["ticket_id"],
            "ticket": issued["label"] if issued else event["ticket"],
            "service": issued["service"] if issued else event.get("to_service", event["service"]),
            "state": _STATE_AFTER[kind], "counter": event.get("counter"), "officer": event.get("officer"),
            "at": event["at"], "dossiers": list(event.get("dossiers", ()))}


def call_view(engine, call: dict) -> dict:
    return {**call, "counter_name": engine.site.counter(call["counter"]).name}


def hall_view(engine, recent_calls: list[dict], finished: dict[int, dict] | None = None) -> dict:
    """`finished`: counter -> finished_ticket_view, for counters whose pad asks for a rating."""
    site = engine.site
    finished = finished or {}
    return {
        "site": site.id, "name": site.name, "name_en": site.name_en, "day": engine.state.day,
        "call_seq": engine.state.call_seq,
        "counters": [counter_view(engine, c.number, finished.get(c.number)) for c in site.counters],
        "services": [service_view(engine, s.code) for s in site.services],
        "recent_calls": recent_calls[-RECENT_CALLS:][::-1],  # newest first
    }


# -- codes printed as QR -------------------------------------------------------------

TICKET_QR_PREFIX = "MOTCUA-T"


def ticket_qr_text(site_id: str, day: str, label: str) -> str:
    """The QR on a printed ticket: enough for a kiosk to ask for that ticket's place."""
    return f"{TICKET_QR_PREFIX}:{site_id}:{day}:{label}"


def parse_ticket_qr(text: str) -> tuple[str, str, str] | None:
    """(site, day, label) from a ticket QR, or None if the text is not one."""
    parts = text.strip().split(":")
    if len(parts) != 4 or parts[0] != TICKET_QR_PREFIX:
        return None
    site, day, label = parts[1:]
    if not (DEVICE_ID_RE.match(site) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", day)
            and re.fullmatch(r"[A-Z]{0,3}\d{1,6}", label)):
        return None
    return site, day, label


def catalogue_pages(records: list[dict], max_bytes: int = CATALOGUE_PAGE_BYTES) -> list[list[dict]]:
    """Split the catalogue into pages of at most `max_bytes` of JSON each (a
    procedure bigger than that gets a page of its own)."""
    pages: list[list[dict]] = [[]]
    size = 0
    for record in records:
        n = len(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")) + 1
        if pages[-1] and size + n > max_bytes:
            pages.append([])
            size = 0
        pages[-1].append(record)
        size += n
    return pages if pages[-1] else []


def catalogue_version_view(version: str, count: int, pages: int) -> dict:
    return {"version": version, "count": count, "pages": pages}


def alert(kind: str, code: str, message: str, **details) -> bytes:
    """A device tells the staff something needs a person (printer out of paper…)."""
    return encode({"kind": kind, "code": code, "message": message, **details})

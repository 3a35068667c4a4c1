"""What the hub accepts from a centre, and how far it acknowledges: pure rules,
no broker and no database (docs/province.md, "A batch" and "The hub").

- `parse_batch(topic, payload)` checks a batch against the contract: `v` 1, the
  `centre` its topic names, `first`..`last` with no gap, at most 500 records,
  every kind known and every body the shape of its kind (key fields present,
  each known field of its column's type). A batch that fails is refused whole
  (`BatchRefused`, saying why); the hub logs it and never acknowledges it.
- `CITIZEN_KEYS` a body must not carry (the centre leaves them out; the hub
  drops them if one ever comes, and says so).
- A private pause's reason (`scrub_private_pause`): a centre of before its
  migration 11 ships a counter's `pause_reason` and the `counter_paused`
  event's `data.reason` even when the officer did not make the pause public;
  the hub stores them as null (the store does the same in SQL).
- `advance(acked, stored)`: the new acknowledgement, the end of the run of
  stored sequence numbers that follows `acked` with no gap.

The checks are written out by hand rather than with motcua.schema: they run
for every record, 20,000 times a second at full speed.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

VERSION = 1
MAX_RECORDS = 500
CENTRE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")   # a site id (motcua.config.SITE_ID_RE)
TOPIC_RE = re.compile(r"^motcua/([^/]+)/ship/(batch|link|ack|live)$")
INT64 = 2 ** 63

# Keys that could name a citizen or carry free text about one: the dossier's
# name and documents, the free text of steps and apologies, and the names an
# export gives the citizen's ID number. The centre never ships them
# (docs/province.md); if a body has one all the same, the hub drops it before
# anything is stored.
# (The ID names are motcua.dossiers.records.ID_FIELDS, written out so that this
# module loads nothing of the dossiers' storage; a unit test keeps them equal.)
# A phone (issue 14: the one personal datum a centre keeps, in `phones`, never
# shipped) is dropped the same way.
CITIZEN_KEYS = ("applicant_name", "documents", "note", "reason", "applicant_id", "applicant_id_number",
                "id_number", "cccd", "cmnd", "so_cccd", "so_giay_to", "phone")

INT, TEXT, REAL, ANY = "int", "text", "real", "any"


@dataclass(frozen=True)
class Kind:
    """A kind of record: the table it lands in and its body's fields (the
    centre's columns, docs/province.md), keys first."""
    name: str
    table: str
    keys: tuple[str, ...]
    fields: dict[str, str]


def _kind(kind: str, table: str, keys: tuple[str, ...], **fields: str) -> Kind:
    return Kind(kind, table, keys, fields)


# The column types are the centre's (motcua.migrations); the hub's tables
# (motcua.province.store) have the same columns.
KINDS: dict[str, Kind] = {k.name: k for k in (
    _kind("event", "events", ("seq",), seq=INT, at=TEXT, type=TEXT, ticket_id=INT, counter=INT, data=ANY),
    _kind("ticket", "tickets", ("id",), id=INT, day=TEXT, service=TEXT, number=INT, label=TEXT,
          priority=TEXT, state=TEXT, issued_at=TEXT, order_at=TEXT, device=TEXT, called_at=TEXT,
          first_called_at=TEXT, started_at=TEXT, finished_at=TEXT, counter=INT, officer=TEXT,
          recalls=INT, transfers=INT, original_service=TEXT,
          origin=TEXT, booking=INT, checked_in_at=TEXT),            # (the centre's schema 10, issue 14)
    _kind("counter", "counters", ("number",), number=INT, state=TEXT, officer=TEXT, officer_name=TEXT,
          ticket_id=INT, pause_reason=TEXT, pause_public=INT, priority_run=INT, updated_at=TEXT,
          booking_run=INT),
    _kind("rating", "ratings", ("rating_id",), rating_id=TEXT, pad=TEXT, boot=INT, seq=INT, counter=INT,
          prompt=TEXT, status=TEXT, ticket_id=INT, ticket=TEXT, officer=TEXT, service=TEXT, level=INT,
          level_code=TEXT, weight=REAL, pressed_at=TEXT, received_at=TEXT, day=TEXT, hour=INT,
          dossiers=ANY),
    _kind("ticket_dossier", "ticket_dossiers", ("ticket_id", "code"), ticket_id=INT, code=TEXT,
          procedure_code=TEXT, counter=INT, officer=TEXT, attached_at=TEXT),
    _kind("dossier", "dossiers", ("code",), code=TEXT, procedure_code=TEXT, procedure_name=TEXT,
          field=TEXT, received_at=TEXT, due_at=TEXT, status=TEXT),
    _kind("dossier_step", "dossier_steps", ("code", "seq"), code=TEXT, seq=INT, step=TEXT, at=TEXT),
    _kind("apology", "dossier_apologies", ("code",), code=TEXT, new_due_at=TEXT, issued_at=TEXT),
    _kind("site", "sites", ("id",), id=TEXT, name=TEXT, timezone=TEXT),
    _kind("booking", "bookings", ("id",), id=INT, day=TEXT, service=TEXT, time=TEXT, ends=TEXT, state=TEXT,
          created_at=TEXT, device=TEXT, ticket_id=INT, checked_in_at=TEXT, ended_at=TEXT),
)}


class BatchRefused(ValueError):
    """A batch that breaks the contract; the message says what and where."""


@dataclass(frozen=True)
class Batch:
    centre: str
    first: int
    last: int
    records: list            # [{"seq", "kind", "body"}] as received
    citizen_keys: int = 0    # how many CITIZEN_KEYS the bodies carried (dropped when stored)

    def __len__(self) -> int:
        return self.last - self.first + 1


def topic_centre(topic: str, leaf: str = "batch") -> str | None:
    """The centre a `motcua/<centre>/ship/<leaf>` topic names, or None."""
    m = TOPIC_RE.match(topic)
    return m[1] if m and m[2] == leaf else None


def ack_topic(centre: str) -> str:
    return f"motcua/{centre}/ship/ack"


def ack_payload(centre: str, acked: int, at: datetime | None = None) -> bytes:
    at = at or datetime.now(timezone.utc)
    return json.dumps({"v": VERSION, "centre": centre, "acked": acked,
                       "at": at.astimezone(timezone.utc).isoformat(timespec="milliseconds")},
                      separators=(",", ":")).encode()


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _is_int(v) -> bool:
    return type(v) is int and -INT64 <= v < INT64


def _field_problem(v, t: str) -> str | None:
    if v is None or t == ANY:
        return None
    if t == TEXT:
        if type(v) is not str:
            return f"must be text, not {type(v).__name__}"
        if "\x00" in v:
            return "contains a NUL character"
        return None
    if t == INT:
        return None if _is_int(v) else f"must be a whole number (64 bits), not {v!r}"
    if t == REAL:
        return None if (type(v) in (int, float)) else f"must be a number, not {v!r}"
    return None  # pragma: no cover - every type is above


def check_body(kind: Kind, body) -> str | None:
    """What is wrong with a record's body, or None."""
    if type(body) is not dict:
        return "body must be a JSON object"
    for key in kind.keys:
        if body.get(key) is None:
            return f"body has no {key} (the {kind.name}'s key)"
    fields = kind.fields
    for key, value in body.items():
        t = fields.get(key)
        if t is not None:
            problem = _field_problem(value, t)
            if problem:
                return f"body.{key} {problem}"
        elif type(value) is str and "\x00" in value:
            return f"body.{key} contains a NUL character"
    return None


def parse_batch(topic: str, payload: bytes | str) -> Batch:
    """A batch read from `topic`, checked against the contract (BatchRefused if not)."""
    centre = topic_centre(topic, "batch")
    if centre is None or not CENTRE_RE.match(centre):
        raise BatchRefused(f"topic {topic!r} is not motcua/<centre>/ship/batch with a centre's site id")
    try:
        data = json.loads(payload, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BatchRefused(f"not JSON: {exc}") from None
    if type(data) is not dict:
        raise BatchRefused("a batch must be a JSON object")
    if data.get("v") != VERSION or type(data.get("v")) is not int:
        raise BatchRefused(f"v must be {VERSION}, not {data.get('v')!r} (a newer centre? upgrade the hub)")
    if data.get("centre") != centre:
        raise BatchRefused(f"centre {data.get('centre')!r} is not the topic's centre {centre!r}")
    first, last, records = data.get("first"), data.get("last"), data.get("records")
    if not _is_int(first) or not _is_int(last) or first < 1 or last < first:
        raise BatchRefused(f"first and last must be whole numbers with 1 <= first <= last, "
                           f"not {first!r} and {last!r}")
    if type(records) is not list:
        raise BatchRefused("records must be a list")
    if len(records) != last - first + 1:
        raise BatchRefused(f"first {first} .. last {last} is {last - first + 1} records, "
                           f"but the batch has {len(records)}")
    if len(records) > MAX_RECORDS:
        raise BatchRefused(f"{len(records)} records; a batch holds at most {MAX_RECORDS}")
    citizen = 0
    for i, r in enumerate(records):
        seq = first + i
        if type(r) is not dict:
            raise BatchRefused(f"record {i} is not a JSON object")
        if r.get("seq") != seq or type(r.get("seq")) is not int:
            raise BatchRefused(f"record {i} has seq {r.get('seq')!r}, expected {seq} "
                               "(records run first .. last with no gap)")
        kind = KINDS.get(r.get("kind"))
        if kind is None:
            raise BatchRefused(f"record {seq}: unknown kind {r.get('kind')!r}; "
                               f"the kinds are {', '.join(KINDS)}")
        body = r.get("body")
        problem = check_body(kind, body)
        if problem:
            raise BatchRefused(f"record {seq} ({kind.name}): {problem}")
        for key in CITIZEN_KEYS:
            if key in body:
                citizen += 1
    return Batch(centre, first, last, records, citizen)


def clean_body(body: dict) -> dict:
    """The body without CITIZEN_KEYS (the store does the same in SQL)."""
    return {k: v for k, v in body.items() if k not in CITIZEN_KEYS}


def is_public(value) -> bool:
    """A pause's `pause_public` / `public` as a centre ships it (1 or true)."""
    return value is True or (type(value) in (int, float) and value != 0)


def scrub_private_pause(kind: str, body: dict) -> dict:
    """The body with a private pause's reason set to null: a counter's pause_reason
    unless pause_public, a counter_paused event's data.reason unless data.public
    (the store does the same in SQL: store.scrub_private_pause_sql)."""
    if kind == "counter" and body.get("pause_reason") is not None and not is_public(body.get("pause_public")):
        return {**body, "pause_reason": None}
    data = body.get("data")
    if (kind == "event" and body.get("type") == "counter_paused" and type(data) is dict
            and data.get("reason") is not None and not is_public(data.get("public"))):
        return {**body, "data": {**data, "reason": None}}
    return body


def advance(acked: int, stored: Iterable[int]) -> int:
    """The acknowledgement after `acked`: the end of the run acked+1, acked+2, …
    of stored sequence numbers. A number after a gap waits for the gap."""
    for seq in sorted(s for s in set(stored) if s > acked):
        if seq != acked + 1:
            break
        acked = seq
    return acked

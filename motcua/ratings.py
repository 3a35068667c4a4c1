"""Satisfaction ratings: the pure rules (no MQTT, no database, no clock).

When a ticket is finished (`ticket_done`) at a counter that has a rating pad,
the centre opens a *prompt* for that counter: the pad lights its buttons for
the citizen who just left the counter. A rating the pad's bridge sends binds to
the ticket of the prompt it answers:

* `counted`: it answers a prompt the centre opened for this counter, pressed
  before the prompt expired, and the ticket has no counted rating yet;
* `duplicate`: it answers a prompt whose ticket already has a counted rating
  (e.g. a pad reset between two presses); kept, not counted;
* `unprompted`: no prompt (`null`), a prompt the centre does not know, one of
  another counter, or one pressed after its expiry; kept apart, not counted.

The same rating id (pad device, boot id, sequence number) delivered twice is
one rating: the store keeps the first and the centre acknowledges both copies.
Ratings carry no citizen data: the ticket number, counter, officer and service,
and the codes of the dossiers the officer attached to the ticket (received or
returned at that visit), as they were when the rating was bound: official
satisfaction scoring counts per dossier (Quyết định 766/QĐ-TTg).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from .timefmt import utc_iso

COUNTED = "counted"
DUPLICATE = "duplicate"
UNPROMPTED = "unprompted"
STATUSES = (COUNTED, DUPLICATE, UNPROMPTED)

DEFAULT_PROMPT_TIMEOUT_S = 60
# A press a little after the expiry still counts: the pad's and the centre's
# clocks and the bridge's arithmetic (arrival - age) are not exact.
EXPIRY_GRACE = timedelta(seconds=2)
RATING_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,16}:[0-9]{1,5}:[0-9]{1,10}$")
PROMPT_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,16}$")


_utc = utc_iso


class RatingError(ValueError):
    """A rating payload the centre cannot take (logged and dropped, never acknowledged)."""


def rating_id(pad_device: str, boot: int, seq: int) -> str:
    """One press, for ever: the pad's own id, its boot id and its sequence number."""
    return f"{pad_device}:{boot}:{seq}"


def prompt_id(ticket_id: int, finished_at: datetime) -> str:
    """Unique per prompt and at most 16 characters (the pad's id field): the
    ticket id and the second of the day it finished, so a database started
    afresh does not give a pad a prompt id it already answered."""
    secs = finished_at.hour * 3600 + finished_at.minute * 60 + finished_at.second
    return f"T{ticket_id}.{secs}"[:16]


@dataclass(frozen=True)
class Prompt:
    """An open invitation to rate one finished ticket at one counter."""
    id: str
    counter: int
    ticket_id: int
    ticket: str
    day: str
    service: str
    officer: str | None
    issued_at: datetime
    expires_at: datetime

    def as_row(self) -> dict:
        return {"id": self.id, "counter": self.counter, "ticket_id": self.ticket_id,
                "ticket": self.ticket, "day": self.day, "service": self.service,
                "officer": self.officer, "issued_at": _utc(self.issued_at),
                "expires_at": _utc(self.expires_at), "ended": None}

    @classmethod
    def from_row(cls, row: dict) -> "Prompt":
        return cls(id=row["id"], counter=row["counter"], ticket_id=row["ticket_id"], ticket=row["ticket"],
                   day=row["day"], service=row["service"], officer=row["officer"],
                   issued_at=datetime.fromisoformat(row["issued_at"]),
                   expires_at=datetime.fromisoformat(row["expires_at"]))

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def open_prompt(done_event: dict, ticket, finished_at: datetime, timeout_s: float) -> Prompt:
    """The prompt for a `ticket_done` event (ticket: the engine's Ticket)."""
    return Prompt(id=prompt_id(ticket.id, finished_at), counter=done_event["counter"],
                  ticket_id=ticket.id, ticket=ticket.label, day=ticket.day, service=ticket.service,
                  officer=done_event.get("officer"), issued_at=finished_at,
                  expires_at=finished_at + timedelta(seconds=timeout_s))


def prompt_view(prompt: Prompt | None, counter: int, levels) -> dict:
    """The retained payload of pad/<counter>: the prompt, or `"prompt": null`."""
    if prompt is None:
        return {"counter": counter, "prompt": None}
    return {"counter": counter, "prompt": prompt.id, "ticket_id": prompt.ticket_id,
            "ticket": prompt.ticket, "service": prompt.service, "officer": prompt.officer,
            "levels": [lv.code for lv in levels],
            "issued_at": _utc(prompt.issued_at), "expires_at": _utc(prompt.expires_at),
            "timeout_s": max(1, round((prompt.expires_at - prompt.issued_at).total_seconds()))}


@dataclass(frozen=True)
class IncomingRating:
    id: str
    pad: str
    boot: int
    seq: int
    prompt: str | None
    level: int
    pressed_at: datetime


def parse_rating(data: dict, levels: int) -> IncomingRating:
    """Check a decoded rating payload; raises RatingError."""
    def need(name, kinds):
        value = data.get(name)
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise RatingError(f"rating field {name!r} is missing or of the wrong type")
        return value
    rid = need("rating", str)
    if not RATING_ID_RE.match(rid):
        raise RatingError(f"rating id {rid!r} is not <pad>:<boot>:<seq>")
    pad, boot, seq = need("pad", str), need("boot", int), need("seq", int)
    if rid != rating_id(pad, boot, seq):
        raise RatingError(f"rating id {rid!r} does not match pad, boot and seq")
    level = need("level", int)
    if not 1 <= level <= levels:
        raise RatingError(f"level {level} is not between 1 and {levels}")
    prompt = data.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or not PROMPT_ID_RE.match(prompt)):
        raise RatingError(f"prompt {prompt!r} is not a prompt id or null")
    try:
        pressed_at = datetime.fromisoformat(need("pressed_at", str))
    except ValueError:
        raise RatingError("pressed_at is not an ISO 8601 time") from None
    if pressed_at.tzinfo is None:
        raise RatingError("pressed_at has no time zone")
    return IncomingRating(id=rid, pad=pad, boot=boot, seq=seq, prompt=prompt, level=level,
                          pressed_at=pressed_at)


def bind(rating: IncomingRating, counter: int, prompt: Prompt | None, ticket_rated: bool) -> str:
    """The status of a new rating at `counter`. `prompt` is the centre's prompt
    with the rating's prompt id (None if unknown); `ticket_rated` whether that
    prompt's ticket already has a counted rating."""
    if rating.prompt is None or prompt is None or prompt.counter != counter:
        return UNPROMPTED
    if rating.pressed_at > prompt.expires_at + EXPIRY_GRACE:
        return UNPROMPTED
    return DUPLICATE if ticket_rated else COUNTED


def rating_row(rating: IncomingRating, counter: int, status: str, prompt: Prompt | None,
               levels, received_at: datetime, local_day: str, local_hour: int,
               dossiers: Iterable[str] = ()) -> dict:
    """The stored row: what was pressed, for which ticket, officer and service.
    `dossiers`: the codes attached to the prompt's ticket now; a bound rating
    (counted or duplicate) keeps them as a JSON list, `dossiers` NULL otherwise
    (unprompted, or a ticket without a dossier: never an empty list)."""
    level = levels[rating.level - 1]
    bound = prompt if status != UNPROMPTED else None
    codes = list(dossiers) if bound else []
    return {
        "rating_id": rating.id, "pad": rating.pad, "boot": rating.boot, "seq": rating.seq,
        "counter": counter, "prompt": rating.prompt, "status": status,
        "ticket_id": bound.ticket_id if bound else None, "ticket": bound.ticket if bound else None,
        "officer": bound.officer if bound else None, "service": bound.service if bound else None,
        "level": rating.level, "level_code": level.code, "weight": level.weight,
        "pressed_at": _utc(rating.pressed_at), "received_at": _utc(received_at),
        "day": local_day, "hour": local_hour,
        "dossiers": json.dumps(codes) if codes else None,
    }


def _bucket(levels) -> dict:
    return {"count": 0, "levels": [0] * len(levels), "index": None}


def satisfied_share(level_counts) -> float | None:
    """Share satisfied, 0..100: the two most satisfied levels (levels are listed
    from most to least satisfied) over all counted ratings; None without any."""
    total = sum(level_counts)
    if not total:
        return None
    return 100.0 * sum(level_counts[:2]) / total


def tally(rows: Iterable[dict], levels, day: str) -> dict:
    """Today's figures from the day's rating rows (counted ones make the index;
    the others are only counted apart). index = mean weight, 0..100."""
    out = {"day": day, "levels": [lv.code for lv in levels], "counted": 0, "duplicate": 0,
           "unprompted": 0, "index": None, "by_counter": {}, "by_officer": {}, "by_service": {},
           "by_hour": {}}
    sums: dict[int, float] = {}
    total = _bucket(levels)
    for r in rows:
        out[r["status"]] += 1
        if r["status"] != COUNTED:
            continue
        buckets = [total]
        for key, value in (("by_counter", r["counter"]), ("by_officer", r["officer"]),
                           ("by_service", r["service"]), ("by_hour", r["hour"])):
            if value is None:
                continue
            name = f"{value:02d}" if key == "by_hour" else str(value)
            buckets.append(out[key].setdefault(name, _bucket(levels)))
        for b in buckets:
            b["count"] += 1
            b["levels"][r["level"] - 1] += 1
            sums[id(b)] = sums.get(id(b), 0.0) + r["weight"]
    for b in [total, *(b for key in ("by_counter", "by_officer", "by_service", "by_hour")
                       for b in out[key].values())]:
        if b["count"]:
            b["index"] = round(sums[id(b)] / b["count"], 1)
    out["index"] = total["index"]
    return out

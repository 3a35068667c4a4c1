"""The queue engine: pure rules, no I/O.

Every command checks the current state and returns the events it causes; the
state changes only by applying events (`apply`). The same `apply` rebuilds the
state from the stored event log, so history can be replayed and reported on.

Times are aware datetimes; the business day is the local date in the site's
time zone (Asia/Ho_Chi_Minh), so numbering restarts at local midnight.
"""
from __future__ import annotations

import bisect
import heapq
import statistics
from collections import deque
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from . import bookings as bk
from .bookings import Booking
from .config import Site
from .dossiers.codes import counter_code
from .dossiers.model import DossierError
from .officers import OFFICER_EVENTS
from .timefmt import parse_iso, utc_iso  # noqa: F401  (parse_iso: re-exported for the engine's callers)

# `reserved`: a number taken from afar, not in the queue until checked in (issue 14);
# `lapsed`: one not checked in within [web] remote_window_min, ended like a no-show.
ACTIVE = ("reserved", "waiting", "called", "serving")
FINISHED = ("done", "no_show", "expired", "lapsed")
MAX_TEXT = 200
# Dossiers on one ticket at most: a visit seldom has more than a few, and a scanner
# stuck in a loop must not fill a ticket.
MAX_DOSSIERS = 20
DOSSIER_EVENTS = ("dossier_attached", "dossier_detached")
# Numbers taken from afar and bookings (issue 14): the events that change when
# something lapses next (Engine._next_lapse).
BOOKING_EVENTS = ("booking_created", "booking_cancelled", "booking_checked_in", "booking_lapsed")
HOLD_EVENTS = BOOKING_EVENTS + ("ticket_reserved", "ticket_checked_in", "ticket_lapsed", "day_started")


class QueueError(Exception):
    """A command the rules refuse. `code` is stable (screens translate it); the
    message says what to do. `details` go into the reply's error (a refusal a
    citizen reads on the phone carries `message_vi`, and a limit its `limit`)."""

    def __init__(self, code: str, message: str, **details):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


iso = utc_iso  # the name the engine's callers know


@dataclass
class Ticket:
    id: int
    day: str
    service: str
    number: int
    label: str
    priority: str | None
    state: str
    issued_at: str
    order_at: str  # place in the queue: the original issue time, kept across transfers
    device: str = ""
    called_at: str | None = None        # the latest call (a transfer makes it wait again)
    first_called_at: str | None = None  # waiting time is measured to here
    started_at: str | None = None
    finished_at: str | None = None
    counter: int | None = None
    officer: str | None = None
    recalls: int = 0
    transfers: int = 0
    original_service: str | None = None
    origin: str | None = None           # None: taken at the centre; "remote": from afar; "booking"
    booking: int | None = None          # the booking it was checked in from
    checked_in_at: str | None = None    # a remote number or a booking checked in (waiting counts from here)

    def sort_key(self) -> tuple:
        """Priority citizens first, then checked-in bookings (served first within their
        slot, order_at their slot's start), then everyone else by order_at."""
        return (RANK_PRIORITY if self.priority is not None else
                RANK_BOOKING if self.origin == "booking" else RANK_ORDINARY, self.order_at, self.id)

    def as_row(self) -> dict:
        # Every field is a plain value: a shallow copy. dataclasses.asdict deep-copies,
        # which was a tenth of a call's time in the centre.
        return {name: getattr(self, name) for name in _TICKET_FIELDS}


RANK_PRIORITY, RANK_BOOKING, RANK_ORDINARY = 0, 1, 2


@dataclass
class CounterState:
    number: int
    state: str = "closed"  # closed | open | paused
    officer: str | None = None
    officer_name: str | None = None
    ticket_id: int | None = None
    pause_reason: str | None = None
    pause_public: bool = False
    priority_run: int = 0  # consecutive priority tickets taken by call-next
    updated_at: str | None = None
    booking_run: int = 0   # bookings taken by call-next since the last ordinary walk-in

    def as_row(self) -> dict:
        return {name: getattr(self, name) for name in _COUNTER_FIELDS}


_TICKET_FIELDS = tuple(f.name for f in fields(Ticket))
_COUNTER_FIELDS = tuple(f.name for f in fields(CounterState))


@dataclass(frozen=True)
class FinishedTicket:
    """A ticket a counter has finished whose rating prompt is still open (the
    centre service knows the prompts): the dossier returned as the citizen leaves
    may still be attached to it, until the rating is bound or the prompt ends.
    `dossiers`: its codes as stored, for a ticket of another day (a prompt open
    across midnight); today's are in the engine's state."""
    id: int
    label: str
    service: str
    dossiers: tuple[str, ...] = ()


@dataclass
class Changes:
    """Rows an event touched, for the store's current-state tables."""
    tickets: dict[int, Ticket] = field(default_factory=dict)
    counters: dict[int, CounterState] = field(default_factory=dict)
    sequences: dict[tuple[str, str], int] = field(default_factory=dict)
    services: set[str] = field(default_factory=set)  # services whose waiting line changed
    calls: list[dict] = field(default_factory=list)
    day_started: bool = False
    # ticket_dossiers rows: (ticket id, code) -> the row to write, or None to delete it
    dossiers: dict[tuple[int, str], dict | None] = field(default_factory=dict)
    bookings: dict[int, Booking] = field(default_factory=dict)
    # phones rows: (kind, id) -> (phone, day) to write, or None to erase it
    phones: dict[tuple[str, int], tuple[str, str] | None] = field(default_factory=dict)

    def merge(self, other: "Changes") -> None:
        self.tickets.update(other.tickets)
        self.bookings.update(other.bookings)
        self.phones.update(other.phones)
        self.counters.update(other.counters)
        self.sequences.update(other.sequences)
        self.dossiers.update(other.dossiers)
        self.services |= other.services
        self.calls.extend(other.calls)
        self.day_started |= other.day_started


@dataclass
class QueueState:
    day: str | None = None
    next_ticket_id: int = 1
    call_seq: int = 0
    tickets: dict[int, Ticket] = field(default_factory=dict)  # active tickets only
    counters: dict[int, CounterState] = field(default_factory=dict)
    sequences: dict[tuple[str, str], int] = field(default_factory=dict)
    service_times: dict[str, deque] = field(default_factory=dict)  # recent service seconds
    served: dict[int, int] = field(default_factory=dict)  # tickets done at each counter today
    # Dossier codes attached to today's tickets (ticket id -> codes in the order attached),
    # active or finished: a rating bound after the ticket ends records them.
    dossiers: dict[int, list[str]] = field(default_factory=dict)
    # Bookings of today and the days ahead, whatever their state (issue 14).
    bookings: dict[int, Booking] = field(default_factory=dict)
    next_booking_id: int = 1
    # The phones of what lives: (kind, id) -> (phone, day). Never in an event: the
    # commands set them, apply only erases them when their number or booking ends.
    phones: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    remote_taken: dict[tuple[str, str], int] = field(default_factory=dict)  # (day, service) -> numbers
    # Waiting tickets per service, as sorted (sort_key, id): every reply and
    # retained view asks for places in the queue, and scanning all tickets each
    # time made the centre slower the longer the queue. Built on first use
    # (a state loaded from the store), then kept up to date by apply().
    _waiting: dict[str, list] | None = field(default=None, repr=False, compare=False)

    def waiting_index(self) -> dict[str, list]:
        if self._waiting is None:
            index: dict[str, list] = {}
            for t in self.tickets.values():
                if t.state == "waiting":
                    index.setdefault(t.service, []).append((t.sort_key(), t.id))
            for entries in index.values():
                entries.sort()
            self._waiting = index
        return self._waiting

    def _now_waiting(self, t: "Ticket") -> None:
        if self._waiting is not None:
            bisect.insort(self._waiting.setdefault(t.service, []), (t.sort_key(), t.id))

    def _no_longer_waiting(self, t: "Ticket") -> None:
        if self._waiting is not None:
            entries = self._waiting.get(t.service, [])
            i = bisect.bisect_left(entries, (t.sort_key(), t.id))
            if i < len(entries) and entries[i][1] == t.id:
                del entries[i]


def call_of_event(event: dict, priority: str | None = None) -> dict:
    """A call as displays see it, from a ticket_called / ticket_recalled event."""
    return {"seq": event["call_seq"], "ticket": event["ticket"], "service": event["service"],
            "counter": event["counter"], "recall": event["type"] == "ticket_recalled",
            "at": event["at"], "priority": event.get("priority", priority)}


def apply(state: QueueState, event: dict, window: int = 20) -> Changes:
    """Apply one event to the state and return the rows it changed."""
    ch = Changes()
    kind = event["type"]
    at = event["at"]

    def counter(n: int) -> CounterState:
        c = state.counters.get(n)
        if c is None:
            c = state.counters[n] = CounterState(number=n)
        c.updated_at = at
        ch.counters[n] = c
        return c

    def ticket(tid: int) -> Ticket:
        t = state.tickets[tid]
        ch.tickets[tid] = t
        ch.services.add(t.service)
        return t

    def erase_phone(key: tuple[str, int]) -> None:
        # its number or booking has ended: the phone goes, in the same transaction
        # (erased in the store even if this state never held it)
        state.phones.pop(key, None)
        ch.phones[key] = None

    def finish(t: Ticket, final: str) -> None:
        t.state = final
        t.finished_at = at
        del state.tickets[t.id]
        if final == "done" and t.started_at:
            secs = (parse_iso(at) - parse_iso(t.started_at)).total_seconds()
            state.service_times.setdefault(t.service, deque(maxlen=window)).append(secs)
        if t.origin is not None:
            erase_phone(("booking", t.booking) if t.booking is not None else ("ticket", t.id))

    def booking(bid: int) -> Booking:
        b = state.bookings[bid]
        ch.bookings[bid] = b
        return b

    if kind == "day_started":
        state.day = event["day"]
        state.served = {}
        state.dossiers = {}  # yesterday's tickets have all ended (expired before this event)
        # yesterday's bookings have ended too (lapsed before this event): only today's and later stay
        state.bookings = {k: b for k, b in state.bookings.items() if b.day >= state.day}
        state.remote_taken = {k: n for k, n in state.remote_taken.items() if k[0] >= state.day}
        ch.day_started = True
    elif kind in ("ticket_issued", "ticket_reserved"):
        t = Ticket(**event["ticket"])
        state.tickets[t.id] = t
        if t.state == "waiting":
            state._now_waiting(t)
        state.next_ticket_id = max(state.next_ticket_id, t.id + 1)
        state.sequences[(t.day, t.service)] = t.number
        ch.sequences[(t.day, t.service)] = t.number
        ch.tickets[t.id] = t
        ch.services.add(t.service)
        if t.origin == "remote":
            state.remote_taken[(t.day, t.service)] = state.remote_taken.get((t.day, t.service), 0) + 1
    elif kind == "ticket_checked_in":
        t = ticket(event["ticket_id"])
        t.state = "waiting"
        t.checked_in_at = at
        state._now_waiting(t)  # at its place: order_at, the time it was taken
    elif kind == "ticket_lapsed":
        t = ticket(event["ticket_id"])
        finish(t, "lapsed")
    elif kind == "booking_created":
        b = Booking(**event["booking"])
        state.bookings[b.id] = b
        state.next_booking_id = max(state.next_booking_id, b.id + 1)
        ch.bookings[b.id] = b
    elif kind in ("booking_cancelled", "booking_lapsed"):
        b = booking(event["booking_id"])
        b.state = "cancelled" if kind == "booking_cancelled" else "lapsed"
        b.ended_at = at
        erase_phone(("booking", b.id))
    elif kind == "booking_checked_in":
        b = booking(event["booking_id"])
        b.state = "checked_in"
        b.checked_in_at = at
        b.ticket_id = event["ticket_id"]  # its phone stays until that ticket ends
    elif kind in ("ticket_called", "ticket_recalled"):
        t = ticket(event["ticket_id"])
        c = counter(event["counter"])
        state.call_seq = event["call_seq"]
        if kind == "ticket_called":
            if t.state == "waiting":
                state._no_longer_waiting(t)
            t.state = "called"
            t.counter = c.number
            t.officer = c.officer
            t.called_at = at
            t.first_called_at = t.first_called_at or at  # waiting time counts to the first call
            c.ticket_id = t.id
            if event.get("by_next"):
                c.priority_run = c.priority_run + 1 if t.priority else 0
                # a priority call neither counts in nor breaks a run of bookings: only an
                # ordinary walk-in does, so walk-ins are never starved between the two
                if t.priority is None:
                    c.booking_run = c.booking_run + 1 if t.origin == "booking" else 0
        else:
            t.recalls += 1
        ch.calls.append(call_of_event(event, t.priority))
    elif kind == "ticket_started":
        t = ticket(event["ticket_id"])
        t.state = "serving"
        t.started_at = at
        counter(t.counter)
    elif kind in ("ticket_done", "ticket_no_show"):
        t = ticket(event["ticket_id"])
        if t.state == "waiting":
            state._no_longer_waiting(t)
        if kind == "ticket_done" and not t.started_at:
            t.started_at = t.called_at  # officer skipped "start": service counted from the call
        c = counter(t.counter)
        c.ticket_id = None
        if kind == "ticket_done":
            state.served[c.number] = state.served.get(c.number, 0) + 1
        finish(t, "done" if kind == "ticket_done" else "no_show")
    elif kind == "ticket_transferred":
        t = ticket(event["ticket_id"])
        c = counter(t.counter)
        c.ticket_id = None
        t.original_service = t.original_service or t.service
        if t.state == "waiting":
            state._no_longer_waiting(t)
        t.service = event["to_service"]
        ch.services.add(t.service)
        t.state = "waiting"
        state._now_waiting(t)
        t.counter = None
        t.officer = None
        t.called_at = None
        t.started_at = None
        t.transfers += 1
    elif kind == "ticket_expired":
        t = ticket(event["ticket_id"])
        if t.state == "waiting":
            state._no_longer_waiting(t)
        if t.counter is not None and state.counters.get(t.counter) and state.counters[t.counter].ticket_id == t.id:
            counter(t.counter).ticket_id = None
        finish(t, "expired")
    elif kind == "counter_signed_in":
        c = counter(event["counter"])
        c.state = "open"
        c.officer = event["officer"]
        c.officer_name = event.get("officer_name")
        c.pause_reason = None
        c.priority_run = 0
        c.booking_run = 0
    elif kind == "counter_paused":
        c = counter(event["counter"])
        c.state = "paused"
        c.pause_reason = event.get("reason")
        c.pause_public = bool(event.get("public"))
    elif kind == "counter_resumed":
        c = counter(event["counter"])
        c.state = "open"
        c.pause_reason = None
        c.pause_public = False
    elif kind == "counter_closed":
        c = counter(event["counter"])
        c.state = "closed"
        c.officer = None
        c.officer_name = None
        c.pause_reason = None
        c.pause_public = False
        c.priority_run = 0
        c.booking_run = 0
    elif kind in DOSSIER_EVENTS:
        # the event carries the ticket's codes after the change
        tid, code = event["ticket_id"], event["code"]
        if event["dossiers"]:
            state.dossiers[tid] = list(event["dossiers"])
        else:
            state.dossiers.pop(tid, None)
        ch.dossiers[(tid, code)] = None if kind == "dossier_detached" else {
            "ticket_id": tid, "code": code, "procedure_code": event.get("procedure_code"),
            "counter": event["counter"], "officer": event.get("officer"), "attached_at": at}
        counter(event["counter"])  # its view shows the ticket's dossiers
    elif kind in OFFICER_EVENTS:
        pass  # sign-in refusals, lock-outs, PIN resets: logged, no queue change
    else:
        raise ValueError(f"unknown event type {kind!r}")
    return ch


class Engine:
    """Commands over a QueueState. Each returns (events, changes); the caller
    stores the events before it tells anyone about them."""

    def __init__(self, site: Site, state: QueueState | None = None):
        self.site = site
        self.state = state or QueueState()
        self.tz = ZoneInfo(site.timezone)
        self._pending: list[dict] = []
        self._pending_changes = Changes()
        self._next_lapse: str | None = None  # when a number or booking lapses next; None: to compute
        for c in site.counters:
            self.state.counters.setdefault(c.number, CounterState(number=c.number))

    # -- helpers ---------------------------------------------------------
    def local_day(self, now: datetime) -> str:
        return now.astimezone(self.tz).date().isoformat()

    def _emit(self, events: list[dict], changes: Changes, event: dict) -> None:
        tid = event.get("ticket_id")
        if tid is not None and "ticket" not in event:
            # every ticket event names its ticket, so the log reads on its own
            t = self.state.tickets[tid]
            event["ticket"], event["service"] = t.label, t.service
        if tid is not None and "dossiers" not in event and self.state.dossiers.get(tid):
            # and the dossiers attached to it so far (the ticket events say them)
            event["dossiers"] = list(self.state.dossiers[tid])
        events.append(event)
        changes.merge(apply(self.state, event, self.site.queue.estimate_window))
        if event["type"] in HOLD_EVENTS:
            self._next_lapse = None

    def _begin(self, now: datetime) -> tuple[list[dict], Changes]:
        """Every command starts here, so the first one after midnight starts the new day.

        The day's roll-over events, and numbers and bookings that lapsed, are kept
        pending until a command succeeds (or `tick` is called), so a refused command
        never swallows them."""
        self._roll_day(now)
        self._lapse(now)
        return [], Changes()

    def _done(self, events: list[dict], changes: Changes) -> tuple[list[dict], Changes]:
        out_events, out_changes = self._pending, self._pending_changes
        self._pending, self._pending_changes = [], Changes()
        out_events.extend(events)
        out_changes.merge(changes)
        return out_events, out_changes

    def _roll_day(self, now: datetime) -> None:
        day = self.local_day(now)
        if self.state.day == day:
            return
        at = iso(now)
        # Tickets left from an earlier day are closed, never deleted: history stays.
        # A number taken from afar and never checked in lapses; so does a booking.
        for t in sorted(self.state.tickets.values(), key=lambda t: t.id):
            if t.day != day:
                self._emit(self._pending, self._pending_changes,
                           {"type": "ticket_lapsed" if t.state == "reserved" else "ticket_expired",
                            "at": at, "ticket_id": t.id})
        for b in sorted(self.state.bookings.values(), key=lambda b: b.id):
            if b.day < day and b.state == "booked":
                self._emit(self._pending, self._pending_changes, self._booking_event("booking_lapsed", b, at))
        self._emit(self._pending, self._pending_changes, {"type": "day_started", "at": at, "day": day})

    # -- lapsing (issue 14) ----------------------------------------------------
    def remote_deadline(self, t: Ticket) -> str:
        """A number taken from afar must be checked in before this (UTC ISO)."""
        web = self.site.web
        minutes = web.remote_window_min if web is not None else 0
        return iso(parse_iso(t.issued_at) + timedelta(minutes=minutes))

    def check_in_window(self, b: Booking) -> tuple[datetime, datetime]:
        web = self.site.web
        return bk.check_in_window(b.day, b.time, b.ends, web.booking_grace_min if web else 0, self.tz)

    def _lapse(self, now: datetime) -> None:
        """Numbers not checked in within the window, and bookings whose check-in window
        has ended, lapse (counted in reports). Cheap when nothing is due: the next
        moment something lapses is kept until a number or booking changes."""
        at = iso(now)
        if self._next_lapse is None:
            due = [self.remote_deadline(t) for t in self.state.tickets.values() if t.state == "reserved"]
            due += [iso(self.check_in_window(b)[1]) for b in self.state.bookings.values() if b.state == "booked"]
            self._next_lapse = min(due, default="9999")
        if at < self._next_lapse:
            return
        for t in sorted(self.state.tickets.values(), key=lambda t: t.id):
            if t.state == "reserved" and self.remote_deadline(t) <= at:
                self._emit(self._pending, self._pending_changes,
                           {"type": "ticket_lapsed", "at": at, "ticket_id": t.id})
        for b in sorted(self.state.bookings.values(), key=lambda b: b.id):
            if b.state == "booked" and iso(self.check_in_window(b)[1]) <= at:
                self._emit(self._pending, self._pending_changes, self._booking_event("booking_lapsed", b, at))
        self._next_lapse = None

    @staticmethod
    def _booking_event(kind: str, b: Booking, at: str, **more) -> dict:
        # what the log and the province need of a booking; never its phone
        return {"type": kind, "at": at, "booking_id": b.id, "service": b.service, "day": b.day,
                "time": b.time, **more}

    def tick(self, now: datetime) -> tuple[list[dict], Changes]:
        """Called by the service from time to time: rolls the day over at midnight."""
        return self._done(*self._begin(now))

    def _counter(self, number: int) -> CounterState:
        try:
            self.site.counter(number)
        except KeyError:
            raise QueueError("unknown_counter", f"there is no counter {number} in this site") from None
        return self.state.counters[number]

    def _open_counter(self, number: int) -> CounterState:
        c = self._counter(number)
        if c.state == "closed":
            raise QueueError("counter_closed", f"counter {number} is closed; an officer must sign in first")
        if c.state == "paused":
            raise QueueError("counter_paused", f"counter {number} is paused; resume it first")
        return c

    def _current(self, c: CounterState) -> Ticket:
        if c.ticket_id is None:
            raise QueueError("no_current_ticket", f"counter {c.number} has no current ticket; call one first")
        return self.state.tickets[c.ticket_id]

    def _service(self, code: str):
        try:
            return self.site.service(code)
        except KeyError:
            known = ", ".join(s.code for s in self.site.services)
            raise QueueError("unknown_service", f"there is no service {code!r}; known: {known}") from None

    def _next_call_seq(self) -> int:
        return self.state.call_seq + 1

    # -- tickets -----------------------------------------------------------
    def issue(self, service: str, now: datetime, priority: str | None = None,
              device: str = "") -> tuple[list[dict], Changes]:
        events, changes = self._begin(now)
        svc = self._service(service)
        if priority is not None and priority not in {p.code for p in self.site.priorities}:
            known = ", ".join(p.code for p in self.site.priorities)
            raise QueueError("unknown_priority", f"there is no priority {priority!r}; known: {known}")
        at = iso(now)
        t = self._new_ticket(svc, at, priority=priority, state="waiting", order_at=at, device=device)
        self._emit(events, changes, {"type": "ticket_issued", "at": at, "ticket": t.as_row()})
        return self._done(events, changes)

    def _new_ticket(self, svc, at: str, **fields) -> Ticket:
        """The service's next number today (not yet emitted)."""
        day = self.state.day
        last = self.state.sequences.get((day, svc.code))
        number = svc.start if last is None else last + 1
        if number > svc.end:
            raise QueueError("service_full", f"service {svc.code} has issued every number of its block "
                             f"{svc.start}-{svc.end} today; widen the block in the site file",
                             message_vi="Hôm nay lĩnh vực này đã hết số. Vui lòng hỏi cán bộ hướng dẫn.")
        return Ticket(id=self.state.next_ticket_id, day=day, service=svc.code, number=number,
                      label=svc.label(number), issued_at=at, **{"priority": None, **fields})

    # -- numbers from afar and bookings (issue 14) ----------------------------------
    def offers(self, service: str) -> dict:
        """What a service offers to phones: numbers from afar ("remote") and bookings
        ("booking"), from the site file's [web]. In its retained state, so the web at the
        province, which has no site file, offers what the centre does."""
        web = self.site.web
        if web is None:
            return {"remote": False, "booking": False}
        return {"remote": web.remote_tickets and (not web.remote_services or service in web.remote_services),
                "booking": any(r.service == service for r in web.slots)}

    def web_for(self, service: str, what: str):
        """[web] and the service, when it offers `what` ("remote" numbers or "booking"s)."""
        web = self.site.web
        svc = self._service(service)
        if not self.offers(svc.code)[what]:
            kind = "numbers from afar" if what == "remote" else "bookings"
            vi = "lấy số từ xa" if what == "remote" else "đặt lịch hẹn"
            raise QueueError("not_offered", f"this centre offers no {kind} for service {svc.code} "
                             "(the site file's [web] table)",
                             message_vi=f"Trung tâm chưa nhận {vi} cho lĩnh vực này.")
        return web, svc

    def _phone(self, text: str) -> str:
        phone = bk.normalise_phone(text)
        if phone is None:
            raise QueueError("bad_phone", "not a Vietnamese mobile number: give 10 digits starting with 03, 05, "
                             "07, 08 or 09 (or +84 and 9 digits)",
                             message_vi="Số điện thoại không hợp lệ. Vui lòng nhập số di động gồm 10 chữ số, "
                                        "ví dụ 0912 345 678.")
        return phone

    def _check_phone_limit(self, phone: str, day: str, web) -> None:
        """At most per_phone_per_day numbers and bookings live for one phone on one day."""
        held = sum(1 for p, d in self.state.phones.values() if p == phone and d == day)
        if held >= web.per_phone_per_day:
            n = web.per_phone_per_day
            raise QueueError("phone_limit", f"this phone number already holds {n} numbers or bookings for "
                             f"{day} (at most {n} a day); cancel one, or come to the centre",
                             message_vi=f"Mỗi số điện thoại chỉ được lấy {n} số mỗi ngày "
                                        "(gồm số lấy từ xa và lịch hẹn).", limit=n)

    def _keep_phone(self, changes: Changes, key: tuple[str, int], phone: str, day: str) -> None:
        # the phone is the one personal datum kept, outside the event log (motcua.bookings)
        self.state.phones[key] = (phone, day)
        changes.phones[key] = (phone, day)

    def reserve(self, service: str, phone: str, now: datetime, device: str = "") -> tuple[list[dict], Changes]:
        """A number taken from afar: numbered now, held (`reserved`) and never called
        until checked in; it lapses after [web] remote_window_min."""
        events, changes = self._begin(now)
        web, svc = self.web_for(service, "remote")
        phone = self._phone(phone)
        day = self.state.day
        self._check_open_day(day, web)
        if self.state.remote_taken.get((day, svc.code), 0) >= web.remote_per_service_per_day:
            raise QueueError("remote_full", f"every number from afar of service {svc.code} has been taken today "
                             f"({web.remote_per_service_per_day}, [web] remote_per_service_per_day)",
                             message_vi="Hôm nay đã hết số lấy từ xa cho lĩnh vực này. Vui lòng đặt lịch hẹn "
                                        "hoặc đến lấy số tại Trung tâm.", limit=web.remote_per_service_per_day)
        self._check_phone_limit(phone, day, web)
        at = iso(now)
        t = self._new_ticket(svc, at, state="reserved", order_at=at, device=device, origin="remote")
        self._emit(events, changes, {"type": "ticket_reserved", "at": at, "ticket": t.as_row(),
                                     "check_in_by": self.remote_deadline(t)})
        self._keep_phone(changes, ("ticket", t.id), phone, day)
        return self._done(events, changes)

    def check_in(self, label: str, now: datetime) -> tuple[list[dict], Changes]:
        """A number taken from afar, scanned at the kiosk or the counter: into the
        queue at its place (order_at, when it was taken). A ticket already in the
        queue changes nothing (no events)."""
        before = self.find_today(label)
        events, changes = self._begin(now)  # (it may lapse now: then it is too late)
        t = self.find_today(label)
        if t is None:
            if before is not None and before.state == "lapsed":
                raise self.lapsed_error(label)
            raise QueueError("unknown_ticket", f"no ticket {label} is open today",
                             message_vi="Không tìm thấy số này.")
        if t.state == "reserved":
            self._emit(events, changes, {"type": "ticket_checked_in", "at": iso(now), "ticket_id": t.id})
        return self._done(events, changes)

    def lapsed_error(self, label: str) -> QueueError:
        minutes = self.site.web.remote_window_min if self.site.web else 0
        return QueueError("ticket_lapsed", f"number {label} lapsed: it was not checked in within "
                          f"{minutes} minutes of being taken ([web] remote_window_min); take a new one",
                          message_vi=f"Số này đã quá {minutes} phút mà chưa xác nhận tại Trung tâm nên "
                                     "đã hết hiệu lực. Vui lòng lấy số mới.", limit=minutes)

    def slots(self, service: str, day: str, now: datetime) -> list[tuple[bk.Slot, int, bool]]:
        """A service's slots on a day: (slot, bookings taken, can be booked at `now`)."""
        web, svc = self.web_for(service, "booking")
        d = self._booking_day(day, web, now)
        taken = self._slot_counts(svc.code, day)
        out = []
        for s in bk.slots_on(web.slots, svc.code, d, web.closed_days):
            n = taken.get(s.time, 0)
            out.append((s, n, n < s.capacity and now < bk.local_moment(day, s.time, self.tz)))
        return out

    def is_closed(self, day: str) -> bool:
        """Is `day` one of the site's closed days ([web] closed_days: holidays, Tết)?"""
        return self.site.web is not None and bk.is_closed(self.site.web.closed_days, day)

    def _check_open_day(self, day: str, web) -> None:
        if bk.is_closed(web.closed_days, day):
            vi_day = f"{day[8:10]}/{day[5:7]}/{day[:4]}"
            raise QueueError("day_closed", f"the centre is closed on {day} ([web] closed_days): no bookings "
                             "and no numbers from afar that day; choose another day",
                             message_vi=f"Ngày {vi_day} Trung tâm nghỉ (ngày lễ, Tết), không nhận đặt lịch "
                                        "hẹn và lấy số từ xa. Vui lòng chọn ngày khác.")

    def _slot_counts(self, service: str, day: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for b in self.state.bookings.values():
            if b.day == day and b.service == service and b.state != "cancelled":
                counts[b.time] = counts.get(b.time, 0) + 1
        return counts

    def _booking_day(self, day: str, web, now: datetime) -> date:
        try:
            d = date.fromisoformat(day)
        except ValueError:
            raise QueueError("bad_day", f"{day!r} is not a date (YYYY-MM-DD)",
                             message_vi="Ngày không hợp lệ.") from None
        today = now.astimezone(self.tz).date()
        days = bk.bookable_days(today, web.booking_days_ahead)
        if d not in days:
            raise QueueError("bad_day", f"bookings are taken for {days[0]} to {days[-1]} only "
                             f"([web] booking_days_ahead = {web.booking_days_ahead})",
                             message_vi=f"Chỉ đặt lịch được từ hôm nay đến {web.booking_days_ahead} ngày tới.",
                             limit=web.booking_days_ahead)
        return d

    def create_booking(self, service: str, day: str, at_time: str, phone: str, now: datetime,
                       device: str = "") -> tuple[list[dict], Changes]:
        """Book a slot. Every limit is checked here, in the worker, before anything
        is written: the booking, its event and its phone go in one transaction, or
        nothing does."""
        events, changes = self._begin(now)
        web, svc = self.web_for(service, "booking")
        d = self._booking_day(day, web, now)
        self._check_open_day(day, web)
        slot = bk.slot_of(web.slots, svc.code, d, at_time)
        if slot is None:
            offered = ", ".join(s.time for s in bk.slots_on(web.slots, svc.code, d)) or "none"
            raise QueueError("no_slot", f"service {svc.code} has no slot at {at_time!r} on {day} (slots: {offered})",
                             message_vi="Không có khung giờ này vào ngày đã chọn. Vui lòng chọn khung giờ khác.")
        if now >= bk.local_moment(d, slot.time, self.tz):
            raise QueueError("slot_past", f"the slot {slot.time} of {day} has begun; choose a later one",
                             message_vi="Khung giờ này đã bắt đầu hoặc đã qua. Vui lòng chọn khung giờ khác.")
        if self._slot_counts(svc.code, day).get(slot.time, 0) >= slot.capacity:
            raise QueueError("slot_full", f"the slot {slot.time} of {day} is full ({slot.capacity} bookings)",
                             message_vi="Khung giờ này đã hết chỗ. Vui lòng chọn khung giờ khác.",
                             limit=slot.capacity)
        phone = self._phone(phone)
        self._check_phone_limit(phone, day, web)
        b = Booking(id=self.state.next_booking_id, day=day, service=svc.code, time=slot.time, ends=slot.ends,
                    state="booked", created_at=iso(now), device=device)
        self._emit(events, changes, {"type": "booking_created", "at": b.created_at, "booking": b.as_row()})
        self._keep_phone(changes, ("booking", b.id), phone, day)
        return self._done(events, changes)

    def booking(self, booking_id: int) -> Booking:
        b = self.state.bookings.get(booking_id)
        if b is None:
            raise QueueError("unknown_booking", f"no booking {booking_id} for today or the days ahead",
                             message_vi="Không tìm thấy lịch hẹn này.")
        return b

    def check_open(self, b: Booking) -> None:
        if b.state == "lapsed":
            raise QueueError("booking_lapsed", f"booking {b.id} lapsed: it was not checked in by "
                             f"{b.ends} + {self.site.web.booking_grace_min if self.site.web else 0} min",
                             message_vi="Lịch hẹn đã quá giờ. Vui lòng đặt lịch khác hoặc lấy số tại Trung tâm.")
        if b.state != "booked":
            what = {"cancelled": "was cancelled", "checked_in": "is already checked in"}[b.state]
            vi = {"cancelled": "Lịch hẹn này đã được huỷ.", "checked_in": "Lịch hẹn này đã được xác nhận."}[b.state]
            raise QueueError("booking_closed", f"booking {b.id} {what}", message_vi=vi)

    def cancel_booking(self, booking_id: int, now: datetime, phone: str | None = None, *,
                       device: str = "", reason: str | None = None) -> tuple[list[dict], Changes]:
        """Cancel a booking not yet checked in (frees its place; its phone is erased).
        `phone`, when given, must be the booking's. `device` and `reason` go in the
        event: who cancelled (the citizen's web service, or a manager's admin device
        with the reason, e.g. a day closed after it was booked)."""
        events, changes = self._begin(now)
        b = self.booking(booking_id)
        self.check_open(b)
        if phone is not None:
            held = self.state.phones.get(("booking", b.id))
            if held is None or bk.normalise_phone(phone) != held[0]:
                raise QueueError("not_your_booking", f"the phone number given is not booking {b.id}'s",
                                 message_vi="Số điện thoại không khớp với lịch hẹn này.")
        more = {"device": device} if device else {}
        if reason:
            more["reason"] = reason
        self._emit(events, changes, self._booking_event("booking_cancelled", b, iso(now), **more))
        return self._done(events, changes)

    def check_in_booking(self, booking_id: int, now: datetime, device: str = "") -> tuple[list[dict], Changes]:
        """A booking scanned at the kiosk or the counter, in its window: it becomes a
        ticket served first within its slot (order_at its slot's start; the cap of
        [web] booking_max_consecutive lets walk-ins in). One already checked in
        changes nothing (no events)."""
        events, changes = self._begin(now)
        b = self.booking(booking_id)
        if b.state == "checked_in":
            return self._done(events, changes)
        self.check_open(b)
        if b.day != self.state.day:
            raise QueueError("wrong_day", f"booking {b.id} is for {b.day}, not today",
                             message_vi=f"Lịch hẹn này là ngày {b.day[8:10]}/{b.day[5:7]}/{b.day[:4]}, "
                                        "không phải hôm nay.")
        opens, closes = self.check_in_window(b)
        if now < opens:
            local = opens.astimezone(self.tz).strftime("%H:%M")
            raise QueueError("too_early", f"booking {b.id} ({b.time}-{b.ends}) may be checked in from {local}",
                             message_vi=f"Chưa đến giờ hẹn. Mời quý khách xác nhận từ {local}.", opens=iso(opens))
        at = iso(now)
        svc = self._service(b.service)
        t = self._new_ticket(svc, at, state="waiting", order_at=iso(bk.local_moment(b.day, b.time, self.tz)),
                             device=device, origin="booking", booking=b.id, checked_in_at=at)
        self._emit(events, changes, {"type": "ticket_issued", "at": at, "ticket": t.as_row()})
        self._emit(events, changes, self._booking_event("booking_checked_in", b, at, ticket_id=t.id))
        return self._done(events, changes)

    def waiting(self, service: str | None = None) -> list[Ticket]:
        index = self.state.waiting_index()
        lists = [index.get(service, [])] if service is not None else list(index.values())
        return [self.state.tickets[tid] for _, tid in heapq.merge(*lists)]

    def waiting_counts(self, service: str) -> tuple[int, int]:
        """(waiting, of which priority) without listing them: priority tickets
        sort first, so they are the entries before the first ordinary one."""
        entries = self.state.waiting_index().get(service, [])
        return len(entries), bisect.bisect_left(entries, ((RANK_BOOKING,),))

    def people_ahead(self, ticket: Ticket) -> int:
        """Waiting before the ticket; for a number taken from afar, before the place
        it would take if checked in now."""
        if ticket.state not in ("waiting", "reserved"):
            return 0
        entries = self.state.waiting_index().get(ticket.service, [])
        return bisect.bisect_left(entries, (ticket.sort_key(), ticket.id))

    def mean_service_seconds(self, service: str) -> float:
        """The service time the estimates use: the mean of the recent real ones (the
        last `estimate_window` finished tickets) blended with the site's default
        (`default_service_minutes`) until `estimate_min_samples` real ones have been
        seen; the default counts as that many tickets less the real ones, so one
        quick service barely moves it and from then on the real mean stands alone."""
        recent = self.state.service_times.get(service) or ()
        q = self.site.queue
        prior = max(0, q.estimate_min_samples - len(recent)) if recent else 1
        if not prior:
            return statistics.fmean(recent)
        return (prior * q.default_service_minutes * 60 + sum(recent)) / (prior + len(recent))

    def serving_counters(self, service: str, open_only: bool = False) -> list[int]:
        out = []
        for c in self.site.counters:
            if service in c.services and (not open_only or self.state.counters[c.number].state == "open"):
                out.append(c.number)
        return out

    def estimated_wait(self, service: str, ahead: int) -> int:
        """Seconds until called: the people ahead share the open counters serving this
        service, each taking mean_service_seconds (no counters open yet: assume one)."""
        counters = max(1, len(self.serving_counters(service, open_only=True)))
        return round(ahead * self.mean_service_seconds(service) / counters)

    def find_today(self, label: str) -> Ticket | None:
        for t in self.state.tickets.values():
            if t.label == label and t.day == self.state.day:
                return t
        return None

    # -- counters ------------------------------------------------------------
    def sign_in(self, counter: int, officer: str, now: datetime,
                officer_name: str | None = None) -> tuple[list[dict], Changes]:
        events, changes = self._begin(now)
        officer = (officer or "").strip()
        if not officer or len(officer) > 64:
            raise QueueError("bad_officer", "give the officer's id (1-64 characters) to sign in")
        c = self._counter(counter)
        for other in self.state.counters.values():
            if other.number != counter and other.officer == officer and other.state != "closed":
                raise QueueError("officer_elsewhere", f"officer {officer} is signed in at counter "
                                 f"{other.number}; close that counter first")
        if c.ticket_id is not None:
            raise QueueError("ticket_in_progress", f"counter {counter} still has ticket "
                             f"{self.state.tickets[c.ticket_id].label}; finish or transfer it first")
        self._emit(events, changes, {"type": "counter_signed_in", "at": iso(now), "counter": counter,
                                     "officer": officer, "officer_name": officer_name})
        return self._done(events, changes)

    def call_next(self, counter: int, now: datetime) -> tuple[list[dict], Changes]:
        events, changes = self._begin(now)
        c = self._open_counter(counter)
        if c.ticket_id is not None:
            cur = self.state.tickets[c.ticket_id]
            if cur.state == "called":
                raise QueueError("current_not_started", f"ticket {cur.label} was called but not started: "
                                 "start it, recall it or mark it no-show first")
            # The usual officer gesture: "next" ends the citizen being served.
            self._emit(events, changes, {"type": "ticket_done", "at": iso(now), "ticket_id": cur.id,
                                         "counter": counter, "officer": c.officer})
        services = set(self.site.counter(counter).services)
        index = self.state.waiting_index()
        # In queue order, lazily: a call looks at the first ticket or two, not the whole queue.
        candidates = (self.state.tickets[tid] for _, tid in heapq.merge(*(index.get(s, []) for s in services)))
        choice = next(candidates, None)
        if choice is None:
            if events and events[-1]["type"] == "ticket_done":
                return self._done(events, changes)  # the served ticket still ends; nobody is waiting
            raise QueueError("queue_empty", f"nobody is waiting for counter {counter}'s services")
        if choice.priority and c.priority_run >= self.site.queue.priority_max_consecutive:
            ordinary = next((t for t in candidates if t.priority is None), None)
            if ordinary is not None:
                choice = ordinary  # cap reached: an ordinary citizen gets this turn
        web = self.site.web
        if choice.origin == "booking" and web is not None and c.booking_run >= web.booking_max_consecutive:
            walk_in = next((t for t in candidates if t.priority is None and t.origin != "booking"), None)
            if walk_in is not None:
                choice = walk_in  # booking cap reached: a walk-in gets this turn
        self._emit(events, changes, {"type": "ticket_called", "at": iso(now), "ticket_id": choice.id,
                                     "ticket": choice.label, "service": choice.service,
                                     "priority": choice.priority,
                                     "counter": counter, "officer": c.officer,
                                     "call_seq": self._next_call_seq(), "by_next": True})
        return self._done(events, changes)

    def call_ticket(self, counter: int, label: str, now: datetime) -> tuple[list[dict], Changes]:
        events, changes = self._begin(now)
        c = self._open_counter(counter)
        if c.ticket_id is not None:
            cur = self.state.tickets[c.ticket_id]
            raise QueueError("ticket_in_progress", f"counter {counter} still has ticket {cur.label}; "
                             "finish, transfer or mark it no-show first")
        t = self.find_today(label)
        if t is None or t.state != "waiting":
            raise QueueError("ticket_not_waiting", f"ticket {label} is not waiting today")
        if t.service not in self.site.counter(counter).services:
            raise QueueError("wrong_service", f"counter {counter} does not serve {t.service}; "
                             "transfer the ticket or call it from a counter that does")
        self._emit(events, changes, {"type": "ticket_called", "at": iso(now), "ticket_id": t.id,
                                     "ticket": t.label, "service": t.service, "priority": t.priority,
                                     "counter": counter, "officer": c.officer,
                                     "call_seq": self._next_call_seq(), "by_next": False})
        return self._done(events, changes)

    def recall(self, counter: int, now: datetime) -> tuple[list[dict], Changes]:
        events, changes = self._begin(now)
        c = self._open_counter(counter)
        t = self._current(c)
        if t.state != "called":
            raise QueueError("not_called", f"ticket {t.label} is already being served; recall is for "
                             "a citizen who has not come yet")
        self._emit(events, changes, {"type": "ticket_recalled", "at": iso(now), "ticket_id": t.id,
                                     "ticket": t.label, "service": t.service, "priority": t.priority,
                                     "counter": counter, "call_seq": self._next_call_seq()})
        return self._done(events, changes)

    def start(self, counter: int, now: datetime) -> tuple[list[dict], Changes]:
        events, changes = self._begin(now)
        c = self._open_counter(counter)
        t = self._current(c)
        if t.state != "called":
            raise QueueError("already_serving", f"ticket {t.label} is already being served")
        self._emit(events, changes, {"type": "ticket_started", "at": iso(now), "ticket_id": t.id,
                                     "counter": counter})
        return self._done(events, changes)

    def done(self, counter: int, now: datetime) -> tuple[list[dict], Changes]:
        events, changes = self._begin(now)
        c = self._counter(counter)
        t = self._current(c)
        self._emit(events, changes, {"type": "ticket_done", "at": iso(now), "ticket_id": t.id,
                                     "counter": counter, "officer": c.officer})
        return self._done(events, changes)

    def no_show(self, counter: int, now: datetime) -> tuple[list[dict], Changes]:
        events, changes = self._begin(now)
        c = self._counter(counter)
        t = self._current(c)
        if t.state != "called":
            raise QueueError("already_serving", f"ticket {t.label} is being served; finish it instead")
        self._emit(events, changes, {"type": "ticket_no_show", "at": iso(now), "ticket_id": t.id,
                                     "counter": counter})
        return self._done(events, changes)

    def transfer(self, counter: int, service: str, now: datetime) -> tuple[list[dict], Changes]:
        events, changes = self._begin(now)
        c = self._counter(counter)
        t = self._current(c)
        svc = self._service(service)
        if svc.code == t.service:
            raise QueueError("same_service", f"ticket {t.label} is already in {svc.code}")
        self._emit(events, changes, {"type": "ticket_transferred", "at": iso(now), "ticket_id": t.id,
                                     "counter": counter, "from_service": t.service,
                                     "to_service": svc.code})
        return self._done(events, changes)

    def pause(self, counter: int, reason: str, now: datetime, public: bool = False) -> tuple[list[dict], Changes]:
        events, changes = self._begin(now)
        c = self._open_counter(counter)
        reason = (reason or "").strip()
        if not reason or len(reason) > MAX_TEXT:
            raise QueueError("bad_reason", f"give a reason for the pause (1-{MAX_TEXT} characters)")
        if c.ticket_id is not None:
            raise QueueError("ticket_in_progress", f"finish or transfer ticket "
                             f"{self.state.tickets[c.ticket_id].label} before pausing")
        self._emit(events, changes, {"type": "counter_paused", "at": iso(now), "counter": counter,
                                     "reason": reason, "public": public})
        return self._done(events, changes)

    def resume(self, counter: int, now: datetime) -> tuple[list[dict], Changes]:
        events, changes = self._begin(now)
        c = self._counter(counter)
        if c.state != "paused":
            raise QueueError("not_paused", f"counter {counter} is not paused")
        self._emit(events, changes, {"type": "counter_resumed", "at": iso(now), "counter": counter})
        return self._done(events, changes)

    # -- dossiers at the counter (issue 12) -----------------------------------------
    def dossier_code(self, text: str) -> str:
        """The dossier code of what the officer typed or the scanner read (a code or
        a receipt's QR text), by motcua.dossiers.counter_code; refusals as QueueError."""
        try:
            return counter_code(text, self.site.dossiers)
        except DossierError as exc:
            raise QueueError(exc.code, exc.message) from None

    def dossier_target(self, counter: int, finished: FinishedTicket | None = None
                       ) -> tuple[int, str, str, str, list[str]]:
        """The ticket a dossier scanned at this counter goes to: (id, label, service,
        state, its codes). The counter's current ticket (called or being served);
        without one, `finished`, the ticket it finished whose rating prompt is open."""
        c = self._counter(counter)
        if c.state == "closed":
            raise QueueError("counter_closed", f"counter {counter} is closed; an officer must sign in first")
        if c.ticket_id is not None:
            t = self.state.tickets[c.ticket_id]
            return t.id, t.label, t.service, t.state, list(self.state.dossiers.get(t.id, ()))
        if finished is not None:
            codes = self.state.dossiers.get(finished.id)
            return (finished.id, finished.label, finished.service, "done",
                    list(codes if codes is not None else finished.dossiers))
        raise QueueError("no_current_ticket", f"counter {counter} has no current ticket, and no ticket "
                         "it finished is waiting for its rating; call a ticket first")

    def attach_dossier(self, counter: int, code: str, now: datetime, procedure_code: str | None = None,
                       finished: FinishedTicket | None = None) -> tuple[list[dict], Changes]:
        """Attach a dossier received or returned during the visit to the ticket
        (dossier_target). The same code again on the same ticket changes nothing.
        `procedure_code`: the dossier's procedure in the centre's mirror, if it has it."""
        events, changes = self._begin(now)
        code = self.dossier_code(code)
        tid, label, service, state, codes = self.dossier_target(counter, finished)
        if code in codes:
            return self._done(events, changes)
        if len(codes) >= MAX_DOSSIERS:
            raise QueueError("too_many_dossiers", f"ticket {label} already has {MAX_DOSSIERS} dossiers; "
                             "remove a mistaken one first")
        self._emit(events, changes, {
            "type": "dossier_attached", "at": iso(now), "ticket_id": tid, "ticket": label,
            "service": service, "state": state, "counter": counter,
            "officer": self.state.counters[counter].officer, "code": code,
            "procedure_code": procedure_code, "dossiers": [*codes, code]})
        return self._done(events, changes)

    def detach_dossier(self, counter: int, code: str, now: datetime,
                       finished: FinishedTicket | None = None) -> tuple[list[dict], Changes]:
        """Remove a dossier from the ticket it was attached to (a mistaken scan),
        while that ticket is still the counter's (dossier_target)."""
        events, changes = self._begin(now)
        code = self.dossier_code(code)
        tid, label, service, state, codes = self.dossier_target(counter, finished)
        if code not in codes:
            raise QueueError("dossier_not_attached", f"dossier {code} is not attached to ticket {label}")
        self._emit(events, changes, {
            "type": "dossier_detached", "at": iso(now), "ticket_id": tid, "ticket": label,
            "service": service, "state": state, "counter": counter,
            "officer": self.state.counters[counter].officer, "code": code,
            "dossiers": [c for c in codes if c != code]})
        return self._done(events, changes)

    def close(self, counter: int, now: datetime) -> tuple[list[dict], Changes]:
        events, changes = self._begin(now)
        c = self._counter(counter)
        if c.ticket_id is not None:
            raise QueueError("ticket_in_progress", f"finish or transfer ticket "
                             f"{self.state.tickets[c.ticket_id].label} before closing")
        if c.state == "closed":
            raise QueueError("counter_closed", f"counter {counter} is already closed")
        self._emit(events, changes, {"type": "counter_closed", "at": iso(now), "counter": counter})
        return self._done(events, changes)


def replay(site: Site, events, bookings: dict[int, dict] | None = None
           ) -> tuple[QueueState, dict[int, dict], dict[int, dict]]:
    """Rebuild the state from an event log; also return the last row of every
    ticket and counter, to compare with the store's current-state tables (and
    fill `bookings` with the last row of every booking, when given). Phones are
    not in the log, by design: they are the store's alone, until erased."""
    state = Engine(site).state  # every configured counter, closed
    tickets: dict[int, dict] = {}
    counters: dict[int, dict] = {}
    for event in events:
        ch = apply(state, event, site.queue.estimate_window)
        tickets.update({k: v.as_row() for k, v in ch.tickets.items()})
        counters.update({k: v.as_row() for k, v in ch.counters.items()})
        if bookings is not None:
            bookings.update({k: v.as_row() for k, v in ch.bookings.items()})
    return state, tickets, counters



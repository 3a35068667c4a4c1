"""The displays' link to the centre (no Kivy): the truth a hall board or counter
display shows, kept from retained state and call events.

`CallTracker` is the pure logic of docs/protocol.md section 9 (the `seq` rule):
duplicates dropped, gaps and resets detected, recent calls kept newest first.
`DisplayLink` wraps it with a `DeviceClient` (which reconnects by itself and
subscribes again on every connection, so retained state arrives again after a
broker restart). The app marshals `on_change` / `on_call` onto its own thread.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from motcua import protocol
from motcua.config import Site
from motcua.mqtt import StateLink
from motcua.timefmt import utc_iso

log = logging.getLogger("motcua.display")

KEEP_CALLS = 10          # recent calls a board shows at most (the hall summary carries 10)
KNOWN_SEQS = 500         # seqs remembered to tell a duplicate from a centre reset


@dataclass
class Verdict:
    """What to do with one call event: `announce` it (first time seen), and/or
    `resync` (re-read the retained hall summary: calls were missed, or the
    centre's sequence went backwards)."""
    announce: bool
    resync: bool
    reason: str                 # next, first, gap, duplicate, backwards


@dataclass
class CallTracker:
    """The `seq` rule of docs/protocol.md, without a broker.

    `last` is the highest seq handled. Calls are kept by seq; `recent` gives them
    newest first. A call event with a seq already known for the same ticket is a
    duplicate; a seq at or below `last` that we do not know (or know for another
    ticket) means the centre's sequence went backwards (a new database): it is
    held as a *suspect*, a re-read is asked for, and if the hall summary that
    follows confirms the reset, the suspect is announced then. A hall summary
    ahead of `last` (calls missed while away) moves `last` up: those calls are
    shown, never spoken late. One behind `last` whose calls agree with ours is
    only stale (the retained one from just before the centre's next), not a reset."""
    keep: int = KEEP_CALLS
    last: int | None = None
    calls: dict[int, dict] = field(default_factory=dict)
    suspects: dict[int, dict] = field(default_factory=dict)
    _known: dict[int, str] = field(default_factory=dict)

    def recent(self) -> list[dict]:
        return [self.calls[s] for s in sorted(self.calls, reverse=True)[: self.keep]]

    def _remember(self, call: dict) -> None:
        seq = call["seq"]
        self.calls[seq] = call
        self._known[seq] = call.get("ticket", "")
        for s in sorted(self.calls)[: max(0, len(self.calls) - self.keep)]:
            del self.calls[s]
        for s in sorted(self._known)[: max(0, len(self._known) - KNOWN_SEQS)]:
            del self._known[s]

    def on_call(self, call: dict) -> Verdict:
        seq = call.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            return Verdict(False, False, "malformed")
        if self.last is not None and seq <= self.last:
            if self._known.get(seq) == call.get("ticket"):
                return Verdict(False, False, "duplicate")
            # a seq we handled for another ticket, or never saw although it is old:
            # the centre started a new sequence, or we are stale. Read the truth.
            self.suspects[seq] = call
            return Verdict(False, True, "backwards")
        gap = self.last is not None and seq > self.last + 1
        reason = "gap" if gap else ("first" if self.last is None else "next")
        self.last = seq
        self._remember(call)
        return Verdict(True, gap, reason)

    def on_hall(self, hall: dict) -> list[dict]:
        """Take a hall summary; return suspects confirmed by a reset, to announce now
        (in seq order). Recent calls are merged with the ones we hold."""
        call_seq = hall.get("call_seq")
        if not isinstance(call_seq, int):
            call_seq = 0
        recent = [c for c in hall.get("recent_calls") or [] if isinstance(c.get("seq"), int)]
        rescued: list[dict] = []
        if self.last is not None and call_seq < self.last and self._is_reset(recent):
            log.warning("the centre's call sequence went back from %d to %d (a new database?): "
                        "starting again from the hall summary", self.last, call_seq)
            in_hall = {(c["seq"], c.get("ticket")) for c in recent}
            rescued = [self.suspects[s] for s in sorted(self.suspects)
                       if s <= call_seq and (s, self.suspects[s].get("ticket")) in in_hall]
            self.calls.clear()
            self._known.clear()
            self.last = call_seq
            self.suspects.clear()
        elif self.last is None:
            self.last = call_seq
        elif call_seq > self.last:
            # calls we never saw as events (missed while away): shown, never spoken
            self.last = call_seq
            self.suspects.clear()
        for c in recent:
            self._remember(dict(c))
        return rescued


    def _is_reset(self, recent: list[dict]) -> bool:
        """A hall summary behind `last`: a new centre sequence, or only a stale summary
        (a re-read can get the retained one from just before the centre publishes the
        next)? A reset when it carries no calls, a seq we know for another ticket, or
        confirms an out-of-order event we held as a suspect."""
        if not recent:
            return True
        for c in recent:
            known = self._known.get(c["seq"])
            if known is not None and known != c.get("ticket"):
                return True
            suspect = self.suspects.get(c["seq"])
            if suspect is not None and suspect.get("ticket") == c.get("ticket"):
                return True
        return False


class DisplayLink(StateLink):
    """Everything a display shows, from the broker.

    `on_change()` is called (from paho's thread) after any change of what is shown;
    `on_call(call, received_at)` for each call to announce, first time seen, in order."""

    def __init__(self, site: Site, device_id: str, on_change: Callable[[], None] = lambda: None,
                 on_call: Callable[[dict, float], None] = lambda call, t: None):
        super().__init__(site, device_id, on_change)
        self.on_call = on_call
        self.tracker = CallTracker()
        self.counters: dict[int, dict] = {}
        self.hall: dict = {}
        self.notice: dict = {}
        self.ratings: dict = {}                    # today's satisfaction tallies (retained)
        self.resyncs = 0
        self.dropped_duplicates = 0
        c = self.client
        c.subscribe(self.topics.counter_state_all, self._on_counter)
        c.subscribe(self.topics.service_state_all, self._on_service)
        c.subscribe(self.topics.hall_state, self._on_hall)
        c.subscribe(self.topics.call_event, self._on_call)
        c.subscribe(self.topics.notice, self._on_notice)
        c.subscribe(self.topics.ratings_state, self._on_ratings)

    # -- what the screens read (copies, safe from any thread)
    def snapshot(self) -> dict:
        with self._lock:
            order = [c.number for c in self.site.counters]
            return {
                "counters": [dict(self.counters[n]) for n in order if n in self.counters],
                "services": [dict(self.services[s.code]) for s in self.site.services if s.code in self.services],
                "recent_calls": [dict(c) for c in self.tracker.recent()],
                "name": self.hall.get("name") or self.site.name,
                "name_en": self.hall.get("name_en") or self.site.name_en,
                "notice": (self.notice.get("text") or "").strip(),
                "ratings": dict(self.ratings),
                "centre_online": self.centre_online,
                "broker_connected": self.broker_connected,
                "last_seq": self.tracker.last,
            }

    def counter(self, number: int) -> dict | None:
        with self._lock:
            c = self.counters.get(number)
            return dict(c) if c else None

    # -- handlers (paho's thread)
    def _on_counter(self, topic: str, data: dict) -> None:
        self._keep(self.counters, "counter", int, data)

    def _on_hall(self, topic: str, data: dict) -> None:
        with self._lock:
            self.hall = data
            for c in data.get("counters") or []:
                if isinstance(c.get("counter"), int):
                    self.counters[c["counter"]] = c
            for s in data.get("services") or []:
                if isinstance(s.get("service"), str):
                    self.services[s["service"]] = s
            rescued = self.tracker.on_hall(data)
            self.last_received = time.monotonic()
        now = time.monotonic()
        for call in rescued:
            self.on_call(call, now)
        self.on_change()

    def _on_call(self, topic: str, data: dict) -> None:
        received = time.monotonic()
        with self._lock:
            verdict = self.tracker.on_call(data)
            if verdict.reason == "duplicate":
                self.dropped_duplicates += 1
        if verdict.announce:
            self.on_call(data, received)
        if verdict.resync:
            log.info("call event seq %s (%s): re-reading the hall summary", data.get("seq"), verdict.reason)
            self.resync()
        if verdict.announce or verdict.resync:
            self.on_change()

    def _on_notice(self, topic: str, data: dict) -> None:
        with self._lock:
            self.notice = data if isinstance(data.get("text"), str) else {}
        self.on_change()

    def _on_ratings(self, topic: str, data: dict) -> None:
        if not isinstance(data.get("day"), str):
            return
        with self._lock:
            self.ratings = data
        self.on_change()

    def resync(self) -> None:
        """Subscribe to the hall summary again: the broker sends the retained one at once."""
        self.resyncs += 1
        if self.broker_connected:
            self.client.client.subscribe(self.topics.hall_state, qos=1)


# -- notices (the admin publishes them) ------------------------------------------------

NOTICE_MAX_CHARS = 500


def notice_payload(text: str, at: datetime | None = None) -> bytes:
    """The retained notice for the displays; an empty text clears it."""
    text = " ".join(text.split())
    if len(text) > NOTICE_MAX_CHARS:
        raise ValueError(f"a notice is at most {NOTICE_MAX_CHARS} characters; this one has {len(text)}")
    at = utc_iso(at or datetime.now(timezone.utc))
    return protocol.encode({"text": text, "set_at": at})

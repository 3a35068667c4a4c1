"""The counter terminal's link to the centre (no Kivy): its counter's state,
the waiting lines of the services it serves and today's satisfaction tallies,
all from retained state; and the counter requests. The app marshals
`on_change` onto its own thread.

Topics come from `protocol.Topics`; the broker's ACL lets a counter device read
`state/#` and the centre's availability, and write only its own request topic.
"""
from __future__ import annotations

import logging
from typing import Callable

from motcua.config import Site
from motcua.mqtt import CentreUnavailable, RequestRefused, StateLink

log = logging.getLogger("motcua.counter")

__all__ = ["CounterLink", "CentreUnavailable", "RequestRefused"]


class CounterLink(StateLink):
    def __init__(self, site: Site, device_id: str, counter: int, on_change: Callable[[], None]):
        super().__init__(site, device_id, on_change)
        self.counter = counter
        self.services_served = tuple(site.counter(counter).services)
        self.counter_state: dict | None = None
        self.tallies: dict | None = None
        c = self.client
        c.subscribe(self.topics.counter_state(counter), self._on_counter)
        for code in self.services_served:
            c.subscribe(self.topics.service_state(code), self._on_service)
        c.subscribe(self.topics.ratings_state, self._on_tallies)

    def snapshot(self) -> dict:
        with self._lock:
            return {"counter": dict(self.counter_state) if self.counter_state else None,
                    "services": {k: dict(v) for k, v in self.services.items()},
                    "tallies": dict(self.tallies) if self.tallies else None,
                    "centre_online": self.centre_online,
                    "broker_connected": self.broker_connected}

    # -- handlers (paho's thread)
    def _on_counter(self, topic: str, data: dict) -> None:
        if data.get("counter") != self.counter:
            return
        with self._lock:
            self.counter_state = data
        self.on_change()

    def _on_tallies(self, topic: str, data: dict) -> None:
        with self._lock:
            self.tallies = data
        self.on_change()

    # -- requests: blocking, run them off the UI thread
    def ask(self, op: str, request_id: str, **args) -> dict:
        """One counter operation at this counter (or a check-in, which names no
        counter); the same request id on every retry, so the centre never does it
        twice. Raises RequestRefused or CentreUnavailable."""
        if op.startswith("counter."):
            args = {"counter": self.counter, **args}
        return self.client.request(op, request_id=request_id, **args)

"""A centre's clock the test sets and moves (CentreService(site, clock=Clock(...))):
the centre ticks every half second from its own thread and lapses what is late by
this clock, so reading and moving it take a lock."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta


class Clock:
    def __init__(self, start: datetime):
        self.now = start
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def move(self, **delta) -> None:
        with self.lock:
            self.now += timedelta(**delta)

    def set(self, when: datetime) -> None:
        with self.lock:
            self.now = when

"""What `motcua ship` sends next: the go-back-N window over the outbox's
sequence (docs/province.md, "Shipping without loss"). Part of the core: no
I/O, no clock of its own (every call is given `now`, in seconds).

- The hub's acknowledgement `acked` (the highest contiguous seq it has
  committed) is the only thing that moves the window; one that goes backwards
  (a stale retained message, a second hub) is ignored. Until the first one is
  known (the retained one, or none at all: then 0) nothing is sent.
- At most WINDOW batches of at most BATCH_MAX records are in flight beyond
  `acked`. A batch that ends at the outbox's head with room to spare (partial)
  is sent only when no other partial batch is in flight: records written
  meanwhile wait for the next acknowledgement and go together, so a busy centre
  sends full batches, not one record per message (Nagle's rule).
- With batches in flight and no progress for `resend_after_s` (10 s), it goes
  back to acked + 1, sending ONE batch (a probe) until an acknowledgement moves;
  each further timeout without progress doubles the wait, up to `resend_max_s`
  (300 s). So a province away for a day gets one batch every five minutes, not
  a window every ten seconds: nothing piles up in the brokers.
- While the bridge says the link is down (`ship/link` 0) there are no timeouts
  (what was sent waits in the centre's broker). When it comes back (1), and when
  the connection to the centre's broker comes back, it goes back to acked + 1
  with the whole window.
- The same acknowledgement again (the hub is alive, e.g. it started and
  published its acknowledgements) while waiting after a timeout brings the next
  probe forward to `resend_after_s` after the last one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

BATCH_MAX = 500          # records per batch (docs/province.md)
WINDOW = 8               # batches in flight beyond the last acknowledgement
RESEND_AFTER_S = 10.0    # without progress, send again from acked + 1
RESEND_MAX_S = 300.0     # the longest wait between probes while nothing moves


@dataclass(frozen=True)
class Batch:
    first: int
    last: int
    partial: bool  # ended at the outbox's head with room to spare when sent

    @property
    def size(self) -> int:
        return self.last - self.first + 1


@dataclass
class Window:
    batch_max: int = BATCH_MAX
    window: int = WINDOW
    resend_after_s: float = RESEND_AFTER_S
    resend_max_s: float = RESEND_MAX_S
    acked: int | None = None           # the hub's acknowledgement; None until known
    next_seq: int = 1                  # the first record not yet sent (since the last go-back)
    in_flight: list[Batch] = field(default_factory=list)
    link_up: bool | None = None        # the bridge's notification; None: never heard (no bridge)
    probing: bool = False              # after a timeout: one batch until an acknowledgement moves
    wait_s: float = 0.0                # the current wait before a go-back (grows while nothing moves)
    clock_from: float = 0.0            # since when the oldest batch in flight has waited for progress
    resends: int = 0                   # go-backs, for the log
    backwards: int = 0                 # acknowledgements ignored because they went backwards

    def __post_init__(self):
        if self.batch_max < 1 or self.window < 1 or self.resend_after_s <= 0:
            raise ValueError("batch_max and window must be at least 1, resend_after_s more than 0")
        self.resend_max_s = max(self.resend_max_s, self.resend_after_s)
        self.wait_s = self.resend_after_s

    # -- what comes in ----------------------------------------------------------------
    def ack(self, acked: int, now: float) -> bool:
        """The hub's acknowledgement; True if the window moved."""
        if acked < 0:
            return False
        if self.acked is None:
            self.acked = acked
            self.next_seq = acked + 1
            self.clock_from = now
            return True
        if acked < self.acked:
            self.backwards += 1
            return False
        if acked == self.acked:
            if self.probing:  # the hub is there: probe again soon, not after the long wait
                self.wait_s = self.resend_after_s
            return False
        self.acked = acked
        self.in_flight = [b for b in self.in_flight if b.last > acked]
        # (the hub may hold more than this run sent: after a restart, or copies sent before)
        # (a batch acknowledged in part stays in flight until its end is)
        self.next_seq = max(self.next_seq, acked + 1)
        self.clock_from = now
        self.wait_s = self.resend_after_s
        self.probing = False
        return True

    def link(self, up: bool, now: float) -> bool:
        """The bridge's notification (`ship/link`); True if it made a go-back."""
        was = self.link_up
        self.link_up = up
        if up and was is False:
            self._go_back(now, probe=False)
            self.wait_s = self.resend_after_s
            return True
        if up and was is None:
            self.clock_from = now  # timeouts count from now, not from a time the link was unknown
        return False

    def reconnected(self, now: float) -> None:
        """The connection to the centre's broker came back: what was in flight on the
        old one may be lost; send again from acked + 1 (one batch only if the hub
        has not answered the last probe)."""
        self._go_back(now, probe=self.probing)

    # -- what goes out -------------------------------------------------------------------
    def next_batch(self, head: int, now: float) -> tuple[int, int] | None:
        """The next range of seqs to send, (first, last), or None: nothing to send, the
        window is full, the partial batch waits, or the acknowledgement is not known
        yet. `head` is the outbox's highest seq. Call `sent` with what was sent."""
        if self.acked is None:
            return None
        self._check_timeout(now)
        if self.next_seq > head:
            return None
        if len(self.in_flight) >= (1 if self.probing else self.window):
            return None
        last = min(self.next_seq + self.batch_max - 1, head)
        if self._partial(self.next_seq, last, head) and any(b.partial for b in self.in_flight):
            return None
        return self.next_seq, last

    def sent(self, first: int, last: int, head: int, now: float) -> Batch:
        """A batch of first … last was published (last may be less than next_batch
        said: the shipper cuts a batch that would be too many bytes)."""
        if first != self.next_seq or last < first:
            raise ValueError(f"sent {first}-{last}, but the next record to send is {self.next_seq}")
        if not self.in_flight:
            self.clock_from = now
        batch = Batch(first, last, self._partial(first, last, head))
        self.in_flight.append(batch)
        self.next_seq = last + 1
        return batch

    # -- what it says --------------------------------------------------------------------
    def unshipped(self, head: int) -> int:
        """Records in the outbox beyond the last acknowledgement."""
        return max(0, head - (self.acked or 0))

    def due_in(self, now: float) -> float | None:
        """Seconds until the next go-back if nothing moves (None: none is pending)."""
        if not self.in_flight or self.link_up is False:
            return None
        return max(0.0, self.clock_from + self.wait_s - now)

    # -- inside --------------------------------------------------------------------------
    def _partial(self, first: int, last: int, head: int) -> bool:
        return last >= head and last - first + 1 < self.batch_max

    def _check_timeout(self, now: float) -> None:
        if not self.in_flight or self.link_up is False:
            return
        if now - self.clock_from >= self.wait_s:
            self._go_back(now, probe=True)
            self.wait_s = min(self.wait_s * 2, self.resend_max_s)

    def _go_back(self, now: float, probe: bool) -> None:
        if self.acked is None:
            return
        self.in_flight = []
        self.next_seq = self.acked + 1
        self.clock_from = now
        self.probing = probe
        self.resends += 1

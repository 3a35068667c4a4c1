"""The go-back-N window of `motcua ship` (motcua.shipping.window): what it sends
next given the hub's acknowledgements, the batches in flight, the time without
progress and the link's notifications. Pure: the clock is a number."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motcua.shipping.window import Window


def drain(w: Window, head: int, now: float) -> list[tuple[int, int]]:
    """Send everything the window allows now; the batches sent."""
    out = []
    while (b := w.next_batch(head, now)) is not None:
        w.sent(*b, head, now)
        out.append(b)
    return out


def test_nothing_is_sent_until_the_acknowledgement_is_known():
    w = Window(batch_max=10, window=3)
    assert w.next_batch(100, 0.0) is None
    assert w.unshipped(100) == 100
    assert w.ack(40, 0.0)  # the retained acknowledgement: records up to 40 are at the province
    assert drain(w, 100, 0.0) == [(41, 50), (51, 60), (61, 70)]  # a window of full batches
    assert w.unshipped(100) == 60


def test_acknowledgements_move_the_window_and_a_batch_acknowledged_in_part_stays():
    w = Window(batch_max=10, window=3)
    w.ack(0, 0.0)
    assert drain(w, 100, 0.0) == [(1, 10), (11, 20), (21, 30)]
    assert w.next_batch(100, 0.1) is None          # window full
    assert w.ack(15, 0.2)                          # the hub holds 1-15 contiguous
    assert [(b.first, b.last) for b in w.in_flight] == [(11, 20), (21, 30)]
    assert drain(w, 100, 0.2) == [(31, 40)]
    assert w.ack(40, 0.3) and drain(w, 100, 0.3) == [(41, 50), (51, 60), (61, 70)]


def test_an_acknowledgement_going_backwards_or_repeated_changes_nothing():
    w = Window(batch_max=10, window=2)
    w.ack(20, 0.0)
    drain(w, 100, 0.0)
    assert not w.ack(10, 1.0) and w.acked == 20 and w.backwards == 1
    assert not w.ack(20, 1.0)
    assert [(b.first, b.last) for b in w.in_flight] == [(21, 30), (31, 40)]
    assert w.next_batch(100, 1.0) is None


def test_an_acknowledgement_beyond_what_was_sent_jumps_ahead():
    """After a restart the hub may hold more than this run has sent (copies sent
    before): nothing below its acknowledgement is sent again."""
    w = Window(batch_max=10, window=2)
    w.ack(0, 0.0)
    drain(w, 100, 0.0)
    assert w.ack(75, 1.0)
    assert w.in_flight == [] and drain(w, 100, 1.0) == [(76, 85), (86, 95)]


def test_a_partial_batch_waits_for_the_one_in_flight():
    """Records written one by one go one batch at a time while the province is
    answering, then together: a busy centre does not send a message per record."""
    w = Window(batch_max=500, window=8)
    w.ack(0, 0.0)
    assert drain(w, 1, 0.0) == [(1, 1)]
    assert drain(w, 2, 0.1) == [] and drain(w, 7, 0.2) == []  # waits for 1's acknowledgement
    w.ack(1, 0.3)
    assert drain(w, 7, 0.3) == [(2, 7)]
    # full batches go whatever is in flight; a partial one only once 2-7 is acknowledged
    assert drain(w, 1200, 0.4) == [(8, 507), (508, 1007)]
    w.ack(7, 0.4)
    assert drain(w, 1200, 0.4) == [(1008, 1200)]
    assert drain(w, 1300, 0.5) == []
    w.ack(1007, 0.6)
    assert drain(w, 1300, 0.6) == []  # 1008-1200 still in flight, partial
    w.ack(1200, 0.7)
    assert drain(w, 1300, 0.7) == [(1201, 1300)]


def test_a_batch_cut_short_by_its_size_is_not_partial():
    w = Window(batch_max=500, window=8)
    w.ack(0, 0.0)
    first, last = w.next_batch(1000, 0.0)
    assert (first, last) == (1, 500)
    w.sent(1, 300, 1000, 0.0)   # the shipper cut it at 300 (bytes)
    assert w.next_batch(1000, 0.0) == (301, 800)
    with pytest.raises(ValueError):
        w.sent(302, 400, 1000, 0.0)  # not the next record


def test_no_progress_for_resend_after_sends_again_from_acked_plus_one_one_batch_at_a_time():
    w = Window(batch_max=10, window=3, resend_after_s=10, resend_max_s=40)
    w.ack(5, 0.0)
    assert drain(w, 100, 0.0) == [(6, 15), (16, 25), (26, 35)]
    assert drain(w, 100, 9.9) == []
    assert drain(w, 100, 10.0) == [(6, 15)]           # the probe
    assert w.probing and w.resends == 1
    assert drain(w, 100, 29.9) == []                   # the wait doubled: 20 s
    assert drain(w, 100, 30.0) == [(6, 15)]
    assert drain(w, 100, 70.0) == [(6, 15)]            # 40 s, the most
    assert drain(w, 100, 110.0) == [(6, 15)]
    # the hub answers: the whole window again, and the wait is 10 s again
    assert w.ack(15, 111.0) and not w.probing
    assert drain(w, 100, 111.0) == [(16, 25), (26, 35), (36, 45)]
    assert drain(w, 100, 121.0) == [(16, 25)]


def test_the_resend_clock_starts_with_the_first_batch_in_flight_not_before():
    w = Window(batch_max=10, window=3, resend_after_s=10)
    w.ack(0, 0.0)
    assert drain(w, 0, 0.0) == []          # nothing to send for a long while
    assert drain(w, 3, 500.0) == [(1, 3)]
    assert drain(w, 3, 509.0) == []        # not timed out: it left at 500
    assert drain(w, 3, 510.0) == [(1, 3)]


def test_the_same_acknowledgement_while_probing_brings_the_next_probe_forward():
    """A hub that (re)starts publishes its acknowledgements: the centre waiting
    minutes between probes tries again soon."""
    w = Window(batch_max=10, window=3, resend_after_s=10, resend_max_s=300)
    w.ack(0, 0.0)
    drain(w, 100, 0.0)
    for t in (10, 30, 70, 150):
        assert drain(w, 100, t) == [(1, 10)]
    assert w.due_in(151) == pytest.approx(159)         # next at 310
    w.ack(0, 160.0)
    assert w.due_in(160) == 0.0
    assert drain(w, 100, 160.0) == [(1, 10)]


def test_link_down_stops_the_resends_link_up_sends_the_window_again():
    w = Window(batch_max=10, window=3, resend_after_s=10)
    w.ack(0, 0.0)
    w.link(True, 0.0)
    drain(w, 100, 0.0)
    w.link(False, 1.0)   # the bridge is down: what was sent waits in the centre's broker
    for t in (11, 100, 3600, 86400):
        assert drain(w, 100, t) == [], t
    assert w.due_in(86400) is None
    assert w.link(True, 86401.0)
    assert drain(w, 100, 86401.0) == [(1, 10), (11, 20), (21, 30)]
    assert not w.link(True, 86402.0)  # 1 again: nothing new


def test_a_first_link_notification_is_not_a_comeback():
    w = Window(batch_max=10, window=3)
    w.ack(0, 0.0)
    drain(w, 100, 0.0)
    assert not w.link(True, 1.0) and drain(w, 100, 1.0) == []


def test_a_new_connection_to_the_centres_broker_sends_again_from_acked_plus_one():
    w = Window(batch_max=10, window=2)
    w.ack(10, 0.0)
    drain(w, 100, 0.0)
    w.reconnected(1.0)
    assert drain(w, 100, 1.0) == [(11, 20), (21, 30)]


def test_bad_settings_are_refused():
    for kw in ({"batch_max": 0}, {"window": 0}, {"resend_after_s": 0}):
        with pytest.raises(ValueError):
            Window(**kw)


class Hub:
    """The hub's rule: store each record once, acknowledge the highest contiguous seq."""

    def __init__(self):
        self.stored: set[int] = set()
        self.acked = 0
        self.copies = 0

    def receive(self, first: int, last: int) -> int:
        for s in range(first, last + 1):
            if s in self.stored:
                self.copies += 1
            self.stored.add(s)
        while self.acked + 1 in self.stored:
            self.acked += 1
        return self.acked


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 30), window=st.integers(1, 8),
       records=st.integers(1, 400), loss=st.sampled_from([0.0, 0.1, 0.4]))
def test_every_record_reaches_the_hub_through_a_channel_that_loses_duplicates_and_reorders(
        seed, batch, window, records, loss):
    """A simulated link: batches and acknowledgements lost, duplicated, delayed and
    reordered, the link going down and up, records written while shipping. Every
    record arrives; never more than a window is in flight beyond the acknowledgement."""
    rng = random.Random(seed)
    w = Window(batch_max=batch, window=window, resend_after_s=1.0, resend_max_s=8.0)
    hub = Hub()
    to_hub: list[tuple[float, int, int]] = []    # (arrives at, first, last)
    to_centre: list[tuple[float, int]] = []      # (arrives at, acked)
    head, now = 0, 0.0
    w.ack(0, now)
    w.link(True, now)
    for _ in range(400000):
        now += 0.05
        if head < records and rng.random() < 0.3:
            head = min(records, head + rng.randint(1, 3 * batch))
        if rng.random() < 0.01:
            w.link(not w.link_up, now)
        while (b := w.next_batch(head, now)) is not None:
            w.sent(*b, head, now)
            assert len(w.in_flight) <= window
            assert b[1] <= w.acked + window * batch
            if rng.random() >= loss:
                for _ in range(2 if rng.random() < 0.1 else 1):
                    to_hub.append((now + rng.uniform(0.01, 0.6), *b))
        for item in [m for m in to_hub if m[0] <= now]:
            to_hub.remove(item)
            acked = hub.receive(item[1], item[2])
            if rng.random() >= loss:
                to_centre.append((now + rng.uniform(0.01, 0.6), acked))
        for item in [m for m in to_centre if m[0] <= now]:
            to_centre.remove(item)
            w.ack(item[1], now)
        if head == records and hub.acked == records and w.acked == records:
            break
    assert hub.stored == set(range(1, records + 1))
    assert hub.acked == w.acked == records and w.unshipped(head) == 0

"""The rating pad protocol (hardware/padproto.py, docs/pad-protocol.md): frames,
parser, streaming decoder and the pad's state machine. No hardware, no clock:
time is passed in."""
from __future__ import annotations

import dataclasses
import json
import logging
import re
from functools import reduce
from operator import xor
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from motcua.hardware import padproto as pp
from motcua.hardware.padproto import (
    Ack, Beep, Cancel, Decoder, FrameError, Hb, Hello, Led, Lock, PadState, Ping, Pong,
    Prompt, Rating, Who, parse,
)

ROOT = Path(__file__).resolve().parents[2]
CASES = json.loads((ROOT / "tests" / "support" / "pad_frames.json").read_text(encoding="utf-8"))
DOC = (ROOT / "docs" / "pad-protocol.md").read_text(encoding="utf-8")

EXAMPLES = {
    "HELLO": Hello(1, "PAD-0001", "1.0.0", 42, 4, 3000),
    "RATING": Rating(17, 42, "A012", 1, 0),
    "HB": Hb(42, "-", 1, 1, 0),
    "LOCK": Lock(3000, 0),
    "PONG": Pong("7"),
    "WHO": Who(),
    "PING": Ping("7"),
    "PROMPT": Prompt("A012", 4, 30),
    "CANCEL": Cancel("A012"),
    "LED": Led(256, 2000),
    "BEEP": Beep(2000, 80),
    "ACK": Ack(17, 42),
}


def own_checksum(body: bytes) -> str:
    return "%02X" % reduce(xor, body, 0)


# --- frames ----------------------------------------------------------------

def test_every_type_has_an_example_and_a_direction():
    assert set(EXAMPLES) == set(pp.FRAME_TYPES)
    assert {t for t, c in pp.FRAME_TYPES.items() if c.SENDER == "pad"} == {
        "HELLO", "RATING", "HB", "LOCK", "PONG"}
    assert {t for t, c in pp.FRAME_TYPES.items() if c.SENDER == "host"} == {
        "WHO", "PING", "PROMPT", "CANCEL", "LED", "BEEP", "ACK"}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_round_trip_every_type(name):
    frame = EXAMPLES[name]
    wire = frame.encode()
    assert wire.startswith(b"$" + name.encode())
    assert wire.endswith(b"\r\n")
    body, _, tail = wire[1:-2].partition(b"*")
    assert tail.decode() == own_checksum(body)
    assert parse(wire) == frame
    assert parse(wire[:-2]) == frame            # without its line end
    assert parse(wire.decode()) == frame        # as str
    assert Decoder().feed(wire) == [frame]


def test_worked_checksum_of_the_doc():
    assert pp.checksum("PING,7") == 0x0B
    assert Ping("7").encode() == b"$PING,7*0B\r\n"


def _largest(cls):
    values = []
    for field, kind in zip(dataclasses.fields(cls), cls.KINDS):
        values.append("Z" * pp.MAX_ID if kind in pp.ID_KINDS else pp.NUMBER_RANGES[kind][1])
    return cls(*values)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_largest_frame_of_each_type_fits(name):
    wire = _largest(pp.FRAME_TYPES[name]).encode()
    assert len(wire) <= pp.MAX_FRAME
    assert parse(wire) == _largest(pp.FRAME_TYPES[name])


@pytest.mark.parametrize("make", [
    lambda: Prompt("A012", 9, 30),            # too many levels
    lambda: Prompt("-", 4, 30),               # '-' is not a prompt id
    lambda: Prompt("A 12", 4, 30),            # space
    lambda: Prompt("Ư12", 4, 30),             # not ASCII
    lambda: Rating(1, 42, "", 1, 0),          # empty id
    lambda: Rating(-1, 42, "-", 1, 0),        # negative
    lambda: Ack(2 ** 32, 1),                  # over 32 bits
    lambda: Hb(1, "-", True, 0, 0),           # bool is not an int here
    lambda: Led(512, 10),
    lambda: Ping("x" * 17),
])
def test_frames_refuse_values_they_could_not_send(make):
    with pytest.raises(ValueError):
        make()


def _id_strategy():
    return st.from_regex(r"\A[A-Za-z0-9._-]{1,16}\Z").filter(lambda s: s != "-")


def _frame_strategy():
    def for_class(cls):
        parts = []
        for kind in cls.KINDS:
            if kind == "d":
                parts.append(_id_strategy())
            elif kind == "p":
                parts.append(st.one_of(st.just("-"), _id_strategy()))
            else:
                low, high = pp.NUMBER_RANGES[kind]
                parts.append(st.integers(low, high))
        return st.tuples(*parts).map(lambda values: cls(*values))
    return st.one_of(*(for_class(cls) for cls in pp.FRAME_TYPES.values()))


@settings(max_examples=300, deadline=None)
@given(_frame_strategy())
def test_round_trip_any_valid_frame(frame):
    wire = frame.encode()
    assert len(wire) <= pp.MAX_FRAME
    assert parse(wire) == frame
    assert Decoder().feed(wire) == [frame]


# --- the shared frame examples ---------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c.get("note") or c["frame"][:30] for c in CASES])
def test_shared_frame_examples(case):
    if case["valid"]:
        frame = parse(case["frame"])
        assert frame.fields() == case["fields"]
        assert frame.encode().rstrip(b"\r\n") == case["frame"].rstrip("\r\n").encode()
    else:
        with pytest.raises(FrameError) as info:
            parse(case["frame"])
        assert info.value.reason == case["reason"]


def test_shared_examples_cover_every_type_and_reason():
    assert {c["fields"]["type"] for c in CASES if c["valid"]} == set(pp.FRAME_TYPES)
    parse_reasons = set(pp.REASONS) - {pp.GARBAGE, pp.TRUNCATED}
    assert {c["reason"] for c in CASES if not c["valid"]} == parse_reasons


def test_checksum_errors():
    good = Ack(17, 42).encode()
    with pytest.raises(FrameError) as info:
        parse(good.replace(b"*49", b"*48"))
    assert info.value.reason == pp.BAD_CHECKSUM
    assert "49" in str(info.value) and "48" in str(info.value)
    with pytest.raises(FrameError) as info:
        parse(good.replace(b"ACK,17", b"ACK,18"))
    assert info.value.reason == pp.BAD_CHECKSUM


def test_length_limit_is_on_the_line():
    body = b"PING," + b"A" * (pp.MAX_BODY - 5)
    line = b"$%s*%s" % (body, own_checksum(body).encode())
    assert len(line) == pp.MAX_LINE
    with pytest.raises(FrameError) as info:          # fits, but the token is too long
        parse(line)
    assert info.value.reason == pp.BAD_FIELD
    body += b"A"
    with pytest.raises(FrameError) as info:
        parse(b"$%s*%s\r\n" % (body, own_checksum(body).encode()))
    assert info.value.reason == pp.TOO_LONG


@settings(max_examples=300, deadline=None)
@given(_frame_strategy(), st.data())
def test_a_changed_byte_never_passes(frame, data):
    """One byte changed: never a frame, unless the change leaves a line end right
    after the checksum (the CR turned into LF, or the LF after the CR changed)."""
    wire = bytearray(frame.encode())
    index = data.draw(st.integers(0, len(wire) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != wire[index]))
    wire[index] = new
    frames = [x for x in Decoder().feed(bytes(wire) + b"\n") if not isinstance(x, FrameError)]
    if index == len(wire) - 1 or (index == len(wire) - 2 and new in (0x0A, 0x0D)):
        assert frames == [frame]
    else:
        assert frames == []


# --- streaming decoder -----------------------------------------------------

def test_garbage_then_a_good_frame():
    decoder = Decoder()
    items = decoder.feed(b"\x00\xffnoise$PING,7*0B\r\n")
    assert items == [FrameError(pp.GARBAGE, size=7), Ping("7")]
    assert decoder.errors == {pp.GARBAGE: 1}


def test_garbage_run_ends_at_line_end_and_empty_lines_are_nothing():
    assert Decoder().feed(b"\r\n\r\nxyz\r\n\n$WHO*50\n\r") == [FrameError(pp.GARBAGE, size=3), Who()]


def test_dollar_inside_a_frame_resynchronises():
    items = Decoder().feed(b"$PROMPT,A0$PING,7*0B\r\n")
    assert items == [FrameError(pp.TRUNCATED, size=len(b"$PROMPT,A0")), Ping("7")]


@pytest.mark.parametrize("ending", [b"\r\n", b"\n", b"\r"])
def test_line_endings(ending):
    assert Decoder().feed(b"$PING,7*0B" + ending + b"$WHO*50" + ending) == [Ping("7"), Who()]


def test_partial_frames_across_feeds():
    wire = Prompt("A012", 4, 30).encode() + Ack(17, 42).encode()
    for cut in range(len(wire) + 1):
        decoder = Decoder()
        first = decoder.feed(wire[:cut])
        second = decoder.feed(wire[cut:])
        assert first + second == [Prompt("A012", 4, 30), Ack(17, 42)], cut
        assert decoder.pending == 0
    decoder = Decoder()
    got = [item for byte in wire for item in decoder.feed(bytes([byte]))]
    assert got == [Prompt("A012", 4, 30), Ack(17, 42)]


def test_over_long_frame_is_dropped_and_the_next_one_read():
    decoder = Decoder()
    items = decoder.feed(b"$" + b"A" * 300 + b"$PING,7*0B\r\n")
    assert items == [FrameError(pp.TOO_LONG, size=pp.MAX_LINE + 1), Ping("7")]
    items = decoder.feed(b"$" + b"B" * 300 + b"\r\n$WHO*50\r\n")
    assert items == [FrameError(pp.TOO_LONG, size=pp.MAX_LINE + 1), Who()]   # rest is not garbage


def test_decoder_never_grows():
    decoder = Decoder()
    decoder.feed(b"$")
    for _ in range(100):
        decoder.feed(b"X" * 1000)
        assert decoder.pending <= pp.MAX_LINE
    noise = Decoder()
    noise.feed(b"x" * 100_000)
    assert noise.pending == 0
    assert noise.feed(b"\n") == [FrameError(pp.GARBAGE, size=pp.GARBAGE_MAX)]


def test_bad_frame_is_logged_with_its_reason(caplog):
    with caplog.at_level(logging.WARNING, logger="hardware.padproto"):
        items = Decoder(name="pad test").feed(b"$PING,7*0C\r\n$PING,7*0B\r\n")
    assert items == [FrameError(pp.BAD_CHECKSUM, size=10), Ping("7")]
    assert "pad test" in caplog.text and "bad_checksum" in caplog.text


_chunks = st.one_of(
    _frame_strategy().map(lambda f: f.encode()),
    st.binary(max_size=40),
    st.sampled_from([b"$", b"*", b"\r", b"\n", b",", b"$PING,7*0B", b"*0B\r\n", b"$" + b"Q" * 120]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_chunks, max_size=25), st.lists(st.integers(1, 60), max_size=10))
def test_random_streams(chunks, cuts):
    data = b"".join(chunks)
    whole = Decoder().feed(data)
    for item in whole:
        assert isinstance(item, (pp.Frame, FrameError))
        if isinstance(item, FrameError):
            assert item.reason in pp.REASONS
        else:
            # Encoding is canonical, so a yielded frame's line, with its checksum,
            # is in the input exactly as re-encoded.
            assert item.encode()[:-2] in data
    # Every whole frame put in the stream comes out, in order.
    frames = iter(x for x in whole if not isinstance(x, FrameError))
    for chunk in chunks:
        if chunk.endswith(b"\r\n") and chunk.startswith(b"$") and chunk.count(b"$") == 1:
            try:
                expected = parse(chunk)
            except FrameError:
                continue
            assert any(f == expected for f in frames)
    # Feeding in pieces changes nothing, and the decoder stays bounded.
    decoder = Decoder()
    pieces, pos = [], 0
    for cut in cuts:
        pieces.append(data[pos:pos + cut])
        pos += cut
    pieces.append(data[pos:])
    split = []
    for piece in pieces:
        split += decoder.feed(piece)
        assert decoder.pending <= pp.MAX_LINE
    assert split == whole


# --- the pad ---------------------------------------------------------------

class Store:
    """What a simulator keeps across resets: the persisted sequence number."""

    def __init__(self, value=0):
        self.value = value
        self.writes = 0

    def __call__(self, value):
        self.value = value
        self.writes += 1


def make_pad(boot=7, store=None, **kw):
    store = store if store is not None else Store()
    pad = PadState("PAD-0001", boot, store.value, persist=store, **kw)
    return pad, store


def started(boot=7, store=None, **kw):
    pad, store = make_pad(boot, store, **kw)
    assert pad.start(0) == [Hello(1, "PAD-0001", pp.FW_VERSION, boot, kw.get("buttons", 4),
                                  kw.get("lockout_ms", pp.LOCKOUT_MS))]
    return pad, store


def ratings(frames):
    return [f for f in frames if isinstance(f, Rating)]


def run_ticks(pad, start, end, step=10):
    """All frames from ticking every `step` ms, as (time, frame)."""
    out = []
    for now in range(start, end + 1, step):
        out += [(now, f) for f in pad.tick(now)]
    return out


def test_start_says_hello_and_reserves_sequence_numbers():
    pad, store = make_pad(store=Store(100))
    assert store.writes == 0
    assert pad.start(5) == [Hello(1, "PAD-0001", "1.0.0", 7, 4, 3000)]
    assert store.value == 100 + pp.SEQ_BLOCK and pad.persisted_seq == 116
    assert store.writes == 1
    assert pad.next_seq == 100


def test_events_before_start_are_refused():
    pad, _ = make_pad()
    with pytest.raises(RuntimeError):
        pad.on_press(1, 0)


def test_prompted_press_is_one_rating_and_ends_the_prompt():
    pad, _ = started()
    assert pad.on_frame(Prompt("A012", 4, 30), 1000) == [Hb(7, "A012", 0, 0, 0)]
    assert pad.prompt == "A012"
    out = pad.on_press(2, 2000)
    assert out == [Rating(0, 7, "A012", 2, 0), Lock(3000, 0)]
    assert pad.prompt is None and pad.locked
    assert pad.take_beep() == pp.CONFIRM_BEEP
    assert pad.take_beep() is None
    # After the lock-out a press is no longer for A012.
    pad.on_frame(Ack(0, 7), 2100)
    assert pad.tick(5000) == [Lock(0, 0)]
    assert ratings(pad.on_press(1, 6000)) == [Rating(1, 7, "-", 1, 0)]


def test_repeated_presses_in_the_lock_out_count_once():
    pad, _ = started()
    pad.on_frame(Prompt("A012", 4, 30), 0)
    first = pad.on_press(1, 1000)
    assert ratings(first) == [Rating(0, 7, "A012", 1, 0)]
    for t in (1100, 1500, 2000, 3999):
        assert pad.on_press(1, t) == []
        assert pad.on_press(4, t) == []
    assert pad.ignored == 8
    assert pad.unacked == [(0, "A012", 1)]
    assert pad.tick(4000)[0] == Lock(0, 8)            # lock-out ends at 1000 + 3000
    assert not pad.locked
    assert ratings(pad.on_press(3, 4000)) == []       # counted, but queued behind seq 0
    assert [seq for seq, _, _ in pad.unacked] == [0, 1]


def test_lock_out_end_is_reported_by_any_event():
    pad, _ = started()
    pad.on_press(1, 0)
    assert pad.on_frame(Ping("x"), 3000) == [Lock(0, 0), Pong("x")]


def test_unprompted_press_is_reported_flagged():
    pad, _ = started()
    out = pad.on_press(3, 500)
    assert out[0] == Rating(0, 7, pp.NO_PROMPT, 3, 0)
    assert not out[0].prompted
    assert out[0].encode() == b"$RATING,0,7,-,3,0*%s\r\n" % own_checksum(b"RATING,0,7,-,3,0").encode()


def test_retransmit_until_ack_then_stop():
    pad, _ = started(hb_interval_ms=60000)
    pad.on_press(1, 1000)
    sent = [(t, f) for t, f in run_ticks(pad, 1000, 12000) if isinstance(f, Rating)]
    assert [t for t, _ in sent] == [1500, 2500, 4500, 6500, 8500, 10500]
    assert [f.age_ms for _, f in sent] == [500, 1500, 3500, 5500, 7500, 9500]
    assert {(f.seq, f.boot, f.level) for _, f in sent} == {(0, 7, 1)}
    assert pad.on_frame(Ack(0, 7), 12005) == []
    assert pad.unacked == []
    assert ratings(f for _, f in run_ticks(pad, 12010, 30000)) == []


def test_retry_interval_schedule():
    assert [pp.retry_interval(n) for n in range(1, 7)] == [500, 1000, 2000, 2000, 2000, 2000]
    assert pp.retry_interval(255) == 2000


def test_duplicate_and_foreign_acks_are_harmless():
    pad, _ = started(hb_interval_ms=60000)
    pad.on_press(1, 0)
    assert pad.on_frame(Ack(0, 8), 100) == []          # another boot: not ours
    assert pad.unacked == [(0, "-", 1)]
    assert pad.on_frame(Ack(5, 7), 100) == []          # no such seq
    assert pad.unacked == [(0, "-", 1)]
    assert pad.on_frame(Ack(0, 7), 200) == []
    assert pad.on_frame(Ack(0, 7), 300) == []          # duplicate
    assert pad.unacked == []
    assert ratings(f for _, f in run_ticks(pad, 300, 5000)) == []


def test_queued_ratings_go_one_after_another():
    pad, _ = started(hb_interval_ms=60000)
    pad.on_press(1, 0)
    pad.on_press(2, 3000)                               # lock-out over: counted
    assert pad.unacked == [(0, "-", 1), (1, "-", 2)]
    # seq 0 is overdue (no tick since 0): sent at the first tick; seq 1 waits.
    assert ratings(f for _, f in run_ticks(pad, 3000, 3500)) == [Rating(0, 7, "-", 1, 3000)]
    assert pad.on_frame(Ack(1, 7), 3600) == []          # ACK of the queued one
    assert pad.unacked == [(0, "-", 1)]
    pad.on_press(3, 6000)
    assert pad.on_frame(Ack(0, 7), 6100) == [Rating(2, 7, "-", 3, 100)]   # next at once


def test_full_queue_drops_the_oldest():
    pad, _ = started(lockout_ms=0, hb_interval_ms=60000)
    for i in range(pp.QUEUE_SIZE):
        pad.on_press(1 + i % 4, i)
    assert len(pad.unacked) == pp.QUEUE_SIZE and pad.dropped == 0
    out = pad.on_press(4, 100)
    assert pad.dropped == 1
    assert [seq for seq, _, _ in pad.unacked] == list(range(1, pp.QUEUE_SIZE + 1))
    assert out == [Rating(1, 7, "-", 2, 99)]            # the new oldest, sent at once


def test_lock_out_zero_counts_every_press_without_lock_frames():
    pad, _ = started(lockout_ms=0)
    assert pad.on_press(1, 0) == [Rating(0, 7, "-", 1, 0)]
    assert pad.on_press(1, 1) == []                     # counted, queued
    assert pad.next_seq == 2 and not pad.locked


def test_sequence_survives_a_reset():
    store = Store(0)
    pad, _ = started(boot=1, store=store, lockout_ms=0)
    seqs = []
    for i in range(40):
        seqs += [f.seq for f in ratings(pad.on_press(1, i))]
        pad.on_frame(Ack(i, 1), i)
    assert len(set(pad.unacked)) == 0 and pad.next_seq == 40
    writes = store.writes
    assert writes <= 1 + 40 // pp.SEQ_BLOCK + 1          # one write per block, not per press
    # Power cut: only the persisted value survives.
    pad2, _ = make_pad(boot=2, store=store, lockout_ms=0)
    assert pad2.start(0)[0].boot == 2
    first = ratings(pad2.on_press(2, 10))[0]
    assert first.boot == 2
    assert first.seq >= 40                              # never reused
    assert first.seq < 40 + pp.SEQ_BLOCK                # at most one block skipped
    assert store.value > first.seq


def test_sequence_reservation_runs_ahead_of_use():
    store = Store(0)
    pad, _ = started(store=store, lockout_ms=0)
    for i in range(100):
        pad.on_press(1, i)
        assert pad.next_seq <= store.value              # every used number is covered


def test_prompt_timeout():
    pad, _ = started(hb_interval_ms=60000)
    pad.on_frame(Prompt("A012", 4, 30), 1000)
    assert pad.tick(30999) == []
    assert pad.leds(30999) == 0b1111
    assert pad.tick(31000) == [Hb(7, "-", 0, 0, 0)]
    assert pad.prompt is None and pad.leds(31000) == 0
    assert ratings(pad.on_press(1, 32000))[0].prompt == "-"


def test_prompt_timeout_is_seen_by_a_press_before_any_tick():
    pad, _ = started(hb_interval_ms=60000)
    pad.on_frame(Prompt("A012", 4, 1), 0)
    out = pad.on_press(2, 1000)
    assert out[0] == Hb(7, "-", 0, 0, 0)
    assert out[1] == Rating(0, 7, "-", 2, 0)


def test_cancel():
    pad, _ = started()
    pad.on_frame(Prompt("A012", 4, 30), 0)
    assert pad.on_frame(Cancel("B001"), 10) == [Hb(7, "A012", 0, 0, 0)]   # not the active one
    assert pad.prompt == "A012"
    assert pad.on_frame(Cancel("A012"), 20) == [Hb(7, "-", 0, 0, 0)]
    assert ratings(pad.on_press(1, 30))[0].prompt == "-"


def test_one_rating_per_prompt_even_if_the_prompt_is_repeated():
    pad, _ = started()
    pad.on_frame(Prompt("A012", 4, 30), 0)
    pad.on_press(1, 100)
    assert pad.on_frame(Prompt("A012", 4, 30), 200) == [Hb(7, "-", 1, 1, 0)]   # refused
    assert pad.prompt is None
    assert pad.on_frame(Prompt("A013", 4, 30), 300) == [Hb(7, "A013", 1, 1, 0)]


def test_repeated_prompt_keeps_its_timeout_and_new_prompt_replaces():
    pad, _ = started(hb_interval_ms=60000)
    pad.on_frame(Prompt("A012", 4, 10), 0)
    pad.on_frame(Prompt("A012", 4, 10), 5000)
    assert pad.tick(10000) == [Hb(7, "-", 0, 0, 0)]       # 10 s after the first
    pad.on_frame(Prompt("A013", 4, 10), 11000)
    pad.on_frame(Prompt("A014", 3, 10), 12000)
    assert pad.prompt == "A014" and pad.leds(12000) == 0b111


def test_prompt_for_more_levels_than_buttons_is_refused():
    pad, _ = started(buttons=4)
    assert pad.on_frame(Prompt("A012", 5, 30), 0) == [Hb(7, "-", 0, 0, 0)]
    assert pad.prompt is None


def test_unlit_button_is_ignored_during_a_prompt():
    pad, _ = started(buttons=5)
    pad.on_frame(Prompt("A012", 3, 30), 0)
    assert pad.on_press(4, 100) == []
    assert pad.prompt == "A012" and not pad.locked and pad.next_seq == 0
    assert ratings(pad.on_press(3, 200)) == [Rating(0, 7, "A012", 3, 0)]
    assert pad.on_press(6, 300) == []                   # no such button


def test_prompt_during_lock_out_waits_for_it():
    pad, _ = started()
    pad.on_press(1, 0)
    assert pad.on_frame(Prompt("A013", 4, 30), 1000) == [Hb(7, "A013", 1, 1, 0)]
    assert pad.leds(1000) & pp.THANKS_LED                # still saying thank you
    assert pad.on_press(2, 2000) == []                   # lock-out: not for A013
    pad.tick(3000)
    assert pad.leds(3000) == 0b1111
    assert ratings(pad.on_frame(Ack(0, 7), 3100) + pad.on_press(2, 3200)) == [
        Rating(1, 7, "A013", 2, 0)]


def test_thank_you_pattern():
    pad, _ = started()
    pad.on_frame(Prompt("A012", 4, 30), 0)
    assert pad.leds(10) == 0b1111
    pad.on_press(3, 1000)
    assert pad.leds(1000) == pp.THANKS_LED | 0b0100       # Cảm ơn + button 3
    assert pad.leds(1249) == pp.THANKS_LED | 0b0100
    assert pad.leds(1250) == pp.THANKS_LED               # blink off
    assert pad.leds(1500) == pp.THANKS_LED | 0b0100
    assert pad.leds(3999) == pp.THANKS_LED
    assert pad.leds(4000) == 0


def test_led_override_and_beep():
    pad, _ = started()
    pad.on_frame(Prompt("A012", 4, 30), 0)
    assert pad.on_frame(Led(0b1001, 500), 100) == []
    assert pad.leds(100) == 0b1001 and pad.leds(599) == 0b1001
    assert pad.leds(600) == 0b1111                       # back to the prompt
    pad.on_frame(Led(0b1, 10000), 700)
    assert pad.on_frame(Led(0, 0), 800) == [] and pad.leds(800) == 0b1111
    assert pad.on_frame(Beep(440, 200), 900) == []
    assert pad.take_beep() == (440, 200) and pad.take_beep() is None


def test_who_ping_and_host_online():
    pad, _ = started(hb_interval_ms=5000)
    assert not pad.host_online(0)
    assert pad.on_frame(Who(), 100) == [pad.hello]
    assert pad.on_frame(Ping("t1"), 200) == [Pong("t1")]
    assert pad.host_online(15199) and not pad.host_online(15200)


def test_frames_only_a_pad_sends_are_ignored():
    pad, _ = started()
    for frame in (Hello(1, "X", "1", 1, 4, 0), Rating(0, 7, "-", 1, 0), Hb(7, "-", 0, 0, 0),
                  Lock(0, 0), Pong("x")):
        assert pad.on_frame(frame, 100) == []
    assert not pad.host_online(100)


def test_heartbeat_period_restarts_after_any_hb():
    pad, _ = started(hb_interval_ms=5000)
    hbs = [t for t, f in run_ticks(pad, 0, 4000) if isinstance(f, Hb)]
    assert hbs == []
    pad.on_frame(Prompt("A012", 4, 60), 4000)            # HB now
    hbs = [t for t, f in run_ticks(pad, 4010, 20000) if isinstance(f, Hb)]
    assert hbs == [9000, 14000, 19000]


def test_receive_bytes_counts_discarded_frames():
    pad, _ = started()
    out = pad.receive(b"\x00garbage\n$PROMPT,A012,4,30*6C\r\n$PROMPT,A0", 100)
    assert out == [] and pad.rx_errors == 2              # garbage, bad checksum
    out = pad.receive(b"12,4,30*6D\r\n", 200)            # the rest of a good one
    assert out == [Hb(7, "A012", 0, 0, 2)]


def test_persisted_seq_attribute_without_a_callback():
    pad = PadState("PAD-9", 3, 50)
    pad.start(0)
    assert pad.persisted_seq == 66
    assert ratings(pad.on_press(1, 0)) == [Rating(50, 3, "-", 1, 0)]


@pytest.mark.parametrize("kw", [
    dict(buttons=1), dict(buttons=9), dict(lockout_ms=60001), dict(hb_interval_ms=0),
    dict(fw_version="1 0"),
])
def test_bad_configuration_is_refused(kw):
    with pytest.raises(ValueError):
        PadState("PAD-0001", 1, 0, **kw)


# --- the documentation -----------------------------------------------------

def _text_blocks():
    return re.findall(r"^```text\n(.*?)^```", DOC, flags=re.M | re.S)


def test_doc_examples_parse():
    found = re.findall(r"\$[^\s`|]*\*[0-9A-F]{2}", "\n".join(_text_blocks()))
    assert len(found) >= 20
    types = set()
    for line in found:
        types.add(parse(line).TYPE)
    assert types == set(pp.FRAME_TYPES)


def test_doc_error_table():
    rows = re.findall(r"^\| `([a-z_]+)` \| [^|]+ \| `([^`]+)` \|$", DOC, flags=re.M)
    assert len(rows) >= 8
    for reason, example in rows:
        with pytest.raises(FrameError) as info:
            parse(example)
        assert info.value.reason == reason, example
    for reason in pp.REASONS:
        assert f"`{reason}`" in DOC


def test_doc_names_every_frame_and_field():
    for name, cls in pp.FRAME_TYPES.items():
        assert f"### {name}" in DOC
        for field in dataclasses.fields(cls):
            assert field.name in DOC, (name, field.name)


def test_doc_timing_table_matches_the_code():
    rows = dict(re.findall(r"^\| ([A-Z_]+) \| (\d+) \|", DOC, flags=re.M))
    assert len(rows) >= 10
    for name, value in rows.items():
        assert getattr(pp, name) == int(value), name


def test_doc_session_is_what_the_pad_does():
    block = next(b for b in _text_blocks() if "frame or event" in b)
    events, expected = [], []
    for line in block.splitlines()[1:]:
        t, who, what = line.split()[:3]
        if who == "pad":
            expected.append((int(t), what))
        else:
            events.append((int(t), who, what))
    pad = PadState("PAD-0001", 42, 17)
    sent = [(0, f.encode()[:-2].decode()) for f in pad.start(0)]
    end = max(t for t, _ in expected)
    for now in range(10, end + 1, 10):
        for t, who, what in events:
            if t == now:
                frames = pad.on_press(int(what), now) if who == "press" else pad.on_frame(parse(what), now)
                sent += [(now, f.encode()[:-2].decode()) for f in frames]
        sent += [(now, f.encode()[:-2].decode()) for f in pad.tick(now)]
    assert sent == expected

"""The satisfaction rating pad: its serial protocol and its state machine.

A pad at each counter (a microcontroller with 2 to 8 buttons, one LED per
button, a "Cảm ơn" LED and a buzzer) talks to the counter's host over a USB
serial port in line-based ASCII frames::

    $BODY*HH\\r\\n

BODY is a type name and comma-separated fields, HH the XOR of the BODY bytes in
two uppercase hex digits. docs/pad-protocol.md is the specification; the
firmware (hardware/firmware/padproto.cpp) implements the same rules in C++ and
tests/unit/test_firmware.py checks that both agree byte for byte.

This module is a pure functional core, with no serial port, no clock and no
threads:

* `Frame` subclasses (`Hello`, `Rating`, `Hb`, `Lock`, `Pong` from the pad;
  `Who`, `Ping`, `Prompt`, `Cancel`, `Led`, `Beep`, `Ack` from the host), each
  with `encode()`;
* `parse(line)` returns a frame or raises `FrameError` whose `reason` is one of
  the `REASONS`;
* `Decoder.feed(data)` turns a byte stream into frames and `FrameError`s,
  resynchronising on `$` and never holding more than one frame's bytes;
* `PadState`, the pad's behaviour exactly as the firmware runs it: give it
  presses (already debounced), received frames and the time (`now`, integer
  milliseconds, as the firmware's millis()), and it returns the frames to send.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, fields as dc_fields
from typing import Callable, ClassVar, Union

log = logging.getLogger(__name__)

PROTO_VERSION = 1
FW_VERSION = "1.0.0"
BAUD = 57600

MAX_FRAME = 96                  # bytes from '$' through CR LF
MAX_LINE = MAX_FRAME - 2        # bytes from '$' through the last checksum digit
MAX_BODY = MAX_LINE - 4         # bytes between '$' and '*'
MAX_ID = 16                     # device id, firmware version, prompt id, ping token
MAX_BUTTONS = 8
NO_PROMPT = "-"                 # prompt id of an unprompted rating / no active prompt

THANKS_LED = 1 << 8             # LED mask bit of the "Cảm ơn" light; bit n-1 = button n
QUEUE_SIZE = 8                  # unacknowledged ratings kept by the pad
SEQ_BLOCK = 16                  # sequence numbers reserved per EEPROM write
RETRY_FIRST_MS = 500            # first retransmission of an unacknowledged rating
RETRY_MAX_MS = 2000             # the interval doubles up to this
HB_INTERVAL_MS = 5000           # heartbeat period, both directions
LINK_TIMEOUT_FACTOR = 3         # link is down after this many silent heartbeat periods
LOCKOUT_MS = 3000               # presses ignored for this long after a counted press
DEBOUNCE_MS = 25                # the sketch's debounce (not used by PadState)
THANKS_BLINK_MS = 250           # the pressed button's LED blinks with this half-period
CONFIRM_BEEP = (2000, 80)       # Hz, ms: beep after a counted press
DEFAULT_PROMPT_TIMEOUT_S = 30
GARBAGE_MAX = 65535             # garbage counts saturate here (as the firmware's uint16)

# Default 4-level scale: button 1 (left, green) is the best.
DEFAULT_SCALE = ("Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng")

# FrameError reasons
TOO_LONG = "too_long"
NO_START = "no_start"
BAD_CHAR = "bad_char"
NO_CHECKSUM = "no_checksum"
BAD_HEX = "bad_hex"
BAD_CHECKSUM = "bad_checksum"
UNKNOWN_TYPE = "unknown_type"
BAD_FIELD_COUNT = "bad_field_count"
BAD_FIELD = "bad_field"
GARBAGE = "garbage"             # bytes outside any frame (decoder only)
TRUNCATED = "truncated"         # a '$' arrived before the line end (decoder only)
REASONS = (TOO_LONG, NO_START, BAD_CHAR, NO_CHECKSUM, BAD_HEX, BAD_CHECKSUM, UNKNOWN_TYPE,
           BAD_FIELD_COUNT, BAD_FIELD, GARBAGE, TRUNCATED)

# Field kinds, one letter each (the same letters as the firmware's tables).
# Numbers are decimal without sign or leading zeros; ids are 1-16 of [A-Za-z0-9._-].
NUMBER_RANGES = {
    "v": (1, 99),               # protocol version
    "w": (0, 65535),            # 16-bit: boot id, counts
    "u": (0, 4294967295),       # 32-bit: sequence number, age
    "b": (2, MAX_BUTTONS),      # number of buttons / levels
    "l": (1, MAX_BUTTONS),      # button level
    "m": (0, 60000),            # milliseconds
    "f": (0, 1),                # flag
    "q": (0, 255),              # small count
    "t": (1, 3600),             # prompt timeout, seconds
    "x": (0, 511),              # LED mask
    "z": (50, 10000),           # beep frequency, Hz
    "e": (1, 5000),             # beep length, ms
}
ID_KINDS = {"d": "an id (1-16 of A-Z a-z 0-9 . _ -, not '-')",
            "p": "a prompt id or '-'"}

_NUMBER_RE = re.compile(rb"(?:0|[1-9][0-9]{0,9})\Z")
_ID_RE = re.compile(rb"[A-Za-z0-9._-]{1,16}\Z")
_HEX = b"0123456789ABCDEF"


def checksum(body: bytes | str) -> int:
    """XOR of the body bytes (the bytes between '$' and '*')."""
    if isinstance(body, str):
        body = body.encode("ascii")
    value = 0
    for byte in body:
        value ^= byte
    return value


def _valid(kind: str, value) -> bool:
    if kind in NUMBER_RANGES:
        low, high = NUMBER_RANGES[kind]
        return type(value) is int and low <= value <= high
    if not isinstance(value, str) or not value.isascii():
        return False
    if kind == "p" and value == NO_PROMPT:
        return True
    return value != NO_PROMPT and _ID_RE.match(value.encode("ascii")) is not None


def _parse_field(kind: str, raw: bytes):
    """The value of one field, or None when it is not valid for its kind."""
    if kind in NUMBER_RANGES:
        if not _NUMBER_RE.match(raw):
            return None
        value = int(raw)
        low, high = NUMBER_RANGES[kind]
        return value if low <= value <= high else None
    text = raw.decode("ascii", "replace")
    return text if _valid(kind, text) else None


class FrameError(Exception):
    """A discarded frame or run of bytes. `reason` is one of REASONS; `size` is the
    number of bytes discarded (for a too-long run: the bytes held when the limit
    was passed); `raw` the first bytes, for the log."""

    def __init__(self, reason: str, detail: str = "", raw: bytes = b"", size: int | None = None):
        assert reason in REASONS, reason
        self.reason = reason
        self.detail = detail
        self.raw = bytes(raw[:MAX_LINE])
        self.size = len(raw) if size is None else size
        super().__init__(f"{reason}: {detail}" if detail else reason)

    def __eq__(self, other):
        return (isinstance(other, FrameError) and self.reason == other.reason
                and self.size == other.size)

    def __hash__(self):
        return hash((self.reason, self.size))

    def __repr__(self):
        return f"FrameError({self.reason!r}, size={self.size}, raw={self.raw!r})"


@dataclass(frozen=True)
class Frame:
    """One message. Subclasses set TYPE (the name on the wire), KINDS (one kind
    letter per field, in wire order) and SENDER ('pad' or 'host')."""
    TYPE: ClassVar[str] = ""
    KINDS: ClassVar[str] = ""
    SENDER: ClassVar[str] = ""

    def __post_init__(self):
        for field, kind in zip(dc_fields(self), self.KINDS):
            value = getattr(self, field.name)
            if not _valid(kind, value):
                wanted = ID_KINDS.get(kind) or "an integer in %d..%d" % NUMBER_RANGES[kind]
                raise ValueError(f"{self.TYPE} {field.name}={value!r}: must be {wanted}")

    def values(self) -> tuple:
        return tuple(getattr(self, f.name) for f in dc_fields(self))

    def fields(self) -> dict:
        """{'type': TYPE, field name: value, ...}: the form of tests/support/pad_frames.json."""
        return {"type": self.TYPE, **{f.name: getattr(self, f.name) for f in dc_fields(self)}}

    def body(self) -> str:
        return ",".join([self.TYPE, *(str(v) for v in self.values())])

    def encode(self) -> bytes:
        body = self.body().encode("ascii")
        return b"$%s*%02X\r\n" % (body, checksum(body))


# --- pad -> host -----------------------------------------------------------

@dataclass(frozen=True)
class Hello(Frame):
    """Sent by the pad when it starts and in answer to WHO."""
    TYPE: ClassVar[str] = "HELLO"
    KINDS: ClassVar[str] = "vddwbm"
    SENDER: ClassVar[str] = "pad"
    proto: int
    device: str
    fw: str
    boot: int
    buttons: int
    lockout_ms: int


@dataclass(frozen=True)
class Rating(Frame):
    """A counted press. prompt is the prompt it answers or '-' (unprompted);
    age_ms is how long ago the button was pressed. Repeated until ACKed."""
    TYPE: ClassVar[str] = "RATING"
    KINDS: ClassVar[str] = "uwplu"
    SENDER: ClassVar[str] = "pad"
    seq: int
    boot: int
    prompt: str
    level: int
    age_ms: int

    @property
    def prompted(self) -> bool:
        return self.prompt != NO_PROMPT


@dataclass(frozen=True)
class Hb(Frame):
    """The pad's heartbeat and status: sent every HB_INTERVAL_MS and at once
    after a PROMPT, a CANCEL or a prompt timeout."""
    TYPE: ClassVar[str] = "HB"
    KINDS: ClassVar[str] = "wpfqw"
    SENDER: ClassVar[str] = "pad"
    boot: int
    prompt: str
    locked: int
    unacked: int
    rx_errors: int


@dataclass(frozen=True)
class Lock(Frame):
    """Lock-out report: LOCK,<lockout>,0 when a counted press starts it,
    LOCK,0,<presses ignored> when it ends."""
    TYPE: ClassVar[str] = "LOCK"
    KINDS: ClassVar[str] = "mw"
    SENDER: ClassVar[str] = "pad"
    remaining_ms: int
    ignored: int


@dataclass(frozen=True)
class Pong(Frame):
    TYPE: ClassVar[str] = "PONG"
    KINDS: ClassVar[str] = "d"
    SENDER: ClassVar[str] = "pad"
    token: str


# --- host -> pad -----------------------------------------------------------

@dataclass(frozen=True)
class Who(Frame):
    """Asks the pad for its HELLO."""
    TYPE: ClassVar[str] = "WHO"
    KINDS: ClassVar[str] = ""
    SENDER: ClassVar[str] = "host"


@dataclass(frozen=True)
class Ping(Frame):
    """The host's heartbeat; the pad answers PONG with the same token."""
    TYPE: ClassVar[str] = "PING"
    KINDS: ClassVar[str] = "d"
    SENDER: ClassVar[str] = "host"
    token: str


@dataclass(frozen=True)
class Prompt(Frame):
    """Light buttons 1..levels and wait timeout_s seconds for one press."""
    TYPE: ClassVar[str] = "PROMPT"
    KINDS: ClassVar[str] = "dbt"
    SENDER: ClassVar[str] = "host"
    prompt: str
    levels: int
    timeout_s: int


@dataclass(frozen=True)
class Cancel(Frame):
    TYPE: ClassVar[str] = "CANCEL"
    KINDS: ClassVar[str] = "d"
    SENDER: ClassVar[str] = "host"
    prompt: str


@dataclass(frozen=True)
class Led(Frame):
    """Show `mask` on the LEDs for ms milliseconds (ms=0: back to automatic)."""
    TYPE: ClassVar[str] = "LED"
    KINDS: ClassVar[str] = "xm"
    SENDER: ClassVar[str] = "host"
    mask: int
    ms: int


@dataclass(frozen=True)
class Beep(Frame):
    TYPE: ClassVar[str] = "BEEP"
    KINDS: ClassVar[str] = "ze"
    SENDER: ClassVar[str] = "host"
    freq_hz: int
    ms: int


@dataclass(frozen=True)
class Ack(Frame):
    """The host has stored rating (seq, boot)."""
    TYPE: ClassVar[str] = "ACK"
    KINDS: ClassVar[str] = "uw"
    SENDER: ClassVar[str] = "host"
    seq: int
    boot: int


FRAME_TYPES: dict[str, type[Frame]] = {
    cls.TYPE: cls for cls in (Hello, Rating, Hb, Lock, Pong, Who, Ping, Prompt, Cancel, Led, Beep, Ack)
}


def strip_line_end(line: bytes) -> bytes:
    if line.endswith(b"\r\n"):
        return line[:-2]
    if line.endswith((b"\n", b"\r")):
        return line[:-1]
    return line


def parse(line: bytes | str) -> Frame:
    """One frame from one line ('$' through the checksum, with or without its
    line end). Raises FrameError; the checks run in the documented order."""
    if isinstance(line, str):
        line = line.encode("utf-8")
    line = strip_line_end(bytes(line))
    if len(line) > MAX_LINE:
        raise FrameError(TOO_LONG, f"{len(line) + 2} bytes with CR LF, over {MAX_FRAME}", line)
    if not line.startswith(b"$"):
        raise FrameError(NO_START, "does not start with '$'", line)
    for byte in line:
        if not 0x20 <= byte <= 0x7E:
            raise FrameError(BAD_CHAR, f"byte 0x{byte:02X} is not printable ASCII", line)
    if len(line) < 4 or line[-3:-2] != b"*":
        raise FrameError(NO_CHECKSUM, "no '*HH' at the end", line)
    if line[-2] not in _HEX or line[-1] not in _HEX:
        raise FrameError(BAD_HEX, f"checksum {line[-2:].decode()!r} is not two uppercase hex digits",
                         line)
    body = line[1:-3]
    if b"$" in body or b"*" in body:
        raise FrameError(BAD_CHAR, "'$' or '*' inside the body", line)
    expected = checksum(body)
    if int(line[-2:], 16) != expected:
        raise FrameError(BAD_CHECKSUM, f"checksum {line[-2:].decode()}, body gives {expected:02X}",
                         line)
    parts = body.split(b",")
    cls = FRAME_TYPES.get(parts[0].decode("ascii"))
    if cls is None:
        raise FrameError(UNKNOWN_TYPE, f"type {parts[0].decode('ascii')!r}", line)
    raw_fields = parts[1:]
    if len(raw_fields) != len(cls.KINDS):
        raise FrameError(BAD_FIELD_COUNT,
                         f"{cls.TYPE} has {len(cls.KINDS)} fields, got {len(raw_fields)}", line)
    values = []
    for field, kind, raw in zip(dc_fields(cls), cls.KINDS, raw_fields):
        value = _parse_field(kind, raw)
        if value is None:
            raise FrameError(BAD_FIELD, f"{cls.TYPE} {field.name}={raw.decode('ascii')!r}", line)
        values.append(value)
    return cls(*values)


Item = Union[Frame, FrameError]


class Decoder:
    """Bytes in, frames and errors out, in arrival order.

    A frame starts at '$' and ends at CR or LF (empty lines are nothing).
    Bytes outside a frame are garbage, reported once per run when the run ends
    (at '$' or a line end). A '$' inside a frame discards the frame so far
    (TRUNCATED) and starts a new one: this is how the decoder resynchronises.
    A frame longer than MAX_LINE is reported (TOO_LONG) as soon as it passes the
    limit and the rest of it, up to the next '$' or line end, is dropped: the
    decoder never holds more than MAX_LINE bytes. Every error is logged and
    counted in `errors`."""

    def __init__(self, name: str = "pad"):
        self.name = name
        self.errors: Counter[str] = Counter()
        self.reset()

    def reset(self) -> None:
        self._buffer = bytearray()
        self._in_frame = False
        self._skipping = False
        self._garbage = 0

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Item]:
        out: list[Item] = []
        for byte in bytes(data):
            if byte == 0x24:                                   # '$'
                if self._in_frame:
                    self._error(out, FrameError(TRUNCATED, "'$' before the line end", self._buffer))
                else:
                    self._flush_garbage(out)
                self._skipping = False
                self._in_frame = True
                self._buffer = bytearray(b"$")
            elif byte in (0x0D, 0x0A):
                if self._in_frame:
                    try:
                        out.append(parse(bytes(self._buffer)))
                    except FrameError as exc:
                        self._error(out, exc)
                    self._in_frame = False
                    self._buffer = bytearray()
                else:
                    self._flush_garbage(out)
                self._skipping = False
            elif self._in_frame:
                if len(self._buffer) < MAX_LINE:
                    self._buffer.append(byte)
                else:
                    self._error(out, FrameError(TOO_LONG, f"no line end within {MAX_FRAME} bytes",
                                                self._buffer, size=MAX_LINE + 1))
                    self._in_frame = False
                    self._buffer = bytearray()
                    self._skipping = True
            elif not self._skipping:
                self._garbage = min(self._garbage + 1, GARBAGE_MAX)
        return out

    def _flush_garbage(self, out: list[Item]) -> None:
        if self._garbage:
            self._error(out, FrameError(GARBAGE, f"{self._garbage} bytes outside a frame",
                                        size=self._garbage))
            self._garbage = 0

    def _error(self, out: list[Item], error: FrameError) -> None:
        self.errors[error.reason] += 1
        log.warning("%s: discarded %d bytes: %s %r", self.name, error.size, error, error.raw[:40])
        out.append(error)


# --- the pad ---------------------------------------------------------------

@dataclass
class _Pending:
    seq: int
    prompt: str
    level: int
    pressed_at: int


def retry_interval(transmissions: int) -> int:
    """Wait after the n-th transmission of a rating: 500, 1000, then 2000 ms."""
    interval = RETRY_FIRST_MS
    for _ in range(transmissions - 1):
        if interval >= RETRY_MAX_MS:
            break
        interval *= 2
    return min(interval, RETRY_MAX_MS)


class PadState:
    """The pad, as the firmware runs it (hardware/firmware/padproto.cpp, class Pad).

    `now` is always passed in, in integer milliseconds from any origin that only
    moves forward. Every method returns the frames to send, in order.

    Sequence numbers survive resets: the pad reserves SEQ_BLOCK numbers at a
    time and calls `persist(value)` (and sets `persisted_seq`) with the first
    number it has not reserved; whoever runs the pad stores it and passes it as
    `stored_seq` to the next PadState (the firmware keeps it in EEPROM).
    Numbers skipped over by a reset are never used. `boot_id` must change at
    every start (the firmware counts boots in EEPROM).
    """

    def __init__(self, device_id: str, boot_id: int, stored_seq: int = 0, *,
                 buttons: int = 4, lockout_ms: int = LOCKOUT_MS,
                 hb_interval_ms: int = HB_INTERVAL_MS, fw_version: str = FW_VERSION,
                 persist: Callable[[int], None] | None = None):
        # Hello validates device id, version, boot id, buttons and lock-out.
        self.hello = Hello(PROTO_VERSION, device_id, fw_version, boot_id, buttons, lockout_ms)
        if not 0 <= stored_seq <= NUMBER_RANGES["u"][1] or not 1 <= hb_interval_ms <= 60000:
            raise ValueError("stored_seq must fit 32 bits and hb_interval_ms be 1..60000")
        self.device_id = device_id
        self.boot_id = boot_id
        self.buttons = buttons
        self.lockout_ms = lockout_ms
        self.hb_interval_ms = hb_interval_ms
        self.persist = persist
        self.next_seq = stored_seq
        self.persisted_seq = stored_seq
        self.decoder = Decoder(name=f"pad {device_id}")
        self.rx_errors = 0          # frames the pad discarded (saturates at 65535)
        self.dropped = 0            # unacknowledged ratings pushed out of a full queue
        self.ignored = 0            # presses ignored in the current/last lock-out
        self._started = False
        self._prompt: str | None = None
        self._prompt_levels = 0
        self._prompt_deadline = 0
        self._last_rated: str | None = None
        self._locked = False
        self._lock_until = 0
        self._press_at = 0
        self._press_level = 0
        self._queue: list[_Pending] = []
        self._transmissions = 0
        self._next_tx = 0
        self._next_hb = 0
        self._last_rx: int | None = None
        self._override: tuple[int, int] | None = None    # (mask, until)
        self._beep: tuple[int, int] | None = None

    # -- state, for the simulator and tests --

    @property
    def prompt(self) -> str | None:
        """The active prompt id, or None."""
        return self._prompt

    @property
    def locked(self) -> bool:
        return self._locked

    @property
    def unacked(self) -> list[tuple[int, str, int]]:
        """(seq, prompt, level) of each rating awaiting its ACK, oldest first."""
        return [(p.seq, p.prompt, p.level) for p in self._queue]

    def host_online(self, now: int) -> bool:
        """A host frame arrived within LINK_TIMEOUT_FACTOR heartbeat periods."""
        return (self._last_rx is not None
                and now - self._last_rx < LINK_TIMEOUT_FACTOR * self.hb_interval_ms)

    # -- events --

    def start(self, now: int) -> list[Frame]:
        """Power-on: reserve sequence numbers, say HELLO."""
        self._started = True
        self._reserve(self.next_seq + SEQ_BLOCK)
        self._next_hb = now + self.hb_interval_ms
        return [self.hello]

    def on_frame(self, frame: Frame, now: int) -> list[Frame]:
        """A frame received from the host. Frames only a pad sends are ignored."""
        out = self._expire(now)
        if frame.SENDER != "host":
            return out
        self._last_rx = now
        if isinstance(frame, Who):
            out.append(self.hello)
        elif isinstance(frame, Ping):
            out.append(Pong(frame.token))
        elif isinstance(frame, Prompt):
            if (frame.levels <= self.buttons and frame.prompt != self._last_rated
                    and frame.prompt != self._prompt):
                self._prompt = frame.prompt
                self._prompt_levels = frame.levels
                self._prompt_deadline = now + frame.timeout_s * 1000
                self._override = None
            out.append(self._hb(now))
        elif isinstance(frame, Cancel):
            if frame.prompt == self._prompt:
                self._prompt = None
            out.append(self._hb(now))
        elif isinstance(frame, Led):
            self._override = (frame.mask, now + frame.ms) if frame.ms else None
        elif isinstance(frame, Beep):
            self._beep = (frame.freq_hz, frame.ms)
        elif isinstance(frame, Ack):
            self._ack(frame.seq, frame.boot, now, out)
        return out

    def receive(self, data: bytes, now: int) -> list[Frame]:
        """Bytes from the serial port: decode them and handle each frame, as the
        sketch's loop does. Discarded frames count in rx_errors."""
        out: list[Frame] = []
        for item in self.decoder.feed(data):
            if isinstance(item, FrameError):
                self.rx_errors = min(self.rx_errors + 1, 65535)
            else:
                out += self.on_frame(item, now)
        return out

    def on_press(self, level: int, now: int) -> list[Frame]:
        """A debounced press of button `level` (1 = leftmost)."""
        out = self._expire(now)
        if not 1 <= level <= self.buttons:
            return out
        if self._locked:
            self.ignored = min(self.ignored + 1, 65535)
            return out
        if self._prompt is not None and level > self._prompt_levels:
            return out                                  # an unlit button
        prompt = NO_PROMPT
        if self._prompt is not None:
            prompt = self._last_rated = self._prompt
            self._prompt = None
        if self.next_seq >= self.persisted_seq:
            self._reserve(self.next_seq + SEQ_BLOCK)
        seq = self.next_seq
        self.next_seq += 1
        head_before = self._queue[0] if self._queue else None
        if len(self._queue) >= QUEUE_SIZE:
            self._queue.pop(0)
            self.dropped += 1
        self._queue.append(_Pending(seq, prompt, level, now))
        if self._queue[0] is not head_before:
            self._send_head(now, out)
        self._override = None
        self._beep = CONFIRM_BEEP
        if self.lockout_ms:
            self._locked = True
            self._lock_until = now + self.lockout_ms
            self._press_at = now
            self._press_level = level
            self.ignored = 0
            out.append(Lock(self.lockout_ms, 0))
        return out

    def tick(self, now: int) -> list[Frame]:
        """Call often (the sketch calls it every loop): lock-out end, prompt
        timeout, retransmissions, heartbeat."""
        out = self._expire(now)
        if self._queue and now >= self._next_tx:
            self._transmissions = min(self._transmissions + 1, 255)
            out.append(self._rating(self._queue[0], now))
            self._next_tx = now + retry_interval(self._transmissions)
        if now >= self._next_hb:
            out.append(self._hb(now))
        return out

    # -- outputs that are not frames --

    def leds(self, now: int) -> int:
        """LED mask: bit n-1 lights button n, THANKS_LED the "Cảm ơn" light.
        Host override, else the thank-you pattern during a lock-out (Cảm ơn lit,
        the pressed button blinking), else the prompt's buttons, else dark."""
        if self._override is not None and now < self._override[1]:
            return self._override[0]
        if self._locked and now < self._lock_until:
            blink_on = ((now - self._press_at) // THANKS_BLINK_MS) % 2 == 0
            return THANKS_LED | ((1 << (self._press_level - 1)) if blink_on else 0)
        if self._prompt is not None and now < self._prompt_deadline:
            return (1 << self._prompt_levels) - 1
        return 0

    def take_beep(self) -> tuple[int, int] | None:
        """(Hz, ms) of a beep to play, once."""
        beep, self._beep = self._beep, None
        return beep

    # -- internals --

    def _expire(self, now: int) -> list[Frame]:
        if not self._started:
            raise RuntimeError("PadState.start(now) was not called")
        out: list[Frame] = []
        if self._locked and now >= self._lock_until:
            self._locked = False
            out.append(Lock(0, self.ignored))
        if self._prompt is not None and now >= self._prompt_deadline:
            self._prompt = None
            out.append(self._hb(now))
        return out

    def _reserve(self, value: int) -> None:
        self.persisted_seq = min(value, NUMBER_RANGES["u"][1])
        if self.persist is not None:
            self.persist(self.persisted_seq)

    def _hb(self, now: int) -> Hb:
        self._next_hb = now + self.hb_interval_ms
        return Hb(self.boot_id, self._prompt or NO_PROMPT, int(self._locked), len(self._queue),
                  self.rx_errors)

    def _rating(self, pending: _Pending, now: int) -> Rating:
        age = min(max(now - pending.pressed_at, 0), NUMBER_RANGES["u"][1])
        return Rating(pending.seq, self.boot_id, pending.prompt, pending.level, age)

    def _send_head(self, now: int, out: list[Frame]) -> None:
        self._transmissions = 1
        self._next_tx = now + retry_interval(1)
        out.append(self._rating(self._queue[0], now))

    def _ack(self, seq: int, boot: int, now: int, out: list[Frame]) -> None:
        if boot != self.boot_id:
            return
        for i, pending in enumerate(self._queue):
            if pending.seq == seq:
                del self._queue[i]
                if i == 0 and self._queue:
                    self._send_head(now, out)
                return

"""QR scanners at a kiosk.

Two kinds are common:

* serial scanners (USB-CDC /dev/ttyACM0 or RS-232) send each code as a line
  ending in CR, LF or CRLF: `SerialScanner` reads them on a thread, survives
  being unplugged, and calls back with each code;
* keyboard-wedge scanners type the code as very fast keystrokes ending with
  Enter: `WedgeDetector` tells such a burst from a person typing.

Splitting and timing live in pure classes (`LineSplitter`, `WedgeDetector`)
that need no hardware and no Kivy.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import serial

from motcua.config import ScannerSettings

log = logging.getLogger(__name__)

MAX_CODE_LENGTH = 512


class LineSplitter:
    """Bytes in, codes out. A line ends with CR, LF or CRLF; empty lines are
    skipped; text is UTF-8, or latin-1 when it is not valid UTF-8; a run of more
    than `max_length` bytes without an end is garbage and is discarded up to the
    next line end. `discarded` counts discarded runs."""

    def __init__(self, max_length: int = MAX_CODE_LENGTH):
        self.max_length = max_length
        self._buffer = bytearray()
        self._skipping = False      # inside an over-long run: drop up to the next line end
        self.discarded = 0

    @property
    def pending(self) -> int:
        """Bytes waiting for a line end."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[str]:
        codes = []
        start = 0
        for i, byte in enumerate(data):
            if byte in (0x0A, 0x0D):
                self._take(data[start:i])
                if self._skipping:
                    self._skipping = False
                elif self._buffer:
                    code = decode(bytes(self._buffer))
                    if code:
                        codes.append(code)
                self._buffer.clear()
                start = i + 1
        self._take(data[start:])
        return codes

    def _take(self, chunk: bytes) -> None:
        if self._skipping or not chunk:
            return
        self._buffer += chunk
        if len(self._buffer) > self.max_length:
            log.warning("scanner: discarded %d+ bytes without a line end (over the %d-byte "
                        "limit): not a code, or the scanner sends no CR/LF suffix",
                        len(self._buffer), self.max_length)
            self._buffer.clear()
            self._skipping = True
            self.discarded += 1

    def drop_partial(self, reason: str) -> int:
        """Forget an unfinished line (e.g. after a silence, or when the port closes)."""
        dropped = len(self._buffer)
        if dropped:
            log.warning("scanner: discarded %d bytes without a line end (%s)", dropped, reason)
            self.discarded += 1
        self._buffer.clear()
        self._skipping = False
        return dropped


def decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.strip()


class SerialScanner:
    """Reads codes from a serial QR scanner on a thread and calls `on_scan(code)`
    for each (on that thread: hand over to the UI thread, e.g. Kivy's Clock).

    When the port goes away (unplugged) it logs, sets `connected` to False and
    tries to open the same path every `retry_s` seconds until it is back; use a
    stable path such as /dev/serial/by-id/... so that the device is found again
    under its new ttyACM number. `on_status(connected)` is called on every change.
    A partial line older than `stale_s` seconds is dropped, so that noise cannot
    prefix the next code."""

    def __init__(self, settings: ScannerSettings, on_scan: Callable[[str], None], *,
                 on_status: Callable[[bool], None] | None = None,
                 max_length: int = MAX_CODE_LENGTH, retry_s: float = 1.0,
                 stale_s: float = 1.0, read_timeout_s: float = 0.1):
        self.settings = settings
        self.on_scan = on_scan
        self.on_status = on_status
        self.retry_s = retry_s
        self.stale_s = stale_s
        self.read_timeout_s = read_timeout_s
        self.splitter = LineSplitter(max_length)
        self.connected = False
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._port: serial.Serial | None = None

    def start(self) -> "SerialScanner":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"scanner {self.settings.port}")
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading and close the port; returns when the thread has ended."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("scanner %s: reader thread did not stop within %s s",
                          self.settings.port, timeout)
            self._thread = None

    def __enter__(self) -> "SerialScanner":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the thread ------------------------------------------------------------
    def _set_connected(self, value: bool) -> None:
        if value == self.connected:
            return
        self.connected = value
        if self.on_status is not None:
            try:
                self.on_status(value)
            except Exception:
                log.exception("scanner: on_status callback failed")

    def _run(self) -> None:
        announced = False
        while not self._stop.is_set():
            try:
                port = serial.Serial(self.settings.port, self.settings.baudrate,
                                     timeout=self.read_timeout_s)
            except (serial.SerialException, OSError, ValueError) as exc:
                if not announced:   # log once per outage, not every second
                    log.warning("scanner %s: cannot open (%s); retrying every %s s",
                                self.settings.port, exc, self.retry_s)
                    announced = True
                self.last_error = str(exc)
                self._stop.wait(self.retry_s)
                continue
            announced = False
            log.info("scanner %s: connected", self.settings.port)
            self._port = port
            self._set_connected(True)
            try:
                self._read(port)
            except (serial.SerialException, OSError, TypeError) as exc:
                # TypeError: pyserial's read on a port closed under it
                if not self._stop.is_set():
                    log.warning("scanner %s: disconnected (%s); retrying every %s s",
                                self.settings.port, exc, self.retry_s)
                    self.last_error = str(exc)
            finally:
                self._port = None
                try:
                    port.close()
                except Exception:
                    log.debug("scanner: closing the port failed", exc_info=True)
                self.splitter.drop_partial("the port closed")
                self._set_connected(False)
            if not self._stop.is_set():
                self._stop.wait(self.retry_s)
        log.info("scanner %s: stopped", self.settings.port)

    def _read(self, port: serial.Serial) -> None:
        last_byte = time.monotonic()
        while not self._stop.is_set():
            data = port.read(max(1, port.in_waiting))
            now = time.monotonic()
            if not data:
                if self.splitter.pending and now - last_byte > self.stale_s:
                    self.splitter.drop_partial(
                        f"nothing more for {self.stale_s} s: configure the scanner to "
                        "end each code with CR or LF")
                continue
            last_byte = now
            for code in self.splitter.feed(data):
                try:
                    self.on_scan(code)
                except Exception:
                    log.exception("scanner: on_scan callback failed for %r", code)


ENTER_KEYS = frozenset({"\r", "\n", "enter", "return", "numpadenter"})


class WedgeDetector:
    """Tells a keyboard-wedge scan from typing. Feed every keystroke with its time
    (seconds, monotonic): `feed(key, t)` returns the scanned code when a burst of
    at least `min_length` characters, each less than `max_gap_s` after the one
    before, ends with Enter (also within `max_gap_s`); otherwise None.

    Keystrokes that turn out not to be a scan are typing: `take_typed()` returns
    them (with "\\n" for a typed Enter) for the text field. A burst still in
    progress is `buffered`; call `flush(t)` from a timer to release it as typing
    once no key has come for `max_gap_s`."""

    def __init__(self, min_length: int = 8, max_gap_s: float = 0.05,
                 max_length: int = MAX_CODE_LENGTH):
        if min_length < 1 or max_gap_s <= 0:
            raise ValueError("min_length must be >= 1 and max_gap_s > 0")
        self.min_length = min_length
        self.max_gap_s = max_gap_s
        self.max_length = max_length
        self._burst: list[str] = []
        self._last: float | None = None
        self._typed: list[str] = []

    @property
    def buffered(self) -> str:
        """The characters of the burst in progress (not yet known scan or typing)."""
        return "".join(self._burst)

    @property
    def typed(self) -> str:
        """Characters known to be typing and not yet taken."""
        return "".join(self._typed)

    def take_typed(self) -> str:
        out = "".join(self._typed)
        self._typed.clear()
        return out

    def _release(self) -> None:
        self._typed.extend(self._burst)
        self._burst.clear()

    def _fast(self, t: float) -> bool:
        return self._last is not None and 0 <= t - self._last < self.max_gap_s

    def feed(self, key: str, t: float) -> str | None:
        is_enter = key.lower() in ENTER_KEYS if len(key) != 1 else key in ENTER_KEYS
        if not is_enter and len(key) != 1:
            raise ValueError(f"feed one character or Enter, not {key!r}")
        fast = self._fast(t)
        self._last = t
        if is_enter:
            if fast and len(self._burst) >= self.min_length:
                code = "".join(self._burst).strip()
                self._burst.clear()
                self._last = None
                return code or None
            self._release()
            self._typed.append("\n")
            self._last = None
            return None
        if not fast or len(self._burst) >= self.max_length:
            self._release()         # a pause: what came before was typed by a person
        self._burst.append(key)
        return None

    def flush(self, t: float) -> str:
        """Release a burst that has gone quiet for max_gap_s as typing; returns
        (and takes) everything typed so far."""
        if self._burst and (self._last is None or t - self._last >= self.max_gap_s):
            self._release()
            self._last = None
        return self.take_typed()

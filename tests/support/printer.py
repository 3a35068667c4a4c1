"""A serial receipt printer on a pty pair: it answers the status query
(DLE EOT 4) with the paper state set by the test and keeps what it was sent."""
from __future__ import annotations

import errno
import os
import select
import threading
import time

STATUS_QUERY = b"\x10\x04\x04"   # DLE EOT 4, as the printer's manual gives it (not from our code)
PAPER_OK, PAPER_LOW, PAPER_END = 0x12, 0x1E, 0x7E   # DLE EOT 4 replies of an Epson-type printer


class PtyPrinter:
    """The printer's side of a serial line: records what arrives and answers each
    DLE EOT 4 with `reply` (None: never answers)."""

    def __init__(self, reply: int | None):
        self.master, self.slave = os.openpty()      # the slave stays open: no EIO on the master
        self.path = os.ttyname(self.slave)
        self.reply = reply
        self.received = bytearray()
        self.queries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        scanned = 0
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError as exc:
                if exc.errno == errno.EIO:
                    time.sleep(0.01)
                    continue
                raise
            self.received += data
            while (at := self.received.find(STATUS_QUERY, scanned)) != -1:
                scanned = at + len(STATUS_QUERY)
                self.queries += 1
                if self.reply is not None:
                    os.write(self.master, bytes([self.reply]))

    def wait_for(self, tail: bytes, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.received.endswith(tail):
                return bytes(self.received)
            time.sleep(0.01)
        raise AssertionError(f"the printer did not receive {tail!r}; got {len(self.received)} bytes")

    def close(self):
        self._stop.set()
        self._thread.join(2)
        os.close(self.master)
        os.close(self.slave)

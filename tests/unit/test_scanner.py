"""QR scanners: the serial reader against real pseudo-terminals (the test writes
on the scanner's side, the reader uses pyserial on the other), including an
unplug and a replug under a stable symlink path; the line splitter and the
keyboard-wedge detector as pure functions."""
from __future__ import annotations

import os
import queue
import random
import time

import pytest

from motcua.hardware.scanner import LineSplitter, SerialScanner, WedgeDetector
from motcua.config import ScannerSettings


class PtyScanner:
    """The scanner's end of a serial line."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self.open = True

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def unplug(self) -> None:
        if self.open:
            os.close(self.master)
            os.close(self.slave)
            self.open = False


class Watcher:
    """Collects what a SerialScanner reports."""

    def __init__(self):
        self.codes: queue.Queue[str] = queue.Queue()
        self.status: queue.Queue[bool] = queue.Queue()

    def next_code(self, timeout: float = 5.0) -> str:
        return self.codes.get(timeout=timeout)

    def codes_now(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.codes.get_nowait())
            except queue.Empty:
                return out

    def wait_status(self, value: bool, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.status.get(timeout=max(0.01, deadline - time.monotonic())) == value:
                    return
            except queue.Empty:
                break
        raise AssertionError(f"the scanner did not report connected={value} within {timeout} s")


@pytest.fixture
def line(tmp_path):
    """A scanner on a pty, reached through a stable symlink like /dev/serial/by-id/..."""
    made: list[PtyScanner] = []
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    link = by_id / "usb-Newland_QR_Scanner-if00"

    class Line:
        path = str(link)

        def plug(self) -> PtyScanner:
            made.append(PtyScanner())
            tmp = by_id / "new-link"
            tmp.symlink_to(made[-1].path)
            os.replace(tmp, link)          # repoint atomically, as udev does
            return made[-1]

        def new_device(self) -> PtyScanner:
            made.append(PtyScanner())
            return made[-1]

        def point_to(self, dev: PtyScanner) -> None:
            tmp = by_id / "new-link"
            tmp.symlink_to(dev.path)
            os.replace(tmp, link)
    yield Line()
    for dev in made:
        dev.unplug()


@pytest.fixture
def scanner_on(line):
    started = []

    def start(**options) -> tuple[SerialScanner, Watcher]:
        w = Watcher()
        s = SerialScanner(ScannerSettings(port=line.path), w.codes.put, on_status=w.status.put,
                          **options)
        started.append(s)
        return s.start(), w
    yield start
    for s in started:
        s.stop()


def test_codes_with_crlf_lf_and_cr_endings(line, scanner_on):
    dev = line.plug()
    scanner, w = scanner_on()
    w.wait_status(True)
    assert scanner.connected
    dev.send(b"HS-0001\r\nHS-0002\nHS-0003\r")
    dev.send(b"\r\n\n\r")                              # empty lines: nothing
    dev.send("  000.00.31.H12-251123-0001 Đ \r\n".encode())
    dev.send(b"caf\xe9\r\n")                           # not UTF-8: read as latin-1
    dev.send(b"SPL")
    time.sleep(0.05)
    dev.send(b"IT-ACROSS-READS\n")
    expected = ["HS-0001", "HS-0002", "HS-0003", "000.00.31.H12-251123-0001 Đ", "café",
                "SPLIT-ACROSS-READS"]
    assert [w.next_code() for _ in expected] == expected
    time.sleep(0.2)
    assert w.codes_now() == []


def test_random_bytes_do_not_crash_and_long_garbage_is_discarded(line, scanner_on):
    dev = line.plug()
    scanner, w = scanner_on()
    w.wait_status(True)
    rng = random.Random(1193)
    garbage = bytes(b for b in rng.randbytes(3000) if b not in (0x0A, 0x0D))
    dev.send(garbage)                                 # no line end at all: over the limit
    dev.send(b"\r\nOK-1\r\n")
    assert w.next_code() == "OK-1"                    # nothing of the garbage came through
    assert scanner.splitter.discarded >= 1
    noise = rng.randbytes(5000)                       # with random line ends in it
    for i in range(0, len(noise), 700):
        dev.send(noise[i:i + 700])
    dev.send(b"\r\nAFTER-NOISE\r\n")
    seen = []
    while "AFTER-NOISE" not in seen:
        seen.append(w.next_code())
    assert all(isinstance(c, str) and 0 < len(c) <= 512 and c == c.strip() for c in seen)
    assert scanner.connected


def test_unfinished_line_is_dropped_after_a_silence(line, scanner_on):
    dev = line.plug()
    scanner, w = scanner_on(stale_s=0.3)
    w.wait_status(True)
    dev.send(b"NOISE-WITHOUT-END")
    time.sleep(0.8)
    dev.send(b"GOOD-1\r")
    assert w.next_code() == "GOOD-1"


def test_unplug_then_replug_under_the_same_path(line, scanner_on):
    first = line.plug()
    scanner, w = scanner_on(retry_s=0.2)
    w.wait_status(True)
    first.send(b"BEFORE\r\n")
    assert w.next_code() == "BEFORE"

    second = line.new_device()          # made now so that it gets another /dev/pts number
    assert second.path != first.path
    first.unplug()
    w.wait_status(False)
    assert not scanner.connected
    time.sleep(0.6)                     # a few retries against the dead path
    assert not scanner.connected
    assert scanner.last_error

    line.point_to(second)               # udev points the stable name at the new tty
    w.wait_status(True)
    assert scanner.connected
    second.send(b"AFTER\r\n")
    assert w.next_code() == "AFTER"
    assert w.codes_now() == []


def test_starts_before_the_scanner_is_plugged_in(line, scanner_on):
    scanner, w = scanner_on(retry_s=0.1)
    time.sleep(0.3)
    assert not scanner.connected
    dev = line.plug()
    w.wait_status(True)
    dev.send(b"LATE\n")
    assert w.next_code() == "LATE"


def test_stop_ends_the_thread_and_closes_the_port(line):
    dev = line.plug()
    w = Watcher()
    scanner = SerialScanner(ScannerSettings(port=line.path), w.codes.put, on_status=w.status.put)
    scanner.start()
    w.wait_status(True)
    thread = scanner._thread
    started = time.monotonic()
    scanner.stop()
    assert time.monotonic() - started < 2
    assert not thread.is_alive()
    assert not scanner.connected
    dev.send(b"IGNORED\n")
    time.sleep(0.2)
    assert w.codes_now() == []


def test_a_failing_callback_does_not_stop_the_reader(line):
    dev = line.plug()
    got = []

    def on_scan(code):
        if code == "BOOM":
            raise RuntimeError("the UI fell over")
        got.append(code)
    w = Watcher()
    with SerialScanner(ScannerSettings(port=line.path), on_scan, on_status=w.status.put):
        w.wait_status(True)
        dev.send(b"BOOM\r\nFINE\r\n")
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
    assert got == ["FINE"]


# -- the line splitter (pure) -------------------------------------------------------

def test_splitter_limit_is_exact_and_skips_to_the_next_line_end():
    s = LineSplitter(max_length=16)
    assert s.feed(b"A" * 16 + b"\n") == ["A" * 16]
    assert s.feed(b"B" * 17) == [] and s.discarded == 1
    assert s.feed(b"TAIL-OF-GARBAGE") == []           # still the same over-long run
    assert s.feed(b"\rNEXT\n") == ["NEXT"]
    assert s.feed(b"\xff\xfe\n") == ["ÿþ"]
    assert s.feed(b"PART") == [] and s.pending == 4
    assert s.drop_partial("test") == 4 and s.feed(b"\n") == []


# -- the keyboard-wedge detector (pure) ---------------------------------------------

CODE = "HS251123-0001"


def feed_all(det: WedgeDetector, keys: list[tuple[str, float]]) -> list[str]:
    return [code for key, t in keys if (code := det.feed(key, t)) is not None]


def timed(text: str, start: float, gaps: list[float] | float, enter: bool = True) -> list[tuple[str, float]]:
    keys = list(text) + (["enter"] if enter else [])
    if isinstance(gaps, float):
        gaps = [gaps] * len(keys)
    out, t = [], start
    for i, key in enumerate(keys):
        if i:
            t += gaps[i - 1]
        out.append((key, t))
    return out


@pytest.mark.parametrize("gap", [0.0, 0.004, 0.02, 0.049])
def test_fast_burst_with_enter_is_a_scan(gap):
    det = WedgeDetector()
    assert feed_all(det, timed(CODE, 10.0, gap)) == [CODE]
    assert det.take_typed() == "" and det.buffered == ""


@pytest.mark.parametrize("gap", [0.051, 0.12, 0.3])
def test_slow_typing_is_left_to_the_text_field(gap):
    det = WedgeDetector()
    assert feed_all(det, timed(CODE, 10.0, gap)) == []
    assert det.take_typed() == CODE + "\n"


def test_wedge_edge_cases():
    det = WedgeDetector()
    assert feed_all(det, timed("1234567", 1.0, 0.01)) == []          # 7 fast chars: too short
    assert det.take_typed() == "1234567\n"
    assert feed_all(det, timed("12345678", 2.0, 0.01)) == ["12345678"]  # 8 is enough
    gaps = [0.01] * 5 + [0.2] + [0.01] * 20                            # a pause in the middle
    assert feed_all(det, timed(CODE, 3.0, gaps)) == []
    assert det.take_typed() == CODE + "\n"
    gaps = [0.01] * (len(CODE) - 1) + [0.4]                            # Enter pressed by a person
    assert feed_all(det, timed(CODE, 4.0, gaps)) == []
    assert det.take_typed() == CODE + "\n"


def test_typing_then_a_scan():
    det = WedgeDetector()
    keys = timed("abc", 1.0, 0.25, enter=False) + timed(CODE, 2.0, 0.008)
    assert feed_all(det, keys) == [CODE]
    assert det.take_typed() == "abc"


def test_flush_releases_a_quiet_burst_as_typing():
    det = WedgeDetector()
    feed_all(det, timed("xy", 5.0, 0.01, enter=False))
    assert det.buffered == "xy"
    assert det.flush(5.02) == ""                    # maybe still a scan
    assert det.flush(5.2) == "xy" and det.buffered == ""


def test_gap_and_length_are_configurable():
    det = WedgeDetector(min_length=4, max_gap_s=0.1)
    assert feed_all(det, timed("ABCD", 1.0, 0.08)) == ["ABCD"]
    assert feed_all(WedgeDetector(), timed("ABCDEFGH", 1.0, 0.08)) == []
    with pytest.raises(ValueError):
        det.feed("shift", 2.0)

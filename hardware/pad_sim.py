"""A rating pad without the hardware: hardware.padproto.PadState on a pseudo-terminal.

`PadSimulator` opens a pty pair (os.openpty), runs the pad's state machine
exactly as the firmware does (the same frames, retransmissions, lock-out,
heartbeat) on the master side and leaves the slave side to the bridge, like a
USB serial port: `motcua pad --serial <the simulator's path>`. With `link` the
slave's path is also a symlink at a fixed place, moved to the new pty when the
simulated cable is plugged in again (`reconnect()`).

Driven from the keyboard by `motcua pad-sim` (keys 1-8 press a button) or from
Python: `press(level)`, `inject(raw bytes)`, `disconnect()`, `reconnect()`,
`reset()` (the pad restarts with a new boot id, keeping its sequence numbers
as in EEPROM).
"""
from __future__ import annotations

import errno
import json
import logging
import os
import random
import select
import threading
import time
import tty
from pathlib import Path

from motcua.hardware import padproto as pp

log = logging.getLogger("motcua.pad_sim")


def _ms() -> int:
    return int(time.monotonic() * 1000)


class PadSimulator:
    def __init__(self, device_id: str = "PADSIM-1", *, link: str | Path | None = None,
                 state_file: str | Path | None = None, buttons: int = 4,
                 lockout_ms: int = pp.LOCKOUT_MS, hb_interval_ms: int = pp.HB_INTERVAL_MS,
                 boot_id: int | None = None, echo: bool = False):
        self.device_id = device_id
        self.link = Path(link) if link else None
        self.state_file = Path(state_file) if state_file else None
        self.buttons = buttons
        self.lockout_ms = lockout_ms
        self.hb_interval_ms = hb_interval_ms
        self.echo = echo                       # print the frames (the keyboard simulator)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._master: int | None = None
        self._slave: int | None = None
        self.slave_path: str | None = None
        self.sent: list[pp.Frame] = []         # every frame the pad sent
        self.received: list[pp.Frame] = []     # every valid frame the pad took from the host
        stored = self._load()
        self._boot = boot_id if boot_id is not None else stored.get("boot", random.randint(1, 60000)) % 65535 + 1
        self.pad = self._new_pad(stored.get("seq", 0))
        self._thread = threading.Thread(target=self._run, name=f"pad-sim-{device_id}", daemon=True)

    # -- the "EEPROM" -------------------------------------------------------------------------
    def _load(self) -> dict:
        if self.state_file and self.state_file.exists():
            try:
                return json.loads(self.state_file.read_text())
            except (OSError, ValueError):
                pass
        return {}

    def _persist(self, seq: int) -> None:
        if self.state_file:
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"boot": self._boot, "seq": seq}))
            os.replace(tmp, self.state_file)

    def _new_pad(self, stored_seq: int) -> pp.PadState:
        return pp.PadState(self.device_id, self._boot, stored_seq, buttons=self.buttons,
                           lockout_ms=self.lockout_ms, hb_interval_ms=self.hb_interval_ms,
                           persist=self._persist)

    # -- life cycle ---------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """What to give the bridge: the link if there is one, else the pty's slave."""
        return str(self.link) if self.link else self.slave_path

    def start(self) -> "PadSimulator":
        self._open_pty()
        with self._lock:
            self._write(self.pad.start(_ms()))
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._close_pty()
        if self.link and self.link.is_symlink():
            self.link.unlink()

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)                      # no echo, no CR/LF translation: a serial line
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.slave_path = os.ttyname(slave)
        if self.link:
            tmp = self.link.with_name(self.link.name + ".new")
            tmp.unlink(missing_ok=True)
            os.symlink(self.slave_path, tmp)
            os.replace(tmp, self.link)

    def _close_pty(self) -> None:
        with self._lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._master = self._slave = None

    def disconnect(self) -> None:
        """Pull the cable: the pty closes (the bridge's reads fail), the link goes."""
        self._close_pty()
        if self.link and self.link.is_symlink():
            self.link.unlink()

    def reconnect(self) -> None:
        """Plug it in again: a new pty (a new /dev/pts path), the link moved to it.
        The pad itself kept running (and kept its unacknowledged ratings)."""
        with self._lock:
            self._close_pty()
            self._open_pty()

    def reset(self) -> None:
        """The pad restarts: new boot id, RAM (prompt, unacknowledged ratings) lost."""
        with self._lock:
            self._boot = self._boot % 65535 + 1
            self.pad = self._new_pad(self.pad.persisted_seq)
            self._write(self.pad.start(_ms()))

    # -- inputs -------------------------------------------------------------------------------
    def press(self, level: int) -> list[pp.Frame]:
        """A debounced press of button `level`; returns the frames the pad sent."""
        with self._lock:
            out = self.pad.on_press(level, _ms())
            self._write(out)
            return out

    def inject(self, data: bytes) -> None:
        """Raw bytes on the line towards the host (noise, corrupted frames)."""
        with self._lock:
            self._raw_write(data)

    # -- the loop -----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            master = self._master
            if master is None:
                time.sleep(0.01)
                with self._lock:
                    self._write(self.pad.tick(_ms()))   # the pad runs on, unplugged
                continue
            try:  # poll, not select: no limit on the descriptor's number
                poller = select.poll()
                poller.register(master, select.POLLIN)
                ready = poller.poll(10)
            except (OSError, ValueError):
                time.sleep(0.01)
                continue
            data = b""
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    data = b""
            with self._lock:
                now = _ms()
                if data:
                    for item in self.pad.decoder.feed(data):
                        if isinstance(item, pp.FrameError):
                            self.pad.rx_errors = min(self.pad.rx_errors + 1, 65535)
                        else:
                            self.received.append(item)
                            if self.echo:
                                print(f"  host → pad  {item.encode().decode().strip()}", flush=True)
                            self._write(self.pad.on_frame(item, now))
                self._write(self.pad.tick(now))

    def _write(self, frames: list[pp.Frame]) -> None:
        for f in frames:
            self.sent.append(f)
            if self.echo:
                print(f"  pad → host  {f.encode().decode().strip()}", flush=True)
            self._raw_write(f.encode())

    def _raw_write(self, data: bytes) -> None:
        if self._master is None:
            return                              # unplugged: the bytes go nowhere
        try:
            os.write(self._master, data)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EIO):
                raise

    # -- what the pad shows ---------------------------------------------------------------------
    def leds(self) -> int:
        with self._lock:
            return self.pad.leds(_ms())

    @property
    def prompt(self) -> str | None:
        with self._lock:
            return self.pad.prompt

    def ratings_sent(self) -> list[pp.Rating]:
        return [f for f in list(self.sent) if isinstance(f, pp.Rating)]


def run_keyboard(sims: list[PadSimulator]) -> None:
    """Keys 1-8 press a button of the first pad; q quits."""
    import sys
    import termios
    sim = sims[0]
    print(f"pad {sim.device_id}: keys 1-{sim.buttons} press a button, r restarts the pad, "
          "u unplugs / plugs the cable, q quits", flush=True)
    fd = sys.stdin.fileno()
    is_tty = os.isatty(fd)
    old = termios.tcgetattr(fd) if is_tty else None
    try:
        if is_tty:
            tty.setcbreak(fd)
        plugged = True
        while True:
            ch = os.read(fd, 1).decode("ascii", "replace")
            if not ch or ch == "q":
                return
            if ch.isdigit():
                sim.press(int(ch))
            elif ch == "r":
                sim.reset()
            elif ch == "u":
                if plugged:
                    sim.disconnect()
                else:
                    sim.reconnect()
                plugged = not plugged
                print(f"  cable {'plugged in: ' + sim.path if plugged else 'unplugged'}", flush=True)
    finally:
        if old is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)

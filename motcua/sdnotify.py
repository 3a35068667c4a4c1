"""systemd's notification protocol (sd_notify(3)), without a dependency.

A service started with `Type=notify` tells systemd it is ready (READY=1), that
it is still alive (WATCHDOG=1, at least once per WatchdogSec) and that it is
stopping (STOPPING=1), by sending one datagram to the unix socket named in
$NOTIFY_SOCKET (a name starting with '@' is in the abstract namespace).
Outside systemd there is no such socket and every call does nothing.
"""
from __future__ import annotations

import os
import socket
import time

__all__ = ["notify", "watchdog_interval", "Watchdog"]


def _address(name: str) -> str | bytes:
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


def notify(state: str, environ=None) -> bool:
    """Send `state` (e.g. "READY=1", lines joined by newlines) to systemd.
    Returns whether it was sent: False outside systemd or when the socket is gone."""
    name = (environ if environ is not None else os.environ).get("NOTIFY_SOCKET")
    if not name or name[0] not in "/@":
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(_address(name))
            s.sendall(state.encode("utf-8"))
        return True
    except OSError:
        return False


def watchdog_interval(environ=None) -> float | None:
    """How often to send WATCHDOG=1, in seconds: half of WatchdogSec ($WATCHDOG_USEC),
    or None when systemd asked for no watchdog (or asked it of another process)."""
    env = environ if environ is not None else os.environ
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 2e6


class Watchdog:
    """Feeds systemd's watchdog from a loop: call `feed()` on every turn of the
    loop that must stay alive; it sends WATCHDOG=1 at most every half WatchdogSec.
    A loop that stops turning stops feeding, and systemd restarts the service."""

    def __init__(self, environ=None, clock=time.monotonic):
        self.environ = environ
        self.interval = watchdog_interval(environ)
        self.clock = clock
        self._last = float("-inf")

    def feed(self) -> None:
        if self.interval is None:
            return
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            notify("WATCHDOG=1", self.environ)

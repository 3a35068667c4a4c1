"""The centre under systemd (Type=notify, WatchdogSec): a real centre process
tells a real unix datagram socket, standing for systemd's $NOTIFY_SOCKET, that
it is ready once connected, keeps feeding the watchdog, and says it is stopping."""
from __future__ import annotations

import os
import signal
import socket
import time

from motcua import sdnotify
from support.broker import run_centre_process


def _receive(sock: socket.socket, timeout: float) -> list[tuple[float, str]]:
    got, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append((time.monotonic(), sock.recv(4096).decode()))
        except socket.timeout:
            break
    return got


def test_notify_reaches_a_path_and_an_abstract_socket(workdir):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(workdir / "notify"))
        assert sdnotify.notify("READY=1", {"NOTIFY_SOCKET": str(workdir / "notify")})
        assert s.recv(100) == b"READY=1"
    name = f"motcua-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(b"\0" + name.encode())
        assert sdnotify.notify("WATCHDOG=1", {"NOTIFY_SOCKET": "@" + name})
        assert s.recv(100) == b"WATCHDOG=1"
    assert not sdnotify.notify("READY=1", {})  # outside systemd: nothing, no error
    assert not sdnotify.notify("READY=1", {"NOTIFY_SOCKET": str(workdir / "gone")})


def test_watchdog_interval_is_half_of_watchdogsec():
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert sdnotify.watchdog_interval({}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "30000000",
                                       "WATCHDOG_PID": str(os.getpid())}) == 15.0


def test_a_centre_process_is_ready_once_connected_and_feeds_the_watchdog(site, broker, workdir,
                                                                          monkeypatch, connect):
    path = workdir / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")  # WatchdogSec=2: fed every second
    proc = run_centre_process(site.path, workdir / "centre.log")
    try:
        got = _receive(sock, 5.0)
        states = [s for _, s in got]
        ready = [s for s in states if s.startswith("READY=1")]
        assert len(ready) == 1, states
        assert "STATUS=connected to the broker" in ready[0]
        # the centre answers once it has said it is ready
        assert connect("kiosk-1").request("ticket.issue", service="HT")["number"]
        times = [t for t, s in got if s == "WATCHDOG=1"]
        assert len(times) >= 4, states
        # never later than WatchdogSec (the worker turns at least every half second)
        assert max(b - a for a, b in zip(times, times[1:])) < 2.0, times
        later = [s for _, s in _receive(sock, 2.5)]
        assert later.count("WATCHDOG=1") >= 2  # and it goes on
        proc.send_signal(signal.SIGTERM)  # what `systemctl stop` does
        assert proc.wait(timeout=15) == 0
        assert "STOPPING=1" in [s for _, s in _receive(sock, 0.5)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
        print((workdir / "centre.log").read_text(errors="replace")[-3000:])

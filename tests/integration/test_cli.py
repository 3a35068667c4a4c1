"""The `motcua` command acting through MQTT like the devices it stands for,
run in this process (motcua.cli.main); the demo runs as its own process."""
from __future__ import annotations

import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from motcua.cli import main
from support.broker import ROOT


@pytest.fixture
def motcua(capsys):
    """`motcua --site SITE ARGS...` in this process: its return code, stdout and stderr."""
    def run(site, *args):
        capsys.readouterr()
        code = main(["--site", str(site.path), *args])
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)
    return run


def test_ticket_counter_and_status_commands(site, centre, motcua):
    r = motcua(site, "ticket", "HT")
    assert r.returncode == 0, r.stderr
    assert "Số thứ tự / Ticket: 1001" in r.stdout
    r = motcua(site, "ticket", "HT", "--priority", "co_thai")
    assert "1002" in r.stdout and "co_thai" in r.stdout
    r = motcua(site, "counter", "2", "sign_in", "tranthib", "--name", "Trần Thị B")
    assert r.returncode == 0, r.stderr
    r = motcua(site, "counter", "2", "next")
    assert "1002 [HT] called" in r.stdout  # the priority ticket first
    r = motcua(site, "counter", "2", "pause", "Nghỉ", "trưa")
    assert r.returncode == 2 and "finish or transfer ticket 1002" in r.stderr
    motcua(site, "counter", "2", "start")
    r = motcua(site, "counter", "2", "transfer", "LLTP")
    assert r.returncode == 0 and "no current ticket" in r.stdout
    # The centre answers a request before it republishes the retained state, and
    # in this process `status` asks at once (a new process used to take longer):
    # give the state the moment it needs.
    deadline = time.monotonic() + 5
    while True:
        r = motcua(site, "status")
        lines = r.stdout.splitlines()
        if any(line.split()[:2] == ["LLTP", "1"] for line in lines) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.returncode == 0, r.stderr
    assert any(line.split()[:2] == ["HT", "1"] for line in lines)     # 1001 still waits
    assert any(line.split()[:2] == ["LLTP", "1"] for line in lines)   # 1002 moved there
    assert "#1 1002 → quầy 2" in r.stdout


def test_a_centre_that_does_not_answer_is_said_plainly(site, broker, motcua):
    r = motcua(site, "ticket", "HT")
    assert r.returncode == 2
    assert "the centre did not answer" in r.stderr and "motcua centre" in r.stderr


def test_no_broker_is_said_plainly(site, motcua):
    r = motcua(site, "counter", "1", "next")
    assert r.returncode == 2
    assert "cannot reach the MQTT broker" in r.stderr and "motcua broker" in r.stderr


def test_demo_starts_broker_and_centre_and_stops_them(workdir, motcua):
    import signal
    import time

    from support.broker import free_port, wait_port, write_site
    from motcua.config import load_site
    port = free_port()
    site = load_site(write_site(workdir, port))
    import os
    import shutil
    if shutil.which("Xvfb") is None:
        pytest.skip("needs Xvfb (apt-get install xvfb)")
    screen = f":{free_port() % 5000 + 100}"  # a display number nobody else uses
    xvfb = subprocess.Popen(["Xvfb", screen, "-screen", "0", "1280x1024x24", "-nolisten", "tcp"])
    env = {**os.environ, "DISPLAY": screen}
    proc = subprocess.Popen([sys.executable, "-m", "motcua", "--site", str(site.path), "--broker-port", str(port), "demo"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
    try:
        wait_port(port)
        deadline = time.monotonic() + 20
        while True:
            r = motcua(site, "ticket", "XD")
            if r.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert "Ticket: 4001" in r.stdout, r.stderr
        # the demo loaded the sample procedures and dossiers into the centre
        r = motcua(site, "procedures", "search", "dang", "ky", "khai", "sinh")
        assert r.returncode == 0 and "Đăng ký khai sinh" in r.stdout
        time.sleep(3)  # the kiosk window is up and stays up
        kiosk = subprocess.run(["pgrep", "-f", "--", f"--site {site.path} .*kiosk --device kiosk-1"],
                               capture_output=True, text=True)
        assert kiosk.stdout.strip(), "the demo's kiosk is not running"
        terminal = subprocess.run(["pgrep", "-f", "--", f"--site {site.path} .*counter-app 1"],
                                  capture_output=True, text=True)
        assert terminal.stdout.strip(), "the demo's counter terminal is not running"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        xvfb.terminate()
        xvfb.wait(timeout=10)
    assert proc.returncode == 0
    assert "centre running" in out and "kiosk kiosk-1 on screen" in out
    assert "counter terminal of counter 1 on screen" in out
    import socket
    with socket.socket() as s:  # the broker is gone with the demo
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_broker_port_overrides_the_site_files(site, centre, workdir, capsys):
    """`--broker-port` reaches the broker the site file does not name."""
    from support.broker import free_port, write_site
    (workdir / "elsewhere").mkdir()
    elsewhere = write_site(workdir / "elsewhere", free_port())  # the same site, another broker port
    assert main(["--site", str(elsewhere), "counter", "1", "next"]) == 2
    assert "cannot reach the MQTT broker" in capsys.readouterr().err
    assert main(["--site", str(elsewhere), "--broker-port", str(site.broker.port), "status"]) == 0
    assert site.name in capsys.readouterr().out

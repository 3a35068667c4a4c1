"""The `motcua` command acting through MQTT like the devices it stands for,
run in this process (motcua.cli.main); the demo runs as its own process."""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from motcua.cli import main
from support.broker import ROOT


def test_ticket_counter_and_status_commands(site, centre, motcua, monkeypatch):
    r = motcua(site, "ticket", "HT")
    assert r.returncode == 0, r.stderr
    assert "Số thứ tự / Ticket: 1001" in r.stdout
    r = motcua(site, "ticket", "HT", "--priority", "co_thai")
    assert "1002" in r.stdout and "co_thai" in r.stdout
    stdin = io.StringIO("739205\n")
    monkeypatch.setattr("sys.stdin", stdin)
    r = motcua(site, "officers", "add", "tranthib", "--name", "Trần Thị B", "--pin-stdin")
    assert r.returncode == 0 and "tranthib (Trần Thị B)" in r.stdout, r.stderr
    monkeypatch.setattr("sys.stdin", io.StringIO("000111\n"))
    r = motcua(site, "counter", "2", "sign_in", "tranthib", "--pin-stdin")
    assert r.returncode == 2 and "bad_pin" in r.stderr and "000111" not in r.stderr + r.stdout
    monkeypatch.setattr("sys.stdin", io.StringIO("739205\n"))
    r = motcua(site, "counter", "2", "sign_in", "tranthib", "--pin-stdin")
    assert r.returncode == 0, r.stderr
    r = motcua(site, "officers", "list")
    assert "tranthib" in r.stdout and "Trần Thị B" in r.stdout and "scrypt" not in r.stdout
    r = motcua(site, "officers", "log", "tranthib")
    assert [("registered" in line, "refused" in line, "signed in" in line) for line in r.stdout.splitlines()] == \
        [(True, False, False), (False, True, False), (False, False, True)]
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
    import re
    import signal
    import time
    import urllib.parse
    import urllib.request

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
    web_port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "motcua", "--site", str(site.path), "--broker-port", str(port), "demo",
                             "--web-port", str(web_port)],
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
        # the phone's pages, the one-time code printed on the demo's terminal instead of texted
        wait_port(web_port, timeout=20)
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/lay-so") as page:
            html = page.read().decode()
        assert "Lấy số từ xa" in html and 'name="phone"' in html
        form = urllib.parse.urlencode({"step": "phone", "service": "HT", "phone": "0912 345 678"}).encode()
        with urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{web_port}/lay-so", data=form, headers={"Origin": f"http://127.0.0.1:{web_port}"})) as page:
            assert "Đã gửi mã xác nhận đến" in page.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        xvfb.terminate()
        xvfb.wait(timeout=10)
    assert proc.returncode == 0
    assert "centre running" in out and "kiosk kiosk-1 on screen" in out
    assert "counter terminal of counter 1 on screen" in out
    assert f"the phone's pages on http://127.0.0.1:{web_port}/" in out
    assert re.search(r"\[motcua web, demo\] tin nhắn tới 8491\*\*\*\*678: Ma xac nhan cua ban la \d{6}\.", out), out[-2000:]
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


# -- the demo wherever a user clones: a folder only its user may enter (issue 12, item 5) --------

def _clone_layout(folder, port):
    """The sample site as a clone has it, in `folder`/motcua: examples/site.toml with its data
    in ../var, so the broker's files land in `folder` too; the broker on `port`."""
    from support.broker import EXAMPLE
    examples = folder / "motcua" / "examples"
    examples.mkdir(parents=True)
    path = examples / "site.toml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8").replace("port = 1883", f"port = {port}"),
                    encoding="utf-8")
    return path


def test_demo_runs_from_a_folder_only_its_user_may_enter(motcua):
    """A clone in root's home or a `mktemp -d` folder (0700): the demo's broker keeps the
    caller's user, so it reads its files there (as root it would otherwise drop to
    `mosquitto`, which cannot enter). The sample's secrets are named once, not once per process."""
    import os
    import signal
    import tempfile

    from support.broker import free_port, wait_port
    from motcua.config import load_site
    folder = Path(tempfile.mkdtemp(prefix="motcua-0700-"))
    try:
        assert folder.stat().st_mode & 0o777 == 0o700
        port = free_port()
        path = _clone_layout(folder, port)
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env.pop("MOTCUA_SAMPLE_SECRETS_WARNED", None)
        proc = subprocess.Popen([sys.executable, "-m", "motcua", "--site", str(path), "demo", "--no-screens"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=ROOT, env=env)
        try:
            wait_port(port, timeout=20)
            site = load_site(path)
            deadline = time.monotonic() + 20
            while True:
                r = motcua(site, "ticket", "KD")
                if r.returncode == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            assert "Ticket: 5001" in r.stdout, r.stderr
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "centre running" in out and "Permission denied" not in out
        conf = (folder / "motcua" / "var" / "broker" / "mosquitto.conf").read_text(encoding="utf-8")
        assert ("\nuser root\n" in conf) == (os.geteuid() == 0) and "user mosquitto" not in conf
        assert out.count("still holds secrets copied from the sample site file") == 1, out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_production_broker_keeps_its_checks_in_a_folder_mosquitto_cannot_enter(capsys):
    """`motcua broker` (production) still drops to `mosquitto` when started as root, and
    refuses a folder that user cannot enter, saying how to fix it."""
    import os
    import tempfile

    from support.broker import free_port
    if os.geteuid() != 0:
        pytest.skip("the broker drops to the mosquitto user only when started as root")
    folder = Path(tempfile.mkdtemp(prefix="motcua-0700-"))
    try:
        path = _clone_layout(folder, free_port())
        assert main(["--site", str(path), "broker", "config"]) == 2
        err = capsys.readouterr().err
        assert f"{folder} is not searchable by the mosquitto user" in err and "chmod o+x" in err
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_demo_broker_of_a_user_who_is_not_root(monkeypatch):
    """Not root: the demo's broker has no `user` line and its files are left to the caller, who
    may keep them in a 0700 folder. Checked with Mosquitto run as `nobody` (the venv under
    /root cannot be run by another user, so the rest of the demo is not)."""
    import os
    import pwd
    import tempfile

    from support.broker import free_port, wait_port
    from motcua import broker as broker_module
    from motcua.config import load_site
    from motcua.mqtt import DeviceClient
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root and runuser to act as another user")
    nobody = pwd.getpwnam("nobody")
    folder = Path(tempfile.mkdtemp(prefix="motcua-0700-"))
    proc = None
    try:
        port = free_port()
        site = load_site(_clone_layout(folder, port))
        monkeypatch.setattr(broker_module.os, "geteuid", lambda: nobody.pw_uid)  # as `nobody` would
        conf = broker_module.write_config(site, keep_user=True)
        monkeypatch.undo()
        assert "\nuser " not in conf.read_text(encoding="utf-8")
        for p in [folder, *folder.rglob("*")]:
            os.chown(p, nobody.pw_uid, nobody.pw_gid)
        assert folder.stat().st_mode & 0o777 == 0o700
        proc = subprocess.Popen(["runuser", "-u", "nobody", "--", *broker_module.mosquitto_command(conf)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_port(port)
        client = DeviceClient(site, "kiosk-1").start()
        try:
            assert client.wait_connected(10)
        finally:
            client.stop()
    finally:
        if proc is not None:
            proc.terminate()
            out, _ = proc.communicate(timeout=10)
            assert "Unable to open" not in out and "Permission denied" not in out, out
        shutil.rmtree(folder, ignore_errors=True)

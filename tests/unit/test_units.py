"""`motcua install`: the text of each role's systemd units and screen session
(motcua.install), and the command that prints or writes them. Pure: no systemd,
no root (tests/integration/test_systemd_units.py runs `systemd-analyze verify`)."""
from __future__ import annotations

import os
import stat

import pytest

from motcua.cli import main
from motcua.install import ROLES, Target, files, quote
from support.broker import ROOT
from support.units import T, unit

EXAMPLE_SITE = str(ROOT / "examples" / "site.toml")
OPTIONS = {"pad": {"counter": 2, "serial": "/dev/serial/by-id/usb-pad"}, "counter": {"number": 4},
           "display": {"board": "counter", "counter": 3}}


def by_name(role, **kw):
    return {f.path: f for f in files(role, T, **{**OPTIONS.get(role, {}), **kw})}


def test_the_centre_is_notify_with_a_watchdog_restarted_and_hardened():
    [f] = files("centre", T, watchdog_s=20)
    assert f.path == "/etc/systemd/system/motcua-centre.service"
    s = unit(f.text)
    svc = s["Service"]
    assert (svc["Type"], svc["NotifyAccess"], svc["WatchdogSec"]) == ("notify", "main", "20")
    assert svc["ExecStart"] == "/opt/motcua/venv/bin/motcua --site /etc/motcua/site.toml centre"
    assert svc["Restart"] in ("always", "on-failure") and svc["RestartSec"]
    assert (svc["User"], svc["NoNewPrivileges"], svc["ProtectSystem"]) == ("motcua", "yes", "strict")
    assert svc["StateDirectory"] == "motcua"  # the data folder, /var/lib/motcua, writable
    assert "AF_UNIX" in svc["RestrictAddressFamilies"]  # the notify socket
    assert "network-online.target" in s["Unit"]["After"] and "mosquitto.service" in s["Unit"]["After"]
    assert s["Unit"]["Wants"] == "network-online.target"
    assert s["Install"]["WantedBy"] == "multi-user.target"


def test_another_data_folder_is_the_one_writable_path():
    [f] = files("centre", Target(exe=T.exe, site_file=T.site_file, data_dir="/srv/motcua data"))
    svc = unit(f.text)["Service"]
    assert svc["ReadWritePaths"] == '"/srv/motcua data"' and "StateDirectory" not in svc


def test_broker_backup_and_pad():
    [b] = files("broker", T)
    svc = unit(b.text)["Service"]
    assert svc["ExecStart"].endswith("--site /etc/motcua/site.toml broker run")
    assert unit(b.text)["Unit"]["Conflicts"] == "mosquitto.service" and svc["Type"] == "notify"
    service, timer = files("backup", T, keep=30, dest="/mnt/usb/motcua")
    assert unit(service.text)["Service"]["ExecStart"].endswith("backup --keep 30 --dest /mnt/usb/motcua")
    assert unit(service.text)["Service"]["Type"] == "oneshot"
    assert timer.path == "/etc/systemd/system/motcua-backup.timer"
    assert "OnCalendar=*-*-* 18:30:00" in timer.text and unit(timer.text)["Timer"]["Persistent"] == "true"
    [p] = files("pad", T, **OPTIONS["pad"])
    svc = unit(p.text)["Service"]
    assert p.path.endswith("/motcua-pad-2.service")
    assert svc["ExecStart"].endswith("pad --counter 2 --serial /dev/serial/by-id/usb-pad")
    assert svc["SupplementaryGroups"] == "dialout" and "PrivateDevices" not in svc  # it needs its tty


@pytest.mark.parametrize("role, words", [("kiosk", "kiosk --fullscreen"),
                                          ("display", "display counter 3 --fullscreen")])
def test_a_screen_comes_up_full_screen_at_boot(role, words):
    f = by_name(role)
    svc = unit(f[f"/etc/systemd/user/motcua-{role}.service"].text)["Service"]
    assert svc["ExecStart"] == f"/opt/motcua/venv/bin/motcua --site /etc/motcua/site.toml {words}"
    assert svc["Restart"] == "always"
    session = f[f"/usr/local/bin/motcua-{role}-session"]
    assert session.mode == 0o755 and session.text.startswith("#!/bin/sh\n")
    assert "xset s off s noblank -dpms" in session.text
    assert f"systemctl --user start --wait motcua-{role}.service" in session.text
    desktop = unit(f[f"/usr/share/xsessions/motcua-{role}.desktop"].text)["Desktop Entry"]
    assert desktop["Exec"] == session.path
    seat = unit(f["/etc/lightdm/lightdm.conf.d/50-motcua.conf"].text)["Seat:*"]
    assert (seat["autologin-user"], seat["autologin-session"]) == ("kiosk", f"motcua-{role}")
    assert "-nocursor" in seat["xserver-command"] and "-dpms" in seat["xserver-command"]


def test_the_counter_terminal_starts_with_the_officers_desktop():
    f = by_name("counter")
    svc = unit(f["/etc/systemd/user/motcua-counter.service"].text)["Service"]
    assert svc["ExecStart"].endswith("counter-app 4") and svc["Restart"] == "on-failure"
    auto = unit(f["/etc/xdg/autostart/motcua-counter.desktop"].text)["Desktop Entry"]
    assert "systemctl --user start motcua-counter.service" in auto["Exec"]


def test_quoting_of_exec_arguments():
    assert quote("/etc/motcua/site.toml") == "/etc/motcua/site.toml"
    assert quote("/srv/my site.toml") == '"/srv/my site.toml"'
    assert quote('a"b') == '"a\\"b"'
    assert quote("50%") == "50%%"


def test_every_role_has_files():
    for role in ROLES:
        assert files(role, T, **OPTIONS.get(role, {})), role
    with pytest.raises(ValueError, match="no role"):
        files("printer", T)


def test_the_command_prints_or_writes_with_the_next_steps(tmp_path, capsys):
    exe = ROOT / ".venv" / "bin" / "motcua"
    base = ["--site", EXAMPLE_SITE, "install"]
    assert main(base + ["centre", "--print", "--exe", str(exe)]) == 0
    out = capsys.readouterr().out
    assert f"ExecStart={exe} --site {EXAMPLE_SITE} centre" in out and not list(tmp_path.iterdir())
    assert main(base + ["kiosk", "--dest", str(tmp_path), "--exe", str(exe)]) == 0
    out = capsys.readouterr().out
    session = tmp_path / "usr/local/bin/motcua-kiosk-session"
    assert stat.S_IMODE(session.stat().st_mode) == 0o755
    assert (tmp_path / "etc/systemd/user/motcua-kiosk.service").exists()
    assert "systemctl enable lightdm" in out
    assert main(base + ["backup", "--dest", str(tmp_path), "--exe", str(exe)]) == 0
    assert "systemctl daemon-reload && systemctl enable --now motcua-backup.timer" in capsys.readouterr().out
    assert main(base + ["centre", "--exe", str(tmp_path / "nothing"), "--print"]) == 2
    assert "--exe PATH" in capsys.readouterr().err
    assert main(base + ["display", "counter", "--print", "--exe", str(exe)]) == 2
    assert "needs the counter's number" in capsys.readouterr().err
    if os.geteuid() != 0:
        assert main(base + ["centre", "--exe", str(exe)]) == 2

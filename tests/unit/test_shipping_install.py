"""`motcua install shipper`: the unit of `motcua ship` (motcua.install). Pure
text; tests/integration/test_systemd_units.py runs `systemd-analyze verify` on it."""
from __future__ import annotations

from motcua.cli import main
from motcua.install import files, next_steps
from support.broker import ROOT
from support.units import T, unit


def test_the_shipper_runs_motcua_ship_beside_the_centre_restarted_always_and_hardened():
    [f] = files("shipper", T)
    assert f.path == "/etc/systemd/system/motcua-ship.service"
    s = unit(f.text)
    svc = s["Service"]
    assert svc["ExecStart"] == "/opt/motcua/venv/bin/motcua --site /etc/motcua/site.toml ship"
    assert (svc["Type"], svc["Restart"], svc["User"]) == ("simple", "always", "motcua")
    assert (svc["ProtectSystem"], svc["StateDirectory"]) == ("strict", "motcua")  # its note in the data folder
    assert "motcua-centre.service" in s["Unit"]["After"] and "motcua-broker.service" in s["Unit"]["After"]
    assert s["Unit"]["StartLimitIntervalSec"] == "0" and s["Install"]["WantedBy"] == "multi-user.target"
    steps = next_steps("shipper", [f], T)
    assert any("systemctl enable --now motcua-ship.service" in step for step in steps)
    assert any("journalctl -u motcua-ship.service" in step for step in steps)


def test_the_command_prints_it(capsys):
    exe = ROOT / ".venv" / "bin" / "motcua"
    assert main(["--site", str(ROOT / "examples" / "site.toml"), "install", "shipper", "--print",
                 "--exe", str(exe)]) == 0
    assert f"ExecStart={exe} --site {ROOT / 'examples' / 'site.toml'} ship" in capsys.readouterr().out

"""`motcua province install hub|broker|web`: the province server's systemd units
(motcua.province.install). Pure text; tests/integration/test_systemd_units.py runs
`systemd-analyze verify` on them."""
from __future__ import annotations

import pytest

from motcua.cli import main
from motcua.install import Target
from motcua.province.install import files, next_steps
from support.broker import ROOT
from support.units import unit

T = Target(exe="/opt/motcua/venv/bin/motcua", site_file="/etc/motcua/province.toml",
           data_dir="/var/lib/motcua-province")
SAMPLE = ROOT / "examples" / "province.toml"


@pytest.mark.parametrize("role, options, name, command, kind", [
    ("hub", {"workers": 3}, "motcua-province-hub.service", "province hub --workers 3", "notify"),
    ("broker", {}, "motcua-province-broker.service", "province broker run", "notify"),
    ("web", {"http_port": 8081}, "motcua-province-web.service", "web --host 127.0.0.1 --http-port 8081", "simple")])
def test_each_role_runs_its_command_on_the_provincial_file_restarted_always(role, options, name, command, kind):
    [f] = files(role, T, **options)
    assert f.path == f"/etc/systemd/system/{name}"
    svc = unit(f.text)["Service"]
    assert svc["ExecStart"] == f"/opt/motcua/venv/bin/motcua {command} --province /etc/motcua/province.toml"
    assert (svc["Type"], svc["Restart"], svc["User"], svc["ProtectSystem"]) == (kind, "always", "motcua", "strict")
    assert svc["ReadWritePaths"] == "/var/lib/motcua-province"
    steps = next_steps(role, [f], T)
    assert any(f"systemctl enable --now {name}" in s for s in steps)
    assert any("chmod 0640 /etc/motcua/province.toml" in s for s in steps)   # the centres' passwords


def test_the_hub_starts_after_postgresql_and_the_broker_and_the_web_reads_its_token_apart():
    [h] = files("hub", T)
    after = unit(h.text)["Unit"]["After"]
    assert "postgresql.service" in after and "motcua-province-broker.service" in after
    [w] = files("web", T)
    assert unit(w.text)["Service"]["EnvironmentFile"] == "-/etc/motcua/web.env"


def test_the_command_prints_and_writes_them(capsys, tmp_path):
    exe = ROOT / ".venv" / "bin" / "motcua"
    assert main(["province", "install", "broker", "--province", str(SAMPLE), "--print", "--exe", str(exe)]) == 0
    assert f"ExecStart={exe} province broker run --province {SAMPLE}" in capsys.readouterr().out
    assert main(["province", "install", "hub", "--province", str(SAMPLE), "--dest", str(tmp_path),
                 "--exe", str(exe)]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "etc/systemd/system/motcua-province-hub.service").exists()
    assert "systemctl daemon-reload && systemctl enable --now motcua-province-hub.service" in out

"""`motcua install web`: the unit of `motcua web` (motcua.install). Pure text;
tests/integration/test_systemd_units.py runs `systemd-analyze verify` on it."""
from __future__ import annotations

from motcua.cli import main
from motcua.install import WEB_ENV, files, next_steps
from support.broker import ROOT
from support.units import T, unit


def test_the_web_listens_for_the_proxy_only_with_its_token_apart_and_room_for_phones():
    [f] = files("web", T, http_port=8081)
    assert f.path == "/etc/systemd/system/motcua-web.service"
    s = unit(f.text)
    svc = s["Service"]
    assert svc["ExecStart"] == ("/opt/motcua/venv/bin/motcua --site /etc/motcua/site.toml web "
                                "--host 127.0.0.1 --http-port 8081")
    assert svc["EnvironmentFile"] == f"-{WEB_ENV}"          # optional, and not the site file
    assert int(svc["LimitNOFILE"]) >= 10000                  # a descriptor per phone following its ticket
    assert (svc["Restart"], svc["User"], svc["ProtectSystem"]) == ("always", "motcua", "strict")
    assert "motcua-centre.service" in s["Unit"]["After"] and s["Install"]["WantedBy"] == "multi-user.target"
    steps = next_steps("web", [f], T)
    assert any(step.startswith(f"install -m 0600 /dev/null {WEB_ENV}") for step in steps)
    assert any("systemctl enable --now motcua-web.service" in step for step in steps)


def test_the_command_prints_it_with_its_port(capsys):
    exe = ROOT / ".venv" / "bin" / "motcua"
    site = ROOT / "examples" / "site.toml"
    assert main(["--site", str(site), "install", "web", "--print", "--exe", str(exe)]) == 0
    assert f"ExecStart={exe} --site {site} web --host 127.0.0.1 --http-port 8080" in capsys.readouterr().out
    assert main(["--site", str(site), "install", "web", "--print", "--exe", str(exe), "--http-port", "9090"]) == 0
    assert "--http-port 9090" in capsys.readouterr().out

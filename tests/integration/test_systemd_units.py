"""Every unit `motcua install` writes passes `systemd-analyze verify`, with its
ExecStart pointing at the real `motcua` of this checkout's venv."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from motcua.cli import main
from support.broker import ROOT

ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed "
                                "(Debian's systemd package; `make system-deps` installs it)")
EXE = Path(sys.executable).parent / "motcua"
ROLES = [["centre"], ["broker"], ["backup", "--keep", "30", "--when", "Mon..Sat 19:00"],
         ["pad", "--counter", "1", "--serial", "/dev/ttyUSB0"], ["kiosk"], ["display", "hall"],
         ["display", "counter", "3"], ["counter", "2", "--officer", "nguyenvana"], ["shipper"], ["web"]]


def verify(folder: Path, names: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([ANALYZE, "verify", *names], cwd=folder, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("role", ROLES, ids=[" ".join(r) for r in ROLES])
def test_units_pass_systemd_analyze_verify(role, site, workdir, capsys):
    assert EXE.exists(), EXE
    assert main(["--site", str(site.path), "install", *role, "--dest", str(workdir / "root"),
                 "--exe", str(EXE)]) == 0
    capsys.readouterr()
    units = [p for p in (workdir / "root").rglob("*") if p.suffix in (".service", ".timer")]
    assert units
    for folder in {p.parent for p in units}:
        names = sorted(p.name for p in units if p.parent == folder)
        r = verify(folder, names)
        assert r.returncode == 0 and not r.stderr.strip(), (names, r.stdout, r.stderr)


@pytest.mark.parametrize("role", ["hub", "broker", "web"])
def test_the_provinces_units_pass_systemd_analyze_verify(role, workdir, capsys):
    root = workdir / "root"
    assert main(["province", "install", role, "--province", str(ROOT / "examples" / "province.toml"),
                 "--dest", str(root), "--exe", str(EXE)]) == 0
    capsys.readouterr()
    [path] = [p for p in root.rglob("*.service")]
    r = verify(path.parent, [path.name])
    assert r.returncode == 0 and not r.stderr.strip(), (path.name, r.stdout, r.stderr)


def test_verify_does_catch_a_bad_unit(workdir):
    """The check means something: a missing program and a bad setting are refused."""
    bad = workdir / "motcua-bad.service"
    bad.write_text("[Service]\nType=notify\nExecStart=/nonexistent/motcua centre\n")
    assert verify(workdir, [bad.name]).returncode != 0
    bad.write_text(f"[Service]\nExecStart={EXE} centre\n[Timer]\nOnCalendar=*-*-* 12:15,18:30:00\n")
    timer = workdir / "motcua-bad.timer"
    timer.write_text("[Timer]\nOnCalendar=*-*-* 12:15,18:30:00\n")
    assert verify(workdir, [timer.name]).returncode != 0

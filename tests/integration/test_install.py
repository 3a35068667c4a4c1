"""Installing motcua puts one name at the top of site-packages: `motcua`.

The device folders (kiosk/, display/, counter/, hardware/, broker_config/)
stay at the top of the repository and are mapped under motcua in setup.cfg,
whose package list is written out by hand; these tests catch a package or a
data file left out of it, and anything generic installed at the top level."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from support.broker import ROOT

# repository folder -> the import name it is installed as
MAPPED = {"motcua": "motcua", "broker_config": "motcua/broker_config", "kiosk": "motcua/kiosk",
          "display": "motcua/display", "counter": "motcua/counter", "hardware": "motcua/hardware"}
DATA_SUFFIXES = {".py", ".kv", ".ttf", ".wav", ".mo", ".in", ".png"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy of the working tree's files: setuptools builds in the
    # source folder's build/, where files removed since an earlier build would
    # linger and be packed.
    source = tmp_path_factory.mktemp("source")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    # no build isolation: the venv's own setuptools, nothing fetched
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("motcua-*.whl")
    return whl


def test_the_wheel_holds_only_motcua_at_the_top(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"motcua"}, tops


def test_every_module_and_data_file_of_the_mapped_folders_is_installed(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    missing = []
    for path in tracked:
        folder, _, rest = path.partition("/")
        if folder not in MAPPED or not rest or Path(path).suffix not in DATA_SUFFIXES:
            continue
        if "/firmware/" in path or rest.startswith(("make_voicepack", "firmware/")):
            continue  # tools for the repository, not for an installed centre
        if f"{MAPPED[folder]}/{rest}" not in names:
            missing.append(path)
    assert not missing, f"not in the wheel (add the package or data to setup.cfg): {missing}"


def test_a_fresh_virtualenv_gets_only_motcua(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    before = set(p.name for p in site.iterdir())
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                        "--no-deps", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    if "no such option: --python" in r.stderr:  # pip < 22.3
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                            str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    added = set(p.name for p in site.iterdir()) - before
    assert {a for a in added if not a.endswith(".dist-info")} == {"motcua"}, added
    # the device packages are found under motcua, with their data, from the install alone
    # no dependencies are installed here: only modules that import none of them
    probe = ("import motcua.kiosk, motcua.display, motcua.counter, motcua.hardware, motcua.broker_config;"
             "from motcua.resources import package_path, FONT_DIR;"
             "assert (FONT_DIR / 'DejaVuSans.ttf').exists();"
             "assert package_path('motcua.broker_config', 'mosquitto.conf.in').exists();"
             "assert package_path('motcua.display', 'voicepack', 'chime.wav').exists();"
             "print(motcua.kiosk.__file__)")
    r = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True,
                       cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    assert str(site) in r.stdout

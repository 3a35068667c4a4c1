"""The dependency rule (issue 11): the core (engine, rules, ratings, dossier rules,
Vietnamese text, report figures, the devices' view-models) imports no kivy, paho,
serial or sqlite; devices never import the centre service; nothing imports the
old top-level names kiosk, display, counter, hardware.

The contracts are setup.cfg's [importlinter] sections, checked by import-linter
(`lint-imports`) with the external packages in the graph, so that an import of
sqlite3 or kivy anywhere down a chain of motcua's own imports breaks them. The
graph is built from the package as it is installed: the folders kiosk/, display/,
counter/ and hardware/ are motcua.kiosk etc. only through setup.cfg's package_dir
(an editable install maps them with an import hook, which import-linter's graph
builder does not follow), so the test lays the sources out as installed in a
temporary folder and lints that. A second test breaks each contract in such a
copy, so that a rule that no longer sees something (the mapped folders, the
external packages) fails here instead of passing quietly.
"""
from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "setup.cfg"
OLD_NAMES = {"kiosk", "display", "counter", "hardware"}


def lint_imports() -> Path:
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.fail("lint-imports is missing: pip install -e '.[test]' (import-linter)")
    return exe


def installed_layout(dest: Path) -> Path:
    """The package's Python sources under `dest` as an install lays them out
    (setup.cfg package_dir: motcua.kiosk = kiosk, ...); returns `dest`."""
    cfg = configparser.ConfigParser()
    cfg.read(CONFIG, encoding="utf-8")
    mapping = dict(line.split("=", 1) for line in cfg["options"]["package_dir"].strip().splitlines())
    mapping = {k.strip(): v.strip() for k, v in mapping.items()}
    for name, folder in mapping.items():
        src = ROOT / folder
        target = dest.joinpath(*name.split("."))
        # A subpackage mapped to its own folder comes from there, not from one of the
        # same name inside its parent's folder (as setuptools installs it).
        mapped_below = {tuple(other[len(name) + 1:].split(".")) for other in mapping
                        if other.startswith(name + ".")}
        for path in src.rglob("*.py"):
            rel = path.relative_to(src)
            if "__pycache__" in rel.parts or any(rel.parts[:len(m)] == m for m in mapped_below):
                continue
            out = target / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)
    return dest


def run_lint(layout: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH puts the laid-out copy before the editable install's import hook.
    env = dict(os.environ, PYTHONPATH=str(layout))
    return subprocess.run([str(lint_imports()), "--no-cache", "--no-logo", str(CONFIG)],
                          cwd=layout, env=env, capture_output=True, text=True, timeout=300)


def test_the_dependency_rule_holds(tmp_path):
    result = run_lint(installed_layout(tmp_path))
    assert result.returncode == 0, f"import contracts broken (setup.cfg [importlinter]):\n" \
                                   f"{result.stdout}\n{result.stderr}"


def test_the_rule_can_fail(tmp_path):
    """Each contract breaks when its rule is broken, down a chain of imports too."""
    layout = installed_layout(tmp_path)

    def append(rel: str, line: str) -> None:
        path = layout / rel
        path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")

    append("motcua/vntext.py", "import sqlite3")                  # core, directly
    append("motcua/ratings.py", "from . import store")            # core, through motcua.store
    append("motcua/hardware/padproto.py", "from .. import service")  # a mapped device folder
    append("motcua/engine.py", "import kiosk")                    # an old top-level name
    result = run_lint(layout)
    assert result.returncode != 0, result.stdout
    out = " ".join(result.stdout.split())
    assert "Contracts: 0 kept, 3 broken." in out, result.stdout
    assert "motcua.vntext is not allowed to import sqlite3" in out
    assert "motcua.ratings is not allowed to import sqlite_utils" in out
    assert "motcua.hardware is not allowed to import motcua.service" in out
    assert "motcua is not allowed to import kiosk" in out


def imported_names(path: Path):
    """(line, top-level name) of every absolute import in a Python file, including
    importlib.import_module("...") with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", ""))
              in ("import_module", "__import__") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield node.lineno, node.args[0].value.split(".")[0]


def test_the_tests_use_no_old_top_level_names():
    """The tests and their helpers import motcua.kiosk etc., never kiosk (the
    contract above covers the package itself)."""
    found = [f"{path.relative_to(ROOT)}:{line}: {name}"
             for path in sorted((ROOT / "tests").rglob("*.py"))
             for line, name in imported_names(path) if name in OLD_NAMES]
    assert not found, "old top-level names imported (use motcua.<name>):\n" + "\n".join(found)

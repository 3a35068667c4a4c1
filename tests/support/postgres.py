"""A real PostgreSQL for the tests: one throwaway cluster for the whole test
session (motcua.province.pgcluster), a fresh database for each test.

The cluster lives under /tmp (not pytest's 0700 tmp_path, nor a clone in
root's home): started by root, PostgreSQL runs as the `postgres` user, which
must reach its folder. fsync is off: a test does not need its data to survive
a machine crash, and the suite is faster for it (never so in a province).

Registered as a plugin in tests/conftest.py; fixtures:
- `pg_cluster`: the session's cluster (skip nothing: a machine without
  PostgreSQL fails with what to install);
- `pg_database`: a new, empty database for the test; its DSN (dropped after).
"""
from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

import pytest

from motcua.province.pgcluster import Cluster
from support.broker import free_port

_names = itertools.count(1)


def new_cluster(prefix: str = "motcua-pg-", fsync: bool = False) -> Cluster:
    """A started cluster in a new folder under /tmp (remove() it when done)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    return Cluster(folder, free_port(), fsync=fsync).start()


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = new_cluster()
    yield cluster
    cluster.stop()
    shutil.rmtree(cluster.directory, ignore_errors=True)


@pytest.fixture
def pg_database(pg_cluster) -> str:
    name = f"test_{next(_names)}"
    dsn = pg_cluster.create_database(name, exist_ok=False)
    yield dsn
    pg_cluster.drop_database(name)

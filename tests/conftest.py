"""Fixtures: a real Mosquitto configured from broker_config/ and the site file,
a real SQLite file, and the real centre service. Helpers live in tests/support."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from motcua.cli import main as cli_main
from motcua.config import load_site
from motcua.mqtt import DeviceClient
from motcua.service import CentreService
from support.broker import Broker, free_port, write_site
from support.postgres import pg_cluster, pg_database  # noqa: F401 - fixtures: a real PostgreSQL

KINDS = ("unit", "integration", "ui", "browser")


def pytest_collection_modifyitems(items):
    # The folder says the kind: `pytest -m unit` is `make test-fast`.
    for item in items:
        parts = Path(str(item.fspath)).parts
        for kind in KINDS:
            if kind in parts:
                item.add_marker(kind)


@pytest.fixture
def workdir():
    # Not pytest's tmp_path: that lives under a 0700 folder the `mosquitto`
    # user (which the broker drops to when started as root) cannot enter.
    folder = Path(tempfile.mkdtemp(prefix="motcua-test-"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def site(workdir):
    return load_site(write_site(workdir, free_port()))


@pytest.fixture
def broker(site, workdir):
    b = Broker(site, workdir / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def centre(site, broker):
    service = CentreService(site).start()
    assert service.connected.wait(10), "the centre did not connect to the broker"
    yield service
    service.stop()


@pytest.fixture
def connect(site, broker):
    """connect(device_id) -> a started, connected DeviceClient (stopped after the test)."""
    clients = []

    def _connect(device_id: str, site_=None) -> DeviceClient:
        c = DeviceClient(site_ or site, device_id).start()
        assert c.wait_connected(10), f"{device_id} could not connect"
        clients.append(c)
        return c

    yield _connect
    for c in clients:
        c.stop()




# -- motcua web (issue 14) ------------------------------------------------------------------------

@pytest.fixture
def sample_data(site):
    """The sample's procedures and dossiers in the centre's database (ask before `centre`)."""
    from support.web import load_sample_data
    load_sample_data(site)


@pytest.fixture
def web(site, broker, centre):
    """`motcua web` for the site (its web device), on uvicorn in a thread, once it
    has seen the centre online."""
    from motcua.web import site_app
    from motcua.web.links import token_reader
    from support.web import WebServer, web_device, web_secret
    server = WebServer(site_app(site, web_device(site), token_reader({site.id: web_secret(site)}))).start()
    server.wait_ready(site.id)
    yield server
    server.stop()


@pytest.fixture
def chromium(workdir):
    """Debian's chromium, headless, at a phone's 360×780, driven by selenium through
    Debian's chromedriver (nothing downloaded). chromium(javascript=False) for one
    with JavaScript off."""
    from support.browser import start_chromium
    drivers = []

    def _start(javascript: bool = True):
        d = start_chromium(workdir / f"chromium-{len(drivers)}", javascript=javascript)
        drivers.append(d)
        return d

    yield _start
    for d in drivers:
        d.quit()


@pytest.fixture
def motcua(capsys):
    """`motcua --site SITE ARGS...` in this process: its return code, stdout and stderr."""
    def run(site, *args):
        capsys.readouterr()
        code = cli_main(["--site", str(site.path), *args])
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)
    return run

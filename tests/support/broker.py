"""Test helpers for a real Mosquitto configured from broker_config/ and the
site file, and for the centre as a process."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from motcua.broker import mosquitto_command, write_config
from motcua.config import load_site
from motcua.mqtt import DeviceClient
from motcua.service import CentreService

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "site.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def write_site(folder: Path, port: int, extra: str = "", replace: dict | None = None) -> Path:
    """The sample site with its data in `folder` and the broker on `port`."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('data_dir = "../var"', f'data_dir = "{folder / "data"}"')
    text = text.replace('"../var/', f'"{folder / "data"}/')  # e.g. the kiosk's printer spool file
    text = text.replace("port = 1883", f"port = {port}")
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "site.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


class Broker:
    """Mosquitto with the configuration `motcua broker config` writes."""

    def __init__(self, site, folder: Path, persistence: bool = True):
        self.site = site
        self.port = site.broker.port
        self.conf = write_config(site, folder, persistence=persistence)
        self.log = folder / "mosquitto.log"
        self.proc = None

    def start(self) -> "Broker":
        self.proc = subprocess.Popen(mosquitto_command(self.conf), stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


def run_centre_process(site_path: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "motcua", "--site", str(site_path), "centre"],
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, cwd=ROOT)

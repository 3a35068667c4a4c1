"""The kiosk as a citizen meets it: a real Kivy window under Xvfb, driven by
touches, against a real broker and centre. Screenshots of every screen go to
test-output/screens/ (portrait 1080x1920 and landscape 1920x1080)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from motcua.config import load_site

from conftest import ROOT, write_site, free_port

SHOTS = ROOT / "test-output" / "screens"
SIZES = ["1080x1920", "1920x1080"]

pytestmark = pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (apt-get install xvfb)")


def drive(site, scenario: str, size: str, device: str = "kiosk-1", timeout: int = 120) -> dict:
    out = SHOTS / f"kiosk-{scenario}-{size}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 2000x2000x24", sys.executable,
           str(ROOT / "tests" / "kivy_driver.py"), "kiosk", str(site.path), device, str(out), scenario, size]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    result_file = out / "result.json"
    assert result_file.exists(), f"the kiosk did not finish the scenario:\n{done.stderr[-4000:]}"
    result = json.loads(result_file.read_text())
    assert result["error"] is None, result["error"]
    for shot in result["shots"]:
        assert Path(shot).stat().st_size > 10_000, f"{shot} looks empty"
    return result


@pytest.mark.parametrize("size", SIZES)
def test_two_taps_from_home_to_a_printed_number(site, centre, size):
    r = drive(site, "take_number", size)
    ticket = r["checks"]["ticket"]
    assert ticket["ticket"] == "1001" and ticket["service"] == "HT"
    assert r["checks"]["taps"] == 2
    assert r["checks"]["print_state"] == "printed"
    # the ticket really went to kiosk-1's printer (a spool file in the sample site)
    spool = Path(site.device("kiosk-1").printer.port)
    data = spool.read_bytes()
    assert data.startswith(b"\x1b@") and b"\x1dv0" in data
    # and the centre has it
    assert centre.store.ticket(ticket["day"], "1001")["device"] == "kiosk-1"


def test_priority_choice_gives_a_priority_ticket(site, centre):
    r = drive(site, "priority_number", "1080x1920")
    ticket = r["checks"]["ticket"]
    assert ticket["priority"] == site.priorities[0].code and ticket["service"] == "CT"


def test_centre_down_gives_a_clear_message_and_no_number(site, broker):
    r = drive(site, "centre_down", "1080x1920")
    assert r["checks"]["ticket"] == {}
    assert r["checks"]["screen"] == "services"
    assert "Không lấy được số" in r["checks"]["error"]
    assert r["checks"]["banner"]  # the banner says the centre is away


def test_language_switch_and_idle_return(workdir):
    site = load_site(write_site(workdir, free_port(), replace={"idle_seconds = 60": "idle_seconds = 10"}))
    from conftest import Broker
    from motcua.service import CentreService
    b = Broker(site, workdir / "broker").start()
    c = CentreService(site).start()
    try:
        r = drive(site, "language_and_idle", "1080x1920")
    finally:
        c.stop()
        b.stop()
    assert r["checks"]["take_text_en"].startswith("Take a number")
    assert r["checks"]["lang_after_idle"] == "vi"
    assert r["checks"]["take_text_vi"].startswith("Lấy số thứ tự")


def test_escape_does_not_quit_and_settings_need_the_pin(site, centre):
    r = drive(site, "escape_and_admin", "1080x1920")
    assert r["checks"]["alive_after_escape"] is True
    assert r["checks"]["wrong_pin_screen"] == "pin"
    assert r["checks"]["admin"] is True

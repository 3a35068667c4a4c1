"""The officer's counter terminal (issue 6): a real Kivy window under Xvfb, driven
by touches and F-key shortcuts, against a real broker and centre. Screenshots go
to test-output/screens/counter-<scenario>-<size>/ (the default 480x720 and the
smallest supported, 400x600).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT

SHOTS = ROOT / "test-output" / "screens"
SIZES = ["480x720", "400x600"]

pytestmark = pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (apt-get install xvfb)")


def drive(site, scenario: str, size: str, device: str = "counter-1", timeout: int = 150,
          on_signal=None) -> dict:
    out = SHOTS / f"counter-{scenario}-{size}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", sys.executable,
           str(ROOT / "tests" / "kivy_driver.py"), "counter", str(site.path), device, str(out), scenario, size]
    # its own process group: on a timeout the app and its Xvfb go too, not just xvfb-run
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            start_new_session=True)
    stop = threading.Event()
    errors: list[BaseException] = []

    def watch():  # the scenario asks the test for things through files
        handled = set()
        while not stop.is_set():
            for f in out.iterdir() if out.exists() else ():
                if f.name in handled or "." in f.name or f.name == "result":
                    continue
                if on_signal is not None and f.is_file():
                    handled.add(f.name)
                    try:
                        on_signal(f.name)
                    except BaseException as exc:  # noqa: BLE001 - reported below
                        errors.append(exc)
                    (out / f"{f.name}.done").write_text(str(time.time()))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        pytest.fail(f"the counter scenario {scenario} hung for {timeout} s:\n{stderr[-4000:]}")
    finally:
        stop.set()
        watcher.join(5)
    if errors:
        raise errors[0]
    result_file = out / "result.json"
    assert result_file.exists(), f"the terminal did not finish the scenario:\n{stderr[-4000:]}"
    result = json.loads(result_file.read_text())
    assert result["error"] is None, result["error"] + "\n" + stderr[-3000:]
    for shot in result["shots"]:
        assert Path(shot).stat().st_size > 5_000, f"{shot} looks empty"
    return result


def first_ask(client, op: str, **args) -> dict:
    """The first request after the centre connected: it may not have subscribed yet, so
    ask again with the same request id (the centre answers a repeated id only once)."""
    from motcua.mqtt import CentreUnavailable
    for attempt in range(10):
        try:
            return client.request(op, timeout=1, request_id=f"first-{op}", **args)
        except CentreUnavailable:
            if attempt == 9:
                raise


@pytest.mark.parametrize("size", SIZES)
def test_every_action_by_touch_and_shortcut_agrees_with_the_centre(site, centre, connect, size):
    kiosk = connect("kiosk-1")
    first_ask(kiosk, "ticket.issue", service="HT")
    kiosk.request("ticket.issue", service="HT")
    kiosk.request("ticket.issue", service="HT")
    r = drive(site, "full_flow", size)
    c = r["checks"]
    assert c["signed_in"] == {"state": "open", "officer": "nguyenvana", "officer_name": "Nguyễn Văn A"}
    assert c["enabled_open"] == ["call", "close", "next", "pause"]
    assert c["called"]["screen"] == "1001" and c["called"]["centre"] == "called"
    assert c["called"]["enabled"] == ["done", "no_show", "recall", "start", "transfer"]
    assert c["called"]["status"] == "Đã gọi số 1001." and c["called"]["timer"].startswith("Đã gọi")
    assert c["recall_event"] == {"ticket": "1001", "counter": 1, "recall": True}
    assert c["serving"]["timer"] == "Đang phục vụ  00:01" and c["serving"]["caption"] == "Đang phục vụ số"
    assert c["serving"]["enabled"] == ["done", "next", "transfer"]
    assert c["after_done"]["served"] == "1" and c["after_done"]["centre_served"] == 1
    assert c["satisfaction"] == "100% (1 đánh giá · chỉ số 100)"
    assert c["pickable"] == ["1002", "1003"]
    assert "HT" not in c["targets"] and c["targets"][0] == "CT"
    assert c["transferred"]["CT"] == ["1003"] and c["transferred"]["HT"] == ["1002"]
    assert c["refused"] == "Số này không có trong hàng chờ hôm nay (đã gọi, đã xong hoặc chưa lấy)."
    assert c["no_show"]["served"] == 1 and "vắng mặt" in c["no_show"]["status"]
    assert c["next_disabled"]["disabled"] is True and "không dùng được" in c["next_disabled"]["status"]
    assert c["paused"]["centre_reason"] == "Họp giao ban" and c["paused"]["pause_text"] == "Lý do: Họp giao ban"
    assert c["paused"]["enabled"] == ["close", "resume"]
    # a private reason stays off the displays, but the officer sees it
    assert c["private_pause"] == {"centre_reason": None, "pause_text": "Lý do: Đi lấy hồ sơ"}
    assert c["closed"]["centre"] == "closed" and c["closed"]["officer"] is None and c["closed"]["served"] == 1
    assert c["closed"]["status"] == "Đã đóng quầy."
    assert all(v == [] for v in c["overflow"].values()), c["overflow"]
    # the centre's own record
    assert centre.engine.state.counters[1].state == "closed"
    day = centre.engine.state.day
    assert centre.store.ticket(day, "1001")["state"] == "done"
    assert centre.store.ticket(day, "1002")["state"] == "no_show"
    assert centre.store.ticket(day, "1003")["service"] == "CT"


def test_an_action_pressed_while_the_broker_is_down_is_done_once_it_is_back(site, broker, centre, connect):
    kiosk = connect("kiosk-1")
    first_ask(kiosk, "ticket.issue", service="HT")
    admin = connect("admin")
    admin.request("counter.sign_in", counter=1, officer="nguyenvana", officer_name="Nguyễn Văn A")

    def on_signal(name):
        if name == "stop-broker":
            broker.stop()
        elif name == "start-broker":
            broker.start()
    r = drive(site, "broker_down", "480x720", on_signal=on_signal)
    c = r["checks"]
    assert "Mất kết nối" in c["banner"]
    assert "chưa gửi" in c["queued"]["status"] and c["queued"]["cancel_visible"] == 1
    assert c["still_queued"] == "queued"
    assert c["after"] == {"status": "Đã gọi số 1001.", "pending": "", "banner": ""}
    # done once: one call, of 1001, at counter 1
    assert centre.engine.state.call_seq == 1
    assert centre.engine.state.counters[1].ticket_id is not None
    assert all(v == [] for v in c["overflow"].values()), c["overflow"]


def test_a_request_without_an_answer_is_shown_failed_and_resent_with_the_same_id(site, centre, connect):
    kiosk = connect("kiosk-1")
    first_ask(kiosk, "ticket.issue", service="HT")
    connect("admin").request("counter.sign_in", counter=1, officer="nguyenvana")
    r = drive(site, "no_answer", "400x600")
    c = r["checks"]
    assert c["failed"]["attempts"] == 3 and len(c["failed"]["ids"]) == 1
    assert "không trả lời" in c["failed"]["status"]
    assert c["failed"]["retry_visible"] == 1 and c["failed"]["cancel_visible"] == 1
    assert c["retried"]["ids"] == c["failed"]["ids"]          # the same request id, never a new one
    assert c["retried"]["pending"] == "" and c["retried"]["status"] == "Đã gọi số 1001."
    assert centre.engine.state.call_seq == 1

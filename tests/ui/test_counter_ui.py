"""The officer's counter terminal (issue 6): a real Kivy window under Xvfb, driven
by touches and F-key shortcuts, against a real broker and centre. Screenshots go
to test-output/screens/counter-<scenario>-<size>/ (the default 480x720 and the
smallest supported, 400x600).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support.officers import register, sign_in
from support.ui import first_ask, run_scenario

SIZES = ["480x720", "400x600"]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (apt-get install xvfb)")


def drive(site, scenario: str, size: str, device: str = "counter-1", timeout: int = 150,
          on_signal=None) -> dict:
    return run_scenario("counter", site, device, scenario, size, timeout=timeout,
                        on_signal=on_signal, min_shot_bytes=5_000)


@pytest.mark.parametrize("size", SIZES)
def test_every_action_by_touch_and_shortcut_agrees_with_the_centre(site, centre, connect, size):
    kiosk = connect("kiosk-1")
    first_ask(kiosk, "ticket.issue", service="HT")
    kiosk.request("ticket.issue", service="HT")
    kiosk.request("ticket.issue", service="HT")
    register(connect("admin"), ("nguyenvana", "Nguyễn Văn A"))
    r = drive(site, "full_flow", size)
    c = r["checks"]
    assert c["bad_pin"] == {"status": "Sai mã PIN, còn 4 lần thử (sai 5 lần: khoá 5 phút).", "pin_field": "",
                            "screen": "signin", "password": True}
    assert c["pin_masked"] is True
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
    register(admin, ("nguyenvana", "Nguyễn Văn A"))
    sign_in(admin, 1, "nguyenvana")

    def on_signal(name, out):
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
    admin = connect("admin")
    register(admin, "nguyenvana")
    sign_in(admin, 1, "nguyenvana")
    r = drive(site, "no_answer", "400x600")
    c = r["checks"]
    assert c["failed"]["attempts"] == 3 and len(c["failed"]["ids"]) == 1
    assert "không trả lời" in c["failed"]["status"]
    assert c["failed"]["retry_visible"] == 1 and c["failed"]["cancel_visible"] == 1
    assert c["retried"]["ids"] == c["failed"]["ids"]          # the same request id, never a new one
    assert c["retried"]["pending"] == "" and c["retried"]["status"] == "Đã gọi số 1001."
    assert centre.engine.state.call_seq == 1


@pytest.fixture
def sample_dossiers(site):
    """The sample's dossiers in the mirror, as `motcua dossiers import` puts them, before
    the centre starts (asked for before `centre`)."""
    from motcua.dossiers import DossierStore
    from motcua.store import Store
    store = Store(site.database)
    try:
        assert not DossierStore(store.db, site.dossiers, site.timezone).import_file(EXAMPLES / "dossiers.json").errors
    finally:
        store.close()


@pytest.mark.parametrize("size", SIZES)
def test_dossiers_typed_and_scanned_reach_the_ticket_and_its_rating(site, sample_dossiers, centre, connect, size):
    """Issue 12: the "Hồ sơ" field on the terminal, typed and scanned, × to remove, and the
    returned result after Xong; the counted rating carries the codes."""
    import json
    kiosk = connect("kiosk-1")
    first_ask(kiosk, "ticket.issue", service="HT")
    admin = connect("admin")
    register(admin, ("nguyenvana", "Nguyễn Văn A"))
    sign_in(admin, 1, "nguyenvana")
    r = drive(site, "dossiers", size)
    c = r["checks"]
    typed, scanned, returned = "000.00.31.H12-261123-0001", "000.00.31.H12-261117-0005", "000.00.31.H12-261120-0009"
    # idle, the field is there already: it takes a phone's QR (issue 14; test_an_idle_counter_…)
    assert c["idle"]["row_height"] > 0 and c["idle"]["disabled"] is False
    assert c["called"]["disabled"] is False and c["called"]["hint"] == "Hồ sơ: quét mã QR hoặc gõ mã, Enter"
    assert c["called"]["hint_fits"] is True
    assert c["called"]["caption"].startswith("Đã gọi, chờ công dân")
    assert c["typed"] == {"status": f"Đã gắn hồ sơ {typed} (Đăng ký khai sinh) vào số 1001.", "field": "",
                          "chips": ["261123-0001"]}
    assert c["scanned"] == {"status": f"Đã gắn hồ sơ {scanned} (Đăng ký kết hôn) vào số 1001.", "field": "",
                            "chips": ["261123-0001", "261117-0005"]}
    assert c["refused"].startswith("Mã hồ sơ không đúng dạng")
    assert c["removed"] == f"Đã gỡ hồ sơ {scanned} khỏi số 1001."
    assert c["finished"] == {"caption": "Vừa xong số 1001 · công dân đang đánh giá",
                             "hint": "Hồ sơ trả cho số 1001", "hint_fits": True, "chips": ["261123-0001"]}
    assert c["returned"]["chips"] == ["261123-0001", "261120-0009"]
    assert c["returned"]["status"] == f"Đã gắn hồ sơ {returned} (Đăng ký khai sinh) vào số 1001."
    assert c["rated"]["row_height"] > 0 and c["rated"]["hint"] == "Quét mã QR lịch hẹn, số lấy từ xa"
    assert {k: c["rated"][k] for k in ("caption", "chips")} == {"caption": "Chưa gọi số nào", "chips": 0}
    assert all(v == [] for v in c["overflow"].values()), c["overflow"]
    [rating] = list(centre.store.db.query("SELECT * FROM ratings"))
    assert rating["status"] == "counted" and json.loads(rating["dossiers"]) == [typed, returned]


def _slot_site(site, workdir, now):
    """The same centre (data, broker, devices) with one HT slot every day, starting
    within a quarter of an hour of `now`, so its booking can be checked in at once
    (booking_grace_min = 15); the afternoon rule becomes CT's, out of its way."""
    from datetime import timedelta

    from motcua.config import load_site
    from support.broker import write_site
    start = now + timedelta(minutes=10 - now.minute % 5)
    folder = workdir / "slots"
    folder.mkdir()
    path = write_site(folder, site.broker.port, replace={
        f'data_dir = "{folder / "data"}"': f'data_dir = "{site.data_dir}"',
        'service = "HT"\ndays = [1, 2, 3, 4, 5]\nstart = "07:30"\nend = "11:30"\n':
            f'service = "HT"\ndays = [1, 2, 3, 4, 5, 6, 7]\ntimes = ["{start:%H:%M}"]\n',
        'service = "HT"\ndays = [1, 2, 3, 4, 5]\ntimes = [': 'service = "CT"\ndays = [1, 2, 3, 4, 5]\ntimes = ['})
    return load_site(path), start.strftime("%H:%M")


@pytest.mark.parametrize("size", SIZES)
def test_an_idle_counter_with_nobody_waiting_checks_a_phones_qr_in(site, broker, connect, workdir, size):
    """Issue 14: the "Hồ sơ" field takes a phone's QR at an idle counter too, so an
    officer whose hall is empty checks a booking (then a number from afar) in; the
    booking is then called first."""
    import json
    from datetime import datetime, time, timezone

    from motcua.service import CentreService
    from motcua.web_tokens import booking_link, ticket_link
    # The centre's clock runs from 10:00 local today, whatever the hour of the run, so the
    # slot (10:10) and its check-in window fall within the day.
    real = datetime.now(timezone.utc)
    now = datetime.combine(real.astimezone(site.tz).date(), time(10, 0), tzinfo=site.tz)
    offset = now - real
    slots, at = _slot_site(site, workdir, now)
    centre = CentreService(slots, clock=lambda: datetime.now(timezone.utc) + offset).start()
    try:
        assert centre.connected.wait(10)
        admin = connect("admin")
        register(admin, ("nguyenvana", "Nguyễn Văn A"))
        sign_in(admin, 1, "nguyenvana")
        web = connect("web")
        b = web.request("booking.create", service="HT", day=now.date().isoformat(), time=at, phone="0912345678")
        t = web.request("ticket.reserve", service="HT", phone="0355000111")
        w = slots.web
        links = {"booking": booking_link(w.base_url, w.secret, slots.id, b["day"], b["booking"]),
                 "booking_ticket": "1002",  # 1001 is the number from afar, numbered when taken
                 "remote": ticket_link(w.base_url, w.secret, slots.id, t["day"], t["ticket"])}
        assert t["ticket"] == "1001"
        r = run_scenario("counter", slots, "counter-1", "idle_check_in", size, timeout=150,
                         env={"MOTCUA_TEST_LINKS": json.dumps(links)}, min_shot_bytes=5_000)
    finally:
        centre.stop()
    c = r["checks"]
    assert c["idle"]["row_height"] > 0 and c["idle"]["disabled"] is False
    assert c["idle"]["hint"] == "Quét mã QR lịch hẹn, số lấy từ xa" and c["idle"]["hint_fits"]
    assert c["idle"]["button"] == "Xác nhận" and c["idle"]["enabled"] == ["close", "pause"]
    assert c["booking"] == {"status": f"Đã xác nhận lịch hẹn {at}: cấp số 1002, được gọi trước trong khung giờ hẹn.",
                            "kind": "info", "field": "", "ticket": ""}
    assert c["remote"]["status"] == "Đã xác nhận số 1001 lấy từ xa: vào hàng chờ theo giờ lấy số."
    assert c["remote"]["waiting"] == ["1002", "1001"]  # the booking first, within its slot
    assert c["dossier_idle"]["status"].startswith("Chưa có số nào để gắn hồ sơ: gọi số trước.")
    assert c["called"] == {"hint": "Hồ sơ: quét mã QR hoặc gõ mã, Enter", "button": "Gắn hồ sơ", "ticket": "1002"}
    assert all(v == [] for v in c["overflow"].values()), c["overflow"]

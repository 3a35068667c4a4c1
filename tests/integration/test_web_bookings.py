"""Numbers before coming and bookings on the phone (issue 14) against a real
broker and centre, the phone proved through a local fake gateway: take a number
from afar and check it in at the kiosk; book a slot, see it, add it to a
calendar, cancel it; the centre's limit per phone; links that are not ours."""
from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import pytest

from motcua.web import site_app
from motcua.web.links import token_reader
from motcua.web.notify import WebhookNotifier
from motcua.web_tokens import make_token
from support.fake_gateway import FakeGateway
from support.web import SSEReader, WebServer, web_device, web_secret


@pytest.fixture
def phone_web(site, broker, centre):
    """motcua web with a gateway (so it offers numbers from afar and bookings)."""
    gateway = FakeGateway().start()
    server = WebServer(site_app(site, web_device(site), token_reader({site.id: web_secret(site)}),
                                notifier=WebhookNotifier(gateway.url, gateway.token, timeout_s=2))).start()
    server.wait_ready(site.id)
    yield server, gateway
    server.stop()
    gateway.stop()


def form(**fields) -> bytes:
    return urlencode(fields).encode()


def prove(server, gateway, path: str, **fields) -> tuple[int, str, str]:
    """Send the form with the phone, then the code the gateway received."""
    before = len(gateway.delivered)
    status, html, _ = server.post(path, form(step="phone", **fields))
    assert status == 200 and "Đã gửi mã xác nhận đến" in html, html[html.find("<main>"):][:600]
    assert len(gateway.delivered) == before + 1
    code = gateway.delivered[-1]["params"]["code"]
    nonce = re.search(r'name="ask" value="([^"]+)"', html).group(1)
    return server.post(path, form(step="code", ask=nonce, code=code))


def test_a_number_from_afar_then_checked_in_at_the_kiosk(site, phone_web, connect):
    server, gateway = phone_web
    status, html, _ = server.get("/")
    assert 'href="/lay-so"' in html and 'href="/dat-lich"' in html
    status, html, _ = server.get("/lay-so")
    assert status == 200 and 'value="HT"' in html and "Hộ tịch" in html
    status, html, _ = server.post("/lay-so", form(step="phone", service="HT", phone="12345"))
    assert "Số điện thoại không đúng" in html and not gateway.requests
    status, html, _ = server.post("/lay-so", form(step="phone", service="HT", phone="0912 345 678"))
    nonce = re.search(r'name="ask" value="([^"]+)"', html).group(1)
    code = gateway.delivered[-1]["params"]["code"]
    status, html, _ = server.post("/lay-so", form(step="code", ask=nonce, code="000000" if code != "000000" else "1"))
    assert "Mã xác nhận không đúng" in html
    status, html, path = server.post("/lay-so", form(step="code", ask=nonce, code=code))
    assert status == 200 and path.startswith("/t/"), path
    label = re.search(r'id="number">(\d+)<', html).group(1)
    assert "Số lấy từ xa" in html and "<svg" in html and 'id="qr"' in html
    shown = re.sub(r'placeholder="[^"]*"', "", html)   # the form's example number is the same as this phone
    assert "84912345678" not in shown and "0912" not in shown, "the phone is on no page"
    # the same code twice makes nothing more
    assert "hết hạn" in server.post("/lay-so", form(step="code", ask=nonce, code=code))[1]
    stream = SSEReader(server.port, path + "/events")
    try:
        stream.wait_for(lambda d: d["state"] == "reserved")
        kiosk = connect("kiosk-1")
        answer = kiosk.request("ticket.check_in", token=site.web.base_url + path)
        assert answer["checked_in"] and answer["ticket"] == label
        _, _, v = stream.wait_for(lambda d: d["state"] == "waiting")
        assert v["ahead"] == 0 and "tiếp theo" in v["headline"]
    finally:
        stream.close()
    assert "Số lấy từ xa" not in server.get(path)[1]


def test_a_booking_seen_added_to_a_calendar_and_cancelled(site, phone_web):
    server, gateway = phone_web
    status, html, _ = server.get("/dat-lich")
    assert status == 200 and 'href="/dat-lich?dv=HT"' in html
    status, html, _ = server.get("/dat-lich?dv=HT")
    slots = re.findall(r'name="slot" value="([^"]+)"', html)
    assert slots, "some slot of the coming days is bookable"
    status, html, path = prove(server, gateway, "/dat-lich?dv=HT", slot=slots[0], phone="0355 000 111")
    assert status == 200 and path.startswith("/b/"), path
    day, at = slots[0].split()
    assert "Lịch hẹn của bạn" in html and at in html and "<svg" in html
    assert "Đã đặt. Khi đến, đưa mã QR này" in html and "0355" not in html
    status, ics, headers = server.get(path + "/lich.ics")
    assert status == 200 and headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics and "DTSTART:" in ics and "\r\n" in ics
    start = re.search(r"DTSTART:(\d{8}T\d{4})", ics).group(1)
    from datetime import datetime, timezone
    local = datetime.strptime(start, "%Y%m%dT%H%M").replace(tzinfo=timezone.utc).astimezone(site.tz)
    assert local.strftime("%Y-%m-%d %H:%M") == f"{day} {at}"
    status, html, _ = server.post(path + "/huy", b"")
    assert "Lịch hẹn đã huỷ." in html and "<svg" not in html
    assert "Lịch hẹn đã huỷ." in server.get(path)[1]
    # a link not ours, or another booking's id under this signature
    body, mac = path.removeprefix("/b/").split(".")
    for bad in ("/b/" + make_token("guessed", site.id, "b", day, 1),
                "/b/" + make_token(web_secret(site), site.id, "b", day, 999).split(".")[0] + "." + mac,
                "/b/" + make_token(web_secret(site), site.id, "t", day, "1001")):
        status, html, _ = server.get(bad)
        assert status == 404 and "Không tìm thấy" in html and at not in html


def test_the_centres_limit_per_phone_is_said_plainly(site, phone_web):
    server, gateway = phone_web
    status, html, _ = server.get("/dat-lich?dv=CT")
    slots = re.findall(r'name="slot" value="([^"]+)"', html)
    # the first day with three slots left (late in the morning today may have fewer)
    days = sorted({s.split()[0] for s in slots})
    same_day = next(ss for d in days if len(ss := [s for s in slots if s.startswith(d + " ")]) >= 3)
    for slot in same_day[:2]:
        assert prove(server, gateway, "/dat-lich?dv=CT", slot=slot, phone="0987 654 321")[2].startswith("/b/")
    status, html, path = prove(server, gateway, "/dat-lich?dv=CT", slot=same_day[2], phone="0987654321")
    assert path.startswith("/dat-lich") and "Mỗi số điện thoại chỉ được lấy 2 số mỗi ngày" in html
    # the form comes back as the citizen left it: the phone and the time chosen
    assert 'value="0987654321"' in html and re.search(rf'value="{same_day[2]}" checked', html)
    # a phone mistyped: said, and kept to be corrected rather than typed again
    status, html, _ = server.post("/dat-lich?dv=CT", form(step="phone", slot=same_day[2], phone="0912 34"))
    assert "Số điện thoại không đúng" in html and 'value="0912 34"' in html


def test_a_closed_day_is_shown_closed_and_offers_no_time(workdir):
    """A holiday in [web] closed_days within the days shown: the booking page names
    it closed, in words, and offers none of its times."""
    from datetime import datetime, timedelta

    from motcua.config import load_site
    from motcua.service import CentreService
    from support.broker import Broker, free_port, write_site
    probe = load_site(write_site(workdir, free_port()))
    today = datetime.now(probe.tz).date()
    # a weekday (HT has slots Monday to Friday) after today, within the week shown
    holiday = next(d for d in (today + timedelta(days=i) for i in range(2, 7)) if d.isoweekday() <= 5)
    folder = workdir / "holiday"
    folder.mkdir()
    site = load_site(write_site(folder, free_port(),
                                replace={"closed_days = [": f'closed_days = ["{holiday.isoformat()}",'}))
    broker = Broker(site, folder / "broker").start()
    centre = CentreService(site).start()
    gateway = FakeGateway().start()
    server = WebServer(site_app(site, web_device(site), token_reader({site.id: web_secret(site)}),
                                notifier=WebhookNotifier(gateway.url, gateway.token, timeout_s=2))).start()
    try:
        server.wait_ready(site.id)
        status, html, _ = server.get("/dat-lich?dv=HT")
        assert status == 200
        slots = re.findall(r'name="slot" value="([^"]+)"', html)
        assert slots and not [s for s in slots if s.startswith(holiday.isoformat())]
        text = re.sub(r"<[^>]+>", "", html)
        assert f"{holiday:%d/%m/%Y}: Trung tâm nghỉ (ngày lễ, Tết): không nhận lịch hẹn." in text
        # at its place among the days, not apart from them
        at = html.find(f"{holiday:%d/%m/%Y}")
        assert all(html.find(f'value="{s}"') < at for s in slots if s < holiday.isoformat())
        assert all(html.find(f'value="{s}"') > at for s in slots if s > holiday.isoformat())
        status, html, _ = server.get("/dat-lich?dv=HT&lang=en")
        assert "The centre is closed (public holiday)." in html
    finally:
        server.stop()
        gateway.stop()
        centre.stop()
        broker.stop()

"""The citizen's pages in a real browser (issue 14): Debian's chromium, headless,
at a phone's 360×780, driven by selenium through Debian's chromedriver, against
`motcua web` on a real broker and centre. Screenshots in test-output/web/."""
from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By

from motcua.web_tokens import make_token
from support.browser import PHONE, decode_qr, panel, phone_server, shot, submit, text, wait
from support.officers import register, sign_in
from support.web import ticket_path, web_secret


@pytest.fixture
def desk(site, centre, connect):
    register(connect("admin"), "nguyenvana")
    counter = connect("counter-1")
    sign_in(counter, 1, "nguyenvana")
    return connect("kiosk-1"), counter


def png_size(path) -> tuple[int, int]:
    import struct
    head = path.read_bytes()[:24]
    return struct.unpack(">II", head[16:24])


def test_the_ticket_page_follows_the_queue_and_fills_with_the_call(site, web, desk, chromium):
    kiosk, counter = desk
    first, mine = kiosk.request("ticket.issue", service="HT"), kiosk.request("ticket.issue", service="HT")
    d = chromium()
    d.get(web.url + ticket_path(site, mine["day"], mine["ticket"]))
    assert text(d, "number") == mine["ticket"] and text(d, "service") == "Hộ tịch"
    assert text(d, "ahead") == "1" and text(d, "headline") == "Đang chờ đến lượt"
    assert d.execute_script("return [innerWidth, innerHeight]") == list(PHONE)
    wait(d, lambda d: d.execute_script("return typeof EventSource") == "function")
    assert png_size(shot(d, "ticket-waiting")) == PHONE
    counter.request("counter.next", counter=1)
    wait(d, lambda d: text(d, "ahead") == "0", what="one call later, nobody ahead")
    assert "tiếp theo" in text(d, "headline")
    shot(d, "ticket-next")
    counter.request("counter.start", counter=1)
    called_at = time.monotonic()
    counter.request("counter.next", counter=1)
    wait(d, lambda d: "called" in d.find_element(By.TAG_NAME, "body").get_attribute("class"), timeout=3,
         what="the page fills with the call")
    assert time.monotonic() - called_at < 1.5
    box = d.find_element(By.ID, "panel")
    assert box.is_displayed() and box.size["width"] == PHONE[0] and box.size["height"] == PHONE[1]
    assert panel(d) == f"Mời công dân có số {mine['ticket']} đến quầy số 1"
    shot(d, "ticket-called")
    counter.request("counter.recall", counter=1)
    wait(d, lambda d: panel(d).startswith("Gọi lại"), what="the recall")
    shot(d, "ticket-recalled")
    counter.request("counter.start", counter=1)
    wait(d, lambda d: text(d, "headline") == "Đang được phục vụ tại quầy số 1")
    assert not d.find_element(By.ID, "panel").is_displayed()
    counter.request("counter.done", counter=1)
    wait(d, lambda d: text(d, "headline") == "Đã phục vụ xong. Cảm ơn bạn!")
    shot(d, "ticket-done")
    assert first["ticket"] not in d.page_source.replace(mine["ticket"], "")


def test_in_english_and_after_a_no_show(site, web, desk, chromium):
    kiosk, counter = desk
    mine = kiosk.request("ticket.issue", service="HT")
    d = chromium()
    d.get(web.url + ticket_path(site, mine["day"], mine["ticket"], lang="en"))
    assert text(d, "headline") == "You are next. Please watch the screen and listen for your number."
    shot(d, "ticket-en")
    counter.request("counter.next", counter=1)
    wait(d, lambda d: panel(d) == f"Number {mine['ticket']} please go to counter 1")
    counter.request("counter.no_show", counter=1)
    wait(d, lambda d: "were not there" in text(d, "headline"))
    assert not d.find_element(By.ID, "panel").is_displayed()
    shot(d, "ticket-no-show-en")


def test_without_javascript_the_page_shows_the_state_and_reloads_itself(site, web, desk, chromium):
    kiosk, counter = desk
    mine = kiosk.request("ticket.issue", service="HT")
    d = chromium(javascript=False)
    d.get(web.url + ticket_path(site, mine["day"], mine["ticket"]))
    assert text(d, "number") == mine["ticket"] and text(d, "ahead") == "0"
    assert "Trang tự tải lại sau 30 giây." in d.find_element(By.TAG_NAME, "main").text
    shot(d, "ticket-nojs-waiting")
    counter.request("counter.next", counter=1)
    # the <noscript> refresh is 30 s while waiting: the test does not wait for it, but
    # checks the reload shows the call (the refresh itself is checked by its tag)
    d.refresh()
    assert panel(d) == f"Mời công dân có số {mine['ticket']} đến quầy số 1"
    assert d.find_element(By.ID, "panel").is_displayed()
    refresh = d.find_elements(By.CSS_SELECTOR, 'noscript')
    assert any('http-equiv="refresh" content="10"' in n.get_attribute("innerHTML") for n in refresh)
    shot(d, "ticket-nojs-called")


def test_the_page_reloads_itself_without_javascript(site, web, desk, chromium, monkeypatch):
    """The <noscript> meta refresh really reloads in chromium with JavaScript off
    (10 s while called)."""
    kiosk, counter = desk
    mine = kiosk.request("ticket.issue", service="HT")
    counter.request("counter.next", counter=1)
    d = chromium(javascript=False)
    d.get(web.url + ticket_path(site, mine["day"], mine["ticket"]))
    assert d.find_element(By.ID, "panel").is_displayed()
    counter.request("counter.no_show", counter=1)
    wait(d, lambda d: "vắng mặt" in text(d, "headline"), timeout=15, what="the page reloaded by itself")


def test_a_forged_or_guessed_link_shows_nothing(site, web, desk, chromium):
    kiosk, _ = desk
    mine = kiosk.request("ticket.issue", service="HT")
    d = chromium()
    guessed = make_token("guessed-secret", site.id, "t", mine["day"], mine["ticket"])
    d.get(web.url + "/t/" + guessed)
    assert d.find_element(By.TAG_NAME, "h1").text == "Không tìm thấy số này"
    assert mine["ticket"] not in d.page_source
    shot(d, "ticket-forged")
    real = make_token(web_secret(site), site.id, "t", mine["day"], mine["ticket"])
    body, mac = real.split(".")
    d.get(web.url + "/t/" + body + "." + ("A" if mac[0] != "A" else "B") + mac[1:])
    assert d.find_element(By.TAG_NAME, "h1").text == "Không tìm thấy số này"


def search(d, query: str) -> list[str]:
    """Type the query in the search box, send it, and read the names found."""
    box = d.find_element(By.NAME, "q")
    box.clear()
    box.send_keys(query)
    before = d.find_element(By.TAG_NAME, "html")
    d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(d, lambda d: before.id != d.find_element(By.TAG_NAME, "html").id, what="the results page")
    return [a.text.splitlines()[0] for a in d.find_elements(By.CSS_SELECTOR, "#hits a")]


@pytest.mark.usefixtures("sample_data")
def test_procedure_search_with_and_without_tones(site, centre, web, chromium):
    d = chromium()
    deadline = time.monotonic() + 15
    while True:
        d.get(web.url + "/thu-tuc")
        if not d.find_elements(By.CSS_SELECTOR, "p.err") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    shot(d, "procedures-fields")
    plain = search(d, "dang ky khai sinh")
    assert plain and plain[0] == "Đăng ký khai sinh"
    shot(d, "procedures-plain")
    toned = search(d, "ĐĂNG KÝ KHAI SINH")
    assert toned == plain
    assert search(d, "đăng ký khai sinh") == plain
    d.find_elements(By.CSS_SELECTOR, "#hits a")[0].click()
    wait(d, lambda d: "/thu-tuc/" in d.current_url)
    assert d.find_element(By.TAG_NAME, "h1").text == "Đăng ký khai sinh"
    shot(d, "procedure-detail")


@pytest.mark.usefixtures("sample_data")
def test_a_dossier_on_the_phone(site, centre, web, chromium):
    import json

    from motcua import dossiers
    from support.broker import ROOT
    record = json.loads((ROOT / "examples" / "dossiers.json").read_text(encoding="utf-8"))[0]
    d = chromium()
    d.get(web.url + "/ho-so")
    shot(d, "dossier-form")
    d.find_element(By.ID, "code").send_keys(record["code"])
    d.find_element(By.ID, "lookup").send_keys("ABCDEF")
    d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(d, lambda d: d.find_elements(By.ID, "error"), what="the refusal")
    assert "không khớp" in d.find_element(By.ID, "error").text
    shot(d, "dossier-refused")
    d.find_element(By.ID, "lookup").clear()
    d.find_element(By.ID, "lookup").send_keys(dossiers.lookup_code(record["code"], site.dossiers))
    d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(d, lambda d: d.find_elements(By.ID, "dossier"), what="the dossier")
    card = d.find_element(By.ID, "dossier").text
    assert dossiers.mask_name(record["applicant_name"]) in card and record["applicant_name"] not in d.page_source
    shot(d, "dossier-shown")


def test_asking_for_a_text_when_the_turn_is_near(site, broker, centre, desk, chromium):
    from motcua.web import site_app
    from motcua.web.links import token_reader
    from motcua.web.notify import WebhookNotifier
    from support.fake_gateway import FakeGateway
    from support.web import WebServer, web_device
    gateway = FakeGateway().start()
    server = WebServer(site_app(site, web_device(site), token_reader({site.id: web_secret(site)}),
                                notifier=WebhookNotifier(gateway.url, gateway.token, timeout_s=2))).start()
    try:
        server.wait_ready(site.id)
        kiosk, _ = desk
        for _ in range(5):
            mine = kiosk.request("ticket.issue", service="HT")
        d = chromium()
        d.get(server.url + ticket_path(site, mine["day"], mine["ticket"]))
        d.find_element(By.CSS_SELECTOR, "#remind summary").click()
        d.find_element(By.ID, "phone").send_keys("0912 345 678")
        shot(d, "remind-offer")
        d.find_element(By.CSS_SELECTOR, "#remind button[type=submit]").click()
        wait(d, lambda d: d.find_elements(By.ID, "info"), what="the code page")
        assert "8491****678" in text(d, "info")
        shot(d, "remind-code")
        d.find_element(By.ID, "code").send_keys(gateway.delivered[0]["params"]["code"])
        d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(d, lambda d: "Chúng tôi sẽ nhắn tin" in text(d, "info"), what="confirmed")
        shot(d, "remind-done")
    finally:
        server.stop()
        gateway.stop()


def test_a_number_from_afar_shows_the_qr_the_kiosk_reads(site, broker, centre, chromium, connect):
    server, gateway = phone_server(site)
    try:
        d = chromium()
        d.get(server.url + "/")
        shot(d, "home")
        d.find_element(By.LINK_TEXT, "Lấy số từ xa").click()
        wait(d, lambda d: d.current_url.endswith("/lay-so"))
        d.find_element(By.ID, "phone").send_keys("0912 345 678")
        shot(d, "take-form")
        submit(d, "the code page")
        d.find_element(By.ID, "code").send_keys(gateway.delivered[-1]["params"]["code"])
        submit(d, "the ticket page")
        assert "/t/" in d.current_url and "Số lấy từ xa" in text(d, "headline")
        d.execute_script("document.getElementById('qr').scrollIntoView()")
        png = shot(d, "take-ticket-qr")
        link = site.web.base_url + d.current_url.split(server.url, 1)[1].split("?")[0]
        assert decode_qr(png) == [link], "the QR on the phone is the ticket's signed link"
        assert not d.find_element(By.ID, "remind").is_displayed(), "no text message before it is in the queue"
        kiosk = connect("kiosk-1")
        assert kiosk.request("ticket.check_in", token=link)["checked_in"]
        wait(d, lambda d: text(d, "headline").startswith("Bạn là người tiếp theo"), what="checked in, live")
        # in the queue now: the offer of a text message appears without a reload
        wait(d, lambda d: d.find_element(By.ID, "remind").is_displayed(), what="the offer of a text message")
        shot(d, "take-checked-in")
    finally:
        server.stop()
        gateway.stop()


def test_booking_a_time_on_the_phone(site, broker, centre, chromium):
    server, gateway = phone_server(site)
    try:
        d = chromium()
        d.get(server.url + "/dat-lich")
        d.find_element(By.PARTIAL_LINK_TEXT, "Hộ tịch").click()
        wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#slots input"), what="the slots")
        shot(d, "book-slots")
        d.find_elements(By.CSS_SELECTOR, "#slots label")[1].click()
        d.find_element(By.ID, "phone").send_keys("0355000111")
        submit(d, "the code page")
        d.find_element(By.ID, "code").send_keys(gateway.delivered[-1]["params"]["code"])
        submit(d, "the booking page")
        assert "/b/" in d.current_url and "Đã đặt" in text(d, "headline")
        shot(d, "booking")
        d.execute_script("document.getElementById('qr').scrollIntoView()")
        png = shot(d, "booking-qr")
        assert decode_qr(png) == [site.web.base_url + d.current_url.split(server.url, 1)[1].split("?")[0]]
        d.find_element(By.CSS_SELECTOR, "details summary").click()
        before = d.find_element(By.TAG_NAME, "html")
        d.find_element(By.ID, "cancel").click()
        # the cancel is a round trip to the centre: wait for the new page, then read it
        wait(d, lambda d: before.id != d.find_element(By.TAG_NAME, "html").id, timeout=15, what="the page after cancelling")
        assert text(d, "headline") == "Lịch hẹn đã huỷ.", d.find_element(By.TAG_NAME, "main").text
        shot(d, "booking-cancelled")
    finally:
        server.stop()
        gateway.stop()

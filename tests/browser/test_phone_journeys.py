"""The citizen's journeys from the phone to the kiosk (issue 14's tests): booked or
taken from afar in chromium (360×780, the phone proved by the code the fake SMS
gateway received), the QR read off the phone's screenshot and scanned at a real
kiosk window under Xvfb, called from a signed-in counter and followed on the
phone to the end; lapsed ones; and each limit as the citizen meets it, with
nothing half-written at the centre.

The centre's clock is set by the test on today's date (the web process has only
the real clock, and a call reaches only today's tickets), at a fixed hour, so
that nothing depends on the hour the tests run at; the sample's slots are opened
on every weekday (tests/support/journeys.py)."""
from __future__ import annotations

import shutil

import pytest
from selenium.webdriver.common.by import By

from motcua.config import load_site
from motcua.service import CentreService
from support.broker import free_port, write_site
from support.browser import PHONE, panel, phone_server, shot, text, wait
from support.clock import Clock
from support.journeys import (ask_code, confirm_code, error_text, every_day, last_code, page_path,
                              qr_on_screen, report_holds, rows, scan_at_kiosk, today_at, written)
from support.officers import register, sign_in

pytestmark = pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (apt-get install xvfb)")

PHONE_A, PHONE_A84 = "0912 345 678", "84912345678"
PHONE_B, PHONE_B84 = "0355 000 111", "84355000111"


@pytest.fixture
def site(workdir, request):
    """The sample site, its slots on every day; parametrized indirectly, more changes."""
    more = getattr(request, "param", {})
    return load_site(write_site(workdir, free_port(), replace={**every_day(), **more}))


@pytest.fixture
def clock(site):
    # 08:20 today at the centre: the 08:30 slot may be checked in from 08:15
    return Clock(today_at(site.tz, "08:20"))


@pytest.fixture
def centre(site, broker, clock):
    service = CentreService(site, clock=clock).start()
    assert service.connected.wait(10), "the centre did not connect to the broker"
    yield service
    service.stop()


@pytest.fixture
def phone(site, centre):
    server, gateway = phone_server(site)
    yield server, gateway
    server.stop()
    gateway.stop()


@pytest.fixture
def counter(site, connect, centre):
    register(connect("admin"), "nguyenvana")
    c = connect("counter-1")
    sign_in(c, 1, "nguyenvana")
    return c


def day_of(clock) -> str:
    return clock().date().isoformat()


def book_in_browser(d, server, gateway, slot: str, phone: str, phone84: str, service: str = "HT"):
    """/dat-lich on the phone: the slot, the phone, the code the gateway received."""
    ask_code(d, server, f"/dat-lich?dv={service}", phone, slot=slot)
    assert "****" in text(d, "info"), error_text(d)
    confirm_code(d, last_code(gateway, phone84))


def take_in_browser(d, server, gateway, phone: str, phone84: str):
    ask_code(d, server, "/lay-so", phone)
    assert "****" in text(d, "info"), error_text(d)
    confirm_code(d, last_code(gateway, phone84))


def follow_to_the_end(d, counter, number: str, name: str):
    """The ticket's page (live) sees the call from counter 1, serving and done."""
    wait(d, lambda d: text(d, "number") == number and text(d, "headline").startswith("Bạn là người tiếp theo"),
         what="the ticket's page, next in line")
    wait(d, lambda d: d.execute_script("return typeof EventSource") == "function")
    shot(d, f"{name}-ticket-next")
    called = counter.request("counter.next", counter=1)
    assert called["ticket"]["ticket"] == number
    wait(d, lambda d: "called" in d.find_element(By.TAG_NAME, "body").get_attribute("class"), timeout=5,
         what="the page fills with the call")
    assert panel(d) == f"Mời công dân có số {number} đến quầy số 1"
    shot(d, f"{name}-ticket-called")
    counter.request("counter.start", counter=1)
    wait(d, lambda d: text(d, "headline") == "Đang được phục vụ tại quầy số 1", what="serving")
    # "text me when my turn is near" is for a waiting ticket only
    assert not [e for e in d.find_elements(By.ID, "remind") if e.is_displayed()]
    shot(d, f"{name}-ticket-serving")
    counter.request("counter.done", counter=1)
    wait(d, lambda d: text(d, "headline") == "Đã phục vụ xong. Cảm ơn bạn!", what="done")
    wait(d, lambda d: d.find_element(By.ID, "home").is_displayed(), what="a way on from a finished ticket")
    shot(d, f"{name}-ticket-done")


# -- 1 and 2: from the phone to the kiosk to the counter -----------------------------------------

def test_a_booking_checked_in_at_the_kiosk_is_called_and_done(site, clock, centre, phone, counter, chromium):
    server, gateway = phone
    day = day_of(clock)
    d = chromium()
    d.get(server.url + "/dat-lich?dv=HT")
    wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#slots input"), what="the slots")
    # 08:20 now: today's first bookable slot is 08:30 (08:00 has begun)
    assert d.find_element(By.CSS_SELECTOR, "#slots input").get_attribute("value") == f"{day} 08:30"
    assert d.execute_script("return [innerWidth, innerHeight]") == list(PHONE)
    shot(d, "journey-book-slots")
    book_in_browser(d, server, gateway, f"{day} 08:30", PHONE_A, PHONE_A84)
    assert page_path(d, server).startswith("/b/")
    assert text(d, "headline") == "Đã đặt. Khi đến, đưa mã QR này vào máy quét của ki-ốt từ 08:15 đến 09:15."
    booking_page = d.current_url
    link = qr_on_screen(d, "journey-booking-qr")
    assert link == site.web.base_url + page_path(d, server)
    assert rows(site, "SELECT state, time FROM bookings") == [("booked", "08:30")]
    assert rows(site, "SELECT count(*) FROM phones") == [(1,)]

    seen = scan_at_kiosk(site, [{"name": "booking", "text": link}])["booking"]
    assert seen["screen"] == "ticket" and seen["print"] == "printed" and not seen["cut"], seen
    number = seen["ticket"]["ticket"]
    assert number == "1001" and seen["ticket"]["booking"]["state"] == "checked_in"

    d.get(booking_page)
    assert text(d, "headline") == f"Đã xác nhận tại Trung tâm: số thứ tự của bạn là {number}."
    assert not d.find_elements(By.ID, "qr")
    shot(d, "journey-booking-checked-in")
    before = d.find_element(By.TAG_NAME, "html")
    d.find_element(By.LINK_TEXT, "Theo dõi số thứ tự").click()
    wait(d, lambda d: before.id != d.find_element(By.TAG_NAME, "html").id, what="the ticket's page")
    assert page_path(d, server).startswith("/t/")
    follow_to_the_end(d, counter, number, "journey-booking")
    # served: the booking ended, and its phone with it
    assert rows(site, "SELECT state FROM tickets WHERE label = ?", [number]) == [("done",)]
    assert rows(site, "SELECT count(*) FROM phones") == [(0,)]
    h = report_holds(site, clock().date())
    assert (h.booked, h.booking_checked_in, h.booking_lapsed) == (1, 1, 0)


def test_a_number_from_afar_checked_in_at_the_kiosk_is_called_and_done(site, clock, centre, phone, counter,
                                                                        chromium, connect):
    server, gateway = phone
    walk_in = connect("kiosk-1").request("ticket.issue", service="HT")["ticket"]     # 1001, at 08:20
    d = chromium()
    d.get(server.url + "/")
    d.find_element(By.LINK_TEXT, "Lấy số từ xa").click()
    wait(d, lambda d: page_path(d, server) == "/lay-so")
    take_in_browser(d, server, gateway, PHONE_B, PHONE_B84)
    assert page_path(d, server).startswith("/t/")
    number = text(d, "number")
    assert number == "1002" and text(d, "headline").startswith("Số lấy từ xa") and "09:20" in text(d, "headline")
    link = qr_on_screen(d, "journey-take-qr")
    assert link == site.web.base_url + page_path(d, server)
    clock.move(minutes=25)                                                            # 08:45, in the hall
    seen = scan_at_kiosk(site, [{"name": "remote", "text": link}])["remote"]
    assert seen["screen"] == "ticket" and seen["print"] == "printed" and not seen["cut"], seen
    assert seen["ticket"]["ticket"] == number and seen["ticket"]["checked_in"]
    # its place is the time it was taken: after the walk-in of 08:20, one ahead
    wait(d, lambda d: text(d, "headline") == "Đang chờ đến lượt" and text(d, "ahead") == "1",
         what="checked in: the page follows it live")
    assert not d.find_element(By.ID, "qr").is_displayed(), "the QR to check in is gone once checked in"
    shot(d, "journey-take-checked-in")
    assert counter.request("counter.next", counter=1)["ticket"]["ticket"] == walk_in
    counter.request("counter.start", counter=1)
    counter.request("counter.done", counter=1)
    follow_to_the_end(d, counter, number, "journey-take")
    assert rows(site, "SELECT count(*) FROM phones") == [(0,)]
    h = report_holds(site, clock().date())
    assert (h.remote, h.remote_checked_in, h.remote_lapsed) == (1, 1, 0)


# -- 3: lapsed ----------------------------------------------------------------------------------

def test_a_lapsed_booking_and_a_lapsed_number_from_afar(site, clock, centre, phone, chromium):
    from motcua.kiosk import model as kiosk_model
    server, gateway = phone
    day = day_of(clock)
    d = chromium()
    book_in_browser(d, server, gateway, f"{day} 08:30", PHONE_A, PHONE_A84)
    booking_page = d.current_url.split("?")[0]
    booking_link = qr_on_screen(d, "lapse-booking-qr")
    take_in_browser(d, server, gateway, PHONE_B, PHONE_B84)
    ticket_page = d.current_url.split("?")[0]
    ticket_link = qr_on_screen(d, "lapse-take-qr")
    assert rows(site, "SELECT count(*) FROM phones") == [(2,)]

    def late(name):
        # 11:20: past the booking's window (09:15) and the number's hour (09:20)
        clock.move(hours=3)
        wait(d, lambda d: rows(site, "SELECT count(*) FROM phones") == [(0,)], timeout=10, what="both lapsed")
        # the number's page, open on the phone, says so live, and its QR is gone
        wait(d, lambda d: text(d, "headline").startswith("Số này đã hết hạn"), what="lapsed, live")
        assert not d.find_element(By.ID, "qr").is_displayed()
        assert d.find_element(By.ID, "home").is_displayed() and d.find_element(By.ID, "home").text == "Về trang chủ"
        shot(d, "lapse-take-live")
    seen = scan_at_kiosk(site, [{"name": "lapsed-booking", "text": booking_link, "ask": "late"},
                                {"name": "lapsed-remote", "text": ticket_link},
                                {"name": "lapsed-booking-en", "text": booking_link, "lang": "en"}], on_ask=late)
    for name, code, lang in (("lapsed-booking", "booking_lapsed", "vi"), ("lapsed-remote", "ticket_lapsed", "vi"),
                             ("lapsed-booking-en", "booking_lapsed", "en")):
        assert seen[name]["screen"] == "ticketstatus" and not seen[name]["ticket"] and not seen[name]["cut"], seen
        assert seen[name]["status"]["message"] == kiosk_model.check_in_error(code, {}, lang, site.tz)
    assert "quá giờ" in seen["lapsed-booking"]["status"]["message"]
    assert "no longer valid" in seen["lapsed-booking-en"]["status"]["message"]

    d.get(booking_page)
    assert text(d, "headline") == "Lịch hẹn đã hết hạn vì chưa được xác nhận kịp giờ."
    assert not d.find_elements(By.ID, "qr") and not d.find_elements(By.ID, "cancel")
    shot(d, "lapse-booking")
    d.get(booking_page + "?lang=en")
    assert text(d, "headline") == "This booking lapsed: it was not checked in in time."
    shot(d, "lapse-booking-en")
    # what the page asks (book again) is one tap away, in the page's language
    again = d.find_element(By.ID, "again")
    assert again.text == "Book another time"
    again.click()
    wait(d, lambda d: page_path(d, server) == "/dat-lich?dv=HT&lang=en", what="the booking form")
    assert d.find_elements(By.CSS_SELECTOR, "#slots input")
    d.get(ticket_page)
    assert text(d, "headline") == ("Số này đã hết hạn vì chưa được xác nhận tại Trung tâm kịp giờ. "
                                   "Vui lòng lấy số mới.")
    assert not d.find_elements(By.ID, "qr")
    shot(d, "lapse-take")
    d.find_element(By.ID, "home").click()
    wait(d, lambda d: page_path(d, server) == "/", what="the home page")
    assert d.find_element(By.LINK_TEXT, "Lấy số từ xa").is_displayed()
    d.get(ticket_page + "?lang=en")
    assert text(d, "headline").startswith("This number has lapsed")
    shot(d, "lapse-take-en")
    # nobody was queued, and the report counts both lapsed
    assert rows(site, "SELECT state FROM bookings") == [("lapsed",)]
    assert rows(site, "SELECT state, booking FROM tickets") == [("lapsed", None)]
    h = report_holds(site, clock().date())
    assert (h.remote, h.remote_checked_in, h.remote_lapsed, h.remote_open) == (1, 0, 1, 0)
    assert (h.booked, h.booking_checked_in, h.booking_lapsed, h.booking_open) == (1, 0, 1, 0)


# -- 4: each limit as the citizen meets it --------------------------------------------------------

def refused_in_browser(d, site, before: dict, expected: str, name: str):
    """The page says `expected` and the centre wrote nothing."""
    assert error_text(d) == expected, d.find_element(By.TAG_NAME, "main").text
    assert "/b/" not in d.current_url and "/t/" not in d.current_url
    assert written(site) == before, "a refused request wrote something at the centre"
    shot(d, name)


def test_the_centre_s_limit_per_phone_per_day(site, clock, centre, phone, chromium):
    server, gateway = phone
    day = day_of(clock)
    d = chromium()
    book_in_browser(d, server, gateway, f"{day} 09:00", PHONE_A, PHONE_A84)
    take_in_browser(d, server, gateway, PHONE_A, PHONE_A84)
    before = written(site)
    assert before["phones"] == 2
    book_in_browser(d, server, gateway, f"{day} 10:00", PHONE_A, PHONE_A84)   # a third, the same day
    refused_in_browser(d, site, before, "Mỗi số điện thoại chỉ được lấy 2 số mỗi ngày "
                                        "(gồm số lấy từ xa và lịch hẹn).", "limit-phone-per-day")
    # the fourth code within ten minutes for that phone: the web's own limit, nothing sent
    codes = len(gateway.delivered)
    ask_code(d, server, "/lay-so", PHONE_A)
    refused_in_browser(d, site, before, "Quá nhiều yêu cầu. Vui lòng thử lại sau 10 phút.", "limit-codes-per-phone")
    assert len(gateway.delivered) == codes and not d.find_elements(By.ID, "code")


@pytest.mark.parametrize("site", [{"remote_per_service_per_day = 50": "remote_per_service_per_day = 1"}],
                         indirect=True, ids=["one-a-day"])
def test_the_centre_s_limit_of_numbers_from_afar_per_service(site, clock, centre, phone, chromium, connect):
    server, gateway = phone
    connect("web").request("ticket.reserve", service="HT", phone="0987654321")         # someone else's
    before = written(site)
    d = chromium()
    take_in_browser(d, server, gateway, PHONE_A, PHONE_A84)
    refused_in_browser(d, site, before, "Hôm nay đã hết số lấy từ xa cho lĩnh vực này. Vui lòng đặt lịch hẹn "
                                        "hoặc đến lấy số tại Trung tâm.", "limit-remote-per-service")
    # in English, words for a citizen too (not the centre's log line with its setting's name)
    ask_code(d, server, "/lay-so?lang=en", PHONE_B)
    confirm_code(d, last_code(gateway, PHONE_B84))
    refused_in_browser(d, site, before, "Every number from afar for this service has been taken today. Please book "
                                        "a time or take a number at the centre.", "limit-remote-per-service-en")
    # a service's name on two lines must not squeeze its radio button (a target for a thumb)
    sizes = {(r.size["width"], r.size["height"]) for r in d.find_elements(By.CSS_SELECTOR, ".pick input")}
    assert sizes == {(26, 26)}, sizes


def test_a_slot_that_filled_while_the_citizen_typed_the_code(site, clock, centre, phone, chromium, connect):
    server, gateway = phone
    day = day_of(clock)
    d = chromium()
    ask_code(d, server, "/dat-lich?dv=HT", PHONE_A, slot=f"{day} 08:30")              # "còn 2 chỗ"
    web = connect("web")
    for p in ("0987654321", "0706222333"):                                            # two others book it first
        web.request("booking.create", service="HT", day=day, time="08:30", phone=p)
    before = written(site)
    confirm_code(d, last_code(gateway, PHONE_A84))
    refused_in_browser(d, site, before, "Khung giờ này đã hết chỗ. Vui lòng chọn khung giờ khác.", "limit-slot-full")
    # the form again, without that slot: the citizen chooses another (it said "no free time" before)
    assert not d.find_elements(By.CSS_SELECTOR, f"#slots input[value='{day} 08:30']")
    assert d.find_elements(By.CSS_SELECTOR, f"#slots input[value='{day} 09:00']")


def test_the_web_s_limit_of_codes_per_address(site, clock, centre, phone, chromium):
    server, gateway = phone
    before = written(site)
    d = chromium()
    for i in range(10):                                # ten phones from one address within the hour
        ask_code(d, server, "/lay-so", f"09120000{i:02d}")
        assert d.find_elements(By.ID, "code"), error_text(d)
    ask_code(d, server, "/lay-so", "0912000099")
    refused_in_browser(d, site, before, "Quá nhiều yêu cầu. Vui lòng thử lại sau 60 phút.", "limit-codes-per-address")
    assert len(gateway.delivered) == 10


def test_a_wrong_code_five_times(site, clock, centre, phone, chromium):
    server, gateway = phone
    day = day_of(clock)
    d = chromium()
    ask_code(d, server, "/dat-lich?dv=HT", PHONE_A, slot=f"{day} 09:00")
    right = last_code(gateway, PHONE_A84)
    wrong = "000000" if right != "000000" else "111111"
    before = written(site)
    for _ in range(5):
        confirm_code(d, wrong)
        assert error_text(d) == "Mã xác nhận không đúng." and d.find_elements(By.ID, "code")
    shot(d, "limit-wrong-code")
    confirm_code(d, right)                             # too late: five wrong answers used it up
    refused_in_browser(d, site, before, "Mã đã hết hạn hoặc đã nhập sai quá nhiều lần. Vui lòng làm lại từ đầu.",
                       "limit-wrong-code-five-times")
    assert d.find_elements(By.CSS_SELECTOR, f"#slots input[value='{day} 09:00']"), "the form again, to start over"

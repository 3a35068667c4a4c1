"""`motcua web` against a real broker and a real centre (issue 14): the ticket
page follows a ticket live, a call made through the counter's operation reaches
the phone's stream within a second, forged links show nothing, and procedures
and dossiers answer as the kiosk does."""
from __future__ import annotations

import json
import re
import socket
import time

import pytest

from motcua import dossiers
from motcua.catalogue import Catalogue
from motcua.store import Store
from motcua.web_tokens import make_token
from support.broker import ROOT, free_port
from support.officers import register, sign_in
from support.web import SSEReader, run_web_process, ticket_path, web_device, web_secret


@pytest.fixture
def desk(site, centre, connect):
    """A kiosk, and counter 1 open with an officer."""
    register(connect("admin"), "nguyenvana")
    counter = connect("counter-1")
    sign_in(counter, 1, "nguyenvana")
    return connect("kiosk-1"), counter


def test_a_call_at_the_counter_reaches_the_phone_within_a_second(site, web, desk):
    kiosk, counter = desk
    first, mine = kiosk.request("ticket.issue", service="HT"), kiosk.request("ticket.issue", service="HT")
    path = ticket_path(site, mine["day"], mine["ticket"])
    status, html, headers = web.get(path)
    assert status == 200 and f'id="number">{mine["ticket"]}<' in html and "Hộ tịch" in html
    assert re.search(r'id="ahead">1<', html), "one person ahead"
    stream = SSEReader(web.port, path + "/events")
    try:
        _, name, v = stream.wait_for(lambda d: True)
        assert stream.status == 200 and "text/event-stream" in stream.headers and name == "ticket"
        assert v["ahead"] == 1 and v["state"] == "waiting"
        counter.request("counter.next", counter=1)          # calls `first`: mine is next
        stream.wait_for(lambda d: d["ahead"] == 0 and "tiếp theo" in d["headline"])
        counter.request("counter.start", counter=1)
        sent = time.monotonic()
        counter.request("counter.next", counter=1)           # finishes `first`, calls mine
        at, _, v = stream.wait_for(lambda d: d["called"], timeout=3)
        assert at - sent < 1.0, f"the call reached the phone after {at - sent:.2f} s"
        assert v["panel"] == f"Mời công dân có số {mine['ticket']} đến quầy số 1" and not v["recall"]
        sent = time.monotonic()
        counter.request("counter.recall", counter=1)
        at, _, v = stream.wait_for(lambda d: d["recall"], timeout=3)
        assert at - sent < 1.0 and v["panel"].startswith("Gọi lại")
        counter.request("counter.no_show", counter=1)
        _, _, v = stream.wait_for(lambda d: d["state"] == "no_show")
        assert not v["called"] and "vắng mặt" in v["headline"]
    finally:
        stream.close()
    # the page without JavaScript, reloaded, says the same, and no longer reloads itself
    status, html, _ = web.get(path)
    assert "vắng mặt" in html and 'http-equiv="refresh"' not in html
    assert first["ticket"] not in html.replace(mine["ticket"], ""), "no other ticket on the page"


def test_serving_done_and_a_transfer_show_as_they_happen(site, web, desk, connect):
    kiosk, counter = desk
    mine = kiosk.request("ticket.issue", service="HT")
    stream = SSEReader(web.port, ticket_path(site, mine["day"], mine["ticket"]) + "/events?lang=en")
    try:
        stream.wait_for(lambda d: d["state"] == "waiting")
        counter.request("counter.next", counter=1)
        stream.wait_for(lambda d: d["called"] and d["panel"] == f"Number {mine['ticket']}, please go to counter 1")
        counter.request("counter.transfer", counter=1, service="CT")
        _, _, v = stream.wait_for(lambda d: d["state"] == "waiting" and d["service"].startswith("Certification"))
        assert "Moved to the service" in v["note"]
        counter2 = connect("counter-2")
        register(connect("admin"), "tranthib")
        sign_in(counter2, 2, "tranthib")
        counter2.request("counter.next", counter=2)
        stream.wait_for(lambda d: d["called"] and d["counter"] == 2)
        counter2.request("counter.start", counter=2)
        stream.wait_for(lambda d: d["state"] == "serving")
        counter2.request("counter.done", counter=2)
        _, _, v = stream.wait_for(lambda d: d["state"] == "done")
        assert v["headline"] == "Served. Thank you!"
    finally:
        stream.close()


def test_people_ahead_follow_the_queue_from_one_connection(site, web, desk):
    kiosk, counter = desk
    tickets = [kiosk.request("ticket.issue", service="HT") for _ in range(14)]
    last = tickets[-1]
    streams = [SSEReader(web.port, ticket_path(site, t["day"], t["ticket"]) + "/events") for t in tickets[-3:]]
    try:
        _, _, v = streams[-1].wait_for(lambda d: True)
        assert v["ahead"] == 13 and v["ahead_text"] == "13"
        counter.request("counter.next", counter=1)
        counter.request("counter.no_show", counter=1)
        counter.request("counter.next", counter=1)
        streams[-1].wait_for(lambda d: d["ahead"] == 11)
        streams[0].wait_for(lambda d: d["ahead"] == 9)
        assert web.health()["centres"][site.id]["streams"] == 3
    finally:
        for s in streams:
            s.close()
    deadline = time.monotonic() + 5
    while web.health()["centres"][site.id]["streams"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert web.health()["centres"][site.id]["streams"] == 0, "a phone that hangs up is let go"
    assert last["ticket"]


def test_forged_guessed_and_altered_links_show_nothing(site, web, desk):
    kiosk, _ = desk
    mine = kiosk.request("ticket.issue", service="HT")
    token = make_token(web_secret(site), site.id, "t", mine["day"], mine["ticket"])
    body, mac = token.split(".")
    forged = [
        "/t/" + make_token("a-guessed-secret", site.id, "t", mine["day"], mine["ticket"]),
        "/t/" + make_token(web_secret(site), site.id, "t", mine["day"], str(int(mine["ticket"]) + 1)).split(".")[0]
        + "." + mac,
        "/t/" + body + "." + ("A" if mac[0] != "A" else "B") + mac[1:],
        f"/t/{site.id}.{mine['day']}.{mine['ticket']}",
        "/t/" + make_token(web_secret(site), site.id, "t", mine["day"], "1999"),   # signed, never issued
    ]
    for path in forged:
        status, html, headers = web.get(path)
        assert status == 404, path
        assert "Không tìm thấy số này" in html and mine["ticket"] not in html and "Hộ tịch" not in html
        assert headers["cache-control"] == "no-store"
        stream = SSEReader(web.port, path + "/events")
        assert stream.wait_status() == 404
        stream.close()
    assert web.get("/t/" + token)[0] == 200


def test_pages_load_nothing_from_elsewhere_and_stay_small(site, web, desk):
    kiosk, _ = desk
    mine = kiosk.request("ticket.issue", service="HT")
    path = ticket_path(site, mine["day"], mine["ticket"])
    raw = first_load_bytes(web.port, path)
    assert raw < 60 * 1024, f"first load of the ticket page: {raw} bytes"
    for p in (path, "/", "/thu-tuc", "/ho-so"):
        status, html, headers = web.get(p)
        assert status == 200
        assert not re.search(r'(src|href|action)="(https?:)?//', html), "nothing from elsewhere"
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert headers["referrer-policy"] == "same-origin" and headers["x-content-type-options"] == "nosniff"
        assert re.search(r"<script nonce=|<style nonce=", html)
        assert not re.search(r"<script(?! nonce)", html)


def first_load_bytes(port: int, path: str) -> int:
    """Every byte the server sends for the page (headers and body): it has no
    other resource to load (its CSS and script are inline)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept-Encoding: identity\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert b" 200 " in data.split(b"\r\n", 1)[0]
    return len(data)


@pytest.mark.usefixtures("sample_data")
def test_procedure_search_gives_the_kiosks_hits_with_and_without_tones(site, web, centre):
    store = Store(site.database)
    try:
        kiosk_hits = {q: [h.code for h in Catalogue(store.db).search(q, limit=30)]
                      for q in ("đăng ký khai sinh", "dang ky khai sinh", "DANG KY KHAI SINH", "chung thuc",
                                "ĐẤT ĐAI", "1.0011")}
    finally:
        store.close()
    deadline = time.monotonic() + 15
    while '<li><a href="/thu-tuc/' not in web.get("/thu-tuc?q=khai+sinh")[1] and time.monotonic() < deadline:
        time.sleep(0.2)       # the web process copies the catalogue as a kiosk does
    for q, codes in kiosk_hits.items():
        status, html, _ = web.get("/thu-tuc?q=" + urlquote(q))
        assert status == 200
        assert re.findall(r'href="/thu-tuc/([^"?]+)', html) == [urlquote(c) for c in codes], q
    assert kiosk_hits["đăng ký khai sinh"] == kiosk_hits["dang ky khai sinh"] != []
    code = kiosk_hits["dang ky khai sinh"][0]
    status, html, _ = web.get(f"/thu-tuc/{code}")
    assert status == 200 and "Giấy tờ cần mang" in html
    status, html, _ = web.get(f"/thu-tuc/{code}?lang=en")
    assert "Documents to bring" in html
    assert web.get("/thu-tuc/9.999999")[0] == 404


def urlquote(text: str) -> str:
    from urllib.parse import quote
    return quote(text, safe="")


@pytest.mark.usefixtures("sample_data")
def test_a_dossier_with_the_kiosks_verification(site, web):
    record = json.loads((ROOT / "examples" / "dossiers.json").read_text(encoding="utf-8"))[0]
    code = record["code"]
    status, html, _ = web.get("/ho-so", data=f"code={code}&lookup=ABCDEF".encode())
    assert status == 200 and "Mã hồ sơ và mã tra cứu không khớp" in html
    assert record["applicant_name"] not in html
    lookup = dossiers.lookup_code(code, site.dossiers)
    status, html, _ = web.get("/ho-so", data=f"code={code}&lookup={lookup}".encode())
    assert code.upper() in html and dossiers.mask_name(record["applicant_name"]) in html
    assert record["applicant_name"] not in html, "no name on any page"
    status, html, _ = web.get("/ho-so?lang=en", data=f"code={code}&lookup=ABCDEF".encode())
    assert "do not match" in html or "does not match" in html or "check" in html.lower()


def test_dossier_lookups_are_limited_per_address(site, web, centre):
    for i in range(10):
        web.get("/ho-so", data=b"code=000.00.31.H12-261102-0004&lookup=ABCDE" + str(i).encode())
    status, html, _ = web.get("/ho-so", data=b"code=000.00.31.H12-261102-0004&lookup=ZZZZZZ")
    assert "quá nhiều lần" in html


def test_the_web_command_serves_the_site(site, broker, centre, workdir, connect):
    port = free_port()
    proc = run_web_process(site.path, web_device(site), port, workdir / "web.log")
    try:
        kiosk = connect("kiosk-1")
        t = kiosk.request("ticket.issue", service="CT")
        import urllib.request
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{ticket_path(site, t['day'], t['ticket'])}",
                                            timeout=5) as r:
                    html = r.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert f'id="number">{t["ticket"]}<' in html and "Chứng thực" in html
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_web_reconnects_when_the_phones_hold_the_low_descriptors(site, broker, web, desk):
    """Thousands of phones take the file descriptors below 1024; after a broker
    restart the web's new MQTT socket gets a higher one, which select() refuses:
    paho must still reconnect (motcua/web/pollselect.py), and calls reach phones."""
    import os
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 1200:
        pytest.skip(f"the open-files hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    kiosk, counter = desk
    held: list[int] = []
    try:
        broker.stop()
        deadline = time.monotonic() + 10
        while web.health()["centres"][site.id]["broker"] and time.monotonic() < deadline:
            time.sleep(0.05)
        while not held or held[-1] < 1030:          # every free descriptor below 1030
            held.append(os.open(os.devnull, os.O_RDONLY))
        broker.start()
        web.wait_ready(site.id, timeout=15)
        mine = kiosk.request("ticket.issue", service="HT", timeout=10)
        stream = SSEReader(web.port, ticket_path(site, mine["day"], mine["ticket"]) + "/events")
        try:
            stream.wait_for(lambda d: d["state"] == "waiting")
            counter.request("counter.next", counter=1)
            stream.wait_for(lambda d: d["called"], timeout=3)
        finally:
            stream.close()
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_text_when_the_turn_is_near_through_the_gateway(site, broker, centre, desk):
    """The ticket page offers a text message: the phone is proved with a one-time
    code sent through the webhook (a local fake gateway), then gets one message
    when three people are left ahead, and is forgotten."""
    from motcua.web import site_app
    from motcua.web.links import token_reader
    from motcua.web.notify import WebhookNotifier
    from support.fake_gateway import FakeGateway
    from support.web import WebServer
    gateway = FakeGateway().start()
    server = WebServer(site_app(site, web_device(site), token_reader({site.id: web_secret(site)}),
                                notifier=WebhookNotifier(gateway.url, gateway.token, timeout_s=2))).start()
    try:
        server.wait_ready(site.id)
        kiosk, counter = desk
        tickets = [kiosk.request("ticket.issue", service="HT") for _ in range(6)]
        mine = tickets[-1]
        path = ticket_path(site, mine["day"], mine["ticket"])
        status, html, _ = server.get(path)
        assert 'id="remind"' in html and f'action="{path}/nhac"' in html
        status, html, _ = server.get(path + "/nhac", data=b"step=phone&phone=12345")
        assert "Số điện thoại không đúng" in html and not gateway.requests
        status, html, _ = server.get(path + "/nhac", data=b"step=phone&phone=0912+345+678")
        assert status == 200 and "Đã gửi mã xác nhận đến 8491****678" in html
        [otp] = gateway.delivered
        assert otp["template"] == "otp" and otp["phone"] == "84912345678" and otp["text"].isascii()
        code = otp["params"]["code"]
        wrong = "000000" if code != "000000" else "111111"
        status, html, _ = server.get(path + "/nhac", data=f"step=code&phone=84912345678&code={wrong}".encode())
        assert "Mã xác nhận không đúng" in html
        status, html, _ = server.get(path + "/nhac", data=f"step=code&phone=84912345678&code={code}".encode())
        assert "Chúng tôi sẽ nhắn tin đến 8491****678 khi còn 3 người trước bạn" in html
        assert 'id="remind"' not in server.get(path)[1], "offered once"
        counter.request("counter.next", counter=1)          # 4 ahead
        time.sleep(0.6)
        assert len(gateway.delivered) == 1, "not yet: four people ahead"
        counter.request("counter.no_show", counter=1)
        counter.request("counter.next", counter=1)           # 3 ahead
        deadline = time.monotonic() + 3
        while len(gateway.delivered) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        near = gateway.delivered[1]
        assert near["template"] == "turn_near" and near["phone"] == "84912345678"
        assert near["params"]["ticket"] == mine["ticket"] and near["params"]["ahead"] == 3
        assert near["text"].isascii() and "Ho tich" in near["text"]
        counter.request("counter.start", counter=1)
        counter.request("counter.next", counter=1)
        time.sleep(0.6)
        assert len(gateway.delivered) == 2, "one message only"
        # a burst for one phone is refused whole, with a clear message
        other = ticket_path(site, tickets[0]["day"], tickets[-2]["ticket"])
        answers = [server.get(other + "/nhac", data=b"step=phone&phone=0987654321")[1] for _ in range(4)]
        assert all("Đã gửi mã" in a for a in answers[:3]) and "đã yêu cầu quá nhiều mã" in answers[3]
        assert len(gateway.delivered) == 5
    finally:
        server.stop()
        gateway.stop()

"""The gateway given in the site file (docs/web.md, "Telling a phone"): `[web]
notifier_url` and `notifier_token_file`, read the way `motcua web` reads them
(motcua.web.site_notifier), against a real broker and centre and the local fake
gateway: the ticket page offers the text message, and the code reaches the
gateway with the token from the file."""
from __future__ import annotations

import os

from motcua.config import load_site
from motcua.service import CentreService
from motcua.web import NOTIFIER_TOKEN_ENV, NOTIFIER_URL_ENV, site_app, site_notifier
from motcua.web.links import site_token_reader
from support.broker import Broker, free_port, write_site
from support.fake_gateway import FakeGateway
from support.web import WebServer, ticket_path, web_device


def test_the_page_offers_a_text_message_through_the_gateway_of_the_site_file(workdir, monkeypatch):
    monkeypatch.delenv(NOTIFIER_URL_ENV, raising=False)
    monkeypatch.delenv(NOTIFIER_TOKEN_ENV, raising=False)
    gateway = FakeGateway(token="token-kept-in-its-own-file").start()
    token = workdir / "notifier.token"
    token.write_text("token-kept-in-its-own-file\n", encoding="utf-8")
    os.chmod(token, 0o600)
    site = load_site(write_site(workdir, free_port(), replace={
        'secret = "demo-change-this-web-secret"': f'secret = "demo-change-this-web-secret"\n'
                                                  f'notifier_url = "{gateway.url}"\n'
                                                  'notifier_token_file = "notifier.token"'}))
    assert "token-kept-in-its-own-file" not in site.path.read_text(encoding="utf-8")
    broker = Broker(site, workdir / "broker").start()
    centre = CentreService(site).start()
    server = None
    try:
        assert centre.connected.wait(10)
        server = WebServer(site_app(site, web_device(site), site_token_reader(site),
                                    notifier=site_notifier(site))).start()
        server.wait_ready(site.id)
        from motcua.mqtt import DeviceClient
        kiosk = DeviceClient(site, "kiosk-1").start()
        try:
            assert kiosk.wait_connected(10)
            mine = kiosk.request("ticket.issue", service="HT")
        finally:
            kiosk.stop()
        path = ticket_path(site, mine["day"], mine["ticket"])
        status, html, _ = server.get(path)
        assert status == 200 and 'id="remind"' in html and "Nhắn tin cho tôi khi sắp đến lượt" in html
        status, html, _ = server.get(path + "/nhac", data=b"step=phone&phone=0912+345+678")
        assert "Đã gửi mã xác nhận đến" in html
        assert gateway.delivered and gateway.delivered[-1]["template"] == "otp"
        assert gateway.requests[-1]["headers"]["Authorization"] == "Bearer token-kept-in-its-own-file"
    finally:
        if server:
            server.stop()
        centre.stop()
        broker.stop()
        gateway.stop()

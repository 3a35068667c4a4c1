"""The notifier's adapters (motcua/web/notify.py) against a local fake gateway."""
from __future__ import annotations

import logging

import pytest

from motcua.web.notify import LogNotifier, Message, WebhookNotifier
from support.fake_gateway import FakeGateway


@pytest.fixture
def gateway():
    g = FakeGateway().start()
    yield g
    g.stop()


def otp(phone="84912345678"):
    return Message(phone, "otp", {"code": "482913", "minutes": 5, "centre": "HCC Demo"})


def test_the_webhook_posts_json_with_the_bearer_token(gateway):
    n = WebhookNotifier(gateway.url, gateway.token, timeout_s=2, retries=0)
    m = otp()
    assert n.send(m)
    [req] = gateway.requests
    assert req["headers"]["Authorization"] == f"Bearer {gateway.token}"
    assert req["headers"]["Content-Type"].startswith("application/json")
    assert req["body"] == {"v": 1, "id": m.id, "phone": "84912345678", "template": "otp",
                           "params": {"code": "482913", "minutes": 5, "centre": "HCC Demo"},
                           "text": "Ma xac nhan cua ban la 482913. Ma co hieu luc 5 phut. HCC Demo"}


def test_server_errors_are_tried_again_with_the_same_id(gateway):
    gateway.answers = [503, 500]
    n = WebhookNotifier(gateway.url, gateway.token, timeout_s=2, retries=2, backoff_s=0.01)
    assert n.send(otp())
    assert [r["status"] for r in gateway.requests] == [503, 500, 200]
    assert len({r["body"]["id"] for r in gateway.requests}) == 1, "one id: the gateway drops repeats"


def test_a_refusal_is_final_and_logged_not_raised(gateway, caplog):
    gateway.answers = [400]
    n = WebhookNotifier(gateway.url, gateway.token, timeout_s=2, retries=3, backoff_s=0.01)
    with caplog.at_level(logging.WARNING, logger="motcua.web.notify"):
        assert n.send(otp()) is False
    assert len(gateway.requests) == 1
    assert "answered 400" in caplog.text and "84912345678" not in caplog.text, "the phone is masked in logs"


def test_a_wrong_token_is_refused(gateway):
    assert WebhookNotifier(gateway.url, "not-the-token", timeout_s=2, retries=0).send(otp()) is False
    assert gateway.requests[0]["status"] == 401


def test_a_slow_or_absent_gateway_gives_up_in_time(gateway):
    gateway.delay_s = 1.0
    n = WebhookNotifier(gateway.url, gateway.token, timeout_s=0.2, retries=1, backoff_s=0.01)
    assert n.send(otp()) is False
    gone = WebhookNotifier("http://127.0.0.1:9/send", "t", timeout_s=0.5, retries=1, backoff_s=0.01)
    assert gone.send(otp()) is False


def test_a_bad_url_is_refused_at_once():
    with pytest.raises(ValueError, match="must start with https://"):
        WebhookNotifier("ftp://gateway", "t")


def test_the_log_notifier_keeps_the_phone_out_of_the_log(caplog):
    n = LogNotifier()
    with caplog.at_level(logging.INFO, logger="motcua.web.notify"):
        assert n.send(otp())
    assert n.sent and "8491****678" in caplog.text and "84912345678" not in caplog.text

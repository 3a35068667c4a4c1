"""Limits per phone, address and service (motcua/web/limits.py) and one-time codes."""
from __future__ import annotations

from motcua.web.limits import Limiter, Rule
from motcua.web.notify import OneTimeCodes, mask_phone, normalize_phone


def test_a_burst_is_refused_whole_and_says_when_to_try_again():
    lim = Limiter((Rule("phone", 3, 600), Rule("address", 5, 600), Rule("service", 100, 86400)))
    for i in range(3):
        assert lim.check(i, phone="84912345678", address="10.0.0.1", service="HT")[0]
    ok, retry, what = lim.check(10, phone="84912345678", address="10.0.0.1", service="HT")
    assert not ok and what == "phone" and 589 < retry <= 600
    # the refused try used nothing up: another phone from the same address still may (4th and 5th)
    assert lim.check(11, phone="84900000001", address="10.0.0.1", service="HT")[0]
    assert lim.check(12, phone="84900000002", address="10.0.0.1", service="HT")[0]
    ok, _, what = lim.check(13, phone="84900000003", address="10.0.0.1", service="HT")
    assert not ok and what == "address"
    # the window slides
    assert lim.check(601, phone="84912345678", address="10.0.0.9", service="HT")[0]


def test_two_rules_of_one_kind_count_apart():
    lim = Limiter((Rule("address", 2, 60), Rule("address", 3, 3600)))
    assert lim.check(0, address="a")[0] and lim.check(1, address="a")[0]
    assert not lim.check(2, address="a")[0]
    assert lim.check(61, address="a")[0]
    ok, retry, _ = lim.check(122, address="a")
    assert not ok and retry > 3000, "the hourly rule holds after the minute's"


def test_phones():
    assert normalize_phone("0912 345 678") == "84912345678"
    assert normalize_phone("+84 912.345.678") == "84912345678"
    assert normalize_phone("84-387-654-321") == "84387654321"
    for bad in ("", "12345", "0212345678", "091234567", "09123456789", "abc"):
        assert normalize_phone(bad) is None, bad
    assert mask_phone("84912345678") == "8491****678"


def test_one_time_codes():
    codes = OneTimeCodes(ttl_s=300, tries=3)
    code = codes.issue("84912345678:near", now=0)
    assert len(code) == 6 and code.isdigit()
    assert code not in repr(codes._codes), "only an HMAC of the code is kept"
    wrong = "000000" if code != "000000" else "111111"
    assert codes.check("84912345678:near", wrong, now=1) == "wrong"
    assert codes.check("84912345678:near", code, now=2) == "ok"
    assert codes.check("84912345678:near", code, now=3) == "none", "used up"
    code = codes.issue("p", now=0)
    assert codes.check("p", code, now=301) == "expired"
    code = codes.issue("q", now=0)
    for _ in range(3):
        codes.check("q", wrong if wrong != code else "222222", now=1)
    assert codes.check("q", code, now=2) == "expired", "no more tries"


def test_paho_waits_with_poll_past_descriptor_1023():
    """`motcua web` holds thousands of phones' sockets: paho's select() must take
    a descriptor above 1023 (motcua/web/pollselect.py)."""
    import os
    import resource
    import select
    import socket

    from motcua.web.pollselect import install, poll_select
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 1100:
        import pytest
        pytest.skip(f"the open-files hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    a, b = socket.socketpair()
    high = [os.dup(a.fileno())]
    try:
        while high[-1] < 1030:
            high.append(os.dup(a.fileno()))
        r, w = socket.socket(fileno=os.dup(a.fileno())), b
        assert r.fileno() > 1023
        try:
            select.select([r], [], [], 0)
            raise AssertionError("select() took a descriptor above 1023 here")
        except ValueError:
            pass
        assert poll_select([r], [r], [], 0) == ([], [r], [])
        w.sendall(b"x")
        assert poll_select([r], [], [], 1.0) == ([r], [], [])
        install()
        import paho.mqtt.client as paho_client
        assert paho_client.select.select is poll_select and paho_client.select.error is select.error
        r.close()
    finally:
        for fd in high:
            os.close(fd)
        a.close()
        b.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

"""Signed links of the citizen's phone (motcua.web_tokens, issue 14): a token names
the centre, the kind, the day and the ticket or booking, and a guessed or altered
one is refused."""
from __future__ import annotations

import base64

import pytest

from motcua import web_tokens as wt

SECRET = "a-secret-of-our-own-2026"
DAY = "2026-11-23"


def test_a_ticket_token_reads_back_and_verifies():
    token = wt.make_token(SECRET, "hcc-demo", "t", DAY, "1005")
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert len(token) < 70  # a small QR
    t = wt.verify_token(SECRET, token, site="hcc-demo", kind="t")
    assert (t.site, t.kind, t.day, t.ref) == ("hcc-demo", "t", DAY, "1005")
    assert wt.read_token(token) == t


def test_a_booking_token_carries_its_id():
    token = wt.make_token(SECRET, "hcc-demo", "b", "2026-11-24", 42)
    t = wt.verify_token(SECRET, token, kind="b")
    assert t.booking == 42 and t.day == "2026-11-24"


@pytest.mark.parametrize("change", ["other secret", "other label", "other day", "flipped mac", "other site"])
def test_an_altered_or_guessed_token_is_refused(change):
    token = wt.make_token(SECRET, "hcc-demo", "t", DAY, "1005")
    body, mac = token.split(".")
    if change == "other secret":
        forged = wt.make_token("another-secret-entirely", "hcc-demo", "t", DAY, "1005")
    elif change == "other label":  # the next number, with the signature of this one
        forged = base64.urlsafe_b64encode(f"hcc-demo:t:{DAY}:1006".encode()).rstrip(b"=").decode() + "." + mac
    elif change == "other day":
        forged = base64.urlsafe_b64encode(b"hcc-demo:t:2026-11-24:1005").rstrip(b"=").decode() + "." + mac
    elif change == "flipped mac":
        forged = body + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    else:
        forged = base64.urlsafe_b64encode(f"hcc-other:t:{DAY}:1005".encode()).rstrip(b"=").decode() + "." + mac
    with pytest.raises(wt.TokenError) as exc:
        wt.verify_token(SECRET, forged)
    assert exc.value.code == "bad_token"


def test_a_token_of_another_centre_or_kind_is_refused_with_its_reason():
    token = wt.make_token(SECRET, "hcc-other", "t", DAY, "1005")
    with pytest.raises(wt.TokenError) as exc:
        wt.verify_token(SECRET, token, site="hcc-demo")
    assert exc.value.code == "not_ours"
    booking = wt.make_token(SECRET, "hcc-demo", "b", DAY, 7)
    with pytest.raises(wt.TokenError, match="booking, not a ticket"):
        wt.verify_token(SECRET, booking, kind="t")


@pytest.mark.parametrize("text", ["", "hello", "a.b", "x" * 300, "....", "aGNjLWRlbW86dDox.AAAA",
                                  "MOTCUA-T:hcc-demo:2026-11-23:1001"])
def test_what_is_not_a_token_is_refused_not_crashed_on(text):
    with pytest.raises(wt.TokenError):
        wt.read_token(text)
    assert wt.token_of_link(text) is None


def test_links_and_what_a_scanner_reads_of_them():
    link = wt.ticket_link("https://hcc-demo.example.gov.vn/", SECRET, "hcc-demo", DAY, "1005")
    assert link.startswith("https://hcc-demo.example.gov.vn/t/")
    kind, token = wt.token_of_link(link + "\r\n")
    assert kind == "t" and wt.verify_token(SECRET, token).ref == "1005"
    assert wt.token_of_link(link + "?lang=en") == ("t", token)
    assert wt.token_of_link(token) == ("t", token)                      # a bare token
    b = wt.booking_link("https://x.example/dv", SECRET, "hcc-demo", DAY, 9)
    assert b.startswith("https://x.example/dv/b/") and wt.token_of_link(b)[0] == "b"
    # the path says one kind, the token another: not ours
    assert wt.token_of_link(link.replace("/t/", "/b/")) is None


def test_no_secret_makes_no_token_and_verifies_nothing():
    with pytest.raises(ValueError, match=r"\[web\] secret"):
        wt.make_token("", "hcc-demo", "t", DAY, "1005")
    token = wt.make_token(SECRET, "hcc-demo", "t", DAY, "1005")
    with pytest.raises(wt.TokenError):
        wt.verify_token("", token)

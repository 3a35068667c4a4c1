"""What the phone's pages say when the centre refuses a number from afar or a
booking (motcua/web/booking_pages.py, issue 14): the centre's Vietnamese words,
and in English words for a citizen, never the centre's log line."""
from __future__ import annotations

import pytest

from motcua.mqtt import RequestRefused
from motcua.web.booking_pages import REFUSED_EN, refusal, w


def refused(code: str, **details) -> RequestRefused:
    return RequestRefused(code, f"{code}: the log's words ([web] some_setting)", details)


@pytest.mark.parametrize("code", sorted(REFUSED_EN))
def test_every_refusal_has_plain_english(code):
    text = refusal(refused(code, limit=2, message_vi="Lời của Trung tâm."), "en")
    assert text[0].isupper() and text.endswith(".") and "[" not in text and "_" not in text and "%" not in text


def test_the_numbers_come_from_the_centre():
    assert refusal(refused("phone_limit", limit=2), "en") == (
        "Each phone number may take 2 numbers a day (numbers from afar and bookings together).")
    assert refusal(refused("bad_day", limit=6), "en") == "Bookings are taken from today up to 6 days ahead."
    # without its figure, or a refusal the page has no words for: the plain general one
    assert refusal(refused("bad_day"), "en") == w("refused", "en")
    assert refusal(refused("something_new"), "en") == w("refused", "en")


def test_in_vietnamese_the_centre_s_own_words():
    assert refusal(refused("slot_full", message_vi="Khung giờ này đã hết chỗ."), "vi") == "Khung giờ này đã hết chỗ."
    assert refusal(refused("slot_full"), "vi") == w("refused", "vi")

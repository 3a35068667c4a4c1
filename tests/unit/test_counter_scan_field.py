"""The counter terminal's "Hồ sơ" field at an idle counter (issue 14): it is shown
whenever the counter is open or paused, so an officer whose hall is empty can
check a citizen's booking or number from afar in by scanning the phone's QR; with
a ticket (or one just finished) it attaches dossiers as before. Pure: the view
model only (counter/model.py)."""
from __future__ import annotations

import pytest

from motcua.counter import model
from motcua.web_tokens import booking_link, ticket_link

SECRET = "0123456789abcdef-test"


def counter(state="open", ticket=None, finished=None) -> dict:
    return {"counter": 1, "state": state, "ticket": ticket, "finished_ticket": finished}


@pytest.mark.parametrize("view", [None, {}, counter("closed")])
def test_no_field_while_the_counter_is_closed(view):
    assert model.scan_field(view) == {"shown": False, "hint": "", "button": ""}


@pytest.mark.parametrize("state", ["open", "paused"])
def test_an_idle_counter_with_nobody_waiting_takes_a_phones_qr(state):
    view = counter(state)
    assert model.enabled_actions(view, waiting=0) <= {"pause", "close", "resume"}  # nothing to call
    field = model.scan_field(view)
    assert field == {"shown": True, "hint": model.CHECK_IN_HINT, "button": "Xác nhận"}
    assert "mã QR" in field["hint"] and "lịch hẹn" in field["hint"]
    # what the scanner types there is read as a check-in, for either kind of link
    link = booking_link("https://hcc.example.gov.vn", SECRET, "hcc-demo", "2026-11-23", 7)
    assert model.check_in_of(link + "\r\n") == ("check_in_booking", {"token": link.rsplit("/", 1)[1]})
    link = ticket_link("https://hcc.example.gov.vn", SECRET, "hcc-demo", "2026-11-23", "1004")
    assert model.check_in_of(link)[0] == "check_in_ticket"
    assert model.check_in_of("000.00.31.H12-261123-0001") is None  # a dossier code: not a check-in


def test_with_a_ticket_the_field_attaches_dossiers_as_before():
    called = counter(ticket={"ticket": "1001", "state": "called", "dossiers": []})
    assert model.scan_field(called) == {"shown": True, "hint": "Hồ sơ: quét mã QR hoặc gõ mã, Enter",
                                        "button": "Gắn hồ sơ"}
    finished = counter(finished={"ticket": "1001", "dossiers": ["000.00.31.H12-261123-0001"]})
    assert model.scan_field(finished) == {"shown": True, "hint": "Hồ sơ trả cho số 1001", "button": "Gắn hồ sơ"}


def test_a_dossier_typed_at_an_idle_counter_is_told_what_the_field_takes():
    assert model.dossier_target(counter()) is None
    assert "gọi số trước" in model.NO_TICKET_FOR_DOSSIER and "mã QR lịch hẹn" in model.NO_TICKET_FOR_DOSSIER

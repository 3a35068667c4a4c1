"""What the ticket page shows, from the centre's state and events (motcua/web/model.py)."""
from __future__ import annotations

import json

from motcua.web import model
from motcua.web.model import Followed, ticket_view

NAMES = {"HT": ("Hộ tịch", "Civil status"), "CT": ("Chứng thực", "Certification")}


def status(label="1005", ahead=4, state="waiting", service="HT", counter=None, id_=5):
    return {"id": id_, "ticket": label, "service": service, "state": state, "counter": counter,
            "people_ahead": ahead, "estimated_wait_s": 0}


def service(next_labels, waiting=None, estimate=None, open_counters=(1,)):
    waiting = len(next_labels) if waiting is None else waiting
    return {"service": "HT", "waiting": waiting, "estimated_wait_s": estimate if estimate is not None else waiting * 360,
            "open_counters": list(open_counters), "next_tickets": [{"ticket": t, "priority": None} for t in next_labels]}


def followed(**kw) -> Followed:
    return Followed.from_status("hcc-demo", "2026-11-23", status(**kw))


def test_people_ahead_is_exact_among_the_first_ten():
    f = followed(label="1005", ahead=4)
    s = service(["1002", "1003", "1004", "1005", "1006"])
    v = ticket_view(f, s, NAMES, "vi", today="2026-11-23")
    assert v["ahead"] == 3 and v["ahead_text"] == "3"
    # 5 waiting, 360 s each for one open counter: 3 ahead wait 3 × 360 s
    assert v["wait"] == "khoảng 18 phút"
    assert v["headline"] == "Đang chờ đến lượt" and not v["called"]


def test_further_back_the_status_less_the_calls_and_never_fewer_than_ten():
    f = followed(label="1030", ahead=25)
    s = service([str(1006 + i) for i in range(10)], waiting=30)
    assert f.people_ahead(s) == 25
    for i in range(5):
        assert not f.on_call({"seq": i + 1, "ticket": str(1001 + i), "service": "HT", "counter": 1, "recall": False})
    assert f.people_ahead(s) == 20
    f.on_call({"seq": 9, "ticket": "1001", "service": "HT", "counter": 1, "recall": True})   # a recall: no one left
    f.on_call({"seq": 10, "ticket": "2001", "service": "CT", "counter": 2, "recall": False})  # another service
    assert f.people_ahead(s) == 20
    f.calls_since = 24
    assert f.people_ahead(s) == 10, "not among the first ten: at least ten ahead"
    assert ticket_view(f, s, NAMES, "en")["ahead_text"] == "10"
    assert f.people_ahead(service(["1029", "1030"], waiting=2)) == 1


def test_never_more_ahead_than_the_others_waiting():
    f = followed(label="1005", ahead=6)
    assert f.people_ahead({"waiting": 3, "next_tickets": []}) == 2


def test_a_call_fills_the_page_and_a_recall_says_so():
    f = followed(label="1005")
    assert f.on_call({"seq": 7, "ticket": "1005", "service": "HT", "counter": 3, "recall": False})
    v = ticket_view(f, service([]), NAMES, "vi")
    assert v["called"] and v["panel"] == "Mời công dân có số 1005 đến quầy số 3" and v["seq"] == 7
    assert v["ahead"] is None
    assert f.on_call({"seq": 8, "ticket": "1005", "service": "HT", "counter": 3, "recall": True})
    v = ticket_view(f, None, NAMES, "en")
    assert v["recall"] and v["panel"] == "Called again: number 1005, please go to counter 3"


def test_events_move_the_ticket_through_its_states():
    f = followed(label="1005", id_=5)
    assert not f.on_ticket_event({"event": "called", "id": 6, "ticket": "1006", "state": "called", "counter": 1})
    # same label, another day's ticket (another id): not ours
    assert not f.on_ticket_event({"event": "called", "id": 99, "ticket": "1005", "state": "called", "counter": 1})
    assert f.on_ticket_event({"event": "called", "id": 5, "ticket": "1005", "service": "HT", "state": "called",
                              "counter": 2})
    assert f.on_ticket_event({"event": "started", "id": 5, "ticket": "1005", "service": "HT", "state": "serving",
                              "counter": 2})
    assert ticket_view(f, None, NAMES, "vi")["headline"] == "Đang được phục vụ tại quầy số 2"
    assert not f.on_ticket_event({"event": "dossier_attached", "id": 5, "ticket": "1005", "state": "serving",
                                  "counter": 2})
    assert f.on_ticket_event({"event": "done", "id": 5, "ticket": "1005", "service": "HT", "state": "done",
                              "counter": 2})
    v = ticket_view(f, None, NAMES, "vi")
    assert v["headline"] == "Đã phục vụ xong. Cảm ơn bạn!" and v["refresh_s"] == 0
    # a finished ticket is not called again by a call of the same label
    assert not f.on_call({"seq": 20, "ticket": "1005", "service": "HT", "counter": 1, "recall": False})


def test_no_show_and_transfer():
    f = followed(label="1005", id_=5)
    f.on_call({"seq": 1, "ticket": "1005", "service": "HT", "counter": 1, "recall": False})
    f.on_ticket_event({"event": "transferred", "id": 5, "ticket": "1005", "service": "CT", "state": "waiting",
                       "counter": 1})
    v = ticket_view(f, {"service": "CT", "waiting": 1, "estimated_wait_s": 300, "open_counters": [2],
                        "next_tickets": [{"ticket": "1005"}]}, NAMES, "vi")
    assert v["service"] == "Chứng thực" and v["state"] == "waiting" and v["ahead"] == 0
    assert v["note"] == "Đã chuyển sang lĩnh vực Chứng thực, giữ nguyên thứ tự." and not v["called"]
    g = followed(label="1006", id_=6)
    g.on_ticket_event({"event": "no_show", "id": 6, "ticket": "1006", "service": "HT", "state": "no_show", "counter": 1})
    assert "vắng mặt" in ticket_view(g, None, NAMES, "vi")["headline"]


def test_no_open_counter_an_old_day_and_the_centre_away():
    f = followed(label="1005", ahead=0)
    v = ticket_view(f, service(["1005"], open_counters=()), NAMES, "vi", today="2026-11-24", centre_online=False)
    assert "Chưa có quầy nào" in v["note"] and v["day_note"] == "Số này của ngày 23/11/2026."
    assert v["offline"] and v["headline"].startswith("Bạn là người tiếp theo")


def test_wait_text():
    assert model.wait_text(0, "vi") == "—"
    assert model.wait_text(20, "vi") == "khoảng 1 phút"
    assert model.wait_text(4000, "vi") == "khoảng 1 giờ 5 phút"
    assert model.wait_text(7200, "en") == "about 2 h"


def test_sse_format_is_one_json_line_per_event():
    raw = model.sse({"headline": "Mời công dân có số 1005\nđến quầy"}, event="ticket", event_id=3)
    text = raw.decode("utf-8")
    assert text.startswith("event: ticket\nid: 3\ndata: ") and text.endswith("\n\n")
    data_lines = [ln for ln in text.splitlines() if ln.startswith("data: ")]
    assert len(data_lines) == 1 and json.loads(data_lines[0][6:])["headline"].endswith("đến quầy")
    assert "Mời" in text, "UTF-8, not \\u escapes"
    assert model.SSE_KEEPALIVE.startswith(b":") and model.sse_hello() == b"retry: 3000\n\n"


def test_every_text_has_both_languages():
    for key, (vi, en) in model.TEXTS.items():
        assert vi and en and vi != en, key
        assert vi.count("%") == en.count("%"), key

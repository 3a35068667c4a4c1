"""The kiosk's texts and choices without Kivy or a broker (kiosk/model.py): a
ticket's place in the queue in both languages, the link banner, refusals,
scanned codes, the waiting figures, idling and the print jobs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from motcua import protocol
from motcua.config import load_site
from motcua.kiosk import i18n, model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site():
    return load_site(ROOT / "examples" / "site.toml")


def test_the_model_does_not_import_kivy():
    code = ("import sys; import motcua.kiosk.model; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kivy', 'paho')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_waiting_ticket_says_how_many_are_ahead_and_how_long():
    t = {"state": "waiting", "people_ahead": 3, "estimated_wait_s": 400}
    assert model.ticket_state_text(t, "vi") == ("Đang chờ: còn 3 người trước quý khách\n"
                                                "Thời gian chờ dự kiến: khoảng 7 phút")
    en = model.ticket_state_text(t, "en")
    assert "3" in en and "7" in en and en != model.ticket_state_text(t, "vi")
    assert model.ticket_state_text({"state": "waiting", "people_ahead": 3, "estimated_wait_s": 20}, "vi") \
        .endswith("khoảng 1 phút")  # never "0 minutes"
    assert model.ticket_state_text({"state": "waiting", "people_ahead": 0}, "vi") == \
        "Quý khách là người tiếp theo. Vui lòng chú ý màn hình."


def test_every_ticket_state_has_its_text():
    assert model.ticket_state_text({}, "vi") == ""
    assert model.ticket_state_text({"state": "called", "counter": 4}, "vi") == \
        "Đã được gọi: mời quý khách đến quầy số 4"
    assert model.ticket_state_text({"state": "serving", "counter": 4}, "vi") == "Đang được phục vụ tại quầy số 4"
    assert model.ticket_state_text({"state": "done"}, "vi") == "Đã phục vụ xong"
    assert "vắng mặt" in model.ticket_state_text({"state": "no_show"}, "vi")
    assert model.ticket_state_text({"state": "expired"}, "vi") == "Số này đã hết hiệu lực. Vui lòng lấy số mới."
    for state in ("called", "serving", "done", "no_show", "expired"):
        t = {"state": state, "counter": 4}
        assert model.ticket_state_text(t, "en") != model.ticket_state_text(t, "vi")


def test_the_banner_says_what_is_down_and_nothing_when_all_is_well():
    assert model.link_text(False, None).startswith("Mất kết nối")
    assert model.link_text(False, True).startswith("Mất kết nối")   # the broker first
    assert model.link_text(True, False).startswith("Hệ thống lấy số đang tạm dừng")
    assert model.link_text(True, None).startswith("Hệ thống lấy số đang tạm dừng")  # not yet known
    assert model.link_text(True, True) == ""
    assert i18n.tr(model.link_text(False, None), "en") != model.link_text(False, None)


def test_refusals_and_silence_have_their_own_words():
    assert model.lookup_error(None) == model.LOOKUP_UNAVAILABLE
    assert model.lookup_error("unverified").startswith("Mã hồ sơ và mã tra cứu không khớp")
    assert model.lookup_error("unknown_ticket") == "Không tìm thấy số thứ tự này."
    assert model.lookup_error("something_new") == model.LOOKUP_REFUSED
    assert model.issue_error(None).startswith("Không lấy được số: hệ thống không trả lời")
    assert model.issue_error("closed") == model.issue_error("unknown_service") == model.ISSUE_REFUSED


def test_a_scanned_code_is_a_ticket_of_ours_a_dossier_or_unreadable():
    qr = protocol.ticket_qr_text("hcc-demo", "2026-11-23", "1001")
    assert model.read_scan(f"  {qr}\n", "hcc-demo") == model.Scan("ticket", day="2026-11-23", label="1001")
    other = model.read_scan(protocol.ticket_qr_text("hcc-other", "2026-11-23", "1001"), "hcc-demo")
    assert other.kind == "error" and other.error == model.NOT_OURS
    assert model.read_scan("motcua-d:ABC", "hcc-demo") == model.Scan("dossier", qr="motcua-d:ABC")
    assert model.read_scan("https://example.org", "hcc-demo").error == model.UNREADABLE


def test_services_keep_the_site_order_with_live_figures(site):
    live = {"HT": {"waiting": 4, "estimated_wait_s": 600}}
    rows = model.service_rows(site.services, live.get)
    assert [r["code"] for r in rows] == [s.code for s in site.services]
    assert rows[0] == {"code": "HT", "name_vi": "Hộ tịch", "name_en": site.services[0].name_en,
                       "waiting": 4, "wait_s": 600}
    assert rows[1]["waiting"] is None and rows[1]["wait_s"] is None   # no state yet


def test_dates_priority_and_online_level(site):
    assert model.vn_date("2026-11-23") == "23/11/2026"
    assert model.vn_date("2026-11-23T10:00:00+07:00") == "23/11/2026"
    assert model.vn_date(None) == model.vn_date("") == "—"
    assert model.priority_label(site.priorities, {"priority": "cao_tuoi"}) == "Người cao tuổi"
    assert model.priority_label(site.priorities, {"priority": None}) is None
    assert model.online_level_text({"online_level": "toan_trinh"}) == "Dịch vụ công trực tuyến toàn trình"
    assert model.online_level_text({"online_level": ""}) == model.online_level_text(None) == ""


def test_an_idle_kiosk_goes_home():
    assert model.goes_home("services", 60, 60)
    assert not model.goes_home("services", 59.9, 60)
    assert not model.goes_home("home", 600, 60)


def test_print_jobs_say_what_to_tell_and_whom_to_alert():
    ticket = model.ticket_job({"ticket": "1001", "day": "2026-11-23"})
    assert ticket.about == {"ticket": "1001"} and ticket.key == "1001"
    assert ticket.printing == "Đang in phiếu…" and ticket.printed.startswith("Mời nhận phiếu")
    assert ticket.refused is None            # the printer's own words (out of paper, …)
    assert ticket.warns_paper_low
    checklist = model.checklist_job({"code": "1.001"})
    assert checklist.about == {"procedure": "1.001"}
    assert checklist.refused == checklist.broken == model.CHECKLIST_FAILED
    assert not checklist.warns_paper_low
    for job in (ticket, checklist):
        for text in (job.printing, job.printed, job.broken):
            assert i18n.tr(text, "en") != text, text

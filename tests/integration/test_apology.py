"""Late dossiers and apology letters (issue 6, part 3): `motcua dossiers overdue`,
`motcua dossiers apologise CODE --reason … --new-date DATE` and the letter
(mẫu 04, Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết)."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import unicodedata
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils

from motcua import apology_letter
from motcua.config import DossierSettings
from motcua.dossiers import (Apology, DossierError, DossierStore, create_tables, mask_name, overdue,
                             public_view)
from motcua.store import Store

from support.broker import ROOT

pypdf = pytest.importorskip("pypdf")

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SETTINGS = DossierSettings(agency_code="000.00.31.H12", secret="test-secret-for-apologies-0123",
                           place="Hà Nội")
AGENCY = "Trung tâm Phục vụ hành chính công phường Demo"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=VN)


def pdf_text(path) -> str:
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(str(path)).pages)
    assert unicodedata.is_normalized("NFC", text)
    return " ".join(text.split())


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- a realistic set, relative to `today` ---------------------------------------------------

def realistic(today: date) -> list[dict]:
    """Importable records: each case of the overdue rule, dates relative to today."""
    def rec(seq, name, due_in, status="processing", received_ago=12, apology=None, **over):
        received = today - timedelta(days=received_ago)
        r = {"code": f"000.00.31.H12-{received:%y%m%d}-{seq:04d}",
             "procedure_code": "2.000488", "procedure_name": "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
             "field": "Lý lịch tư pháp", "applicant_name": name,
             "received_at": f"{received.isoformat()}T08:30:00+07:00",
             "due_at": (today + timedelta(days=due_in)).isoformat(), "status": status}
        if status != "received":
            r["status_at"] = f"{(received + timedelta(days=1)).isoformat()}T10:00:00+07:00"
        if apology:
            r["apology"] = apology
        r.update(over)
        return r

    return [
        rec(1, "Nguyễn Thị Hồng Nhung", -5),                                # late 5 days
        rec(2, "Trần Văn Bình", -1, status="approved"),                      # late 1 day
        rec(3, "Lê Thị Thu Hà", 0),                                          # due today
        rec(4, "Phạm Quốc Đạt", 1, status="received"),                       # due tomorrow
        rec(5, "Hoàng Minh Tuấn", 3),                                        # due in 3 days: not yet
        rec(6, "Vũ Thị Lan", -4, apology={                                   # apologised already
            "reason": "Chờ xác minh", "new_due_at": (today + timedelta(days=4)).isoformat(),
            "issued_at": f"{(today - timedelta(days=5)).isoformat()}T15:00:00+07:00"}),
        rec(7, "Đỗ Quang Minh", -3, status="result_ready"),                  # clock stopped: result
        rec(8, "Phan Thanh Tùng", -6, status="returned"),                    # clock stopped: returned
        rec(9, "Ngô Đức Anh", -2, status="supplement_requested"),            # waits for the citizen
        rec(10, "Lý Thị Ngọc Ánh", -2, status="refused"),                    # closed
    ]


def import_records(store: DossierStore, records: list[dict], folder: Path) -> None:
    path = folder / "dossiers.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    report = store.import_file(path)
    assert report.ok, report.errors


@pytest.fixture
def store(tmp_path):
    db = sqlite_utils.Database(memory=True)
    create_tables(db)       # the dossier mirror's step of the centre's migrations
    s = DossierStore(db, SETTINGS)
    import_records(s, realistic(NOW.date()), tmp_path)
    return s


def code_of(seq: int, today: date = NOW.date(), received_ago: int = 12) -> str:
    return f"000.00.31.H12-{today - timedelta(days=received_ago):%y%m%d}-{seq:04d}"


# -- which dossiers need an apology -----------------------------------------------------------

def test_overdue_lists_late_and_due_by_tomorrow_most_late_first(store):
    found = store.overdue(NOW)
    assert [(o.dossier.code, o.days_left) for o in found] == [
        (code_of(1), -5), (code_of(2), -1), (code_of(3), 0), (code_of(4), 1)]
    assert [o.timeliness.code for o in found] == ["late", "late", "due_today", "in_time"]
    # the pure function agrees with the store's SQL shortcut
    everything = [store.get(c) for c in store.codes()]
    assert [o.dossier.code for o in overdue(everything, NOW)] == [o.dossier.code for o in found]


def test_overdue_window_is_a_parameter(store):
    assert [o.dossier.code for o in store.overdue(NOW, within_days=3)][-1] == code_of(5)
    assert code_of(4) not in [o.dossier.code for o in store.overdue(NOW, within_days=0)]


def test_overdue_follows_local_midnight(store):
    # 23:30 in Hà Nội is still today; 00:30 the next day, "due today" became late
    late_evening = datetime(2026, 11, 23, 23, 30, tzinfo=VN)
    after_midnight = late_evening + timedelta(hours=1)
    assert {o.dossier.code: o.days_left for o in store.overdue(late_evening)}[code_of(3)] == 0
    assert {o.dossier.code: o.days_left for o in store.overdue(after_midnight)}[code_of(3)] == -1


# -- recording an apology ------------------------------------------------------------------

def test_apologise_records_it_and_moves_the_due_date(store):
    code = code_of(1)
    d = store.apologise(code, "Chờ kết quả xác minh của Công an tỉnh", "30/11/2026", NOW)
    assert d.apology == Apology("Chờ kết quả xác minh của Công an tỉnh", date(2026, 11, 30), NOW)
    assert d.due_at == NOW.date() - timedelta(days=5)   # the receipt's date is kept
    assert d.effective_due == date(2026, 11, 30)
    assert store.get(code) == d
    view = public_view(store.get(code), NOW)
    assert view["effective_due_on"] == "2026-11-30" and not view["late"]
    assert view["timeliness"]["code"] == "in_time"
    assert view["apology"]["new_due_on"] == "2026-11-30"
    assert "30/11/2026" in view["apology"]["text_vi"] and "xin lỗi" in view["apology"]["text_vi"]
    assert code not in [o.dossier.code for o in store.overdue(NOW)]


def apologies(store) -> list[dict]:
    return list(store.db.query("SELECT * FROM dossier_apologies ORDER BY code"))


def test_a_second_apology_is_refused_clearly(store):
    code = code_of(1)
    store.apologise(code, "Chờ xác minh", "2026-11-30", NOW)
    before = apologies(store)
    with pytest.raises(DossierError) as exc:
        store.apologise(code, "Vẫn chờ xác minh", "2026-12-05", NOW + timedelta(days=6))
    assert exc.value.code == "apology_already_issued"
    message = exc.value.message
    assert "23/11/2026" in message and "30/11/2026" in message   # when, and the date it set
    assert "only once" in message
    with pytest.raises(DossierError):  # planning it is refused the same way
        store.plan_apology(code, "Vẫn chờ xác minh", "2026-12-05", NOW)
    assert apologies(store) == before


def test_an_apology_sent_by_the_one_stop_software_counts_too(store):
    code = code_of(6)  # imported with its apology
    with pytest.raises(DossierError) as exc:
        store.apologise(code, "Lần hai", "2026-12-30", NOW)
    assert exc.value.code == "apology_already_issued"


@pytest.mark.parametrize("reason, new_date, code, field, words", [
    ("Chờ xác minh", "2026-11-18", "invalid_field", "new_due_at", "not after the current due date"),
    ("Chờ xác minh", "18/11/2026", "invalid_field", "new_due_at", "18/11/2026"),
    ("Chờ xác minh", "2026-11-22", "invalid_field", "new_due_at", "already past"),
    ("Chờ xác minh", "30-11-2026", "invalid_field", "new_due_at", "not a date"),
    ("Chờ xác minh", "2026-02-30", "invalid_field", "new_due_at", "not a real date"),
    ("   ", "2026-11-30", "invalid_field", "reason", "missing"),
    (None, "2026-11-30", "invalid_field", "reason", "missing"),
    ("x" * 1001, "2026-11-30", "invalid_field", "reason", "longer than"),
])
def test_bad_apologies_are_refused_and_change_nothing(store, reason, new_date, code, field, words):
    with pytest.raises(DossierError) as exc:
        store.apologise(code_of(1), reason, new_date, NOW)
    assert (exc.value.code, exc.value.field) == (code, field)
    assert words in exc.value.message
    assert apologies(store) == [a for a in apologies(store) if a["code"] == code_of(6)]


def test_the_new_date_must_be_after_the_due_date_even_when_not_yet_late(store):
    # due tomorrow: tomorrow itself is no new date
    with pytest.raises(DossierError) as exc:
        store.apologise(code_of(4), "Chờ ý kiến", NOW.date() + timedelta(days=1), NOW)
    assert "not after the current due date" in exc.value.message
    d = store.apologise(code_of(4), "Chờ ý kiến", NOW.date() + timedelta(days=2), NOW)
    assert d.effective_due == NOW.date() + timedelta(days=2)


def test_unknown_and_closed_dossiers(store):
    with pytest.raises(DossierError) as exc:
        store.apologise("000.00.31.H12-261101-0999", "x", "2026-11-30", NOW)
    assert exc.value.code == "unknown_dossier"
    assert "motcua dossiers overdue" in exc.value.message and "motcua dossiers import" in exc.value.message
    with pytest.raises(DossierError) as exc:
        store.apologise("not-a-code", "x", "2026-11-30", NOW)
    assert exc.value.code == "malformed_code"
    with pytest.raises(DossierError) as exc:
        store.apologise(code_of(10), "x", "2026-11-30", NOW)
    assert exc.value.code == "dossier_closed"


def test_nothing_is_recorded_when_the_last_step_fails(store):
    def fail(_):
        raise OSError("disk full")
    with pytest.raises(OSError):
        store.apologise(code_of(1), "Chờ xác minh", "2026-11-30", NOW, before_commit=fail)
    assert store.get(code_of(1)).apology is None


def test_a_dossier_changed_since_the_letter_was_planned_is_not_recorded(store, tmp_path):
    planned = store.plan_apology(code_of(1), "Chờ xác minh", "2026-11-30", NOW)
    store.apply_update({"code": code_of(1), "status": "approved", "at": NOW.isoformat()})
    with pytest.raises(DossierError) as exc:
        store.apologise(code_of(1), "Chờ xác minh", "2026-11-30", NOW, expect=planned)
    assert exc.value.code == "dossier_changed"
    assert store.get(code_of(1)).apology is None


def test_nfd_reason_is_stored_nfc(store):
    reason = unicodedata.normalize("NFD", "Chờ   ý kiến của Sở Tư pháp")
    d = store.apologise(code_of(3), reason, "2026-11-30", NOW)
    assert d.apology.reason == "Chờ ý kiến của Sở Tư pháp"


# -- the letter -------------------------------------------------------------------------------

REASON = "Chờ kết quả xác minh lý lịch từ Công an tỉnh Hà Giang -- cần thêm **5 ngày**"


@pytest.fixture
def letter(store, tmp_path):
    d, out = apology_letter.issue_apology(store, code_of(1), REASON, "2026-11-30", AGENCY,
                                          tmp_path / "letters" / "letter.pdf", place="Hà Nội", now=NOW)
    return d, out


def test_letter_text_is_real_vietnamese(letter):
    d, out = letter
    text = pdf_text(out)
    received = d.received_at.astimezone(VN).date()
    for expected in (
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
            "Mẫu số 04", "Thông tư 03/2025/TT-VPCP",
            "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG PHƯỜNG DEMO",               # the agency, heading
            "Hà Nội, ngày 23 tháng 11 năm 2026",
            "VĂN BẢN XIN LỖI VÀ ĐỀ NGHỊ GIA HẠN THỜI GIAN GIẢI QUYẾT",
            f"Mã hồ sơ: {d.code}",
            "Kính gửi: Ông/Bà Nguyễn Thị Hồng Nhung",                       # the full name
            "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam (mã thủ tục 2.000488)",
            "Lĩnh vực: Lý lịch tư pháp",
            f"Ngày tiếp nhận: {received:%d/%m/%Y}",
            f"Ngày hẹn trả kết quả (theo Giấy tiếp nhận): {d.due_at:%d/%m/%Y}",
            "Tình trạng hồ sơ: Đang giải quyết",
            f"Lý do: {REASON}",                                              # markup printed as is
            "đã quá thời hạn giải quyết",
            f"{AGENCY} chân thành xin lỗi Ông/Bà",                           # the agency, body
            "gia hạn thời gian giải quyết hồ sơ đến ngày 30 tháng 11 năm 2026",
            "Ngày hẹn trả kết quả mới: 30/11/2026",                          # the new date
            "THỦ TRƯỞNG CƠ QUAN", "Nơi nhận:"):
        assert expected in text, expected
    assert len(pypdf.PdfReader(str(out)).pages) == 1


def test_letter_embeds_dejavu_not_core_fonts(letter):
    _, out = letter
    reader = pypdf.PdfReader(str(out))
    font_dict = reader.pages[0]["/Resources"]["/Font"]
    fonts = {str(font_dict[name].get_object()["/BaseFont"]) for name in font_dict}
    assert fonts and all("DejaVu" in f for f in fonts), fonts


def test_letter_for_a_dossier_not_yet_late(store, tmp_path):
    d, out = apology_letter.issue_apology(store, code_of(4), "Chờ ý kiến của Sở Tư pháp",
                                          "2026-11-27", AGENCY, tmp_path / "l.pdf", now=NOW)
    text = pdf_text(out)
    assert "không thể giải quyết xong đúng thời hạn" in text and "đã quá thời hạn" not in text
    assert "Ngày 23 tháng 11 năm 2026" in text  # no place given
    assert "Tình trạng hồ sơ: Đã tiếp nhận" in text


def test_reprint_gives_the_same_letter(letter, store, tmp_path):
    d, out = letter
    _, again = apology_letter.reprint_letter(store, d.code, AGENCY, tmp_path / "again.pdf",
                                             place="Hà Nội")
    assert pdf_text(again) == pdf_text(out)
    with pytest.raises(DossierError) as exc:
        apology_letter.reprint_letter(store, code_of(3), AGENCY, tmp_path / "none.pdf")
    assert "no apology recorded" in exc.value.message and not (tmp_path / "none.pdf").exists()


def test_letter_renders_to_png(letter, tmp_path):
    pytest.importorskip("pypdfium2")
    from PIL import Image
    from motcua.pdfdoc import page_png
    _, out = letter
    png = page_png(out, tmp_path / "letter.png", dpi=100)
    image = Image.open(png).convert("L")
    assert image.size == (827, 1170)  # A4 at 100 dpi
    # ink in the heading, the body and the signature block; the bottom margin blank
    def ink(top, bottom):
        return sum(1 for y in range(top, bottom, 3) for x in range(0, 827, 3)
                   if image.getpixel((x, y)) < 128)
    assert ink(40, 130) and ink(300, 700) and ink(850, 1000)
    assert ink(1120, 1170) == 0


# -- all or nothing ---------------------------------------------------------------------------

def test_a_second_apology_writes_no_file_and_keeps_the_first(letter, store, tmp_path):
    d, first = letter
    digest = sha(first)
    before = apologies(store)
    for out in (first, tmp_path / "second.pdf"):
        with pytest.raises(DossierError) as exc:
            apology_letter.issue_apology(store, d.code, "Lần hai", "2026-12-10", AGENCY, out, now=NOW)
        assert exc.value.code == "apology_already_issued"
    assert sha(first) == digest and not (tmp_path / "second.pdf").exists()
    assert apologies(store) == before
    assert sorted(p.name for p in first.parent.iterdir()) == ["letter.pdf"]  # no temporary left


def test_a_failed_render_records_nothing(store, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        Path(args[2]).write_bytes(b"%PDF-half")
        raise RuntimeError("font missing")
    monkeypatch.setattr(apology_letter, "render_apology_letter", broken)
    with pytest.raises(RuntimeError):
        apology_letter.issue_apology(store, code_of(1), "Chờ xác minh", "2026-11-30", AGENCY,
                                     tmp_path / "out" / "l.pdf", now=NOW)
    assert list((tmp_path / "out").iterdir()) == [] and store.get(code_of(1)).apology is None


def test_a_failed_commit_leaves_no_letter(store, tmp_path, monkeypatch):
    real = DossierStore.apologise

    def commit_fails(self, *args, before_commit=None, **kwargs):
        real(self, *args, before_commit=before_commit, **kwargs)
        raise OSError("disk I/O error")  # as if the commit had failed after the move
    monkeypatch.setattr(DossierStore, "apologise", commit_fails)
    with pytest.raises(OSError):
        apology_letter.issue_apology(store, code_of(2), "Chờ xác minh", "2026-11-30", AGENCY,
                                     tmp_path / "out" / "l.pdf", now=NOW)
    assert list((tmp_path / "out").iterdir()) == []


def test_an_existing_file_is_never_overwritten(store, tmp_path):
    out = tmp_path / "l.pdf"
    out.write_bytes(b"someone's file")
    with pytest.raises(FileExistsError):
        apology_letter.issue_apology(store, code_of(1), "Chờ xác minh", "2026-11-30", AGENCY, out,
                                     now=NOW)
    assert out.read_bytes() == b"someone's file" and store.get(code_of(1)).apology is None


# -- the command line, end to end ------------------------------------------------------------

def motcua(site, *args, cwd=ROOT, timeout=60):
    return subprocess.run([sys.executable, "-m", "motcua", "--site", str(site.path), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.fixture
def today_set(site, workdir):
    """The realistic set, relative to the real today (the CLI runs on the real clock)."""
    today = datetime.now(site.tz).date()
    records = realistic(today)
    store = Store(site.database)
    import_records(DossierStore(store.db, site.dossiers, site.timezone), records, workdir)
    store.close()
    return today, records


def test_cli_overdue_lists_codes_masked(site, today_set):
    today, records = today_set
    r = motcua(site, "dossiers", "overdue")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    listed = [line.split()[0] for line in lines[1:] if line.startswith("000.")]
    assert listed == [records[i]["code"] for i in (0, 1, 2, 3)]
    assert "quá 5 ngày" in lines[1] and "quá 1 ngày" in lines[2]
    assert "đến hạn hôm nay" in lines[3] and "hạn ngày mai" in lines[4]
    assert f"{today - timedelta(days=5):%d/%m/%Y}" in lines[1]
    assert "Đang giải quyết" in lines[1] and "Đã phê duyệt" in lines[2]
    assert mask_name(records[0]["applicant_name"]) in lines[1]
    for rec in records:
        assert rec["applicant_name"] not in r.stdout
    assert "4 dossiers need an apology (2 late)" in r.stdout


def test_cli_apologise_end_to_end(site, today_set, workdir):
    today, records = today_set
    code = records[0]["code"]
    new = today + timedelta(days=4)
    reason = "Chờ kết quả xác minh lý lịch từ Công an tỉnh"
    r = motcua(site, "dossiers", "apologise", code, "--reason", reason,
               "--new-date", f"{new:%d/%m/%Y}", cwd=workdir)
    assert r.returncode == 0, r.stderr
    out = workdir / f"van-ban-xin-loi-{code}.pdf"
    assert f"wrote van-ban-xin-loi-{code}.pdf" in r.stdout and out.exists()
    assert f"new date {new:%d/%m/%Y}" in r.stdout
    assert records[0]["applicant_name"] not in r.stdout + r.stderr
    text = pdf_text(out)
    for expected in ("VĂN BẢN XIN LỖI VÀ ĐỀ NGHỊ GIA HẠN THỜI GIAN GIẢI QUYẾT",
                     f"Ông/Bà {records[0]['applicant_name']}", code,
                     "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam", f"Lý do: {reason}",
                     f"Ngày hẹn trả kết quả mới: {new:%d/%m/%Y}", site.name,
                     site.name.upper(), f"Hà Nội, ngày {today.day:02d}"):
        assert expected in text, expected
    digest = sha(out)

    # the listing no longer shows it
    assert code not in motcua(site, "dossiers", "overdue").stdout

    # a second apology: refused clearly, non-zero, nothing written
    store = Store(site.database)
    before = list(store.db.query("SELECT * FROM dossier_apologies ORDER BY code"))
    store.close()
    r = motcua(site, "dossiers", "apologise", code, "--reason", "Lần hai",
               "--new-date", (new + timedelta(days=5)).isoformat(), cwd=workdir)
    assert r.returncode != 0
    assert "apology_already_issued" in r.stderr and "may be reset only once" in r.stderr
    assert f"{new:%d/%m/%Y}" in r.stderr and "Traceback" not in r.stderr
    r = motcua(site, "dossiers", "apologise", code, "--reason", "Lần hai",
               "--new-date", (new + timedelta(days=5)).isoformat(), "--out", str(workdir / "2.pdf"))
    assert r.returncode != 0 and not (workdir / "2.pdf").exists()
    assert sha(out) == digest
    store = Store(site.database)
    assert list(store.db.query("SELECT * FROM dossier_apologies ORDER BY code")) == before
    store.close()

    # the letter again, on demand
    r = motcua(site, "dossiers", "letter", code, "--out", str(workdir / "again.pdf"))
    assert r.returncode == 0, r.stderr
    assert pdf_text(workdir / "again.pdf") == text


def test_cli_refuses_a_new_date_not_after_the_due_date(site, today_set, workdir):
    today, records = today_set
    code = records[2]["code"]  # due today
    for bad in (today.isoformat(), f"{today - timedelta(days=1):%d/%m/%Y}"):
        r = motcua(site, "dossiers", "apologise", code, "--reason", "Chờ ý kiến", "--new-date", bad,
                   cwd=workdir)
        assert r.returncode != 0 and "not after the current due date" in r.stderr
    r = motcua(site, "dossiers", "apologise", code, "--reason", "Chờ ý kiến", cwd=workdir)
    assert r.returncode != 0 and "--new-date" in r.stderr
    r = motcua(site, "dossiers", "apologise", "000.00.31.H12-261101-0999", "--reason", "x",
               "--new-date", (today + timedelta(days=3)).isoformat(), cwd=workdir)
    assert r.returncode != 0 and "motcua dossiers import" in r.stderr
    assert not list(workdir.glob("*.pdf")) and not list(workdir.glob(".*.tmp"))


# -- the running centre serves the new date at once ----------------------------------------

def test_kiosk_sees_the_apology_through_the_running_centre(site, today_set, centre, connect, workdir):
    from motcua import dossiers
    today, records = today_set
    code = records[1]["code"]
    kiosk = connect("kiosk-1")
    qr = dossiers.qr_text(code, site.dossiers)
    before = kiosk.request("dossier.status", qr=qr)
    assert before["late"] and before["apology"] is None
    assert before["effective_due_on"] == before["due_on"]

    new = today + timedelta(days=3)
    r = motcua(site, "dossiers", "apologise", code, "--reason", "Chờ Lãnh đạo ký duyệt",
               "--new-date", new.isoformat(), cwd=workdir)
    assert r.returncode == 0, r.stderr

    after = kiosk.request("dossier.status", qr=qr)   # the very next request
    assert after["effective_due_on"] == new.isoformat() and after["due_on"] == before["due_on"]
    assert not after["late"] and after["timeliness"]["code"] == "in_time"
    assert after["apology"]["new_due_on"] == new.isoformat()
    assert after["apology"]["issued_on"] == today.isoformat()
    assert after["apology"]["reason"] == "Chờ Lãnh đạo ký duyệt"
    assert f"{new:%d/%m/%Y}" in after["apology"]["text_vi"]
    assert records[1]["applicant_name"] not in json.dumps(after, ensure_ascii=False)
    # and the one-stop software cannot set a second date through MQTT either
    from motcua.mqtt import RequestRefused
    with pytest.raises(RequestRefused) as exc:
        connect("motcua-connector").request(
            "dossier.update", code=code, status="processing",
            at=datetime.now(site.tz).isoformat(),
            apology={"reason": "Lần hai", "new_due_at": (new + timedelta(days=3)).isoformat()})
    assert exc.value.code == "apology_already_issued"

"""Dossiers: codes, proofs, names, lateness, the store and the receipt. Pure
Python and an in-memory SQLite: no broker, no Kivy."""
from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils
from hypothesis import given, settings as hsettings, strategies as st

from motcua.config import DossierSettings, load_site
from motcua.dossiers import (LOOKUP_ALPHABET, STATUSES, Apology, Dossier, DossierError,
                             DossierStore, Step, create_tables, dossier_from_record, lookup_code,
                             mask_name, parse_code, public_view, qr_text, timeliness,
                             verified_code, verify_lookup, verify_qr)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "dossiers.json"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
SETTINGS = DossierSettings(agency_code="000.00.31.H12", secret="test-secret-for-dossiers-0123")
CODE = "000.00.31.H12-261123-0001"
# 10:00 in Hà Nội on the day these tests take as today.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=VN)


def at(day: str, hm: str = "09:00") -> datetime:
    return datetime.fromisoformat(f"2026-{day}T{hm}:00+07:00")


def raises(code: str):
    """pytest.raises for a DossierError with this stable code."""
    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(DossierError)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            result = self.ctx.__exit__(*exc)
            assert self.info.value.code == code, f"{self.info.value.code}: {self.info.value}"
            return result
    return _Check()


def dossier_db() -> sqlite_utils.Database:
    """A database holding the dossier mirror's tables only, made by its step of
    the centre's migrations (motcua.migrations)."""
    db = sqlite_utils.Database(memory=True)
    create_tables(db)
    return db


@pytest.fixture
def db():
    return dossier_db()


@pytest.fixture
def store(db):
    return DossierStore(db, SETTINGS)


def record(code=CODE, **over) -> dict:
    """One importable dossier (JSON shape); received on the code's date at 08:15."""
    day = date(2000 + int(code[-11:-9]), int(code[-9:-7]), int(code[-7:-5]))
    r = {"code": code, "procedure_code": "1.001193", "procedure_name": "Đăng ký khai sinh",
         "field": "Hộ tịch", "applicant_name": "Nguyễn Văn An",
         "received_at": f"{day.isoformat()}T08:15:00+07:00", "due_at": day.isoformat(),
         "status": "received"}
    r.update(over)
    return r


def write_json(tmp_path, rows, name="dossiers.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


# -- codes ------------------------------------------------------------------------------

def test_code_parts():
    c = parse_code(CODE, SETTINGS)
    assert (c.code, c.agency, c.received_on, c.seq) == (CODE, "000.00.31.H12", date(2026, 11, 23), 1)


def test_code_tolerates_case_and_surrounding_space():
    assert parse_code("  000.00.31.h12-261123-0042\n", SETTINGS).code == "000.00.31.H12-261123-0042"


@pytest.mark.parametrize("bad", [
    "", "000.00.31.H12-261123-001", "000.00.31.H12-261123", "000.00.31.H12_261123_0001",
    "000.00.31.H12-261323-0001",        # month 13
    "000.00.31.H12-260230-0001",        # 30 February
    "000.00.31.H12-261123-0001x", "000.00.31.H12 -261123-0001", "261123-0001",
])
def test_malformed_codes_are_refused_with_a_hint(bad):
    with raises("malformed_code") as info:
        parse_code(bad, SETTINGS)
    assert "receipt" in info.value.message


def test_code_pattern_is_configurable():
    other = replace(SETTINGS, code_pattern=r"^(?P<agency>H\d{2})/(?P<date>\d{8})/(?P<seq>\d{5})$")
    c = parse_code("H38/20261123/00012", other)
    assert (c.agency, c.received_on, c.seq) == ("H38", date(2026, 11, 23), 12)
    with raises("malformed_code"):
        parse_code(CODE, other)
    assert verify_qr(qr_text("H38/20261123/00012", other), other) == "H38/20261123/00012"


# -- QR proof -------------------------------------------------------------------------

def test_qr_text_format_and_round_trip():
    text = qr_text(CODE, SETTINGS)
    assert re.fullmatch(r"MOTCUA-D:000\.00\.31\.H12-261123-0001:[A-Z2-7]{10}", text)
    assert verify_qr(text, SETTINGS) == CODE


def test_qr_tampered_code_is_refused():
    sig = qr_text(CODE, SETTINGS).rsplit(":", 1)[1]
    with raises("unverified"):
        verify_qr(f"MOTCUA-D:000.00.31.H12-261123-0002:{sig}", SETTINGS)


@pytest.mark.parametrize("mangle", [
    lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),   # one character changed
    lambda s: s[:-1],                                    # truncated
    lambda s: s + "A",                                   # too long
    lambda s: s.rsplit(":", 1)[0] + ":",                 # no signature
])
def test_qr_tampered_signature_is_refused(mangle):
    with raises("unverified"):
        verify_qr(mangle(qr_text(CODE, SETTINGS)), SETTINGS)


@hsettings(max_examples=200, deadline=None)
@given(day=st.dates(date(2026, 1, 1), date(2030, 12, 31)), seq=st.integers(1, 9999),
       other_seq=st.integers(1, 9999), flip=st.integers(0, 9))
def test_qr_signature_binds_the_whole_code(day, seq, other_seq, flip):
    code = f"000.00.31.H12-{day:%y%m%d}-{seq:04d}"
    text = qr_text(code, SETTINGS)
    assert verify_qr(text, SETTINGS) == code
    sig = text.rsplit(":", 1)[1]
    if other_seq != seq:
        with raises("unverified"):
            verify_qr(f"MOTCUA-D:000.00.31.H12-{day:%y%m%d}-{other_seq:04d}:{sig}", SETTINGS)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    changed = sig[:flip] + alphabet[(alphabet.index(sig[flip]) + 1) % 32] + sig[flip + 1:]
    with raises("unverified"):
        verify_qr(text.rsplit(":", 1)[0] + ":" + changed, SETTINGS)


def test_qr_from_another_secret_is_refused():
    other = replace(SETTINGS, secret="another-centre-secret-456789")
    with raises("unverified"):
        verify_qr(qr_text(CODE, other), SETTINGS)


@pytest.mark.parametrize("wrap", [
    lambda t: t + "\r\n", lambda t: t + "\n", lambda t: "\t " + t + " \r", lambda t: t.lower(),
    lambda t: "\n" + t.lower() + "\r\n",
])
def test_qr_tolerates_scanner_whitespace_and_case(wrap):
    assert verify_qr(wrap(qr_text(CODE, SETTINGS)), SETTINGS) == CODE


@pytest.mark.parametrize("bad, code", [
    ("https://dichvucong.gov.vn/", "malformed_qr"),
    ("A1001", "malformed_qr"),                              # a queue ticket, say
    ("MOTCUA-D:" + CODE, "malformed_qr"),                   # no signature part
])
def test_qr_that_is_not_a_receipt_is_refused(bad, code):
    with raises(code):
        verify_qr(bad, SETTINGS)


def test_qr_with_space_inside_is_refused():
    text = qr_text(CODE, SETTINGS)
    with pytest.raises(DossierError) as info:
        verify_qr(text.replace(":", ": ", 1), SETTINGS)
    assert info.value.code in ("malformed_qr", "malformed_code")
    with pytest.raises(DossierError):
        verify_qr(text[:20] + " " + text[20:], SETTINGS)


def test_no_secret_no_proofs():
    with raises("no_secret"):
        qr_text(CODE, DossierSettings())
    with raises("no_secret"):
        lookup_code(CODE, DossierSettings())


# -- lookup codes ---------------------------------------------------------------------

def test_lookup_code_is_deterministic_and_from_the_alphabet():
    code = lookup_code(CODE, SETTINGS)
    assert code == lookup_code(CODE.lower(), SETTINGS)
    assert len(code) == 6
    assert set(code) <= set(LOOKUP_ALPHABET)
    assert not set("0O1I") & set(LOOKUP_ALPHABET)
    assert len(LOOKUP_ALPHABET) == 32
    assert len(lookup_code(CODE, replace(SETTINGS, lookup_code_length=9))) == 9


def test_lookup_codes_differ_between_dossiers_and_secrets():
    codes = [f"000.00.31.H12-2611{d:02d}-{s:04d}" for d in range(1, 21) for s in range(1, 11)]
    lookups = {lookup_code(c, SETTINGS) for c in codes}
    assert len(lookups) == len(codes)
    other = replace(SETTINGS, secret="another-centre-secret-456789")
    assert lookup_code(CODE, other) != lookup_code(CODE, SETTINGS)
    # Over 200 codes every symbol should turn up: none is stuck or missing.
    assert set("".join(lookups)) == set(LOOKUP_ALPHABET)


def test_lookup_code_is_not_part_of_the_qr_signature():
    sig = qr_text(CODE, SETTINGS).rsplit(":", 1)[1]
    assert lookup_code(CODE, SETTINGS) not in sig


def test_verify_lookup():
    good = lookup_code(CODE, SETTINGS)
    assert verify_lookup(CODE, good, SETTINGS)
    assert verify_lookup(CODE, f" {good[:3].lower()} {good[3:]}\n", SETTINGS)
    assert verify_lookup(CODE, f"{good[:3]}-{good[3:]}", SETTINGS)
    wrong = ("2" if good[0] != "2" else "3") + good[1:]
    assert not verify_lookup(CODE, wrong, SETTINGS)
    assert not verify_lookup(CODE, good[:-1], SETTINGS)
    assert not verify_lookup(CODE, "", SETTINGS)
    assert not verify_lookup("000.00.31.H12-261123-0002", good, SETTINGS)


def test_verified_code_needs_a_proof():
    good = lookup_code(CODE, SETTINGS)
    assert verified_code(SETTINGS, code=CODE.lower(), lookup=good) == CODE
    assert verified_code(SETTINGS, scanned=qr_text(CODE, SETTINGS) + "\r\n") == CODE
    with raises("unverified"):
        verified_code(SETTINGS, code=CODE)
    with raises("unverified") as info:
        verified_code(SETTINGS, code=CODE, lookup="ZZZZZZ")
    assert "mã tra cứu" in info.value.message or "lookup code" in info.value.message
    with raises("malformed_code"):
        verified_code(SETTINGS, code="261123-0001", lookup=good)


# -- names ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, masked", [
    ("Nguyễn Văn An", "Nguyễn V** A**"),
    ("Trần Thị Bích Ngọc", "Trần T** B** N**"),
    ("  Lê   Văn  Hùng  ", "Lê V** H**"),
    ("Nguyễn\tThị\u00a0Mai", "Nguyễn T** M**"),
    ("An", "A**"),
    (unicodedata.normalize("NFD", "Nguyễn Văn Ánh"), "Nguyễn V** Á**"),
    ("Đặng Văn Đức", "Đặng V** Đ**"),
    ("đỗ đức anh", "Đỗ Đ** A**"),
    ("Ðinh Ɖức", "Đinh Đ**"),                 # look-alikes of Đ typed from other keyboards
    ("NGUYỄN VĂN ÁNH", "Nguyễn V** Á**"),
    ("Hồ Ưng", "Hồ Ư**"),
    ("Ông Văn Ơn", "Ông V** Ơ**"),
    ("", ""),
    ("   ", ""),
])
def test_mask_name(name, masked):
    got = mask_name(name)
    assert got == masked
    assert unicodedata.is_normalized("NFC", got)


# -- lateness -------------------------------------------------------------------------

def dossier(due: str, steps=(), apology: Apology | None = None, received="11-16") -> Dossier:
    all_steps = (Step("received", at(received, "08:00")),) + tuple(
        Step(s, at(d, "10:00")) for s, d in steps)
    return Dossier(code=f"000.00.31.H12-26{received.replace('-', '')}-0001", procedure_code="2.000488",
                   procedure_name="Cấp Phiếu lý lịch tư pháp", field="Lý lịch tư pháp",
                   applicant_name="Vũ Thị Lan", received_at=at(received, "08:00"),
                   due_at=date.fromisoformat(f"2026-{due}"), status=all_steps[-1].step,
                   steps=all_steps, apology=apology)


@pytest.mark.parametrize("name, d, now, code, late, days", [
    ("within the limit", dossier("11-25", [("processing", "11-17")]), NOW, "in_time", False, 0),
    ("due today", dossier("11-23", [("processing", "11-17")]), NOW, "due_today", False, 0),
    ("due today, late evening", dossier("11-23"), datetime(2026, 11, 23, 16, 30, tzinfo=timezone.utc),
     "due_today", False, 0),
    ("local midnight passed", dossier("11-23"), datetime(2026, 11, 23, 17, 30, tzinfo=timezone.utc),
     "late", True, 1),
    ("late by 3 days", dossier("11-20", [("processing", "11-17")]), NOW, "late", True, 3),
    ("approved but late", dossier("11-18", [("approved", "11-20")]), NOW, "late", True, 5),
    ("result ready early, collected late", dossier("11-20", [("result_ready", "11-19"),
                                                             ("returned", "11-25")]),
     NOW, "early", False, 0),
    ("returned on the due date", dossier("11-20", [("returned", "11-20")]), NOW, "on_time", False, 0),
    ("returned late", dossier("11-17", [("processing", "11-17"), ("returned", "11-19")]),
     datetime(2026, 12, 30, tzinfo=VN), "late", True, 2),
    ("refused after the due date", dossier("11-17", [("refused", "11-18")]), NOW, "late", True, 1),
    ("waiting for the citizen's documents", dossier("11-20", [("supplement_requested", "11-18")]),
     NOW, "early", False, 0),
    ("documents supplied, clock runs again", dossier("11-20", [("supplement_requested", "11-18"),
                                                               ("processing", "11-19")]),
     NOW, "late", True, 3),
    ("apology moves the due date", dossier("11-20", [("processing", "11-17")],
                                           Apology("Chờ xác minh", date(2026, 11, 26), at("11-19"))),
     NOW, "in_time", False, 0),
    ("late even after the new date", dossier("11-18", [("processing", "11-17")],
                                             Apology("Chờ xác minh", date(2026, 11, 20), at("11-17"))),
     NOW, "late", True, 3),
])
def test_timeliness(name, d, now, code, late, days):
    t = timeliness(d, now)
    assert (t.code, t.late, t.days_late) == (code, late, days), name


def test_timeliness_uses_the_apology_date():
    d = dossier("11-20", [("processing", "11-17")],
                Apology("Chờ xác minh", date(2026, 11, 26), at("11-19")))
    assert timeliness(d, NOW).due == date(2026, 11, 26)
    assert timeliness(d, datetime(2026, 11, 27, 9, tzinfo=VN)).days_late == 1
    assert timeliness(replace(d, apology=None), NOW).days_late == 3


# -- import ---------------------------------------------------------------------------

def test_example_file_imports_cleanly_with_a_mix_of_cases(store):
    site = load_site(ROOT / "examples" / "site.toml")
    s = DossierStore(dossier_db(), site.dossiers, site.timezone)
    report = s.import_file(EXAMPLES)
    assert report.errors == [] and report.updated == 0
    assert 15 <= report.imported <= 25
    views = [s.public_view(c, NOW) for c in s.codes()]
    assert all(c.startswith("000.00.31.H12-2611") for c in s.codes())
    statuses = {v["status"]["code"] for v in views}
    assert {"received", "processing", "returned", "refused", "supplement_requested"} <= statuses
    assert any(v["late"] and v["apology"] is None for v in views)
    assert any(v["late"] and v["apology"] is not None for v in views)
    assert any(not v["late"] and v["apology"] is not None for v in views)
    assert any(v["timeliness"]["code"] == "due_today" for v in views)
    assert any(v["status"]["code"] == "returned" and v["late"] for v in views)


def test_import_keeps_good_rows_and_reports_bad_ones(store, tmp_path):
    rows = [
        record(),                                                         # 1 good
        dict(record(), code="000.00.31.H12-261123-01"),                   # 2 malformed code
        record("000.00.31.H12-261123-0003", applicant_name=""),           # 3 missing name
        record("000.00.31.H12-261123-0004", due_at="31/02/2026"),         # 4 not a date
        record("000.00.31.H12-261123-0005", status="lost",
               status_at="2026-11-23T09:00:00+07:00"),                    # 5 unknown status
        record("000.00.31.H12-261123-0006", received_at="2026-11-22T08:00:00+07:00"),  # 6 date != code
        record("000.00.31.H12-261123-0007", status="approved", steps=[
            {"step": "received", "at": "2026-11-23T08:15:00+07:00"},
            {"step": "processing", "at": "2026-11-23T10:00:00+07:00"},
            {"step": "approved", "at": "2026-11-23T09:00:00+07:00"}]),    # 7 steps backwards
        record("000.00.31.H12-261123-0008", due_at="2026-11-20"),         # 8 due before received
        record("000.00.31.H12-261120-0009", due_at="2026-11-24", status="processing",
               status_at="2026-11-21T08:00:00+07:00"),                    # 9 good
        record(),                                                         # 10 duplicate of 1
    ]
    report = store.import_file(write_json(tmp_path, rows))
    assert (report.imported, report.updated) == (2, 0)
    got = {(e.row, e.field, e.code) for e in report.errors}
    assert got == {
        (2, "code", "malformed_code"), (3, "applicant_name", "invalid_field"),
        (4, "due_at", "invalid_field"), (5, "status", "unknown_status"),
        (6, "received_at", "invalid_field"), (7, "steps", "date_backwards"),
        (8, "due_at", "invalid_field"), (10, "code", "duplicate_row"),
    }
    assert all(str(e).startswith(f"row {e.row}") for e in report.errors)
    assert store.codes() == ["000.00.31.H12-261120-0009", CODE]
    assert store.get("000.00.31.H12-261120-0009").status == "processing"
    assert [s.step for s in store.get("000.00.31.H12-261120-0009").steps] == ["received", "processing"]


def test_import_csv_from_a_spreadsheet(store, tmp_path):
    # Semicolon-separated UTF-8 with a BOM and dd/mm/yyyy dates, as Vietnamese Excel writes it.
    csv_text = (
        "code;procedure_code;procedure_name;field;applicant_name;CCCD;received_at;due_at;status;"
        "status_at;note;documents;phone\n"
        "000.00.31.H12-261120-0003;2.000815;Chứng thực bản sao từ bản chính;Chứng thực;"
        "Hồ Văn Thắng;079088001234;20/11/2026 14:30;20/11/2026;processing;20/11/2026 14:40;"
        "Đối chiếu bản chính;Bản chính giấy tờ|Bản sao (03 bản);0912345678\n"
        "000.00.31.H12-261120-0004;2.000815;Chứng thực bản sao từ bản chính;Chứng thực;"
        "Mai Văn Nam;;20/11/2026 15:00;hôm nay;received;;;;\n"
    )
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text.encode("utf-8"))
    report = store.import_file(path)
    assert report.imported == 1
    assert [(e.row, e.field) for e in report.errors] == [(3, "due_at")]   # spreadsheet row 3
    assert report.ignored_fields == ["phone"]
    d = store.get("000.00.31.H12-261120-0003")
    assert d.applicant_name == "Hồ Văn Thắng"
    assert d.received_at == datetime(2026, 11, 20, 14, 30, tzinfo=VN)
    assert d.documents == ("Bản chính giấy tờ", "Bản sao (03 bản)")
    assert [(s.step, s.note) for s in d.steps] == [("received", ""), ("processing", "Đối chiếu bản chính")]
    assert "0912345678" not in json.dumps(list(store.db["dossiers"].rows), ensure_ascii=False)


def test_reimport_updates_the_dossier(store, tmp_path):
    assert store.import_file(write_json(tmp_path, [record()])).imported == 1
    again = record(status="result_ready", status_at="2026-11-23T11:00:00+07:00",
                   applicant_name="Nguyễn Văn Ân")
    report = store.import_file(write_json(tmp_path, [again], "second.json"))
    assert (report.imported, report.updated, report.errors) == (0, 1, [])
    d = store.get(CODE)
    assert d.status == "result_ready" and d.applicant_name == "Nguyễn Văn Ân"
    assert [s.step for s in d.steps] == ["received", "result_ready"]


def test_id_number_is_never_stored(db, store, tmp_path):
    rows = [record(applicant_id="001203004567", cccd="001203004567", CMND="123456789")]
    report = store.import_file(write_json(tmp_path, rows))
    assert report.imported == 1 and report.ignored_fields == []
    dump = "\n".join(line for line in db.conn.iterdump())
    assert "001203004567" not in dump and "123456789" not in dump
    assert "Nguyễn Văn An" in dump     # the dump would show it if it were there


def test_store_touches_only_its_own_tables(db, tmp_path):
    db["tickets"].insert({"id": 1, "label": "1001"}, pk="id")
    s = DossierStore(db, SETTINGS)
    s.import_file(write_json(tmp_path, [record()]))
    DossierStore(db, SETTINGS)   # a second start finds its tables and keeps the data
    assert set(db.table_names()) == {"tickets", "dossiers", "dossier_steps", "dossier_apologies"}
    assert list(db["tickets"].rows) == [{"id": 1, "label": "1001"}]
    assert s.get(CODE).applicant_name == "Nguyễn Văn An"


def test_unreadable_files_are_refused_clearly(store, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("[{\"code\": ", encoding="utf-8")
    with raises("invalid_file") as info:
        store.import_file(bad)
    assert "line 1" in info.value.message
    with raises("invalid_file"):
        store.import_file(tmp_path / "missing.json")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("code;applicant_name\nX;Tr\xe2n".encode("latin-1"))
    with raises("invalid_file") as info:
        store.import_file(latin)
    assert "UTF-8" in info.value.message


# -- updates --------------------------------------------------------------------------

@pytest.fixture
def received(store, tmp_path):
    store.import_file(write_json(tmp_path, [record(due_at="2026-11-25")]))
    return store


def update(**over) -> dict:
    p = {"code": CODE, "status": "processing", "at": "2026-11-23T10:00:00+07:00",
         "note": "Chuyển bộ phận chuyên môn"}
    p.update(over)
    return p


def test_update_appends_a_step(received):
    d = received.apply_update(update())
    assert d.status == "processing"
    stored = received.get(CODE)
    assert stored == d
    assert [(s.step, s.note) for s in stored.steps] == [("received", ""),
                                                        ("processing", "Chuyển bộ phận chuyên môn")]
    assert stored.steps[-1].at == datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)


def test_update_with_local_time_and_vietnamese_date_forms(received):
    received.apply_update(update(at="23/11/2026 10:30"))
    assert received.get(CODE).steps[-1].at == datetime(2026, 11, 23, 10, 30, tzinfo=VN)


@pytest.mark.parametrize("payload, code, field", [
    (update(code="000.00.31.H12-261123-0099"), "unknown_dossier", "code"),
    (update(code="nonsense"), "malformed_code", "code"),
    (update(status="finished"), "unknown_status", "status"),
    (update(status="received"), "invalid_payload", "status"),
    (update(at="2026-11-23T08:00:00+07:00"), "date_backwards", "at"),   # before reception 08:15
    (update(at="yesterday"), "invalid_field", "at"),
    (update(at=None), "invalid_field", "at"),
    (update(officer_cccd="001203004567"), "invalid_payload", "officer_cccd"),
    ({"status": "processing", "at": "2026-11-23T10:00:00+07:00"}, "invalid_payload", "code"),
    (update(due_at="2026-11-30", apology={"reason": "x", "new_due_at": "2026-12-01"}),
     "invalid_payload", "due_at"),
    (update(due_at="2026-11-01"), "invalid_field", "due_at"),
])
def test_update_refusals(received, payload, code, field):
    before = received.get(CODE)
    with raises(code) as info:
        received.apply_update(payload)
    assert info.value.field == field
    assert received.get(CODE) == before


def test_update_refuses_time_going_backwards(received):
    received.apply_update(update(at="2026-11-23T11:00:00+07:00"))
    with raises("date_backwards"):
        received.apply_update(update(status="approved", at="2026-11-23T10:59:00+07:00"))
    assert received.get(CODE).status == "processing"


def test_redelivered_update_changes_nothing(received):
    received.apply_update(update())
    received.apply_update(update())
    assert [s.step for s in received.get(CODE).steps] == ["received", "processing"]


def test_closed_dossier_takes_no_more_updates(received):
    received.apply_update(update(status="refused", note="Không đủ điều kiện"))
    with raises("dossier_closed"):
        received.apply_update(update(status="processing", at="2026-11-24T08:00:00+07:00"))
    # ...but the same refusal delivered twice is fine.
    received.apply_update(update(status="refused", note="Không đủ điều kiện"))


def test_update_may_reset_due_date_from_the_one_stop_software(received):
    d = received.apply_update(update(status="processing", due_at="2026-11-27"))
    assert d.due_at == date(2026, 11, 27)
    assert received.get(CODE).due_at == date(2026, 11, 27)


# -- apologies ------------------------------------------------------------------------

APOLOGY = {"reason": "Chờ kết quả xác minh từ cơ quan Công an", "new_due_at": "2026-12-02",
           "issued_at": "2026-11-24T09:00:00+07:00"}


def test_apology_sets_the_new_date_once(received):
    d = received.apply_update(update(at="2026-11-24T09:00:00+07:00", apology=APOLOGY))
    assert d.apology == Apology(APOLOGY["reason"], date(2026, 12, 2), at("11-24", "09:00"))
    assert d.effective_due == date(2026, 12, 2) and d.due_at == date(2026, 11, 25)
    second = dict(APOLOGY, new_due_at="2026-12-09", reason="Lại chờ xác minh")
    with raises("apology_already_issued") as info:
        received.apply_update(update(at="2026-11-30T09:00:00+07:00", apology=second))
    assert "only once" in info.value.message
    with raises("due_date_already_reset"):
        received.apply_update(update(at="2026-11-30T09:00:00+07:00", due_at="2026-12-09"))
    stored = received.get(CODE)
    assert stored.apology.new_due_at == date(2026, 12, 2)
    assert len(stored.steps) == 2


def test_apology_issued_at_defaults_to_the_update_time(received):
    a = {"reason": "Chờ ý kiến cơ quan phối hợp", "new_due_at": "27/11/2026"}
    d = received.apply_update(update(at="2026-11-24T15:00:00+07:00", apology=a))
    assert d.apology.issued_at == at("11-24", "15:00")


def test_apology_must_move_the_date_later(received):
    with raises("invalid_field"):
        received.apply_update(update(apology=dict(APOLOGY, new_due_at="2026-11-25")))
    with raises("invalid_field"):
        received.apply_update(update(apology={"reason": "", "new_due_at": "2026-12-02"}))
    assert received.get(CODE).apology is None


def test_second_apology_by_reimport_is_refused(store, tmp_path):
    first = record(due_at="2026-11-25", apology=APOLOGY)
    assert store.import_file(write_json(tmp_path, [first])).imported == 1
    # The same apology again (a full re-export) is fine; a different one is not.
    assert store.import_file(write_json(tmp_path, [first], "again.json")).updated == 1
    other = record(due_at="2026-11-25", apology=dict(APOLOGY, new_due_at="2026-12-10"))
    report = store.import_file(write_json(tmp_path, [other], "other.json"))
    assert [(e.code, e.field) for e in report.errors] == [("apology_already_issued", "apology")]
    # An export without apologies keeps the stored one.
    store.import_file(write_json(tmp_path, [record(due_at="2026-11-25")], "plain.json"))
    assert store.get(CODE).apology.new_due_at == date(2026, 12, 2)


def test_database_itself_holds_one_apology_per_dossier(db, received):
    received.apply_update(update(apology=APOLOGY))
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO dossier_apologies(code, reason, new_due_at, issued_at) "
                   "VALUES (?, 'x', '2026-12-30', '2026-11-25T00:00:00+00:00')", [CODE])


# -- the kiosk's view -----------------------------------------------------------------

def test_public_view_never_shows_the_full_name_or_an_id(store, tmp_path):
    rows = [record(applicant_id="001203004567", status="supplement_requested",
                   status_at="2026-11-23T09:00:00+07:00",
                   note="Ông NGUYỄN VĂN AN (CCCD 001 203 004 567, ĐT 0912.345.678) bổ sung "
                        "Giấy chứng sinh bản chính")]
    store.import_file(write_json(tmp_path, rows))
    view = store.public_view(CODE, NOW)
    text = json.dumps(view, ensure_ascii=False)
    assert view["applicant"] == "Nguyễn V** A**"
    for secret in ("Nguyễn Văn An", "NGUYỄN VĂN AN", "001203004567", "001 203 004 567",
                   "0912.345.678", "Văn", "applicant_name"):
        assert secret not in text, secret
    assert "bổ sung Giấy chứng sinh bản chính" in view["steps_done"][-1]["note"]


def test_public_view_shape(received):
    received.apply_update(update(at="2026-11-24T09:00:00+07:00", apology=APOLOGY))
    view = received.public_view(CODE, datetime(2026, 12, 3, 9, tzinfo=VN))
    json.dumps(view)   # it goes over MQTT as JSON
    assert set(view) == {"code", "applicant", "procedure", "received_at", "received_on", "due_on",
                         "effective_due_on", "status", "steps_done", "steps_to_come", "timeliness",
                         "late", "days_late", "apology", "as_of"}
    assert view["procedure"] == {"code": "1.001193", "name": "Đăng ký khai sinh", "field": "Hộ tịch"}
    assert (view["received_on"], view["due_on"], view["effective_due_on"]) == (
        "2026-11-23", "2026-11-25", "2026-12-02")
    assert view["received_at"] == "2026-11-23T08:15:00+07:00"
    assert view["status"] == {"code": "processing", "vi": "Đang giải quyết", "en": "Being processed"}
    assert [(s["step"], s["on"]) for s in view["steps_done"]] == [("received", "2026-11-23"),
                                                                 ("processing", "2026-11-24")]
    assert [s["step"] for s in view["steps_to_come"]] == ["approved", "result_ready", "returned"]
    assert (view["late"], view["days_late"], view["timeliness"]["code"]) == (True, 1, "late")
    assert view["timeliness"]["vi"] == "Quá hạn"
    assert view["apology"]["new_due_on"] == "2026-12-02"
    assert "02/12/2026" in view["apology"]["text_vi"] and "xin lỗi" in view["apology"]["text_vi"]
    assert view["as_of"] == "2026-12-03"


@pytest.mark.parametrize("steps, to_come", [
    ([], ["processing", "approved", "result_ready", "returned"]),
    (["processing"], ["approved", "result_ready", "returned"]),
    (["processing", "supplement_requested"], ["approved", "result_ready", "returned"]),
    (["processing", "approved", "result_ready"], ["returned"]),
    (["result_ready", "returned"], []),
    (["processing", "refused"], []),
    (["stopped"], []),
    (["withdrawn"], []),
])
def test_steps_to_come_follow_the_normal_path(steps, to_come):
    d = dossier("11-25", [(s, "11-17") for s in steps])
    view = public_view(d, NOW)
    assert [s["step"] for s in view["steps_to_come"]] == to_come
    assert [s["step"] for s in view["steps_done"]] == ["received"] + steps


def test_every_status_has_both_labels():
    assert set(STATUSES) == {"received", "processing", "approved", "result_ready", "returned",
                             "supplement_requested", "refused", "stopped", "withdrawn"}
    assert STATUSES["result_ready"] == ("Có kết quả, chờ trả", "Result ready for collection")
    assert all(vi and en and vi != en for vi, en in STATUSES.values())


def test_citizen_view_checks_the_proof_before_the_dossier(received):
    other = "000.00.31.H12-261123-0099"    # not in the store
    # A wrong proof is refused the same way whether the dossier exists or not.
    for code in (CODE, other):
        with raises("unverified"):
            received.citizen_view(NOW, code=code, lookup="ZZZZZZ")
    with raises("unknown_dossier"):
        received.citizen_view(NOW, code=other, lookup=lookup_code(other, SETTINGS))
    view = received.citizen_view(NOW, scanned=qr_text(CODE, SETTINGS).lower() + "\r\n")
    assert view["code"] == CODE
    assert received.citizen_view(NOW, code=CODE, lookup=lookup_code(CODE, SETTINGS)) == view


# -- the receipt ----------------------------------------------------------------------

@pytest.fixture
def receipt(tmp_path):
    pytest.importorskip("fpdf", reason="fpdf2 renders receipts")
    from motcua.receipt import render_receipt
    site = load_site(ROOT / "examples" / "site.toml")
    rows = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    row = next(r for r in rows if r["code"] == "000.00.31.H12-261102-0002")
    d, _ = dossier_from_record(row, site.dossiers)
    pdf = render_receipt(d, site.name, tmp_path / "receipt.pdf", site.dossiers,
                         officer="Trần Thị Bích Ngọc")
    return site, d, row, pdf


def test_receipt_text_is_real_vietnamese(receipt):
    pypdf = pytest.importorskip("pypdf")
    site, d, row, pdf = receipt
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(str(pdf)).pages)
    assert unicodedata.is_normalized("NFC", text)
    flat = " ".join(text.split())
    for expected in ("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", "Mẫu số 01",
                     "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                     "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG PHƯỜNG DEMO",
                     f"Mã hồ sơ: {d.code}", "Tiếp nhận hồ sơ của: Ông/Bà Lê Văn Hùng",
                     "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
                     "Đơn đề nghị cấp giấy phép xây dựng", "02 bộ bản vẽ thiết kế xây dựng",
                     "Thời gian nhận hồ sơ: 09 giờ 10 phút, ngày 02 tháng 11 năm 2026",
                     "Thời gian trả kết quả giải quyết hồ sơ: ngày 23 tháng 11 năm 2026",
                     "Mã tra cứu", lookup_code(d.code, site.dossiers),
                     "NGƯỜI NỘP HỒ SƠ", "NGƯỜI TIẾP NHẬN HỒ SƠ", "Trần Thị Bích Ngọc"):
        assert expected in flat, expected
    assert row["applicant_id"] not in flat


def test_receipt_qr_decodes_to_the_signed_text(receipt, tmp_path):
    pytest.importorskip("pypdfium2", reason="renders the PDF to an image")
    zxingcpp = pytest.importorskip("zxingcpp", reason="decodes the QR code")
    from PIL import Image
    from motcua.receipt import receipt_png
    site, d, _, pdf = receipt
    png = receipt_png(pdf, tmp_path / "receipt.png", dpi=150)
    found = [r.text for r in zxingcpp.read_barcodes(Image.open(png))]
    assert found == [qr_text(d.code, site.dossiers)]
    assert verify_qr(found[0], site.dossiers) == d.code


def test_receipt_dates_follow_administrative_style():
    pytest.importorskip("fpdf")
    from motcua.receipt import vn_date, vn_time
    assert vn_date(date(2027, 1, 5)) == "ngày 05 tháng 01 năm 2027"
    assert vn_date(date(2026, 11, 23)) == "ngày 23 tháng 11 năm 2026"
    assert vn_date(date(2026, 3, 9)) == "ngày 09 tháng 3 năm 2026"
    assert vn_time(datetime(2026, 11, 23, 8, 5)) == "08 giờ 05 phút, ngày 23 tháng 11 năm 2026"


def test_an_import_waits_for_another_writer_instead_of_failing(tmp_path):
    """An import beside a running centre: another connection holds the write lock
    and commits while the import would read then write. The import waits for the
    lock (BEGIN IMMEDIATE) instead of failing with "database is locked" on a
    stale read."""
    import threading
    path = tmp_path / "centre.db"
    setup = sqlite_utils.Database(path)
    setup.execute("PRAGMA journal_mode=WAL").fetchall()
    create_tables(setup)
    setup["other"].insert({"n": 0})
    setup.close()
    importer = sqlite_utils.Database(sqlite3.connect(str(path), check_same_thread=False))
    importer.execute("PRAGMA busy_timeout=5000")
    store = DossierStore(importer, SETTINGS)
    centre = sqlite3.connect(str(path), isolation_level=None)
    centre.execute("BEGIN IMMEDIATE")
    centre.execute("INSERT INTO other(n) VALUES (1)")
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(
        store.import_file(write_json(tmp_path, [record()]))))
    worker.start()
    worker.join(0.3)                 # the import is now waiting for the centre's lock
    centre.execute("COMMIT")
    worker.join(10)
    assert outcome and store.get(CODE).applicant_name == "Nguyễn Văn An"

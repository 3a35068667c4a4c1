"""A rating knows the dossier (issue 12, item 6), end to end: a real Mosquitto, the
real centre and its SQLite file, the counter terminal's requests (as the CLI and the
terminal make them), the rating pad's messages, then `motcua report` and `motcua
ratings export` reading the same file. Every expected figure is worked out by hand
in the test from what it did, never through the report's SQL."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from motcua import protocol
from motcua import report_output as out
from motcua.dossiers import DossierStore, qr_text
from motcua.mqtt import RequestRefused
from motcua.reports import Period, build_report
from motcua.store import Store

from support.officers import register, sign_in
from test_service import collect, wait_for

ROOT = Path(__file__).resolve().parents[2]
# From examples/dossiers.json (the dossier mirror of the sample site):
BIRTH = "000.00.31.H12-261123-0001"      # 1.001193 Đăng ký khai sinh, received today
MARRIAGE = "000.00.31.H12-261117-0005"   # 1.000894 Đăng ký kết hôn
RESULT = "000.00.31.H12-261120-0009"     # 1.001193 Đăng ký khai sinh, result ready: returned at the visit
COPY = "000.00.31.H12-261123-0002"       # 2.000815 Chứng thực bản sao từ bản chính …
UNKNOWN = "000.00.31.H12-261123-0014"    # not in the mirror (yet)
COPY_NAME = ("Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của Việt Nam "
             "cấp hoặc chứng nhận")


@pytest.fixture
def sample_dossiers(site):
    """The sample's dossiers in the dossier mirror, as `motcua dossiers import` puts
    them, before the centre starts (tests ask for it before `centre`)."""
    store = Store(site.database)
    try:
        report = DossierStore(store.db, site.dossiers, site.timezone).import_file(ROOT / "examples" / "dossiers.json")
        assert not report.errors
    finally:
        store.close()


def db_rows(site, sql: str, args=()) -> list[dict]:
    db = sqlite3.connect(site.database)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(sql, args)]
    finally:
        db.close()


class Pad:
    """Presses on the pad of counter 1, as its bridge publishes them (pad-1's login)."""

    def __init__(self, site, connect, admin):
        self.site = site
        self.topics = protocol.Topics(site.id)
        self.client = connect("pad-1")
        self.prompts = collect(admin, self.topics.pad(1))
        self.acks = collect(admin, self.topics.pad_ack(1))
        self.seq = 0

    def rate(self, ticket: str, level: int) -> str:
        """Answer the prompt for `ticket` with `level`; the status the centre acknowledged."""
        _, p = wait_for(self.prompts, lambda m: m[1].get("ticket") == ticket and m[1]["prompt"])
        self.seq += 1
        rid = f"PADT:1:{self.seq}"
        body = {"rating": rid, "pad": "PADT", "boot": 1, "seq": self.seq, "counter": 1, "level": level,
                "prompt": p["prompt"], "pressed_at": datetime.now(timezone.utc).isoformat()}
        self.client.client.publish(self.topics.rating(1), protocol.encode(body), qos=1).wait_for_publish(5)
        _, ack = wait_for(self.acks, lambda m: m[1]["rating"] == rid)
        return ack["status"]


def test_dossiers_at_the_counter_reach_the_rating_the_report_and_the_export(site, sample_dossiers, centre, connect,
                                                                           workdir):
    topics = protocol.Topics(site.id)
    admin = connect("admin")
    kiosk, c1, c2 = connect("kiosk-1"), connect("counter-1"), connect("counter-2")
    ticket_events = collect(admin, topics.ticket_event)
    states = collect(admin, topics.counter_state(1))
    register(admin, ("nguyenvana", "Nguyễn Văn A"), "tranthib")
    for _ in range(3):
        kiosk.request("ticket.issue", service="HT")
    sign_in(c1, 1, "nguyenvana")
    sign_in(c2, 2, "tranthib")
    pad = Pad(site, connect, admin)
    assert c1.request("counter.next", counter=1)["ticket"]["ticket"] == "1001"

    # 1. by the receipt's QR, as the counter's scanner types it (with its CR/LF)
    r = c1.request("counter.attach_dossier", counter=1, code=qr_text(BIRTH, site.dossiers) + "\r\n")
    assert r["dossier"] == {"code": BIRTH, "ticket": "1001", "known": True, "procedure_code": "1.001193",
                            "procedure_name": "Đăng ký khai sinh", "changed": True}
    assert r["ticket"]["dossiers"] == [BIRTH] and r["finished"] == []
    # 2. typed by hand, in lower case
    r = c1.request("counter.attach_dossier", counter=1, code=MARRIAGE.lower())
    assert r["dossier"]["code"] == MARRIAGE and r["dossier"]["procedure_code"] == "1.000894"
    assert r["ticket"]["dossiers"] == [BIRTH, MARRIAGE]
    # 3. the same again: nothing changes
    r = c1.request("counter.attach_dossier", counter=1, code=MARRIAGE)
    assert r["dossier"]["changed"] is False and r["ticket"]["dossiers"] == [BIRTH, MARRIAGE]
    # 4. a code the mirror does not have: attached, and the reply says so
    r = c1.request("counter.attach_dossier", counter=1, code=UNKNOWN)
    assert r["dossier"] == {"code": UNKNOWN, "ticket": "1001", "known": False, "procedure_code": None,
                            "procedure_name": None, "changed": True}
    # 5. refusals: a malformed code, a damaged or forged QR, another counter's device
    for code, why in (("000.00.31.H12-2611", "malformed_code"), ("MOTCUA-D:" + BIRTH, "malformed_qr"),
                      (qr_text(BIRTH, site.dossiers).replace(BIRTH, RESULT), "unverified")):
        with pytest.raises(RequestRefused) as exc:
            c1.request("counter.attach_dossier", counter=1, code=code)
        assert exc.value.code == why, code
    with pytest.raises(RequestRefused) as exc:
        c2.request("counter.attach_dossier", counter=1, code=RESULT)
    assert exc.value.code == "forbidden" and "stands at counter 2" in exc.value.message
    with pytest.raises(RequestRefused) as exc:
        c2.request("counter.detach_dossier", counter=1, code=BIRTH)
    assert exc.value.code == "forbidden"
    with pytest.raises(RequestRefused) as exc:     # counter 2 has no ticket of its own
        c2.request("counter.attach_dossier", counter=2, code=RESULT)
    assert exc.value.code == "no_current_ticket"
    # 6. the mistaken one removed
    r = c1.request("counter.detach_dossier", counter=1, code=UNKNOWN)
    assert r["ticket"]["dossiers"] == [BIRTH, MARRIAGE] and r["dossier"]["ticket"] == "1001"
    with pytest.raises(RequestRefused) as exc:
        c1.request("counter.detach_dossier", counter=1, code=UNKNOWN)
    assert exc.value.code == "dossier_not_attached"
    # the counter's retained state and the ticket's events say the same
    _, state = wait_for(states, lambda m: (m[1]["ticket"] or {}).get("dossiers") == [BIRTH, MARRIAGE])
    _, ev = wait_for(ticket_events, lambda m: m[1]["event"] == "dossier_detached")
    assert (ev["code"], ev["dossiers"], ev["ticket"], ev["officer"]) == (UNKNOWN, [BIRTH, MARRIAGE], "1001",
                                                                        "nguyenvana")

    # 7. done: the pad asks; the returned result scanned as the citizen leaves goes to 1001
    r = c1.request("counter.done", counter=1)
    assert r["ticket"] is None and r["finished_ticket"]["ticket"] == "1001"
    assert r["finished_ticket"]["dossiers"] == [BIRTH, MARRIAGE]
    _, ev = wait_for(ticket_events, lambda m: m[1]["event"] == "done")
    assert ev["dossiers"] == [BIRTH, MARRIAGE]
    r = c1.request("counter.attach_dossier", counter=1, code=RESULT)
    assert r["dossier"]["ticket"] == "1001" and r["finished_ticket"]["dossiers"] == [BIRTH, MARRIAGE, RESULT]
    assert kiosk.request("ticket.status", ticket="1001")["dossiers"] == [BIRTH, MARRIAGE, RESULT]
    # 8. the citizen rates: the counted rating carries the three codes
    assert pad.rate("1001", 2) == "counted"
    _, state = wait_for(states, lambda m: m[1]["finished_ticket"] is None and m[1]["served_today"] == 1)
    with pytest.raises(RequestRefused) as exc:     # rated: the ticket's dossiers no longer change
        c1.request("counter.attach_dossier", counter=1, code=COPY)
    assert exc.value.code == "no_current_ticket"
    [rating] = db_rows(site, "SELECT * FROM ratings")
    assert rating["status"] == "counted" and rating["ticket"] == "1001"
    assert json.loads(rating["dossiers"]) == [BIRTH, MARRIAGE, RESULT]

    # 1002: a copy certified and a dossier the mirror lacks, rated 3; 1003: none, rated 1
    c1.request("counter.next", counter=1)
    c1.request("counter.start", counter=1)
    c1.request("counter.attach_dossier", counter=1, code=COPY)
    c1.request("counter.attach_dossier", counter=1, code=UNKNOWN)
    c1.request("counter.done", counter=1)
    assert pad.rate("1002", 3) == "counted"
    c1.request("counter.next", counter=1)
    c1.request("counter.done", counter=1)
    assert pad.rate("1003", 1) == "counted"

    rows = db_rows(site, "SELECT * FROM ticket_dossiers ORDER BY ticket_id, attached_at")
    assert [(r["ticket_id"], r["code"], r["procedure_code"], r["counter"], r["officer"]) for r in rows] == [
        (1, BIRTH, "1.001193", 1, "nguyenvana"), (1, MARRIAGE, "1.000894", 1, "nguyenvana"),
        (1, RESULT, "1.001193", 1, "nguyenvana"), (2, COPY, "2.000815", 1, "nguyenvana"),
        (2, UNKNOWN, None, 1, "nguyenvana")]
    kinds = [r["type"] for r in db_rows(site, "SELECT type FROM events WHERE type LIKE 'dossier_%' ORDER BY seq")]
    assert kinds == ["dossier_attached"] * 3 + ["dossier_detached"] + ["dossier_attached"] * 3
    ratings = db_rows(site, "SELECT ticket, level, weight, dossiers FROM ratings ORDER BY pressed_at")
    assert [(r["ticket"], r["level"], r["dossiers"] and json.loads(r["dossiers"])) for r in ratings] == [
        ("1001", 2, [BIRTH, MARRIAGE, RESULT]), ("1002", 3, [COPY, UNKNOWN]), ("1003", 1, None)]

    # -- the report: satisfaction per procedure, by hand -------------------------------------
    # 1001 (Hài lòng, 66.7) counts once for 1.001193 (two dossiers of it) and once for
    # 1.000894; 1002 (Bình thường, 33.3) once for 2.000815 and once among the dossiers the
    # mirror lacks; 1003 (Rất hài lòng, 100) has no dossier.
    today = datetime.now(site.tz).date()
    store = Store(site.database)
    try:
        rep = build_report(store.db, site, Period(today, today))
    finally:
        store.close()
    got = [(g.label, g.satisfaction.counted, g.satisfaction.levels, round(g.satisfaction.index, 1),
            g.satisfaction.share_satisfied) for g in rep.satisfaction_by_procedure]
    assert got == [
        (f"2.000815 {COPY_NAME}", 1, [0, 0, 1, 0], 33.3, 0.0),       # Chứng thực … (C before Đ)
        ("1.000894 Đăng ký kết hôn", 1, [0, 1, 0, 0], 66.7, 100.0),  # kết before khai
        ("1.001193 Đăng ký khai sinh", 1, [0, 1, 0, 0], 66.7, 100.0),
        ("(hồ sơ chưa có trong dữ liệu hồ sơ)", 1, [0, 0, 1, 0], 33.3, 0.0),
    ]
    assert rep.rated_without_dossier.counted == 1 and rep.rated_without_dossier.levels == [1, 0, 0, 0]
    assert rep.satisfaction.counted == 3 and rep.rated_with_dossier == 2
    text = out.format_text(rep)
    assert "Hài lòng theo thủ tục" in text and "Đăng ký kết hôn" in text and "(không gắn hồ sơ)" in text
    assert "Đánh giá được tính có gắn hồ sơ" in text
    from openpyxl import load_workbook
    wb = load_workbook(out.write_xlsx(rep, workdir / "bao-cao.xlsx"))
    sheet = [[c.value for c in row] for row in wb["Hài lòng theo thủ tục"].iter_rows()]
    assert sheet[0][:3] == ["Thủ tục", "Số đánh giá", "Rất hài lòng"]
    assert [r[:6] for r in sheet[1:]] == [
        [f"2.000815 {COPY_NAME}", 1, 0, 0, 1, 0], ["1.000894 Đăng ký kết hôn", 1, 0, 1, 0, 0],
        ["1.001193 Đăng ký khai sinh", 1, 0, 1, 0, 0], ["(hồ sơ chưa có trong dữ liệu hồ sơ)", 1, 0, 0, 1, 0],
        ["(không gắn hồ sơ)", 1, 1, 0, 0, 0]]
    assert sheet[3][6] == pytest.approx(1.0) and sheet[3][7] == pytest.approx(66.7)   # share (a fraction), index
    csv_rows = list(csv.DictReader(io.StringIO(
        out.write_csv(rep, workdir / "bao-cao.csv").read_text(encoding="utf-8-sig"))))
    mine = [r for r in csv_rows if r["group_by"] == "procedure" and r["section"] == "satisfaction"]
    assert {(r["group"], r["measure"]): r["value"] for r in mine}[("1.000894 Đăng ký kết hôn", "index")] == "66.7"

    # -- the export: one row per rated dossier, by hand --------------------------------------
    def motcua(*argv) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "motcua", "--site", str(site.path), "ratings", "export",
                               "--from", today.isoformat(), "--to", today.isoformat(), *argv],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
    expected = [  # (dossier, procedure, name, level, level name, weight, ticket)
        (BIRTH, "1.001193", "Đăng ký khai sinh", 2, "Hài lòng", 66.7, "1001"),
        (MARRIAGE, "1.000894", "Đăng ký kết hôn", 2, "Hài lòng", 66.7, "1001"),
        (RESULT, "1.001193", "Đăng ký khai sinh", 2, "Hài lòng", 66.7, "1001"),
        (COPY, "2.000815", COPY_NAME, 3, "Bình thường", 33.3, "1002"),
        (UNKNOWN, "", "", 3, "Bình thường", 33.3, "1002"),
    ]
    tickets = {t["label"]: t for t in db_rows(site, "SELECT * FROM tickets")}
    presses = {r["ticket"]: r for r in db_rows(site, "SELECT * FROM ratings")}

    def local(stored):
        return datetime.fromisoformat(stored).astimezone(site.tz).isoformat(timespec="seconds")

    def check(rows: list[dict]) -> None:
        assert [(r["dossier_code"], r["procedure_code"], r["procedure_name"], int(r["level"]), r["level_name"],
                 float(r["weight"]), r["ticket"]) for r in rows] == expected
        for r in rows:
            t, p = tickets[r["ticket"]], presses[r["ticket"]]
            assert (r["officer"], r["officer_name"], int(r["counter"]), r["counter_name"], r["service"]) == \
                ("nguyenvana", "Nguyễn Văn A", 1, "Quầy 1 – Hộ tịch", "HT")
            assert r["ticket_issued_at"] == local(t["issued_at"]) and r["ticket_issued_at"].endswith("+07:00")
            assert r["ticket_called_at"] == local(t["first_called_at"])
            assert r["ticket_finished_at"] == local(t["finished_at"])
            assert r["rated_at"] == local(p["pressed_at"]) and r["rating_id"] == p["rating_id"]
            assert r["ticket_started_at"] == local(t["started_at"])
        # 1001 was finished without "start": its service counts from the call (the engine's rule)
        assert rows[0]["ticket_started_at"] == rows[0]["ticket_called_at"]

    # CSV on standard output; the count of ratings left out on standard error
    done = motcua()
    assert done.returncode == 0, done.stderr
    check(list(csv.DictReader(io.StringIO(done.stdout))))
    assert "5 rows, one per dossier, of 2 counted ratings; 1 counted ratings of tickets without a dossier" \
        in done.stderr
    # a CSV file (UTF-8 with a byte order mark, for Excel)
    path = workdir / "danh-gia.csv"
    done = motcua("--csv", str(path))
    assert done.returncode == 0, done.stderr
    assert path.read_bytes().startswith(b"\xef\xbb\xbf") and f"wrote {path}" in done.stdout
    check(list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))))
    # an Excel workbook, read back with openpyxl: numbers as numbers
    path = workdir / "danh-gia.xlsx"
    done = motcua("--xlsx", str(path))
    assert done.returncode == 0, done.stderr
    wb = load_workbook(path)
    assert wb.sheetnames == ["Đánh giá theo hồ sơ", "Thông tin"]
    ws = wb["Đánh giá theo hồ sơ"]
    header = [c.value for c in ws[1]]
    rows = [{h: ("" if c.value is None else c.value) for h, c in zip(header, row)} for row in ws.iter_rows(min_row=2)]
    check(rows)
    assert isinstance(rows[0]["level"], int) and isinstance(rows[0]["weight"], float)
    info = {r[0].value: r[1].value for r in wb["Thông tin"].iter_rows()}
    assert info["Số dòng (hồ sơ)"] == 5 and info["Đánh giá không gắn hồ sơ (không có trong tệp)"] == 1
    # both files at once is refused, saying why
    done = motcua("--csv", str(workdir / "a.csv"), "--xlsx", str(workdir / "a.xlsx"))
    assert done.returncode == 2 and "not both" in done.stderr


def test_the_cli_attaches_and_detaches_as_the_terminal_does(site, sample_dossiers, centre, connect):
    """`motcua counter N attach_dossier CODE` and `detach_dossier CODE`, as people type them."""
    kiosk = connect("kiosk-1")
    kiosk.request("ticket.issue", service="HT")
    register(connect("admin"), "nguyenvana")
    c1 = connect("counter-1")
    sign_in(c1, 1, "nguyenvana")
    c1.request("counter.next", counter=1)

    def motcua(*argv) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "motcua", "--site", str(site.path), "counter", "1", *argv],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
    done = motcua("attach_dossier", qr_text(BIRTH, site.dossiers))
    assert done.returncode == 0, done.stderr
    assert f"attached {BIRTH}" in done.stdout and "1.001193 Đăng ký khai sinh" in done.stdout
    assert f"hồ sơ / dossiers {BIRTH}" in done.stdout
    done = motcua("attach_dossier", UNKNOWN)
    assert done.returncode == 0 and "not in the centre's dossier mirror yet" in done.stdout
    done = motcua("detach_dossier", UNKNOWN)
    assert done.returncode == 0 and f"detached {UNKNOWN}" in done.stdout
    done = motcua("attach_dossier", "000.00.31.H12-2611")
    assert done.returncode != 0 and "malformed_code" in done.stderr + done.stdout
    assert c1.request("ticket.status", ticket="1001")["dossiers"] == [BIRTH]

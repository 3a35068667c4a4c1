"""The kiosk as a citizen meets it: a real Kivy window under Xvfb, driven by
touches, against a real broker and centre. Screenshots of every screen go to
test-output/screens/ (portrait 1080x1920 and landscape 1920x1080)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from motcua.config import load_site

from support.broker import ROOT, write_site, free_port
from support.ui import run_scenario

SHOTS = ROOT / "test-output" / "screens"
SIZES = ["1080x1920", "1920x1080"]

pytestmark = pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (apt-get install xvfb)")


def drive(site, scenario: str, size: str, device: str = "kiosk-1", timeout: int = 120) -> dict:
    return run_scenario("kiosk", site, device, scenario, size, timeout=timeout)


@pytest.mark.parametrize("size", SIZES)
def test_two_taps_from_home_to_a_printed_number(site, centre, size):
    r = drive(site, "take_number", size)
    ticket = r["checks"]["ticket"]
    assert ticket["ticket"] == "1001" and ticket["service"] == "HT"
    assert r["checks"]["taps"] == 2
    assert r["checks"]["print_state"] == "printed"
    # the ticket really went to kiosk-1's printer (a spool file in the sample site)
    spool = Path(site.device("kiosk-1").printer.port)
    data = spool.read_bytes()
    assert data.startswith(b"\x1b@") and b"\x1dv0" in data
    # and the centre has it
    assert centre.store.ticket(ticket["day"], "1001")["device"] == "kiosk-1"


@pytest.mark.parametrize("size", SIZES)
def test_priority_choice_gives_a_priority_ticket(site, centre, size):
    r = drive(site, "priority_number", size)
    ticket = r["checks"]["ticket"]
    assert ticket["priority"] == site.priorities[0].code and ticket["service"] == "CT"


@pytest.mark.parametrize("size", SIZES)
def test_centre_down_gives_a_clear_message_and_no_number(site, broker, size):
    r = drive(site, "centre_down", size)
    assert r["checks"]["ticket"] == {}
    assert r["checks"]["screen"] == "services"
    assert "Không lấy được số" in r["checks"]["error"]
    assert r["checks"]["banner"]  # the banner says the centre is away


def test_language_switch_and_idle_return(workdir):
    site = load_site(write_site(workdir, free_port(), replace={"idle_seconds = 60": "idle_seconds = 10"}))
    from support.broker import Broker
    from motcua.service import CentreService
    b = Broker(site, workdir / "broker").start()
    c = CentreService(site).start()
    try:
        r = drive(site, "language_and_idle", "1080x1920")
    finally:
        c.stop()
        b.stop()
    assert r["checks"]["take_text_en"].startswith("Take a number")
    assert r["checks"]["lang_after_idle"] == "vi"
    assert r["checks"]["take_text_vi"].startswith("Lấy số thứ tự")


@pytest.mark.parametrize("size", SIZES)
def test_escape_does_not_quit_and_settings_need_the_pin(site, centre, size):
    r = drive(site, "escape_and_admin", size)
    assert r["checks"]["alive_after_escape"] is True
    assert r["checks"]["wrong_pin_screen"] == "pin"
    assert r["checks"]["admin"] is True


@pytest.fixture
def with_dossiers(site):
    from motcua.dossiers import DossierStore
    from motcua.store import Store
    store = Store(site.database)
    DossierStore(store.db, site.dossiers, site.timezone).import_file(ROOT / "examples" / "dossiers.json")
    store.close()


@pytest.mark.parametrize("size", SIZES)
def test_dossier_by_scanner_and_by_hand(site, with_dossiers, centre, size):
    import json as _json
    from motcua.dossiers import mask_name
    records = _json.loads((ROOT / "examples" / "dossiers.json").read_text(encoding="utf-8"))
    r = drive(site, "dossier_by_scan_and_by_hand", size)
    scanned = r["checks"]["scanned"]
    late = next(x for x in records if x.get("apology"))
    assert scanned["code"] == late["code"].upper() and scanned["apology"]["new_due_on"]
    assert scanned["applicant"] == mask_name(late["applicant_name"])
    assert "Mã hồ sơ và mã tra cứu không khớp" in r["checks"]["wrong_lookup_error"]
    other = next(x for x in records if not x.get("apology") and x["status"] != "returned")
    assert r["checks"]["typed"]["code"] == other["code"].upper()
    assert r["checks"]["typed_code_field"] == other["code"].upper()


@pytest.mark.parametrize("size", SIZES)
def test_a_scanned_ticket_shows_its_place(site, centre, size):
    r = drive(site, "ticket_qr_scan", size)
    assert r["checks"]["status"]["ticket"] == "1001" and r["checks"]["status"]["state"] == "waiting"
    assert r["checks"]["status_text"].startswith("Quý khách là người tiếp theo")
    assert "Không đọc được mã này" in r["checks"]["garbage_error"]
    assert r["checks"]["garbage_screen"] == "dossier"


@pytest.mark.parametrize("size", SIZES)
def test_numbers_and_bookings_from_the_phone_check_in_at_the_kiosk(workdir, size):
    """Issue 14: the centre's clock on a Monday at 08:16; a number taken from afar at
    08:10 and two bookings (08:30, checkable from 08:15; 09:30, not before 09:15)."""
    import json
    from datetime import datetime, timezone

    from motcua import web_tokens
    from motcua.mqtt import DeviceClient
    from motcua.service import CentreService
    from support.broker import Broker
    site = load_site(write_site(workdir, free_port()))
    now = [datetime(2026, 11, 23, 1, 10, tzinfo=timezone.utc)]
    b = Broker(site, workdir / "broker").start()
    c = CentreService(site, clock=lambda: now[0]).start()
    web = DeviceClient(site, "web").start()
    try:
        assert c.connected.wait(10) and web.wait_connected(10)
        taken = web.request("ticket.reserve", service="HT", phone="0912345678")
        booked = web.request("booking.create", service="HT", day="2026-11-23", time="08:30", phone="0987654321")
        later = web.request("booking.create", service="HT", day="2026-11-23", time="09:30", phone="0355000111")
        now[0] = datetime(2026, 11, 23, 1, 16, tzinfo=timezone.utc)
        w = site.web
        links = {"remote": web_tokens.ticket_link(w.base_url, w.secret, site.id, taken["day"], taken["ticket"]),
                 "booking": web_tokens.booking_link(w.base_url, w.secret, site.id, booked["day"], booked["booking"]),
                 "early": web_tokens.booking_link(w.base_url, w.secret, site.id, later["day"], later["booking"]),
                 "forged": web_tokens.booking_link(w.base_url, "someone-else-s-secret", site.id, later["day"], 1)}
        r = run_scenario("kiosk", site, "kiosk-1", "check_in_by_phone_link", size,
                         env={"MOTCUA_TEST_LINKS": json.dumps(links)})
        checks = r["checks"]
        assert checks["remote"]["ticket"] == "1001" and checks["remote"]["state"] == "waiting"
        assert checks["remote"]["checked_in"] and checks["remote_print"] == "printed"
        assert checks["booking"]["ticket"] == "1002" and checks["booking"]["booking"]["time"] == "08:30"
        assert checks["booking_print"] == "printed"
        assert checks["again"]["ticket"] == "1002" and not checks["again"]["checked_in"]
        assert checks["again_text"].startswith("Quý khách là người tiếp theo")   # a booking goes first
        assert checks["early_message"] == "Chưa đến giờ hẹn. Mời quý khách quay lại xác nhận từ 09:15."
        assert checks["early_message_en"] == "It is too early for your appointment. Please confirm from 09:15."
        assert checks["forged_message"].startswith("Không đọc được mã này")
        assert checks["early_screen"] == checks["forged_screen"] == "ticketstatus"
        # the centre has them in the queue: the booking before the number taken at 08:10
        assert [t.label for t in c.engine.waiting("HT")] == ["1002", "1001"]
        assert c.store.booking(booked["booking"])["state"] == "checked_in"
        # and the printed ticket's QR is the link to follow it on the phone
        spool = Path(site.device("kiosk-1").printer.port).read_bytes()
        assert spool.startswith(b"\x1b@") and b"\x1dv0" in spool
    finally:
        web.stop()
        c.stop()
        b.stop()


def test_a_receipt_scanned_by_a_serial_scanner(workdir):
    """The QR goes through a real pty serial port into the kiosk's SerialScanner."""
    import os
    import threading
    import time
    import tty
    from support.broker import Broker
    from motcua import dossiers as dossier_codes
    from motcua.dossiers import DossierStore
    from motcua.service import CentreService
    from motcua.store import Store
    master, slave = os.openpty()
    tty.setraw(slave)  # a USB-CDC scanner port: no echo, no line editing
    port = os.ttyname(slave)
    site = load_site(write_site(workdir, free_port(), replace={
        '# scanner = { port = "/dev/ttyACM0", baudrate = 9600 }': f'scanner = {{ port = "{port}", baudrate = 9600 }}'}))
    store = Store(site.database)
    DossierStore(store.db, site.dossiers, site.timezone).import_file(ROOT / "examples" / "dossiers.json")
    store.close()
    records = json.loads((ROOT / "examples" / "dossiers.json").read_text(encoding="utf-8"))
    wanted = records[0]
    qr = dossier_codes.qr_text(wanted["code"], site.dossiers)
    out = SHOTS / "kiosk-serial_scan-1080x1920"
    stop = threading.Event()

    def scanner():  # the scanner's side of the cable
        while not stop.is_set():
            if (out / "scanner-ready").exists():
                os.write(master, qr.encode() + b"\r\n")
                return
            time.sleep(0.05)

    writer = threading.Thread(target=scanner, daemon=True)
    b = Broker(site, workdir / "broker").start()
    c = CentreService(site).start()
    shutil.rmtree(out, ignore_errors=True)  # no stale "ready" from an earlier run
    try:
        writer.start()
        r = drive(site, "serial_scan", "1080x1920")
    finally:
        stop.set()
        c.stop()
        b.stop()
        os.close(master)
        os.close(slave)
    assert r["checks"]["scanned"]["code"] == wanted["code"].upper()


@pytest.fixture
def with_procedures(site):
    from motcua.catalogue import Catalogue
    from motcua.store import Store
    store = Store(site.database)
    Catalogue(store.db).import_file(ROOT / "examples" / "procedures.json")
    store.close()


@pytest.mark.parametrize("size", SIZES)
def test_procedure_look_up_and_checklist(site, with_procedures, centre, size):
    r = drive(site, "procedures_lookup", size)
    c = r["checks"]
    assert c["local_count"] == len(json.loads((ROOT / "examples" / "procedures.json").read_text(encoding="utf-8")))
    assert "Đăng ký khai sinh" in c["field_list"]
    assert c["plain_query"] == "dang ky khai sinh" and c["plain_first"] == "Đăng ký khai sinh"
    assert c["toned_query"] == "kết hôn" and c["toned_first"] == "Đăng ký kết hôn"
    assert c["telex_query"] == "chứng thực" and c["telex_first"].startswith("Chứng thực")
    assert c["detail_code"] == c["code"] and c["documents_shown"] >= 1
    assert c["checklist_state"] == "printed"
    data = Path(site.device("kiosk-1").printer.port).read_bytes()
    assert data.startswith(b"\x1b@") and b"\x1dv0" in data  # a raster image: Vietnamese intact


def test_procedure_look_up_works_with_the_centre_down(site, with_procedures, broker):
    from motcua.service import CentreService
    c = CentreService(site).start()
    try:
        drive(site, "procedures_lookup", "1080x1920")  # syncs the local copy
    finally:
        c.stop()
    r = drive(site, "procedures_offline", "1080x1920")
    assert r["checks"]["banner"]
    assert r["checks"]["first"].lower().startswith("cấp phiếu lý lịch tư pháp")


def test_printer_out_of_paper_keeps_the_number_and_alerts_the_staff(workdir):
    """A serial printer on a pty answers the status query with "paper end"."""
    import threading
    import time
    from support.broker import Broker
    from motcua.mqtt import DeviceClient
    from motcua.service import CentreService
    from support.printer import PAPER_END, PAPER_OK, PtyPrinter
    printer = PtyPrinter(PAPER_END)
    site = load_site(write_site(workdir, free_port(), replace={
        f'printer = {{ kind = "file", port = "{workdir / "data"}/kiosk-1-printer.bin", width_px = 576 }}':
        f'printer = {{ kind = "serial", port = "{printer.path}", baudrate = 115200, width_px = 576 }}'}))
    out = SHOTS / "kiosk-paper_out-1080x1920"
    shutil.rmtree(out, ignore_errors=True)
    b = Broker(site, workdir / "broker").start()
    c = CentreService(site).start()
    admin = DeviceClient(site, "admin").start()
    alerts = []
    admin.subscribe(admin.topics.alert_all, lambda topic, data: alerts.append((topic, data)))
    stop = threading.Event()

    def staff():  # loads paper when the kiosk has shown the failure
        while not stop.is_set():
            if (out / "paper-loaded-please").exists():
                printer.reply = PAPER_OK
                (out / "paper-loaded").write_text("1")
                return
            time.sleep(0.05)

    helper = threading.Thread(target=staff, daemon=True)
    try:
        assert admin.wait_connected(10)
        helper.start()
        r = drive(site, "paper_out", "1080x1920")
    finally:
        stop.set()
        admin.stop()
        c.stop()
        b.stop()
        printer.close()
    checks = r["checks"]
    assert checks["print_state"] == "failed"
    assert "hết giấy" in checks["print_message"]
    assert checks["number_shown"] == checks["ticket"]["ticket"]  # the number stays on screen
    kiosk_alerts = [d for t, d in alerts if t.endswith("/alert/kiosk-1")]
    assert kiosk_alerts and kiosk_alerts[0]["code"] == "paper_out"
    assert kiosk_alerts[0]["ticket"] == checks["ticket"]["ticket"]
    assert checks["reprint_state"] == "printed"
    assert b"\x1dv0" in printer.received  # the reprint's raster image reached the printer

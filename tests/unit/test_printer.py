"""The ticket printer: layout and rendering as pure functions, and the real
python-escpos printer classes talking to a pretend printer at the far end of a
pseudo-terminal (serial), a TCP socket (network) and a file. Only the physical
printer is stood in for."""
from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest
from escpos.printer import Dummy
from PIL import Image, ImageOps

from motcua.hardware.printer import (
    INIT, Line, PrinterError, TicketPrinter, checklist_lines, font, paper_state, render_checklist,
    render_lines, render_ticket, text_block, ticket_lines, wait_text)
from motcua.config import PrinterSettings, load_site
from support.printer import PAPER_END, PAPER_LOW, PAPER_OK, STATUS_QUERY, PtyPrinter

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "site.toml"

SITE = "Trung tâm Phục vụ hành chính công phường Demo"
QR_TEXT = "motcua:hcc-demo:2025-11-23:1023"
CUT = b"\x1dV\x00"


def make_ticket(**changes) -> dict:
    ticket = {
        "id": 5, "ticket": "1023", "number": 1023, "day": "2025-11-23", "service": "HT",
        "service_name_vi": "Hộ tịch", "service_name_en": "Civil status (birth, marriage, death)",
        "priority": None, "state": "waiting", "issued_at": "2025-11-23T01:15:42.123+00:00",
        "called_at": None, "started_at": None, "finished_at": None, "counter": None,
        "people_ahead": 5, "estimated_wait_s": 700, "counters": [1, 2, 4],
    }
    ticket.update(changes)
    return ticket


PROCEDURE = {
    "code": "1.001193", "name": "Đăng ký khai sinh", "field": "Hộ tịch", "agency": "UBND cấp xã",
    "channels": [
        {"channel": "truc_tuyen", "time_limit": "Trong ngày", "fee": "Không", "notes": ""},
        {"channel": "truc_tiep", "time_limit": "Ngay trong ngày; sau 15 giờ thì ngày làm việc tiếp theo",
         "fee": 8000, "notes": "Xuất trình CCCD"},
    ],
    "documents": [
        {"name": "Tờ khai đăng ký khai sinh", "original_or_copy": "ban_chinh", "count": 1,
         "form": "TK-KS"},
        {"name": "Giấy chứng sinh", "original_or_copy": "ban_sao", "count": 2, "form": ""},
        {"name": "Giấy tờ chứng minh nơi cư trú", "original_or_copy": "ban_chinh_hoac_ban_sao",
         "count": 1},
    ],
    "steps": ["Nộp hồ sơ", "Nhận kết quả"],
}


def texts(lines: list[Line]) -> list[str]:
    return [line.text for line in lines]


def black_fraction(img: Image.Image) -> float:
    gray = img.convert("L")
    return gray.histogram()[0] / (img.width * img.height)


def raster_blocks(data: bytes) -> list[tuple[int, int, bytes]]:
    """Every GS v 0 command in an ESC/POS stream: (width in bytes, rows, bitmap)."""
    blocks = []
    i = data.find(b"\x1dv0")
    while i != -1:
        width_bytes = data[i + 4] | data[i + 5] << 8
        rows = data[i + 6] | data[i + 7] << 8
        start = i + 8
        bitmap = data[start:start + width_bytes * rows]
        assert len(bitmap) == width_bytes * rows, "raster data cut short"
        blocks.append((width_bytes, rows, bitmap))
        i = data.find(b"\x1dv0", start + len(bitmap))
    return blocks


def decode_raster(data: bytes) -> Image.Image:
    """The picture a printer would print from the stream (1 bits are black dots)."""
    blocks = raster_blocks(data)
    assert blocks, "no GS v 0 raster image in the output"
    widths = {w for w, _, _ in blocks}
    assert len(widths) == 1, f"fragments of different widths {widths}"
    width = widths.pop() * 8
    rows = sum(r for _, r, _ in blocks)
    dots = Image.frombytes("1", (width, rows), b"".join(b for _, _, b in blocks))
    return ImageOps.invert(dots.convert("L")).convert("1")


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and a.convert("L").tobytes() == b.convert("L").tobytes()


# -- layout (pure) -----------------------------------------------------------------

def test_ticket_lines_say_what_the_citizen_needs():
    lines = ticket_lines(make_ticket(priority="cao_tuoi"), SITE, QR_TEXT,
                         priority_label="Người cao tuổi")
    said = texts(lines)
    assert said[0] == SITE
    assert Line("1023", "number") in lines
    assert "Hộ tịch" in said and "Civil status (birth, marriage, death)" in said
    assert "ƯU TIÊN: Người cao tuổi" in said
    assert "Số người chờ trước bạn: 5" in said
    assert "Thời gian chờ dự kiến: khoảng 12 phút" in said       # 700 s, rounded up
    assert "Phục vụ tại: Quầy 1, 2, 4" in said
    assert "Lấy số lúc 08:15 ngày 23/11/2025" in said            # 01:15 UTC is 08:15 in Hà Nội
    assert Line(QR_TEXT, "qr") in lines
    assert "Quét mã tại ki-ốt để xem lượt của bạn" in said
    assert not any(line.style == "priority" for line in ticket_lines(make_ticket(), SITE, QR_TEXT))


def test_issue_time_is_converted_to_local_date_and_time():
    late = make_ticket(issued_at="2025-11-23T17:30:00.000+00:00")
    assert "Lấy số lúc 00:30 ngày 24/11/2025" in texts(ticket_lines(late, SITE, QR_TEXT))
    other_zone = texts(ticket_lines(late, SITE, QR_TEXT, tz="Europe/Paris"))
    assert "Lấy số lúc 18:30 ngày 23/11/2025" in other_zone


def test_wait_and_counter_wording():
    assert wait_text(0) == ("sắp đến lượt bạn", "you are next")
    assert wait_text(1) == ("khoảng 1 phút", "about 1 min")
    assert wait_text(3600) == ("khoảng 1 giờ", "about 1 h")
    assert wait_text(3601) == ("khoảng 1 giờ 1 phút", "about 1 h 1 min")
    assert wait_text(None) is None
    one = texts(ticket_lines(make_ticket(counters=[3], estimated_wait_s=None), SITE, QR_TEXT))
    assert "Phục vụ tại: Quầy 3" in one
    assert not any(t.startswith("Thời gian chờ") for t in one)
    none = texts(ticket_lines(make_ticket(counters=[]), SITE, QR_TEXT))
    assert not any(t.startswith("Phục vụ tại") for t in none)


def test_checklist_lines_list_documents_and_the_in_person_channel():
    said = texts(checklist_lines(PROCEDURE, SITE))
    assert "Đăng ký khai sinh" in said
    assert "Mã thủ tục: 1.001193 · Lĩnh vực: Hộ tịch" in said
    assert "1. Tờ khai đăng ký khai sinh" in said
    assert "Bản chính · Số lượng: 1 · Mẫu: TK-KS" in said
    assert "Bản sao · Số lượng: 2" in said
    assert "Bản chính hoặc bản sao · Số lượng: 1" in said
    # the trực tiếp channel is found even though it is listed second
    assert "Thời hạn giải quyết: Ngay trong ngày; sau 15 giờ thì ngày làm việc tiếp theo" in said
    assert "Phí, lệ phí: 8.000đ" in said
    assert "Ghi chú: Xuất trình CCCD" in said
    online_only = dict(PROCEDURE, channels=[{"channel": "Trực tuyến", "time_limit": "1 ngày",
                                             "fee": 0, "notes": ""}])
    said = texts(checklist_lines(online_only, SITE))
    assert "Thủ tục này không nhận hồ sơ trực tiếp." in said
    spelled = dict(PROCEDURE, channels=[{"channel": "Trực tiếp", "time_limit": "3 ngày làm việc",
                                         "fee": 0, "notes": ""}])
    said = texts(checklist_lines(spelled, SITE))
    assert "Thời hạn giải quyết: 3 ngày làm việc" in said and "Phí, lệ phí: Miễn phí" in said


# -- rendering (pure) --------------------------------------------------------------

def test_stacked_marks_on_capitals_are_not_clipped():
    for text, bold in (("ỞẤỖẪ", True), ("ẬỰỵ ghép", False), ("Ủy ban", True)):
        f = font(40, bold)
        block = text_block(text, f, 400).point(lambda v: 0 if v < 128 else 255)
        width, height = block.size
        rows = [block.crop((0, y, width, y + 1)).getextrema()[0] for y in range(height)]
        assert rows[0] == 255 and rows[-1] == 255, f"{text!r} touches the edge of its line"
        inked = [y for y, low in enumerate(rows) if low == 0]
        assert inked, f"{text!r} drew nothing"
    # the marks above the capitals are drawn: ink well above the cap height
    f = font(40, True)
    plain_top = ImageOps.invert(text_block("OA", f, 400)).getbbox()[1]
    marked_top = ImageOps.invert(text_block("ỞẤ", f, 400)).getbbox()[1]
    assert marked_top < plain_top - 5


def test_rendered_ticket_size_content_and_margins(tmp_path):
    img = render_ticket(make_ticket(priority="cao_tuoi"), SITE, QR_TEXT, 576,
                        priority_label="Người cao tuổi")
    assert img.mode == "1" and img.width == 576
    assert 800 < img.height < 2000
    assert 0.05 < black_fraction(img) < 0.5
    plain = render_ticket(make_ticket(), SITE, QR_TEXT, 576)
    assert plain.height < img.height            # the priority band takes room
    narrow = render_ticket(make_ticket(ticket="LLTP7001"), "X" * 80 + " " + SITE, QR_TEXT, 384)
    assert narrow.width == 384 and 0.05 < black_fraction(narrow) < 0.5
    for page in (img, narrow):
        gray = page.convert("L")
        for x in (0, 1, 2, page.width - 3, page.width - 2, page.width - 1):
            assert gray.crop((x, 0, x + 1, page.height)).getextrema()[0] == 255, \
                f"ink in the margin at column {x}: something overflowed"
    img.save(tmp_path / "ticket.png")
    assert Image.open(tmp_path / "ticket.png").size == img.size


def test_decomposed_text_renders_like_precomposed():
    nfd = make_ticket(service_name_vi=unicodedata.normalize("NFD", "Hộ tịch"))
    assert same_pixels(render_ticket(nfd, unicodedata.normalize("NFD", SITE), QR_TEXT, 576),
                       render_ticket(make_ticket(), SITE, QR_TEXT, 576))


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbarimg (apt zbar-tools) not installed")
def test_qr_on_the_ticket_decodes_to_qr_text(tmp_path):
    for width in (576, 384):
        path = tmp_path / f"ticket-{width}.png"
        render_ticket(make_ticket(), SITE, QR_TEXT, width).save(path)
        out = subprocess.run(["zbarimg", "--quiet", "--raw", str(path)],
                             capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == QR_TEXT, out.stderr


def test_rendered_checklist(tmp_path):
    img = render_checklist(PROCEDURE, SITE, 576)
    assert img.mode == "1" and img.width == 576
    assert 0.03 < black_fraction(img) < 0.5
    longer = dict(PROCEDURE, documents=PROCEDURE["documents"] * 4)
    assert render_checklist(longer, SITE, 576).height > img.height + 300
    with pytest.raises(ValueError):
        render_lines([Line("x", "info")], 100)


def test_status_byte_interpretation():
    assert paper_state(PAPER_OK) == "ok"
    assert paper_state(PAPER_LOW) == "low"
    assert paper_state(PAPER_END) == "out"
    assert paper_state(0x72) == "out"
    assert paper_state(0x10) is None        # an echo of our own DLE, not a status byte


# -- printing to escpos's Dummy ------------------------------------------------------

def test_job_bytes_init_raster_image_and_cut():
    device = Dummy()
    result = TicketPrinter(device=device, name="kiosk-1").print_ticket(make_ticket(), SITE, QR_TEXT)
    assert result.paper == "unknown" and result.warning is None      # a Dummy cannot be asked
    out = device.output
    assert out.startswith(INIT)
    assert out.endswith(CUT)
    assert b"\x1bd" in out[-10:]                    # feed lines before the cut
    expected = render_ticket(make_ticket(), SITE, QR_TEXT, 576)
    blocks = raster_blocks(out)
    assert {w for w, _, _ in blocks} == {576 // 8}
    assert sum(rows for _, rows, _ in blocks) == expected.height
    assert same_pixels(decode_raster(out), expected)
    # Vietnamese never goes out as text, in any encoding
    for text in ("Hộ tịch", "Số người chờ", SITE):
        for form in ("NFC", "NFD"):
            t = unicodedata.normalize(form, text)
            assert t.encode("utf-8") not in out
            assert t.encode("cp1258", errors="ignore") not in out
    assert b"Ho tich" not in out and b"1023" not in out


def test_checklist_prints_as_an_image():
    device = Dummy()
    TicketPrinter(device=device).print_checklist(PROCEDURE, SITE)
    assert same_pixels(decode_raster(device.output), render_checklist(PROCEDURE, SITE, 576))
    assert "Giấy chứng sinh".encode() not in device.output


def test_image_wider_than_the_paper_is_refused():
    device = Dummy()
    with pytest.raises(PrinterError) as err:
        TicketPrinter(device=device).print_image(Image.new("1", (640, 10), 1))
    assert err.value.code == "error" and device.output == b""


def test_error_messages_for_citizen_and_staff():
    err = PrinterError("paper_out", "kiosk-1")
    assert err.message_vi == "Máy in hết giấy. Vui lòng ghi nhớ số của quý khách trên màn hình."
    assert err.message_en == "Printer kiosk-1 is out of paper: load a new roll."
    assert str(err) == err.message_en
    offline = PrinterError("offline", "kiosk-2", "connection refused")
    assert "kiosk-2" in offline.message_en and "connection refused" in offline.message_en
    assert "ghi nhớ số" in offline.message_vi


# -- a serial printer at the far end of a pseudo-terminal ----------------------------

@pytest.fixture
def pty_printer():
    made = []

    def make(reply):
        made.append(PtyPrinter(reply))
        return made[-1]
    yield make
    for p in made:
        p.close()


def serial_settings(path: str, timeout_s: float = 1.0) -> PrinterSettings:
    return PrinterSettings(kind="serial", port=path, baudrate=115200, timeout_s=timeout_s)


def test_serial_printer_with_paper_prints_the_image(pty_printer):
    fake = pty_printer(PAPER_OK)
    printer = TicketPrinter(serial_settings(fake.path), name="kiosk-1")
    try:
        result = printer.print_ticket(make_ticket(), SITE, QR_TEXT)
    finally:
        printer.close()
    assert result.paper == "ok" and result.warning is None
    got = fake.wait_for(CUT)
    assert got.startswith(STATUS_QUERY + INIT)       # asked first, then printed
    assert fake.queries >= 1
    assert same_pixels(decode_raster(got), render_ticket(make_ticket(), SITE, QR_TEXT, 576))


def test_serial_printer_out_of_paper_prints_nothing_until_loaded(pty_printer):
    fake = pty_printer(PAPER_END)
    printer = TicketPrinter(serial_settings(fake.path), name="kiosk-1")
    try:
        with pytest.raises(PrinterError) as err:
            printer.print_ticket(make_ticket(), SITE, QR_TEXT)
        assert err.value.code == "paper_out"
        assert err.value.message_en == "Printer kiosk-1 is out of paper: load a new roll."
        time.sleep(0.2)
        assert bytes(fake.received) == STATUS_QUERY          # asked, and nothing printed
        fake.reply = PAPER_OK                                 # staff load a new roll
        assert printer.print_ticket(make_ticket(), SITE, QR_TEXT).paper == "ok"
        assert fake.wait_for(CUT).count(INIT) == 1
    finally:
        printer.close()


def test_serial_printer_near_end_prints_and_warns_staff(pty_printer):
    fake = pty_printer(PAPER_LOW)
    printer = TicketPrinter(serial_settings(fake.path), name="kiosk-1")
    try:
        result = printer.print_ticket(make_ticket(), SITE, QR_TEXT)
    finally:
        printer.close()
    assert result.paper == "low"
    assert result.warning == "Printer kiosk-1 is nearly out of paper: change the roll soon."
    assert raster_blocks(fake.wait_for(CUT))


def test_serial_printer_that_never_answers_is_offline(pty_printer):
    fake = pty_printer(None)
    printer = TicketPrinter(serial_settings(fake.path, timeout_s=0.5), name="kiosk-1")
    started = time.monotonic()
    try:
        with pytest.raises(PrinterError) as err:
            printer.print_ticket(make_ticket(), SITE, QR_TEXT)
    finally:
        printer.close()
    assert err.value.code == "offline"
    assert "kiosk-1" in err.value.message_en and "switched on" in err.value.message_en
    assert 0.4 < time.monotonic() - started < 3
    time.sleep(0.2)
    assert bytes(fake.received) == STATUS_QUERY


def test_serial_port_that_does_not_exist_is_offline(tmp_path):
    printer = TicketPrinter(serial_settings(str(tmp_path / "ttyUSB9")), name="kiosk-1")
    with pytest.raises(PrinterError) as err:
        printer.print_ticket(make_ticket(), SITE, QR_TEXT)
    assert err.value.code == "offline"


# -- network, file and USB -----------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_network_printer_that_refuses_is_offline():
    port = free_port()             # nothing listens there: the connection is refused
    printer = TicketPrinter(PrinterSettings(kind="network", host="127.0.0.1", tcp_port=port,
                                            timeout_s=1.0), name="kiosk-1")
    with pytest.raises(PrinterError) as err:
        printer.print_ticket(make_ticket(), SITE, QR_TEXT)
    assert err.value.code == "offline"
    assert "kiosk-1" in err.value.message_en and "network" in err.value.message_en


def test_network_printer_receives_the_job():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    received = bytearray()

    def serve():
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                received.extend(chunk)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        printer = TicketPrinter(PrinterSettings(kind="network", host="127.0.0.1", tcp_port=port,
                                                width_px=384), name="kiosk-1")
        assert printer.print_ticket(make_ticket(), SITE, QR_TEXT).paper == "unknown"
        thread.join(5)          # the printer closed the connection after the job
    finally:
        server.close()
    assert not thread.is_alive()
    assert bytes(received).startswith(INIT) and bytes(received).endswith(CUT)
    assert same_pixels(decode_raster(bytes(received)),
                       render_ticket(make_ticket(), SITE, QR_TEXT, 384))


def test_file_printer_appends_jobs(tmp_path):
    # kiosk-1 of the sample site prints to a file; here the file is in tmp_path
    settings = load_site(EXAMPLE).device("kiosk-1").printer
    assert settings.kind == "file"
    spool = tmp_path / "kiosk-1-printer.bin"
    printer = TicketPrinter(replace(settings, port=str(spool)), name="kiosk-1")
    printer.print_ticket(make_ticket(), SITE, QR_TEXT)
    printer.print_checklist(PROCEDURE, SITE)
    data = spool.read_bytes()
    assert data.count(INIT) == 2 and data.count(CUT) == 2
    missing = TicketPrinter(PrinterSettings(kind="file", port=str(tmp_path / "no" / "lp0")))
    with pytest.raises(PrinterError) as err:
        missing.print_ticket(make_ticket(), SITE, QR_TEXT)
    assert err.value.code == "offline"


def test_absent_usb_printer_is_offline():
    # no such device here, whether or not pyusb is installed
    printer = TicketPrinter(PrinterSettings(kind="usb", usb_vendor=0x0416, usb_product=0x5011),
                            name="kiosk-1")
    with pytest.raises(PrinterError) as err:
        printer.print_ticket(make_ticket(), SITE, QR_TEXT)
    assert err.value.code == "offline"

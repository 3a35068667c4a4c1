"""The ticket printer: an ESC/POS thermal printer driven by python-escpos.

Vietnamese is never sent as text. Python's cp1258 codec cannot encode several
Vietnamese letters and many printers do not compose combining marks, so every
ticket and checklist is laid out and rendered here as a black-and-white image
with a font that covers Vietnamese (Roboto, hardware/fonts/) and printed as a
raster image (GS v 0), which every common ESC/POS printer understands.

Layout is pure: `ticket_lines` / `checklist_lines` turn the data into styled
lines of text, `render_lines` turns lines into a PIL image. `TicketPrinter` is
a thin shell that opens the printer, asks its paper sensor where the connection
can answer (serial, USB), sends the image, feeds and cuts. Every failure
becomes a `PrinterError` with a stable `code`, a message for the citizen in
Vietnamese and one for staff in English that says what to do.

Printing happens after the ticket was issued, and it may take seconds (a serial
printer at 19200 baud needs about a minute for a long image): call the print
methods from a worker thread, and keep the number on screen whatever happens.
"""
from __future__ import annotations

import logging
import math
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from motcua.resources import package_path
from typing import Iterable
from zoneinfo import ZoneInfo

import qrcode
from PIL import Image, ImageDraw, ImageFont

from motcua.config import PrinterSettings

log = logging.getLogger(__name__)

FONT_DIR = package_path("motcua.hardware", "fonts")
FONT_REGULAR = FONT_DIR / "Roboto-Regular.ttf"
FONT_BOLD = FONT_DIR / "Roboto-Bold.ttf"

# Letters that reach highest and lowest in Vietnamese: every line gets at least
# this much room above and below its baseline, so stacked marks on capitals
# (Ấ, Ở, Ỗ) and dots below (Ậ, ự) are never clipped and spacing is even.
_PROBE = "ẤỞỖẪÁÀỶgjpqyẬỰỵ|"

# ESC/POS bytes we rely on (the same values as escpos.constants).
INIT = b"\x1b@"
RASTER = b"\x1dv0"
STATUS_PAPER_QUERY = b"\x10\x04\x04"   # DLE EOT 4: roll paper sensor status
FRAGMENT_ROWS = 480        # rows per GS v 0 command: small enough for cheap printers' buffers
_WRITE_CHUNK = 1024        # bytes per write, so a stalled printer is noticed within timeout_s


# -- layout model ----------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One paragraph of a printout: its text and a style name from STYLES
    ("rule", "gap" and "qr" are drawn, not written; for "qr" the text is the
    QR code's content)."""
    text: str
    style: str


@dataclass(frozen=True)
class Style:
    size: int            # font size in pixels on 576-pixel paper; scaled for others
    bold: bool = False
    align: str = "center"  # center | left
    inverted: bool = False  # white on a black band
    box: bool = False       # a check box before the first line (checklists)
    indent: int = 0         # left indent in pixels on 576-pixel paper


STYLES: dict[str, Style] = {
    "title": Style(30, bold=True),
    "heading": Style(30, bold=True),
    "caption": Style(22),
    "service": Style(42, bold=True),
    "service_en": Style(24),
    "priority": Style(30, bold=True, inverted=True),
    "info": Style(28),
    "info_bold": Style(28, bold=True),
    "en": Style(22),
    "small": Style(22),
    "name": Style(34, bold=True, align="left"),
    "meta": Style(22, align="left"),
    "section": Style(28, bold=True, align="left"),
    "item": Style(26, bold=True, align="left", box=True, indent=40),
    "item_detail": Style(24, align="left", indent=40),
    "detail": Style(26, align="left"),
}

_ORIGINAL_OR_COPY = {
    "ban_chinh": ("Bản chính", "original"),
    "ban_sao": ("Bản sao", "copy"),
    "ban_chinh_hoac_ban_sao": ("Bản chính hoặc bản sao", "original or copy"),
}


def _nfc(text: object) -> str:
    """Precomposed text: a decomposed (NFD) letter would be drawn as a base and
    a floating mark."""
    return unicodedata.normalize("NFC", str(text)).strip()


def _local_time(issued_at: str, tz: str) -> datetime:
    dt = datetime.fromisoformat(issued_at)
    if dt.tzinfo is None:       # the centre stores UTC; a naive time is UTC too
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(ZoneInfo(tz))


def wait_text(seconds: float | None) -> tuple[str, str] | None:
    """The estimated wait in words, Vietnamese and English, rounded up to a minute."""
    if seconds is None:
        return None
    if seconds <= 0:
        return "sắp đến lượt bạn", "you are next"
    minutes = max(1, math.ceil(seconds / 60))
    if minutes < 60:
        return f"khoảng {minutes} phút", f"about {minutes} min"
    hours, rest = divmod(minutes, 60)
    if rest == 0:
        return f"khoảng {hours} giờ", f"about {hours} h"
    return f"khoảng {hours} giờ {rest} phút", f"about {hours} h {rest} min"


def counters_text(counters: Iterable) -> str | None:
    """"Quầy 1, 2, 4" from [1, 2, 4]; None when no counter serves the service."""
    numbers = [str(c) for c in counters or ()]
    if not numbers:
        return None
    return "Quầy " + ", ".join(numbers)


def ticket_lines(ticket: dict, site_name: str, qr_text: str, tz: str = "Asia/Ho_Chi_Minh",
                 priority_label: str | None = None) -> list[Line]:
    """What a queue ticket says, line by line (the ticket dict is protocol.ticket_view)."""
    lines = [Line(_nfc(site_name), "title"), Line("", "rule"),
             Line("SỐ THỨ TỰ CỦA BẠN  ·  YOUR NUMBER", "caption"),
             Line(_nfc(ticket["ticket"]), "number")]
    if ticket.get("service_name_vi"):
        lines.append(Line(_nfc(ticket["service_name_vi"]), "service"))
    if ticket.get("service_name_en"):
        lines.append(Line(_nfc(ticket["service_name_en"]), "service_en"))
    if ticket.get("priority") or priority_label:
        label = _nfc(priority_label) if priority_label else ""
        lines.append(Line(f"ƯU TIÊN: {label}" if label else "ƯU TIÊN", "priority"))
    lines.append(Line("", "rule"))

    english = []
    ahead = ticket.get("people_ahead")
    if ahead is not None:
        lines.append(Line(f"Số người chờ trước bạn: {int(ahead)}", "info_bold"))
        english.append(f"{int(ahead)} ahead of you")
    wait = wait_text(ticket.get("estimated_wait_s"))
    if wait:
        lines.append(Line(f"Thời gian chờ dự kiến: {wait[0]}", "info"))
        english.append(f"wait {wait[1]}")
    counters = counters_text(ticket.get("counters"))
    if counters:
        lines.append(Line(f"Phục vụ tại: {counters}", "info"))
        english.append("counter" + ("s " if len(ticket["counters"]) > 1 else " ")
                       + ", ".join(str(c) for c in ticket["counters"]))
    if english:
        text = " · ".join(english)
        lines.append(Line(text[0].upper() + text[1:], "en"))
    if ticket.get("issued_at"):
        when = _local_time(ticket["issued_at"], tz)
        lines.append(Line(f"Lấy số lúc {when:%H:%M} ngày {when:%d/%m/%Y}", "info"))
    lines += [Line("", "rule"), Line(qr_text, "qr"),
              Line("Quét mã tại ki-ốt để xem lượt của bạn", "small"),
              Line("Scan this code at the kiosk to see your turn", "en")]
    return lines


def _channel_key(name: object) -> str:
    text = unicodedata.normalize("NFD", str(name or "")).replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return "_".join(text.replace("-", " ").split())


def _fee_text(fee: object) -> str:
    if fee is None or (isinstance(fee, str) and not fee.strip()):
        return "Không thu"
    if isinstance(fee, bool):
        return "Có" if fee else "Không thu"
    if isinstance(fee, (int, float)):
        return "Miễn phí" if fee == 0 else f"{fee:,.0f}đ".replace(",", ".")
    return _nfc(fee)


def checklist_lines(procedure: dict, site_name: str) -> list[Line]:
    """What a procedure's checklist says, line by line: the documents to bring
    and, for filing in person (trực tiếp), the time limit and the fee."""
    lines = [Line(_nfc(site_name), "title"), Line("", "rule"),
             Line("GIẤY TỜ CẦN CHUẨN BỊ", "heading"),
             Line("Documents to bring", "en"), Line("", "gap"),
             Line(_nfc(procedure.get("name", "")), "name")]
    meta = []
    if procedure.get("code"):
        meta.append(f"Mã thủ tục: {_nfc(procedure['code'])}")
    if procedure.get("field"):
        meta.append(f"Lĩnh vực: {_nfc(procedure['field'])}")
    if meta:
        lines.append(Line(" · ".join(meta), "meta"))
    if procedure.get("agency"):
        lines.append(Line(f"Cơ quan thực hiện: {_nfc(procedure['agency'])}", "meta"))
    lines.append(Line("", "rule"))

    documents = procedure.get("documents") or []
    if not documents:
        lines.append(Line("Không yêu cầu giấy tờ.", "detail"))
    for i, doc in enumerate(documents, 1):
        lines.append(Line(f"{i}. {_nfc(doc.get('name', ''))}", "item"))
        kind = _ORIGINAL_OR_COPY.get(doc.get("original_or_copy"))
        detail = [kind[0]] if kind else []
        count = doc.get("count")
        if count not in (None, ""):
            detail.append(f"Số lượng: {_nfc(count)}")
        if doc.get("form"):
            detail.append(f"Mẫu: {_nfc(doc['form'])}")
        if detail:
            lines.append(Line(" · ".join(detail), "item_detail"))

    channels = procedure.get("channels") or []
    direct = next((c for c in channels if _channel_key(c.get("channel")) == "truc_tiep"), None)
    lines.append(Line("", "rule"))
    lines.append(Line("Nộp trực tiếp", "section"))
    if direct is None:
        lines.append(Line("Thủ tục này không nhận hồ sơ trực tiếp.", "detail"))
    else:
        if direct.get("time_limit"):
            lines.append(Line(f"Thời hạn giải quyết: {_nfc(direct['time_limit'])}", "detail"))
        lines.append(Line(f"Phí, lệ phí: {_fee_text(direct.get('fee'))}", "detail"))
        if direct.get("notes"):
            lines.append(Line(f"Ghi chú: {_nfc(direct['notes'])}", "detail"))
    lines += [Line("", "rule"),
              Line("Danh mục để tham khảo; cán bộ tiếp nhận sẽ hướng dẫn thêm.", "small")]
    return lines


# -- rendering -------------------------------------------------------------------

@lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_BOLD if bold else FONT_REGULAR), size)


def _wrap(text: str, f: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap by measured width; a word wider than the line is cut."""
    out: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if f.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                out.append(line)
            while f.getlength(word) > width:       # an over-long word (a URL, a code)
                cut = len(word)
                while cut > 1 and f.getlength(word[:cut]) > width:
                    cut -= 1
                out.append(word[:cut])
                word = word[cut:]
            line = word
        out.append(line)
    return out


def text_block(text: str, f: ImageFont.FreeTypeFont, width: int, align: str = "center",
               indent: int = 0, inverted: bool = False, pad: int = 0) -> Image.Image:
    """Wrapped text as an "L" image `width` wide, every line with the room that
    the tallest Vietnamese letters need, so no mark is clipped."""
    probe = f.getbbox(_PROBE, anchor="ls")
    room = width - indent - 2 * pad
    rows = _wrap(text, f, room)
    if align == "center" and len(rows) > 1:
        # Balance centred lines ("Bảo trợ xã hội và / người có công", not a lone
        # last word): the narrowest width that needs no more lines.
        low, high = room // 2, room
        while low < high:
            mid = (low + high) // 2
            if len(_wrap(text, f, mid)) <= len(rows):
                high = mid
            else:
                low = mid + 1
        rows = _wrap(text, f, high)
    lead = max(2, round(f.size * 0.12))
    heights = []
    for row in rows:
        box = f.getbbox(row, anchor="ls") if row else probe
        heights.append((max(-probe[1], -box[1]) + 1, max(probe[3], box[3]) + 1))
    total = sum(a + d for a, d in heights) + lead * (len(rows) - 1) + 2 * pad
    ink, paper = (255, 0) if inverted else (0, 255)
    img = Image.new("L", (width, total), paper)
    draw = ImageDraw.Draw(img)
    y = pad
    for row, (ascent, descent) in zip(rows, heights):
        if align == "center":
            x = (width - f.getlength(row)) / 2
        else:
            x = indent + pad
        draw.text((x, y + ascent), row, font=f, fill=ink, anchor="ls")
        y += ascent + descent + lead
    return img


def _number_block(label: str, width: int, scale: float) -> Image.Image:
    """The ticket number as big as the paper allows (cap height about 30 % of the width)."""
    target = 0.30 * width
    size = max(10, round(target / 0.71))       # Roboto's cap height is 0.71 em
    f = font(size, True)
    while size > 10 and f.getlength(label) > width:
        size -= 2
        f = font(size, True)
    left, top, right, bottom = f.getbbox(label, anchor="ls")
    pad = round(10 * scale)
    img = Image.new("L", (width, bottom - top + 2 * pad), 255)
    ImageDraw.Draw(img).text(((width - (right - left)) / 2 - left, pad - top), label,
                             font=f, fill=0, anchor="ls")
    return img


def qr_image(text: str, max_px: int) -> Image.Image:
    """The QR code of `text` with its quiet zone (4 modules), whole pixels per module."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    n = len(matrix)
    box = max(1, max_px // n)
    img = Image.new("L", (n, n), 255)
    img.putdata([0 if cell else 255 for row in matrix for cell in row])
    return img.resize((n * box, n * box), Image.NEAREST)


def render_lines(lines: list[Line], width_px: int) -> Image.Image:
    """Draw styled lines on a strip of paper `width_px` wide; returns a mode "1" image."""
    if width_px < 160:
        raise ValueError(f"width_px {width_px} is too narrow for a ticket")
    scale = width_px / 576
    margin = max(4, round(12 * scale))
    inner = width_px - 2 * margin
    blocks: list[tuple[Image.Image, int]] = []   # (block, space after)
    for line in lines:
        if line.style == "rule":
            h = max(2, round(3 * scale))
            rule = Image.new("L", (inner, h + 2 * round(10 * scale)), 255)
            ImageDraw.Draw(rule).rectangle((0, round(10 * scale), inner - 1,
                                            round(10 * scale) + h - 1), fill=0)
            blocks.append((rule, 0))
        elif line.style == "gap":
            blocks.append((Image.new("L", (inner, round(12 * scale)), 255), 0))
        elif line.style == "number":
            blocks.append((_number_block(line.text, inner, scale), round(4 * scale)))
        elif line.style == "qr":
            code = qr_image(line.text, round(inner * 0.5))
            holder = Image.new("L", (inner, code.height), 255)
            holder.paste(code, ((inner - code.width) // 2, 0))
            blocks.append((holder, 0))
        else:
            style = STYLES[line.style]
            f = font(max(16, round(style.size * scale)), style.bold)
            indent = round(style.indent * scale)
            pad = round(8 * scale) if style.inverted else 0
            block = text_block(line.text, f, inner, style.align, indent, style.inverted, pad)
            if style.box:
                side = round(f.size * 0.8)
                top = max(0, round(f.getbbox(_PROBE, anchor="ls")[1] * -1 - f.size * 0.72))
                ImageDraw.Draw(block).rectangle(
                    (0, top, side, top + side), outline=0, width=max(2, round(2 * scale)))
            blocks.append((block, round(style.size * scale * 0.3)))
    top = margin
    height = top + sum(b.height + after for b, after in blocks) + margin
    page = Image.new("L", (width_px, height), 255)
    y = top
    for block, after in blocks:
        page.paste(block, (margin, y))
        y += block.height + after
    # A hard threshold, not dithering: text edges stay crisp on a thermal head.
    return page.point(lambda v: 255 if v >= 128 else 0, mode="1")


def render_ticket(ticket: dict, site_name: str, qr_text: str, width_px: int,
                  tz: str = "Asia/Ho_Chi_Minh", priority_label: str | None = None) -> Image.Image:
    """A queue ticket as a black-and-white image `width_px` wide (576 for 80 mm paper)."""
    return render_lines(ticket_lines(ticket, site_name, qr_text, tz, priority_label), width_px)


def render_checklist(procedure: dict, site_name: str, width_px: int) -> Image.Image:
    """A procedure's list of documents to bring, fee and time limit, as an image."""
    return render_lines(checklist_lines(procedure, site_name), width_px)


# -- errors ----------------------------------------------------------------------

_MESSAGES = {
    "paper_out": ("Máy in hết giấy. Vui lòng ghi nhớ số của quý khách trên màn hình.",
                  "Printer {name} is out of paper: load a new roll."),
    "paper_low": ("",
                  "Printer {name} is nearly out of paper: change the roll soon."),
    "offline": ("Máy in đang không hoạt động. Vui lòng ghi nhớ số của quý khách trên màn hình.",
                "Printer {name} does not answer{detail}: check that it is switched on "
                "and its cable or network is connected, then try again."),
    "error": ("Không in được phiếu. Vui lòng ghi nhớ số của quý khách trên màn hình.",
              "Printer {name} failed while printing{detail}: check for a paper jam or an "
              "open cover, then try again."),
}


class PrinterError(Exception):
    """Nothing (or not all) was printed. `code` is stable: paper_out, offline or error.
    `message_vi` is for the citizen, `message_en` tells staff what to do."""

    def __init__(self, code: str, printer: str = "printer", detail: str = ""):
        self.code = code
        self.printer = printer
        self.detail = detail
        vi, en = _MESSAGES[code]
        self.message_vi = vi
        self.message_en = en.format(name=printer, detail=f" ({detail})" if detail else "")
        super().__init__(self.message_en)


@dataclass(frozen=True)
class PrintResult:
    """A finished print job. `paper` is "ok", "low" (printed, but warn staff:
    `warning` says what to do) or "unknown" (this connection cannot tell)."""
    paper: str
    warning: str | None = None


def paper_state(status: int) -> str | None:
    """Read the reply to DLE EOT 4 (as python-escpos does in paper_status):
    bits 5-6 set = roll paper end, bits 2-3 = near end. Returns "out", "low",
    "ok", or None when the byte is not a status reply (bits 1 and 4 are always
    1, bits 0 and 7 always 0)."""
    if status & 0x93 != 0x12:
        return None
    if status & 0x60:
        return "out"
    if status & 0x0C:
        return "low"
    return "ok"


# -- the printer -----------------------------------------------------------------

def _chunked(send, msg: bytes) -> None:
    for i in range(0, len(msg), _WRITE_CHUNK):
        send(msg[i:i + _WRITE_CHUNK])


def _printer_classes():
    """escpos printer classes that write in chunks with a time limit, so a printer
    that stops taking data is reported instead of hanging the kiosk."""
    from escpos.printer import File, Network, Serial

    class TimedSerial(Serial):
        def __init__(self, *args, write_timeout: float = 3.0, **kwargs):
            super().__init__(*args, **kwargs)
            self.write_timeout = write_timeout

        def open(self, raise_not_found: bool = True) -> None:
            super().open(raise_not_found)
            if self._device:
                self._device.write_timeout = self.write_timeout

        def _raw(self, msg: bytes) -> None:
            _chunked(self.device.write, msg)
            self.device.flush()

    class TimedNetwork(Network):
        def _raw(self, msg: bytes) -> None:
            _chunked(self.device.sendall, msg)

    class AppendFile(File):
        """A device node or a spool file: appended to, never truncated."""

        def open(self, raise_not_found: bool = True) -> None:
            from escpos.exceptions import DeviceNotFoundError
            if self._device:
                self.close()
            try:
                self.device = open(self.devfile, "ab")
            except OSError as e:
                self.device = None
                if raise_not_found:
                    raise DeviceNotFoundError(f"Could not open {self.devfile}: {e}")

    return TimedSerial, TimedNetwork, AppendFile


class TicketPrinter:
    """One ESC/POS printer. Give it the site's PrinterSettings, or an escpos
    printer object that is already made (`device=`, e.g. escpos.printer.Dummy).
    `name` (the kiosk's id) goes into the staff messages.

    Serial and USB connections stay open between jobs and are reopened after a
    failure; network and file connections are opened for each job."""

    def __init__(self, settings: PrinterSettings | None = None, device=None, *,
                 name: str = "printer", check_paper: bool | None = None):
        if settings is None and device is None:
            raise ValueError("TicketPrinter needs PrinterSettings or an escpos device")
        if settings is not None and settings.kind not in ("usb", "serial", "network", "file"):
            raise ValueError(f"unknown printer kind {settings.kind!r}")
        self.settings = settings
        self.name = name
        self.width_px = settings.width_px if settings else 576
        self._given = device
        self._printer = device
        self._check = check_paper
        self._lock = threading.Lock()

    # -- connection ---------------------------------------------------------
    @property
    def kind(self) -> str:
        if self.settings is not None and self._given is None:
            return self.settings.kind
        from escpos.printer import Serial, Usb
        if isinstance(self._given, Serial):
            return "serial"
        if isinstance(self._given, Usb):
            return "usb"
        return "device"

    def _make(self):
        s = self.settings
        serial_cls, network_cls, file_cls = _printer_classes()
        if s.kind == "serial":
            if not s.port:
                raise PrinterError("offline", self.name, "no serial port configured")
            return serial_cls(devfile=s.port, baudrate=s.baudrate, timeout=s.timeout_s,
                              write_timeout=s.timeout_s)
        if s.kind == "network":
            if not s.host:
                raise PrinterError("offline", self.name, "no host configured")
            return network_cls(host=s.host, port=s.tcp_port, timeout=s.timeout_s)
        if s.kind == "file":
            if not s.port:
                raise PrinterError("offline", self.name, "no file or device path configured")
            return file_cls(devfile=s.port)
        from escpos.printer import Usb
        if not Usb.is_usable():
            # checked first: a Usb object made without pyusb fails again when collected
            raise PrinterError("offline", self.name, "USB printing needs pyusb and libusb: "
                               "pip install 'python-escpos[usb]', apt-get install libusb-1.0-0")
        return Usb(idVendor=s.usb_vendor, idProduct=s.usb_product,
                   timeout=int(s.timeout_s * 1000))

    def _open(self):
        if self._printer is None:
            self._printer = self._make()
        p = self._printer
        if self._given is None:
            try:
                p.open()
            except PrinterError:
                raise
            except Exception as exc:   # DeviceNotFoundError, OSError, RuntimeError (no pyusb)
                self._printer = None
                raise PrinterError("offline", self.name, _short(exc)) from exc
        _set_width(p, self.width_px)
        return p

    def _release(self, failed: bool) -> None:
        """Close after a job: always for network and file, after a failure for the rest."""
        if self._given is not None or self._printer is None:
            return
        if failed or self.settings.kind in ("network", "file"):
            try:
                self._printer.close()
            except Exception:       # closing a dead port can fail too; it is closed either way
                log.debug("closing printer %s failed", self.name, exc_info=True)
            self._printer = None

    def close(self) -> None:
        with self._lock:
            if self._printer is not None:
                try:
                    self._printer.close()
                finally:
                    if self._given is None:
                        self._printer = None

    # -- status -------------------------------------------------------------
    def _should_check(self) -> bool:
        if self._check is not None:
            return self._check
        return self.kind in ("serial", "usb")

    def _query_paper(self, p) -> str:
        """Ask the paper sensor (DLE EOT 4) and read one byte. python-escpos's own
        paper_status() reads up to 16 bytes (a serial read then always waits the
        whole timeout) and takes no answer for "paper present": here no answer
        means the printer is offline."""
        from escpos.printer import Serial, Usb
        if isinstance(p, Serial):
            port = p.device
            port.reset_input_buffer()      # a late answer to an earlier query
            port.write(STATUS_PAPER_QUERY)
            port.flush()
            reply = port.read(1)
        elif isinstance(p, Usb):
            p._raw(STATUS_PAPER_QUERY)
            timeout_ms = int((self.settings.timeout_s if self.settings else 3.0) * 1000)
            reply = bytes(p.device.read(p.in_ep, 16, timeout_ms))
        else:
            reply = p.query_status(STATUS_PAPER_QUERY)
        if not reply:
            raise PrinterError("offline", self.name, "no answer to the paper status query")
        state = paper_state(reply[0])
        if state is None:
            log.warning("printer %s: unexpected status reply %r; printing anyway", self.name, reply)
            return "unknown"
        return state

    def paper(self) -> str:
        """The paper sensor now: "ok", "low", "out" or "unknown"; raises
        PrinterError("offline") when the printer does not answer."""
        with self._lock:
            p = self._open()
            failed = True
            try:
                state = self._query_paper(p) if self._should_check() else "unknown"
                failed = False
                return state
            except PrinterError:
                raise
            except Exception as exc:
                raise PrinterError("offline", self.name, _short(exc)) from exc
            finally:
                self._release(failed)

    # -- printing -----------------------------------------------------------
    def print_image(self, img: Image.Image) -> PrintResult:
        """Initialise, check the paper (serial, USB), print `img` as raster image
        (GS v 0), feed and cut. Raises PrinterError; never prints half a job
        because of paper that is known to be out."""
        if img.width > self.width_px:
            raise PrinterError("error", self.name,
                               f"image is {img.width} px wide, the paper {self.width_px} px")
        with self._lock:
            p = self._open()
            failed = True
            try:
                paper = "unknown"
                if self._should_check():
                    paper = self._query_paper(p)
                    if paper == "out":
                        raise PrinterError("paper_out", self.name)
                p.hw("INIT")
                p.image(img, impl="bitImageRaster", fragment_height=FRAGMENT_ROWS)
                p.cut()
                failed = False
            except PrinterError:
                raise
            except OSError as exc:    # serial, socket and USB errors, write time-outs
                raise PrinterError("offline", self.name, _short(exc)) from exc
            except Exception as exc:
                raise PrinterError("error", self.name, _short(exc)) from exc
            finally:
                self._release(failed)
        if paper == "low":
            log.warning("printer %s: paper near end", self.name)
            return PrintResult("low", _MESSAGES["paper_low"][1].format(name=self.name))
        return PrintResult(paper)

    def print_ticket(self, ticket: dict, site_name: str, qr_text: str,
                     tz: str = "Asia/Ho_Chi_Minh", priority_label: str | None = None) -> PrintResult:
        return self.print_image(render_ticket(ticket, site_name, qr_text, self.width_px,
                                              tz, priority_label))

    def print_checklist(self, procedure: dict, site_name: str) -> PrintResult:
        return self.print_image(render_checklist(procedure, site_name, self.width_px))


def _set_width(p, width_px: int) -> None:
    """Tell python-escpos the paper width when its profile does not know it
    (it would otherwise print a warning to stdout on every image)."""
    profile = getattr(p, "profile", None)
    data = getattr(profile, "profile_data", None)
    if not data:
        return
    try:
        if data["media"]["width"]["pixels"] != "Unknown":
            return
    except (KeyError, TypeError):
        return
    import copy
    data = copy.deepcopy(data)       # the profile's data may be shared between printers
    data["media"]["width"]["pixels"] = width_px
    profile.profile_data = data


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    return text if len(text) <= 160 else text[:157] + "..."

"""The receipt: Giấy tiếp nhận hồ sơ và hẹn trả kết quả (mẫu số 01, Phụ lục I,
Thông tư 03/2025/TT-VPCP), with the dossier's QR code and lookup code.

A PDF (fpdf2) with the text as real text: the DejaVu Sans font shipped in
motcua/fonts/ is embedded (subset), so every Vietnamese letter prints and can
be searched and copied. The QR code is drawn as vector squares, sharp at any
printer resolution. A PNG can be rendered from the PDF too (needs pypdfium2).

The receipt is the citizen's own paper: it carries the full name, never the ID
number (the centre does not keep it).
"""
from __future__ import annotations

import unicodedata
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import qrcode
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from .config import DossierSettings
from .dossiers import DEFAULT_TIMEZONE, Dossier, lookup_code, qr_text

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
FORM_NAME = "Mẫu số 01 – Phụ lục I, Thông tư 03/2025/TT-VPCP"
TITLE = "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ"


def _nfc(text: str) -> str:
    # Precomposed letters use the font's own glyphs: no stacking of combining
    # marks by the PDF viewer, and extracted text compares equal.
    return unicodedata.normalize("NFC", text)


def vn_date(d: date) -> str:
    """'ngày 05 tháng 01 năm 2027': day below 10 and months 1-2 get a leading
    zero, as Vietnamese administrative documents write dates."""
    month = f"{d.month:02d}" if d.month < 3 else str(d.month)
    return f"ngày {d.day:02d} tháng {month} năm {d.year}"


def vn_time(dt: datetime) -> str:
    return f"{dt.hour:02d} giờ {dt.minute:02d} phút, {vn_date(dt.date())}"


class _Receipt(FPDF):
    def __init__(self):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_margins(20, 15, 15)
        self.set_auto_page_break(True, margin=15)
        self.add_font("DejaVu", "", str(FONT_REGULAR))
        self.add_font("DejaVu", "B", str(FONT_BOLD))

    def font(self, size: float, bold: bool = False) -> None:
        self.set_font("DejaVu", "B" if bold else "", size)

    def line_of(self, text: str, size: float = 11, bold: bool = False, align: str = "L",
                h: float = 6.2, w: float = 0, x: float | None = None) -> None:
        self.font(size, bold)
        if x is not None:
            self.set_x(x)
        self.multi_cell(w, h, _nfc(text), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def labelled(self, label: str, value: str, size: float = 11) -> None:
        """'Label: value' with the label regular and the value bold, wrapping."""
        self.font(size)
        self.multi_cell(0, 6.2, _nfc(f"{label} **{value}**"), markdown=True, align="L",
                        new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def qr(self, text: str, x: float, y: float, size: float) -> None:
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
        code.add_data(text)
        code.make(fit=True)
        matrix = code.get_matrix()
        module = size / len(matrix)
        self.set_fill_color(0, 0, 0)
        for r, row in enumerate(matrix):
            c = 0
            while c < len(row):
                if row[c]:
                    start = c
                    while c < len(row) and row[c]:
                        c += 1
                    # One rectangle per run of dark modules, slightly overlapping
                    # vertically so no hairline gaps show between rows.
                    self.rect(x + start * module, y + r * module, (c - start) * module,
                              module + 0.01, style="F")
                else:
                    c += 1


def render_receipt(dossier: Dossier, site_name: str, out_path: str | Path,
                   settings: DossierSettings, *, png_path: str | Path | None = None,
                   documents: list[str] | None = None, officer: str = "",
                   timezone: str = DEFAULT_TIMEZONE, dpi: int = 150) -> Path:
    """Write the receipt PDF to out_path (and a PNG of it to png_path, if given).
    `documents` overrides the dossier's list of documents received."""
    tz = ZoneInfo(timezone)
    received = dossier.received_at.astimezone(tz)
    documents = list(dossier.documents if documents is None else documents)
    lookup = lookup_code(dossier.code, settings)
    payload = qr_text(dossier.code, settings)

    pdf = _Receipt()
    pdf.set_title(_nfc(f"{TITLE} {dossier.code}"))
    pdf.set_creator("motcua")
    pdf.set_creation_date(received)  # the same dossier gives the same file
    pdf.add_page()
    left_w, right_x = 80.0, 100.0
    right_w = pdf.w - pdf.r_margin - right_x

    # Heading: the receiving body on the left, the national motto on the right.
    pdf.set_xy(pdf.l_margin, 10)
    pdf.font(7.5)
    pdf.cell(0, 4, _nfc(FORM_NAME), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    top = pdf.get_y() + 1
    pdf.set_xy(pdf.l_margin - 5, top)
    pdf.font(10.5, bold=True)
    pdf.multi_cell(left_w + 5, 5.2, _nfc(site_name.upper()), align="C",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_bottom = pdf.get_y()
    mid = pdf.l_margin - 5 + (left_w + 5) / 2
    pdf.line(mid - 15, left_bottom + 1, mid + 15, left_bottom + 1)
    pdf.set_xy(right_x, top)
    pdf.font(10.5, bold=True)
    pdf.cell(right_w, 5.2, _nfc("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"), align="C",
             new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.font(11, bold=True)
    pdf.cell(right_w, 5.6, _nfc("Độc lập - Tự do - Hạnh phúc"), align="C",
             new_x=XPos.LEFT, new_y=YPos.NEXT)
    rmid = right_x + right_w / 2
    pdf.line(rmid - 24, pdf.get_y() + 1.2, rmid + 24, pdf.get_y() + 1.2)
    pdf.set_xy(right_x, max(pdf.get_y(), left_bottom) + 3)
    pdf.font(10.5)
    pdf.cell(right_w, 5, _nfc(vn_date(received.date()).capitalize()), align="C")

    # Title and dossier code.
    pdf.set_xy(pdf.l_margin, pdf.get_y() + 12)
    pdf.line_of(TITLE, size=14, bold=True, align="C", h=7)
    pdf.line_of(f"Mã hồ sơ: {dossier.code}", size=12, bold=True, align="C", h=7)
    pdf.ln(4)

    # Body: what was received from whom, and when the result is due.
    pdf.labelled("Tiếp nhận hồ sơ của: Ông/Bà", dossier.applicant_name)
    pdf.labelled("Nội dung yêu cầu giải quyết:",
                 f"{dossier.procedure_name} (mã thủ tục {dossier.procedure_code})")
    if dossier.field:
        pdf.labelled("Lĩnh vực:", dossier.field)
    n = 1
    if documents:
        pdf.line_of(f"{n}. Thành phần hồ sơ nộp gồm:")
        for i, doc in enumerate(documents, 1):
            pdf.set_x(pdf.l_margin + 6)
            pdf.font(11)
            pdf.multi_cell(0, 6.2, _nfc(f"{i}) {doc}"), align="L",
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        n += 1
    pdf.labelled(f"{n}. Thời gian nhận hồ sơ:", vn_time(received))
    n += 1
    pdf.labelled(f"{n}. Thời gian trả kết quả giải quyết hồ sơ:", vn_date(dossier.due_at))
    n += 1
    pdf.line_of(f"{n}. Khi đến nhận kết quả, Ông/Bà mang theo Giấy tiếp nhận này.")
    pdf.ln(5)

    # The box a citizen uses at the kiosk: QR code, lookup code and how to use them.
    box_y = pdf.get_y()
    box_h = 52.0
    if box_y + box_h > pdf.h - 62:  # keep room for the signatures on this page
        pdf.add_page()
        box_y = pdf.t_margin
    box_x, box_w = pdf.l_margin, pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.4)
    pdf.rect(box_x, box_y, box_w, box_h)
    pdf.set_line_width(0.2)
    qr_size = 40.0
    pdf.qr(payload, box_x + 6, box_y + 6, qr_size)
    text_x = box_x + 6 + qr_size + 8
    text_w = box_x + box_w - text_x - 5
    pdf.set_xy(text_x, box_y + 5)
    pdf.font(11, bold=True)
    pdf.cell(text_w, 6, _nfc("Mã tra cứu"), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.font(26, bold=True)
    pdf.cell(text_w, 13, lookup, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.font(9.5)
    pdf.multi_cell(text_w, 4.8, _nfc(
        "Quét mã QR tại ki-ốt của Trung tâm để xem hồ sơ đang được giải quyết đến đâu. "
        "Nếu không quét được, nhập mã hồ sơ và mã tra cứu. Không đưa mã tra cứu cho người khác."),
        align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.font(8.5)
    pdf.multi_cell(text_w, 4.2, "Scan the QR code at the centre's kiosk to see where your dossier "
                   "is, or type the dossier code and the lookup code.", align="L",
                   new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(pdf.l_margin, box_y + box_h + 8)

    # Signatures.
    col_w = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    y = pdf.get_y()
    for i, (who, name) in enumerate((("NGƯỜI NỘP HỒ SƠ", dossier.applicant_name),
                                     ("NGƯỜI TIẾP NHẬN HỒ SƠ", officer))):
        x = pdf.l_margin + i * col_w
        pdf.set_xy(x, y)
        pdf.font(10.5, bold=True)
        pdf.cell(col_w, 5.5, _nfc(who), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.font(9.5)
        pdf.cell(col_w, 5, _nfc("(Ký và ghi rõ họ tên)"), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        if name:
            pdf.set_xy(x, y + 30)
            pdf.font(10.5, bold=True)
            pdf.cell(col_w, 5.5, _nfc(name), align="C")

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out_path))
    if png_path is not None:
        receipt_png(out_path, png_path, dpi=dpi)
    return out_path


def receipt_png(pdf_path: str | Path, png_path: str | Path, dpi: int = 150) -> Path:
    """Render the receipt's first page to PNG (for a screen, or a printer that
    takes images). Needs pypdfium2."""
    try:
        import pypdfium2
    except ImportError:
        raise RuntimeError("rendering a PNG needs pypdfium2: pip install pypdfium2") from None
    doc = pypdfium2.PdfDocument(str(pdf_path))
    try:
        image = doc[0].render(scale=dpi / 72).to_pil()
    finally:
        doc.close()
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    image.save(png_path)
    return png_path

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

from pathlib import Path
from zoneinfo import ZoneInfo

import qrcode
from fpdf.enums import XPos, YPos

from .config import DossierSettings
from .dossiers import DEFAULT_TIMEZONE, Dossier, lookup_code, qr_text
# The fonts, dates and heading are shared with the apology letter (motcua.pdfdoc);
# the names stay importable from here.
from .pdfdoc import FONT_BOLD, FONT_DIR, FONT_REGULAR, VnDocument, page_png, vn_date, vn_time
from .pdfdoc import nfc as _nfc

FORM_NAME = "Mẫu số 01 – Phụ lục I, Thông tư 03/2025/TT-VPCP"
TITLE = "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ"
__all__ = ["FONT_BOLD", "FONT_DIR", "FONT_REGULAR", "FORM_NAME", "TITLE", "render_receipt",
           "receipt_png", "vn_date", "vn_time"]


class _Receipt(VnDocument):
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
    pdf.national_heading(site_name, vn_date(received.date()).capitalize(), FORM_NAME)

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
    return page_png(pdf_path, png_path, dpi=dpi)

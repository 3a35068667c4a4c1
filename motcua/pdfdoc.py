"""What the centre's printed papers share (fpdf2): the embedded DejaVu fonts,
Vietnamese dates, the national heading, and a PNG of a page.

Papers: the receipt (motcua.receipt, form 01) and the apology letter
(motcua.apology_letter, form 04). Text is real text in the DejaVu Sans fonts
shipped in motcua/fonts/ (embedded, subset), never the PDF core fonts, which
have no Vietnamese letters: every diacritic prints and survives copying and
text extraction.
"""
from __future__ import annotations

import unicodedata
from datetime import date, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from motcua.resources import FONT_DIR  # noqa: E402
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
NATIONAL_NAME = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
NATIONAL_MOTTO = "Độc lập - Tự do - Hạnh phúc"


def nfc(text: str) -> str:
    # Precomposed letters use the font's own glyphs: no stacking of combining
    # marks by the PDF viewer, and extracted text compares equal.
    return unicodedata.normalize("NFC", text)


def md_escape(text: str) -> str:
    """Text for fpdf2's markdown=True: its markers (** __ ~~ --) printed as
    they are. (A `[text](url)` in the text would still become a link.)"""
    text = text.replace("\\", "\\\\")
    for marker in ("**", "__", "~~", "--"):
        text = text.replace(marker, "\\" + marker)
    return text


def vn_date(d: date) -> str:
    """'ngày 05 tháng 01 năm 2027': day below 10 and months 1-2 get a leading
    zero, as Vietnamese administrative documents write dates."""
    month = f"{d.month:02d}" if d.month < 3 else str(d.month)
    return f"ngày {d.day:02d} tháng {month} năm {d.year}"


def vn_time(dt: datetime) -> str:
    return f"{dt.hour:02d} giờ {dt.minute:02d} phút, {vn_date(dt.date())}"


def place_and_date(place: str, d: date) -> str:
    """The date line under the motto: 'Hà Nội, ngày 23 tháng 11 năm 2026', or
    'Ngày 23 tháng 11 năm 2026' when no place is set."""
    place = " ".join((place or "").split())
    return f"{place}, {vn_date(d)}" if place else vn_date(d).capitalize()


class VnDocument(FPDF):
    """An A4 portrait page with the DejaVu fonts and a few text helpers."""

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
        self.multi_cell(w, h, nfc(text), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def labelled(self, label: str, value: str, size: float = 11, h: float = 6.2) -> None:
        """'Label: value' with the label regular and the value bold, wrapping."""
        self.font(size)
        self.multi_cell(0, h, nfc(f"{md_escape(label)} **{md_escape(value)}**"), markdown=True,
                        align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def rich(self, runs: list[tuple[str, bool]], size: float = 11, h: float = 6.2,
             indent: float = 0.0) -> None:
        """A paragraph of runs, each (text, bold), wrapping between the margins.
        Nothing in the text is read as markup: officers' free text is safe here.
        `indent` holds for every line (a hanging list item)."""
        margin = self.l_margin
        self.set_left_margin(margin + indent)
        try:
            self.set_x(margin + indent)
            for text, bold in runs:
                self.font(size, bold)
                self.write(h, nfc(text))
            self.ln(h)
        finally:
            self.set_left_margin(margin)
            self.set_x(margin)

    def national_heading(self, agency: str, date_line: str, form_name: str = "",
                         number: str = "") -> None:
        """The heading of an administrative paper: the form's name at the top
        right (if any); the issuing body on the left and the national name and
        motto on the right, each underlined; the date line (and the document
        number, if any) below. Leaves y at the top of the date line."""
        left_w, right_x = 80.0, 100.0
        right_w = self.w - self.r_margin - right_x
        self.set_xy(self.l_margin, 10)
        if form_name:
            self.font(7.5)
            self.cell(0, 4, nfc(form_name), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        top = self.get_y() + 1
        self.set_xy(self.l_margin - 5, top)
        self.font(10.5, bold=True)
        self.multi_cell(left_w + 5, 5.2, nfc(agency.upper()), align="C",
                        new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        left_bottom = self.get_y()
        mid = self.l_margin - 5 + (left_w + 5) / 2
        self.line(mid - 15, left_bottom + 1, mid + 15, left_bottom + 1)
        self.set_xy(right_x, top)
        self.font(10.5, bold=True)
        self.cell(right_w, 5.2, nfc(NATIONAL_NAME), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.font(11, bold=True)
        self.cell(right_w, 5.6, nfc(NATIONAL_MOTTO), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        rmid = right_x + right_w / 2
        self.line(rmid - 24, self.get_y() + 1.2, rmid + 24, self.get_y() + 1.2)
        y = max(self.get_y(), left_bottom) + 3
        if number:
            self.set_xy(self.l_margin - 5, y)
            self.font(10.5)
            self.cell(left_w + 5, 5, nfc(number), align="C")
        self.set_xy(right_x, y)
        self.font(10.5)
        self.cell(right_w, 5, nfc(date_line), align="C")


def page_png(pdf_path: str | Path, png_path: str | Path, dpi: int = 150, page: int = 0) -> Path:
    """Render one page of a PDF to PNG (for a screen, or a printer that takes
    images). Needs pypdfium2."""
    try:
        import pypdfium2
    except ImportError:
        raise RuntimeError("rendering a PNG needs pypdfium2: pip install pypdfium2") from None
    doc = pypdfium2.PdfDocument(str(pdf_path))
    try:
        image = doc[page].render(scale=dpi / 72).to_pil()
    finally:
        doc.close()
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    image.save(png_path)
    return png_path

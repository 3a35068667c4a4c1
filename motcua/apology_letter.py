"""The apology letter: Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết
(mẫu số 04, Phụ lục I, Thông tư 03/2025/TT-VPCP), for a dossier that will not be
settled by the date on its receipt.

An A4 PDF (fpdf2) in the same way as the receipt (motcua.receipt): the DejaVu
fonts of motcua/fonts/ embedded, so the Vietnamese text is real text that
prints, copies and extracts intact. Rendered from a dossier that carries its
apology (DossierStore.plan_apology before recording, DossierStore.get after),
so a reprint gives the same letter.

It names what the rules ask an apology to name: the applicant (the letter goes
to the citizen, so the full name is printed here), the dossier and its
procedure, when it was received and promised, its status, the reason for the
delay and the new date; then the apology and a signature block. The wording
follows the structure of form 04; check it against the form your province uses.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone as dt_timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fpdf.enums import XPos, YPos

from .dossiers import DEFAULT_TIMEZONE, STATUSES, Dossier, DossierError, DossierStore
from .pdfdoc import VnDocument, nfc, place_and_date, vn_date
from .timefmt import vn_date as short_date   # 23/11/2026; vn_date: "ngày 23 tháng 11 năm 2026"

FORM_NAME = "Mẫu số 04 – Phụ lục I, Thông tư 03/2025/TT-VPCP"
TITLE = "VĂN BẢN XIN LỖI VÀ ĐỀ NGHỊ GIA HẠN THỜI GIAN GIẢI QUYẾT"
NUMBER_LINE = "Số: ..............."   # filled in by the agency's clerk (văn thư)


def letter_filename(code: str) -> str:
    """The default file name: van-ban-xin-loi-<code>.pdf."""
    return f"van-ban-xin-loi-{code}.pdf"


def render_apology_letter(dossier: Dossier, agency: str, out_path: str | Path, *,
                          place: str = "", timezone: str | ZoneInfo = DEFAULT_TIMEZONE) -> Path:
    """Write the letter for `dossier` (which must carry its apology) to out_path.
    `agency` is the issuing body (the site's name), `place` the town on the
    date line."""
    a = dossier.apology
    if a is None:
        raise ValueError(f"{dossier.code} has no apology to print")
    tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    issued = a.issued_at.astimezone(tz)
    received = dossier.received_at.astimezone(tz)
    reason = a.reason.rstrip(" .")
    late = issued.date() > dossier.due_at

    pdf = VnDocument()
    pdf.set_title(nfc(f"{TITLE} {dossier.code}"))
    pdf.set_creator("motcua")
    pdf.set_creation_date(issued)  # the same apology gives the same file
    pdf.add_page()
    pdf.national_heading(agency, place_and_date(place, issued.date()), FORM_NAME, number=NUMBER_LINE)

    pdf.set_xy(pdf.l_margin, pdf.get_y() + 13)
    pdf.line_of(TITLE, size=13, bold=True, align="C", h=7)
    pdf.line_of(f"Mã hồ sơ: {dossier.code}", size=12, bold=True, align="C", h=7)
    pdf.ln(5)

    size, h = 11.5, 6.4
    body = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.rich([("Kính gửi: Ông/Bà ", False), (dossier.applicant_name, True)], size=12, h=7,
             indent=15)
    pdf.ln(3)

    # Officers' free text (reason) and imported names go through `rich`, never
    # markdown: nothing in them is read as markup.
    pdf.rich([(f"{agency} đã tiếp nhận hồ sơ của Ông/Bà vào {vn_date(received.date())} "
               f"và hẹn trả kết quả vào {vn_date(dossier.due_at)}:", False)], size=size, h=h)
    pdf.ln(1)
    for label, value in (
            ("Thủ tục hành chính", f"{dossier.procedure_name} (mã thủ tục {dossier.procedure_code})"),
            ("Lĩnh vực", dossier.field),
            ("Ngày tiếp nhận", short_date(received.date())),
            ("Ngày hẹn trả kết quả (theo Giấy tiếp nhận)", short_date(dossier.due_at)),
            ("Tình trạng hồ sơ", STATUSES[dossier.status][0])):
        if value:
            pdf.rich([(f"– {label}: ", False), (value, True)], size=size, h=h, indent=6)
    pdf.ln(2)

    when = ("Đến nay, hồ sơ đã quá thời hạn giải quyết nhưng chưa có kết quả"
            if late else "Hồ sơ không thể giải quyết xong đúng thời hạn đã hẹn")
    pdf.rich([(f"{when}. Lý do: ", False), (reason, True), (".", False)], size=size, h=h)
    pdf.ln(1)
    pdf.rich([(f"Sự chậm trễ này đã gây phiền hà cho Ông/Bà. {agency} chân thành xin lỗi Ông/Bà "
               f"và đề nghị gia hạn thời gian giải quyết hồ sơ đến {vn_date(a.new_due_at)}.",
               False)], size=size, h=h)
    pdf.ln(3)

    # The new date, where the eye finds it.
    box_y = pdf.get_y()
    pdf.set_line_width(0.4)
    pdf.rect(pdf.l_margin, box_y, body, 11)
    pdf.set_line_width(0.2)
    pdf.set_xy(pdf.l_margin, box_y + 2)
    pdf.font(12.5, bold=True)
    pdf.cell(body, 7, nfc(f"Ngày hẹn trả kết quả mới: {short_date(a.new_due_at)}"), align="C",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(box_y + 11 + 4)

    pdf.font(size)
    pdf.multi_cell(body, h, nfc(
        "Khi đến nhận kết quả, Ông/Bà vui lòng mang theo Giấy tiếp nhận hồ sơ và hẹn trả kết quả "
        "cùng văn bản này. Ông/Bà có thể tra cứu tình trạng hồ sơ tại ki-ốt của Trung tâm bằng mã "
        "QR trên Giấy tiếp nhận."),
        align="J", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.multi_cell(body, h, nfc("Trân trọng cảm ơn sự thông cảm và hợp tác của Ông/Bà./."),
                   align="J", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # Recipients on the left, the signature on the right.
    # Room to sign and stamp under the title: the block never splits from it.
    y = pdf.get_y() + 6
    if y + 38 > pdf.h - pdf.b_margin:
        pdf.add_page()
        y = pdf.t_margin
    col_w = body / 2
    pdf.set_xy(pdf.l_margin, y)
    pdf.font(10, bold=True)
    pdf.cell(col_w, 5, nfc("Nơi nhận:"), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.font(9.5)
    for line in ("- Ông/Bà có tên trên;", "- Bộ phận Một cửa;", "- Lưu: VT, hồ sơ."):
        pdf.cell(col_w, 4.6, nfc(line), new_x=XPos.LEFT, new_y=YPos.NEXT)
    x = pdf.l_margin + col_w
    pdf.set_xy(x, y)
    pdf.font(11, bold=True)
    pdf.cell(col_w, 5.5, nfc("THỦ TRƯỞNG CƠ QUAN"), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.font(9.5)
    pdf.cell(col_w, 5, nfc("(Ký, ghi rõ họ tên và đóng dấu)"), align="C",
             new_x=XPos.LEFT, new_y=YPos.NEXT)

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out_path))
    return out_path


def issue_apology(store: DossierStore, code: str, reason: Any, new_due: Any, agency: str,
                  out_path: str | Path | None = None, *, place: str = "",
                  now: datetime | None = None) -> tuple[Dossier, Path]:
    """Record an apology and write its letter, all or nothing. Returns the
    dossier as recorded and the letter's path (default: letter_filename(code)
    in the current folder).

    The order, so that a failure anywhere leaves neither a letter without a
    record nor a record without a letter:
    1. check everything (store.plan_apology): a second apology, a bad date or an
       empty reason stops here, before any file is touched;
    2. render the letter to a hidden temporary file beside out_path;
    3. in one write transaction: check again, insert the apology, move the
       temporary file into place (same folder: an atomic rename), commit;
    4. on any error: the transaction is rolled back, the temporary file (or
       the moved letter, if only the commit failed) removed.
    An existing letter at out_path is never overwritten (FileExistsError)."""
    now = now or datetime.now(dt_timezone.utc)
    planned = store.plan_apology(code, reason, new_due, now)
    out = Path(out_path) if out_path else Path(letter_filename(planned.code))
    if out.exists():
        raise FileExistsError(f"{out} already exists; choose another file with --out (a letter is "
                              "never overwritten)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    moved = False

    def move_into_place(_: Dossier) -> None:
        nonlocal moved
        if out.exists():
            raise FileExistsError(f"{out} appeared while the letter was being written; nothing "
                                  "was recorded: choose another file with --out")
        os.replace(tmp, out)
        moved = True

    try:
        render_apology_letter(planned, agency, tmp, place=place, timezone=store.tz)
        recorded = store.apologise(code, reason, new_due, now, expect=planned,
                                   before_commit=move_into_place)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if moved:  # renamed, then the commit failed: no record, so no letter
            out.unlink(missing_ok=True)
        raise
    return recorded, out


def reprint_letter(store: DossierStore, code: str, agency: str, out_path: str | Path | None = None,
                   *, place: str = "") -> tuple[Dossier, Path]:
    """The letter of an apology already recorded, rendered again: its reason and
    dates as issued, the dossier's status as it is now. Overwrites out_path."""
    d = store.get(code)
    if d.apology is None:
        raise DossierError("invalid_field", f"{d.code} has no apology recorded; record one with "
                           "`motcua dossiers apologise CODE --reason ... --new-date DATE`",
                           field="apology")
    out = Path(out_path) if out_path else Path(letter_filename(d.code))
    return d, render_apology_letter(d, agency, out, place=place, timezone=store.tz)

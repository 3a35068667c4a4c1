"""The shell of `motcua report`: a motcua.reports.Report as a terminal table, an
Excel workbook (openpyxl), a CSV file (UTF-8 with BOM) and a PNG chart
(matplotlib, Agg). Layouts are described in docs/reports.md.

All four are built from the same tables (`tables()`), so they always agree.
Nothing here reads the database; the report carries no citizen's name or ID.
"""
from __future__ import annotations

import csv
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .reports import DossierFigures, HoldFigures, Queue, Report, Satisfaction

from motcua.resources import FONT_DIR  # noqa: E402
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

BY_VI = {"counter": "quầy", "officer": "cán bộ", "service": "lĩnh vực (dịch vụ)", "day": "ngày",
         "hour": "giờ trong ngày"}
ALL_CENTRE = "Toàn trung tâm"

# Column kinds: how a number is shown (terminal), formatted (Excel) and unitised (CSV).
TEXT, COUNT, PERCENT, INDEX, MINUTES = "text", "count", "percent", "index", "minutes"
XLSX_FORMATS = {COUNT: "#,##0", PERCENT: "0.0%", INDEX: "0.0", MINUTES: "0.0"}
CSV_UNITS = {COUNT: "count", PERCENT: "percent", INDEX: "index 0-100", MINUTES: "minutes"}


class OutputError(ValueError):
    """A report file that cannot be written; the message says what to do."""


@dataclass
class Column:
    label: str
    kind: str = COUNT
    key: str = ""      # the measure's stable code (CSV)
    period: str = "current"   # or "previous": whose figure the column holds


@dataclass
class Table:
    name: str          # sheet name (at most 31 characters) and CSV section
    title: str
    columns: list[Column]
    rows: list[list]   # numbers as numbers: percents 0..100, durations in minutes
    row_kinds: list[str] | None = None   # the summary: each row has its own kind


# -- the tables ---------------------------------------------------------------------------------


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60


def _delta(a, b):
    return None if a is None or b is None else a - b


def summary_rows(report: Report) -> list[tuple[str, str, str, object, object]]:
    """(section, measure code, Vietnamese label, kind, this period, previous period)."""
    s, sp = report.satisfaction, report.satisfaction_previous
    q, qp = report.queue, report.queue_previous
    d, dp = report.dossiers, report.dossiers_previous
    rows = [("satisfaction", "counted", "Số đánh giá được tính", COUNT, s.counted, sp.counted)]
    for i, name in enumerate(report.level_names):
        rows.append(("satisfaction", f"level_{i + 1}", f"  {name}", COUNT,
                     s.levels[i] if i < len(s.levels) else 0,
                     sp.levels[i] if i < len(sp.levels) else 0))
    rows += [
        ("satisfaction", "share_satisfied", "Tỷ lệ hài lòng (2 mức cao nhất)", PERCENT,
         s.share_satisfied, sp.share_satisfied),
        ("satisfaction", "index", "Chỉ số hài lòng (0–100)", INDEX, s.index, sp.index),
        ("satisfaction", "response_rate", "Tỷ lệ đánh giá / lượt đã phục vụ", PERCENT,
         s.response_rate, sp.response_rate),
        ("satisfaction", "unprompted", "Bấm khi không có lời mời (không tính)", COUNT,
         s.unprompted, sp.unprompted),
        ("satisfaction", "duplicate", "Bấm trùng cho một lượt (không tính)", COUNT,
         s.duplicate, sp.duplicate),
        ("satisfaction", "counted_with_dossier", "Đánh giá được tính có gắn hồ sơ", COUNT,
         report.rated_with_dossier if report.has_procedure_ratings else None,
         report.rated_with_dossier_previous if report.has_procedure_ratings else None),
        ("queue", "issued", "Số phiếu đã cấp", COUNT, q.issued, qp.issued),
        ("queue", "served", "Đã phục vụ xong", COUNT, q.served, qp.served),
        ("queue", "no_show", "Vắng mặt khi gọi", COUNT, q.no_show, qp.no_show),
        ("queue", "transferred", "Chuyển sang lĩnh vực khác", COUNT, q.transferred, qp.transferred),
        ("queue", "expired", "Hết ngày chưa được gọi", COUNT, q.expired, qp.expired),
        ("queue", "lapsed", "Lấy số từ xa, quá giờ chưa xác nhận", COUNT, q.lapsed, qp.lapsed),
        ("queue", "open", "Còn đang chờ hoặc đang phục vụ", COUNT, q.open, qp.open),
        ("queue", "wait_median", "Thời gian chờ – trung vị (phút)", MINUTES,
         _minutes(q.wait_median), _minutes(qp.wait_median)),
        ("queue", "wait_p90", "Thời gian chờ – 90% số lượt không quá (phút)", MINUTES,
         _minutes(q.wait_p90), _minutes(qp.wait_p90)),
        ("queue", "service_median", "Thời gian phục vụ – trung vị (phút)", MINUTES,
         _minutes(q.service_median), _minutes(qp.service_median)),
        ("queue", "service_p90", "Thời gian phục vụ – 90% số lượt không quá (phút)", MINUTES,
         _minutes(q.service_p90), _minutes(qp.service_p90)),
    ]
    if report.holds is not None:
        h, hp = report.holds, report.holds_previous or HoldFigures()
        rows += [("remote", code, label, kind, get(h), get(hp)) for code, label, kind, get in HOLD_MEASURES]
    rows += [("dossiers", code, label, kind, get(d), get(dp)) for code, label, kind, get in DOSSIER_MEASURES]
    return rows


HOLD_MEASURES = [  # numbers from afar and bookings (issue 14): (code, Vietnamese label, kind, getter)
    ("remote", "Số lấy từ xa", COUNT, lambda f: f.remote),
    ("remote_checked_in", "  đã xác nhận tại Trung tâm", COUNT, lambda f: f.remote_checked_in),
    ("remote_lapsed", "  quá giờ, không xác nhận", COUNT, lambda f: f.remote_lapsed),
    ("remote_open", "  chưa xác nhận", COUNT, lambda f: f.remote_open),
    ("booked", "Lịch hẹn đã đặt", COUNT, lambda f: f.booked),
    ("booking_checked_in", "  đã đến (xác nhận)", COUNT, lambda f: f.booking_checked_in),
    ("booking_lapsed", "  quá giờ, không đến", COUNT, lambda f: f.booking_lapsed),
    ("booking_cancelled", "  đã huỷ", COUNT, lambda f: f.booking_cancelled),
    ("booking_open", "  còn hiệu lực", COUNT, lambda f: f.booking_open),
]


DOSSIER_MEASURES = [  # (code, Vietnamese label, kind, getter)
    ("received", "Hồ sơ tiếp nhận", COUNT, lambda f: f.received),
    ("settled", "Hồ sơ đã giải quyết", COUNT, lambda f: f.settled),
    ("early", "  Trước hạn", COUNT, lambda f: f.early),
    ("on_time", "  Đúng hạn", COUNT, lambda f: f.on_time),
    ("late", "  Quá hạn", COUNT, lambda f: f.late),
    ("share_on_time", "Tỷ lệ giải quyết đúng hạn", PERCENT, lambda f: f.share_on_time),
    ("pending", "Đang giải quyết cuối kỳ", COUNT, lambda f: f.pending),
    ("pending_overdue", "  trong đó đã quá hạn", COUNT, lambda f: f.pending_overdue),
    ("waiting_citizen", "Chờ công dân bổ sung", COUNT, lambda f: f.waiting_citizen),
    ("missed_original", "Trễ so với ngày hẹn ban đầu", COUNT, lambda f: f.missed_original),
    ("with_apology", "  có văn bản xin lỗi", COUNT, lambda f: f.with_apology),
    ("apology_day_before", "  xin lỗi trước hạn ít nhất 1 ngày", COUNT, lambda f: f.apology_day_before),
]
SECTION_VI = {"satisfaction": "Hài lòng", "queue": "Hàng đợi", "remote": "Từ xa", "dossiers": "Hồ sơ"}


def _sat_cells(s: Satisfaction, nlevels: int) -> list:
    levels = list(s.levels[:nlevels]) + [0] * (nlevels - len(s.levels))
    return [s.counted, *levels, s.share_satisfied, s.index, s.served, s.response_rate,
            s.unprompted, s.duplicate]


def _queue_cells(q: Queue) -> list:
    return [q.issued, q.served, q.no_show, q.transferred, q.expired, q.lapsed, q.open,
            _minutes(q.wait_median), _minutes(q.wait_p90), _minutes(q.service_median),
            _minutes(q.service_p90)]


def _dossier_cells(f: DossierFigures) -> list:
    return [getter(f) for _, _, _, getter in DOSSIER_MEASURES]


def tables(report: Report) -> list[Table]:
    """The report as tables: a summary with the comparison, then the details."""
    prev = report.previous
    summary = Table("Tổng hợp", f"Tổng hợp – kỳ này {report.period.label()}, kỳ trước {prev.label()}",
                    [Column("Phần", TEXT), Column("Chỉ tiêu", TEXT), Column("Kỳ này", COUNT, "current"),
                     Column("Kỳ trước", COUNT, "previous"), Column("Chênh lệch", COUNT, "change")], [])
    summary.row_kinds = []
    for section, code, label, kind, a, b in summary_rows(report):
        summary.rows.append([SECTION_VI[section], label, a, b, _delta(a, b)])
        summary.row_kinds.append(kind)

    by_label = BY_VI.get(report.by, "")
    nlevels = len(report.level_names)
    group_head = Column(by_label.capitalize() if report.by else "Phạm vi", TEXT, "group")
    sat_cols = [group_head, Column("Số đánh giá", COUNT, "counted"),
                *[Column(n, COUNT, f"level_{i + 1}") for i, n in enumerate(report.level_names)],
                Column("Tỷ lệ hài lòng", PERCENT, "share_satisfied"), Column("Chỉ số", INDEX, "index"),
                # by hour the response rate counts the tickets finished (not issued) in the hour
                Column("Phục vụ xong trong giờ" if report.by == "hour" else "Đã phục vụ", COUNT, "served"),
                Column("Tỷ lệ đánh giá", PERCENT, "response_rate"),
                Column("Không lời mời", COUNT, "unprompted"), Column("Bấm trùng", COUNT, "duplicate")]
    queue_cols = [group_head, Column("Số phiếu", COUNT, "issued"), Column("Đã phục vụ", COUNT, "served"),
                  Column("Vắng mặt", COUNT, "no_show"), Column("Chuyển", COUNT, "transferred"),
                  Column("Hết ngày", COUNT, "expired"), Column("Quá giờ (từ xa)", COUNT, "lapsed"),
                  Column("Đang chờ", COUNT, "open"),
                  Column("Chờ trung vị (phút)", MINUTES, "wait_median"),
                  Column("Chờ P90 (phút)", MINUTES, "wait_p90"),
                  Column("Phục vụ trung vị (phút)", MINUTES, "service_median"),
                  Column("Phục vụ P90 (phút)", MINUTES, "service_p90")]
    where = f" theo {by_label}" if report.by else ""
    sat = Table("Hài lòng", f"Mức độ hài lòng{where} – {report.period.label()}", sat_cols,
                [[g.label, *_sat_cells(g.satisfaction, nlevels)] for g in report.groups])
    sat.rows.append([ALL_CENTRE, *_sat_cells(report.satisfaction, nlevels)])
    queue = Table("Hàng đợi", f"Hàng đợi{where} – {report.period.label()}", queue_cols,
                  [[g.label, *_queue_cells(g.queue)] for g in report.groups])
    queue.rows.append([ALL_CENTRE, *_queue_cells(report.queue)])

    hours = Table("Theo giờ", "Số phiếu theo giờ trong ngày (giờ cấp phiếu)",
                  [Column("Giờ", TEXT, "hour"), Column("Số phiếu kỳ này", COUNT, "issued"),
                   Column("Số phiếu kỳ trước", COUNT, "issued", period="previous"),
                   Column("Chờ trung vị (phút)", MINUTES, "wait_median"),
                   Column("Chờ P90 (phút)", MINUTES, "wait_p90")],
                  [[f"{h.hour:02d}:00–{h.hour:02d}:59", h.issued, h.issued_previous,
                    _minutes(h.wait_median), _minutes(h.wait_p90)] for h in report.hours])
    days = Table("Theo ngày", "Theo ngày",
                 [Column("Ngày", TEXT, "day"), Column("Số phiếu", COUNT, "issued"),
                  Column("Số đánh giá", COUNT, "counted"), Column("Chỉ số hài lòng", INDEX, "index")],
                 [[f"{d.day:%d/%m/%Y}", d.issued, d.counted, d.index] for d in report.days])

    dcols = [Column(label.strip(), kind, code) for code, label, kind, _ in DOSSIER_MEASURES]
    d_field = Table("Hồ sơ theo lĩnh vực", f"Hồ sơ theo lĩnh vực – {report.period.label()}",
                    [Column("Lĩnh vực", TEXT, "field"), *dcols],
                    [[g.label, *_dossier_cells(g.figures)] for g in report.dossiers_by_field])
    d_field.rows.append([ALL_CENTRE, *_dossier_cells(report.dossiers)])
    d_proc = Table("Hồ sơ theo thủ tục", f"Hồ sơ theo thủ tục – {report.period.label()}",
                   [Column("Thủ tục", TEXT, "procedure"), Column("Lĩnh vực", TEXT, "field"), *dcols],
                   [[g.label, g.field, *_dossier_cells(g.figures)] for g in report.dossiers_by_procedure])
    out = [summary, sat, queue, hours, days, d_field, d_proc, procedure_table(report)]
    if report.holds is not None:
        out.append(holds_table(report))
    return out


# The terminal's headings for them, short (the workbook and CSV keep the full labels);
# the centre's and the province's terminals both use them.
HOLDS_SHORT = {"remote": "Lấy từ xa", "remote_checked_in": "Đã XN", "remote_lapsed": "Quá giờ XN",
               "remote_open": "Chưa XN", "booked": "Đặt hẹn", "booking_checked_in": "Đã đến",
               "booking_lapsed": "Không đến", "booking_cancelled": "Đã huỷ", "booking_open": "Còn hẹn"}
HOLDS_NOTE = ("XN = xác nhận tại Trung tâm (quét mã trên điện thoại); Quá giờ XN = quá giờ, không xác nhận; "
              "Không đến = lịch hẹn quá giờ, không đến; Còn hẹn = lịch hẹn còn hiệu lực.")
assert set(HOLDS_SHORT) == {code for code, *_ in HOLD_MEASURES}


def holds_short(table: Table) -> Table:
    """A table of numbers from afar and bookings with the terminal's short headings."""
    return Table(table.name, table.title, [Column(HOLDS_SHORT.get(c.key, c.label), c.kind, c.key)
                                           for c in table.columns], table.rows)


def holds_table(report: Report) -> Table:
    """Numbers from afar and bookings per service (issue 14)."""
    cols = [Column("Lĩnh vực", TEXT, "service"),
            *[Column(label.strip(), kind, code) for code, label, kind, _ in HOLD_MEASURES]]
    rows = [[label, *[get(f) for _, _, _, get in HOLD_MEASURES]] for _, label, f in report.holds_by_service]
    rows.append([ALL_CENTRE, *[get(report.holds) for _, _, _, get in HOLD_MEASURES]])
    return Table("Từ xa theo lĩnh vực", f"Lấy số từ xa và lịch hẹn theo lĩnh vực – {report.period.label()}",
                 cols, rows)


NO_DOSSIER = "(không gắn hồ sơ)"


def procedure_table(report: Report) -> Table:
    """Satisfaction per procedure: counted ratings through the dossiers attached to
    the rated tickets (a rating counts for each procedure of its dossiers), then
    the counted ratings of tickets without a dossier."""
    nlevels = len(report.level_names)
    cols = [Column("Thủ tục", TEXT, "procedure"), Column("Số đánh giá", COUNT, "counted"),
            *[Column(n, COUNT, f"level_{i + 1}") for i, n in enumerate(report.level_names)],
            Column("Tỷ lệ hài lòng", PERCENT, "share_satisfied"), Column("Chỉ số", INDEX, "index")]

    def cells(s: Satisfaction) -> list:
        levels = list(s.levels[:nlevels]) + [0] * (nlevels - len(s.levels))
        return [s.counted, *levels, s.share_satisfied, s.index]

    rows = [[g.label, *cells(g.satisfaction)] for g in report.satisfaction_by_procedure]
    if report.rated_without_dossier is not None and report.rated_without_dossier.counted:
        rows.append([NO_DOSSIER, *cells(report.rated_without_dossier)])
    return Table("Hài lòng theo thủ tục", f"Mức độ hài lòng theo thủ tục – {report.period.label()}", cols, rows)


# -- terminal ------------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Columns a terminal gives the text: combining marks take none (decomposed
    Vietnamese), wide East Asian characters two."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


def _fit(text: str, width: int) -> str:
    """Shorten to `width` columns with an ellipsis."""
    if display_width(text) <= width:
        return text
    out = ""
    for c in text:
        if display_width(out + c) > width - 1:
            break
        out += c
    return out + "…"


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * max(0, width - display_width(text))
    return gap + text if right else text + gap


def fmt_number(value, kind: str, signed: bool = False) -> str:
    """Vietnamese style: decimal comma, thousands separated by a space."""
    if value is None:
        return "—"
    sign = "+" if signed and value > 0 else ""
    if kind == COUNT:
        return sign + f"{round(value):,}".replace(",", " ")
    if kind == PERCENT:
        return sign + f"{value:.1f}".replace(".", ",") + (" điểm" if signed else "%")
    if kind == MINUTES:
        if signed:
            return sign + f"{value:.1f}".replace(".", ",") + " phút"
        secs = round(value * 60)
        h, rest = divmod(secs, 3600)
        return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"
    return sign + f"{value:.1f}".replace(".", ",")


def render_table(table: Table, max_text: int = 44, row_kinds: list[str] | None = None) -> str:
    # Durations show as minutes:seconds here, and "trung vị" as TV (the heading of the
    # report says so), to keep the tables narrow.
    heads = [c.label.replace(" (phút)", "").replace("trung vị", "TV") for c in table.columns]
    body = []
    for i, row in enumerate(table.rows):
        cells = []
        for j, (col, v) in enumerate(zip(table.columns, row)):
            if col.kind == TEXT:
                cells.append(_fit(unicodedata.normalize("NFC", str(v)).replace(" (phút)", ""), max_text))
            else:
                kind = row_kinds[i] if row_kinds else col.kind
                cells.append(fmt_number(v, kind, signed=col.key == "change" or col.period == "change"))
        body.append(cells)
    widths = [max([display_width(h)] + [display_width(r[j]) for r in body]) for j, h in enumerate(heads)]
    right = [c.kind != TEXT for c in table.columns]

    def line(cells):
        return "  ".join(_pad(c, w, r) for c, w, r in zip(cells, widths, right)).rstrip()

    out = [line(heads), "  ".join("─" * w for w in widths)]
    out += [line(r) for r in body]
    return "\n".join(out)


def format_text(report: Report) -> str:
    """The report for the terminal: aligned columns, Vietnamese headings."""
    summary, sat, queue, hours, days, d_field, d_proc, sat_proc, *more = tables(report)
    gen = report.generated_at.astimezone(report.tz)
    out = [f"BÁO CÁO HOẠT ĐỘNG – {report.site_name}",
           f"Kỳ báo cáo: {report.period.label()} ({report.period.days} ngày); "
           f"so với kỳ trước: {report.previous.label()}",
           f"Lập lúc: {gen:%d/%m/%Y %H:%M}. Thời gian ghi phút:giây; TV = trung vị, "
           "P90 = 90% số lượt không quá.", ""]
    sections = {"Hài lòng": "1. MỨC ĐỘ HÀI LÒNG (Satisfaction)", "Hàng đợi": "2. HÀNG ĐỢI (Queue)",
                "Từ xa": "2b. LẤY SỐ TỪ XA VÀ LỊCH HẸN (Numbers from afar, bookings)",
                "Hồ sơ": "3. HỒ SƠ (Dossiers)"}
    # Numbers from afar and bookings: only for a centre that had any, in either period.
    h, hp = report.holds, report.holds_previous
    used = h is not None and any((h.remote, h.booked, hp.remote if hp else 0, hp.booked if hp else 0))
    # The summary, one block per section, with the comparison.
    kinds = summary.row_kinds
    for section in ("Hài lòng", "Hàng đợi", "Từ xa", "Hồ sơ"):
        if section == "Từ xa" and not used:
            continue
        idx = [i for i, r in enumerate(summary.rows) if r[0] == section]
        part = Table(summary.name, "", [Column("Chỉ tiêu", TEXT), *summary.columns[2:]],
                     [summary.rows[i][1:] for i in idx])
        out += [sections[section], render_table(part, max_text=52, row_kinds=[kinds[i] for i in idx])]
        s = report.satisfaction
        if section == "Hài lòng" and not (s.counted or s.duplicate or s.unprompted):
            out.append("(Không có lượt bấm nào trong kỳ: không tính được tỷ lệ đánh giá.)")
        out.append("")
        if section == "Hài lòng" and report.satisfaction_by_procedure:
            out += ["Hài lòng theo thủ tục (qua hồ sơ gắn với lượt được đánh giá; một đánh giá tính "
                    "cho mỗi thủ tục của các hồ sơ đó)", render_table(sat_proc, max_text=52), ""]
        if section == "Hàng đợi":
            if report.by:
                out += [f"Hài lòng theo {BY_VI[report.by]}", render_table(sat), "",
                        f"Hàng đợi theo {BY_VI[report.by]}", render_table(queue), ""]
            if report.hours:
                out += ["Số phiếu theo giờ trong ngày (giờ cấp phiếu)", render_table(hours), ""]
        if section == "Từ xa" and more and len(more[0].rows) > 1:
            out += ["Lấy số từ xa và lịch hẹn theo lĩnh vực", HOLDS_NOTE, render_table(holds_short(more[0])), ""]
    if not report.has_dossier_tables:
        out += ["(Chưa có dữ liệu hồ sơ: nhập bằng `motcua dossiers import FILE`.)", ""]
    else:
        if d_field.rows[:-1]:
            out += ["Hồ sơ theo lĩnh vực (GQ = giải quyết, XL = xin lỗi; mọi cột trong tệp XLSX)",
                    render_table(_dossier_brief(d_field)), ""]
        if d_proc.rows:
            out += ["Hồ sơ theo thủ tục", render_table(_dossier_brief(d_proc, procedure=True), max_text=40), ""]
    return "\n".join(out).rstrip() + "\n"


def _dossier_brief(table: Table, procedure: bool = False) -> Table:
    """The dossier tables narrowed for a terminal: the main columns, short headings."""
    keep = {"received": "Tiếp nhận", "settled": "Đã GQ", "late": "Quá hạn",
            "share_on_time": "Đúng hạn %", "pending": "Đang GQ", "pending_overdue": "Đang GQ quá hạn",
            "missed_original": "Trễ hẹn đầu", "with_apology": "Có xin lỗi",
            "apology_day_before": "XL trước ≥1 ngày"}
    first = 1 if not procedure else 2
    cols = [table.columns[0]] + [Column(keep[c.key], c.kind, c.key)
                                 for c in table.columns[first:] if c.key in keep]
    idx = [0] + [j for j, c in enumerate(table.columns) if j >= first and c.key in keep]
    return Table(table.name, table.title, cols, [[r[j] for j in idx] for r in table.rows])


# -- files ------------------------------------------------------------------------------------


def check_target(path: str | Path, suffix: str, what: str) -> Path:
    """Refuse, before any work, a file that cannot be written."""
    p = Path(path)
    if p.suffix.lower() != suffix:
        raise OutputError(f"{what} {p}: give a file name ending in {suffix}, e.g. bao-cao{suffix}")
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise OutputError(f"{what} {p} is a folder; give a file name ending in {suffix}")
    if not folder.is_dir():
        raise OutputError(f"{what} {p}: the folder {folder} does not exist; create it or choose "
                          "another place")
    if not os.access(folder, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise OutputError(f"{what} {p}: no permission to write there; choose another place "
                          "(e.g. your home folder)")
    return p


def write_xlsx(report: Report, path: str | Path) -> Path:
    """An Excel workbook: one sheet per table, bold header row, column widths set,
    numbers as numbers (percentages as fractions with a % format, durations in
    minutes)."""
    info = [("Báo cáo", f"Báo cáo hoạt động – {report.site_name}"),
            ("Kỳ báo cáo", report.period.label()), ("Kỳ trước (so sánh)", report.previous.label()),
            ("Nhóm theo", BY_VI.get(report.by, "(không)")),
            ("Lập lúc", report.generated_at.astimezone(report.tz).strftime("%d/%m/%Y %H:%M")),
            ("Định nghĩa", "docs/reports.md: tỷ lệ hài lòng, chỉ số, tỷ lệ đánh giá, trung vị và "
                           "P90, đúng hạn, xin lỗi trước hạn")]
    return write_tables_xlsx(tables(report), path, info)


def write_tables_xlsx(sheets: list[Table], path: str | Path, info: list[tuple[str, object]],
                      bold_rows: tuple[str, ...] = (ALL_CENTRE,), option: str = "--xlsx") -> Path:
    """Tables as an Excel workbook, one sheet each (the report's layout; the
    province report's too), then a sheet "Thông tin" of (name, value) rows. A row
    whose first cell is in `bold_rows` (the totals) is bold."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    path = Path(path)
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for table in sheets:
        ws = wb.create_sheet(table.name[:31])
        ws.append([c.label for c in table.columns])
        for cell in ws[1]:
            cell.font = bold
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        row_kinds = getattr(table, "row_kinds", None)
        for i, row in enumerate(table.rows):
            values = []
            for col, v in zip(table.columns, row):
                kind = row_kinds[i] if row_kinds and col.kind != TEXT else col.kind
                values.append(v / 100 if kind == PERCENT and v is not None else v)
            ws.append(values)
            for j, (col, cell) in enumerate(zip(table.columns, ws[ws.max_row])):
                kind = row_kinds[i] if row_kinds and col.kind != TEXT else col.kind
                if kind in XLSX_FORMATS:
                    cell.number_format = XLSX_FORMATS[kind]
            if row and row[0] in bold_rows:
                for cell in ws[ws.max_row]:
                    cell.font = bold
        for j, col in enumerate(table.columns, 1):
            longest = max([len(str(r[j - 1])) for r in table.rows if r[j - 1] is not None] + [0])
            head = len(col.label)
            if col.kind == TEXT:
                width = max(min(head, 18), min(longest, 60), 8) + 2
            else:
                width = max(min(head, 16), 9) + 2
            ws.column_dimensions[get_column_letter(j)].width = width
        ws.freeze_panes = "B2"
    sheet = wb.create_sheet("Thông tin")
    for row in info:
        sheet.append(list(row))
        sheet.cell(sheet.max_row, 1).font = bold
    sheet.column_dimensions["A"].width = 22
    sheet.column_dimensions["B"].width = 90
    try:
        wb.save(path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}; choose another {option} path") from None
    return path


CSV_HEADER = ["section", "group_by", "group", "measure", "label_vi", "period", "from", "to", "value", "unit"]


def csv_value(kind: str, value):
    """A figure as the CSV gives it: rounded (percent and index to 4 places, minutes
    to 3), '' for none."""
    if value is None:
        return ""
    if kind == PERCENT or kind == INDEX:
        return round(value, 4)
    if kind == MINUTES:
        return round(value, 3)
    return value


def csv_rows(report: Report) -> list[list]:
    """The CSV's rows (long format: one figure per row)."""
    cur, prev = report.period, report.previous
    spans = {"current": (cur.start.isoformat(), cur.end.isoformat()),
             "previous": (prev.start.isoformat(), prev.end.isoformat())}
    out = []

    def add(section, group_by, group, code, label, period, kind, value):
        out.append([section, group_by, group, code, label.strip(), period, *spans[period],
                    csv_value(kind, value), CSV_UNITS[kind]])

    for section, code, label, kind, a, b in summary_rows(report):
        add(section, "", ALL_CENTRE, code, label, "current", kind, a)
        add(section, "", ALL_CENTRE, code, label, "previous", kind, b)
    for table, section, group_by in _detail_tables(report):
        first_num = next(j for j, c in enumerate(table.columns) if c.kind != TEXT)
        for row in table.rows:
            group = " / ".join(str(v) for v in row[:first_num])
            for col, v in zip(table.columns[first_num:], row[first_num:]):
                add(section, group_by, group, col.key, col.label, col.period, col.kind, v)
    return out


def _detail_tables(report: Report):
    ts = {t.name: t for t in tables(report)}
    out = []
    if report.by:
        out += [(ts["Hài lòng"], "satisfaction", report.by), (ts["Hàng đợi"], "queue", report.by)]
    out += [(ts["Theo giờ"], "queue", "hour_of_issue"), (ts["Theo ngày"], "daily", "day"),
            (ts["Hồ sơ theo lĩnh vực"], "dossiers", "field"),
            (ts["Hồ sơ theo thủ tục"], "dossiers", "procedure"),
            (ts["Hài lòng theo thủ tục"], "satisfaction", "procedure")]
    if "Từ xa theo lĩnh vực" in ts:
        out.append((ts["Từ xa theo lĩnh vực"], "remote", "service"))
    return out


def write_csv(report: Report, path: str | Path) -> Path:
    """UTF-8 with a byte order mark (Excel then shows the diacritics), comma
    separated, decimal point, one figure per row (docs/reports.md)."""
    return write_csv_rows(CSV_HEADER, csv_rows(report), path)


def write_csv_rows(header: list[str], rows: list[list], path: str | Path) -> Path:
    """A CSV file as the reports write it: UTF-8 with a byte order mark, commas."""
    path = Path(path)
    try:
        with open(path, "w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}; choose another --csv path") from None
    return path


def write_chart(report: Report, path: str | Path) -> Path:
    """A PNG with four charts: satisfaction levels (this and the previous period),
    the index by group (or by day), waiting time by hour of issue, tickets by hour."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    family = chart_font_family()
    import matplotlib
    with matplotlib.rc_context({"font.family": family, "font.size": 10, "axes.titlesize": 12,
                                "axes.titleweight": "bold"}):
        fig = Figure(figsize=(13, 9), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(2, 2)
        fig.suptitle(f"{report.site_name}\nKỳ {report.period.label()} · so với kỳ trước "
                     f"{report.previous.label()}", fontsize=13)
        _chart_levels(axes[0][0], report)
        _chart_index(axes[0][1], report)
        _chart_waits(axes[1][0], report)
        _chart_hours(axes[1][1], report)
        try:
            fig.savefig(path, format="png")
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror}; choose another --chart path") from None
    return Path(path)


_FONTS_ADDED = False


def chart_font_family() -> str:
    """The charts' font family: the project's DejaVu Sans (every Vietnamese letter,
    as on receipts), registered with matplotlib once."""
    from matplotlib import font_manager
    global _FONTS_ADDED
    if not _FONTS_ADDED:
        for font in (FONT_REGULAR, FONT_BOLD):
            font_manager.fontManager.addfont(str(font))
        _FONTS_ADDED = True
    return font_manager.FontProperties(fname=str(FONT_REGULAR)).get_name()

CURRENT_COLOUR, PREVIOUS_COLOUR, P90_COLOUR = "#1f6fb4", "#b9c7d6", "#e0823d"
MAX_BARS = 30


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def _wrap(label: str, width: int = 14) -> str:
    words, lines, line = label.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join(lines + [line])


def _chart_levels(ax, report: Report) -> None:
    ax.set_title("Mức độ hài lòng (% số đánh giá được tính)")
    s, sp = report.satisfaction, report.satisfaction_previous
    if not s.counted and not sp.counted:
        _empty(ax, "Chưa có đánh giá trong hai kỳ")
        return
    n = len(report.level_names)
    xs = list(range(n))

    def shares(x: Satisfaction):
        levels = list(x.levels[:n]) + [0] * (n - len(x.levels))
        return [100 * v / x.counted if x.counted else 0 for v in levels]

    cur, prev = shares(s), shares(sp)
    ax.bar([x - 0.2 for x in xs], prev, 0.4, color=PREVIOUS_COLOUR,
           label=f"Kỳ trước ({fmt_number(sp.counted, COUNT)} lượt)")
    bars = ax.bar([x + 0.2 for x in xs], cur, 0.4, color=CURRENT_COLOUR,
                  label=f"Kỳ này ({fmt_number(s.counted, COUNT)} lượt)")
    for b, v in zip(bars, cur):
        ax.annotate(f"{v:.0f}%", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom",
                    fontsize=9, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(xs, [_wrap(name) for name in report.level_names])
    ax.set_ylabel("%")
    ax.set_ylim(0, max(cur + prev + [1]) * 1.18)
    idx = "—" if s.index is None else f"{s.index:.1f}".replace(".", ",")
    share = "—" if s.share_satisfied is None else f"{s.share_satisfied:.1f}%".replace(".", ",")
    ax.legend(title=f"Chỉ số {idx} · hài lòng {share}", loc="upper right", fontsize=9, title_fontsize=9)


def _chart_index(ax, report: Report) -> None:
    grouped = report.by in ("counter", "officer", "service", "hour") and report.groups
    if grouped:
        groups = [g for g in report.groups if g.satisfaction.index is not None]
        title = f"Chỉ số hài lòng theo {BY_VI[report.by]}"
        if len(groups) > MAX_BARS:  # the groups with the most ratings, in the report's order
            keep = set(id(g) for g in sorted(groups, key=lambda g: -g.satisfaction.counted)[:MAX_BARS])
            groups = [g for g in groups if id(g) in keep]
            title += f" ({MAX_BARS} nhóm nhiều đánh giá nhất)"
        ax.set_title(title)
        if not groups:
            _empty(ax, "Chưa có đánh giá trong kỳ")
            return
        labels = [_fit(g.label, 32) for g in groups]
        ys = list(range(len(groups)))
        ax.barh(ys, [g.satisfaction.index for g in groups], color=CURRENT_COLOUR)
        ax.set_yticks(ys, labels, fontsize=7 if len(groups) > 20 else 8 if len(groups) > 12 else 9)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("Chỉ số (0–100)")
        for y, g in zip(ys, groups):
            ax.annotate(f"{g.satisfaction.index:.0f}", (g.satisfaction.index, y), va="center",
                        fontsize=8, xytext=(3, 0), textcoords="offset points")
    else:
        ax.set_title("Chỉ số hài lòng theo ngày")
        days = [d for d in report.days if d.index is not None]
        if not days:
            _empty(ax, "Chưa có đánh giá trong kỳ")
            return
        ax.plot([d.day for d in days], [d.index for d in days], marker="o", color=CURRENT_COLOUR,
                label="Kỳ này")
        if report.satisfaction_previous.index is not None:
            ax.axhline(report.satisfaction_previous.index, color=PREVIOUS_COLOUR, linestyle="--",
                       label=f"Kỳ trước: {report.satisfaction_previous.index:.1f}".replace(".", ","))
        ax.set_ylim(0, 100)
        ax.set_ylabel("Chỉ số (0–100)")
        ax.legend(loc="lower right", fontsize=9)
        from matplotlib.dates import DateFormatter
        ax.xaxis.set_major_formatter(DateFormatter("%d/%m"))
        for label in ax.get_xticklabels():
            label.set_rotation(45)


def _chart_waits(ax, report: Report) -> None:
    ax.set_title("Thời gian chờ theo giờ cấp phiếu (phút)")
    hours = [h for h in report.hours if h.wait_median is not None]
    if not hours:
        _empty(ax, "Chưa có lượt được gọi trong kỳ")
        return
    xs = [h.hour for h in hours]
    ax.bar(xs, [h.wait_p90 / 60 for h in hours], 0.8, color=P90_COLOUR, alpha=0.55,
           label="90% số lượt chờ không quá")
    ax.bar(xs, [h.wait_median / 60 for h in hours], 0.5, color=CURRENT_COLOUR, label="Trung vị")
    ax.set_xticks(xs, [f"{x}h" for x in xs])
    ax.set_xlabel("Giờ trong ngày")
    ax.set_ylabel("phút")
    ax.set_ylim(0, max(h.wait_p90 / 60 for h in hours) * 1.3 or 1)
    ax.legend(loc="upper center", ncol=2, fontsize=9)


def _chart_hours(ax, report: Report) -> None:
    ax.set_title("Số phiếu theo giờ trong ngày")
    if not report.hours:
        _empty(ax, "Chưa cấp phiếu nào trong hai kỳ")
        return
    xs = [h.hour for h in report.hours]
    ax.bar([x - 0.2 for x in xs], [h.issued_previous for h in report.hours], 0.4, color=PREVIOUS_COLOUR,
           label=f"Kỳ trước ({report.queue_previous.issued:,})".replace(",", " "))
    ax.bar([x + 0.2 for x in xs], [h.issued for h in report.hours], 0.4, color=CURRENT_COLOUR,
           label=f"Kỳ này ({report.queue.issued:,})".replace(",", " "))
    ax.set_xticks(xs, [f"{x}h" for x in xs])
    ax.set_xlabel("Giờ trong ngày")
    ax.set_ylabel("số phiếu")
    ax.set_ylim(0, max(max(h.issued, h.issued_previous) for h in report.hours) * 1.25 or 1)
    ax.legend(loc="upper center", ncol=2, fontsize=9)


# -- `motcua ratings export`: one row per rated dossier (issue 12) -------------------------------


def write_export_csv(rows: list[dict], target) -> None:
    """The rows as CSV (columns: report_figures.EXPORT_COLUMNS, a header of their
    codes). `target`: a path (UTF-8 with a byte order mark, for Excel, as the
    report's CSV) or an open text stream (standard output: no mark)."""
    from .report_figures import EXPORT_COLUMNS
    names = [c for c, _ in EXPORT_COLUMNS]

    def write(f):
        w = csv.writer(f)
        w.writerow(names)
        w.writerows([[r[c] for c in names] for r in rows])
    if hasattr(target, "write"):
        write(target)
        return
    try:
        with open(target, "w", encoding="utf-8-sig", newline="") as f:
            write(f)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror}; choose another --csv path") from None


def write_export_xlsx(rows: list[dict], path: str | Path, info: list[tuple[str, object]]) -> Path:
    """The rows as an Excel sheet "Đánh giá theo hồ sơ" (header: the column codes, bold;
    numbers as numbers, times as ISO text), and a sheet "Thông tin": `info`, then what
    each column holds."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from .report_figures import EXPORT_COLUMNS
    names = [c for c, _ in EXPORT_COLUMNS]
    wb = Workbook()
    ws = wb.active
    ws.title = "Đánh giá theo hồ sơ"
    bold = Font(bold=True)
    ws.append(names)
    for cell in ws[1]:
        cell.font = bold
    for r in rows:
        ws.append([r[c] for c in names])
    for j, name in enumerate(names, 1):
        longest = max([len(str(r[name])) for r in rows] + [len(name)])
        ws.column_dimensions[get_column_letter(j)].width = min(max(longest, 8), 60) + 2
    ws.freeze_panes = "B2"
    about = wb.create_sheet("Thông tin")
    for key, value in [*info, ("", ""), ("Cột", "Nội dung"), *EXPORT_COLUMNS]:
        about.append([key, value])
        if key in ("Cột", *(k for k, _ in info)):
            about.cell(about.max_row, 1).font = bold
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 80
    try:
        wb.save(path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}; choose another --xlsx path") from None
    return Path(path)

"""The province report's outputs (`motcua province report`): the terminal text,
XLSX, CSV and the ranking chart. Only what is the province's own is here; the
tables, number formats, workbook, CSV file and fonts are motcua.report_output's
(the centre report's), and the province total's summary is the centre report's
summary table of the pooled report.

Layouts: docs/province.md, "The province report".
"""
from __future__ import annotations

from pathlib import Path

from .. import report_output as out
from ..report_figures import HoldFigures
from ..report_output import (COUNT, HOLD_MEASURES, INDEX, MINUTES, PERCENT, TEXT, Column, Table, fmt_number,
                             render_table)
from .ranking import GROUP_MEASURES, MEASURE, MEASURES, Measure, ProvinceReport, Row

PROVINCE = "Toàn tỉnh"
BY_VI = {"centre": "trung tâm", "officer": "cán bộ", "service": "lĩnh vực (dịch vụ)"}
GROUP_SHEET = {"officer": "Cán bộ", "service": "Lĩnh vực"}
SECTION_VI = {"satisfaction": "Hài lòng", "queue": "Hàng đợi", "dossiers": "Hồ sơ"}
assert {m.kind for m in MEASURES} <= {COUNT, PERCENT, INDEX, MINUTES}

# The terminal's three tables of centres, in ranking order: (measure, with its change).
TERMINAL = {
    "satisfaction": (("index", True), ("share_satisfied", True), ("counted", False), ("response_rate", True)),
    "queue": (("issued", False), ("wait_median", True), ("wait_p90", True), ("service_median", True),
              ("service_p90", True), ("no_show_rate", True)),
    "dossiers": (("settled", False), ("share_on_time", True), ("missed_original", False),
                 ("with_apology", False), ("apology_day_before", False)),
}
TERMINAL_GROUPS = (("index", True), ("share_satisfied", True), ("counted", False), ("response_rate", False),
                   ("wait_median", False), ("service_median", False), ("no_show_rate", False))


def _rank_text(r: Row) -> str:
    return "" if r.rank is None else str(r.rank)


def _label(r: Row) -> str:
    return f"{r.label} – {r.centre}" if r.centre else r.label


def full_table(name: str, title: str, head: str, rows: list[Row], measures: tuple[Measure, ...],
               total: Row | None = None, centre_column: bool = False) -> Table:
    """Every measure of every row: this period, the previous one, the change (XLSX)."""
    cols = [Column(head, TEXT, "group"), Column("Hạng", COUNT, "rank")]
    if centre_column:
        cols.append(Column("Trung tâm", TEXT, "centre"))
    for m in measures:
        cols += [Column(f"{m.label} – kỳ này", m.kind, m.code, "current"),
                 Column(f"{m.label} – kỳ trước", m.kind, m.code, "previous"),
                 Column(f"{m.label} – chênh lệch", m.kind, m.code, "change")]
    body = []
    for r in rows + ([total] if total is not None else []):
        cells = [r.label, r.rank] + ([r.centre] if centre_column else [])
        for m in measures:
            cells += list(r.value(m))
        body.append(cells)
    return Table(name, title, cols, body)


def terminal_table(rows: list[Row], spec, head: str, total: Row | None = None,
                   centre_column: bool = False) -> Table:
    """A narrow table for the terminal: rank, name, then each measure of `spec`
    with, where asked, its change (±) from the previous period."""
    cols = [Column("Hạng", TEXT, "rank"), Column(head, TEXT, "group")]
    if centre_column:
        cols.append(Column("Trung tâm", TEXT, "centre"))
    for code, change in spec:
        m = MEASURE[code]
        cols.append(Column(m.short, m.kind, m.code))
        if change:
            cols.append(Column("±", m.kind, m.code, "change"))
    body = []
    for r in rows + ([total] if total is not None else []):
        cells = [_rank_text(r), r.label] + ([r.centre] if centre_column else [])
        for code, change in spec:
            a, _, d = r.value(MEASURE[code])
            cells += [a, d] if change else [a]
        body.append(cells)
    return Table("", "", cols, body)


# -- numbers taken from afar and bookings (issue 14) -------------------------------------------


def _holds_reports(pr: ProvinceReport):
    return [pr.total] + [pr.reports[r.key] for r in pr.centres if r.key in pr.reports]


def holds_known(pr: ProvinceReport) -> bool:
    """Whether the hub holds numbers from afar and bookings of any centre."""
    return any(rep.holds is not None for rep in _holds_reports(pr))


def holds_used(pr: ProvinceReport) -> bool:
    """Whether any centre took a number from afar or a booking in either period."""
    return any(rep.holds is not None and any((rep.holds.remote, rep.holds.booked, rep.holds_previous.remote,
                                              rep.holds_previous.booked)) for rep in _holds_reports(pr))


def holds_missing(pr: ProvinceReport) -> list[str]:
    """The centres whose numbers from afar and bookings the hub cannot know (their
    code ships none yet): shown as —, and the province has no total of them."""
    return [r.label for r in pr.centres if r.key in pr.reports and pr.reports[r.key].holds is None]


def holds_by_service(pr: ProvinceReport) -> Table:
    """The province's numbers from afar and bookings per service (pooled by code):
    the centre report's own table of the pooled report."""
    table = out.holds_table(pr.total)
    table.rows[-1][0] = PROVINCE
    table.title = f"Lấy số từ xa và lịch hẹn theo lĩnh vực, toàn tỉnh – {pr.period.label()}"
    return table


def holds_by_centre(pr: ProvinceReport) -> Table:
    """Each centre's numbers from afar and bookings (its own report's), in ranking
    order, the province's line last."""
    cols = [Column("Trung tâm", TEXT, "centre"),
            *[Column(label.strip(), kind, code) for code, label, kind, _ in HOLD_MEASURES]]
    def cells(f: HoldFigures | None) -> list:
        return [None if f is None else get(f) for _, _, _, get in HOLD_MEASURES]   # None: shown as —
    rows = [[r.label, *cells(pr.reports[r.key].holds)] for r in pr.centres if r.key in pr.reports]
    rows.append([PROVINCE, *cells(pr.total.holds)])
    return Table("Từ xa theo trung tâm", f"Lấy số từ xa và lịch hẹn theo trung tâm – {pr.period.label()}",
                 cols, rows)


def _period_line(pr: ProvinceReport) -> str:
    return f"kỳ này {pr.period.label()}, kỳ trước {pr.previous.label()}"


def tables(pr: ProvinceReport) -> list[Table]:
    """The workbook's sheets: the ranked centres, the province total (the centre
    report's summary of the pooled report), the officers or services if asked."""
    sheets = [full_table("Xếp hạng trung tâm", f"Xếp hạng trung tâm theo chỉ số hài lòng – {_period_line(pr)}",
                         "Trung tâm", pr.centres, MEASURES, pr.total_row)]
    summary = out.tables(pr.total)[0]
    summary.name, summary.title = PROVINCE, f"{PROVINCE} (số liệu gộp của mọi trung tâm) – {_period_line(pr)}"
    sheets.append(summary)
    if pr.by in GROUP_SHEET:
        head = "Cán bộ" if pr.by == "officer" else "Lĩnh vực"
        sheets.append(full_table(GROUP_SHEET[pr.by], f"{head} theo chỉ số hài lòng – {_period_line(pr)}", head,
                                 pr.groups, GROUP_MEASURES, centre_column=pr.by == "officer",
                                 total=pr.total_row if pr.by == "service" else None))
    if pr.total.holds is not None:
        sheets.append(holds_by_service(pr))
    if holds_known(pr):
        sheets.append(holds_by_centre(pr))
    return sheets


def format_text(pr: ProvinceReport) -> str:
    """The province report for the terminal, Vietnamese headings as the centre report's."""
    gen = pr.generated_at.astimezone(pr.tz)
    n, ranked = len(pr.centres), len(pr.ranked)
    lines = [f"BÁO CÁO TOÀN TỈNH – {pr.name}",
             f"Kỳ báo cáo: {pr.period.label()} ({pr.period.days} ngày); so với kỳ trước: {pr.previous.label()}",
             f"Lập lúc: {gen:%d/%m/%Y %H:%M}. {n} trung tâm, {ranked} được xếp hạng theo chỉ số hài lòng "
             f"(ít nhất {pr.min_ratings} đánh giá được tính).",
             "Thời gian ghi phút:giây; TV = trung vị, P90 = 90% số lượt không quá; ± = chênh lệch so với kỳ trước.",
             ""]
    total = pr.total_row
    summary = Table("", "", [Column("Chỉ tiêu", TEXT), Column("Kỳ này", COUNT, "current"),
                             Column("Kỳ trước", COUNT, "previous"), Column("Chênh lệch", COUNT, "change")], [])
    kinds = []
    for m in MEASURES:
        summary.rows.append([f"{SECTION_VI[m.section]}: {m.label}", *total.value(m)])
        kinds.append(m.kind)
    lines += ["1. TOÀN TỈNH (số liệu gộp của mọi trung tâm, không phải trung bình các trung tâm)",
              render_table(summary, max_text=64, row_kinds=kinds), ""]
    note = [] if ranked == n else [f"({n - ranked} trung tâm chưa đủ {pr.min_ratings} đánh giá được tính: "
                                   "không xếp hạng, ghi cuối bảng.)"]
    for i, (section, title) in enumerate((("satisfaction", "XẾP HẠNG TRUNG TÂM THEO CHỈ SỐ HÀI LÒNG"),
                                          ("queue", "HÀNG ĐỢI THEO TRUNG TÂM (thứ tự xếp hạng)"),
                                          ("dossiers", "HỒ SƠ THEO TRUNG TÂM (thứ tự xếp hạng)")), 2):
        lines += [f"{i}. {title}", render_table(terminal_table(pr.centres, TERMINAL[section], "Trung tâm",
                                                                 total)),
                  *(note if section == "satisfaction" else []), ""]
    if holds_used(pr):
        missing = holds_missing(pr)
        lines += ["4b. LẤY SỐ TỪ XA VÀ LỊCH HẸN THEO LĨNH VỰC (toàn tỉnh)", out.HOLDS_NOTE]
        if pr.total.holds is not None:
            lines += [render_table(out.holds_short(holds_by_service(pr))), ""]
        else:
            lines += [f"Chưa có số liệu toàn tỉnh: {len(missing)} trung tâm chưa gửi số liệu lấy số từ xa và lịch "
                      "hẹn (phần mềm chưa nâng cấp): " + ", ".join(missing) + ".", ""]
        lines += ["4c. LẤY SỐ TỪ XA VÀ LỊCH HẸN THEO TRUNG TÂM (thứ tự xếp hạng)",
                  *(["— = trung tâm chưa gửi số liệu này (phần mềm chưa nâng cấp)."] if missing else []),
                  render_table(out.holds_short(holds_by_centre(pr))), ""]
    if pr.by == "officer":
        lines += ["5. XẾP HẠNG CÁN BỘ THEO CHỈ SỐ HÀI LÒNG (mọi trung tâm)",
                  render_table(terminal_table(pr.groups, TERMINAL_GROUPS, "Cán bộ", centre_column=True)), ""]
    elif pr.by == "service":
        lines += ["5. LĨNH VỰC TOÀN TỈNH (gộp theo mã lĩnh vực của mọi trung tâm), theo chỉ số hài lòng",
                  render_table(terminal_table(pr.groups, TERMINAL_GROUPS, "Lĩnh vực", total)), ""]
    return "\n".join(lines).rstrip() + "\n"


def info_rows(pr: ProvinceReport) -> list[tuple[str, str]]:
    return [("Báo cáo", f"Báo cáo toàn tỉnh – {pr.name}"), ("Kỳ báo cáo", pr.period.label()),
            ("Kỳ trước (so sánh)", pr.previous.label()), ("Nhóm theo", BY_VI[pr.by]),
            ("Lập lúc", pr.generated_at.astimezone(pr.tz).strftime("%d/%m/%Y %H:%M")),
            ("Xếp hạng", f"theo chỉ số hài lòng, rồi tỷ lệ hài lòng, rồi số đánh giá; trung tâm có ít hơn "
                         f"{pr.min_ratings} đánh giá được tính không xếp hạng (ghi cuối bảng)"),
            ("Toàn tỉnh", "tính từ số liệu gộp của mọi trung tâm (không phải trung bình các trung tâm)"),
            ("Định nghĩa", "docs/reports.md và docs/province.md")]


def write_xlsx(pr: ProvinceReport, path: str | Path) -> Path:
    """One sheet of ranked centres, one of the province total, one of officers or
    services (--by), then "Thông tin"."""
    return out.write_tables_xlsx(tables(pr), path, info_rows(pr), bold_rows=(PROVINCE,))


CSV_HEADER = [*out.CSV_HEADER, "key"]


def csv_rows(pr: ProvinceReport) -> list[list]:
    """Long format, one figure per row as the centre report's CSV (section,
    group_by, group, measure, label_vi, period, from, to, value, unit), and the
    row's key (centre id; centre id/officer; service code): the province total,
    each centre with its rank, then the officers or services."""
    spans = {"current": (pr.period.start.isoformat(), pr.period.end.isoformat()),
             "previous": (pr.previous.start.isoformat(), pr.previous.end.isoformat())}
    rows = []

    def add(r: Row, group_by: str, measures, group: str):
        cur = spans["current"]
        rows.append(["ranking", group_by, group, "rank", "Hạng", "current", *cur,
                     "" if r.rank is None else r.rank, "rank", r.key])
        for m in measures:
            a, b, _ = r.value(m)
            for period, v in (("current", a), ("previous", b)):
                rows.append([m.section, group_by, group, m.code, m.label, period, *spans[period],
                             out.csv_value(m.kind, v), out.CSV_UNITS[m.kind], r.key])

    total = pr.total_row
    for m in MEASURES:
        a, b, _ = total.value(m)
        for period, v in (("current", a), ("previous", b)):
            rows.append([m.section, "province", PROVINCE, m.code, m.label, period, *spans[period],
                         out.csv_value(m.kind, v), out.CSV_UNITS[m.kind], ""])
    for r in pr.centres:
        add(r, "centre", MEASURES, r.label)
    for r in pr.groups:
        add(r, pr.by, GROUP_MEASURES, _label(r))
    # numbers from afar and bookings: the province, each centre, each service (where the hub can say)
    def held(group_by: str, group: str, key: str, figures: dict[str, HoldFigures]):
        for code, label, kind, get in HOLD_MEASURES:
            for period, f in figures.items():
                rows.append(["remote", group_by, group, code, label.strip(), period, *spans[period],
                             out.csv_value(kind, get(f)), out.CSV_UNITS[kind], key])
    if pr.total.holds is not None:
        held("province", PROVINCE, "", {"current": pr.total.holds, "previous": pr.total.holds_previous})
    for r in pr.centres:
        rep = pr.reports.get(r.key)
        if rep is not None and rep.holds is not None:
            held("centre", r.label, r.key, {"current": rep.holds, "previous": rep.holds_previous})
    if pr.total.holds is not None:
        for code, label, f in pr.total.holds_by_service:
            held("service", label, code, {"current": f})
    return rows


def write_csv(pr: ProvinceReport, path: str | Path) -> Path:
    return out.write_csv_rows(CSV_HEADER, csv_rows(pr), path)


# -- the chart -------------------------------------------------------------------------------

BAR_INCHES = 0.2          # one centre's line: room for an 8-point label
CHART_WIDTH = 11.0


def write_chart(pr: ProvinceReport, path: str | Path) -> Path:
    """The ranked centres by satisfaction index, one horizontal bar each (a tall
    figure: every centre, so each can find itself), the previous period's index
    as a mark on each bar, the province's pooled index as a line. Centres with
    too few ratings to rank are named below the chart's title, not drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    import matplotlib

    ranked = pr.ranked
    total = pr.total.satisfaction.index
    height = max(4.5, 2.2 + BAR_INCHES * max(len(ranked), 1))
    with matplotlib.rc_context({"font.family": out.chart_font_family(), "font.size": 9,
                                "axes.titlesize": 12, "axes.titleweight": "bold"}):
        fig = Figure(figsize=(CHART_WIDTH, height), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        unranked = len(pr.centres) - len(ranked)
        fig.suptitle(f"{pr.name}: chỉ số hài lòng theo trung tâm\nKỳ {pr.period.label()} · so với kỳ trước "
                     f"{pr.previous.label()}" + (f"\n{unranked} trung tâm chưa đủ {pr.min_ratings} đánh giá "
                                                 "được tính: không xếp hạng, không vẽ" if unranked else ""),
                     fontsize=12)
        if not ranked:
            out._empty(ax, f"Chưa trung tâm nào có đủ {pr.min_ratings} đánh giá được tính")
        else:
            ys = list(range(len(ranked)))
            values = [r.current.satisfaction.index for r in ranked]
            ax.barh(ys, values, 0.72, color=out.CURRENT_COLOUR, label="Kỳ này")
            prev = [(y, r.previous.satisfaction.index) for y, r in zip(ys, ranked)
                    if r.previous is not None and r.previous.satisfaction.index is not None]
            if prev:
                ax.scatter([p for _, p in prev], [y for y, _ in prev], marker="|", s=90, linewidths=2,
                           color="#333333", zorder=3, label="Kỳ trước")
            if total is not None:
                ax.axvline(total, color=out.P90_COLOUR, linestyle="--", linewidth=1.5, zorder=2,
                           label=f"{PROVINCE}: {fmt_number(total, INDEX)}")
            fontsize = 8 if len(ranked) > 40 else 9
            ax.set_yticks(ys, [out._fit(f"{r.rank}. {r.label}", 38) for r in ranked], fontsize=fontsize)
            ax.set_ylim(len(ranked) - 0.5, -0.5)
            before = dict(prev)
            for y, v in zip(ys, values):   # the figure after the bar and after the previous period's mark
                ax.annotate(fmt_number(v, INDEX), (max(v, before.get(y, v)), y), va="center",
                            fontsize=fontsize - 1, xytext=(4, 0), textcoords="offset points")
            ax.set_xlim(0, 108)
            ax.set_xticks(range(0, 101, 10))
            ax.tick_params(axis="x", labeltop=True, top=True)
            ax.set_xlabel("Chỉ số hài lòng (0–100)")
            ax.grid(axis="x", color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
            # this period, the previous one, the province; above the axes and their top tick
            # labels (constrained layout makes room for it)
            from matplotlib.transforms import offset_copy
            order = {"Kỳ này": 0, "Kỳ trước": 1}
            handles = sorted(zip(*ax.get_legend_handles_labels()), key=lambda hl: order.get(hl[1], 2))
            ax.legend(*zip(*handles), loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=9,
                      frameon=False, bbox_transform=offset_copy(ax.transAxes, fig=fig, y=16, units="points"))
        try:
            fig.savefig(path, format="png")
        except OSError as exc:
            raise out.OutputError(f"cannot write {path}: {exc.strerror}; choose another --chart path") from None
    return Path(path)

"""The province report's pure parts (motcua.province.ranking) and its outputs
(motcua.province.report_output): ranking, ties, centres too thin to rank, the
previous period and the change, a centre's site from its record, the province
as one pooled site, officers and services, then the text, CSV, XLSX and the
chart of 170 centres (labels legible and apart).

Reports are made by the centre report's own report_from, over rows given here
(RowSource): no database. The equivalence with the centres' databases is
tests/integration/test_province_report.py.
"""
from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta, timezone

import pytest

from motcua import report_output
from motcua.config import RatingLevel
from motcua.province import ranking
from motcua.province import report_output as out
from motcua.province.ranking import Figures, Row
from motcua.report_figures import Period, Queue, Satisfaction, TicketRow, report_from

PERIOD = Period(date(2026, 11, 1), date(2026, 11, 30))
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
WEIGHTS = (100.0, 66.7, 33.3, 0.0)
FIRST = ["Phú", "An", "Hòa", "Hương", "Phong", "Quảng", "Vinh", "Thủy", "Lộc", "Thuận", "Tân", "Bình", "Long",
         "Mỹ", "Đông", "Xuân", "Hải", "Điền", "Kim", "Thanh", "Minh", "Đức", "Trung", "Gia"]
SECOND = ["Vinh", "Lộc", "Xuân", "Điền", "Hòa", "An", "Thạnh", "Phong", "Thủy", "Bình", "Long", "Mỹ", "Lợi",
          "Hưng", "Thịnh", "Sơn", "Hải", "Khánh", "Tiến", "Thái", "Phước", "Định", "Trà", "Lâm", "Dương"]


def centre_names(n: int, seed: int = 13) -> list[tuple[str, str]]:
    """n different (id, name) of communes and wards, a few of them long."""
    rng = random.Random(seed)
    names = ["Xã Quảng Điền Phong Hải Đông", "Phường Bình Hưng Hòa", "Xã Chân Mây - Lăng Cô"]
    while len(names) < n:
        name = f"{'Phường' if rng.random() < 0.22 else 'Xã'} {rng.choice(FIRST)} {rng.choice(SECOND)}"
        if name not in names:
            names.append(name)
    return [(f"c{i:03d}", name) for i, name in enumerate(names[:n])]
SITE_BODY = {
    "id": "phuong-an-cuu", "name": "Phường An Cựu (tên trong tệp trung tâm)", "timezone": "Asia/Ho_Chi_Minh",
    "services": [{"code": "HT", "name_vi": "Hộ tịch", "name_en": "Civil status", "start": 1, "end": 499,
                  "prefix": ""},
                 {"code": "CT", "name_vi": "Chứng thực", "name_en": "Certification", "start": 500, "end": 999,
                  "prefix": ""}],
    "counters": [{"number": 1, "name": "Quầy 1 – Hộ tịch", "services": ["HT"]}],
    "priorities": [],
    "rating_levels": [{"code": "rat_hai_long", "name_vi": "Rất hài lòng", "name_en": "", "weight": 100},
                      {"code": "hai_long", "name_vi": "Hài lòng", "name_en": "", "weight": 66.7},
                      {"code": "binh_thuong", "name_vi": "Bình thường", "name_en": "", "weight": 33.3},
                      {"code": "khong_hai_long", "name_vi": "Không hài lòng", "name_en": "", "weight": 0}],
}


def sat(levels, index: float | None = None) -> Satisfaction:
    """Counted ratings per level; the index from the default weights, or as given."""
    s = Satisfaction([0, 0, 0, 0])
    for i, n in enumerate(levels):
        s.add("counted", i + 1, n, n * WEIGHTS[i])
    if index is not None:
        s.weight_sum = index * s.counted
    return s


def row(key, label, levels, previous=None, index=None) -> Row:
    return Row(key, label, Figures(sat(levels, index), Queue().finish()),
               None if previous is None else Figures(sat(previous), Queue().finish()))


# -- ranking -------------------------------------------------------------------------------------


def test_ranked_by_index_then_share_then_ratings_and_equals_share_a_rank():
    rows = ranking.rank([
        row("a", "Xã A", [40, 0, 0, 10], index=80),    # share 80 %, 50 ratings
        row("b", "Xã B", [16, 16, 0, 8], index=80),    # share 80 %, 40 ratings: behind a
        row("c", "Xã C", [50, 10, 0, 10], index=80),   # share 85.7 %: ahead of every other 80
        row("d", "Xã D", [80, 0, 0, 20], index=80),    # share 80 %, 100 ratings: ahead of a
        row("e", "Xã E", [40, 0, 0, 10], index=80),    # the same as a on all three: the same rank
        row("f", "Xã F", [90, 10, 0, 0]),              # index 96.67: first
    ])
    assert [r.key for r in rows] == ["f", "c", "d", "a", "e", "b"]
    assert [r.rank for r in rows] == [1, 2, 3, 4, 4, 6]
    assert rows[0].current.satisfaction.index == pytest.approx(96.67)


def test_too_few_ratings_are_listed_after_in_vietnamese_order():
    rows = ranking.rank([
        row("x1", "Xã Đông Sơn", [20, 9, 0, 0]),        # 29 counted: not ranked
        row("x2", "Xã Dương Hòa", [10, 0, 0, 0]),
        row("x3", "Xã An Bình", [0, 0, 0, 0]),           # no rating at all
        row("x4", "Xã Zê", [15, 15, 0, 0]),              # exactly 30: ranked
        row("x5", "Phường Bình Minh", [1, 0, 0, 40]),
    ], min_ratings=30)
    assert [(r.key, r.rank) for r in rows] == [("x4", 1), ("x5", 2), ("x3", None), ("x1", None), ("x2", None)]
    # Đ among the Ds: Đông (dong) before Dương (duong)
    assert [r.label for r in ranking.rank([row("1", "Xã Dương", [1, 0, 0, 0]), row("2", "Xã Đông", [1, 0, 0, 0])],
                                          min_ratings=30)] == ["Xã Đông", "Xã Dương"]
    assert [r.rank for r in ranking.rank([row("a", "A", [1, 0, 0, 0])], min_ratings=1)] == [1]


def test_each_figure_beside_the_previous_period_and_its_change():
    r = row("a", "Xã A", [30, 10, 0, 0], previous=[20, 10, 10, 0])
    index = ranking.MEASURE["index"]
    cur, prev, change = r.value(index)
    assert cur == pytest.approx((30 * 100 + 10 * 66.7) / 40) and prev == pytest.approx((2000 + 667 + 333) / 40)
    assert change == pytest.approx(cur - prev)
    assert row("b", "Xã B", [5, 0, 0, 0]).value(index) == (100.0, None, None)         # nothing before
    assert row("c", "Xã C", [0, 0, 0, 0], previous=[1, 0, 0, 0]).value(index) == (None, 100.0, None)
    assert r.value(ranking.MEASURE["share_on_time"]) == (None, None, None)            # no dossiers on a group


def test_no_show_rate_is_over_the_tickets_called():
    q = Queue(no_show=3, waits=[10.0] * 40).finish()        # 40 called, 3 did not come
    assert ranking.no_show_rate(q) == pytest.approx(7.5)
    assert ranking.no_show_rate(Queue().finish()) is None


def test_measure_kinds_are_the_report_outputs():
    assert (ranking.COUNT, ranking.PERCENT, ranking.INDEX, ranking.MINUTES) == (
        report_output.COUNT, report_output.PERCENT, report_output.INDEX, report_output.MINUTES)
    assert len({m.code for m in ranking.MEASURES}) == len(ranking.MEASURES)
    assert {m.section for m in ranking.GROUP_MEASURES} == {"satisfaction", "queue"}


# -- the site a centre's record describes, and the province's -------------------------------------


def test_a_centre_as_its_site_record_describes_it():
    site = ranking.site_from_record("phuong-an-cuu", "Phường An Cựu", SITE_BODY, "Asia/Bangkok")
    assert site.name == "Phường An Cựu"            # the provincial file's name
    assert site.timezone == "Asia/Ho_Chi_Minh" and site.tz.key == "Asia/Ho_Chi_Minh"
    assert site.service("CT").name_vi == "Chứng thực" and site.service("CT").start == 500
    assert site.counter(1).name == "Quầy 1 – Hộ tịch" and site.counter(1).services == ("HT",)
    assert [lv.weight for lv in site.rating_levels] == [100, 66.7, 33.3, 0]
    assert isinstance(site.rating_levels[0], RatingLevel)
    with pytest.raises(KeyError):
        site.service("XX")
    never = ranking.site_from_record("xa-moi", "Xã Mới", None, "Asia/Ho_Chi_Minh")
    assert (never.name, never.timezone, never.services, never.counters) == ("Xã Mới", "Asia/Ho_Chi_Minh", (), ())
    assert len(never.rating_levels) == 4
    odd = ranking.site_from_record("x", "X", {**SITE_BODY, "timezone": "Mars/Olympus"}, "Asia/Ho_Chi_Minh")
    assert odd.timezone == "Asia/Ho_Chi_Minh"


def test_the_province_pools_services_by_code():
    other = {**SITE_BODY, "services": [{"code": "HT", "name_vi": "Tư pháp – Hộ tịch", "start": 1, "end": 99},
                                       {"code": "DD", "name_vi": "Đất đai", "start": 100, "end": 199}]}
    third = {**SITE_BODY, "services": [{"code": "HT", "name_vi": "Tư pháp – Hộ tịch", "start": 1, "end": 99}],
             "rating_levels": SITE_BODY["rating_levels"][:3]}
    p = ranking.province_site("hue", "Thành phố Huế", "Asia/Ho_Chi_Minh", [SITE_BODY, other, third, None])
    assert [s.code for s in p.services] == ["HT", "CT", "DD"]
    assert p.service("HT").name_vi == "Tư pháp – Hộ tịch"      # as most centres name it
    assert len(p.rating_levels) == 4 and p.counters == () and p.name == "Thành phố Huế"


# -- reports made by report_from over given rows -------------------------------------------------


class RowSource:
    """A ReportSource over rows made here: n tickets (waits, services, states) and
    counted ratings at given levels, no dossiers."""

    def __init__(self, tickets, ratings, officers=()):
        self._tickets, self._ratings, self._officers = tickets, ratings, officers

    def tickets(self, period, by):
        return [TicketRow(t["officer"] if by == "officer" else t["service"] if by == "service" else None,
                          9, period.start.isoformat(), t["state"], False, t["wait"], t["service_s"], None)
                for t in self._tickets]

    def rating_counts(self, period, by):
        return [(r["officer"] if by == "officer" else r["service"] if by == "service" else None,
                 period.start.isoformat(), "counted", r["level"], 1, WEIGHTS[r["level"] - 1])
                for r in self._ratings]

    def dossiers_received(self, period):
        return []

    def dossier_states(self, period):
        return []

    def procedure_rating_counts(self, period):
        return []

    def officer_names(self):
        return {o: f"Cán bộ {o[2:]}" for o in self._officers}


def centre_report(rng, name, n, good, site=None):
    officers = ["cb01", "cb02", "cb03"]
    tickets = [{"officer": rng.choice(officers), "service": rng.choice(["HT", "CT"]),
                "state": "no_show" if rng.random() < 0.05 else "done",
                "wait": rng.expovariate(1 / 600), "service_s": rng.lognormvariate(6, 0.5)} for _ in range(n)]
    for t in tickets:
        if t["state"] != "done":
            t["service_s"] = None
    ratings = [{"officer": t["officer"], "service": t["service"],
                "level": rng.choices([1, 2, 3, 4], [good, 30, 10, 5])[0]}
               for t in tickets if t["service_s"]][: n * 3 // 4]
    site = site or ranking.site_from_record(name, name, SITE_BODY, "Asia/Ho_Chi_Minh")
    return RowSource(tickets, ratings, officers), site


def province(n_centres=5, by="centre", seed=5, thin=1):
    rng = random.Random(seed)
    names = centre_names(n_centres)
    entries, sources, groups = [], [], []
    for i, (cid, name) in enumerate(names):
        n = 8 if i < thin else rng.randint(60, 200)
        source, site = centre_report(rng, cid, n, rng.randint(20, 90))
        site = ranking.site_from_record(cid, name, SITE_BODY, "Asia/Ho_Chi_Minh")
        rep = report_from(source, site, PERIOD, "officer" if by == "officer" else None, NOW)
        if by == "officer":
            groups += ranking.group_rows(rep, report_from(source, site, PERIOD.previous(), "officer", NOW), cid, name)
        entries.append((cid, name, rep))
        sources.append(source)
    pooled = RowSource([t for s in sources for t in s._tickets], [r for s in sources for r in s._ratings])
    psite = ranking.province_site("hue", "Thành phố Huế", "Asia/Ho_Chi_Minh", [SITE_BODY])
    total = report_from(pooled, psite, PERIOD, "service" if by == "service" else None, NOW)
    if by == "service":
        groups = ranking.group_rows(total, report_from(pooled, psite, PERIOD.previous(), "service", NOW))
    return ranking.province_report("Thành phố Huế", "Asia/Ho_Chi_Minh", PERIOD, by, NOW, entries, total, groups)


def test_officers_keep_their_centre_and_drop_the_nobody_group():
    pr = province(3, "officer", thin=0)
    assert {r.key.split("/")[1] for r in pr.groups} == {"cb01", "cb02", "cb03"}
    assert len(pr.groups) == 9 and all(r.centre for r in pr.groups)
    assert all(r.previous is not None for r in pr.groups)
    assert pr.groups[0].label == "cb01 (Cán bộ 01)" or pr.groups[0].label.startswith("cb0")


def test_services_pooled_rows_are_the_total_report_groups():
    pr = province(4, "service", thin=0)
    assert [r.key for r in pr.groups] == sorted((r.key for r in pr.groups),
                                               key=lambda k: -next(g for g in pr.total.groups if g.key == k)
                                               .satisfaction.index)
    assert {r.label for r in pr.groups} == {"HT – Hộ tịch", "CT – Chứng thực"}
    assert sum(r.current.queue.issued for r in pr.groups) == pr.total.queue.issued


# -- outputs ---------------------------------------------------------------------------------------


def test_text_heads_the_province_then_ranks_the_centres():
    pr = province(6)
    text = out.format_text(pr)
    assert text.startswith("BÁO CÁO TOÀN TỈNH – Thành phố Huế\n")
    assert "1. TOÀN TỈNH (số liệu gộp của mọi trung tâm, không phải trung bình các trung tâm)" in text
    section = text.split("2. XẾP HẠNG TRUNG TÂM THEO CHỈ SỐ HÀI LÒNG")[1].split("3.")[0]
    lines = [ln for ln in section.splitlines() if ln.strip()]
    body = lines[2:2 + len(pr.centres)]
    assert [ln.split()[0] for ln in body[:len(pr.ranked)]] == [str(r.rank) for r in pr.ranked]
    assert "1 trung tâm chưa đủ 30 đánh giá được tính" in section
    assert lines[2 + len(pr.centres)].startswith("      Toàn tỉnh")
    idx = f"{pr.ranked[0].current.satisfaction.index:.1f}".replace(".", ",")
    assert idx in body[0]
    assert "4. HỒ SƠ THEO TRUNG TÂM" in text


def test_csv_one_figure_per_row_with_ranks(tmp_path):
    pr = province(4, "service")
    path = out.write_csv(pr, tmp_path / "tinh.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert list(rows[0]) == [*report_output.CSV_HEADER, "key"]
    got = {(r["group_by"], r["key"], r["measure"], r["period"]): r for r in rows}
    first = pr.ranked[0]
    assert got[("centre", first.key, "rank", "current")]["value"] == "1"
    assert float(got[("centre", first.key, "index", "current")]["value"]) == pytest.approx(
        first.current.satisfaction.index, abs=1e-4)
    assert got[("province", "", "wait_median", "current")]["unit"] == "minutes"
    assert float(got[("province", "", "wait_median", "current")]["value"]) == pytest.approx(
        pr.total.queue.wait_median / 60, abs=1e-3)
    assert ("service", "HT", "index", "previous") in got
    assert got[("centre", pr.centres[-1].key, "rank", "current")]["value"] == ""


def test_xlsx_sheets_and_numbers(tmp_path):
    from openpyxl import load_workbook
    pr = province(5, "officer")
    wb = load_workbook(out.write_xlsx(pr, tmp_path / "tinh.xlsx"))
    assert wb.sheetnames == ["Xếp hạng trung tâm", "Toàn tỉnh", "Cán bộ", "Thông tin"]
    ws = wb["Xếp hạng trung tâm"]
    head = [c.value for c in ws[1]]
    assert len(head) == 2 + 3 * len(ranking.MEASURES) and all(c.font.bold for c in ws[1])
    i = head.index("Tỷ lệ hài lòng (2 mức cao nhất) – kỳ này")
    assert ws.cell(2, i + 1).number_format == "0.0%"
    assert ws.cell(2, i + 1).value == pytest.approx(pr.ranked[0].current.satisfaction.share_satisfied / 100)
    assert ws.cell(ws.max_row, 1).value == "Toàn tỉnh" and ws.cell(ws.max_row, 1).font.bold
    officers = wb["Cán bộ"]
    assert [c.value for c in officers[1]][:3] == ["Cán bộ", "Hạng", "Trung tâm"]
    assert officers.max_row == len(pr.groups) + 1
    assert "không phải trung bình" in " ".join(str(c.value) for c in wb["Thông tin"]["B"])


def test_the_chart_of_170_centres_has_every_label_legible_and_apart(tmp_path):
    """One bar per ranked centre in a tall figure: every name at 8 points or more,
    no two names overlapping, none cut by the figure's edge."""
    from PIL import Image
    pr = province(170, seed=13, thin=6)
    assert len(pr.ranked) == 164
    captured = {}
    from matplotlib.figure import Figure
    original = Figure.savefig

    def keep(self, *args, **kwargs):
        captured["fig"] = self
        return original(self, *args, **kwargs)
    Figure.savefig = keep
    try:
        path = out.write_chart(pr, tmp_path / "xep-hang.png")
    finally:
        Figure.savefig = original
    width, height = Image.open(path).size
    assert width == 1100 and height > 164 * 18
    fig = captured["fig"]
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    labels = [t for t in ax.get_yticklabels() if t.get_text()]
    assert len(labels) == 164
    assert labels[0].get_text().startswith("1. ") and all(t.get_fontsize() >= 8 for t in labels)
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.y0)
    assert all(a.y1 <= b.y0 + 0.5 for a, b in zip(boxes, boxes[1:])), "two centre names overlap"
    assert all(b.x0 >= 0 and b.y0 >= 0 and b.y1 <= height for b in boxes)
    title = fig.texts[0].get_text() if fig.texts else fig._suptitle.get_text()
    assert "6 trung tâm chưa đủ 30 đánh giá" in title

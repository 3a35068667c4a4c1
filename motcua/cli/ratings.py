"""`motcua ratings export`: one row per rated dossier, for the provincial one-stop
system, whose satisfaction scoring counts per dossier (issue 12; docs/reports.md)."""
from __future__ import annotations

import sys

from ..config import Site
from .common import CliError, centre_db


def cmd_export(site: Site, args) -> int:
    """Every counted rating of the period with a dossier attached to its ticket, one
    row per dossier; CSV on standard output unless --csv or --xlsx names a file."""
    from datetime import datetime, timezone
    from .. import report_output as out
    from ..report_figures import ReportError, export_rows, resolve_period
    from ..report_sqlite import SqliteSource
    now = datetime.now(timezone.utc)
    if args.csv and args.xlsx:
        raise CliError("give --csv FILE or --xlsx FILE, not both (without either: CSV on standard output)")
    try:
        period = resolve_period(args.start, args.end, now.astimezone(site.tz).date())
        target = (out.check_target(args.csv, ".csv", "--csv") if args.csv else
                  out.check_target(args.xlsx, ".xlsx", "--xlsx") if args.xlsx else None)
    except (ReportError, out.OutputError) as exc:
        raise CliError(str(exc)) from None
    if not site.database.exists():
        raise CliError(f"no centre database at {site.database}: check data_dir in {site.path}, or run "
                       "`motcua centre` once to create it")
    store = centre_db(site)
    try:
        source = SqliteSource(store.db.conn, site.tz)
        got = source.rated_dossiers(period)
        names = source.officer_register()
    finally:
        store.close()
    if got is None:
        raise CliError(f"the database at {site.database} has no ratings with dossiers yet "
                       "(run `motcua centre` once with this version to bring it up to date)")
    rated, without = got
    rows = export_rows(rated, site, names)
    ratings = len({r["rating_id"] for r in rows})
    summary = (f"{period.start:%d/%m/%Y} – {period.end:%d/%m/%Y}: {len(rows)} rows, one per dossier, of "
               f"{ratings} counted ratings; {without} counted ratings of tickets without a dossier are "
               "not in the file")
    try:
        if args.xlsx:
            out.write_export_xlsx(rows, target, [
                ("Trung tâm", site.name), ("Kỳ", period.label()),
                ("Số dòng (hồ sơ)", len(rows)), ("Số lượt đánh giá có hồ sơ", ratings),
                ("Đánh giá không gắn hồ sơ (không có trong tệp)", without),
                ("Lập lúc", now.astimezone(site.tz).strftime("%d/%m/%Y %H:%M"))])
        elif args.csv:
            out.write_export_csv(rows, target)
        else:
            out.write_export_csv(rows, sys.stdout)
    except out.OutputError as exc:
        raise CliError(str(exc)) from None
    if target is None:
        print(summary, file=sys.stderr)  # standard output is the CSV
    else:
        print(f"wrote {target}: {summary}")
    return 0


def add_commands(sub) -> None:
    r = sub.add_parser("ratings", help="satisfaction ratings: one row per rated dossier for the provincial "
                       "one-stop system (docs/reports.md)",
                       example="motcua ratings export --from 01/11/2026 --to 30/11/2026 --xlsx danh-gia-11.xlsx")
    actions = r.add_subparsers(dest="action", required=True, metavar="ACTION",
                               title="actions (ACTION --help says more)")
    e = actions.add_parser("export", help="one row per dossier of each counted rating of a period "
                           "(dossier, procedure, level, officer, counter, times)",
                           description="One row per dossier attached to each counted rating's ticket (a "
                           "rating of a ticket with two dossiers gives two rows): dossier code, procedure, "
                           "level, weight, officer, counter, service, ticket and its times, when the button "
                           "was pressed (local time, ISO 8601), rating id. Ratings of tickets without a "
                           "dossier are left out and counted. CSV on standard output unless --csv or --xlsx "
                           "names a file.",
                           example=["motcua ratings export --from 2026-11-01 --to 2026-11-30",
                                    "motcua ratings export --from 01/11/2026 --to 30/11/2026 --csv danh-gia.csv",
                                    "motcua ratings export --xlsx danh-gia.xlsx"])
    e.add_argument("--from", dest="start", metavar="DAY", help="first day, YYYY-MM-DD or dd/mm/yyyy (default: "
                   "the first day of --to's month)")
    e.add_argument("--to", dest="end", metavar="DAY", help="last day, included (default: today)")
    e.add_argument("--csv", metavar="FILE", help="write a CSV file, UTF-8 with BOM (FILE.csv)")
    e.add_argument("--xlsx", metavar="FILE", help="write an Excel workbook (FILE.xlsx)")
    e.set_defaults(fn=cmd_export)

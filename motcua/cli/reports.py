"""`motcua report`: the managers' report over a period (docs/reports.md)."""
from __future__ import annotations

from ..config import Site
from .common import CliError, centre_db


def cmd_report(site: Site, args) -> int:
    """Manager reports: satisfaction, queue and dossiers over a period, compared with
    the period before it (definitions: docs/reports.md)."""
    from datetime import datetime, timezone
    from .. import report_output as out
    from ..reports import ReportError, build_report, resolve_period
    now = datetime.now(timezone.utc)
    try:
        period = resolve_period(args.start, args.end, now.astimezone(site.tz).date())
        targets = [(fn, out.check_target(path, suffix, option))
                   for fn, path, suffix, option in ((out.write_xlsx, args.xlsx, ".xlsx", "--xlsx"),
                                                    (out.write_csv, args.csv, ".csv", "--csv"),
                                                    (out.write_chart, args.chart, ".png", "--chart"))
                   if path]
    except (ReportError, out.OutputError) as exc:
        raise CliError(str(exc)) from None
    if not site.database.exists():
        raise CliError(f"no centre database at {site.database}: check data_dir in {site.path}, or run "
                       "`motcua centre` once to create it")
    store = centre_db(site)
    try:
        report = build_report(store.db, site, period, by=args.by, now=now)
    finally:
        store.close()
    print(out.format_text(report), end="")
    for write, path in targets:
        try:
            write(report, path)
        except out.OutputError as exc:
            raise CliError(str(exc)) from None
        print(f"wrote {path}")
    return 0


def add_commands(sub) -> None:
    from ..reports import BY_CHOICES
    rp = sub.add_parser("report", help="manager report: satisfaction, queue and dossiers over a period, "
                        "compared with the period before (docs/reports.md)",
                        example=["motcua report", "motcua report --from 01/11/2026 --to 30/11/2026 --by counter "
                                 "--xlsx thang-11.xlsx"])
    rp.add_argument("--from", dest="start", metavar="DATE", help="first day, YYYY-MM-DD or dd/mm/yyyy (default: the first "
                    "day of --to's month)")
    rp.add_argument("--to", dest="end", metavar="DATE", help="last day, included (default: today)")
    rp.add_argument("--by", choices=BY_CHOICES,
                    help="also break satisfaction and queue figures down by this")
    rp.add_argument("--xlsx", metavar="FILE", help="also write an Excel workbook (FILE.xlsx)")
    rp.add_argument("--csv", metavar="FILE", help="also write a CSV file, UTF-8 with BOM (FILE.csv)")
    rp.add_argument("--chart", metavar="FILE", help="also write satisfaction and waiting-time charts (FILE.png)")
    rp.set_defaults(fn=cmd_report)

"""`motcua province report`: the province report from the hub's database
(docs/province.md, "The province report"). The shell: the period and the files
checked first, then the database read (motcua.province.report_pg), the text
printed and the files written (motcua.province.report_output)."""
from __future__ import annotations

from datetime import datetime, timezone

from ..cli.common import CliError
from .config import Province


def cmd_report(province: Province, args) -> int:
    import psycopg

    from .. import report_output as files
    from ..report_figures import ReportError, resolve_period
    from . import report_output as out
    from .report_pg import build_province_report, connect

    now = datetime.now(timezone.utc)
    if args.min_ratings < 1:
        raise CliError(f"--min-ratings {args.min_ratings}: give a whole number of at least 1 "
                       "(the counted ratings a centre needs to be ranked)")
    try:
        period = resolve_period(args.start, args.end, now.astimezone(province.tz).date())
        targets = [(fn, files.check_target(path, suffix, option))
                   for fn, path, suffix, option in ((out.write_xlsx, args.xlsx, ".xlsx", "--xlsx"),
                                                    (out.write_csv, args.csv, ".csv", "--csv"),
                                                    (out.write_chart, args.chart, ".png", "--chart"))
                   if path]
    except (ReportError, files.OutputError) as exc:
        raise CliError(str(exc)) from None
    try:
        conn = connect(province.dsn)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"cannot open the province's database ({reason}); check [database] dsn in "
                       f"{province.path} and that PostgreSQL is running") from None
    try:
        with conn:
            if conn.execute("SELECT to_regclass('sites') IS NULL OR to_regclass('tickets') IS NULL").fetchone()[0]:
                raise CliError(f"the database of {province.path} has no centre records yet: start "
                               "`motcua province hub` once (it creates the tables), and the centres' "
                               "`motcua ship`")
            # four more connections read side by side, in this one's snapshot
            report = build_province_report(conn, province, period, by=args.by, now=now,
                                           min_ratings=args.min_ratings,
                                           open_connection=lambda: connect(province.dsn), fetchers=4)
    except psycopg.Error as exc:
        raise CliError(f"reading the province's database failed: {str(exc).strip().splitlines()[0]}") from None
    print(out.format_text(report), end="")
    for write, path in targets:
        try:
            write(report, path)
        except files.OutputError as exc:
            raise CliError(str(exc)) from None
        print(f"wrote {path}")
    return 0

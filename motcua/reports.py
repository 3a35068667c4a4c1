"""Manager reports (`motcua report`): the public names, from where they are made.

    motcua.report_figures   the figures from plain rows (the functional core: no
                            database, no printing): Period, percentile, Satisfaction,
                            Queue, DossierFigures, Report, the row shapes, report_from()
    motcua.report_sqlite    the centre's SQLite database read into those rows;
                            build_report(db, site, period, by=...)
    motcua.report_output    the terminal table, XLSX, CSV and chart

A report from another database (the province's) is another loader beside
report_sqlite giving report_figures.report_from() the same rows. Definitions of
every figure: docs/reports.md.
"""
from __future__ import annotations

from .report_figures import (BY_CHOICES, OUTCOMES, WEEKDAYS_VI, DayRow, DossierFigures,
                             DossierGroup, DossierRow, Group, HoldCount, HoldFigures, HourRow, Period, ProcedureRatingCount,
                             ProcedureSatisfaction, Queue, RatingCount, ReceivedCount, Report, ReportError, ReportSource,
                             Satisfaction, TicketRow, dossier_figures, parse_day, percentile,
                             procedure_satisfaction, queue_figures, report_from, resolve_period,
                             satisfaction_figures)
from .report_sqlite import SqliteSource, build_report

__all__ = [
    "BY_CHOICES", "OUTCOMES", "WEEKDAYS_VI", "DayRow", "DossierFigures", "DossierGroup",
    "DossierRow", "Group", "HoldCount", "HoldFigures", "HourRow", "Period", "ProcedureRatingCount", "ProcedureSatisfaction", "Queue", "RatingCount", "ReceivedCount", "Report",
    "ReportError", "ReportSource", "Satisfaction", "SqliteSource", "TicketRow", "build_report",
    "dossier_figures", "parse_day", "percentile", "procedure_satisfaction", "queue_figures", "report_from",
    "resolve_period", "satisfaction_figures",
]

"""The pure rules of a dossier's time limit: on time or late, the steps still
to come, and which dossiers need an apology. Part of the core: no I/O.

Lateness
--------
`timeliness(dossier, now)` is a pure function. The due date is the apology's
new date if there is one, else due_at. The clock stops when the dossier reaches
an outcome (result_ready, returned, refused, stopped, withdrawn) or waits for
the citizen (supplement_requested): a result ready on time is on time even if
the citizen collects it later. A dossier is late if its clock stopped after the
due date, or is still running and today (local date) is past the due date.

Apologies (Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết, mẫu 04)
--------------------------------------------------------------------------
`overdue(dossiers, now)` (and DossierStore.overdue) lists the dossiers that need
one: clock still running, no apology yet, late or due within
OVERDUE_WITHIN_DAYS (1: today or tomorrow; the agency tells the citizen at least
a day before the deadline). `DossierStore.apologise(code, reason, new_due, now)`
records one, officer-side (`motcua dossiers apologise`); `apply_update` takes one
from the one-stop software. Either way the due date moves once: the apology's
new date becomes `effective_due`, `due_at` stays the date on the receipt, and a
second apology (apology_already_issued) or due-date change
(due_date_already_reset) is refused. The letter itself: motcua.apology_letter.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable
from zoneinfo import ZoneInfo

from .model import CLOCK_STOPPED, CLOSED, DEFAULT_TIMEZONE, NORMAL_PATH, Dossier

@dataclass(frozen=True)
class Timeliness:
    code: str                  # a key of TIMELINESS
    late: bool
    days_late: int             # calendar days past the due date, 0 if not late
    due: date                  # the effective due date
    clock_stopped_on: date | None


def local(dt: datetime, tz: ZoneInfo) -> datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=tz)
    return dt.astimezone(tz)


def clock_stopped_at(dossier: Dossier) -> datetime | None:
    """When the time limit stopped running: the start of the last run of steps
    in CLOCK_STOPPED, if the dossier is still in it."""
    stopped = None
    for s in reversed(dossier.steps):
        if s.step not in CLOCK_STOPPED:
            break
        stopped = s.at
    return stopped


def timeliness(dossier: Dossier, now: datetime, tz: ZoneInfo | str = DEFAULT_TIMEZONE) -> Timeliness:
    """On time or late, as a pure function of the dossier and `now` (dates are
    local dates in `tz`)."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    due = dossier.effective_due
    stopped = clock_stopped_at(dossier)
    if stopped is not None:
        end = local(stopped, tz).date()
        late = end > due
        code = "late" if late else ("on_time" if end == due else "early")
        return Timeliness(code, late, (end - due).days if late else 0, due, end)
    today = local(now, tz).date()
    late = today > due
    code = "late" if late else ("due_today" if today == due else "in_time")
    return Timeliness(code, late, (today - due).days if late else 0, due, None)


def steps_to_come(dossier: Dossier) -> list[str]:
    """The rest of the normal path after the furthest step reached; nothing once
    the dossier is refused, stopped or withdrawn."""
    if dossier.status in CLOSED:
        return []
    reached = max((NORMAL_PATH.index(s.step) for s in dossier.steps if s.step in NORMAL_PATH),
                  default=0)
    return list(NORMAL_PATH[reached + 1:])



# -- late dossiers -------------------------------------------------------------------

# Listed as needing an apology: late, or due within this many days (0 today, 1 tomorrow).
# The agency informs the citizen at least one day before the deadline.
OVERDUE_WITHIN_DAYS = 1


@dataclass(frozen=True)
class OverdueDossier:
    dossier: Dossier
    timeliness: Timeliness
    days_left: int     # from today to the due date: < 0 late, 0 due today, 1 due tomorrow


def overdue(dossiers: Iterable[Dossier], now: datetime, tz: ZoneInfo | str = DEFAULT_TIMEZONE,
            within_days: int = OVERDUE_WITHIN_DAYS) -> list[OverdueDossier]:
    """The dossiers that need an apology now: still running (the clock has not
    stopped: no outcome reached, not waiting for the citizen), no apology yet,
    and late or due within `within_days` days. Most late first, then by code.
    A pure function of the dossiers and `now`."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    today = local(now, tz).date()
    found = []
    for d in dossiers:
        if d.apology is not None or clock_stopped_at(d) is not None:
            continue
        t = timeliness(d, now, tz)
        left = (t.due - today).days
        if left <= within_days:
            found.append(OverdueDossier(d, t, left))
    found.sort(key=lambda o: (o.days_left, o.dossier.code))
    return found


"""The centre's live tile on the province's board (`ship/live`, docs/province.md),
from plain rows. Part of the core: no I/O.

- waiting: tickets waiting now; longest_wait_s: since the earliest of them was
  issued (a transferred ticket keeps its issue time), whole seconds.
- served_today: today's tickets (the site's local day) ended `done`.
- counters: each counter of the site, its state (`open`, `called`, `serving`:
  the state of the ticket an open counter holds; `paused`, `closed`) and
  `since`, the time of its last change (`counters.updated_at`).
- ratings_today and satisfaction_index: today's counted ratings and their index,
  as the centre's own tallies make them (motcua.ratings.tally).
- late_without_apology: dossiers still running, late, with no apology, by the
  dossier rules (motcua.dossiers.rules.overdue of late ones only).
- unshipped: records in the outbox beyond the hub's acknowledgement.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable
from zoneinfo import ZoneInfo

from .. import ratings as rt
from ..dossiers.model import Dossier
from ..dossiers.rules import overdue
from ..timefmt import parse_iso, utc_iso

VERSION = 1


def counter_state(counter: dict, ticket_states: dict[int, str]) -> str:
    """What the board shows of a counter: an open counter holding a ticket is
    `called` or `serving`, as the ticket is."""
    if counter["state"] == "open" and counter.get("ticket_id") is not None:
        held = ticket_states.get(counter["ticket_id"])
        if held in ("called", "serving"):
            return held
    return counter["state"]


def live_tile(*, centre: str, name: str, now: datetime, tz: ZoneInfo, tickets: Iterable[dict],
              counters: Iterable[dict], ratings: Iterable[dict], rating_levels, dossiers: Iterable[Dossier],
              unshipped: int, counter_numbers: Iterable[int] | None = None) -> dict:
    """The tile. `tickets`: rows (id, day, state, issued_at) of every ticket still
    waiting, called or being served and of every ticket of today; `counters`: the
    counters' rows; `counter_numbers`: the site's counters (then one without a row
    yet is closed, one no longer in the site is left out); `ratings`: today's rating rows (status, level, weight, counter,
    officer, service, hour); `dossiers`: at least every dossier that may be late
    without an apology (more is fine: the rules decide)."""
    today = now.astimezone(tz).date().isoformat()
    waiting, served, states = 0, 0, {}
    earliest = None
    for t in tickets:
        states[t["id"]] = t["state"]
        if t["state"] == "waiting":
            waiting += 1
            issued = parse_iso(t["issued_at"])
            earliest = issued if earliest is None or issued < earliest else earliest
        elif t["state"] == "done" and t["day"] == today:
            served += 1
    longest = 0 if earliest is None else max(0, int((now - earliest).total_seconds()))
    tally = rt.tally(ratings, rating_levels, today)
    late = overdue(dossiers, now, tz, within_days=-1)
    rows = {c["number"]: c for c in counters}
    if counter_numbers is not None:
        rows = {n: rows.get(n, {"number": n, "state": "closed", "updated_at": None}) for n in counter_numbers}
    return {
        "v": VERSION, "centre": centre, "name": name, "at": utc_iso(now),
        "waiting": waiting, "longest_wait_s": longest, "served_today": served,
        "counters": [{"counter": c["number"], "state": counter_state(c, states), "since": c.get("updated_at")}
                     for _, c in sorted(rows.items())],
        "ratings_today": tally["counted"], "satisfaction_index": tally["index"],
        "late_without_apology": len(late), "unshipped": unshipped,
    }

"""The managers' board: today's satisfaction per counter and per service.

Pure functions (no Kivy): they turn the centre's retained `state/ratings`
(motcua.ratings.tally) into the rows the board draws. The figures are the
centre's; the board only orders and labels them. Full reports are `motcua report`.
"""
from __future__ import annotations

from motcua.config import Site
from motcua.ratings import satisfied_share

# Bar colours from the most to the least satisfied level: green to red, the same
# order as the site's levels (which the site file lists from most satisfied).
LEVEL_COLOURS = ((0.16, 0.66, 0.33, 1), (0.55, 0.78, 0.25, 1), (0.98, 0.75, 0.18, 1),
                 (0.93, 0.45, 0.18, 1), (0.85, 0.20, 0.20, 1))


def level_colours(n: int) -> list[tuple]:
    """n colours spread over the green-to-red scale (2 levels: green and red)."""
    if n <= 1:
        return [LEVEL_COLOURS[0]]
    last = len(LEVEL_COLOURS) - 1
    return [LEVEL_COLOURS[round(i * last / (n - 1))] for i in range(n)]


def _row(label: str, bucket: dict | None, nlevels: int) -> dict:
    levels = list((bucket or {}).get("levels") or [0] * nlevels)[:nlevels]
    levels += [0] * (nlevels - len(levels))
    count = sum(levels)
    share = satisfied_share(levels)
    index = (bucket or {}).get("index")
    return {"label": label, "count": count, "levels": levels,
            "fractions": [n / count if count else 0.0 for n in levels],
            "index": index, "satisfied": share,
            "index_text": "—" if index is None else f"{index:.0f}",
            "satisfied_text": "—" if share is None else f"{share:.0f}%"}


def board_rows(tallies: dict | None, site: Site, today: str) -> dict:
    """What the tallies board shows. Counters in the site file's order (every
    counter, so a counter without ratings shows as such), then services that have
    ratings or a counter; tallies of another day count as none (the centre
    publishes the new day's at midnight)."""
    nlevels = len(site.rating_levels)
    t = tallies if tallies and tallies.get("day") == today else {}
    by_counter = t.get("by_counter") or {}
    by_service = t.get("by_service") or {}
    counters = [_row(c.name or f"Quầy {c.number}", by_counter.get(str(c.number)), nlevels)
                for c in site.counters]
    services = [_row(s.name_vi, by_service.get(s.code), nlevels)
                for s in site.services if s.code in by_service]
    # every rating comes from a counter's pad: the centre's total is the sum over counters
    overall_levels = [0] * nlevels
    for bucket in by_counter.values():
        overall_levels = [a + b for a, b in zip(overall_levels, _row("", bucket, nlevels)["levels"])]
    overall = _row("Toàn trung tâm", {"levels": overall_levels, "index": t.get("index")}, nlevels)
    return {"day": today, "has_data": bool(t), "overall": overall, "counters": counters,
            "services": services, "duplicate": int(t.get("duplicate") or 0),
            "unprompted": int(t.get("unprompted") or 0),
            "levels": [{"name": lv.name_vi, "colour": c}
                       for lv, c in zip(site.rating_levels, level_colours(nlevels))]}

"""Times and dates as motcua writes and reads them: the store's one sortable
UTC form, and the calendar date as Vietnamese people write it (dd/mm/yyyy).
Part of the core: no I/O."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone


def utc_iso(dt: datetime) -> str:
    """One sortable text form for every stored time: UTC, milliseconds."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: pass an aware time")
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def vn_date(d: date) -> str:
    """23/11/2026: the date on letters, receipts, tickets and screens."""
    return d.strftime("%d/%m/%Y")


def parse_day(text: str) -> date:
    """YYYY-MM-DD or dd/mm/yyyy (as Vietnamese managers write it). A ValueError
    says which form to give; callers put the field's name in front."""
    value = (text or "").strip()
    try:
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", value):
            y, m, d = (int(x) for x in value.split("-"))
            return date(y, m, d)
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", value):
            d, m, y = (int(x) for x in value.split("/"))
            return date(y, m, d)
    except ValueError:
        raise ValueError(f"{value!r} is not a real date; give e.g. 2026-11-01 or 01/11/2026") from None
    raise ValueError(f"{value!r} is not a date; give it as YYYY-MM-DD (2026-11-01) or "
                     "dd/mm/yyyy (01/11/2026)")

"""Numbers taken from afar and appointments (issue 14): the pure rules the engine
uses. No I/O.

- A Vietnamese mobile number, normalised (`normalise_phone`): the one personal
  datum kept, and only while its number or booking lives.
- The slots of a service on a day, from the site file's `[[web.slots]]`.
- The local moments a booking may be checked in, and when a number taken
  from afar lapses.
- `Booking`: a row of the `bookings` table (no phone: phones live apart, in
  `phones`, erased when what they belong to ends).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

BOOKING_STATES = ("booked", "checked_in", "cancelled", "lapsed")
# A phone is kept for what it belongs to: ("ticket", id) a number taken from afar,
# ("booking", id) an appointment, until it ends.
PHONE_KINDS = ("ticket", "booking")

# -- phones -------------------------------------------------------------------------------

# Mobile numbers: 0 then 3, 5, 7, 8 or 9 and eight more digits (03x Viettel, 05x
# Vietnamobile/Gmobile, 07x MobiFone, 08x VinaPhone and others, 09x all of them).
# Landlines (02x) cannot get a text message: refused.
MOBILE_RE = re.compile(r"^0[35789][0-9]{8}$")
_SEPARATORS = re.compile(r"[\s.\-()/]")


def normalise_phone(text: str) -> str | None:
    """A Vietnamese mobile number as 0xxxxxxxxx, from what a citizen typed
    ("0912 345 678", "+84 912.345.678", "84912345678", "(+84) 0912345678"), or
    None when it is not one."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    s = _SEPARATORS.sub("", text)
    for prefix in ("+84", "0084", "84"):
        if s.startswith(prefix) and (prefix != "84" or len(s) == 11):
            rest = s[len(prefix):]
            s = rest if rest.startswith("0") else "0" + rest
            break
    return s if MOBILE_RE.match(s) else None


# -- slots ----------------------------------------------------------------------------------

TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def minutes_of(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Slot:
    """One slot of a service on a day: its local start and end ("08:30", "09:00")
    and how many bookings it takes."""
    time: str
    ends: str
    capacity: int


def is_closed(closed_days, day: date | str) -> bool:
    """Is `day` one of [web] closed_days (public holidays, Tết: the site file lists
    each year's dates as the province announces them; no lunar calendar here)?"""
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return d in closed_days


def slots_on(rules, service: str, day: date, closed=()) -> list[Slot]:
    """The slots of `service` on `day` from the [[web.slots]] rules (SlotRule:
    service, days as ISO weekdays 1 = Monday … 7 = Sunday, times, every, capacity),
    in time order; none on a closed day (`closed`: [web] closed_days)."""
    if is_closed(closed, day):
        return []
    weekday = day.isoweekday()
    out = [Slot(t, hhmm(minutes_of(t) + r.every), r.capacity)
           for r in rules if r.service == service and weekday in r.days for t in r.times]
    return sorted(out, key=lambda s: s.time)


def slot_of(rules, service: str, day: date, at: str, closed=()) -> Slot | None:
    for s in slots_on(rules, service, day, closed):
        if s.time == at:
            return s
    return None


def local_moment(day: str | date, at: str, tz: ZoneInfo) -> datetime:
    """The moment (UTC) of a local day and time of the site."""
    d = date.fromisoformat(day) if isinstance(day, str) else day
    h, m = (int(x) for x in at.split(":"))
    return datetime.combine(d, time(h, m), tzinfo=tz).astimezone(timezone.utc)


def check_in_window(day: str, start: str, ends: str, grace_min: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """When a booking may be checked in: from `grace_min` before its slot starts to
    `grace_min` after it ends; after that it lapses."""
    grace = timedelta(minutes=grace_min)
    return local_moment(day, start, tz) - grace, local_moment(day, ends, tz) + grace


def bookable_days(today: date, days_ahead: int) -> list[date]:
    """Today and the next `days_ahead` days (iHanoi: today or one of the next 6)."""
    return [today + timedelta(days=i) for i in range(days_ahead + 1)]


# -- bookings ---------------------------------------------------------------------------------


@dataclass
class Booking:
    """An appointment: a slot of a service on a day. Its phone is not here (`phones`)."""
    id: int
    day: str
    service: str
    time: str                     # the slot's local start, "08:30"
    ends: str                     # and end, "09:00"
    state: str                    # booked | checked_in | cancelled | lapsed
    created_at: str
    device: str = ""              # the web service that took it
    ticket_id: int | None = None  # the ticket it became at check-in
    checked_in_at: str | None = None
    ended_at: str | None = None   # cancelled or lapsed at

    def as_row(self) -> dict:
        return {name: getattr(self, name) for name in _BOOKING_FIELDS}


_BOOKING_FIELDS = tuple(f.name for f in fields(Booking))

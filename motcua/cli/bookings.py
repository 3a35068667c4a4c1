"""`motcua bookings`: the centre's bookings (đặt lịch hẹn, issue 14) for a manager.

`list` reads the centre's database (as `motcua report` does: beside a running centre,
WAL allows it); `slots` and `cancel` go to the running centre as the admin device,
so its engine stays the one writer and a cancel frees the place at once. No phone
number is ever shown: a booking's phone is the citizen's, kept only for its limit.
"""
from __future__ import annotations

import csv
import sys
from datetime import date, datetime, timezone

from ..bookings import BOOKING_STATES
from ..config import Site
from ..timefmt import parse_day, vn_date
from .common import CliError, centre_db, device_for, request

STATE_WORDS = {"booked": "đã đặt / booked", "checked_in": "đã đến / checked in",
               "cancelled": "đã huỷ / cancelled", "lapsed": "quá hạn / lapsed"}
LIST_COLUMNS = ("booking", "day", "time", "ends", "service", "state", "ticket", "closed_day")


def _day(text: str | None, what: str) -> date | None:
    if text is None:
        return None
    try:
        return parse_day(text)
    except ValueError as exc:
        raise CliError(f"{what}: {exc}") from None


def _web(site: Site):
    if site.web is None:
        raise CliError(f"{site.path} has no [web] table: this centre takes no bookings (docs/web.md)")
    return site.web


def _service(site: Site, code: str | None) -> str | None:
    if code is None:
        return None
    code = code.strip().upper()
    try:
        site.service(code)
    except KeyError:
        raise CliError(f"there is no service {code!r}; known: {', '.join(s.code for s in site.services)}") from None
    return code


def booking_rows(site: Site, day: date | None, service: str | None, states: list[str] | None,
                 today: date) -> list[dict]:
    """The bookings of `day` (default: today and later), in day and time order, with
    the ticket each became; never a phone."""
    if not site.database.exists():
        raise CliError(f"no centre database at {site.database}: check data_dir in {site.path}, or run "
                       "`motcua centre` once to create it")
    where, params = ["b.day = ?" if day else "b.day >= ?"], [(day or today).isoformat()]
    if service:
        where.append("b.service = ?")
        params.append(service)
    if states:
        where.append(f"b.state IN ({', '.join('?' for _ in states)})")
        params += states
    store = centre_db(site)
    try:
        rows = list(store.db.query(
            "SELECT b.id AS booking, b.day, b.time, b.ends, b.service, b.state, t.label AS ticket "
            "FROM bookings b LEFT JOIN tickets t ON t.id = b.ticket_id "
            f"WHERE {' AND '.join(where)} ORDER BY b.day, b.time, b.id", params))
    finally:
        store.close()
    closed = set(_web(site).closed_days)
    for r in rows:
        r["closed_day"] = date.fromisoformat(r["day"]) in closed
    return rows


def cmd_list(site: Site, args) -> int:
    _web(site)
    today = datetime.now(timezone.utc).astimezone(site.tz).date()
    rows = booking_rows(site, _day(args.day, "--day"), _service(site, args.service), args.state, today)
    if args.csv:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(LIST_COLUMNS)
        for r in rows:
            w.writerow([r[c] if c != "closed_day" else int(r[c]) for c in LIST_COLUMNS])
        return 0
    if not rows:
        print("Không có lịch hẹn nào / No bookings"
              + (f" ngày / on {vn_date(_day(args.day, '--day'))}" if args.day else " từ hôm nay / from today on"))
        return 0
    print(f"{'Mã':>5}  {'Ngày':<10} {'Giờ':<11} {'Lĩnh vực':<8} {'Trạng thái':<22} Số")
    for r in rows:
        line = (f"{r['booking']:>5}  {vn_date(date.fromisoformat(r['day'])):<10} {r['time']}–{r['ends']:<5} "
                f"{r['service']:<8} {STATE_WORDS.get(r['state'], r['state']):<22} {r['ticket'] or '—'}")
        if r["closed_day"]:
            line += "  (ngày nghỉ / closed day)"
        print(line)
    booked_on_closed = sum(1 for r in rows if r["closed_day"] and r["state"] == "booked")
    if booked_on_closed:
        print(f"\n{booked_on_closed} lịch hẹn vào ngày nghỉ / bookings on a closed day: huỷ bằng / cancel with "
              "`motcua bookings cancel ID --reason \"…\"`")
    return 0


def cmd_slots(site: Site, args) -> int:
    web = _web(site)
    day = _day(args.day, "--day")
    service = _service(site, args.service)
    offered = [s.code for s in site.services if any(r.service == s.code for r in web.slots)]
    if service is not None and service not in offered:
        raise CliError(f"service {service} has no [[web.slots]] in {site.path}; those with slots: "
                       f"{', '.join(offered) or 'none'}")
    device = device_for(site, "admin", args.device)
    extra = {"day": day.isoformat()} if day else {}
    for i, code in enumerate([service] if service else offered):
        answer = request(site, device, "booking.slots", service=code, **extra)
        if i:
            print()
        print(f"{code} — {answer['service_name_vi']}")
        for d in answer["days"]:
            when = vn_date(date.fromisoformat(d["day"]))
            if d.get("closed"):
                print(f"  {when}  nghỉ, không nhận đặt lịch / closed, no bookings")
                continue
            if not d["slots"]:
                print(f"  {when}  không có khung giờ / no slots")
                continue
            print(f"  {when}")
            for s in d["slots"]:
                print(f"    {s['time']}–{s['ends']}  còn / free {s['free']}/{s['capacity']}"
                      + ("" if s["bookable"] else "  (không đặt được nữa / no longer bookable)"))
    return 0


def cmd_cancel(site: Site, args) -> int:
    _web(site)
    reason = " ".join(args.reason).strip() if args.reason else None
    device = device_for(site, "admin", args.device)
    b = request(site, device, "booking.cancel", booking=args.booking, **({"reason": reason} if reason else {}))
    print(f"Đã huỷ lịch hẹn / Cancelled booking {b['booking']}: {vn_date(date.fromisoformat(b['day']))} "
          f"{b['time']}–{b['ends']}, {b['service_name_vi']}" + (f" ({reason})" if reason else ""))
    print("Chỗ đã được trả lại; số điện thoại của lịch hẹn đã được xoá. / The place is free again; the "
          "booking's phone number is erased. The citizen's booking page shows it cancelled.")
    return 0


def add_commands(sub) -> None:
    b = sub.add_parser("bookings", help="bookings (đặt lịch hẹn) for a manager: list, slots, cancel",
                       description="The centre's bookings made from citizens' phones (docs/web.md): list them, "
                       "see each slot's capacity and free places, cancel one (e.g. on a day closed after it "
                       "was booked). Phone numbers are never shown.",
                       example=["motcua bookings list --day 2027-02-05", "motcua bookings slots --service HT",
                                'motcua bookings cancel 12 --reason "Nghỉ Tết"'])
    actions = b.add_subparsers(dest="action", required=True, metavar="ACTION",
                               title="actions (ACTION --help says more)")
    ls = actions.add_parser("list", help="one line per booking: id, day, time, service, state, ticket",
                            description="One line per booking of a day (default: today and the days ahead), "
                            "read from the centre's database: its id, day, slot, service, state and the "
                            "ticket it became at check-in; a booking on a closed day ([web] closed_days) "
                            "is marked. Never the phone.",
                            example=["motcua bookings list", "motcua bookings list --day 05/02/2027 --state booked",
                                     "motcua bookings list --service HT --csv"])
    ls.add_argument("--day", metavar="DAY", help="only this day, YYYY-MM-DD or dd/mm/yyyy (default: today and later)")
    ls.add_argument("--service", metavar="SERVICE", help="only this service code, e.g. HT")
    ls.add_argument("--state", nargs="+", choices=BOOKING_STATES, metavar="STATE",
                    help=f"only these states: {', '.join(BOOKING_STATES)}")
    ls.add_argument("--csv", action="store_true", help="CSV on standard output (booking, day, time, ends, "
                    "service, state, ticket, closed_day)")
    ls.set_defaults(fn=cmd_list)

    sl = actions.add_parser("slots", help="each slot's capacity and free places, asked of the running centre",
                            description="Each slot of the days that may be booked (or of --day): capacity, "
                            "free places, whether it can still be booked; a closed day says so. Asked of the "
                            "running centre as the admin device.",
                            example=["motcua bookings slots", "motcua bookings slots --day 2026-12-08 --service HT"])
    sl.add_argument("--day", metavar="DAY", help="only this day (today or up to [web] booking_days_ahead ahead)")
    sl.add_argument("--service", metavar="SERVICE", help="only this service (default: every service with slots)")
    sl.add_argument("--device", help="ask as this admin device (default: the first admin)")
    sl.set_defaults(fn=cmd_slots)

    c = actions.add_parser("cancel", help="cancel a booking not yet checked in (its place is free again)",
                           description="Cancel a booking not yet checked in, through the running centre as "
                           "the admin device: its place is free again, its phone number erased, and the "
                           "event in the centre's log keeps the reason. The citizen's booking page then "
                           "shows it cancelled (the centre sends no text message).",
                           example=['motcua bookings cancel 12 --reason "Nghỉ Tết"', "motcua bookings cancel 12"],
                           needs="`motcua bookings cancel` needs the booking's ID (see `motcua bookings list`)")
    c.add_argument("booking", type=int, metavar="ID", help="the booking's id, as `motcua bookings list` shows it")
    c.add_argument("--reason", nargs="+", metavar="REASON", help="why, in Vietnamese (kept in the centre's "
                   "log; no personal data)")
    c.add_argument("--device", help="act as this admin device (default: the first admin)")
    c.set_defaults(fn=cmd_cancel)

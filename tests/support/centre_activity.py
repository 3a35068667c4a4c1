"""A centre's database with weeks of realistic activity, made by the centre's own
code in-process (for the province report's tests): tickets through
motcua.engine and Store.commit (one commit a day, as the centre's group commit),
ratings through motcua.ratings (prompt, parse, bind, row) with the dossiers
attached to the rated ticket at the counter (engine.attach_dossier), dossiers
through DossierStore.import_records, the site's description through
motcua.shipping.outbox.record_site. The store's migrations give the database
its outbox: every row written here is also a record to ship.

What happens, per working day: officers sign in, citizens arrive in a morning
and an afternoon peak, counters call, some citizens do not come (no-show), some
are sent to another service (transfer), most are served; some tickets are never
called (expired the next day); most served citizens press the pad once
(counted), some twice (duplicate), some after the prompt ended or with no
prompt (unprompted); an officer attaches the visit's dossiers (sometimes a code
the dossier mirror does not have). Citizens take numbers from afar on their
phones (engine.reserve; most check in at the kiosk within the window, some never
come and their number lapses, the last ones of the last day are still held) and
book slots for today or the days ahead (engine.create_booking; most come and
check in within their slot's window and become tickets called like any, some
cancel, some never come and their booking lapses; those made on the last day for
the days after stay booked). Each has its own phone: `generate` returns them
all, so a test can look for them where they must never be. Dossiers are
received from earlier on, most
settled in time, some late, some of the late ones with an apology issued before
the due date (a day or more before, or only on the day), some after it; some
wait for the citizen, some are refused or withdrawn.

`Style` makes centres differ (load, how satisfied citizens are, how late
dossiers run), so a province of them ranks in a clear order.
"""
from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from motcua import ratings as rt
from motcua.dossiers import DossierStore
from motcua.engine import Changes, Engine, QueueError
from motcua.shipping import outbox
from motcua.store import Store

PROCEDURES = [  # code, name, field, working days
    ("1.001193", "Đăng ký khai sinh", "Hộ tịch", 1),
    ("1.000894", "Đăng ký kết hôn", "Hộ tịch", 3),
    ("2.000815", "Chứng thực bản sao từ bản chính", "Chứng thực", 1),
    ("1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Xây dựng", 15),
    ("2.000889", "Đăng ký biến động quyền sử dụng đất", "Đất đai", 10),
    ("1.004194", "Đăng ký tạm trú", "Cư trú", 3),
]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Vũ", "Đặng", "Bùi", "Đỗ"]
SERVICE_WEIGHTS = {"HT": 24, "CT": 30, "DD": 10, "XD": 5, "KD": 6, "CU": 9, "LLTP": 5, "XH": 4, "TKQ": 7}
GIVEN = ["An", "Bình", "Cường", "Dũng", "Giang", "Hằng", "Hùng", "Lan", "Nhung", "Thảo", "Yến", "Đức"]


@dataclass(frozen=True)
class Style:
    tickets_per_day: tuple[int, int] = (40, 70)
    level_weights: tuple[int, ...] = (55, 28, 10, 7)   # most satisfied first
    rated: float = 0.74            # share of served citizens whose press is counted
    late: float = 0.2              # share of dossiers settled after the due date
    apology: float = 0.7           # of the late ones, the share with an apology
    dossiers_per_day: tuple[int, int] = (6, 12)
    service_mu: float = 6.0        # service times: lognormal, median e^mu seconds (6.0: about 7 minutes)
    remote_per_day: tuple[int, int] = (2, 6)    # numbers taken from afar (issue 14)
    remote_check_in: float = 0.8   # of those, the share checked in within the window
    bookings_per_day: tuple[int, int] = (3, 8)  # bookings made that day, for today or the days ahead
    booking_cancel: float = 0.12   # of those, the share cancelled on the phone
    booking_come: float = 0.8      # of the rest, the share that come and check in


def working_days(start: date, end: date) -> list[date]:
    """Monday to Friday from start to end, both included (dossiers count working days)."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)
            if (start + timedelta(days=i)).weekday() < 5]


def add_working_days(d: date, n: int) -> date:
    while n > 0:
        d += timedelta(days=1)
        n -= d.weekday() < 5
    return d


def generate(site, path: Path, first_day: date, last_day: date, dossiers_from: date, now: datetime,
             seed: int, style: Style = Style()) -> list[str]:
    """Fill the centre database at `path` (made here) with activity from first_day to
    last_day, and dossiers received from dossiers_from, as they stand at `now`.
    Returns every phone number citizens gave (as typed), for privacy checks."""
    rng = random.Random(seed)
    phones: list[str] = []

    def new_phone() -> str:
        # a phone of its own for each number or booking (the limit per phone is not under test
        # here), typed as citizens do: spaced, or with +84
        n = f"09{seed % 100:02d}{len(phones):06d}"
        phones.append(n if len(phones) % 3 else f"+84 {n[1:4]} {n[4:7]} {n[7:]}")
        return phones[-1]
    tz = site.tz

    def at(day: date, hh: int, mm: int = 0, ss: float = 0) -> datetime:
        return datetime.combine(day, time(hh, mm), tz) + timedelta(seconds=round(ss))

    store = Store(path, synchronous="OFF")
    outbox.record_site(store.db, site)
    agency = site.dossiers.agency_code

    # The dossiers first: the officers attach the day's codes to the tickets of that day.
    dossiers, received_on = [], {}
    for day in working_days(dossiers_from, last_day):
        for seq in range(1, rng.randint(*style.dossiers_per_day) + 1):
            proc, name, fld, allowed = rng.choice(PROCEDURES)
            received = at(day, 7, 45, rng.randint(0, 8 * 3600))
            due = add_working_days(day, allowed)
            code = f"{agency}-{day:%y%m%d}-{seq:04d}"
            t = received + timedelta(hours=rng.uniform(0.5, 3))
            steps = [("received", received), ("processing", t)]
            r = rng.random()
            finish = None
            if r < 0.06:                      # documents missing: the citizen must bring them
                t += timedelta(hours=rng.uniform(2, 20))
                steps.append(("supplement_requested", t))
                if rng.random() < 0.5:
                    t += timedelta(days=rng.uniform(1, 6))
                    steps.append(("processing", t))
                    r = 1.0                   # then settled on time or late, below
            if steps[-1][0] == "supplement_requested":
                pass                          # still waiting for the citizen
            elif r < 0.09:                    # refused or withdrawn quickly
                steps.append((rng.choice(["refused", "withdrawn"]), t + timedelta(hours=rng.uniform(1, 30))))
            else:
                late = rng.random() < style.late
                end_day = (add_working_days(due, rng.randint(1, 6)) if late
                           else add_working_days(day, rng.randint(0, allowed)))
                finish = max(t + timedelta(hours=1), at(end_day, 8, 0, rng.randint(0, 8 * 3600)))
                if rng.random() < 0.1:        # a night step: the clock stops near midnight
                    finish = at(finish.astimezone(tz).date(), 23, 50)
                steps += [("approved", finish - timedelta(minutes=30)), ("result_ready", finish),
                          ("returned", finish + timedelta(hours=rng.uniform(1, 70)))]
            apology = None
            if finish is not None and finish.astimezone(tz).date() > due and rng.random() < style.apology:
                # mostly a day or more before the due date; some on the day, some after (the rule not kept)
                issued = at(due - timedelta(days=rng.choice((3, 2, 1, 1, 0, -1, -4))), 15, 0)
                apology = (add_working_days(due, rng.randint(1, 8)), max(issued, received + timedelta(minutes=30)))
            steps = [s for s in steps if s[1] <= now]
            if apology and apology[1] > now:
                apology = None
            applicant = f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}"
            rec = {"code": code, "procedure_code": proc, "procedure_name": name, "field": fld,
                   "applicant_name": applicant, "received_at": received.isoformat(), "due_at": due.isoformat(),
                   "status": steps[-1][0],
                   "steps": [{"step": s, "at": a.isoformat(), "note": f"Hồ sơ của {applicant}"} for s, a in steps]}
            if apology:
                rec["apology"] = {"reason": f"Cần xác minh giấy tờ của {applicant}",
                                  "new_due_at": apology[0].isoformat(), "issued_at": apology[1].isoformat()}
            dossiers.append(rec)
            received_on.setdefault(day, []).append((code, proc))

    engine = Engine(site)
    levels = site.rating_levels
    serves = {c.number: set(c.services) for c in site.counters}
    services = [s.code for s in site.services]
    weights = [SERVICE_WEIGHTS.get(s, 5) for s in services]
    officers = [f"cb{n:02d}" for n in range(1, len(serves) + 4)]
    pad_seq: dict[int, int] = {}
    booked = sorted({r.service for r in site.web.slots})       # services with slots (HT, CT in the sample)
    visits: dict[date, list[tuple[datetime, int]]] = {}         # bookings' check-ins, by their day
    for day in working_days(first_day, last_day):
        events_of_day: list[dict] = []
        changes = Changes()
        ratings, prompts = [], []

        def run(result):
            events, ch = result
            events_of_day.extend(events)
            changes.merge(ch)
            return events

        officer_at = dict(zip(sorted(serves), rng.sample(officers, len(serves))))
        heap, order = [], 0

        def push(when, *item):
            nonlocal order
            order += 1
            heapq.heappush(heap, (when, order, *item))

        for _ in range(rng.randint(*style.tickets_per_day)):
            r = rng.random()
            minutes = (rng.triangular(7 * 60 + 30, 11 * 60, 8 * 60 + 15) if r < 0.6 else
                       rng.triangular(13 * 60 + 15, 16 * 60 + 55, 14 * 60 + 15) if r < 0.97 else
                       rng.uniform(17 * 60, 17 * 60 + 10))        # too late: never called today
            push(at(day, 0, 0, minutes * 60), "arrive", rng.choices(services, weights)[0])
        for c in sorted(serves):
            push(at(day, 7, 25, rng.randint(0, 240)), "sign_in", c)
        # numbers from afar and bookings (issue 14), taken on the phone over the day
        for _ in range(rng.randint(*style.remote_per_day)):
            push(at(day, 7, 0, rng.randint(0, 9 * 3600 + 55 * 60)), "reserve", rng.choices(services, weights)[0])
        for _ in range(rng.randint(*style.bookings_per_day)):
            push(at(day, 6, 30, rng.randint(0, 10 * 3600)), "book", rng.choice(booked))
        for when, bid in visits.pop(day, ()):
            push(when, "visit", bid)
        if day == last_day:     # taken late on the last day: still held, not yet checked in
            push(at(day, 17, 30), "reserve", rng.choices(services, weights)[0], "held")
        idle: set[int] = set()
        last_call = at(day, 17, 0)
        lunch = (at(day, 11, 30), at(day, 13, 30))
        current: dict[int, int] = {}
        todays_codes = list(received_on.get(day, ()))

        def wake(when, service):
            for c in sorted(idle):
                if service in serves[c]:
                    idle.discard(c)
                    push(when + timedelta(seconds=rng.randint(5, 60)), "free", c)

        while heap:
            when, _, kind, *data = heapq.heappop(heap)
            if kind == "sign_in":
                c = data[0]
                run(engine.sign_in(c, officer_at[c], when, f"Cán bộ {officer_at[c][2:]}"))
                push(max(when, at(day, 7, 30)) + timedelta(seconds=rng.randint(0, 90)), "free", c)
            elif kind == "arrive":
                run(engine.issue(data[0], when, priority="cao_tuoi" if rng.random() < 0.07 else None,
                                 device="kiosk-1"))
                wake(when, data[0])
            elif kind == "reserve":                 # a number from afar, on the phone
                ev = run(engine.reserve(data[0], new_phone(), when, device="web"))
                label = [e for e in ev if e["type"] == "ticket_reserved"][0]["ticket"]["label"]
                if data[1:] != ["held"] and rng.random() < style.remote_check_in:   # else it lapses
                    window = site.web.remote_window_min
                    push(when + timedelta(minutes=rng.uniform(3, window - 2)), "check_in", label, data[0])
            elif kind == "check_in":                # the phone's QR scanned at the kiosk
                run(engine.check_in(data[0], when))
                wake(when, data[1])
            elif kind == "book":                    # a slot today or in the days ahead
                ahead = day + timedelta(days=rng.randint(0, site.web.booking_days_ahead))
                free = [s for s, _, can in engine.slots(data[0], ahead.isoformat(), when) if can]
                if not free:
                    continue
                slot = rng.choice(free)
                ev = run(engine.create_booking(data[0], ahead.isoformat(), slot.time, new_phone(), when,
                                               device="web"))
                bid = [e for e in ev if e["type"] == "booking_created"][0]["booking"]["id"]
                start = datetime.combine(ahead, time.fromisoformat(slot.time), tz)
                if rng.random() < style.booking_cancel:
                    push(min(start, when + timedelta(minutes=rng.uniform(1, 120))), "cancel", bid)
                elif rng.random() < style.booking_come:   # within the check-in window (grace 15 min)
                    visits.setdefault(ahead, []).append((start + timedelta(minutes=rng.uniform(-14, 14)), bid))
            elif kind == "cancel":
                run(engine.cancel_booking(data[0], when))
            elif kind == "visit":                   # the booking's QR scanned at the kiosk
                try:
                    ev = run(engine.check_in_booking(data[0], when, device="kiosk-1"))
                except QueueError as exc:         # cancelled after all
                    assert exc.code == "booking_closed", exc
                    continue
                wake(when, engine.state.tickets[[e for e in ev if e["type"] == "booking_checked_in"][0]
                                                ["ticket_id"]].service)
            elif kind == "free":
                c = data[0]
                if when > last_call:
                    idle.add(c)
                    continue
                if lunch[0] <= when < lunch[1]:
                    push(lunch[1] + timedelta(seconds=rng.randint(0, 300)), "free", c)
                    continue
                try:
                    ev = [e for e in run(engine.call_next(c, when)) if e["type"] == "ticket_called"][0]
                except QueueError as exc:
                    assert exc.code == "queue_empty"
                    idle.add(c)
                    continue
                current[c] = ev["ticket_id"]
                if rng.random() < 0.07:
                    push(when + timedelta(seconds=rng.randint(60, 150)), "no_show", c)
                else:
                    push(when + timedelta(seconds=rng.randint(15, 70)), "start", c)
            elif kind == "no_show":
                c = data[0]
                run(engine.no_show(c, when))
                current.pop(c)
                push(when + timedelta(seconds=5), "free", c)
            elif kind == "start":
                c = data[0]
                run(engine.start(c, when))
                if rng.random() < 0.05:
                    push(when + timedelta(seconds=rng.randint(40, 200)), "transfer", c)
                else:
                    if todays_codes and rng.random() < 0.5:   # the visit's dossiers, scanned at the counter
                        for code, proc in [todays_codes.pop(rng.randrange(len(todays_codes)))
                                           for _ in range(min(len(todays_codes), rng.choice((1, 1, 1, 2))))]:
                            run(engine.attach_dossier(c, code, when + timedelta(seconds=20), proc))
                    elif rng.random() < 0.03:                  # a code the dossier mirror does not have
                        run(engine.attach_dossier(c, f"{site.dossiers.agency_code}-{day:%y%m%d}-9{c:03d}",
                                                  when + timedelta(seconds=20), None))
                    push(when + timedelta(seconds=round(rng.lognormvariate(style.service_mu, 0.5))), "done", c)
            elif kind == "transfer":
                c = data[0]
                tid = current.pop(c)
                to = rng.choice([s for s in services if s != engine.state.tickets[tid].service])
                run(engine.transfer(c, to, when))
                push(when + timedelta(seconds=5), "free", c)
                wake(when, to)
            elif kind == "done":
                c = data[0]
                tid = current.pop(c)
                events = run(engine.done(c, when))
                push(when + timedelta(seconds=rng.randint(5, 25)), "free", c)
                done_ev = [e for e in events if e["type"] == "ticket_done"][0]
                prompt = rt.open_prompt(done_ev, changes.tickets[tid], when, site.rating_prompt_timeout_s)
                prompts.append(prompt.as_row())
                codes = list(engine.state.dossiers.get(tid, ()))
                presses = []
                r = rng.random()
                if r < style.rated:
                    first = when + timedelta(seconds=rng.randint(3, 40))
                    presses.append((first, prompt.id))
                    if rng.random() < 0.05:       # pressed again: counted once, the second a duplicate
                        presses.append((first + timedelta(seconds=rng.randint(1, 8)), prompt.id))
                elif r < style.rated + 0.04:      # pressed after the prompt ended
                    presses.append((prompt.expires_at + timedelta(seconds=rng.randint(10, 50)), prompt.id))
                elif r < style.rated + 0.06:      # pressed with no prompt on the pad
                    presses.append((when + timedelta(seconds=rng.randint(3, 30)), None))
                rated = False
                for pressed, pid in presses:
                    pad_seq[c] = pad_seq.get(c, 0) + 1
                    level = rng.choices(range(1, len(levels) + 1), style.level_weights[:len(levels)])[0]
                    incoming = rt.parse_rating(
                        {"rating": rt.rating_id(f"PAD-{c}", 1, pad_seq[c]), "pad": f"PAD-{c}", "boot": 1,
                         "seq": pad_seq[c], "level": level, "prompt": pid, "pressed_at": pressed.isoformat()},
                        len(levels))
                    status = rt.bind(incoming, c, prompt if pid else None, rated)
                    rated = rated or status == rt.COUNTED
                    lp = pressed.astimezone(tz)
                    ratings.append(rt.rating_row(incoming, c, status, prompt if pid else None, levels,
                                                 pressed + timedelta(milliseconds=50), lp.date().isoformat(),
                                                 lp.hour, dossiers=codes))
        for c in sorted(serves):
            run(engine.close(c, at(day, 17, 45)))
        store.commit(events_of_day, changes, ratings=ratings, prompts=prompts)

    report = DossierStore(store.db, site.dossiers, site.timezone).import_records(enumerate(dossiers, 1))
    assert report.ok, report.errors[:3]
    store.close()
    return phones

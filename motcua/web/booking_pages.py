"""Numbers before coming and bookings on the phone (issue 14, docs/web.md): take
a number from afar (`/lay-so`, `ticket.reserve`), book a slot (`/dat-lich`,
`booking.slots`, `booking.create`), look at a booking, add it to a calendar
(.ics) and cancel it (`/b/<token>`, `booking.get`, `booking.cancel`).

The centre holds the truth and the limits per phone per day (docs/protocol.md);
this module proves the phone first with a one-time code sent through the
notifier, under the limits per phone, per address and per service
(reminders.LIMITS), and keeps nothing once the request is made: the phone
travels to the centre, which keeps it while the number or booking lives. The
QR the kiosk checks in is shown as an inline SVG of the signed link."""
from __future__ import annotations

import asyncio
import secrets as _secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from motcua.mqtt import CentreUnavailable, RequestRefused
from motcua.web_tokens import make_token

from . import model
from .app import WebContext, centre_of, centre_route, client_address, not_found, page
from .links import token_reader
from .notify import Message, mask_phone, normalize_phone
from .qr import qr_svg
from .reminders import CODE_MINUTES, ascii_text

PENDING_S = CODE_MINUTES * 60

WORDS = {
    "take": ("Lấy số từ xa", "Take a number from afar"),
    "take_intro": ("Lấy số trước khi đến. Khi đến Trung tâm, đưa mã QR trên điện thoại vào máy quét của ki-ốt "
                   "để vào hàng chờ, trong vòng %d phút.",
                   "Take a number before you come. At the centre, hold the QR code on your phone to the kiosk's "
                   "scanner to join the queue, within %d minutes."),
    # at the province, which does not know the centre's [web] remote_window_min: the
    # number's own page says the time, from the centre's answer
    "take_intro_by": ("Lấy số trước khi đến. Khi đến Trung tâm, đưa mã QR trên điện thoại vào máy quét của "
                      "ki-ốt để vào hàng chờ, trước giờ ghi trên trang số của bạn.",
                      "Take a number before you come. At the centre, hold the QR code on your phone to the "
                      "kiosk's scanner to join the queue, before the time its page shows."),
    "book": ("Đặt lịch hẹn", "Book a time"),
    "book_intro": ("Chọn lĩnh vực, ngày và giờ. Người có lịch hẹn được phục vụ trước trong khung giờ của mình.",
                   "Choose the service, the day and the time. People with a booking are served first within "
                   "their time."),
    "service": ("Lĩnh vực", "Service"),
    "choose": ("Chọn", "Choose"),
    "no_slot": ("Không còn giờ trống trong những ngày tới.", "No free time in the coming days."),
    "free": ("còn %d chỗ", "%d free"),
    "closed_day": ("Trung tâm nghỉ (ngày lễ, Tết): không nhận lịch hẹn.", "The centre is closed (public holiday)."),
    "phone": ("Số điện thoại di động", "Mobile phone number"),
    "phone_why": ("Để gửi mã xác nhận. Số điện thoại được xoá khi số thứ tự hoặc lịch hẹn kết thúc.",
                  "To send a confirmation code. The number is erased when the ticket or booking ends."),
    "send_code": ("Gửi mã xác nhận", "Send a confirmation code"),
    "code": ("Mã xác nhận (6 chữ số)", "Confirmation code (6 digits)"),
    "code_sent": ("Đã gửi mã xác nhận đến %s.", "A confirmation code was sent to %s."),
    "confirm": ("Xác nhận", "Confirm"),
    "bad_phone": ("Số điện thoại không đúng. Ví dụ: 0912 345 678",
                  "That is not a mobile number. For example: 0912 345 678"),
    "wrong": ("Mã xác nhận không đúng.", "The code is not right."),
    "expired": ("Mã đã hết hạn hoặc đã nhập sai quá nhiều lần. Vui lòng làm lại từ đầu.",
                "The code has expired or was mistyped too often. Please start again."),
    "not_sent": ("Chưa gửi được tin nhắn. Vui lòng thử lại sau ít phút.",
                 "The message could not be sent. Please try again in a few minutes."),
    "too_many": ("Quá nhiều yêu cầu. Vui lòng thử lại sau %d phút.", "Too many requests. Please try again in %d minutes."),
    "unavailable": ("Hệ thống đang không trả lời. Vui lòng thử lại sau ít phút.",
                    "The system is not answering. Please try again in a few minutes."),
    "refused": ("Không thực hiện được. Vui lòng thử lại hoặc hỏi Trung tâm.",
                "That could not be done. Please try again or ask the centre."),
    "your_booking": ("Lịch hẹn của bạn", "Your booking"),
    "when": ("Thời gian", "When"),
    "state_booked": ("Đã đặt. Khi đến, đưa mã QR này vào máy quét của ki-ốt từ %s đến %s.",
                     "Booked. At the centre, hold this QR code to the kiosk's scanner from %s to %s."),
    "state_checked_in": ("Đã xác nhận tại Trung tâm: số thứ tự của bạn là %s.",
                         "Checked in at the centre: your number is %s."),
    "state_cancelled": ("Lịch hẹn đã huỷ.", "This booking was cancelled."),
    "state_lapsed": ("Lịch hẹn đã hết hạn vì chưa được xác nhận kịp giờ.",
                     "This booking lapsed: it was not checked in in time."),
    "calendar": ("Thêm vào lịch của điện thoại", "Add to the phone's calendar"),
    "cancel": ("Huỷ lịch hẹn", "Cancel the booking"),
    "cancel_sure": ("Huỷ lịch hẹn này? Chỗ sẽ được nhường cho người khác.",
                    "Cancel this booking? The place goes to someone else."),
    "follow": ("Theo dõi số thứ tự", "Follow the number"),
    "book_again": ("Đặt lịch khác", "Book another time"),
    "privacy": ("Trang này không hỏi tên bạn. Số điện thoại chỉ được giữ đến khi lịch hẹn kết thúc.",
                "This page never asks your name. The phone number is kept only until the booking ends."),
}
WEEKDAYS = (("Thứ Hai", "Mon"), ("Thứ Ba", "Tue"), ("Thứ Tư", "Wed"), ("Thứ Năm", "Thu"), ("Thứ Sáu", "Fri"),
            ("Thứ Bảy", "Sat"), ("Chủ nhật", "Sun"))


def w(key: str, lang: str) -> str:
    vi, en = WORDS[key]
    return en if lang == "en" else vi


def day_text(day: str, lang: str) -> str:
    d = datetime.strptime(day, "%Y-%m-%d").date()
    return f"{WEEKDAYS[d.weekday()][lang == 'en']} {d:%d/%m/%Y}"


@dataclass
class Pending:
    """What a citizen asked for, waiting for the code sent to the phone."""
    kind: str            # "reserve" or "book"
    centre: str
    service: str
    phone: str
    day: str = ""
    time: str = ""
    until: float = 0.0


# The centre's refusals in English, for a citizen: the centre gives its words in
# Vietnamese only (message_vi); its `message` is for the log and names settings
# ("[web] remote_per_service_per_day").
REFUSED_EN = {
    "phone_limit": "Each phone number may take %(limit)s numbers a day (numbers from afar and bookings together).",
    "remote_full": "Every number from afar for this service has been taken today. Please book a time or take a "
                   "number at the centre.",
    "service_full": "This service has given out every number today. Please ask the staff at the centre.",
    "not_offered": "The centre does not offer this for this service.",
    "bad_phone": "That is not a mobile number. Please give its 10 digits, for example 0912 345 678.",
    "day_closed": "The centre is closed that day (a public holiday). Please choose another day.",
    "bad_day": "Bookings are taken from today up to %(limit)s days ahead.",
    "no_slot": "There is no such time on that day. Please choose another time.",
    "slot_past": "This time has begun or is over. Please choose another time.",
    "slot_full": "This time is fully booked. Please choose another time.",
    "unknown_booking": "This booking was not found.",
    "booking_lapsed": "The time of this booking has passed. Please book another time or take a number at the centre.",
    "booking_closed": "This booking was cancelled or has been checked in already.",
    "not_your_booking": "The phone number does not match this booking.",
}


def refusal(exc: RequestRefused, lang: str) -> str:
    """The centre's own words for the citizen (message_vi); in English, REFUSED_EN's."""
    if lang != "en":
        return exc.details.get("message_vi") or w("refused", lang)
    text = REFUSED_EN.get(exc.code, "")
    if "%(limit)s" in text:
        text = text % {"limit": exc.details["limit"]} if exc.details.get("limit") is not None else ""
    return text or w("refused", lang)


def ics(booking: dict, centre_name: str, tz, url: str) -> str:
    """An iCalendar event for the booking, in UTC, to add to the phone's calendar."""
    start = datetime.strptime(f"{booking['day']} {booking['time']}", "%Y-%m-%d %H:%M").replace(tzinfo=tz)
    end = datetime.strptime(f"{booking['day']} {booking['ends']}", "%Y-%m-%d %H:%M").replace(tzinfo=tz)
    stamp = datetime.now(timezone.utc)

    def utc(d: datetime) -> str:
        return d.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//motcua//web//VI", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             "BEGIN:VEVENT", f"UID:booking-{booking['booking']}@motcua", f"DTSTAMP:{utc(stamp)}",
             f"DTSTART:{utc(start)}", f"DTEND:{utc(end)}",
             f"SUMMARY:{esc('Lịch hẹn ' + booking['service_name_vi'] + ' – ' + centre_name)}",
             f"DESCRIPTION:{esc('Đưa mã QR vào máy quét của ki-ốt khi đến: ' + url)}",
             f"LOCATION:{esc(centre_name)}", f"URL:{url}",
             "BEGIN:VALARM", "TRIGGER:-PT1H", "ACTION:DISPLAY", "DESCRIPTION:Lịch hẹn", "END:VALARM",
             "END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


def routes(web: WebContext) -> list[Route]:
    pending: dict[str, Pending] = {}
    read_booking = token_reader(web.secrets, kind="b")
    rem = web.reminders

    def lang_of(request: Request) -> str:
        return model.pick_lang(request.query_params.get("lang"))

    def q(lang: str) -> str:
        return "?lang=en" if lang == "en" else ""

    def service_name(centre: str, code: str, lang: str) -> str:
        names = web.feeds[centre].service_names.get(code, (code, code))
        return names[1] if lang == "en" and names[1] else names[0]

    def link(centre: str, kind: str, day: str, ref) -> str:
        token = make_token(web.secrets[centre], centre, kind, day, ref)
        return f"/{kind}/{token}"

    def full_url(centre: str, path: str) -> str:
        return web.settings[centre].base_url.rstrip("/") + path

    async def send_code(request: Request, p: Pending, lang: str) -> tuple[str | None, str]:
        centre, feed = p.centre, web.feeds[p.centre]
        """(nonce, "") once a code is on its way, or (None, what to tell the citizen)."""
        ok, retry, _ = rem.limits.check(time.monotonic(), phone=p.phone, address=client_address(request),
                                        service=f"{p.centre}:{p.service}")
        if not ok:
            return None, w("too_many", lang) % max(1, round(retry / 60))
        nonce = _secrets.token_urlsafe(16)
        code = rem.codes.issue(nonce, time.monotonic())
        message = Message(p.phone, "otp", {"code": code, "minutes": CODE_MINUTES,
                                           "centre": ascii_text(rem.centre_names.get(centre, centre))})
        if not await asyncio.get_running_loop().run_in_executor(feed.executor, rem.notifier.send, message):
            return None, w("not_sent", lang)
        now = time.monotonic()
        for k in [k for k, v in pending.items() if v.until < now]:
            del pending[k]
        p.until = now + PENDING_S
        pending[nonce] = p
        return nonce, ""

    async def confirm(request: Request, form: dict, lang: str, action: str, template: str, ctx: dict):
        """The code typed back: the request made at the centre, or the form again."""
        ask_id = form.get("ask", "")
        p = pending.get(ask_id)
        if p is not None and p.centre != ctx["centre"]:     # a code asked at one centre, typed at another
            p = None
        verdict = rem.codes.check(ask_id, form.get("code", ""), time.monotonic()) if p else "none"
        if verdict == "wrong":
            return page(request, template, **ctx, step="code", ask_id=ask_id, error=w("wrong", lang),
                        info=w("code_sent", lang) % mask_phone(p.phone))
        if verdict != "ok":
            pending.pop(ask_id, None)
            return page(request, template, **ctx, step="start", error=w("expired", lang))
        del pending[ask_id]
        feed = web.feeds[p.centre]
        # refused by the centre, the form comes back with the phone already proved and the choice made
        ctx = {**ctx, "typed_phone": "0" + p.phone[2:],
               "picked": p.service if p.kind == "reserve" else f"{p.day} {p.time}"}
        try:
            if p.kind == "reserve":
                t = await feed.ask("ticket.reserve", service=p.service, phone=p.phone)
                return RedirectResponse(link(p.centre, "t", t["day"], t["ticket"]) + q(lang), status_code=303)
            b = await feed.ask("booking.create", service=p.service, day=p.day, time=p.time, phone=p.phone)
            return RedirectResponse(link(p.centre, "b", b["day"], b["booking"]) + q(lang), status_code=303)
        except RequestRefused as exc:
            return page(request, template, **ctx, step="start", error=refusal(exc, lang))
        except CentreUnavailable:
            return page(request, template, **ctx, step="start", error=w("unavailable", lang))

    # -- a number from afar ---------------------------------------------------------------
    async def take(request: Request) -> Response:
        lang = lang_of(request)
        centre = centre_of(request)
        offered = remote_services(web, centre) if centre else []
        if not offered or rem is None:
            return not_found(request)
        base = web.base(centre)
        ctx = {"w": lambda k: w(k, lang), "services": [(c, service_name(centre, c, lang)) for c in offered],
               "window": None if web.province else web.settings[centre].remote_window_min,
               "action": base + "/lay-so" + q(lang),
               "picked": "", "centre": centre}
        if request.method == "GET":
            return page(request, "take.html", **ctx, step="start")
        from .pages import small_form
        form = await small_form(request)
        if form.get("step") == "code":
            return await confirm(request, form, lang, "/lay-so", "take.html", ctx)
        service, phone = form.get("service", ""), normalize_phone(form.get("phone", ""))
        ctx["picked"], ctx["typed_phone"] = service, form.get("phone", "")[:20]   # kept on a refusal: typed once
        if service not in offered:
            return page(request, "take.html", **ctx, step="start", error=w("refused", lang))
        if phone is None:
            return page(request, "take.html", **ctx, step="start", error=w("bad_phone", lang))
        nonce, error = await send_code(request, Pending("reserve", centre, service, phone), lang)
        if nonce is None:
            return page(request, "take.html", **ctx, step="start", error=error)
        return page(request, "take.html", **ctx, step="code", ask_id=nonce,
                    info=w("code_sent", lang) % mask_phone(phone))

    # -- a booking ----------------------------------------------------------------------------
    async def book(request: Request) -> Response:
        lang = lang_of(request)
        centre = centre_of(request)
        offered = booking_services(web, centre) if centre else []
        if not offered or rem is None:
            return not_found(request)
        feed, base = web.feeds[centre], web.base(centre)
        service = request.query_params.get("dv") or ""
        ctx = {"w": lambda k: w(k, lang), "services": [(c, service_name(centre, c, lang)) for c in offered],
               "service": service if service in offered else "", "days": [], "open_days": [],
               "day_text": lambda d: day_text(d, lang),
               "action": f"{base}/dat-lich?dv={service}" + ("&lang=en" if lang == "en" else ""), "q": q(lang),
               "qa": "&lang=en" if lang == "en" else "", "picked": "", "centre": centre}
        form: dict = {}
        if request.method == "POST":
            from .pages import small_form
            form = await small_form(request)
        if ctx["service"]:
            try:
                answer = await feed.ask("booking.slots", service=ctx["service"])
                # a closed day is shown as closed: a citizen looking for Tết learns why there is nothing
                ctx["open_days"] = [d for d in answer["days"]
                                    if not d.get("closed") and any(s["bookable"] for s in d["slots"])]
                ctx["days"] = [d for d in answer["days"] if d.get("closed") or d in ctx["open_days"]]
            except RequestRefused as exc:
                return page(request, "book.html", **ctx, step="start", error=refusal(exc, lang))
            except CentreUnavailable:
                return page(request, "book.html", **ctx, step="start", error=w("unavailable", lang))
        if form.get("step") == "code":
            # after the slots: refused (the slot taken meanwhile, the code used up), the form shows them again
            return await confirm(request, form, lang, "/dat-lich", "book.html", ctx)
        if request.method == "GET" or not ctx["service"]:
            return page(request, "book.html", **ctx, step="start")
        slot, phone = form.get("slot", ""), normalize_phone(form.get("phone", ""))
        ctx["picked"], ctx["typed_phone"] = slot, form.get("phone", "")[:20]
        day, _, at = slot.partition(" ")
        if not any(d["day"] == day and any(s["time"] == at and s["bookable"] for s in d["slots"]) for d in ctx["days"]):
            return page(request, "book.html", **ctx, step="start", error=w("refused", lang))
        if phone is None:
            return page(request, "book.html", **ctx, step="start", error=w("bad_phone", lang))
        nonce, error = await send_code(request, Pending("book", centre, ctx["service"], phone, day, at), lang)
        if nonce is None:
            return page(request, "book.html", **ctx, step="start", error=error)
        return page(request, "book.html", **ctx, step="code", ask_id=nonce,
                    info=w("code_sent", lang) % mask_phone(phone))

    async def booking_of(request: Request) -> tuple[dict | None, Response | None]:
        ref = read_booking(request.path_params["token"])
        if ref is None or ref.centre not in web.feeds:
            return None, not_found(request)
        feed = web.feeds[ref.centre]
        try:
            b = await feed.ask("booking.get", booking=int(ref.label))
        except RequestRefused:
            return None, not_found(request)
        except CentreUnavailable:
            return None, page(request, "unavailable.html", status=503, centre=ref.centre)
        if b.get("day") != ref.day:
            return None, not_found(request)
        b["_centre"] = ref.centre
        return b, None

    async def booking_page(request: Request, b: dict | None = None, error: str = "") -> Response:
        lang = lang_of(request)
        if b is None:
            b, refused = await booking_of(request)
            if refused is not None:
                return refused
        path = f"/b/{request.path_params['token']}"
        centre = b["_centre"]
        feed = web.feeds[centre]
        local = lambda iso: datetime.fromisoformat(iso).astimezone(feed.tz).strftime("%H:%M")  # noqa: E731
        state = b["state"]
        if state == "booked":
            headline = w("state_booked", lang) % (local(b["check_in_from"]), local(b["check_in_until"]))
        elif state == "checked_in":
            headline = w("state_checked_in", lang) % (b.get("ticket") or "—")
        else:
            headline = w(f"state_{state}", lang) if f"state_{state}" in WORDS else state
        follow = (link(centre, "t", b["day"], b["ticket"]) + q(lang) if state == "checked_in" and b.get("ticket")
                  else "")
        return page(request, "booking.html", echo_path=False, centre=centre, w=lambda k: w(k, lang), b=b,
                    headline=headline, service=service_name(centre, b["service"], lang),
                    when=f"{day_text(b['day'], lang)}, {b['time']}–{b['ends']}",
                    qr=qr_svg(full_url(centre, path), label=w("your_booking", lang))
                    if state == "booked" else "", ics_url=path + "/lich.ics", cancel_url=path + "/huy" + q(lang),
                    follow=follow, error=error)

    async def booking_get(request: Request) -> Response:
        return await booking_page(request)

    async def booking_ics(request: Request) -> Response:
        b, refused = await booking_of(request)
        if refused is not None:
            return refused
        centre = b["_centre"]
        body = ics(b, web.names.get(centre, (centre, centre))[0], web.feeds[centre].tz,
                   full_url(centre, f"/b/{request.path_params['token']}"))
        return Response(body, media_type="text/calendar; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="lich-hen-{b["booking"]}.ics"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})

    async def booking_cancel(request: Request) -> Response:
        lang = lang_of(request)
        b, refused = await booking_of(request)
        if refused is not None:
            return refused
        centre = b["_centre"]
        try:
            b = await web.feeds[centre].ask("booking.cancel", booking=b["booking"])
            b["_centre"] = centre
        except RequestRefused as exc:
            return await booking_page(request, b, error=refusal(exc, lang))
        except CentreUnavailable:
            return await booking_page(request, b, error=w("unavailable", lang))
        return await booking_page(request, b)

    return [centre_route(web, "/lay-so", take, methods=["GET", "POST"]),
            centre_route(web, "/dat-lich", book, methods=["GET", "POST"]),
            Route("/b/{token}", booking_get), Route("/b/{token}/lich.ics", booking_ics),
            Route("/b/{token}/huy", booking_cancel, methods=["POST"])]


def offered_by_state(web: WebContext, centre: str, what: str) -> list[str]:
    """At the province (no site file): the services whose retained state offers `what`
    ("remote", "booking"); a centre of before `offers` was in its state names none, so
    every service is listed and the centre refuses in its own words (`not_offered`)."""
    feed = web.feeds[centre]
    return [c for c in feed.service_names
            if (feed.services.get(c) or {}).get("offers", {what: True}).get(what, False)]


def remote_services(web: WebContext, centre: str) -> list[str]:
    """The services offered from afar: the site file's [web] beside the centre; at the
    province what the centre's service states say."""
    settings = web.settings.get(centre)
    if settings is None or not settings.remote_tickets:
        return []
    if web.province is not None:
        return offered_by_state(web, centre, "remote")
    return list(settings.remote_services) or list(web.feeds[centre].service_names)


def booking_services(web: WebContext, centre: str) -> list[str]:
    """The services with slots ([[web.slots]]); at the province what the centre's
    service states say, and `booking.slots` says which have free ones."""
    if web.province is not None and centre in web.settings:
        return offered_by_state(web, centre, "booking")
    out: list[str] = []
    for rule in (web.settings[centre].slots if centre in web.settings else ()):
        if rule.service not in out:
            out.append(rule.service)
    return out


def offered(web: WebContext, centre: str | None = None) -> dict:
    """What a centre's home page offers: numbers from afar, bookings (with a gateway only)."""
    centre = centre or web.default_centre
    settings = web.settings.get(centre)
    if settings is None or web.reminders is None:
        return {"take": False, "book": False}
    return {"take": bool(remote_services(web, centre)), "book": bool(booking_services(web, centre))}


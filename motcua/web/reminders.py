""""Nhắn tin khi sắp đến lượt": a phone number given on the ticket page,
proved with a one-time code, gets one message when few people are left ahead
(`NEAR`). The number is kept in the web process's memory only, for that
ticket, and forgotten once the message is sent or the ticket is no longer
waiting. Codes and messages go through the notifier (motcua/web/notify.py);
tries are limited per phone, per address and per service (motcua/web/limits.py).
Offered only when a gateway is configured: a log is no way to tell a citizen."""
from __future__ import annotations

import asyncio
import logging
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import model
from .app import WebContext, _ticket_of, client_address, not_found, page
from .limits import Limiter, Rule
from .notify import Message, OneTimeCodes, mask_phone, normalize_phone

log = logging.getLogger("motcua.web.reminders")

NEAR = 3                # people ahead when the message goes
CODE_MINUTES = 5

# A phone may ask for 3 codes in 10 minutes and 6 a day; an address 10 an hour;
# a service 300 a day (a burst from one place is refused whole, with a clear message).
LIMITS = (Rule("phone", 3, 600), Rule("phone", 6, 86400), Rule("address", 10, 3600),
          Rule("service", 300, 86400))

WORDS = {
    "offer": ("Nhắn tin cho tôi khi sắp đến lượt", "Text me when my turn is near"),
    "phone": ("Số điện thoại di động", "Mobile phone number"),
    "why": ("Chúng tôi nhắn một tin khi còn %d người trước bạn. Số điện thoại chỉ dùng cho việc này và được xoá "
            "khi số thứ tự kết thúc.",
            "We send one message when %d people are left ahead of you. The number is used for this only and "
            "erased when your ticket ends."),
    "send_code": ("Gửi mã xác nhận", "Send a confirmation code"),
    "code": ("Mã xác nhận (6 chữ số)", "Confirmation code (6 digits)"),
    "code_sent": ("Đã gửi mã xác nhận đến %s.", "A confirmation code was sent to %s."),
    "confirm": ("Xác nhận", "Confirm"),
    "done": ("Đã xong. Chúng tôi sẽ nhắn tin đến %s khi còn %d người trước bạn.",
             "Done. We will text %s when %d people are left ahead of you."),
    "bad_phone": ("Số điện thoại không đúng. Ví dụ: 0912 345 678", "That is not a mobile number. For example: 0912 345 678"),
    "too_many_phone": ("Số điện thoại này đã yêu cầu quá nhiều mã. Vui lòng thử lại sau %d phút.",
                       "Too many codes for this number. Please try again in %d minutes."),
    "too_many_address": ("Có quá nhiều yêu cầu từ mạng của bạn. Vui lòng thử lại sau %d phút.",
                         "Too many requests from your network. Please try again in %d minutes."),
    "too_many_service": ("Dịch vụ nhắn tin đang quá tải. Vui lòng theo dõi trên trang này.",
                         "The message service is busy. Please follow your number on this page."),
    "not_sent": ("Chưa gửi được tin nhắn. Vui lòng thử lại sau ít phút.",
                 "The message could not be sent. Please try again in a few minutes."),
    "wrong": ("Mã xác nhận không đúng.", "The code is not right."),
    "expired": ("Mã đã hết hạn hoặc đã nhập sai quá nhiều lần. Vui lòng gửi mã mới.",
                "The code has expired or was mistyped too often. Please ask for a new one."),
    "not_waiting": ("Số này không còn chờ.", "This number is no longer waiting."),
    "back": ("Quay lại số thứ tự", "Back to my ticket"),
}


def w(key: str, lang: str) -> str:
    vi, en = WORDS[key]
    return en if lang == "en" else vi


class Reminders:
    """What the web process holds for reminders: the codes sent, the limits, and
    (in each centre's feed) the phone waiting for its ticket's message."""

    def __init__(self, notifier, centre_names: dict[str, str]):
        self.notifier = notifier
        self.codes = OneTimeCodes(ttl_s=CODE_MINUTES * 60)
        self.limits = Limiter(LIMITS)
        self.centre_names = centre_names
        self.sent = 0


def routes(web: WebContext) -> list[Route]:
    rem: Reminders | None = web.reminders

    async def ask(request: Request) -> Response:
        found = _ticket_of(request, request.path_params["token"])
        if found is None or rem is None:
            return not_found(request)
        ref, feed = found
        lang = model.pick_lang(request.query_params.get("lang"))
        from .pages import small_form
        form = await small_form(request)
        step = form.get("step", "phone")
        try:
            f = await feed.follow(ref.day, ref.label)
        except Exception:   # noqa: BLE001 - unknown ticket or centre away: the ticket page says which
            return not_found(request)
        back = f"/t/{request.path_params['token']}" + ("?lang=en" if lang == "en" else "")
        ctx = {"w": lambda k: w(k, lang), "back": back, "near": NEAR, "error": "", "phone": "", "step": "phone",
               "action": request.url.path + ("?lang=en" if lang == "en" else "")}
        if f.state != "waiting":
            ctx["error"] = w("not_waiting", lang)
            return page(request, "reminder.html", centre=ref.centre, echo_path=False, **ctx)
        phone = normalize_phone(form.get("phone", ""))
        purpose = f"{ref.centre}:{ref.day}:{ref.label}:{phone}"
        if step == "phone":
            if phone is None:
                ctx["error"] = w("bad_phone", lang)
            else:
                ok, retry, what = rem.limits.check(time.monotonic(), phone=phone, address=client_address(request),
                                                   service=f"{ref.centre}:{f.service}")
                if not ok:
                    key = {"phone": "too_many_phone", "address": "too_many_address"}.get(what, "too_many_service")
                    ctx["error"] = w(key, lang) % max(1, round(retry / 60)) if "%d" in w(key, lang) else w(key, lang)
                else:
                    code = rem.codes.issue(purpose, time.monotonic())
                    message = Message(phone, "otp", {"code": code, "minutes": CODE_MINUTES,
                                                     "centre": ascii_text(rem.centre_names.get(ref.centre, ref.centre))})
                    sent = await asyncio.get_running_loop().run_in_executor(feed.executor, rem.notifier.send, message)
                    if sent:
                        ctx.update(step="code", phone=phone, info=w("code_sent", lang) % mask_phone(phone))
                    else:
                        ctx["error"] = w("not_sent", lang)
        elif step == "code" and phone is not None:
            ctx.update(step="code", phone=phone)
            verdict = rem.codes.check(purpose, form.get("code", ""), time.monotonic())
            if verdict == "ok":
                feed.remind(ref.day, ref.label, phone)
                ctx.update(step="done", info=w("done", lang) % (mask_phone(phone), NEAR))
            elif verdict == "wrong":
                ctx["error"] = w("wrong", lang)
            else:
                ctx.update(step="phone", phone="", error=w("expired", lang))
        return page(request, "reminder.html", centre=ref.centre, echo_path=False, **ctx)

    return [Route("/t/{token}/nhac", ask, methods=["POST"])]


def ascii_text(text: str) -> str:
    """Brand-name SMS go without diacritics (one with marks costs two to three
    messages): "Hộ tịch" -> "Ho tich", case kept."""
    import unicodedata
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def send_near(rem: Reminders, feed, key, phone: str, ahead: int) -> None:
    """From the loop: the message, off the loop; the phone is already forgotten."""
    f = feed.followed.get(key)
    if f is None:
        return
    names = feed.service_names.get(f.service) or (f.service, f.service)
    params = {"ticket": f.label, "service": ascii_text(names[0]), "ahead": ahead,
              "centre": ascii_text(rem.centre_names.get(feed.centre_id, feed.centre_id))}
    message = Message(phone, "turn_near", params)
    rem.sent += 1

    def go():
        if not rem.notifier.send(message):
            log.warning("could not tell %s that ticket %s is near", mask_phone(phone), f.label)
    feed.executor.submit(go)

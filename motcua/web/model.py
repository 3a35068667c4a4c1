"""What a citizen's phone shows, without Starlette or paho: a followed ticket
kept in step with the centre's events (`Followed`), its place in the queue
from the retained service state, the ticket page's texts in Vietnamese and
English (`ticket_view`), and the Server-Sent Events wire format (`sse`).

The ticket page never asks the centre more than once for a ticket: its first
state comes from `ticket.status`, then every change comes from events
(event/ticket, event/call) and the retained service state, which one MQTT
connection receives for every phone at once.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

LANGS = ("vi", "en")

# How many waiting tickets the retained service state names (docs/protocol.md §8).
NEXT_TICKETS = 10
# The page without JavaScript reloads itself this often while the ticket may still change.
REFRESH_WAITING_S = 30
REFRESH_CALLED_S = 10

# `reserved`: a number taken from afar, not in the queue until checked in at the
# centre; `lapsed`: one not checked in in time (docs/protocol.md, ticket.reserve).
ACTIVE = ("reserved", "waiting", "called", "serving")

TEXTS = {
    "title": ("Số thứ tự của tôi", "My ticket"),
    "number": ("Số thứ tự", "Ticket number"),
    "service": ("Lĩnh vực", "Service"),
    "ahead": ("Người đang chờ trước bạn", "People ahead of you"),
    "wait": ("Thời gian chờ dự kiến", "Estimated wait"),
    "next": ("Bạn là người tiếp theo. Vui lòng chú ý màn hình và loa gọi số.",
             "You are next. Please watch the screen and listen for your number."),
    "no_counter": ("Chưa có quầy nào đang mở cho lĩnh vực này.", "No counter is open for this service yet."),
    "waiting": ("Đang chờ đến lượt", "Waiting for your turn"),
    "called": ("Mời công dân có số %s đến quầy số %s", "Number %s, please go to counter %s"),
    "recalled": ("Gọi lại: mời công dân có số %s đến quầy số %s", "Called again: number %s, please go to counter %s"),
    # the call's panel shows the number and the counter large, between these
    "called_pre": ("Mời công dân có số", "Number"),
    "recalled_pre": ("Gọi lại: mời công dân có số", "Called again: number"),
    "called_mid": ("đến quầy số", "please go to counter"),
    "serving": ("Đang được phục vụ tại quầy số %s", "Being served at counter %s"),
    "done": ("Đã phục vụ xong. Cảm ơn bạn!", "Served. Thank you!"),
    "no_show": ("Số đã được gọi nhưng bạn vắng mặt. Vui lòng hỏi cán bộ hướng dẫn.",
                "Your number was called but you were not there. Please ask the staff."),
    "expired": ("Số này đã hết hiệu lực. Vui lòng lấy số mới.", "This number is no longer valid. Please take a new one."),
    "reserved": ("Số lấy từ xa: khi đến Trung tâm, hãy đưa mã QR dưới đây vào máy quét của ki-ốt trước %s "
                 "để vào hàng chờ.",
                 "A number taken from afar: at the centre, hold the QR code below to the kiosk's scanner before "
                 "%s to join the queue."),
    "reserved_now": ("Nếu vào hàng chờ lúc này: %s người trước bạn.", "If you joined the queue now: %s ahead of you."),
    "lapsed": ("Số này đã hết hạn vì chưa được xác nhận tại Trung tâm kịp giờ. Vui lòng lấy số mới.",
               "This number has lapsed: it was not checked in at the centre in time. Please take a new one."),
    "transferred": ("Đã chuyển sang lĩnh vực %s, giữ nguyên thứ tự.",
                    "Moved to the service %s, keeping your place."),
    "other_day": ("Số này của ngày %s.", "This number is from %s."),
    "offline": ("Đang mất kết nối với trung tâm: thông tin có thể chưa cập nhật.",
                "No link to the centre: this may not be up to date."),
    "live": ("Tự cập nhật", "Updates by itself"),
    "reload": ("Trang tự tải lại sau %d giây.", "This page reloads itself every %d seconds."),
    "sound_on": ("Bật âm thanh báo", "Turn on the sound alert"),
    "minutes": ("khoảng %d phút", "about %d min"),
    "hours": ("khoảng %d giờ %d phút", "about %d h %d min"),
    "hours_only": ("khoảng %d giờ", "about %d h"),
    "privacy": ("Trang này không hỏi tên bạn. Số điện thoại, nếu bạn cho, chỉ dùng để nhắn tin cho số này "
                "rồi được xoá.",
                "This page never asks your name. A phone number, if you give one, is used only to text you "
                "about this ticket, then erased."),
    "not_found": ("Không tìm thấy số này", "Number not found"),
    "not_found_help": ("Đường dẫn không đúng hoặc đã bị sửa. Vui lòng quét lại mã QR trên phiếu.",
                       "The link is wrong or was changed. Please scan the QR code on your ticket again."),
    "unavailable": ("Hệ thống đang không trả lời. Vui lòng thử lại sau ít phút.",
                    "The system is not answering. Please try again in a few minutes."),
    "home": ("Về trang chủ", "Home page"),
}


def t(key: str, lang: str) -> str:
    vi, en = TEXTS[key]
    return en if lang == "en" else vi


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else "vi"


def wait_text(seconds: int | float | None, lang: str) -> str:
    """The estimate as a citizen reads it: minutes, from an hour on hours and
    minutes rounded to 5 (an estimate that long is no more precise)."""
    if not seconds:
        return "—"
    m = max(1, round(seconds / 60))
    if m < 60:
        return t("minutes", lang) % m
    h, m = divmod(5 * round(m / 5), 60)
    return t("hours", lang) % (h, m) if m else t("hours_only", lang) % h


# -- a followed ticket ------------------------------------------------------------------------


@dataclass
class Followed:
    """One ticket that phones follow, kept from `ticket.status` (once) and events.

    People ahead: the retained service state names the first NEXT_TICKETS
    waiting tickets in queue order, so within them the place is exact; further
    back it is what `ticket.status` said, less the calls of the service since
    (each call takes the head of the line), never fewer than NEXT_TICKETS and
    never more than everyone else waiting. A priority ticket arriving later
    only shows once the ticket is among the first ten."""
    centre: str
    day: str
    label: str
    id: int | None = None
    service: str = ""
    state: str = "waiting"
    counter: int | None = None
    base_ahead: int = 0             # people_ahead from ticket.status
    calls_since: int = 0            # calls of its service since base_ahead was known
    transferred_from: str | None = None
    last_call: dict | None = None   # the latest call event for this ticket
    check_in_by: str = ""           # a number taken from afar: local HH:MM it lapses at
    version: int = 0                # bumped on every change a page shows

    @classmethod
    def from_status(cls, centre: str, day: str, status: dict) -> "Followed":
        return cls(centre=centre, day=day, label=status["ticket"], id=status.get("id"),
                   service=status.get("service", ""), state=status.get("state", "waiting"),
                   counter=status.get("counter"), base_ahead=int(status.get("people_ahead") or 0))

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def on_ticket_event(self, event: dict) -> bool:
        """Take an event/ticket message; True when it was this ticket's and changed it."""
        if event.get("ticket") != self.label or (self.id is not None and event.get("id") != self.id):
            return False
        kind, state = event.get("event"), event.get("state")
        if kind in ("dossier_attached", "dossier_detached"):
            return False        # nothing the page shows
        if kind == "transferred" and event.get("service") != self.service:
            self.transferred_from = self.service
            self.service = event["service"]
            # Its place in the new line is unknown until it shows among the first ten.
            self.base_ahead, self.calls_since = NEXT_TICKETS, 0
        before = (self.state, self.counter, self.service)
        if isinstance(state, str):
            self.state = state
        if kind != "transferred":
            self.counter = event.get("counter", self.counter)
        else:
            self.counter = None
        if (self.state, self.counter, self.service) == before and kind != "transferred":
            return False
        self.version += 1
        return True

    def on_call(self, call: dict) -> bool:
        """Take an event/call message; True when it called this ticket (a recall too).
        A call of another ticket of the same service moves this one up the line."""
        if call.get("ticket") == self.label and self.state in ACTIVE:
            self.last_call = call
            self.state, self.counter = "called", call.get("counter")
            self.version += 1
            return True
        if call.get("service") == self.service and not call.get("recall") and self.state == "waiting":
            self.calls_since += 1
        return False

    def people_ahead(self, service_state: dict | None) -> int:
        if self.state != "waiting":
            return 0
        s = service_state or {}
        labels = [n.get("ticket") for n in s.get("next_tickets") or [] if isinstance(n, dict)]
        if self.label in labels:
            return labels.index(self.label)
        ahead = max(0, self.base_ahead - self.calls_since)
        if len(labels) >= NEXT_TICKETS:
            ahead = max(ahead, NEXT_TICKETS)
        waiting = s.get("waiting")
        if isinstance(waiting, int) and waiting > 0:
            ahead = min(ahead, waiting - 1)
        return ahead


def estimated_wait_s(ahead: int, service_state: dict | None) -> int:
    """People ahead × the service time ÷ open counters, from the service's own
    estimate for everyone waiting (docs/protocol.md §8): the same figure the
    centre gives in ticket.status."""
    s = service_state or {}
    waiting, whole = s.get("waiting") or 0, s.get("estimated_wait_s") or 0
    if ahead <= 0 or waiting <= 0:
        return 0
    return round(whole * ahead / waiting)


# -- the ticket page ---------------------------------------------------------------------------


def ticket_view(f: Followed, service_state: dict | None, service_names: dict, lang: str,
                today: str | None = None, centre_online: bool | None = True) -> dict:
    """Everything the ticket page shows, as plain values (the template and the
    live updates both use it). `service_names`: code -> (vi, en)."""
    names = service_names.get(f.service) or (f.service, f.service)
    v: dict = {"number": f.label, "service": names[1] if lang == "en" and names[1] else names[0],
               "state": f.state, "counter": f.counter, "ahead": None, "wait": "", "headline": "",
               "note": "", "called": False, "recall": False, "panel": "", "version": f.version,
               "seq": (f.last_call or {}).get("seq"), "refresh_s": 0, "offline": "",
               "day_note": "", "ahead_text": "", "panel_pre": "", "panel_mid": ""}
    if today and f.day != today:
        v["day_note"] = t("other_day", lang) % _vn_day(f.day)
    if f.transferred_from and f.state in ACTIVE:
        v["note"] = t("transferred", lang) % v["service"]
    if centre_online is False and f.active:
        v["offline"] = t("offline", lang)
    if f.state == "reserved":
        v["headline"] = t("reserved", lang) % (f.check_in_by or "—")
        waiting = (service_state or {}).get("waiting")
        if isinstance(waiting, int):
            v["note"] = t("reserved_now", lang) % waiting
        v["refresh_s"] = REFRESH_WAITING_S
    elif f.state == "waiting":
        ahead = f.people_ahead(service_state)
        v["ahead"] = ahead
        v["ahead_text"] = str(ahead)
        v["wait"] = wait_text(estimated_wait_s(ahead, service_state), lang)
        v["headline"] = t("next", lang) if ahead == 0 else t("waiting", lang)
        if service_state is not None and not service_state.get("open_counters"):
            v["note"] = (v["note"] + " " if v["note"] else "") + t("no_counter", lang)
        v["refresh_s"] = REFRESH_WAITING_S
    elif f.state == "called":
        recall = bool((f.last_call or {}).get("recall"))
        v["called"], v["recall"] = True, recall
        v["panel"] = t("recalled" if recall else "called", lang) % (f.label, f.counter)
        v["panel_pre"] = t("recalled_pre" if recall else "called_pre", lang)
        v["panel_mid"] = t("called_mid", lang)
        v["headline"] = v["panel"]
        v["refresh_s"] = REFRESH_CALLED_S
    elif f.state == "serving":
        v["headline"] = t("serving", lang) % f.counter
        v["refresh_s"] = REFRESH_WAITING_S
    elif f.state in ("done", "no_show", "lapsed"):
        v["headline"] = t(f.state, lang)
    else:
        v["headline"] = t("expired", lang)
    return v


def _vn_day(day: str) -> str:
    try:
        y, m, d = day.split("-")
    except ValueError:
        return day
    return f"{d}/{m}/{y}"


# -- Server-Sent Events -----------------------------------------------------------------------


def sse(data: dict, event: str | None = None, event_id: int | str | None = None) -> bytes:
    """One Server-Sent Event: JSON data on one line (json.dumps never writes a
    newline, so no `data:` line can be split), UTF-8."""
    lines = []
    if event:
        lines.append(f"event: {event}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


SSE_KEEPALIVE = b": keep-alive\n\n"   # a comment line: proxies keep the stream open
SSE_RETRY_MS = 3000


def sse_hello() -> bytes:
    """The first bytes of a stream: how long the browser waits before reconnecting."""
    return f"retry: {SSE_RETRY_MS}\n\n".encode()

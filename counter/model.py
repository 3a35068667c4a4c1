"""What the counter terminal shows and allows, without Kivy: the actions and
their shortcuts, which of them make sense in the counter's state, the timer,
the day's figures, the centre's refusals in Vietnamese, and the outbox that
holds an action while the link to the centre is down.

Everything here reads the centre's payloads (docs/protocol.md: counter state,
service state, state/ratings) and the site file; nothing here talks to MQTT.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from motcua import web_tokens
from motcua.ratings import satisfied_share  # one rule for the board, the terminal and reports

# -- the actions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    key: str        # the terminal's name for it
    op: str         # the request operation (motcua.protocol.OPERATIONS)
    label: str      # on the button (Vietnamese; "…" when a choice follows)
    shortcut: str   # shown on the button
    keycode: int    # Kivy's key code of the shortcut
    dialog: str | None = None   # a screen to choose or confirm on before the request goes


# F1-F10: no clash with typing in a text field, and one key per button.
# Kivy's key codes: F1 = 282 ... F12 = 293.
ACTIONS: tuple[Action, ...] = (
    Action("next", "counter.next", "Gọi tiếp", "F1", 282),
    Action("call", "counter.call", "Gọi số…", "F2", 283, dialog="call"),
    Action("recall", "counter.recall", "Gọi lại", "F3", 284),
    Action("start", "counter.start", "Bắt đầu", "F4", 285),
    Action("done", "counter.done", "Xong", "F5", 286),
    Action("no_show", "counter.no_show", "Vắng mặt", "F6", 287),
    Action("transfer", "counter.transfer", "Chuyển…", "F7", 288, dialog="transfer"),
    Action("pause", "counter.pause", "Tạm dừng…", "F8", 289, dialog="pause"),
    Action("resume", "counter.resume", "Tiếp tục", "F9", 290),
    Action("close", "counter.close", "Đóng quầy", "F10", 291, dialog="close"),
)
BY_KEY = {a.key: a for a in ACTIONS}
BY_KEYCODE = {a.keycode: a for a in ACTIONS}
SIGN_IN = Action("sign_in", "counter.sign_in", "Đăng nhập", "Enter", 13)
# The dossiers received or returned at the visit (issue 12): typed or scanned into the
# "Hồ sơ" field (a USB scanner types the receipt's QR and Enter), removed with ×.
ATTACH = Action("attach_dossier", "counter.attach_dossier", "Gắn hồ sơ", "Enter", 13)
DETACH = Action("detach_dossier", "counter.detach_dossier", "Gỡ hồ sơ", "×", 0)
# A number taken from afar or a booking (issue 14): the QR on the citizen's phone,
# scanned into the "Hồ sơ" field or the "Gọi số…" dialog, checks the citizen in.
CHECK_IN_TICKET = Action("check_in_ticket", "ticket.check_in", "Xác nhận số lấy từ xa", "Enter", 13)
CHECK_IN_BOOKING = Action("check_in_booking", "booking.check_in", "Xác nhận lịch hẹn", "Enter", 13)
OTHER_ACTIONS = {a.key: a for a in (SIGN_IN, ATTACH, DETACH, CHECK_IN_TICKET, CHECK_IN_BOOKING)}

# Reasons an officer picks from (or types another); the centre takes any 1-200 characters.
PAUSE_REASONS = ("Nghỉ giữa giờ", "Họp giao ban", "Hỗ trợ công dân ngoài quầy", "Sự cố máy tính, mạng")

STATE_TEXT = {"open": "Đang mở", "paused": "Tạm dừng", "closed": "Đóng"}


def action_of(key: str) -> Action:
    return OTHER_ACTIONS.get(key) or BY_KEY[key]


def enabled_actions(counter: dict | None, waiting: int | None = None) -> set[str]:
    """The actions that make sense now, from the counter's state as the centre
    published it. `waiting` is the number of tickets waiting in the counter's
    services (None when not known): with nobody waiting and no current ticket,
    "call next" and "call a number" have nothing to call. The centre still has
    the last word; this only keeps senseless buttons from being pressed."""
    if not counter or counter.get("state") not in ("open", "paused"):
        return set()
    if counter["state"] == "paused":
        return {"resume", "close"}
    ticket = counter.get("ticket") or {}
    state = ticket.get("state")
    nobody = waiting == 0
    if not ticket:
        out = {"pause", "close"}
        if not nobody:
            out |= {"next", "call"}
        return out
    if state == "called":   # the citizen has not come yet
        return {"recall", "start", "done", "no_show", "transfer"}
    if state == "serving":  # "next" finishes this one and calls the next (even if nobody waits)
        return {"next", "done", "transfer"}
    return set()


def newer(current: dict | None, incoming: dict | None) -> bool:
    """Is `incoming` (a counter view from a reply or the retained state) at least
    as recent as `current`? Both carry the centre's `updated_at` (ISO, UTC, ms:
    they sort as text); a view without it only replaces nothing."""
    if not incoming:
        return False
    if not current:
        return True
    return (incoming.get("updated_at") or "") >= (current.get("updated_at") or "")


# -- time -------------------------------------------------------------------------------

def _parse(iso: str | None) -> datetime | None:
    if not iso:
        return None
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def clock(seconds: float) -> str:
    """12:05 (minutes:seconds), 1:02:05 past an hour; never negative."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def timer_text(ticket: dict | None, now: datetime) -> str:
    """The running timer of the current ticket: since it was called, or since
    service started."""
    if not ticket:
        return ""
    if ticket.get("state") == "serving":
        since = _parse(ticket.get("started_at"))
        return f"Đang phục vụ  {clock((now - since).total_seconds())}" if since else "Đang phục vụ"
    since = _parse(ticket.get("called_at"))
    return f"Đã gọi, chờ công dân  {clock((now - since).total_seconds())}" if since else "Đã gọi"


# -- the day's figures ------------------------------------------------------------------

def satisfaction(tallies: dict | None, counter: int, today: str) -> dict:
    """This counter's satisfaction so far today, from the retained state/ratings
    (its `by_counter` group). Tallies of another day count as none."""
    t = tallies if tallies and tallies.get("day") == today else {}
    group = (t.get("by_counter") or {}).get(str(counter)) or {}
    levels = list(group.get("levels") or [])
    count = int(group.get("count") or sum(levels))
    share = satisfied_share(levels)
    index = group.get("index")
    if not count:
        text = "Chưa có đánh giá hôm nay"
    else:
        detail = f"{count} đánh giá" + (f" · chỉ số {index:.0f}" if index is not None else "")
        text = f"{share:.0f}% ({detail})" if share is not None else detail
    return {"count": count, "levels": levels, "share": share, "index": index, "text": text}


def idle_hint(counter: dict | None, waiting: int | None) -> str:
    """What the ticket card says when the counter is open without a ticket."""
    if not counter or counter.get("state") != "open" or counter.get("ticket"):
        return ""
    if waiting == 0:
        return "Chưa có công dân nào chờ. Công dân có lịch hẹn: quét mã QR trên điện thoại vào ô dưới."
    return "Bấm Gọi tiếp (F1) để mời công dân tiếp theo."


def served_text(counter: dict | None) -> str:
    n = (counter or {}).get("served_today")
    return "—" if n is None else str(n)


def waiting_rows(counter_services, services: dict, names: dict) -> list[dict]:
    """Waiting per service this counter serves, in the counter's order.
    `services` holds the retained service states by code (missing: unknown)."""
    rows = []
    for code in counter_services:
        s = services.get(code)
        rows.append({"code": code, "name": names.get(code, code),
                     "waiting": None if s is None else s.get("waiting", 0),
                     "priority": 0 if s is None else s.get("waiting_priority", 0)})
    return rows


def waiting_total(rows: list[dict]) -> int | None:
    """Tickets waiting for the counter, or None if any service's figure is unknown."""
    if any(r["waiting"] is None for r in rows):
        return None
    return sum(r["waiting"] for r in rows)


def waiting_text(row: dict) -> str:
    if row["waiting"] is None:
        return "…"
    return f"{row['waiting']}" + (f" ({row['priority']} ưu tiên)" if row["priority"] else "")


def pickable(counter_services, services: dict, names: dict) -> list[dict]:
    """Waiting tickets the officer may call by name, from each service's
    `next_tickets` (the first ten in queue order), service by service."""
    out = []
    for code in counter_services:
        for t in (services.get(code) or {}).get("next_tickets") or []:
            out.append({"ticket": t.get("ticket", ""), "service": code, "name": names.get(code, code),
                        "priority": t.get("priority")})
    return out


def transfer_targets(site_services, current_service: str | None) -> list[dict]:
    """Every service but the ticket's own, in the site file's order."""
    return [{"code": s.code, "name": s.name_vi} for s in site_services if s.code != current_service]


def check_in_of(text: str) -> tuple[str, dict] | None:
    """(action key, arguments) when what was typed or scanned is the link of a number
    taken from afar or of a booking (…/t/<token>, …/b/<token>); None otherwise. The
    centre checks the token's signature."""
    found = web_tokens.token_of_link(text or "")
    if found is None:
        return None
    kind, token = found
    return ("check_in_ticket" if kind == "t" else "check_in_booking"), {"token": token}


def check_in_text(result: dict) -> str:
    """The status line after a check-in at this counter."""
    label = result.get("ticket", "")
    booking = result.get("booking")
    if not result.get("checked_in"):
        return f"Số {label} đã có trong hàng chờ (hoặc đã phục vụ): không cần xác nhận lại."
    if booking:
        return (f"Đã xác nhận lịch hẹn {booking.get('time', '')}: cấp số {label}, được gọi trước "
                "trong khung giờ hẹn.")
    return f"Đã xác nhận số {label} lấy từ xa: vào hàng chờ theo giờ lấy số."


def normalise_ticket(text: str) -> str:
    """What the officer typed as a ticket number: spaces gone, letters upper case."""
    return "".join(text.split()).upper()


# -- the centre's refusals, in Vietnamese -----------------------------------------------

ERROR_TEXTS = {
    "queue_empty": "Không có công dân nào đang chờ ở các lĩnh vực của quầy.",
    "current_not_started": "Số đang gọi chưa bắt đầu phục vụ: bấm Bắt đầu, Gọi lại hoặc Vắng mặt trước.",
    "ticket_in_progress": "Quầy còn số đang phục vụ: bấm Xong, Chuyển hoặc Vắng mặt trước.",
    "ticket_not_waiting": "Số này không có trong hàng chờ hôm nay (đã gọi, đã xong hoặc chưa lấy).",
    "wrong_service": "Số này thuộc lĩnh vực quầy không phục vụ: chuyển số hoặc mời sang quầy khác.",
    "not_called": "Số đang được phục vụ, không cần gọi lại.",
    "already_serving": "Số này đang được phục vụ rồi.",
    "no_current_ticket": "Quầy chưa có số nào: bấm Gọi tiếp trước.",
    "counter_closed": "Quầy đang đóng: cán bộ cần đăng nhập trước.",
    "counter_paused": "Quầy đang tạm dừng: bấm Tiếp tục trước.",
    "same_service": "Số này đã thuộc lĩnh vực đó rồi.",
    "bad_reason": "Hãy chọn hoặc nhập lý do tạm dừng (tối đa 200 ký tự).",
    "not_paused": "Quầy không ở trạng thái tạm dừng.",
    "bad_officer": "Hãy nhập mã cán bộ (1-64 ký tự).",
    "no_pin": "Hãy nhập mã PIN (4-8 chữ số).",
    "unknown_officer": "Mã cán bộ chưa được đăng ký: nhờ quản trị viên đăng ký (motcua officers add).",
    "bad_pin": "Sai mã PIN.",
    "officer_locked": "Tài khoản bị khoá 5 phút vì nhập sai mã PIN 5 lần, ở mọi quầy. Chờ rồi thử lại, "
                      "hoặc nhờ quản trị viên đặt lại mã PIN.",
    "officer_elsewhere": "Cán bộ này đang đăng nhập ở quầy khác: đóng quầy đó trước.",
    "unknown_service": "Lĩnh vực này không có trong hệ thống.",
    "unknown_counter": "Quầy này không có trong hệ thống: kiểm tra tệp cấu hình.",
    "unknown_ticket": "Không tìm thấy số này.",
    "forbidden": "Thiết bị này không được phép thao tác ở quầy này: kiểm tra tệp cấu hình.",
    "bad_arguments": "Yêu cầu không hợp lệ (lỗi phần mềm): báo bộ phận kỹ thuật.",
    "unknown_operation": "Hệ thống trung tâm không hiểu yêu cầu: cần cập nhật phần mềm.",
    # dossiers at the counter (counter.attach_dossier / detach_dossier)
    "malformed_code": "Mã hồ sơ không đúng dạng (ví dụ 000.00.31.H12-261123-0001): kiểm tra lại trên "
                      "giấy tiếp nhận, hoặc quét mã QR.",
    "malformed_qr": "Mã QR quét chưa trọn hoặc bị hỏng: quét lại, hoặc gõ mã hồ sơ.",
    "unverified": "Không xác thực được mã QR này (quét nhầm hoặc giấy bị hỏng): quét lại, hoặc gõ mã hồ sơ.",
    "no_secret": "Hệ thống chưa đặt khoá ký mã QR hồ sơ ([dossiers] secret): gõ mã hồ sơ, và báo bộ "
                 "phận kỹ thuật.",
    "too_many_dossiers": "Số này đã gắn 20 hồ sơ: gỡ hồ sơ gắn nhầm trước.",
    "dossier_not_attached": "Hồ sơ này không gắn với số hiện tại.",
    # numbers taken from afar and bookings (issue 14): a check-in at the counter; the
    # others only answer the web service, and are here in case an admin tool shows them
    "bad_token": "Mã QR không hợp lệ (sửa, chụp lại hoặc không phải của hệ thống): hỏi lại công dân.",
    "not_ours": "Mã QR này là của trung tâm khác.",
    "ticket_lapsed": "Số lấy từ xa đã quá thời gian xác nhận nên hết hiệu lực: mời công dân lấy số mới.",
    "booking_lapsed": "Lịch hẹn đã quá giờ nên hết hiệu lực: mời công dân lấy số mới.",
    "booking_closed": "Lịch hẹn này đã huỷ hoặc đã được xác nhận trước đó.",
    "wrong_day": "Lịch hẹn này không phải của hôm nay.",
    "too_early": "Chưa đến giờ xác nhận lịch hẹn này (sớm hơn giờ cho phép).",
    "unknown_booking": "Không tìm thấy lịch hẹn này.",
    "not_offered": "Trung tâm chưa bật lấy số từ xa hoặc đặt lịch cho lĩnh vực này ([web] trong tệp cấu hình).",
    "bad_phone": "Số điện thoại không hợp lệ.",
    "phone_limit": "Số điện thoại này đã lấy đủ số trong ngày.",
    "remote_full": "Đã hết số lấy từ xa hôm nay cho lĩnh vực này.",
    "service_full": "Lĩnh vực này đã hết số trong ngày: mở rộng dải số trong tệp cấu hình.",
    "bad_day": "Ngày hẹn không hợp lệ.",
    "no_slot": "Không có khung giờ này.",
    "slot_past": "Khung giờ này đã qua.",
    "slot_full": "Khung giờ này đã hết chỗ.",
    "day_closed": "Ngày này Trung tâm nghỉ (ngày lễ, Tết): không nhận đặt lịch và lấy số từ xa.",
    "not_your_booking": "Số điện thoại không khớp với lịch hẹn.",
}


def error_text(code: str, message: str = "", details: dict | None = None) -> str:
    left = (details or {}).get("tries_left")
    if code == "bad_pin" and isinstance(left, int):
        return f"Sai mã PIN, còn {left} lần thử (sai 5 lần: khoá 5 phút)."
    return ERROR_TEXTS.get(code, f"Hệ thống từ chối ({code}): {message}" if message else
                           f"Hệ thống từ chối ({code}).")


def dossier_target(counter: dict | None) -> dict | None:
    """Where a dossier scanned now goes, from the counter's view: its current ticket,
    else the ticket it just finished while the pad asks for its rating, else nowhere
    (None). {"ticket", "dossiers", "finished"}."""
    if not counter or counter.get("state") == "closed":
        return None
    t = counter.get("ticket")
    if t:
        return {"ticket": t.get("ticket", ""), "dossiers": list(t.get("dossiers") or []), "finished": False}
    f = counter.get("finished_ticket")
    if f:
        return {"ticket": f.get("ticket", ""), "dossiers": list(f.get("dossiers") or []), "finished": True}
    return None


def dossier_hint(target: dict | None) -> str:
    """What the "Hồ sơ" field says before anything is typed."""
    if target is None:
        return "Hồ sơ: gọi số trước khi gắn"
    if target["finished"]:
        return f"Hồ sơ trả cho số {target['ticket']}"
    return "Hồ sơ: quét mã QR hoặc gõ mã, Enter"


# The field takes a phone's QR even with no ticket at the counter (issue 14): an
# officer whose hall is empty checks a booking or a number from afar in there.
CHECK_IN_HINT = "Quét mã QR lịch hẹn, số lấy từ xa"
NO_TICKET_FOR_DOSSIER = ("Chưa có số nào để gắn hồ sơ: gọi số trước. Ô này nhận mã QR lịch hẹn "
                         "hoặc số lấy từ xa trên điện thoại công dân.")


def scan_field(counter: dict | None) -> dict:
    """The "Hồ sơ" field as the terminal shows it: `shown` whenever the counter is open
    or paused (a scanned phone link checks the citizen in, a ticket or not), its
    `hint` before anything is typed, and its button: attach a dossier to the ticket
    (or the one just finished), or, with no ticket, check a phone's QR in."""
    if not counter or counter.get("state") not in ("open", "paused"):
        return {"shown": False, "hint": "", "button": ""}
    target = dossier_target(counter)
    if target is None:
        return {"shown": True, "hint": CHECK_IN_HINT, "button": "Xác nhận"}
    return {"shown": True, "hint": dossier_hint(target), "button": "Gắn hồ sơ"}


def short_code(code: str) -> str:
    """A dossier code as its chip on the terminal shows it: the date and number after
    the unit code (261123-0001), which tell a visit's dossiers apart; the whole code
    is in the status line when it is attached."""
    return code.split("-", 1)[1] if code.count("-") >= 2 else code


def finished_caption(target: dict | None) -> str:
    """The ticket card's caption while the pad asks about the ticket just finished."""
    if target and target["finished"]:
        return f"Vừa xong số {target['ticket']} · công dân đang đánh giá"
    return ""


def normalise_dossier(text: str) -> str:
    """What the officer typed or the scanner sent: line ends and surrounding
    spaces gone (the centre checks the code and reads a QR text)."""
    return text.strip()


def dossier_text(action: str, d: dict) -> str:
    """The status line after an attach or detach (`d`: the reply's `dossier`)."""
    code, ticket = d.get("code", ""), d.get("ticket", "")
    if action == "detach_dossier":
        return f"Đã gỡ hồ sơ {code} khỏi số {ticket}."
    if not d.get("changed", True):
        return f"Hồ sơ {code} đã gắn với số {ticket} rồi."
    if not d.get("known"):
        return (f"Đã gắn hồ sơ {code} vào số {ticket}. Hồ sơ chưa có trong dữ liệu của trung tâm "
                "(sẽ có khi phần mềm một cửa gửi sang): kiểm tra lại mã nếu gõ tay.")
    return f"Đã gắn hồ sơ {code} ({d.get('procedure_name') or d.get('procedure_code')}) vào số {ticket}."


def done_text(action: str, result: dict, names: dict, args: dict | None = None,
              before: str | None = None) -> str:
    """What the status line says after the centre accepted an action. `args` are
    the request's arguments, `before` the number the counter had before it."""
    args = args or {}
    if action in ("check_in_ticket", "check_in_booking"):
        return check_in_text(result)
    if action in ("attach_dossier", "detach_dossier") and result.get("dossier"):
        return dossier_text(action, result["dossier"])
    t = result.get("ticket") or {}
    label = t.get("ticket", "")
    finished = result.get("finished") or []
    done = [f["ticket"] for f in finished if f.get("state") == "done"]
    absent = [f["ticket"] for f in finished if f.get("state") != "done"]
    ended = (f"Xong số {', '.join(done)}. " if done else "") + \
            (f"Số {', '.join(absent)} vắng mặt. " if absent else "")
    if action in ("next", "call"):
        return ended + (f"Đã gọi số {label}." if t else "Không còn ai chờ.")
    if action == "done":
        return ended.strip() or "Đã xong."
    if action == "no_show":
        return ended.strip() or "Đã ghi vắng mặt."
    if action == "transfer":
        where = names.get(args.get("service"), args.get("service", "lĩnh vực khác"))
        return f"Đã chuyển số {before} sang {where}." if before else f"Đã chuyển sang {where}."
    return {
        "recall": f"Đã gọi lại số {label}.",
        "start": f"Bắt đầu phục vụ số {label}.",
        "pause": "Quầy tạm dừng. Bấm Tiếp tục (F9) để làm việc lại.",
        "resume": "Quầy làm việc tiếp.",
        "close": "Đã đóng quầy.",
        "sign_in": "Đã đăng nhập, quầy mở.",
    }.get(action, "Xong.")


# -- the outbox: an action is never dropped silently -------------------------------------

QUEUED, SENDING, FAILED = "queued", "sending", "failed"
HOLD_S = 120.0       # a queued action goes by itself if the link returns within this
MAX_ATTEMPTS = 3     # sends of one request (same id) before it is shown as failed


def new_request_id(device: str) -> str:
    """Unique, and valid as a protocol request id (1-64 of A-Z a-z 0-9 _ . : -)."""
    return f"{device}-{uuid.uuid4().hex[:16]}"


@dataclass
class Request:
    action: str                 # an Action key (or sign_in)
    args: dict                  # the operation's arguments besides `counter`
    id: str                     # the request id: the same one on every send
    created: float              # when pressed (time.monotonic())
    state: str = QUEUED
    attempts: int = 0
    why: str = ""               # for FAILED: "timeout" or "expired"
    summary: str = ""           # e.g. "Chuyển sang Chứng thực"
    before: str | None = None   # the counter's ticket when pressed (for the status line)

    @property
    def op(self) -> str:
        return action_of(self.action).op

    @property
    def label(self) -> str:
        return self.summary or action_of(self.action).label.rstrip("…")


@dataclass
class Outbox:
    """At most one counter action on its way to the centre.

    Pressed while the link is down, an action is *queued* and goes, with its
    request id, as soon as the link is back (within HOLD_S; after that it waits
    for the officer: send anyway or cancel). A send that gets no answer is sent
    again with the same id (the centre answers a repeated id as before, so it is
    never done twice); after MAX_ATTEMPTS it is shown as failed, with retry and
    cancel. While one action is on its way another is refused, visibly."""
    hold_s: float = HOLD_S
    max_attempts: int = MAX_ATTEMPTS
    current: Request | None = field(default=None)

    def add(self, req: Request, link_ok: bool) -> str:
        """'send' (send it now), 'queued' (wait for the link) or 'refused' (another is pending)."""
        if self.current is not None:
            return "refused"
        self.current = req
        if link_ok:
            return self._sending(req)
        req.state = QUEUED
        return "queued"

    def _sending(self, req: Request) -> str:
        req.state = SENDING
        req.attempts += 1
        return "send"

    def link_up(self, now: float) -> Request | None:
        """The link is usable again: the queued request to send now, if any."""
        req = self.current
        if req is None or req.state != QUEUED:
            return None
        if now - req.created > self.hold_s:
            req.state, req.why = FAILED, "expired"
            return None
        self._sending(req)
        return req

    def tick(self, now: float) -> bool:
        """A queued request held too long waits for the officer. True if that changed."""
        req = self.current
        if req is not None and req.state == QUEUED and now - req.created > self.hold_s:
            req.state, req.why = FAILED, "expired"
            return True
        return False

    def answered(self, request_id: str) -> Request | None:
        """The centre answered (yes or no): the request is done with."""
        req = self.current
        if req is not None and req.id == request_id:
            self.current = None
            return req
        return None

    def lost(self, request_id: str, link_ok: bool) -> str:
        """No answer in time: 'send' again now, 'queued' until the link is back, or 'failed'."""
        req = self.current
        if req is None or req.id != request_id:
            return "ignored"
        if not link_ok:
            req.state = QUEUED
            return "queued"
        if req.attempts < self.max_attempts:
            return self._sending(req)
        req.state, req.why = FAILED, "timeout"
        return "failed"

    def retry(self, link_ok: bool) -> Request | None:
        """The officer asks to try a failed request again (same id): the request to send now."""
        req = self.current
        if req is None or req.state != FAILED:
            return None
        req.why = ""
        req.attempts = 0
        if not link_ok:
            req.state = QUEUED
            return None
        self._sending(req)
        return req

    def cancel(self) -> Request | None:
        """The officer gives up a queued or failed request (not one on its way)."""
        req = self.current
        if req is None or req.state == SENDING:
            return None
        self.current = None
        return req


def outbox_text(req: Request | None) -> str:
    if req is None:
        return ""
    if req.state == SENDING:
        return f"Đang gửi «{req.label}»…" + (f" (lần {req.attempts})" if req.attempts > 1 else "")
    if req.state == QUEUED:
        return f"Mất kết nối: «{req.label}» chưa gửi, sẽ tự gửi khi có kết nối lại."
    if req.why == "expired":
        return (f"«{req.label}» chưa gửi được vì mất kết nối quá {HOLD_S / 60:.0f} phút. "
                "Bấm Gửi lại nếu vẫn cần, hoặc Huỷ.")
    return (f"Hệ thống không trả lời «{req.label}». Bấm Gửi lại (không bị làm hai lần) "
            "hoặc Huỷ rồi kiểm tra trạng thái quầy.")


def connection_text(broker_connected: bool, centre_online: bool | None) -> str:
    """The banner: empty when the centre can be reached."""
    if not broker_connected:
        return "Mất kết nối với hệ thống. Đang kết nối lại…"
    if not centre_online:
        return "Hệ thống trung tâm không hoạt động. Thao tác sẽ được giữ lại và gửi sau."
    return ""

"""What the kiosk shows and decides, without Kivy: the texts of a ticket's place
in the queue, of the link banner, of refusals and of printing; what a scanned
code is; the waiting figures per service; when an idle kiosk goes home.

Messages are the Vietnamese msgids (marked with N_ for the catalogue) and are
translated where they are shown, with i18n.tr and the citizen's language.
Nothing here talks to MQTT, the printer or the screen.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from motcua import protocol, web_tokens

from . import i18n
from .i18n import N_

# -- the link to the centre ----------------------------------------------------------------


def link_text(broker_connected: bool, centre_online: bool | None) -> str:
    """The banner's message: the broker is unreachable, the centre is away, or ""."""
    if not broker_connected:
        return N_("Mất kết nối với hệ thống. Vui lòng chờ hoặc hỏi cán bộ hướng dẫn.")
    if not centre_online:
        return N_("Hệ thống lấy số đang tạm dừng. Vui lòng hỏi cán bộ hướng dẫn.")
    return ""


# -- answers the centre did not give ---------------------------------------------------------

ISSUE_UNAVAILABLE = N_("Không lấy được số: hệ thống không trả lời. "
                       "Vui lòng thử lại hoặc hỏi cán bộ hướng dẫn.")
ISSUE_REFUSED = N_("Không lấy được số cho lĩnh vực này. "
                   "Vui lòng hỏi cán bộ hướng dẫn.")
LOOKUP_UNAVAILABLE = N_("Hệ thống đang không trả lời. Vui lòng thử lại sau ít phút hoặc hỏi cán bộ hướng dẫn.")
LOOKUP_REFUSED = N_("Không tra cứu được. Vui lòng hỏi cán bộ tại quầy.")
LOOKUP_ERRORS = {
    "unverified": N_("Mã hồ sơ và mã tra cứu không khớp. Vui lòng kiểm tra lại trên giấy hẹn."),
    "malformed_code": N_("Mã hồ sơ không đúng dạng. Ví dụ: 000.00.31.H12-261123-0001"),
    "malformed_qr": N_("Không đọc được mã này. Vui lòng quét mã QR trên giấy hẹn trả kết quả hoặc phiếu số thứ tự."),
    "unknown_dossier": N_("Chưa có thông tin về hồ sơ này. Vui lòng hỏi cán bộ tại quầy."),
    "unknown_ticket": N_("Không tìm thấy số thứ tự này."),
}


def lookup_error(refused_code: str | None) -> str:
    """A look-up (dossier, ticket) that failed: refused with a code, or None when the
    centre did not answer."""
    if refused_code is None:
        return LOOKUP_UNAVAILABLE
    return LOOKUP_ERRORS.get(refused_code, LOOKUP_REFUSED)


# A check-in refused: the message shown on the ticket's screen (issue 14).
CHECK_IN_ERRORS = {
    "ticket_lapsed": N_("Số lấy từ xa này đã quá thời gian xác nhận nên đã hết hiệu lực. Vui lòng lấy số mới."),
    "booking_lapsed": N_("Lịch hẹn này đã quá giờ nên đã hết hiệu lực. Vui lòng lấy số mới."),
    "booking_closed": N_("Lịch hẹn này đã được huỷ hoặc đã được xác nhận trước đó. "
                         "Vui lòng hỏi cán bộ hướng dẫn."),
    "wrong_day": N_("Lịch hẹn này không phải của hôm nay. Vui lòng xem lại ngày hẹn trên điện thoại."),
    "too_early": N_("Chưa đến giờ hẹn. Mời quý khách quay lại xác nhận từ %s."),
    "bad_token": N_("Không đọc được mã này. Vui lòng mở lại đường dẫn trên điện thoại hoặc hỏi cán bộ hướng dẫn."),
    "not_ours": N_("Phiếu này không phải của Trung tâm này."),
    "unknown_ticket": N_("Không tìm thấy số thứ tự này."),
    "unknown_booking": N_("Không tìm thấy lịch hẹn này. Vui lòng hỏi cán bộ hướng dẫn."),
}
CHECK_IN_REFUSED = N_("Không xác nhận được. Vui lòng hỏi cán bộ hướng dẫn.")


def check_in_error(refused_code: str | None, details: dict | None, lang: str, tz) -> str:
    """What the citizen reads when a check-in failed (translated): refused with a
    code, or None when the centre did not answer."""
    if refused_code is None:
        return i18n.tr(LOOKUP_UNAVAILABLE, lang)
    text = i18n.tr(CHECK_IN_ERRORS.get(refused_code, CHECK_IN_REFUSED), lang)
    if refused_code == "too_early":
        opens = (details or {}).get("opens")
        local = protocol_time(opens, tz) if opens else "—"
        text = text % local
    return text


def protocol_time(stored: str, tz) -> str:
    """A protocol time (UTC ISO) as the local HH:MM."""
    return datetime.fromisoformat(stored).astimezone(tz).strftime("%H:%M")


def issue_error(refused_code: str | None) -> str:
    """No ticket: refused (whatever the code), or None when the centre did not answer."""
    return ISSUE_UNAVAILABLE if refused_code is None else ISSUE_REFUSED


# -- scanning ------------------------------------------------------------------------------------

NOT_OURS = N_("Phiếu này không phải của Trung tâm này.")
UNREADABLE = N_("Không đọc được mã này. Vui lòng quét mã QR trên giấy hẹn trả kết quả hoặc phiếu số thứ tự.")


@dataclass(frozen=True)
class Scan:
    kind: str               # "ticket", "dossier", "check_in_ticket", "check_in_booking" or "error"
    day: str = ""           # a ticket's day and label
    label: str = ""
    qr: str = ""            # a dossier's QR text
    error: str = ""         # the message, when kind is "error"
    token: str = ""         # a link's signed token (motcua.web_tokens), for a check-in


def read_scan(text: str, site_id: str) -> Scan:
    """What a scanned code (either scanner, any screen) asks for. A link of the
    citizen's phone (…/t/<token>: a number, …/b/<token>: a booking) checks it in
    (a printed ticket's link too: the centre then answers with its place)."""
    text = text.strip()
    link = web_tokens.token_of_link(text)
    if link is not None:
        kind, token = link
        if web_tokens.read_token(token).site != site_id:
            return Scan("error", error=NOT_OURS)
        return Scan("check_in_ticket" if kind == "t" else "check_in_booking", token=token)
    qr_ticket = protocol.parse_ticket_qr(text)
    if qr_ticket is not None:
        ticket_site, day, label = qr_ticket
        if ticket_site != site_id:
            return Scan("error", error=NOT_OURS)
        return Scan("ticket", day=day, label=label)
    if text.upper().startswith("MOTCUA-D:"):
        return Scan("dossier", qr=text)
    return Scan("error", error=UNREADABLE)


# -- a ticket and its place in the queue --------------------------------------------------------


def ticket_state_text(t: dict, lang: str) -> str:
    if not t:
        return ""
    if t.get("message"):  # a check-in refused: its message, already translated
        return t["message"]
    state = t.get("state")
    if state == "waiting":
        ahead = t.get("people_ahead", 0)
        text = (i18n.tr(N_("Đang chờ: còn %d người trước quý khách"), lang) % ahead if ahead
                else i18n.tr(N_("Quý khách là người tiếp theo. Vui lòng chú ý màn hình."), lang))
        if t.get("estimated_wait_s"):
            text += "\n" + i18n.tr(N_("Thời gian chờ dự kiến: khoảng %d phút"), lang) % max(1, round(t["estimated_wait_s"] / 60))
        return text
    if state == "called":
        return i18n.tr(N_("Đã được gọi: mời quý khách đến quầy số %s"), lang) % t.get("counter")
    if state == "serving":
        return i18n.tr(N_("Đang được phục vụ tại quầy số %s"), lang) % t.get("counter")
    if state == "done":
        return i18n.tr(N_("Đã phục vụ xong"), lang)
    if state == "no_show":
        return i18n.tr(N_("Số đã được gọi nhưng quý khách vắng mặt. Vui lòng hỏi cán bộ hướng dẫn."), lang)
    if state == "reserved":  # a number taken from afar, not checked in (the kiosk checks it in)
        return i18n.tr(N_("Số lấy từ xa, chưa xác nhận tại Trung tâm."), lang)
    if state == "lapsed":
        return i18n.tr(CHECK_IN_ERRORS["ticket_lapsed"], lang)
    return i18n.tr(N_("Số này đã hết hiệu lực. Vui lòng lấy số mới."), lang)


def vn_date(iso_day) -> str:
    """2026-11-23 -> 23/11/2026, as dates are written in Vietnam."""
    if not iso_day:
        return "—"
    y, m, d = str(iso_day)[:10].split("-")
    return f"{d}/{m}/{y}"


def service_rows(site_services, live) -> list[dict]:
    """The services of the site file in its order, with the live waiting figures
    (`live(code)`: the service's retained state, or None before it came)."""
    out = []
    for s in site_services:
        state = live(s.code) or {}
        out.append({"code": s.code, "name_vi": s.name_vi, "name_en": s.name_en,
                    "waiting": state.get("waiting"), "wait_s": state.get("estimated_wait_s")})
    return out


def priority_label(site_priorities, ticket: dict) -> str | None:
    """The priority category's Vietnamese name, printed on the ticket."""
    for p in site_priorities:
        if p.code == ticket.get("priority"):
            return p.name_vi
    return None


ONLINE_LEVELS = {"toan_trinh": N_("Dịch vụ công trực tuyến toàn trình"),
                 "mot_phan": N_("Dịch vụ công trực tuyến một phần")}


def online_level_text(procedure: dict | None) -> str:
    return ONLINE_LEVELS.get((procedure or {}).get("online_level", ""), "")


# -- idle -------------------------------------------------------------------------------------------


def goes_home(current: str, idle_s: float, idle_seconds: float) -> bool:
    """Back to the start when nobody touched the kiosk for idle_seconds."""
    return current != "home" and idle_s >= idle_seconds


# -- printing ---------------------------------------------------------------------------------------

NO_PRINTER = N_("Kiosk này không có máy in. Vui lòng ghi nhớ số của quý khách.")
NO_PRINTER_CHECKLIST = N_("Kiosk này không có máy in.")
CHECKLIST_FAILED = N_("Không in được: máy in hết giấy hoặc đang gặp sự cố. Cán bộ đã được báo.")


@dataclass(frozen=True)
class PrintJob:
    """One thing to print, and what the citizen is told as it goes."""
    what: str                   # "ticket" or "checklist"
    about: dict = field(default_factory=dict)  # named in the staff's alert: ticket=… / procedure=…
    printing: str = ""          # while it prints
    printed: str = ""           # printed: where to take it
    refused: str | None = None  # the printer said why (out of paper, …); None: in its own words
    broken: str = ""            # any other failure
    warns_paper_low: bool = False  # printed, but the paper is nearly out: tell the staff

    @property
    def key(self) -> str:
        return next(iter(self.about.values()), "")


def ticket_job(ticket: dict) -> PrintJob:
    return PrintJob("ticket", {"ticket": ticket["ticket"]},
                    printing=N_("Đang in phiếu…"),
                    printed=N_("Mời nhận phiếu số thứ tự ở khe bên dưới."),
                    refused=None,
                    broken=N_("Máy in đang gặp sự cố. Vui lòng ghi nhớ số của quý khách."),
                    warns_paper_low=True)


def checklist_job(procedure: dict) -> PrintJob:
    return PrintJob("checklist", {"procedure": procedure.get("code")},
                    printing=N_("Đang in…"),
                    printed=N_("Mời nhận danh sách giấy tờ ở khe bên dưới."),
                    refused=CHECKLIST_FAILED,
                    broken=CHECKLIST_FAILED)

"""What the kiosk may show of a dossier: the public view, and the apology as
the kiosk words it (the letter itself is form 04: motcua.apology_letter; the
receipt: motcua.receipt). Part of the core: no I/O.

public_view JSON (sent to the kiosk over MQTT)
----------------------------------------------
    {
      "code": "000.00.31.H12-261116-0004",
      "applicant": "Trần T** H**",              # masked, never the full name or an ID
      "procedure": {"code": "1.001193", "name": "Đăng ký khai sinh", "field": "Hộ tịch"},
      "received_at": "2026-11-16T08:40:00+07:00",   # local time
      "received_on": "2026-11-16",
      "due_on": "2026-11-20",                   # the date on the receipt
      "effective_due_on": "2026-11-27",         # after an apology; else = due_on
      "status": {"code": "processing", "vi": "Đang giải quyết", "en": "Being processed"},
      "steps_done": [
        {"step": "received", "vi": "Đã tiếp nhận", "en": "Received",
         "at": "2026-11-16T08:40:00+07:00", "on": "2026-11-16", "note": ""}, ...],
      "steps_to_come": [{"step": "approved", "vi": "Đã phê duyệt", "en": "Approved"}, ...],
      "timeliness": {"code": "in_time", "vi": "Còn hạn", "en": "Within the time limit"},
      "late": false,
      "days_late": 0,                           # calendar days past the due date
      "apology": null | {"reason": "...", "new_due_on": "2026-11-27",
                         "issued_on": "2026-11-19", "text_vi": "...", "text_en": "..."},
      "as_of": "2026-11-23"
    }
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ..timefmt import vn_date
from .masking import mask_name, scrub
from .model import DEFAULT_TIMEZONE, STATUSES, TIMELINESS, Dossier
from .rules import local, steps_to_come, timeliness


def apology_texts(dossier: Dossier) -> tuple[str, str]:
    """The apology as the kiosk words it (the letter itself is form 04)."""
    a = dossier.apology
    if a is None:
        return "", ""
    reason = a.reason.rstrip(" .")
    vi = (f"Cơ quan giải quyết xin lỗi Ông/Bà vì hồ sơ {dossier.code} không giải quyết được "
          f"đúng hẹn ngày {vn_date(dossier.due_at)}. Lý do: {reason}. "
          f"Ngày hẹn trả kết quả mới: {vn_date(a.new_due_at)}.")
    en = (f"The handling agency apologises that dossier {dossier.code} could not be settled by "
          f"{vn_date(dossier.due_at)} as promised. Reason (in Vietnamese): {reason}. "
          f"New date for the result: {vn_date(a.new_due_at)}.")
    return vi, en


def public_view(dossier: Dossier, now: datetime, tz: ZoneInfo | str = DEFAULT_TIMEZONE) -> dict:
    """What the kiosk may show (shape in the module docstring): the masked name,
    never the full name or an ID number."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    t = timeliness(dossier, now, tz)
    vi, en = STATUSES[dossier.status]
    received = local(dossier.received_at, tz)
    apology = None
    if dossier.apology is not None:
        text_vi, text_en = apology_texts(dossier)
        apology = {"reason": scrub(dossier.apology.reason, dossier.applicant_name),
                   "new_due_on": dossier.apology.new_due_at.isoformat(),
                   "issued_on": local(dossier.apology.issued_at, tz).date().isoformat(),
                   "text_vi": scrub(text_vi, dossier.applicant_name),
                   "text_en": scrub(text_en, dossier.applicant_name)}
    return {
        "code": dossier.code,
        "applicant": mask_name(dossier.applicant_name),
        "procedure": {"code": dossier.procedure_code, "name": dossier.procedure_name,
                      "field": dossier.field},
        "received_at": received.isoformat(),
        "received_on": received.date().isoformat(),
        "due_on": dossier.due_at.isoformat(),
        "effective_due_on": dossier.effective_due.isoformat(),
        "status": {"code": dossier.status, "vi": vi, "en": en},
        "steps_done": [
            {"step": s.step, "vi": STATUSES[s.step][0], "en": STATUSES[s.step][1],
             "at": local(s.at, tz).isoformat(), "on": local(s.at, tz).date().isoformat(),
             "note": scrub(s.note, dossier.applicant_name)}
            for s in dossier.steps],
        "steps_to_come": [{"step": s, "vi": STATUSES[s][0], "en": STATUSES[s][1]}
                          for s in steps_to_come(dossier)],
        "timeliness": {"code": t.code, "vi": TIMELINESS[t.code][0], "en": TIMELINESS[t.code][1]},
        "late": t.late,
        "days_late": t.days_late,
        "apology": apology,
        "as_of": local(now, tz).date().isoformat(),
    }


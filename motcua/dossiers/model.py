"""The dossier as the centre mirrors it: statuses, steps, the apology, and the
one error every dossier operation raises. Part of the core: no I/O.

Error codes (DossierError.code)
-------------------------------
malformed_code, malformed_qr, unverified, no_secret, unknown_dossier,
unknown_status, invalid_field, invalid_payload, date_backwards, dossier_closed,
apology_already_issued, due_date_already_reset, duplicate_row, invalid_file,
dossier_changed (apologise: the dossier changed after the letter was rendered).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

# code -> (Vietnamese, English)
STATUSES: dict[str, tuple[str, str]] = {
    "received": ("Đã tiếp nhận", "Received"),
    "processing": ("Đang giải quyết", "Being processed"),
    "approved": ("Đã phê duyệt", "Approved"),
    "result_ready": ("Có kết quả, chờ trả", "Result ready for collection"),
    "returned": ("Đã trả kết quả", "Result returned"),
    "supplement_requested": ("Yêu cầu bổ sung hồ sơ", "More documents needed"),
    "refused": ("Từ chối giải quyết", "Refused"),
    "stopped": ("Dừng giải quyết", "Processing stopped"),
    "withdrawn": ("Công dân rút hồ sơ", "Withdrawn by the applicant"),
}
NORMAL_PATH = ("received", "processing", "approved", "result_ready", "returned")
# No further update once here: the one-stop software closed the dossier.
CLOSED = frozenset({"returned", "refused", "stopped", "withdrawn"})
# The time limit no longer runs: an outcome is reached, or the citizen must act.
CLOCK_STOPPED = frozenset({"result_ready", "returned", "refused", "stopped", "withdrawn",
                           "supplement_requested"})

TIMELINESS: dict[str, tuple[str, str]] = {
    # still running
    "in_time": ("Còn hạn", "Within the time limit"),
    "due_today": ("Đến hạn hôm nay", "Due today"),
    # clock stopped (the tags of the Phiếu kiểm soát)
    "early": ("Trước hạn", "Ahead of time"),
    "on_time": ("Đúng hạn", "On time"),
    # either
    "late": ("Quá hạn", "Late"),
}



class DossierError(ValueError):
    """A refused code, proof, record or update. `code` is stable (screens and
    the one-stop software translate it); the message says what to do."""

    def __init__(self, code: str, message: str, *, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_dict(self) -> dict:
        return {"code": self.code, "field": self.field, "message": self.message}



@dataclass(frozen=True)
class Step:
    step: str          # a status code
    at: datetime       # aware
    note: str = ""


@dataclass(frozen=True)
class Apology:
    """Văn bản xin lỗi và đề nghị gia hạn (mẫu 04): the due date may be reset once."""
    reason: str
    new_due_at: date
    issued_at: datetime


@dataclass(frozen=True)
class Dossier:
    code: str
    procedure_code: str
    procedure_name: str
    field: str                       # lĩnh vực
    applicant_name: str              # full name: for the receipt and officers, never the kiosk
    received_at: datetime            # aware
    due_at: date                     # as the one-stop software set it (working days are its job)
    status: str
    steps: tuple[Step, ...]
    apology: Apology | None = None
    documents: tuple[str, ...] = ()  # thành phần hồ sơ, for the receipt

    @property
    def effective_due(self) -> date:
        return self.apology.new_due_at if self.apology else self.due_at

    def as_dict(self, tz: ZoneInfo | None = None) -> dict:
        """Full record (officers' tools, re-export); includes the full name."""
        tz = tz or ZoneInfo(DEFAULT_TIMEZONE)
        return {
            "code": self.code, "procedure_code": self.procedure_code,
            "procedure_name": self.procedure_name, "field": self.field,
            "applicant_name": self.applicant_name,
            "received_at": self.received_at.astimezone(tz).isoformat(),
            "due_at": self.due_at.isoformat(), "status": self.status,
            "steps": [{"step": s.step, "at": s.at.astimezone(tz).isoformat(), "note": s.note}
                      for s in self.steps],
            "apology": None if self.apology is None else {
                "reason": self.apology.reason, "new_due_at": self.apology.new_due_at.isoformat(),
                "issued_at": self.apology.issued_at.astimezone(tz).isoformat()},
            "documents": list(self.documents),
        }


"""Dossiers (hồ sơ): a mirror of the one-stop software, for citizens at the kiosk.

The officers' one-stop software stays the record; the centre keeps a copy of
what a citizen may see: where their dossier is, whether it is late, and any
apology with its new date. It is filled by `DossierStore.import_file` (a JSON
or CSV export) and kept current by `DossierStore.apply_update` (one status
update, as the one-stop software sends it over MQTT).

Dossier codes
-------------
The national format `<unit code>-<YYMMDD received>-<4-digit daily sequence>`,
e.g. `000.00.31.H12-261123-0001`, matched by DossierSettings.code_pattern
(named groups agency, date, seq). Codes are case-insensitive and kept
upper-case, so scanners that lower-case text do no harm.

Verification
------------
A code is guessable (agency, date, a small sequence), so a code alone shows
nothing. The receipt carries two proofs, both HMAC-SHA256 with
DossierSettings.secret, so neither needs storage:

* the QR text `MOTCUA-D:<code>:<sig>`, sig = the first 10 base32 characters
  (50 bits) of HMAC(secret, "motcua-dossier-qr\\n" + code). Every character is
  in QR's alphanumeric set, so the code stays small and robust. Surrounding
  whitespace (CR/LF from scanners) and lower case are tolerated; anything else
  inside is refused.
* the lookup code (mã tra cứu), DossierSettings.lookup_code_length characters
  from LOOKUP_ALPHABET (no 0/O/1/I), from HMAC(secret, "motcua-dossier-lookup\\n"
  + code): asked for when a citizen types the code by hand.

Verify first (`verified_code`), then look the dossier up: a wrong proof and an
unknown dossier must not be told apart by someone guessing codes.

Privacy
-------
The applicant's ID number (CCCD) is accepted on import, because exports carry
it, and discarded at once: it is never stored. The kiosk gets the masked name
only (`mask_name`), and step notes shown to it are scrubbed of the full name and
of long digit runs (ID and phone numbers).

Lateness
--------
`timeliness(dossier, now)` is a pure function. The due date is the apology's
new date if there is one, else due_at. The clock stops when the dossier reaches
an outcome (result_ready, returned, refused, stopped, withdrawn) or waits for
the citizen (supplement_requested): a result ready on time is on time even if
the citizen collects it later. A dossier is late if its clock stopped after the
due date, or is still running and today (local date) is past the due date.

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

Status update payload (apply_update; from the one-stop software over MQTT)
--------------------------------------------------------------------------
    {
      "code": "000.00.31.H12-261116-0004",      # required, a known dossier
      "status": "processing",                   # required, one of STATUSES except received
      "at": "2026-11-17T10:00:00+07:00",         # required; ISO 8601 (no offset = local) or dd/mm/yyyy HH:MM
      "note": "Chuyển phòng Tư pháp thẩm định",  # optional
      "due_at": "2026-11-27",                    # optional: the one-stop software recomputed the due date
      "apology": {"reason": "...", "new_due_at": "2026-11-27",
                  "issued_at": "2026-11-19T15:00:00+07:00"}   # optional; issued_at defaults to at
    }
A redelivered update (same status, at and note as the last step) changes nothing.

Apologies (Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết, mẫu 04)
--------------------------------------------------------------------------
`overdue(dossiers, now)` (and DossierStore.overdue) lists the dossiers that need
one: clock still running, no apology yet, late or due within
OVERDUE_WITHIN_DAYS (1: today or tomorrow; the agency tells the citizen at least
a day before the deadline). `DossierStore.apologise(code, reason, new_due, now)`
records one, officer-side (`motcua dossiers apologise`); `apply_update` takes one
from the one-stop software. Either way the due date moves once: the apology's
new date becomes `effective_due`, `due_at` stays the date on the receipt, and a
second apology (apology_already_issued) or due-date change
(due_date_already_reset) is refused. The letter itself: motcua.apology_letter.

Error codes (DossierError.code)
-------------------------------
malformed_code, malformed_qr, unverified, no_secret, unknown_dossier,
unknown_status, invalid_field, invalid_payload, date_backwards, dossier_closed,
apology_already_issued, due_date_already_reset, duplicate_row, invalid_file,
dossier_changed (apologise: the dossier changed after the letter was rendered).
"""
from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import re
import sqlite3
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

import sqlite_utils

from .config import DossierSettings

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
QR_PREFIX = "MOTCUA-D:"
SIG_LENGTH = 10
# 32 symbols, so each is exactly 5 bits of the HMAC; 0/O and 1/I are left out
# because citizens copy the code from paper.
LOOKUP_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
MAX_NOTE = 1000
MAX_NAME = 200

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

# Exports carry the applicant's ID number under one of these names: accepted, never stored.
ID_FIELDS = frozenset({"applicant_id", "applicant_id_number", "id_number", "cccd", "cmnd",
                       "so_cccd", "so_giay_to"})
RECORD_FIELDS = ("code", "procedure_code", "procedure_name", "field", "applicant_name",
                 "received_at", "due_at", "status", "status_at", "note", "steps", "apology",
                 "documents", "apology_reason", "apology_new_due_at", "apology_issued_at")
UPDATE_FIELDS = frozenset({"code", "status", "at", "note", "due_at", "apology"})
APOLOGY_FIELDS = frozenset({"reason", "new_due_at", "issued_at"})


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


# -- codes and proofs ---------------------------------------------------------------


@dataclass(frozen=True)
class DossierCode:
    code: str          # canonical, upper-case
    agency: str
    received_on: date
    seq: int


def parse_code(text: str, settings: DossierSettings) -> DossierCode:
    """Validate a dossier code against settings.code_pattern; return its parts."""
    if not isinstance(text, str):
        raise DossierError("malformed_code", "the dossier code must be text", field="code")
    code = text.strip().upper()
    m = re.fullmatch(settings.code_pattern, code)
    if m is None:
        raise DossierError("malformed_code",
                           f"{text.strip()!r} is not a dossier code; it looks like "
                           "000.00.31.H12-261123-0001 (unit code, date received YYMMDD, "
                           "4-digit number): copy it from the receipt", field="code")
    raw = m.group("date")
    try:
        if len(raw) == 6:
            received = datetime.strptime(raw, "%y%m%d").date()
        elif len(raw) == 8:
            received = datetime.strptime(raw, "%Y%m%d").date()
        else:
            raise ValueError(raw)
    except ValueError:
        raise DossierError("malformed_code", f"{code!r}: {raw!r} is not a date (YYMMDD); "
                           "check the code on the receipt", field="code") from None
    return DossierCode(code=code, agency=m.group("agency"), received_on=received,
                       seq=int(m.group("seq")))


def _key(settings: DossierSettings) -> bytes:
    if not settings.secret:
        raise DossierError("no_secret", "no dossier secret is set: set [dossiers] secret in the "
                           "site file (at least 16 characters) before printing receipts")
    return settings.secret.encode("utf-8")


def _mac(settings: DossierSettings, purpose: str, code: str) -> bytes:
    # A different message per purpose: the QR signature and the lookup code
    # reveal nothing about each other.
    msg = f"motcua-dossier-{purpose}\n{code}".encode("utf-8")
    return hmac.new(_key(settings), msg, hashlib.sha256).digest()


def _signature(code: str, settings: DossierSettings) -> str:
    return base64.b32encode(_mac(settings, "qr", code)).decode("ascii")[:SIG_LENGTH]


def qr_text(code: str, settings: DossierSettings) -> str:
    """The text of the receipt's QR code: MOTCUA-D:<code>:<sig>."""
    code = parse_code(code, settings).code
    return f"{QR_PREFIX}{code}:{_signature(code, settings)}"


def verify_qr(text: str, settings: DossierSettings) -> str:
    """The dossier code from a scanned QR text, or DossierError (malformed_qr,
    malformed_code, unverified)."""
    if not isinstance(text, str):
        raise DossierError("malformed_qr", "the scanned code is not text")
    body = text.strip().upper()
    if not body.startswith(QR_PREFIX):
        raise DossierError("malformed_qr", "this QR code is not from a dossier receipt; scan the "
                           "QR code on the Giấy tiếp nhận hồ sơ và hẹn trả kết quả")
    code, sep, sig = body[len(QR_PREFIX):].rpartition(":")
    if not sep:
        raise DossierError("malformed_qr", "the QR code is incomplete; scan it again")
    # parse_code strips spaces: inside the QR text they are not allowed.
    if code != code.strip():
        raise DossierError("malformed_qr", "the QR code is damaged; scan it again")
    code = parse_code(code, settings).code
    if not hmac.compare_digest(sig.encode("ascii", "replace"),
                               _signature(code, settings).encode("ascii")):
        raise DossierError("unverified", "this receipt's QR code could not be verified; type the "
                           "dossier code and the lookup code (mã tra cứu) printed on the receipt, "
                           "or ask at the reception desk")
    return code


def lookup_code(code: str, settings: DossierSettings) -> str:
    """The mã tra cứu printed on the receipt, derived from the code (no storage)."""
    code = parse_code(code, settings).code
    bits = int.from_bytes(_mac(settings, "lookup", code), "big")
    n = settings.lookup_code_length
    # The top 5*n bits of the 256-bit HMAC, 5 bits a symbol.
    bits >>= 256 - 5 * n
    return "".join(LOOKUP_ALPHABET[(bits >> (5 * (n - 1 - i))) & 31] for i in range(n))


def verify_lookup(code: str, lookup: str, settings: DossierSettings) -> bool:
    """Whether a hand-typed lookup code matches the dossier code. Case, spaces and
    hyphens in what was typed do not matter. Raises only for a malformed code."""
    expected = lookup_code(code, settings)
    typed = re.sub(r"[\s-]", "", lookup or "").upper() if isinstance(lookup, str) else ""
    return hmac.compare_digest(typed.encode("utf-8"), expected.encode("ascii"))


def verified_code(settings: DossierSettings, *, scanned: str | None = None,
                  code: str | None = None, lookup: str | None = None) -> str:
    """The code a citizen proved they hold: a scanned QR text, or a typed code
    with its lookup code. Call it before looking anything up."""
    if scanned is not None:
        return verify_qr(scanned, settings)
    if code is None:
        raise DossierError("unverified", "scan the QR code on your receipt, or type the dossier "
                           "code and the lookup code (mã tra cứu)")
    canonical = parse_code(code, settings).code
    if not lookup:
        raise DossierError("unverified", "type the lookup code (mã tra cứu) printed on your "
                           "receipt under the QR code")
    if not verify_lookup(canonical, lookup, settings):
        raise DossierError("unverified", "the lookup code does not match this dossier code; check "
                           "both on your receipt (letters and digits, no O, 0, I or 1)")
    return canonical


# -- names ------------------------------------------------------------------------

# Look-alikes of Đ typed from other keyboards.
_D_LOOKALIKES = str.maketrans({"Ð": "Đ", "Ɖ": "Đ", "ð": "đ", "ɖ": "đ"})


def mask_name(name: str) -> str:
    """'Nguyễn Văn An' -> 'Nguyễn V** A**': the family name, then the initial of
    every other word. A one-word name keeps only its initial (it may well be the
    given name). NFD input and stray spaces are handled."""
    words = unicodedata.normalize("NFC", name or "").translate(_D_LOOKALIKES).split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0][0].upper() + "**"
    family = words[0][0].upper() + words[0][1:].lower()
    return " ".join([family] + [w[0].upper() + "**" for w in words[1:]])


def _scrub(note: str, applicant_name: str) -> str:
    """A note fit for the kiosk: the full name masked, long digit runs (ID and
    phone numbers) hidden. Officers' notes are free text; this is a safety net."""
    text = unicodedata.normalize("NFC", note or "")
    full = " ".join(unicodedata.normalize("NFC", applicant_name or "").split())
    if full:
        pattern = r"\s+".join(re.escape(w) for w in full.split())
        text = re.sub(pattern, mask_name(full), text, flags=re.IGNORECASE)
    return re.sub(r"\d(?:[ .]?\d){8,}", "***", text)


# -- the model ----------------------------------------------------------------------


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


@dataclass(frozen=True)
class Timeliness:
    code: str                  # a key of TIMELINESS
    late: bool
    days_late: int             # calendar days past the due date, 0 if not late
    due: date                  # the effective due date
    clock_stopped_on: date | None


def _local(dt: datetime, tz: ZoneInfo) -> datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=tz)
    return dt.astimezone(tz)


def clock_stopped_at(dossier: Dossier) -> datetime | None:
    """When the time limit stopped running: the start of the last run of steps
    in CLOCK_STOPPED, if the dossier is still in it."""
    stopped = None
    for s in reversed(dossier.steps):
        if s.step not in CLOCK_STOPPED:
            break
        stopped = s.at
    return stopped


def timeliness(dossier: Dossier, now: datetime, tz: ZoneInfo | str = DEFAULT_TIMEZONE) -> Timeliness:
    """On time or late, as a pure function of the dossier and `now` (dates are
    local dates in `tz`)."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    due = dossier.effective_due
    stopped = clock_stopped_at(dossier)
    if stopped is not None:
        end = _local(stopped, tz).date()
        late = end > due
        code = "late" if late else ("on_time" if end == due else "early")
        return Timeliness(code, late, (end - due).days if late else 0, due, end)
    today = _local(now, tz).date()
    late = today > due
    code = "late" if late else ("due_today" if today == due else "in_time")
    return Timeliness(code, late, (today - due).days if late else 0, due, None)


def steps_to_come(dossier: Dossier) -> list[str]:
    """The rest of the normal path after the furthest step reached; nothing once
    the dossier is refused, stopped or withdrawn."""
    if dossier.status in CLOSED:
        return []
    reached = max((NORMAL_PATH.index(s.step) for s in dossier.steps if s.step in NORMAL_PATH),
                  default=0)
    return list(NORMAL_PATH[reached + 1:])


def _vn_date(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def apology_texts(dossier: Dossier) -> tuple[str, str]:
    """The apology as the kiosk words it (the letter itself is form 04)."""
    a = dossier.apology
    if a is None:
        return "", ""
    reason = a.reason.rstrip(" .")
    vi = (f"Cơ quan giải quyết xin lỗi Ông/Bà vì hồ sơ {dossier.code} không giải quyết được "
          f"đúng hẹn ngày {_vn_date(dossier.due_at)}. Lý do: {reason}. "
          f"Ngày hẹn trả kết quả mới: {_vn_date(a.new_due_at)}.")
    en = (f"The handling agency apologises that dossier {dossier.code} could not be settled by "
          f"{_vn_date(dossier.due_at)} as promised. Reason (in Vietnamese): {reason}. "
          f"New date for the result: {_vn_date(a.new_due_at)}.")
    return vi, en


def public_view(dossier: Dossier, now: datetime, tz: ZoneInfo | str = DEFAULT_TIMEZONE) -> dict:
    """What the kiosk may show (shape in the module docstring): the masked name,
    never the full name or an ID number."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    t = timeliness(dossier, now, tz)
    vi, en = STATUSES[dossier.status]
    received = _local(dossier.received_at, tz)
    apology = None
    if dossier.apology is not None:
        text_vi, text_en = apology_texts(dossier)
        apology = {"reason": _scrub(dossier.apology.reason, dossier.applicant_name),
                   "new_due_on": dossier.apology.new_due_at.isoformat(),
                   "issued_on": _local(dossier.apology.issued_at, tz).date().isoformat(),
                   "text_vi": _scrub(text_vi, dossier.applicant_name),
                   "text_en": _scrub(text_en, dossier.applicant_name)}
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
             "at": _local(s.at, tz).isoformat(), "on": _local(s.at, tz).date().isoformat(),
             "note": _scrub(s.note, dossier.applicant_name)}
            for s in dossier.steps],
        "steps_to_come": [{"step": s, "vi": STATUSES[s][0], "en": STATUSES[s][1]}
                          for s in steps_to_come(dossier)],
        "timeliness": {"code": t.code, "vi": TIMELINESS[t.code][0], "en": TIMELINESS[t.code][1]},
        "late": t.late,
        "days_late": t.days_late,
        "apology": apology,
        "as_of": _local(now, tz).date().isoformat(),
    }


# -- late dossiers -------------------------------------------------------------------

# Listed as needing an apology: late, or due within this many days (0 today, 1 tomorrow).
# The agency informs the citizen at least one day before the deadline.
OVERDUE_WITHIN_DAYS = 1


@dataclass(frozen=True)
class OverdueDossier:
    dossier: Dossier
    timeliness: Timeliness
    days_left: int     # from today to the due date: < 0 late, 0 due today, 1 due tomorrow


def overdue(dossiers: Iterable[Dossier], now: datetime, tz: ZoneInfo | str = DEFAULT_TIMEZONE,
            within_days: int = OVERDUE_WITHIN_DAYS) -> list[OverdueDossier]:
    """The dossiers that need an apology now: still running (the clock has not
    stopped: no outcome reached, not waiting for the citizen), no apology yet,
    and late or due within `within_days` days. Most late first, then by code.
    A pure function of the dossiers and `now`."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    today = _local(now, tz).date()
    found = []
    for d in dossiers:
        if d.apology is not None or clock_stopped_at(d) is not None:
            continue
        t = timeliness(d, now, tz)
        left = (t.due - today).days
        if left <= within_days:
            found.append(OverdueDossier(d, t, left))
    found.sort(key=lambda o: (o.days_left, o.dossier.code))
    return found


# -- parsing records ----------------------------------------------------------------

_VN_DATETIME = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y")


def parse_datetime(value: Any, name: str, tz: ZoneInfo) -> datetime:
    """ISO 8601 or dd/mm/yyyy[ HH:MM[:SS]]; without an offset it is local time."""
    if isinstance(value, datetime):
        return _local(value, tz)
    if not isinstance(value, str) or not value.strip():
        raise DossierError("invalid_field", f"{name}: missing; give a date and time such as "
                           "2026-11-23T08:15:00+07:00", field=name)
    text = value.strip()
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _VN_DATETIME:
            try:
                dt = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise DossierError("invalid_field", f"{name}: {text!r} is not a date and time; use "
                               "2026-11-23T08:15:00+07:00 or 23/11/2026 08:15", field=name) from None
    return _local(dt, tz)


def parse_date(value: Any, name: str, tz: ZoneInfo) -> date:
    """A calendar date: YYYY-MM-DD or dd/mm/yyyy; a date and time gives its local date."""
    if isinstance(value, datetime):
        return _local(value, tz).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise DossierError("invalid_field", f"{name}: {value.strip()!r} is not a real date",
                               field=name) from None
    try:
        return parse_datetime(value, name, tz).date()
    except DossierError:
        raise DossierError("invalid_field", f"{name}: {value!r} is not a date; use 2026-11-27 "
                           "or 27/11/2026", field=name) from None


def _text(record: dict, name: str, required: bool = True, limit: int = MAX_NAME) -> str:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise DossierError("invalid_field", f"{name}: missing; this field is required",
                               field=name)
        return ""
    if not isinstance(value, str):
        raise DossierError("invalid_field", f"{name}: must be text, not {type(value).__name__}",
                           field=name)
    value = " ".join(unicodedata.normalize("NFC", value).split())
    if len(value) > limit:
        raise DossierError("invalid_field", f"{name}: longer than {limit} characters", field=name)
    return value


def _status(value: Any, name: str = "status") -> str:
    if not isinstance(value, str) or value.strip() not in STATUSES:
        raise DossierError("unknown_status", f"{name}: {value!r} is not a status; use one of "
                           + ", ".join(STATUSES), field=name)
    return value.strip()


def _apology(raw: Any, tz: ZoneInfo, default_issued: datetime | None, where: str) -> Apology:
    if not isinstance(raw, dict):
        raise DossierError("invalid_field", f"{where}: must be an object with reason, new_due_at "
                           "and issued_at", field=where)
    unknown = set(raw) - APOLOGY_FIELDS
    if unknown:
        raise DossierError("invalid_field", f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                           "allowed: reason, new_due_at, issued_at", field=where)
    reason = _text(raw, "reason", limit=MAX_NOTE)
    new_due = parse_date(raw.get("new_due_at"), f"{where}.new_due_at", tz)
    if raw.get("issued_at") in (None, "") and default_issued is not None:
        issued = default_issued
    else:
        issued = parse_datetime(raw.get("issued_at"), f"{where}.issued_at", tz)
    return Apology(reason=reason, new_due_at=new_due, issued_at=issued)


def dossier_from_record(record: dict, settings: DossierSettings,
                        tz: ZoneInfo | str = DEFAULT_TIMEZONE) -> tuple[Dossier, list[str]]:
    """A Dossier from one imported record (a JSON object or a CSV row), and the
    names of the fields it ignored. ID-number fields are dropped here.
    Raises DossierError naming the field."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    if not isinstance(record, dict):
        raise DossierError("invalid_field", "each dossier must be an object with named fields")
    ignored = sorted(k for k in record
                     if k not in RECORD_FIELDS and str(k).strip().lower() not in ID_FIELDS)
    code = parse_code(record.get("code") or "", settings)
    received = parse_datetime(record.get("received_at"), "received_at", tz)
    if received.date() != code.received_on:
        raise DossierError("invalid_field", f"received_at: {received.date().isoformat()} is not the "
                           f"date in the code ({code.received_on.isoformat()}); check both",
                           field="received_at")
    due = parse_date(record.get("due_at"), "due_at", tz)
    if due < received.date():
        raise DossierError("invalid_field", "due_at: before the date received", field="due_at")

    raw_steps = record.get("steps")
    steps: list[Step] = []
    if raw_steps not in (None, ""):
        if not isinstance(raw_steps, list):
            raise DossierError("invalid_field", "steps: must be a list of {step, at, note}",
                               field="steps")
        for i, s in enumerate(raw_steps, 1):
            where = f"steps[{i}]"
            if not isinstance(s, dict):
                raise DossierError("invalid_field", f"{where}: must be an object {{step, at, note}}",
                                   field=where)
            steps.append(Step(_status(s.get("step"), f"{where}.step"),
                              parse_datetime(s.get("at"), f"{where}.at", tz),
                              _text(s, "note", required=False, limit=MAX_NOTE)))
        status = _status(record["status"]) if record.get("status") else (
            steps[-1].step if steps else "received")
    else:
        status = _status(record.get("status") or "received")
        if status != "received":
            at = parse_datetime(record.get("status_at"), "status_at", tz)
            steps.append(Step(status, at, _text(record, "note", required=False, limit=MAX_NOTE)))
    # Every dossier starts at reception; derive that step when the export leaves it out.
    if not steps or steps[0].step != "received":
        steps.insert(0, Step("received", received))
    if steps[-1].step != status:
        raise DossierError("invalid_field", f"status: {status!r} but the last step is "
                           f"{steps[-1].step!r}; they must agree", field="status")
    previous = received
    for i, s in enumerate(steps):
        if s.at < previous:
            raise DossierError("date_backwards", f"steps: {s.step!r} at {s.at.isoformat()} is "
                               "before the step or reception before it; steps go in time order",
                               field="steps")
        if s.step == "received" and i > 0:
            raise DossierError("invalid_field", "steps: 'received' may only be the first step",
                               field="steps")
        previous = s.at

    apology = None
    if record.get("apology") not in (None, ""):
        apology = _apology(record["apology"], tz, None, "apology")
    elif record.get("apology_reason") or record.get("apology_new_due_at"):
        apology = _apology({"reason": record.get("apology_reason"),
                            "new_due_at": record.get("apology_new_due_at"),
                            "issued_at": record.get("apology_issued_at")}, tz, None, "apology")
    if apology is not None and apology.new_due_at <= due:
        raise DossierError("invalid_field", "apology.new_due_at: must be after due_at",
                           field="apology.new_due_at")

    docs = record.get("documents")
    if docs in (None, ""):
        documents: tuple[str, ...] = ()
    elif isinstance(docs, str):   # CSV: one cell, documents separated by |
        documents = tuple(" ".join(unicodedata.normalize("NFC", d).split())
                          for d in docs.split("|") if d.strip())
    elif isinstance(docs, list) and all(isinstance(d, str) for d in docs):
        documents = tuple(" ".join(unicodedata.normalize("NFC", d).split()) for d in docs if d.strip())
    else:
        raise DossierError("invalid_field", "documents: must be a list of text", field="documents")

    return Dossier(
        code=code.code,
        procedure_code=_text(record, "procedure_code", limit=60),
        procedure_name=_text(record, "procedure_name", limit=MAX_NOTE),
        field=_text(record, "field", required=False),
        applicant_name=_text(record, "applicant_name"),
        received_at=received, due_at=due, status=status, steps=tuple(steps),
        apology=apology, documents=documents), ignored


# -- the store --------------------------------------------------------------------------


@dataclass
class RowError:
    row: int            # JSON: item number from 1; CSV: the spreadsheet row (header = row 1)
    field: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.message}"


@dataclass
class ImportReport:
    path: str
    imported: int = 0   # new dossiers
    updated: int = 0    # codes already there, replaced by the file's version
    errors: list[RowError] = field(default_factory=list)
    ignored_fields: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {"path": self.path, "imported": self.imported, "updated": self.updated,
                "errors": [{"row": e.row, "field": e.field, "code": e.code, "message": e.message}
                           for e in self.errors],
                "ignored_fields": self.ignored_fields}


def _iso(dt: datetime) -> str:
    # The store's one sortable form for times, as motcua.engine.iso: UTC, milliseconds.
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds")


class DossierStore:
    """The dossier mirror in the centre's SQLite database. It creates and uses
    only its own tables: dossiers, dossier_steps, dossier_apologies."""

    def __init__(self, db: sqlite_utils.Database, settings: DossierSettings | None = None,
                 timezone: str = DEFAULT_TIMEZONE):
        self.db = db
        self.settings = settings or DossierSettings()
        self.tz = ZoneInfo(timezone)
        with db.atomic():
            db["dossiers"].create({
                "code": str, "procedure_code": str, "procedure_name": str, "field": str,
                "applicant_name": str, "received_at": str, "due_at": str, "status": str,
                "documents": str,
            }, pk="code", not_null={"procedure_code", "procedure_name", "applicant_name",
                                    "received_at", "due_at", "status"}, if_not_exists=True)
            db["dossier_steps"].create({"code": str, "seq": int, "step": str, "at": str, "note": str},
                                       pk=("code", "seq"), not_null={"step", "at"},
                                       if_not_exists=True)
            # One row per dossier: the database itself refuses a second apology.
            db["dossier_apologies"].create({"code": str, "reason": str, "new_due_at": str,
                                            "issued_at": str},
                                           pk="code", not_null={"reason", "new_due_at", "issued_at"},
                                           if_not_exists=True)

    # -- reading ----------------------------------------------------------------------
    def get(self, code: str) -> Dossier:
        code = parse_code(code, self.settings).code
        rows = list(self.db.query("SELECT * FROM dossiers WHERE code = ?", [code]))
        if not rows:
            raise DossierError("unknown_dossier", f"no dossier {code} here yet; it may not have "
                               "reached the centre's copy: ask at the reception desk",
                               field="code")
        r = rows[0]
        steps = tuple(Step(s["step"], datetime.fromisoformat(s["at"]), s["note"] or "")
                      for s in self.db.query("SELECT * FROM dossier_steps WHERE code = ? "
                                             "ORDER BY seq", [code]))
        a = list(self.db.query("SELECT * FROM dossier_apologies WHERE code = ?", [code]))
        apology = None if not a else Apology(a[0]["reason"], date.fromisoformat(a[0]["new_due_at"]),
                                             datetime.fromisoformat(a[0]["issued_at"]))
        return Dossier(code=r["code"], procedure_code=r["procedure_code"],
                       procedure_name=r["procedure_name"], field=r["field"] or "",
                       applicant_name=r["applicant_name"],
                       received_at=datetime.fromisoformat(r["received_at"]),
                       due_at=date.fromisoformat(r["due_at"]), status=r["status"], steps=steps,
                       apology=apology, documents=tuple(json.loads(r["documents"] or "[]")))

    def codes(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT code FROM dossiers ORDER BY code")]

    def overdue(self, now: datetime, within_days: int = OVERDUE_WITHIN_DAYS) -> list[OverdueDossier]:
        """`overdue` over the stored dossiers: SQL picks the candidates (running,
        no apology, due by the cut-off), the pure function decides."""
        cutoff = _local(now, self.tz).date().toordinal() + within_days
        stopped = sorted(CLOCK_STOPPED)
        rows = self.db.execute(
            f"SELECT code FROM dossiers WHERE status NOT IN ({','.join('?' * len(stopped))}) "
            "AND due_at <= ? AND code NOT IN (SELECT code FROM dossier_apologies) ORDER BY code",
            [*stopped, date.fromordinal(cutoff).isoformat()]).fetchall()
        return overdue((self.get(code) for (code,) in rows), now, self.tz, within_days)

    def public_view(self, code: str, now: datetime) -> dict:
        """The kiosk's view of one dossier. The caller has verified the citizen's
        proof (verified_code); citizen_view does both."""
        return public_view(self.get(code), now, self.tz)

    def citizen_view(self, now: datetime, *, scanned: str | None = None, code: str | None = None,
                     lookup: str | None = None) -> dict:
        """Verify a scanned QR text, or a typed code with its lookup code, then
        return the public view."""
        return self.public_view(verified_code(self.settings, scanned=scanned, code=code,
                                              lookup=lookup), now)

    # -- writing ----------------------------------------------------------------------
    def _write(self, d: Dossier, keep_apology: bool = True) -> None:
        self.db.execute(
            "INSERT INTO dossiers(code, procedure_code, procedure_name, field, applicant_name, "
            "received_at, due_at, status, documents) VALUES (?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(code) DO UPDATE SET procedure_code=excluded.procedure_code, "
            "procedure_name=excluded.procedure_name, field=excluded.field, "
            "applicant_name=excluded.applicant_name, received_at=excluded.received_at, "
            "due_at=excluded.due_at, status=excluded.status, documents=excluded.documents",
            [d.code, d.procedure_code, d.procedure_name, d.field, d.applicant_name,
             _iso(d.received_at), d.due_at.isoformat(), d.status,
             json.dumps(list(d.documents), ensure_ascii=False)])
        self.db.execute("DELETE FROM dossier_steps WHERE code = ?", [d.code])
        self.db.conn.executemany("INSERT INTO dossier_steps(code, seq, step, at, note) VALUES (?,?,?,?,?)",
                            [(d.code, i, s.step, _iso(s.at), s.note)
                             for i, s in enumerate(d.steps, 1)])
        if d.apology is not None:
            self._write_apology(d.code, d.apology)

    def _write_apology(self, code: str, a: Apology) -> None:
        self.db.execute("INSERT OR IGNORE INTO dossier_apologies(code, reason, new_due_at, issued_at) "
                        "VALUES (?,?,?,?)", [code, a.reason, a.new_due_at.isoformat(),
                                             _iso(a.issued_at)])

    def _existing(self, code: str) -> Dossier | None:
        try:
            return self.get(code)
        except DossierError as exc:
            if exc.code == "unknown_dossier":
                return None
            raise

    def save(self, dossier: Dossier) -> bool:
        """Store one dossier, replacing its earlier copy; True if it is new. An
        apology already stored is kept; a different second one is refused."""
        with self.db.atomic():
            old = self._existing(dossier.code)
            if old is not None and old.apology is not None:
                if dossier.apology is None:
                    dossier = replace(dossier, apology=old.apology)
                elif dossier.apology != old.apology:
                    raise DossierError("apology_already_issued", f"{dossier.code} already has an "
                                       f"apology with a new date ({_vn_date(old.apology.new_due_at)}); "
                                       "the due date may be reset only once", field="apology")
            self._write(dossier)
        return old is None

    def import_records(self, records: Iterable[tuple[int, Any]], path: str = "") -> ImportReport:
        """Import (row number, record) pairs: good rows are stored, each bad row
        is reported with what to fix."""
        report = ImportReport(path=path)
        seen: dict[str, int] = {}
        ignored: set[str] = set()
        for row, record in records:
            try:
                if isinstance(record, dict):
                    # Drop the ID number before anything else can touch it.
                    record = {k: v for k, v in record.items()
                              if str(k).strip().lower() not in ID_FIELDS}
                dossier, extra = dossier_from_record(record, self.settings, self.tz)
                ignored.update(extra)
                if dossier.code in seen:
                    raise DossierError("duplicate_row", f"{dossier.code} is also in row "
                                       f"{seen[dossier.code]}; keep one row per dossier",
                                       field="code")
                seen[dossier.code] = row
                if self.save(dossier):
                    report.imported += 1
                else:
                    report.updated += 1
            except DossierError as exc:
                report.errors.append(RowError(row, exc.field, exc.code, exc.message))
        report.ignored_fields = sorted(ignored)
        return report

    def import_file(self, path: str | Path) -> ImportReport:
        """Import a JSON list of dossiers or a CSV export (UTF-8, comma, semicolon
        or tab separated; documents separated by |). Re-importing a code updates it."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise DossierError("invalid_file", f"{path}: cannot read it ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise DossierError("invalid_file", f"{path}: not UTF-8 text; export it as UTF-8 "
                               "(CSV UTF-8 in spreadsheet programs)") from None
        if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DossierError("invalid_file", f"{path}: not valid JSON (line {exc.lineno}, "
                                   f"column {exc.colno}: {exc.msg})") from None
            if isinstance(data, dict) and isinstance(data.get("dossiers"), list):
                data = data["dossiers"]
            if not isinstance(data, list):
                raise DossierError("invalid_file", f"{path}: expected a JSON list of dossiers")
            return self.import_records(enumerate(data, 1), str(path))
        try:
            dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        if not reader.fieldnames or "code" not in [f.strip() for f in reader.fieldnames]:
            raise DossierError("invalid_file", f"{path}: the first row must name the columns "
                               "(code, procedure_code, procedure_name, applicant_name, received_at, "
                               "due_at, status, ...)")
        rows = ((i, {(k or "").strip(): v for k, v in r.items() if k is not None})
                for i, r in enumerate(reader, 2))
        return self.import_records(rows, str(path))

    def apply_update(self, payload: dict) -> Dossier:
        """Apply one status update from the one-stop software (shape in the module
        docstring) and return the dossier as it now is."""
        if not isinstance(payload, dict):
            raise DossierError("invalid_payload", "the update must be a JSON object")
        unknown = set(payload) - UPDATE_FIELDS
        if unknown:
            raise DossierError("invalid_payload", f"unknown key(s) {', '.join(sorted(unknown))}; "
                               "allowed: " + ", ".join(sorted(UPDATE_FIELDS)),
                               field=sorted(unknown)[0])
        if not payload.get("code"):
            raise DossierError("invalid_payload", "code: missing; name the dossier", field="code")
        status = _status(payload.get("status"))
        at = parse_datetime(payload.get("at"), "at", self.tz)
        note = _text(payload, "note", required=False, limit=MAX_NOTE)
        if payload.get("due_at") not in (None, "") and payload.get("apology") not in (None, ""):
            raise DossierError("invalid_payload", "give either due_at or an apology (whose "
                               "new_due_at is the new date), not both", field="due_at")
        with self.db.atomic():
            d = self.get(payload["code"])
            last = d.steps[-1]
            apology = None
            if payload.get("apology") not in (None, ""):
                apology = _apology(payload["apology"], self.tz, at, "apology")
            # MQTT may deliver an update twice: the same step again changes nothing.
            if (last.step, last.at, last.note) == (status, at, note) and (
                    apology is None or apology == d.apology):
                return d
            if d.status in CLOSED:
                raise DossierError("dossier_closed", f"{d.code} is closed ({STATUSES[d.status][0]}); "
                                   "no further updates: re-import it to correct it", field="status")
            if status == "received":
                raise DossierError("invalid_payload", "a dossier is received once: import it "
                                   "instead of sending 'received'", field="status")
            if at < last.at:
                raise DossierError("date_backwards", f"at: {at.isoformat()} is before the last step "
                                   f"({last.step}, {last.at.astimezone(self.tz).isoformat()}); "
                                   "send updates in order", field="at")
            due = d.due_at
            if payload.get("due_at") not in (None, ""):
                if d.apology is not None:
                    raise DossierError("due_date_already_reset", f"{d.code}: the due date was "
                                       "already reset by an apology and may be reset only once",
                                       field="due_at")
                due = parse_date(payload["due_at"], "due_at", self.tz)
                if due < d.received_at.astimezone(self.tz).date():
                    raise DossierError("invalid_field", "due_at: before the date received",
                                       field="due_at")
            if apology is not None:
                if d.apology is not None:
                    raise DossierError("apology_already_issued", f"{d.code} already has an apology "
                                       f"with a new date ({_vn_date(d.apology.new_due_at)}); the due "
                                       "date may be reset only once", field="apology")
                if apology.new_due_at <= d.effective_due:
                    raise DossierError("invalid_field", "apology.new_due_at: must be after the "
                                       f"current due date ({_vn_date(d.effective_due)})",
                                       field="apology.new_due_at")
            updated = replace(d, status=status, due_at=due, steps=d.steps + (Step(status, at, note),),
                              apology=apology or d.apology)
            self._write(updated)
        return updated

    # -- apologies (mẫu 04) ---------------------------------------------------------------
    def plan_apology(self, code: str, reason: Any, new_due: Any, now: datetime) -> Dossier:
        """The dossier as it will be once the apology is recorded, checked but not
        written: render the letter from it, then `apologise` with the same
        arguments. Refuses (DossierError): an unknown or closed dossier, a second
        apology, an empty reason, a new date not after the due date or already past."""
        return self._planned(self._for_apology(code), reason, new_due, now)

    def apologise(self, code: str, reason: Any, new_due: Any, now: datetime, *,
                  expect: Dossier | None = None,
                  before_commit: Callable[[Dossier], None] | None = None) -> Dossier:
        """Record an apology issued at `now` with its reason and new date: the
        dossier's due date becomes the new date (`effective_due`; `due_at` stays
        the date on the receipt) and may not be reset again. Returns the dossier
        as it now is.

        Checked again inside one write transaction (BEGIN IMMEDIATE, so the
        centre or an MQTT update cannot slip in between). `expect`: the planned
        dossier the letter was rendered from; if the dossier changed since,
        nothing is written (dossier_changed). `before_commit(dossier)` runs last
        inside the transaction (e.g. move the rendered letter into place): if it
        raises, nothing is recorded."""
        with self._write_lock():
            current = self._for_apology(code)
            updated = self._planned(current, reason, new_due, now)
            if expect is not None and updated != expect:
                raise DossierError("dossier_changed", f"{updated.code} changed while the letter was "
                                   "being prepared (an import or an update from the one-stop "
                                   "software); nothing was recorded: run the command again")
            a = updated.apology
            try:
                self.db.execute("INSERT INTO dossier_apologies(code, reason, new_due_at, issued_at) "
                                "VALUES (?,?,?,?)", [updated.code, a.reason, a.new_due_at.isoformat(),
                                                     _iso(a.issued_at)])
            except sqlite3.IntegrityError:  # the table's one-row-per-dossier key: never two
                raise self._second_apology(self.get(updated.code)) from None
            if before_commit is not None:
                before_commit(updated)
        return updated

    @contextmanager
    def _write_lock(self):
        """One write transaction taken at once (BEGIN IMMEDIATE): read, check and
        write without another connection committing in between."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        try:
            conn.commit()
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise

    def _for_apology(self, code: str) -> Dossier:
        try:
            return self.get(code)
        except DossierError as exc:
            if exc.code != "unknown_dossier":
                raise
            canonical = parse_code(code, self.settings).code
            raise DossierError("unknown_dossier", f"no dossier {canonical} in the centre's copy: "
                               "`motcua dossiers overdue` lists the late ones; import the one-stop "
                               "software's export first (`motcua dossiers import FILE`)",
                               field="code") from None

    def _second_apology(self, d: Dossier) -> DossierError:
        a = d.apology
        return DossierError("apology_already_issued", f"{d.code} already has an apology, issued on "
                            f"{_vn_date(_local(a.issued_at, self.tz).date())} with the new date "
                            f"{_vn_date(a.new_due_at)}; the due date may be reset only once, so no "
                            "second apology can be recorded (`motcua dossiers letter CODE` prints "
                            "the first one's letter again)", field="apology")

    def _planned(self, d: Dossier, reason: Any, new_due: Any, now: datetime) -> Dossier:
        if d.apology is not None:
            raise self._second_apology(d)
        if d.status in CLOSED:
            raise DossierError("dossier_closed", f"{d.code} is closed ({STATUSES[d.status][0]}); "
                               "a closed dossier needs no apology", field="status")
        if not isinstance(reason, str) or not reason.strip():
            raise DossierError("invalid_field", "reason: missing; say why the dossier is late (it is "
                               "printed in the letter and shown at the kiosk)", field="reason")
        reason = _text({"reason": reason}, "reason", limit=MAX_NOTE)
        new = parse_date(new_due, "new_due_at", self.tz)
        # Milliseconds, as stored: the dossier returned equals the one read back.
        now = _local(now, self.tz)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if new <= d.effective_due:
            raise DossierError("invalid_field", f"new_due_at: {_vn_date(new)} is not after the "
                               f"current due date ({_vn_date(d.effective_due)}); give a later date",
                               field="new_due_at")
        if new < now.date():
            raise DossierError("invalid_field", f"new_due_at: {_vn_date(new)} is already past "
                               f"(today is {_vn_date(now.date())}); give a date from today on",
                               field="new_due_at")
        return replace(d, apology=Apology(reason=reason, new_due_at=new, issued_at=now))

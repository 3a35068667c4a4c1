"""Dossier records as the one-stop software sends them, checked and turned
into Dossier values: an imported record (a JSON object or a CSV row) and a
status update. Every check of what comes from outside lives here; a refusal
is a DossierError naming the field. Part of the core: no I/O.

Imported records (`dossier_from_record`)
----------------------------------------
The fields of RECORD_FIELDS; the applicant's ID number (any of ID_FIELDS) is
accepted, because exports carry it, and dropped here: it is never stored.
Other unknown fields are ignored and reported. Dates and times: ISO 8601 (no
offset = local time) or dd/mm/yyyy[ HH:MM[:SS]].

Status update payload (`check_update`; from the one-stop software over MQTT)
---------------------------------------------------------------------------
    {
      "code": "000.00.31.H12-261116-0004",      # required, a known dossier
      "status": "processing",                   # required, one of STATUSES except received
      "at": "2026-11-17T10:00:00+07:00",         # required; ISO 8601 (no offset = local) or dd/mm/yyyy HH:MM
      "note": "Chuyển phòng Tư pháp thẩm định",  # optional
      "due_at": "2026-11-27",                    # optional: the one-stop software recomputed the due date
      "apology": {"reason": "...", "new_due_at": "2026-11-27",
                  "issued_at": "2026-11-19T15:00:00+07:00"}   # optional; issued_at defaults to at
    }
What depends on the stored dossier (a known code, a closed dossier, the order
of steps, a due date reset once) is checked by DossierStore.apply_update.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..config import DossierSettings
from ..timefmt import parse_day
from .codes import parse_code
from .model import DEFAULT_TIMEZONE, STATUSES, Apology, Dossier, DossierError, Step
from .rules import local

MAX_NOTE = 1000
MAX_NAME = 200


# Exports carry the applicant's ID number under one of these names: accepted, never stored.
ID_FIELDS = frozenset({"applicant_id", "applicant_id_number", "id_number", "cccd", "cmnd",
                       "so_cccd", "so_giay_to"})
RECORD_FIELDS = ("code", "procedure_code", "procedure_name", "field", "applicant_name",
                 "received_at", "due_at", "status", "status_at", "note", "steps", "apology",
                 "documents", "apology_reason", "apology_new_due_at", "apology_issued_at")
UPDATE_FIELDS = frozenset({"code", "status", "at", "note", "due_at", "apology"})
APOLOGY_FIELDS = frozenset({"reason", "new_due_at", "issued_at"})


_VN_DATETIME = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y")


def parse_datetime(value: Any, name: str, tz: ZoneInfo) -> datetime:
    """ISO 8601 or dd/mm/yyyy[ HH:MM[:SS]]; without an offset it is local time."""
    if isinstance(value, datetime):
        return local(value, tz)
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
    return local(dt, tz)


def parse_date(value: Any, name: str, tz: ZoneInfo) -> date:
    """A calendar date: YYYY-MM-DD or dd/mm/yyyy; a date and time gives its local date."""
    if isinstance(value, datetime):
        return local(value, tz).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        try:
            return parse_day(value)
        except ValueError:
            raise DossierError("invalid_field", f"{name}: {value.strip()!r} is not a real date",
                               field=name) from None
    try:
        return parse_datetime(value, name, tz).date()
    except DossierError:
        raise DossierError("invalid_field", f"{name}: {value!r} is not a date; use 2026-11-27 "
                           "or 27/11/2026", field=name) from None


def text_field(record: dict, name: str, required: bool = True, limit: int = MAX_NAME) -> str:
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


def status_field(value: Any, name: str = "status") -> str:
    if not isinstance(value, str) or value.strip() not in STATUSES:
        raise DossierError("unknown_status", f"{name}: {value!r} is not a status; use one of "
                           + ", ".join(STATUSES), field=name)
    return value.strip()


def apology_field(raw: Any, tz: ZoneInfo, default_issued: datetime | None, where: str) -> Apology:
    if not isinstance(raw, dict):
        raise DossierError("invalid_field", f"{where}: must be an object with reason, new_due_at "
                           "and issued_at", field=where)
    unknown = set(raw) - APOLOGY_FIELDS
    if unknown:
        raise DossierError("invalid_field", f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                           "allowed: reason, new_due_at, issued_at", field=where)
    reason = text_field(raw, "reason", limit=MAX_NOTE)
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
            steps.append(Step(status_field(s.get("step"), f"{where}.step"),
                              parse_datetime(s.get("at"), f"{where}.at", tz),
                              text_field(s, "note", required=False, limit=MAX_NOTE)))
        status = status_field(record["status"]) if record.get("status") else (
            steps[-1].step if steps else "received")
    else:
        status = status_field(record.get("status") or "received")
        if status != "received":
            at = parse_datetime(record.get("status_at"), "status_at", tz)
            steps.append(Step(status, at, text_field(record, "note", required=False, limit=MAX_NOTE)))
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
        apology = apology_field(record["apology"], tz, None, "apology")
    elif record.get("apology_reason") or record.get("apology_new_due_at"):
        apology = apology_field({"reason": record.get("apology_reason"),
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
        procedure_code=text_field(record, "procedure_code", limit=60),
        procedure_name=text_field(record, "procedure_name", limit=MAX_NOTE),
        field=text_field(record, "field", required=False),
        applicant_name=text_field(record, "applicant_name"),
        received_at=received, due_at=due, status=status, steps=tuple(steps),
        apology=apology, documents=documents), ignored



@dataclass(frozen=True)
class Update:
    """A status update, checked as far as it can be without the dossier."""
    code: str
    status: str
    at: datetime
    note: str
    due_at: Any            # as sent, or None: checked against the dossier (reset once)
    apology: Any           # as sent, or None: read with apology_field once the dossier is known


def check_update(payload: Any, tz: ZoneInfo) -> Update:
    """Check one status update from the one-stop software (shape in the module
    docstring): its keys, status, time, note and apology."""
    if not isinstance(payload, dict):
        raise DossierError("invalid_payload", "the update must be a JSON object")
    unknown = set(payload) - UPDATE_FIELDS
    if unknown:
        raise DossierError("invalid_payload", f"unknown key(s) {', '.join(sorted(unknown))}; "
                           "allowed: " + ", ".join(sorted(UPDATE_FIELDS)),
                           field=sorted(unknown)[0])
    if not payload.get("code"):
        raise DossierError("invalid_payload", "code: missing; name the dossier", field="code")
    status = status_field(payload.get("status"))
    at = parse_datetime(payload.get("at"), "at", tz)
    note = text_field(payload, "note", required=False, limit=MAX_NOTE)
    if payload.get("due_at") not in (None, "") and payload.get("apology") not in (None, ""):
        raise DossierError("invalid_payload", "give either due_at or an apology (whose "
                           "new_due_at is the new date), not both", field="due_at")
    due_at, apology = payload.get("due_at"), payload.get("apology")
    return Update(payload["code"], status, at, note, None if due_at in (None, "") else due_at,
                  None if apology in (None, "") else apology)

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

import functools
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..config import DossierSettings
from ..schema import Context, Field, Invalid, Schema, Wording
from ..timefmt import parse_day
from .codes import parse_code
from .model import DEFAULT_TIMEZONE, STATUSES, Apology, Dossier, DossierError, Step
from .rules import local

MAX_NOTE = 1000
MAX_NAME = 200


# Exports carry the applicant's ID number under one of these names: accepted, never stored.
ID_FIELDS = frozenset({"applicant_id", "applicant_id_number", "id_number", "cccd", "cmnd",
                       "so_cccd", "so_giay_to"})


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


# -- the declared fields (motcua.schema) ----------------------------------------------
# Every field of a record, a step, an apology and an update is declared once
# below and read through the shared checker; what depends on several fields
# (the steps agreeing with the status, dates in order) is the code after.

_WORDING = Wording(missing="missing; this field is required", blank="missing; this field is required",
                   wrong_type="must be text, not {type}", too_long="longer than {max_len} characters")


@dataclass(frozen=True)
class _Reading:
    """What reading a record needs besides the record (the checker's context)."""
    tz: ZoneInfo
    settings: DossierSettings | None = None
    default_issued: datetime | None = None   # an apology's issued_at when it gives none


def _tidy(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split())


def _text(required: bool = True, limit: int = MAX_NAME) -> Field:
    """Text, whitespace tidied; None or blank is missing."""
    return Field(str, required=required, default="", clean=_tidy, max_len=limit)


def _fields(wording: Wording = _WORDING, **fields: Field) -> Schema:
    return Schema(fields, wording=wording, blank_ok=False, null_is_absent=True)


def _refused(exc: Invalid) -> DossierError:
    return DossierError("invalid_field", f"{exc.path}: {exc.message}" if exc.path else exc.message,
                        field=exc.path or None)


@functools.lru_cache(maxsize=64)
def _one_text(name: str, required: bool, limit: int) -> Schema:
    return _fields(**{name: _text(required, limit)})


def text_field(record: dict, name: str, required: bool = True, limit: int = MAX_NAME) -> str:
    try:
        return _one_text(name, required, limit).check_key(name, record)
    except Invalid as exc:
        raise _refused(exc) from None


def status_field(value: Any, name: str = "status") -> str:
    if not isinstance(value, str) or value.strip() not in STATUSES:
        raise DossierError("unknown_status", f"{name}: {value!r} is not a status; use one of "
                           + ", ".join(STATUSES), field=name)
    return value.strip()


def _status(value: Any, ctx: Context) -> str:
    return status_field(value or "received", ctx.here)


def _datetime(value: Any, ctx: Context) -> datetime:
    return parse_datetime(value, ctx.here, ctx.context.tz)


def _date(value: Any, ctx: Context) -> date:
    return parse_date(value, ctx.here, ctx.context.tz)


def _issued(value: Any, ctx: Context) -> datetime:
    if value in (None, "") and ctx.context.default_issued is not None:
        return ctx.context.default_issued
    return parse_datetime(value, ctx.here, ctx.context.tz)


def _documents(docs: Any, ctx: Context) -> tuple[str, ...]:
    if docs in (None, ""):
        return ()
    if isinstance(docs, str):   # CSV: one cell, documents separated by |
        return tuple(_tidy(d) for d in docs.split("|") if d.strip())
    if isinstance(docs, list) and all(isinstance(d, str) for d in docs):
        return tuple(_tidy(d) for d in docs if d.strip())
    raise DossierError("invalid_field", "documents: must be a list of text", field="documents")


def _bare(name: str, required: bool, limit: int) -> Field:
    """Text named by its own key alone (reason, not apology.reason), as before the
    schema; a later issue may name the full path."""
    return Field(parse=lambda v, ctx: text_field({name: v}, name, required, limit))


APOLOGY = Schema(
    {"reason": _bare("reason", True, MAX_NOTE), "new_due_at": Field(parse=_date), "issued_at": Field(parse=_issued)},
    unknown="refuse_all", blank_ok=False, null_is_absent=True,
    wording=replace(_WORDING, not_a_table="must be an object with reason, new_due_at and issued_at",
                    unknown_all="unknown key(s) {keys}; allowed: {known}"),
    build=lambda v: Apology(reason=v["reason"], new_due_at=v["new_due_at"], issued_at=v["issued_at"]))
APOLOGY_FIELDS = frozenset(APOLOGY)

STEP = _fields(step=Field(parse=lambda v, ctx: status_field(v, ctx.here)), at=Field(parse=_datetime),
               note=_bare("note", False, MAX_NOTE))

# A record as exported by the one-stop software (JSON object or CSV row).
RECORD = _fields(
    code=Field(parse=lambda v, ctx: parse_code(v or "", ctx.context.settings)),
    procedure_code=_text(limit=60), procedure_name=_text(limit=MAX_NOTE), field=_text(False),
    applicant_name=_text(), received_at=Field(parse=_datetime), due_at=Field(parse=_date),
    status=Field(parse=_status), status_at=Field(parse=_datetime), note=_text(False, MAX_NOTE),
    steps=Field(items=STEP, per_item=True, index_from=1, convert=lambda steps: [Step(**s) for s in steps],
                says={"not_tables": "must be a list of {{step, at, note}}",
                      "not_a_table": "must be an object {{step, at, note}}"}),
    apology=Field(), documents=Field(parse=_documents),
    # a CSV row's apology, in three columns
    apology_reason=Field(), apology_new_due_at=Field(), apology_issued_at=Field())
RECORD_FIELDS = tuple(RECORD)


def _read(schema: Schema, name: str, data: dict, reading: _Reading) -> Any:
    try:
        return schema.check_key(name, data, context=reading)
    except Invalid as exc:
        raise _refused(exc) from None


def apology_field(raw: Any, tz: ZoneInfo, default_issued: datetime | None, where: str) -> Apology:
    try:
        return APOLOGY.check(raw, path=where, context=_Reading(tz, default_issued=default_issued))
    except Invalid as exc:
        raise _refused(exc) from None


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
    reading = _Reading(tz, settings)

    def read(name: str) -> Any:
        return _read(RECORD, name, record, reading)

    code = read("code")
    received = read("received_at")
    if received.date() != code.received_on:
        raise DossierError("invalid_field", f"received_at: {received.date().isoformat()} is not the "
                           f"date in the code ({code.received_on.isoformat()}); check both",
                           field="received_at")
    due = read("due_at")
    if due < received.date():
        raise DossierError("invalid_field", "due_at: before the date received", field="due_at")

    steps: list[Step] = []
    if record.get("steps") not in (None, ""):
        steps = read("steps")
        status = read("status") if record.get("status") else (steps[-1].step if steps else "received")
    else:
        status = read("status")
        if status != "received":
            steps.append(Step(status, read("status_at"), read("note")))
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

    documents = read("documents")
    return Dossier(
        code=code.code, procedure_code=read("procedure_code"), procedure_name=read("procedure_name"),
        field=read("field"), applicant_name=read("applicant_name"),
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


def _code_given(code: Any, ctx: Context) -> Any:
    if not code:
        raise DossierError("invalid_payload", "code: missing; name the dossier", field="code")
    return code


def _one_date(values: dict, ctx: Context) -> None:
    if values["due_at"] not in (None, "") and values["apology"] not in (None, ""):
        raise DossierError("invalid_payload", "give either due_at or an apology (whose "
                           "new_due_at is the new date), not both", field="due_at")


UPDATE = Schema(
    {"code": Field(parse=_code_given), "status": Field(parse=lambda v, ctx: status_field(v, ctx.here)),
     "at": Field(parse=_datetime), "note": _text(False, MAX_NOTE), "due_at": Field(), "apology": Field()},
    unknown="refuse_all", blank_ok=False, null_is_absent=True, check=_one_date,
    wording=replace(_WORDING, unknown_all="unknown key(s) {keys}; allowed: "
                    "apology, at, code, due_at, note, status"))
UPDATE_FIELDS = frozenset(UPDATE)


def check_update(payload: Any, tz: ZoneInfo) -> Update:
    """Check one status update from the one-stop software (shape in the module
    docstring): its keys, status, time, note and apology."""
    if not isinstance(payload, dict):
        raise DossierError("invalid_payload", "the update must be a JSON object")
    try:
        v = UPDATE.check(payload, context=_Reading(tz))
    except Invalid as exc:
        if exc.kind == "unknown":
            raise DossierError("invalid_payload", exc.message,
                               field=min(set(payload) - UPDATE_FIELDS)) from None
        raise _refused(exc) from None
    due_at, apology = v["due_at"], v["apology"]
    return Update(payload["code"], v["status"], v["at"], v["note"], None if due_at in (None, "") else due_at,
                  None if apology in (None, "") else apology)

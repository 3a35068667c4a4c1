"""Procedure records (thủ tục hành chính) and their validator.

A procedure follows the national database's record: code (e.g. 1.001193; a
provincial copy may add a suffix, 2.000815.000.00.00.H38), name, field (lĩnh
vực), agency, level, per channel the time limit, fee and notes, documents,
steps, conditions, result, legal basis, online level and related procedures.

`Procedure.from_dict` checks one record against the `PROCEDURE` schema here
(motcua.schema), collecting every problem with its field path (e.g.
"channels[1].channel") and what to do.
Unknown keys are errors, so a misspelt "documnets" is reported instead of
silently dropped. The fixed choices may be written in Vietnamese as well:
"Trực tiếp" is truc_tiep, "Bản sao" ban_sao, "Một phần" mot_phan. Level: xã,
huyện, tỉnh or trung ương, comma separated if several, "Cấp xã" accepted.
Part of the core: no I/O.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable

from ..schema import Context, Field, Invalid, Schema, Wording
from ..vntext import fold

CHANNELS = ("truc_tiep", "truc_tuyen", "buu_chinh")
COPY_KINDS = ("ban_chinh", "ban_sao", "ban_chinh_hoac_ban_sao")
ONLINE_LEVELS = ("toan_trinh", "mot_phan", "")
LEVELS = ("xã", "huyện", "tỉnh", "trung ương")
CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")


class CatalogueError(ValueError):
    """A catalogue operation was refused; `problems` lists (field, message)."""

    def __init__(self, message: str, problems: Iterable[tuple[str, str]] = ()):
        super().__init__(message)
        self.problems = list(problems)


class ProcedureError(CatalogueError):
    """One procedure record is invalid; `problems` lists (field, message)."""


@dataclass(frozen=True)
class Channel:
    channel: str                 # truc_tiep | truc_tuyen | buu_chinh
    time_limit: str = ""         # as published, e.g. "03 ngày làm việc"
    fee: str = ""                # as published; text, because fees have conditions
    notes: str = ""


@dataclass(frozen=True)
class Document:
    name: str
    original_or_copy: str = "ban_chinh"   # ban_chinh | ban_sao | ban_chinh_hoac_ban_sao
    count: int = 1
    form: str = ""                        # form file name, "" if none


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    field: str                   # lĩnh vực
    agency: str = ""             # cơ quan thực hiện
    level: str = ""              # xã | huyện | tỉnh | trung ương (comma separated)
    channels: tuple[Channel, ...] = ()
    documents: tuple[Document, ...] = ()
    steps: tuple[str, ...] = ()
    conditions: str = ""
    result: str = ""
    legal_basis: tuple[str, ...] = ()
    online_level: str = ""       # toan_trinh | mot_phan | ""
    related: tuple[str, ...] = ()
    source_note: str = ""        # where a fact comes from, or that it is unconfirmed

    def to_dict(self) -> dict:
        """Plain JSON-ready dict with every key (the import/export format)."""
        return {
            "code": self.code, "name": self.name, "field": self.field, "agency": self.agency,
            "level": self.level,
            # By hand: dataclasses.asdict deep-copies, a third of a bulk import's time.
            "channels": [{"channel": c.channel, "time_limit": c.time_limit, "fee": c.fee,
                          "notes": c.notes} for c in self.channels],
            "documents": [{"name": d.name, "original_or_copy": d.original_or_copy,
                           "count": d.count, "form": d.form} for d in self.documents],
            "steps": list(self.steps), "conditions": self.conditions, "result": self.result,
            "legal_basis": list(self.legal_basis), "online_level": self.online_level,
            "related": list(self.related), "source_note": self.source_note,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Procedure":
        """Validate and build; raises ProcedureError listing every problem."""
        return check_procedure(data)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(canonical(self.to_dict()).encode("utf-8")).hexdigest()


PROCEDURE_KEYS = tuple(f.name for f in dataclasses.fields(Procedure))
CHANNEL_KEYS = tuple(f.name for f in dataclasses.fields(Channel))
DOCUMENT_KEYS = tuple(f.name for f in dataclasses.fields(Document))
REQUIRED_KEYS = ("code", "name", "field")


def canonical(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _keyword(value: str) -> str:
    """The stored spelling of a fixed choice; staff writing a sheet by hand
    type it in Vietnamese: "Trực tiếp" → truc_tiep, "Bản chính" → ban_chinh."""
    return fold(value).replace(" ", "_")


def _text(value: str) -> str:
    # Files come NFC or NFD; store one form so equal text hashes equal.
    return unicodedata.normalize("NFC", value).strip()


# --- the schema of a record -----------------------------------------------------------------
# Each record is checked whole: every problem is listed with its field path
# (e.g. "channels[1].channel") and what to do.

# Records repeat their choices ("Trực tiếp", "Bản sao"): each is folded once.
_keyword_of = functools.lru_cache(maxsize=1024)(_keyword)


def _keyword_check(known: tuple[str, ...], message: str):
    def check(value: str, ctx: Context) -> str | None:
        kind = _keyword_of(value)
        return message.format(kind=kind) if kind and kind not in known else None
    return check


@functools.lru_cache(maxsize=256)
def _level_parts(raw: str) -> tuple[tuple[str, ...], str | None]:
    """The levels written in `raw`, and the first part that is not one."""
    known = {fold(level): level for level in LEVELS}
    out = []
    for part in re.split(r"[,;/]", raw):
        key = re.sub(r"^cap ", "", fold(part))
        if key not in known:
            return tuple(out), part
        out.append(known[key])
    return tuple(out), None


def _level_check(raw: str, ctx: Context) -> str | None:
    if raw:
        _, wrong = _level_parts(raw)
        if wrong is not None:
            return f"{wrong.strip()!r} is not a level; write {', '.join(LEVELS)} (several separated by commas)"
    return None


def _level(raw: str) -> str:
    return ", ".join(dict.fromkeys(_level_parts(raw)[0])) if raw else ""


def _related_codes(related: list[str], ctx: Context) -> None:
    # Numbered among the non-blank text entries, as the checker before the schema did
    # (related[0] is the first code even after a blank or non-text entry).
    wrong = [(ctx.at(f"related[{i}]"), f"{rel!r} is not a procedure code; write codes such as 1.001193")
             for i, rel in enumerate(r for r in related if r) if not CODE_RE.match(rel)]
    if wrong:
        raise Invalid(wrong)


def _wording(keys: tuple[str, ...]) -> Wording:
    return Wording(missing="missing; every procedure needs it, fill it in",
                   blank="is empty; every procedure needs it, fill it in",
                   wrong_type="must be text, not {type} {value!r}; write it in quotes",
                   unknown=f"unknown field; rename it to one of {', '.join(keys)} or remove it")


def _record(keys: tuple[str, ...], build, **fields: Field) -> Schema:
    return Schema(fields, unknown="refuse", wording=_wording(keys), blank_ok=False, null_is_absent=True,
                  build=build)


def _string(required: bool = False, **kw) -> Field:
    return Field(str, required=required, default="", clean=_text, **kw)


def _strings(check=None) -> Field:
    return Field(each=Field(str, clean=_text), check=check, default=(),
                 convert=lambda items: tuple(i for i in items if i),   # blank entries are dropped
                 says={"not_a_list": 'must be a list of text, not {type}; write ["…", "…"]'})


def _objects(schema: Schema) -> Field:
    return Field(items=schema, per_item=True, default=(), convert=tuple,
                 says={"not_tables": "must be a list of objects, not {type}; write [{{…}}, {{…}}]",
                       "not_a_table": 'must be an object, not {type} {value!r}; write {{"name": …}}'})


_CHANNEL = _record(
    CHANNEL_KEYS, lambda v: Channel(**v),
    channel=_string(True, convert=_keyword_of, check=_keyword_check(
        CHANNELS, "{kind!r} is not a channel; write truc_tiep (trực tiếp), truc_tuyen (trực tuyến) or "
                  "buu_chinh (bưu chính)")),
    time_limit=_string(), fee=_string(), notes=_string())

_DOCUMENT = _record(
    DOCUMENT_KEYS, lambda v: Document(**v),
    name=_string(True),
    original_or_copy=Field(str, default="ban_chinh", clean=_text, convert=lambda v: _keyword_of(v) or "ban_chinh",
                           check=lambda v, ctx: None if (_keyword_of(v) or "ban_chinh") in COPY_KINDS else
                           f"{_keyword_of(v)!r} is not a kind of paper; write {', '.join(COPY_KINDS)}"),
    count=Field(int, default=1, range=(0, None), null_is_absent=False,
                says={"wrong_type": "must be a whole number such as 1, not {value!r}",
                      "out_of_range": "is {value}; write how many papers, 0 or more"}),
    form=_string())

# In the order the fields are checked (PROCEDURE_KEYS is the records' order).
PROCEDURE = _record(
    PROCEDURE_KEYS, lambda v: Procedure(**v),
    code=_string(True, pattern=CODE_RE, says={
        "no_match": "{value!r} must be letters, digits, '.', '_' or '-' (at most 64), e.g. 1.001193 "
                    "or 2.000815.000.00.00.H38"}),
    name=_string(True), field=_string(True),
    agency=_string(), conditions=_string(), result=_string(), source_note=_string(),
    level=_string(check=_level_check, convert=_level),
    online_level=_string(convert=_keyword_of, check=lambda v, ctx: None if _keyword_of(v) in ONLINE_LEVELS else
                         f"{_keyword_of(v)!r} is not an online level; write toan_trinh (toàn trình), "
                         "mot_phan (một phần) or leave it empty"),
    channels=_objects(_CHANNEL), documents=_objects(_DOCUMENT),
    steps=_strings(), legal_basis=_strings(), related=_strings(check=_related_codes))


def check_procedure(data: Any) -> Procedure:
    """Validate and build one record; raises ProcedureError listing every problem."""
    if not isinstance(data, dict):
        wrong = f"must be an object with the keys {', '.join(REQUIRED_KEYS)}, …; got {type(data).__name__}"
        raise ProcedureError("not an object", [("", wrong)])
    try:
        return PROCEDURE.check(data, all_problems=True)
    except Invalid as exc:
        raise ProcedureError(str(exc), exc.problems) from None


def from_stored(data: dict) -> Procedure:
    """Build from a stored record (validated when it was written)."""
    return Procedure(
        **{**data, "channels": tuple(Channel(**c) for c in data["channels"]),
           "documents": tuple(Document(**d) for d in data["documents"]),
           "steps": tuple(data["steps"]), "legal_basis": tuple(data["legal_basis"]),
           "related": tuple(data["related"])})

"""Procedure records (thủ tục hành chính) and their validator.

A procedure follows the national database's record: code (e.g. 1.001193; a
provincial copy may add a suffix, 2.000815.000.00.00.H38), name, field (lĩnh
vực), agency, level, per channel the time limit, fee and notes, documents,
steps, conditions, result, legal basis, online level and related procedures.

`Procedure.from_dict` (the `_Checker` here) checks one record, collecting
every problem with its field path (e.g. "channels[1].channel") and what to do.
Unknown keys are errors, so a misspelt "documnets" is reported instead of
silently dropped. The fixed choices may be written in Vietnamese as well:
"Trực tiếp" is truc_tiep, "Bản sao" ban_sao, "Một phần" mot_phan. Level: xã,
huyện, tỉnh or trung ương, comma separated if several, "Cấp xã" accepted.
Part of the core: no I/O.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable

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
        return _Checker().procedure(data)

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


class _Checker:
    """Validates one record, collecting every problem with its field path."""

    def __init__(self):
        self.problems: list[tuple[str, str]] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append((field, message))

    def procedure(self, data: Any) -> Procedure:
        if not isinstance(data, dict):
            raise ProcedureError("not an object", [("", f"must be an object with the keys "
                                                        f"{', '.join(REQUIRED_KEYS)}, …; got "
                                                        f"{type(data).__name__}")])
        for key in data:
            if key not in PROCEDURE_KEYS:
                self.fail(str(key), f"unknown field; rename it to one of {', '.join(PROCEDURE_KEYS)} "
                                    "or remove it")
        values: dict[str, Any] = {}
        for key in ("code", "name", "field"):
            values[key] = self.string(data, key, key, required=True)
        code = values["code"]
        if code and not CODE_RE.match(code):
            self.fail("code", f"{code!r} must be letters, digits, '.', '_' or '-' "
                              "(at most 64), e.g. 1.001193 or 2.000815.000.00.00.H38")
        for key in ("agency", "conditions", "result", "source_note"):
            values[key] = self.string(data, key, key)
        values["level"] = self.level(data)
        online = _keyword(self.string(data, "online_level", "online_level"))
        if online not in ONLINE_LEVELS:
            self.fail("online_level", f"{online!r} is not an online level; write toan_trinh "
                                      "(toàn trình), mot_phan (một phần) or leave it empty")
        values["online_level"] = online
        values["channels"] = tuple(self.objects(data, "channels", self.channel))
        values["documents"] = tuple(self.objects(data, "documents", self.document))
        for key in ("steps", "legal_basis", "related"):
            values[key] = tuple(self.strings(data, key))
        for i, rel in enumerate(values["related"]):
            if not CODE_RE.match(rel):
                self.fail(f"related[{i}]", f"{rel!r} is not a procedure code; write codes "
                                           "such as 1.001193")
        if self.problems:
            raise ProcedureError("; ".join(f"{f}: {m}" if f else m for f, m in self.problems),
                                 self.problems)
        return Procedure(**values)

    def string(self, data: dict, key: str, where: str, required: bool = False) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(where, "missing; every procedure needs it, fill it in")
            return ""
        if not isinstance(value, str):
            self.fail(where, f"must be text, not {type(value).__name__} {value!r}; "
                             "write it in quotes")
            return ""
        value = _text(value)
        if required and not value:
            self.fail(where, "is empty; every procedure needs it, fill it in")
        return value

    def level(self, data: dict) -> str:
        raw = self.string(data, "level", "level")
        if not raw:
            return ""
        known = {fold(level): level for level in LEVELS}
        out = []
        for part in re.split(r"[,;/]", raw):
            key = re.sub(r"^cap ", "", fold(part))
            if key not in known:
                self.fail("level", f"{part.strip()!r} is not a level; write {', '.join(LEVELS)} "
                                   "(several separated by commas)")
                return raw
            out.append(known[key])
        return ", ".join(dict.fromkeys(out))

    def strings(self, data: dict, key: str) -> list[str]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"must be a list of text, not {type(value).__name__}; "
                           'write ["…", "…"]')
            return []
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(f"{key}[{i}]", f"must be text, not {type(item).__name__} {item!r}; "
                                         "write it in quotes")
            elif _text(item):
                out.append(_text(item))
        return out

    def objects(self, data: dict, key: str, build) -> list:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"must be a list of objects, not {type(value).__name__}; "
                           'write [{…}, {…}]')
            return []
        out = []
        for i, item in enumerate(value):
            where = f"{key}[{i}]"
            if not isinstance(item, dict):
                self.fail(where, f"must be an object, not {type(item).__name__} {item!r}; "
                                 'write {"name": …}')
                continue
            built = build(item, where)
            if built is not None:
                out.append(built)
        return out

    def _unknown(self, item: dict, where: str, known: tuple[str, ...]) -> None:
        for k in item:
            if k not in known:
                self.fail(f"{where}.{k}", f"unknown field; rename it to one of "
                                          f"{', '.join(known)} or remove it")

    def channel(self, item: dict, where: str) -> Channel | None:
        before = len(self.problems)
        self._unknown(item, where, CHANNEL_KEYS)
        kind = _keyword(self.string(item, "channel", f"{where}.channel", required=True))
        if kind and kind not in CHANNELS:
            self.fail(f"{where}.channel", f"{kind!r} is not a channel; write truc_tiep "
                                          "(trực tiếp), truc_tuyen (trực tuyến) or buu_chinh "
                                          "(bưu chính)")
        fields = {k: self.string(item, k, f"{where}.{k}") for k in ("time_limit", "fee", "notes")}
        return None if len(self.problems) > before else Channel(kind, **fields)

    def document(self, item: dict, where: str) -> Document | None:
        before = len(self.problems)
        self._unknown(item, where, DOCUMENT_KEYS)
        name = self.string(item, "name", f"{where}.name", required=True)
        kind = _keyword(self.string(item, "original_or_copy", f"{where}.original_or_copy")) or "ban_chinh"
        if kind not in COPY_KINDS:
            self.fail(f"{where}.original_or_copy", f"{kind!r} is not a kind of paper; write "
                                                   f"{', '.join(COPY_KINDS)}")
        count = item.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int):
            self.fail(f"{where}.count", f"must be a whole number such as 1, not {count!r}")
        elif count < 0:
            self.fail(f"{where}.count", f"is {count}; write how many papers, 0 or more")
        form = self.string(item, "form", f"{where}.form")
        return None if len(self.problems) > before else Document(name, kind, count, form)


def from_stored(data: dict) -> Procedure:
    """Build from a stored record (validated when it was written)."""
    return Procedure(
        **{**data, "channels": tuple(Channel(**c) for c in data["channels"]),
           "documents": tuple(Document(**d) for d in data["documents"]),
           "steps": tuple(data["steps"]), "legal_basis": tuple(data["legal_basis"]),
           "related": tuple(data["related"])})

"""Reading a one-stop software export (a JSON list or a CSV file) into
numbered records, and the report of an import: each bad row with what to fix."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .model import DossierError


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



def read_records(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(row number, record) pairs of a JSON list of dossiers or a CSV export
    (UTF-8, comma, semicolon or tab separated; documents separated by |).
    JSON items are numbered from 1, CSV rows as a spreadsheet shows them (the
    header is row 1). A file that cannot be read as either: DossierError
    invalid_file, before any row."""
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
        return enumerate(data, 1)
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    if not reader.fieldnames or "code" not in [f.strip() for f in reader.fieldnames]:
        raise DossierError("invalid_file", f"{path}: the first row must name the columns "
                           "(code, procedure_code, procedure_name, applicant_name, received_at, "
                           "due_at, status, ...)")
    return ((i, {(k or "").strip(): v for k, v in r.items() if k is not None})
            for i, r in enumerate(reader, 2))

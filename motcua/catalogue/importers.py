"""Reading a procedure file (JSON or CSV) into numbered records, with an
error per bad row.

Import files
------------
JSON: a list of procedure objects, or {"procedures": [...]}, with the keys of
`Procedure` (see `Procedure.to_dict`).

CSV (UTF-8, with or without BOM; comma, semicolon or tab separated, as Excel
writes it), one row per procedure, a header row with these columns:

    code, name, field             required text
    agency, level, online_level,  text (level: xã, huyện, tỉnh or trung ương, comma
    conditions, result,           separated if several, "Cấp xã" accepted; online_level:
    source_note                   toan_trinh, mot_phan or empty)
    channels                      JSON array of {"channel", "time_limit", "fee", "notes"}
    documents                     JSON array of {"name", "original_or_copy", "count", "form"}
    steps, legal_basis            JSON array of text, or one item per line in the cell
    related                       JSON array of codes, or codes separated by commas/lines

Only code, name and field must be present as columns; a column without a name
in the header is ignored while its cells are empty.

Partial import: every bad row gives an error naming its row, the row's code,
the field and what is wrong and what to do, and is skipped; the good rows are
imported, in one transaction (Catalogue.import_file). Rows are numbered as a
spreadsheet shows them (the header is row 1), JSON items from 1. What spoils
every row imports nothing: a file that is not UTF-8 JSON or CSV, invalid JSON,
a header row lacking code/name/field, or with an unknown or repeated column.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..vntext import fold
from .records import PROCEDURE_KEYS, REQUIRED_KEYS

@dataclass(frozen=True)
class ImportProblem:
    row: int | None          # spreadsheet row (header = 1) or JSON item (from 1); None: the file
    code: str                # the row's code if it had one
    field: str               # e.g. "channels[1].channel"; "" for the whole row or file
    message: str

    def __str__(self) -> str:
        where = "file" if self.row is None else f"row {self.row}"
        if self.code:
            where += f" (code {self.code})"
        return f"{where}: {self.field + ': ' if self.field else ''}{self.message}"


@dataclass
class ImportReport:
    path: str
    format: str | None                  # "json", "csv" or None when unreadable
    imported: int = 0
    errors: list[ImportProblem] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        lines = [f"{self.path}: {self.imported} procedure(s) imported, {len(self.errors)} error(s)"]
        lines += [f"  {e}" for e in self.errors]
        return "\n".join(lines)


def read_file(path: str | Path) -> tuple[ImportReport, list[tuple[int, Any]]]:
    """The report so far (the format, the file's and header's problems and
    the rows that are not valid CSV) and the (row number, record) pairs to
    check. A problem that spoils every row leaves no pairs."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return ImportReport(str(path), None, errors=[ImportProblem(
            None, "", "", f"cannot read the file ({exc.strerror})")]), []
    report = ImportReport(str(path), None)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.errors.append(ImportProblem(None, "", "", (
            f"not UTF-8 text (byte {exc.start}); this is not a JSON or CSV procedure file "
            "— save the sheet as 'CSV UTF-8' or export JSON")))
        return report, []
    kind = _sniff(path, text)
    if kind == "json":
        report.format = "json"
        return report, _json_rows(text, report)
    if kind == "csv":
        report.format = "csv"
        return report, _csv_rows(text, report)
    report.errors.append(ImportProblem(None, "", "", (
        "not a JSON or CSV procedure file: expected a JSON list of procedures or "
        "a CSV with a header row including code, name, field")))
    return report, []


def _sniff(path: Path, text: str) -> str | None:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".csv", ".tsv"):
        return "csv"
    start = text.lstrip()[:1]
    if start in ("[", "{"):
        return "json"
    header = fold(text.splitlines()[0]) if text.strip() else ""
    if {"code", "name", "field"} <= set(header.split()):
        return "csv"
    return None


def _json_rows(text: str, report: ImportReport) -> list[tuple[int, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        report.errors.append(ImportProblem(None, "", "", (
            f"not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); nothing "
            "was imported: fix the file there (a missing comma or quote?) and import it again")))
        return []
    if isinstance(data, dict) and isinstance(data.get("procedures"), list):
        data = data["procedures"]
    if not isinstance(data, list):
        report.errors.append(ImportProblem(None, "", "", (
            'expected a JSON list of procedures or {"procedures": [...]}, '
            f"got {type(data).__name__}; nothing was imported")))
        return []
    return list(enumerate(data, start=1))


def _csv_rows(text: str, report: ImportReport) -> list[tuple[int, Any]]:
    first = text.splitlines()[0] if text.strip() else ""
    # Excel in a Vietnamese locale separates with ';' (the decimal mark is ',').
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        header = []
    except csv.Error as exc:
        report.errors.append(ImportProblem(1, "", "", (
            f"the header row is not valid CSV ({exc}); nothing was imported: write the "
            "column names in row 1 without quotes")))
        return []
    missing = [k for k in REQUIRED_KEYS if k not in header]
    if missing:
        report.errors.append(ImportProblem(1, "", "", (
            f"the header row lacks the column(s) {', '.join(missing)}; nothing was imported: "
            f"name the columns in row 1 with {', '.join(PROCEDURE_KEYS)}")))
        return []
    # A header problem spoils every row (a misspelt "documnets" column would
    # drop every procedure's documents), so the file is refused as a whole.
    for h in dict.fromkeys(h for h in header if h and h not in PROCEDURE_KEYS):
        report.errors.append(ImportProblem(1, "", h, (
            f"unknown column; nothing was imported: rename it to one of "
            f"{', '.join(PROCEDURE_KEYS)} or delete the column")))
    for h in dict.fromkeys(h for h in header if h and header.count(h) > 1):
        report.errors.append(ImportProblem(1, "", h, (
            "column appears more than once; nothing was imported: keep one of them")))
    if report.errors:
        return []
    rows = []
    row_no = 1
    while True:
        row_no += 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # Strict reading: a quote opened and never closed would otherwise
            # swallow the rest of the file into one cell without a word.
            lost = ("this row and all after it were not read" if "end of data" in str(exc)
                    else "this row was not read")
            report.errors.append(ImportProblem(row_no, "", "", (
                f"not valid CSV ({exc}): {lost}; check that every quote (\") in it is "
                "closed and that a quoted cell has nothing after its closing quote")))
            continue
        if not any(c.strip() for c in cells):
            continue
        record, problems = _csv_record(header, cells)
        if problems:
            code = (record.get("code") or "").strip()
            report.errors += [ImportProblem(row_no, code, f, m) for f, m in problems]
            continue
        rows.append((row_no, record))
    return rows


def _csv_record(header: list[str], cells: list[str]) -> tuple[dict, list[tuple[str, str]]]:
    """One CSV row as a procedure dict; nested columns are parsed here so their
    errors name the column."""
    record: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    # Spreadsheets pad rows with empty cells; only text outside the named columns is lost.
    stray = [i for i, c in enumerate(cells) if c.strip() and (i >= len(header) or not header[i])]
    if stray:
        problems.append(("", f"text in column {stray[0] + 1}, which has no name in the header "
                             "row; move it under a named column or give the column a name"))
    for key, cell in zip(header, cells):
        if key not in PROCEDURE_KEYS:
            continue
        cell = cell.strip()
        if key in ("channels", "documents"):
            if not cell:
                continue
            try:
                record[key] = json.loads(cell)
            except json.JSONDecodeError as exc:
                example = ('[{"channel": "truc_tiep", "time_limit": "…", "fee": "…"}]'
                           if key == "channels" else '[{"name": "…", "original_or_copy": '
                           '"ban_chinh", "count": 1}]')
                problems.append((key, f"not a JSON array of objects ({exc.msg} at character "
                                      f"{exc.pos}): {cell[:60]!r}; write it like {example}"))
        elif key in ("steps", "legal_basis", "related"):
            if cell.startswith("["):
                try:
                    record[key] = json.loads(cell)
                except json.JSONDecodeError as exc:
                    problems.append((key, f"starts with '[' but is not a JSON array ({exc.msg}); "
                                          "write one item per line instead"))
            else:
                sep = r"[\n,;]" if key == "related" else r"\n"
                record[key] = [part for part in re.split(sep, cell) if part.strip()]
        else:
            record[key] = cell
    return record, problems

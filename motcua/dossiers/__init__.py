"""Dossiers (hồ sơ): a mirror of the one-stop software, for citizens at the kiosk.

The officers' one-stop software stays the record; the centre keeps a copy of
what a citizen may see: where their dossier is, whether it is late, and any
apology with its new date. It is filled by `DossierStore.import_file` (a JSON
or CSV export) and kept current by `DossierStore.apply_update` (one status
update, as the one-stop software sends it over MQTT).

Privacy
-------
The applicant's ID number (CCCD) is accepted on import, because exports carry
it, and discarded at once: it is never stored. The kiosk gets the masked name
only (`mask_name`), and step notes shown to it are scrubbed of the full name and
of long digit runs (ID and phone numbers).

One module per concern; every name is importable from here:

| module | what |
|---|---|
| `model` | statuses, Step, Apology, Dossier, DossierError (its codes) |
| `codes` | dossier codes, the receipt's QR signature and lookup code |
| `masking` | the applicant's name masked, notes scrubbed, for the kiosk |
| `rules` | on time or late, the steps to come, the dossiers needing an apology |
| `views` | the kiosk's public view, the apology as the kiosk words it |
| `records` | imported records and status updates checked into Dossier values |
| `importing` | a JSON or CSV export read into records; the import report |
| `storage` | the tables (a step of motcua.migrations) and DossierStore |

model, codes, masking, rules, views and records are the core: no I/O, no
sqlite3. The printed papers: motcua.receipt (form 01) and
motcua.apology_letter (form 04).
"""
from .codes import (LOOKUP_ALPHABET, QR_PREFIX, SIG_LENGTH, DossierCode, counter_code, lookup_code,
                    parse_code, qr_text, verified_code, verify_lookup, verify_qr)
from .importing import ImportReport, RowError, read_records
from .masking import mask_name, scrub
from .model import (CLOCK_STOPPED, CLOSED, DEFAULT_TIMEZONE, NORMAL_PATH, STATUSES, TIMELINESS,
                    Apology, Dossier, DossierError, Step)
from .records import (APOLOGY_FIELDS, ID_FIELDS, MAX_NAME, MAX_NOTE, RECORD_FIELDS,
                      UPDATE_FIELDS, Update, check_update, dossier_from_record, parse_date,
                      parse_datetime)
from .rules import (OVERDUE_WITHIN_DAYS, OverdueDossier, Timeliness, clock_stopped_at, overdue,
                    steps_to_come, timeliness)
from .storage import DossierStore, create_tables
from .views import apology_texts, public_view

__all__ = [
    "APOLOGY_FIELDS", "CLOCK_STOPPED", "CLOSED", "DEFAULT_TIMEZONE", "ID_FIELDS",
    "LOOKUP_ALPHABET", "MAX_NAME", "MAX_NOTE", "NORMAL_PATH", "OVERDUE_WITHIN_DAYS", "QR_PREFIX",
    "RECORD_FIELDS", "SIG_LENGTH", "STATUSES", "TIMELINESS", "UPDATE_FIELDS", "Apology",
    "Dossier", "DossierCode", "DossierError", "DossierStore", "ImportReport", "OverdueDossier",
    "RowError", "Step", "Timeliness", "Update", "apology_texts", "check_update",
    "clock_stopped_at", "counter_code", "create_tables", "dossier_from_record", "lookup_code", "mask_name",
    "overdue", "parse_code", "parse_date", "parse_datetime", "public_view", "qr_text",
    "read_records", "scrub", "steps_to_come", "timeliness", "verified_code", "verify_lookup",
    "verify_qr",
]

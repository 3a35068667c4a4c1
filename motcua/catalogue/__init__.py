"""The procedure catalogue (thủ tục hành chính): store, import, search.

The centre's database and each kiosk's local copy hold the same tables. One
module per concern; every name is importable from here:

| module | what |
|---|---|
| `records` | Procedure, Channel, Document and the record validator (`Procedure.from_dict`) |
| `importers` | a JSON or CSV file read into numbered records; the import report |
| `schema` | the tables, FTS5 indexes and triggers (a step of motcua.migrations), folded search rows |
| `search` | the search as a citizen types: tiers, candidates, hits |
| `storage` | `Catalogue`: put, replace_all, import_file, get, export, version, search |
"""
from .importers import ImportProblem, ImportReport, read_file
from .records import (CHANNEL_KEYS, CHANNELS, CODE_RE, COPY_KINDS, DOCUMENT_KEYS, LEVELS,
                      ONLINE_LEVELS, PROCEDURE_KEYS, REQUIRED_KEYS, CatalogueError, Channel,
                      Document, Procedure, ProcedureError)
from .schema import (FOLD_VERSION, LABEL_COLUMNS, META, NAME_COLUMNS, NAMES_FTS, SEARCH_COLUMNS,
                     TABLE, TEXT_FTS, create_tables)
from .search import (ABBREVIATIONS, CANDIDATE_CAP, SCORE_STEP, TEXT_CANDIDATE_CAP, TIER_ANYWHERE,
                     TIER_CODE, TIER_DOCUMENTS, TIER_LABEL, TIER_NAME, TIER_NAME_ORDER,
                     TIER_STARTS, Hit)
from .storage import OPTIMIZE_AFTER, Catalogue

__all__ = [
    "ABBREVIATIONS", "CANDIDATE_CAP", "CHANNELS", "CHANNEL_KEYS", "CODE_RE", "COPY_KINDS",
    "DOCUMENT_KEYS", "FOLD_VERSION", "LABEL_COLUMNS", "LEVELS", "META", "NAMES_FTS",
    "NAME_COLUMNS", "ONLINE_LEVELS", "OPTIMIZE_AFTER", "PROCEDURE_KEYS", "REQUIRED_KEYS",
    "SCORE_STEP", "SEARCH_COLUMNS", "TABLE", "TEXT_CANDIDATE_CAP", "TEXT_FTS", "TIER_ANYWHERE",
    "TIER_CODE", "TIER_DOCUMENTS", "TIER_LABEL", "TIER_NAME", "TIER_NAME_ORDER", "TIER_STARTS",
    "Catalogue", "CatalogueError", "Channel", "Document", "Hit", "ImportProblem", "ImportReport",
    "Procedure", "ProcedureError", "create_tables", "read_file",
]

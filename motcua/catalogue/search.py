"""Searching the catalogue as a citizen types.

Text is compared folded (`vntext.fold`: no case, no diacritics, đ → d) on both
sides, because FTS5's unicode61 tokenizer does not fold đ and mangles letters
with two marks; so NFC or NFD input and old or new tone placement (hòa / hoà)
all match. Every query word matches as a prefix (the last one is still being
typed). Hits come in tiers, best first, each ordered by name length (every
candidate of a tier holds every word, so the shortest name is the closest
match; codes in code order):

    7 the code starts with the query (1.0011 → 1.001193; a provincial code
      2.000815.000.00.00.H38 also finds 2.000815)
    6 the name starts with the query
    5 the name holds the words in the order typed
    4 the name holds every word
    3 name, code, field and agency together hold every word
    2 the documents hold every word
    1 every word somewhere (steps, conditions, result, fees, legal basis)

A tier looks at most at the first CANDIDATE_CAP matches FTS5 yields (in rowid
order), which keeps every keystroke within a few milliseconds on 20,000
procedures. Rows are stored shortest name first, so these are the shortest
matching names; procedures added later by a small `put` or import go after the
others, so a vague query may rank them lower until the whole catalogue is
imported again or swapped by `replace_all`. While
typing, a keystroke that only narrows the previous one filters that one's
candidates instead of asking FTS5 again (see `Search`).
`Hit.score // SCORE_STEP` is the tier, and `Hit.matched_in` names the columns
holding every word (or, when the words are spread, any of them).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from ..vntext import fold
from .schema import LABEL_COLUMNS, NAMES_FTS, SEARCH_COLUMNS, TABLE, TEXT_FTS

# What a person typing a procedure code looks like: digits and dots (1.001193,
# 2.000815.000.00.00.H38) — then the code column is searched first.
_CODE_QUERY = re.compile(r"^\s*(\d+(?:\.[0-9A-Za-z.]*)?)\s*$")

# A MATCH yields at most this many candidates to rank (the cost of a
# keystroke grows with it). FTS5 yields rowids in order, and rowids are given
# shortest name first (`schema.in_search_order`), so these are the shortest names
# matching: the ones ranked first anyway.
CANDIDATE_CAP = 50
TEXT_CANDIDATE_CAP = 50     # documents and "anywhere"
# Search tiers, best first; Hit.score // SCORE_STEP is the tier.
TIER_CODE = 7          # the code starts with the query (1.0011 → 1.001193)
TIER_STARTS = 6        # the name starts with the query
TIER_NAME_ORDER = 5    # the name holds the words in the order typed
TIER_NAME = 4          # the name holds every word
TIER_LABEL = 3         # name, code, field and agency together hold every word
TIER_DOCUMENTS = 2     # the documents hold every word
TIER_ANYWHERE = 1      # every word somewhere (steps, conditions, result, fees…)
SCORE_STEP = 1_000_000

# Abbreviations people type at a kiosk. None of them is the start of a
# Vietnamese syllable, so expanding them never hides a real prefix match.
ABBREVIATIONS = {
    "dk": "dang ky",
    "dkkd": "dang ky kinh doanh",
    "gcn": "giay chung nhan",
    "gp": "giay phep",
    "gpxd": "giay phep xay dung",
    "xd": "xay dung",
    "qsdd": "quyen su dung dat",
    "hkd": "ho kinh doanh",
    "lltp": "ly lich tu phap",
    "tthn": "tinh trang hon nhan",
    "btxh": "bao tro xa hoi",
}



@dataclass(frozen=True)
class Hit:
    code: str
    name: str
    field: str
    score: float                       # larger is better; hits come sorted by it
    matched_in: tuple[str, ...]        # the columns holding every word (else any): code,
                                       # name, field, agency, documents, steps, other
    tier: int = 0                      # TIER_CODE … TIER_ANYWHERE: why it was found



@dataclass(frozen=True)
class Recent:
    """One tier's candidates for a search, kept for the next keystroke."""
    words: tuple[str, ...]
    field: str | None
    stamp: tuple[int, int]       # (PRAGMA data_version, connection's total_changes)
    rows: list
    complete: bool               # FTS5 found them all (fewer than the cap)

    def narrowed_by(self, words: tuple[str, ...], field: str | None, stamp) -> bool:
        """Whether every match of `words` is among these rows: the catalogue
        has not changed, and each word only lengthens or adds to the previous
        ones (AND of prefixes), as typing does."""
        return (self.complete and stamp == self.stamp and field == self.field
                and len(words) >= len(self.words)
                and all(new.startswith(old) for old, new in zip(self.words, words)))


class Search:
    """One search: runs the tiers in order until `limit` hits are found.

    No bm25: FTS5 computes its IDF by scanning the whole doclist of every query
    word, about 16 ms for common words over 20,000 procedures, whatever the
    number of hits. Instead a search is at most a few cheap statements: an
    index range for the code and the name's start, one MATCH on the names
    index (name, code, field, agency) whose candidates are sorted into tiers 5
    to 3 here, and one on everything for tiers 2 and 1; the first `cap` rowids
    of each, ordered by name length (within a tier every candidate holds every
    word, so the shortest name is the closest match).

    Typing narrows: when a keystroke only lengthens the last word or adds one,
    and the catalogue has not changed, the names tiers' candidates are those
    of the previous keystroke that hold the words, without a MATCH. Whether a
    text holds a word is `" " + word in " " + text` on the folded text:
    several times faster than a regular expression, or SQLite's instr, over
    long documents.
    """

    def __init__(self, db: sqlite_utils.Database, limit: int, field: str | None,
                 recent: dict[str, Recent] | None = None):
        self.db, self.limit, self.field = db, limit, field
        self.recent = {} if recent is None else recent
        self.stamp = (0, 0)
        self.hits: dict[int, int] = {}      # rowid -> tier, in rank order
        self.words: list[str] = []
        self.params: dict[str, Any] = {}
        self.spaced: list[str] = []

    def run(self, query: str) -> list[Hit]:
        self.words = list(dict.fromkeys(w for word in fold(query).split()
                                        for w in ABBREVIATIONS.get(word, word).split()))
        if not self.words or self.limit <= 0:
            return []
        self.spaced = [" " + w for w in self.words]
        # Writes through this connection move total_changes; other connections'
        # commits move data_version. Either makes the kept candidates stale.
        self.stamp = (self.db.execute("PRAGMA data_version").fetchone()[0],
                      self.db.conn.total_changes)
        self.params = {"field": self.field, "n": self.limit, "cap": CANDIDATE_CAP}
        in_field = " AND field = :field" if self.field is not None else ""
        code = _CODE_QUERY.match(query)
        if code:
            typed = code.group(1)
            # A provincial copy's code (2.000815.000.00.00.H38) also finds the
            # national procedure it copies (2.000815).
            # Two statements: one with OR would collect and sort the whole code
            # range ("1." is a third of the catalogue) instead of walking the index.
            self.take(TIER_CODE, self.rowids(
                f"SELECT rowid FROM {TABLE} WHERE code >= :lo AND code < :hi{in_field} "
                f"ORDER BY code LIMIT :n", lo=typed, hi=typed + "\uffff"))
            national = ".".join(typed.split(".")[:2])
            if national != typed:
                self.take(TIER_CODE, self.rowids(
                    f"SELECT rowid FROM {TABLE} WHERE code = :national{in_field}", national=national))
        phrase = " ".join(self.words)
        if self.wanted():
            # The first `cap` names (alphabetically, by index) starting with the
            # query, shortest first: "dang k" puts Đăng ký kết hôn before Đăng ký
            # biến động quyền sử dụng đất, quyền sở hữu tài sản...
            self.take(TIER_STARTS, self.rowids(
                f"SELECT rowid FROM (SELECT rowid, s_name FROM {TABLE} WHERE s_name >= :lo "
                f"AND s_name < :hi{in_field} ORDER BY s_name LIMIT :cap) "
                f"ORDER BY length(s_name), s_name LIMIT :n", lo=phrase, hi=phrase + "\uffff"))
        all_words = " AND ".join(f'"{w}"*' for w in self.words)
        if self.wanted():
            # Every word in the name, code, field or agency together ("chung
            # thuc ban sao" is "Chứng thực", the field, + "bản sao", the name);
            # of those, the names holding every word first, and of these the
            # names holding them in the order typed. The names are picked out
            # here rather than by a MATCH on the name column (~0.3 ms each),
            # unless FTS5 stopped at the cap before finding enough of them.
            labelled = self.narrowed(
                "label", lambda row: " ".join(row[1:]),
                lambda: self.candidates(NAMES_FTS, all_words, CANDIDATE_CAP, *LABEL_COLUMNS[1:]))
            named = [row for row in labelled if self.all_in(row[1])]
            if len(labelled) >= CANDIDATE_CAP and len(named) < self.limit - len(self.hits):
                named = self.narrowed(
                    "name", lambda row: row[1],
                    lambda: self.candidates(NAMES_FTS, f"s_name : ({all_words})"))
            in_order = re.compile(r"(?:^| )" + r"\S* ".join(map(re.escape, self.words)))
            self.take(TIER_NAME_ORDER, [r for r, s_name, *_ in named if in_order.search(s_name)])
            self.take(TIER_NAME, [r for r, *_ in named])
            self.take(TIER_LABEL, [r for r, *_ in labelled])
        if self.wanted():
            # Everywhere else; those whose documents hold every word first
            # ("giay chung sinh" → the procedures asking for a Giấy chứng sinh).
            # Sorted here rather than by a second MATCH on the documents column:
            # a MATCH that finds little reads its words' whole doclists (~3 ms).
            rest = [row for row in self.candidates(TEXT_FTS, all_words, TEXT_CANDIDATE_CAP,
                                                   "s_documents") if row[0] not in self.hits]
            self.take(TIER_DOCUMENTS, [r for r, _, documents in rest if self.all_in(documents)])
            self.take(TIER_ANYWHERE, [r for r, *_ in rest])
        return self.results()

    def narrowed(self, tier: str, text, fetch, cap: int = CANDIDATE_CAP) -> list[tuple]:
        """A tier's candidates: while typing, those of the previous keystroke
        holding the words (in `text(row)`), without asking FTS5 again; else
        fetched."""
        words = tuple(self.words)
        recent = self.recent.get(tier)
        if recent is not None and recent.narrowed_by(words, self.field, self.stamp):
            rows = [row for row in recent.rows if self.all_in(text(row))]
            complete = True
        else:
            rows = fetch()
            complete = len(rows) < cap
        self.recent[tier] = Recent(words, self.field, self.stamp, rows, complete)
        return rows

    def all_in(self, text: str) -> bool:
        """Whether every query word starts a word of the folded `text`."""
        return all(map((" " + text).__contains__, self.spaced))

    def wanted(self) -> bool:
        return len(self.hits) < self.limit

    def take(self, tier: int, rowids: list[int]) -> None:
        for rowid in rowids:
            if not self.wanted():
                return
            self.hits.setdefault(rowid, tier)

    def rowids(self, sql: str, **params) -> list[int]:
        return [r[0] for r in self.db.execute(sql, {**self.params, **params})]

    def candidates(self, fts: str, match: str, cap: int = CANDIDATE_CAP,
                   *columns: str) -> list[tuple]:
        """(rowid, folded name, *columns) of up to `cap` matches, shortest name
        first. FTS5 yields rowids in order and stops at the cap, so a vague
        query costs no more than a precise one. Sorted here: an ORDER BY in
        SQLite copies every row into a sorter, and costs more than the MATCH."""
        inner = f"SELECT rowid FROM {fts} WHERE {fts} MATCH :match"
        where = (f"rowid IN ({inner} LIMIT :cap)" if self.field is None
                 else f"rowid IN ({inner}) AND field = :field LIMIT :cap")
        rows = self.db.execute(
            f"SELECT rowid, s_name{''.join(', ' + c for c in columns)} FROM {TABLE} WHERE {where}",
            {**self.params, "match": match, "cap": cap}).fetchall()
        rows.sort(key=lambda row: (len(row[1]), row[1]))
        return rows

    def results(self) -> list[Hit]:
        """One read of the chosen rows; the score puts the tier first, then rank."""
        if not self.hits:
            return []
        cols = ", ".join(c for c, _, _ in SEARCH_COLUMNS)
        rows = {r[0]: r for r in self.db.execute(
            f"SELECT rowid, code, name, field, {cols} FROM {TABLE} "
            f"WHERE rowid IN ({','.join(map(str, self.hits))})")}
        everything, spaced = len(self.words), self.spaced
        labels = [label for _, label, _ in SEARCH_COLUMNS]
        out = []
        for rank, (rowid, tier) in enumerate(self.hits.items()):
            row = rows[rowid]
            # How many of the words each column holds.
            found = [(label, sum(map((" " + text).__contains__, spaced)))
                     for label, text in zip(labels, row[4:])]
            # The columns holding every word; when the words are spread over
            # several columns, those holding any.
            matched = (tuple(label for label, n in found if n == everything)
                       or tuple(label for label, n in found if n))
            if tier == TIER_CODE and "code" not in matched:
                matched = ("code",) + matched
            out.append(Hit(row[1], row[2], row[3], tier * SCORE_STEP + SCORE_STEP - 1 - rank,
                           matched, tier))
        return out

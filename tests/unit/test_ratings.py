"""The rating binding rules (motcua/ratings.py) and their tables in the store."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from motcua.hardware import padproto as pp
from motcua import ratings as rt
from motcua.config import RatingLevel, load_site
from motcua.engine import Ticket
from motcua.store import Store

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 23, 3, 15, 42, tzinfo=timezone.utc)
LEVELS = (RatingLevel("a", "A", "A", 100), RatingLevel("b", "B", "B", 66.7),
          RatingLevel("c", "C", "C", 33.3), RatingLevel("d", "D", "D", 0))


def prompt(counter=1, ticket_id=7, timeout=60) -> rt.Prompt:
    t = Ticket(id=ticket_id, day="2026-11-23", service="HT", number=1007, label="1007", priority=None,
               state="done", issued_at="", order_at="")
    return rt.open_prompt({"counter": counter, "officer": "nguyenvana"}, t, T0, timeout)


def incoming(prompt_id="T7.11742", level=1, pressed=T0 + timedelta(seconds=5), seq=3) -> rt.IncomingRating:
    return rt.parse_rating({"rating": f"PAD-1:4:{seq}", "pad": "PAD-1", "boot": 4, "seq": seq,
                            "level": level, "prompt": prompt_id, "pressed_at": pressed.isoformat()}, 4)


def test_prompt_ids_fit_the_pads_id_field():
    p = prompt(ticket_id=4294967295)
    assert len(p.id) <= pp.MAX_ID
    pp.Prompt(p.id, 4, 60)  # the pad protocol accepts it
    assert prompt().id == "T7.11742" and p.expires_at == T0 + timedelta(seconds=60)


@pytest.mark.parametrize("counter, prompt_id, pressed_s, rated, status", [
    (1, "T7.11742", 5, False, rt.COUNTED),
    (1, "T7.11742", 61, False, rt.COUNTED),      # within the grace after expiry
    (1, "T7.11742", 63, False, rt.UNPROMPTED),   # after expiry + grace
    (1, "T7.11742", 5, True, rt.DUPLICATE),      # the ticket already has its rating
    (2, "T7.11742", 5, False, rt.UNPROMPTED),    # another counter's prompt
    (1, None, 5, False, rt.UNPROMPTED),          # no prompt on the pad
])
def test_bind(counter, prompt_id, pressed_s, rated, status):
    r = incoming(prompt_id, pressed=T0 + timedelta(seconds=pressed_s))
    assert rt.bind(r, counter, prompt() if prompt_id else None, rated) == status


def test_an_unknown_prompt_is_unprompted():
    assert rt.bind(incoming("T99.1"), 1, None, False) == rt.UNPROMPTED


@pytest.mark.parametrize("change", [
    {"rating": "PAD-1:4:99"}, {"level": 5}, {"level": 0}, {"level": True}, {"prompt": "no spaces"},
    {"pressed_at": "yesterday"}, {"pressed_at": "2026-11-23T10:00:00"}, {"boot": "4"}, {"pad": None},
])
def test_bad_rating_payloads_are_refused(change):
    data = {"rating": "PAD-1:4:3", "pad": "PAD-1", "boot": 4, "seq": 3, "level": 1, "prompt": None,
            "pressed_at": T0.isoformat(), **change}
    with pytest.raises(rt.RatingError):
        rt.parse_rating(data, 4)


def test_row_keeps_no_citizen_data_and_binds_only_counted_and_duplicates():
    row = rt.rating_row(incoming(), 1, rt.COUNTED, prompt(), LEVELS, T0, "2026-11-23", 10)
    assert (row["ticket"], row["officer"], row["service"], row["weight"]) == ("1007", "nguyenvana", "HT", 100)
    loose = rt.rating_row(incoming(None), 1, rt.UNPROMPTED, None, LEVELS, T0, "2026-11-23", 10)
    assert loose["ticket"] is None and loose["officer"] is None
    assert not {"name", "phone", "citizen"} & set(row)


def test_tally_is_the_weighted_mean_of_counted_presses_only():
    # field notes: 126, 60, 16, 17 presses on a 100/66.7/33.3/0 scale give an index of 78
    rows = []
    for level, n in zip((1, 2, 3, 4), (126, 60, 16, 17)):
        rows += [{"status": "counted", "counter": 1 + n % 2, "officer": "a", "service": "HT", "hour": 9,
                  "level": level, "weight": LEVELS[level - 1].weight}] * n
    rows += [{"status": "unprompted", "counter": 1, "officer": None, "service": None, "hour": 9,
              "level": 4, "weight": 0}] * 50
    rows += [{"status": "duplicate", "counter": 1, "officer": "a", "service": "HT", "hour": 9,
              "level": 4, "weight": 0}] * 3
    t = rt.tally(rows, LEVELS, "2026-11-23")
    assert round(t["index"]) == 78
    assert (t["counted"], t["unprompted"], t["duplicate"]) == (219, 50, 3)
    assert t["by_officer"]["a"]["levels"] == [126, 60, 16, 17]
    assert t["by_hour"]["09"]["count"] == 219
    assert sum(b["count"] for b in t["by_counter"].values()) == 219


def test_store_migrates_a_version_1_database_and_refuses_a_second_counted_rating(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    import sqlite_utils
    from motcua.store import MIGRATIONS
    MIGRATIONS[1](sqlite_utils.Database(db))
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    store = Store(path)
    assert store.version >= 2  # and any later migration (3: report indexes)
    row = rt.rating_row(incoming(), 1, rt.COUNTED, prompt(), LEVELS, T0, "2026-11-23", 10)
    from motcua.engine import Changes
    store.commit([], Changes(), ratings=[row], prompts=[prompt().as_row()])
    for again in ({**row, "level": 4, "status": "duplicate", "ticket_id": None},   # the same id
                  {**row, "rating_id": "PAD-1:4:4", "seq": 4}):                     # counted twice
        with pytest.raises(sqlite3.IntegrityError):
            store.commit([], Changes(), ratings=[again])
    assert store.rating(row["rating_id"])["level"] == 1
    assert store.db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 1
    assert store.ticket_rated(7) and store.open_prompts()[0]["id"] == prompt().id
    store.close()


def test_the_sample_site_has_a_prompt_timeout_by_default():
    site = load_site(ROOT / "examples" / "site.toml")
    assert site.rating_prompt_timeout_s == rt.DEFAULT_PROMPT_TIMEOUT_S == 60

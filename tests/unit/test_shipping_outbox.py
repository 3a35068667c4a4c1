"""The outbox (migration 8, motcua.shipping.outbox): every record of the shipped
tables in it, in commit order with no gap, built by SQLite in the same
transaction; never a citizen's name, ID number, documents or free text, never
an officer's PIN hash; the history copied in when an older database is
migrated; the site's description recorded when it changed. Real SQLite files."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import sqlite_utils

from motcua import officers as of
from motcua.config import load_site
from motcua.dossiers import DossierStore
from motcua.engine import Changes, Engine, QueueState
from motcua.migrations import CENTRE
from motcua.shipping import outbox
from motcua.store import Store
from support.broker import EXAMPLE, ROOT
from support.centre_db import database_at_version

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
DOSSIERS = ROOT / "examples" / "dossiers.json"


@pytest.fixture
def site():
    return load_site(EXAMPLE)


def outbox_rows(db) -> list[tuple[int, str, dict]]:
    return [(seq, kind, json.loads(body)) for seq, kind, body in
            db.execute("SELECT seq, kind, body FROM outbox ORDER BY seq").fetchall()]


def rating(n: int, ticket: dict, status: str = "counted", dossiers=None) -> dict:
    return {"rating_id": f"pad-1:1:{n}", "pad": "pad-1", "boot": 1, "seq": n, "counter": 1, "prompt": f"T{n}",
            "status": status, "ticket_id": ticket["id"], "ticket": ticket["label"], "officer": "nguyenvana",
            "service": ticket["service"], "level": 2, "level_code": "hai_long", "weight": 66.7,
            "pressed_at": "2026-11-23T02:10:00.000+00:00", "received_at": "2026-11-23T02:10:00.040+00:00",
            "day": "2026-11-23", "hour": 9, "dossiers": None if dossiers is None else json.dumps(dossiers)}


def a_morning(site, store: Store) -> None:
    """What a centre's database holds after a morning: queue work, an officer with a
    PIN, ratings, dossiers imported with names, ID numbers, documents and notes, an
    update with a note, an apology with a reason, a dossier attached to a ticket."""
    engine = Engine(site, store.load_state())
    now = NOW
    store.commit([], Changes(), officers=[of.new_officer("nguyenvana", "Nguyễn Văn A", "2580", now).as_row()])
    store.commit(*engine.sign_in(1, "nguyenvana", now))
    for i in range(6):
        now += timedelta(seconds=20)
        store.commit(*engine.issue("HT", now))
    for _ in range(3):
        now += timedelta(minutes=1)
        store.commit(*engine.call_next(1, now))
        store.commit(*engine.start(1, now))
        store.commit(*engine.done(1, now))
    store.commit(*engine.pause(1, "Họp giao ban", now, public=True))
    tickets = list(store.db.query("SELECT * FROM tickets WHERE state = 'done' ORDER BY id"))
    store.commit([], Changes(), ratings=[rating(1, tickets[0], dossiers=["000.00.31.H12-261123-0001"]),
                                         rating(2, tickets[1], "unprompted")])
    dossiers = DossierStore(store.db, site.dossiers, site.timezone)
    report = dossiers.import_file(DOSSIERS)
    assert not report.errors
    dossiers.apply_update({"code": "000.00.31.H12-261123-0001", "status": "processing",
                           "at": "2026-11-23T10:00:00+07:00",
                           "note": "Đã gọi điện cho bà Trần Thị Mai, số 0912345678"})
    dossiers.apologise("000.00.31.H12-261117-0005", "Chờ ông Phạm Văn Bình bổ sung giấy tờ",
                       "2026-12-15", NOW)
    with store.db.atomic():
        store.db.execute("INSERT INTO ticket_dossiers(ticket_id, code, procedure_code, counter, officer, "
                         "attached_at) VALUES (?, ?, ?, ?, ?, ?)",
                         [tickets[0]["id"], "000.00.31.H12-261123-0001", "1.001193", 1, "nguyenvana",
                          "2026-11-23T02:05:00.000+00:00"])


def secrets_of_citizens() -> list[str]:
    """Every name, ID number, document and note of the sample dossiers, and the
    free text this test writes: none may ever be shipped."""
    found = []
    for d in json.loads(DOSSIERS.read_text(encoding="utf-8")):
        found.append(d["applicant_name"])
        found += [str(d[k]) for k in ("applicant_id", "cccd", "id_number") if d.get(k)]
        found += list(d.get("documents", []))
        found += [s["note"] for s in d.get("steps", []) if s.get("note")]
        if d.get("apology"):
            found.append(d["apology"]["reason"])
    found += ["Trần Thị Mai", "0912345678", "Phạm Văn Bình", "Chờ ông Phạm Văn Bình bổ sung giấy tờ"]
    return [f for f in found if f]


def test_every_record_is_in_the_outbox_once_in_order_and_nothing_names_a_citizen(site, tmp_path):
    store = Store(tmp_path / "centre.db")
    a_morning(site, store)
    outbox.record_site(store.db, site)
    rows = outbox_rows(store.db)
    # the centre's sequence: 1, 2, 3 … with no gap
    assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1))
    text = "\n".join(body for (body,) in store.db.execute("SELECT body FROM outbox"))
    secrets = secrets_of_citizens()
    assert len(secrets) > 30
    leaked = [s for s in secrets if s in text]
    assert not leaked, leaked
    assert "Đăng ký khai sinh" in text  # (the search does find Vietnamese text: SQLite keeps it as is)
    pin_hash = store.officer("nguyenvana")["pin_hash"]
    assert pin_hash.split("$")[-1] not in text and "pin_hash" not in text and "2580" not in text
    for _, kind, body in rows:
        assert not {"applicant_name", "documents", "note", "reason"} & set(body), (kind, body)
    # each table's rows are in the outbox: the last record of each key is the row as it is now
    db = store.db
    by_kind: dict[str, list[dict]] = {}
    for _, kind, body in rows:
        by_kind.setdefault(kind, []).append(body)
    assert [b["seq"] for b in by_kind["event"]] == [r[0] for r in db.execute("SELECT seq FROM events ORDER BY seq")]
    assert by_kind["event"][-1]["data"] == json.loads(db.execute(
        "SELECT data FROM events ORDER BY seq DESC LIMIT 1").fetchone()[0])  # parsed, not a string
    shipped = {s.table: ", ".join(s.columns) for s in outbox.SOURCES}
    last = {b["id"]: b for b in by_kind["ticket"]}
    assert last == {r["id"]: r for r in db.query(f"SELECT {shipped['tickets']} FROM tickets")}
    last = {b["number"]: b for b in by_kind["counter"]}
    assert last == {r["number"]: r for r in db.query(f"SELECT {shipped['counters']} FROM counters")}
    shipped_ratings = {b["rating_id"]: b for b in by_kind["rating"]}
    assert shipped_ratings["pad-1:1:1"]["dossiers"] == ["000.00.31.H12-261123-0001"]  # parsed
    assert len(shipped_ratings) == db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 2
    last = {b["code"]: b for b in by_kind["dossier"]}
    assert last == {r["code"]: r for r in db.query(
        "SELECT code, procedure_code, procedure_name, field, received_at, due_at, status FROM dossiers")}
    assert {b["code"] for b in by_kind["apology"]} == {r[0] for r in db.execute("SELECT code FROM dossier_apologies")}
    assert by_kind["ticket_dossier"] == list(db.query("SELECT * FROM ticket_dossiers"))
    # a dossier's steps: the step records after its latest dossier record
    code = "000.00.31.H12-261123-0001"
    latest = max(seq for seq, kind, b in rows if kind == "dossier" and b["code"] == code)
    steps = [(b["seq"], b["step"], b["at"]) for seq, kind, b in rows
             if kind == "dossier_step" and b["code"] == code and seq > latest]
    assert steps == [tuple(r) for r in db.execute("SELECT seq, step, at FROM dossier_steps WHERE code = ? "
                                                   "ORDER BY seq", [code])]
    assert len(steps) == 2
    assert by_kind["site"][0]["id"] == site.id
    store.close()


def test_a_rolled_back_transaction_leaves_no_gap(site, tmp_path):
    store = Store(tmp_path / "centre.db")
    engine = Engine(site, store.load_state())
    store.commit(*engine.sign_in(1, "a", NOW))
    before = store.db.execute("SELECT max(seq) FROM outbox").fetchone()[0]
    with pytest.raises(sqlite3.IntegrityError):
        with store.db.atomic():
            store.db.execute("INSERT INTO events(at, type, data) VALUES ('x', 'test', '{}')")
            store.db.execute("INSERT INTO tickets(id) VALUES (NULL)")  # NOT NULL columns: refused
    assert store.db.execute("SELECT max(seq) FROM outbox").fetchone()[0] == before
    store.commit(*engine.issue("HT", NOW))
    seqs = [r[0] for r in store.db.execute("SELECT seq FROM outbox ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1)) and seqs[-1] > before
    store.close()


def test_an_event_whose_data_is_not_json_is_shipped_as_text_and_never_fails_the_centre(tmp_path):
    store = Store(tmp_path / "centre.db")
    with store.db.atomic():
        store.db.execute("INSERT INTO events(at, type, data) VALUES ('2026-11-23T02:00:00.000+00:00', 'x', "
                         "'not json {')")
    [(_, kind, body)] = outbox_rows(store.db)
    assert kind == "event" and body["data"] == "not json {"
    store.close()


def test_every_column_of_a_shipped_table_is_shipped_or_left_out_on_purpose(tmp_path):
    """A later migration that adds a column to a shipped table fails here until it
    says whether the province gets it (and makes that table's triggers again)."""
    store = Store(tmp_path / "centre.db")
    tables = set(store.db.table_names())
    for s in outbox.SOURCES:
        columns = set(store.db[s.table].columns_dict)
        assert columns == set(s.columns) | set(s.left_out), (s.table, columns ^ (set(s.columns) | set(s.left_out)))
        assert not set(s.columns) & set(s.left_out)
    shipped = {s.table for s in outbox.SOURCES}
    others = {t for t in tables - shipped - set(outbox.NOT_SHIPPED) - {"outbox", "sqlite_sequence"}
              if not t.startswith("catalogue_")}
    assert not others, f"tables neither shipped nor listed as never shipped: {others}"
    # the citizen's name and the officers' PIN hashes are never among the shipped columns
    assert "applicant_name" not in outbox.SOURCES[[s.table for s in outbox.SOURCES].index("dossiers")].columns
    assert "officers" in outbox.NOT_SHIPPED and "officers" not in shipped
    names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                            "AND name LIKE 'outbox_%'")}
    assert names == {n for n, _ in outbox.triggers()}
    store.close()


def test_migrating_an_older_database_copies_its_history_into_the_outbox(site, tmp_path):
    path = tmp_path / "centre.db"
    db = database_at_version(path, 7)
    # its rows, written by the code of then (no triggers)
    old = Store.__new__(Store)
    old.db, old._upsert_sql, old._since_checkpoint, old.path = db, {}, 0, path
    # the code of then wrote only the columns its tables had (migration 9 came later)
    columns = {t: set(db[t].columns_dict) for t in db.table_names()}
    old._upsert = lambda table, rows, pk: Store._upsert(
        old, table, [{k: v for k, v in r.items() if k in columns[table]} for r in rows], pk)
    old.load_state = lambda window=20: QueueState()
    a_morning(site, old)
    counts = {s.kind: db.execute(f"SELECT count(*) FROM {s.table}").fetchone()[0] for s in outbox.SOURCES_8}
    assert "outbox" not in db.table_names()
    db.conn.close()
    store = Store(path)                  # opens and migrates it
    assert store.version == CENTRE.version
    rows = outbox_rows(store.db)
    assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1))
    got = {}
    for _, kind, _ in rows:
        got[kind] = got.get(kind, 0) + 1
    # one record per row, nothing else; and the counters once more, by migration 10 (issue 14: their
    # booking_run), which copies no walk-in ticket again (its new columns are empty)
    assert got == {k: n * (2 if k == "counter" else 1) for k, n in counts.items() if n}
    kinds = [kind for _, kind, _ in rows]
    assert kinds.index("dossier_step") > kinds.index("dossier")  # steps after their dossiers
    assert not [s for s in secrets_of_citizens() if s in json.dumps([b for _, _, b in rows], ensure_ascii=False)]
    # and from now on each new record follows, by trigger
    engine = Engine(site, store.load_state())
    store.commit(*engine.issue("HT", NOW + timedelta(hours=1)))
    new = outbox_rows(store.db)[len(rows):]
    assert [k for _, k, _ in new] == ["event", "ticket"] and new[0][0] == len(rows) + 1
    store.close()


def test_the_site_is_recorded_when_its_description_changed(site, tmp_path):
    store = Store(tmp_path / "centre.db")
    assert outbox.record_site(store.db, site)
    assert not outbox.record_site(store.db, site)       # the same again: nothing
    renamed = replace(site, name="Phường Thuận Hóa")
    assert outbox.record_site(store.db, renamed)
    assert not outbox.record_site(store.db, renamed)
    sites = [b for _, kind, b in outbox_rows(store.db) if kind == "site"]
    assert [s["name"] for s in sites] == [site.name, "Phường Thuận Hóa"]
    body = sites[0]
    assert {"id", "name", "timezone", "services", "counters", "rating_levels"} <= set(body)
    assert [c["number"] for c in body["counters"]] == [c.number for c in site.counters]
    text = json.dumps(sites, ensure_ascii=False)
    for secret in [d.password for d in site.devices] + [site.kiosk.admin_pin, site.dossiers.secret]:
        assert secret not in text
    store.close()


def test_the_centre_records_its_site_at_start(site, workdir):
    """CentreService writes the site record before it takes any request (and only
    once for an unchanged site file)."""
    from motcua.service import CentreService
    from support.broker import write_site
    from motcua.config import load_site as load
    s = load(write_site(workdir, 1))   # no broker needed: the service is not started
    for _ in range(2):
        c = CentreService(s)
        c.store.close()
        c._lock_file.close()
    db = sqlite_utils.Database(s.database)
    assert [k for (k,) in db.execute("SELECT kind FROM outbox WHERE kind = 'site'")] == ["site"]


PHONES = ("0912345678", "0987654321", "0355000111", "0706222333")


def a_morning_from_afar(site, store: Store, now=NOW) -> None:
    """Numbers from afar and bookings (issue 14): a number taken and checked in, two
    bookings for today (one checked in), two for tomorrow (one cancelled), two served."""
    engine = Engine(site, store.load_state())
    store.commit(*engine.sign_in(1, "nguyenvana", now))                               # Monday 09:00 local
    store.commit(*engine.reserve("HT", "0912 345 678", now, device="web"))            # a number from afar
    store.commit(*engine.create_booking("HT", "2026-11-23", "09:30", "+84 987 654 321", now, device="web"))
    store.commit(*engine.create_booking("HT", "2026-11-24", "08:00", "0355000111", now, device="web"))
    store.commit(*engine.create_booking("HT", "2026-11-24", "08:30", "0706222333", now, device="web"))
    store.commit(*engine.cancel_booking(3, now))
    store.commit(*engine.check_in("1001", now + timedelta(minutes=5)))
    store.commit(*engine.check_in_booking(1, now + timedelta(minutes=20), device="kiosk-1"))
    for i in range(2):
        store.commit(*engine.call_next(1, now + timedelta(minutes=30 + i)))
        store.commit(*engine.done(1, now + timedelta(minutes=31 + i)))


def assert_no_phone(rows) -> None:
    text = json.dumps([b for _, _, b in rows], ensure_ascii=False)
    for phone in PHONES:
        assert phone not in text and phone[1:] not in text, phone   # nor as +84…
    assert not any("phone" in b for _, _, b in rows)


def latest(rows, kind: str, key: str) -> dict:
    return {b[key]: b for _, k, b in rows if k == kind}


def test_bookings_and_the_new_ticket_columns_are_shipped_never_a_phone(site, tmp_path):
    """Issue 14: the phone is the one personal datum a centre keeps; the outbox never
    holds it. The bookings (kind `booking`) and the tickets' origin, booking and
    check-in are shipped (migration 10), so the province counts what the centre does."""
    store = Store(tmp_path / "centre.db")
    a_morning_from_afar(site, store)
    rows = outbox_rows(store.db)
    assert_no_phone(rows)
    kinds = {k for _, k, _ in rows}
    assert not kinds - set(outbox.KINDS) and "booking" in kinds
    types = [b["type"] for _, k, b in rows if k == "event"]
    assert {"ticket_reserved", "ticket_checked_in", "booking_created", "booking_cancelled",
            "booking_checked_in"} <= set(types)
    # the latest record of each key is the row as it is now, every column shipped
    db = store.db
    assert latest(rows, "booking", "id") == {r["id"]: r for r in db.query("SELECT * FROM bookings")}
    assert latest(rows, "ticket", "id") == {r["id"]: r for r in db.query("SELECT * FROM tickets")}
    assert latest(rows, "counter", "number") == {r["number"]: r for r in db.query("SELECT * FROM counters")}
    assert {b["state"] for b in latest(rows, "booking", "id").values()} == {"checked_in", "booked", "cancelled"}
    assert {(t["origin"], t["booking"]) for t in latest(rows, "ticket", "id").values()} == {
        ("remote", None), ("booking", 1)}
    assert all(t["checked_in_at"] for t in latest(rows, "ticket", "id").values())
    # the two served are gone from `phones`; the booking of tomorrow still holds its own
    assert store.db.execute("SELECT kind, ref, phone FROM phones").fetchall() == [("booking", 2, "0355000111")]
    store.close()


def test_migration_10_ships_the_bookings_and_origins_written_before_it_once(site, tmp_path):
    """A centre that took numbers from afar and bookings under schema 9 (nothing of
    them shipped but their events): migration 10 copies in every booking, every
    counter and the tickets that came from afar or from a booking, never a walk-in's
    again and never a phone; then the new triggers ship what follows."""
    path = tmp_path / "centre.db"
    database_at_version(path, 9).conn.close()
    old = Store.__new__(Store)                      # the code of then: the store writing into version 9
    old.db, old._upsert_sql, old._since_checkpoint, old.path = sqlite_utils.Database(path), {}, 0, path
    a_morning_from_afar(site, old)
    engine = Engine(site, old.load_state())
    old.commit(*engine.issue("HT", NOW + timedelta(minutes=40)))        # a walk-in
    before = outbox_rows(old.db)
    assert "booking" not in {k for _, k, _ in before}
    assert not any("origin" in b for _, k, b in before if k == "ticket")
    assert old.version == 9
    old.db.conn.close()

    store = Store(path)                               # opens and migrates it
    assert store.version == CENTRE.version
    rows = outbox_rows(store.db)
    assert rows[:len(before)] == before and [s for s, _, _ in rows] == list(range(1, len(rows) + 1))
    copied = rows[len(before):]
    db = store.db
    assert [k for _, k, _ in copied] == (["counter"] * db["counters"].count + ["ticket"] * 2
                                         + ["booking"] * db["bookings"].count)
    assert {b["origin"] for _, k, b in copied if k == "ticket"} == {"remote", "booking"}
    assert_no_phone(rows)
    # what the province now holds of each key is the row as it is (a walk-in's record of before has no
    # new columns: the hub takes them as empty, as they are)
    assert latest(rows, "booking", "id") == {r["id"]: r for r in db.query("SELECT * FROM bookings")}
    assert {i: {**dict.fromkeys(outbox.ADDED_9["tickets"]), **b} for i, b in latest(rows, "ticket", "id").items()
            } == {r["id"]: r for r in db.query("SELECT * FROM tickets")}
    assert latest(rows, "counter", "number") == {r["number"]: r for r in db.query("SELECT * FROM counters")}
    # from now on, by trigger, with the new columns
    engine = Engine(site, store.load_state())
    store.commit(*engine.cancel_booking(2, NOW + timedelta(minutes=50)))
    new = outbox_rows(store.db)[len(rows):]
    assert [k for _, k, _ in new] == ["event", "booking"] and new[1][2]["state"] == "cancelled"
    assert_no_phone(new)
    again = Store(path)                               # opening again copies nothing
    assert len(outbox_rows(again.db)) == len(rows) + 2
    again.close()
    store.close()


# -- a private pause's reason (issue 13) ---------------------------------------------------

PRIVATE, PUBLIC = "Đi khám bệnh", "Họp giao ban"


def two_pauses(site, store: Store, now=NOW) -> None:
    """Counter 1 paused for the officer's own reason (not shown to the hall),
    counter 2 for a public one."""
    engine = Engine(site, store.load_state())
    store.commit(*engine.sign_in(1, "nguyenvana", now))
    store.commit(*engine.sign_in(2, "tranthib", now))
    store.commit(*engine.pause(1, PRIVATE, now + timedelta(minutes=1)))
    store.commit(*engine.pause(2, PUBLIC, now + timedelta(minutes=2), public=True))


def pauses_shipped(rows) -> dict[int, tuple]:
    """Per counter: the reason of its latest counter record and of its latest
    counter_paused event."""
    counters = latest(rows, "counter", "number")
    events = {b["counter"]: b["data"] for _, k, b in rows if k == "event" and b["type"] == "counter_paused"}
    return {n: (counters[n]["pause_reason"], events[n]["reason"]) for n in events}


def test_a_private_pause_ships_no_reason_a_public_one_does(site, tmp_path):
    store = Store(tmp_path / "centre.db")
    two_pauses(site, store)
    rows = outbox_rows(store.db)
    assert pauses_shipped(rows) == {1: (None, None), 2: (PUBLIC, PUBLIC)}
    assert PRIVATE not in "\n".join(body for (body,) in store.db.execute("SELECT body FROM outbox"))
    # the centre itself keeps it (the officer's own screen, the centre's report)
    assert store.db.execute("SELECT pause_reason, pause_public FROM counters WHERE number = 1").fetchone() \
        == (PRIVATE, 0)
    assert latest(rows, "counter", "number")[1]["pause_public"] == 0
    store.close()


def old_store(path, version: int) -> Store:
    """The store of the code of then, writing into a file at `version` (only the
    columns its tables had)."""
    db = database_at_version(path, version)
    old = Store.__new__(Store)
    old.db, old._upsert_sql, old._since_checkpoint, old.path = db, {}, 0, path
    columns = {t: set(db[t].columns_dict) for t in db.table_names()}
    old._upsert = lambda table, rows, pk: Store._upsert(
        old, table, [{k: v for k, v in r.items() if k in columns[table]} for r in rows], pk)
    if version < 9:
        old.load_state = lambda window=20: QueueState()      # (no bookings to load then)
    return old


@pytest.mark.parametrize("version", [7, 9, 10])
def test_migration_11_scrubs_the_private_reasons_still_in_the_outbox(site, tmp_path, version):
    """Migrations 8 and 10 shipped a counter's pause_reason whatever pause_public
    said: a centre upgraded from 10, 9 (through 10's copy of every counter) or 7
    (through 8's copy of its history) keeps no private reason in its outbox, and
    its new pauses follow the new triggers."""
    path = tmp_path / "centre.db"
    old = old_store(path, version)
    two_pauses(site, old)
    text = json.dumps([b for _, _, b in outbox_rows(old.db)] if version >= 8 else [], ensure_ascii=False)
    if version >= 8:
        assert PRIVATE in text          # what the code of then put in the outbox
    old.db.conn.close()

    store = Store(path)                 # opens and migrates it
    assert store.version == CENTRE.version == 11
    rows = outbox_rows(store.db)
    assert [s for s, _, _ in rows] == list(range(1, len(rows) + 1))
    assert PRIVATE not in json.dumps([b for _, _, b in rows], ensure_ascii=False)
    assert pauses_shipped(rows) == {1: (None, None), 2: (PUBLIC, PUBLIC)}
    assert all(b["pause_reason"] in (None, PUBLIC) for _, k, b in rows if k == "counter")
    # new pauses, by the triggers of 11
    engine = Engine(site, store.load_state())
    store.commit(*engine.resume(1, NOW + timedelta(minutes=10)))
    store.commit(*engine.pause(1, "Việc riêng", NOW + timedelta(minutes=11)))
    new = outbox_rows(store.db)[len(rows):]
    assert "Việc riêng" not in json.dumps([b for _, _, b in new], ensure_ascii=False)
    assert pauses_shipped(new) == {1: (None, None)}
    again = Store(path)                 # opening again changes nothing
    assert outbox_rows(again.db) == outbox_rows(store.db)
    again.close()
    store.close()

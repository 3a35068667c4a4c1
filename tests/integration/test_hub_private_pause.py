"""A private pause's reason at the province (issue 13): a centre before its
migration 11 shipped a counter's pause_reason and the counter_paused event's
data.reason even when the officer did not make the pause public. The hub's
migration 3 scrubs what it holds of them (records, counters, events) and its
ingest stores them as null from then on; a public pause keeps its reason.
Real PostgreSQL (tests/support/postgres.py)."""
from __future__ import annotations

import json

import psycopg

from motcua.province import store as hub_store
from motcua.province.ingest import parse_batch, scrub_private_pause
from support.hub import batch_payload

PRIVATE, PUBLIC = "Đi khám bệnh", "Họp giao ban"
AT = "2026-12-07T02:00:00.000+00:00"


def counter(number: int, reason: str, public) -> dict:
    return {"number": number, "state": "paused", "officer": f"o{number}", "officer_name": None, "ticket_id": None,
            "pause_reason": reason, "pause_public": public, "priority_run": 0, "updated_at": AT, "booking_run": 0}


def paused(seq: int, number: int, reason: str, public) -> dict:
    return {"seq": seq, "at": AT, "type": "counter_paused", "ticket_id": None, "counter": number,
            "data": {"type": "counter_paused", "at": AT, "counter": number, "reason": reason, "public": public}}


# What an older centre ships: counter 1 paused privately, counter 2 publicly.
OLD_CENTRE = [("event", paused(10, 1, PRIVATE, False)), ("counter", counter(1, PRIVATE, 0)),
              ("event", paused(11, 2, PUBLIC, True)), ("counter", counter(2, PUBLIC, 1))]


def held(conn) -> dict:
    """Every reason the hub holds, where."""
    return {
        "records": conn.execute("SELECT kind, coalesce(body->>'pause_reason', body->'data'->>'reason') "
                                "FROM records ORDER BY kind, 2 NULLS FIRST").fetchall(),
        "counters": conn.execute("SELECT number, pause_reason FROM counters ORDER BY number").fetchall(),
        "events": conn.execute("SELECT counter, data->>'reason' FROM events ORDER BY counter").fetchall(),
    }


SCRUBBED = {"records": [("counter", None), ("counter", PUBLIC), ("event", None), ("event", PUBLIC)],
            "counters": [(1, None), (2, PUBLIC)], "events": [(1, None), (2, PUBLIC)]}


def test_ingest_drops_a_private_reason_from_an_older_centre(pg_database):
    payload = batch_payload("c1", 1, OLD_CENTRE)
    st = hub_store.HubStore(pg_database).open()
    st.store([parse_batch("motcua/c1/ship/batch", payload)], [payload.decode()])
    assert held(st.conn) == SCRUBBED
    dump = json.dumps(st.conn.execute("SELECT body FROM records").fetchall(), ensure_ascii=False)
    assert PRIVATE not in dump and PUBLIC in dump
    st.conn.commit()
    st.close()


def test_the_pure_rule_matches_the_stores():
    got = {(k, b.get("number") or b["counter"]): scrub_private_pause(k, b) for k, b in OLD_CENTRE}
    assert got[("counter", 1)]["pause_reason"] is None and got[("counter", 2)]["pause_reason"] == PUBLIC
    assert got[("event", 1)]["data"]["reason"] is None and got[("event", 2)]["data"]["reason"] == PUBLIC
    assert got[("event", 1)]["data"]["counter"] == 1 and OLD_CENTRE[0][1]["data"]["reason"] == PRIVATE  # a copy
    # a missing pause_public is not public; 1 and true are
    assert scrub_private_pause("counter", {"number": 3, "pause_reason": "x"})["pause_reason"] is None
    assert scrub_private_pause("counter", {"number": 3, "pause_reason": "x", "pause_public": True})[
        "pause_reason"] == "x"
    assert scrub_private_pause("event", {"seq": 1, "type": "x", "data": {"reason": "y"}})["data"]["reason"] == "y"


def test_a_hub_holding_private_reasons_loses_them_on_migration(pg_database):
    """A hub at its schema 2 stored the reasons as they came (its INSERT of then:
    the body minus the citizen's keys, projected whole); migration 3 scrubs them."""
    conn = psycopg.connect(pg_database)
    with conn.transaction():
        conn.execute("CREATE TABLE hub_schema (version integer PRIMARY KEY, what text NOT NULL, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        for step in hub_store.STEPS[:2]:
            conn.execute(step.sql)
            conn.execute("INSERT INTO hub_schema(version, what) VALUES (%s, %s)", [step.version, step.what])
        for seq, (kind, body) in enumerate(OLD_CENTRE, 1):
            conn.execute("INSERT INTO records (centre, seq, kind, body) VALUES ('c1', %s, %s, %s)",
                         [seq, kind, json.dumps(body)])
            if kind == "counter":
                conn.execute("INSERT INTO counters (centre, rec_seq, number, state, pause_reason, pause_public) "
                             "VALUES ('c1', %s, %s, 'paused', %s, %s)",
                             [seq, body["number"], body["pause_reason"], body["pause_public"]])
            else:
                conn.execute("INSERT INTO events (centre, rec_seq, seq, at, type, counter, data) "
                             "VALUES ('c1', %s, %s, %s, 'counter_paused', %s, %s)",
                             [seq, body["seq"], AT, body["counter"], json.dumps(body["data"])])
    assert PRIVATE in json.dumps(held(conn), ensure_ascii=False)       # what the hub of then held
    conn.close()

    st = hub_store.HubStore(pg_database).open()                        # the hub upgrades
    assert hub_store.version(st.conn) == hub_store.VERSION == 3
    assert held(st.conn) == SCRUBBED
    st.conn.commit()
    st.close()

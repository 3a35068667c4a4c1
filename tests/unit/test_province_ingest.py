"""What the hub accepts (motcua.province.ingest): the batch contract of
docs/province.md, checked record by record, and the acknowledgement rule (the
end of the run with no gap). Pure: no broker, no database."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from motcua.dossiers.records import ID_FIELDS
from motcua.province.ingest import (CITIZEN_KEYS, KINDS, BatchRefused, ack_payload, ack_topic, advance,
                                    clean_body, parse_batch, topic_centre)
from support.hub import batch_payload, centre_records

TOPIC = "motcua/phuong-thuan-hoa/ship/batch"


def payload(**over) -> bytes:
    data = {"v": 1, "centre": "phuong-thuan-hoa", "first": 1201, "last": 1203, "records": [
        {"seq": 1201, "kind": "ticket", "body": {"id": 88, "day": "2026-12-07", "service": "HT"}},
        {"seq": 1202, "kind": "event", "body": {"seq": 4410, "at": "2026-12-07T02:31:05.120+00:00",
                                                "type": "ticket_called", "data": {"counter": 2}}},
        {"seq": 1203, "kind": "rating", "body": {"rating_id": "pad-3:7:41", "level": 3, "weight": 1}}]}
    data.update(over)
    return json.dumps(data).encode()


def refused(p, topic=TOPIC) -> str:
    with pytest.raises(BatchRefused) as exc:
        parse_batch(topic, p)
    return str(exc.value)


def test_the_documented_batch_is_accepted():
    b = parse_batch(TOPIC, payload())
    assert (b.centre, b.first, b.last, len(b), b.citizen_keys) == ("phuong-thuan-hoa", 1201, 1203, 3, 0)


def test_a_realistic_stream_is_accepted_batch_by_batch():
    records = centre_records("xa-phu-vinh", 1200)
    assert {k for k, _ in records} >= {"ticket", "event", "counter", "rating", "dossier", "dossier_step",
                                       "ticket_dossier"}
    for first in (1, 501, 1001):
        b = parse_batch("motcua/xa-phu-vinh/ship/batch",
                        batch_payload("xa-phu-vinh", first, records[first - 1:first + 499]))
        assert b.first == first and b.last == min(1200, first + 499)


@pytest.mark.parametrize("over, says", [
    ({"v": 2}, "v must be 1"),
    ({"v": True}, "v must be 1"),
    ({"centre": "phuong-phu-xuan"}, "not the topic's centre"),
    ({"first": 0, "last": 2}, "1 <= first <= last"),
    ({"first": 1203, "last": 1201}, "1 <= first <= last"),
    ({"first": "1201"}, "whole numbers"),
    ({"last": 1204}, "4 records, but the batch has 3"),
    ({"records": {}}, "records must be a list"),
])
def test_a_batch_off_the_contract_is_refused_saying_why(over, says):
    assert says in refused(payload(**over))


def test_not_json_and_not_an_object_are_refused():
    assert "not JSON" in refused(b"{nope")
    assert "not JSON" in refused(b'{"v": NaN}')
    assert "JSON object" in refused(b"[1, 2]")


def test_the_topic_must_name_a_centre():
    assert "motcua/<centre>/ship/batch" in refused(payload(), "motcua/Bad Centre/ship/batch")
    assert "motcua/<centre>/ship/batch" in refused(payload(), "motcua/phuong-thuan-hoa/ship/live")


def test_records_must_run_first_to_last_without_a_gap():
    data = json.loads(payload())
    data["records"][1]["seq"] = 1203
    assert "expected 1202" in refused(json.dumps(data))


def test_at_most_500_records():
    records = [{"seq": i, "kind": "counter", "body": {"number": 1}} for i in range(1, 502)]
    assert "at most 500" in refused(payload(first=1, last=501, records=records))
    ok = payload(first=1, last=500, records=records[:500])
    assert len(parse_batch(TOPIC, ok)) == 500


@pytest.mark.parametrize("record, says", [
    ({"kind": "person", "body": {}}, "unknown kind 'person'"),
    ({"kind": "ticket", "body": []}, "body must be a JSON object"),
    ({"kind": "ticket", "body": {"day": "2026-12-07"}}, "no id"),
    ({"kind": "ticket", "body": {"id": "88"}}, "body.id must be a whole number"),
    ({"kind": "ticket", "body": {"id": 88, "number": 1.5}}, "body.number must be a whole number"),
    ({"kind": "ticket", "body": {"id": 88, "recalls": True}}, "body.recalls must be a whole number"),
    ({"kind": "ticket", "body": {"id": 2 ** 63}}, "64 bits"),
    ({"kind": "ticket", "body": {"id": 88, "day": 20261207}}, "body.day must be text"),
    ({"kind": "ticket", "body": {"id": 88, "label": "HT\x00"}}, "NUL"),
    ({"kind": "rating", "body": {"rating_id": "x", "weight": "1"}}, "body.weight must be a number"),
    ({"kind": "dossier_step", "body": {"code": "D1"}}, "no seq"),
    ({"kind": "ticket_dossier", "body": {"ticket_id": 1}}, "no code"),
])
def test_a_body_off_its_kind_refuses_the_whole_batch(record, says):
    message = refused(payload(first=7, last=7, records=[{"seq": 7, **record}]))
    assert message.startswith("record 7") and says in message, message


def test_null_fields_and_unknown_fields_pass():
    # a column still empty, and a column a newer centre added: stored as it came
    b = parse_batch(TOPIC, payload(first=1, last=1, records=[
        {"seq": 1, "kind": "ticket", "body": {"id": 1, "called_at": None, "new_column": [1, 2]}}]))
    assert b.records[0]["body"]["new_column"] == [1, 2]


def test_citizen_fields_are_counted_and_cleaned():
    body = {"code": "D1", "procedure_code": "1.001193", "applicant_name": "Lê Văn Hùng",
            "documents": ["Tờ khai"], "note": "gặp ông Hùng", "reason": "ốm", "cccd": "001079012345"}
    b = parse_batch(TOPIC, payload(first=1, last=1, records=[{"seq": 1, "kind": "dossier", "body": body}]))
    assert b.citizen_keys == 5
    assert clean_body(body) == {"code": "D1", "procedure_code": "1.001193"}
    assert {"applicant_name", "documents", "note", "reason", "phone"} | ID_FIELDS == set(CITIZEN_KEYS)


def test_every_kind_names_its_keys_among_its_fields():
    for kind in KINDS.values():
        assert set(kind.keys) <= set(kind.fields), kind.name


def test_the_hub_knows_every_kind_the_centre_ships_and_its_columns():
    from motcua.shipping import outbox
    assert set(KINDS) == set(outbox.KINDS)
    for source in outbox.SOURCES:
        assert tuple(KINDS[source.kind].fields) == source.columns, source.kind


@pytest.mark.parametrize("acked, stored, expected", [
    (0, [], 0),
    (0, [1, 2, 3], 3),
    (0, [2, 3], 0),                  # 1 missing: nothing beyond the gap
    (10, [11, 12, 14, 15], 12),      # a gap at 13
    (10, [5, 9, 10, 11], 11),        # stored before the ack (a second delivery) change nothing
    (10, [12, 11, 11, 13], 13),      # in any order, twice
])
def test_advance_stops_at_the_first_gap(acked, stored, expected):
    assert advance(acked, stored) == expected


@given(st.integers(0, 50), st.sets(st.integers(1, 120)))
def test_advance_is_the_end_of_the_contiguous_run(acked, stored):
    got = advance(acked, stored)
    assert got >= acked                                       # never backwards
    assert all(s in stored for s in range(acked + 1, got + 1))  # no gap below it
    assert got + 1 not in stored                              # and it stops only at one


def test_topics_and_the_acknowledgement():
    assert topic_centre("motcua/xa-phu-vinh/ship/batch") == "xa-phu-vinh"
    assert topic_centre("motcua/xa-phu-vinh/ship/link", "link") == "xa-phu-vinh"
    assert topic_centre("motcua/xa-phu-vinh/ship/link") is None
    assert ack_topic("xa-phu-vinh") == "motcua/xa-phu-vinh/ship/ack"
    ack = json.loads(ack_payload("xa-phu-vinh", 1500, datetime(2026, 12, 7, 2, 31, 5, 120000, timezone.utc)))
    assert ack == {"v": 1, "centre": "xa-phu-vinh", "acked": 1500, "at": "2026-12-07T02:31:05.120+00:00"}


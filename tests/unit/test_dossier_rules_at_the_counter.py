"""A rating knows the dossier (issue 12, item 6): the rules of attaching the
dossiers received or returned during a visit to the ticket at the counter, in
the core (motcua.dossiers.counter_code, motcua.engine, motcua.protocol's views,
motcua.ratings.rating_row) and the store's rows. No broker: the centre over
MQTT is tests/integration/test_counter_dossiers.py (a basename of its own: pytest
collects both folders in one run)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from motcua import protocol
from motcua import ratings as rt
from motcua.config import load_site
from motcua.dossiers import DossierError, counter_code, qr_text
from motcua.engine import MAX_DOSSIERS, Engine, FinishedTicket, QueueError, replay
from motcua.store import Store

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)   # 10:00 in Hà Nội
CODE = "000.00.31.H12-261123-0001"
OTHER = "000.00.31.H12-261120-0009"


@pytest.fixture(scope="module")
def site():
    return load_site(ROOT / "examples" / "site.toml")


@pytest.fixture
def engine(site):
    """Counter 1 open, ticket 1001 called there, 1002 waiting."""
    e = Engine(site)
    e.issue("HT", NOW)
    e.issue("HT", NOW)
    e.sign_in(1, "nguyenvana", NOW, "Nguyễn Văn A")
    e.call_next(1, NOW)
    return e


# -- the code from what was scanned or typed ------------------------------------------------

def test_a_typed_code_is_kept_upper_case(site):
    assert counter_code(CODE, site.dossiers) == CODE
    assert counter_code("  000.00.31.h12-261123-0001\r\n", site.dossiers) == CODE


def test_the_receipts_qr_is_reduced_to_its_code(site):
    qr = qr_text(CODE, site.dossiers)
    assert qr.startswith("MOTCUA-D:")
    assert counter_code(qr, site.dossiers) == CODE
    assert counter_code(qr + "\r\n", site.dossiers) == CODE        # a scanner's line end
    assert counter_code(qr.lower(), site.dossiers) == CODE         # a scanner that lower-cases


@pytest.mark.parametrize("text, code", [
    ("000.00.31.H12-2611", "malformed_code"),          # cut short
    ("000.00.31.H12-261332-0001", "malformed_code"),   # not a date
    ("", "malformed_code"),
    ("   \r\n", "malformed_code"),
    ("MOTCUA-D:000.00.31.H12-261123-0001", "malformed_qr"),       # no signature
    ("MOTCUA-D:000.00.31.H12-261123-0001:AAAAAAAAAA", "unverified"),   # misread or forged
    ("MOTCUA-T:hcc-demo:2026-11-23:1001", "malformed_code"),      # a ticket's QR is not a dossier
])
def test_what_is_not_a_dossier_code_is_refused(site, text, code):
    with pytest.raises(DossierError) as exc:
        counter_code(text, site.dossiers)
    assert exc.value.code == code


def test_a_qr_of_another_dossier_signature_is_refused(site):
    qr = qr_text(CODE, site.dossiers)
    forged = qr.replace(CODE, OTHER)     # the signature of one code with another code
    with pytest.raises(DossierError) as exc:
        counter_code(forged, site.dossiers)
    assert exc.value.code == "unverified"


# -- attaching and detaching in the engine ---------------------------------------------------

def test_attach_to_the_called_ticket_then_detach(engine):
    events, changes = engine.attach_dossier(1, CODE, NOW, procedure_code="1.001193")
    [ev] = events
    assert ev["type"] == "dossier_attached" and ev["ticket"] == "1001" and ev["ticket_id"] == 1
    assert (ev["counter"], ev["officer"], ev["code"], ev["procedure_code"], ev["state"]) == \
        (1, "nguyenvana", CODE, "1.001193", "called")
    assert ev["dossiers"] == [CODE]
    assert changes.dossiers == {(1, CODE): {"ticket_id": 1, "code": CODE, "procedure_code": "1.001193",
                                            "counter": 1, "officer": "nguyenvana", "attached_at": ev["at"]}}
    assert 1 in changes.counters     # the counter's view shows the ticket's dossiers
    assert engine.state.dossiers == {1: [CODE]}
    assert protocol.counter_view(engine, 1)["ticket"]["dossiers"] == [CODE]
    events, changes = engine.detach_dossier(1, CODE, NOW)
    assert events[0]["type"] == "dossier_detached" and events[0]["dossiers"] == []
    assert changes.dossiers == {(1, CODE): None}
    assert engine.state.dossiers == {}


def test_the_same_code_twice_on_a_ticket_changes_nothing(engine, site):
    engine.attach_dossier(1, CODE, NOW)
    events, changes = engine.attach_dossier(1, qr_text(CODE, site.dossiers), NOW)
    assert events == [] and not changes.dossiers
    assert engine.state.dossiers[1] == [CODE]


def test_codes_keep_the_order_they_were_attached_in(engine):
    engine.start(1, NOW)
    engine.attach_dossier(1, OTHER, NOW)
    events, _ = engine.attach_dossier(1, CODE, NOW)
    assert events[0]["state"] == "serving" and events[0]["dossiers"] == [OTHER, CODE]


@pytest.mark.parametrize("op", ["attach_dossier", "detach_dossier"])
def test_a_counter_without_a_ticket_is_refused(site, op):
    e = Engine(site)
    e.sign_in(1, "nguyenvana", NOW)
    with pytest.raises(QueueError) as exc:
        getattr(e, op)(1, CODE, NOW)
    assert exc.value.code == "no_current_ticket"
    with pytest.raises(QueueError) as exc:
        getattr(e, op)(2, CODE, NOW)           # closed
    assert exc.value.code == "counter_closed"
    with pytest.raises(QueueError) as exc:
        getattr(e, op)(99, CODE, NOW)
    assert exc.value.code == "unknown_counter"


def test_refusals_of_the_code(engine):
    with pytest.raises(QueueError) as exc:
        engine.attach_dossier(1, "000.00.31.H12-2611", NOW)
    assert exc.value.code == "malformed_code" and "000.00.31.H12-261123-0001" in exc.value.message
    with pytest.raises(QueueError) as exc:
        engine.detach_dossier(1, CODE, NOW)
    assert exc.value.code == "dossier_not_attached"


def test_a_ticket_takes_at_most_twenty_dossiers(engine):
    for seq in range(1, MAX_DOSSIERS + 1):
        engine.attach_dossier(1, f"000.00.31.H12-261123-{seq:04d}", NOW)
    with pytest.raises(QueueError) as exc:
        engine.attach_dossier(1, "000.00.31.H12-261123-0099", NOW)
    assert exc.value.code == "too_many_dossiers"
    assert len(engine.state.dossiers[1]) == MAX_DOSSIERS


def test_after_done_the_finished_ticket_takes_the_returned_dossier(engine):
    engine.attach_dossier(1, CODE, NOW)
    events, _ = engine.done(1, NOW)
    assert events[-1]["type"] == "ticket_done" and events[-1]["dossiers"] == [CODE]
    finished = FinishedTicket(1, "1001", "HT")
    events, changes = engine.attach_dossier(1, OTHER, NOW, finished=finished)
    assert events[0]["state"] == "done" and events[0]["ticket"] == "1001"
    assert events[0]["dossiers"] == [CODE, OTHER]
    assert engine.state.dossiers[1] == [CODE, OTHER]   # kept after the ticket ended: the rating needs them
    # a new current ticket takes precedence over the finished one
    engine.call_next(1, NOW)
    events, _ = engine.attach_dossier(1, OTHER, NOW, finished=finished)
    assert events[0]["ticket"] == "1002"


def test_a_finished_ticket_of_another_day_is_idempotent_and_appends(site):
    e = Engine(site)
    e.sign_in(1, "nguyenvana", NOW)
    old = FinishedTicket(7, "1099", "HT", dossiers=(CODE,))
    assert e.attach_dossier(1, CODE.lower(), NOW, finished=old)[0] == []
    events, _ = e.attach_dossier(1, OTHER, NOW, finished=old)
    assert events[0]["dossiers"] == [CODE, OTHER] and events[0]["ticket_id"] == 7


def test_ticket_events_and_views_carry_the_codes(engine, site):
    engine.attach_dossier(1, CODE, NOW)
    events, _ = engine.start(1, NOW)
    view = protocol.ticket_event_view(events[-1])
    assert view["event"] == "started" and view["dossiers"] == [CODE]
    att = protocol.ticket_event_view(engine.attach_dossier(1, OTHER, NOW)[0][0])
    assert att["event"] == "dossier_attached" and att["code"] == OTHER and att["dossiers"] == [CODE, OTHER]
    assert att["state"] == "serving" and att["officer"] == "nguyenvana"
    t = engine.state.tickets[1]
    assert protocol.ticket_view(engine, t)["dossiers"] == [CODE, OTHER]
    waiting = engine.state.tickets[2]
    assert protocol.ticket_view(engine, waiting)["dossiers"] == []
    issued = protocol.ticket_event_view({"type": "ticket_issued", "at": "x", "ticket": waiting.as_row()})
    assert issued["dossiers"] == []
    # a counter event is no ticket event
    assert protocol.ticket_event_view({"type": "counter_paused", "at": "x", "counter": 1}) is None


def test_the_counter_view_shows_the_finished_ticket_it_is_given(engine):
    view = protocol.counter_view(engine, 1)
    assert view["finished_ticket"] is None
    after = protocol.finished_ticket_view("1000", "HT", [CODE], "2026-11-23T03:01:00.000+00:00")
    view = protocol.counter_view(engine, 1, after)
    assert view["finished_ticket"] == {"ticket": "1000", "service": "HT", "dossiers": [CODE],
                                       "until": "2026-11-23T03:01:00.000+00:00"}
    hall = protocol.hall_view(engine, [], {1: after})
    assert hall["counters"][0]["finished_ticket"] == after and hall["counters"][1]["finished_ticket"] is None


def test_replay_rebuilds_the_dossiers_and_a_new_day_forgets_them(site):
    log = []
    e = Engine(site)
    for step in (lambda: e.issue("HT", NOW), lambda: e.sign_in(1, "a", NOW), lambda: e.call_next(1, NOW),
                 lambda: e.attach_dossier(1, CODE, NOW), lambda: e.attach_dossier(1, OTHER, NOW),
                 lambda: e.detach_dossier(1, CODE, NOW), lambda: e.done(1, NOW)):
        log.extend(step()[0])
    state, _, _ = replay(site, log)
    assert state.dossiers == e.state.dossiers == {1: [OTHER]}
    events, changes = e.tick(NOW + timedelta(days=1))
    assert changes.day_started and e.state.dossiers == {}


# -- the store -----------------------------------------------------------------------------------

def test_rows_are_written_with_the_events_and_read_back(site, tmp_path):
    store = Store(tmp_path / "c.db")
    e = Engine(site)
    for step in (lambda: e.issue("HT", NOW), lambda: e.sign_in(1, "a", NOW), lambda: e.call_next(1, NOW),
                 lambda: e.attach_dossier(1, CODE, NOW, procedure_code="1.001193"),
                 lambda: e.attach_dossier(1, OTHER, NOW), lambda: e.detach_dossier(1, OTHER, NOW),
                 lambda: e.attach_dossier(1, OTHER, NOW + timedelta(seconds=1))):
        store.commit(*step())
    rows = list(store.db.query("SELECT * FROM ticket_dossiers ORDER BY attached_at"))
    assert [(r["ticket_id"], r["code"], r["procedure_code"], r["counter"], r["officer"]) for r in rows] == \
        [(1, CODE, "1.001193", 1, "a"), (1, OTHER, None, 1, "a")]
    types = [json.loads(d)["type"] for (d,) in store.db.execute("SELECT data FROM events WHERE type LIKE 'dossier_%'")]
    assert types == ["dossier_attached", "dossier_attached", "dossier_detached", "dossier_attached"]
    assert store.ticket_dossier_codes(1) == [CODE, OTHER]
    # attach and detach in one batch (one commit): nothing stays
    e2 = Engine(site, store.load_state())
    ev1, ch1 = e2.attach_dossier(1, "000.00.31.H12-261123-0005", NOW)
    ev2, ch2 = e2.detach_dossier(1, "000.00.31.H12-261123-0005", NOW)
    ch1.merge(ch2)
    store.commit(ev1 + ev2, ch1)
    assert store.ticket_dossier_codes(1) == [CODE, OTHER]
    store.commit(*e2.done(1, NOW))
    store.close()
    # a restart keeps today's, the finished ticket's included
    again = Store(tmp_path / "c.db")
    assert again.load_state().dossiers == {1: [CODE, OTHER]}
    again.close()


# -- the rating keeps the codes -------------------------------------------------------------------

def _rating(prompt_id):
    return rt.parse_rating({"rating": "P:1:1", "pad": "P", "boot": 1, "seq": 1, "level": 2, "prompt": prompt_id,
                            "pressed_at": NOW.isoformat()}, 4)


def test_a_bound_rating_records_the_codes_its_ticket_carried(site, engine):
    engine.attach_dossier(1, CODE, NOW)
    events, changes = engine.done(1, NOW)
    prompt = rt.open_prompt(events[-1], changes.tickets[1], NOW, 60)
    rating = _rating(prompt.id)
    row = rt.rating_row(rating, 1, rt.COUNTED, prompt, site.rating_levels, NOW, "2026-11-23", 10,
                        dossiers=engine.state.dossiers[1])
    assert json.loads(row["dossiers"]) == [CODE]
    dup = rt.rating_row(rating, 1, rt.DUPLICATE, prompt, site.rating_levels, NOW, "2026-11-23", 10,
                        dossiers=[CODE])
    assert json.loads(dup["dossiers"]) == [CODE]
    # unprompted: bound to nothing, so no dossier; a ticket without a dossier: NULL, never []
    assert rt.rating_row(rating, 1, rt.UNPROMPTED, prompt, site.rating_levels, NOW, "2026-11-23", 10,
                         dossiers=[CODE])["dossiers"] is None
    assert rt.rating_row(rating, 1, rt.COUNTED, prompt, site.rating_levels, NOW, "2026-11-23", 10)["dossiers"] is None


# -- the report's figures per procedure and the export's rows (pure) ------------------------------

def test_satisfaction_per_procedure_from_plain_rows():
    from motcua.report_figures import ProcedureRatingCount as P, procedure_satisfaction
    rows = [P("1.001193", "Đăng ký khai sinh", 1, 2, 200.0), P("1.001193", "Đăng ký khai sinh", 4, 1, 0.0),
            P("2.000815", "Chứng thực bản sao", 2, 1, 66.7), P("", "", 3, 1, 33.3),
            P(None, "", 1, 5, 500.0)]
    groups, without = procedure_satisfaction(rows, 4)
    assert [(g.code, g.label, g.satisfaction.counted, g.satisfaction.levels) for g in groups] == [
        ("2.000815", "2.000815 Chứng thực bản sao", 1, [0, 1, 0, 0]),          # C before Đ
        ("1.001193", "1.001193 Đăng ký khai sinh", 3, [2, 0, 0, 1]),
        ("", "(hồ sơ chưa có trong dữ liệu hồ sơ)", 1, [0, 0, 1, 0])]         # the mirror's unknown last
    assert groups[1].satisfaction.index == pytest.approx(200 / 3)
    assert groups[1].satisfaction.share_satisfied == pytest.approx(200 / 3)
    assert groups[1].satisfaction.response_rate is None                    # no tickets per procedure
    assert (without.counted, without.levels, without.index) == (5, [5, 0, 0, 0], 100.0)


def test_export_rows_are_local_times_and_the_sites_names(site):
    from motcua.report_figures import RatedDossierRow, export_rows
    row = RatedDossierRow("P:1:7", "2026-11-23T03:51:52.120+00:00", 2, "hai_long", 66.7, "nguyenvana", 1, "HT",
                          "1001", "2026-11-23T03:30:00.000+00:00", "2026-11-23T03:40:00.000+00:00", None,
                          "2026-11-23T03:51:40.000+00:00", CODE, "1.001193", "Đăng ký khai sinh")
    [r] = export_rows([row], site, {"nguyenvana": "Nguyễn Văn A"})
    assert r == {"dossier_code": CODE, "procedure_code": "1.001193", "procedure_name": "Đăng ký khai sinh",
                 "level": 2, "level_name": "Hài lòng", "weight": 66.7, "officer": "nguyenvana",
                 "officer_name": "Nguyễn Văn A", "counter": 1, "counter_name": "Quầy 1 – Hộ tịch", "service": "HT",
                 "ticket": "1001", "ticket_issued_at": "2026-11-23T10:30:00+07:00",
                 "ticket_called_at": "2026-11-23T10:40:00+07:00", "ticket_started_at": "",
                 "ticket_finished_at": "2026-11-23T10:51:40+07:00", "rated_at": "2026-11-23T10:51:52+07:00",
                 "rating_id": "P:1:7"}
    # a level of a scale since changed keeps its stored code's name, or says its number
    odd = row._replace(level=5, level_code="gone", procedure_code=None, procedure_name=None)
    [r] = export_rows([odd], site, {})
    assert r["level_name"] == "Mức 5" and r["procedure_code"] == "" and r["officer_name"] == ""

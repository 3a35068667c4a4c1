"""The province demo's plan (motcua.province.demo_plan): the sample dossiers moved
to today, what each demo centre mirrors, and the files the demo writes (a centre's
site file from examples/site.toml, the demo's provincial file), read back by the
real loaders."""
from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from motcua.config import WARNED_ENV, load_site
from motcua.dossiers.records import dossier_from_record
from motcua.dossiers.rules import overdue
from motcua.province.config import load_province
from motcua.province.demo_plan import (PROFILES, SAMPLE_AS_OF, TemplateError, centre_site_text, dossiers_for,
                                       profile_of, province_text, shift_code, shift_dossier)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = json.loads((ROOT / "examples" / "dossiers.json").read_text(encoding="utf-8"))
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def test_a_code_moves_with_its_day():
    assert shift_code("000.00.31.H12-261102-0004", 13) == "000.00.31.H12-261115-0004"
    assert shift_code("000.00.31.H12-261230-0001", 3) == "000.00.31.H12-270102-0001"
    assert shift_code("000.00.31.H12-270102-0001", -3) == "000.00.31.H12-261230-0001"
    with pytest.raises(ValueError, match="YYMMDD"):
        shift_code("000.00.31.H12-0001", 1)


def test_every_date_and_time_of_a_dossier_moves_and_nothing_else():
    d = next(x for x in SAMPLES if x.get("apology"))
    moved = shift_dossier(d, 10)
    assert moved["code"] == shift_code(d["code"], 10)
    assert date.fromisoformat(moved["due_at"]) - date.fromisoformat(d["due_at"]) == timedelta(days=10)
    assert datetime.fromisoformat(moved["received_at"]) - datetime.fromisoformat(d["received_at"]) == timedelta(days=10)
    assert [datetime.fromisoformat(s["at"]) - datetime.fromisoformat(o["at"])
            for s, o in zip(moved["steps"], d["steps"])] == [timedelta(days=10)] * len(d["steps"])
    assert (date.fromisoformat(moved["apology"]["new_due_at"]) - date.fromisoformat(d["apology"]["new_due_at"])
            == timedelta(days=10))
    same = {k: v for k, v in moved.items() if k not in ("code", "received_at", "due_at", "steps", "apology")}
    assert same == {k: v for k, v in d.items() if k not in ("code", "received_at", "due_at", "steps", "apology")}
    assert shift_dossier(d, 0) == d
    assert d["code"] == next(x for x in SAMPLES if x.get("apology"))["code"]   # the sample is not changed


def _late(records, today: date) -> int:
    site = _site()
    dossiers = [dossier_from_record(r, site.dossiers, TZ)[0] for r in records]
    now = datetime.combine(today, datetime.min.time(), TZ).replace(hour=10).astimezone(timezone.utc)
    return len(overdue(dossiers, now, TZ, within_days=-1))


def _site():
    os.environ[WARNED_ENV] = str((ROOT / "examples" / "site.toml").resolve())
    return load_site(ROOT / "examples" / "site.toml")


@pytest.mark.parametrize("today", [date(2026, 12, 6), date(2027, 3, 1), date(2025, 7, 14)])
def test_the_centres_mirror_different_dossiers_and_as_many_are_late_whenever_the_demo_runs(today):
    """All: five late without an apology; every other one: one; only the settled: none.
    The same on any day (the samples are moved to it); the board shows three figures."""
    late = {p.dossiers: _late(dossiers_for(SAMPLES, p.dossiers, today), today) for p in PROFILES}
    assert late == {"all": 5, "odd": 1, "settled": 0}
    assert len(dossiers_for(SAMPLES, "all", today)) == len(SAMPLES)
    settled = dossiers_for(SAMPLES, "settled", today)
    assert settled and all(d.get("apology") or d["status"] in ("returned", "refused", "withdrawn", "stopped")
                           for d in settled)
    # nothing received after today
    assert max(d["received_at"][:10] for d in dossiers_for(SAMPLES, "all", today)) < today.isoformat()
    with pytest.raises(ValueError, match="all, odd or settled"):
        dossiers_for(SAMPLES, "some", today)


def test_the_sample_dossiers_are_seen_as_of_the_day_after_their_last():
    last = max(datetime.fromisoformat(d["received_at"]).date() for d in SAMPLES)
    assert SAMPLE_AS_OF == last + timedelta(days=1)


def test_the_profiles_differ_and_repeat_after_three():
    assert len({p.kind for p in PROFILES}) == len(PROFILES) == 3
    assert profile_of(4) is PROFILES[1]
    assert sum(1 for p in PROFILES if p.apology_after_s) == 1
    assert sum(1 for p in PROFILES if p.pause) == 1 and sum(1 for p in PROFILES if p.close) == 1
    site = _site()
    for p in PROFILES:
        assert len(p.levels) == len(site.rating_levels)
        for n in p.counters:
            site.counter(n)   # staffed counters exist in the sample site
        assert any(d.counter == n for d in site.devices_of("pad") for n in p.counters)
        for part in (p.pause, p.close):
            assert part is None or part[0] in p.counters


def test_a_centre_site_file_is_the_sample_with_its_id_name_broker_and_bridge(tmp_path):
    text = centre_site_text((ROOT / "examples" / "site.toml").read_text(encoding="utf-8"),
                            centre_id="xa-phu-vinh", name='Xã Phú "Vinh"', broker_port=18853,
                            province_host="127.0.0.1", province_port=18841, cafile=str(tmp_path / "ca.crt"),
                            password="demo-centre-phu-vinh-secret")
    (tmp_path / "ca.crt").write_text("not read here")
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    os.environ[WARNED_ENV] = str(path.resolve())
    site = load_site(path)
    assert (site.id, site.name, site.broker.port) == ("xa-phu-vinh", 'Xã Phú "Vinh"', 18853)
    assert site.data_dir == tmp_path / "data"
    assert (site.province.host, site.province.port, site.province.password) == (
        "127.0.0.1", 18841, "demo-centre-phu-vinh-secret")
    assert site.province.cafile == str(tmp_path / "ca.crt")
    assert "../var" not in text
    sample = _site()
    assert [d.id for d in site.devices] == [d.id for d in sample.devices]
    assert site.counters == sample.counters and site.services == sample.services
    # a template whose [province] is there already gets its values changed, not a second table
    again = centre_site_text(text, centre_id="xa-phu-vinh", name="Xã Phú Vinh", broker_port=18853,
                             province_host="10.0.0.1", province_port=8883, cafile="/ca.crt", password="other-secret-1")
    assert again.count("\n[province]") == 1 and 'host = "10.0.0.1"' in again and "port = 8883" in again
    with pytest.raises(TemplateError, match=r"no \[broker\] table"):
        centre_site_text("[site]\nid = \"x\"\nname = \"x\"\n[centre]\ndata_dir = \"v\"\n", centre_id="a", name="a",
                         broker_port=1, province_host="h", province_port=2, cafile="c", password="p")


def test_the_demo_provincial_file_keeps_the_province_and_sets_the_demo_parts(tmp_path):
    p = load_province(ROOT / "examples" / "province.toml")
    text = province_text(p, data_dir=str(tmp_path / "province"), dsn="postgresql:///x?host=/tmp/y&port=5",
                         cafile=str(tmp_path / "ca.crt"), certfile=str(tmp_path / "b.crt"),
                         keyfile=str(tmp_path / "b.key"))
    path = tmp_path / "province.toml"
    path.write_text(text, encoding="utf-8")
    q = load_province(path)
    assert (q.id, q.name, q.timezone, q.centres, q.hub_password, q.board_password) == (
        p.id, p.name, p.timezone, p.centres, p.hub_password, p.board_password)
    assert (q.office_hours, q.office_days, q.alerts) == (p.office_hours, p.office_days, p.alerts)
    assert (q.broker.host, q.broker.port, q.broker.tls_port) == (p.broker.host, p.broker.port, p.broker.tls_port)
    assert q.broker.tls_host == "127.0.0.1"
    assert (q.broker.tls_cafile, q.broker.tls_certfile, q.broker.tls_keyfile) == (
        str(tmp_path / "ca.crt"), str(tmp_path / "b.crt"), str(tmp_path / "b.key"))
    assert q.dsn == "postgresql:///x?host=/tmp/y&port=5" and q.data_dir == tmp_path / "province"

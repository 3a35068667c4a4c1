"""The provincial file (motcua.province.config): the sample loads, and a typo or a
missing secret stops with the file, the key and what to do."""
from pathlib import Path

import pytest

from motcua.province.config import ProvinceConfigError, load_province

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "province.toml"


def test_the_sample_loads():
    p = load_province(SAMPLE)
    assert p.id == "hue" and len(p.centres) == 3
    assert p.centre("xa-phu-vinh").name == "Xã Phú Vinh"
    assert p.data_dir.is_absolute()
    assert p.alerts.counter_paused_min == 20.0


@pytest.mark.parametrize("edit, says", [
    (("[database]", "[databse]"), "unknown table [databse]; did you mean [database]?"),
    (("wait_min = 45", "wait-min = 45"), "did you mean wait_min?"),
    (('password = "demo-province-hub-secret"', 'password = "short"'), "hub.password: must be at least 8"),
    (('"07:30-11:30", ', '"11:30-07:30", '), "must be a range of the day"),
    (('id = "xa-phu-vinh"', 'id = "phuong-phu-xuan"'), "listed twice"),
])
def test_mistakes_are_refused_with_the_key(tmp_path, edit, says):
    f = tmp_path / "province.toml"
    text = SAMPLE.read_text(encoding="utf-8")
    assert edit[0] in text
    f.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(ProvinceConfigError) as err:
        load_province(f)
    assert str(f) in str(err.value) and says in str(err.value)


def test_office_hours():
    from datetime import datetime
    p = load_province(SAMPLE)
    assert p.in_office_hours(datetime(2026, 12, 7, 8, 0))        # a Monday morning
    assert not p.in_office_hours(datetime(2026, 12, 7, 12, 0))   # lunch
    assert not p.in_office_hours(datetime(2026, 12, 6, 9, 0))    # a Sunday

"""Site files: the sample is valid and realistic; a bad file names file, key and fix."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from motcua.config import SiteConfigError, load_site

from support.broker import EXAMPLE, ROOT


def test_the_sample_site_is_a_realistic_centre():
    site = load_site(EXAMPLE)
    assert len(site.services) >= 8 and len(site.counters) >= 12
    assert [lv.name_vi for lv in site.rating_levels] == ["Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng"]
    assert site.timezone == "Asia/Ho_Chi_Minh"
    served = {s for c in site.counters for s in c.services}
    assert served == {s.code for s in site.services}, "every service has a counter"
    assert {d.counter for d in site.devices_of("pad")} == {c.number for c in site.counters}
    assert site.service("HT").name_vi == "Hộ tịch"


CASES = [
    ('id = "hcc-demo"', 'id = "HCC Demo"', "site.id", "lower-case"),
    ('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Saigonn"', "site.timezone", "unknown time zone"),
    ("start = 2001\nend = 2999", "start = 1500\nend = 2999", "services[1].start", "overlaps"),
    ('services = ["HT", "CT"]', 'services = ["HT", "ZZ"]', "counters[1].services", "unknown service 'ZZ'"),
    ("number = 2\n", "number = 1\n", "counters[1].number", "listed twice"),
    ('password = "demo-kiosk-1-secret"', 'password = "short"', "devices[{kiosk-1}].password", "at least 8"),
    ('role = "kiosk"', 'role = "kiosque"', "devices[{kiosk-1}].role", "not a role"),
    ("priority_max_consecutive = 3", "priority_max_consecutive = 0", "queue.priority_max_consecutive",
     "at least 1"),
    ("port = 1883", 'port = "1883"', "broker.port", "must be an integer"),
    ("weight = 100 }", "weight = 10 }", "rating.levels", "weights descending"),
    ('id = "pad-1"\nrole = "pad"\ncounter = 1', 'id = "pad-1"\nrole = "pad"\ncounter = 99',
     "devices[{pad-1}].counter", "no counter 99"),
    # the words of every kind of refusal (the shared checker keeps them)
    ('name = "Trung tâm Phục vụ hành chính công phường Demo"', 'name = "  "', "site.name", "must not be empty"),
    ("request_timeout_s = 5", "request_timeout_s = 0.1", "centre.request_timeout_s",
     "must be between 0.5 and 60 seconds"),
    ("# tls_port = 8883", "tls_port = 8883", "broker.tls_port", "needs tls_cafile, tls_certfile and tls_keyfile"),
    ('code = "HT"', 'code = "H T"', "services[0].code", "'H T' must be 1-16 letters, digits or '_'"),
    ('services = ["HT"]', "services = []", "counters[0].services", "must serve at least one service"),
    ("prompt_timeout_s = 60", "prompt_timeout_s = true", "rating.prompt_timeout_s",
     "must be an integer or a number, not a boolean"),
    ('printer = { kind = "file", port = "../var/kiosk-1-printer.bin", width_px = 576 }', 'printer = "lp0"',
     "devices[{kiosk-1}].printer", "must be a table, e.g. printer = { kind"),
    ('kind = "file", port = "../var/kiosk-1-printer.bin"', 'kind = "network"', "devices[{kiosk-1}].printer.host",
     "a network printer needs host"),
    ("width_px = 576", "width_px = 100", "devices[{kiosk-1}].printer.width_px", "between 256 and 1024 dots"),
    ('id = "kiosk-2"\nrole = "kiosk"', 'id = "kiosk-2"\nrole = "kiosk"\ncounter = 1',
     "devices[{kiosk-2}].counter", "only counter and pad devices are bound to a counter, not kiosk"),
    ('admin_pin = "246810"', 'admin_pin = "24a"', "kiosk.admin_pin", "must be 4 to 8 digits"),
    ('secret = "demo-change-this-dossier-secret"', 'secret = "short"', "dossiers.secret", "at least 16 characters"),
    ('agency_code = "000.00.31.H12"', "", "dossiers.agency_code", "missing; this key is required"),
]


@pytest.mark.parametrize("old,new,key,what", CASES)
def test_a_bad_site_file_names_file_key_and_problem(tmp_path, old, new, key, what):
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "site.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    ids = [d.id for d in load_site(EXAMPLE).devices]
    key = re.sub(r"\{([a-z0-9-]+)\}", lambda m: str(ids.index(m.group(1))), key)
    with pytest.raises(SiteConfigError) as exc:
        load_site(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: {key}: ")
    assert what in message


def test_broken_toml_and_missing_file(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text("[site\nid=", encoding="utf-8")
    with pytest.raises(SiteConfigError, match="not valid TOML"):
        load_site(path)
    with pytest.raises(SiteConfigError, match="--site"):
        load_site(tmp_path / "missing.toml")


def test_the_cli_refuses_to_start_half_configured(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8").replace('role = "centre"', 'role = "kiosk"'),
                    encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "motcua", "--site", str(path), "centre"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert f"{path}: devices: needs exactly one device with role = \"centre\"" in done.stderr
    assert "Traceback" not in done.stderr

"""Site files: the sample is valid and realistic; a bad file names file, key and fix."""
from __future__ import annotations

import logging
import re
import subprocess
import sys

import pytest

from motcua import config
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


# -- a key or table the schema does not know stops start-up (a typo must not take a default) --

TYPOS = [
    # (old, new, the key as the message names it, the nearest key)
    ('admin_pin = "246810"', 'admin-pin = "246810"', "kiosk.admin-pin", "did you mean admin_pin?"),
    ("[site]\n", '[site]\nnmae = "x"\n', "site.nmae", "did you mean name?"),
    ("port = 1883", "prot = 1883", "broker.prot", "did you mean port?"),
    ("estimate_window = 20", "estimate_windows = 20", "queue.estimate_windows", "did you mean estimate_window?"),
    ('code = "HT"', 'code = "HT"\nname_vn = "x"', "services[0].name_vn", "did you mean name_vi?"),
    ("number = 1\n", "number = 1\nservice = [\"HT\"]\n", "counters[0].service", "did you mean services?"),
    ('code = "cao_tuoi"', 'code = "cao_tuoi"\nnam_vi = "x"', "priorities[0].nam_vi", "did you mean name_vi?"),
    ("weight = 100 }", "wieght = 100 }", "rating.levels[0].wieght", "did you mean weight?"),
    ("prompt_timeout_s = 60", "prompt_timeout = 60", "rating.prompt_timeout", "did you mean prompt_timeout_s?"),
    ('speaks = true', 'speak = true', "devices[{display-hall}].speak", "did you mean speaks?"),
    ("width_px = 576 }", "width_px = 576, widht = 3 }", "devices[{kiosk-1}].printer.widht",
     "did you mean width_px?"),
    ('# scanner = { port = "/dev/ttyACM0", baudrate = 9600 }', 'scanner = { port = "/dev/ttyACM0", baud = 9600 }',
     "devices[{kiosk-1}].scanner.baud", "did you mean baudrate?"),
    ("lookup_code_length = 6", "lookup_code_lenght = 6", "dossiers.lookup_code_lenght",
     "did you mean lookup_code_length?"),
    ("max_payload_bytes = 16384", "max_payload = 16384", "centre.max_payload", "did you mean max_payload_bytes?"),
    # a table the file does not know, or a key before the first table
    ("[queue]", "[queues]", "queues", "unknown table [queues]; did you mean [queue]?"),
    ("[[services]]", "[[service]]", "service", "unknown table [service]; did you mean [services]?"),
    ("[site]", 'colour = "red"\n[site]', "colour", "unknown key colour before the first [table]; the tables are "),
]


@pytest.mark.parametrize("old,new,key,hint", TYPOS)
def test_an_unknown_key_or_table_stops_start_up_naming_the_nearest(tmp_path, old, new, key, hint):
    test_a_bad_site_file_names_file_key_and_problem(tmp_path, old, new, key, hint)


def test_the_message_of_a_typo_in_the_kiosk_table(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8").replace("admin_pin =", "admin-pin =", 1), encoding="utf-8")
    with pytest.raises(SiteConfigError) as exc:
        load_site(path)
    assert str(exc.value) == f"{path}: kiosk.admin-pin: unknown key admin-pin; did you mean admin_pin?"


# -- secrets are never defaulted; the sample's are named at every start ----------------------

SECRETS = [
    ('admin_pin = "246810"', "", "kiosk.admin_pin", "missing; set admin_pin = "),
    ('[kiosk]\nidle_seconds = 60', "[kioskx]\nidle_seconds = 60", "kioskx", "did you mean [kiosk]?"),
    ('secret = "demo-change-this-dossier-secret"', "", "dossiers.secret", "token_urlsafe"),
    ('secret = "demo-change-this-dossier-secret"', 'secret = ""', "dossiers.secret", "must not be empty"),
    ('password = "demo-kiosk-2-secret"', "", "devices[{kiosk-2}].password", "a password of its own"),
]


@pytest.mark.parametrize("old,new,key,what", SECRETS)
def test_a_missing_secret_stops_start_up_saying_what_to_put_there(tmp_path, old, new, key, what):
    test_a_bad_site_file_names_file_key_and_problem(tmp_path, old, new, key, what)


@pytest.mark.parametrize("table", ["kiosk", "dossiers"])
def test_a_missing_secrets_table_stops_start_up(tmp_path, table):
    text = EXAMPLE.read_text(encoding="utf-8")
    start = text.index(f"[{table}]\n")
    path = tmp_path / "site.toml"
    path.write_text(text[:start] + text[text.index("\n\n", start):], encoding="utf-8")
    with pytest.raises(SiteConfigError) as exc:
        load_site(path)
    assert str(exc.value).startswith(f"{path}: {table}: missing; add [{table}] with ")


def test_the_sample_secrets_in_code_are_exactly_the_samples():
    """The sample's secrets are kept in motcua.config (examples/ is not installed): every
    secret of the sample is among them, and none is left over."""
    site = load_site(EXAMPLE)
    assert site.kiosk.admin_pin == config.SAMPLE_ADMIN_PIN
    assert site.dossiers.secret == config.SAMPLE_DOSSIER_SECRET
    assert site.web.secret == config.SAMPLE_WEB_SECRET
    assert {d.password for d in site.devices} == config.SAMPLE_PASSWORDS


def _sample_copy(tmp_path, name="site.toml", **changes):
    text = EXAMPLE.read_text(encoding="utf-8").replace('"../var', '"var')
    for old, new in changes.values():
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


OWN_SECRETS = {
    "pin": ('admin_pin = "246810"', 'admin_pin = "97531"'),
    "secret": ('secret = "demo-change-this-dossier-secret"', 'secret = "our-own-dossier-secret-2026"'),
    "web": ('secret = "demo-change-this-web-secret"', 'secret = "our-own-web-link-secret-2026"'),
}


def test_secrets_still_the_samples_are_named_in_one_warning_at_every_start(tmp_path, caplog, monkeypatch):
    monkeypatch.delenv(config.WARNED_ENV, raising=False)
    path = _sample_copy(tmp_path, pin=OWN_SECRETS["pin"])
    with caplog.at_level(logging.WARNING, logger="motcua.config"):
        site = load_site(path)
        load_site(path)  # every command loads the site file; one warning per process
    warnings = [r for r in caplog.records if r.name == "motcua.config"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    text = warnings[0].getMessage()
    assert text.startswith(f"{path} still holds secrets copied from the sample site file")
    assert "\n  dossiers.secret\n" in text and "kiosk.admin_pin" not in text  # the PIN is our own
    assert f"the password of {len(site.devices)} [[devices]]: centre, admin, motcua-connector," in text
    assert config.sample_secrets(site)[:3] == ["dossiers.secret", "web.secret", "devices[0].password (centre)"]


def test_own_secrets_give_no_warning_and_a_started_command_does_not_repeat_it(tmp_path, caplog, monkeypatch):
    monkeypatch.delenv(config.WARNED_ENV, raising=False)
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in OWN_SECRETS.values():
        text = text.replace(old, new, 1)
    text = re.sub(r'password = "demo-([a-z0-9-]+)-secret"', r'password = "our-\1-password"', text)
    own = tmp_path / "own.toml"
    own.write_text(text.replace('"../var', '"var'), encoding="utf-8")
    sample = _sample_copy(tmp_path, "sample.toml")
    monkeypatch.setenv(config.WARNED_ENV, str(sample.resolve()))  # as `motcua demo` tells what it starts
    with caplog.at_level(logging.WARNING, logger="motcua.config"):
        assert config.sample_secrets(load_site(own)) == []
        assert config.sample_secrets(load_site(sample)) != []
    assert not [r for r in caplog.records if r.name == "motcua.config"]


def test_the_sample_warning_reaches_the_terminal_of_a_command(tmp_path):
    path = _sample_copy(tmp_path)
    done = subprocess.run([sys.executable, "-m", "motcua", "--site", str(path), "report"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)  # no database: stops at once
    assert done.stderr.count("still holds secrets copied from the sample site file") == 1
    assert "  kiosk.admin_pin\n  dossiers.secret\n" in done.stderr

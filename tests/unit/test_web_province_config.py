"""The web at the province and the notifier in the configuration, as text and
config checks (docs/web.md, "At the province" and "Telling a phone"): the site
file's `[province] web = true`, the bridge's web lines, the provincial file's
[web], the provincial ACL's web blocks, and the notifier's address and token
(from a file, refused when missing or readable by all; the environment wins).
tests/integration/test_web_at_the_province.py runs them for real."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from motcua.broker import bridge_text
from motcua.config import SiteConfigError, load_site
from motcua.province import broker as province_broker
from motcua.province.config import ProvinceConfigError, load_province
from motcua.web import NOTIFIER_TOKEN_ENV, NOTIFIER_URL_ENV, configured_notifier, site_notifier

from support.broker import EXAMPLE, ROOT

PROVINCE_SAMPLE = ROOT / "examples" / "province.toml"
TABLE = """
[province]
host = "mqtt.hue.gov.vn"
cafile = "pki/province-ca.crt"
password = "centre-own-secret-1"
web = true
"""
WEB = """
[web]
device = "web-tinh"
password = "province-web-secret"
base_url = "https://dichvu.hue.gov.vn/"
secret = "one-secret-for-every-centre"
"""


def site_with(tmp_path: Path, table: str = TABLE, devices: str = "", web_extra: str = "") -> Path:
    text = EXAMPLE.read_text(encoding="utf-8").replace('data_dir = "../var"', 'data_dir = "var"')
    if web_extra:
        text = text.replace('secret = "demo-change-this-web-secret"',
                            'secret = "demo-change-this-web-secret"\n' + web_extra)
    path = tmp_path / "site.toml"
    path.write_text(text + devices + table, encoding="utf-8")
    return path


def province_with(tmp_path: Path, web: str = WEB, old: str = "", new: str = "") -> Path:
    text = PROVINCE_SAMPLE.read_text(encoding="utf-8") + web
    assert old in text
    path = tmp_path / "province.toml"
    path.write_text(text.replace(old, new) if old else text, encoding="utf-8")
    return path


# -- the centre's side -------------------------------------------------------------------------

def topics(text: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in text.splitlines() if line.startswith("topic ")]


def test_web_true_adds_the_webs_lines_to_the_bridge_and_only_its_device_in(tmp_path):
    site = load_site(site_with(tmp_path))
    assert site.province.web and site.province.web_device is None
    t = topics(bridge_text(site, site.province))
    root = "motcua/hcc-demo"
    assert t == [f"{root}/ship/batch out 1", f"{root}/ship/live out 0", f"{root}/ship/ack in 1",
                 f"{root}/state/service/+ out 0", f"{root}/centre/availability out 0",
                 f"{root}/catalogue/version out 0", f"{root}/event/call out 1", f"{root}/event/ticket out 1",
                 f"{root}/reply/web out 0", f"{root}/request/web in 0"]
    assert [x for x in t if x.endswith((" in 0", " in 1"))] == [f"{root}/ship/ack in 1", f"{root}/request/web in 0"]
    # without it: the three ship lines alone
    plain = load_site(site_with(tmp_path, TABLE.replace("web = true\n", "")))
    assert not plain.province.web and len(topics(bridge_text(plain, plain.province))) == 3


def test_web_device_names_the_provinces_device(tmp_path):
    extra = '\n[[devices]]\nid = "web-tinh"\nrole = "web"\npassword = "web-tinh-centre-secret"\n'
    site = load_site(site_with(tmp_path, TABLE + 'web_device = "web-tinh"\n', devices=extra))
    t = topics(bridge_text(site, site.province))
    assert "motcua/hcc-demo/request/web-tinh in 0" in t and "motcua/hcc-demo/reply/web-tinh out 0" in t
    assert not any(x.endswith("/web in 0") for x in t)


@pytest.mark.parametrize("table, devices, key, says", [
    (TABLE + 'web_device = "kiosk-1"\n', "", "province.web_device", "is not a device with role = \"web\""),
    (TABLE, '\n[[devices]]\nid = "web-tinh"\nrole = "web"\npassword = "web-tinh-centre-secret"\n',
     "province.web", "say which of web, web-tinh"),
    (TABLE.replace("web = true", 'web = "yes"'), "", "province.web", ""),
])
def test_a_bad_web_in_province_names_the_key(tmp_path, table, devices, key, says):
    with pytest.raises(SiteConfigError) as err:
        load_site(site_with(tmp_path, table, devices))
    assert f": {key}: " in str(err.value) and says in str(err.value), str(err.value)


def test_web_true_without_a_web_device_says_what_to_add(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8").replace('data_dir = "../var"', 'data_dir = "var"')
    text = text.replace('id = "web"\nrole = "web"', 'id = "web"\nrole = "integration"')
    path = tmp_path / "site.toml"
    path.write_text(text + TABLE, encoding="utf-8")
    with pytest.raises(SiteConfigError, match=r"province\.web: .*add a \[\[devices\]\] entry with role = \"web\""):
        load_site(path)


# -- the provincial file's [web] and ACL ---------------------------------------------------------

def test_the_provincial_web_table_is_read_and_the_acl_grants_exactly_the_webs_topics(tmp_path):
    p = load_province(province_with(tmp_path))
    assert p.web.device == "web-tinh" and p.web.base_url == "https://dichvu.hue.gov.vn"
    assert [c.id for c in p.web_centres] == [c.id for c in p.centres]
    assert all(p.web_secret(c) == "one-secret-for-every-centre" for c in p.centres)
    acl = province_broker.acl_text(p)
    b = {}
    user = None
    for line in acl.splitlines():
        if line.startswith("user "):
            user = line[5:]
            b.setdefault(user, [])
        elif line.startswith("topic "):
            b[user].append(line)
    c = "motcua/xa-phu-vinh"
    assert [x for x in b["web-tinh"] if x.split()[-1].startswith(c + "/")] == [
        f"topic read {c}/state/service/+", f"topic read {c}/centre/availability",
        f"topic read {c}/catalogue/version", f"topic read {c}/event/call", f"topic read {c}/event/ticket",
        f"topic read {c}/reply/web-tinh", f"topic read {c}/ship/link", f"topic write {c}/request/web-tinh"]
    assert len(b["web-tinh"]) == 8 * len(p.centres) and all("#" not in x for x in b["web-tinh"])
    assert b["xa-phu-vinh"][4:] == [
        f"topic write {c}/state/service/+", f"topic write {c}/centre/availability",
        f"topic write {c}/catalogue/version", f"topic write {c}/event/call", f"topic write {c}/event/ticket",
        f"topic write {c}/reply/web-tinh", f"topic read {c}/request/web-tinh"]
    assert ("web-tinh", "province-web-secret") in province_broker.logins(p)
    # the hub and the board are as before
    assert b["hub"] == ["topic read motcua/+/ship/batch", "topic read motcua/+/ship/link",
                        "topic write motcua/+/ship/ack"]


def test_per_centre_secrets_and_a_centre_without_one(tmp_path):
    web = WEB.replace('secret = "one-secret-for-every-centre"\n', "")
    path = province_with(tmp_path, web, 'password = "demo-centre-thuan-hoa-secret"\n',
                         'password = "demo-centre-thuan-hoa-secret"\nweb_secret = "thuan-hoa-web-secret-1"\n')
    p = load_province(path)
    assert [c.id for c in p.web_centres] == ["phuong-thuan-hoa"]
    acl = province_broker.acl_text(p)
    assert "motcua/phuong-thuan-hoa/request/web-tinh" in acl and "motcua/xa-phu-vinh/request/web-tinh" not in acl


@pytest.mark.parametrize("old, new, says", [
    ('device = "web-tinh"\n', "", "web.device: missing; give the web's device id"),
    ('device = "web-tinh"', 'device = "hub"', "web.device: 'hub' is the hub's own login"),
    ('device = "web-tinh"', 'device = "xa-phu-vinh"', "web.device: 'xa-phu-vinh' is a centre's login"),
    ('device = "web-tinh"', 'device = "Web Tỉnh"', "must be a device id"),
    ('password = "province-web-secret"', 'password = "short"', "web.password: must be at least 8"),
    ('base_url = "https://dichvu.hue.gov.vn/"', 'base_url = "dichvu.hue.gov.vn"', "web.base_url: "),
    ('secret = "one-secret-for-every-centre"\n', "", "web.secret: no centre's secret"),
    ('secret = "one-secret-for-every-centre"', 'secret = "short"', "web.secret: must be at least 16"),
    ('base_url', 'base-url', "unknown key base-url"),
])
def test_a_bad_provincial_web_table_names_the_key(tmp_path, old, new, says):
    with pytest.raises(ProvinceConfigError) as err:
        load_province(province_with(tmp_path, WEB.replace(old, new, 1)))
    assert says in str(err.value), str(err.value)


def test_a_short_web_secret_of_a_centre_is_refused(tmp_path):
    path = province_with(tmp_path, WEB, 'password = "demo-centre-thuan-hoa-secret"\n',
                         'password = "demo-centre-thuan-hoa-secret"\nweb_secret = "short"\n')
    with pytest.raises(ProvinceConfigError, match=r"centres\[0\]\.web_secret: must be at least 16"):
        load_province(path)


# -- the notifier from the configuration ---------------------------------------------------------

@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(NOTIFIER_URL_ENV, raising=False)
    monkeypatch.delenv(NOTIFIER_TOKEN_ENV, raising=False)
    return monkeypatch


def token_file(tmp_path: Path, mode: int = 0o600, text: str = "gateway-token-from-file\n") -> Path:
    path = tmp_path / "notifier.token"
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def test_the_site_files_notifier_and_its_token_file(tmp_path, no_env):
    token_file(tmp_path)
    site = load_site(site_with(tmp_path, "", web_extra='notifier_url = "https://sms.example.vn/hook"\n'
                                                       'notifier_token_file = "notifier.token"'))
    assert site.web.notifier_url == "https://sms.example.vn/hook"
    n = site_notifier(site)                  # relative to the site file
    assert n.url == "https://sms.example.vn/hook" and n.token == "gateway-token-from-file"


def test_no_notifier_configured_is_none(tmp_path, no_env):
    assert site_notifier(load_site(site_with(tmp_path, ""))) is None


def test_the_environment_wins(tmp_path, no_env):
    no_env.setenv(NOTIFIER_URL_ENV, "https://other.example.vn/send")
    no_env.setenv(NOTIFIER_TOKEN_ENV, "token-from-the-environment")
    n = configured_notifier("https://sms.example.vn/hook", str(tmp_path / "missing.token"))
    assert n.url == "https://other.example.vn/send" and n.token == "token-from-the-environment"


@pytest.mark.parametrize("mode, text, says", [
    (0o644, "t", "readable by every user of this machine; run `chmod 600"),
    (0o600, "\n", "is empty"),
])
def test_a_token_file_readable_by_all_or_empty_is_refused(tmp_path, no_env, mode, text, says):
    path = token_file(tmp_path, mode, text)
    with pytest.raises(ValueError, match=re_escape(says)):
        configured_notifier("https://sms.example.vn/hook", str(path))


def test_a_missing_token_file_or_token_is_refused(tmp_path, no_env):
    with pytest.raises(ValueError, match="cannot read it .*chmod 600"):
        configured_notifier("https://sms.example.vn/hook", str(tmp_path / "missing.token"))
    with pytest.raises(ValueError, match=f"notifier_token_file .* or set {NOTIFIER_TOKEN_ENV}"):
        configured_notifier("https://sms.example.vn/hook", None)
    with pytest.raises(ValueError, match="notifier_token_file is set but notifier_url is not"):
        configured_notifier(None, str(token_file(tmp_path)))


def test_a_bad_notifier_url_is_refused_by_the_site_file(tmp_path):
    with pytest.raises(SiteConfigError, match=r"web\.notifier_url: 'sms\.example\.vn' must be the gateway's"):
        load_site(site_with(tmp_path, "", web_extra='notifier_url = "sms.example.vn"'))


def re_escape(text: str) -> str:
    import re
    return re.escape(text)


# -- the command line ------------------------------------------------------------------------------

def test_web_takes_site_or_province_not_both(capsys, no_env):
    from motcua.cli import main
    assert main(["--site", str(EXAMPLE), "web", "--province", str(PROVINCE_SAMPLE)]) == 2
    assert "give --site (one centre, on its own broker) or --province" in capsys.readouterr().err
    assert main(["web", "--province", str(PROVINCE_SAMPLE), "--device", "web"]) == 2
    assert "--device is for --site" in capsys.readouterr().err
    assert main(["web", "--province", str(PROVINCE_SAMPLE), "--demo-messages"]) == 2
    assert "--demo-messages is for the demo of one centre" in capsys.readouterr().err
    assert main(["web", "--province", str(PROVINCE_SAMPLE)]) == 2     # the sample's [web] is commented out
    assert "has no [web] table: add one with device, password, base_url" in capsys.readouterr().err


def test_web_without_a_site_file_names_the_province_too(capsys, no_env, tmp_path, monkeypatch):
    from motcua.cli import main
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MOTCUA_SITE", raising=False)
    assert main(["web"]) == 2
    err = capsys.readouterr().err
    assert "no site file: pass --site FILE" in err and "or, at the province, --province province.toml" in err


def test_the_provincial_notifier_token_file_is_near_the_file_and_checked(tmp_path, no_env, capsys):
    token_file(tmp_path, 0o644, "province-gateway-token\n")
    web = WEB + 'notifier_url = "https://sms.example.vn/tinh"\nnotifier_token_file = "notifier.token"\n'
    p = load_province(province_with(tmp_path, web))
    assert p.web.notifier_token_file == str(tmp_path / "notifier.token")
    from motcua.cli import main
    assert main(["web", "--province", str(p.path)]) == 2          # readable by all: refused at start
    err = capsys.readouterr().err
    assert f"{p.path}: [web] notifier_token_file {tmp_path / 'notifier.token'} is readable by every user" in err
    os.chmod(tmp_path / "notifier.token", 0o600)
    n = configured_notifier(p.web.notifier_url, p.web.notifier_token_file)
    assert n.url == "https://sms.example.vn/tinh" and n.token == "province-gateway-token"

"""The brokers' side of the province (docs/province.md, "Brokers"), as text: the
site file's [province] table, the centre's bridge block, the provincial ACL and
configuration. tests/integration/test_province_brokers.py runs them for real
(this file is named otherwise: two test modules of one basename break the
collection of the whole suite)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from motcua.broker import BrokerSetupError, bridge_text, bridge_to
from motcua.config import ProvinceLink, SiteConfigError, load_site
from motcua.province import broker as province_broker
from motcua.province.config import ProvinceConfigError, load_province

from support.broker import EXAMPLE, ROOT

PROVINCE_SAMPLE = ROOT / "examples" / "province.toml"
TABLE = """
[province]
host = "mqtt.hue.gov.vn"
cafile = "pki/province-ca.crt"
password = "centre-own-secret-1"
"""


def site_with(tmp_path: Path, table: str = TABLE):
    path = tmp_path / "site.toml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8").replace('data_dir = "../var"', 'data_dir = "var"')
                    + table, encoding="utf-8")
    return path


# -- the site file's [province] ---------------------------------------------------------

def test_province_table_is_optional_and_read_with_defaults(tmp_path):
    assert load_site(EXAMPLE).province is None
    link = load_site(site_with(tmp_path)).province
    assert link == ProvinceLink(host="mqtt.hue.gov.vn", port=8883, password="centre-own-secret-1",
                                cafile=str(tmp_path / "pki" / "province-ca.crt"))  # relative to the file


@pytest.mark.parametrize("old, new, key, says", [
    ('password = "centre-own-secret-1"\n', "", "province.password", "this centre's own password"),
    ('cafile = "pki/province-ca.crt"\n', "", "province.cafile", "goes over TLS"),
    ('host = "mqtt.hue.gov.vn"\n', "", "province.host", "provincial broker's address"),
    ('host = "mqtt.hue.gov.vn"', 'host = "mqtt.hue.gov.vn:8883"', "province.host", "the port goes in port"),
    ('password = "centre-own-secret-1"', 'password = "a:b-secret"', "province.password", "must not contain ':'"),
    ('password = "centre-own-secret-1"', 'password = "short"', "province.password", "at least 8"),
    ('host = "mqtt.hue.gov.vn"', 'host = "mqtt.hue.gov.vn"\nport = 0', "province.port", "not a TCP port"),
    # the login is the site id: the provincial ACL ties it to the topic root
    ('host = "mqtt.hue.gov.vn"', 'host = "mqtt.hue.gov.vn"\nusername = "other"', "province.username",
     "unknown key username"),
    ('cafile = "pki', 'tls_insecure = true\ncafile = "pki', "province.tls_insecure", "unknown key tls_insecure"),
])
def test_a_bad_province_table_names_the_key(tmp_path, old, new, key, says):
    assert old in TABLE
    with pytest.raises(SiteConfigError) as err:
        load_site(site_with(tmp_path, TABLE.replace(old, new)))
    assert f": {key}: " in str(err.value) and says in str(err.value), str(err.value)


# -- the centre's bridge block --------------------------------------------------------

def directives(text: str) -> list[tuple[str, str]]:
    return [tuple(line.split(" ", 1)) for line in text.splitlines() if line and not line.startswith("#")]


def test_the_bridge_block_carries_ship_out_and_the_ack_in_and_nothing_else(tmp_path):
    site = load_site(site_with(tmp_path))
    d = directives(bridge_text(site, site.province))
    assert d[0] == ("connection", "province")  # everything after it is the bridge's
    conf = dict(d)
    assert conf["address"] == "mqtt.hue.gov.vn:8883"
    assert conf["remote_username"] == "hcc-demo" and conf["remote_password"] == "centre-own-secret-1"
    assert conf["remote_clientid"] == "motcua-bridge-hcc-demo"
    assert conf["bridge_cafile"] == str(tmp_path / "pki" / "province-ca.crt")
    assert conf["bridge_protocol_version"] == "mqttv311" and conf["try_private"] == "true"
    assert conf["cleansession"] == "false" and conf["notifications"] == "true"
    assert conf["notification_topic"] == "motcua/hcc-demo/ship/link"
    assert conf["restart_timeout"] == "2 30"
    assert "bridge_insecure" not in conf and "bridge_tls_version" not in conf
    assert [v for k, v in d if k == "topic"] == [
        "motcua/hcc-demo/ship/batch out 1", "motcua/hcc-demo/ship/live out 0", "motcua/hcc-demo/ship/ack in 1"]


def test_bridge_to_overrides_the_address_and_needs_the_table(tmp_path):
    site = load_site(site_with(tmp_path))
    assert bridge_to(site, "10.0.0.5").host == "10.0.0.5" and bridge_to(site, "10.0.0.5").port == 8883
    link = bridge_to(site, "broker.hue:18841")
    assert (link.host, link.port, link.password) == ("broker.hue", 18841, "centre-own-secret-1")
    for bad in ("host:", "host:99999", "host:x", ":8883", "fe80::1"):
        with pytest.raises(BrokerSetupError, match="give HOST or HOST:PORT"):
            bridge_to(site, bad)
    with pytest.raises(BrokerSetupError, match=r"needs a \[province\] table .* password"):
        bridge_to(load_site(EXAMPLE), "broker.hue")


def test_no_ca_no_bridge(tmp_path):
    """The CA file must exist before the configuration is written (never an unverified bridge)."""
    from motcua.broker import write_config
    site = load_site(site_with(tmp_path))
    with pytest.raises(BrokerSetupError, match="province-ca.crt .*does not exist.*TLS only"):
        write_config(site, tmp_path / "broker")
    assert not (tmp_path / "broker" / "mosquitto.conf").exists()


# -- the provincial broker ------------------------------------------------------------

def blocks(acl: str) -> dict[str, list[str]]:
    """user -> its topic lines; a `topic` line before any `user` line would be anonymous's."""
    out: dict[str, list[str]] = {}
    user = None
    for line in acl.splitlines():
        if line.startswith("user "):
            user = line.split(" ", 1)[1]
            assert user not in out, f"{user} has two blocks"
            out[user] = []
        elif line.startswith("topic "):
            assert user is not None, "a topic line before the first user line"
            out[user].append(line)
        else:
            assert not line or line.startswith("#"), line
    return out


def test_the_provincial_acl_gives_each_login_exactly_its_topics():
    p = load_province(PROVINCE_SAMPLE)
    acl = province_broker.acl_text(p)
    assert not re.search(r"^pattern", acl, flags=re.M), "a pattern would apply to the hub and the board too"
    b = blocks(acl)
    assert set(b) == {"hub", "board", *(c.id for c in p.centres)}
    assert b["hub"] == ["topic read motcua/+/ship/batch", "topic read motcua/+/ship/link",
                        "topic write motcua/+/ship/ack"]
    assert b["board"] == ["topic read motcua/+/ship/live", "topic read motcua/+/ship/link"]
    for c in p.centres:
        assert b[c.id] == [f"topic write motcua/{c.id}/ship/batch", f"topic write motcua/{c.id}/ship/live",
                           f"topic write motcua/{c.id}/ship/link", f"topic read motcua/{c.id}/ship/ack"]
    assert all("#" not in t for lines in b.values() for t in lines)
    assert province_broker.logins(p)[:2] == [("hub", p.hub_password), ("board", p.board_password)]


@pytest.mark.parametrize("reserved", ["hub", "board"])
def test_a_centre_cannot_take_the_hubs_or_the_boards_login(tmp_path, reserved):
    f = tmp_path / "province.toml"
    f.write_text(PROVINCE_SAMPLE.read_text(encoding="utf-8").replace('id = "xa-phu-vinh"', f'id = "{reserved}"'),
                 encoding="utf-8")
    with pytest.raises(ProvinceConfigError, match=rf"centres\[2\]\.id: '{reserved}' is the {reserved}'s own login"):
        load_province(f)


def test_queue_limits_hold_one_window_per_centre():
    p = load_province(PROVINCE_SAMPLE)
    assert province_broker.queue_limits(p) == (1000, 256 * 1024 * 1024)
    from dataclasses import replace
    many = replace(p, centres=tuple(replace(p.centres[0], id=f"xa-{i}") for i in range(500)))
    assert province_broker.queue_limits(many)[0] == 4000


def test_the_provincial_broker_needs_its_tls_files(tmp_path):
    p = load_province(PROVINCE_SAMPLE)  # the sample leaves them commented out
    with pytest.raises(BrokerSetupError, match="needs tls_cafile, tls_certfile, tls_keyfile: the centres' bridges"):
        province_broker.write_config(p, tmp_path / "broker")
    f = tmp_path / "province.toml"
    f.write_text(PROVINCE_SAMPLE.read_text(encoding="utf-8")
                 .replace('# tls_cafile = "/etc/motcua/province/ca.crt"', 'tls_cafile = "pki/ca.crt"')
                 .replace('# tls_certfile = "/etc/motcua/province/broker.crt"', 'tls_certfile = "pki/b.crt"')
                 .replace('# tls_keyfile = "/etc/motcua/province/broker.key"', 'tls_keyfile = "pki/b.key"'),
                 encoding="utf-8")
    with pytest.raises(BrokerSetupError, match=rf"tls_cafile: {tmp_path}/pki/ca.crt does not exist"):
        province_broker.write_config(load_province(f), tmp_path / "broker")

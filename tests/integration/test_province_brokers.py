"""A centre's Mosquitto bridged over TLS to the provincial Mosquitto, both with
the configurations motcua writes (docs/province.md, "Brokers"), real TLS with a
throwaway CA (tests/support/tls.py), and the provincial ACL tried as an attacker
holding one centre's password would.

Mosquitto drops a denied QoS 0 publish silently, answers a denied QoS 1 publish
with PUBACK 0x87 (MQTT 5) and grants every subscription, filtering at delivery.
So each "cannot" here is checked on what a legitimate reader actually receives:
a forbidden message is followed by an allowed one through the same path, and
once the allowed one is in, the forbidden one would have been there before it.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from motcua.config import load_site
from motcua.province.config import load_province
from motcua.protocol import Topics
from support.broker import ROOT, Broker, free_port, wait_port, write_site
from support.province_broker import (OBSERVER, OBSERVER_PASSWORD, Client, ProvincialBroker,
                                     tls_handshake_fails, wait_until, write_province)
from support.tls import make_ca

NOT_AUTHORIZED = 0x87
SITE = "hcc-demo"                       # the sample site: centre A, bridged for real
OTHER = "phuong-thuan-hoa"              # centre B, one of the sample province's centres
A_PASSWORD = "test-centre-a-province-secret"
ROOT_A, ROOT_B = f"motcua/{SITE}", f"motcua/{OTHER}"
LINK_A = f"{ROOT_A}/ship/link"


@pytest.fixture(scope="module")
def pki():
    # not pytest's 0700 tmp_path: the mosquitto user reads the certificates (root drops to it)
    folder = Path(tempfile.mkdtemp(prefix="motcua-pki-"))
    folder.chmod(0o755)
    pki = make_ca(folder / "province")
    cert, key = pki.server("broker")
    other = make_ca(folder / "other", name="someone else's CA")
    yield pki, cert, key, other
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def clients():
    made: list[Client] = []

    def _make(*args, **kw) -> Client:
        c = Client(*args, **kw)
        made.append(c)
        return c
    yield _make
    for c in made:
        try:
            c.close()
        except Exception:  # noqa: BLE001 - a refused or dropped client
            pass


class Pair:
    """The provincial broker and centre A's broker bridged to it."""

    def __init__(self, workdir: Path, pki, ca: Path | None = None, widen: bool = False):
        pki_, cert, key, other = pki
        self.ca, self.other_ca = pki_.ca, other.ca
        path = write_province(workdir, pki_, cert, key, free_port(), free_port(), {SITE: A_PASSWORD})
        self.province = ProvincialBroker(path, workdir / "province-broker", widen=(SITE,) if widen else ())
        p = self.province.province
        self.site = load_site(write_site(workdir, free_port(), extra=(
            f'\n[province]\nhost = "127.0.0.1"\nport = {p.broker.tls_port}\n'
            f'cafile = "{ca or pki_.ca}"\npassword = "{A_PASSWORD}"\n')))
        self.centre = Broker(self.site, workdir / "centre-broker")
        self.p = p

    def start(self) -> "Pair":
        self.province.start()
        self.centre.start()
        return self

    def stop(self) -> None:
        self.centre.stop()
        self.province.stop()

    # logins
    def hub(self, clients, **kw) -> Client:
        return clients(self.p.broker.port, "hub", self.p.hub_password, **kw)

    def board(self, clients, **kw) -> Client:
        return clients(self.p.broker.port, "board", self.p.board_password, **kw)

    def observer(self, clients) -> Client:
        return clients(self.p.broker.port, OBSERVER, OBSERVER_PASSWORD)

    def as_centre(self, clients, centre: str = SITE, password: str | None = None, **kw) -> Client:
        """A client on the provincial TLS listener with a centre's own login."""
        pw = password or (A_PASSWORD if centre == SITE else self.p.centre(centre).password)
        return clients(self.p.broker.tls_port, centre, pw, ca=self.ca, **kw)

    def local(self, clients, device: str = "centre") -> Client:
        """A client on the centre's own broker (the centre device: what `motcua ship` logs in as)."""
        return clients(self.site.broker.port, device, self.site.device(device).password)


@pytest.fixture
def pair(workdir, pki):
    p = Pair(workdir, pki).start()
    yield p
    p.stop()


def unique(what: str) -> bytes:
    return f"{what}-{uuid.uuid4().hex[:8]}".encode()


# -- the bridge -----------------------------------------------------------------------------

def test_batches_and_tiles_go_out_acknowledgements_come_in(pair, clients):
    hub = pair.hub(clients).login()
    hub.subscribe("motcua/+/ship/batch", "motcua/+/ship/link")
    hub.wait_last(LINK_A, b"1", timeout=15)            # the bridge's notification, on the province
    local = pair.local(clients).login()
    local.subscribe(f"{ROOT_A}/ship/ack", LINK_A)
    local.wait_last(LINK_A, b"1")                       # and on the centre's own broker

    batch = unique("batch")
    assert not local.publish(f"{ROOT_A}/ship/batch", batch).is_failure
    assert hub.wait_for(batch)[0] == f"{ROOT_A}/ship/batch"

    ack = unique("ack")
    assert not hub.publish(f"{ROOT_A}/ship/ack", ack, retain=True).is_failure
    local.wait_for(ack)
    # kept retained on the centre's broker too: `motcua ship` finds it when it starts
    late = pair.local(clients).login()
    late.subscribe(f"{ROOT_A}/ship/ack")
    assert late.wait_for(ack)[2] is True

    tile = unique("tile")
    assert not local.publish(f"{ROOT_A}/ship/live", tile, retain=True).is_failure
    # Once the tile is on the province (the witness sees it), a board that comes later
    # gets it as retained; subscribing before it crossed would see it live instead.
    witness = pair.observer(clients).login()
    witness.subscribe(f"{ROOT_A}/ship/live")
    witness.wait_for(tile)
    board = pair.board(clients).login()
    board.subscribe("motcua/+/ship/live", "motcua/+/ship/link")
    assert board.wait_for(tile) == (f"{ROOT_A}/ship/live", tile, True)   # retained on the province
    assert board.wait_for(b"1", LINK_A)[2] is True


def test_nothing_else_of_the_centre_crosses_either_way(workdir, pki, clients):
    """The bridge's own topic lines, alone: the provincial ACL would stop the rest
    anyway, so here it lets centre A's login read and write all of A's root."""
    pair = Pair(workdir, pki, widen=True).start()
    try:
        _nothing_else_crosses(pair, clients)
    finally:
        pair.stop()


def _nothing_else_crosses(pair, clients):
    watch = pair.observer(clients).login()
    watch.subscribe("#")
    watch.wait_last(LINK_A, b"1", timeout=15)
    local = pair.local(clients).login()
    local.subscribe(f"{ROOT_A}/#")
    t = Topics(SITE)
    stay = [(t.hall_state, True), (t.call_event, False), (t.request("kiosk-1"), False),
            (t.reply("kiosk-1"), False), (t.rating(1), False), (t.centre_availability, True),
            (f"{ROOT_A}/ship/ack", True),          # an acknowledgement only ever comes in
            (f"{ROOT_A}/ship/batchx", False), (f"{ROOT_A}/ship/batch/x", False)]
    kept = {}
    for topic, retained in stay:
        kept[topic] = unique("stays-home")
        assert not local.publish(topic, kept[topic], retain=retained).is_failure
    marker = unique("batch-after")
    local.publish(f"{ROOT_A}/ship/batch", marker)
    watch.wait_for(marker)
    leaked = [t for t, p, _ in watch.received if p in kept.values()]
    assert not leaked, f"crossed to the province: {leaked}"

    # and from the province in: only the acknowledgement, nothing that could act in the hall
    came = {}
    for topic in (t.request("kiosk-1"), t.call_event, t.notice, f"{ROOT_A}/ship/batch",
                  f"{ROOT_A}/ship/live", f"{ROOT_A}/state/hall"):
        came[topic] = unique("from-province")
        assert not watch.publish(topic, came[topic]).is_failure
    ack = unique("ack-after")
    watch.publish(f"{ROOT_A}/ship/ack", ack, retain=True)
    local.wait_for(ack)
    entered = [t for t, p, _ in local.received if p in came.values()]
    assert not entered, f"came into the centre from the province: {entered}"


def test_the_will_says_0_when_the_centre_broker_dies_and_the_link_comes_back(pair, clients):
    hub = pair.hub(clients, reconnect=True, session=True, client_id="test-hub").login()
    hub.subscribe("motcua/+/ship/batch", "motcua/+/ship/link")
    hub.wait_last(LINK_A, b"1", timeout=15)

    pair.centre.proc.kill()                     # SIGKILL: no goodbye; the province publishes the will
    pair.centre.proc.wait()
    hub.wait_last(LINK_A, b"0", timeout=10)
    pair.centre.start()
    hub.wait_last(LINK_A, b"1", timeout=15)

    # the provincial broker restarts: the centre sees the link go and come back by itself
    local = pair.local(clients).login()
    local.subscribe(LINK_A, f"{ROOT_A}/ship/ack")
    local.wait_last(LINK_A, b"1")
    board = pair.board(clients, reconnect=True, session=True, client_id="test-board").login()
    board.subscribe(f"{ROOT_A}/ship/live")
    pair.province.stop()
    local.wait_last(LINK_A, b"0", timeout=10)
    # meanwhile the centre goes on: a batch waits at the centre's broker, tiles replace each other
    batch = unique("batch-while-down")
    local.publish(f"{ROOT_A}/ship/batch", batch)
    tiles = [unique(f"tile-{i}") for i in range(5)]
    for tile in tiles:
        local.publish(f"{ROOT_A}/ship/live", tile, retain=True)
    down_at = time.monotonic()
    pair.province.start()
    local.wait_last(LINK_A, b"1", timeout=40)
    back_after = time.monotonic() - down_at
    hub.wait_for(batch, timeout=15)             # the queued batch went out once the link was back
    board.wait_for(tiles[-1], timeout=15)       # the board, back too, gets the newest tile
    time.sleep(0.5)
    stale = [p for _, p, _ in board.received if p in tiles[:-1]]
    assert not stale, "the tiles of the outage were queued and sent; only the newest one should be"
    print(f"link back {back_after:.1f} s after the provincial broker started again")
    assert back_after < 35


def test_a_bridge_that_does_not_trust_the_province_does_not_connect(workdir, pki, clients):
    """The centre's [province] cafile is another CA: TLS fails, the centre's password is never sent."""
    p = Pair(workdir, pki, ca=pki[3].ca).start()
    try:
        watch = p.observer(clients).login()
        watch.subscribe("motcua/+/ship/link")
        local = p.local(clients).login()
        local.subscribe(LINK_A)
        # Mosquitto logs each refused try; give it at least two (2 s, then 4 s apart)
        assert wait_until(lambda: p.centre.log.read_text().count("certificate verify failed") >= 2, 20), \
            p.centre.log.read_text()[-2000:]
        batch = unique("batch")
        local.publish(f"{ROOT_A}/ship/batch", batch)
        time.sleep(1)
        assert not watch.got(topic=LINK_A) and not watch.got(batch)
        assert local.last(LINK_A) in (None, b"0")
        assert f"u'{SITE}'" not in p.province.log.read_text(), "the bridge logged in all the same"
    finally:
        p.stop()


# -- the provincial ACL, tried as an attacker --------------------------------------------------

def test_a_centres_password_cannot_publish_for_another_centre(pair, clients):
    hub = pair.hub(clients).login()
    hub.subscribe("motcua/+/ship/batch", "motcua/+/ship/link")
    hub.wait_for(b"1", LINK_A, timeout=15)
    board = pair.board(clients).login()
    board.subscribe("motcua/+/ship/live", "motcua/+/ship/link")
    watch = pair.observer(clients).login()
    watch.subscribe("#")
    b = pair.as_centre(clients, OTHER).login()           # B's real bridge, as far as the broker knows
    b.publish(f"{ROOT_B}/ship/link", b"1", retain=True)
    hub.wait_for(b"1", f"{ROOT_B}/ship/link")

    attacker = pair.as_centre(clients, SITE).login()     # A's password, over TLS like a bridge
    forged = {topic: unique("forged") for topic in (
        f"{ROOT_B}/ship/batch", f"{ROOT_B}/ship/live", f"{ROOT_B}/ship/link", f"{ROOT_B}/ship/ack",
        f"{ROOT_A}/ship/ack",                            # not even its own acknowledgement
        "motcua/x/ship/batch", f"{ROOT_B}/state/hall", "$SYS/broker/connection/x/state", "other/topic")}
    for topic, payload in forged.items():
        for qos in (0, 1):
            rc = attacker.publish(topic, payload, qos=qos, retain=qos == 1)
            if qos == 1:
                assert rc.value == NOT_AUTHORIZED, f"{topic}: {rc}"
    own = unique("own-batch")
    assert not attacker.publish(f"{ROOT_A}/ship/batch", own).is_failure
    hub.wait_for(own)
    watch.wait_for(own)
    for reader in (hub, board, watch):
        assert not [t for t, p, _ in reader.received if p in forged.values()], "a forged message arrived"
    assert hub.last(f"{ROOT_B}/ship/link") == b"1"       # B's link still says what B said
    # nothing forged was kept retained either: a new reader of everything gets B's own link only
    late = pair.observer(clients).login()
    late.subscribe(f"{ROOT_B}/#")
    late.publish("test/ping", b"ping")
    late.subscribe("test/ping")
    late.publish("test/ping", b"ping-2")
    late.wait_for(b"ping-2")
    assert [(t, p) for t, p, _ in late.received if t.startswith(ROOT_B)] == [(f"{ROOT_B}/ship/link", b"1")]


def test_a_centres_password_cannot_read_another_centres_records(pair, clients):
    hub = pair.hub(clients).login()
    hub.subscribe("motcua/+/ship/batch")
    b_ack = unique("b-ack")
    hub.publish(f"{ROOT_B}/ship/ack", b_ack, retain=True)     # retained: a subscriber would get it at once
    watch = pair.observer(clients).login()
    watch.subscribe("$SYS/#")
    watch.wait_for(b"mosquitto version 2.0.11", "$SYS/broker/version")  # a reader of $SYS gets it at once

    attacker = pair.as_centre(clients, SITE).login()
    attacker.subscribe("#", "motcua/#", "motcua/+/ship/ack", "motcua/+/ship/batch", "motcua/+/ship/live",
                       f"{ROOT_B}/ship/ack", f"{ROOT_B}/ship/batch", "$SYS/#", f"{ROOT_A}/ship/#")
    b = pair.as_centre(clients, OTHER).login()
    records = unique("b-records")
    b.publish(f"{ROOT_B}/ship/batch", records)
    b.publish(f"{ROOT_B}/ship/live", unique("b-tile"), retain=True)
    hub.wait_for(records)      # delivered to every subscriber now; the attacker's copy would be queued already
    own_ack = unique("a-ack")
    hub.publish(f"{ROOT_A}/ship/ack", own_ack, retain=True)
    attacker.wait_for(own_ack)                                # its own acknowledgement it does get
    got = [(t, p) for t, p, _ in attacker.received]
    assert all(t == f"{ROOT_A}/ship/ack" for t, _ in got), f"the attacker read {got}"


def test_the_hub_and_the_board_only_do_their_part(pair, clients):
    watch = pair.observer(clients).login()
    watch.subscribe("#")
    local = pair.local(clients).login()
    local.subscribe(f"{ROOT_A}/ship/#")
    watch.wait_for(b"1", LINK_A, timeout=15)
    hub, board = pair.hub(clients).login(), pair.board(clients).login()
    forged = []
    for who, topic in ((hub, f"{ROOT_A}/ship/batch"), (hub, f"{ROOT_A}/ship/live"), (hub, LINK_A),
                       (board, f"{ROOT_A}/ship/ack"), (board, f"{ROOT_A}/ship/batch"),
                       (board, f"{ROOT_A}/ship/live"), (board, LINK_A)):
        payload = unique("forged")
        forged.append(payload)
        assert who.publish(topic, payload).value == NOT_AUTHORIZED, topic
    ack = unique("ack")
    hub.publish(f"{ROOT_A}/ship/ack", ack, retain=True)
    local.wait_for(ack)
    watch.wait_for(ack)
    assert not [p for _, p, _ in watch.received + local.received if p in forged]
    # the board reads no batch and no acknowledgement
    board.subscribe("#", "motcua/+/ship/batch", "motcua/+/ship/ack")
    batch = unique("batch")
    local.publish(f"{ROOT_A}/ship/batch", batch)
    watch.wait_for(batch)
    hub.publish(f"{ROOT_A}/ship/ack", unique("ack-2"), retain=True)
    tile = unique("tile")
    local.publish(f"{ROOT_A}/ship/live", tile, retain=True)
    board.wait_for(tile)
    assert {t for t, _, _ in board.received} <= {f"{ROOT_A}/ship/live", LINK_A}, board.received


def test_logins_are_refused_without_the_right_password_or_certificate(pair, clients):
    p = pair.p
    tls, plain = p.broker.tls_port, p.broker.port
    for port, user, password, ca in (
            (tls, SITE, "wrong-password-here", pair.ca),          # a wrong password
            (tls, OTHER, A_PASSWORD, pair.ca),                    # A's password for B
            (tls, "hub", A_PASSWORD, pair.ca),
            (tls, "nobody", "any-password-at-all", pair.ca),      # an unknown user
            (tls, None, None, pair.ca),                           # anonymous
            (plain, "board", p.hub_password, None), (plain, None, None, None)):
        rc = clients(port, user, password, ca=ca).connect()
        assert rc.is_failure, f"{user}/{password} on {port}: {rc}"
    # plain MQTT on the TLS port never gets a CONNACK, and a client with another CA refuses the broker
    with pytest.raises(AssertionError, match="no CONNACK"):
        clients(tls, SITE, A_PASSWORD).connect(timeout=3)
    assert "certificate verify failed" in tls_handshake_fails(tls, pair.other_ca)
    assert tls_handshake_fails(tls, pair.ca) is None


def test_a_centre_cannot_take_over_the_hubs_session_or_another_bridge(pair, clients):
    """On the TLS listener the client id is the login (use_username_as_clientid)."""
    hub = pair.hub(clients, client_id="motcua-hub-hue-main").login()
    hub.subscribe("motcua/+/ship/link")
    hub.wait_for(b"1", LINK_A, timeout=15)
    b = pair.as_centre(clients, OTHER, client_id="motcua-bridge-phuong-thuan-hoa").login()
    for stolen in ("motcua-hub-hue-main", "motcua-bridge-phuong-thuan-hoa", OTHER):
        pair.as_centre(clients, SITE, client_id=stolen).login()
        time.sleep(0.3)
    assert hub.disconnects == 0 and b.disconnects == 0
    assert hub.client.is_connected() and b.client.is_connected()


# -- the commands ------------------------------------------------------------------------------

def motcua(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "motcua", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)


def test_the_commands_write_both_configurations(workdir, pki):
    pki_, cert, key, _ = pki
    path = write_province(workdir, pki_, cert, key, free_port(), free_port(), {SITE: A_PASSWORD})
    done = motcua("province", "broker", "config", "--province", str(path), "--out", str(workdir / "pb"))
    assert done.returncode == 0, done.stderr
    assert "(4 centres)" in done.stdout
    conf = (workdir / "pb" / "mosquitto.conf").read_text()
    assert (workdir / "pb" / "mosquitto.conf").stat().st_mode & 0o777 == 0o600
    tls_part = conf.split("listener ")[2]   # after the TLS listener line, before the next section
    assert "use_username_as_clientid true" in tls_part and f"certfile {cert}" in tls_part
    passwd = (workdir / "pb" / "passwd").read_text()
    assert [line.split(":")[0] for line in passwd.splitlines()] == [
        "hub", "board", "phuong-thuan-hoa", "phuong-phu-xuan", "xa-phu-vinh", SITE]
    assert A_PASSWORD not in passwd

    site_path = write_site(workdir, free_port(), extra=(
        f'\n[province]\nhost = "mqtt.hue.example"\ncafile = "{pki_.ca}"\npassword = "{A_PASSWORD}"\n'))
    done = motcua("--site", str(site_path), "broker", "config", "--bridge-to", "127.0.0.1:18999",
                  "--out", str(workdir / "cb"))
    assert done.returncode == 0, done.stderr
    assert "bridged to the province at 127.0.0.1:18999" in done.stdout
    conf = (workdir / "cb" / "mosquitto.conf").read_text()
    assert "address 127.0.0.1:18999" in conf and conf.index("connection province") > conf.index("listener")
    assert (workdir / "cb" / "mosquitto.conf").stat().st_mode & 0o777 == 0o600   # it holds the password

    (workdir / "plain").mkdir()
    plain = write_site(workdir / "plain", free_port())
    done = motcua("--site", str(plain), "broker", "config", "--bridge-to", "mqtt.hue.example")
    assert done.returncode != 0 and "needs a [province] table" in done.stderr


def test_the_provincial_broker_runs_from_the_command(workdir, pki, clients):
    pki_, cert, key, _ = pki
    path = write_province(workdir, pki_, cert, key, free_port(), free_port(), {SITE: A_PASSWORD})
    p = load_province(path)
    proc = subprocess.Popen([sys.executable, "-m", "motcua", "province", "broker", "run", "--province", str(path)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(p.broker.tls_port)
        c = clients(p.broker.tls_port, SITE, A_PASSWORD, ca=pki_.ca).login()
        assert c.client.socket().version().startswith("TLS")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)

"""Broker security against a real Mosquitto started with the generated
configuration: authentication, the per-role ACL (publish and subscribe), the
hashed password file and the TLS listener.

Mosquitto drops a denied QoS 0 publish silently and answers a denied QoS 1
publish with a PUBACK "Not authorized", so every "forbidden" case sends both
and then one ALLOWED message from the same connection: the observer (logged in
as the centre, which reads motcua/<site>/#) must get the allowed one and never
the forbidden ones. A broker delivers one client's messages to one subscriber
in order, so once the allowed message is in, a forbidden one that had slipped
through would already be there too.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from support.broker import ROOT, Broker, free_port, wait_port, write_site
from motcua.broker import BrokerSetupError, mosquitto_command, write_config, write_password_file
from motcua.config import SiteConfigError, load_site
from motcua.mqtt import DeviceClient
from motcua.protocol import Topics


NOT_AUTHORIZED = 0x87
BAD_CREDENTIALS = 0x86
# kiosk-2 gets a Vietnamese password with an inner space in the shared hall:
# mosquitto_passwd must hash it as it is, and the device must log in with it.
KIOSK2_PASSWORD = "mật khẩu ki-ốt số 2"


class Raw:
    """A bare paho-mqtt 2.x MQTT v5 client that records what the broker answers."""

    def __init__(self, site, device_id: str | None, password: str | None = None, *,
                 port: int | None = None, tls: Path | bool | None = None, will: tuple | None = None):
        # no reconnecting: a refused or dropped client must stay away (and stop fast)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                  client_id=f"acl-test-{device_id or 'anon'}-{uuid.uuid4().hex[:8]}",
                                  reconnect_on_failure=False)
        if device_id is not None:
            self.client.username_pw_set(
                device_id, site.device(device_id).password if password is None else password)
        if tls is True:
            self.client.tls_set()  # the system's CAs only
        elif tls:
            self.client.tls_set(ca_certs=str(tls))
        if will:
            self.client.will_set(*will)
        self.host, self.port = site.broker.host, port or site.broker.port
        self.connack = None
        self.received: list[tuple[str, bytes, bool]] = []
        self._cond = threading.Condition()
        self._acks: dict[int, object] = {}
        self._subacks: dict[int, list] = {}
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        with self._cond:
            if self.connack is None:
                self.connack = reason_code
            self._cond.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._cond:
            self._acks[mid] = reason_code
            self._cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self._cond:
            self._subacks[mid] = reason_codes
            self._cond.notify_all()

    def _on_message(self, client, userdata, message):
        with self._cond:
            self.received.append((message.topic, message.payload, message.retain))
            self._cond.notify_all()

    def connect(self, timeout: float = 5.0):
        """Connect and return the CONNACK reason code."""
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        with self._cond:
            assert self._cond.wait_for(lambda: self.connack is not None, timeout), "no CONNACK"
        return self.connack

    def login(self) -> "Raw":
        rc = self.connect()
        assert not rc.is_failure, f"the broker refused a good login: {rc}"
        return self

    def subscribe(self, *filters: str) -> list:
        result, mid = self.client.subscribe([(f, 1) for f in filters])
        assert result == mqtt.MQTT_ERR_SUCCESS
        with self._cond:
            assert self._cond.wait_for(lambda: mid in self._subacks, 5), "no SUBACK"
            return self._subacks.pop(mid)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False):
        """Publish; return the PUBACK reason code (for QoS 0, paho's own 'Success')."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"paho could not send on {topic}: {info.rc}"
        with self._cond:
            assert self._cond.wait_for(lambda: info.mid in self._acks, 5), f"no PUBACK for {topic}"
            return self._acks.pop(info.mid)

    def wait_for(self, payload: bytes, timeout: float = 5.0) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: any(p == payload for _, p, _ in self.received), timeout)
        assert ok, f"{payload!r} never arrived; got {[t for t, _, _ in self.received]}"

    def got(self, payload: bytes) -> bool:
        with self._cond:
            return any(p == payload for _, p, _ in self.received)

    def drop(self) -> None:
        """Vanish without a DISCONNECT, so the broker sends the Last Will."""
        self.client.socket().shutdown(socket.SHUT_RDWR)
        self.client.loop_stop()  # paho sees the end of the stream and stops at once

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


@pytest.fixture(scope="module")
def hall():
    """One Mosquitto for the module's many ACL cases: they each use fresh
    clients and unique payloads, so sharing the broker is safe and fast."""
    folder = Path(tempfile.mkdtemp(prefix="motcua-acl-"))
    os.chmod(folder, 0o755)  # see tests/conftest.py, workdir
    site = load_site(write_site(folder, free_port(),
                                replace={'password = "demo-kiosk-2-secret"': f'password = "{KIOSK2_PASSWORD}"'}))
    broker = Broker(site, folder / "broker", persistence=False).start()
    yield site
    broker.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def clients():
    made: list[Raw] = []

    def _make(site, device_id, password=None, **kw) -> Raw:
        c = Raw(site, device_id, password, **kw)
        made.append(c)
        return c

    yield _make
    for c in made:
        try:
            c.close()
        except Exception:  # noqa: BLE001 - a dropped or refused client
            pass


@pytest.fixture
def observer(hall, clients) -> Raw:
    """Logged in as the centre, which may read everything under motcua/<site>/#."""
    o = clients(hall, "centre").login()
    o.subscribe(f"{Topics(hall.id).root}/#")
    return o


def stored_retained(site, clients, topic: str) -> list[bytes]:
    """What a new subscriber to `topic` gets as retained messages. A ping sent
    after the SUBACK arrives after them, so waiting for it is enough."""
    c = clients(site, "centre").login()
    ping_topic = f"{Topics(site.id).root}/test/ping/{uuid.uuid4().hex}"
    c.subscribe(topic, ping_topic)
    ping = uuid.uuid4().bytes
    c.publish(ping_topic, ping)
    c.wait_for(ping)
    return [p for t, p, retained in c.received if t == topic and retained]


def _notice(t):
    return f"{t.root}/notice"


# An allowed publish for each attacker, sent after the forbidden ones.
ALLOWED = {
    "kiosk-1": lambda t: t.device_availability("kiosk-1"),
    "display-hall": lambda t: t.device_availability("display-hall"),
    "display-counter-1": lambda t: t.device_availability("display-counter-1"),
    "counter-1": lambda t: t.request("counter-1"),
    "pad-1": lambda t: t.rating(1),
    "admin": _notice,
    "web": lambda t: t.request("web"),
}

# (device, what, forbidden topic, retained)
FORBIDDEN = [
    ("kiosk-1", "call-event", lambda t: t.call_event, False),
    ("kiosk-1", "ticket-event", lambda t: t.ticket_event, False),
    ("kiosk-1", "rating", lambda t: t.rating(1), False),
    ("kiosk-1", "retained-counter-state", lambda t: t.counter_state(1), True),
    ("kiosk-1", "retained-hall-state", lambda t: t.hall_state, True),
    ("kiosk-1", "other-kiosk-request", lambda t: t.request("kiosk-2"), False),
    ("kiosk-1", "other-kiosk-reply", lambda t: t.reply("kiosk-2"), False),
    ("kiosk-1", "other-kiosk-availability", lambda t: t.device_availability("kiosk-2"), True),
    ("kiosk-1", "centre-availability", lambda t: t.centre_availability, True),
    ("kiosk-1", "notice", _notice, False),
    ("display-hall", "request", lambda t: t.request("display-hall"), False),
    ("display-hall", "retained-hall-state", lambda t: t.hall_state, True),
    ("display-hall", "counter-state", lambda t: t.counter_state(1), False),
    ("display-hall", "notice", _notice, False),
    ("display-hall", "call-event", lambda t: t.call_event, False),
    ("display-hall", "alert", lambda t: t.alert("display-hall"), False),
    ("display-counter-1", "rating", lambda t: t.rating(1), False),
    ("counter-1", "kiosk-request", lambda t: t.request("kiosk-1"), False),
    ("counter-1", "other-counter-request", lambda t: t.request("counter-2"), False),
    ("counter-1", "call-event", lambda t: t.call_event, False),
    ("counter-1", "retained-own-counter-state", lambda t: t.counter_state(1), True),
    ("counter-1", "kiosk-reply", lambda t: t.reply("kiosk-1"), False),
    ("counter-1", "own-rating", lambda t: t.rating(1), False),  # an officer cannot rate himself
    ("pad-1", "other-counter-rating", lambda t: t.rating(2), False),
    ("pad-1", "request", lambda t: t.request("pad-1"), False),
    ("pad-1", "call-event", lambda t: t.call_event, False),
    ("pad-1", "retained-counter-state", lambda t: t.counter_state(1), True),
    ("pad-1", "other-pad-availability", lambda t: t.device_availability("pad-2"), True),
    ("admin", "call-event", lambda t: t.call_event, False),
    ("admin", "ticket-event", lambda t: t.ticket_event, False),
    ("admin", "retained-counter-state", lambda t: t.counter_state(1), True),
    ("admin", "retained-hall-state", lambda t: t.hall_state, True),
    ("admin", "centre-availability", lambda t: t.centre_availability, True),
    ("admin", "kiosk-request", lambda t: t.request("kiosk-1"), False),
    ("admin", "kiosk-reply", lambda t: t.reply("kiosk-1"), False),
    ("admin", "rating", lambda t: t.rating(1), False),
    # the citizen's phone (issue 14): its own requests only; it announces nothing
    ("web", "kiosk-request", lambda t: t.request("kiosk-1"), False),
    ("web", "kiosk-reply", lambda t: t.reply("kiosk-1"), False),
    ("web", "alert", lambda t: t.alert("web"), False),
    ("web", "call-event", lambda t: t.call_event, False),
    ("web", "ticket-event", lambda t: t.ticket_event, False),
    ("web", "retained-hall-state", lambda t: t.hall_state, True),
    ("web", "centre-availability", lambda t: t.centre_availability, True),
    ("web", "notice", _notice, False),
    ("web", "rating", lambda t: t.rating(1), False),
]


@pytest.mark.parametrize("device_id,forbidden,retain", [pytest.param(d, f, r, id=f"{d}-{w}")
                                                        for d, w, f, r in FORBIDDEN])
def test_forbidden_publish_never_reaches_subscribers(hall, clients, observer, device_id, forbidden, retain):
    t = Topics(hall.id)
    topic = forbidden(t)
    attacker = clients(hall, device_id).login()
    mark = uuid.uuid4().hex
    bad_qos1, bad_qos0, good = (f"{kind}-{mark}".encode() for kind in ("forbidden-qos1", "forbidden-qos0", "allowed"))

    rc = attacker.publish(topic, bad_qos1, qos=1, retain=retain)
    assert rc.value == NOT_AUTHORIZED, f"{device_id} got PUBACK {rc} on {topic}"
    attacker.publish(topic, bad_qos0, qos=0, retain=retain)  # dropped without a word
    rc = attacker.publish(ALLOWED[device_id](t), good, qos=1)
    assert not rc.is_failure, f"{device_id} was refused its allowed topic: {rc}"

    observer.wait_for(good)
    time.sleep(0.05)
    assert not observer.got(bad_qos1), f"{device_id} could publish (QoS 1) on {topic}"
    assert not observer.got(bad_qos0), f"{device_id} could publish (QoS 0) on {topic}"
    if retain:
        stored = stored_retained(hall, clients, topic)
        assert bad_qos1 not in stored and bad_qos0 not in stored


ALLOWED_WRITES = [
    ("kiosk-1", lambda t: t.request("kiosk-1")),
    ("kiosk-1", lambda t: t.alert("kiosk-1")),
    ("kiosk-1", lambda t: t.device_availability("kiosk-1")),
    ("display-hall", lambda t: t.device_availability("display-hall")),
    ("counter-1", lambda t: t.request("counter-1")),
    ("pad-1", lambda t: t.rating(1)),
    ("admin", lambda t: t.request("admin")),
    ("admin", _notice),
    ("web", lambda t: t.request("web")),
    ("web", lambda t: t.device_availability("web")),
]


@pytest.mark.parametrize("device_id,allowed", [pytest.param(d, a, id=f"{d}-{i}")
                                               for i, (d, a) in enumerate(ALLOWED_WRITES)])
def test_allowed_publish_arrives(hall, clients, observer, device_id, allowed):
    """The other side of the ACL: what each role needs to work gets through."""
    device = clients(hall, device_id).login()
    payload = f"allowed-{uuid.uuid4().hex}".encode()
    rc = device.publish(allowed(Topics(hall.id)), payload, qos=1)
    assert not rc.is_failure
    observer.wait_for(payload)


def test_last_will_on_a_forbidden_topic_is_not_sent(hall, clients, observer):
    t = Topics(hall.id)
    mark = uuid.uuid4().hex
    bad, good = f"forbidden-will-{mark}".encode(), f"allowed-will-{mark}".encode()
    spoofer = clients(hall, "kiosk-1", will=(t.call_event, bad, 1, True)).login()
    spoofer.drop()
    honest = clients(hall, "kiosk-1", will=(t.device_availability("kiosk-1"), good, 1, False)).login()
    honest.drop()
    observer.wait_for(good)
    assert not observer.got(bad)
    assert bad not in stored_retained(hall, clients, t.call_event)


PUBLIC = {"state/hall", "state/counter/1", "state/service/HT", "event/call", "event/ticket",
          "centre/availability", "notice"}
PRIVATE = {"reply/kiosk-1", "reply/kiosk-2", "reply/counter-1", "reply/counter-2",
           "request/kiosk-1", "request/kiosk-2", "request/counter-1", "request/admin",
           "device/kiosk-1/availability", "device/kiosk-2/availability",
           "device/display-hall/availability", "device/counter-1/availability",
           "device/pad-1/availability", "device/admin/availability",
           "request/web", "reply/web", "device/web/availability",
           "rating/1", "rating/2", "alert/kiosk-1", "alert/kiosk-2", "pad/1/show", "pad/2/show"}
READS = {
    "kiosk-1": PUBLIC | {"reply/kiosk-1", "device/kiosk-1/availability"},
    "display-hall": PUBLIC | {"device/display-hall/availability"},
    "counter-1": PUBLIC | {"reply/counter-1", "device/counter-1/availability"},
    "pad-1": PUBLIC | {"pad/1/show", "device/pad-1/availability"},
    "admin": PUBLIC | PRIVATE,
    "web": PUBLIC | {"reply/web", "device/web/availability"},
}


@pytest.mark.parametrize("device_id", sorted(READS))
def test_subscribing_to_everything_yields_only_what_the_role_may_read(hall, clients, device_id):
    """A device subscribing to `#` gets exactly its role's topics (Mosquitto grants
    the subscription and filters at delivery)."""
    t = Topics(hall.id)
    # the suffixes above are the protocol's topic names
    assert {f"{t.root}/reply/kiosk-1", f"{t.root}/state/counter/1", f"{t.root}/rating/2"} == {
        t.reply("kiosk-1"), t.counter_state(1), t.rating(2)}
    spy = clients(hall, device_id).login()
    spy.subscribe("#")
    centre = clients(hall, "centre").login()
    mark = uuid.uuid4().hex
    # notice goes last: every role reads it, so once it is in, all is in
    for name in sorted(PRIVATE | PUBLIC - {"notice"}) + ["notice"]:
        assert not centre.publish(f"{t.root}/{name}", f"{mark} {name}".encode()).is_failure
    spy.wait_for(f"{mark} notice".encode())
    time.sleep(0.05)
    got = {p.decode().split(" ", 1)[1] for _, p, _ in spy.received if p.startswith(mark.encode())}
    assert got == READS[device_id]


@pytest.mark.parametrize("spy_filter", ["reply/kiosk-2", "reply/+", "#"])
def test_kiosk_cannot_read_another_kiosks_reply(hall, clients, spy_filter):
    t = Topics(hall.id)
    kiosk = clients(hall, "kiosk-1").login()
    kiosk.subscribe(spy_filter if spy_filter == "#" else f"{t.root}/{spy_filter}", t.reply("kiosk-1"))
    centre = clients(hall, "centre").login()
    mark = uuid.uuid4().hex
    theirs, mine = f"for-kiosk-2-{mark}".encode(), f"for-kiosk-1-{mark}".encode()
    centre.publish(t.reply("kiosk-2"), theirs)
    centre.publish(t.reply("kiosk-1"), mine)
    kiosk.wait_for(mine)
    time.sleep(0.05)
    assert not kiosk.got(theirs)


@pytest.mark.parametrize("device_id,password", [
    pytest.param(None, None, id="anonymous"),
    pytest.param("kiosk-1", "wrong-password", id="wrong-password"),
    pytest.param("kiosk-1", "demo-counter-1-secret", id="another-devices-password"),
    pytest.param("kiosk-1", "", id="empty-password"),
    pytest.param("kiosk-99", "demo-kiosk-1-secret", id="unknown-device"),
])
def test_bad_logins_are_refused(hall, clients, device_id, password):
    c = clients(hall, None)
    if device_id is not None:
        c.client.username_pw_set(device_id, password)
    rc = c.connect()
    assert rc.is_failure, f"the broker let {device_id or 'an anonymous client'} in"
    assert rc.value in (NOT_AUTHORIZED, BAD_CREDENTIALS), rc


def test_good_logins_are_accepted(hall, clients):
    """The contrast to the refusals, including a Vietnamese password with a space."""
    assert clients(hall, "kiosk-1").connect().value == 0
    assert hall.device("kiosk-2").password == KIOSK2_PASSWORD
    assert clients(hall, "kiosk-2").connect().value == 0


# -- the password file ----------------------------------------------------------------

HASHED = re.compile(r"^([a-z0-9][a-z0-9_-]*):\$7\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")


def check_password_file(site, path: Path) -> None:
    """One `id:$7$...` line per device, in order; no password in clear; and each
    hash is PBKDF2-SHA512 of that device's password, as Mosquitto checks it."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) == len(site.devices)
    for d in site.devices:
        assert d.password not in text, f"{d.id}'s password is in clear in {path}"
    for d, line in zip(site.devices, lines):
        m = HASHED.match(line)
        assert m, f"not a hashed line: {line!r}"
        user, iterations, salt, digest = m.groups()
        assert user == d.id
        assert hashlib.pbkdf2_hmac("sha512", d.password.encode("utf-8"), base64.b64decode(salt),
                                   int(iterations)) == base64.b64decode(digest), d.id
    assert path.stat().st_mode & 0o777 == 0o600


def test_password_file_holds_only_hashes(site, workdir):
    path = workdir / "passwd"
    write_password_file(site, path)
    check_password_file(site, path)


def test_cli_broker_passwords_writes_a_file_the_broker_accepts(site, workdir, clients):
    out = workdir / "deploy"
    conf = write_config(site, out)
    (out / "passwd").unlink()  # as in a fresh deployment folder
    done = subprocess.run([sys.executable, "-m", "motcua", "--site", str(site.path), "broker",
                           "passwords", "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"{out / 'passwd'} ({len(site.devices)} devices)" in done.stdout
    check_password_file(site, out / "passwd")
    # the broker (which drops to the mosquitto user when started as root) reads it
    log = open(workdir / "mosquitto.log", "ab")
    proc = subprocess.Popen(mosquitto_command(conf), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(site.broker.port)
        assert clients(site, "pad-1").connect().value == 0
        assert clients(site, "pad-1", "demo-pad-2-secret").connect().is_failure
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        log.close()


@pytest.mark.parametrize("password", ["demo:kiosk-2-secret", " demo-kiosk-2-secret",
                                      "demo-kiosk-2-secret ", "demo-kiosk\\n2-secret"],
                         ids=["colon", "leading-space", "trailing-space", "line-break"])
def test_password_that_mosquitto_passwd_would_change_is_refused(workdir, password):
    """mosquitto_passwd -U cuts at a second ':' and trims blanks, so it would hash
    another password than the site file's: say so instead of writing it."""
    path = write_site(workdir, free_port(),
                      replace={'password = "demo-kiosk-2-secret"': f'password = "{password}"'})
    index = [d.id for d in load_site(ROOT / "examples" / "site.toml").devices].index("kiosk-2")
    with pytest.raises(SiteConfigError, match=rf"devices\[{index}\]\.password: must not contain ':'"):
        load_site(path)


# -- set-up errors --------------------------------------------------------------------

def test_missing_mosquitto_passwd_is_a_clear_error(site, workdir, monkeypatch):
    empty = workdir / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(BrokerSetupError, match=r"mosquitto_passwd not found: install Mosquitto"):
        write_config(site, workdir / "broker")
    # nothing half-made that a broker could start with
    assert not (workdir / "broker" / "mosquitto.conf").exists()
    assert not (workdir / "broker" / "passwd").exists()


def test_failing_mosquitto_passwd_leaves_no_plaintext(site, workdir, monkeypatch):
    bin_dir = workdir / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "mosquitto_passwd"
    fake.write_text("#!/bin/sh\necho 'Error: disk full' >&2\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    with pytest.raises(BrokerSetupError, match="mosquitto_passwd failed: Error: disk full"):
        write_password_file(site, workdir / "passwd")
    assert not (workdir / "passwd").exists()


# -- TLS --------------------------------------------------------------------------------

def openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a broker certificate for 127.0.0.1 / localhost."""
    folder.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=motcua test CA", cwd=folder)
    openssl("req", *ec, "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=localhost", cwd=folder)
    (folder / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n", encoding="utf-8")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "broker.crt", "-days", "2", "-extfile", "ext.cnf", cwd=folder)
    for f in ("ca.crt", "broker.crt", "broker.key"):
        (folder / f).chmod(0o644)  # the broker reads them as the mosquitto user
    return folder / "ca.crt", folder / "broker.crt", folder / "broker.key"


def test_tls_listener_from_the_site_file(workdir, clients):
    ca, cert, key = make_certificates(workdir / "pki")
    tls_port = free_port()
    site = load_site(write_site(workdir, free_port(), replace={
        "# tls_port = 8883": f"tls_port = {tls_port}",
        '# tls_cafile = "/etc/motcua/ca.crt"': f'tls_cafile = "{ca}"',
        '# tls_certfile = "/etc/motcua/broker.crt"': f'tls_certfile = "{cert}"',
        '# tls_keyfile = "/etc/motcua/broker.key"': f'tls_keyfile = "{key}"',
    }))
    assert site.broker.tls_port == tls_port
    broker = Broker(site, workdir / "broker").start()
    try:
        wait_port(tls_port)
        t = Topics(site.id)
        observer = clients(site, "centre").login()  # on the plain listener
        observer.subscribe(f"{t.root}/#")

        kiosk = clients(site, "kiosk-1", port=tls_port, tls=ca).login()
        assert kiosk.client.socket().version().startswith("TLS")
        online = f"online-over-tls-{uuid.uuid4().hex}".encode()
        assert not kiosk.publish(t.device_availability("kiosk-1"), online).is_failure
        observer.wait_for(online)
        # the same ACL and passwords hold on the TLS listener
        assert kiosk.publish(t.call_event, b"fake call over TLS").value == NOT_AUTHORIZED
        assert clients(site, None, port=tls_port, tls=ca).connect().is_failure
        assert clients(site, "kiosk-1", "wrong-password", port=tls_port, tls=ca).connect().is_failure
        # a client that does not trust our CA refuses the broker's certificate
        with pytest.raises(ssl.SSLCertVerificationError):
            clients(site, "kiosk-1", port=tls_port, tls=True).connect()

        # motcua's own device client picks the TLS port and the CA from the site file
        display = DeviceClient(site, "display-hall").start()
        try:
            assert display.wait_connected(10), "DeviceClient could not connect over TLS"
            assert display.client.socket().version().startswith("TLS")
        finally:
            display.stop()
    finally:
        broker.stop()

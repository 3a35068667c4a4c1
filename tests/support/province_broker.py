"""Test helpers for the brokers of a province (docs/province.md, "Brokers"): a
provincial file for tests, the provincial Mosquitto with the configuration
`motcua province broker config` writes, and a bare MQTT v5 client that records
what a broker answers and delivers (for the attacker tests, which must look at
what arrives, not at reason codes alone)."""
from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from motcua.broker import mosquitto_command, write_passwords
from motcua.province.broker import logins, write_config
from motcua.province.config import load_province
from support.broker import ROOT, wait_port
from support.tls import Pki

SAMPLE = ROOT / "examples" / "province.toml"
OBSERVER, OBSERVER_PASSWORD = "test-observer", "test-observer-secret"


def write_province(folder: Path, pki: Pki, cert: Path, key: Path, port: int, tls_port: int,
                   centres: dict[str, str] | None = None) -> Path:
    """The sample provincial file with its broker on `port` (plain) and `tls_port`
    (TLS, on 127.0.0.1), the CA and certificate of `pki`, and `centres` (id ->
    password) added to the sample's three."""
    text = SAMPLE.read_text(encoding="utf-8")
    for old, new in (('data_dir = "../var/province"', f'data_dir = "{folder / "province-data"}"'),
                     ("port = 18840", f"port = {port}"),
                     ("tls_port = 18841", f'tls_port = {tls_port}\ntls_host = "127.0.0.1"'),
                     ('# tls_cafile = "/etc/motcua/province/ca.crt"', f'tls_cafile = "{pki.ca}"'),
                     ('# tls_certfile = "/etc/motcua/province/broker.crt"', f'tls_certfile = "{cert}"'),
                     ('# tls_keyfile = "/etc/motcua/province/broker.key"', f'tls_keyfile = "{key}"')):
        assert old in text, old
        text = text.replace(old, new)
    for cid, password in (centres or {}).items():
        text += f'\n[[centres]]\nid = "{cid}"\nname = "{cid}"\npassword = "{password}"\n'
    path = folder / "province.toml"
    path.write_text(text, encoding="utf-8")
    return path


class ProvincialBroker:
    """Mosquitto with the configuration `motcua province broker config` writes. With
    observer=True the test adds one login of its own that may read and write
    everything, $SYS too: the witness that something did NOT cross (no generated
    login may read everything)."""

    def __init__(self, province_path: Path, folder: Path, observer: bool = True, widen: tuple[str, ...] = ()):
        """widen: centres whose login may read and write their whole root here, so that
        a test sees what their bridge itself lets through (the ACL would stop the rest)."""
        self.province = load_province(province_path)
        self.folder = folder
        self.conf = write_config(self.province, folder)
        if observer:
            write_passwords([*logins(self.province), (OBSERVER, OBSERVER_PASSWORD)], folder / "passwd")
        with open(folder / "acl", "a", encoding="utf-8") as f:
            if observer:
                f.write(f"\n# the test's witness (not generated)\nuser {OBSERVER}\n"
                        "topic readwrite #\ntopic read $SYS/#\n")
            for centre in widen:  # a second block for a user adds to its first one
                f.write(f"\n# widened by the test (not generated)\nuser {centre}\ntopic readwrite motcua/{centre}/#\n")
        self.log = folder / "mosquitto.log"
        self.proc: subprocess.Popen | None = None

    @property
    def port(self) -> int:
        return self.province.broker.port

    @property
    def tls_port(self) -> int:
        return self.province.broker.tls_port

    def start(self) -> "ProvincialBroker":
        self.proc = subprocess.Popen(mosquitto_command(self.conf), stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT)
        wait_port(self.port)
        wait_port(self.tls_port)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Client:
    """A bare paho-mqtt MQTT v5 client: records CONNACK, PUBACK and SUBACK reason
    codes and every message delivered, in order."""

    def __init__(self, port: int, user: str | None, password: str | None, *, ca: Path | None = None,
                 client_id: str | None = None, reconnect: bool = False, session: bool = False):
        self.client_id = client_id or f"test-{user or 'anon'}-{uuid.uuid4().hex[:8]}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id=self.client_id,
                                  reconnect_on_failure=reconnect)
        if reconnect:
            self.client.reconnect_delay_set(0.2, 1)
        if user is not None:
            self.client.username_pw_set(user, password)
        if ca is not None:
            self.client.tls_set(ca_certs=str(ca))
        self.port, self.session = port, session
        self.connack = None
        self.connects = 0
        self.disconnects = 0
        self.received: list[tuple[str, bytes, bool]] = []
        self._cond = threading.Condition()
        self._acks: dict[int, object] = {}
        self._subacks: dict[int, list] = {}
        self._subscriptions: list[str] = []
        c = self.client
        c.on_connect, c.on_disconnect = self._on_connect, self._on_disconnect
        c.on_publish, c.on_subscribe, c.on_message = self._on_publish, self._on_subscribe, self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        with self._cond:
            self.connack = reason_code
            if not reason_code.is_failure:
                self.connects += 1
            self._cond.notify_all()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        with self._cond:
            self.disconnects += 1
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
            self.received.append((message.topic, message.payload, bool(message.retain)))
            self._cond.notify_all()

    def connect(self, timeout: float = 10.0):
        """Connect; the CONNACK's reason code."""
        props = None
        if self.session:  # a persistent session, kept an hour while away (like the hub's)
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", self.port, keepalive=10, clean_start=not self.session,
                            properties=props)
        self.client.loop_start()
        with self._cond:
            assert self._cond.wait_for(lambda: self.connack is not None, timeout), "no CONNACK"
            return self.connack

    def login(self) -> "Client":
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
        """Publish; the PUBACK's reason code (QoS 1), or paho's 'Success' once sent (QoS 0)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"could not send on {topic}: {info.rc}"
        if qos == 0:
            info.wait_for_publish(5)
            return mqtt.ReasonCode(PacketTypes.PUBACK, "Success")
        with self._cond:
            assert self._cond.wait_for(lambda: info.mid in self._acks, 5), f"no PUBACK for {topic}"
            return self._acks.pop(info.mid)

    def wait_for(self, payload: bytes, topic: str | None = None, timeout: float = 10.0) -> tuple:
        """The first message with this payload (and topic), waiting for it."""
        def found():
            return next((m for m in self.received if m[1] == payload and topic in (None, m[0])), None)
        with self._cond:
            assert self._cond.wait_for(lambda: found() is not None, timeout), \
                f"{payload!r} never arrived; got {[(t, p) for t, p, _ in self.received][-10:]}"
            return found()

    def got(self, payload: bytes | None = None, topic: str | None = None) -> bool:
        with self._cond:
            return any((payload is None or p == payload) and (topic is None or t == topic)
                       for t, p, _ in self.received)

    def last(self, topic: str) -> bytes | None:
        with self._cond:
            values = [p for t, p, _ in self.received if t == topic]
        return values[-1] if values else None

    def wait_last(self, topic: str, payload: bytes, timeout: float = 10.0) -> None:
        """Until the newest message on `topic` is `payload`."""
        with self._cond:
            ok = self._cond.wait_for(lambda: ([p for t, p, _ in self.received if t == topic] or [None])[-1]
                                     == payload, timeout)
        assert ok, f"{topic} is {self.last(topic)!r} after {timeout} s, not {payload!r}"

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


def tls_handshake_fails(port: int, ca: Path) -> str | None:
    """Whether a TLS client trusting `ca` refuses the broker on `port`: the error, or None."""
    ctx = ssl.create_default_context(cafile=str(ca))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1"):
            return None
    except ssl.SSLError as exc:
        return str(exc)


def wait_until(predicate, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


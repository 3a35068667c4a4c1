"""Thin paho-mqtt plumbing shared by the centre and every device.

Traps this avoids: paho 2.x defaults to the old callback API (we pass
VERSION2); an exception escaping a callback ends paho's network thread and
with it reconnection (every callback is wrapped); a broker that is down at
start-up must not be fatal (connect_async + loop_start keep retrying).
"""
from __future__ import annotations

import functools
import logging
import socket
import threading
import time
import uuid
from typing import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from . import protocol
from .config import Device, Site
from .officers import seal_pin

log = logging.getLogger("motcua.mqtt")

# Reconnect quickly: a display must be right again within 2 s of a broker restart.
RECONNECT_MIN_S = 0.2
RECONNECT_MAX_S = 1.0


class CentreUnavailable(RuntimeError):
    """The centre did not answer in time."""


class RequestRefused(RuntimeError):
    def __init__(self, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}  # e.g. tries_left, locked_until (docs/protocol.md)


def guarded(fn: Callable) -> Callable:
    """Log, never raise, from a paho callback (a raise would stop reconnection)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - this is the last line of defence
            log.exception("error in MQTT callback %s (ignored, connection kept)", fn.__name__)
    return wrapper


def _no_delay(client, userdata, sock) -> None:
    """Send each MQTT packet at once. With Nagle's algorithm a reply waits for
    the TCP acknowledgement of the PUBACK before it, which the broker delays
    by up to 40 ms: a request took ~90 ms instead of a few."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # not TCP (a websocket or unix socket): nothing to do
        pass


def make_client(site: Site, device: Device, client_id: str | None = None,
                manual_ack: bool = False) -> mqtt.Client:
    """A paho client (MQTT v5) logged in as `device`, with its availability as Last Will.
    manual_ack: QoS 1 messages are acknowledged by `client.ack(mid, qos)`, not on arrival."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2,
                         client_id=client_id or f"{device.id}-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    client.username_pw_set(device.id, device.password)
    topics = protocol.Topics(site.id)
    will = topics.centre_availability if device.role == "centre" else topics.device_availability(device.id)
    client.will_set(will, protocol.availability(False), qos=1, retain=True)
    client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
    client.max_queued_messages_set(10000)
    client.on_socket_open = _no_delay
    if site.broker.tls_port and site.broker.tls_cafile:
        client.tls_set(ca_certs=site.broker.tls_cafile)
    return client


def start(client: mqtt.Client, site: Site, persistent_session: bool = False,
          session_expiry_s: int = 3600, receive_maximum: int | None = None) -> None:
    """Connect in the background. `receive_maximum`: how many QoS 1 messages the
    broker may send before this client acknowledges them (MQTT v5 Receive
    Maximum; Mosquitto's own default for a client that does not say is 20)."""
    props = None
    clean_start = True
    if persistent_session or receive_maximum:
        props = Properties(PacketTypes.CONNECT)
    if persistent_session:
        # Keep the session across a restart so requests sent meanwhile are not lost;
        # each request carries its own expiry, so stale ones never arrive.
        props.SessionExpiryInterval = session_expiry_s
        clean_start = False
    if receive_maximum:
        props.ReceiveMaximum = receive_maximum
    port = site.broker.tls_port if site.broker.tls_port and site.broker.tls_cafile else site.broker.port
    client.connect_async(site.broker.host, port, keepalive=15, clean_start=clean_start, properties=props)
    client.loop_start()


def expiring(seconds: float) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.MessageExpiryInterval = max(1, int(round(seconds)))
    return props


REASK_AFTER = 0.5  # of a request's timeout: when to ask again for a reply that has not come


class DeviceClient:
    """A device's link to the centre: availability, request/reply, subscriptions.

    Subscriptions are remade on every (re)connect, so retained state arrives
    again after a broker restart."""

    def __init__(self, site: Site, device_id: str):
        self.site = site
        self.device = site.device(device_id)
        self.topics = protocol.Topics(site.id)
        self.client = make_client(site, self.device)
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[threading.Event, list]] = {}
        self._subscriptions: dict[str, Callable[[str, dict], None]] = {}
        self.reasked = 0  # requests sent a second time because no reply came
        # called with True/False when the link to the broker comes and goes
        self.connection_listeners: list[Callable[[bool], None]] = []
        self.client.on_connect = guarded(self._on_connect)
        self.client.on_disconnect = guarded(self._on_disconnect)
        self.client.on_message = guarded(self._on_message)

    def start(self) -> "DeviceClient":
        start(self.client, self.site)
        return self

    def stop(self) -> None:
        if self.connected.is_set():
            info = self.client.publish(self.topics.device_availability(self.device.id),
                                       protocol.availability(False), qos=1, retain=True)
            info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def subscribe(self, topic_filter: str, handler: Callable[[str, dict], None]) -> None:
        """handler(topic, payload) for each valid JSON message on the filter."""
        with self._lock:
            self._subscriptions[topic_filter] = handler
        if self.connected.is_set():
            self.client.subscribe(topic_filter, qos=1)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("broker refused %s: %s (check the password in the site file and run "
                      "`motcua broker passwords`)", self.device.id, reason_code)
            return
        client.publish(self.topics.device_availability(self.device.id), protocol.availability(True),
                       qos=1, retain=True)
        subs = [(self.topics.reply(self.device.id), 1)]
        with self._lock:
            subs += [(f, 1) for f in self._subscriptions]
        client.subscribe(subs)
        self.connected.set()
        for listener in self.connection_listeners:
            listener(True)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()
        for listener in self.connection_listeners:
            listener(False)

    def _on_message(self, client, userdata, message):
        try:
            data = protocol.decode(message.payload, protocol.MAX_STATE_BYTES)
        except protocol.ProtocolError as exc:
            log.warning("dropped message on %s: %s", message.topic, exc)
            return
        if message.topic == self.topics.reply(self.device.id):
            with self._lock:
                waiter = self._waiting.get(data.get("id"))
            if waiter:
                waiter[1].append(data)
                waiter[0].set()
            return
        with self._lock:
            handlers = [h for f, h in self._subscriptions.items() if mqtt.topic_matches_sub(f, message.topic)]
        for handler in handlers:
            handler(message.topic, data)

    def request(self, op: str, timeout: float | None = None, request_id: str | None = None, **args) -> dict:
        """Ask the centre; return the result or raise RequestRefused / CentreUnavailable."""
        timeout = self.site.request_timeout_s if timeout is None else timeout
        request_id = request_id or uuid.uuid4().hex
        secret = protocol.SEALED_ARGUMENTS.get(op)
        if secret in args and args[secret] is not None:  # a PIN never travels in clear
            args[secret] = seal_pin(args[secret], self.device.password, self.device.id, request_id)
        payload = protocol.request(op, request_id, **args)
        done = threading.Event()
        box: list = []
        with self._lock:
            self._waiting[request_id] = (done, box)
        deadline = time.monotonic() + timeout
        try:
            if not self.connected.wait(timeout):
                raise CentreUnavailable("no connection to the MQTT broker: check that the broker "
                                        f"runs at {self.site.broker.host}:{self.site.broker.port}")
            left = max(0.1, deadline - time.monotonic())
            # The broker drops the request if the centre cannot take it in time: no
            # ticket is ever issued after the citizen was told there is none.
            self.client.publish(self.topics.request(self.device.id), payload, qos=1,
                                properties=expiring(left))
            # Replies go at QoS 0 (protocol.REPLY_QOS): one lost with a broken
            # connection is asked for again, once, half-way, with the same id; the
            # centre answers a repeated id from its store, never twice.
            if not done.wait(left * REASK_AFTER) and self.connected.is_set():
                self.reasked += 1
                self.client.publish(self.topics.request(self.device.id), payload, qos=1,
                                    properties=expiring(max(0.1, deadline - time.monotonic())))
            if not done.wait(max(0.0, deadline - time.monotonic())):
                raise CentreUnavailable(f"the centre did not answer within {timeout:g} s: check that "
                                        "`motcua centre` is running")
        finally:
            with self._lock:
                self._waiting.pop(request_id, None)
        reply = box[0]
        if reply.get("ok"):
            return reply.get("result", {})
        err = dict(reply.get("error") or {})
        raise RequestRefused(err.pop("code", "error"), err.pop("message", "refused"), err)


class StateLink:
    """What a screen knows of the centre: a DeviceClient, the centre's availability
    and whatever retained state a subclass subscribes to. Handlers run on paho's
    thread, keep their data under `_lock` and call `on_change()` after each change
    (the app hops to its own thread); so does every connect and disconnect."""

    def __init__(self, site: Site, device_id: str, on_change: Callable[[], None] = lambda: None):
        self.site = site
        self.device_id = device_id
        self.client = DeviceClient(site, device_id)
        self.topics = self.client.topics
        self.on_change = on_change
        self.centre_online: bool | None = None      # None until the retained availability arrives
        self.services: dict[str, dict] = {}        # service state, for the filters a subclass follows
        self.last_received = 0.0                   # time.monotonic() of the last state message
        self._lock = threading.RLock()
        self.client.subscribe(self.topics.centre_availability, self._on_centre)
        self.client.connection_listeners.append(lambda up: self.on_change())

    def start(self):
        self.client.start()
        return self

    def stop(self) -> None:
        self.client.stop()

    @property
    def broker_connected(self) -> bool:
        return self.client.connected.is_set()

    @property
    def usable(self) -> bool:
        """Requests can be answered: the broker is reached and the centre is online."""
        return self.broker_connected and bool(self.centre_online)

    def _on_centre(self, topic: str, data: dict) -> None:
        with self._lock:
            self.centre_online = data.get("state") == "online"
        self.on_change()

    def _on_service(self, topic: str, data: dict) -> None:
        self._keep(self.services, "service", str, data)

    def _keep(self, into: dict, key: str, kind: type, data: dict) -> None:
        """Keep a retained state message under data[key]; one without a `kind` key is ignored."""
        if not isinstance(data.get(key), kind):
            return
        with self._lock:
            into[data[key]] = data
            self.last_received = time.monotonic()
        self.on_change()

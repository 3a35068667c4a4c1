"""The province board's link to the provincial broker (no Kivy): it logs in as
`board` (the provincial file's [board] password) on the plain listener and
keeps, per centre of the provincial file, the last tile (`motcua/+/ship/live`)
and the bridge's notification (`motcua/+/ship/link`), as model.Heard.

Handlers run on paho's thread; each keeps its data under a lock and calls
`on_change(centre_id, received)` (None for the connection itself) so the app
hops to its own thread. A reconnection subscribes again, so the retained tiles
come again after a broker restart.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from motcua.mqtt import RECONNECT_MAX_S, RECONNECT_MIN_S, _no_delay

from .model import BadTile, Heard, heard_at, parse_link, parse_tile

log = logging.getLogger("motcua.province.board")

BOARD_USER = "board"
LIVE = "motcua/+/ship/live"
LINK = "motcua/+/ship/link"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class BoardLink:
    def __init__(self, province, on_change: Callable[[str | None, float], None] = lambda c, t: None,
                 clock: Callable[[], datetime] = utc_now):
        self.province = province
        self.on_change = on_change
        self.clock = clock
        self.known = {c.id for c in province.centres}
        self.heard: dict[str, Heard] = {}   # replaced, never changed in place: a copy of the dict is a snapshot
        self.refused: str | None = None     # why the broker refused the login, if it did
        self.messages = 0
        self._connected_at: datetime | None = None   # on the board's clock
        self.lost_at: datetime | None = None         # when it lost the broker (the board's clock)
        self._strangers: set[str] = set()
        self._lock = threading.Lock()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"board-{province.id}-{uuid.uuid4().hex[:8]}",
                        protocol=mqtt.MQTTv5)
        c.username_pw_set(BOARD_USER, province.board_password)
        c.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        c.on_socket_open = _no_delay
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.message_callback_add(LIVE, self._on_live)
        c.message_callback_add(LINK, self._on_link)
        self.client = c

    def start(self) -> "BoardLink":
        b = self.province.broker
        self.client.connect_async(b.host, b.port, keepalive=15)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    # -- what the app reads ------------------------------------------------------------------
    def snapshot(self) -> dict[str, Heard]:
        with self._lock:
            return dict(self.heard)

    @property
    def connected(self) -> bool:
        return self._connected_at is not None

    def connected_for(self, now: datetime) -> float | None:
        """Seconds since the board (re)connected; None while it is not connected."""
        at = self._connected_at
        return None if at is None else max(0.0, (now - at).total_seconds())

    # -- paho's thread -----------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.refused = str(reason_code)
            log.error("the provincial broker %s:%s refused the board (%s): check [board] password in %s "
                      "and that the broker's password file has the user %r", self.province.broker.host,
                      self.province.broker.port, reason_code, self.province.path, BOARD_USER)
            self.on_change(None, time.monotonic())
            return
        self.refused = None
        client.subscribe([(LIVE, 1), (LINK, 1)])
        self._connected_at = self.clock()
        log.info("board connected to the provincial broker %s:%s", self.province.broker.host,
                 self.province.broker.port)
        self.on_change(None, time.monotonic())

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if self._connected_at is not None:
            self.lost_at = self.clock()
        self._connected_at = None
        self.on_change(None, time.monotonic())

    def _centre(self, topic: str) -> str | None:
        centre = topic.split("/")[1]
        if centre in self.known:
            return centre
        if centre not in self._strangers:   # a removed centre's retained tile, say: said once
            self._strangers.add(centre)
            log.warning("%s: centre %r is not in %s; ignored", topic, centre, self.province.path)
        return None

    def _on_live(self, client, userdata, message):
        received = time.monotonic()
        centre = self._centre(message.topic)
        if centre is None:
            return
        if not message.payload:     # the retained tile was cleared
            tile = None
        else:
            try:
                tile = parse_tile(message.payload)
            except BadTile as exc:
                log.warning("%s: tile ignored: %s", message.topic, exc)
                return
        now = self.clock()
        with self._lock:
            old = self.heard.get(centre) or Heard()
            self.heard[centre] = replace(old, tile=tile,
                                         heard=heard_at(now, tile, bool(message.retain)) if tile else None)
            self.messages += 1
        self.on_change(centre, received)

    def _on_link(self, client, userdata, message):
        received = time.monotonic()
        centre = self._centre(message.topic)
        if centre is None:
            return
        up = parse_link(message.payload)
        if up is None and message.payload:
            log.warning("%s: %r is neither 1 nor 0; ignored", message.topic, message.payload[:20])
            return
        with self._lock:
            old = self.heard.get(centre) or Heard()
            self.heard[centre] = replace(old, link=up, link_at=self.clock())
            self.messages += 1
        self.on_change(centre, received)

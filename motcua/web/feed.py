"""The web process's one link to a centre, and the fan-out to the phones.

One `DeviceClient` (MQTT, logged in as the site file's `web` device) reads the
retained service state and the call and ticket events for every phone at
once; paho's thread hands each message to the asyncio loop, which updates the
followed tickets (`model.Followed`) and wakes the streams that follow them.
A stream costs a `Watcher` (a slot for the latest message and an Event): no
MQTT subscription, no timer and no request of its own. A ticket is asked for
(`ticket.status`) once, when its first page is opened, and kept while pages
follow it and for a while after (a page without JavaScript reloads itself).
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Callable

from motcua import protocol
from motcua.mqtt import CentreUnavailable, DeviceClient, RequestRefused

from . import model

log = logging.getLogger("motcua.web")

KEEP_UNWATCHED_S = 900          # a ticket nobody follows is forgotten after this (then asked again)
MAX_FOLLOWED = 50_000           # beyond this the oldest unwatched tickets go first
SERVICE_PUSH_S = 0.25           # queue-position updates are gathered this long (calls go at once)


class Watcher:
    """One open stream: the newest message for it and a flag to wake it. Only the
    newest view matters to a page, so a slow phone skips views, never piles them up."""
    __slots__ = ("lang", "pending", "wake", "closed", "sent_version")

    def __init__(self, lang: str):
        self.lang = lang
        self.pending: bytes | None = None
        self.wake = asyncio.Event()
        self.closed = False
        self.sent_version = -1

    def push(self, message: bytes) -> None:
        self.pending = message
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    async def next(self, timeout: float) -> bytes | None:
        """The next message, or None after `timeout` with nothing new (send a keep-alive)."""
        if self.pending is None and not self.closed:
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except asyncio.TimeoutError:
                return None
        self.wake.clear()
        message, self.pending = self.pending, None
        return message


class TicketGone(Exception):
    """The centre does not know the ticket (a valid link to a number never issued)."""


class CentreFeed:
    """Everything `motcua web` knows of one centre, for the asyncio loop's thread.

    `client` is a started-or-not DeviceClient; its messages are marshalled onto
    `loop` with call_soon_threadsafe. The services' names come from the site
    file (at the province, from the centre's retained service state)."""

    def __init__(self, centre_id: str, client: DeviceClient, tz, service_names: dict,
                 loop: asyncio.AbstractEventLoop | None = None, executor: ThreadPoolExecutor | None = None,
                 remote_window_min: int = 60, bridged: bool = False):
        self.centre_id = centre_id
        self.client = client
        self.topics = client.topics
        self.tz = tz
        self.service_names = dict(service_names)        # code -> (vi, en)
        self.remote_window_min = remote_window_min      # [web]: a number from afar lapses after this
        self.loop = loop
        self.executor = executor or ThreadPoolExecutor(max_workers=16, thread_name_prefix="web-ask")
        self.services: dict[str, dict] = {}
        self.available: bool | None = None             # the centre's retained availability
        self.bridge_up: bool | None = None             # at the province: its bridge's ship/link
        self.followed: dict[tuple[str, str], model.Followed] = {}
        self.watchers: dict[tuple[str, str], set[Watcher]] = {}
        self.last_watched: dict[tuple[str, str], float] = {}
        self._loading: dict[tuple[str, str], asyncio.Future] = {}
        self._dirty_services: set[str] = set()
        self._flush_scheduled = False
        self.calls_seen = 0
        self.pushed = 0
        # "your turn is near": (day, label) -> phone, until the message goes or the
        # ticket stops waiting; on_near(feed, key, phone, ahead) sends it (reminders.py)
        self.reminders: dict[tuple[str, str], str] = {}
        self.on_near: Callable | None = None
        self.near = 3
        client.subscribe(self.topics.centre_availability, self._from_paho(self._on_centre))
        client.subscribe(self.topics.service_state_all, self._from_paho(self._on_service))
        client.subscribe(self.topics.call_event, self._from_paho(self._on_call))
        client.subscribe(self.topics.ticket_event, self._from_paho(self._on_ticket_event))
        if bridged:
            # At the province the centre's retained "online" outlives its bridge; the bridge's
            # notification (`1`, its will `0`) says whether the centre can be reached. It is
            # not JSON, so it goes to its own paho callback, not through DeviceClient's decoding.
            client.subscribe(self.topics.ship_link, lambda topic, data: None)
            client.client.message_callback_add(self.topics.ship_link, self._link_from_paho)

    @property
    def centre_online(self) -> bool | None:
        return False if self.bridge_up is False else self.available

    # -- plumbing --------------------------------------------------------------------------------
    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def _from_paho(self, handler: Callable[[str, dict], None]) -> Callable[[str, dict], None]:
        def hop(topic: str, data: dict) -> None:
            if self.loop is not None and not self.loop.is_closed():
                self.loop.call_soon_threadsafe(handler, topic, data)
        return hop

    def today(self) -> str:
        return datetime.now(self.tz).date().isoformat()

    async def ask(self, op: str, **args) -> dict:
        """A request to the centre, off the loop (DeviceClient.request blocks)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: self.client.request(op, **args))

    # -- retained state and events (the loop's thread) ---------------------------------------
    def _on_centre(self, topic: str, data: dict) -> None:
        before = self.centre_online
        self.available = data.get("state") == "online"
        self._online_changed(before)

    def _link_from_paho(self, client, userdata, message) -> None:
        up = protocol.link_state(bytes(message.payload))
        if up is None:
            return
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._on_link, up)

    def _on_link(self, up: bool) -> None:
        before = self.centre_online
        self.bridge_up = up
        self._online_changed(before)

    def _online_changed(self, before: bool | None) -> None:
        if self.centre_online != before:
            for key in list(self.watchers):
                self._push(key)

    def _on_service(self, topic: str, data: dict) -> None:
        code = data.get("service")
        if not isinstance(code, str):
            return
        self.services[code] = data
        if code not in self.service_names and isinstance(data.get("name_vi"), str):
            self.service_names[code] = (data["name_vi"], data.get("name_en") or data["name_vi"])
        # Every waiting phone of the service moves up: gathered, so a burst of
        # changes costs one push per phone.
        self._dirty_services.add(code)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_later(SERVICE_PUSH_S, self._flush_services)

    def _flush_services(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty_services = self._dirty_services, set()
        for key, f in self.followed.items():
            if f.service in dirty and f.state == "waiting" and key in self.watchers:
                self._push(key)
        self._check_reminders()

    def remind(self, day: str, label: str, phone: str) -> None:
        self.reminders[(day, label)] = phone
        self._check_reminders()

    def _check_reminders(self) -> None:
        for key, phone in list(self.reminders.items()):
            f = self.followed.get(key)
            if f is None or f.state != "waiting":
                del self.reminders[key]          # the ticket ended: the number goes with it
                continue
            ahead = f.people_ahead(self.services.get(f.service))
            if ahead <= self.near:
                del self.reminders[key]
                if self.on_near is not None:
                    self.on_near(self, key, phone, ahead)

    def _on_call(self, topic: str, data: dict) -> None:
        # Call events name no day: they are today's, so only today's tickets take them.
        self.calls_seen += 1
        today = self.today()
        for key, f in self.followed.items():
            if f.day == today and f.on_call(data) and key in self.watchers:
                self._push(key)

    def _on_ticket_event(self, topic: str, data: dict) -> None:
        # Ticket events carry the ticket's id, unique across days: Followed checks it.
        label = data.get("ticket")
        for key in [k for k in self.followed if k[1] == label]:
            if self.followed[key].on_ticket_event(data):
                if data.get("event") in ("checked_in", "transferred") and (key in self.watchers
                                                                            or key in self.reminders):
                    asyncio.ensure_future(self._refresh(key))
                if key in self.watchers:
                    self._push(key)
                if key in self.reminders and self.followed[key].state != "waiting":
                    del self.reminders[key]

    def _push(self, key: tuple[str, str]) -> None:
        f = self.followed.get(key)
        watchers = self.watchers.get(key)
        if f is None or not watchers:
            return
        rendered: dict[str, bytes] = {}
        for w in watchers:
            if w.lang not in rendered:
                rendered[w.lang] = model.sse(self.view(f, w.lang), event="ticket", event_id=f.version)
            w.push(rendered[w.lang])
            self.pushed += 1

    # -- what pages ask ---------------------------------------------------------------------------
    def view(self, f: model.Followed, lang: str) -> dict:
        return model.ticket_view(f, self.services.get(f.service), self.service_names, lang,
                                 today=self.today(), centre_online=self.centre_online)

    async def follow(self, day: str, label: str) -> model.Followed:
        """The ticket, asked for once (concurrent first pages share the answer).
        Raises TicketGone, or CentreUnavailable when the centre does not answer."""
        key = (day, label)
        self.last_watched[key] = time.monotonic()
        f = self.followed.get(key)
        if f is not None:
            return f
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._loading[key] = pending
            try:
                status = await self.ask("ticket.status", ticket=label, day=day)
                f = model.Followed.from_status(self.centre_id, day, status)
                f.check_in_by = self._check_in_by(status)
                self.followed[key] = f
                self._forget_old()
                pending.set_result(f)
            except RequestRefused as exc:
                pending.set_exception(TicketGone(exc.code))
            except CentreUnavailable as exc:
                pending.set_exception(exc)
            finally:
                self._loading.pop(key, None)
        return await asyncio.shield(pending)

    def _check_in_by(self, status: dict) -> str:
        """A number from afar: the local time it lapses at, HH:MM."""
        from datetime import timedelta

        from motcua.timefmt import parse_iso
        try:
            at = (parse_iso(status["check_in_by"]) if status.get("check_in_by")
                  else parse_iso(status["issued_at"]) + timedelta(minutes=self.remote_window_min))
        except (KeyError, TypeError, ValueError):
            return ""
        return at.astimezone(self.tz).strftime("%H:%M")

    async def _refresh(self, key: tuple[str, str]) -> None:
        """Its place again, once (checked in, or moved to another service's line):
        events say that it moved, not where to."""
        f = self.followed.get(key)
        if f is None:
            return
        try:
            status = await self.ask("ticket.status", ticket=key[1], day=key[0])
        except (RequestRefused, CentreUnavailable):
            return
        if status.get("state") == "waiting" and f.state == "waiting":
            f.base_ahead, f.calls_since = int(status.get("people_ahead") or 0), 0
            f.version += 1
            self._push(key)

    def watch(self, day: str, label: str, watcher: Watcher) -> None:
        self.watchers.setdefault((day, label), set()).add(watcher)

    def unwatch(self, day: str, label: str, watcher: Watcher) -> None:
        key = (day, label)
        ws = self.watchers.get(key)
        if ws is not None:
            ws.discard(watcher)
            if not ws:
                del self.watchers[key]
        self.last_watched[key] = time.monotonic()

    def _forget_old(self) -> None:
        """Tickets nobody follows any more are dropped after a while, so a page
        opened tomorrow asks the centre afresh and memory stays bounded."""
        if len(self.followed) % 100:
            return
        now = time.monotonic()
        idle = [k for k in self.followed if k not in self.watchers and k not in self.reminders
                and now - self.last_watched.get(k, 0) > KEEP_UNWATCHED_S]
        if len(self.followed) - len(idle) > MAX_FOLLOWED:
            rest = sorted((k for k in self.followed if k not in self.watchers and k not in idle
                           and k not in self.reminders),
                          key=lambda k: self.last_watched.get(k, 0))
            idle += rest[: len(self.followed) - len(idle) - MAX_FOLLOWED]
        for k in idle:
            self.followed.pop(k, None)
            self.last_watched.pop(k, None)

    @property
    def streams(self) -> int:
        return sum(len(ws) for ws in self.watchers.values())

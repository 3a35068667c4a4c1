"""The kiosk's link to the centre: live service figures from retained state,
ticket requests, alerts to staff. No Kivy here: the app marshals callbacks
onto its own thread."""
from __future__ import annotations

import logging
import threading
from typing import Callable

from motcua import protocol
from motcua.config import Site
from motcua.mqtt import CentreUnavailable, DeviceClient, RequestRefused

log = logging.getLogger("motcua.kiosk")

__all__ = ["CentreLink", "CentreUnavailable", "RequestRefused"]


class CentreLink:
    def __init__(self, site: Site, device_id: str, on_change: Callable[[], None]):
        self.site = site
        self.device_id = device_id
        self.client = DeviceClient(site, device_id)
        self.topics = self.client.topics
        self.on_change = on_change
        self.services: dict[str, dict] = {}
        self.centre_online = False
        self._lock = threading.Lock()
        self.client.subscribe(self.topics.service_state_all, self._on_service)
        self.client.subscribe(self.topics.centre_availability, self._on_centre)
        # broker up/down is a change the screen shows too
        self.client.connection_listeners.append(lambda up: self.on_change())

    @property
    def broker_connected(self) -> bool:
        return self.client.connected.is_set()

    @property
    def usable(self) -> bool:
        return self.broker_connected and self.centre_online

    def start(self) -> "CentreLink":
        self.client.start()
        return self

    def stop(self) -> None:
        self.client.stop()

    def _on_service(self, topic: str, data: dict) -> None:
        with self._lock:
            self.services[data.get("service", "")] = data
        self.on_change()

    def _on_centre(self, topic: str, data: dict) -> None:
        self.centre_online = data.get("state") == "online"
        self.on_change()

    def service(self, code: str) -> dict | None:
        with self._lock:
            return self.services.get(code)

    # Blocking calls: run them off the UI thread.
    def issue(self, service: str, priority: str | None) -> dict:
        return self.client.request("ticket.issue", service=service, priority=priority)

    def ticket_status(self, label: str, day: str | None = None) -> dict:
        args = {"ticket": label} if day is None else {"ticket": label, "day": day}
        return self.client.request("ticket.status", **args)

    def dossier_status(self, **args) -> dict:
        return self.client.request("dossier.status", **args)

    def alert(self, kind: str, code: str, message: str, **details) -> None:
        """Tell the staff; kept by paho until the broker is back if it is away."""
        self.client.client.publish(self.topics.alert(self.device_id),
                                   protocol.alert(kind, code, message, device=self.device_id, **details),
                                   qos=1)

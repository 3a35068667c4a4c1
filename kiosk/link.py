"""The kiosk's link to the centre: live service figures from retained state,
ticket requests, alerts to staff. No Kivy here: the app marshals callbacks
onto its own thread."""
from __future__ import annotations

import logging
from typing import Callable

from motcua import protocol
from motcua.config import Site
from motcua.mqtt import CentreUnavailable, RequestRefused, StateLink

log = logging.getLogger("motcua.kiosk")

__all__ = ["CentreLink", "CentreUnavailable", "RequestRefused"]


class CentreLink(StateLink):
    def __init__(self, site: Site, device_id: str, on_change: Callable[[], None]):
        super().__init__(site, device_id, on_change)
        self.client.subscribe(self.topics.service_state_all, self._on_service)

    def service(self, code: str) -> dict | None:
        with self._lock:
            return self.services.get(code)

    # Blocking calls: run them off the UI thread.
    def issue(self, service: str, priority: str | None) -> dict:
        return self.client.request("ticket.issue", service=service, priority=priority)

    def ticket_status(self, label: str, day: str | None = None) -> dict:
        args = {"ticket": label} if day is None else {"ticket": label, "day": day}
        return self.client.request("ticket.status", **args)

    def check_in(self, op: str, token: str) -> dict:
        """ticket.check_in or booking.check_in of a scanned link (issue 14)."""
        return self.client.request(op, token=token)

    def dossier_status(self, **args) -> dict:
        return self.client.request("dossier.status", **args)

    def alert(self, kind: str, code: str, message: str, **details) -> None:
        """Tell the staff; kept by paho until the broker is back if it is away."""
        self.client.client.publish(self.topics.alert(self.device_id),
                                   protocol.alert(kind, code, message, device=self.device_id, **details),
                                   qos=1)

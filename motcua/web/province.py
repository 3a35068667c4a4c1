"""`motcua web --province`: the same application for every centre of a province
(docs/web.md, "At the province"). Each centre's bridge carries its web topics to
the provincial broker under the centre's own root (`[province] web = true` in its
site file); the province's web reads them there, logged in as the provincial
file's [web] device, and asks each centre under that device's request topic.

One MQTT connection per centre, each a `DeviceClient` exactly as beside a centre:
the request and re-ask, the reconnecting and resubscribing are the tested ones,
and the provincial ACL grants per centre. The price is a socket and a paho thread
per centre (170 for a province of 170 centres; Mosquitto takes thousands), all on
the province's own network (the plain listener, where the client id stays each
connection's own: the TLS listener would give them all the login as client id)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from motcua.config import BrokerSettings, Device, WebSettings

from .app import WebContext
from .links import token_reader


@dataclass(frozen=True)
class CentreAtTheProvince:
    """What a DeviceClient asks of a site, for one centre seen from the provincial
    broker: the centre's id (its topic root), the province's broker and the web's login."""
    id: str
    broker: BrokerSettings
    devices: tuple[Device, ...]
    request_timeout_s: float = 5.0

    def device(self, device_id: str) -> Device:
        for d in self.devices:
            if d.id == device_id:
                return d
        raise KeyError(device_id)


def province_context(province) -> tuple[WebContext, dict[str, Path]]:
    """The WebContext of every centre the provincial file's [web] knows the secret of,
    and where each centre's catalogue copy is kept."""
    from motcua.mqtt import DeviceClient

    from .feed import CentreFeed
    web_cfg = province.web
    if web_cfg is None:
        raise ValueError(f"{province.path} has no [web] table: add one with device, password, base_url and "
                         "the centres' secret (docs/web.md, \"At the province\"; examples/province.toml)")
    centres = province.web_centres
    if not centres:
        raise ValueError(f"{province.path}: [web] knows no centre's secret: give secret = \"…\" in [web] or "
                         "web_secret = \"…\" in the [[centres]] entries the web serves")
    broker = BrokerSettings(host=province.broker.host, port=province.broker.port)
    me = Device(id=web_cfg.device, role="web", password=web_cfg.password)
    tz = ZoneInfo(province.timezone)
    secrets = {c.id: province.web_secret(c) for c in centres}
    web = WebContext(feeds={}, read_token=token_reader(secrets), province=(province.name, province.name))
    catalogues: dict[str, Path] = {}
    folder = province.data_dir / "web"
    folder.mkdir(parents=True, exist_ok=True)
    for c in centres:
        client = DeviceClient(CentreAtTheProvince(c.id, broker, (me,)), me.id)
        # service names come from the centre's retained service state (name_vi, name_en)
        web.feeds[c.id] = CentreFeed(c.id, client, tz, {}, bridged=True)
        web.names[c.id] = (c.name, c.name)
        web.secrets[c.id] = secrets[c.id]
        # The province has no site file of the centre: numbers from afar and bookings are
        # offered for every service the centre's state names, and the centre refuses in its
        # own words (`not_offered`) what its [web] does not offer.
        web.settings[c.id] = WebSettings(base_url=web_cfg.base_url, secret=secrets[c.id], remote_tickets=True)
        catalogues[c.id] = folder / f"{c.id}-catalogue.db"
    return web, catalogues

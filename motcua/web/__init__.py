"""`motcua web`: the citizen's phone (issue 14, docs/web.md). A ticket's page
live, procedures and dossiers, from one MQTT connection per process.

`site_app(site, device_id, read_token)` builds the ASGI application for one
centre; `serve(app, host, port)` runs it on uvicorn. Starlette, Jinja2 and paho
are imported only here and in the shell modules (app, feed, pages); the view
of a page is `motcua.web.model` (pure).
"""
from __future__ import annotations

import logging
import resource

log = logging.getLogger("motcua.web")


NOTIFIER_URL_ENV = "MOTCUA_WEB_NOTIFIER_URL"
NOTIFIER_TOKEN_ENV = "MOTCUA_WEB_NOTIFIER_TOKEN"


def env_notifier():
    """The SMS / Zalo gateway's webhook from the environment (a systemd
    EnvironmentFile keeps its token out of the site file), or None: then no page
    offers a message."""
    import os

    from .notify import WebhookNotifier
    url = os.environ.get(NOTIFIER_URL_ENV)
    if not url:
        return None
    token = os.environ.get(NOTIFIER_TOKEN_ENV)
    if not token:
        raise ValueError(f"{NOTIFIER_URL_ENV} is set but {NOTIFIER_TOKEN_ENV} is not: give the gateway's token")
    return WebhookNotifier(url, token)


def site_app(site, device_id: str, read_token, route_modules=None, notifier=None):
    """The application for one centre, logged in to its broker as `device_id`.
    `notifier`: how to text a phone (notify.py); None: no page offers it."""
    from motcua.mqtt import DeviceClient

    from . import pages, pollselect
    from .app import WebContext, build_app
    from .feed import CentreFeed
    pollselect.install()        # thousands of phones: the MQTT socket may get a descriptor above 1023
    client = DeviceClient(site, device_id)
    names = {s.code: (s.name_vi, s.name_en) for s in site.services}
    web_settings = getattr(site, "web", None)
    feed = CentreFeed(site.id, client, site.tz, names,
                      remote_window_min=web_settings.remote_window_min if web_settings else 60)
    web = WebContext(feeds={site.id: feed}, read_token=read_token, names={site.id: (site.name, site.name_en)})
    if web_settings is not None:
        web.settings[site.id], web.secrets[site.id] = web_settings, web_settings.secret
    web.catalogues[site.id] = pages.CatalogueStore(feed, site.data_dir / f"{device_id}-catalogue.db")
    modules = [pages] if route_modules is None else list(route_modules)
    if notifier is not None:
        from . import reminders
        web.reminders = reminders.Reminders(notifier, {site.id: site.name})
        feed.near = reminders.NEAR
        feed.on_near = lambda f, key, phone, ahead: reminders.send_near(web.reminders, f, key, phone, ahead)
        modules.append(reminders)
        if web_settings is not None and route_modules is None:
            from . import booking_pages
            modules.append(booking_pages)
    return build_app(web, modules)


def raise_open_files() -> int:
    """Every phone holds a connection open: lift the soft limit on open files to
    the hard one (1024 by default would stop at a thousand phones)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def serve(app, host: str, port: int) -> None:
    import uvicorn
    files = raise_open_files()
    log.info("motcua web on http://%s:%d (up to %d open files)", host, port, files)
    uvicorn.run(app, host=host, port=port, log_level="warning", backlog=4096,
                timeout_keep_alive=30, proxy_headers=False)

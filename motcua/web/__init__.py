"""`motcua web`: the citizen's phone (issue 14, docs/web.md). A ticket's page
live, procedures and dossiers, from one MQTT connection per process.

`site_app(site, device_id, read_token)` builds the ASGI application for one
centre, `province_app(province)` the same for every centre of a province;
`serve(app, host, port)` runs it on uvicorn. Starlette, Jinja2 and paho
are imported only here and in the shell modules (app, feed, pages); the view
of a page is `motcua.web.model` (pure).
"""
from __future__ import annotations

import logging
import resource

log = logging.getLogger("motcua.web")


NOTIFIER_URL_ENV = "MOTCUA_WEB_NOTIFIER_URL"
NOTIFIER_TOKEN_ENV = "MOTCUA_WEB_NOTIFIER_TOKEN"


def configured_notifier(url: str | None = None, token_file: str | None = None, where: str = "[web]"):
    """The SMS / Zalo gateway's webhook, or None: then no page offers a message.

    The address is `notifier_url` of the file's [web] (or MOTCUA_WEB_NOTIFIER_URL);
    its token is read once, at start, from `notifier_token_file` (never the site
    file itself: that file is read by every device of the centre), or taken from
    MOTCUA_WEB_NOTIFIER_TOKEN. The environment wins over the file, for a systemd
    EnvironmentFile. Raises ValueError saying what to fix."""
    import os
    import stat
    from pathlib import Path

    from .notify import WebhookNotifier
    url = os.environ.get(NOTIFIER_URL_ENV) or url
    token = os.environ.get(NOTIFIER_TOKEN_ENV)
    if not url:
        if token_file:
            raise ValueError(f"{where} notifier_token_file is set but notifier_url is not: give the gateway's "
                             f"address, notifier_url = \"https://…\" (or set {NOTIFIER_URL_ENV})")
        return None
    if not token and token_file:
        path = Path(token_file)
        try:
            st = path.stat()
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{where} notifier_token_file {path}: cannot read it ({exc.strerror}); put the "
                             "gateway's token there, readable by motcua web's user only (chmod 600)") from None
        if st.st_mode & (stat.S_IROTH | stat.S_IWOTH):
            raise ValueError(f"{where} notifier_token_file {path} is readable by every user of this machine; "
                             f"run `chmod 600 {path}` (or 640 with the service's group): it holds the gateway's "
                             "token")
        token = text.strip()
        if not token:
            raise ValueError(f"{where} notifier_token_file {path} is empty: put the gateway's token in it")
    if not token:
        raise ValueError(f"the gateway's address is set ({url}) but not its token: give {where} "
                         f"notifier_token_file = \"/etc/motcua/notifier.token\" or set {NOTIFIER_TOKEN_ENV}")
    return WebhookNotifier(url, token)


def site_notifier(site):
    """The gateway of a site file's [web] (a relative token file is relative to the site
    file), the environment overriding it; or None."""
    from pathlib import Path
    web = getattr(site, "web", None)
    token_file = getattr(web, "notifier_token_file", None)
    if token_file and not Path(token_file).is_absolute():
        token_file = str(Path(site.path).parent / token_file)
    return configured_notifier(getattr(web, "notifier_url", None), token_file, where=f"{site.path}: [web]")


def site_app(site, device_id: str, read_token, route_modules=None, notifier=None):
    """The application for one centre, logged in to its broker as `device_id`.
    `notifier`: how to text a phone (notify.py); None: no page offers it."""
    from motcua.mqtt import DeviceClient

    from .app import WebContext
    from .feed import CentreFeed
    client = DeviceClient(site, device_id)
    names = {s.code: (s.name_vi, s.name_en) for s in site.services}
    web_settings = getattr(site, "web", None)
    feed = CentreFeed(site.id, client, site.tz, names,
                      remote_window_min=web_settings.remote_window_min if web_settings else 60)
    web = WebContext(feeds={site.id: feed}, read_token=read_token, names={site.id: (site.name, site.name_en)})
    if web_settings is not None:
        web.settings[site.id], web.secrets[site.id] = web_settings, web_settings.secret
    return centres_app(web, {site.id: site.data_dir / f"{device_id}-catalogue.db"}, route_modules, notifier)


def province_app(province, route_modules=None, notifier=None):
    """The application for every centre of a provincial file's [web] (docs/web.md, "At
    the province"): one feed per centre, on the provincial broker."""
    from .province import province_context
    web, catalogues = province_context(province)
    return centres_app(web, catalogues, route_modules, notifier)


def centres_app(web, catalogues: dict, route_modules=None, notifier=None):
    """The one way an application is made, beside a centre or at the province: the
    pages, each centre's catalogue copy, and with a notifier the text messages,
    numbers from afar and bookings."""
    from . import pages, pollselect
    from .app import build_app
    pollselect.install()        # thousands of phones: the MQTT socket may get a descriptor above 1023
    for cid, path in catalogues.items():
        web.catalogues[cid] = pages.CatalogueStore(web.feeds[cid], path)
    modules = [pages] if route_modules is None else list(route_modules)
    if notifier is not None:
        from . import reminders
        web.reminders = reminders.Reminders(notifier, {cid: names[0] for cid, names in web.names.items()})
        for feed in web.feeds.values():
            feed.near = reminders.NEAR
            feed.on_near = lambda f, key, phone, ahead: reminders.send_near(web.reminders, f, key, phone, ahead)
        modules.append(reminders)
        if web.settings and route_modules is None:
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

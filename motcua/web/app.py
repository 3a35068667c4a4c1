"""`motcua web`: the ASGI application (Starlette). Pages are rendered on the
server from Jinja2 templates with their CSS inline; the ticket page adds a few
lines of JavaScript for live updates (Server-Sent Events), and without it
reloads itself. Nothing is loaded from elsewhere: the Content-Security-Policy
allows only this page's own inline style and script (by nonce).

Routes are grouped in modules that each add theirs (`ticket_routes` here,
`procedure_routes`, `dossier_routes`; the booking pages come as one more).
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from motcua.mqtt import CentreUnavailable

from . import model
from .feed import CentreFeed, TicketGone, Watcher
from .limits import Limiter, Rule

log = logging.getLogger("motcua.web")

TEMPLATES = Path(__file__).with_name("templates")
# Python's full (generation 2) collection walks every object: with thousands of open
# streams it stopped the loop for up to a second at random, holding calls back (the
# benchmark's p99 went from 0.19 s to 0.76 s). The process takes its full collections
# on a timer instead; the young generations are still collected as usual.
FULL_GC_EVERY_S = 600.0
KEEPALIVE_S = 25.0          # a comment on every idle stream: proxies and phones keep it open
PROCEDURE_RESULTS = 30      # the kiosk's RESULTS: the same search, the same hits


@dataclass(frozen=True)
class TicketRef:
    centre: str
    day: str
    label: str


@dataclass
class WebContext:
    """What the pages need: the centres' feeds, how to read a ticket link, the
    catalogue of each centre, limits. `read_token(token) -> TicketRef | None`
    checks the link's signature (motcua.web_tokens)."""
    feeds: dict[str, CentreFeed]
    read_token: Callable[[str], TicketRef | None]
    names: dict[str, tuple[str, str]] = field(default_factory=dict)    # centre -> (vi, en) name
    catalogues: dict = field(default_factory=dict)                      # centre -> CatalogueStore
    lookups: Limiter = field(default_factory=lambda: Limiter((Rule("address", 10, 60.0),
                                                               Rule("address", 60, 3600.0))))
    reminders: object | None = None     # reminders.Reminders when a gateway is configured
    settings: dict = field(default_factory=dict)    # centre -> its site file's [web] (WebSettings)
    secrets: dict = field(default_factory=dict)     # centre -> [web] secret, to sign new links
    started: float = field(default_factory=time.monotonic)
    # At the province (docs/web.md, "At the province"): its (vi, en) name; each centre's
    # pages then live under /tt/<centre>. None: one centre, its pages at the root.
    province: tuple[str, str] | None = None

    @property
    def default_centre(self) -> str:
        return next(iter(self.feeds))

    def base(self, centre: str) -> str:
        """Where a centre's own pages start: "" beside a centre, /tt/<id> at the province."""
        return "" if self.province is None else f"/tt/{centre}"


# -- rendering ---------------------------------------------------------------------------------

_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


def _security_headers(nonce: str, cache: bool = False) -> dict:
    return {
        "Content-Security-Policy": (f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
                                    "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                                    "base-uri 'none'; frame-ancestors 'none'"),
        "X-Content-Type-Options": "nosniff",
        # The ticket's link is its key: never hand it on to another site in a Referer.
        # (same-origin, not no-referrer: with no-referrer a browser sends "Origin: null"
        # on our own forms, and SameOrigin could not tell them from another site's.)
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
        "Cache-Control": "public, max-age=300" if cache else "no-store",
    }


def page(request: Request, template: str, status: int = 200, cache: bool = False, echo_path: bool = True,
         **ctx) -> HTMLResponse:
    """A page in the asked language; `echo_path` False: the language link goes home
    (a refused link is not repeated on its own page)."""
    lang = model.pick_lang(request.query_params.get("lang"))
    web: WebContext = request.app.state.web
    centre = ctx.pop("centre", None)
    if centre is None and web.province is not None:     # the province's own pages (its home)
        (vi, en), base = web.province, ""
    else:
        centre = centre or web.default_centre
        (vi, en), base = web.names.get(centre, (centre, centre)), web.base(centre)
    nonce = secrets.token_urlsafe(12)
    other = "vi" if lang == "en" else "en"
    here = request.url.path if echo_path else "/"
    html = _env.get_template(template).render(
        lang=lang, t=lambda key: model.t(key, lang), nonce=nonce, centre_name=en if lang == "en" else vi,
        lang_link=here + "?lang=en" if other == "en" else here,
        other_lang="English" if other == "en" else "Tiếng Việt", q_lang="&lang=en" if lang == "en" else "",
        path_lang="?lang=en" if lang == "en" else "", base=base, **ctx)
    return HTMLResponse(html, status_code=status, headers=_security_headers(nonce, cache))


def web_ctx(request: Request) -> "WebContext":
    return request.app.state.web


def not_found(request: Request) -> HTMLResponse:
    """The one answer to a guessed, altered or unknown link: no data at all."""
    return page(request, "not_found.html", status=404, echo_path=False)


# -- the ticket page -----------------------------------------------------------------------------

def _ticket_of(request: Request, token: str) -> tuple[TicketRef, CentreFeed] | None:
    web: WebContext = request.app.state.web
    ref = web.read_token(token)
    if ref is None or ref.centre not in web.feeds:
        return None
    return ref, web.feeds[ref.centre]


async def ticket_page(request: Request) -> Response:
    found = _ticket_of(request, request.path_params["token"])
    if found is None:
        return not_found(request)
    ref, feed = found
    lang = model.pick_lang(request.query_params.get("lang"))
    try:
        f = await feed.follow(ref.day, ref.label)
    except TicketGone:
        return not_found(request)
    except CentreUnavailable:
        return page(request, "unavailable.html", status=503, centre=ref.centre)
    view = feed.view(f, lang)
    token = request.path_params["token"]
    offer = None
    # offered to a waiting ticket; rendered hidden for a number from afar not yet checked in,
    # so the page shows it the moment the kiosk checks it in (the page's script)
    if web_ctx(request).reminders is not None and f.state in ("waiting", "reserved") \
            and (ref.day, ref.label) not in feed.reminders:
        from .reminders import NEAR, w
        offer = {"action": f"/t/{token}/nhac" + ("?lang=en" if lang == "en" else ""), "near": NEAR,
                 "w": lambda k: w(k, lang)}
    qr = ""
    settings = web_ctx(request).settings.get(ref.centre)
    if f.state == "reserved" and settings is not None:
        from .qr import qr_svg
        qr = qr_svg(settings.base_url.rstrip("/") + f"/t/{token}", label=view["number"])
    return page(request, "ticket.html", v=view, centre=ref.centre, offer=offer, qr=qr,
                events_url=f"/t/{request.path_params['token']}/events" + ("?lang=en" if lang == "en" else ""))


class TicketEvents:
    """GET /t/<token>/events: the ticket's views as Server-Sent Events, plain ASGI
    (no task group per stream): one coroutine and one task that waits for the
    phone to hang up."""

    async def __call__(self, scope, receive, send) -> None:
        request = Request(scope, receive)
        found = _ticket_of(request, scope["path_params"]["token"])
        f = None
        if found is not None:
            ref, feed = found
            try:
                f = await feed.follow(ref.day, ref.label)
            except (TicketGone, CentreUnavailable):
                f = None
        if f is None:
            await Response("", status_code=404, headers={"Cache-Control": "no-store"})(scope, receive, send)
            return
        lang = model.pick_lang(request.query_params.get("lang"))
        watcher = Watcher(lang)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer")]})
        await send({"type": "http.response.body", "more_body": True,
                    "body": model.sse_hello() + model.sse(feed.view(f, lang), event="ticket", event_id=f.version)})
        feed.watch(ref.day, ref.label, watcher)

        async def hang_up() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    watcher.close()
                    return

        listener = asyncio.ensure_future(hang_up())
        try:
            while not watcher.closed:
                message = await watcher.next(KEEPALIVE_S)
                if watcher.closed:
                    break
                await send({"type": "http.response.body", "more_body": True,
                            "body": message if message is not None else model.SSE_KEEPALIVE})
        finally:
            feed.unwatch(ref.day, ref.label, watcher)
            listener.cancel()


# -- other pages -----------------------------------------------------------------------------

def centre_of(request: Request) -> str | None:
    """The centre a page is of: /tt/<centre>/… at the province, the one centre beside it;
    None for a centre this process does not serve (the page answers 404)."""
    web: WebContext = request.app.state.web
    if web.province is None:
        return web.default_centre
    centre = request.path_params.get("centre")
    return centre if centre in web.feeds else None


def centre_route(web: WebContext, path: str, endpoint, methods=None) -> Route:
    """A page of one centre: at `path` beside a centre, at /tt/<centre><path> at the province."""
    return Route(path if web.province is None else "/tt/{centre}" + path.rstrip("/"), endpoint, methods=methods)


async def centre_home(request: Request) -> Response:
    from .booking_pages import offered
    centre = centre_of(request)
    if centre is None:
        return not_found(request)
    return page(request, "home.html", cache=True, centre=centre, offers=offered(request.app.state.web, centre))


async def home(request: Request) -> Response:
    """Beside a centre, its home; at the province, the centres to choose from."""
    web: WebContext = request.app.state.web
    if web.province is None:
        return await centre_home(request)
    lang = model.pick_lang(request.query_params.get("lang"))
    centres = [{"id": cid, "name": web.names.get(cid, (cid, cid))[lang == "en"],
                "open": feed.centre_online is True, "href": web.base(cid) + ("?lang=en" if lang == "en" else "")}
               for cid, feed in web.feeds.items()]
    return page(request, "centres.html", centres=centres)


async def health(request: Request) -> Response:
    web: WebContext = request.app.state.web
    return JSONResponse({"centres": {cid: {"online": f.centre_online, "broker": f.client.connected.is_set(),
                                           "streams": f.streams, "followed": len(f.followed),
                                           "calls_seen": f.calls_seen, "pushed": f.pushed}
                                     for cid, f in web.feeds.items()},
                         "uptime_s": round(time.monotonic() - web.started, 1)},
                        headers={"Cache-Control": "no-store"})


async def _not_found_handler(request: Request, exc) -> Response:
    return not_found(request)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


class SameOrigin:
    """Refuses a form sent from another site (CSRF): a POST whose Origin header
    names another host, or "null". Browsers send Origin with every POST; a
    client that sends none (curl, a test) is not a browser a page could abuse.
    Without this, any page could make a visitor's phone ask for one-time codes
    in their name and spend the limits of a real citizen."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and not same_origin(scope):
            response = HTMLResponse("<!doctype html><meta charset=utf-8><title>403</title>"
                                    "<p>Biểu mẫu này phải được gửi từ chính trang này. "
                                    "This form must be sent from this site.</p>", status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def same_origin(scope) -> bool:
    """True unless the request's Origin names another scheme://host[:port] than its Host."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
    origin = headers.get("origin")
    if origin is None:
        return True
    host = headers.get("host", "")
    return origin != "null" and origin.split("://", 1)[-1].rstrip("/") == host


def build_app(web: WebContext, route_modules=()) -> Starlette:
    """The application. Each module of `route_modules` has `routes(web)` giving
    its Starlette routes (procedures, dossiers, bookings…)."""
    routes = [Route("/", home), Route("/healthz", health),
              Route("/t/{token}", ticket_page), Route("/t/{token}/events", TicketEvents())]
    if web.province is not None:
        routes.append(Route("/tt/{centre}", centre_home))
    for module in route_modules:
        routes += module.routes(web)

    async def collect_now_and_then() -> None:
        while True:
            await asyncio.sleep(FULL_GC_EVERY_S)
            started = time.monotonic()
            found = gc.collect()
            log.debug("full collection: %d objects freed in %.0f ms", found, (time.monotonic() - started) * 1000)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        loop = asyncio.get_running_loop()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, 1_000_000_000)      # no full collection but ours
        collector = asyncio.ensure_future(collect_now_and_then())
        for feed in web.feeds.values():
            feed.bind(loop)
            feed.client.start()
        for store in web.catalogues.values():
            store.start()
        yield
        collector.cancel()
        for store in web.catalogues.values():
            store.stop()
        for feed in web.feeds.values():
            await loop.run_in_executor(None, feed.client.stop)
            feed.executor.shutdown(wait=False)

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: _not_found_handler},
                    middleware=[Middleware(SameOrigin)])
    app.state.web = web
    return app


class ThreadCatalogues:
    """A catalogue copy per thread (SQLite connections stay on their thread):
    page handlers search in the executor's threads."""

    def __init__(self, open_catalogue: Callable[[], object]):
        self._open = open_catalogue
        self._local = threading.local()

    def get(self):
        c = getattr(self._local, "catalogue", None)
        if c is None:
            c = self._local.catalogue = self._open()
        return c

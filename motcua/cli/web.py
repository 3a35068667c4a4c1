"""`motcua web`: the citizen's phone service (issue 14, docs/web.md): ticket
pages live, procedures and dossiers, numbers from afar and bookings, for one
centre's broker (--site) or for every bridged centre of a province (--province)."""
from __future__ import annotations

from ..config import Site
from .common import CliError, device_for, find_site


def cmd_web(site: Site | None, args) -> int:
    if not 1 <= args.http_port <= 65535:
        raise CliError(f"--http-port {args.http_port}: give a TCP port, 1 to 65535 (default 8080)")
    if args.province:
        if args.site:
            raise CliError("give --site (one centre, on its own broker) or --province (every bridged centre, on "
                           "the provincial broker), not both")
        if args.device:
            raise CliError("--device is for --site: at the province the web logs in as the provincial file's "
                           "[web] device")
        if args.demo_messages:
            raise CliError("--demo-messages is for the demo of one centre (--site), never for a province's phones")
        app = province_web(args)
    else:
        try:
            site = site or find_site(args.site)
        except CliError as exc:
            raise CliError(f"{exc}; or, at the province, --province province.toml") from None
        if args.broker_port:
            from dataclasses import replace
            site = replace(site, broker=replace(site.broker, port=args.broker_port))
        app = centre_web(site, args)
    from motcua.web import serve
    serve(app, args.host, args.http_port)
    return 0


def centre_web(site: Site, args):
    device = device_for(site, "web", args.device)
    from motcua.web import site_app, site_notifier
    from motcua.web.links import site_token_reader
    try:
        read_token = site_token_reader(site)
        notifier = site_notifier(site)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.demo_messages:
        from motcua.web.notify import TerminalNotifier
        notifier = TerminalNotifier()
    return site_app(site, device, read_token, notifier=notifier)


def province_web(args):
    from motcua.web import configured_notifier, province_app

    from .province import find_province
    province = find_province(args.province)
    web = province.web
    try:
        notifier = configured_notifier(web.notifier_url if web else None, web.notifier_token_file if web else None,
                                       where=f"{province.path}: [web]")
        return province_app(province, notifier=notifier)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def add_commands(sub) -> None:
    p = sub.add_parser("web", help="the citizen's phone: ticket pages live, procedures, dossiers",
                       description="Serve the pages a citizen opens on a phone: the printed ticket's QR "
                       "link (its place in the queue, live, and the call), numbers from afar and bookings, "
                       "the procedure search and the dossier status, in Vietnamese and English (?lang=en). "
                       "With --site (or $MOTCUA_SITE) it serves one centre, logged in to the centre's broker as "
                       "the site file's web device; with --province it serves every centre of the provincial "
                       "file's [web] whose bridge carries the web (site file: [province] web = true), on the "
                       "provincial broker. Put it behind an HTTPS proxy (docs/web.md). With [web] notifier_url "
                       "and notifier_token_file (or MOTCUA_WEB_NOTIFIER_URL and MOTCUA_WEB_NOTIFIER_TOKEN, which "
                       "win) pages offer text messages, numbers from afar and bookings.",
                       example=["motcua --site /etc/motcua/site.toml web --host 127.0.0.1 --http-port 8080",
                                "motcua web --province /etc/motcua/province.toml --http-port 8080"])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: behind a proxy)")
    # Not --port: that names the broker's port (--broker-port) or a serial device (--serial) elsewhere.
    p.add_argument("--http-port", type=int, default=8080, metavar="N", help="the HTTP port to listen on (default 8080)")
    p.add_argument("--device", metavar="ID", help="the site file's device to log in as (default: the first "
                   "with role = \"web\"); not with --province")
    p.add_argument("--province", metavar="FILE", help="serve every centre of this provincial file's [web], on the "
                   "provincial broker, instead of one centre (not with --site)")
    p.add_argument("--demo-messages", action="store_true", help="the demo only: print the text messages (one-time "
                   "codes included) on this terminal instead of sending them through a gateway, so numbers from "
                   "afar and bookings can be tried; whoever reads the terminal can prove any phone")
    # The site file is read here, not before: with --province there is none.
    p.set_defaults(fn=cmd_web, site_free=True)

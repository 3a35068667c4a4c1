"""`motcua web`: the citizen's phone service (issue 14, docs/web.md): ticket
pages live, procedures and dossiers, for one centre's broker."""
from __future__ import annotations

from ..config import Site
from .common import CliError, device_for


def cmd_web(site: Site, args) -> int:
    device = device_for(site, "web", args.device)
    if not 1 <= args.http_port <= 65535:
        raise CliError(f"--http-port {args.http_port}: give a TCP port, 1 to 65535 (default 8080)")
    from motcua.web import env_notifier, serve, site_app
    from motcua.web.links import site_token_reader
    try:
        read_token = site_token_reader(site)
        notifier = env_notifier()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    serve(site_app(site, device, read_token, notifier=notifier), args.host, args.http_port)
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("web", help="the citizen's phone: ticket pages live, procedures, dossiers",
                       description="Serve the pages a citizen opens on a phone: the printed ticket's QR "
                       "link (its place in the queue, live, and the call), the procedure search and the "
                       "dossier status, in Vietnamese and English (?lang=en). Logs in to the centre's "
                       "broker as the site file's web device; put it behind the centre's HTTPS proxy "
                       "(docs/web.md). With MOTCUA_WEB_NOTIFIER_URL and MOTCUA_WEB_NOTIFIER_TOKEN set (an SMS or Zalo "
                       "gateway's webhook) the ticket page offers a text message when the turn is near.",
                       example=["motcua --site /etc/motcua/site.toml web --host 127.0.0.1 --http-port 8080"])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: behind a proxy)")
    # Not --port: that names the broker's port (--broker-port) or a serial device (--serial) elsewhere.
    p.add_argument("--http-port", type=int, default=8080, metavar="N", help="the HTTP port to listen on (default 8080)")
    p.add_argument("--device", metavar="ID", help="the site file's device to log in as (default: the first "
                   "with role = \"web\")")
    p.set_defaults(fn=cmd_web)

"""Reading a ticket's link: the token's signature checked with the centre's
`[web] secret` (motcua.web_tokens). At the province each centre signs with its
own secret, so the reader holds one per centre and picks it by the site the
token names; a token of a centre it does not serve is refused like a forged one."""
from __future__ import annotations

from typing import Callable

from motcua.web_tokens import TokenError, verify_token

from .app import TicketRef


def token_reader(secrets: dict[str, str], kind: str = "t") -> Callable[[str], TicketRef | None]:
    """read(token) -> TicketRef (label: a ticket's number, or a booking's id for
    kind "b"), or None for anything not a link of that kind we signed."""
    def read(token: str) -> TicketRef | None:
        try:
            site = token_site(token)
            secret = secrets.get(site or "")
            if not secret:
                return None
            t = verify_token(secret, token, site=site, kind=kind)
        except TokenError:
            return None
        return TicketRef(t.site, t.day, t.ref)
    return read


def token_site(token: str) -> str | None:
    from motcua.web_tokens import read_token
    try:
        return read_token(token).site
    except TokenError:
        return None


def site_token_reader(site) -> Callable[[str], TicketRef | None]:
    secret = getattr(getattr(site, "web", None), "secret", None)
    if not secret:
        raise ValueError(f"{site.path} has no [web] table with a secret: ticket links cannot be checked; "
                         "add [web] with secret = \"…\" (the same the kiosk signs its tickets' QR with)")
    return token_reader({site.id: secret})

"""Signed links for the citizen's phone (issue 14, docs/web.md "Tokens"): pure, no I/O.

A ticket's or a booking's QR carries `<[web] base_url>/t/<token>` or
`<[web] base_url>/b/<token>`. The token names the centre (site id), the kind
(`t` a ticket, `b` a booking), the local day and the ticket's label or the
booking's id, and carries an HMAC-SHA256 of those, made with the site's
`[web] secret`, so that a guessed or altered link is refused: nobody follows
or checks in a number that is not theirs by counting up.

    token = base64url("<site>:<kind>:<day>:<ref>") "." base64url(HMAC[:16])

base64url without padding: a token is only URL-safe letters, digits, `-`,
`_` and one `.`; about 60 characters for a ticket, so the QR stays small.
The signature is compared in constant time (hmac.compare_digest).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

KINDS = ("t", "b")          # t: a ticket (its label), b: a booking (its id)
MAC_BYTES = 16              # 128 bits of the HMAC: enough against guessing, short in a QR
DOMAIN = b"motcua-web-token:1:"   # what is signed starts with this: no other HMAC of the secret matches
SITE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REF_RE = {"t": re.compile(r"^[A-Z]{0,3}\d{1,6}$"), "b": re.compile(r"^[1-9]\d{0,11}$")}
MAX_TOKEN = 200
# "<anything>/t/<token>" or "/b/<token>", as a scanner reads the link (maybe a query after it)
URL_RE = re.compile(r"(?:^|/)(?P<kind>[tb])/(?P<token>[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/?(?:[?#].*)?$")


class TokenError(ValueError):
    """A token that is not ours, altered, or unreadable; `code` is the protocol's."""

    def __init__(self, message: str, code: str = "bad_token"):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Token:
    site: str
    kind: str     # "t" or "b"
    day: str      # YYYY-MM-DD, the centre's local day
    ref: str      # a ticket's label, or a booking's id as digits

    @property
    def booking(self) -> int:
        return int(self.ref)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), DOMAIN + payload.encode("utf-8"), hashlib.sha256).digest()[:MAC_BYTES]


def _check_parts(site: str, kind: str, day: str, ref: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    if not SITE_RE.match(site) or not DAY_RE.match(day) or not REF_RE[kind].match(ref):
        raise ValueError(f"cannot make a token of site {site!r}, day {day!r}, {kind} {ref!r}")


def make_token(secret: str, site: str, kind: str, day: str, ref: str | int) -> str:
    """The token of a ticket (kind "t", ref its label) or a booking (kind "b", ref its id)."""
    if not secret:
        raise ValueError("no [web] secret: the site file's [web] table must set one")
    ref = str(ref)
    _check_parts(site, kind, day, ref)
    payload = f"{site}:{kind}:{day}:{ref}"
    return f"{_b64(payload.encode('ascii'))}.{_b64(_mac(secret, payload))}"


def read_token(token: str) -> Token:
    """What a token says, NOT checked against the secret (verify_token does both)."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise TokenError("not a motcua link token")
    body, _ = token.split(".")
    try:
        payload = _unb64(body).decode("ascii")
    except (binascii.Error, ValueError):
        raise TokenError("not a motcua link token") from None
    parts = payload.split(":")
    if len(parts) != 4:
        raise TokenError("not a motcua link token")
    site, kind, day, ref = parts
    try:
        _check_parts(site, kind, day, ref)
    except ValueError:
        raise TokenError("not a motcua link token") from None
    return Token(site, kind, day, ref)


def verify_token(secret: str, token: str, site: str | None = None, kind: str | None = None) -> Token:
    """The token's contents once its signature is right (constant-time), and it is of
    `site` and `kind` when given; TokenError otherwise."""
    t = read_token(token)
    if site is not None and t.site != site:
        raise TokenError(f"this link is of centre {t.site}, not {site}", "not_ours")
    if kind is not None and t.kind != kind:
        raise TokenError("this link is of a " + ("booking" if t.kind == "b" else "ticket")
                         + ", not a " + ("booking" if kind == "b" else "ticket"))
    try:
        given = _unb64(token.split(".")[1])
    except (binascii.Error, ValueError):
        raise TokenError("not a motcua link token") from None
    expected = _mac(secret, f"{t.site}:{t.kind}:{t.day}:{t.ref}")
    if not secret or not hmac.compare_digest(given, expected):
        raise TokenError("the link's signature is wrong (altered, or made with another secret)")
    return t


def link(base_url: str, token: str) -> str:
    """`<base_url>/t/<token>` or `/b/<token>`, by the token's kind."""
    return f"{base_url.rstrip('/')}/{read_token(token).kind}/{token}"


def ticket_link(base_url: str, secret: str, site: str, day: str, label: str) -> str:
    return link(base_url, make_token(secret, site, "t", day, label))


def booking_link(base_url: str, secret: str, site: str, day: str, booking: int) -> str:
    return link(base_url, make_token(secret, site, "b", day, booking))


def token_of_link(text: str) -> tuple[str, str] | None:
    """(kind, token) of a scanned link `…/t/<token>` or `…/b/<token>` (or of a bare
    token), None when the text is neither. The kind in the path must be the token's."""
    text = text.strip()
    m = URL_RE.search(text)
    token = m.group("token") if m else text
    try:
        t = read_token(token)
    except TokenError:
        return None
    if m and m.group("kind") != t.kind:
        return None
    return t.kind, token

"""Telling a citizen's phone: one-time codes and "your turn is near".

Messages to phones in Vietnam go through paid gateways (SMS brand-name
providers, Zalo ZNS) reached by an HTTP API with templates approved in
advance. `Notifier` is what the pages use; `WebhookNotifier` posts one JSON
message to a configured URL with a bearer token (the shape such gateways, or
a small relay in front of them, take); `LogNotifier` only logs (a centre
without a gateway, and development); `TerminalNotifier` prints, codes included (the
demo only). A failure is logged and answered False,
never raised into a page: the citizen is told the message could not be sent.

The webhook's request, POST <url>, `Authorization: Bearer <token>`:

    {"v": 1, "id": "…", "phone": "84912345678", "template": "otp",
     "params": {"code": "482913", "centre": "…"}, "text": "Mã xác nhận …"}

`id` is the same on every retry of one message (the gateway drops repeats);
any 2xx means accepted; 4xx is final (a bad number, a template refused); 5xx,
429 and network errors are tried again, at most `retries` more times.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("motcua.web.notify")

TEMPLATES = {
    "otp": "Ma xac nhan cua ban la {code}. Ma co hieu luc {minutes} phut. {centre}",
    "turn_near": "So {ticket} ({service}): con {ahead} nguoi truoc ban. Vui long den {centre}.",
}


@dataclass(frozen=True)
class Message:
    phone: str                  # normalized, 84… (see normalize_phone)
    template: str               # a key of TEMPLATES, approved at the gateway
    params: dict
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def text(self) -> str:
        """The SMS text: without diacritics, as brand-name SMS are sent (a
        Vietnamese text with marks costs two to three messages)."""
        return TEMPLATES[self.template].format(**self.params)

    def body(self) -> dict:
        return {"v": 1, "id": self.id, "phone": self.phone, "template": self.template,
                "params": self.params, "text": self.text}


class Notifier(Protocol):
    def send(self, message: Message) -> bool:
        """True when the gateway accepted it; never raises."""


class LogNotifier:
    """Logs what would be sent, the phone masked (a log is no place for it)."""

    def __init__(self):
        self.sent: list[Message] = []

    def send(self, message: Message) -> bool:
        self.sent.append(message)
        log.info("message %s (%s) to %s", message.id, message.template, mask_phone(message.phone))
        return True


class TerminalNotifier:
    """The demo's (`motcua demo`, `motcua web --demo-messages`): prints each message,
    its one-time code included, on the terminal instead of sending it, so the pages can
    be tried without a gateway. Never for a real centre: whoever reads the terminal or
    its log can prove any phone."""

    def __init__(self, out=None):
        import sys
        self.out = out or sys.stdout

    def send(self, message: Message) -> bool:
        print(f"[motcua web, demo] tin nhắn tới {mask_phone(message.phone)}: {message.text}", file=self.out,
              flush=True)
        return True


class WebhookNotifier:
    def __init__(self, url: str, token: str, timeout_s: float = 5.0, retries: int = 2, backoff_s: float = 0.5):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the notifier's url {url!r} must start with https:// (or http:// on this machine)")
        self.url, self.token = url, token
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s

    def send(self, message: Message) -> bool:
        data = json.dumps(message.body(), ensure_ascii=False).encode("utf-8")
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            req = urllib.request.Request(self.url, data=data, method="POST", headers={
                "Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {self.token}",
                "Idempotency-Key": message.id})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
                    r.read(4096)
                    return True
            except urllib.error.HTTPError as exc:
                final = 400 <= exc.code < 500 and exc.code != 429
                log.warning("the gateway answered %d to message %s (%s to %s)%s", exc.code, message.id,
                            message.template, mask_phone(message.phone), "" if final else "; trying again")
                if final:
                    return False
            except (urllib.error.URLError, OSError) as exc:
                log.warning("the gateway did not answer message %s (%s): %s", message.id, message.template,
                            getattr(exc, "reason", exc))
        log.error("message %s (%s to %s) not sent after %d tries", message.id, message.template,
                  mask_phone(message.phone), self.retries + 1)
        return False


# -- phones ---------------------------------------------------------------------------------

_MOBILE = re.compile(r"^(?:\+?84|0)(3|5|7|8|9)(\d{8})$")


def normalize_phone(text: str) -> str | None:
    """A Vietnamese mobile number as gateways take it (84 and 9 digits), or None.
    Spaces, dots and dashes are allowed between digits: 0912 345 678, +84 912.345.678."""
    digits = re.sub(r"[\s.\-()]", "", text or "")
    m = _MOBILE.match(digits)
    return f"84{m.group(1)}{m.group(2)}" if m else None


def mask_phone(phone: str) -> str:
    return phone[:4] + "****" + phone[-3:] if len(phone) > 7 else "****"


# -- one-time codes -------------------------------------------------------------------------

@dataclass
class OneTimeCodes:
    """Codes sent to phones, kept as HMACs (the code itself is never stored),
    each for `ttl_s` and at most `tries` wrong answers."""
    ttl_s: float = 300.0
    tries: int = 5
    digits: int = 6
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _codes: dict[str, tuple[bytes, float, int]] = field(default_factory=dict)

    def _mac(self, purpose: str, code: str) -> bytes:
        return hmac.new(self._key, f"{purpose}:{code}".encode(), hashlib.sha256).digest()

    def issue(self, purpose: str, now: float) -> str:
        """A new code for `purpose` (e.g. the phone and what it is for); replaces an older one."""
        code = "".join(secrets.choice("0123456789") for _ in range(self.digits))
        self._codes[purpose] = (self._mac(purpose, code), now + self.ttl_s, self.tries)
        self._expire(now)
        return code

    def check(self, purpose: str, code: str, now: float) -> str:
        """"ok" (used up), "wrong", "expired" or "none"."""
        held = self._codes.get(purpose)
        if held is None:
            return "none"
        mac, until, left = held
        if now > until or left <= 0:
            del self._codes[purpose]
            return "expired"
        if hmac.compare_digest(mac, self._mac(purpose, (code or "").strip())):
            del self._codes[purpose]
            return "ok"
        self._codes[purpose] = (mac, until, left - 1)
        return "wrong"

    def _expire(self, now: float) -> None:
        if len(self._codes) > 1000:
            for k in [k for k, (_, until, _) in self._codes.items() if until < now]:
                del self._codes[k]

"""Officers and their PINs (issue 12): the rules, pure.

An officer is registered (`motcua officers add`) with a PIN of 4 to 8 digits,
not all one digit and not a plain run up or down (1234, 9876). The PIN is
kept only as a slow salted hash, hashlib.scrypt with a random 16-byte salt;
the hash carries its own parameters (`scrypt$n$r$p$salt$hash`), so they can
be raised later and older hashes still verify.

Lock-out: five wrong PINs in a row lock the officer out for five minutes, on
every terminal (the count belongs to the officer, not to a counter); a right
PIN resets the count, and while locked no PIN is even tried.

A PIN never travels in clear: a device seals it (`seal_pin`) with a key made
from its own broker password, which only the device and the centre (reading
the site file) know, bound to the device and the request id, and the centre
opens it (`open_pin`). Whoever reads the broker's traffic sees only the seal.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

PIN_RULES = "a PIN is 4 to 8 digits, not all one digit and not a run such as 1234 or 9876"
PIN_RE = re.compile(r"^[0-9]{4,8}$")
OFFICER_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=5)

# scrypt: 16 MiB and about 50 ms per PIN on a small PC; stored with each hash.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
SALT_BYTES = 16

# Events in the centre's log; none of them changes the queue (motcua.engine.apply
# passes them by). A successful sign-in is the queue's own `counter_signed_in`.
OFFICER_EVENTS = ("officer_added", "officer_pin_reset", "officer_unlocked",
                  "officer_sign_in_refused", "officer_locked_out")


class PinError(ValueError):
    """A PIN that breaks the rules, or a seal that does not open."""


def pin_problem(pin: str) -> str | None:
    """Why this PIN may not be chosen, or None."""
    if not isinstance(pin, str) or not PIN_RE.match(pin):
        return PIN_RULES
    digits = [int(c) for c in pin]
    steps = {b - a for a, b in zip(digits, digits[1:])}
    if steps in ({0}, {1}, {-1}):
        return PIN_RULES
    return None


def officer_problem(officer: str) -> str | None:
    if not isinstance(officer, str) or not OFFICER_RE.match(officer):
        return "an officer id is 1 to 64 of A-Z a-z 0-9 _ . - (for example nguyenvana)"
    return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_pin(pin: str, salt: bytes | None = None, n: int = SCRYPT_N, r: int = SCRYPT_R,
             p: int = SCRYPT_P) -> str:
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=0, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(str(pin).encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                             p=int(p), maxmem=256 * 1024 * 1024, dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


# -- the register's record and the lock-out rule ---------------------------------------


@dataclass(frozen=True)
class Officer:
    id: str
    name: str
    pin_hash: str
    failures: int = 0
    locked_until: str | None = None   # ISO time, UTC
    created_at: str | None = None
    updated_at: str | None = None

    def as_row(self) -> dict:
        return {"id": self.id, "name": self.name, "pin_hash": self.pin_hash, "failures": self.failures,
                "locked_until": self.locked_until, "created_at": self.created_at,
                "updated_at": self.updated_at}

    def public(self, now: datetime) -> dict:
        """What may be shown: never the hash."""
        return {"officer": self.id, "name": self.name, "failures": self.failures,
                "locked_until": self.locked_until if locked(self, now) else None}


def new_officer(officer: str, name: str, pin: str, now: datetime) -> Officer:
    at = now.isoformat()
    return Officer(officer, name, hash_pin(pin), created_at=at, updated_at=at)


def locked(officer: Officer, now: datetime) -> bool:
    return officer.locked_until is not None and now < datetime.fromisoformat(officer.locked_until)


def tries_left(officer: Officer) -> int:
    return MAX_FAILURES - officer.failures


@dataclass(frozen=True)
class Attempt:
    outcome: str          # "ok", "bad_pin", "locked_out" (this try locked), "locked" (already)
    officer: Officer      # the record after the attempt (write it when it changed)
    changed: bool


def attempt(officer: Officer, pin: str, now: datetime) -> Attempt:
    """One sign-in try. While locked, the PIN is not even checked."""
    if locked(officer, now):
        return Attempt("locked", officer, False)
    at = now.isoformat()
    changed = officer.locked_until is not None
    if changed:  # a lock that has run out: a fresh count
        officer = replace(officer, locked_until=None, failures=0, updated_at=at)
    if verify_pin(pin, officer.pin_hash):
        if officer.failures:
            return Attempt("ok", replace(officer, failures=0, updated_at=at), True)
        return Attempt("ok", officer, changed)
    failures = officer.failures + 1
    if failures >= MAX_FAILURES:
        return Attempt("locked_out", replace(officer, failures=failures,
                                             locked_until=(now + LOCK_FOR).isoformat(), updated_at=at), True)
    return Attempt("bad_pin", replace(officer, failures=failures, updated_at=at), True)


def reset_pin(officer: Officer, pin: str, now: datetime) -> Officer:
    """An admin's reset: a new PIN, and any lock-out lifted."""
    return replace(officer, pin_hash=hash_pin(pin), failures=0, locked_until=None, updated_at=now.isoformat())


def unlock(officer: Officer, now: datetime) -> Officer:
    return replace(officer, failures=0, locked_until=None, updated_at=now.isoformat())


# -- the PIN on the wire -----------------------------------------------------------------

SEAL_PREFIX = "s1."
_PAD = 16  # every PIN sealed to the same length: the seal does not tell it


def _key(secret: str, device: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), b"motcua-pin|" + device.encode("utf-8"), hashlib.sha256).digest()


def _stream(key: bytes, request_id: str, nonce: bytes) -> bytes:
    return hmac.new(key, b"stream|" + request_id.encode("utf-8") + b"|" + nonce, hashlib.sha256).digest()[:_PAD]


def _tag(key: bytes, request_id: str, nonce: bytes, body: bytes) -> bytes:
    return hmac.new(key, b"tag|" + request_id.encode("utf-8") + b"|" + nonce + body, hashlib.sha256).digest()[:16]


def seal_pin(pin: str, secret: str, device: str, request_id: str) -> str:
    """The PIN as the request carries it: sealed with a key from the device's
    own broker password, for this device and this request id only."""
    data = str(pin).encode("utf-8")
    if len(data) > _PAD:
        raise PinError(PIN_RULES)
    key, nonce = _key(secret, device), os.urandom(12)
    body = bytes(a ^ b for a, b in zip(data.ljust(_PAD, b"\0"), _stream(key, request_id, nonce)))
    tag = _tag(key, request_id, nonce, body)
    return SEAL_PREFIX + base64.urlsafe_b64encode(nonce + body + tag).decode("ascii")


def open_pin(sealed: str, secret: str, device: str, request_id: str) -> str:
    """The PIN in a sealed argument, or PinError if it was not sealed by that device."""
    try:
        if not sealed.startswith(SEAL_PREFIX):
            raise ValueError
        raw = base64.urlsafe_b64decode(sealed[len(SEAL_PREFIX):].encode("ascii"))
    except (ValueError, UnicodeError):
        raise PinError("the PIN is not sealed: a device sends it through motcua's DeviceClient, "
                       "which seals it with the device's own password") from None
    if len(raw) != 12 + _PAD + 16:
        raise PinError("the sealed PIN has the wrong length")
    key, nonce, body, tag = _key(secret, device), raw[:12], raw[12:12 + _PAD], raw[12 + _PAD:]
    if not hmac.compare_digest(tag, _tag(key, request_id, nonce, body)):
        raise PinError("the sealed PIN does not open with this device's password and request id: "
                       "check the device's password in the site file")
    data = bytes(a ^ b for a, b in zip(body, _stream(key, request_id, nonce))).rstrip(b"\0")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PinError("the sealed PIN is damaged") from None

"""Dossier codes and the receipt's proofs that a citizen holds one.

Dossier codes
-------------
The national format `<unit code>-<YYMMDD received>-<4-digit daily sequence>`,
e.g. `000.00.31.H12-261123-0001`, matched by DossierSettings.code_pattern
(named groups agency, date, seq). Codes are case-insensitive and kept
upper-case, so scanners that lower-case text do no harm.

Verification
------------
A code is guessable (agency, date, a small sequence), so a code alone shows
nothing. The receipt carries two proofs, both HMAC-SHA256 with
DossierSettings.secret, so neither needs storage:

* the QR text `MOTCUA-D:<code>:<sig>`, sig = the first 10 base32 characters
  (50 bits) of HMAC(secret, "motcua-dossier-qr\\n" + code). Every character is
  in QR's alphanumeric set, so the code stays small and robust. Surrounding
  whitespace (CR/LF from scanners) and lower case are tolerated; anything else
  inside is refused.
* the lookup code (mã tra cứu), DossierSettings.lookup_code_length characters
  from LOOKUP_ALPHABET (no 0/O/1/I), from HMAC(secret, "motcua-dossier-lookup\\n"
  + code): asked for when a citizen types the code by hand.

Verify first (`verified_code`), then look the dossier up: a wrong proof and an
unknown dossier must not be told apart by someone guessing codes.

At the counter
--------------
An officer attaches the dossiers received or returned during a visit to the
ticket (issue 12): what the counter's scanner types (the receipt's QR text) or
what the officer types (the code) is reduced to the code by `counter_code`. The
officer holds the receipt, so no lookup code is asked; a QR text is still
verified, because a misread QR must not put another dossier on the ticket.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime

from ..config import DossierSettings
from .model import DossierError

QR_PREFIX = "MOTCUA-D:"
SIG_LENGTH = 10
# 32 symbols, so each is exactly 5 bits of the HMAC; 0/O and 1/I are left out
# because citizens copy the code from paper.
LOOKUP_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"



@dataclass(frozen=True)
class DossierCode:
    code: str          # canonical, upper-case
    agency: str
    received_on: date
    seq: int


def parse_code(text: str, settings: DossierSettings) -> DossierCode:
    """Validate a dossier code against settings.code_pattern; return its parts."""
    if not isinstance(text, str):
        raise DossierError("malformed_code", "the dossier code must be text", field="code")
    code = text.strip().upper()
    m = re.fullmatch(settings.code_pattern, code)
    if m is None:
        raise DossierError("malformed_code",
                           f"{text.strip()!r} is not a dossier code; it looks like "
                           "000.00.31.H12-261123-0001 (unit code, date received YYMMDD, "
                           "4-digit number): copy it from the receipt", field="code")
    raw = m.group("date")
    try:
        if len(raw) == 6:
            received = datetime.strptime(raw, "%y%m%d").date()
        elif len(raw) == 8:
            received = datetime.strptime(raw, "%Y%m%d").date()
        else:
            raise ValueError(raw)
    except ValueError:
        raise DossierError("malformed_code", f"{code!r}: {raw!r} is not a date (YYMMDD); "
                           "check the code on the receipt", field="code") from None
    return DossierCode(code=code, agency=m.group("agency"), received_on=received,
                       seq=int(m.group("seq")))


def _key(settings: DossierSettings) -> bytes:
    if not settings.secret:
        raise DossierError("no_secret", "no dossier secret is set: set [dossiers] secret in the "
                           "site file (at least 16 characters) before printing receipts")
    return settings.secret.encode("utf-8")


def _mac(settings: DossierSettings, purpose: str, code: str) -> bytes:
    # A different message per purpose: the QR signature and the lookup code
    # reveal nothing about each other.
    msg = f"motcua-dossier-{purpose}\n{code}".encode("utf-8")
    return hmac.new(_key(settings), msg, hashlib.sha256).digest()


def _signature(code: str, settings: DossierSettings) -> str:
    return base64.b32encode(_mac(settings, "qr", code)).decode("ascii")[:SIG_LENGTH]


def qr_text(code: str, settings: DossierSettings) -> str:
    """The text of the receipt's QR code: MOTCUA-D:<code>:<sig>."""
    code = parse_code(code, settings).code
    return f"{QR_PREFIX}{code}:{_signature(code, settings)}"


def verify_qr(text: str, settings: DossierSettings) -> str:
    """The dossier code from a scanned QR text, or DossierError (malformed_qr,
    malformed_code, unverified)."""
    if not isinstance(text, str):
        raise DossierError("malformed_qr", "the scanned code is not text")
    body = text.strip().upper()
    if not body.startswith(QR_PREFIX):
        raise DossierError("malformed_qr", "this QR code is not from a dossier receipt; scan the "
                           "QR code on the Giấy tiếp nhận hồ sơ và hẹn trả kết quả")
    code, sep, sig = body[len(QR_PREFIX):].rpartition(":")
    if not sep:
        raise DossierError("malformed_qr", "the QR code is incomplete; scan it again")
    # parse_code strips spaces: inside the QR text they are not allowed.
    if code != code.strip():
        raise DossierError("malformed_qr", "the QR code is damaged; scan it again")
    code = parse_code(code, settings).code
    if not hmac.compare_digest(sig.encode("ascii", "replace"),
                               _signature(code, settings).encode("ascii")):
        raise DossierError("unverified", "this receipt's QR code could not be verified; type the "
                           "dossier code and the lookup code (mã tra cứu) printed on the receipt, "
                           "or ask at the reception desk")
    return code


def lookup_code(code: str, settings: DossierSettings) -> str:
    """The mã tra cứu printed on the receipt, derived from the code (no storage)."""
    code = parse_code(code, settings).code
    bits = int.from_bytes(_mac(settings, "lookup", code), "big")
    n = settings.lookup_code_length
    # The top 5*n bits of the 256-bit HMAC, 5 bits a symbol.
    bits >>= 256 - 5 * n
    return "".join(LOOKUP_ALPHABET[(bits >> (5 * (n - 1 - i))) & 31] for i in range(n))


def verify_lookup(code: str, lookup: str, settings: DossierSettings) -> bool:
    """Whether a hand-typed lookup code matches the dossier code. Case, spaces and
    hyphens in what was typed do not matter. Raises only for a malformed code."""
    expected = lookup_code(code, settings)
    typed = re.sub(r"[\s-]", "", lookup or "").upper() if isinstance(lookup, str) else ""
    return hmac.compare_digest(typed.encode("utf-8"), expected.encode("ascii"))


def verified_code(settings: DossierSettings, *, scanned: str | None = None,
                  code: str | None = None, lookup: str | None = None) -> str:
    """The code a citizen proved they hold: a scanned QR text, or a typed code
    with its lookup code. Call it before looking anything up."""
    if scanned is not None:
        return verify_qr(scanned, settings)
    if code is None:
        raise DossierError("unverified", "scan the QR code on your receipt, or type the dossier "
                           "code and the lookup code (mã tra cứu)")
    canonical = parse_code(code, settings).code
    if not lookup:
        raise DossierError("unverified", "type the lookup code (mã tra cứu) printed on your "
                           "receipt under the QR code")
    if not verify_lookup(canonical, lookup, settings):
        raise DossierError("unverified", "the lookup code does not match this dossier code; check "
                           "both on your receipt (letters and digits, no O, 0, I or 1)")
    return canonical


def counter_code(text: str, settings: DossierSettings) -> str:
    """The dossier code an officer scanned or typed at the counter: a receipt's QR
    text (`MOTCUA-D:<code>:<sig>`, verified: DossierError malformed_qr or
    unverified) or a dossier code (DossierError malformed_code). Case, the
    scanner's CR/LF and surrounding spaces do not matter."""
    if not isinstance(text, str):
        raise DossierError("malformed_code", "the dossier code must be text", field="code")
    body = text.strip()
    if body.upper().startswith(QR_PREFIX):
        return verify_qr(body, settings)
    if not body:
        raise DossierError("malformed_code", "give the dossier code (mã hồ sơ), e.g. "
                           "000.00.31.H12-261123-0001, or scan the QR code of the receipt",
                           field="code")
    return parse_code(body, settings).code

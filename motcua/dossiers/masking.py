"""Names and notes fit for the kiosk: the applicant's name masked, the full
name and long digit runs (ID and phone numbers) scrubbed from free text. Part
of the core: no I/O."""
from __future__ import annotations

import re
import unicodedata

# Look-alikes of Đ typed from other keyboards.
_D_LOOKALIKES = str.maketrans({"Ð": "Đ", "Ɖ": "Đ", "ð": "đ", "ɖ": "đ"})


def mask_name(name: str) -> str:
    """'Nguyễn Văn An' -> 'Nguyễn V** A**': the family name, then the initial of
    every other word. A one-word name keeps only its initial (it may well be the
    given name). NFD input and stray spaces are handled."""
    words = unicodedata.normalize("NFC", name or "").translate(_D_LOOKALIKES).split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0][0].upper() + "**"
    family = words[0][0].upper() + words[0][1:].lower()
    return " ".join([family] + [w[0].upper() + "**" for w in words[1:]])


def scrub(note: str, applicant_name: str) -> str:
    """A note fit for the kiosk: the full name masked, long digit runs (ID and
    phone numbers) hidden. Officers' notes are free text; this is a safety net."""
    text = unicodedata.normalize("NFC", note or "")
    full = " ".join(unicodedata.normalize("NFC", applicant_name or "").split())
    if full:
        pattern = r"\s+".join(re.escape(w) for w in full.split())
        text = re.sub(pattern, mask_name(full), text, flags=re.IGNORECASE)
    return re.sub(r"\d(?:[ .]?\d){8,}", "***", text)


"""Vietnamese number and ticket speller for the voice announcements.

Numbers are spoken the way Vietnamese announcers say them (field notes,
"Vietnamese text"): 15 mười lăm, 21 hai mươi mốt, 24 hai mươi tư,
105 một trăm linh năm, 1023 một nghìn không trăm hai mươi ba. Several common
number-to-words libraries get these wrong, so this module is ours and is
checked against a table in tests/unit/test_speller.py.

Rules, for each group of three digits (hundreds h, tens t, units u):

* a group after a higher group is spoken in full: "không trăm" when h = 0,
  and "linh" (or "lẻ") when t = 0 and u > 0 — 1005 một nghìn không trăm linh
  năm; a group that is 000 is left out (1000000 một triệu, 1000005 một triệu
  không trăm linh năm);
* tens: t = 1 is "mười", t >= 2 is "<digit> mươi";
* units after "mươi": 1 is "mốt", 4 is "tư", 5 is "lăm" (21 hai mươi mốt,
  24 hai mươi tư, 25 hai mươi lăm); after "mười": 5 is "lăm" and 1 and 4 stay
  "một" and "bốn" (11 mười một, 14 mười bốn, 15 mười lăm); after "linh", after
  "trăm" and alone a unit is its plain name (101 một trăm linh một,
  105 một trăm linh năm, 4 bốn).

The northern forms are the default (linh, nghìn, tư); `SOUTH` gives "lẻ" and
"ngàn". Both are in `VOCABULARY`, so a voice pack that covers it works with
either.

Ticket labels ("1023", "A015", "B-7", "AB0012") are spoken letter by letter
(Vietnamese letter names: A "a", B "bê", C "xê", D "dê", Đ "đê", …) and then
the number by its value: leading zeros are not spoken, because the zeros only
pad the printed label to a fixed width (`[[services]] digits` in site.toml),
and a citizen holding "A015" listens for "a mười lăm", not "a không một năm".
A label of zeros only ("000") is "không".

This module imports nothing from Kivy or paho: it is the display's functional
core and runs, and is tested, without a screen.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "DIGITS", "LETTER_NAMES", "NORTH", "PAUSE", "SENTENCE_HEAD", "SENTENCE_COUNTER", "SOUTH",
    "SpellStyle", "VOCABULARY", "announcement_text", "announcement_words", "number_words",
    "spell_number", "spell_ticket", "ticket_words",
]

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

MAX_NUMBER = 999_999_999_999  # "chín trăm chín mươi chín tỷ …"; beyond that "nghìn tỷ" is needed

PAUSE = ","
"""A token `announcement_words(..., pauses=True)` puts between the phrases of the
sentence; the voice renders it as a longer silence than the one between words."""

SENTENCE_HEAD = ("mời", "công", "dân", "có", "số", "thứ", "tự")  # Mời công dân có số thứ tự
SENTENCE_COUNTER = ("đến", "quầy", "số")                         # … đến quầy số


@dataclass(frozen=True)
class SpellStyle:
    """Regional choices. `linh` is said for a zero tens digit before a unit (101 một trăm
    linh một; the South says "lẻ"); `four` is the unit 4 after "mươi" (24 hai mươi tư; "bốn"
    is also heard); `thousand` is "nghìn" (North) or "ngàn" (South)."""
    linh: str = "linh"
    four: str = "tư"
    thousand: str = "nghìn"
    million: str = "triệu"
    billion: str = "tỷ"


NORTH = SpellStyle()
SOUTH = SpellStyle(linh="lẻ", thousand="ngàn")

# Letter names as taught in Vietnamese schools, with the usual names of F, J, W, Z.
# A name of two syllables is two words (each is one clip in a voice pack).
LETTER_NAMES: dict[str, tuple[str, ...]] = {
    "A": ("a",), "Ă": ("á",), "Â": ("ớ",), "B": ("bê",), "C": ("xê",), "D": ("dê",),
    "Đ": ("đê",), "E": ("e",), "Ê": ("ê",), "F": ("ép",), "G": ("giê",), "H": ("hát",),
    "I": ("i",), "J": ("gi",), "K": ("ca",), "L": ("e", "lờ"), "M": ("em", "mờ"),
    "N": ("en", "nờ"), "O": ("o",), "Ô": ("ô",), "Ơ": ("ơ",), "P": ("pê",), "Q": ("quy",),
    "R": ("e", "rờ"), "S": ("ét", "xì"), "T": ("tê",), "U": ("u",), "Ư": ("ư",), "V": ("vê",),
    "W": ("vê", "kép"), "X": ("ích", "xì"), "Y": ("i", "dài"), "Z": ("dét",),
}

# Look-alikes of Đ typed in the wild (field notes): Ð U+00D0 and Ɖ U+0189.
_LOOKALIKES = str.maketrans({"\u00d0": "Đ", "\u0189": "Đ", "\u00f0": "đ", "\u0256": "đ"})


def _check(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"spell_number needs an int, not {type(n).__name__} {n!r}")
    if n < 0 or n > MAX_NUMBER:
        raise ValueError(f"spell_number speaks 0 to {MAX_NUMBER:,}, not {n:,}")


def _group(n: int, full: bool, style: SpellStyle) -> list[str]:
    """Words of 1 <= n <= 999. `full`: a higher group precedes, so the hundreds are
    spoken even when 0 ("không trăm") and a lone unit takes "linh"."""
    h, t, u = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if h or full:
        words += [DIGITS[h], "trăm"]
    if t == 0:
        if u:
            if words:
                words.append(style.linh)
            words.append(DIGITS[u])
    elif t == 1:
        words.append("mười")
        if u:
            words.append("lăm" if u == 5 else DIGITS[u])
    else:
        words += [DIGITS[t], "mươi"]
        if u:
            words.append({1: "mốt", 4: style.four, 5: "lăm"}.get(u, DIGITS[u]))
    return words


def number_words(n: int, style: SpellStyle = NORTH) -> list[str]:
    """The words of `n` (0 <= n <= 999 999 999 999), e.g. 24 -> ['hai', 'mươi', 'tư']."""
    _check(n)
    if n == 0:
        return [DIGITS[0]]
    scales = ((10**9, style.billion), (10**6, style.million), (10**3, style.thousand), (1, ""))
    words: list[str] = []
    for size, name in scales:
        g = n // size % 1000
        if g == 0:
            continue
        words += _group(g, full=bool(words), style=style)
        if name:
            words.append(name)
    return words


def spell_number(n: int, style: SpellStyle = NORTH) -> str:
    """`n` in Vietnamese words: 1023 -> 'một nghìn không trăm hai mươi ba'."""
    return " ".join(number_words(n, style))


_TOKEN = re.compile(r"(\d+)|([^\W\d_]+)|[\s\-_./#:]+")


def ticket_words(label: str, style: SpellStyle = NORTH) -> list[str]:
    """The words of a printed ticket label: letters by their Vietnamese names, then each
    run of digits by its value (leading zeros are not spoken; see the module text).
    Spaces, '-', '_', '.', '/', '#' and ':' between the parts are ignored."""
    if not isinstance(label, str):
        raise TypeError(f"a ticket label is a str, not {type(label).__name__} {label!r}")
    text = unicodedata.normalize("NFC", label.strip()).translate(_LOOKALIKES).upper()
    if not text:
        raise ValueError("empty ticket label")
    words: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"ticket label {label!r}: cannot speak {text[pos]!r}")
        digits, letters = m.group(1), m.group(2)
        if digits:
            value = int(digits)
            if value <= MAX_NUMBER:
                words += number_words(value, style)
            else:  # not a quantity any more: read it digit by digit
                words += [DIGITS[int(d)] for d in digits]
        elif letters:
            for ch in letters:
                if ch not in LETTER_NAMES:
                    raise ValueError(f"ticket label {label!r}: no Vietnamese name for the letter {ch!r}")
                words += LETTER_NAMES[ch]
        pos = m.end()
    if not words:
        raise ValueError(f"ticket label {label!r} has nothing to speak")
    return words


def spell_ticket(label: str, style: SpellStyle = NORTH) -> str:
    """'A1023' -> 'a một nghìn không trăm hai mươi ba'; 'B-015' -> 'bê mười lăm'."""
    return " ".join(ticket_words(label, style))


def announcement_words(ticket_label: str, counter_number: int | str, *, pauses: bool = False,
                       style: SpellStyle = NORTH) -> list[str]:
    """The words of "Mời công dân có số thứ tự <ticket> đến quầy số <counter>", lowercase NFC.
    With `pauses`, a `PAUSE` token separates the phrases (before the ticket, before "đến",
    before the counter), for a voice that says the numbers apart from the rest."""
    if isinstance(counter_number, str):
        counter_words = ticket_words(counter_number, style)
    else:
        counter_words = number_words(counter_number, style)
    p = [PAUSE] if pauses else []
    return [*SENTENCE_HEAD, *p, *ticket_words(ticket_label, style), *p, *SENTENCE_COUNTER, *p,
            *counter_words]


def announcement_text(ticket_label: str, counter_number: int | str, style: SpellStyle = NORTH) -> str:
    """The announcement as a sentence, for captions and logs:
    'Mời công dân có số thứ tự mười lăm đến quầy số hai'."""
    text = " ".join(announcement_words(ticket_label, counter_number, style=style))
    return text[0].upper() + text[1:]


def _vocabulary() -> frozenset[str]:
    words = set(DIGITS) | {"mười", "mươi", "mốt", "lăm", "trăm"}
    for style in (NORTH, SOUTH):
        words |= {style.linh, style.four, style.thousand, style.million, style.billion}
    for name in LETTER_NAMES.values():
        words |= set(name)
    return frozenset(words | set(SENTENCE_HEAD) | set(SENTENCE_COUNTER))


VOCABULARY: frozenset[str] = _vocabulary()
"""Every word the speller and the announcement sentence can produce, in either style:
what a complete voice pack records."""

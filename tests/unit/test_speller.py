"""The Vietnamese number speller: a table of how announcers say numbers (field notes,
"Vietnamese text"), ticket labels, the announcement sentence, and an exhaustive check
against an independent words -> number parser."""
from __future__ import annotations

import random
import unicodedata

import pytest

from motcua.display.speller import (LETTER_NAMES, MAX_NUMBER, PAUSE, SOUTH, SpellStyle, VOCABULARY,
                             announcement_text, announcement_words, number_words, spell_number,
                             spell_ticket, ticket_words)

TABLE = [
    (0, "không"),
    (1, "một"),
    (4, "bốn"),
    (5, "năm"),
    (7, "bảy"),
    (9, "chín"),
    (10, "mười"),
    (11, "mười một"),
    (14, "mười bốn"),
    (15, "mười lăm"),
    (19, "mười chín"),
    (20, "hai mươi"),
    (21, "hai mươi mốt"),
    (24, "hai mươi tư"),
    (25, "hai mươi lăm"),
    (30, "ba mươi"),
    (41, "bốn mươi mốt"),
    (44, "bốn mươi tư"),
    (55, "năm mươi lăm"),
    (71, "bảy mươi mốt"),
    (99, "chín mươi chín"),
    (100, "một trăm"),
    (101, "một trăm linh một"),
    (104, "một trăm linh bốn"),
    (105, "một trăm linh năm"),
    (110, "một trăm mười"),
    (111, "một trăm mười một"),
    (115, "một trăm mười lăm"),
    (121, "một trăm hai mươi mốt"),
    (124, "một trăm hai mươi tư"),
    (200, "hai trăm"),
    (305, "ba trăm linh năm"),
    (450, "bốn trăm năm mươi"),
    (515, "năm trăm mười lăm"),
    (999, "chín trăm chín mươi chín"),
    (1000, "một nghìn"),
    (1001, "một nghìn không trăm linh một"),
    (1005, "một nghìn không trăm linh năm"),
    (1010, "một nghìn không trăm mười"),
    (1015, "một nghìn không trăm mười lăm"),
    (1023, "một nghìn không trăm hai mươi ba"),
    (1100, "một nghìn một trăm"),
    (1105, "một nghìn một trăm linh năm"),
    (1234, "một nghìn hai trăm ba mươi tư"),
    (2015, "hai nghìn không trăm mười lăm"),
    (2021, "hai nghìn không trăm hai mươi mốt"),
    (3000, "ba nghìn"),
    (4004, "bốn nghìn không trăm linh bốn"),
    (5555, "năm nghìn năm trăm năm mươi lăm"),
    (7011, "bảy nghìn không trăm mười một"),
    (8090, "tám nghìn không trăm chín mươi"),
    (9999, "chín nghìn chín trăm chín mươi chín"),
    (10000, "mười nghìn"),
]


@pytest.mark.parametrize("n, words", TABLE, ids=[str(n) for n, _ in TABLE])
def test_table(n, words):
    assert spell_number(n) == words
    assert number_words(n) == words.split()


def test_table_is_big_enough():
    assert len({n for n, _ in TABLE if n <= 9999}) >= 40


@pytest.mark.parametrize("n, words", [
    (100_000, "một trăm nghìn"),
    (100_005, "một trăm nghìn không trăm linh năm"),
    (250_024, "hai trăm năm mươi nghìn không trăm hai mươi tư"),
    (999_999, "chín trăm chín mươi chín nghìn chín trăm chín mươi chín"),
    (1_000_000, "một triệu"),
    (1_000_005, "một triệu không trăm linh năm"),
    (1_005_000, "một triệu không trăm linh năm nghìn"),
    (21_000_000, "hai mươi mốt triệu"),
    (1_000_000_000, "một tỷ"),
    (MAX_NUMBER, "chín trăm chín mươi chín tỷ chín trăm chín mươi chín triệu chín trăm chín mươi "
                 "chín nghìn chín trăm chín mươi chín"),
])
def test_large_numbers(n, words):
    assert spell_number(n) == words


def test_southern_and_other_styles():
    assert spell_number(105, SOUTH) == "một trăm lẻ năm"
    assert spell_number(1023, SOUTH) == "một ngàn không trăm hai mươi ba"
    assert spell_number(24, SOUTH) == "hai mươi tư"
    assert spell_number(24, SpellStyle(four="bốn")) == "hai mươi bốn"
    assert spell_number(14, SpellStyle(four="bốn")) == "mười bốn"


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (MAX_NUMBER + 1, ValueError), (1.0, TypeError),
                                        ("12", TypeError), (True, TypeError), (None, TypeError)])
def test_out_of_range_and_wrong_types(bad, error):
    with pytest.raises(error):
        spell_number(bad)


# ---- an independent check: parse the words back to a number, and check the form

DIGIT_VALUES = {"không": 0, "một": 1, "mốt": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5,
                "lăm": 5, "sáu": 6, "bảy": 7, "tám": 8, "chín": 9}
SCALES = {"nghìn": 1000, "ngàn": 1000, "triệu": 10**6, "tỷ": 10**9}


def parse(words: list[str]) -> int:
    total = group = digit = 0
    for w in words:
        if w in DIGIT_VALUES:
            digit = DIGIT_VALUES[w]
        elif w == "trăm":
            group, digit = group + digit * 100, 0
        elif w == "mươi":
            group, digit = group + digit * 10, 0
        elif w == "mười":
            group += 10
        elif w in ("linh", "lẻ"):
            pass
        elif w in SCALES:
            total, group, digit = total + (group + digit) * SCALES[w], 0, 0
        else:
            raise AssertionError(f"unknown word {w!r}")
    return total + group + digit


def check_form(n: int, words: list[str]) -> None:
    text = " ".join(words)
    for w, nxt in zip(words, words[1:] + [""]):
        if w == "mươi":   # units after "mươi": mốt, tư, lăm; never một, bốn, năm
            assert nxt not in ("một", "bốn", "năm"), (n, text)
        if w == "mười":   # after "mười": một, bốn, lăm; never mốt, tư, năm
            assert nxt not in ("mốt", "tư", "năm"), (n, text)
    for i, w in enumerate(words):
        if w in ("mốt", "tư"):
            assert i > 0 and words[i - 1] == "mươi", (n, text)
        if w == "lăm":
            assert i > 0 and words[i - 1] in ("mươi", "mười"), (n, text)
        if w == "linh":   # only between "trăm" and a lone unit
            assert words[i - 1] == "trăm" and words[i + 1] in DIGIT_VALUES, (n, text)
            assert i + 2 == len(words) or words[i + 2] in SCALES, (n, text)
    assert n == 0 or words[0] != "không", (n, text)
    assert all(w in VOCABULARY for w in words), (n, text)


def test_every_number_up_to_100000_reads_back_and_has_the_right_form():
    for n in range(100_001):
        words = number_words(n)
        assert parse(words) == n, (n, words)
        check_form(n, words)


def test_random_large_numbers_read_back():
    rng = random.Random(4)
    for _ in range(20_000):
        n = rng.choice([rng.randrange(10**6), rng.randrange(10**9), rng.randrange(MAX_NUMBER + 1)])
        for style in (None, SOUTH):
            words = number_words(n, style) if style else number_words(n)
            assert parse(words) == n, (n, words)
        check_form(n, number_words(n))


# ---- ticket labels and the sentence

@pytest.mark.parametrize("label, spoken", [
    ("1023", "một nghìn không trăm hai mươi ba"),
    ("A1023", "a một nghìn không trăm hai mươi ba"),
    ("B-015", "bê mười lăm"),          # leading zeros only pad the label: spoken by value
    ("A015", "a mười lăm"),
    ("A000", "a không"),
    ("000", "không"),
    ("C21", "xê hai mươi mốt"),
    ("D105", "dê một trăm linh năm"),
    ("Đ24", "đê hai mươi tư"),
    ("\u00d024", "đê hai mươi tư"),     # Ð U+00D0, a look-alike of Đ
    ("d7", "dê bảy"),                  # lowercase
    ("AB0012", "a bê mười hai"),
    ("L3", "e lờ ba"),
    ("S 2001", "ét xì hai nghìn không trăm linh một"),
    ("  X.9 ", "ích xì chín"),
    ("1234567890123", "một hai ba bốn năm sáu bảy tám chín không một hai ba"),  # too long: digits
])
def test_ticket_labels(label, spoken):
    assert spell_ticket(label) == spoken


def test_ticket_label_in_nfd_is_spoken_like_nfc():
    assert spell_ticket(unicodedata.normalize("NFD", "Đ15")) == "đê mười lăm"
    assert spell_ticket(unicodedata.normalize("NFD", "Ơ1")) == "ơ một"


@pytest.mark.parametrize("label", ["", "   ", "--", "Σ1", "A?1"])
def test_unspeakable_labels_are_refused(label):
    with pytest.raises(ValueError):
        ticket_words(label)


def test_announcement_words():
    assert announcement_words("A015", 3) == [
        "mời", "công", "dân", "có", "số", "thứ", "tự", "a", "mười", "lăm", "đến", "quầy", "số", "ba"]
    assert announcement_words("1023", 21, pauses=True) == [
        "mời", "công", "dân", "có", "số", "thứ", "tự", PAUSE,
        "một", "nghìn", "không", "trăm", "hai", "mươi", "ba", PAUSE,
        "đến", "quầy", "số", PAUSE, "hai", "mươi", "mốt"]
    assert announcement_words("105", 14, style=SOUTH)[7:] == [
        "một", "trăm", "lẻ", "năm", "đến", "quầy", "số", "mười", "bốn"]
    assert announcement_text("A015", 3) == "Mời công dân có số thứ tự a mười lăm đến quầy số ba"
    assert announcement_words("7", "2B")[-2:] == ["hai", "bê"]  # a counter may be a label too


def test_vocabulary_covers_everything_and_is_nfc_lowercase():
    produced: set[str] = set()
    for n in range(0, 100_000, 7):
        produced |= set(number_words(n)) | set(number_words(n, SOUTH))
    for letter in LETTER_NAMES:
        produced |= set(ticket_words(letter + "1"))
    produced |= set(announcement_words("A1", 1))
    assert produced <= VOCABULARY
    for w in VOCABULARY:
        assert w == unicodedata.normalize("NFC", w).lower() and " " not in w, w
    # every capital letter a prefix may carry (A-Z, site.toml) and the Vietnamese ones have names
    assert set("ABCDEFGHIJKLMNOPQRSTUVWXYZĂÂĐÊÔƠƯ") <= set(LETTER_NAMES)

"""Vietnamese text: folding for search, one spelling of each word, Telex typing.

Pure functions, so no fixtures: every case is an input and the exact output."""
from __future__ import annotations

import unicodedata

import pytest

from motcua.vntext import Telex, fold, normalize, place_tone, telex


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# -- fold -----------------------------------------------------------------------------
@pytest.mark.parametrize("text, folded", [
    ("Đăng ký khai sinh", "dang ky khai sinh"),
    ("đăng ký KẾT HÔN", "dang ky ket hon"),
    # đ/Đ have no Unicode decomposition: stripping marks alone leaves them.
    ("Đ đ", "d d"),
    # Look-alikes seen in typed and OCR'd text: Icelandic eth, African D.
    ("Ðăng ký", "dang ky"),
    ("ðăng ký", "dang ky"),
    ("Ɖăng ký", "dang ky"),
    # Letters with two marks, which FTS5's remove_diacritics 1 gets wrong.
    ("ứng ế ự ỡ ặ ổ", "ung e u o a o"),
    # Punctuation and runs of spaces become single spaces.
    ("Thay đổi, cải chính  hộ tịch; (xác định lại dân tộc)", "thay doi cai chinh ho tich xac dinh lai dan toc"),
    ("1.001193", "1 001193"),
    ("", ""),
    ("  ,  ", ""),
])
def test_fold(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize("text", ["Đăng ký khai sinh", "Giấy xác nhận tình trạng hôn nhân",
                                  "Chứng thực bản sao từ bản chính", "ƯỚC ĐƯỢC"])
def test_fold_is_the_same_for_nfc_and_nfd(text):
    assert nfd(text) != text          # the test means something only if they differ
    assert fold(nfd(text)) == fold(text)


@pytest.mark.parametrize("old, new", [("hòa", "hoà"), ("thủy", "thuỷ"), ("khỏe", "khoẻ"),
                                      ("Ủy ban", "Uỷ ban")])
def test_fold_ignores_tone_placement(old, new):
    assert old != new
    assert fold(old) == fold(new)


# -- normalize ------------------------------------------------------------------------
@pytest.mark.parametrize("text, new_style, old_style", [
    ("hòa", "hoà", "hòa"),
    ("hoà", "hoà", "hòa"),
    ("thủy", "thuỷ", "thủy"),
    ("thuỷ", "thuỷ", "thủy"),
    ("khỏe", "khoẻ", "khỏe"),
    ("Ủy ban nhân dân", "Uỷ ban nhân dân", "Ủy ban nhân dân"),
    ("HÒA", "HOÀ", "HÒA"),
    # Both styles agree wherever a vowel mark or a final consonant decides.
    ("hoàn", "hoàn", "hoàn"),
    ("người", "người", "người"),
    ("thuở", "thuở", "thuở"),
    ("khoái", "khoái", "khoái"),
    ("mía", "mía", "mía"),
    # The u of "qu" and the i of "gi" belong to the consonant.
    ("quý", "quý", "quý"),
    ("qủy", "quỷ", "quỷ"),           # a misplaced tone is moved to where it belongs
    ("giữa", "giữa", "giữa"),
    # Not Vietnamese syllables: left alone.
    ("NĐ-CP 123/2015", "NĐ-CP 123/2015", "NĐ-CP 123/2015"),
])
def test_normalize_places_the_tone_in_one_style(text, new_style, old_style):
    assert normalize(text) == new_style
    assert normalize(text, style="old") == old_style


def test_normalize_gives_nfc_from_nfd_of_either_style():
    for text in ("Hòa giải", "Hoà giải"):
        result = normalize(nfd(text))
        assert result == "Hoà giải"
        assert unicodedata.is_normalized("NFC", result)


def test_normalize_rejects_an_unknown_style():
    with pytest.raises(ValueError):
        normalize("hòa", style="modern")


@pytest.mark.parametrize("letters, style, index", [
    (list("hoa"), "new", 2), (list("hoa"), "old", 1),
    (list("hoan"), "old", 2),                      # a final consonant: the last vowel
    (["t", "i", "ê", "n"], "new", 2),              # the marked vowel
    (list("xyz"), "new", None),                    # "yz" is not a Vietnamese ending
    (list("aeiab"), "new", None),
])
def test_place_tone(letters, style, index):
    assert place_tone(letters, style) == index


# -- Telex ----------------------------------------------------------------------------
@pytest.mark.parametrize("keys, text", [
    # letter marks
    ("dd", "đ"), ("DD", "Đ"), ("Dd", "Đ"),
    ("aa", "â"), ("aw", "ă"), ("ee", "ê"), ("oo", "ô"), ("ow", "ơ"), ("uw", "ư"),
    ("w", "ư"),
    # tones: s sắc, f huyền, r hỏi, x ngã, j nặng
    ("as", "á"), ("af", "à"), ("ar", "ả"), ("ax", "ã"), ("aj", "ạ"),
    # z removes the tone; a tone key replaces another tone
    ("asz", "a"), ("tieengsz", "tiêng"), ("asf", "à"),
    # a key pressed twice undoes what it did and types itself
    ("ass", "as"), ("aff", "af"), ("aaa", "aa"), ("ddd", "dd"), ("ww", "w"), ("uww", "uw"),
    ("hoaff", "hoaf"),
    # the tone goes on the right vowel wherever it is typed
    ("tieengs", "tiếng"), ("tieesng", "tiếng"), ("tiesen", "tiến"), ("vieetj", "việt"), ("Vieejt Nam", "Việt Nam"),
    ("hoaf", "hoà"), ("quas", "quá"), ("giuwax", "giữa"), ("Nguyeenx", "Nguyễn"),
    # uo + w: ươ once a letter follows; uơ while the word ends there (thuở)
    ("nguowif", "người"), ("truowngf", "trường"), ("uowcs", "ước"), ("ruwowuj", "rượu"),
    ("dduowcj", "được"), ("thuowr", "thuở"),
    # whole phrases, and capitals kept
    ("Ddawng kys khai sinh", "Đăng ký khai sinh"),
    ("xacs nhaajn tinhf trangj hoon nhaan", "xác nhận tình trạng hôn nhân"),
    ("chuwngs thuwcj banr sao", "chứng thực bản sao"),
    ("DDUWOWNGF", "ĐƯỜNG"),
    # keys that are not letters pass through
    ("1.001193", "1.001193"),
])
def test_telex_typing(keys, text):
    assert telex(keys) == text


def test_telex_uow_becomes_uong_as_the_word_goes_on():
    t = Telex()
    assert t.feed("tr") == "tr"
    t.feed("uow")
    assert t.feed("n") == "trươn"           # ươ as soon as a letter follows the o
    assert t.feed("g") == "trương"
    assert t.feed("f") == "trường"


def test_telex_old_style_tone_placement():
    assert telex("hoaf", style="old") == "hòa"
    assert telex("thuyr", style="old") == "thủy"
    assert telex("thuyr") == "thuỷ"
    with pytest.raises(ValueError):
        Telex(style="vni")


def test_telex_feed_one_key_at_a_time_gives_the_whole_text():
    t = Telex()
    shown = [t.feed(key) for key in "ddangw"]
    assert shown == ["d", "đ", "đa", "đan", "đang", "đăng"]
    assert t.text == "đăng"


def test_telex_backspace_deletes_one_letter_and_typing_goes_on():
    t = Telex()
    t.feed("tieengs")
    assert t.text == "tiếng"
    assert t.backspace() == "tiến"
    assert t.backspace() == "tiế"
    assert t.feed("t") == "tiết"            # the tone stays on ê
    t.backspace()
    t.backspace()
    assert t.text == "ti"
    assert t.feed("eenf") == "tiền"


def test_telex_backspace_on_empty_text_is_harmless():
    t = Telex()
    assert t.backspace() == ""
    assert t.feed("aa") == "â"


def test_telex_backspace_ends_an_undo():
    t = Telex()
    t.feed("ass")                            # undone: "as", the word is now literal
    assert t.text == "as"
    t.backspace()
    assert t.feed("s") == "á"                # after a correction Telex works again


def test_telex_words_are_independent():
    t = Telex()
    t.feed("ass ")                           # a literal word does not spoil the next
    assert t.feed("as") == "as á"


def test_telex_reset_and_carrying_on_from_existing_text():
    t = Telex()
    t.feed("hoaf")
    t.reset()
    assert t.text == ""
    t.text = "Đăng ky"                       # a field edited by on-screen keys
    assert t.feed("s") == "Đăng ký"
    assert Telex(text="hoa").feed("f") == "hoà"

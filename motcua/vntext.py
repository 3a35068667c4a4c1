"""Vietnamese text: folding for search, one spelling for comparison, Telex typing.

Pure functions on str; nothing here touches the screen, the network or a file.

- `fold(text)` is what search compares: lower case, no diacritics at all, đ → d,
  words separated by single spaces. "Đăng ký khai sinh", "dang ky khai sinh" and
  the NFD form of either fold to the same string.
- `normalize(text)` keeps the diacritics but gives every word one spelling: NFC,
  and the tone mark placed in the modern ("new") style. Text arrives with both
  styles (hòa / hoà, thủy / thuỷ), so a diacritic-sensitive comparison needs it.
- `Telex` turns the keystrokes of a physical keyboard into Vietnamese, for the
  kiosk's search box (Kivy ships no Vietnamese layout).

Tone placement, modern style (the one Unicode fonts and most current software
use, also the rule taught for school spelling since 2018):
1. a letter with a vowel mark (ă â ê ô ơ ư) takes the tone; in ươ it goes on ơ;
2. otherwise, if the syllable ends in a consonant, the last vowel takes it (hoàn);
3. otherwise three vowels put it on the middle one (khoái, khuya);
4. otherwise "oa", "oe", "uy" put it on the second vowel (hoà, khoẻ, thuỷ) and
   other pairs on the first (mái, múa, mía);
the u of "qu" and the i of "gi" (before another vowel) belong to the consonant
(quý, giữa). The old style differs only in rule 4: hòa, khỏe, thủy.
"""
from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "normalize", "place_tone", "Telex", "telex"]

# đ has no Unicode decomposition, so stripping marks leaves it; Ð (Icelandic eth)
# and Ɖ (African D) look the same and turn up in typed or OCR'd text.
_D_LOOKALIKES = ("đ", "Đ", "Ð", "ð", "Ɖ", "ɖ")
# Combining marks (all of Vietnamese's are in U+0300-U+036F); a regex removes
# them at C speed, which matters when indexing tens of thousands of records.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower-case, diacritic-free, đ → d, words joined by single spaces."""
    for d in _D_LOOKALIKES:     # str.replace runs at C speed; str.translate does not
        text = text.replace(d, "d")
    text = unicodedata.normalize("NFD", text)
    text = _MARKS.sub("", text).casefold()
    return " ".join(_WORD.findall(text))


# -- tone placement -----------------------------------------------------------------
GRAVE, ACUTE, HOOK, TILDE, DOT = "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"
TONE_MARKS = (GRAVE, ACUTE, HOOK, TILDE, DOT)
_VOWEL_MARKS = ("\u0302", "\u0306", "\u031b")  # circumflex, breve, horn
_VOWELS = set("aăâeêioôơuưy")
_MARKED_VOWELS = set("ăâêôơư")
_FINALS = {"", "c", "ch", "m", "n", "ng", "nh", "p", "t"}
_SECOND_IN_NEW_STYLE = {"oa", "oe", "uy"}
_LETTER_RUN = re.compile(r"[^\W\d_]+")


def _split_word(word: str) -> tuple[list[str], str | None] | None:
    """A word as its letters (NFC, vowel marks kept, tone removed) and its tone
    mark; None if it carries more than one tone mark (not a syllable)."""
    letters: list[str] = []
    tone = None
    for ch in unicodedata.normalize("NFD", word):
        if ch in TONE_MARKS:
            if tone is not None or not letters:
                return None
            tone = ch
        elif unicodedata.combining(ch):
            if not letters:
                return None
            letters[-1] += ch
        else:
            letters.append(ch)
    return [unicodedata.normalize("NFC", letter) for letter in letters], tone


def place_tone(letters: list[str], style: str = "new") -> int | None:
    """Index of the letter that takes the tone, or None if `letters` is not one
    Vietnamese syllable (two vowel groups, a foreign ending, no vowel)."""
    low = [letter.lower() for letter in letters]
    runs: list[list[int]] = []
    for i, letter in enumerate(low):
        if letter in _VOWELS:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
    if len(runs) != 1:
        return None
    run = runs[0]
    if "".join(low[run[-1] + 1:]) not in _FINALS:
        return None
    # The u of "qu" and the i of "gi" before another vowel are part of the consonant.
    if len(run) > 1 and run[0] == 1 and (low[0], low[1]) in (("q", "u"), ("g", "i")):
        run = run[1:]
    marked = [i for i in run if low[i] in _MARKED_VOWELS]
    if marked:
        return marked[-1]
    if run[-1] != len(low) - 1:        # a final consonant follows
        return run[-1]
    if len(run) == 3:
        return run[1]
    if len(run) == 2:
        pair = low[run[0]] + low[run[1]]
        return run[1] if style == "new" and pair in _SECOND_IN_NEW_STYLE else run[0]
    if len(run) == 1:
        return run[0]
    return None


def _render(letters: list[str], tone: str | None, style: str = "new") -> str:
    letters = list(letters)
    if tone:
        at = place_tone(letters, style)
        if at is None:
            # Not a syllable (yet): keep the tone on the last vowel rather than lose it.
            vowels = [i for i, letter in enumerate(letters) if letter.lower() in _VOWELS]
            at = vowels[-1] if vowels else None
        if at is not None:
            letters[at] = unicodedata.normalize("NFC", letters[at] + tone)
    return "".join(letters)


def _normalize_word(match: re.Match, style: str) -> str:
    word = match.group(0)
    parts = _split_word(word)
    if parts is None or parts[1] is None or place_tone(parts[0], style) is None:
        return word
    return _render(parts[0], parts[1], style)


def normalize(text: str, style: str = "new") -> str:
    """NFC with the tone of every Vietnamese syllable in one place (modern style
    by default; style="old" gives hòa, thủy). Other words are only NFC'd."""
    if style not in ("new", "old"):
        raise ValueError("style must be 'new' or 'old'")
    text = unicodedata.normalize("NFC", text)
    return _LETTER_RUN.sub(lambda m: _normalize_word(m, style), text)


# -- Telex --------------------------------------------------------------------------
_TONE_KEYS = {"s": ACUTE, "f": GRAVE, "r": HOOK, "x": TILDE, "j": DOT}
_CIRCUMFLEX = {"a": "â", "e": "ê", "o": "ô"}
_HORN_OR_BREVE = {"a": "ă", "o": "ơ", "u": "ư"}
_PLAIN = {"ă": "a", "â": "a", "ê": "e", "ô": "o", "ơ": "o", "ư": "u", "đ": "d"}
_WORD_AT_END = re.compile(r"[^\W\d_]+$")


def _with_case(letter: str, like: str) -> str:
    return letter.upper() if like.isupper() else letter


class Telex:
    """Keystrokes in, Vietnamese out. Telex rules: aa â, aw ă, ee ê, oo ô, ow ơ,
    uw ư (w alone ư), dd đ; s f r x j put a tone on the right vowel of the word,
    z removes it. Pressing a tone key again undoes the tone and types the letter
    (ass → as); so does a third a/e/o/d/w (aaa → aa). Case is kept.

    The text is the state: the word being typed is re-read from its end, so
    backspace (which deletes one character) needs no bookkeeping.
    """

    def __init__(self, style: str = "new", text: str = ""):
        if style not in ("new", "old"):
            raise ValueError("style must be 'new' or 'old'")
        self.style = style
        self.reset()
        self.text = text

    @property
    def text(self) -> str:
        return self._text

    @text.setter
    def text(self, value: str) -> None:
        """Carry on from existing text (a field edited elsewhere): the next key
        works on its last word. Undo by a repeated key (ass → as) only reaches
        back to keys typed through this object."""
        self._text = value
        self._literal = False
        self._last = None

    def reset(self) -> None:
        self._text = ""
        self._literal = False   # the current word had a transform undone: no more magic
        self._last = None       # the transform the previous key made, for undo

    def backspace(self) -> str:
        self._text = self._text[:-1]
        self._literal = False
        self._last = None
        return self._text

    def feed(self, keys: str) -> str:
        """Type one key (or each character of a string); returns the whole text."""
        for key in keys:
            self._feed(key)
        return self._text

    def _feed(self, key: str) -> None:
        if not key.isalpha():
            self._text += key
            self._literal = False
            self._last = None
            return
        m = _WORD_AT_END.search(self._text)
        start = m.start() if m else len(self._text)
        head, word = self._text[:start], self._text[start:]
        parts = _split_word(word) if word else ([], None)
        if parts is None or self._literal:
            self._text += key
            return
        letters, tone = parts
        letters, tone, last = self._apply(letters, tone, key)
        self._horn_u_before_final(letters)
        self._last = last
        self._text = head + _render(letters, tone, self.style)

    def _apply(self, letters: list[str], tone: str | None, key: str):
        low = key.lower()
        has_vowel = any(letter.lower() in _VOWELS for letter in letters)

        if low in _TONE_KEYS and has_vowel:
            mark = _TONE_KEYS[low]
            if tone == mark:                       # ass → as
                self._literal = True
                return letters + [key], None, None
            if place_tone(letters, self.style) is not None:
                return letters, mark, ("tone", low)
        elif low == "z" and tone:
            return letters, None, None
        elif low in _CIRCUMFLEX:
            i = self._last_vowel(letters, low)
            if i is not None:
                if letters[i].lower() == _CIRCUMFLEX[low]:
                    if self._last == ("circumflex", low):   # aaa → aa
                        self._literal = True
                        letters[i] = _with_case(low, letters[i])
                        return letters + [key], tone, None
                else:
                    letters[i] = _with_case(_CIRCUMFLEX[low], letters[i])
                    return letters, tone, ("circumflex", low)
        elif low == "w":
            if self._last and self._last[0] == "w":           # uww → uw
                self._literal = True
                for i in self._last[1]:
                    letters[i] = _with_case(_PLAIN[letters[i].lower()], letters[i])
                if not self._last[1]:                         # ww → w
                    letters = letters[:-1]
                return letters + [key], tone, None
            changed = self._horn(letters)
            if changed:
                return letters, tone, ("w", changed)
            if not has_vowel:                                 # w alone → ư
                return letters + [_with_case("ư", key)], tone, ("w", ())
        elif low == "d" and letters and letters[0].lower() in ("d", "đ"):
            if letters[0].lower() == "d":
                letters[0] = _with_case("đ", letters[0])
                return letters, tone, ("d",)
            if self._last == ("d",):                          # ddd → dd
                self._literal = True
                letters[0] = _with_case("d", letters[0])
                return letters + [key], tone, None
        return letters + [key], tone, None

    @staticmethod
    def _horn_u_before_final(letters: list[str]) -> None:
        # "uo" + w gives uơ while the word ends there (thuở, huơ); once more
        # letters follow it can only be ươ (người, được, rượu).
        for i in range(len(letters) - 2):
            if (letters[i].lower() == "u" and letters[i + 1].lower() == "ơ"
                    and not (i == 1 and letters[0].lower() == "q")):
                letters[i] = _with_case("ư", letters[i])

    @staticmethod
    def _vowel_run(letters: list[str]) -> list[int]:
        run: list[int] = []
        for i, letter in enumerate(letters):
            if letter.lower() in _VOWELS:
                if run and run[-1] != i - 1:
                    run = []
                run.append(i)
        return run

    def _last_vowel(self, letters: list[str], base: str) -> int | None:
        for i in reversed(self._vowel_run(letters)):
            if _PLAIN.get(letters[i].lower(), letters[i].lower()) == base:
                return i
        return None

    def _horn(self, letters: list[str]) -> tuple[int, ...]:
        """Apply w to the word: uo → ươ, else the last a/o/u gets its mark."""
        run = self._vowel_run(letters)
        bases = [_PLAIN.get(letters[i].lower(), letters[i].lower()) for i in run]
        for k in range(len(run) - 1):
            if bases[k] == "u" and bases[k + 1] == "o":
                i, j = run[k], run[k + 1]
                # "qu" + o is not ươ (quơ): the u belongs to the consonant;
                # at the end of the word it is uơ (thuở) until a final follows.
                if not (i == 1 and letters[0].lower() == "q"):
                    if j == len(letters) - 1 and letters[i].lower() == "u":
                        letters[j] = _with_case("ơ", letters[j])
                        return (j,)
                    letters[i] = _with_case("ư", letters[i])
                    letters[j] = _with_case("ơ", letters[j])
                    return (i, j)
        for k in reversed(range(len(run))):
            i = run[k]
            if bases[k] in _HORN_OR_BREVE and not (bases[k] == "u" and i == 1
                                                   and letters[0].lower() == "q"):
                if letters[i].lower() == _HORN_OR_BREVE[bases[k]]:
                    return ()
                letters[i] = _with_case(_HORN_OR_BREVE[bases[k]], letters[i])
                return (i,)
        return ()


def telex(keys: str, style: str = "new") -> str:
    """Type a whole string: telex("Ddawng kys khai sinh") == "Đăng ký khai sinh"."""
    return Telex(style).feed(keys)

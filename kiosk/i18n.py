"""Translations with gettext. Vietnamese is the source language (the msgids),
so a missing catalogue still shows Vietnamese; English is one tap away."""
from __future__ import annotations

import gettext
from functools import lru_cache
from pathlib import Path

from motcua.resources import package_path

LOCALE_DIR = package_path("motcua.kiosk", "locale")
DOMAIN = "motcua-kiosk"
LANGUAGES = ("vi", "en")


@lru_cache(maxsize=None)
def _catalogue(lang: str) -> gettext.NullTranslations:
    if lang == "vi":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=False)


def N_(text: str) -> str:
    """Marks a Vietnamese message for the catalogue; translated when shown."""
    return text


def tr(text: str, lang: str) -> str:
    return _catalogue(lang).gettext(text)


def pick(vi: str, en: str, lang: str) -> str:
    """For names that come from data (service names) rather than the catalogue."""
    return en if lang == "en" and en else vi

"""Every Vietnamese message the kiosk shows has its English translation, and the
compiled catalogue is the one the .po file gives."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from motcua.hardware.printer import _MESSAGES
from motcua.kiosk import i18n

from support.broker import ROOT

KIOSK = ROOT / "kiosk"


def shown_messages() -> set[str]:
    found = set()
    for path in list(KIOSK.rglob("*.kv")) + list(KIOSK.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r'(?:app\.t|N_)\(\s*((?:"[^"]*"\s*)+)', text):
            found.add("".join(re.findall(r'"([^"]*)"', m.group(1))))
    found |= {vi for vi, _ in _MESSAGES.values() if vi}  # the printer's words for citizens
    return found


def test_every_message_has_an_english_translation():
    messages = shown_messages()
    assert len(messages) >= 40
    missing = [m for m in messages if i18n.tr(m, "en") == m]
    assert not missing, f"add these to kiosk/locale/en/LC_MESSAGES/motcua-kiosk.po: {missing}"
    for m in messages:
        assert i18n.tr(m, "vi") == m
        assert m.count("%d") == i18n.tr(m, "en").count("%d") and m.count("%s") == i18n.tr(m, "en").count("%s")


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="needs gettext's msgfmt")
def test_the_compiled_catalogue_is_up_to_date(tmp_path):
    folder = KIOSK / "locale" / "en" / "LC_MESSAGES"
    fresh = tmp_path / "fresh.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(folder / "motcua-kiosk.po")], check=True)
    assert fresh.read_bytes() == (folder / "motcua-kiosk.mo").read_bytes(), \
        "run: msgfmt -o kiosk/locale/en/LC_MESSAGES/motcua-kiosk.mo kiosk/locale/en/LC_MESSAGES/motcua-kiosk.po"

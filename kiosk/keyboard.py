"""An on-screen keyboard for citizens, with the Vietnamese letters and tone
marks Kivy's own keyboards lack, and a text field it types into.

The field is a plain label, not a TextInput: nothing pops up a system
keyboard, and physical keys reach it only through the app (Telex)."""
from __future__ import annotations

from kivy.app import App
from kivy.factory import Factory
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from motcua.vntext import Telex

from .i18n import N_

# Tone keys on screen, with the Telex key that places each tone on the right vowel.
TONES = (("sắc", "´", "s"), ("huyền", "`", "f"), ("hỏi", "?", "r"), ("ngã", "~", "x"), ("nặng", ".", "j"))
LAYOUTS = {
    # digits first: codes (dossier codes, lookup codes) are mostly digits
    "code": ["1234567890", "QWERTYUP", "ASDFGHJKL", "ZXCVBNM.-"],
    "vi": ["ăâêôơưđ", "qwertyuiop", "asdfghjkl", "zxcvbnm"],
}


class KeyField(Label):
    """Shows what the citizen typed; `hint` when empty."""
    hint = StringProperty("")
    max_length = NumericProperty(64)
    telex = ObjectProperty(None, allownone=True)  # set for Vietnamese fields

    def type_key(self, key: str) -> None:
        if len(self.text) >= self.max_length:
            return
        if self.telex is not None:
            if self.telex.text != self.text:  # changed elsewhere (cleared, a letter key)
                self.telex.text = self.text
            self.text = self.telex.feed(key)  # one engine per field: "ass" undoes to "as"
        else:
            self.text += key

    def tone(self, telex_key: str) -> None:
        """Put a tone on the last word; nothing if it has no vowel to carry one."""
        after = Telex(text=self.text).feed(telex_key)
        if after != self.text + telex_key:
            self.text = after

    def put(self, letter: str) -> None:
        if len(self.text) < self.max_length:
            self.text += letter

    def backspace(self) -> None:
        self.text = self.text[:-1]

    def clear(self) -> None:
        self.text = ""


class OnScreenKeyboard(BoxLayout):
    """Rows of big keys typing into `target` (a KeyField)."""
    target = ObjectProperty(None, allownone=True)
    layout = StringProperty("vi")

    def on_kv_post(self, base_widget):
        self._build()
        app = App.get_running_app()
        if app is not None:  # key names follow the language switch
            app.bind(lang=lambda *a: self._build())

    @staticmethod
    def _name(text: str) -> str:
        app = App.get_running_app()
        return app.t(text, app.lang) if app is not None else text

    def on_layout(self, *args):
        if self.children:
            self._build()

    def _build(self) -> None:
        self.clear_widgets()
        rows = LAYOUTS[self.layout]
        for i, row in enumerate(rows):
            line = BoxLayout(spacing=self.spacing)
            for ch in row:
                key = Factory.KeyButton(text=ch)
                # accented letters are typed as they are; plain letters go through Telex
                key.bind(on_release=lambda b: self._press(b.text))
                line.add_widget(key)
            if i == len(rows) - 1:
                back = Factory.KeyButton(text="⌫", font_name="DejaVuSans")  # Roboto has no ⌫
                back.size_hint_x = 1.6
                back.bind(on_release=lambda b: self.target and self.target.backspace())
                line.add_widget(back)
            self.add_widget(line)
        bottom = BoxLayout(spacing=self.spacing)
        if self.layout == "vi":
            for name, mark, key in TONES:
                b = Factory.KeyButton(text=mark)
                b.tone_key = key
                b.bind(on_release=lambda b: self.target and self.target.tone(b.tone_key))
                bottom.add_widget(b)
        space = Factory.KeyButton(text=self._name(N_("Dấu cách")))
        space.size_hint_x = 3
        space.bind(on_release=lambda b: self._press(" "))
        bottom.add_widget(space)
        clear = Factory.KeyButton(text=self._name(N_("Xoá hết")))
        clear.size_hint_x = 1.6
        clear.bind(on_release=lambda b: self.target and self.target.clear())
        bottom.add_widget(clear)
        self.add_widget(bottom)

    def _press(self, ch: str) -> None:
        if self.target is None:
            return
        if ch.isascii():
            self.target.type_key(ch)
        else:
            self.target.put(ch)


Factory.register("KeyField", cls=KeyField)
Factory.register("OnScreenKeyboard", cls=OnScreenKeyboard)

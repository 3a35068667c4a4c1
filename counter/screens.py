"""The terminal's screens: sign-in, the terminal itself, and the small dialogs
(call a number, transfer, pause, close). Each kv file sits beside this module."""
from __future__ import annotations

from kivy.app import App
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.screenmanager import Screen

from motcua.resources import package_path

from . import model

HERE = package_path("motcua.counter")


class DeskButton(Button):
    """One of the ten counter actions; its look and state come from the app."""
    action = StringProperty("")
    tone = StringProperty("")   # primary | good | warn | danger | "" (plain)


class ChoiceButton(Button):
    """A ticket to call, a service to transfer to, a pause reason."""
    value = StringProperty("")
    chosen = BooleanProperty(False)


class DossierChip(BoxLayout):
    """A dossier on the current ticket (issue 12), with × to remove a wrong scan."""
    code = StringProperty("")
    label = StringProperty("")


Factory.register("DeskButton", cls=DeskButton)
Factory.register("ChoiceButton", cls=ChoiceButton)
Factory.register("DossierChip", cls=DossierChip)


def _focus_later(field):
    Clock.schedule_once(lambda dt: setattr(field, "focus", True), 0.1)


class SignInScreen(Screen):
    def on_pre_enter(self, *args):
        app = App.get_running_app()
        self.ids.officer.text = app.officer_id
        self.ids.pin.text = ""  # a PIN is never kept on screen
        _focus_later(self.ids.officer if not app.officer_id else self.ids.pin)

    def submit(self):
        pin, self.ids.pin.text = self.ids.pin.text, ""  # gone from the field once sent
        App.get_running_app().sign_in(self.ids.officer.text, pin)
        if self.ids.officer.text.strip():
            _focus_later(self.ids.pin)


class TerminalScreen(Screen):
    def on_kv_post(self, base_widget):
        App.get_running_app().bind(dossiers=lambda *a: self._chips())

    def _chips(self):
        """The current ticket's dossiers as chips, in the order attached."""
        box = self.ids.dossier_chips
        codes = list(App.get_running_app().dossiers)
        if [c.code for c in reversed(box.children)] == codes:
            return
        box.clear_widgets()
        for code in codes:
            box.add_widget(DossierChip(code=code, label=model.short_code(code)))

    def key(self, ch: str) -> bool:
        """A key typed with nothing focused (a USB scanner sends the receipt's QR as
        keys): the "Hồ sơ" field takes the focus, and the text goes there."""
        field = self.ids.dossier
        if field.focus or field.disabled:
            return False
        field.focus = True
        return True

    def submit(self):
        """Enter: the code typed or scanned in the "Hồ sơ" field goes to the ticket."""
        field = self.ids.dossier
        text = field.text
        if not text.strip():
            return
        field.text = ""
        App.get_running_app().attach_dossier(text)

    def refresh(self):
        from kivy.factory import Factory as F
        app = App.get_running_app()
        self._chips()
        box = self.ids.waiting
        rows = app.waiting
        have = list(reversed(box.children))
        for w in have[len(rows):]:
            box.remove_widget(w)
        for i, row in enumerate(rows):
            w = have[i] if i < len(have) else None
            if w is None:
                w = F.WaitingRow()
                box.add_widget(w)
            w.name, w.count = row["name"], row["text"]


class CallScreen(Screen):
    """Type the number, or pick one of the waiting tickets."""

    def on_pre_enter(self, *args):
        self.ids.number.text = ""
        self.refresh()
        _focus_later(self.ids.number)

    def refresh(self):
        app = App.get_running_app()
        grid = self.ids.grid
        tickets = app.pickable()
        shown = [(w.value, w.text) for w in reversed(grid.children)]
        wanted = [(t["ticket"], self._text(t)) for t in tickets]
        if shown == wanted:
            return
        grid.clear_widgets()
        for value, text in wanted:
            b = ChoiceButton(value=value, text=text)
            b.bind(on_release=lambda b: App.get_running_app().call_ticket(b.value))
            grid.add_widget(b)
        self.ids.empty.opacity = 0 if tickets else 1

    @staticmethod
    def _text(t: dict) -> str:
        extra = "ưu tiên" if t["priority"] else t["name"]
        return f"[b]{t['ticket']}[/b]\n[size=12sp]{extra}[/size]"

    def submit(self):
        App.get_running_app().call_ticket(self.ids.number.text)


class TransferScreen(Screen):
    """The services to transfer the current ticket to; keys 1-9 pick one."""
    targets: list = []

    def on_pre_enter(self, *args):
        app = App.get_running_app()
        box = self.ids.list
        box.clear_widgets()
        self.targets = app.transfer_targets()
        for i, s in enumerate(self.targets, 1):
            key = f"{i}  " if i <= 9 else "    "
            b = ChoiceButton(value=s["code"], text=f"[color=#8aa0c0]{key}[/color]{s['name']}", halign="left")
            b.bind(on_release=lambda b: App.get_running_app().transfer(b.value))
            box.add_widget(b)

    def key(self, ch: str) -> bool:
        if ch.isdigit() and ch != "0" and int(ch) <= len(self.targets):
            App.get_running_app().transfer(self.targets[int(ch) - 1]["code"])
            return True
        return False


class PauseScreen(Screen):
    """A reason from the short list or typed, and whether the public may read it."""
    reason = StringProperty("")

    def on_pre_enter(self, *args):
        self.reason = ""
        self.ids.other.text = ""
        self.ids.public.state = "normal"
        box = self.ids.reasons
        if not box.children:
            for r in model.PAUSE_REASONS:
                b = ChoiceButton(value=r, text=r)
                b.bind(on_release=self._pick)
                box.add_widget(b)
        for b in box.children:
            b.chosen = False

    def _pick(self, button):
        for b in self.ids.reasons.children:
            b.chosen = b is button
        self.reason = button.value
        self.ids.other.text = ""

    def typed(self, text: str):
        if text.strip():
            for b in self.ids.reasons.children:
                b.chosen = False
            self.reason = ""

    def submit(self):
        reason = self.ids.other.text.strip() or self.reason
        App.get_running_app().pause(reason, self.ids.public.state == "down")


class CloseScreen(Screen):
    def submit(self):
        App.get_running_app().close_counter()


SCREENS = [
    ("signin", SignInScreen, HERE / "signin.kv"),
    ("main", TerminalScreen, HERE / "terminal.kv"),
    ("call", CallScreen, HERE / "dialogs.kv"),
    ("transfer", TransferScreen, HERE / "dialogs.kv"),
    ("pause", PauseScreen, HERE / "dialogs.kv"),
    ("close", CloseScreen, HERE / "dialogs.kv"),
]

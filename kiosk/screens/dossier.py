from kivy.app import App
from kivy.properties import BooleanProperty, ObjectProperty
from kivy.uix.screenmanager import Screen


class DossierScreen(Screen):
    """Check a dossier: scan the receipt's QR, or type the code and the lookup code."""
    typing = BooleanProperty(False)
    active_field = ObjectProperty(None, allownone=True)

    def start_typing(self):
        self.typing = True
        self.focus(self.ids.code)

    def focus(self, field):
        self.active_field = field
        self.ids.keyboard.target = field

    def submit(self):
        app = App.get_running_app()
        code, lookup = self.ids.code.text.strip(), self.ids.lookup.text.strip()
        if not code or not lookup:
            app.error = "Vui lòng nhập cả mã hồ sơ và mã tra cứu in trên giấy hẹn."
            return
        app.look_up_dossier(code=code, lookup=lookup)

    def reset(self):
        self.typing = False
        self.ids.code.text = ""
        self.ids.lookup.text = ""
        self.active_field = None


class DossierResultScreen(Screen):
    """Where the dossier is: steps done and to come, the due date, and for a
    late dossier the centre's apology with the new date."""

    def on_kv_post(self, base_widget):
        app = App.get_running_app()
        app.bind(dossier=self._fill, lang=self._fill)
        self._fill()  # made on first show (kiosk.app.KioskScreens): what is there already

    def _fill(self, *args):
        from kivy.factory import Factory
        app = App.get_running_app()
        box = self.ids.steps
        box.clear_widgets()
        d = app.dossier or {}
        for step in d.get("steps_done", []):
            row = Factory.StepRow()
            row.done = True
            row.label = app.pick(step["vi"], step["en"], app.lang)
            row.when = app.vn_date(step.get("on"))
            row.note = step.get("note") or ""
            box.add_widget(row)
        for step in d.get("steps_to_come", []):
            row = Factory.StepRow()
            row.label = app.pick(step["vi"], step["en"], app.lang)
            box.add_widget(row)


class TicketStatusScreen(Screen):
    """A printed ticket scanned again: its place in the queue now."""

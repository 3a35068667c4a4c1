from kivy.app import App
from kivy.factory import Factory
from kivy.uix.screenmanager import Screen


class ServicesScreen(Screen):
    """Every service (lĩnh vực) with how many wait and for how long, live from
    the centre's retained state. One tap here gives the number."""

    def on_kv_post(self, base_widget):
        app = App.get_running_app()
        app.bind(services=self._fill, lang=self._fill)
        self._fill()

    def _fill(self, *args):
        app = App.get_running_app()
        grid = self.ids.grid
        buttons = {b.code: b for b in grid.children}
        if set(buttons) != {s["code"] for s in app.services}:
            grid.clear_widgets()
            buttons = {}
            for s in app.services:
                b = Factory.ServiceButton()
                b.code = s["code"]
                buttons[s["code"]] = b
                grid.add_widget(b)
        for s in app.services:
            b = buttons[s["code"]]
            b.name = app.pick(s["name_vi"], s["name_en"], app.lang)
            b.waiting = s["waiting"]
            b.wait_s = s["wait_s"]

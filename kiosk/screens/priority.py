from kivy.app import App
from kivy.factory import Factory
from kivy.uix.screenmanager import Screen


class PriorityScreen(Screen):
    """Who may take a priority number; the categories come from the site file."""

    def on_kv_post(self, base_widget):
        app = App.get_running_app()
        for p in app.site.priorities:
            category = {"code": p.code, "name_vi": p.name_vi, "name_en": p.name_en}
            b = Factory.BigButton(background_color=(0.80, 0.33, 0.0, 1))
            b.category = category
            b.bind(on_release=lambda btn: self.choose(btn.category))
            self.ids.grid.add_widget(b)
        app.bind(lang=self._label)
        self._label()

    def _label(self, *args):
        app = App.get_running_app()
        for b in self.ids.grid.children:
            b.text = app.pick(b.category["name_vi"], b.category["name_en"], app.lang)

    def choose(self, category: dict):
        app = App.get_running_app()
        app.priority = category
        app.go("services")

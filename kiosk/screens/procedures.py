from kivy.app import App
from kivy.factory import Factory
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from motcua.vntext import Telex

from ..i18n import N_

RESULTS = 30  # more than a citizen reads; the search is per keystroke, so keep it short


class ProceduresScreen(Screen):
    """Find a procedure: browse by field (lĩnh vực), or search as you type on the
    on-screen keyboard (Vietnamese letters and tones) or a physical one (Telex).
    Searches run on the kiosk's own copy of the catalogue."""
    typing = BooleanProperty(False)
    field = StringProperty("")          # the field being browsed, "" for all fields
    active_field = ObjectProperty(None, allownone=True)  # where physical keys go
    status = StringProperty("")

    def on_kv_post(self, base_widget):
        self.ids.search.telex = Telex()
        self.ids.search.bind(text=lambda *a: self.refresh())
        app = App.get_running_app()
        app.bind(lang=lambda *a: self.refresh(), catalogue_version=lambda *a: self.refresh())
        self.active_field = self.ids.search
        self.ids.keyboard.target = self.ids.search

    def on_pre_enter(self, *args):
        self.refresh()

    def start_typing(self):
        self.typing = True

    def submit(self):
        """Enter on a physical keyboard: the keyboard makes room for the results."""
        self.typing = False

    def browse(self, field: str):
        self.field = field
        self.refresh()

    def all_fields(self):
        self.field = ""
        self.refresh()

    def refresh(self):
        app = App.get_running_app()
        catalogue = app.catalogue
        box = self.ids.results
        box.clear_widgets()
        self.ids.scroll.scroll_y = 1
        query = self.ids.search.text.strip()
        if catalogue is None or catalogue.count() == 0:
            self.status = app.t("Danh mục thủ tục chưa được tải về kiosk này. Vui lòng hỏi cán bộ hướng dẫn.",
                                app.lang)
            return
        if query:
            hits = catalogue.search(query, limit=RESULTS, field=self.field or None)
            self.status = (app.t("Kết quả cho “%s”", app.lang) % query) if hits else \
                app.t("Không tìm thấy thủ tục nào. Hãy thử gõ ít chữ hơn, ví dụ: khai sinh", app.lang)
            for h in hits:
                box.add_widget(self._procedure_button(h.code, h.name, h.field))
        elif self.field:
            self.status = app.t("Lĩnh vực", app.lang) + ": " + self.field
            for p in catalogue.in_field(self.field):
                box.add_widget(self._procedure_button(p.code, p.name, ""))
        else:
            self.status = app.t("Chọn lĩnh vực, hoặc gõ tên thủ tục", app.lang)
            for name, count in catalogue.fields():
                b = Factory.FieldButton()
                b.name = name
                b.count = count
                b.bind(on_release=lambda b: self.browse(b.name))
                box.add_widget(b)

    @staticmethod
    def _procedure_button(code: str, name: str, field: str):
        b = Factory.ProcedureButton()
        b.code, b.name, b.field = code, name, field
        b.bind(on_release=lambda b: App.get_running_app().show_procedure(b.code))
        return b

    def reset(self):
        self.typing = False
        self.field = ""
        self.ids.search.text = ""
        self.ids.search.telex.reset()


class ProcedureScreen(Screen):
    """One procedure: documents to bring, fee and time per channel, steps, where
    to file; and the checklist of documents printed on the ticket printer."""

    def on_kv_post(self, base_widget):
        app = App.get_running_app()
        app.bind(procedure=self._fill, lang=self._fill)
        self._fill()  # made on first show (kiosk.app.KioskScreens): what is there already

    def _fill(self, *args):
        app = App.get_running_app()
        p = app.procedure or {}
        docs = self.ids.documents
        docs.clear_widgets()
        for i, d in enumerate(p.get("documents", []), 1):
            row = Factory.NumberedRow()
            row.number = str(i)
            row.text_main = d.get("name", "")
            detail = [app.t(ORIGINAL_OR_COPY.get(d.get("original_or_copy"), ""), app.lang)]
            if d.get("count"):
                detail.append(app.t("Số lượng: %d", app.lang) % d["count"])
            if d.get("form"):
                detail.append(app.t("Mẫu", app.lang) + ": " + d["form"])
            row.text_detail = "  ·  ".join(x for x in detail if x)
            docs.add_widget(row)
        channels = self.ids.channels
        channels.clear_widgets()
        for c in p.get("channels", []):
            row = Factory.ChannelRow()
            row.channel = app.t(CHANNELS.get(c.get("channel"), c.get("channel", "")), app.lang)
            row.time_limit = c.get("time_limit", "")
            row.fee = c.get("fee", "") or app.t("Không", app.lang)
            channels.add_widget(row)
        steps = self.ids.steps
        steps.clear_widgets()
        for i, s in enumerate(p.get("steps", []), 1):
            row = Factory.NumberedRow()
            row.number = str(i)
            row.text_main = s
            steps.add_widget(row)
        self.ids.scroll.scroll_y = 1


# Labels of the catalogue's coded values (the texts go through app.t).
CHANNELS = {"truc_tiep": N_("Nộp trực tiếp"), "truc_tuyen": N_("Nộp trực tuyến"),
            "buu_chinh": N_("Nộp qua bưu chính")}
ORIGINAL_OR_COPY = {"ban_chinh": N_("Bản chính"), "ban_sao": N_("Bản sao"),
                    "ban_chinh_hoac_ban_sao": N_("Bản chính hoặc bản sao")}

import hmac

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from ..i18n import N_


class PinScreen(Screen):
    """A numeric PIN pad: the public must not reach the settings."""
    pin = StringProperty("")
    message = StringProperty("")

    def press(self, key: str):
        if key == "⌫":
            self.pin = self.pin[:-1]
        elif key == "OK":
            app = App.get_running_app()
            ok = hmac.compare_digest(self.pin, app.site.kiosk.admin_pin)
            self.pin = ""
            self.message = "" if ok else N_("Mã PIN không đúng")
            if ok:
                app.go("admin")
        elif len(self.pin) < 8:
            self.pin += key

    def reset(self):
        self.pin = ""
        self.message = ""


class AdminScreen(Screen):
    """Settings for staff: reprint, test the printer, leave the kiosk."""

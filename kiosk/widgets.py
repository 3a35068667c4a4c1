"""Widgets the kv files use that need a little Python."""
from __future__ import annotations

from kivy.app import App
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.uix.label import Label

ADMIN_HOLD_S = 3.0


class LongPressLabel(Label):
    """The centre's name in the header: held for 3 s it opens the admin PIN pad.
    Nothing on screen invites the public to try."""

    def on_touch_down(self, touch):
        if self.collide_point(*touch.pos):
            touch.ud["admin_hold"] = Clock.schedule_once(lambda dt: App.get_running_app().go("pin"),
                                                          ADMIN_HOLD_S)
        return super().on_touch_down(touch)

    def on_touch_up(self, touch):
        ev = touch.ud.pop("admin_hold", None)
        if ev is not None:
            ev.cancel()
        return super().on_touch_up(touch)


Factory.register("LongPressLabel", cls=LongPressLabel)

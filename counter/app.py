"""The officer's counter terminal (Kivy): `CounterApp`, a small window beside
the one-stop software. `motcua counter-app N` starts it through
motcua.counter.run(), which sets the window up before this module imports Kivy.

Every action is a request to the centre over MQTT (counter/link.py). What the
terminal shows is the centre's retained state and its replies, never a guess;
an action pressed while the centre cannot be reached waits in the outbox
(counter/model.py) and is sent, with its request id, when the link is back.
Sizes are in `app.u`, one hundredth of the window's width or of two thirds of
its height.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import BooleanProperty, DictProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import NoTransition, ScreenManager

from motcua.config import Site
from motcua.devices import counter_device
from motcua.resources import package_path
from motcua.ui.app import MotcuaApp

from . import model
from .link import CentreUnavailable, CounterLink, RequestRefused
from .screens import SCREENS

log = logging.getLogger("motcua.counter")
MIN_SIZE = (360, 540)


class CounterApp(MotcuaApp):
    u = NumericProperty(5)
    counter_title = StringProperty("")
    officer_text = StringProperty("")
    state = StringProperty("closed")        # the centre's: closed | open | paused
    state_text = StringProperty("")
    status = StringProperty("")             # the last answer, refusal or what waits
    status_kind = StringProperty("")        # info | error | queued | sending | failed
    pending = StringProperty("")            # the outbox's request: "", queued, sending, failed
    ticket = DictProperty({})               # the current ticket, as shown
    timer = StringProperty("")
    caption = StringProperty("")
    enabled = DictProperty({})              # action key -> bool
    waiting = ListProperty([])              # rows of model.waiting_rows, with their text
    served = StringProperty("—")
    satisfaction_text = StringProperty("")
    pause_text = StringProperty("")
    idle_hint = StringProperty("")          # open, no ticket: what to do
    officer_id = StringProperty("")         # the sign-in screen's suggestion
    officer_name = StringProperty("")       # the signed-in officer's name (or id)
    # The dossiers of the visit (issue 12): where a scan goes now, and what it has.
    dossier_ticket = StringProperty("")     # the ticket a dossier goes to ("" : none, the field is off)
    dossier_finished = BooleanProperty(False)   # that ticket was just finished (its rating is asked)
    dossiers = ListProperty([])             # its codes
    dossier_hint = StringProperty("")
    # The field itself: shown while the counter is open or paused, ticket or not (a
    # phone's QR checks a citizen in at an idle counter too; model.scan_field).
    scan_open = BooleanProperty(False)
    scan_button = StringProperty("")

    clear_colour = (0.94, 0.95, 0.97, 1)
    clock_interval = 0.5                    # the timer never skips a second

    def __init__(self, site: Site, device_id: str | None = None, counter: int | None = None,
                 officer: str | None = None, **kwargs):
        super().__init__(site, **kwargs)
        if counter is None and device_id is not None:
            counter = site.device(device_id).counter
        if counter is None:
            raise ValueError("the counter terminal needs its counter number")
        self.counter = counter
        self.conf = site.counter(counter)
        self.device_id = device_id or counter_device(site, counter)
        self.names = {s.code: s.name_vi for s in site.services}
        self.counter_title = self.conf.name or f"Quầy {counter}"
        self.title = f"{self.counter_title} — motcua"
        self.officer_id = officer or ""
        self.refresh_soon = self.trigger(self._refresh)  # from any thread: once, at the next frame
        self.link = CounterLink(site, self.device_id, counter, on_change=self.refresh_soon)
        self.outbox = model.Outbox()
        self.view: dict | None = None       # the counter, newest of retained state and replies
        self.private_reason = ""            # a private pause reason, from our own reply
        self.snap: dict = {}
        self.state_text = model.STATE_TEXT["closed"]

    # -- Kivy life cycle
    def load_kv_files(self):
        Builder.load_file(str(package_path("motcua.counter", "widgets.kv")))
        loaded = set()
        for name, cls, kv in SCREENS:
            if kv not in loaded:
                Builder.load_file(str(kv))
                loaded.add(kv)

    def build_root(self):
        sm = ScreenManager(transition=NoTransition())
        for name, cls, kv in SCREENS:
            sm.add_widget(cls(name=name))
        Window.minimum_width, Window.minimum_height = MIN_SIZE
        Window.bind(on_key_down=self._key_down)
        return sm

    def on_start(self):
        self.link.start()
        self.start_clock()
        self._refresh(0)

    def on_stop(self):
        self.link.stop()

    def unit(self, width, height):
        return min(width, height / 1.5) / 100.0

    # -- kv helpers
    @staticmethod
    def action_text(key: str, tone: str = "", disabled: bool = False) -> str:
        """The button's text: its shortcut, small and soft, then what it does."""
        a = model.BY_KEY.get(key)
        if a is None:  # while kv builds the button, before its action is set
            return ""
        soft = "#9aa3ad" if disabled else ("#d6e2f5" if tone else "#4d6488")
        return f"[size=12sp][color={soft}]{a.shortcut}[/color][/size]  {a.label}"

    def _refresh(self, dt):
        snap = self.link.snapshot()
        self.snap = snap
        if model.newer(self.view, snap["counter"]):
            self._take_view(snap["counter"])
        self.banner = model.connection_text(snap["broker_connected"], snap["centre_online"])
        self._update_actions()
        today = datetime.now(self.tz).date().isoformat()
        self.satisfaction_text = model.satisfaction(snap["tallies"], self.counter, today)["text"]
        if self.link.usable:
            req = self.outbox.link_up(time.monotonic())
            if req is not None:
                log.info("link back: sending %s (%s)", req.op, req.id)
                self._send(req)
            else:
                self._show_outbox()
        else:
            self._show_outbox()
        screen = self.root.current_screen
        refresh = getattr(screen, "refresh", None)
        if refresh:
            refresh()

    def _update_actions(self):
        """Waiting figures, and the buttons that make sense: after every change of
        the counter (a reply) or of the services (retained state)."""
        rows = model.waiting_rows(self.conf.services, (self.snap or {}).get("services") or {}, self.names)
        self.waiting = [{**r, "text": model.waiting_text(r)} for r in rows]
        total = model.waiting_total(rows)
        self.enabled = {a.key: a.key in model.enabled_actions(self.view, total) for a in model.ACTIONS}
        self.idle_hint = model.idle_hint(self.view, total)

    def _take_view(self, view: dict):
        """Show the counter as the centre says it is."""
        self.view = dict(view)
        self.state = view.get("state") or "closed"
        self.state_text = model.STATE_TEXT.get(self.state, self.state)
        name = view.get("officer_name") or view.get("officer") or ""
        self.officer_name = name if self.state != "closed" else ""
        self.officer_text = f"Cán bộ: {name}" if self.officer_name else ""
        if view.get("officer") and not self.officer_id:
            self.officer_id = view["officer"]
        t = view.get("ticket") or {}
        priority = next((p.name_vi for p in self.site.priorities if p.code == t.get("priority")), "")
        self.ticket = {"ticket": t.get("ticket", ""), "state": t.get("state", ""),
                       "service": self.names.get(t.get("service"), t.get("service", "")),
                       "priority": f"Ưu tiên: {priority}" if priority else "",
                       "called_at": t.get("called_at"), "started_at": t.get("started_at")}
        if self.state == "paused":
            reason = view.get("pause_reason") or self.private_reason
            self.pause_text = f"Lý do: {reason}" if reason else ""
        else:
            self.private_reason = ""
            self.pause_text = ""
        target = model.dossier_target(view)
        self.dossier_ticket = target["ticket"] if target else ""
        self.dossier_finished = bool(target and target["finished"])
        self.dossiers = target["dossiers"] if target else []
        field = model.scan_field(view)
        self.dossier_hint, self.scan_open, self.scan_button = field["hint"], field["shown"], field["button"]
        self.caption = {"called": "Đang gọi số", "serving": "Đang phục vụ số"}.get(
            t.get("state"), {"paused": "Quầy đang tạm dừng", "closed": "Quầy đang đóng"}.get(
                self.state, model.finished_caption(target) or "Chưa gọi số nào"))
        self.served = model.served_text(view)
        self._update_timer()
        self._update_actions()
        if self.root is not None:
            current = self.root.current
            if self.state == "closed" and current != "signin":
                self.go("signin")
            elif self.state != "closed" and current == "signin":
                self.go("main")

    def _update_timer(self):
        t = (self.view or {}).get("ticket")
        self.timer = model.timer_text(t, datetime.now(timezone.utc))

    def every_tick(self, now):
        self._update_timer()
        if self.outbox.tick(time.monotonic()):
            self._show_outbox()

    # -- keys
    def _key_down(self, window, key, scancode, codepoint, modifiers):
        screen = self.root.current_screen
        if key in model.BY_KEYCODE:
            if screen.name == "main":
                self.press(model.BY_KEYCODE[key].key)
            return True  # F-keys never reach a text field
        if key == 27:  # Escape: back from a dialog; the terminal itself stays up
            if screen.name not in ("main", "signin"):
                self.go("main")
            return True
        if key in (13, 271):  # Enter (and keypad Enter): the screen's main button
            submit = getattr(screen, "submit", None)
            if submit is not None:
                submit()
                return True
            return False
        handle = getattr(screen, "key", None)
        held = set(modifiers or ()) & {"ctrl", "alt", "meta", "super"}  # not numlock, capslock
        if handle is not None and codepoint and not held:
            return bool(handle(codepoint))
        return False

    # -- actions
    def press(self, key: str):
        """A button or its shortcut on the main screen."""
        action = model.BY_KEY[key]
        if not self.enabled.get(key):
            self._say(f"«{action.label.rstrip('…')}» không dùng được lúc này.", "error")
            return
        if action.dialog:
            if self.outbox.current is None:
                self._say("", "")  # an old message does not belong to the dialog
            self.go(action.dialog)
            return
        self.submit(key, {})

    def sign_in(self, officer: str, pin: str):
        """The officer's id and PIN (the name comes from the centre's register)."""
        officer, pin = officer.strip(), pin.strip()
        if not officer:
            self._say(model.error_text("bad_officer"), "error")
            return
        self.officer_id = officer
        if not pin:
            self._say(model.error_text("no_pin"), "error")
            return
        self.submit("sign_in", {"officer": officer, "pin": pin}, summary="Đăng nhập")

    def call_ticket(self, label: str):
        if self.check_in(label):
            return
        label = model.normalise_ticket(label)
        if not label:
            self._say("Hãy nhập hoặc chọn số cần gọi.", "error")
            return
        self.go("main")
        self.submit("call", {"ticket": label}, summary=f"Gọi số {label}")

    def transfer(self, code: str):
        self.go("main")
        self.submit("transfer", {"service": code}, summary=f"Chuyển sang {self.names.get(code, code)}")

    def pause(self, reason: str, public: bool):
        reason = " ".join(reason.split())
        if not reason:
            self._say(model.error_text("bad_reason"), "error")
            return
        self.go("main")
        self.submit("pause", {"reason": reason, "public": public}, summary="Tạm dừng")

    def close_counter(self):
        self.go("main")
        self.submit("close", {})

    def attach_dossier(self, text: str):
        """What the officer typed or the scanner read in the "Hồ sơ" field (a code or
        the receipt's QR text): the centre checks it and puts it on the ticket."""
        if self.check_in(text):
            return
        code = model.normalise_dossier(text)
        if not code:
            self._say("Quét mã QR trên giấy tiếp nhận, hoặc gõ mã hồ sơ rồi bấm Enter.", "error")
            return
        if not self.dossier_ticket:
            self._say(model.NO_TICKET_FOR_DOSSIER, "error")
            return
        self.submit("attach_dossier", {"code": code}, summary=f"Gắn hồ sơ vào số {self.dossier_ticket}")

    def check_in(self, text: str) -> bool:
        """The link on a citizen's phone (a number taken from afar, a booking), scanned
        into the "Hồ sơ" field or the "Gọi số…" dialog: checked in, into the queue
        (issue 14). False when the text is not such a link."""
        found = model.check_in_of(text)
        if found is None:
            return False
        key, args = found
        self.go("main")
        self.submit(key, args, summary=model.action_of(key).label)
        return True

    def detach_dossier(self, code: str):
        """× on a dossier: a wrong scan removed from the ticket."""
        self.submit("detach_dossier", {"code": code}, summary=f"Gỡ hồ sơ {model.short_code(code)}")

    def submit(self, key: str, args: dict, summary: str = ""):
        req = model.Request(action=key, args=args, id=model.new_request_id(self.device_id),
                            created=time.monotonic(), summary=summary,
                            before=((self.view or {}).get("ticket") or {}).get("ticket"))
        verdict = self.outbox.add(req, self.link.usable)
        if verdict == "refused":
            waiting = self.outbox.current
            self._say(f"«{req.label}» chưa làm: «{waiting.label}» đang chờ gửi. "
                      "Đợi có kết nối hoặc bấm Huỷ.", "error")
            self._show_outbox(keep_message=True)
            return
        log.info("%s %s (%s)", "send" if verdict == "send" else "queued", req.op, req.id)
        if verdict == "send":
            self._send(req)
        else:
            self._show_outbox()

    def retry(self):
        req = self.outbox.retry(self.link.usable)
        if req is not None:
            self._send(req)
        self._show_outbox()

    def cancel(self):
        req = self.outbox.cancel()
        if req is not None:
            self.pending = ""
            self._say(f"Đã huỷ «{req.label}»: chưa gửi đến hệ thống.", "info")

    def _send(self, req: model.Request):
        self._show_outbox()
        self.ask(lambda: self.link.ask(req.op, req.id, **req.args),
                 lambda result, exc: self._answered(req, result, exc),
                 errors=(RequestRefused, CentreUnavailable), keep=True)

    def _answered(self, sent: model.Request, result: dict | None, exc: Exception | None):
        """On the UI thread: the centre's answer to a request of the outbox."""
        request_id = sent.id
        refusal = (exc.code, exc.message, exc.details) if isinstance(exc, RequestRefused) else None
        if isinstance(exc, CentreUnavailable):
            log.warning("%s (%s): %s", sent.op, sent.id, exc)
        if result is None and refusal is None:  # no answer in time
            verdict = self.outbox.lost(request_id, self.link.usable)
            if verdict == "send":
                self._send(self.outbox.current)
            else:
                self._show_outbox()
            return
        req = self.outbox.answered(request_id)
        if req is None:
            return
        self.pending = ""
        if refusal is not None:
            code, message, details = refusal
            log.info("refused %s: %s (%s)", req.op, message, code)
            self._say(model.error_text(code, message, details), "error")
            return
        if req.action == "pause":
            self.private_reason = result.get("pause_reason") or req.args.get("reason", "")
        before = ((self.view or {}).get("ticket") or {}).get("ticket")
        if req.action in ("check_in_ticket", "check_in_booking"):  # a ticket, not this counter
            self._say(model.done_text(req.action, result, self.names), "info")
            return
        if model.newer(self.view, result):
            self._take_view({k: v for k, v in result.items() if k != "finished"})
        self._say(model.done_text(req.action, result, self.names, req.args, req.before or before), "info")
        self.refresh_soon()  # the enabled buttons follow the new state

    def _say(self, text: str, kind: str):
        self.status, self.status_kind = text, kind

    def _show_outbox(self, keep_message: bool = False):
        req = self.outbox.current
        self.pending = req.state if req is not None else ""
        if req is None:
            if self.status_kind in ("queued", "sending", "failed"):
                self._say("", "")
            return
        if not keep_message:
            self._say(model.outbox_text(req), req.state)

    # -- lists for the dialogs
    def pickable(self) -> list[dict]:
        return model.pickable(self.conf.services, self.snap.get("services") or {}, self.names)

    def transfer_targets(self) -> list[dict]:
        t = (self.view or {}).get("ticket") or {}
        return model.transfer_targets(self.site.services, t.get("service"))


"""The kiosk app (Kivy). `run(site, device_id)` is what `motcua kiosk` calls.

Kivy reads its configuration when first imported, so `configure()` must run
before anything imports kivy.core.window; `run()` does both in order.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from motcua import protocol
from motcua.config import Site

log = logging.getLogger("motcua.kiosk")
HERE = Path(__file__).resolve().parent


def _give_back_memory() -> None:
    """Return freed heap to the system. Printing renders images in a worker
    thread; glibc keeps what they freed in that thread's arena, and the
    kiosk's resident memory would creep up with every ticket."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to give back this way
        pass


def _one_heap() -> None:
    """One malloc arena for all threads (glibc makes one per thread that
    allocates, up to 8 per core): the printing thread's images otherwise leave
    a second heap of their own behind. Must run before threads start."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").mallopt(-8, 1)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def configure(fullscreen: bool = False, size: tuple[int, int] | None = None) -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    from kivy.config import Config
    Config.set("kivy", "exit_on_escape", "0")          # a citizen's Escape must not quit
    Config.set("kivy", "keyboard_mode", "system")      # our own on-screen keyboard, not Kivy's
    Config.set("input", "mouse", "mouse,disable_multitouch")  # no red multitouch dots
    Config.set("kivy", "window_icon", "")
    if fullscreen:
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "borderless", "1")
        Config.set("graphics", "show_cursor", "0")
    else:
        w, h = size or (540, 960)
        Config.set("graphics", "fullscreen", "0")
        Config.set("graphics", "width", str(w))
        Config.set("graphics", "height", str(h))
    Config.set("graphics", "resizable", "1")
    # No multisampling: text and flat shapes gain nothing from it, and without a
    # GPU (llvmpipe) it multiplies the cost of every frame.
    Config.set("graphics", "multisamples", "0")
    # sqlite-utils imports numpy whenever it is installed (the reports' charts bring
    # it), only to store numpy values; no screen stores any, and numpy would cost
    # each kiosk and display 15 MB of its 200.
    _one_heap()
    if "numpy" not in sys.modules:
        sys.modules["numpy"] = None  # import numpy -> ImportError, which sqlite-utils expects


def build_app_class():
    """Import Kivy only now (after configure())."""
    from kivy.app import App
    from kivy.clock import Clock, mainthread
    from kivy.core.window import Window
    from kivy.lang import Builder
    from kivy.properties import (BooleanProperty, DictProperty, ListProperty, NumericProperty,
                                 ObjectProperty, StringProperty)
    from kivy.uix.screenmanager import NoTransition, ScreenManager

    from . import i18n
    from .i18n import N_
    from .link import CentreLink, CentreUnavailable, RequestRefused
    from .screens import SCREENS

    class KioskScreens(ScreenManager):
        """Each screen is made the first time it is asked for: most citizens see
        three screens, and the others' widgets and textures would cost memory."""

        def __init__(self, factories: dict, **kwargs):
            self._factories = factories
            super().__init__(**kwargs)

        def get_screen(self, name):
            if name in self._factories and not any(s.name == name for s in self.screens):
                self.add_widget(self._factories[name](name=name))
            return super().get_screen(name)

    class KioskApp(App):
        lang = StringProperty("vi")
        u = NumericProperty(10)               # one hundredth of the window's shorter side
        portrait = BooleanProperty(True)
        clock_text = StringProperty("")
        banner = StringProperty("")            # shown when the centre or broker is unreachable
        services = ListProperty([])            # service views with live waiting figures
        priority = ObjectProperty(None, allownone=True)   # chosen priority category or None
        ticket = DictProperty({})
        dossier = DictProperty({})             # the dossier a citizen looked up (public view)
        ticket_status = DictProperty({})       # a scanned ticket's place in the queue
        procedure = DictProperty({})           # the procedure on the detail screen
        catalogue_version = StringProperty("")  # the local copy's; changes after a sync
        checklist_state = StringProperty("")   # "", printing, printed, failed
        checklist_message = StringProperty("")
        print_state = StringProperty("")       # "", printing, printed, failed, none
        print_message = StringProperty("")
        busy = BooleanProperty(False)
        error = StringProperty("")
        site_name = StringProperty("")

        def __init__(self, site: Site, device_id: str, **kwargs):
            super().__init__(**kwargs)
            self.site = site
            self.device = site.device(device_id)
            self.tz = ZoneInfo(site.timezone)
            self.lang = site.kiosk.language
            self.site_name = site.name
            self.title = f"motcua — {site.name}"
            self.link = CentreLink(site, device_id, on_change=self._link_changed)
            from .catalogue_sync import CatalogueSync
            self.catalogue_sync = CatalogueSync(
                self.link, site.data_dir / f"{device_id}-catalogue.db",
                on_synced=lambda: Clock.schedule_once(self._catalogue_synced))
            self.catalogue = self.catalogue_sync.catalogue  # this (UI) thread's connection
            self.catalogue_version = self.catalogue_sync.local_version
            self.printer = None
            self.scanner = None
            from motcua.hardware.scanner import WedgeDetector
            self.wedge = WedgeDetector()  # a keyboard-wedge scanner types fast and ends with Enter
            self.last_touch = time.monotonic()
            self._request_serial = 0

        # -- Kivy life cycle ------------------------------------------------------
        def build(self):
            from kivy.core.text import LabelBase
            fonts = HERE.parent / "motcua" / "fonts"
            LabelBase.register("DejaVuSans", str(fonts / "DejaVuSans.ttf"), fn_bold=str(fonts / "DejaVuSans-Bold.ttf"))
            Builder.load_file(str(HERE / "widgets.kv"))
            Builder.load_file(str(HERE / "keyboard.kv"))
            # No transition: a fade renders both screens into full-window FBOs every frame,
            # slow on a kiosk without a GPU, and the citizen waits for nothing.
            for name, cls, kv in SCREENS:
                if kv is not None:  # some kv files hold rules for several screens
                    Builder.load_file(str(kv))
            sm = KioskScreens({name: cls for name, cls, _ in SCREENS}, transition=NoTransition())
            sm.add_widget(SCREENS[0][1](name=SCREENS[0][0]))
            Window.clearcolor = (0.96, 0.97, 0.98, 1)
            Window.bind(size=self._resize, on_touch_down=self._touched, on_key_down=self._key_down)
            self._resize(Window, Window.size)
            return sm

        def on_start(self):
            self._open_printer()
            self._open_scanner()
            Clock.schedule_interval(self._flush_typing, 0.05)
            self.link.start()
            self.catalogue_sync.start()
            self._refresh_services()
            self._link_changed_now()
            Clock.schedule_interval(self._every_second, 1)
            self._every_second(0)

        def on_stop(self):
            if self.scanner is not None:
                self.scanner.stop()
            self.catalogue_sync.stop()
            self.link.stop()

        def _resize(self, window, size):
            w, h = size
            self.u = min(w, h) / 100.0
            self.portrait = h >= w

        # -- language ---------------------------------------------------------------
        def t(self, text: str, lang: str) -> str:
            """Translate; kv passes app.lang so the text follows a language switch."""
            return i18n.tr(text, lang)

        def pick(self, vi: str, en: str, lang: str) -> str:
            return i18n.pick(vi, en, lang)

        @staticmethod
        def field(data, key, default=""):
            """kv reads dict values through this, with the dict as an argument, so the
            text is recomputed whenever the dict property is replaced."""
            return (data or {}).get(key, default)

        @staticmethod
        def asset(name: str) -> str:
            return str(HERE / "assets" / name)

        @staticmethod
        def vn_date(iso_day) -> str:
            """2026-11-23 -> 23/11/2026, as dates are written in Vietnam."""
            if not iso_day:
                return "—"
            y, m, d = str(iso_day)[:10].split("-")
            return f"{d}/{m}/{y}"

        def ticket_state_text(self, t: dict, lang: str) -> str:
            if not t:
                return ""
            state = t.get("state")
            if state == "waiting":
                ahead = t.get("people_ahead", 0)
                text = (i18n.tr(N_("Đang chờ: còn %d người trước quý khách"), lang) % ahead if ahead
                        else i18n.tr(N_("Quý khách là người tiếp theo. Vui lòng chú ý màn hình."), lang))
                if t.get("estimated_wait_s"):
                    text += "\n" + i18n.tr(N_("Thời gian chờ dự kiến: khoảng %d phút"), lang) % max(1, round(t["estimated_wait_s"] / 60))
                return text
            if state == "called":
                return i18n.tr(N_("Đã được gọi: mời quý khách đến quầy số %s"), lang) % t.get("counter")
            if state == "serving":
                return i18n.tr(N_("Đang được phục vụ tại quầy số %s"), lang) % t.get("counter")
            if state == "done":
                return i18n.tr(N_("Đã phục vụ xong"), lang)
            if state == "no_show":
                return i18n.tr(N_("Số đã được gọi nhưng quý khách vắng mặt. Vui lòng hỏi cán bộ hướng dẫn."), lang)
            return i18n.tr(N_("Số này đã hết hiệu lực. Vui lòng lấy số mới."), lang)

        def toggle_language(self):
            self.lang = "en" if self.lang == "vi" else "vi"

        # -- navigation and idle ----------------------------------------------------
        def go(self, name: str):
            self.root.current = name

        def home(self):
            """Back to the start for the next citizen: forget everything of the last one."""
            _give_back_memory()
            self.priority = None
            self.error = ""
            self.busy = False
            self.dossier = {}
            self.ticket_status = {}
            self.procedure = {}
            self.checklist_state = ""
            self.checklist_message = ""
            self.wedge.take_typed()
            self._request_serial += 1  # a late answer to an abandoned request is ignored
            self.lang = self.site.kiosk.language
            for screen in self.root.screens:
                reset = getattr(screen, "reset", None)
                if reset:
                    reset()
            self.root.current = "home"

        def _touched(self, window, touch):
            self.last_touch = time.monotonic()
            return False

        def _key_down(self, window, key, scancode, codepoint, modifiers):
            self.last_touch = time.monotonic()
            if key == 27:  # Escape: swallowed, the kiosk stays up
                return True
            if key == 8:  # Backspace goes straight to the field being typed in
                self._type("\b")
                return True
            char = "\n" if key in (13, 271) else (codepoint or "")
            if len(char) == 1 and (char == "\n" or char.isprintable()) and "ctrl" not in modifiers:
                code = self.wedge.feed(char, time.monotonic())
                if code:
                    self.scanned(code)
                return True
            return False

        def _flush_typing(self, dt):
            typed = self.wedge.flush(time.monotonic())
            for ch in typed:
                self._type(ch)

        def _type(self, ch: str):
            """Typing from a physical keyboard (Telex) into the screen's active field."""
            screen = self.root.current_screen
            field = getattr(screen, "active_field", None)
            if field is None:
                return
            if ch == "\b":
                field.backspace()
            elif ch == "\n":
                submit = getattr(screen, "submit", None)
                if submit:
                    submit()
            else:
                field.type_key(ch)

        # -- scanning -------------------------------------------------------------------
        def _open_scanner(self):
            settings = self.device.scanner
            if settings is None:
                return
            from motcua.hardware.scanner import SerialScanner
            self.scanner = SerialScanner(settings, lambda code: Clock.schedule_once(lambda dt: self.scanned(code)))
            self.scanner.start()

        def scanned(self, text: str):
            """A QR code from either scanner, whatever screen is showing."""
            self.last_touch = time.monotonic()
            text = text.strip()
            qr_ticket = protocol.parse_ticket_qr(text)
            if qr_ticket is not None:
                site_id, day, label = qr_ticket
                if site_id != self.site.id:
                    self._scan_error(N_("Phiếu này không phải của Trung tâm này."))
                    return
                self._ask(lambda: self.link.ticket_status(label, day), self._show_ticket_status)
            elif text.upper().startswith("MOTCUA-D:"):
                self.go("dossier")
                self._ask(lambda: self.link.dossier_status(qr=text), self._show_dossier)
            else:
                self._scan_error(N_("Không đọc được mã này. Vui lòng quét mã QR trên giấy hẹn trả kết quả hoặc phiếu số thứ tự."))

        def _scan_error(self, message: str):
            if self.root.current not in ("dossier",):
                self.go("dossier")
            self.error = message

        def look_up_dossier(self, code: str, lookup: str):
            self._ask(lambda: self.link.dossier_status(code=code, lookup=lookup), self._show_dossier)

        def _show_dossier(self, view: dict):
            self.dossier = view
            self.go("dossierresult")

        def _show_ticket_status(self, view: dict):
            self.ticket_status = view
            self.go("ticketstatus")

        DOSSIER_ERRORS = {
            "unverified": N_("Mã hồ sơ và mã tra cứu không khớp. Vui lòng kiểm tra lại trên giấy hẹn."),
            "malformed_code": N_("Mã hồ sơ không đúng dạng. Ví dụ: 000.00.31.H12-261123-0001"),
            "malformed_qr": N_("Không đọc được mã này. Vui lòng quét mã QR trên giấy hẹn trả kết quả hoặc phiếu số thứ tự."),
            "unknown_dossier": N_("Chưa có thông tin về hồ sơ này. Vui lòng hỏi cán bộ tại quầy."),
            "unknown_ticket": N_("Không tìm thấy số thứ tự này."),
        }

        def _ask(self, call, on_ok):
            """Ask the centre off the UI thread; show the answer or a clear message."""
            if self.busy:
                return
            self.busy = True
            self.error = ""
            self._request_serial += 1
            serial = self._request_serial

            def work():
                try:
                    result, error = call(), ""
                except CentreUnavailable:
                    result, error = None, N_("Hệ thống đang không trả lời. Vui lòng thử lại sau ít phút hoặc hỏi cán bộ hướng dẫn.")
                except RequestRefused as exc:
                    result, error = None, self.DOSSIER_ERRORS.get(exc.code, N_("Không tra cứu được. Vui lòng hỏi cán bộ tại quầy."))
                self._answered(serial, result, error, on_ok)

            threading.Thread(target=work, daemon=True).start()

        @mainthread
        def _answered(self, serial, result, error, on_ok):
            if serial != self._request_serial:
                return
            self.busy = False
            if result is None:
                self.error = error
            else:
                on_ok(result)

        def _every_second(self, dt):
            now = datetime.now(self.tz)
            self.clock_text = now.strftime("%H:%M  %d/%m/%Y")
            idle = time.monotonic() - self.last_touch
            if self.root.current != "home" and idle >= self.site.kiosk.idle_seconds:
                log.info("idle for %d s: back to the home screen", idle)
                self.home()

        # -- centre link ------------------------------------------------------------
        def _link_changed(self):
            self._link_changed_now_on_ui()

        @mainthread
        def _link_changed_now_on_ui(self):
            self._link_changed_now()

        def _link_changed_now(self):
            if not self.link.broker_connected:
                self.banner = N_("Mất kết nối với hệ thống. Vui lòng chờ hoặc hỏi cán bộ hướng dẫn.")
            elif not self.link.centre_online:
                self.banner = N_("Hệ thống lấy số đang tạm dừng. Vui lòng hỏi cán bộ hướng dẫn.")
            else:
                self.banner = ""
            self._refresh_services()

        def _refresh_services(self):
            out = []
            for s in self.site.services:
                live = self.link.service(s.code) or {}
                out.append({"code": s.code, "name_vi": s.name_vi, "name_en": s.name_en,
                            "waiting": live.get("waiting"), "wait_s": live.get("estimated_wait_s")})
            self.services = out

        # -- taking a number ----------------------------------------------------------
        def take_ticket(self, service: str):
            if self.busy:
                return  # a second tap while the first is on its way
            self.busy = True
            self.error = ""
            self._request_serial += 1
            serial = self._request_serial
            priority = self.priority["code"] if self.priority else None
            threading.Thread(target=self._issue, args=(serial, service, priority), daemon=True).start()

        def _issue(self, serial, service, priority):
            try:
                ticket = self.link.issue(service, priority)
            except CentreUnavailable as exc:
                log.warning("no ticket: %s", exc)
                self._issued(serial, None, N_("Không lấy được số: hệ thống không trả lời. "
                             "Vui lòng thử lại hoặc hỏi cán bộ hướng dẫn."))
            except RequestRefused as exc:
                log.warning("ticket refused: %s", exc)
                self._issued(serial, None, N_("Không lấy được số cho lĩnh vực này. "
                                              "Vui lòng hỏi cán bộ hướng dẫn."))
            else:
                self._issued(serial, ticket, "")

        @mainthread
        def _issued(self, serial, ticket, error):
            if serial != self._request_serial:
                log.info("answer for an abandoned request ignored")
                return
            self.busy = False
            if ticket is None:
                self.error = error
                return
            self.ticket = ticket
            self.go("ticket")
            # print once the number is on screen: rendering the ticket image takes
            # the CPU (and the GIL) the first frame of the number needs
            self._after_next_frame(lambda: self.print_ticket(ticket))

        def _after_next_frame(self, fn):
            def flipped(*args):
                Window.unbind(on_flip=flipped)
                Clock.schedule_once(lambda dt: fn())
            Window.bind(on_flip=flipped)

        # -- printing -----------------------------------------------------------------------
        def _open_printer(self):
            settings = self.device.printer
            if settings is None:
                return
            try:
                from motcua.hardware.printer import TicketPrinter
                self.printer = TicketPrinter(settings, name=self.device.id)
            except Exception as exc:  # noqa: BLE001 - a broken printer must not stop the kiosk
                log.error("printer %s unavailable: %s", settings.kind, exc)
                self.printer = None

        def print_ticket(self, ticket: dict):
            if self.printer is None:
                self.print_state = "none"
                self.print_message = N_("Kiosk này không có máy in. Vui lòng ghi nhớ số của quý khách.")
                return
            self.print_state = "printing"
            self.print_message = N_("Đang in phiếu…")
            threading.Thread(target=self._print, args=(dict(ticket),), daemon=True).start()

        def _print(self, ticket):
            from motcua.hardware.printer import PrinterError
            qr = protocol.ticket_qr_text(self.site.id, ticket["day"], ticket["ticket"])
            try:
                printed = self.printer.print_ticket(ticket, self.site.name, qr, tz=self.site.timezone,
                                                    priority_label=self._priority_label(ticket))
            except PrinterError as exc:
                log.error("printing ticket %s failed: %s", ticket["ticket"], exc.message_en)
                self.link.alert("printer", exc.code, exc.message_en, ticket=ticket["ticket"])
                self._printed(ticket, False, exc.message_vi)
            except Exception as exc:  # noqa: BLE001
                log.exception("printing ticket %s failed", ticket["ticket"])
                self.link.alert("printer", "error", f"printer error: {exc}", ticket=ticket["ticket"])
                self._printed(ticket, False, N_("Máy in đang gặp sự cố. Vui lòng ghi nhớ số của quý khách."))
            else:
                if printed.warning:  # paper nearly out: printed, but staff should act
                    self.link.alert("printer", "paper_low", printed.warning, ticket=ticket["ticket"])
                self._printed(ticket, True, N_("Mời nhận phiếu số thứ tự ở khe bên dưới."))

        @mainthread
        def _printed(self, ticket, ok, message):
            if self.ticket.get("ticket") != ticket["ticket"]:
                return  # a newer citizen is on screen
            self.print_state = "printed" if ok else "failed"
            self.print_message = message

        def _priority_label(self, ticket: dict) -> str | None:
            for p in self.site.priorities:
                if p.code == ticket.get("priority"):
                    return p.name_vi
            return None

        # -- procedures -------------------------------------------------------------------
        def _catalogue_synced(self, dt):
            self.catalogue_version = self.catalogue_sync.local_version

        def show_procedure(self, code: str):
            p = self.catalogue.get(code)
            if p is None:  # gone in a sync since the list was drawn
                return
            self.checklist_state = ""
            self.checklist_message = ""
            self.procedure = p.to_dict()
            self.go("procedure")

        @staticmethod
        def online_level_text(procedure: dict) -> str:
            from .screens.procedures import ONLINE_LEVELS
            return ONLINE_LEVELS.get((procedure or {}).get("online_level", ""), "")

        def print_checklist(self):
            if self.printer is None:
                self.checklist_state = "failed"
                self.checklist_message = N_("Kiosk này không có máy in.")
                return
            self.checklist_state = "printing"
            self.checklist_message = N_("Đang in…")
            threading.Thread(target=self._print_checklist, args=(dict(self.procedure),), daemon=True).start()

        def _print_checklist(self, procedure):
            from motcua.hardware.printer import PrinterError
            try:
                self.printer.print_checklist(procedure, self.site.name)
            except PrinterError as exc:
                log.error("printing the checklist of %s failed: %s", procedure.get("code"), exc.message_en)
                self.link.alert("printer", exc.code, exc.message_en, procedure=procedure.get("code"))
                self._checklist_printed(procedure, False, N_("Không in được: máy in hết giấy hoặc "
                                                             "đang gặp sự cố. Cán bộ đã được báo."))
            except Exception as exc:  # noqa: BLE001
                log.exception("printing the checklist of %s failed", procedure.get("code"))
                self.link.alert("printer", "error", f"printer error: {exc}", procedure=procedure.get("code"))
                self._checklist_printed(procedure, False, N_("Không in được: máy in hết giấy hoặc "
                                                             "đang gặp sự cố. Cán bộ đã được báo."))
            else:
                self._checklist_printed(procedure, True, N_("Mời nhận danh sách giấy tờ ở khe bên dưới."))

        @mainthread
        def _checklist_printed(self, procedure, ok, message):
            if self.procedure.get("code") != procedure.get("code"):
                return
            self.checklist_state = "printed" if ok else "failed"
            self.checklist_message = message

        def reprint_last(self):
            if self.ticket:
                self.print_ticket(self.ticket)

    return KioskApp


KioskApp = build_app_class()  # for a moment: module-level classes come next

"""The kiosk app (Kivy): `KioskApp`. `motcua kiosk` starts it through
motcua.kiosk.run(), which sets the window up before this module imports Kivy.

What the kiosk shows and decides without a screen (texts, scanned codes,
print jobs) is in kiosk/model.py; the screens are in kiosk/screens/, each with
its kv file beside it.
"""
from __future__ import annotations

import logging
import time

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    ListProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.screenmanager import NoTransition, ScreenManager

from motcua import protocol, web_tokens
from motcua.config import Site
from motcua.resources import package_path
from motcua.ui.app import MotcuaApp

from . import i18n, model
from .link import CentreLink, CentreUnavailable, RequestRefused
from .screens import SCREENS

log = logging.getLogger("motcua.kiosk")


def _give_back_memory() -> None:
    """Return freed heap to the system. Printing renders images in a worker
    thread; glibc keeps what they freed in that thread's arena, and the
    kiosk's resident memory would creep up with every ticket."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to give back this way
        pass


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


class KioskApp(MotcuaApp):
    lang = StringProperty("vi")
    portrait = BooleanProperty(True)
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

    clear_colour = (0.96, 0.97, 0.98, 1)
    clock_format = "%H:%M  %d/%m/%Y"

    def __init__(self, site: Site, device_id: str, **kwargs):
        super().__init__(site, **kwargs)
        self.device = site.device(device_id)
        self.link_message = ""             # the banner's msgid; `banner` is it in the citizen's language
        self.lang = site.kiosk.language
        self.site_name = site.name
        self.title = f"motcua — {site.name}"
        self.link = CentreLink(site, device_id, on_change=self.trigger(self._link_changed))
        from .catalogue_sync import CatalogueSync
        self.catalogue_sync = CatalogueSync(
            self.link, site.data_dir / f"{device_id}-catalogue.db",
            on_synced=self.trigger(self._catalogue_synced))
        self.catalogue = self.catalogue_sync.catalogue  # this (UI) thread's connection
        self.catalogue_version = self.catalogue_sync.local_version
        self.printer = None
        self.scanner = None
        from motcua.hardware.scanner import WedgeDetector
        self.wedge = WedgeDetector()  # a keyboard-wedge scanner types fast and ends with Enter
        self.last_touch = time.monotonic()

    # -- Kivy life cycle ------------------------------------------------------
    def load_kv_files(self):
        Builder.load_file(str(package_path("motcua.kiosk", "widgets.kv")))
        Builder.load_file(str(package_path("motcua.kiosk", "keyboard.kv")))
        for name, cls, kv in SCREENS:
            if kv is not None:  # some kv files hold rules for several screens
                Builder.load_file(str(kv))

    def build_root(self):
        # No transition: a fade renders both screens into full-window FBOs every frame,
        # slow on a kiosk without a GPU, and the citizen waits for nothing.
        sm = KioskScreens({name: cls for name, cls, _ in SCREENS}, transition=NoTransition())
        sm.add_widget(SCREENS[0][1](name=SCREENS[0][0]))
        Window.bind(on_touch_down=self._touched, on_key_down=self._key_down)
        return sm

    def on_start(self):
        self._open_printer()
        self._open_scanner()
        Clock.schedule_interval(self._flush_typing, 0.05)
        self.link.start()
        self.catalogue_sync.start()
        self._refresh_services()
        self._link_changed()
        self.start_clock()

    def on_stop(self):
        if self.scanner is not None:
            self.scanner.stop()
        self.catalogue_sync.stop()
        self.link.stop()

    # -- language ---------------------------------------------------------------
    def t(self, text: str, lang: str) -> str:
        """Translate; kv passes app.lang so the text follows a language switch."""
        return i18n.tr(text, lang)

    def pick(self, vi: str, en: str, lang: str) -> str:
        return i18n.pick(vi, en, lang)

    def on_lang(self, *args):
        self.banner = i18n.tr(self.link_message, self.lang) if self.link_message else ""

    @staticmethod
    def asset(name: str) -> str:
        return str(package_path("motcua.kiosk", "assets", name))

    vn_date = staticmethod(model.vn_date)
    online_level_text = staticmethod(model.online_level_text)

    def ticket_state_text(self, t: dict, lang: str) -> str:
        return model.ticket_state_text(t, lang)

    def toggle_language(self):
        self.lang = "en" if self.lang == "vi" else "vi"

    # -- navigation and idle ----------------------------------------------------
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
        self.forget_answers()  # a late answer to an abandoned request is ignored
        self.lang = self.site.kiosk.language
        for screen in self.root.screens:
            reset = getattr(screen, "reset", None)
            if reset:
                reset()
        self.root.current = "home"

    def every_tick(self, now):
        idle = time.monotonic() - self.last_touch
        if model.goes_home(self.root.current, idle, self.site.kiosk.idle_seconds):
            log.info("idle for %d s: back to the home screen", idle)
            self.home()

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

    # -- asking the centre --------------------------------------------------------------
    def _ask(self, call, on_ok, error_text):
        """Ask the centre off the UI thread, one question at a time; show the answer
        (on_ok) or error_text(refused code, or None when the centre did not answer)."""
        if self.busy:
            return  # a second tap while the first is on its way
        self.busy = True
        self.error = ""

        def answered(result, exc):
            self.busy = False
            if exc is None:
                on_ok(result)
                return
            refused = exc.code if isinstance(exc, RequestRefused) else None
            log.warning("%s: %s", "refused" if refused else "no answer", exc)
            self.error = error_text(refused)

        self.ask(call, answered, errors=(CentreUnavailable, RequestRefused))

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
        scan = model.read_scan(text, self.site.id)
        if scan.kind == "ticket":
            self._ask(lambda: self.link.ticket_status(scan.label, scan.day), self._show_ticket_status,
                      model.lookup_error)
        elif scan.kind in ("check_in_ticket", "check_in_booking"):
            self._check_in(scan)
        elif scan.kind == "dossier":
            self.go("dossier")
            self._ask(lambda: self.link.dossier_status(qr=scan.qr), self._show_dossier, model.lookup_error)
        else:
            self._scan_error(scan.error)

    def _check_in(self, scan: model.Scan):
        """A number taken from afar or a booking, its QR scanned from the citizen's phone
        (issue 14): checked in, it is a ticket in the queue, shown and printed as any
        other. A ticket already in the queue (a printed one's link) shows its place."""
        if self.busy:
            return
        self.busy = True
        self.error = ""
        op = "ticket.check_in" if scan.kind == "check_in_ticket" else "booking.check_in"

        def answered(result, exc):
            self.busy = False
            if exc is None:
                if result.get("checked_in"):
                    log.info("%s: ticket %s checked in", op, result.get("ticket"))
                    self._issued(result)
                else:
                    self._show_ticket_status(result)
                return
            refused = exc if isinstance(exc, RequestRefused) else None
            log.warning("%s %s: %s", op, "refused" if refused else "no answer", exc)
            self._show_ticket_status({"message": model.check_in_error(
                refused.code if refused else None, refused.details if refused else None,
                self.lang, self.site.tz)})

        self.ask(lambda: self.link.check_in(op, scan.token), answered, errors=(CentreUnavailable, RequestRefused))

    def _scan_error(self, message: str):
        if self.root.current not in ("dossier",):
            self.go("dossier")
        self.error = message

    def look_up_dossier(self, code: str, lookup: str):
        self._ask(lambda: self.link.dossier_status(code=code, lookup=lookup), self._show_dossier,
                  model.lookup_error)

    def _show_dossier(self, view: dict):
        self.dossier = view
        self.go("dossierresult")

    def _show_ticket_status(self, view: dict):
        self.ticket_status = view
        self.go("ticketstatus")

    # -- centre link ------------------------------------------------------------
    def _link_changed(self, *args):
        self.link_message = model.link_text(self.link.broker_connected, self.link.centre_online)
        self.on_lang()
        self._refresh_services()

    def _refresh_services(self):
        self.services = model.service_rows(self.site.services, self.link.service)

    # -- taking a number ----------------------------------------------------------
    def take_ticket(self, service: str):
        priority = self.priority["code"] if self.priority else None
        self._ask(lambda: self.link.issue(service, priority), self._issued, model.issue_error)

    def _issued(self, ticket: dict):
        self.ticket = ticket
        self.go("ticket")
        # print once the number is on screen: rendering the ticket image takes
        # the CPU (and the GIL) the first frame of the number needs
        self.after_next_frame(lambda: self.print_ticket(ticket))

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
            self.print_message = model.NO_PRINTER
            return
        ticket = dict(ticket)
        web = self.site.web
        # the link to follow the ticket on the phone (docs/web.md); without [web], the older QR
        qr = (web_tokens.ticket_link(web.base_url, web.secret, self.site.id, ticket["day"], ticket["ticket"])
              if web is not None else protocol.ticket_qr_text(self.site.id, ticket["day"], ticket["ticket"]))
        self._print(model.ticket_job(ticket),
                    lambda: self.printer.print_ticket(ticket, self.site.name, qr, tz=self.site.timezone,
                                                      priority_label=model.priority_label(self.site.priorities,
                                                                                          ticket)),
                    shown=lambda: self.ticket.get("ticket") == ticket["ticket"],
                    state="print_state", message="print_message")

    def print_checklist(self):
        if self.printer is None:
            self.checklist_state = "failed"
            self.checklist_message = model.NO_PRINTER_CHECKLIST
            return
        procedure = dict(self.procedure)
        self._print(model.checklist_job(procedure),
                    lambda: self.printer.print_checklist(procedure, self.site.name),
                    shown=lambda: self.procedure.get("code") == procedure.get("code"),
                    state="checklist_state", message="checklist_message")

    def _print(self, job: model.PrintJob, render, shown, state: str, message: str):
        """One print job: render() in a thread; a failure alerts the staff; the
        outcome goes to the `state` and `message` properties while shown() holds."""
        from motcua.hardware.printer import PrinterError
        setattr(self, state, "printing")
        setattr(self, message, job.printing)

        def work():
            try:
                printed = render()
            except PrinterError as exc:
                log.error("printing the %s %s failed: %s", job.what, job.key, exc.message_en)
                self.link.alert("printer", exc.code, exc.message_en, **job.about)
                return False, job.refused or exc.message_vi
            except Exception as exc:  # noqa: BLE001 - any failure: the citizen and the staff are told
                log.exception("printing the %s %s failed", job.what, job.key)
                self.link.alert("printer", "error", f"printer error: {exc}", **job.about)
                return False, job.broken
            if job.warns_paper_low and printed.warning:  # printed, but staff should act
                self.link.alert("printer", "paper_low", printed.warning, **job.about)
            return True, job.printed

        def done(outcome, exc):
            if not shown():
                return  # a newer citizen (or procedure) is on screen
            ok, text = outcome
            setattr(self, state, "printed" if ok else "failed")
            setattr(self, message, text)

        self.ask(work, done, errors=(), keep=True)

    def reprint_last(self):
        if self.ticket:
            self.print_ticket(self.ticket)

    # -- procedures -------------------------------------------------------------------
    def _catalogue_synced(self, *args):
        self.catalogue_version = self.catalogue_sync.local_version

    def show_procedure(self, code: str):
        p = self.catalogue.get(code)
        if p is None:  # gone in a sync since the list was drawn
            return
        self.checklist_state = ""
        self.checklist_message = ""
        self.procedure = p.to_dict()
        self.go("procedure")

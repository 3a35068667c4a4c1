"""Kiosk scenarios run inside the real app by tests/support/kivy_driver.py."""
from __future__ import annotations


def _button(d, screen, key):
    return d.screen(screen).ids[key]


def _service_button(d, code):
    return d.find(lambda w: getattr(w, "code", None) == code, d.screen("services").ids.grid)


def take_number(d):
    """Home → service → number: two taps, with screenshots of each screen."""
    app = d.app
    yield from d.until(lambda: app.link.usable, what="the centre's link")
    yield from d.until(lambda: all(s["waiting"] is not None for s in app.services), what="live figures")
    yield from d.shot("home")
    yield from d.tap(_button(d, "home", "take"))
    yield from d.until(lambda: app.root.current == "services", what="services screen")
    yield from d.shot("services")
    yield from d.tap(_service_button(d, "HT"))
    yield from d.until(lambda: app.root.current == "ticket", what="ticket screen")
    yield from d.until(lambda: app.print_state in ("printed", "failed", "none"), what="printing")
    yield from d.shot("ticket")
    d.check("ticket", dict(app.ticket))
    d.check("print_state", app.print_state)
    d.check("taps", 2)
    yield from d.tap(_button(d, "ticket", "done"))
    yield from d.until(lambda: app.root.current == "home", what="home again")


def priority_number(d):
    app = d.app
    yield from d.until(lambda: app.link.usable, what="the centre's link")
    yield from d.tap(_button(d, "home", "take"))
    yield from d.until(lambda: app.root.current == "services")
    yield from d.tap(_button(d, "services", "priority"))
    yield from d.until(lambda: app.root.current == "priority")
    yield from d.shot("priority")
    first = d.screen("priority").ids.grid.children[-1]  # the first category listed
    yield from d.tap(first)
    yield from d.until(lambda: app.root.current == "services" and app.priority is not None)
    yield from d.shot("services-priority")
    yield from d.tap(_service_button(d, "CT"))
    yield from d.until(lambda: app.root.current == "ticket")
    d.check("ticket", dict(app.ticket))


def centre_down(d):
    """The centre does not answer: a clear message and no number."""
    app = d.app
    yield from d.until(lambda: app.link.broker_connected, what="the broker")
    yield from d.shot("home-offline")
    yield from d.tap(_button(d, "home", "take"))
    yield from d.until(lambda: app.root.current == "services")
    yield from d.tap(_service_button(d, "HT"))
    yield from d.until(lambda: app.busy, timeout=2, what="busy")
    yield from d.until(lambda: app.error, timeout=15, what="an error message")
    yield from d.shot("services-error")
    d.check("error", app.error)
    d.check("screen", app.root.current)
    d.check("ticket", dict(app.ticket))
    d.check("banner", app.banner)


def language_and_idle(d):
    app = d.app
    yield from d.until(lambda: app.link.usable)
    yield from d.tap(_button(d, "home", "language"))
    yield from d.until(lambda: app.lang == "en")
    yield from d.shot("home-en")
    d.check("take_text_en", _button(d, "home", "take").text)
    yield from d.tap(_button(d, "home", "take"))
    yield from d.until(lambda: app.root.current == "services")
    yield from d.shot("services-en")
    # nobody touches the kiosk: it goes home and back to Vietnamese by itself
    yield from d.until(lambda: app.root.current == "home", timeout=app.site.kiosk.idle_seconds + 5)
    d.check("lang_after_idle", app.lang)
    d.check("take_text_vi", _button(d, "home", "take").text)


def escape_and_admin(d):
    app = d.app
    yield from d.until(lambda: app.link.usable)
    d.key(27)  # Escape must not quit
    yield from d.sleep(0.3)
    d.check("alive_after_escape", app.root is not None and app.root.current == "home")
    header_title = d.find(lambda w: type(w).__name__ == "LongPressLabel", d.screen("home"))
    yield from d.hold(header_title, 3.3)
    yield from d.until(lambda: app.root.current == "pin")
    for k in "1111":
        yield from d.tap(d.find(lambda w, k=k: getattr(w, "text", None) == k, d.screen("pin")))
    yield from d.tap(d.find(lambda w: getattr(w, "text", None) == "OK", d.screen("pin")))
    yield
    d.check("wrong_pin_screen", app.root.current)
    yield from d.shot("pin")
    for k in app.site.kiosk.admin_pin:
        yield from d.tap(d.find(lambda w, k=k: getattr(w, "text", None) == k, d.screen("pin")))
    yield from d.tap(d.find(lambda w: getattr(w, "text", None) == "OK", d.screen("pin")))
    yield from d.until(lambda: app.root.current == "admin")
    yield from d.shot("admin")
    d.check("admin", True)



def dossier_by_scan_and_by_hand(d):
    """A keyboard-wedge scan of a receipt from the home screen, then a typed code."""
    import json
    from motcua import dossiers
    app = d.app
    yield from d.until(lambda: app.link.usable)
    records = json.loads((d.outdir.parent.parent.parent / "examples" / "dossiers.json").read_text())
    late = next(r for r in records if r.get("apology"))
    yield from d.shot("home")
    # the wedge scanner "types" the QR text fast, then Enter
    yield from d.scan(dossiers.qr_text(late["code"], app.site.dossiers) + "\n")
    yield from d.until(lambda: app.root.current == "dossierresult", what="the dossier")
    yield from d.shot("dossier-late-apology")
    d.check("scanned", dict(app.dossier))
    yield from d.tap(d.find(lambda w: getattr(w, "text", None) == app.t("Xong", app.lang), d.screen("dossierresult")))
    yield from d.until(lambda: app.root.current == "home")
    yield from d.tap(d.screen("home").ids.dossier)
    yield from d.until(lambda: app.root.current == "dossier")
    yield from d.shot("dossier-scan")
    yield from d.tap(d.screen("dossier").ids.typed)
    yield from d.until(lambda: d.screen("dossier").typing)
    other = next(r for r in records if not r.get("apology") and r["status"] != "returned")
    keyboard = d.screen("dossier").ids.keyboard
    for ch in other["code"].upper():
        key = d.find(lambda w, ch=ch: type(w).__name__ == "KeyButton" and w.text == ch, keyboard)
        yield from d.tap(key)
    yield from d.tap(d.screen("dossier").ids.lookup)
    wrong = "ABCDEF"
    for ch in wrong:
        yield from d.tap(d.find(lambda w, ch=ch: type(w).__name__ == "KeyButton" and w.text == ch, keyboard))
    yield from d.shot("dossier-typing")
    yield from d.tap(d.screen("dossier").ids.typed)
    yield from d.until(lambda: app.error, what="refusal")
    d.check("wrong_lookup_error", app.error)
    yield from d.shot("dossier-wrong-lookup")
    d.screen("dossier").ids.lookup.text = dossiers.lookup_code(other["code"], app.site.dossiers)
    yield from d.tap(d.screen("dossier").ids.typed)
    yield from d.until(lambda: app.root.current == "dossierresult")
    yield from d.shot("dossier-typed")
    d.check("typed", dict(app.dossier))
    d.check("typed_code_field", d.screen("dossier").ids.code.text)


def ticket_qr_scan(d):
    """Scanning the QR of a printed ticket shows its place in the queue."""
    from motcua import protocol
    app = d.app
    yield from d.until(lambda: app.link.usable)
    t = app.link.issue("HT", None)
    yield from d.scan(protocol.ticket_qr_text(app.site.id, t["day"], t["ticket"]) + "\n")
    yield from d.until(lambda: app.root.current == "ticketstatus", what="ticket status")
    yield from d.shot("ticket-status")
    d.check("status", dict(app.ticket_status))
    d.check("status_text", app.ticket_state_text(app.ticket_status, "vi"))
    yield from d.scan("garbage-code-1234\n")
    yield from d.until(lambda: app.error, what="error for garbage")
    d.check("garbage_error", app.error)
    d.check("garbage_screen", app.root.current)



def check_in_by_phone_link(d):
    """Issue 14: the links of a number taken from afar and of a booking, scanned from
    the citizen's phone, check them in: the ticket screen and a printed ticket, as for
    a number taken here. The same booking again shows its place; a booking too early
    and a forged link say why. The links come from the test (MOTCUA_TEST_LINKS)."""
    import json
    import os
    links = json.loads(os.environ["MOTCUA_TEST_LINKS"])
    app = d.app
    yield from d.until(lambda: app.link.usable, what="the centre's link")
    for name in ("remote", "booking"):
        app.print_state = ""  # (the last ticket's "printed" is not this one's)
        yield from d.scan(links[name] + "\n")
        yield from d.until(lambda: app.root.current == "ticket", what=f"the {name} checked in")
        yield from d.until(lambda: app.print_state in ("printed", "failed", "none"), what="printing")
        yield from d.shot(f"{name}-checked-in")
        d.check(name, dict(app.ticket))
        d.check(f"{name}_print", app.print_state)
        yield from d.tap(_button(d, "ticket", "done"))
        yield from d.until(lambda: app.root.current == "home", what="home again")
    yield from d.scan(links["booking"] + "\n")
    yield from d.until(lambda: app.root.current == "ticketstatus", what="the booking's place")
    yield from d.shot("booking-scanned-again")
    d.check("again", dict(app.ticket_status))
    d.check("again_text", app.ticket_state_text(app.ticket_status, "vi"))
    for name in ("early", "forged"):
        yield from d.scan(links[name] + "\n")
        yield from d.until(lambda: app.ticket_status.get("message"), what=f"why the {name} link is refused")
        yield from d.shot(f"refused-{name}")
        d.check(f"{name}_message", app.ticket_status["message"])
        d.check(f"{name}_screen", app.root.current)
        app.ticket_status = {}
    app.lang = "en"
    yield from d.scan(links["early"] + "\n")
    yield from d.until(lambda: app.ticket_status.get("message"), what="the English refusal")
    yield from d.shot("refused-early-en")
    d.check("early_message_en", app.ticket_status["message"])


def scan_phone_links(d):
    """The citizen's journeys (tests/browser/test_phone_journeys.py): each QR the test
    read off the phone's screen, scanned in turn (MOTCUA_TEST_SCANS: a list of {name,
    text, lang, ask}; `ask`: let the test do something first, e.g. move the centre's
    clock). For each, what the citizen saw: checked in (the ticket screen, printed) or
    the kiosk's answer (its message), and any label cut on screen."""
    import json
    import os

    from support.ui import ask_test, cut_labels
    app = d.app
    yield from d.until(lambda: app.link.usable, what="the centre's link")
    for s in json.loads(os.environ["MOTCUA_TEST_SCANS"]):
        if s.get("ask"):
            yield from ask_test(d, s["ask"])
        app.lang = s.get("lang", "vi")
        app.ticket, app.ticket_status, app.print_state = {}, {}, ""
        yield from d.scan(s["text"] + "\n")
        yield from d.until(lambda: app.ticket or app.ticket_status, what=f"the kiosk's answer to {s['name']}")
        if app.ticket:
            yield from d.until(lambda: app.print_state in ("printed", "failed", "none"), what="printing")
        yield from d.shot(s["name"])
        d.check(s["name"], {"screen": app.root.current, "ticket": dict(app.ticket), "status": dict(app.ticket_status),
                            "print": app.print_state, "cut": cut_labels(app.root.current_screen)})
        app.go("home")
        yield from d.until(lambda: app.root.current == "home", what="home again")


def serial_scan(d):
    """A serial (USB-CDC) scanner on a pty: the test writes the receipt's QR to the
    other end once the kiosk has the port open."""
    app = d.app
    yield from d.until(lambda: app.link.usable and app.scanner is not None and app.scanner.connected,
                       what="the scanner port")
    (d.outdir / "scanner-ready").write_text("1")
    yield from d.until(lambda: app.root.current == "dossierresult", timeout=20, what="the scanned dossier")
    yield from d.shot("dossier-serial-scan")
    d.check("scanned", dict(app.dossier))


def _key(d, keyboard, ch):
    return d.find(lambda w: type(w).__name__ == "KeyButton" and w.text == ch, keyboard)


def _first_result(d):
    results = d.screen("procedures").ids.results.children
    return results[-1] if results else None  # BoxLayout children are in reverse order


def procedures_lookup(d):
    """Browse by field, search typed on the on-screen keyboard without and with
    tone marks, Telex from a physical keyboard, the detail, the printed checklist."""
    app = d.app
    yield from d.until(lambda: app.catalogue_sync.in_step and app.catalogue.count() > 0, timeout=20,
                       what="the catalogue's sync")
    d.check("local_count", app.catalogue.count())
    yield from d.shot("home")
    yield from d.tap(_button(d, "home", "procedures"))
    yield from d.until(lambda: app.root.current == "procedures")
    yield from d.shot("procedures-fields")
    screen = d.screen("procedures")
    field = d.find(lambda w: getattr(w, "name", None) == "Hộ tịch" and type(w).__name__ == "FieldButton",
                   screen.ids.results)
    yield from d.tap(field)
    yield from d.until(lambda: screen.field == "Hộ tịch")
    yield from d.shot("procedures-field")
    d.check("field_list", [w.name for w in reversed(screen.ids.results.children)])
    yield from d.tap(screen.ids.all_fields)
    yield from d.until(lambda: screen.field == "")
    # on-screen keyboard, no tone marks
    yield from d.tap(screen.ids.keyboard_toggle if app.portrait else screen.ids.keyboard_toggle_wide)
    yield from d.until(lambda: screen.typing)
    keyboard = screen.ids.keyboard
    for ch in "dang ky khai sinh":
        yield from d.tap(_key(d, keyboard, ch) if ch != " " else _key(d, keyboard, app.t("Dấu cách", app.lang)))
    yield from d.shot("procedures-typing")
    d.check("plain_query", screen.ids.search.text)
    d.check("plain_first", _first_result(d).name)
    yield from d.tap(screen.ids.clear_search)
    # on-screen keyboard with Vietnamese letters and a tone key: "kết hôn"
    for ch in ("k", "ê", "t"):
        yield from d.tap(_key(d, keyboard, ch))
    yield from d.tap(_key(d, keyboard, "´"))
    for ch in (app.t("Dấu cách", app.lang), "h", "ô", "n"):
        yield from d.tap(_key(d, keyboard, ch))
    d.check("toned_query", screen.ids.search.text)
    d.check("toned_first", _first_result(d).name)
    yield from d.shot("procedures-toned")
    yield from d.tap(screen.ids.clear_search)
    # a physical keyboard, Telex: "chuwngs thuwcj"
    yield from d.type_text("chuwngs thuwcj", gap=0.06)
    yield from d.sleep(0.2)
    d.check("telex_query", screen.ids.search.text)
    d.check("telex_first", _first_result(d).name)
    yield from d.type_text("\n", gap=0.06)
    yield from d.until(lambda: not screen.typing)
    yield from d.shot("procedures-telex")
    first = _first_result(d)
    code = first.code
    yield from d.tap(first)
    yield from d.until(lambda: app.root.current == "procedure")
    yield from d.shot("procedure-detail")
    d.check("detail_code", app.procedure.get("code"))
    d.check("documents_shown", len(d.screen("procedure").ids.documents.children))
    yield from d.tap(d.screen("procedure").ids.print)
    yield from d.until(lambda: app.checklist_state in ("printed", "failed"), what="the checklist print")
    yield from d.shot("procedure-printed")
    d.check("checklist_state", app.checklist_state)
    d.check("checklist_message", app.checklist_message)
    d.check("code", code)


def procedures_offline(d):
    """The centre is away: the banner says so, and look-up works from the local copy."""
    app = d.app
    yield from d.until(lambda: bool(app.banner), what="the banner")
    yield from d.tap(_button(d, "home", "procedures"))
    yield from d.until(lambda: app.root.current == "procedures")
    screen = d.screen("procedures")
    yield from d.tap(screen.ids.keyboard_toggle if app.portrait else screen.ids.keyboard_toggle_wide)
    yield from d.type_text("ly lich tu phap", gap=0.06)
    yield from d.sleep(0.2)
    yield from d.shot("procedures-offline")
    d.check("banner", app.banner)
    d.check("first", _first_result(d).name if _first_result(d) else None)


def paper_out(d):
    """The printer is out of paper: the number stays on screen with a message;
    later, paper loaded, staff reprint it from the admin screen."""
    app = d.app
    yield from d.until(lambda: app.link.usable, what="the centre's link")
    yield from d.tap(_button(d, "home", "take"))
    yield from d.until(lambda: app.root.current == "services")
    yield from d.tap(_service_button(d, "HT"))
    yield from d.until(lambda: app.root.current == "ticket")
    yield from d.until(lambda: app.print_state in ("printed", "failed", "none"), timeout=20, what="printing")
    yield from d.shot("ticket-paper-out")
    d.check("ticket", dict(app.ticket))
    d.check("print_state", app.print_state)
    d.check("print_message", app.print_message)
    d.check("number_shown", d.screen("ticket").ids.number.text)
    (d.outdir / "paper-loaded-please").write_text("1")
    yield from d.until(lambda: (d.outdir / "paper-loaded").exists(), timeout=20, what="paper")
    # staff: long press on the centre's name, PIN, reprint
    app.go("pin")
    yield from d.until(lambda: app.root.current == "pin")
    for digit in app.site.kiosk.admin_pin:
        yield from d.tap(d.find(lambda w, x=digit: getattr(w, "text", None) == x, d.screen("pin")))
    yield from d.tap(d.find(lambda w: getattr(w, "text", None) == "OK", d.screen("pin")))
    yield from d.until(lambda: app.root.current == "admin")
    yield from d.tap(d.screen("admin").ids.reprint)
    yield from d.until(lambda: app.print_state == "printed", timeout=20, what="the reprint")
    d.check("reprint_state", app.print_state)

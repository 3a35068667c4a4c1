"""Kiosk scenarios run inside the real app by tests/kivy_driver.py."""
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

"""Counter terminal scenarios run inside the real app by tests/support/kivy_driver.py (kind `counter`).

The terminal runs as counter-1 at counter 1 (services: HT). The scenarios drive
it with taps and its F-key shortcuts, and watch what the centre publishes with
an independent client (the admin device), so every check compares the screen
with the centre's own retained state. They ask the test for things they cannot
do from inside the app (stop and start the broker) through files in the output
folder, as the display scenarios do.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from motcua import protocol
from motcua.mqtt import DeviceClient
from support.ui import ask_test, overflowing_labels


class Observer:
    """The centre's truth: retained counter and service states, pad prompts and
    call events, as the admin device receives them."""

    def __init__(self, site, counter: int = 1):
        self.topics = protocol.Topics(site.id)
        self.counter_no = counter
        self.client = DeviceClient(site, "admin")
        self.counter: dict = {}
        self.services: dict[str, dict] = {}
        self.prompt: dict = {}
        self.calls: list[dict] = []
        self._lock = threading.Lock()
        c = self.client
        c.subscribe(self.topics.counter_state(counter), lambda t, d: self._set("counter", d))
        c.subscribe(self.topics.service_state_all, self._service)
        c.subscribe(self.topics.pad(counter), lambda t, d: self._set("prompt", d))
        c.subscribe(self.topics.call_event, lambda t, d: self.calls.append(d))
        c.start()
        if not c.wait_connected(10):
            raise AssertionError("the observer could not connect to the broker")

    def _set(self, name, data):
        with self._lock:
            setattr(self, name, data)

    def _service(self, topic, data):
        with self._lock:
            self.services[data["service"]] = data

    def ticket(self) -> str | None:
        return (self.counter.get("ticket") or {}).get("ticket")

    def waiting_in(self, service: str) -> list[str]:
        return [t["ticket"] for t in (self.services.get(service) or {}).get("next_tickets") or []]

    def stop(self):
        self.client.stop()


def _answered(d):
    """The reply reached the screen. The centre's retained state can show the change
    first (replies and state travel apart), and the status line follows the reply."""
    yield from d.until(lambda: not d.app.pending, what="the centre's answer on screen")


def _shot(d, name):
    yield from d.shot(name)
    d.result["checks"].setdefault("overflow", {})[name] = overflowing_labels(d.app.root.current_screen)


def _main(d):
    return d.screen("main").ids


F = {a: 282 + i for i, a in enumerate(("next", "call", "recall", "start", "done", "no_show",
                                         "transfer", "pause", "resume", "close"))}


def _ready(d, state="closed"):
    app = d.app
    yield from d.until(lambda: app.link.usable and app.view is not None and app.state == state,
                       timeout=15, what=f"the link and the counter {state}")
    yield from d.sleep(0.3)


def full_flow(d):
    """Sign in, then every action by touch or shortcut, each checked against the centre."""
    app = d.app
    obs = Observer(app.site)
    try:
        yield from _ready(d)
        yield from d.until(lambda: app.root.current == "signin", what="the sign-in screen")
        yield from _shot(d, "01-signin")
        ids = d.screen("signin").ids
        yield from d.tap(ids.officer)
        yield from d.type_text("nguyenvana")
        yield from d.tap(ids.pin)
        yield from d.type_text("1357")  # a wrong PIN first (the test officer's is 2580)
        d.key(13)
        yield from d.until(lambda: app.status_kind == "error", what="the wrong PIN refused")
        d.check("bad_pin", {"status": app.status, "pin_field": ids.pin.text, "screen": app.root.current,
                            "password": ids.pin.password})
        yield from _shot(d, "02-signin-bad-pin")
        yield from d.tap(ids.pin)
        yield from d.type_text("2580")
        d.check("pin_masked", ids.pin.password)
        yield from _shot(d, "02-signin-typed")
        d.key(13)  # Enter signs in
        yield from d.until(lambda: app.root.current == "main" and app.state == "open", what="the open counter")
        yield from d.until(lambda: obs.counter.get("state") == "open", what="the centre's open counter")
        d.check("signed_in", {k: obs.counter.get(k) for k in ("state", "officer", "officer_name")})
        d.check("enabled_open", sorted(k for k, v in app.enabled.items() if v))
        yield from _shot(d, "03-open")

        # tap "Gọi tiếp": the first ticket is shown, and the centre agrees
        yield from d.tap(_main(d).next)
        yield from d.until(lambda: app.ticket.get("ticket") == "1001", what="1001 on screen")
        yield from d.until(lambda: obs.ticket() == "1001", what="the centre's 1001")
        yield from _answered(d)
        d.check("called", {"screen": _main(d).number.text, "centre": obs.counter["ticket"]["state"],
                           "enabled": sorted(k for k, v in app.enabled.items() if v),
                           "status": app.status, "timer": app.timer})
        yield from _shot(d, "04-called")

        # F3 recall, F4 start, F5 done: shortcuts
        calls_before = len(obs.calls)
        d.key(F["recall"])
        yield from d.until(lambda: "gọi lại" in app.status, what="the recall")
        yield from d.until(lambda: len(obs.calls) > calls_before, what="the recall's call event")
        d.check("recall_event", {k: obs.calls[-1][k] for k in ("ticket", "counter", "recall")})
        d.key(F["start"])
        yield from d.until(lambda: app.ticket.get("state") == "serving", what="serving")
        yield from d.until(lambda: (obs.counter.get("ticket") or {}).get("state") == "serving",
                           what="the centre's serving")
        yield from d.until(lambda: app.timer.endswith("00:01"), timeout=4, what="the running timer")
        d.check("serving", {"timer": app.timer, "caption": app.caption,
                            "enabled": sorted(k for k, v in app.enabled.items() if v)})
        yield from _shot(d, "05-serving")
        d.key(F["done"])
        yield from d.until(lambda: not app.ticket.get("ticket"), what="the ticket done")
        yield from d.until(lambda: obs.counter.get("served_today") == 1, what="the centre's served count")
        yield from d.until(lambda: app.served == "1", what="served today on screen")
        yield from _answered(d)
        d.check("after_done", {"served": app.served, "status": app.status,
                               "centre_served": obs.counter.get("served_today")})

        # a rating from the pad at counter 1: this counter's satisfaction follows
        yield from d.until(lambda: obs.prompt.get("prompt"), what="the pad prompt")
        pad = DeviceClient(app.site, "pad-1").start()
        try:
            assert pad.wait_connected(10)
            body = {"rating": "PADT:1:1", "pad": "PADT", "boot": 1, "seq": 1, "counter": 1, "level": 1,
                    "prompt": obs.prompt["prompt"], "pressed_at": datetime.now(timezone.utc).isoformat()}
            pad.client.publish(obs.topics.rating(1), protocol.encode(body), qos=1).wait_for_publish(5)
        finally:
            pad.stop()
        yield from d.until(lambda: "1 đánh giá" in app.satisfaction_text, what="the satisfaction figures")
        d.check("satisfaction", app.satisfaction_text)
        yield from _shot(d, "06-done-rated")

        # F2: call a chosen ticket, picked from the waiting list by touch
        d.key(F["call"])
        yield from d.until(lambda: app.root.current == "call", what="the call dialog")
        grid = d.screen("call").ids.grid
        yield from d.until(lambda: len(grid.children) == 2, what="the two waiting tickets to pick")
        d.check("pickable", [w.value for w in reversed(grid.children)])
        yield from _shot(d, "07-call-dialog")
        yield from d.tap(next(w for w in grid.children if w.value == "1003"))
        yield from d.until(lambda: app.root.current == "main" and app.ticket.get("ticket") == "1003",
                           what="1003 called")
        yield from d.until(lambda: obs.ticket() == "1003", what="the centre's 1003")

        # F7: transfer it to Chứng thực (touch the service)
        d.key(F["transfer"])
        yield from d.until(lambda: app.root.current == "transfer", what="the transfer dialog")
        yield from _shot(d, "08-transfer-dialog")
        box = d.screen("transfer").ids.list
        d.check("targets", [w.value for w in reversed(box.children)])
        yield from d.tap(next(w for w in box.children if w.value == "CT"))
        yield from d.until(lambda: app.root.current == "main" and not app.ticket.get("ticket"),
                           what="the ticket gone to CT")
        yield from d.until(lambda: "1003" in obs.waiting_in("CT"), what="1003 waiting in CT at the centre")
        yield from _answered(d)
        d.check("transferred", {"CT": obs.waiting_in("CT"), "HT": obs.waiting_in("HT"), "status": app.status})

        # a refusal by the centre, in Vietnamese: a number that is not waiting
        yield from d.tap(_main(d).call)
        yield from d.until(lambda: app.root.current == "call", what="the call dialog")
        yield from d.sleep(0.3)
        yield from d.type_text("1999")
        yield from d.tap(d.screen("call").ids.go)
        yield from d.until(lambda: app.status_kind == "error", what="the centre's refusal")
        d.check("refused", app.status)
        yield from _shot(d, "09-refused")

        # F2 and a typed number, Enter
        d.key(F["call"])
        yield from d.until(lambda: app.root.current == "call", what="the call dialog")
        yield from d.sleep(0.3)  # the field takes the focus
        yield from d.type_text("1002")
        d.key(13)
        yield from d.until(lambda: app.ticket.get("ticket") == "1002", what="1002 called")
        yield from d.until(lambda: obs.ticket() == "1002", what="the centre's 1002")

        # F6: no-show
        d.key(F["no_show"])
        yield from d.until(lambda: not app.ticket.get("ticket"), what="the no-show")
        yield from d.until(lambda: obs.ticket() is None, what="the centre's no-show")
        yield from _answered(d)
        d.check("no_show", {"status": app.status, "served": obs.counter.get("served_today")})

        # nobody waits for HT now: "next" is disabled, and F1 says so instead of doing nothing
        yield from d.until(lambda: not app.enabled.get("next"), what="next disabled")
        d.key(F["next"])
        yield from d.until(lambda: "không dùng được" in app.status, what="the refusal of F1")
        d.check("next_disabled", {"disabled": _main(d).next.disabled, "status": app.status})

        # F8: pause with a reason from the list, shown to the public
        d.key(F["pause"])
        yield from d.until(lambda: app.root.current == "pause", what="the pause dialog")
        reasons = d.screen("pause").ids.reasons
        yield from d.tap(next(w for w in reasons.children if w.value == "Họp giao ban"))
        yield from d.tap(d.screen("pause").ids.public)
        yield from _shot(d, "10-pause-dialog")
        d.key(13)
        yield from d.until(lambda: app.state == "paused", what="paused")
        yield from d.until(lambda: obs.counter.get("state") == "paused", what="the centre's pause")
        d.check("paused", {"centre_reason": obs.counter.get("pause_reason"), "pause_text": app.pause_text,
                           "enabled": sorted(k for k, v in app.enabled.items() if v)})
        yield from _shot(d, "11-paused")

        # F9: resume
        yield from d.until(lambda: app.root.current == "main" and app.enabled.get("resume"), what="resume offered")
        d.key(F["resume"])
        yield from d.until(lambda: app.state == "open", timeout=20, what="open again")
        yield from d.until(lambda: obs.counter.get("state") == "open", what="the centre's resume")

        # F8 again with a typed, private reason
        d.key(F["pause"])
        yield from d.until(lambda: app.root.current == "pause", what="the pause dialog")
        yield from d.tap(d.screen("pause").ids.other)
        yield from d.type_text("Đi lấy hồ sơ")
        d.key(13)
        yield from d.until(lambda: app.state == "paused", what="paused (private)")
        yield from d.until(lambda: obs.counter.get("state") == "paused", what="the centre's private pause")
        d.check("private_pause", {"centre_reason": obs.counter.get("pause_reason"), "pause_text": app.pause_text})
        yield from d.until(lambda: app.root.current == "main" and app.enabled.get("resume"), what="resume offered")
        d.key(F["resume"])
        yield from d.until(lambda: app.state == "open", timeout=20, what="open again")

        # F10: close, confirmed with Enter
        d.key(F["close"])
        yield from d.until(lambda: app.root.current == "close", what="the close dialog")
        yield from _shot(d, "12-close-dialog")
        d.key(13)
        yield from d.until(lambda: app.state == "closed" and app.root.current == "signin", what="closed")
        yield from d.until(lambda: obs.counter.get("state") == "closed", what="the centre's closed counter")
        yield from _answered(d)
        d.check("closed", {"centre": obs.counter.get("state"), "officer": obs.counter.get("officer"),
                           "served": obs.counter.get("served_today"), "status": app.status})
        yield from _shot(d, "13-closed")
    finally:
        obs.stop()


def broker_down(d):
    """The broker stops: the terminal says so; "next" pressed meanwhile waits and
    is done once the broker is back, exactly once."""
    app = d.app
    yield from _ready(d, state="open")  # the officer signed in before the terminal started
    yield from d.until(lambda: app.root.current == "main", what="the terminal (already signed in)")
    yield from d.until(lambda: app.enabled.get("next"), what="next enabled")
    yield from ask_test(d, "stop-broker")
    # (the centre's Last Will may say "centre offline" a moment before the link itself drops)
    yield from d.until(lambda: app.banner.startswith("Mất kết nối"), timeout=10,
                       what="the lost-connection banner")
    d.check("banner", app.banner)
    yield from _shot(d, "01-disconnected")
    d.key(F["next"])
    yield from d.until(lambda: app.pending == "queued", timeout=3, what="the queued action")
    d.check("queued", {"status": app.status, "cancel_visible": d.screen("main").ids.status.ids.cancel.opacity})
    yield from _shot(d, "02-queued")
    yield from d.sleep(1.0)
    d.check("still_queued", app.pending)
    yield from ask_test(d, "start-broker")
    yield from d.until(lambda: app.ticket.get("ticket") == "1001", timeout=20, what="1001 called after the restart")
    yield from d.until(lambda: not app.banner, timeout=10, what="the banner gone")
    yield from _answered(d)
    d.check("after", {"status": app.status, "pending": app.pending, "banner": app.banner})
    yield from _shot(d, "03-reconnected")


def no_answer(d):
    """The centre does not answer (simulated in the link): resent with the same id,
    then shown as failed with Gửi lại / Huỷ; Gửi lại (same id) then works."""
    from motcua.counter.link import CentreUnavailable
    app = d.app
    yield from _ready(d, state="open")
    yield from d.until(lambda: app.enabled.get("next"), what="next enabled")
    real = app.link.ask
    ids_sent: list[str] = []

    def silent(op, request_id, **args):
        ids_sent.append(request_id)
        time.sleep(0.3)
        raise CentreUnavailable("the centre did not answer (simulated)")

    app.link.ask = silent
    yield from d.tap(_main(d).next)
    yield from d.until(lambda: app.pending == "failed", timeout=10, what="the failed request")
    status = d.screen("main").ids.status.ids
    d.check("failed", {"status": app.status, "attempts": len(ids_sent), "ids": sorted(set(ids_sent)),
                       "retry_visible": status.retry.opacity, "cancel_visible": status.cancel.opacity})
    yield from _shot(d, "01-failed")

    def counted(op, request_id, **args):
        ids_sent.append(request_id)
        return real(op, request_id, **args)

    app.link.ask = counted
    yield from d.tap(status.retry)
    yield from d.until(lambda: app.ticket.get("ticket") == "1001", timeout=10, what="1001 after Gửi lại")
    yield from _answered(d)
    d.check("retried", {"ids": sorted(set(ids_sent)), "status": app.status, "pending": app.pending})
    yield from _shot(d, "02-retried")


def _hint_fits(field) -> bool:
    """The "Hồ sơ" field's hint is not cut at the field's edge (a TextInput's hint is no
    Label: the cut-label checks do not see it)."""
    from kivy.core.text import Label as CoreLabel
    label = CoreLabel(text=field.hint_text, font_size=field.font_size, font_name=field.font_name)
    label.refresh()
    return label.texture.width <= field.width - field.padding[0] - field.padding[2]


def dossiers(d):
    """The dossiers of a visit (issue 12): a code typed in the "Hồ sơ" field with Enter,
    a receipt's QR "scanned" while nothing has the focus (a USB scanner types it), a
    malformed code refused, × removes a wrong one, and after "Xong" the returned result
    goes to the ticket just finished while the pad asks for its rating."""
    from motcua.dossiers import qr_text
    app = d.app
    obs = Observer(app.site)
    typed, scanned, returned = "000.00.31.H12-261123-0001", "000.00.31.H12-261117-0005", "000.00.31.H12-261120-0009"
    try:
        yield from _ready(d, state="open")
        yield from d.until(lambda: app.root.current == "main", what="the terminal (already signed in)")
        ids = _main(d)
        d.check("idle", {"row_height": ids.dossier_row.height, "disabled": ids.dossier.disabled})
        d.key(F["next"])
        yield from d.until(lambda: app.ticket.get("ticket") == "1001" and app.dossier_ticket == "1001",
                           what="1001 called, the Hồ sơ field ready")
        yield from _answered(d)
        d.check("called", {"hint": ids.dossier.hint_text, "disabled": ids.dossier.disabled,
                           "caption": ids.caption.text, "hint_fits": _hint_fits(ids.dossier)})
        yield from _shot(d, "01-called")

        # typed by hand (in lower case, as some keyboards send it), Enter
        yield from d.tap(ids.dossier)
        yield from d.type_text(typed.lower())
        yield from _shot(d, "02-typing")
        d.key(13)
        yield from d.until(lambda: obs.counter.get("ticket", {}).get("dossiers") == [typed],
                           what="the centre's dossier on 1001")
        yield from d.until(lambda: [c.code for c in ids.dossier_chips.children] == [typed], what="its chip")
        yield from _answered(d)
        d.check("typed", {"status": app.status, "field": ids.dossier.text,
                          "chips": [c.label for c in reversed(ids.dossier_chips.children)]})

        # the receipt's QR from the scanner, with nothing focused: the field takes it
        ids.dossier.focus = False
        yield from d.sleep(0.2)
        yield from d.scan(qr_text(scanned, app.site.dossiers) + "\n")
        yield from d.until(lambda: obs.counter.get("ticket", {}).get("dossiers") == [typed, scanned],
                           what="the scanned dossier at the centre")
        yield from d.until(lambda: len(ids.dossier_chips.children) == 2, what="two chips")
        yield from _answered(d)
        d.check("scanned", {"status": app.status, "field": ids.dossier.text,
                            "chips": [c.label for c in reversed(ids.dossier_chips.children)]})
        yield from _shot(d, "03-two-dossiers")

        # a code cut short: the centre refuses, in Vietnamese
        yield from d.tap(ids.dossier)
        yield from d.type_text("000.00.31.H12-2611")
        d.key(13)
        yield from d.until(lambda: app.status_kind == "error", what="the refusal")
        d.check("refused", app.status)
        yield from _shot(d, "04-refused")

        # × on the scanned one: removed
        chip = next(c for c in ids.dossier_chips.children if c.code == scanned)
        yield from d.tap(chip.ids.drop)
        yield from d.until(lambda: obs.counter.get("ticket", {}).get("dossiers") == [typed],
                           what="the dossier removed at the centre")
        yield from d.until(lambda: len(ids.dossier_chips.children) == 1, what="one chip left")
        yield from _answered(d)
        d.check("removed", app.status)

        # Xong: the pad asks; the result returned as the citizen leaves goes to 1001
        d.key(F["done"])
        yield from d.until(lambda: not app.ticket.get("ticket") and app.dossier_finished, what="1001 finished")
        yield from _answered(d)
        d.check("finished", {"caption": ids.caption.text, "hint": ids.dossier.hint_text,
                             "hint_fits": _hint_fits(ids.dossier),
                             "chips": [c.label for c in reversed(ids.dossier_chips.children)]})
        yield from d.tap(ids.dossier)
        yield from d.type_text(returned)
        yield from d.tap(ids.dossier_add)
        yield from d.until(lambda: (obs.counter.get("finished_ticket") or {}).get("dossiers") == [typed, returned],
                           what="the returned result on the finished 1001")
        yield from _answered(d)
        d.check("returned", {"status": app.status,
                             "chips": [c.label for c in reversed(ids.dossier_chips.children)]})
        yield from _shot(d, "05-finished-returned")

        # the citizen rates: the prompt ends, the field is off until the next ticket
        yield from d.until(lambda: obs.prompt.get("prompt"), what="the pad prompt")
        pad = DeviceClient(app.site, "pad-1").start()
        try:
            assert pad.wait_connected(10)
            body = {"rating": "PADD:1:1", "pad": "PADD", "boot": 1, "seq": 1, "counter": 1, "level": 1,
                    "prompt": obs.prompt["prompt"], "pressed_at": datetime.now(timezone.utc).isoformat()}
            pad.client.publish(obs.topics.rating(1), protocol.encode(body), qos=1).wait_for_publish(5)
        finally:
            pad.stop()
        yield from d.until(lambda: not app.dossier_ticket, what="the field back to check-ins after the rating")
        d.check("rated", {"row_height": ids.dossier_row.height, "caption": ids.caption.text,
                          "chips": len(ids.dossier_chips.children), "hint": ids.dossier.hint_text})
        yield from _shot(d, "06-rated")
    finally:
        obs.stop()


def idle_check_in(d):
    """A phone's QR scanned at an idle counter with nobody waiting (issue 14): the "Hồ sơ"
    field is there and says so, the scanner's keys land in it with nothing focused,
    the booking and then the number from afar are checked in (the centre agrees),
    a dossier code with no ticket is told what the field takes, and "Gọi tiếp" then
    calls the booking first (MOTCUA_TEST_LINKS: the links the test made as the web)."""
    import json
    import os
    links = json.loads(os.environ["MOTCUA_TEST_LINKS"])
    app = d.app
    obs = Observer(app.site)
    try:
        yield from _ready(d, state="open")
        yield from d.until(lambda: app.root.current == "main" and app.scan_open, what="the terminal, idle")
        ids = _main(d)
        yield from d.until(lambda: obs.services.get("HT") is not None and not app.enabled.get("next"),
                           what="nobody waiting: Gọi tiếp off")
        d.check("idle", {"row_height": ids.dossier_row.height, "disabled": ids.dossier.disabled,
                         "hint": ids.dossier.hint_text, "hint_fits": _hint_fits(ids.dossier),
                         "button": ids.dossier_add.text, "caption": ids.caption.text,
                         "enabled": sorted(k for k, v in app.enabled.items() if v)})
        yield from _shot(d, "01-idle")

        # the booking's QR from the scanner, with nothing focused: checked in
        ids.dossier.focus = False
        yield from d.sleep(0.2)
        yield from d.scan(links["booking"] + "\n")
        yield from d.until(lambda: obs.waiting_in("HT") == [links["booking_ticket"]], what="the booking in the queue")
        yield from _answered(d)
        d.check("booking", {"status": app.status, "kind": app.status_kind, "field": ids.dossier.text,
                            "ticket": app.ticket.get("ticket")})
        yield from d.until(lambda: app.enabled.get("next"), what="Gọi tiếp on: someone waits now")
        yield from _shot(d, "02-booking-checked-in")

        # the number from afar, scanned into the field with the focus there already
        yield from d.tap(ids.dossier)
        yield from d.scan(links["remote"] + "\n")
        yield from d.until(lambda: len(obs.waiting_in("HT")) == 2, what="the number from afar in the queue")
        yield from _answered(d)
        d.check("remote", {"status": app.status, "waiting": obs.waiting_in("HT")})

        # a dossier code with no ticket: the field says what it takes
        yield from d.tap(ids.dossier)
        yield from d.type_text("000.00.31.H12-261123-0001")
        d.key(13)
        yield from d.until(lambda: app.status_kind == "error", what="the dossier refused locally")
        d.check("dossier_idle", {"status": app.status, "field": ids.dossier.text})
        yield from _shot(d, "03-dossier-without-ticket")

        # Gọi tiếp: the booking is served first, and the field turns to its dossiers
        d.key(F["next"])
        yield from d.until(lambda: obs.ticket() == links["booking_ticket"], what="the booking called")
        yield from d.until(lambda: app.dossier_ticket == links["booking_ticket"], what="the field on the ticket")
        yield from _answered(d)
        d.check("called", {"hint": ids.dossier.hint_text, "button": ids.dossier_add.text,
                           "ticket": app.ticket.get("ticket")})
        yield from _shot(d, "04-called")
    finally:
        obs.stop()

"""Every JSON example of docs/protocol.md against what a live centre publishes (issue 12).

The sample site's centre runs on a real broker; an admin client captures
everything under the site's root while the walkthrough of §11 (and the
operations of §5) is performed. Then each example payload on the page is
compared with the captured payloads of its kind (by its topic, or by the
heading it sits under, or, for a reply, by the operation of the request with
the same id above it): the same keys at every level, and the same value types.
Times, ids, numbers and sequence numbers differ from run to run, so only types
are compared, and `null` matches any type (a field that is null in one state
and set in another). Both ways: an example with a key the centre no longer
sends fails, and so does a captured payload with a key no example shows.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from motcua import protocol
from motcua.mqtt import RequestRefused

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocol.md"

# The heading an example sits under -> the kind of payload (its topic, generalised).
HEADING_KIND = {
    "3. Availability and Last Will": "availability",
    "Counter state": "state/counter/<counter>",
    "Service state": "state/service/<service>",
    "Hall summary": "state/hall",
    "Pad prompt": "pad/<counter>",
    "Satisfaction tallies": "state/ratings",
    "Catalogue version": "catalogue/version",
    "Call events": "event/call",
    "Ticket events": "event/ticket",
}
# Payloads devices make, not the centre: the unit test (test_protocol_docs.py)
# checks them against the builders; nothing to capture here.
DEVICE_MADE = {"request", "Ratings from a pad", "Kiosk alerts", "Notice", "pad bridge availability",
               "published by a device"}
# Replies of operations this walkthrough does not perform (the officers' register,
# the admin's): compared by the unit test's shape checks.
NOT_PERFORMED = {"officer.add", "officer.reset_pin", "officer.unlock", "officer.list"}


def kind_of_topic(topic: str, root: str) -> str:
    rest = topic[len(root) + 1:]
    rest = re.sub(r"^state/counter/\d+$", "state/counter/<counter>", rest)
    rest = re.sub(r"^state/service/[^/]+$", "state/service/<service>", rest)
    rest = re.sub(r"^pad/\d+/ack$", "pad/<counter>/ack", rest)
    rest = re.sub(r"^pad/\d+$", "pad/<counter>", rest)
    rest = re.sub(r"^reply/[^/]+$", "reply", rest)
    rest = re.sub(r"^request/[^/]+$", "request", rest)
    if rest.endswith("/availability"):
        return "availability"
    return rest


def doc_examples() -> list[tuple[str, str, dict]]:
    """(heading, kind, payload) of every JSON payload on the page: ```json blocks,
    and JSON lines (with or without a topic before them) of ```text blocks; the
    requests of §11's mosquitto_pub commands count as requests."""
    text = DOC.read_text(encoding="utf-8")
    out: list[tuple[str, str, dict]] = []
    heading, block, lines = "", None, []
    last_op: dict[str, str] = {}  # request id -> op of the latest request example
    root = "motcua/hcc-demo"

    def add(payload: dict, topic: str | None) -> None:
        if "op" in payload:
            last_op[payload.get("id", "")] = payload["op"]
            out.append((heading, "request", payload))
        elif "ok" in payload:
            out.append((heading, f"reply {last_op.get(payload.get('id'), '?')}", payload))
        elif topic:
            out.append((heading, kind_of_topic(topic, root), payload))
        elif "pad" in payload and set(payload) <= {"v", "state", "pad"}:
            out.append((heading, "pad bridge availability", payload))
        elif heading == "Ratings from a pad" and set(payload) >= {"rating", "status"}:
            out.append((heading, "pad/<counter>/ack", payload))
        else:
            out.append((heading, HEADING_KIND.get(heading, heading), payload))

    for line in text.splitlines():
        if block is None:
            m = re.match(r"^#+ (.*)$", line)
            if m:
                heading = m.group(1).strip()
            m = re.match(r"^```(\w+)", line)
            if m:
                block, lines = m.group(1), []
                continue
            m = re.search(r"-m '(\{.*\})'", line)
            if m:
                add(json.loads(m.group(1)), None)
            continue
        if line.startswith("```"):
            if block == "json":
                add(json.loads("\n".join(lines)), None)
            elif block in ("text", "sh"):
                for raw in lines:
                    m = re.search(r"-m '(\{.*\})'", raw)
                    if m:  # what a device (or a stand-in for one) publishes
                        payload = json.loads(m.group(1))
                        if "op" in payload:
                            add(payload, None)
                        else:
                            out.append((heading, "published by a device", payload))
                        continue
                    m = re.match(r"^(motcua/\S+ )?(\{.*\})$", raw.strip())
                    if m:
                        try:
                            payload = json.loads(m.group(2))
                        except json.JSONDecodeError:
                            continue  # shortened on the page ("[…]")
                        add(payload, m.group(1) and m.group(1).strip())
            block = None
            continue
        lines.append(line)
    return out


def type_name(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def differences(doc, live, where: str = "") -> list[str]:
    """How two payloads differ in keys or value types (null matches anything)."""
    if doc is None or live is None:
        return []
    if type_name(doc) != type_name(live):
        return [f"{where or 'payload'}: the page has {type_name(doc)}, the centre sends {type_name(live)}"]
    if isinstance(doc, dict):
        if where.split(".")[-1].startswith("by_"):
            return by_value(doc, live, where)
        out = []
        if set(live) - set(doc):
            out.append(f"{where or 'payload'}: keys the page lacks: {sorted(set(live) - set(doc))}")
        if set(doc) - set(live):
            out.append(f"{where or 'payload'}: keys the centre does not send: {sorted(set(doc) - set(live))}")
        for key in set(doc) & set(live):
            out += differences(doc[key], live[key], f"{where}.{key}" if where else key)
        return out
    if isinstance(doc, list) and doc and live:
        return differences(doc[0], live[0], f"{where}[0]")
    return []


def by_value(doc, live, where: str) -> list[str]:
    """A table keyed by data (a tally's `by_counter`: counter -> figures): its
    keys vary, the shape of its values does not."""
    if doc and live:
        return differences(next(iter(doc.values())), next(iter(live.values())), f"{where}[*]")
    return []


class Capture:
    """Everything the admin device may read under the site's root."""

    def __init__(self, site):
        self.root = protocol.Topics(site.id).root
        self.got: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        admin = site.devices_of("admin")[0]
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(admin.id, admin.password)
        subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect("127.0.0.1", site.broker.port)
        self.client.loop_start()
        self.client.subscribe(f"{self.root}/#", qos=1)
        assert subscribed.wait(10)

    def _on_message(self, client, userdata, message):
        try:
            data = json.loads(message.payload)
        except ValueError:
            return
        with self.lock:
            self.got.append((message.topic, data))

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()

    def by_kind(self, reply_ops: dict[str, str]) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        with self.lock:
            for topic, data in self.got:
                kind = kind_of_topic(topic, self.root)
                if kind == "reply":
                    kind = f"reply {reply_ops.get(data.get('id'), '?')}"
                out.setdefault(kind, []).append(data)
        return out


def sign_in(admin, client, counter: int, officer: str, **kw) -> dict:
    """counter.sign_in, registering the officer first where the code wants a PIN."""
    shape = protocol.OPERATIONS["counter.sign_in"]
    if "pin" in shape:
        try:
            admin.request("officer.add", officer=officer, name=officer, pin="2580")
        except RequestRefused as exc:
            if exc.code != "officer_exists":
                raise
        kw["pin"] = "2580"
    if "officer_name" not in shape:  # the name comes from the officers' register then
        kw.pop("officer_name", None)
    return client.request("counter.sign_in", counter=counter, officer=officer, **kw)


def _numbers_and_bookings(site, centre, ask) -> None:
    """ticket.reserve and ticket.check_in now; booking.* on the first slot that begins
    in 20 minutes or more; then the centre's clock is moved to 10 minutes before that
    slot (its check-in window) for booking.check_in."""
    from datetime import datetime, timedelta, timezone

    from motcua import bookings as bk
    from motcua import web_tokens
    w = site.web
    now = datetime.now(timezone.utc)
    today = now.astimezone(site.tz).date()
    ask("web", "booking.slots", service="CT", day=next(
        d for d in bk.bookable_days(today, w.booking_days_ahead) if bk.slots_on(w.slots, "CT", d)).isoformat())
    taken = ask("web", "ticket.reserve", service="HT", phone="0912 345 678")
    ask("kiosk-1", "ticket.check_in", token=web_tokens.ticket_link(w.base_url, w.secret, site.id, taken["day"],
                                                                    taken["ticket"]))
    ask("kiosk-1", "ticket.check_in", expect_ok=False,
        token=web_tokens.make_token("not-the-site-secret", site.id, "t", taken["day"], taken["ticket"]))
    day, slot = next((d, s) for d in bk.bookable_days(today, w.booking_days_ahead)
                     for s in bk.slots_on(w.slots, "HT", d)
                     if bk.local_moment(d, s.time, site.tz) >= now + timedelta(minutes=20))
    booked = ask("web", "booking.create", service="HT", day=day.isoformat(), time=slot.time, phone="0987654321")
    ask("web", "booking.get", booking=booked["booking"])
    other = ask("web", "booking.create", service="HT", day=day.isoformat(), time=slot.time, phone="0355000111")
    ask("web", "booking.cancel", booking=other["booking"], phone="0355 000 111")
    shift = bk.local_moment(day, slot.time, site.tz) - timedelta(minutes=10) - now
    centre.clock = lambda: datetime.now(timezone.utc) + shift
    ask("kiosk-1", "booking.check_in", token=web_tokens.booking_link(w.base_url, w.secret, site.id, day.isoformat(),
                                                                      booked["booking"]))


def test_every_example_of_the_page_has_the_keys_and_types_the_centre_sends(site, centre, connect):
    capture = Capture(site)
    reply_ops: dict[str, str] = {}
    try:
        clients = {}

        def ask(device: str, op: str, expect_ok: bool = True, **args):
            if device not in clients:
                clients[device] = connect(device)
            request_id = f"{device}-{len(reply_ops) + 1:06d}"
            reply_ops[request_id] = op
            try:
                return clients[device].request(op, request_id=request_id, **args)
            except RequestRefused:
                if expect_ok:
                    raise
                return None

        admin = connect(site.devices_of("admin")[0].id)
        # the sample's dossiers and procedures, imported beside the running centre
        for what, file in (("dossiers", "dossiers.json"), ("procedures", "procedures.json")):
            subprocess.run([sys.executable, "-m", "motcua", "--site", str(site.path), what, "import",
                            str(ROOT / "examples" / file)], check=True, capture_output=True, cwd=ROOT)
        # §11.2-11.4: numbers, a repeat, a status
        ask("kiosk-1", "ticket.issue", service="HT")
        t = ask("kiosk-1", "ticket.issue", service="HT")
        ask("kiosk-1", "ticket.issue", service="HT", priority="cao_tuoi")
        ask("kiosk-2", "ticket.issue", service="CT")
        ask("kiosk-1", "ticket.status", ticket=t["ticket"])
        # §11.5 and the counter operations of §5
        clients["counter-1"] = connect("counter-1")
        reply_ops_id = "counter-1-sign-in"
        reply_ops[reply_ops_id] = "counter.sign_in"
        sign_in(admin, clients["counter-1"], 1, "nguyenvana", officer_name="Nguyễn Văn A",
                request_id=reply_ops_id)
        ask("counter-1", "counter.next", counter=1)
        ask("counter-1", "counter.recall", counter=1)
        ask("counter-1", "counter.start", counter=1)
        # dossiers at the counter (issue 12): by the receipt's QR, typed (not in the
        # mirror), a malformed one, removed; then one after done, to the finished ticket
        ask("counter-1", "counter.attach_dossier", counter=1,
            code="MOTCUA-D:000.00.31.H12-261123-0001:6EANS4YC33\r\n")
        ask("counter-1", "counter.attach_dossier", counter=1, code="000.00.31.h12-261123-0014")
        ask("counter-1", "counter.attach_dossier", expect_ok=False, counter=1, code="000.00.31.H12-2611")
        ask("counter-1", "counter.detach_dossier", counter=1, code="000.00.31.H12-261123-0014")
        ask("counter-1", "counter.done", counter=1)
        ask("counter-1", "counter.attach_dossier", counter=1, code="000.00.31.H12-261120-0009")
        ask("counter-1", "counter.next", counter=1)
        ask("counter-1", "counter.no_show", counter=1)
        clients["counter-2"] = connect("counter-2")
        reply_ops["counter-2-sign-in"] = "counter.sign_in"
        sign_in(admin, clients["counter-2"], 2, "tranthib", request_id="counter-2-sign-in")
        ask("counter-2", "counter.call", counter=2, ticket=t["ticket"])
        ask("counter-2", "counter.start", counter=2)
        ask("counter-2", "counter.transfer", counter=2, service="CT")
        ask("counter-1", "counter.pause", counter=1, reason="Họp giao ban", public=True)
        ask("counter-1", "counter.resume", counter=1)
        private = ask("counter-2", "counter.pause", counter=2, reason="Nghỉ trưa")
        assert private["pause_reason"] is None, "a private pause's reason is in the reply (§5: null everywhere)"
        ask("counter-1", "counter.close", counter=1)
        # §11.6 refusals
        ask("kiosk-1", "counter.next", expect_ok=False, counter=1)
        ask("counter-1", "counter.sign_in", expect_ok=False, counter=2, officer="nguyenvana")
        # dossiers (§5): the page's own requests, the update first
        examples = doc_examples()
        for op, device in (("dossier.update", site.devices_of("integration")[0].id), ("dossier.status", "kiosk-1")):
            for _, kind, payload in examples:
                if kind == "request" and payload["op"] == op:
                    ask(device, op, expect_ok=False, **payload.get("args", {}))
        # the catalogue: its version reaches the kiosks within CATALOGUE_CHECK_S
        deadline = time.monotonic() + 10
        version = None
        while version is None and time.monotonic() < deadline:
            time.sleep(0.2)
            with capture.lock:
                versions = [d for t, d in capture.got if t.endswith("/catalogue/version") and d.get("count")]
            version = versions[-1]["version"] if versions else None
        assert version, "the imported catalogue's version was not published"
        ask("kiosk-1", "catalogue.page", page=0, version=version)
        # numbers from afar and bookings (issue 14): the web service asks, the kiosk checks in
        _numbers_and_bookings(site, centre, ask)
        time.sleep(0.5)  # the last hall summary (at most every 50 ms) and events
    finally:
        capture.stop()
    live = capture.by_kind(reply_ops)
    problems = []
    shown: dict[str, list[dict]] = {}
    for heading, kind, payload in examples:
        if kind in DEVICE_MADE or heading in DEVICE_MADE:
            continue
        if kind.startswith("reply "):
            op = kind.split(" ", 1)[1]
            if op in NOT_PERFORMED:
                continue
            kind = f"reply {op}" if payload.get("ok") else f"reply error {payload['error']['code']}"
        shown.setdefault(kind, []).append(payload)
    for kind, payloads in list(live.items()):
        if kind.startswith("reply "):
            errors = [p for p in payloads if not p.get("ok")]
            live[kind] = [p for p in payloads if p.get("ok")]
            for e in errors:
                live.setdefault(f"reply error {e['error']['code']}", []).append(e)
    live = {k: v for k, v in live.items() if v}
    for kind, payloads in shown.items():
        if kind not in live:
            if not kind.startswith("reply error "):  # a refusal this walkthrough did not cause
                problems.append(f"the page shows {kind} ({len(payloads)} examples), the walkthrough captured none")
            continue
        for payload in payloads:
            diffs = [differences(payload, got) for got in live[kind]]
            if all(diffs):
                best = min(diffs, key=len)
                problems.append(f"{kind} example {json.dumps(payload, ensure_ascii=False)[:120]}…: {best}")
    for kind, payloads in live.items():
        if kind in ("request", "reply ?") or kind in DEVICE_MADE:
            continue
        if kind not in shown:
            if not kind.startswith("reply error "):  # refusals: some codes only have an example
                problems.append(f"the centre publishes {kind}, the page has no example of it")
            continue
        for got in payloads:
            diffs = [differences(doc, got) for doc in shown[kind]]
            if all(diffs):
                problems.append(f"captured {kind} {json.dumps(got, ensure_ascii=False)[:120]}…: "
                                f"{min(diffs, key=len)}")
    assert not problems, "docs/protocol.md differs from what the centre publishes:\n" + "\n".join(
        sorted(set(problems)))

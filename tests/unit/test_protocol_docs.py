"""docs/protocol.md must say what motcua/protocol.py does.

These tests fail when the two drift apart: an operation, argument, topic or
error code added to the code but not to the page, a role table that no longer
matches ROLE_OPERATIONS, or a JSON example the code would no longer produce or
accept. No broker is needed.

Convention of the page: topics are written with the literal root of the sample
site, `motcua/hcc-demo/`, and with `<device>`, `<counter>` and `<service>` as
placeholders for the variable parts (e.g. `motcua/hcc-demo/request/<device>`).
JSON examples are in ```json blocks; each is one real payload.
"""
from __future__ import annotations

import inspect
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from motcua import protocol
from motcua.broker import acl_text, bridge_text
from motcua.config import ProvinceLink, load_site
from motcua.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "docs" / "protocol.md"
SITE_ID = "hcc-demo"
PLACEHOLDER_RE = {
    "<device>": protocol.DEVICE_ID_RE.pattern.strip("^$"),
    "<counter>": r"[0-9]+",
    "<service>": r"[A-Za-z0-9_]+",
}
TYPE_NAMES = {str: "string", int: "integer", bool: "boolean", dict: "object", type(None): "null"}


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site():
    return load_site(ROOT / "examples" / "site.toml")


def code_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.M | re.S)


def json_examples(text: str) -> list:
    out = []
    for i, block in enumerate(code_blocks(text, "json")):
        try:
            out.append(json.loads(block))
        except json.JSONDecodeError as exc:
            pytest.fail(f"JSON block {i + 1} of docs/protocol.md does not parse ({exc}):\n{block}")
    return out


def section(text: str, heading: str) -> str:
    """The text under a markdown heading, up to the next heading of any level <= its own."""
    m = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, flags=re.M)
    assert m, f"docs/protocol.md has no heading {heading!r}"
    level = len(m.group(1))
    rest = text[m.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, flags=re.M)
    return rest[:end.start()] if end else rest


def table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("|") and not re.match(r"^\|[\s|:-]+\|$", line):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def all_dicts(value):
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from all_dicts(v)
    elif isinstance(value, list):
        for v in value:
            yield from all_dicts(v)


def error_codes_in_code() -> dict[str, set[str]]:
    """Every error code the code can answer with, read from the source."""
    # a module's file, or every file of a package (motcua/dossiers/)
    src = {name: "\n".join(f.read_text(encoding="utf-8") for f in sorted(
               (ROOT / "motcua" / name).glob("*.py")) or [ROOT / "motcua" / f"{name}.py"])
           for name in ("engine", "service", "protocol", "dossiers")}
    queue_error = re.compile(r'(?:QueueError|Refused)\(\s*"([a-z_]+)"')
    return {
        "engine": set(queue_error.findall(src["engine"])),
        "service": set(queue_error.findall(src["service"]))
        | set(re.findall(r'reply_error\(\s*[^,()]+,\s*"([a-z_]+)"', src["service"])),
        "protocol": set(re.findall(r'BadRequest\(\s*\w+,\s*"([a-z_]+)"', src["protocol"])),
        # the dossier mirror's refusals reach devices through dossier.status / dossier.update
        "dossiers": set(re.findall(r'DossierError\(\s*"([a-z_]+)"', src["dossiers"]))
        - {"duplicate_row", "invalid_file"},  # import-file errors: the CLI's, never a reply
    }


def documented_topics(site) -> list[str]:
    """Every topic `Topics` makes, with placeholders for its arguments."""
    t = protocol.Topics(SITE_ID)
    out = []
    for name, member in inspect.getmembers(protocol.Topics):
        if name.startswith("_") or name == "device_of":
            continue
        if isinstance(member, property):
            out.append(getattr(t, name))
        elif inspect.isfunction(member):
            params = [p for p in inspect.signature(member).parameters if p != "self"]
            out.append(member(t, *(f"<{p}>" for p in params)))
    return out


# -- operations, arguments, roles ----------------------------------------------------------

def test_every_operation_and_its_arguments_are_documented(doc):
    for op, shape in protocol.OPERATIONS.items():
        assert f"`{op}`" in doc, f"operation {op} is not in docs/protocol.md"
        rows = {r[0]: r for r in table_rows(section(doc, f"`{op}`")) if r[0].startswith("`")}
        for name, (kind, required) in shape.items():
            assert f"`{name}`" in rows, f"argument {name!r} of {op} is not in its table in docs/protocol.md"
            kinds = kind if isinstance(kind, tuple) else (kind,)
            want_type = " or ".join(TYPE_NAMES[k] for k in kinds)
            _, doc_type, doc_required, *_ = rows[f"`{name}`"]
            assert doc_type == want_type, f"{op} {name}: the doc says {doc_type!r}, the code {want_type!r}"
            assert doc_required == ("yes" if required else "no"), f"{op} {name}: required is wrong"
        extra = set(rows) - {f"`{n}`" for n in shape}
        assert not extra, f"docs/protocol.md documents arguments of {op} the code does not take: {extra}"


def test_role_table_matches_role_operations(doc):
    rows = table_rows(section(doc, "Who may call what"))
    header, body = rows[0], rows[1:]
    roles = header[1:]
    assert set(roles) == set(protocol.ROLE_OPERATIONS), "the role table's columns are not the roles"
    documented_ops = [r[0].strip("`") for r in body]
    assert sorted(documented_ops) == sorted(protocol.OPERATIONS), "the role table's rows are not the operations"
    for row in body:
        op = row[0].strip("`")
        for role, cell in zip(roles, row[1:]):
            allowed = cell not in ("–", "-", "")
            assert allowed == (op in protocol.ROLE_OPERATIONS[role]), \
                f"docs/protocol.md says {role} {'may' if allowed else 'may not'} call {op}"


# -- topics ----------------------------------------------------------------------------------

def test_every_topic_is_documented(doc, site):
    topics = documented_topics(site)
    assert len(topics) >= 12, topics  # the introspection still finds the Topics API
    missing = [t for t in topics if f"`{t}`" not in doc]
    assert not missing, f"topics missing from docs/protocol.md (as `...`): {missing}"


def test_every_documented_topic_exists(doc, site):
    """The other way round: a topic on the page must be one the code or the broker set-up uses."""
    t = protocol.Topics(SITE_ID)
    known = set(documented_topics(site)) | {t.root + "/"}
    for d in site.devices:
        known |= {t.request(d.id), t.reply(d.id), t.device_availability(d.id), t.alert(d.id)}
    for c in site.counters:
        known |= {t.counter_state(c.number), t.rating(c.number)}
    for s in site.services:
        known.add(t.service_state(s.code))
    known |= {m.group(1) for m in re.finditer(r"^topic \w+ (\S+)$", acl_text(site), flags=re.M)}
    # the bridge to the province: the topics it carries and its notification
    bridge = bridge_text(site, ProvinceLink(host="province.example", cafile="/ca.crt", password="unused-here"))
    known |= set(re.findall(r"^notification_topic (\S+)$", bridge, flags=re.M))
    known |= set(re.findall(r"^topic (\S+) (?:in|out|both) ", bridge, flags=re.M))
    found = set(re.findall(rf"`({re.escape(t.root)}/[^`\s]*)`", doc))
    assert len(found) >= 12, found
    for topic in found:
        pattern = re.escape(topic)
        for ph, rx in PLACEHOLDER_RE.items():
            pattern = pattern.replace(re.escape(ph), rx)
        assert any(re.fullmatch(pattern, k) for k in known), \
            f"docs/protocol.md names {topic}, which neither protocol.Topics nor the ACL uses"


# -- error codes -------------------------------------------------------------------------------

def test_every_error_code_is_documented(doc):
    codes = error_codes_in_code()
    assert len(codes["engine"]) >= 15, "the QueueError regex no longer finds the engine's codes"
    assert {"forbidden", "unknown_ticket"} <= codes["service"]
    assert {"unknown_operation", "bad_arguments"} <= codes["protocol"]
    table = {r[0].strip("`") for r in table_rows(section(doc, "6. Error codes"))[1:]}
    every = set().union(*codes.values())
    missing = every - table
    assert not missing, f"error codes missing from the table in section 6 of docs/protocol.md: {missing}"
    stale = table - every
    assert not stale, f"section 6 of docs/protocol.md lists codes the code never raises: {stale}"


def test_errors_listed_with_each_operation_exist(doc):
    every = set().union(*error_codes_in_code().values())
    for op in protocol.OPERATIONS:
        text = section(doc, f"`{op}`")
        m = re.search(r"Errors: (.*?)\.\n", text, flags=re.S)
        assert m, f"the section of {op} lists no errors"
        listed = set(re.findall(r"`([a-z_]+)`", m.group(1)))
        assert listed and listed <= every, f"{op}: unknown error codes {listed - every}"


# -- JSON examples ------------------------------------------------------------------------------

def test_json_examples_are_payloads_the_code_accepts(doc):
    examples = json_examples(doc)
    assert examples, "docs/protocol.md has no ```json examples"
    every = set().union(*error_codes_in_code().values())
    request_ops: dict[str, str] = {}
    answered_ok: set[str] = set()
    for data in examples:
        assert isinstance(data, dict), f"a JSON example is not an object: {data!r}"
        assert data.get("v") == protocol.SCHEMA_VERSION, f"a JSON example lacks \"v\": 1: {data!r}"
        if "op" in data:  # a request
            protocol.decode(json.dumps(data).encode("utf-8"), max_bytes=16384)
            req = protocol.parse_request("kiosk-1", data)
            request_ops[req.id] = req.op
        elif "ok" in data:  # a reply
            assert protocol.REQUEST_ID_RE.match(data["id"])
            if data["ok"] is True:
                assert set(data) == {"v", "id", "ok", "result"} and isinstance(data["result"], dict)
                answered_ok.add(data["id"])
            else:
                assert set(data) == {"v", "id", "ok", "error"}
                # a refusal may add what a screen needs (a sign-in's tries_left, locked_until;
                # for a citizen's phone or the kiosk, issue 14: message_vi, limit, opens)
                assert {"code", "message"} <= set(data["error"]) <= {"code", "message", "tries_left",
                                                                      "locked_until", "message_vi", "limit",
                                                                      "opens"}
                assert data["error"]["code"] in every, data["error"]["code"]
    assert set(request_ops.values()) == set(protocol.OPERATIONS), \
        f"operations without a request example: {set(protocol.OPERATIONS) - set(request_ops.values())}"
    shown_ok = {request_ops[i] for i in answered_ok if i in request_ops}
    assert shown_ok == set(protocol.OPERATIONS), \
        f"operations without a successful reply example: {set(protocol.OPERATIONS) - shown_ok}"


def test_payload_examples_have_the_fields_the_builders_make(doc, site):
    """Each payload builder of protocol.py, run on a real engine, makes exactly the
    keys of some JSON example on the page, and each key is explained."""
    engine = Engine(site)
    now = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
    events, _ = engine.issue("HT", now, priority="cao_tuoi")
    ticket = engine.state.tickets[events[-1]["ticket"]["id"]]
    engine.sign_in(1, "nguyenvana", now, "Nguyễn Văn A")
    _, changes = engine.call_next(1, now)
    call = protocol.call_view(engine, changes.calls[0])
    counter = protocol.counter_view(engine, 1)
    made = {
        "ticket": protocol.ticket_view(engine, ticket),
        "counter state": counter,
        "counter reply result": {**counter, "finished": []},
        "current ticket of a counter": counter["ticket"],
        "service state": protocol.service_view(engine, "HT"),
        "call event": call,
        "hall summary": protocol.hall_view(engine, [call]),
        "availability": json.loads(protocol.availability(True)),
        "request": json.loads(protocol.request("counter.next", "x", counter=1)),
        "reply": json.loads(protocol.reply_ok("x", {})),
        "error": json.loads(protocol.reply_error("x", "forbidden", "no"))["error"],
    }
    # numbers from afar and bookings (issue 14)
    events, _ = engine.reserve("HT", "0912345678", now, device="web")
    made["reserved ticket"] = protocol.reserved_view(engine, engine.state.tickets[events[-1]["ticket"]["id"]])
    events, _ = engine.create_booking("HT", "2026-11-24", "09:00", "0987654321", now, device="web")
    made["booking"] = protocol.booking_view(engine, engine.state.bookings[events[-1]["booking"]["id"]])
    made["booking slots"] = protocol.slots_view(engine, "CT", [("2026-11-24", engine.slots("CT", "2026-11-24", now))])
    made["slot"] = made["booking slots"]["days"][0]["slots"][0]
    shown = {frozenset(d) - {"v"} for d in all_dicts(json_examples(doc))}
    for what, payload in made.items():
        keys = frozenset(payload) - {"v"}
        assert keys in shown, f"no JSON example in docs/protocol.md has the keys of a {what}: {sorted(keys)}"
        for key in keys:
            assert f"`{key}`" in doc or f"`{what.split()[0]}.{key}`" in doc or f"`error.{key}`" in doc, \
                f"the field {key!r} of a {what} is not explained in docs/protocol.md"


def test_the_topic_table_gives_the_qos_the_centre_publishes_with():
    """Replies and retained state at QoS 0, events at QoS 1: the table says so."""
    text = DOC_PATH.read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r"^\| `motcua/hcc-demo/([^`]+)` \|[^|\n]*\|[^|\n]*\| (\d) \|", text, re.M)}
    assert rows["reply/<device>"] == str(protocol.REPLY_QOS)
    for state in ("state/counter/<counter>", "state/service/<service>", "state/hall", "state/ratings",
                  "catalogue/version", "pad/<counter>"):
        assert rows[state] == str(protocol.STATE_QOS), state
    for event in ("event/call", "event/ticket"):
        assert rows[event] == str(protocol.EVENT_QOS), event


@pytest.mark.parametrize("version", ["true", "1.0", "\"1\"", "2", "null"])
def test_a_schema_version_other_than_the_integer_1_is_dropped(version):
    """§1: a message whose `v` is missing or not 1 is dropped; `true` and `1.0`
    equal 1 in Python but are not version 1."""
    raw = ('{"v":%s,"id":"a","op":"ticket.issue"}' % version).encode()
    with pytest.raises(protocol.ProtocolError, match="schema version"):
        protocol.decode(raw, 16384)


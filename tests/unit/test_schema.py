"""The shared checker (motcua.schema): declared fields, refusals with the path of
the key and the words of the input's own kind, and the per-schema switch that
refuses unknown keys naming the nearest known one."""
from __future__ import annotations

import pytest

from motcua import config, protocol
from motcua.schema import Context, Field, Invalid, Schema, Wording


def refusal(schema: Schema, data, **kw) -> tuple[str, str]:
    with pytest.raises(Invalid) as exc:
        schema.check(data, **kw)
    return exc.value.path, exc.value.message


COUNTER = Schema(number=Field(int, required=True, range=(1, 999), unique=True,
                              says={"duplicate": "counter {value} is listed twice"}),
                 services=Field(list, required=True),
                 name=Field(str, default=""))
SITE = Schema(centre=Field(table=Schema(port=Field(int, default=1883, range=(1, 65535)),
                                        timeout_s=Field((int, float), default=5.0, convert=float))),
              counters=Field(items=COUNTER, min_items=1, required=True))


def test_a_valid_table_gets_its_defaults_and_conversions():
    out = SITE.check({"centre": {"timeout_s": 2}, "counters": [{"number": 1, "services": ["HT"]}]})
    assert out == {"centre": {"port": 1883, "timeout_s": 2.0},
                   "counters": [{"number": 1, "services": ["HT"], "name": ""}]}
    assert isinstance(out["centre"]["timeout_s"], float)


@pytest.mark.parametrize("data,path,message", [
    ({"counters": []}, "counters", "has 0 entries; give at least 1"),
    ({}, "counters", "missing; add at least one [[counters]] entry"),
    ({"counters": {"number": 1}}, "counters", "must be written as [[counters]] tables"),
    ({"counters": [{"number": 1, "services": []}, {"number": 2}]}, "counters[1].services",
     "missing; this key is required"),
    ({"counters": [{"number": 1, "services": []}, {"number": 1, "services": []}]}, "counters[1].number",
     "counter 1 is listed twice"),
    ({"counters": [{"number": 0, "services": []}]}, "counters[0].number", "must be between 1 and 999"),
    ({"counters": [{"number": "1", "services": []}]}, "counters[0].number", "must be an integer, not str '1'"),
    ({"counters": [{"number": True, "services": []}]}, "counters[0].number",
     "must be an integer, not a boolean"),
    ({"centre": 3, "counters": [{"number": 1, "services": []}]}, "centre", "must be a table, not int"),
    ({"centre": {"timeout_s": False}, "counters": []}, "centre.timeout_s",
     "must be an integer or a number, not a boolean"),
])
def test_a_refusal_names_the_path_of_the_key(data, path, message):
    assert refusal(SITE, data) == (path, message)


def test_the_first_problem_wins_unless_every_problem_is_asked_for():
    data = {"centre": {"port": 0}, "counters": [{"number": "x"}]}
    assert refusal(SITE, data) == ("centre.port", "must be between 1 and 65535")
    with pytest.raises(Invalid) as exc:
        SITE.check(data, all_problems=True)
    assert exc.value.problems == [("centre.port", "must be between 1 and 65535"),
                                  ("counters[0].number", "must be an integer, not str 'x'"),
                                  ("counters[0].services", "missing; this key is required")]
    assert str(exc.value).startswith("centre.port: must be between 1 and 65535; counters[0].number")


def test_choices_patterns_lengths_and_blank_strings():
    schema = Schema(code=Field(str, required=True, pattern=r"[A-Z]{2}\Z", max_len=4),
                    kind=Field(str, default="usb", choices=("usb", "file")), blank_ok=False)
    assert refusal(schema, {"code": " "}) == ("code", "must not be empty")
    assert refusal(schema, {"code": "ABCDE"}) == ("code", "longer than 4 characters")
    assert refusal(schema, {"code": "AB1"}) == ("code", "'AB1' is not written the expected way")
    assert refusal(schema, {"code": "AB", "kind": "lpt"}) == ("kind", "'lpt' is not one of usb, file")
    assert schema.check({"code": "AB"}) == {"code": "AB", "kind": "usb"}
    # a blank string is taken where blanks are allowed
    assert Schema(code=Field(str, required=True)).check({"code": ""}) == {"code": ""}


def test_custom_checks_see_the_table_the_earlier_tables_and_the_top():
    def block(end: int, ctx: Context):
        if end <= ctx.values["start"]:
            raise ctx.refuse("the block ends before it starts", "start")

    def no_overlap(values: dict, ctx: Context):
        for other in ctx.earlier:
            if values["start"] <= other["end"] and other["start"] <= values["end"]:
                return f"overlaps {other['code']}"
        return None

    def known(code: str, ctx: Context):
        return None if code in {s["code"] for s in ctx.root["services"]} else f"unknown service {code!r}"

    service = Schema(code=Field(str, required=True), start=Field(int, required=True),
                     end=Field(int, required=True, check=block), check=no_overlap)
    schema = Schema(services=Field(items=service), counter=Field(table=Schema(serves=Field(str, check=known))))
    ok = {"services": [{"code": "HT", "start": 1, "end": 9}, {"code": "CT", "start": 10, "end": 19}],
          "counter": {"serves": "CT"}}
    assert schema.check(ok)["counter"] == {"serves": "CT"}
    assert refusal(schema, {"services": [{"code": "HT", "start": 5, "end": 1}]}) == \
        ("services[0].start", "the block ends before it starts")
    assert refusal(schema, {"services": [ok["services"][0], {"code": "CT", "start": 5, "end": 12}]}) == \
        ("services[1]", "overlaps HT")
    assert refusal(schema, {**ok, "counter": {"serves": "XX"}}) == ("counter.serves", "unknown service 'XX'")


def test_a_custom_check_also_judges_a_default():
    schema = Schema(role=Field(str, required=True),
                    counter=Field(int, check=lambda v, ctx: "a counter device must name its counter"
                                  if ctx.values["role"] == "counter" and v is None else None))
    assert schema.check({"role": "kiosk"}) == {"role": "kiosk", "counter": None}
    assert refusal(schema, {"role": "counter"}) == ("counter", "a counter device must name its counter")


def test_lists_of_values_and_entries_refused_one_by_one():
    text = Field(str, clean=str.strip, says={"wrong_type": "must be text, not {got}"})
    schema = Schema(steps=Field(each=text, convert=lambda xs: tuple(x for x in xs if x)),
                    docs=Field(items=Schema(name=Field(str, required=True)), per_item=True,
                               says={"not_a_table": "must be an object, not {type}"}),
                    null_is_absent=True)
    assert schema.check({"steps": [" a ", "", "b"], "docs": None}) == {"steps": ("a", "b"), "docs": None}
    with pytest.raises(Invalid) as exc:
        schema.check({"steps": ["a", 2, None], "docs": [3, {"name": "x"}, {}]}, all_problems=True)
    assert exc.value.problems == [("steps[1]", "must be text, not int 2"),
                                  ("steps[2]", "must be text, not NoneType None"),
                                  ("docs[0]", "must be an object, not int"),
                                  ("docs[2].name", "missing; this key is required")]
    assert refusal(schema, {"steps": "a"}) == ("steps", "must be a list, not str")


def test_listing_every_problem_a_lists_check_still_judges_the_entries_that_passed():
    codes = Schema(related=Field(each=Field(str), check=lambda xs, ctx: f"{len(xs)} entries passed"))
    with pytest.raises(Invalid) as exc:
        codes.check({"related": ["a", 1, "b"]}, all_problems=True)
    assert exc.value.problems == [("related[1]", "must be a string, not int 1"), ("related", "2 entries passed")]
    assert refusal(codes, {"related": ["a", 1, "b"]}) == ("related[1]", "must be a string, not int 1")


def test_null_counts_as_absent_where_the_schema_or_the_field_says_so():
    schema = Schema(name=Field(str, default=""), count=Field(int, default=1, null_is_absent=False),
                    null_is_absent=True)
    assert schema.check({"name": None}) == {"name": "", "count": 1}
    assert refusal(schema, {"count": None}) == ("count", "must be an integer, not NoneType None")


def test_parse_turns_a_value_into_what_the_caller_keeps_and_may_raise_its_own_error():
    class Refused(Exception):
        pass

    def day(value, ctx: Context):
        if value is None:
            raise Refused(f"{ctx.here}: missing; give a date")
        return f"day {value} ({ctx.context})"

    steps = Schema(at=Field(parse=day), note=Field(str, max_len=3))
    schema = Schema(steps=Field(items=steps, per_item=True, index_from=1,
                                says={"not_a_table": "must be an object {{at, note}}"}))
    assert schema.check({"steps": [{"at": 5}]}, context="Asia/Ho_Chi_Minh") == \
        {"steps": [{"at": "day 5 (Asia/Ho_Chi_Minh)", "note": None}]}
    with pytest.raises(Refused, match=r"^steps\[2\]\.at: missing"):
        schema.check({"steps": [{"at": 1}, {}]})
    with pytest.raises(Invalid) as exc:
        schema.check({"steps": [{"at": 1}, 7]})
    assert (exc.value.path, exc.value.message, exc.value.kind) == ("steps[2]", "must be an object {at, note}",
                                                                    "not_a_table")
    assert refusal(schema, {"steps": [{"at": 1, "note": "long"}]}) == ("steps[1].note", "longer than 3 characters")


def test_refuse_all_names_every_unknown_key_at_once_and_says_what_refused():
    schema = Schema(reason=Field(str, required=True), new_due_at=Field(str), unknown="refuse_all")
    with pytest.raises(Invalid) as exc:
        schema.check({"reason": "x", "why": 1, "also": 2}, path="apology")
    assert (exc.value.path, exc.value.message, exc.value.kind) == \
        ("apology", "unknown key(s) also, why; allowed: reason, new_due_at", "unknown")
    with pytest.raises(Invalid) as exc:
        schema.check_key("reason", {}, path="apology")
    assert (exc.value.path, exc.value.kind) == ("apology.reason", "missing")
    assert schema.check_key("new_due_at", {"new_due_at": "2026-12-01"}) == "2026-12-01"


def test_build_makes_the_checked_table_into_an_object():
    schema = Schema(items=Field(items=Schema(n=Field(int, required=True), build=lambda v: v["n"] * 2),
                                convert=tuple))
    assert schema.check({"items": [{"n": 1}, {"n": 2}]}) == {"items": (2, 4)}


def test_an_empty_table_may_count_as_absent():
    inner = Schema(secret=Field(str, required=True))
    schema = Schema(dossiers=Field(table=inner, absent_if_empty=True, default="defaults"))
    assert schema.check({}) == {"dossiers": "defaults"}
    assert schema.check({"dossiers": {}}) == {"dossiers": "defaults"}
    assert refusal(schema, {"dossiers": {"place": "Hà Nội"}}) == ("dossiers.secret", "missing; this key is required")


def test_each_kind_of_input_keeps_its_own_words():
    words = Wording(missing="{context} needs argument {name!r}",
                    wrong_type="argument {name!r} of {context} has the wrong type")
    schema = Schema(service=Field(str, required=True), wording=words)
    assert refusal(schema, {}, context="ticket.issue") == ("service", "ticket.issue needs argument 'service'")
    assert refusal(schema, {"service": 7}, context="ticket.issue") == \
        ("service", "argument 'service' of ticket.issue has the wrong type")


# -- unknown keys: a switch per schema ----------------------------------------------------------

KIOSK = Schema(idle_seconds=Field(int, default=60), admin_pin=Field(str, default="0000"),
               language=Field(str, default="vi"))


def test_unknown_keys_are_ignored_unless_the_schema_refuses_them():
    assert KIOSK.check({"admin-pin": "1234"}) == {"idle_seconds": 60, "admin_pin": "0000", "language": "vi"}
    strict = Schema(KIOSK.fields, unknown="refuse")
    site = Schema(kiosk=Field(table=strict))
    assert refusal(site, {"kiosk": {"admin-pin": "1234"}}) == \
        ("kiosk.admin-pin", "unknown key admin-pin in [kiosk]; did you mean admin_pin?")
    assert refusal(strict, {"colour": "red"}) == \
        ("colour", "unknown key colour in the top level; the keys here are idle_seconds, admin_pin, language")
    with pytest.raises(ValueError):
        Schema(KIOSK.fields, unknown="warn")


def test_every_table_of_the_site_file_refuses_unknown_keys():
    """Every table of the site file, nested ones and arrays of tables too, refuses a key
    it does not declare, naming the nearest known key in the site file's words."""
    def tables(schema):
        yield schema
        for f in schema.fields.values():
            for inner in (f.table, f.items):
                if inner is not None:
                    yield from tables(inner)
    assert config.UNKNOWN_KEYS == "refuse"
    assert all(t.unknown == "refuse" for t in tables(config.SITE))
    kiosk = config.SITE["kiosk"].table
    with pytest.raises(Invalid) as exc:
        kiosk.check({"admin-pin": "1234"}, path="kiosk")
    assert (exc.value.path, exc.value.message) == \
        ("kiosk.admin-pin", "unknown key admin-pin; did you mean admin_pin?")
    assert kiosk.check({"admin_pin": "1234"}) == config.KioskSettings(admin_pin="1234")


# -- the protocol's arguments are declared with it ----------------------------------------------

def test_request_arguments_are_schemas_whose_fields_unpack_as_type_and_required():
    shape = protocol.OPERATIONS["ticket.issue"]
    assert isinstance(shape, Schema) and shape.unknown == "refuse"
    assert [(name, *field) for name, field in shape.items()] == \
        [("service", str, True), ("priority", (str, type(None)), False)]


@pytest.mark.parametrize("op,args,message", [
    ("ticket.issue", {"service": "HT", "colour": 1}, "ticket.issue takes no argument 'colour'"),
    ("ticket.issue", {}, "ticket.issue needs argument 'service'"),
    ("counter.next", {"counter": True}, "argument 'counter' of counter.next has the wrong type"),
    ("counter.pause", {"counter": 1, "reason": "x" * 501}, "argument 'reason' is too long"),
    ("ticket.status", {"ticket": "1001", "day": "6/12/2026"}, "argument 'day' must be written YYYY-MM-DD"),
])
def test_a_bad_request_is_refused_with_todays_words(op, args, message):
    with pytest.raises(protocol.BadRequest) as exc:
        protocol.parse_request("kiosk-1", {"v": 1, "id": "r1", "op": op, "args": args})
    assert (exc.value.request_id, exc.value.code, exc.value.message) == ("r1", "bad_arguments", message)

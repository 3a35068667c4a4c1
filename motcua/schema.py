"""Declared shapes for structured input, and the one checker that holds input to them.

The site file, the arguments of protocol requests, procedure records and dossier
records are each declared as a `Schema`: named `Field`s with their type(s),
whether they are required, a default, allowed values, a range, a pattern, a
length limit, nested tables and arrays of tables, and a custom check for what
is particular to them. `Schema.check` walks the input in the declared order
and refuses it with `Invalid`, whose problems are (path, message) pairs such as
("counters[2].services", "a counter must serve at least one service"); the
caller prefixes its file or wraps the problem in its own error. Each kind of
input keeps its own words (what is wrong, what to do) through a `Wording` and
a field's `says`.

A schema may refuse keys it does not declare (`unknown="refuse"`), naming the
nearest known key: "unknown key admin-pin in [kiosk]; did you mean admin_pin?".

Pure Python (no Kivy, paho or sqlite): every program may import it.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any

# How a type is named in "must be ..., not ..." messages.
KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list"}


def kinds_in_words(kinds: tuple) -> str:
    """(int, float) -> "an integer or a number"."""
    return " or ".join(KIND_NAMES.get(k, k.__name__) for k in kinds)


class Invalid(ValueError):
    """Input that does not fit its schema. `problems` lists (path, message), in
    the order they were found; `path` and `message` are the first one's, and
    `kind` what refused it: the Wording entry ("missing", "unknown"...) or
    "check" for a custom check."""

    def __init__(self, problems: list[tuple[str, str]], kind: str = "check"):
        self.problems = list(problems)
        self.kind = kind
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in self.problems))

    @property
    def path(self) -> str:
        return self.problems[0][0]

    @property
    def message(self) -> str:
        return self.problems[0][1]


@dataclass(frozen=True)
class Wording:
    """What a kind of input says when it refuses something: str.format templates.

    Placeholders: {name} the key, {path} its full path, {context} what the caller
    passed as context (e.g. the operation), {value} the value (use {value!r}),
    {type} its type's name, {got} "a boolean" or "<type> <repr>", {kinds} the
    wanted types in words, {lo} {hi} a range or a count's bounds, {max_len},
    {choices} the allowed values, {count} how many entries there are and {bounds}
    how many there may be ("at least 1", "2 to 9"); for
    unknown keys {key}, {table} ("[kiosk]"), {known} and {hint} (the nearest
    known key as "did you mean …?", else the known keys), and for all of them
    at once (unknown_all) {keys}. A field's `says`
    overrides any of them for that field.
    """
    missing: str = "missing; this key is required"
    blank: str = "must not be empty"
    wrong_type: str = "must be {kinds}, not {got}"
    too_long: str = "longer than {max_len} characters"
    not_a_choice: str = "{value!r} is not one of {choices}"
    out_of_range: str = "must be between {lo} and {hi}"
    no_match: str = "{value!r} is not written the expected way"
    duplicate: str = "{value!r} is listed twice"
    missing_table: str = "missing table; add it"
    not_a_table: str = "must be a table, not {type}"
    missing_tables: str = "missing; add at least one [[{name}]] entry"
    not_tables: str = "must be written as [[{name}]] tables"
    not_a_list: str = "must be a list, not {type}"
    count: str = "has {count} entries; give {bounds}"
    unknown: str = "unknown key {key} in {table}; {hint}"
    unknown_all: str = "unknown key(s) {keys}; allowed: {known}"


@dataclass(frozen=True, eq=False)
class Field:
    """One key of a table.

    The checks run in this order, the first refusal winning: present (else
    `required` refuses it, or `default` is taken), type (a boolean is never taken
    for a number), then a string is tidied by `clean` and must be non-blank (if
    required and its schema has `blank_ok=False`) and at most `max_len` long;
    `choices`, `range` (inclusive; None for an open end), `pattern` (re.match:
    anchor it), `unique` (among the tables of the same array), the nested
    `table`, array of `items` tables or array of values held to `each`, then the
    custom `check`, `parse` and last `convert`. When every problem is listed,
    an `each` list's check still judges the entries that passed. The built-in checks look only at
    a given value (defaults are trusted); `check` and `parse` also see the default.

    `check(value, ctx)` returns None, or a message for this field, or raises
    `ctx.refuse(message, key)` to point at another key of the same table.
    `parse(value, ctx)` returns the value to keep, or raises (Invalid, or the
    caller's own error, which goes through untouched); `ctx.here` is the path
    of the key.
    A field unpacks as (type, required), the two columns docs/protocol.md shows.
    """
    type: type | tuple[type, ...] = object
    required: bool = False
    default: Any = None
    choices: tuple | None = None
    range: tuple[Any, Any] | None = None
    pattern: re.Pattern | str | None = None
    max_len: int | None = None
    unique: bool = False
    table: Schema | None = None          # a nested table
    items: Schema | None = None          # an array of tables
    each: Field | None = None            # an array of values, each held to this field
    min_items: int = 0
    max_items: int | None = None
    per_item: bool = False               # refuse a non-table entry alone (not_a_table at its index)
    absent_if_empty: bool = False        # an empty nested table counts as absent (default)
    clean: Callable[[str], str] | None = None   # tidies a string before its value is judged
    null_is_absent: bool | None = None   # None: as the schema says
    check: Callable[[Any, Context], str | None] | None = None
    parse: Callable[[Any, Context], Any] | None = None
    convert: Callable[[Any], Any] | None = None
    index_from: int = 0                  # how an array's entries are numbered in paths
    says: Mapping[str, str] = _field(default_factory=dict)

    def __post_init__(self):
        kind = dict if self.table is not None else list if (self.items or self.each) is not None else self.type
        object.__setattr__(self, "type", kind)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        object.__setattr__(self, "kinds", kinds)
        # true and false are ints in Python; never take one for a number
        object.__setattr__(self, "no_bool", bool not in kinds and object not in kinds)
        if isinstance(self.pattern, str):
            object.__setattr__(self, "pattern", re.compile(self.pattern))

    def __iter__(self) -> Iterator:
        yield self.type
        yield self.required


@dataclass
class Context:
    """What a custom check may look at: the table being checked (its path and
    the values accepted so far), the checked tables before it in the same array,
    the top table's values so far, and the caller's context."""
    path: str
    values: dict
    earlier: list
    root: dict
    context: Any = ""
    key: str = ""           # the field being checked

    @property
    def here(self) -> str:
        """The path of the field being checked."""
        return self.at(self.key)

    def at(self, key: str = "") -> str:
        """The path of a key of this table ("" for the table itself)."""
        if not key:
            return self.path
        return f"{self.path}.{key}" if self.path else key

    def refuse(self, message: str, key: str = "") -> Invalid:
        return Invalid([(self.at(key), message)])


class Schema(Mapping):
    """The declared keys of one table, in the order they are checked (a mapping
    of name -> Field).

    unknown: "ignore" keys that are not declared, or "refuse" each of them
    (wording `unknown`, at the key's own path), or "refuse_all": one refusal
    naming them all (wording `unknown_all`, at the table's path).
    blank_ok=False refuses blank required strings. null_is_absent: a null
    (None) value counts as absent. check(values, ctx) runs once every field
    passed; build(values) makes the checked table into what the caller wants
    (a dataclass...).
    """

    def __init__(self, fields: Mapping[str, Field] | None = None, *, unknown: str = "ignore",
                 wording: Wording = Wording(), blank_ok: bool = True, null_is_absent: bool = False,
                 check: Callable[[dict, Context], str | None] | None = None,
                 build: Callable[[dict], Any] | None = None, **more: Field):
        if unknown not in ("ignore", "refuse", "refuse_all"):
            raise ValueError(f"unknown must be 'ignore', 'refuse' or 'refuse_all', not {unknown!r}")
        self.fields: dict[str, Field] = {**(fields or {}), **more}
        self.unknown = unknown
        self.wording = wording
        self.blank_ok = blank_ok
        self.null_is_absent = null_is_absent
        self.table_check = check
        self.build = build

    def __getitem__(self, name: str) -> Field:
        return self.fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __repr__(self) -> str:
        return f"Schema({', '.join(self.fields)})"

    def check(self, data: Any, *, path: str = "", context: Any = "", all_problems: bool = False) -> Any:
        """The checked (and built) table, or Invalid: at the first problem, or
        with every problem found when all_problems (a field that fails takes its
        default and the walk goes on)."""
        run = _Run(all_problems, context)
        if not isinstance(data, dict):
            run.refuse(path, self.wording.not_a_table.format(**_info(self.wording, path, path, data)),
                       "not_a_table")
            raise Invalid(run.problems, run.kind)
        out = run.table(self, data, path, [])
        if run.problems:
            raise Invalid(run.problems, run.kind)
        return out

    def check_key(self, name: str, data: dict, *, path: str = "", context: Any = "") -> Any:
        """One declared key of `data` (a table at `path`), checked alone: its
        value, or Invalid at its first problem."""
        run = _Run(False, context)
        ctx = Context(path, {}, [], {}, context)
        return run.field(self, self.fields[name], name, data, ctx)


def _info(w: Wording, name: str, path: str, value: Any = None, context: Any = "", **more) -> dict:
    got = "a boolean" if isinstance(value, bool) else f"{type(value).__name__} {value!r}"
    return {"name": name, "path": path, "context": context, "value": value,
            "type": type(value).__name__, "got": got, "kinds": "", "lo": None, "hi": None,
            "max_len": None, "choices": "", "count": None, "bounds": "", "keys": "", "key": "",
            "table": "", "known": "", "hint": "", **more}


class _Run:
    """One walk of the input: fails fast, or collects every problem."""

    def __init__(self, collect: bool, context: Any):
        self.collect = collect
        self.context = context
        self.problems: list[tuple[str, str]] = []
        self.kind = ""          # of the first problem
        self.root: dict | None = None

    def refuse(self, path: str, message: str, kind: str) -> None:
        if not self.collect:
            raise Invalid([(path, message)], kind)
        self.kind = self.kind or kind
        self.problems.append((path, message))

    def caught(self, exc: Invalid) -> None:
        if not self.collect:
            raise exc
        self.kind = self.kind or exc.kind
        self.problems.extend(exc.problems)

    def table(self, schema: Schema, data: dict, path: str, earlier: list) -> Any:
        values: dict = {}
        if self.root is None:
            self.root = values
        ctx = Context(path, values, earlier, self.root, self.context)
        before = len(self.problems)
        if schema.unknown != "ignore":
            self.unknown_keys(schema, data, path)
        for name, f in schema.fields.items():
            values[name] = self.field(schema, f, name, data, ctx)
        if schema.table_check is not None and len(self.problems) == before:
            self.custom(schema.table_check, values, ctx, path)
        earlier.append(values)
        if len(self.problems) > before:
            return None
        return schema.build(values) if schema.build is not None else values

    def unknown_keys(self, schema: Schema, data: dict, path: str) -> None:
        known = list(schema.fields)
        if schema.unknown == "refuse_all":
            unknown = sorted(str(k) for k in data if k not in schema.fields)
            if unknown:
                self.refuse(path, schema.wording.unknown_all.format(**_info(
                    schema.wording, path, path, None, self.context, keys=", ".join(unknown),
                    known=", ".join(known))), "unknown")
            return
        for key, value in data.items():
            if key in schema.fields:
                continue
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {near[0]}?" if near else f"the keys here are {', '.join(known)}"
            table = f"[{path}]" if path else "the top level"
            at = f"{path}.{key}" if path else str(key)
            self.refuse(at, schema.wording.unknown.format(**_info(
                schema.wording, str(key), at, value, self.context, key=key, table=table,
                known=", ".join(known), hint=hint)), "unknown")

    def custom(self, fn: Callable, value: Any, ctx: Context, path: str) -> bool:
        try:
            message = fn(value, ctx)
        except Invalid as exc:
            self.caught(exc)
            return False
        if message is not None:
            self.refuse(path, message, "check")
            return False
        return True

    def fail(self, schema: Schema, f: Field, name: str, ctx: Context, kind: str, value: Any = None,
             **more) -> Any:
        """Refuse a field in its schema's words (or the field's own), and give its default."""
        path = ctx.at(name)
        text = f.says.get(kind) or getattr(schema.wording, kind)
        self.refuse(path, text.format(**_info(schema.wording, name, path, value, self.context, **more)), kind)
        return f.default

    def field(self, schema: Schema, f: Field, name: str, data: dict, ctx: Context) -> Any:
        if name not in data or (data[name] is None and (
                schema.null_is_absent if f.null_is_absent is None else f.null_is_absent)):
            if f.required:
                return self.fail(schema, f, name, ctx, "missing_table" if f.table is not None else
                                 "missing_tables" if f.items is not None else "missing")
            return self.judged(f, name, f.default, ctx)[1]
        return self.value(schema, f, name, data[name], ctx)

    def value(self, schema: Schema, f: Field, name: str, value: Any, ctx: Context) -> Any:
        """A given value of a field, checked, checked further by `check`, converted."""
        if f.table is not None:
            if not isinstance(value, dict):
                return self.fail(schema, f, name, ctx, "not_a_table", value)
            if f.absent_if_empty and not value:
                return f.default
            before = len(self.problems)
            value = self.table(f.table, value, ctx.at(name), [])
            if len(self.problems) > before:
                return f.default
        elif f.items is not None:
            if not isinstance(value, list) or not (f.per_item or all(isinstance(v, dict) for v in value)):
                return self.fail(schema, f, name, ctx, "not_tables", value)
            if len(value) < f.min_items or (f.max_items is not None and len(value) > f.max_items):
                bounds = (f"at least {f.min_items}" if f.max_items is None else
                          f"{f.min_items} to {f.max_items}" if f.min_items else f"at most {f.max_items}")
                return self.fail(schema, f, name, ctx, "count", value, count=len(value), lo=f.min_items,
                                 hi=f.max_items, bounds=bounds)
            before = len(self.problems)
            path, checked = ctx.at(name), []
            value = [self.table(f.items, item, f"{path}[{i}]", checked) if isinstance(item, dict) else
                     self.fail(schema, f, f"{name}[{i}]", ctx, "not_a_table", item)
                     for i, item in enumerate(value, f.index_from)]
            if len(self.problems) > before:
                return f.default
        elif f.each is not None:
            if not isinstance(value, list):
                return self.fail(schema, f, name, ctx, "not_a_list", value)
            before = len(self.problems)
            passed = []
            for i, item in enumerate(value, f.index_from):
                n = len(self.problems)
                item = self.value(schema, f.each, f"{name}[{i}]", item, ctx)
                if len(self.problems) == n:
                    passed.append(item)
            if len(self.problems) > before:
                # listing every problem: the list's own check still judges the entries that passed
                self.judged(f, name, passed, ctx)
                return f.default
            value = passed
        else:
            if f.clean is not None and value.__class__ is str:
                value = f.clean(value)
            wrong = _scalar(schema, f, name, value, ctx)
            if wrong is not None:
                kind, value, more = wrong
                return self.fail(schema, f, name, ctx, kind, value, **more)
        ok, value = self.judged(f, name, value, ctx)
        return f.convert(value) if ok and f.convert is not None else value

    def judged(self, f: Field, name: str, value: Any, ctx: Context) -> tuple[bool, Any]:
        """(passed, the value after the field's custom check and parse, or its default)."""
        if f.check is None and f.parse is None:
            return True, value
        ctx.key = name
        if f.check is not None and not self.custom(f.check, value, ctx, ctx.at(name)):
            return False, f.default
        if f.parse is not None:
            try:
                return True, f.parse(value, ctx)
            except Invalid as exc:
                self.caught(exc)
                return False, f.default
        return True, value


def _scalar(schema: Schema, f: Field, name: str, value: Any, ctx: Context) -> tuple | None:
    """What is wrong with a given value by the field's built-in checks: (wording, value,
    details), or None."""
    if (value.__class__ is bool and f.no_bool) or not isinstance(value, f.kinds):
        return "wrong_type", value, {"kinds": kinds_in_words(f.kinds)}
    if value.__class__ is str:
        if f.required and not schema.blank_ok and not value.strip():
            return "blank", value, {}
        if f.max_len is not None and len(value) > f.max_len:
            return "too_long", value, {"max_len": f.max_len}
    if f.choices is not None and value not in f.choices:
        return "not_a_choice", value, {"choices": ", ".join(map(str, f.choices))}
    if f.range is not None:
        lo, hi = f.range
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return "out_of_range", value, {"lo": lo, "hi": hi}
    if f.pattern is not None and not f.pattern.match(value):
        return "no_match", value, {}
    if f.unique and any(e.get(name) == value for e in ctx.earlier):
        return "duplicate", value, {}
    return None

"""What the province demo (`motcua province demo`) runs, as data and pure text:
each demo centre's traffic profile, the site file a centre gets (made from
examples/site.toml), the demo's provincial file (made from the one given), and
the sample dossiers moved to today. Part of the core: no I/O, no clock (the day
is passed in).

The three profiles differ on purpose, so the province board shows differences:
a busy ward with many dossiers late and one apologised for while the demo runs,
a middling one with a counter that pauses, a quiet commune with a counter that
closes for a while and nothing late.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .config import Province

# The sample dossiers (examples/dossiers.json) are written as seen on this day: moved
# so that this day is today, the same ones are late, due or settled whenever the demo runs.
SAMPLE_AS_OF = date(2026, 11, 24)

# The demo's officers: one per staffed counter, all with motcua.cli.demo's PIN.
OFFICERS = (("nguyenvana", "Nguyễn Văn A"), ("tranthib", "Trần Thị B"), ("lethic", "Lê Thị C"),
            ("phamvand", "Phạm Văn D"))

SETTLED = ("returned", "refused", "withdrawn", "stopped")


@dataclass(frozen=True)
class Profile:
    """One demo centre's simulated day."""
    kind: str                          # words for the demo's own output
    counters: tuple[int, ...]          # staffed counters, each with one officer of OFFICERS
    arrival_s: float                   # mean time between two citizens taking a number
    service_s: tuple[float, float]     # a citizen's time at the counter, uniform in this range
    levels: tuple[float, ...]          # how often each pad button (1 = best) is pressed
    rated: float                       # share of finished tickets rated on the pad
    attach: float                      # share of finished tickets with a dossier attached
    max_waiting: int                   # no new numbers while this many wait (keeps the queue bounded)
    dossiers: str                      # which sample dossiers it mirrors: all, odd, settled
    apology_after_s: float | None = None   # the one-stop software sends an apology for one late dossier
    pause: tuple[int, float, float] | None = None   # counter, every s, paused for s
    close: tuple[int, float, float] | None = None   # counter, first after s, closed for s
    no_show: float = 0.04


PROFILES = (
    Profile("a busy ward", counters=(1, 2, 3, 4), arrival_s=1.8, service_s=(5, 11),
            levels=(0.62, 0.28, 0.08, 0.02), rated=0.85, attach=0.4, max_waiting=30, dossiers="all",
            apology_after_s=40),
    Profile("a middling ward", counters=(1, 3, 5, 6), arrival_s=2.6, service_s=(5, 11),
            levels=(0.35, 0.35, 0.2, 0.1), rated=0.7, attach=0.3, max_waiting=20, dossiers="odd",
            pause=(6, 75, 40)),
    Profile("a quiet commune", counters=(1, 2), arrival_s=5.0, service_s=(6, 12),
            levels=(0.2, 0.3, 0.3, 0.2), rated=0.6, attach=0.2, max_waiting=10, dossiers="settled",
            close=(2, 50, 45)),
)


def profile_of(index: int) -> Profile:
    """The profile of the index-th centre of the provincial file (they repeat after three)."""
    return PROFILES[index % len(PROFILES)]


# -- the sample dossiers, moved to today ---------------------------------------------------------

def days_to_today(today: date) -> int:
    return (today - SAMPLE_AS_OF).days


def _day(text: str, days: int) -> str:
    return (date.fromisoformat(text) + timedelta(days=days)).isoformat()


def _moment(text: str, days: int) -> str:
    return (datetime.fromisoformat(text) + timedelta(days=days)).isoformat()


CODE_DATE_RE = re.compile(r"-(\d{6})-(\d{4})$")


def shift_code(code: str, days: int) -> str:
    """000.00.31.H12-261102-0004 moved by `days`: the date in the code follows the
    dossier's received_at (the import checks that they agree)."""
    m = CODE_DATE_RE.search(code)
    if m is None:
        raise ValueError(f"dossier code {code!r} has no -YYMMDD-NNNN at its end")
    d = datetime.strptime(m[1], "%y%m%d").date() + timedelta(days=days)
    return f"{code[:m.start()]}-{d:%y%m%d}-{m[2]}"


def shift_dossier(record: dict, days: int) -> dict:
    """A sample dossier (the import format) with every date and time moved by `days`,
    its code too; everything else as it was."""
    out = dict(record)
    out["code"] = shift_code(record["code"], days)
    if record.get("received_at"):
        out["received_at"] = _moment(record["received_at"], days)
    if record.get("due_at"):
        out["due_at"] = _day(record["due_at"], days)
    out["steps"] = [{**s, "at": _moment(s["at"], days)} if s.get("at") else dict(s)
                    for s in record.get("steps") or []]
    if record.get("apology"):
        a = dict(record["apology"])
        if a.get("new_due_at"):
            a["new_due_at"] = _day(a["new_due_at"], days)
        if a.get("issued_at"):
            a["issued_at"] = _moment(a["issued_at"], days)
        out["apology"] = a
    return out


def dossiers_for(records: list[dict], which: str, today: date) -> list[dict]:
    """The sample dossiers a demo centre mirrors, moved to today: `all`, `odd` (every
    other one, from the second) or `settled` (only those closed or apologised for:
    none late without an apology)."""
    if which == "all":
        chosen = records
    elif which == "odd":
        chosen = records[1::2]
    elif which == "settled":
        chosen = [r for r in records if r.get("apology") or r.get("status") in SETTLED]
    else:
        raise ValueError(f"unknown dossier selection {which!r}: all, odd or settled")
    days = days_to_today(today)
    return [shift_dossier(r, days) for r in chosen]


# -- the files the demo writes --------------------------------------------------------------------

class TemplateError(ValueError):
    """The sample site file lacks what the demo changes in it."""


def _toml(value) -> str:
    """A TOML value: JSON's strings are TOML basic strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def _set_in_table(text: str, table: str, key: str, value) -> str:
    """`key = …` of `[table]` set to value (the line's comment kept)."""
    start = re.search(rf"^\[{re.escape(table)}\][ \t]*(#.*)?$", text, flags=re.M)
    if start is None:
        raise TemplateError(f"the sample site file has no [{table}] table")
    end = re.search(r"^\[", text[start.end():], flags=re.M)
    stop = start.end() + (end.start() if end else len(text) - start.end())
    body = text[start.end():stop]
    line = re.compile(rf"^({re.escape(key)}[ \t]*=[ \t]*)(\"(?:[^\"\\]|\\.)*\"|[^#\n]*?)([ \t]*(#.*)?)$", re.M)
    if not line.search(body):
        raise TemplateError(f"the sample site file has no {key} in [{table}]")
    body = line.sub(lambda m: m[1] + _toml(value) + m[3], body, count=1)
    return text[:start.end()] + body + text[stop:]


def centre_site_text(template: str, *, centre_id: str, name: str, broker_port: int, province_host: str,
                     province_port: int, cafile: str, password: str) -> str:
    """A demo centre's site file: the sample site (examples/site.toml) with the
    centre's id and name from the provincial file, its data in `data/` beside the
    file, its own broker port, and [province]: the bridge over TLS to the demo's
    provincial broker with the centre's password there."""
    text = template
    for table, key, value in (("site", "id", centre_id), ("site", "name", name),
                              ("centre", "data_dir", "data"), ("broker", "port", broker_port)):
        text = _set_in_table(text, table, key, value)
    text = text.replace('"../var/', '"data/')   # the kiosk's printer spool file and such
    if re.search(r"^\[province\]", text, flags=re.M):
        for key, value in (("host", province_host), ("port", province_port), ("cafile", cafile),
                           ("password", password)):
            text = _set_in_table(text, "province", key, value)
        return text
    return (text.rstrip("\n") + "\n\n# The bridge to the demo's provincial broker (motcua province demo).\n"
            f"[province]\nhost = {_toml(province_host)}\nport = {province_port}\ncafile = {_toml(cafile)}\n"
            f"password = {_toml(password)}\n")


def province_text(p: Province, *, data_dir: str, dsn: str, cafile: str, certfile: str, keyfile: str,
                  tls_host: str = "127.0.0.1") -> str:
    """The demo's provincial file: the one given, with the demo's data folder, its
    certificates, its TLS listener on the loopback and its database's DSN."""
    b, a = p.broker, p.alerts
    lines = ["# Written by `motcua province demo` from " + str(p.path) + "; the next run writes it again.",
             "", "[province]", f"id = {_toml(p.id)}", f"name = {_toml(p.name)}", f"timezone = {_toml(p.timezone)}",
             f"data_dir = {_toml(data_dir)}", "", "[broker]", f"host = {_toml(b.host)}", f"port = {b.port}",
             f"tls_port = {b.tls_port}", f"tls_host = {_toml(tls_host)}", f"tls_cafile = {_toml(cafile)}",
             f"tls_certfile = {_toml(certfile)}", f"tls_keyfile = {_toml(keyfile)}", "",
             "[database]", f"dsn = {_toml(dsn)}", "", "[hub]", f"password = {_toml(p.hub_password)}", "",
             "[board]", f"password = {_toml(p.board_password)}",
             "office_hours = " + _toml([f"{s:%H:%M}-{e:%H:%M}" for s, e in p.office_hours]),
             "office_days = " + _toml([d + 1 for d in p.office_days]),
             f"offline_after_s = {a.offline_after_s!r}", f"counter_closed_min = {a.counter_closed_min!r}",
             f"counter_paused_min = {a.counter_paused_min!r}", f"wait_min = {a.wait_min!r}", ""]
    for c in p.centres:
        lines += ["[[centres]]", f"id = {_toml(c.id)}", f"name = {_toml(c.name)}",
                  f"password = {_toml(c.password)}", ""]
    return "\n".join(lines)

"""Site configuration: one TOML file describes a centre.

Loading validates everything before anything starts, and every problem names
the file, the key and what is wrong, so nothing runs half-configured.
"""
from __future__ import annotations

import difflib
import logging
import os
import re
import textwrap
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .schema import Context, Field, Invalid, Schema, Wording

log = logging.getLogger("motcua.config")

ROLES = ("centre", "kiosk", "display", "counter", "pad", "admin", "integration", "web")
SITE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
DEVICE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
SERVICE_CODE_RE = re.compile(r"^[A-Za-z0-9_]{1,16}$")
PREFIX_RE = re.compile(r"^[A-Z]{0,3}$")

DEFAULT_RATING_LEVELS = (
    # HappyOrNot-style 4 levels with no neutral-free trick: the site may change them.
    {"code": "rat_hai_long", "name_vi": "Rất hài lòng", "name_en": "Very satisfied", "weight": 100.0},
    {"code": "hai_long", "name_vi": "Hài lòng", "name_en": "Satisfied", "weight": 66.7},
    {"code": "binh_thuong", "name_vi": "Bình thường", "name_en": "Neutral", "weight": 33.3},
    {"code": "khong_hai_long", "name_vi": "Không hài lòng", "name_en": "Not satisfied", "weight": 0.0},
)

DEFAULT_PRIORITIES = (
    {"code": "cao_tuoi", "name_vi": "Người cao tuổi", "name_en": "Elderly person"},
    {"code": "khuyet_tat", "name_vi": "Người khuyết tật", "name_en": "Person with a disability"},
    {"code": "co_thai", "name_vi": "Phụ nữ có thai", "name_en": "Pregnant woman"},
    {"code": "co_cong", "name_vi": "Người có công với cách mạng", "name_en": "Person of merit to the revolution"},
)


class SiteConfigError(ValueError):
    """The site file is wrong; the message says where and how to fix it."""


@dataclass(frozen=True)
class Service:
    code: str
    name_vi: str
    name_en: str
    start: int
    end: int
    prefix: str = ""
    digits: int = 0  # zero-pad to this many digits; 0 = no padding

    def label(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.digits}d}" if self.digits else f"{self.prefix}{number}"


@dataclass(frozen=True)
class Counter:
    number: int
    name: str
    services: tuple[str, ...]


@dataclass(frozen=True)
class Priority:
    code: str
    name_vi: str
    name_en: str


@dataclass(frozen=True)
class RatingLevel:
    code: str
    name_vi: str
    name_en: str
    weight: float


@dataclass(frozen=True)
class PrinterSettings:
    """An ESC/POS ticket printer (python-escpos): kind usb, serial, network or
    file (a device node or a file, for tests and spooling)."""
    kind: str
    usb_vendor: int | None = None
    usb_product: int | None = None
    port: str | None = None        # serial device, or file path for kind = "file"
    baudrate: int = 19200
    host: str | None = None        # network printer
    tcp_port: int = 9100
    width_px: int = 576            # 80 mm paper at 203 dpi; 384 for 58 mm
    timeout_s: float = 3.0


@dataclass(frozen=True)
class ScannerSettings:
    """A serial QR scanner (pyserial). Keyboard-wedge scanners need no setting."""
    port: str
    baudrate: int = 9600


@dataclass(frozen=True)
class Device:
    id: str
    role: str
    password: str
    counter: int | None = None  # counter and pad roles are bound to one counter
    name: str = ""
    printer: PrinterSettings | None = None   # kiosks
    scanner: ScannerSettings | None = None   # kiosks
    speaks: bool = False                     # displays: announce calls aloud


@dataclass(frozen=True)
class KioskSettings:
    admin_pin: str                 # opens the settings screen; never defaulted
    idle_seconds: int = 60         # back to the home screen and forget what was typed
    language: str = "vi"


@dataclass(frozen=True)
class DossierSettings:
    agency_code: str = "000.00.00.H00"
    # Signs the QR code on receipts, so that a guessed dossier code reveals nothing.
    secret: str = ""
    # The national dossier code: <unit code>-<YYMMDD received>-<4-digit daily sequence>.
    # Kept configurable: whether Thông tư 03/2025 changed it is unconfirmed.
    code_pattern: str = r"^(?P<agency>[0-9A-Za-z.]+)-(?P<date>\d{6})-(?P<seq>\d{4})$"
    lookup_code_length: int = 6
    # The place on the date line of letters ("Hà Nội, ngày ..."); none: "Ngày ...".
    place: str = ""


@dataclass(frozen=True)
class QueueRules:
    priority_max_consecutive: int = 3
    default_service_minutes: float = 6.0
    estimate_window: int = 20
    # Until this many real service times are known, the default counts for the rest.
    estimate_min_samples: int = 5


@dataclass(frozen=True)
class BrokerSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    tls_port: int | None = None
    tls_cafile: str | None = None
    tls_certfile: str | None = None
    tls_keyfile: str | None = None


@dataclass(frozen=True)
class ProvinceLink:
    """[province]: the centre's side of the bridge to the provincial broker
    (docs/province.md). The centre logs in there as its site id: the province's
    ACL ties that user to the topic root motcua/<site id>, so no other name is offered."""
    host: str
    cafile: str                # the province's CA certificate: the bridge is TLS, always verified
    password: str              # this centre's password on the provincial broker (province.toml [[centres]])
    port: int = 8883
    web: bool = False          # the bridge also carries the province's `motcua web` (docs/web.md, "At the province")
    web_device: str | None = None   # that web's device here (role "web"); None: the site file's only one


@dataclass(frozen=True)
class SlotRule:
    """[[web.slots]]: bookable slots of a service on some weekdays (issue 14)."""
    service: str
    days: tuple[int, ...]      # ISO weekdays: 1 Monday (Thứ Hai) … 7 Sunday (Chủ nhật)
    times: tuple[str, ...]     # each slot's local start, "08:00" (start/end/every written out)
    capacity: int              # bookings a slot takes
    every: int = 30            # minutes: each slot's length


@dataclass(frozen=True)
class WebSettings:
    """[web]: the citizen's phone (docs/web.md): signed links, numbers taken from
    afar and bookings. Its secret is never defaulted."""
    base_url: str
    secret: str                         # signs the links in QR codes (motcua.web_tokens)
    remote_tickets: bool = False        # numbers from afar (lấy số từ xa) offered
    remote_services: tuple[str, ...] = ()   # of these services only; empty: every service
    remote_per_service_per_day: int = 50
    per_phone_per_day: int = 2          # numbers and bookings one phone may hold for one day
    remote_window_min: int = 60         # a number from afar lapses unless checked in by then
    booking_days_ahead: int = 6         # bookings for today and this many days ahead
    booking_max_consecutive: int = 2    # after this many bookings called in a row, a walk-in's turn
    booking_grace_min: int = 15         # check-in from this long before a slot to this long after it
    slots: tuple[SlotRule, ...] = ()
    # Days with no bookings and no numbers from afar (public holidays, Tết): every
    # day of closed_days, ranges written out, sorted (motcua.bookings.is_closed).
    closed_days: tuple = ()
    notifier_url: str | None = None         # the SMS / Zalo gateway's webhook (docs/web.md, notify.py)
    notifier_token_file: str | None = None  # its token, in a file of its own (never in this file)


class CentreDescription:
    """What a centre's reports ask of its description: its time zone, a service by
    code, a counter by number. A site file (Site) and a centre's description shipped
    to the province (motcua.province.ranking.CentreSite) both answer it."""
    timezone: str
    services: tuple
    counters: tuple

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def service(self, code: str) -> Service:
        for s in self.services:
            if s.code == code:
                return s
        raise KeyError(code)

    def counter(self, number: int) -> Counter:
        for c in self.counters:
            if c.number == number:
                return c
        raise KeyError(number)


@dataclass(frozen=True)
class Site(CentreDescription):
    path: Path
    id: str
    name: str
    name_en: str
    timezone: str
    data_dir: Path
    broker: BrokerSettings
    queue: QueueRules
    services: tuple[Service, ...]
    counters: tuple[Counter, ...]
    priorities: tuple[Priority, ...]
    rating_levels: tuple[RatingLevel, ...]
    devices: tuple[Device, ...]
    kiosk: KioskSettings           # its admin PIN and
    dossiers: DossierSettings      # its secret are never defaulted
    request_timeout_s: float = 5.0
    max_payload_bytes: int = 16384
    rating_prompt_timeout_s: float = 60.0   # [rating] prompt_timeout_s: a pad's prompt ends unanswered
    province: ProvinceLink | None = None    # [province]: bridge the centre's broker to its province
    web: WebSettings | None = None          # [web]: the citizen's phone (issue 14)

    def device(self, device_id: str) -> Device:
        for d in self.devices:
            if d.id == device_id:
                return d
        raise KeyError(device_id)

    def devices_of(self, role: str) -> list[Device]:
        return [d for d in self.devices if d.role == role]

    @property
    def database(self) -> Path:
        return self.data_dir / "centre.db"


# -- the site file's schema ----------------------------------------------------------
# Every key a site file may hold, in the order it is checked; the first problem
# is reported as "<file>: <key>: <what is wrong; what to do>".

# A key or table the schema does not declare stops start-up, naming the nearest
# known key ("did you mean admin_pin?"): a typo must not silently take a default.
UNKNOWN_KEYS = "refuse"
WORDING = Wording(
    missing_table="missing table; add it (see examples/site.toml)",
    missing_tables="missing; add at least one [[{name}]] entry (see examples/site.toml)",
    count="needs at least one entry",
    unknown="unknown key {key}; {hint}",   # the path before it says in which table
)


def _schema(build=None, check=None, **fields: Field) -> Schema:
    """A table of the site file: its fields in the site file's words; a required
    string must not be blank."""
    return Schema(fields, unknown=UNKNOWN_KEYS, wording=WORDING, blank_ok=False, build=build, check=check)


def _optional(schema: Schema, **kw) -> Field:
    """A table the file may leave out: then every key of it takes its default."""
    return Field(table=schema, default=schema.check({}), **kw)


def _text(required: bool = True, default=None, **kw) -> Field:
    return Field(str, required=required, default=default, **kw)


def _number(default, lo, hi, says: str) -> Field:
    """A number of seconds, minutes...: int or float, read as float."""
    return Field((int, float), default=float(default), range=(lo, hi), convert=float,
                 says={"out_of_range": says})


def _timezone(name: str, ctx: Context) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}; use e.g. 'Asia/Ho_Chi_Minh'"
    return None


def _tls(values: dict, ctx: Context) -> None:
    if values["tls_port"] and not (values["tls_cafile"] and values["tls_certfile"] and values["tls_keyfile"]):
        raise ctx.refuse("a TLS listener needs tls_cafile, tls_certfile and tls_keyfile", "tls_port")


def _more_than_zero(value: float, ctx: Context) -> str | None:
    return "must be more than 0" if value <= 0 else None


def _port(default) -> Field:
    return Field(int, default=default, range=(1, 65535),
                 says={"out_of_range": "{value} is not a TCP port (1-65535)"})


def _block(end: int, ctx: Context) -> None:
    start = ctx.values["start"]
    if not 0 <= start < end <= 999_999:
        raise ctx.refuse(f"number block {start}-{end} must satisfy 0 <= start < end <= 999999", "start")


def _no_overlap(values: dict, ctx: Context) -> None:
    for other in ctx.earlier:
        if other["prefix"] == values["prefix"] and values["start"] <= other["end"] and other["start"] <= values["end"]:
            raise ctx.refuse(f"number block {values['prefix']}{values['start']}-{values['end']} overlaps "
                             f"service {other['code']}'s {other['prefix']}{other['start']}-{other['end']}; two "
                             "tickets would share a number", "start")


def _served(services: list, ctx: Context) -> str | None:
    if not services:
        return "a counter must serve at least one service"
    codes = {s.code for s in ctx.root["services"]}
    for s in services:
        if s not in codes:
            return f"unknown service {s!r}; known: {', '.join(sorted(codes))}"
    return None


def _descending(levels: tuple, ctx: Context) -> str | None:
    weights = [lv.weight for lv in levels]
    if weights != sorted(weights, reverse=True):
        return "list the levels from most to least satisfied (weights descending)"
    return None


def _code_pattern(pattern: str, ctx: Context) -> str | None:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return f"not a regular expression: {exc}"
    if not {"agency", "date", "seq"} <= set(compiled.groupindex):
        return "needs the named groups agency, date and seq"
    return None


PRINTER_KINDS = ("usb", "serial", "network", "file")
PRINTER_NEEDS = {"usb": ("usb_vendor", "usb_product"), "serial": ("port",), "network": ("host",), "file": ("port",)}


def _printer_complete(values: dict, ctx: Context) -> None:
    kind = values["kind"]
    for key in PRINTER_NEEDS[kind]:
        if values[key] is None:
            raise ctx.refuse(f"a {kind} printer needs {key}", key)
    if not 256 <= values["width_px"] <= 1024:
        raise ctx.refuse("must be between 256 and 1024 dots (576 for 80 mm, 384 for 58 mm)", "width_px")


ADMIN_PIN_WANTED = "admin_pin = \"…\": a PIN of your own, 4 to 8 digits (it opens the kiosk's settings)"
SECRET_WANTED = ("secret = \"…\": a secret of your own, at least 16 characters (it signs receipt QR "
                 "codes), e.g. from `python3 -c \"import secrets; print(secrets.token_urlsafe(24))\"`")


def _password(password: str, ctx: Context) -> str | None:
    if len(password) < 8:
        return "must be at least 8 characters"
    # Mosquitto's password file holds `id:password` lines: mosquitto_passwd cuts
    # at a second ':' and trims blanks, so it would hash another password.
    if any(c in password for c in ":\r\n\0") or password != password.strip(" \t\v\f"):
        return ("must not contain ':' or line breaks, nor start or end "
                "with a space (Mosquitto's password file cannot hold it); choose another")
    return None


PROVINCE_PASSWORD_WANTED = ("password = \"…\": this centre's own password on the provincial broker, "
                            "the one the province's [[centres]] entry for this site id holds")


WEB_SECRET_WANTED = ("secret = \"…\": a secret of your own, at least 16 characters (it signs the links in "
                     "ticket and booking QR codes), e.g. from `python3 -c \"import secrets; "
                     "print(secrets.token_urlsafe(24))\"`")
TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def _known_service(code: str, ctx: Context) -> str | None:
    codes = [s.code for s in ctx.root["services"]]
    return None if code in codes else f"unknown service {code!r}; known: {', '.join(codes)}"


def _known_services(codes: list, ctx: Context) -> str | None:
    for code in codes:
        problem = _known_service(code, ctx)
        if problem:
            return problem
    return None


def _weekdays(days: list, ctx: Context) -> str | None:
    if not days or any(type(d) is not int or not 1 <= d <= 7 for d in days) or len(set(days)) != len(days):
        return "list the weekdays as numbers 1 to 7, each once (1 = Monday/Thứ Hai … 7 = Sunday/Chủ nhật)"
    return None


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def _slot_times(values: dict, ctx: Context) -> None:
    """times = [...], or start, end and every written out; no two slots of a service
    overlap on a weekday, in this entry or an earlier one."""
    times, start, end, every = values["times"], values["start"], values["end"], values["every"]
    if (times is None) == (start is None or end is None):
        raise ctx.refuse("give either times = [\"08:00\", \"08:30\", …] or start = \"08:00\", "
                         "end = \"11:30\" (and every = 30)", "times")
    for key in ("start", "end"):
        if values[key] is not None and not TIME_RE.match(values[key]):
            raise ctx.refuse(f"{values[key]!r} must be a local time written HH:MM, e.g. \"07:30\"", key)
    if times is None:
        if _minutes(end) - _minutes(start) < every:
            raise ctx.refuse(f"from {start} to {end} leaves no slot of {every} minutes", "end")
        times = [f"{m // 60:02d}:{m % 60:02d}" for m in range(_minutes(start), _minutes(end) - every + 1, every)]
    for t in times:
        if not isinstance(t, str) or not TIME_RE.match(t):
            raise ctx.refuse(f"{t!r} must be a local time written HH:MM, e.g. \"08:30\"", "times")
    starts = sorted(_minutes(t) for t in times)
    if any(b - a < every for a, b in zip(starts, starts[1:])) or starts[-1] + every > 24 * 60:
        raise ctx.refuse(f"slots of {every} minutes (every) would overlap or run past midnight; "
                         "space the times at least that far apart", "times")
    for other in ctx.earlier:
        shared = set(other["days"]) & set(values["days"])
        if other["service"] == values["service"] and shared:
            for a in starts:
                for b in (_minutes(t) for t in other["times"]):
                    if a < b + other["every"] and b < a + every:
                        raise ctx.refuse(f"a slot at {a // 60:02d}:{a % 60:02d} overlaps one of an earlier "
                                         f"[[web.slots]] of {values['service']} on weekday {min(shared)}", "times")
    values["times"] = [f"{m // 60:02d}:{m % 60:02d}" for m in starts]


CLOSED_DAYS_WANTED = ('write each as "YYYY-MM-DD" (e.g. "2027-09-02") or a range "YYYY-MM-DD..YYYY-MM-DD" '
                      '(e.g. "2027-02-05..2027-02-10" for Tết)')


def _closed_days(entries: list, ctx: Context) -> tuple:
    """[web] closed_days: days and ranges of days, every day written out and sorted."""
    from datetime import date, datetime, timedelta
    out: set = set()
    for i, entry in enumerate(entries):
        where = f"{ctx.here}[{i}]"
        if isinstance(entry, date) and not isinstance(entry, datetime):  # TOML's own: [2027-01-01]
            out.add(entry)
            continue
        ends = entry.split("..") if isinstance(entry, str) else []
        try:
            if len(ends) not in (1, 2):
                raise ValueError(entry)
            first, last = date.fromisoformat(ends[0].strip()), date.fromisoformat(ends[-1].strip())
        except ValueError:
            raise Invalid([(where, f"{entry!r} is not a day; {CLOSED_DAYS_WANTED}")]) from None
        if not 0 <= (last - first).days <= 31:  # backwards, or a year typed wrong
            raise Invalid([(where, f"{entry!r}: a range goes forward and spans at most 32 days; "
                                   f"{CLOSED_DAYS_WANTED}")])
        out.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return tuple(sorted(out))


def _web_secret(secret: str, ctx: Context) -> str | None:
    return "must be at least 16 characters (it signs the links in QR codes)" if len(secret) < 16 else None


def _base_url(url: str, ctx: Context) -> str | None:
    if not re.match(r"^https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/-]*)?$", url):
        return (f"{url!r} must be the web service's address as citizens' phones reach it, "
                "e.g. \"https://hcc-demo.example.gov.vn\" (no query, no trailing ?)")
    return None


def _notifier_url(url: str, ctx: Context) -> str | None:
    if url is not None and not re.match(r"^https?://[^\s/?#]+(/\S*)?$", url):
        return f"{url!r} must be the gateway's webhook address, e.g. \"https://sms.example.vn/hook\""
    return None


def _province_web(values: dict, ctx: Context) -> None:
    """[province] web = true: the province's web asks this centre as one of its
    devices with role "web" (its requests cross the bridge under that id)."""
    webs = [d.id for d in ctx.root["devices"] if d.role == "web"]
    named = values["web_device"]
    if named is not None and named not in webs:
        raise ctx.refuse(f"{named!r} is not a device with role = \"web\" here" + (
            f" (those are: {', '.join(webs)})" if webs else "; add a [[devices]] entry with that id and "
            "role = \"web\" (the id the province's [web] device gives)"), "web_device")
    if values["web"] and named is None and len(webs) != 1:
        raise ctx.refuse("web = true needs the province's web device: " + (
            f"say which of {', '.join(webs)} it is with web_device = \"…\"" if webs else
            "add a [[devices]] entry with role = \"web\" and the id of the province's [web] device"), "web")


def _bound_counter(counter: int | None, ctx: Context) -> str | None:
    role = ctx.values["role"]
    if role in ("counter", "pad"):
        if counter is None:
            return f"a {role} device must name the counter it stands at"
        if counter not in {c.number for c in ctx.root["counters"]}:
            return f"there is no counter {counter} in [[counters]]"
    elif counter is not None:
        return f"only counter and pad devices are bound to a counter, not {role}"
    return None


def _kiosk_only(scanner, ctx: Context) -> None:
    if (ctx.values["printer"] or scanner) and ctx.values["role"] != "kiosk":
        raise ctx.refuse("only kiosks have a printer or a scanner")


def _speaks(speaks: bool, ctx: Context) -> str | None:
    return "only displays speak" if speaks and ctx.values["role"] != "display" else None


def _one_centre(devices: tuple, ctx: Context) -> str | None:
    centres = [d for d in devices if d.role == "centre"]
    if len(centres) != 1:
        return f"needs exactly one device with role = \"centre\" (found {len(centres)})"
    return None


PRINTER = _schema(
    build=lambda v: PrinterSettings(**v), check=_printer_complete,
    kind=_text(choices=PRINTER_KINDS, says={"not_a_choice": f"{{value!r}} is not one of {', '.join(PRINTER_KINDS)}"}),
    usb_vendor=Field(int), usb_product=Field(int), port=Field(str), baudrate=Field(int, default=19200),
    host=Field(str), tcp_port=Field(int, default=9100), width_px=Field(int, default=576),
    timeout_s=Field((int, float), default=3.0, convert=float))

SCANNER = _schema(build=lambda v: ScannerSettings(**v), port=_text(), baudrate=Field(int, default=9600))

SERVICE = _schema(
    build=lambda v: Service(**v), check=_no_overlap,
    code=_text(pattern=SERVICE_CODE_RE, unique=True,
               says={"no_match": "{value!r} must be 1-16 letters, digits or '_'",
                     "duplicate": "{value!r} is used by two services; codes must be unique"}),
    prefix=_text(False, "", pattern=PREFIX_RE, says={"no_match": "{value!r} must be 0-3 capital letters (A-Z)"}),
    start=Field(int, required=True), end=Field(int, required=True, check=_block),
    digits=Field(int, default=0, range=(0, 6)),
    name_vi=_text(), name_en=_text())

COUNTER = _schema(
    build=lambda v: Counter(number=v["number"], services=tuple(v["services"]),
                            name=f"Quầy {v['number']}" if v["name"] is None else v["name"]),
    number=Field(int, required=True, range=(1, 999), unique=True,
                 says={"duplicate": "counter {value} is listed twice"}),
    services=Field(list, required=True, check=_served),
    name=_text(False))

PRIORITY = _schema(build=lambda v: Priority(**v), code=_text(unique=True), name_vi=_text(), name_en=_text())

RATING_LEVEL = _schema(build=lambda v: RatingLevel(**v),
                       weight=Field((int, float), required=True, range=(0, 100), convert=float),
                       code=_text(), name_vi=_text(), name_en=_text())

DEVICE = _schema(
    build=lambda v: Device(**v),
    id=_text(pattern=DEVICE_ID_RE, unique=True,
             says={"no_match": "{value!r} must be lower-case letters, digits, '-' or '_' (it is the MQTT user name)",
                   "duplicate": "device {value!r} is listed twice"}),
    role=_text(choices=ROLES, says={"not_a_choice": f"{{value!r}} is not a role; use one of {', '.join(ROLES)}"}),
    password=_text(check=_password, says={"missing": "missing; give this device a password of its own "
                                                     "(at least 8 characters; the broker's password file "
                                                     "is made from it)"}),
    counter=Field(int, check=_bound_counter),
    printer=Field(table=PRINTER,
                  says={"not_a_table": "must be a table, e.g. printer = {{ kind = \"serial\", port = \"/dev/ttyUSB0\" }}"}),
    scanner=Field(table=SCANNER, check=_kiosk_only,
                  says={"not_a_table": "must be a table, e.g. scanner = {{ port = \"/dev/ttyACM0\" }}"}),
    speaks=Field(bool, default=False, check=_speaks),
    name=_text(False, ""))

# The kiosk's admin PIN and the dossier secret are never defaulted: a site file without
# them stops at start-up (and load_site warns about ones still the sample's).
KIOSK = _schema(
    build=lambda v: KioskSettings(**v),
    idle_seconds=Field(int, default=60, range=(10, 3600)),
    admin_pin=_text(pattern=r"\d{4,8}\Z", says={"no_match": "must be 4 to 8 digits",
                                                "missing": f"missing; set {ADMIN_PIN_WANTED}"}),
    language=_text(False, "vi", choices=("vi", "en"), says={"not_a_choice": "must be \"vi\" or \"en\""}))

DOSSIERS = _schema(
    build=lambda v: DossierSettings(**v),
    secret=_text(check=lambda s, ctx: "must be at least 16 characters (it signs receipt QR codes)"
                 if len(s) < 16 else None, says={"missing": f"missing; set {SECRET_WANTED}"}),
    code_pattern=_text(False, DossierSettings.code_pattern, check=_code_pattern),
    lookup_code_length=Field(int, default=6, range=(4, 12)),
    agency_code=_text(),
    place=_text(False, "", convert=str.strip))

SITE = _schema(
    site=Field(required=True, table=_schema(
        id=_text(pattern=SITE_ID_RE, says={"no_match": "{value!r} must be lower-case letters, digits and '-' "
                                                       "(it becomes the MQTT topic root), at most 40 characters"}),
        name=_text(), name_en=_text(False),
        timezone=_text(False, "Asia/Ho_Chi_Minh", check=_timezone))),
    centre=_optional(_schema(
        data_dir=_text(False, "var"),
        request_timeout_s=_number(5.0, 0.5, 60, "must be between 0.5 and 60 seconds"),
        max_payload_bytes=Field(int, default=16384, range=(512, 1_048_576)))),
    broker=_optional(_schema(
        build=lambda v: BrokerSettings(**v), check=_tls,
        host=_text(False, "127.0.0.1"), port=_port(1883), tls_port=_port(None),
        tls_cafile=Field(str), tls_certfile=Field(str), tls_keyfile=Field(str))),
    queue=_optional(_schema(
        build=lambda v: QueueRules(**v),
        priority_max_consecutive=Field(int, default=3, range=(1, None), says={
            "out_of_range": "must be at least 1 (ordinary citizens get a turn after this many priority "
                            "calls in a row)"}),
        default_service_minutes=Field((int, float), default=6.0, convert=float, check=_more_than_zero),
        estimate_window=Field(int, default=20, range=(1, None), says={"out_of_range": "must be at least 1"}),
        estimate_min_samples=Field(int, default=5, range=(0, None), says={
            "out_of_range": "must be 0 or more (0: trust the first real service time alone)"}))),
    services=Field(required=True, items=SERVICE, min_items=1, convert=tuple),
    counters=Field(required=True, items=COUNTER, min_items=1, convert=tuple),
    priorities=Field(items=PRIORITY, convert=tuple,
                     default=tuple(Priority(**p) for p in DEFAULT_PRIORITIES)),
    rating=_optional(_schema(
        levels=Field(items=RATING_LEVEL, min_items=2, max_items=9, convert=tuple, check=_descending,
                     default=tuple(RatingLevel(**lv) for lv in DEFAULT_RATING_LEVELS),
                     says={"not_tables": "must be a list of tables with code, name_vi, name_en, weight",
                           "count": "has {count} levels; a pad supports 2 to 9 buttons"}),
        prompt_timeout_s=_number(60, 5, 3600, "must be between 5 and 3600 seconds"))),
    devices=Field(required=True, items=DEVICE, min_items=1, convert=tuple, check=_one_centre),
    kiosk=Field(required=True, table=KIOSK,
                says={"missing_table": f"missing; add [kiosk] with {ADMIN_PIN_WANTED}"}),
    dossiers=Field(required=True, table=DOSSIERS,
                   says={"missing_table": f"missing; add [dossiers] with agency_code and {SECRET_WANTED}"}),
    # Optional: without it the citizen's phone has no numbers from afar, no bookings
    # and no signed links. Its secret is never defaulted.
    web=Field(table=_schema(
        build=lambda v: WebSettings(**{k: v[k] for k in v}),
        base_url=_text(check=_base_url, convert=lambda u: u.rstrip("/"), says={
            "missing": "missing; give the web service's address as citizens' phones reach it, "
                       "e.g. base_url = \"https://hcc-demo.example.gov.vn\""}),
        secret=_text(check=_web_secret, says={"missing": f"missing; set {WEB_SECRET_WANTED}"}),
        remote_tickets=Field(bool, default=False),
        remote_services=Field(list, default=(), check=_known_services, convert=tuple),
        remote_per_service_per_day=Field(int, default=50, range=(1, 100_000)),
        per_phone_per_day=Field(int, default=2, range=(1, 20), says={
            "out_of_range": "must be between 1 and 20 (iHanoi allows 2 bookings per person a day)"}),
        remote_window_min=Field(int, default=60, range=(5, 24 * 60), says={
            "out_of_range": "must be between 5 and 1440 minutes (how long after taking a number from afar "
                            "the citizen has to check in at the kiosk)"}),
        booking_days_ahead=Field(int, default=6, range=(0, 60)),
        booking_max_consecutive=Field(int, default=2, range=(1, None), says={
            "out_of_range": "must be at least 1 (walk-ins get a turn after this many booking calls in a row)"}),
        booking_grace_min=Field(int, default=15, range=(0, 120)),
        notifier_url=Field(str, check=_notifier_url),
        notifier_token_file=Field(str),
        slots=Field(items=_schema(
            build=lambda v: SlotRule(service=v["service"], days=tuple(v["days"]), times=tuple(v["times"]),
                                     capacity=v["capacity"], every=v["every"]),
            check=_slot_times,
            service=_text(check=_known_service),
            days=Field(list, required=True, check=_weekdays),
            times=Field(list), start=Field(str), end=Field(str),
            every=Field(int, default=30, range=(5, 480), says={
                "out_of_range": "must be between 5 and 480 minutes (each slot's length)"}),
            capacity=Field(int, required=True, range=(1, 10_000))),
            default=(), convert=tuple,
            says={"not_tables": "must be written as [[web.slots]] tables"}),
        closed_days=Field(list, default=(), parse=_closed_days))),
    # Optional: without it the centre ships nothing. Its password is never defaulted.
    province=Field(table=_schema(
        build=lambda v: ProvinceLink(**v),
        host=_text(pattern=r"[A-Za-z0-9.-]+\Z", says={
            "missing": "missing; give the provincial broker's address, e.g. host = \"mqtt.province.example\"",
            "no_match": "{value!r} must be a host name or an IPv4 address alone (the port goes in port = …)"}),
        port=_port(8883),
        cafile=_text(says={"missing": "missing; the bridge to the province goes over TLS: give the province's CA "
                                      "certificate, e.g. cafile = \"/etc/motcua/province-ca.crt\" (ask the province "
                                      "for its ca.crt)"}),
        password=_text(check=_password, says={"missing": f"missing; set {PROVINCE_PASSWORD_WANTED}"}),
        web=Field(bool, default=False), web_device=Field(str), check=_province_web)),
)


def load_site(path: str | Path) -> Site:
    """Read and validate a site file. Raises SiteConfigError naming file, key and problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SiteConfigError(f"{path}: cannot read the site file ({exc.strerror}); "
                              "pass --site FILE or set MOTCUA_SITE") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SiteConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise SiteConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        v = SITE.check(data)
    except Invalid as exc:
        message = exc.message
        if exc.kind == "unknown" and exc.path in data:  # a top-level key: mostly a table's name
            near = difflib.get_close_matches(exc.path, list(SITE), n=1)
            message = (f"unknown table [{exc.path}]; " if isinstance(data[exc.path], (dict, list))
                       else f"unknown key {exc.path} before the first [table]; ") + (
                f"did you mean [{near[0]}]?" if near else f"the tables are {', '.join(SITE)}")
        raise SiteConfigError(f"{path}: {exc.path}: {message}") from None

    site_t, centre_t, rating_t = v["site"], v["centre"], v["rating"]
    data_dir = Path(centre_t["data_dir"])
    if not data_dir.is_absolute():
        data_dir = (path.parent / data_dir).resolve()
    site = Site(path=path, id=site_t["id"], name=site_t["name"],
                name_en=site_t["name"] if site_t["name_en"] is None else site_t["name_en"],
                timezone=site_t["timezone"], data_dir=data_dir, broker=v["broker"], queue=v["queue"],
                services=v["services"], counters=v["counters"], priorities=v["priorities"],
                rating_levels=rating_t["levels"],
                devices=tuple(_near_the_file(d, path) for d in v["devices"]),
                request_timeout_s=centre_t["request_timeout_s"],
                max_payload_bytes=centre_t["max_payload_bytes"], kiosk=v["kiosk"], dossiers=v["dossiers"],
                rating_prompt_timeout_s=rating_t["prompt_timeout_s"],
                province=_province_near_the_file(v["province"], path), web=v["web"])
    if os.environ.get(WARNED_ENV) != str(path.resolve()):
        _warn_sample_secrets(site)
    return site


def _province_near_the_file(link: ProvinceLink | None, path: Path) -> ProvinceLink | None:
    """A relative cafile is relative to the site file."""
    if link is None or Path(link.cafile).is_absolute():
        return link
    return replace(link, cafile=str((path.parent / link.cafile).resolve()))


def _near_the_file(device: Device, path: Path) -> Device:
    """A file printer's relative port is relative to the site file."""
    p = device.printer
    if p is None or p.kind != "file" or not p.port or Path(p.port).is_absolute():
        return device
    return replace(device, printer=replace(p, port=str((path.parent / p.port).resolve())))


# -- secrets still the sample's ------------------------------------------------------
# The secrets examples/site.toml ships with. They are public (the sample is in the
# source), so they are kept here in clear, not hashed; examples/ is not installed,
# so they cannot be read from it at run time. tests/unit/test_config.py checks this
# list against the sample, so the two cannot drift apart.
SAMPLE_ADMIN_PIN = "246810"
SAMPLE_DOSSIER_SECRET = "demo-change-this-dossier-secret"
SAMPLE_WEB_SECRET = "demo-change-this-web-secret"
SAMPLE_PASSWORDS = frozenset(
    {f"demo-{name}-secret" for name in ("centre", "admin", "connector", "kiosk-1", "kiosk-2",
                                        "display-hall", "display-manager", "web")}
    | {f"demo-{kind}-{n}-secret" for kind in ("counter", "display-counter", "pad") for n in range(1, 13)})

# Set by a command to the resolved path of a site file whose warning it has given, for
# the processes it starts (`motcua demo`): the warning is one block, not one per process.
WARNED_ENV = "MOTCUA_SAMPLE_SECRETS_WARNED"
_warned: set[Path] = set()


def sample_secrets(site: Site) -> list[str]:
    """The keys of the site file whose secret is still the sample's, as the file names them."""
    keys = []
    if site.kiosk.admin_pin == SAMPLE_ADMIN_PIN:
        keys.append("kiosk.admin_pin")
    if site.dossiers.secret == SAMPLE_DOSSIER_SECRET:
        keys.append("dossiers.secret")
    if site.web is not None and site.web.secret == SAMPLE_WEB_SECRET:
        keys.append("web.secret")
    keys += [f"devices[{i}].password ({d.id})" for i, d in enumerate(site.devices)
             if d.password in SAMPLE_PASSWORDS]
    return keys


def _warn_sample_secrets(site: Site) -> None:
    """One warning block per site file and process, naming every key still the sample's."""
    where = site.path.resolve()
    keys = sample_secrets(site)
    if not keys or where in _warned:
        return
    _warned.add(where)
    devices = [k for k in keys if k.startswith("devices[")]
    lines = [k for k in keys if not k.startswith("devices[")]
    if devices:
        names = ", ".join(k.split(" (")[1].rstrip(")") for k in devices)
        lines.append(textwrap.fill(f"the password of {len(devices)} [[devices]]: {names}", width=96,
                                   subsequent_indent="    ", break_on_hyphens=False))
    log.warning("%s still holds secrets copied from the sample site file, which anyone can read in "
                "motcua's source.\nFine for a demo; change each of these before real use:\n  %s",
                site.path, "\n  ".join(lines))

"""Site configuration: one TOML file describes a centre.

Loading validates everything before anything starts, and every problem names
the file, the key and what is wrong, so nothing runs half-configured.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROLES = ("centre", "kiosk", "display", "counter", "pad", "admin", "integration")
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
    idle_seconds: int = 60         # back to the home screen and forget what was typed
    admin_pin: str = "0000"        # opens the settings screen; change it
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


@dataclass(frozen=True)
class BrokerSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    tls_port: int | None = None
    tls_cafile: str | None = None
    tls_certfile: str | None = None
    tls_keyfile: str | None = None


@dataclass(frozen=True)
class Site:
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
    request_timeout_s: float = 5.0
    max_payload_bytes: int = 16384
    kiosk: KioskSettings = KioskSettings()
    dossiers: DossierSettings = DossierSettings()
    rating_prompt_timeout_s: float = 60.0   # [rating] prompt_timeout_s: a pad's prompt ends unanswered

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


class _Reader:
    """Walks the parsed TOML and reports errors with the dotted key path."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, what: str) -> SiteConfigError:
        return SiteConfigError(f"{self.path}: {key}: {what}")

    def table(self, data: dict, key: str, required: bool = True) -> dict:
        value = data.get(key.rsplit(".", 1)[-1])
        if value is None:
            if required:
                raise self.fail(key, "missing table; add it (see examples/site.toml)")
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {type(value).__name__}")
        return value

    def array_of_tables(self, data: dict, key: str) -> list[dict]:
        value = data.get(key)
        if value is None:
            raise self.fail(key, f"missing; add at least one [[{key}]] entry (see examples/site.toml)")
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, f"must be written as [[{key}]] tables")
        if not value:
            raise self.fail(key, "needs at least one entry")
        return value

    def get(self, data: dict, key: str, kind, default=..., where: str = "") -> object:
        full = f"{where}.{key}" if where else key
        if key not in data:
            if default is ...:
                raise self.fail(full, "missing; this key is required")
            return default
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # TOML booleans are ints in Python; never accept one for the other.
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(full, f"must be {_kind_name(kinds)}, not a boolean")
        if not isinstance(value, kinds):
            raise self.fail(full, f"must be {_kind_name(kinds)}, not {type(value).__name__} {value!r}")
        if isinstance(value, str) and not value.strip() and default is ...:
            raise self.fail(full, "must not be empty")
        return value


def _kind_name(kinds: tuple) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def load_site(path: str | Path) -> Site:
    """Read and validate a site file. Raises SiteConfigError naming file, key and problem."""
    path = Path(path)
    r = _Reader(path)
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

    site_t = r.table(data, "site")
    site_id = r.get(site_t, "id", str, where="site")
    if not SITE_ID_RE.match(site_id):
        raise r.fail("site.id", f"{site_id!r} must be lower-case letters, digits and '-' "
                     "(it becomes the MQTT topic root), at most 40 characters")
    name = r.get(site_t, "name", str, where="site")
    name_en = r.get(site_t, "name_en", str, default=name, where="site")
    tz_name = r.get(site_t, "timezone", str, default="Asia/Ho_Chi_Minh", where="site")
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail("site.timezone", f"unknown time zone {tz_name!r}; use e.g. 'Asia/Ho_Chi_Minh'") from None

    centre_t = r.table(data, "centre", required=False)
    data_dir = Path(r.get(centre_t, "data_dir", str, default="var", where="centre"))
    if not data_dir.is_absolute():
        data_dir = (path.parent / data_dir).resolve()
    request_timeout = float(r.get(centre_t, "request_timeout_s", (int, float), default=5.0, where="centre"))
    if not 0.5 <= request_timeout <= 60:
        raise r.fail("centre.request_timeout_s", "must be between 0.5 and 60 seconds")
    max_payload = r.get(centre_t, "max_payload_bytes", int, default=16384, where="centre")
    if not 512 <= max_payload <= 1_048_576:
        raise r.fail("centre.max_payload_bytes", "must be between 512 and 1048576")

    broker_t = r.table(data, "broker", required=False)
    broker = BrokerSettings(
        host=r.get(broker_t, "host", str, default="127.0.0.1", where="broker"),
        port=_port(r, broker_t, "port", 1883),
        tls_port=_port(r, broker_t, "tls_port", None),
        tls_cafile=r.get(broker_t, "tls_cafile", str, default=None, where="broker"),
        tls_certfile=r.get(broker_t, "tls_certfile", str, default=None, where="broker"),
        tls_keyfile=r.get(broker_t, "tls_keyfile", str, default=None, where="broker"),
    )
    if broker.tls_port and not (broker.tls_cafile and broker.tls_certfile and broker.tls_keyfile):
        raise r.fail("broker.tls_port", "a TLS listener needs tls_cafile, tls_certfile and tls_keyfile")

    queue_t = r.table(data, "queue", required=False)
    rules = QueueRules(
        priority_max_consecutive=r.get(queue_t, "priority_max_consecutive", int, default=3, where="queue"),
        default_service_minutes=float(r.get(queue_t, "default_service_minutes", (int, float), default=6.0, where="queue")),
        estimate_window=r.get(queue_t, "estimate_window", int, default=20, where="queue"),
    )
    if rules.priority_max_consecutive < 1:
        raise r.fail("queue.priority_max_consecutive", "must be at least 1 (ordinary citizens "
                     "get a turn after this many priority calls in a row)")
    if rules.default_service_minutes <= 0:
        raise r.fail("queue.default_service_minutes", "must be more than 0")
    if rules.estimate_window < 1:
        raise r.fail("queue.estimate_window", "must be at least 1")

    services = _services(r, data)
    codes = {s.code for s in services}
    counters = _counters(r, data, codes)
    priorities = _priorities(r, data)
    levels = _rating_levels(r, data)
    devices = _devices(r, data, {c.number for c in counters})

    return Site(path=path, id=site_id, name=name, name_en=name_en, timezone=tz_name,
                data_dir=data_dir, broker=broker, queue=rules, services=services,
                counters=counters, priorities=priorities, rating_levels=levels,
                devices=devices, request_timeout_s=request_timeout,
                max_payload_bytes=max_payload, kiosk=_kiosk(r, data), dossiers=_dossiers(r, data),
                rating_prompt_timeout_s=_prompt_timeout(r, data))


def _prompt_timeout(r: _Reader, data: dict) -> float:
    t = r.table(data, "rating", required=False)
    value = float(r.get(t, "prompt_timeout_s", (int, float), default=60, where="rating"))
    if not 5 <= value <= 3600:
        raise r.fail("rating.prompt_timeout_s", "must be between 5 and 3600 seconds")
    return value


def _kiosk(r: _Reader, data: dict) -> KioskSettings:
    t = r.table(data, "kiosk", required=False)
    idle = r.get(t, "idle_seconds", int, default=60, where="kiosk")
    if not 10 <= idle <= 3600:
        raise r.fail("kiosk.idle_seconds", "must be between 10 and 3600")
    pin = r.get(t, "admin_pin", str, default="0000", where="kiosk")
    if not re.fullmatch(r"\d{4,8}", pin):
        raise r.fail("kiosk.admin_pin", "must be 4 to 8 digits")
    lang = r.get(t, "language", str, default="vi", where="kiosk")
    if lang not in ("vi", "en"):
        raise r.fail("kiosk.language", "must be \"vi\" or \"en\"")
    return KioskSettings(idle_seconds=idle, admin_pin=pin, language=lang)


def _dossiers(r: _Reader, data: dict) -> DossierSettings:
    t = r.table(data, "dossiers", required=False)
    if not t:
        return DossierSettings()
    secret = r.get(t, "secret", str, where="dossiers")
    if len(secret) < 16:
        raise r.fail("dossiers.secret", "must be at least 16 characters (it signs receipt QR codes)")
    pattern = r.get(t, "code_pattern", str, default=DossierSettings.code_pattern, where="dossiers")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise r.fail("dossiers.code_pattern", f"not a regular expression: {exc}") from None
    if not {"agency", "date", "seq"} <= set(compiled.groupindex):
        raise r.fail("dossiers.code_pattern", "needs the named groups agency, date and seq")
    length = r.get(t, "lookup_code_length", int, default=6, where="dossiers")
    if not 4 <= length <= 12:
        raise r.fail("dossiers.lookup_code_length", "must be between 4 and 12")
    return DossierSettings(agency_code=r.get(t, "agency_code", str, where="dossiers"), secret=secret,
                           code_pattern=pattern, lookup_code_length=length,
                           place=r.get(t, "place", str, default="", where="dossiers").strip())


PRINTER_KINDS = ("usb", "serial", "network", "file")


def _printer(r: _Reader, t, where: str) -> PrinterSettings | None:
    if t is None:
        return None
    if not isinstance(t, dict):
        raise r.fail(where, "must be a table, e.g. printer = { kind = \"serial\", port = \"/dev/ttyUSB0\" }")
    kind = r.get(t, "kind", str, where=where)
    if kind not in PRINTER_KINDS:
        raise r.fail(f"{where}.kind", f"{kind!r} is not one of {', '.join(PRINTER_KINDS)}")
    p = PrinterSettings(
        kind=kind, usb_vendor=r.get(t, "usb_vendor", int, default=None, where=where),
        usb_product=r.get(t, "usb_product", int, default=None, where=where),
        port=r.get(t, "port", str, default=None, where=where),
        baudrate=r.get(t, "baudrate", int, default=19200, where=where),
        host=r.get(t, "host", str, default=None, where=where),
        tcp_port=r.get(t, "tcp_port", int, default=9100, where=where),
        width_px=r.get(t, "width_px", int, default=576, where=where),
        timeout_s=float(r.get(t, "timeout_s", (int, float), default=3.0, where=where)))
    if kind == "file" and p.port and not Path(p.port).is_absolute():
        p = replace(p, port=str((r.path.parent / p.port).resolve()))
    needs = {"usb": ("usb_vendor", "usb_product"), "serial": ("port",), "network": ("host",), "file": ("port",)}
    for key in needs[kind]:
        if getattr(p, key) is None:
            raise r.fail(f"{where}.{key}", f"a {kind} printer needs {key}")
    if not 256 <= p.width_px <= 1024:
        raise r.fail(f"{where}.width_px", "must be between 256 and 1024 dots (576 for 80 mm, 384 for 58 mm)")
    return p


def _scanner(r: _Reader, t, where: str) -> ScannerSettings | None:
    if t is None:
        return None
    if not isinstance(t, dict):
        raise r.fail(where, "must be a table, e.g. scanner = { port = \"/dev/ttyACM0\" }")
    return ScannerSettings(port=r.get(t, "port", str, where=where),
                           baudrate=r.get(t, "baudrate", int, default=9600, where=where))


def _port(r: _Reader, t: dict, key: str, default):
    value = r.get(t, key, int, default=default, where="broker")
    if value is not None and not 1 <= value <= 65535:
        raise r.fail(f"broker.{key}", f"{value} is not a TCP port (1-65535)")
    return value


def _services(r: _Reader, data: dict) -> tuple[Service, ...]:
    out: list[Service] = []
    for i, t in enumerate(r.array_of_tables(data, "services")):
        where = f"services[{i}]"
        code = r.get(t, "code", str, where=where)
        if not SERVICE_CODE_RE.match(code):
            raise r.fail(f"{where}.code", f"{code!r} must be 1-16 letters, digits or '_'")
        if any(s.code == code for s in out):
            raise r.fail(f"{where}.code", f"{code!r} is used by two services; codes must be unique")
        prefix = r.get(t, "prefix", str, default="", where=where)
        if not PREFIX_RE.match(prefix):
            raise r.fail(f"{where}.prefix", f"{prefix!r} must be 0-3 capital letters (A-Z)")
        start = r.get(t, "start", int, where=where)
        end = r.get(t, "end", int, where=where)
        if not 0 <= start < end <= 999_999:
            raise r.fail(f"{where}.start", f"number block {start}-{end} must satisfy 0 <= start < end <= 999999")
        digits = r.get(t, "digits", int, default=0, where=where)
        if not 0 <= digits <= 6:
            raise r.fail(f"{where}.digits", "must be between 0 and 6")
        svc = Service(code=code, name_vi=r.get(t, "name_vi", str, where=where),
                      name_en=r.get(t, "name_en", str, where=where),
                      start=start, end=end, prefix=prefix, digits=digits)
        for other in out:
            if other.prefix == svc.prefix and svc.start <= other.end and other.start <= svc.end:
                raise r.fail(f"{where}.start", f"number block {svc.prefix}{start}-{end} overlaps "
                             f"service {other.code}'s {other.prefix}{other.start}-{other.end}; two "
                             "tickets would share a number")
        out.append(svc)
    return tuple(out)


def _counters(r: _Reader, data: dict, codes: set[str]) -> tuple[Counter, ...]:
    out: list[Counter] = []
    for i, t in enumerate(r.array_of_tables(data, "counters")):
        where = f"counters[{i}]"
        number = r.get(t, "number", int, where=where)
        if not 1 <= number <= 999:
            raise r.fail(f"{where}.number", "must be between 1 and 999")
        if any(c.number == number for c in out):
            raise r.fail(f"{where}.number", f"counter {number} is listed twice")
        services = r.get(t, "services", list, where=where)
        if not services:
            raise r.fail(f"{where}.services", "a counter must serve at least one service")
        for s in services:
            if s not in codes:
                raise r.fail(f"{where}.services", f"unknown service {s!r}; known: {', '.join(sorted(codes))}")
        out.append(Counter(number=number, name=r.get(t, "name", str, default=f"Quầy {number}", where=where),
                           services=tuple(services)))
    return tuple(out)


def _priorities(r: _Reader, data: dict) -> tuple[Priority, ...]:
    rows = data.get("priorities", list(DEFAULT_PRIORITIES))
    if not isinstance(rows, list) or not all(isinstance(v, dict) for v in rows):
        raise r.fail("priorities", "must be written as [[priorities]] tables")
    out = []
    for i, t in enumerate(rows):
        where = f"priorities[{i}]"
        p = Priority(code=r.get(t, "code", str, where=where), name_vi=r.get(t, "name_vi", str, where=where),
                     name_en=r.get(t, "name_en", str, where=where))
        if any(o.code == p.code for o in out):
            raise r.fail(f"{where}.code", f"{p.code!r} is listed twice")
        out.append(p)
    return tuple(out)


def _rating_levels(r: _Reader, data: dict) -> tuple[RatingLevel, ...]:
    rating_t = r.table(data, "rating", required=False)
    rows = rating_t.get("levels", list(DEFAULT_RATING_LEVELS))
    if not isinstance(rows, list) or not all(isinstance(v, dict) for v in rows):
        raise r.fail("rating.levels", "must be a list of tables with code, name_vi, name_en, weight")
    if not 2 <= len(rows) <= 9:
        raise r.fail("rating.levels", f"has {len(rows)} levels; a pad supports 2 to 9 buttons")
    out = []
    for i, t in enumerate(rows):
        where = f"rating.levels[{i}]"
        weight = float(r.get(t, "weight", (int, float), where=where))
        if not 0 <= weight <= 100:
            raise r.fail(f"{where}.weight", "must be between 0 and 100")
        out.append(RatingLevel(code=r.get(t, "code", str, where=where), name_vi=r.get(t, "name_vi", str, where=where),
                               name_en=r.get(t, "name_en", str, where=where), weight=weight))
    weights = [lv.weight for lv in out]
    if weights != sorted(weights, reverse=True):
        raise r.fail("rating.levels", "list the levels from most to least satisfied (weights descending)")
    return tuple(out)


def _devices(r: _Reader, data: dict, counter_numbers: set[int]) -> tuple[Device, ...]:
    out: list[Device] = []
    for i, t in enumerate(r.array_of_tables(data, "devices")):
        where = f"devices[{i}]"
        dev_id = r.get(t, "id", str, where=where)
        if not DEVICE_ID_RE.match(dev_id):
            raise r.fail(f"{where}.id", f"{dev_id!r} must be lower-case letters, digits, '-' or '_' "
                         "(it is the MQTT user name)")
        if any(d.id == dev_id for d in out):
            raise r.fail(f"{where}.id", f"device {dev_id!r} is listed twice")
        role = r.get(t, "role", str, where=where)
        if role not in ROLES:
            raise r.fail(f"{where}.role", f"{role!r} is not a role; use one of {', '.join(ROLES)}")
        password = r.get(t, "password", str, where=where)
        if len(password) < 8:
            raise r.fail(f"{where}.password", "must be at least 8 characters")
        # Mosquitto's password file holds `id:password` lines: mosquitto_passwd cuts
        # at a second ':' and trims blanks, so it would hash another password.
        if any(c in password for c in ":\r\n\0") or password != password.strip(" \t\v\f"):
            raise r.fail(f"{where}.password", "must not contain ':' or line breaks, nor start or end "
                         "with a space (Mosquitto's password file cannot hold it); choose another")
        counter = r.get(t, "counter", int, default=None, where=where)
        if role in ("counter", "pad"):
            if counter is None:
                raise r.fail(f"{where}.counter", f"a {role} device must name the counter it stands at")
            if counter not in counter_numbers:
                raise r.fail(f"{where}.counter", f"there is no counter {counter} in [[counters]]")
        elif counter is not None:
            raise r.fail(f"{where}.counter", f"only counter and pad devices are bound to a counter, not {role}")
        printer = _printer(r, t.get("printer"), f"{where}.printer")
        scanner = _scanner(r, t.get("scanner"), f"{where}.scanner")
        if (printer or scanner) and role != "kiosk":
            raise r.fail(where, "only kiosks have a printer or a scanner")
        speaks = r.get(t, "speaks", bool, default=False, where=where)
        if speaks and role != "display":
            raise r.fail(f"{where}.speaks", "only displays speak")
        out.append(Device(id=dev_id, role=role, password=password, counter=counter,
                          name=r.get(t, "name", str, default="", where=where),
                          printer=printer, scanner=scanner, speaks=speaks))
    centres = [d for d in out if d.role == "centre"]
    if len(centres) != 1:
        raise r.fail("devices", f"needs exactly one device with role = \"centre\" (found {len(centres)})")
    return tuple(out)

"""The provincial file (province.toml): one TOML file describes a province's hub,
broker, database, board and its centres. Like the site file, it is checked whole
before anything starts; every problem names the file, the key and what to do, and
an unknown key or table is refused with the nearest known one."""
from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

from ..config import SITE_ID_RE, _password, _port, _timezone
from ..schema import Context, Field, Invalid, Schema, Wording

WORDING = Wording(
    missing_table="missing table; add it (see examples/province.toml)",
    missing_tables="missing; add at least one [[{name}]] entry (see examples/province.toml)",
    count="needs at least one entry",
    unknown="unknown key {key}; {hint}",
)


class ProvinceConfigError(ValueError):
    """The provincial file is wrong; the message says where and how to fix it."""


@dataclass(frozen=True)
class Centre:
    id: str          # the centre's site id: its topic root and its user on the provincial broker
    name: str
    password: str
    web_secret: str | None = None    # its site file's [web] secret (else [web] secret, province-wide)


@dataclass(frozen=True)
class ProvinceWeb:
    """[web]: the province's `motcua web` (docs/web.md, "At the province"): one
    process for every centre whose bridge carries the web's topics."""
    device: str          # its login on the provincial broker, and its device id in each centre's site file
    password: str
    base_url: str
    secret: str | None = None            # the centres' [web] secret, when they all share one
    notifier_url: str | None = None
    notifier_token_file: str | None = None


@dataclass(frozen=True)
class ProvinceBroker:
    host: str = "127.0.0.1"
    port: int = 1883          # plain listener: the hub and the board on the province's own network
    tls_port: int | None = 8883   # the centres' bridges
    tls_host: str | None = None   # None: every interface (the centres come from outside)
    tls_cafile: str | None = None
    tls_certfile: str | None = None
    tls_keyfile: str | None = None


@dataclass(frozen=True)
class Alerts:
    offline_after_s: float = 120.0    # no live tile for this long (or the bridge down): offline
    counter_closed_min: float = 30.0  # a counter closed this long in office hours
    counter_paused_min: float = 20.0  # a counter paused this long in office hours
    wait_min: float = 45.0            # someone waiting this long


@dataclass(frozen=True)
class Province:
    path: Path
    id: str
    name: str
    timezone: str
    data_dir: Path
    broker: ProvinceBroker
    dsn: str
    hub_password: str
    board_password: str
    office_hours: tuple[tuple[time, time], ...]
    office_days: tuple[int, ...]     # 0 = Monday … 6 = Sunday
    alerts: Alerts
    centres: tuple[Centre, ...]
    web: ProvinceWeb | None = None

    def web_secret(self, centre: Centre) -> str | None:
        """The secret a centre signs its links with: its own, else the province-wide one."""
        if self.web is None:
            return None
        return centre.web_secret or self.web.secret

    @property
    def web_centres(self) -> tuple[Centre, ...]:
        """The centres the province's web serves: those whose secret it knows."""
        return tuple(c for c in self.centres if self.web_secret(c))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def centre(self, centre_id: str) -> Centre:
        for c in self.centres:
            if c.id == centre_id:
                return c
        raise KeyError(centre_id)

    def in_office_hours(self, local) -> bool:
        """Whether a local datetime falls in the province's office hours."""
        if local.weekday() not in self.office_days:
            return False
        t = local.time()
        return any(start <= t < end for start, end in self.office_hours)


HOURS_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def _hours(value: list, ctx: Context) -> str | None:
    for item in value:
        m = HOURS_RE.match(item) if isinstance(item, str) else None
        if not m or (int(m[1]), int(m[2])) >= (int(m[3]), int(m[4])):
            return f"{item!r} must be a range of the day like \"07:30-11:30\" (start before end)"
    return None


def _days(value: list, ctx: Context) -> str | None:
    if not value or any(not isinstance(d, int) or not 1 <= d <= 7 for d in value):
        return "must list days as 1 (Monday) to 7 (Sunday), e.g. [1, 2, 3, 4, 5]"
    return None


def _schema(build=None, check=None, **fields: Field) -> Schema:
    return Schema(fields, unknown="refuse", wording=WORDING, blank_ok=False, build=build, check=check)


def _optional(schema: Schema) -> Field:
    return Field(table=schema, default=schema.check({}))


def _minutes(default: float) -> Field:
    return Field((int, float), default=float(default), range=(1, 24 * 60), convert=float,
                 says={"out_of_range": "must be between 1 and 1440 minutes"})


# The provincial broker's own users: a centre by one of these names would share its login.
RESERVED_USERS = ("hub", "board")


def _not_reserved(centre_id: str, ctx: Context) -> str | None:
    if centre_id in RESERVED_USERS:
        return (f"{centre_id!r} is the {centre_id}'s own login on the provincial broker; a centre cannot "
                "have that site id (give the centre another id, in its site file too)")
    return None


def _web_secret(secret: str, ctx: Context) -> str | None:
    return ("must be at least 16 characters: the centre's site file's [web] secret, which signs its "
            "ticket links" if secret is not None and len(secret) < 16 else None)


def _web_device(device: str, ctx: Context) -> str | None:
    if device is not None and device in RESERVED_USERS:
        return f"{device!r} is the {device}'s own login on the provincial broker; choose another, e.g. \"web-tinh\""
    return None


def _base_url(url: str, ctx: Context) -> str | None:
    if url is not None and not re.match(r"^https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/-]*)?$", url):
        return (f"{url!r} must be the web service's address as citizens' phones reach it, "
                "e.g. \"https://dichvu.hue.gov.vn\" (no query)")
    return None


def _web_checks(values: dict, ctx: Context) -> None:
    """Across the file: the web's login is nobody else's, and it knows at least one centre's secret."""
    web = values["web"]
    if web is None:
        return
    ids = [c.id for c in values["centres"]]
    if web.device in ids:
        raise ctx.refuse(f"{web.device!r} is a centre's login on the provincial broker; give the web "
                         "another device id (the same in each centre's site file)", "web.device")
    if not web.secret and not any(c.web_secret for c in values["centres"]):
        raise ctx.refuse("no centre's secret: give secret = \"…\" here (the one every centre's [web] secret "
                         "equals) or web_secret = \"…\" in each [[centres]] entry the web serves", "web.secret")


CENTRE = _schema(
    build=lambda v: Centre(**v),
    id=Field(str, required=True, pattern=SITE_ID_RE, unique=True, check=_not_reserved,
             says={"no_match": "{value!r} must be the centre's site id ([site] id of its site file: "
                               "lower-case letters, digits and '-')",
                   "duplicate": "centre {value!r} is listed twice"}),
    name=Field(str, required=True),
    password=Field(str, required=True, check=_password,
                   says={"missing": "missing; give the centre its own password on the provincial broker "
                                    "(at least 8 characters); the same goes in its site file's [province]"}),
    web_secret=Field(str, check=_web_secret))

WEB = _schema(
    build=lambda v: ProvinceWeb(**v),
    device=Field(str, required=True, pattern=r"[a-z0-9][a-z0-9_-]{0,39}\Z", check=_web_device,
                 says={"missing": "missing; give the web's device id, e.g. device = \"web-tinh\": its login here "
                                  "and the id of a device with role = \"web\" in each centre's site file",
                       "no_match": "{value!r} must be a device id: lower-case letters, digits, '-' and '_'"}),
    password=Field(str, required=True, check=_password,
                   says={"missing": "missing; give the web's own password on the provincial broker "
                                    "(at least 8 characters)"}),
    base_url=Field(str, required=True, check=_base_url, convert=lambda u: u.rstrip("/"),
                   says={"missing": "missing; give the address citizens' phones reach the web at, "
                                    "e.g. base_url = \"https://dichvu.hue.gov.vn\""}),
    secret=Field(str, check=_web_secret),
    notifier_url=Field(str), notifier_token_file=Field(str))

PROVINCE = _schema(
    check=_web_checks,
    province=Field(required=True, table=_schema(
        id=Field(str, required=True, pattern=SITE_ID_RE,
                 says={"no_match": "{value!r} must be lower-case letters, digits and '-'"}),
        name=Field(str, required=True),
        timezone=Field(str, default="Asia/Ho_Chi_Minh", check=_timezone),
        data_dir=Field(str, default="var/province"))),
    broker=_optional(_schema(
        host=Field(str, default="127.0.0.1"), port=_port(1883), tls_port=_port(8883), tls_host=Field(str),
        tls_cafile=Field(str), tls_certfile=Field(str), tls_keyfile=Field(str))),
    database=Field(required=True, table=_schema(dsn=Field(str, required=True)),
                   says={"missing_table": "missing; add [database] with dsn = \"postgresql://…\""}),
    hub=Field(required=True, table=_schema(password=Field(str, required=True, check=_password))),
    board=Field(required=True, table=_schema(
        password=Field(str, required=True, check=_password),
        office_hours=Field(list, default=["07:30-11:30", "13:30-17:00"], check=_hours),
        office_days=Field(list, default=[1, 2, 3, 4, 5], check=_days),
        offline_after_s=Field((int, float), default=120.0, range=(10, 86400), convert=float),
        counter_closed_min=_minutes(30), counter_paused_min=_minutes(20), wait_min=_minutes(45))),
    centres=Field(required=True, items=CENTRE, min_items=1, convert=tuple),
    # Optional: the province's `motcua web` (docs/web.md, "At the province").
    web=Field(table=WEB),
)


def _clock(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def load_province(path: str | Path) -> Province:
    """Read and check a provincial file. Raises ProvinceConfigError naming file, key and problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProvinceConfigError(f"{path}: cannot read the provincial file ({exc.strerror}); "
                                  "pass --province FILE or set MOTCUA_PROVINCE") from None
    except UnicodeDecodeError as exc:
        raise ProvinceConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProvinceConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        v = PROVINCE.check(data)
    except Invalid as exc:
        message = exc.message
        if exc.kind == "unknown" and exc.path in data:
            near = difflib.get_close_matches(exc.path, list(PROVINCE), n=1)
            message = f"unknown table [{exc.path}]; " + (
                f"did you mean [{near[0]}]?" if near else f"the tables are {', '.join(PROVINCE)}")
        raise ProvinceConfigError(f"{path}: {exc.path}: {message}") from None
    p, b, board = v["province"], v["broker"], v["board"]
    data_dir = Path(p["data_dir"])
    if not data_dir.is_absolute():
        data_dir = (path.parent / data_dir).resolve()

    def near(name):
        return None if name is None or Path(name).is_absolute() else str((path.parent / name).resolve())
    broker = ProvinceBroker(host=b["host"], port=b["port"], tls_port=b["tls_port"], tls_host=b["tls_host"],
                            tls_cafile=near(b["tls_cafile"]) or b["tls_cafile"],
                            tls_certfile=near(b["tls_certfile"]) or b["tls_certfile"],
                            tls_keyfile=near(b["tls_keyfile"]) or b["tls_keyfile"])
    return Province(
        path=path, id=p["id"], name=p["name"], timezone=p["timezone"], data_dir=data_dir, broker=broker,
        dsn=v["database"]["dsn"], hub_password=v["hub"]["password"], board_password=board["password"],
        office_hours=tuple(tuple(_clock(x) for x in r.split("-")) for r in board["office_hours"]),
        office_days=tuple(sorted(d - 1 for d in board["office_days"])),
        alerts=Alerts(offline_after_s=board["offline_after_s"], counter_closed_min=board["counter_closed_min"],
                      counter_paused_min=board["counter_paused_min"], wait_min=board["wait_min"]),
        centres=v["centres"], web=_token_file_near(v["web"], path))


def _token_file_near(web: ProvinceWeb | None, path: Path) -> ProvinceWeb | None:
    """A relative notifier_token_file is relative to the provincial file."""
    if web is None or not web.notifier_token_file or Path(web.notifier_token_file).is_absolute():
        return web
    from dataclasses import replace
    return replace(web, notifier_token_file=str((path.parent / web.notifier_token_file).resolve()))

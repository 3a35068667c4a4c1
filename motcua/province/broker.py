"""`motcua province broker config|run`: the provincial Mosquitto, its password
file and its ACL, all from the provincial file (docs/province.md, "Brokers").

The ACL has one `user` block per login and no `pattern` line: a pattern applies to
every user, the hub's and the board's too, so a grant written for "a centre" would
also be one for them. Explicit blocks grant exactly what is listed. The shared
parts (hashing passwords, the `user` line, handing files to the mosquitto user)
are motcua.broker's, the centre's broker."""
from __future__ import annotations

import os
from pathlib import Path

from ..broker import (TEMPLATES, BrokerSetupError, broker_user, hand_over, mosquitto_command,
                      write_passwords, write_private)
from ..cli.common import CliError
from ..protocol import Topics
from .config import Province

HUB_USER, BOARD_USER = "hub", "board"   # the hub's and the board's logins (province.config.RESERVED_USERS)
WINDOW_BATCHES = 8                      # a centre's window (docs/province.md): 8 batches of 500 records
QUEUE_FLOOR = 1000                      # Mosquitto's own default, for a province of few centres
MAX_QUEUED_MB = 256                     # a full batch is ~150 kB: about 1700 batches held at most


def acl_text(province: Province) -> str:
    """Who may publish and read what on the provincial broker (docs/province.md)."""
    lines = [f"# ACL of the provincial broker of {province.id}, generated from {province.path}.",
             "# Do not edit: run `motcua province broker config` again after changing that file.",
             "# One block per login, no `pattern` line (see motcua/province/broker.py).", "",
             "# the hub: every centre's batches and links in, acknowledgements out",
             f"user {HUB_USER}",
             "topic read motcua/+/ship/batch", "topic read motcua/+/ship/link",
             "topic write motcua/+/ship/ack", "",
             "# the province board: live tiles and links, nothing else",
             f"user {BOARD_USER}",
             "topic read motcua/+/ship/live", "topic read motcua/+/ship/link", ""]
    web = province.web
    served = {c.id for c in province.web_centres}
    for c in province.centres:
        root = f"motcua/{c.id}"
        lines += [f"# centre {c.id}: its own root only, and only its own acknowledgement back",
                  f"user {c.id}",
                  f"topic write {root}/ship/batch", f"topic write {root}/ship/live",
                  f"topic write {root}/ship/link", f"topic read {root}/ship/ack"]
        if c.id in served:
            t = Topics(c.id)
            lines += ["# and, through its bridge, what the province's web reads of it and that web's requests",
                      *(f"topic write {topic}" for topic in web_reads(t, web.device) if topic != t.ship_link),
                      f"topic read {t.request(web.device)}"]
        lines.append("")
    if web is not None:
        lines += ["# the province's motcua web: each served centre's web topics, and its own requests there",
                  f"user {web.device}"]
        for c in province.web_centres:
            t = Topics(c.id)
            lines += [*(f"topic read {topic}" for topic in web_reads(t, web.device)),
                      f"topic write {t.request(web.device)}"]
        lines.append("")
    return "\n".join(lines)


def web_reads(t: Topics, device: str) -> list[str]:
    """What the province's web reads of a centre (the bridge's web lines, out, and the
    bridge's notification): broker_config/bridge-province-web.conf.in."""
    return [t.service_state_all, t.centre_availability, t.catalogue_version, t.call_event, t.ticket_event,
            t.reply(device), t.ship_link]


def logins(province: Province) -> list[tuple[str, str]]:
    web = [(province.web.device, province.web.password)] if province.web else []
    return [(HUB_USER, province.hub_password), (BOARD_USER, province.board_password),
            *((c.id, c.password) for c in province.centres), *web]


def queue_limits(province: Province) -> tuple[int, int]:
    """max_queued_messages and max_queued_bytes: one window of every centre, capped."""
    return max(QUEUE_FLOOR, WINDOW_BATCHES * len(province.centres)), MAX_QUEUED_MB * 1024 * 1024


def _tls_files(province: Province) -> tuple[str, str, str]:
    b = province.broker
    missing = [key for key, value in (("tls_cafile", b.tls_cafile), ("tls_certfile", b.tls_certfile),
                                      ("tls_keyfile", b.tls_keyfile)) if not value]
    if missing:
        raise BrokerSetupError(
            f"{province.path}: [broker] needs {', '.join(missing)}: the centres' bridges come in over TLS "
            "only. Make a CA and the broker's certificate (docs/province.md, \"TLS files\") and set "
            "tls_cafile, tls_certfile and tls_keyfile")
    for key, value in (("tls_cafile", b.tls_cafile), ("tls_certfile", b.tls_certfile),
                       ("tls_keyfile", b.tls_keyfile)):
        if not Path(value).is_file():
            raise BrokerSetupError(f"{province.path}: [broker] {key}: {value} does not exist; make it "
                                   "(docs/province.md, \"TLS files\") or correct the path")
    return b.tls_cafile, b.tls_certfile, b.tls_keyfile


def write_config(province: Province, out_dir: Path | None = None, keep_user: bool = False) -> Path:
    """Write mosquitto.conf, passwd and acl into out_dir (default <data_dir>/broker);
    return the configuration's path. keep_user as motcua.broker.write_config (the demo).
    The TLS files must be readable by the mosquitto user when the broker drops to it."""
    cafile, certfile, keyfile = _tls_files(province)
    user, user_line = broker_user(keep_user)
    out_dir = Path(out_dir or province.data_dir / "broker").resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    persist = out_dir / "persistence"
    persist.mkdir(exist_ok=True)
    passwd, acl = out_dir / "passwd", out_dir / "acl"
    write_passwords(logins(province), passwd, keep_user=keep_user)
    acl.write_text(acl_text(province), encoding="utf-8")
    b = province.broker
    max_messages, max_bytes = queue_limits(province)
    conf = (TEMPLATES / "province.conf.in").read_text(encoding="utf-8").format(
        province_id=province.id, province_file=province.path, password_file=passwd, acl_file=acl,
        port=b.port, host=b.host, tls_port=b.tls_port, tls_host=f" {b.tls_host}" if b.tls_host else "",
        tls_cafile=cafile, tls_certfile=certfile, tls_keyfile=keyfile, persistence_dir=persist,
        window_batches=WINDOW_BATCHES, max_queued_messages=max_messages, max_queued_bytes=max_bytes,
        max_queued_mb=MAX_QUEUED_MB, user_line=user_line)
    conf_path = out_dir / "mosquitto.conf"
    write_private(conf_path, conf)
    hand_over(out_dir, persist, (passwd, acl, conf_path), user)
    return conf_path


def cmd_broker(province: Province, args) -> int:
    """`motcua province broker config|run`."""
    try:
        conf = write_config(province, Path(args.out) if args.out else None)
    except BrokerSetupError as exc:
        raise CliError(str(exc)) from None
    if args.action == "config":
        print(f"wrote {conf} with its passwd and acl ({len(province.centres)} centres)")
        return 0
    command = mosquitto_command(conf)
    os.execv(command[0], command)
    return 0  # pragma: no cover

"""Mosquitto set-up for a site: configuration, password file and ACL, all
generated from the site file, and a way to run the broker with them."""
from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from motcua.resources import package_path

from .config import ProvinceLink, Site
from .protocol import Topics

TEMPLATES = package_path("motcua.broker_config")


class BrokerSetupError(RuntimeError):
    pass


def acl_text(site: Site) -> str:
    """One block per device. In Mosquitto's ACL file a `topic` line belongs to the
    nearest `user` line above it, so every block starts with its own `user`."""
    t = Topics(site.id)
    root = t.root
    lines = [f"# ACL for motcua site {site.id}, generated from {site.path}. Do not edit: run",
             "# `motcua broker config` again after changing the site file.", ""]
    readers = [f"topic read {root}/state/#", f"topic read {root}/event/#",
               f"topic read {t.centre_availability}", f"topic read {t.notice}"]
    for d in site.devices:
        own = [f"topic readwrite {t.device_availability(d.id)}"]
        if d.role == "centre":
            block = [f"topic readwrite {root}/#"]
        elif d.role == "kiosk":
            block = [f"topic write {t.request(d.id)}", f"topic read {t.reply(d.id)}",
                     f"topic write {t.alert(d.id)}", f"topic read {t.catalogue_version}", *readers, *own]
        elif d.role == "display":
            block = [*readers, *own]  # a display only reads
        elif d.role == "counter":
            block = [f"topic write {t.request(d.id)}", f"topic read {t.reply(d.id)}", *readers, *own]
        elif d.role == "pad":
            # a pad (its bridge) publishes ratings for its own counter and nothing else, and
            # reads its counter's prompt and the centre's acknowledgements (pad/<counter>/ack)
            block = [f"topic write {t.rating(d.counter)}", f"topic read {t.pad(d.counter)}",
                     f"topic read {t.pad_ack(d.counter)}", f"topic read {t.pad(d.counter)}/#",
                     *readers, *own]
        elif d.role == "integration":  # the one-stop software's connector
            block = [f"topic write {t.request(d.id)}", f"topic read {t.reply(d.id)}", *own]
        elif d.role == "admin":
            block = [f"topic read {root}/#", f"topic write {t.request(d.id)}",
                     f"topic write {t.notice}", *own]
        elif d.role == "web":  # the citizen's phone (docs/web.md): reads like a kiosk, asks under its own id
            block = [f"topic write {t.request(d.id)}", f"topic read {t.reply(d.id)}",
                     f"topic read {t.catalogue_version}", *readers, *own]
        else:  # pragma: no cover - config validation knows every role
            raise BrokerSetupError(f"no ACL for role {d.role}")
        lines += [f"# {d.role}{f' at counter {d.counter}' if d.counter else ''}", f"user {d.id}", *block, ""]
    return "\n".join(lines)


def write_password_file(site: Site, path: Path, keep_user: bool = False) -> None:
    """Hash every device's password with mosquitto_passwd (never kept in clear); the
    file goes to the mosquitto user unless the broker keeps the caller's user."""
    write_passwords(((d.id, d.password) for d in site.devices), path, keep_user)


def write_passwords(logins: Iterable[tuple[str, str]], path: Path, keep_user: bool = False) -> None:
    """A Mosquitto password file of (user, password) pairs, hashed by mosquitto_passwd.
    The passwords were checked when their file was read (config._password): no ':',
    line break or blank at either end, which mosquitto_passwd would silently change."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise BrokerSetupError("mosquitto_passwd not found: install Mosquitto (apt-get install mosquitto)")
    # Created 0600 before the plaintext goes in, not chmod-ed afterwards.
    write_private(path, "".join(f"{user}:{password}\n" for user, password in logins))
    done = subprocess.run([tool, "-U", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        path.unlink(missing_ok=True)
        raise BrokerSetupError(f"mosquitto_passwd failed: {done.stderr.strip() or done.stdout.strip()}")
    user = None if keep_user else _mosquitto_user()
    if user:  # the broker reads it after dropping to the mosquitto user
        os.chown(path, user.pw_uid, user.pw_gid)


def _mosquitto_user() -> pwd.struct_passwd | None:
    """Started as root, Mosquitto drops to the `mosquitto` user, which must then
    be able to read its files and write its persistence folder."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("mosquitto")
    except KeyError:
        return None


def _check_reachable(path: Path, user: pwd.struct_passwd) -> None:
    for parent in [path, *path.parents]:
        mode = parent.stat()
        if parent.stat().st_uid != user.pw_uid and not mode.st_mode & stat.S_IXOTH:
            raise BrokerSetupError(f"{parent} is not searchable by the mosquitto user, so the broker "
                                   f"cannot read its files under {path}; use a data_dir outside it "
                                   f"or run `chmod o+x {parent}`")


def bridge_text(site: Site, link: ProvinceLink) -> str:
    """The `connection province` block of the centre's mosquitto.conf (docs/province.md,
    "Brokers"). Exactly the topic lines cross the bridge: ship/batch and ship/live out,
    ship/ack in. The centre's own ACL does not apply to the bridge (Mosquitto lets its
    bridges through unchecked), so these lines are the only filter on this side; on the
    province's side the centre is an ordinary client held to the provincial ACL. With
    `web = true` it also carries the province's `motcua web` (bridge-province-web.conf.in)."""
    root = Topics(site.id).root
    web = ""
    if link.web:
        t = Topics(site.id)
        device = province_web_device(site, link)
        web = (TEMPLATES / "bridge-province-web.conf.in").read_text(encoding="utf-8").format(
            web_device=device, service_state=t.service_state_all, availability=t.centre_availability,
            catalogue_version=t.catalogue_version, call_event=t.call_event, ticket_event=t.ticket_event,
            reply=t.reply(device), request=t.request(device))
    return (TEMPLATES / "bridge-province.conf.in").read_text(encoding="utf-8").format(
        site_id=site.id, site_file=site.path, host=link.host, port=link.port, password=link.password,
        cafile=link.cafile, root=root, web=web)


def province_web_device(site: Site, link: ProvinceLink) -> str:
    """The device the province's web asks as: [province] web_device, else the site
    file's only one with role "web" (the site file's checks made sure of one)."""
    if link.web_device:
        return link.web_device
    webs = site.devices_of("web")
    if len(webs) != 1:
        raise BrokerSetupError(f"{site.path}: [province] web = true: name the province's web device with "
                               "web_device = \"…\" (a device with role = \"web\")")
    return webs[0].id


def bridge_to(site: Site, address: str) -> ProvinceLink:
    """`--bridge-to HOST[:PORT]`: the site file's [province] with another address. The
    password and the CA stay in the site file: never on a command line."""
    host, colon, port = address.partition(":")
    if not host or (colon and not (port.isdigit() and 1 <= int(port) <= 65535)) or ":" in port:
        raise BrokerSetupError(f"--bridge-to {address!r}: give HOST or HOST:PORT, e.g. "
                               "--bridge-to mqtt.province.example:8883")
    if site.province is None:
        raise BrokerSetupError(
            f"--bridge-to needs a [province] table in {site.path} with this centre's password on the "
            "provincial broker and the province's CA certificate, e.g.\n  [province]\n"
            f"  host = \"{host}\"\n  cafile = \"/etc/motcua/province-ca.crt\"\n  password = \"…\"")
    return replace(site.province, host=host, port=int(port) if colon else site.province.port)


def _check_cafile(link: ProvinceLink, user: pwd.struct_passwd | None) -> None:
    ca = Path(link.cafile)
    if not ca.is_file():
        raise BrokerSetupError(f"the province's CA certificate {ca} ([province] cafile) does not exist: copy "
                               "the province's ca.crt there; the bridge is TLS only and checks the "
                               "provincial broker against it")
    if user:  # the bridge connects after Mosquitto dropped to the mosquitto user
        _check_reachable(ca.parent, user)
        st = ca.stat()
        if not (st.st_uid == user.pw_uid or st.st_mode & stat.S_IROTH
                or (st.st_gid == user.pw_gid and st.st_mode & stat.S_IRGRP)):
            raise BrokerSetupError(f"{ca} is not readable by the mosquitto user; run `chmod o+r {ca}` "
                                   "(a CA certificate is not a secret)")


def broker_user(keep_user: bool) -> tuple[pwd.struct_passwd | None, str]:
    """Whom the broker runs as, and the configuration's `user` line (see write_config)."""
    user = None if keep_user else _mosquitto_user()
    line = "user mosquitto" if user else ""
    if keep_user and os.geteuid() == 0:
        line = "# `motcua demo`: the broker keeps the caller's user\nuser root"
    return user, line


def write_private(path: Path, text: str) -> None:
    """A file that may hold a secret (a bridge's password): 0600 before anything is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def hand_over(out_dir: Path, persist: Path, files: Iterable[Path], user: pwd.struct_passwd | None) -> None:
    """Give the broker's files to the user it drops to, and check it can reach them."""
    if user:
        _check_reachable(out_dir, user)
        for p in (out_dir, persist, *files, *persist.iterdir()):
            os.chown(p, user.pw_uid, user.pw_gid)


def write_config(site: Site, out_dir: Path | None = None, port: int | None = None,
                 host: str | None = None, persistence: bool = True, keep_user: bool = False,
                 province: ProvinceLink | None = None) -> Path:
    """Write mosquitto.conf, passwd and acl for the site into out_dir; return the conf path.

    A broker started as root drops to the `mosquitto` user, so the files go to that
    user and every folder above them must let it through (else BrokerSetupError).
    keep_user (the demo): the broker keeps the caller's user instead (`user root` when
    started as root, which Mosquitto takes as "do not switch"), so it reads its files
    wherever they are, a 0700 clone in root's home too; for a loopback demo only.
    province (else the site file's [province]): add the bridge to the provincial broker."""
    province = province or site.province
    user, user_line = broker_user(keep_user)
    if province:
        _check_cafile(province, user)
    out_dir = Path(out_dir or site.data_dir / "broker").resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    persist = out_dir / "persistence"
    persist.mkdir(exist_ok=True)
    passwd, acl = out_dir / "passwd", out_dir / "acl"
    write_password_file(site, passwd, keep_user=keep_user)
    acl.write_text(acl_text(site), encoding="utf-8")
    b = site.broker
    host = host or b.host
    tls = ""
    if b.tls_port:
        tls = (TEMPLATES / "tls-listener.conf.in").read_text(encoding="utf-8").format(
            tls_port=b.tls_port, host=host, tls_cafile=b.tls_cafile, tls_certfile=b.tls_certfile,
            tls_keyfile=b.tls_keyfile)
    conf = (TEMPLATES / "mosquitto.conf.in").read_text(encoding="utf-8").format(
        site_id=site.id, site_file=site.path, password_file=passwd, acl_file=acl,
        port=port or b.port, host=host, tls_listener=tls,
        persistence="true" if persistence else "false", persistence_dir=persist,
        user_line=user_line, bridge=bridge_text(site, province) if province else "")
    conf_path = out_dir / "mosquitto.conf"
    write_private(conf_path, conf)  # 0600: a bridge's password is in it
    hand_over(out_dir, persist, (passwd, acl, conf_path), user)
    return conf_path


def mosquitto_command(conf: Path) -> list[str]:
    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if exe is None:
        raise BrokerSetupError("mosquitto not found: install it (apt-get install mosquitto) or run `make demo`")
    return [exe, "-c", str(conf)]

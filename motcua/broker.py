"""Mosquitto set-up for a site: configuration, password file and ACL, all
generated from the site file, and a way to run the broker with them."""
from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

from motcua.resources import package_path

from .config import Site
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
        else:  # pragma: no cover - config validation knows every role
            raise BrokerSetupError(f"no ACL for role {d.role}")
        lines += [f"# {d.role}{f' at counter {d.counter}' if d.counter else ''}", f"user {d.id}", *block, ""]
    return "\n".join(lines)


def write_password_file(site: Site, path: Path, keep_user: bool = False) -> None:
    """Hash every device's password with mosquitto_passwd (never kept in clear); the
    file goes to the mosquitto user unless the broker keeps the caller's user."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise BrokerSetupError("mosquitto_passwd not found: install Mosquitto (apt-get install mosquitto)")
    # Created 0600 before the plaintext goes in, not chmod-ed afterwards.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("".join(f"{d.id}:{d.password}\n" for d in site.devices))
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


def write_config(site: Site, out_dir: Path | None = None, port: int | None = None,
                 host: str | None = None, persistence: bool = True, keep_user: bool = False) -> Path:
    """Write mosquitto.conf, passwd and acl for the site into out_dir; return the conf path.

    A broker started as root drops to the `mosquitto` user, so the files go to that
    user and every folder above them must let it through (else BrokerSetupError).
    keep_user (the demo): the broker keeps the caller's user instead (`user root` when
    started as root, which Mosquitto takes as "do not switch"), so it reads its files
    wherever they are, a 0700 clone in root's home too; for a loopback demo only."""
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
    user = None if keep_user else _mosquitto_user()
    user_line = "user mosquitto" if user else ""
    if keep_user and os.geteuid() == 0:
        user_line = "# `motcua demo`: the broker keeps the caller's user\nuser root"
    conf = (TEMPLATES / "mosquitto.conf.in").read_text(encoding="utf-8").format(
        site_id=site.id, site_file=site.path, password_file=passwd, acl_file=acl,
        port=port or b.port, host=host, tls_listener=tls,
        persistence="true" if persistence else "false", persistence_dir=persist,
        user_line=user_line)
    conf_path = out_dir / "mosquitto.conf"
    conf_path.write_text(conf, encoding="utf-8")
    if user:
        _check_reachable(out_dir, user)
        for p in (out_dir, persist, passwd, acl, conf_path, *persist.iterdir()):
            os.chown(p, user.pw_uid, user.pw_gid)
    return conf_path


def mosquitto_command(conf: Path) -> list[str]:
    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if exe is None:
        raise BrokerSetupError("mosquitto not found: install it (apt-get install mosquitto) or run `make demo`")
    return [exe, "-c", str(conf)]

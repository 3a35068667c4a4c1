"""What `motcua install ROLE` writes so a centre comes back after a reboot: the
text of systemd units and of the X session of a screen, per role. Pure text:
the command line (motcua.cli.install) writes or prints it; docs/operations.md
says how it fits together.

| role | what it gets |
|---|---|
| centre | `motcua-centre.service`: Type=notify, WatchdogSec (the worker feeds it), restarted always |
| broker | `motcua-broker.service`: `motcua broker run` (Mosquitto with the configuration written from the site file, Type=notify as Debian's own mosquitto.service); it replaces Debian's mosquitto.service |
| backup | `motcua-backup.service` + `motcua-backup.timer`: `motcua backup` every day, missed runs made up at boot |
| pad | `motcua-pad-N.service`: the rating pad's bridge of counter N on its serial device |
| kiosk, display | a `kiosk` user logged in by LightDM into a session of our own (no blanking, no cursor) that starts a systemd *user* unit running the app full screen, restarted always |
| counter | a systemd user unit for the officer's terminal, started by an XDG autostart entry when the officer logs in to the desktop |
| shipper | `motcua-ship.service`: `motcua ship`, the centre's records and live tile to the province (docs/province.md), restarted always |
| web | `motcua-web.service`: `motcua web`, the citizen's phone pages behind the centre's HTTPS proxy (docs/web.md), its gateway's token from an EnvironmentFile, open files for thousands of phones, restarted always |
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ROLES", "File", "Target", "files", "next_steps", "quote"]

ROLES = ("centre", "broker", "backup", "pad", "kiosk", "display", "counter", "shipper", "web")
SYSTEM = "/etc/systemd/system"
USER_UNITS = "/etc/systemd/user"
DEFAULT_DATA_DIR = "/var/lib/motcua"


@dataclass(frozen=True)
class Target:
    """Where motcua is on the machine: the `motcua` program, the site file, the data folder."""
    exe: str                     # absolute path of the installed `motcua`
    site_file: str               # absolute path of the site file (/etc/motcua/site.toml)
    data_dir: str                # the site file's data_dir
    user: str = "motcua"         # the system user of the services
    screen_user: str = "kiosk"   # the user a kiosk or display logs in as


@dataclass(frozen=True)
class File:
    path: str   # absolute path on the machine
    text: str
    mode: int = 0o644

    @property
    def unit(self) -> str | None:
        name = self.path.rsplit("/", 1)[-1]
        return name if name.endswith((".service", ".timer")) else None


def quote(arg: str) -> str:
    """One argument of an Exec= line (systemd's quoting: double quotes, backslash escapes;
    % and $ doubled, as systemd would expand them)."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and re.fullmatch(r"[A-Za-z0-9_@%+=:,./$-]+", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _command(t: Target, *words: str) -> str:
    return " ".join(quote(w) for w in (t.exe, "--site", t.site_file, *words))


def _shell(words: list[str]) -> str:
    return " ".join("'" + w.replace("'", "'\\''") + "'" if not re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", w)
                    else w for w in words)


def _writable(t: Target) -> str:
    """The only folder a service may write: the data folder (systemd makes it, owned by
    the service's user, when it is /var/lib/motcua)."""
    if t.data_dir.rstrip("/") == DEFAULT_DATA_DIR:
        return "StateDirectory=motcua\nStateDirectoryMode=0750"
    return f"ReadWritePaths={quote(t.data_dir)}"


def _hardening(t: Target, devices: bool = False) -> str:
    home = "read-only" if t.exe.startswith(("/home/", "/root/")) or t.site_file.startswith(("/home/", "/root/")) \
        else "yes"
    lines = [
        "# Hardening: the service reads the system and writes only its data folder.",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        _writable(t),
        f"ProtectHome={home}",
        "PrivateTmp=yes",
        *([] if devices else ["PrivateDevices=yes"]),
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "RestrictNamespaces=yes",
        "RestrictRealtime=yes",
        "RestrictSUIDSGID=yes",
        "LockPersonality=yes",
        "SystemCallArchitectures=native",
        "CapabilityBoundingSet=",
        "UMask=0027",
    ]
    return "\n".join(lines)


def _header(what: str) -> str:
    return (f"# {what}\n# Written by `motcua install`; write it again rather than edit it "
            "(docs/operations.md).\n")


def centre(t: Target, watchdog_s: int = 30) -> list[File]:
    text = f"""{_header("The motcua centre service: the queue, its database, its replies.")}
[Unit]
Description=motcua centre service
# The broker may be on this machine (motcua-broker or Debian's mosquitto) or another.
After=network-online.target motcua-broker.service mosquitto.service
Wants=network-online.target
# Never give up restarting: the centre is the one thing a centre cannot do without.
StartLimitIntervalSec=0

[Service]
# READY=1 once connected to the broker with its worker running; WATCHDOG=1 from the
# worker's loop every WatchdogSec/2: a worker stuck for {watchdog_s} s gets the centre
# killed and restarted. Until the broker answers it stays "activating": it keeps
# trying by itself.
Type=notify
NotifyAccess=main
WatchdogSec={watchdog_s}
TimeoutStartSec=infinity
TimeoutStopSec=20
ExecStart={_command(t, "centre")}
Restart=always
RestartSec=2
User={t.user}
Group={t.user}
Environment=PYTHONUNBUFFERED=1
SyslogIdentifier=motcua-centre
{_hardening(t)}

[Install]
WantedBy=multi-user.target
"""
    return [File(f"{SYSTEM}/motcua-centre.service", text)]


def shipper(t: Target) -> list[File]:
    text = f"""{_header("Shipping to the province: the centre's records (its outbox) in acknowledged batches, "
                        "and its live tile, through the centre's broker and its bridge (docs/province.md).")}
[Unit]
Description=motcua shipping to the province
# Beside the centre, never in its way: it reads the database, the centre never waits for it.
After=network-online.target motcua-broker.service mosquitto.service motcua-centre.service
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
# Nothing to lose on a stop or a crash: the province's retained acknowledgement says where
# to go on. Without a database yet (the centre never ran), it stops and is started again.
Type=simple
ExecStart={_command(t, "ship")}
Restart=always
RestartSec=5
TimeoutStopSec=10
User={t.user}
Group={t.user}
Environment=PYTHONUNBUFFERED=1
SyslogIdentifier=motcua-ship
{_hardening(t)}

[Install]
WantedBy=multi-user.target
"""
    return [File(f"{SYSTEM}/motcua-ship.service", text)]


def broker_unit(t: Target, name: str, exec_start: str, what: str, description: str, limits: str = "") -> File:
    """A Mosquitto written from our configuration and run by systemd: the centre's
    (`broker`) and the province's (motcua.province.install), which differ only in
    their command, names and open-file limit."""
    text = f"""{_header(what)}
[Unit]
Description={description}
After=network-online.target
Wants=network-online.target
# It takes the place of Debian's own mosquitto.service (same port).
Conflicts=mosquitto.service
StartLimitIntervalSec=0

[Service]
# Debian's Mosquitto tells systemd when it listens (as its own mosquitto.service does).
Type=notify
NotifyAccess=main
ExecStart={exec_start}
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=2
{limits}User={t.user}
Group={t.user}
SyslogIdentifier={name}
{_hardening(t)}

[Install]
WantedBy=multi-user.target
"""
    return File(f"{SYSTEM}/{name}.service", text)


def broker(t: Target) -> list[File]:
    return [broker_unit(t, "motcua-broker", _command(t, "broker", "run"),
                        "Mosquitto for the site: `motcua broker run` writes its configuration, passwords and "
                        "ACL from the site file into <data_dir>/broker, then runs it.",
                        "motcua MQTT broker (Mosquitto configured from the site file)")]


def backup(t: Target, keep: int = 14, when: tuple[str, ...] = ("*-*-* 12:15:00", "*-*-* 18:30:00"),
           dest: str | None = None) -> list[File]:
    words = ["backup", "--keep", str(keep)] + (["--dest", dest] if dest else [])
    calendar = "\n".join(f"OnCalendar={w}" for w in ([when] if isinstance(when, str) else when))
    extra = f"\nReadWritePaths={quote(dest)}" if dest else ""
    service = f"""{_header("A consistent copy of the live centre database (motcua backup); "
                           "run by motcua-backup.timer.")}
[Unit]
Description=motcua backup of the centre database
After=motcua-centre.service

[Service]
Type=oneshot
ExecStart={_command(t, *words)}
User={t.user}
Group={t.user}
Nice=10
IOSchedulingClass=idle
SyslogIdentifier=motcua-backup
{_hardening(t)}{extra}
"""
    timer = f"""{_header("When motcua-backup.service runs (the machine's local time), "
                         "and at boot when a run was missed.")}
[Unit]
Description=motcua backup of the centre database, on a timer

[Timer]
{calendar}
Persistent=true
RandomizedDelaySec=60

[Install]
WantedBy=timers.target
"""
    return [File(f"{SYSTEM}/motcua-backup.service", service), File(f"{SYSTEM}/motcua-backup.timer", timer)]


def pad(t: Target, counter: int, serial: str, device: str | None = None) -> list[File]:
    words = ["pad", "--counter", str(counter), "--serial", serial] + (["--device", device] if device else [])
    text = f"""{_header(f"The rating pad's bridge of counter {counter}: its serial device to the centre.")}
[Unit]
Description=motcua rating pad bridge, counter {counter}
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
# Unplugged, the bridge stops; systemd starts it again until the pad is back.
# Ratings not yet acknowledged wait in its journal (<data_dir>/pad-{counter}.journal.sqlite).
Type=simple
ExecStart={_command(t, *words)}
Restart=always
RestartSec=3
User={t.user}
Group={t.user}
# the serial device: /dev/ttyUSB* and /dev/ttyACM* belong to the dialout group
SupplementaryGroups=dialout
Environment=PYTHONUNBUFFERED=1
SyslogIdentifier=motcua-pad-{counter}
{_hardening(t, devices=True)}

[Install]
WantedBy=multi-user.target
"""
    return [File(f"{SYSTEM}/motcua-pad-{counter}.service", text)]


def _screen(t: Target, name: str, what: str, words: list[str]) -> list[File]:
    """A kiosk or a display: LightDM logs the screen user in to our session, which
    turns blanking off and starts the user unit that runs the app full screen."""
    unit = f"motcua-{name}.service"
    session = f"/usr/local/bin/motcua-{name}-session"
    service = f"""{_header(f"The {what}, full screen, in the X session of motcua-{name} "
                           f"(started by {session}).")}
[Unit]
Description=motcua {what} (full screen)
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart={_command(t, *words)}
Restart=always
RestartSec=3
Environment=PYTHONUNBUFFERED=1
SyslogIdentifier=motcua-{name}
NoNewPrivileges=yes
"""
    script = f"""#!/bin/sh
# The X session of a motcua {what}: written by `motcua install {name}`.
# LightDM logs the screen user in to it at boot (50-motcua.conf).
# No screen saver, no blanking, no power saving; no mouse pointer.
xset s off s noblank -dpms
command -v unclutter >/dev/null && unclutter -idle 1 -root &
# The app is a systemd user unit: restarted when it stops, its log in the journal
# (journalctl _SYSTEMD_USER_UNIT={unit}).
systemctl --user import-environment DISPLAY XAUTHORITY
exec systemctl --user start --wait {unit}
"""
    desktop = f"""[Desktop Entry]
Type=Application
Name=motcua {what}
Comment=The motcua {what}, full screen (written by `motcua install {name}`)
Exec={session}
"""
    lightdm = f"""# Written by `motcua install {name}`: log {t.screen_user} in at boot, straight into
# the motcua-{name} session; the X server never blanks and shows no pointer.
[Seat:*]
autologin-user={t.screen_user}
autologin-user-timeout=0
autologin-session=motcua-{name}
user-session=motcua-{name}
xserver-command=X -nocursor -s 0 -dpms
"""
    return [File(f"{USER_UNITS}/{unit}", service), File(session, script, 0o755),
            File(f"/usr/share/xsessions/motcua-{name}.desktop", desktop),
            File("/etc/lightdm/lightdm.conf.d/50-motcua.conf", lightdm)]


def kiosk(t: Target, device: str | None = None) -> list[File]:
    return _screen(t, "kiosk", "citizen kiosk",
                   ["kiosk", "--fullscreen"] + (["--device", device] if device else []))


def display(t: Target, board: str = "hall", counter: int | None = None, device: str | None = None) -> list[File]:
    words = ["display", board] + ([str(counter)] if board == "counter" else []) + ["--fullscreen"]
    what = {"hall": "hall board", "counter": f"display of counter {counter}",
            "tallies": "satisfaction board"}[board]
    return _screen(t, "display", what, words + (["--device", device] if device else []))


def counter(t: Target, number: int, officer: str | None = None, device: str | None = None) -> list[File]:
    words = ["counter-app", str(number)] + (["--officer", officer] if officer else []) \
        + (["--device", device] if device else [])
    service = f"""{_header(f"The officer's terminal of counter {number}, started when the officer "
                           "logs in to the desktop (/etc/xdg/autostart/motcua-counter.desktop).")}
[Unit]
Description=motcua counter terminal, counter {number}

[Service]
Type=simple
ExecStart={_command(t, *words)}
# Closed by the officer: it stays closed; stopped by a crash: it comes back.
Restart=on-failure
RestartSec=3
Environment=PYTHONUNBUFFERED=1
SyslogIdentifier=motcua-counter
NoNewPrivileges=yes
"""
    start = "systemctl --user import-environment DISPLAY XAUTHORITY && systemctl --user start motcua-counter.service"
    desktop = f"""[Desktop Entry]
Type=Application
Name=motcua counter {number}
Comment=The motcua counter terminal (written by `motcua install counter`)
Exec=sh -c "{start}"
X-GNOME-Autostart-enabled=true
"""
    return [File(f"{USER_UNITS}/motcua-counter.service", service),
            File("/etc/xdg/autostart/motcua-counter.desktop", desktop)]


WEB_ENV = "/etc/motcua/web.env"


def web_unit(t: Target, name: str, exec_start: str, where: str, after: str) -> File:
    """`motcua web`'s unit, beside a centre (`web`) or at the province
    (motcua.province.install): the same service but for its command and neighbours."""
    text = f"""{_header(f"The citizen's phone pages (docs/web.md) {where}, behind an HTTPS proxy.")}
[Unit]
Description=motcua web (the citizen's phone) {where}
After=network-online.target {after}
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
# Plain HTTP on this machine only: nginx or Caddy serves it to the internet as [web] base_url.
ExecStart={exec_start}
# The SMS / Zalo gateway's token (MOTCUA_WEB_NOTIFIER_TOKEN=…, and _URL if not in the site
# or provincial file), readable by root only: never in those files, which other services
# read. Optional: without it the pages offer no text message, numbers from afar or bookings.
EnvironmentFile=-{WEB_ENV}
# Every phone following its ticket holds a connection: 5,000 phones, 5,000 descriptors.
LimitNOFILE=65536
Restart=always
RestartSec=3
TimeoutStopSec=10
User={t.user}
Group={t.user}
Environment=PYTHONUNBUFFERED=1
SyslogIdentifier={name}
{_hardening(t)}

[Install]
WantedBy=multi-user.target
"""
    return File(f"{SYSTEM}/{name}.service", text)


def web(t: Target, http_port: int = 8080) -> list[File]:
    return [web_unit(t, "motcua-web", _command(t, "web", "--host", "127.0.0.1", "--http-port", str(http_port)),
                     "beside the centre", "motcua-broker.service mosquitto.service motcua-centre.service")]


def files(role: str, t: Target, **options) -> list[File]:
    """Every file of a role, with the options of that role (see each function)."""
    makers = {"centre": centre, "broker": broker, "backup": backup, "pad": pad, "kiosk": kiosk,
              "display": display, "counter": counter, "shipper": shipper, "web": web}
    if role not in makers:
        raise ValueError(f"no role {role!r}: one of {', '.join(ROLES)}")
    return makers[role](t, **{k: v for k, v in options.items() if v is not None})


def next_steps(role: str, written: list[File], t: Target) -> list[str]:
    """The commands to run once the files are in place."""
    units = [f.unit for f in written if f.path.startswith(SYSTEM) and f.unit]
    if role == "backup":
        units = [u for u in units if u.endswith(".timer")]
    steps = []
    if role in ("centre", "broker", "backup", "pad", "shipper", "web"):
        steps.append(f"id {t.user} || adduser --system --group --home {DEFAULT_DATA_DIR} --no-create-home {t.user}")
        if role == "web":
            steps.append(f"install -m 0600 /dev/null {WEB_ENV}   # then MOTCUA_WEB_NOTIFIER_TOKEN=… in it, "
                         "if the site file's [web] names a gateway")
        if role == "broker":
            steps.append("systemctl disable --now mosquitto.service   # ours takes its place")
        if role == "pad":
            steps.append(f"adduser {t.user} dialout")
        steps.append("systemctl daemon-reload && systemctl enable --now " + " ".join(units))
        steps.append("journalctl -u " + " -u ".join(u for u in units if u.endswith(".service"))
                     if role != "backup" else "systemctl list-timers motcua-backup.timer")
    elif role in ("kiosk", "display"):
        u = t.screen_user
        steps += ["apt-get install --no-install-recommends xserver-xorg x11-xserver-utils lightdm unclutter",
                  f"id {u} || adduser --disabled-password --gecos 'motcua screen' {u}",
                  f"adduser {u} motcua   # reads /etc/motcua/site.toml (mode 0640, group motcua)",
                  f"install -d -o {u} -g motcua -m 0750 {t.data_dir}",
                  "systemctl set-default graphical.target && systemctl enable lightdm && reboot"]
    else:
        steps += ["adduser OFFICER motcua   # each officer who logs in reads /etc/motcua/site.toml",
                  "log out and in again: the terminal starts with the desktop"]
    return steps

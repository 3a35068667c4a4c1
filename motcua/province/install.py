"""What `motcua province install ROLE` writes so a province's server comes back
after a reboot: systemd units for the hub, the provincial broker and the phones'
web, in the style and with the hardening of the centre's (motcua.install). Pure
text; the command line writes or prints it; docs/province.md says how it fits.

| role | what it gets |
|---|---|
| hub | `motcua-province-hub.service`: `motcua province hub`, Type=notify (ready once migrated and subscribed), restarted always, after PostgreSQL and the broker |
| broker | `motcua-province-broker.service`: `motcua province broker run` (Mosquitto with the configuration written from the provincial file), Type=notify |
| web | `motcua-province-web.service`: `motcua web --province` behind the province's HTTPS proxy, its gateway's token from an EnvironmentFile |
"""
from __future__ import annotations

from ..install import SYSTEM, WEB_ENV, File, Target, _hardening, _header, broker_unit, quote, web_unit

ROLES = ("hub", "broker", "web")


def _command(t: Target, *words: str) -> str:
    """`motcua <words> --province FILE` (Target.site_file holds the provincial file)."""
    return " ".join(quote(w) for w in (t.exe, *words, "--province", t.site_file))


def hub(t: Target, workers: int = 2) -> list[File]:
    text = f"""{_header("The province's hub: every centre's shipped records stored once in PostgreSQL, "
                        "acknowledged after the commit (docs/province.md, 'The hub').")}
[Unit]
Description=motcua province hub
After=network-online.target postgresql.service motcua-province-broker.service
Wants=network-online.target
# Never give up: the centres keep their records until it acknowledges them, however long.
StartLimitIntervalSec=0

[Service]
# READY=1 once its database is migrated and it is subscribed; STOPPING=1 on SIGTERM, after
# which it finishes the transaction in hand (what it did not commit is sent again).
Type=notify
NotifyAccess=main
TimeoutStartSec=infinity
TimeoutStopSec=30
ExecStart={_command(t, "province", "hub", "--workers", str(workers))}
Restart=always
RestartSec=2
User={t.user}
Group={t.user}
Environment=PYTHONUNBUFFERED=1
SyslogIdentifier=motcua-province-hub
{_hardening(t)}

[Install]
WantedBy=multi-user.target
"""
    return [File(f"{SYSTEM}/motcua-province-hub.service", text)]


def broker(t: Target) -> list[File]:
    return [broker_unit(t, "motcua-province-broker", _command(t, "province", "broker", "run"),
                        "The provincial Mosquitto: `motcua province broker run` writes its configuration, "
                        "passwords and ACL from the provincial file into <data_dir>/broker, then runs it.",
                        "motcua provincial MQTT broker",
                        limits="# Hundreds of centres' bridges and the phones' web: a descriptor each.\n"
                               "LimitNOFILE=65536\n")]


def web(t: Target, http_port: int = 8080) -> list[File]:
    return [web_unit(t, "motcua-province-web", _command(t, "web", "--host", "127.0.0.1", "--http-port",
                                                        str(http_port)),
                     "at the province", "motcua-province-broker.service")]


def files(role: str, t: Target, **options) -> list[File]:
    makers = {"hub": hub, "broker": broker, "web": web}
    if role not in makers:
        raise ValueError(f"no role {role!r}: one of {', '.join(ROLES)}")
    return makers[role](t, **{k: v for k, v in options.items() if v is not None})


def next_steps(role: str, written: list[File], t: Target) -> list[str]:
    units = [f.unit for f in written if f.unit]
    steps = [f"id {t.user} || adduser --system --group --home /var/lib/motcua --no-create-home {t.user}",
             f"chgrp {t.user} {t.site_file} && chmod 0640 {t.site_file}   # it holds the centres' passwords"]
    if role == "broker":
        steps.append("systemctl disable --now mosquitto.service   # ours takes its place")
    if role == "web":
        steps.append(f"install -m 0600 /dev/null {WEB_ENV}   # then MOTCUA_WEB_NOTIFIER_TOKEN=… in it, "
                     "if the provincial file's [web] names a gateway")
    steps.append("systemctl daemon-reload && systemctl enable --now " + " ".join(units))
    steps.append("journalctl -u " + " -u ".join(units))
    return steps

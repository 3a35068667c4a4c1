"""`motcua`: one command that starts every role.

Every command that acts on the queue goes through MQTT like the device it
stands for, so the CLI exercises exactly what a kiosk or counter does.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import protocol
from .config import Site, SiteConfigError, load_site

EXAMPLE_SITE = Path(__file__).resolve().parent.parent / "examples" / "site.toml"
COUNTER_ACTIONS = {
    "next": ("counter.next", None), "call": ("counter.call", "ticket"), "recall": ("counter.recall", None),
    "start": ("counter.start", None), "done": ("counter.done", None), "noshow": ("counter.no_show", None),
    "transfer": ("counter.transfer", "service"), "pause": ("counter.pause", "reason"),
    "resume": ("counter.resume", None), "close": ("counter.close", None),
    "signin": ("counter.sign_in", "officer"),
}


class CliError(Exception):
    pass


def find_site(arg: str | None, demo: bool = False) -> Site:
    path = arg or os.environ.get("MOTCUA_SITE")
    if path is None:
        if Path("site.toml").exists():
            path = "site.toml"
        elif demo and EXAMPLE_SITE.exists():
            path = str(EXAMPLE_SITE)
        else:
            raise CliError("no site file: pass --site FILE, set MOTCUA_SITE, or put site.toml here "
                           f"(a sample is {EXAMPLE_SITE})")
    return load_site(path)


def device_for(site: Site, role: str, explicit: str | None, counter: int | None = None) -> str:
    """The device a CLI command stands for: the one named, else the first of the role
    (for a counter, the device at that counter), else the admin device."""
    if explicit:
        try:
            site.device(explicit)
        except KeyError:
            raise CliError(f"no device {explicit!r} in {site.path}") from None
        return explicit
    for d in site.devices_of(role):
        if counter is None or d.counter == counter:
            return d.id
    admins = site.devices_of("admin")
    if admins:
        return admins[0].id
    raise CliError(f"{site.path} has no {role} device{f' at counter {counter}' if counter else ''} "
                   "and no admin device to act as; add one")


def _client(site: Site, device: str):
    from .mqtt import DeviceClient
    client = DeviceClient(site, device).start()
    if not client.wait_connected(site.request_timeout_s):
        client.stop()
        raise CliError(f"cannot reach the MQTT broker at {site.broker.host}:{site.broker.port} as "
                       f"{device}: start it with `motcua broker` (or `motcua demo`), and check the "
                       "password file matches the site file (`motcua broker passwords`)")
    return client


def _request(site: Site, device: str, op: str, **args) -> dict:
    from .mqtt import CentreUnavailable, RequestRefused
    client = _client(site, device)
    try:
        return client.request(op, **args)
    except RequestRefused as exc:
        raise CliError(f"refused ({exc.code}): {exc.message}") from None
    except CentreUnavailable as exc:
        raise CliError(str(exc)) from None
    finally:
        client.stop()


def _minutes(seconds: int) -> str:
    return f"{round(seconds / 60)} phút" if seconds else "—"


def cmd_ticket(site: Site, args) -> int:
    device = device_for(site, "kiosk", args.device)
    t = _request(site, device, "ticket.issue", service=args.service, priority=args.priority)
    print(f"Số thứ tự / Ticket: {t['ticket']}  ({t['service_name_vi']})")
    if t["priority"]:
        print(f"Ưu tiên / Priority: {t['priority']}")
    print(f"Người đang chờ trước / People ahead: {t['people_ahead']}")
    print(f"Thời gian chờ dự kiến / Estimated wait: {_minutes(t['estimated_wait_s'])}")
    print(f"Quầy phục vụ / Counters: {', '.join(str(c) for c in t['counters'])}")
    return 0


def cmd_counter(site: Site, args) -> int:
    op, arg_name = COUNTER_ACTIONS[args.action]
    extra = {}
    if arg_name:
        if not args.value:
            raise CliError(f"`motcua counter N {args.action}` needs {arg_name.upper()}")
        extra[arg_name] = " ".join(args.value)
    elif args.value:
        raise CliError(f"`motcua counter N {args.action}` takes no further words")
    if args.action == "pause" and args.public:
        extra["public"] = True
    if args.action == "signin" and args.name:
        extra["officer_name"] = args.name
    device = device_for(site, "counter", args.device, counter=args.counter)
    r = _request(site, device, op, counter=args.counter, **extra)
    for f in r.get("finished", []):
        print(f"{f['ticket']}: {'xong / done' if f['state'] == 'done' else 'vắng mặt / no-show'}")
    cur = r["ticket"]
    line = f"Quầy {r['counter']} ({r['state']})"
    if r.get("officer"):
        line += f", cán bộ {r['officer']}"
    if cur:
        line += f": {cur['ticket']} [{cur['service']}] {cur['state']}"
    else:
        line += ": không có số / no current ticket"
    print(line)
    return 0


def cmd_status(site: Site, args) -> int:
    device = device_for(site, "display", args.device)
    client = _client(site, device)
    got = threading.Event()
    box: dict = {}

    def on_hall(topic, data):
        box.update(data)
        got.set()

    client.subscribe(client.topics.hall_state, on_hall)
    try:
        if not got.wait(site.request_timeout_s):
            raise CliError("no hall state on the broker: is `motcua centre` running?")
    finally:
        client.stop()
    print(format_status(box))
    return 0


def format_status(hall: dict) -> str:
    rows = [f"{hall['name']} — {hall['day']}", "",
            f"{'Quầy':>4}  {'Trạng thái':<10} {'Số':>6}  {'Lĩnh vực':<6} Cán bộ"]
    for c in hall["counters"]:
        t = c["ticket"] or {}
        rows.append(f"{c['counter']:>4}  {c['state']:<10} {t.get('ticket', '—'):>6}  "
                    f"{t.get('service', ''):<6} {c.get('officer') or ''}")
    rows += ["", f"{'Lĩnh vực':<6} {'Chờ':>4} {'Ưu tiên':>7} {'Dự kiến':>9}  Tên"]
    for s in hall["services"]:
        rows.append(f"{s['service']:<6} {s['waiting']:>4} {s['waiting_priority']:>7} "
                    f"{_minutes(s['estimated_wait_s']):>9}  {s['name_vi']}")
    if hall["recent_calls"]:
        rows += ["", "Vừa gọi / Recent calls:"]
        for call in hall["recent_calls"]:
            rows.append(f"  #{call['seq']} {call['ticket']} → quầy {call['counter']}"
                        f"{' (gọi lại)' if call['recall'] else ''}")
    return "\n".join(rows)


def _centre_db(site: Site):
    """The centre's database, opened beside a running centre (WAL allows it)."""
    from .store import Store
    return Store(site.database)


def _print_import(report, what: str) -> int:
    for e in report.errors:
        print(f"  {e}", file=sys.stderr)
    print(f"{what}: {report.imported} imported" + (f", {report.updated} updated" if getattr(report, "updated", 0) else "")
          + (f", {len(report.errors)} rows refused (see above)" if report.errors else ""))
    return 0 if not report.errors else 1


def cmd_dossiers(site: Site, args) -> int:
    from .dossiers import DossierError, DossierStore
    store = _centre_db(site)
    dossiers = DossierStore(store.db, site.dossiers, site.timezone)
    try:
        if args.action == "import":
            if not args.value:
                raise CliError("`motcua dossiers import FILE` needs the file (JSON or CSV)")
            return _print_import(dossiers.import_file(args.value), args.value)
        if args.action == "receipt":
            from .receipt import render_receipt
            if not args.value:
                raise CliError("`motcua dossiers receipt CODE` needs the dossier code")
            dossier = dossiers.get(args.value)
            out = Path(args.out or f"{dossier.code}.pdf")
            png = out.with_suffix(".png") if args.png else None
            render_receipt(dossier, site.name, out, site.dossiers, png_path=png, timezone=site.timezone)
            print(f"wrote {out}" + (f" and {png}" if png else ""))
            return 0
        if args.action in ("overdue", "apologise", "letter"):
            return _dossier_apologies(site, dossiers, args)
    except DossierError as exc:
        raise CliError(f"{exc.code}: {exc.message}") from None
    finally:
        store.close()
    raise CliError(f"unknown action {args.action}")


def _dossier_apologies(site: Site, dossiers, args) -> int:
    """`motcua dossiers overdue | apologise CODE | letter CODE` (form 04 letters).
    The database is written directly, as `import` does: a running centre reads
    dossiers from it at every `dossier.status`, so the kiosk sees the new date
    at once."""
    from datetime import datetime, timezone
    from .apology_letter import issue_apology, reprint_letter
    now = datetime.now(timezone.utc)
    if args.action == "overdue":
        print(format_overdue(dossiers.overdue(now)))
        return 0
    if not args.value:
        raise CliError(f"`motcua dossiers {args.action} CODE` needs the dossier code "
                       "(`motcua dossiers overdue` lists the late ones)")
    if args.action == "letter":
        _, out = reprint_letter(dossiers, args.value, site.name, args.out, place=site.dossiers.place)
        print(f"wrote {out}")
        return 0
    if args.new_date is None:
        raise CliError("`motcua dossiers apologise CODE` needs --new-date DATE (YYYY-MM-DD or "
                       "dd/mm/yyyy) and --reason \"…\"")
    try:
        d, out = issue_apology(dossiers, args.value, args.reason, args.new_date, site.name, args.out,
                               place=site.dossiers.place, now=now)
    except OSError as exc:
        raise CliError(f"nothing recorded: {exc}") from None
    print(f"{d.code}: apology recorded, new date {d.apology.new_due_at:%d/%m/%Y} "
          f"(was {d.due_at:%d/%m/%Y}); the kiosk shows it now")
    print(f"wrote {out}: print it, sign and stamp it, and send it to the applicant")
    return 0


def format_overdue(found: list) -> str:
    """The overdue list for officers: the applicant's name masked (the full
    name is in the letter, not on a screen others may see)."""
    from .dossiers import STATUSES, mask_name
    if not found:
        return "no dossier is late or due by tomorrow without an apology"

    def cut(text: str, n: int) -> str:
        return text if len(text) <= n else text[:n - 1] + "…"

    rows = [f"{'Mã hồ sơ':<26} {'Thủ tục':<34} {'Hẹn trả':<10}  {'Tình hình':<15} "
            f"{'Trạng thái':<16} Người nộp"]
    for o in found:
        d = o.dossier
        when = (f"quá {-o.days_left} ngày" if o.days_left < 0 else
                "đến hạn hôm nay" if o.days_left == 0 else
                "hạn ngày mai" if o.days_left == 1 else f"còn {o.days_left} ngày")
        rows.append(f"{d.code:<26} {cut(d.procedure_name, 34):<34} {o.timeliness.due:%d/%m/%Y}  "
                    f"{when:<15} {cut(STATUSES[d.status][0], 16):<16} {mask_name(d.applicant_name)}")
    late = sum(o.days_left < 0 for o in found)
    rows += ["", f"{len(found)} dossiers need an apology ({late} late): "
             "motcua dossiers apologise CODE --reason \"…\" --new-date DATE"]
    return "\n".join(rows)


def cmd_report(site: Site, args) -> int:
    """Manager reports: satisfaction, queue and dossiers over a period, compared with
    the period before it (definitions: docs/reports.md)."""
    from datetime import datetime, timezone
    from . import report_output as out
    from .reports import ReportError, build_report, resolve_period
    now = datetime.now(timezone.utc)
    try:
        period = resolve_period(args.start, args.end, now.astimezone(site.tz).date())
        targets = [(fn, out.check_target(path, suffix, option))
                   for fn, path, suffix, option in ((out.write_xlsx, args.xlsx, ".xlsx", "--xlsx"),
                                                    (out.write_csv, args.csv, ".csv", "--csv"),
                                                    (out.write_chart, args.chart, ".png", "--chart"))
                   if path]
    except (ReportError, out.OutputError) as exc:
        raise CliError(str(exc)) from None
    if not site.database.exists():
        raise CliError(f"no centre database at {site.database}: check data_dir in {site.path}, or run "
                       "`motcua centre` once to create it")
    store = _centre_db(site)
    try:
        report = build_report(store.db, site, period, by=args.by, now=now)
    finally:
        store.close()
    print(out.format_text(report), end="")
    for write, path in targets:
        try:
            write(report, path)
        except out.OutputError as exc:
            raise CliError(str(exc)) from None
        print(f"wrote {path}")
    return 0


def cmd_procedures(site: Site, args) -> int:
    """The procedure catalogue in the centre's database; a running centre tells
    the kiosks within seconds (retained catalogue version), and they sync."""
    from .catalogue import Catalogue, CatalogueError
    store = _centre_db(site)
    try:
        catalogue = Catalogue(store.db)
        if args.action == "import":
            if not args.value:
                raise CliError("`motcua procedures import FILE` needs the file (JSON or CSV)")
            code = _print_import(catalogue.import_file(args.value), args.value)
            print(f"the catalogue now has {catalogue.count()} procedures")
            return code
        if args.action == "search":
            hits = catalogue.search(" ".join([args.value or "", *args.more]), limit=10)
            for h in hits:
                print(f"{h.code:<22} {h.name}  [{h.field}]")
            if not hits:
                print("nothing found", file=sys.stderr)
            return 0 if hits else 1
        if args.action == "show":
            p = catalogue.get(args.value or "")
            if p is None:
                raise CliError(f"no procedure {args.value!r}; find its code with `motcua procedures search WORDS`")
            import json
            print(json.dumps(p.to_dict(), ensure_ascii=False, indent=2))
            return 0
        if args.action == "list":
            for field, n in catalogue.fields():
                print(f"{n:>4}  {field}")
            print(f"{catalogue.count()} procedures, version {catalogue.version()[:12]}")
            return 0
    except CatalogueError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    raise CliError(f"unknown action {args.action}")


def cmd_centre(site: Site, args) -> int:
    from .service import CentreAlreadyRunning, run_centre
    try:
        run_centre(site)
    except CentreAlreadyRunning as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_broker(site: Site, args) -> int:
    from .broker import mosquitto_command, write_config, write_password_file
    if args.action == "passwords":
        out = Path(args.out or site.data_dir / "broker")
        out.mkdir(parents=True, exist_ok=True)
        write_password_file(site, out / "passwd")
        print(f"wrote {out / 'passwd'} ({len(site.devices)} devices); restart the broker to use it")
        return 0
    conf = write_config(site, Path(args.out) if args.out else None, port=args.port)
    if args.action == "config":
        print(f"wrote {conf} with its passwd and acl")
        return 0
    os.execv(mosquitto_command(conf)[0], mosquitto_command(conf))
    return 0  # pragma: no cover


def cmd_kiosk(site: Site, args) -> int:
    device = device_for(site, "kiosk", args.device)
    size = None
    if args.size:
        try:
            w, h = (int(x) for x in args.size.lower().split("x"))
        except ValueError:
            raise CliError(f"--size {args.size!r}: give WIDTHxHEIGHT, e.g. 1080x1920") from None
        size = (w, h)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise CliError("no screen: run the kiosk on the kiosk's display (or under xvfb-run for a test)")
    from motcua.kiosk import run
    run(site, device, fullscreen=args.fullscreen, size=size)
    return 0


def _size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise CliError(f"--size {text!r}: give WIDTHxHEIGHT, e.g. 1920x1080") from None
    return w, h


def cmd_display(site: Site, args) -> int:
    """The TV hall board (`display hall`), the display above a counter (`display counter N`)
    or the managers' board of today's satisfaction (`display tallies`)."""
    if args.board == "counter":
        if args.counter is None:
            raise CliError("`motcua display counter N` needs the counter number")
        try:
            site.counter(args.counter)
        except KeyError:
            raise CliError(f"{site.path} has no counter {args.counter}") from None
    elif args.counter is not None:
        raise CliError(f"`motcua display {args.board}` takes no counter number")
    if args.device:
        device = device_for(site, "display", args.device)
        if site.device(device).role != "display":
            raise CliError(f"{device} is not a display device (role {site.device(device).role!r})")
    else:
        from motcua.devices import display_device as default_device
        try:
            device = default_device(site, args.board, args.counter)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    size = _size(args.size)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise CliError("no screen: run the display on the TV's screen (or under xvfb-run for a test)")
    from motcua.display import run
    run(site, device, board=args.board, counter=args.counter, fullscreen=args.fullscreen, size=size,
        player=args.player)
    return 0


def cmd_counter_app(site: Site, args) -> int:
    """The officer's counter terminal (Kivy): a small window beside the one-stop software."""
    try:
        site.counter(args.counter)
    except KeyError:
        raise CliError(f"{site.path} has no counter {args.counter}") from None
    if args.device:
        device = device_for(site, "counter", args.device)
        d = site.device(device)
        if not (d.role == "admin" or (d.role == "counter" and d.counter == args.counter)):
            raise CliError(f"{device} cannot act at counter {args.counter} (role {d.role!r}"
                           f"{f', counter {d.counter}' if d.counter else ''}): use the counter's own "
                           "device or an admin device")
    else:
        from motcua.devices import counter_device as default_device
        try:
            device = default_device(site, args.counter)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    size = _size(args.size)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise CliError("no screen: run the counter terminal on the officer's desktop "
                       "(or under xvfb-run for a test)")
    from motcua.counter import run
    run(site, device, counter=args.counter, officer=args.officer, size=size)
    return 0


def cmd_notice(site: Site, args) -> int:
    """Set (or clear) the notice the displays run along the bottom, as the admin device."""
    from motcua.display.link import notice_payload
    text = "" if args.clear else " ".join(args.text)
    if not text and not args.clear:
        raise CliError('give the notice text, e.g. `motcua notice "Chiều nay trung tâm nghỉ từ 16 giờ"`, '
                       "or --clear")
    try:
        payload = notice_payload(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    device = device_for(site, "admin", args.device)
    if site.device(device).role != "admin":
        raise CliError(f"{device} may not publish notices (role {site.device(device).role!r}); "
                       "only admin devices may: use --device with an admin of the site file")
    client = _client(site, device)
    try:
        info = client.client.publish(client.topics.notice, payload, qos=1, retain=True)
        info.wait_for_publish(timeout=site.request_timeout_s)
        if not info.is_published():
            raise CliError(f"the broker did not take the notice from {device}: is it an admin device?")
    finally:
        client.stop()
    print("Đã xoá thông báo / Notice cleared" if args.clear else f"Thông báo / Notice: {text}")
    return 0


def _demo_samples(site: Site) -> None:
    """The sample procedures and dossiers, the first time the demo runs."""
    from .catalogue import Catalogue
    from .dossiers import DossierStore
    examples = Path(__file__).resolve().parent.parent / "examples"
    store = _centre_db(site)
    try:
        catalogue = Catalogue(store.db)
        if catalogue.count() == 0 and (examples / "procedures.json").exists():
            catalogue.import_file(examples / "procedures.json")
        dossiers = DossierStore(store.db, site.dossiers, site.timezone)  # creates its tables
        if store.db["dossiers"].count == 0 and (examples / "dossiers.json").exists():
            dossiers.import_file(examples / "dossiers.json")
    finally:
        store.close()


def cmd_pad(site: Site, args) -> int:
    """The rating pad's bridge: serial port <-> MQTT, with its journal."""
    from motcua.hardware.pad_bridge import PadBridge
    try:
        bridge = PadBridge(site, args.counter, args.serial_port, device_id=args.device, journal=args.journal)
    except (ValueError, KeyError) as exc:
        raise CliError(str(exc)) from None
    print(f"motcua pad: counter {args.counter}, port {args.serial_port}, device {bridge.device.id}, "
          f"journal {bridge.journal.path}", flush=True)
    try:
        bridge.run_forever()
    except KeyboardInterrupt:
        pass
    return 0


def cmd_pad_sim(site: Site, args) -> int:
    """Simulated rating pads on ptys (optionally with their bridges in this process)."""
    from motcua.hardware.pad_sim import PadSimulator, run_keyboard
    pads = sorted({d.counter for d in site.devices_of("pad")})
    if args.all:
        counters = pads
    else:
        counters = [args.counter if args.counter is not None else (pads[0] if pads else 1)]
    if args.link and len(counters) > 1:
        raise CliError("--link names one port: use it with --counter, not --all")
    if args.bridge and not set(counters) <= set(pads):
        raise CliError(f"no pad device at counter(s) {sorted(set(counters) - set(pads))} in {site.path}")
    folder = site.data_dir / "pads"
    folder.mkdir(parents=True, exist_ok=True)
    single = len(counters) == 1
    sims, bridges = [], []
    try:
        for n in counters:
            link = Path(args.link) if args.link else folder / f"pad-{n}.tty"
            sim = PadSimulator(f"PADSIM-{n}", link=link, state_file=folder / f"pad-sim-{n}.json",
                               lockout_ms=args.lockout_ms, echo=single and not args.no_keys).start()
            sims.append(sim)
            print(f"pad-sim counter {n}: {sim.path} -> {sim.slave_path}"
                  + ("" if args.bridge else f"   (bridge: motcua pad --counter {n} --port {sim.path})"),
                  flush=True)
            if args.bridge:
                from motcua.hardware.pad_bridge import PadBridge
                bridges.append(PadBridge(site, n, sim.path, journal=folder / f"pad-{n}.journal.sqlite").start())
        if args.no_keys:
            while True:
                time.sleep(1)
        elif single and sys.stdin.isatty():
            run_keyboard(sims)
        else:  # lines: `COUNTER BUTTON` (or `BUTTON` for the first pad); q quits
            print("pad-sim: type COUNTER BUTTON and Enter (e.g. `1 2`), q to quit", flush=True)
            by_counter = dict(zip(counters, sims))
            for line in sys.stdin:
                words = line.split()
                if words[:1] == ["q"]:
                    return 0
                if not words or not all(w.isdigit() for w in words) or len(words) > 2:
                    continue
                n = int(words[0]) if len(words) == 2 else counters[0]
                if n in by_counter:
                    by_counter[n].press(int(words[-1]))
                    print(f"pad-sim: counter {n} button {words[-1]} pressed", flush=True)
            while True:  # no more input (stdin closed): the pads run on until Ctrl-C
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for b in bridges:
            b.stop()
        for sim in sims:
            sim.stop()
    return 0


def cmd_demo(site: Site, args) -> int:
    """The broker, the centre and (with a screen) a kiosk, a hall board and the counter
    terminal of the first counter, with the sample site, until Ctrl-C."""
    from .broker import mosquitto_command, write_config
    _demo_samples(site)
    conf = write_config(site, port=args.port)
    procs = [subprocess.Popen(mosquitto_command(conf))]
    env = {**os.environ, "MOTCUA_SITE": str(site.path)}
    time.sleep(0.5)
    if procs[0].poll() is not None:
        raise CliError(f"mosquitto stopped at once; is port {args.port or site.broker.port} in use? "
                       "try `motcua demo --port 18830`")
    cmd = [sys.executable, "-m", "motcua", "--site", str(site.path)]
    if args.port:
        cmd += ["--port", str(args.port)]
    procs.append(subprocess.Popen(cmd + ["centre"], env=env))
    screen = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    apps = []
    if site.devices_of("pad"):  # a simulated pad and its bridge at every counter that has a pad
        apps.append(subprocess.Popen(cmd + ["pad-sim", "--all", "--bridge"], env=env))
    if screen and not args.no_screens:
        kiosk = device_for(site, "kiosk", None)
        apps.append(subprocess.Popen(cmd + ["kiosk", "--device", kiosk, "--size", "540x960"], env=env))
        print(f"motcua demo: kiosk {kiosk} on screen {screen}")
        if site.devices_of("display"):
            apps.append(subprocess.Popen(cmd + ["display", "hall", "--size", "1280x720"], env=env))
            print(f"motcua demo: hall board on screen {screen}")
        if site.counters:  # the officer's terminal at the first counter
            first = site.counters[0].number
            apps.append(subprocess.Popen(cmd + ["counter-app", str(first), "--officer", "nguyenvana"],
                                         env=env))
            print(f"motcua demo: counter terminal of counter {first} on screen {screen}")
    elif not args.no_screens:
        print("motcua demo: no screen ($DISPLAY), so no kiosk, hall board or counter window; the broker and "
              "centre run alone")
    print(f"motcua demo: broker on {site.broker.host}:{args.port or site.broker.port}, centre running.\n"
          f"Try, in another terminal:\n"
          f"  motcua --site {site.path} ticket HT\n"
          f"  motcua --site {site.path} counter 1 signin nguyenvana\n"
          f"  motcua --site {site.path} counter 1 next\n"
          f"  motcua --site {site.path} status\n"
          + ("Rating pads: type `1 2` and Enter here to press button 2 on counter 1's pad.\n"
             if site.devices_of("pad") else "") +
          "Ctrl-C stops everything.")
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in apps:  # a window closed by hand does not stop the demo; Ctrl-C stops all
            if p.poll() is None:
                p.terminate()
        for p in apps:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT if p is not procs[0] else signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="motcua", description="Queue system for one-stop public "
                                "administration centres (Bộ phận Một cửa).")
    p.add_argument("--site", help="site file (default: $MOTCUA_SITE or ./site.toml)")
    p.add_argument("--port", type=int, help="broker port, overriding the site file")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("centre", help="run the centre service").set_defaults(fn=cmd_centre)

    b = sub.add_parser("broker", help="run Mosquitto for the site, or write its configuration")
    b.add_argument("action", nargs="?", default="run", choices=["run", "config", "passwords"])
    b.add_argument("--out", help="folder for the generated files (default: <data_dir>/broker)")
    b.set_defaults(fn=cmd_broker)

    t = sub.add_parser("ticket", help="take a number, as a kiosk does")
    t.add_argument("service", help="service code, e.g. HT")
    t.add_argument("--priority", nargs="?", const="cao_tuoi", default=None,
                   help="priority category (default when given alone: cao_tuoi)")
    t.add_argument("--device", help="act as this device (default: the first kiosk)")
    t.set_defaults(fn=cmd_ticket)

    c = sub.add_parser("counter", help="act at a counter, as its terminal does")
    c.add_argument("counter", type=int)
    c.add_argument("action", choices=sorted(COUNTER_ACTIONS))
    c.add_argument("value", nargs="*", help="TICKET for call, SERVICE for transfer, REASON for pause, "
                   "OFFICER for signin")
    c.add_argument("--public", action="store_true", help="pause: show the reason on the displays")
    c.add_argument("--name", help="signin: the officer's full name")
    c.add_argument("--device", help="act as this device (default: the counter's own)")
    c.set_defaults(fn=cmd_counter)

    s = sub.add_parser("status", help="the queue as a table")
    s.add_argument("--device", help="read as this device (default: the first display)")
    s.set_defaults(fn=cmd_status)

    ds = sub.add_parser("dossiers", help="the dossier mirror: import, receipts, late dossiers, apologies")
    ds.add_argument("action", choices=["import", "receipt", "overdue", "apologise", "letter"],
                    help="overdue: late or due by tomorrow without an apology; apologise: record "
                         "an apology and write its letter (form 04); letter: print it again")
    ds.add_argument("value", nargs="?", help="FILE for import, CODE for receipt, apologise, letter")
    ds.add_argument("--out", help="receipt, apologise, letter: the PDF to write (default CODE.pdf, "
                                  "van-ban-xin-loi-CODE.pdf)")
    ds.add_argument("--png", action="store_true", help="receipt: also write a PNG beside the PDF")
    ds.add_argument("--reason", help="apologise: why the dossier is late (printed in the letter, "
                                     "shown at the kiosk)")
    ds.add_argument("--new-date", help="apologise: the new date for the result, YYYY-MM-DD or "
                                       "dd/mm/yyyy (the due date may be reset only once)")
    ds.set_defaults(fn=cmd_dossiers)

    pr = sub.add_parser("procedures", help="the procedure catalogue: import, list, search, show")
    pr.add_argument("action", choices=["import", "list", "search", "show"])
    pr.add_argument("value", nargs="?", help="FILE for import, WORDS for search, CODE for show")
    pr.add_argument("more", nargs="*", help=argparse.SUPPRESS)
    pr.set_defaults(fn=cmd_procedures)

    k = sub.add_parser("kiosk", help="the citizen kiosk (Kivy): numbers, procedures, dossiers")
    k.add_argument("--device", help="which kiosk of the site file (default: the first)")
    k.add_argument("--fullscreen", action="store_true", help="fullscreen, borderless, no cursor (the real kiosk)")
    k.add_argument("--size", help="window size for development, e.g. 1080x1920 (default 540x960)")
    k.set_defaults(fn=cmd_kiosk)

    pd = sub.add_parser("pad", help="the rating pad's bridge: its serial port to the centre")
    pd.add_argument("--port", dest="serial_port", required=True,
                    help="the pad's serial port, e.g. /dev/ttyUSB0 (the broker's port: `motcua --port N pad ...`)")
    pd.add_argument("--counter", type=int, required=True, help="the counter the pad stands at")
    pd.add_argument("--device", help="the pad's device id in the site file (default: the counter's pad)")
    pd.add_argument("--journal", help="the bridge's journal (default: <data_dir>/pad-N.journal.sqlite)")
    pd.set_defaults(fn=cmd_pad)

    ps = sub.add_parser("pad-sim", help="a simulated rating pad on a pty (keys 1-4 press buttons)")
    ps.add_argument("--counter", type=int, help="the counter (default: the first with a pad)")
    ps.add_argument("--all", action="store_true", help="one simulated pad per counter that has a pad")
    ps.add_argument("--link", help="also make this path a symlink to the pty (one pad only)")
    ps.add_argument("--bridge", action="store_true", help="run each pad's bridge in this process too")
    ps.add_argument("--no-keys", action="store_true", help="do not read the keyboard")
    ps.add_argument("--lockout-ms", type=int, default=3000, help="lock-out after a press (default 3000)")
    ps.set_defaults(fn=cmd_pad_sim)

    dp = sub.add_parser("display", help="the TV hall board, a counter display or the managers' "
                        "satisfaction board (Kivy)")
    dp.add_argument("board", choices=["hall", "counter", "tallies"])
    dp.add_argument("counter", nargs="?", type=int, help="counter: the counter's number")
    dp.add_argument("--device", help="which display of the site file (default: display-hall or "
                    "display-counter-N if present, else the first display)")
    dp.add_argument("--fullscreen", action="store_true", help="fullscreen, borderless, no cursor (the real TV)")
    dp.add_argument("--size", help="window size for development, e.g. 1920x1080 (default 1280x720)")
    dp.add_argument("--player", help="announcements (displays with speaks = true): auto (default), none "
                    "(render WAV files only), aplay, paplay, play, or a command")
    dp.set_defaults(fn=cmd_display)

    ca = sub.add_parser("counter-app", help="the officer's counter terminal (Kivy): a small window "
                        "with every counter action and its F-key")
    ca.add_argument("counter", type=int, help="the counter's number")
    ca.add_argument("--officer", help="the officer id to suggest on the sign-in screen")
    ca.add_argument("--device", help="act as this device (default: the counter's own, else the admin)")
    ca.add_argument("--size", help="window size, e.g. 400x600 (default 480x720)")
    ca.set_defaults(fn=cmd_counter_app)

    rp = sub.add_parser("report", help="manager report: satisfaction, queue and dossiers over a period, "
                        "compared with the period before (docs/reports.md)")
    rp.add_argument("--from", dest="start", help="first day, YYYY-MM-DD or dd/mm/yyyy (default: the first "
                    "day of --to's month)")
    rp.add_argument("--to", dest="end", help="last day, included (default: today)")
    from .reports import BY_CHOICES
    rp.add_argument("--by", choices=BY_CHOICES,
                    help="also break satisfaction and queue figures down by this")
    rp.add_argument("--xlsx", help="also write an Excel workbook (FILE.xlsx)")
    rp.add_argument("--csv", help="also write a CSV file, UTF-8 with BOM (FILE.csv)")
    rp.add_argument("--chart", help="also write satisfaction and waiting-time charts (FILE.png)")
    rp.set_defaults(fn=cmd_report)

    n = sub.add_parser("notice", help="the notice the displays run along the bottom (as the admin device)")
    n.add_argument("text", nargs="*", help="the notice, in Vietnamese")
    n.add_argument("--clear", action="store_true", help="remove the notice")
    n.add_argument("--device", help="act as this admin device (default: the first admin)")
    n.set_defaults(fn=cmd_notice)

    d = sub.add_parser("demo", help="broker, centre, a kiosk, a hall board and a counter terminal with "
                       "the sample site")
    d.add_argument("--no-screens", action="store_true", help="only the broker and the centre")
    d.set_defaults(fn=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # its subsetting chatter is not ours
    try:
        site = find_site(args.site, demo=args.command == "demo")
        if args.port:
            from dataclasses import replace
            site = replace(site, broker=replace(site.broker, port=args.port))
        return args.fn(site, args)
    except (SiteConfigError, CliError) as exc:
        print(f"motcua: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the broker module's errors and friends: say what, not a traceback
        from .broker import BrokerSetupError
        if isinstance(exc, BrokerSetupError):
            print(f"motcua: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())

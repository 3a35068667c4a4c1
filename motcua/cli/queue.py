"""The queue through MQTT, as the devices do it: `ticket` (a kiosk), `counter N
ACTION` (a counter terminal), `status` (a display) and `notice` (the admin)."""
from __future__ import annotations

import threading

from ..config import Site
from .common import CliError, client, device_for, minutes, request

# Each counter action: the argument it takes (None: none), spelled as the
# protocol's request counter.<action> and the terminal spell it.
COUNTER_ACTIONS: dict[str, str | None] = {
    "sign_in": "officer", "next": None, "call": "ticket", "recall": None, "start": None,
    "done": None, "no_show": None, "transfer": "service", "pause": "reason", "resume": None,
    "close": None, "attach_dossier": "code", "detach_dossier": "code",
}
OLD_SPELLINGS = {"signin": "sign_in", "noshow": "no_show"}
_HELP = {
    "sign_in": "open the counter with this registered officer and their PIN (asked, never shown)", "next": "call the next ticket",
    "call": "call this ticket out of turn", "recall": "call the current ticket again",
    "start": "the citizen has come: start serving", "done": "finish the current ticket",
    "no_show": "the citizen did not come: finish the ticket as a no-show",
    "transfer": "send the current ticket to another service's queue",
    "pause": "pause the counter, with a reason", "resume": "open the paused counter again",
    "close": "close the counter (the officer signs out)",
    "attach_dossier": "attach a dossier received or returned at this visit to the current ticket (or to "
                      "the ticket just finished, while its rating pad still asks)",
    "detach_dossier": "remove a dossier attached by mistake",
}
_EXAMPLES = {
    "sign_in": ["motcua counter 1 sign_in nguyenvana", "motcua counter 1 sign_in nguyenvana --pin-stdin"],
    "call": "motcua counter 1 call 1005",
    "transfer": "motcua counter 1 transfer LLTP", "pause": "motcua counter 1 pause Nghỉ trưa --public",
    "attach_dossier": ["motcua counter 1 attach_dossier 000.00.31.H12-261102-0004",
                       "motcua counter 1 attach_dossier 'MOTCUA-D:000.00.31.H12-261102-0004:RFEEAANOWK'"],
    "detach_dossier": "motcua counter 1 detach_dossier 000.00.31.H12-261102-0004",
}


def cmd_ticket(site: Site, args) -> int:
    device = device_for(site, "kiosk", args.device)
    t = request(site, device, "ticket.issue", service=args.service, priority=args.priority)
    print(f"Số thứ tự / Ticket: {t['ticket']}  ({t['service_name_vi']})")
    if t["priority"]:
        print(f"Ưu tiên / Priority: {t['priority']}")
    print(f"Người đang chờ trước / People ahead: {t['people_ahead']}")
    print(f"Thời gian chờ dự kiến / Estimated wait: {minutes(t['estimated_wait_s'])}")
    print(f"Quầy phục vụ / Counters: {', '.join(str(c) for c in t['counters'])}")
    return 0


def cmd_counter(site: Site, args) -> int:
    extra = {}
    arg_name = COUNTER_ACTIONS[args.action]
    if arg_name:
        value = getattr(args, arg_name)
        extra[arg_name] = " ".join(value) if isinstance(value, list) else value
    if args.action == "pause" and args.public:
        extra["public"] = True
    if args.action == "sign_in":
        from .officers import read_pin
        extra["pin"] = read_pin(args, f"PIN của {args.officer} / PIN: ")
    device = device_for(site, "counter", args.device, counter=args.counter)
    r = request(site, device, f"counter.{args.action}", counter=args.counter, **extra)
    for f in r.get("finished", []):
        print(f"{f['ticket']}: {'xong / done' if f['state'] == 'done' else 'vắng mặt / no-show'}")
    d = r.get("dossier")
    if d:
        print(dossier_line(args.action, d))
    cur = r["ticket"]
    line = f"Quầy {r['counter']} ({r['state']})"
    if r.get("officer"):
        line += f", cán bộ {r['officer']}"
    if cur:
        line += f": {cur['ticket']} [{cur['service']}] {cur['state']}"
        if cur.get("dossiers"):
            line += f", hồ sơ / dossiers {', '.join(cur['dossiers'])}"
    else:
        line += ": không có số / no current ticket"
    print(line)
    after = r.get("finished_ticket")
    if after:
        print(f"Vừa xong / just finished {after['ticket']}, chờ đánh giá / rating open"
              + (f": hồ sơ / dossiers {', '.join(after['dossiers'])}" if after["dossiers"] else ""))
    return 0


def dossier_line(action: str, d: dict) -> str:
    """What an attach or detach did, in both languages."""
    if action == "detach_dossier":
        return f"Đã gỡ hồ sơ / detached {d['code']} khỏi số / from ticket {d['ticket']}"
    if not d["changed"]:
        return f"Hồ sơ / dossier {d['code']} đã gắn với số / was already on ticket {d['ticket']}"
    what = (f"{d['procedure_code']} {d['procedure_name']}" if d["known"] else
            "chưa có trong dữ liệu hồ sơ của trung tâm / not in the centre's dossier mirror yet")
    return f"Đã gắn hồ sơ / attached {d['code']} vào số / to ticket {d['ticket']} ({what})"


def cmd_status(site: Site, args) -> int:
    device = device_for(site, "display", args.device)
    c = client(site, device)
    got = threading.Event()
    box: dict = {}

    def on_hall(topic, data):
        box.update(data)
        got.set()

    c.subscribe(c.topics.hall_state, on_hall)
    try:
        if not got.wait(site.request_timeout_s):
            raise CliError("no hall state on the broker: is `motcua centre` running?")
    finally:
        c.stop()
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
                    f"{minutes(s['estimated_wait_s']):>9}  {s['name_vi']}")
    if hall["recent_calls"]:
        rows += ["", "Vừa gọi / Recent calls:"]
        for call in hall["recent_calls"]:
            rows.append(f"  #{call['seq']} {call['ticket']} → quầy {call['counter']}"
                        f"{' (gọi lại)' if call['recall'] else ''}")
    return "\n".join(rows)


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
    c = client(site, device)
    try:
        info = c.client.publish(c.topics.notice, payload, qos=1, retain=True)
        info.wait_for_publish(timeout=site.request_timeout_s)
        if not info.is_published():
            raise CliError(f"the broker did not take the notice from {device}: is it an admin device?")
    finally:
        c.stop()
    print("Đã xoá thông báo / Notice cleared" if args.clear else f"Thông báo / Notice: {text}")
    return 0


def add_commands(sub) -> None:
    t = sub.add_parser("ticket", help="take a number, as a kiosk does",
                       example=["motcua ticket HT", "motcua ticket HT --priority co_thai"])
    t.add_argument("service", metavar="SERVICE", help="service code, e.g. HT")
    t.add_argument("--priority", nargs="?", const="cao_tuoi", default=None,
                   help="priority category (default when given alone: cao_tuoi)")
    t.add_argument("--device", help="act as this device (default: the first kiosk)")
    t.set_defaults(fn=cmd_ticket)

    c = sub.add_parser("counter", help="act at a counter, as its terminal does",
                       description="Act at counter N as its terminal does, through the centre. "
                       "The actions are the protocol's counter.<action> requests.",
                       example=["motcua counter 1 sign_in nguyenvana", "motcua counter 1 next",
                                "motcua counter 1 no_show"])
    c.add_argument("counter", type=int, metavar="N", help="the counter's number")
    actions = c.add_subparsers(dest="action", required=True, metavar="ACTION",
                               title="actions (each takes only its own arguments; ACTION --help says which)")
    for name, arg in COUNTER_ACTIONS.items():
        a = actions.add_parser(name, help=_HELP[name], description=_HELP[name][0].upper() + _HELP[name][1:] + ".",
                               example=_EXAMPLES.get(name, f"motcua counter 1 {name}"),  # one or a list
                               needs=f"`motcua counter N {name}` needs {arg.upper()}" if arg else None)
        if arg == "reason":
            a.add_argument("reason", nargs="+", metavar="REASON", help="why, in Vietnamese (several words are one reason)")
            a.add_argument("--public", action="store_true", help="show the reason on the displays")
        elif arg == "officer":
            a.add_argument("officer", metavar="OFFICER", help="the officer's id (registered with "
                           "`motcua officers add`, which also gives the name the displays show)")
            a.add_argument("--pin-stdin", action="store_true",
                           help="read the PIN from standard input (for scripts) instead of asking")
        elif arg == "ticket":
            a.add_argument("ticket", metavar="TICKET", help="the ticket's number, e.g. 1005")
        elif arg == "service":
            a.add_argument("service", metavar="SERVICE", help="the service code to send it to, e.g. LLTP")
        elif arg == "code":
            a.add_argument("code", metavar="CODE", help="the dossier code (mã hồ sơ), or the text of the "
                           "receipt's QR code (quote it: it holds colons)")
        a.add_argument("--device", help="act as this device (default: the counter's own, else the admin)")
    for old, new in OLD_SPELLINGS.items():
        actions.add_parser(old, add_help=False, renamed_to=new, example=_EXAMPLES.get(new, f"motcua counter 1 {new}"))
    c.set_defaults(fn=cmd_counter)

    s = sub.add_parser("status", help="the queue as a table", example="motcua status")
    s.add_argument("--device", help="read as this device (default: the first display)")
    s.set_defaults(fn=cmd_status)

    n = sub.add_parser("notice", help="the notice the displays run along the bottom (as the admin device)",
                       example=['motcua notice "Chiều nay trung tâm nghỉ từ 16 giờ"', "motcua notice --clear"])
    n.add_argument("text", nargs="*", help="the notice, in Vietnamese")
    n.add_argument("--clear", action="store_true", help="remove the notice")
    n.add_argument("--device", help="act as this admin device (default: the first admin)")
    n.set_defaults(fn=cmd_notice)

"""The apps with a window (Kivy): `motcua kiosk`, `motcua display BOARD` and
`motcua counter-app N`. Kivy is imported only by the app's run(), once the
window's size is known and a screen is there."""
from __future__ import annotations

from ..config import Site
from .common import CliError, device_for


def _window(args, example: str, where: str) -> tuple[int, int] | None:
    """The window's --size (None: the app's default), once a screen is known to be there."""
    from motcua.ui.bootstrap import NoScreen, parse_size, require_screen
    try:
        size = parse_size(args.size, example)
        require_screen(where)
    except (ValueError, NoScreen) as exc:
        raise CliError(str(exc)) from None
    return size


def _default(pick, *args) -> str:
    try:
        return pick(*args)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def cmd_kiosk(site: Site, args) -> int:
    device = device_for(site, "kiosk", args.device)
    size = _window(args, "1080x1920", "the kiosk on the kiosk's display")
    from motcua.kiosk import run
    run(site, device, fullscreen=args.fullscreen, size=size)
    return 0


def _check_counter(site: Site, number: int) -> None:
    try:
        site.counter(number)
    except KeyError:
        raise CliError(f"{site.path} has no counter {number}") from None


def cmd_display(site: Site, args) -> int:
    """The TV hall board (`display hall`), the display above a counter (`display counter N`),
    the managers' board of today's satisfaction (`display tallies`) or the province board
    (`display province`, which reads the provincial file, not a site file)."""
    if args.board == "province":
        return cmd_province_board(args)
    if args.board == "counter":
        _check_counter(site, args.counter)
    if args.device:
        device = device_for(site, "display", args.device)
        if site.device(device).role != "display":
            raise CliError(f"{device} is not a display device (role {site.device(device).role!r})")
    else:
        from motcua.devices import display_device
        device = _default(display_device, site, args.board, args.counter)
    size = _window(args, "1920x1080", "the display on the TV's screen")
    from motcua.display import run
    run(site, device, board=args.board, counter=args.counter, fullscreen=args.fullscreen, size=size,
        player=args.player)
    return 0


def cmd_province_board(args) -> int:
    """Every centre of the province as a tile, on the operations room's TV."""
    from .province import find_province
    province = find_province(args.province)
    if not 2 <= args.page_seconds <= 600:
        raise CliError(f"--page-seconds {args.page_seconds:g}: give 2 to 600 seconds a page (default 8)")
    size = _window(args, "1920x1080", "the province board on the TV's screen")
    from motcua.province.board import run
    run(province, fullscreen=args.fullscreen, size=size, page_s=args.page_seconds)
    return 0


def cmd_counter_app(site: Site, args) -> int:
    """The officer's counter terminal (Kivy): a small window beside the one-stop software."""
    _check_counter(site, args.counter)
    if args.device:
        device = device_for(site, "counter", args.device)
        d = site.device(device)
        if not (d.role == "admin" or (d.role == "counter" and d.counter == args.counter)):
            raise CliError(f"{device} cannot act at counter {args.counter} (role {d.role!r}"
                           f"{f', counter {d.counter}' if d.counter else ''}): use the counter's own "
                           "device or an admin device")
    else:
        from motcua.devices import counter_device
        device = _default(counter_device, site, args.counter)
    size = _window(args, "480x720", "the counter terminal on the officer's desktop")
    from motcua.counter import run
    run(site, device, counter=args.counter, officer=args.officer, size=size)
    return 0


def add_commands(sub) -> None:
    k = sub.add_parser("kiosk", help="the citizen kiosk (Kivy): numbers, procedures, dossiers",
                       example=["motcua kiosk --fullscreen", "motcua kiosk --device kiosk-2 --size 540x960"])
    k.add_argument("--device", help="which kiosk of the site file (default: the first)")
    k.add_argument("--fullscreen", action="store_true", help="fullscreen, borderless, no cursor (the real kiosk)")
    k.add_argument("--size", help="window size for development, e.g. 1080x1920 (default 540x960)")
    k.set_defaults(fn=cmd_kiosk)

    dp = sub.add_parser("display", help="the TV hall board, a counter display, the managers' "
                        "satisfaction board or the province board (Kivy)",
                        example=["motcua display hall --fullscreen", "motcua display counter 3 --fullscreen",
                                 "motcua display tallies --size 1280x720",
                                 "motcua display province --province examples/province.toml"])
    boards = dp.add_subparsers(dest="board", required=True, metavar="BOARD", title="boards")
    for name, what, example in (
            ("hall", "the TV hall board: calls, queues, announcements", "motcua display hall --fullscreen"),
            ("counter", "the display above counter N", "motcua display counter 3 --fullscreen"),
            ("tallies", "the managers' board of today's satisfaction", "motcua display tallies --size 1280x720")):
        b = boards.add_parser(name, help=what, description=what[0].upper() + what[1:] + ".", example=example,
                              needs="`motcua display counter N` needs the counter number" if name == "counter" else None)
        if name == "counter":
            b.add_argument("counter", type=int, metavar="N", help="the counter's number")
        else:
            b.set_defaults(counter=None)
        b.add_argument("--device", help="which display of the site file (default: display-hall, "
                       "display-counter-N or display-manager if present, else the first display)")
        b.add_argument("--fullscreen", action="store_true", help="fullscreen, borderless, no cursor (the real TV)")
        b.add_argument("--size", help="window size for development, e.g. 1920x1080 (default 1280x720)")
        b.add_argument("--player", help="announcements (displays with speaks = true): auto (default), none "
                       "(render WAV files only), aplay, paplay, play, or a command")
    from .province import add_province_option
    pv = boards.add_parser("province", help="the province board: every centre as a tile, with its alerts "
                           "(reads the provincial file)",
                           description="The province board for the operations room's TV: every centre of the "
                           "provincial file as a tile (on line or not, waiting, counters, today's satisfaction), "
                           "worst first, a page at a time, with the alerts beside them (docs/province.md).",
                           example="motcua display province --province /etc/motcua/province.toml --fullscreen")
    add_province_option(pv)
    pv.add_argument("--fullscreen", action="store_true", help="fullscreen, borderless, no cursor (the real TV)")
    pv.add_argument("--size", help="window size for development, e.g. 1920x1080 (default 1280x720)")
    pv.add_argument("--page-seconds", type=float, default=8.0, metavar="S",
                    help="seconds each page of tiles stays on screen (default 8)")
    pv.set_defaults(site_free=True, counter=None)   # the provincial file, not a site file
    dp.set_defaults(fn=cmd_display)

    ca = sub.add_parser("counter-app", help="the officer's counter terminal (Kivy): a small window "
                        "with every counter action and its F-key",
                        example="motcua counter-app 1 --officer nguyenvana")
    ca.add_argument("counter", type=int, metavar="N", help="the counter's number")
    ca.add_argument("--officer", help="the officer id to suggest on the sign-in screen")
    ca.add_argument("--device", help="act as this device (default: the counter's own, else the admin)")
    ca.add_argument("--size", help="window size, e.g. 400x600 (default 480x720)")
    ca.set_defaults(fn=cmd_counter_app)

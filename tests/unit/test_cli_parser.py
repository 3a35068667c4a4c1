"""The `motcua` command line as declared: each command and action takes only its
own arguments, the parser asks for the values a command needs, every --help ends
with an example, and the renamed spellings are refused naming the new ones.
All in this process; no broker, no screen."""
from __future__ import annotations

import io
import shlex

import pytest

import motcua.cli
from motcua import protocol
from motcua.cli import build_parser, commands, main
from motcua.cli.queue import COUNTER_ACTIONS
from support.broker import ROOT

EXAMPLE_SITE = str(ROOT / "examples" / "site.toml")
TREE = list(commands(build_parser()))
LEAVES = [(path, p) for path, p in TREE
          if path and not any(type(a).__name__ == "_SubParsersAction" for a in p._actions)]


def words(path) -> str:
    return " ".join(path) or "motcua"


@pytest.fixture
def no_site(monkeypatch):
    """A command line the parser refuses never gets as far as reading the site file."""
    def refused(*a, **k):
        raise AssertionError("the parser let it through to the site file")
    monkeypatch.setattr(motcua.cli, "find_site", refused)


def refuse(capsys, argv, by_parser: bool = True) -> str:
    capsys.readouterr()
    assert main(argv) == 2, argv
    err = capsys.readouterr().err
    assert ("error:" in err) == by_parser and "Traceback" not in err, err
    return err


def test_the_command_tree():
    top = {path[0] for path, _ in TREE if len(path) == 1}
    assert top == {"centre", "broker", "ticket", "counter", "status", "notice", "dossiers", "procedures",
                   "kiosk", "display", "counter-app", "pad", "pad-sim", "report", "demo", "bookings",
                   "backup", "restore", "officers", "install", "province", "ship", "ratings", "web"}
    assert {path[1] for path, _ in TREE if path[:1] == ("counter",) and len(path) == 2} == set(COUNTER_ACTIONS)
    assert {path[1] for path, _ in TREE if path[:1] == ("dossiers",) and len(path) == 2} == \
        {"import", "receipt", "overdue", "apologise", "letter"}
    assert {path[1] for path, _ in TREE if path[:1] == ("procedures",) and len(path) == 2} == \
        {"import", "list", "search", "show"}
    assert {path[1] for path, _ in TREE if path[:1] == ("display",) and len(path) == 2} == \
        {"hall", "counter", "tallies", "province"}
    assert {path[1] for path, _ in TREE if path[:1] == ("broker",) and len(path) == 2} == {"run", "config", "passwords"}


def test_counter_actions_are_spelled_as_the_protocols_requests():
    ops = {op.split(".", 1)[1]: shape for op, shape in protocol.OPERATIONS.items() if op.startswith("counter.")}
    assert set(COUNTER_ACTIONS) == set(ops)
    for action, arg in COUNTER_ACTIONS.items():
        # (a PIN is never a command-line argument: asked, or read with --pin-stdin)
        required = {a for a, (_, needed) in ops[action].items() if needed and a not in ("counter", "pin")}
        assert required == ({arg} if arg else set()), action


@pytest.mark.parametrize("path, parser", TREE, ids=[words(p) for p, _ in TREE])
def test_every_help_ends_with_an_example(path, parser):
    text = parser.format_help()
    assert "\nexample:\n  motcua " in text, words(path)
    assert text.rstrip().splitlines()[-1].lstrip().startswith("motcua "), words(path)


def test_help_through_main_shows_the_example(capsys):
    for argv in (["--help"], ["counter", "--help"], ["counter", "1", "no_show", "--help"],
                 ["dossiers", "apologise", "--help"], ["pad", "--help"], ["display", "counter", "--help"]):
        assert main(argv) == 0, argv
        out = capsys.readouterr().out
        assert "example:\n  motcua " in out, argv


@pytest.mark.parametrize("path, parser", TREE, ids=[words(p) for p, _ in TREE])
def test_every_example_is_a_command_line_the_parser_takes(path, parser):
    for example in parser.examples:
        argv = shlex.split(example)
        assert argv[0] == "motcua"
        build_parser().parse_args(argv[1:])
        if path:  # the example is of this command
            assert path[0] in argv, example


def _example(parser) -> list[str]:
    return shlex.split(parser.examples[0])[1:]


def _options(parser) -> dict[str, bool]:
    """The options a parser takes: flag -> whether it takes a value."""
    return {o: a.nargs != 0 for a in parser._actions for o in a.option_strings
            if o.startswith("--") and o != "--help" and a.help != "==SUPPRESS=="}


@pytest.mark.parametrize("group", ["counter", "dossiers"])
def test_each_action_refuses_another_actions_flags(group, capsys, no_site):
    leaves = [(path, p) for path, p in LEAVES if path[0] == group]
    every = {}
    for _, p in leaves:
        every.update(_options(p))
    tried = 0
    for path, p in leaves:
        own = _options(p)
        for flag, takes_value in every.items():
            if flag in own:
                continue
            err = refuse(capsys, _example(p) + [flag] + (["x"] if takes_value else []))
            assert "unrecognized arguments: " + flag in err, (path, flag)
            tried += 1
    assert tried


def test_commands_refuse_other_commands_flags(capsys, no_site):
    for argv in (["ticket", "HT", "--public"], ["status", "--clear"], ["report", "--device", "x"],
                 ["kiosk", "--player", "none"], ["counter-app", "1", "--fullscreen"],
                 ["pad-sim", "--serial", "/dev/ttyUSB0"], ["centre", "--out", "x"],
                 ["display", "hall", "3"], ["counter", "1", "next", "1001"],
                 ["display", "tallies", "--officer", "x"], ["procedures", "search", "khai", "sinh", "--png"],
                 ["procedures", "list", "--out", "x"], ["broker", "passwords", "--png"]):
        err = refuse(capsys, argv)
        assert "unrecognized arguments" in err, argv


@pytest.mark.parametrize("argv, said", [
    (["ticket"], "SERVICE"),
    (["counter", "1"], "ACTION"),
    (["counter", "1", "call"], "`motcua counter N call` needs TICKET"),
    (["counter", "1", "transfer"], "needs SERVICE"),
    (["counter", "1", "pause"], "needs REASON"),
    (["counter", "1", "pause", "--public"], "needs REASON"),
    (["counter", "1", "sign_in", "--pin-stdin"], "needs OFFICER"),
    (["officers", "add", "--name", "Nguyễn Văn A"], "needs OFFICER"),
    (["officers", "reset-pin"], "needs OFFICER"),
    (["dossiers"], "ACTION"),
    (["dossiers", "import"], "needs the file"),
    (["dossiers", "receipt"], "needs the dossier code"),
    (["dossiers", "letter"], "needs the dossier code"),
    (["dossiers", "apologise", "X", "--reason", "Chờ ý kiến"], "--new-date"),
    (["dossiers", "apologise", "X", "--new-date", "30/11/2026"], "--reason"),
    (["procedures", "import"], "needs the file"),
    (["procedures", "search"], "needs the words"),
    (["procedures", "show"], "needs the procedure's code"),
    (["display"], "BOARD"),
    (["display", "counter"], "needs the counter number"),
    (["counter-app"], "N"),
    (["pad", "--counter", "1"], "--serial"),
    (["pad", "--serial", "/dev/ttyUSB0"], "--counter"),
    (["pad-sim", "--all", "--counter", "1"], "not allowed with"),
])
def test_required_values_are_asked_for_by_the_parser(argv, said, capsys, no_site):
    err = refuse(capsys, ["--site", EXAMPLE_SITE, *argv])
    assert said in err
    assert "for example: motcua " in err  # and how it looks when right


@pytest.mark.parametrize("old, new", [("signin", "sign_in"), ("noshow", "no_show")])
def test_old_counter_spellings_are_refused_naming_the_new(old, new, capsys, no_site):
    err = refuse(capsys, ["counter", "1", old] + (["nguyenvana"] if old == "signin" else []))
    assert f"`{old}` is now spelled `{new}`" in err
    assert f"motcua counter 1 {new}" in err
    err = refuse(capsys, ["counter", "1", "sleep"])
    assert "invalid choice" in err and "'no_show'" in err and "'noshow'" not in err and "'signin'" not in err
    counter = dict(TREE)[("counter",)]
    assert old not in counter.format_help()


def test_the_broker_port_and_a_serial_device_never_share_a_flag(capsys, no_site):
    args = build_parser().parse_args(["--broker-port", "18830", "pad", "--counter", "2", "--serial", "/dev/ttyUSB0"])
    assert (args.broker_port, args.counter, args.serial) == (18830, 2, "/dev/ttyUSB0")
    err = refuse(capsys, ["--port", "18830", "status"])
    assert "--port is now --broker-port" in err
    err = refuse(capsys, ["pad", "--counter", "1", "--port", "/dev/ttyUSB0"])
    assert "--port is now --serial" in err and "--broker-port" in err
    err = refuse(capsys, ["pad", "--counter", "1", "--serial", "/dev/ttyUSB0", "--broker-port", "1"])
    assert "unrecognized arguments: --broker-port" in err
    refuse(capsys, ["--serial", "/dev/ttyUSB0", "pad", "--counter", "1"])  # not a top-level flag
    flags = {o for _, p in TREE for o in _options(p)}
    assert "--port" not in flags and {"--broker-port", "--serial"} <= flags


def test_broker_runs_mosquitto_unless_told_otherwise():
    parse = build_parser().parse_args
    assert (parse(["broker"]).action, parse(["broker"]).out) == ("run", None)
    assert (parse(["broker", "--out", "d"]).action, parse(["broker", "--out", "d"]).out) == ("run", "d")
    args = parse(["broker", "passwords", "--out", "d"])
    assert (args.action, args.out) == ("passwords", "d")


def test_a_pin_is_asked_or_read_from_stdin_never_taken_from_the_command_line(monkeypatch, capsys):
    sent = []
    monkeypatch.setattr(motcua.cli.officers, "request", lambda site, device, op, **a: sent.append((op, a)) or
                        {"officer": a["officer"], "name": a.get("name", "")})
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal, and no --pin-stdin
    assert main(["--site", EXAMPLE_SITE, "officers", "add", "lethic", "--name", "Lê Thị C"]) == 2
    assert "--pin-stdin" in capsys.readouterr().err and not sent
    monkeypatch.setattr("sys.stdin", io.StringIO("739205\n"))
    assert main(["--site", EXAMPLE_SITE, "officers", "add", "lethic", "--name", "Lê Thị C", "--pin-stdin"]) == 0
    assert sent == [("officer.add", {"officer": "lethic", "name": "Lê Thị C", "pin": "739205"})]
    assert "739205" not in capsys.readouterr().out
    refuse(capsys, ["officers", "add", "lethic", "--name", "C", "--pin", "739205"])


def test_counter_actions_send_the_protocols_request(monkeypatch, capsys):
    sent = []

    def request(site, device, op, **args):
        sent.append((device, op, args))
        return {"counter": args["counter"], "state": "open", "officer": "nguyenvana", "ticket": None}

    monkeypatch.setattr(motcua.cli.queue, "request", request)
    base = ["--site", EXAMPLE_SITE, "counter", "1"]
    monkeypatch.setattr("sys.stdin", io.StringIO("739205\n"))
    assert main(base + ["sign_in", "nguyenvana", "--pin-stdin"]) == 0
    assert main(base + ["no_show"]) == 0
    assert main(base + ["pause", "Nghỉ", "trưa", "--public"]) == 0
    assert main(base + ["call", "1005", "--device", "admin"]) == 0
    assert main(base + ["transfer", "LLTP"]) == 0
    assert [op for _, op, _ in sent] == ["counter.sign_in", "counter.no_show", "counter.pause",
                                         "counter.call", "counter.transfer"]
    assert sent[0][2] == {"counter": 1, "officer": "nguyenvana", "pin": "739205"}
    assert sent[1][2] == {"counter": 1}
    assert sent[2][2] == {"counter": 1, "reason": "Nghỉ trưa", "public": True}
    assert sent[3][0] == "admin" and sent[3][2] == {"counter": 1, "ticket": "1005"}
    assert sent[4][2] == {"counter": 1, "service": "LLTP"}
    assert sent[0][0] == "counter-1"
    assert "Quầy 1 (open), cán bộ nguyenvana" in capsys.readouterr().out


def test_an_unknown_device_is_said_plainly(capsys):
    err = refuse(capsys, ["--site", EXAMPLE_SITE, "counter", "1", "next", "--device", "nobody"], by_parser=False)
    assert "no device 'nobody'" in err


def test_screen_commands_check_size_and_screen_once(monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", ":99")
    for argv in (["kiosk", "--size", "big"], ["display", "hall", "--size", "0x720"],
                 ["counter-app", "1", "--size", "480-720"]):
        err = refuse(capsys, ["--site", EXAMPLE_SITE, *argv], by_parser=False)
        assert "give WIDTHxHEIGHT" in err, argv
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    for argv, where in ((["kiosk"], "the kiosk"), (["display", "tallies"], "the display"),
                        (["counter-app", "2"], "the counter terminal")):
        err = refuse(capsys, ["--site", EXAMPLE_SITE, *argv], by_parser=False)
        assert f"no screen: run {where}" in err and "xvfb-run" in err


def test_the_province_board_reads_the_provincial_file_not_a_site_file(monkeypatch, capsys, tmp_path, no_site):
    monkeypatch.chdir(tmp_path)          # no site.toml here, and none asked for
    monkeypatch.delenv("MOTCUA_SITE", raising=False)
    monkeypatch.delenv("MOTCUA_PROVINCE", raising=False)
    province = str(ROOT / "examples" / "province.toml")
    err = refuse(capsys, ["display", "province"], by_parser=False)
    assert "no provincial file: pass --province FILE" in err
    err = refuse(capsys, ["display", "province", "--province", str(tmp_path / "nowhere.toml")], by_parser=False)
    assert "cannot read the provincial file" in err
    err = refuse(capsys, ["display", "province", "--province", province, "--page-seconds", "1"], by_parser=False)
    assert "give 2 to 600 seconds a page" in err
    monkeypatch.setenv("DISPLAY", ":99")
    err = refuse(capsys, ["display", "province", "--province", province, "--size", "wide"], by_parser=False)
    assert "give WIDTHxHEIGHT" in err
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    err = refuse(capsys, ["display", "province", "--province", province], by_parser=False)
    assert "no screen: run the province board on the TV's screen" in err


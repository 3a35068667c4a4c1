"""What every command shares: the parser's look (an example at the end of every
--help, errors that say what to do), the site file, the device a command acts
as, and the way to the broker."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Iterator, Sequence

from ..config import Site, load_site

EXAMPLE_SITE = Path(__file__).resolve().parents[2] / "examples" / "site.toml"


class CliError(Exception):
    pass


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions of one paragraph wrapped to the terminal; the examples (and
    any text of several lines) kept as written."""

    def _fill_text(self, text, width, indent):
        if "\n" in text:
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)


class Parser(argparse.ArgumentParser):
    """argparse, with three additions every command of `motcua` uses.

    `example`: one or more command lines, shown at the end of --help and after an error.
    `needs`: the sentence said instead of argparse's "the following arguments are
    required: …", naming what to give.
    `renamed_to`: an old spelling of a sub-command; the parser refuses it, naming the new one.
    """

    def __init__(self, *args, example: str | Sequence[str] = (), needs: str | None = None,
                 renamed_to: str | None = None, **kwargs):
        examples = [example] if isinstance(example, str) else list(example)
        kwargs.setdefault("formatter_class", _Formatter)
        if examples:
            kwargs["epilog"] = ((kwargs["epilog"] + "\n\n") if kwargs.get("epilog") else "") + \
                "example:\n" + "\n".join(f"  {e}" for e in examples)
        super().__init__(*args, **kwargs)
        self.examples = examples
        self.needs = needs
        self.renamed_to = renamed_to

    def parse_known_args(self, args=None, namespace=None):
        if self.renamed_to:
            old = self.prog.rsplit(" ", 1)[-1]
            self.error(f"`{old}` is now spelled `{self.renamed_to}`, as in the protocol and the terminal")
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and not any(isinstance(a, argparse._SubParsersAction) for a in self._actions):
            # a command's own parser refuses what it does not take, rather than the top
            # level saying so with the top level's usage
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def error(self, message: str):
        if self.needs and message.startswith("the following arguments are required"):
            message = self.needs
        for action in self._actions:  # old spellings are not offered as choices
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if getattr(sub, "renamed_to", None):
                        message = message.replace(f", {name!r}", "")
        self.print_usage(sys.stderr)
        example = f"\nfor example: {self.examples[0]}" if self.examples else ""
        self.exit(2, f"{self.prog}: error: {message}{example}\n")


class Renamed(argparse.Action):
    """A flag that was renamed: refused by the parser, naming the new one."""

    def __init__(self, option_strings, dest, new: str, hint: str = "", **kwargs):
        kwargs.setdefault("nargs", "?")
        kwargs.setdefault("help", argparse.SUPPRESS)
        super().__init__(option_strings, dest=argparse.SUPPRESS, **kwargs)
        self.new, self.hint = new, hint

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is now {self.new}{self.hint}")


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
             ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command and sub-command of the tree, with the words that reach it
    (old spellings that only refuse themselves are left out)."""
    yield path, parser
    for action in parser._actions:  # argparse keeps its sub-parsers here and nowhere public
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if not getattr(sub, "renamed_to", None):
                    yield from commands(sub, path + (name,))


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
    """The device a command stands for (motcua.devices picks it), or why there is none."""
    from ..devices import device_for as pick
    try:
        return pick(site, role, explicit, counter)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def client(site: Site, device: str):
    from ..mqtt import DeviceClient
    c = DeviceClient(site, device).start()
    if not c.wait_connected(site.request_timeout_s):
        c.stop()
        raise CliError(f"cannot reach the MQTT broker at {site.broker.host}:{site.broker.port} as "
                       f"{device}: start it with `motcua broker` (or `motcua demo`), and check the "
                       "password file matches the site file (`motcua broker passwords`)")
    return c


def request(site: Site, device: str, op: str, **args) -> dict:
    from ..mqtt import CentreUnavailable, RequestRefused
    c = client(site, device)
    try:
        return c.request(op, **args)
    except RequestRefused as exc:
        raise CliError(f"refused ({exc.code}): {exc.message}") from None
    except CentreUnavailable as exc:
        raise CliError(str(exc)) from None
    finally:
        c.stop()


def centre_db(site: Site):
    """The centre's database, opened beside a running centre (WAL allows it)."""
    from ..store import Store
    return Store(site.database)


def minutes(seconds: int) -> str:
    return f"{round(seconds / 60)} phút" if seconds else "—"


def print_import(report, what: str) -> int:
    for e in report.errors:
        print(f"  {e}", file=sys.stderr)
    print(f"{what}: {report.imported} imported" + (f", {report.updated} updated" if getattr(report, "updated", 0) else "")
          + (f", {len(report.errors)} rows refused (see above)" if report.errors else ""))
    return 0 if not report.errors else 1

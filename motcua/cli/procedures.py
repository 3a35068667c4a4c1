"""`motcua procedures`: the procedure catalogue in the centre's database; a
running centre tells the kiosks within seconds (retained catalogue version),
and they sync."""
from __future__ import annotations

import sys

from ..config import Site
from .common import CliError, centre_db, print_import


def _with_catalogue(action):
    def run(site: Site, args) -> int:
        from ..catalogue import Catalogue, CatalogueError
        store = centre_db(site)
        try:
            return action(Catalogue(store.db), args)
        except CatalogueError as exc:
            raise CliError(str(exc)) from None
        finally:
            store.close()
    return run


def cmd_import(catalogue, args) -> int:
    code = print_import(catalogue.import_file(args.file), args.file)
    print(f"the catalogue now has {catalogue.count()} procedures")
    return code


def cmd_search(catalogue, args) -> int:
    hits = catalogue.search(" ".join(args.words), limit=10)
    for h in hits:
        print(f"{h.code:<22} {h.name}  [{h.field}]")
    if not hits:
        print("nothing found", file=sys.stderr)
    return 0 if hits else 1


def cmd_show(catalogue, args) -> int:
    p = catalogue.get(args.code)
    if p is None:
        raise CliError(f"no procedure {args.code!r}; find its code with `motcua procedures search WORDS`")
    import json
    print(json.dumps(p.to_dict(), ensure_ascii=False, indent=2))
    return 0


def cmd_list(catalogue, args) -> int:
    for field, n in catalogue.fields():
        print(f"{n:>4}  {field}")
    print(f"{catalogue.count()} procedures, version {catalogue.version()[:12]}")
    return 0


def add_commands(sub) -> None:
    pr = sub.add_parser("procedures", help="the procedure catalogue: import, list, search, show",
                        description="The procedure catalogue in the centre's database; a running "
                        "centre tells the kiosks, and they sync within seconds.",
                        example=["motcua procedures import examples/procedures.json",
                                 "motcua procedures search đăng ký khai sinh"])
    actions = pr.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")

    a = actions.add_parser("import", help="import procedures from a JSON or CSV file",
                           example="motcua procedures import examples/procedures.json",
                           needs="`motcua procedures import FILE` needs the file (JSON or CSV)")
    a.add_argument("file", metavar="FILE", help="the procedures, JSON or CSV")
    a.set_defaults(fn=_with_catalogue(cmd_import))

    a = actions.add_parser("list", help="the fields and how many procedures each has",
                           example="motcua procedures list")
    a.set_defaults(fn=_with_catalogue(cmd_list))

    a = actions.add_parser("search", help="find procedures by words of their name (with or without accents)",
                           example="motcua procedures search dang ky khai sinh",
                           needs="`motcua procedures search WORDS` needs the words to look for")
    a.add_argument("words", nargs="+", metavar="WORDS", help="words of the name, e.g. đăng ký khai sinh")
    a.set_defaults(fn=_with_catalogue(cmd_search))

    a = actions.add_parser("show", help="one procedure in full (JSON)", example="motcua procedures show 1.001193",
                           needs="`motcua procedures show CODE` needs the procedure's code "
                                 "(`motcua procedures search WORDS` finds it)")
    a.add_argument("code", metavar="CODE", help="the procedure's code")
    a.set_defaults(fn=_with_catalogue(cmd_show))

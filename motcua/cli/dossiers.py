"""`motcua dossiers`: the dossier mirror (import, receipts) and the apologies
for late dossiers (form 04 letters)."""
from __future__ import annotations

from pathlib import Path

from ..config import Site
from .common import CliError, centre_db, print_import


def _with_dossiers(action):
    """Run `action(site, dossiers, args)` with the centre's dossier store open."""
    def run(site: Site, args) -> int:
        from ..dossiers import DossierError, DossierStore
        store = centre_db(site)
        try:
            return action(site, DossierStore(store.db, site.dossiers, site.timezone), args)
        except DossierError as exc:
            raise CliError(f"{exc.code}: {exc.message}") from None
        finally:
            store.close()
    return run


def cmd_import(site: Site, dossiers, args) -> int:
    return print_import(dossiers.import_file(args.file), args.file)


def cmd_receipt(site: Site, dossiers, args) -> int:
    from ..receipt import render_receipt
    dossier = dossiers.get(args.code)
    out = Path(args.out or f"{dossier.code}.pdf")
    png = out.with_suffix(".png") if args.png else None
    render_receipt(dossier, site.name, out, site.dossiers, png_path=png, timezone=site.timezone)
    print(f"wrote {out}" + (f" and {png}" if png else ""))
    return 0


def cmd_overdue(site: Site, dossiers, args) -> int:
    from datetime import datetime, timezone
    print(format_overdue(dossiers.overdue(datetime.now(timezone.utc))))
    return 0


def cmd_letter(site: Site, dossiers, args) -> int:
    from ..apology_letter import reprint_letter
    _, out = reprint_letter(dossiers, args.code, site.name, args.out, place=site.dossiers.place)
    print(f"wrote {out}")
    return 0


def cmd_apologise(site: Site, dossiers, args) -> int:
    """Record an apology and write its letter. The database is written directly, as
    `import` does: a running centre reads dossiers from it at every `dossier.status`,
    so the kiosk sees the new date at once."""
    from datetime import datetime, timezone
    from ..apology_letter import issue_apology
    now = datetime.now(timezone.utc)
    try:
        d, out = issue_apology(dossiers, args.code, args.reason, args.new_date, site.name, args.out,
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
    from ..dossiers import STATUSES, mask_name
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


CODE = "000.00.31.H12-261102-0002"


def add_commands(sub) -> None:
    ds = sub.add_parser("dossiers", help="the dossier mirror: import, receipts, late dossiers, apologies",
                        description="The dossier mirror in the centre's database: import it, print "
                        "receipts, list the late dossiers and apologise for them (form 04).",
                        example=["motcua dossiers import examples/dossiers.json", "motcua dossiers overdue"])
    actions = ds.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    code_help = "the dossier's code (`motcua dossiers overdue` lists the late ones)"

    a = actions.add_parser("import", help="import dossiers from a JSON or CSV file",
                           example="motcua dossiers import examples/dossiers.json",
                           needs="`motcua dossiers import FILE` needs the file (JSON or CSV)")
    a.add_argument("file", metavar="FILE", help="the dossiers, JSON or CSV")
    a.set_defaults(fn=_with_dossiers(cmd_import))

    a = actions.add_parser("receipt", help="write a dossier's receipt (PDF)",
                           example=f"motcua dossiers receipt {CODE} --png",
                           needs="`motcua dossiers receipt CODE` needs the dossier code")
    a.add_argument("code", metavar="CODE", help="the dossier's code")
    a.add_argument("--out", help="the PDF to write (default CODE.pdf)")
    a.add_argument("--png", action="store_true", help="also write a PNG beside the PDF")
    a.set_defaults(fn=_with_dossiers(cmd_receipt))

    a = actions.add_parser("overdue", help="the dossiers late or due by tomorrow without an apology",
                           example="motcua dossiers overdue")
    a.set_defaults(fn=_with_dossiers(cmd_overdue))

    a = actions.add_parser("apologise", help="record an apology and write its letter (form 04)",
                           example=f'motcua dossiers apologise {CODE} --reason "Chờ ý kiến của Sở Xây dựng" '
                                   "--new-date 20/11/2026",
                           needs="`motcua dossiers apologise CODE` needs the dossier code (`motcua dossiers "
                                 "overdue` lists the late ones), --new-date DATE (YYYY-MM-DD or dd/mm/yyyy) "
                                 "and --reason \"…\"")
    a.add_argument("code", metavar="CODE", help=code_help)
    a.add_argument("--reason", required=True, help="why the dossier is late (printed in the letter, "
                                                   "shown at the kiosk)")
    a.add_argument("--new-date", required=True, metavar="DATE", help="the new date for the result, YYYY-MM-DD or "
                                                     "dd/mm/yyyy (the due date may be reset only once)")
    a.add_argument("--out", help="the PDF to write (default van-ban-xin-loi-CODE.pdf)")
    a.set_defaults(fn=_with_dossiers(cmd_apologise))

    a = actions.add_parser("letter", help="write an apology's letter again",
                           example=f"motcua dossiers letter {CODE} --out letter.pdf",
                           needs="`motcua dossiers letter CODE` needs the dossier code "
                                 "(`motcua dossiers overdue` lists the late ones)")
    a.add_argument("code", metavar="CODE", help=code_help)
    a.add_argument("--out", help="the PDF to write (default van-ban-xin-loi-CODE.pdf)")
    a.set_defaults(fn=_with_dossiers(cmd_letter))

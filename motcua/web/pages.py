"""Procedures and dossiers on the phone, from the same code as the kiosk: the
web process keeps its own copy of the centre's catalogue exactly as a kiosk
does (`motcua.kiosk.catalogue_sync`, `catalogue.page`) and searches it with the
same search and the same limit; a dossier is looked up with `dossier.status`
(the centre checks the lookup code and masks the name) and refusals read as
the kiosk's (`motcua.kiosk.model.lookup_error`)."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from motcua.kiosk import i18n as kiosk_i18n
from motcua.kiosk import model as kiosk_model
from motcua.kiosk.catalogue_sync import CatalogueSync, open_database
from motcua.mqtt import CentreUnavailable, RequestRefused

from . import model
from .app import (PROCEDURE_RESULTS, ThreadCatalogues, WebContext, centre_of, centre_route, client_address,
                  not_found, page)

CHANNELS = {"truc_tiep": ("Nộp trực tiếp", "In person"), "truc_tuyen": ("Nộp trực tuyến", "Online"),
            "buu_chinh": ("Nộp qua bưu chính", "By post")}
COPIES = {"ban_chinh": ("Bản chính", "Original"), "ban_sao": ("Bản sao", "Copy"),
          "ban_chinh_hoac_ban_sao": ("Bản chính hoặc bản sao", "Original or copy")}
WORDS = {
    "procedures": ("Tra cứu thủ tục", "Find a procedure"),
    "dossier": ("Tra cứu hồ sơ", "Check a dossier"),
    "search": ("Tìm", "Search"),
    "search_hint": ("Gõ tên thủ tục, có dấu hay không dấu đều được. Ví dụ: khai sinh",
                    "Type the procedure's name, with or without tones. For example: khai sinh"),
    "results_for": ("Kết quả cho “%s”", "Results for “%s”"),
    "none_found": ("Không tìm thấy thủ tục nào. Hãy thử gõ ít chữ hơn, ví dụ: khai sinh",
                   "No procedure found. Try fewer words, for example: khai sinh"),
    "not_loaded": ("Danh mục thủ tục chưa được tải về. Vui lòng thử lại sau ít phút.",
                   "The catalogue has not been loaded yet. Please try again in a few minutes."),
    "fields": ("Lĩnh vực", "Fields"),
    "documents": ("Giấy tờ cần mang", "Documents to bring"),
    "count": ("Số lượng: %d", "Number: %d"),
    "form": ("Mẫu", "Form"),
    "time_fee": ("Thời hạn và lệ phí", "Time and fee"),
    "fee": ("Lệ phí", "Fee"),
    "no_fee": ("Không", "None"),
    "steps": ("Các bước", "Steps"),
    "agency": ("Cơ quan thực hiện", "Handled by"),
    "result": ("Kết quả", "Result"),
    "code": ("Mã hồ sơ", "Dossier code"),
    "code_hint": ("Ví dụ: 000.00.31.H12-261123-0001", "For example: 000.00.31.H12-261123-0001"),
    "lookup": ("Mã tra cứu (in dưới mã QR)", "Lookup code (printed under the QR code)"),
    "lookup_hint": ("6 ký tự, ví dụ: SEJG3X", "6 characters, for example: SEJG3X"),
    "look": ("Tra cứu", "Look up"),
    "both": ("Vui lòng nhập cả mã hồ sơ và mã tra cứu in trên giấy hẹn.",
             "Please type both the dossier code and the lookup code printed on the receipt."),
    "too_many": ("Bạn đã tra cứu quá nhiều lần. Vui lòng thử lại sau %d phút.",
                 "Too many look-ups. Please try again in %d minutes."),
    "applicant": ("Người nộp", "Applicant"),
    "status": ("Tình trạng", "Status"),
    "received": ("Ngày tiếp nhận", "Received on"),
    "due": ("Ngày hẹn trả", "Due on"),
    "apology": ("Thư xin lỗi", "Apology"),
}


def w(key: str, lang: str) -> str:
    vi, en = WORDS[key]
    return en if lang == "en" else vi


class CatalogueStore:
    """A centre's catalogue, copied like a kiosk's: the sync thread writes the
    file, page handlers read it (a connection per thread)."""

    def __init__(self, feed, path: Path):
        self.path = Path(path)
        self.sync = CatalogueSync(feed, self.path)
        from motcua.catalogue import Catalogue
        self.threads = ThreadCatalogues(lambda: Catalogue(open_database(self.path)))

    def start(self) -> None:
        self.sync.start()

    def stop(self) -> None:
        self.sync.stop()


async def small_form(request: Request, limit: int = 4096) -> dict[str, str]:
    """A urlencoded form of a few fields (no multipart: nothing is uploaded here)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return {}
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", errors="replace")).items()}


def _lang(request: Request) -> str:
    return model.pick_lang(request.query_params.get("lang"))


def routes(web: WebContext) -> list[Route]:

    async def procedures(request: Request) -> Response:
        lang = _lang(request)
        centre = centre_of(request)
        if centre is None:
            return not_found(request)
        query = (request.query_params.get("q") or "").strip()[:100]
        field = (request.query_params.get("linh-vuc") or "").strip()[:200]
        s = web.catalogues.get(centre)

        def work():
            catalogue = s.threads.get()
            if catalogue.count() == 0:
                return None
            if query:
                return ("hits", catalogue.search(query, limit=PROCEDURE_RESULTS, field=field or None))
            if field:
                return ("field", catalogue.in_field(field))
            return ("fields", catalogue.fields())

        found = await asyncio.get_running_loop().run_in_executor(None, work) if s else None
        return page(request, "procedures.html", centre=centre, w=lambda k: w(k, lang), query=query, field=field,
                    found=found)

    async def procedure(request: Request) -> Response:
        lang = _lang(request)
        centre = centre_of(request)
        if centre is None:
            return not_found(request)
        s = web.catalogues.get(centre)
        code = request.path_params["code"][:60]
        p = await asyncio.get_running_loop().run_in_executor(None, lambda: s.threads.get().get(code)) if s else None
        if p is None:
            return not_found(request)
        return page(request, "procedure.html", centre=centre, w=lambda k: w(k, lang), p=p,
                    channel=lambda c: CHANNELS.get(c, (c, c))[lang == "en"],
                    copy=lambda c: COPIES.get(c, (c, c))[lang == "en"], cache=True)

    async def dossier(request: Request) -> Response:
        lang = _lang(request)
        centre = centre_of(request)
        if centre is None:
            return not_found(request)
        ctx = {"w": lambda k: w(k, lang), "code": "", "lookup": "", "error": "", "d": None}
        if request.method == "POST":
            form = await small_form(request)
            code = form.get("code", "").strip()[:60]
            lookup = form.get("lookup", "").strip()[:20]
            ctx.update(code=code, lookup=lookup)
            if not code or not lookup:
                ctx["error"] = w("both", lang)
            else:
                ok, retry, _ = web.lookups.check(time.monotonic(), address=client_address(request))
                if not ok:
                    ctx["error"] = w("too_many", lang) % max(1, round(retry / 60))
                else:
                    feed = web.feeds[centre]
                    try:
                        ctx["d"] = await feed.ask("dossier.status", code=code, lookup=lookup)
                    except RequestRefused as exc:
                        ctx["error"] = kiosk_i18n.tr(kiosk_model.lookup_error(exc.code), lang)
                    except CentreUnavailable:
                        ctx["error"] = kiosk_i18n.tr(kiosk_model.lookup_error(None), lang)
        ctx["pick"] = lambda vi, en: kiosk_i18n.pick(vi, en, lang)
        ctx["vn_date"] = kiosk_model.vn_date
        return page(request, "dossier.html", status=200, centre=centre, **ctx)

    return [centre_route(web, "/thu-tuc", procedures), centre_route(web, "/thu-tuc/{code}", procedure),
            centre_route(web, "/ho-so", dossier, methods=["GET", "POST"])]

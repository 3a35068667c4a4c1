"""A form sent from another site is refused (CSRF): motcua.web.app.SameOrigin."""
import asyncio

from motcua.web.app import SameOrigin


async def _app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def call(method: str, headers: dict) -> int:
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": method, "path": "/lay-so", "raw_path": b"/lay-so", "query_string": b"",
             "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(SameOrigin(_app)(scope, receive, send))
    return sent[0]["status"]


def test_a_post_from_another_site_is_refused():
    assert call("POST", {"host": "web.hue.gov.vn", "origin": "https://evil.example"}) == 403
    assert call("POST", {"host": "web.hue.gov.vn", "origin": "null"}) == 403


def test_the_sites_own_forms_and_reads_go_through():
    assert call("POST", {"host": "web.hue.gov.vn", "origin": "https://web.hue.gov.vn"}) == 200
    assert call("POST", {"host": "127.0.0.1:8080", "origin": "http://127.0.0.1:8080"}) == 200
    assert call("POST", {"host": "web.hue.gov.vn"}) == 200          # no Origin: not a browser
    assert call("GET", {"host": "web.hue.gov.vn", "origin": "https://evil.example"}) == 200

"""A local stand-in for an SMS brand-name / Zalo ZNS gateway: an HTTP server on
127.0.0.1 that takes the webhook's JSON (motcua/web/notify.py), checks the
bearer token, records every request, and answers as a test tells it to
(a list of status codes to give in turn, a delay)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeGateway:
    def __init__(self, token: str = "gateway-test-token"):
        self.token = token
        self.requests: list[dict] = []      # {"headers", "body", "at"}
        self.answers: list[int] = []        # status codes to give, in turn; then 200
        self.delay_s = 0.0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    body = None
                record = {"headers": dict(self.headers), "body": body, "at": time.monotonic(), "status": None}
                gateway.requests.append(record)
                if gateway.delay_s:
                    time.sleep(gateway.delay_s)
                if self.headers.get("Authorization") != f"Bearer {gateway.token}":
                    code = 401
                elif body is None or not {"id", "phone", "template", "text"} <= set(body):
                    code = 400
                else:
                    code = gateway.answers.pop(0) if gateway.answers else 200
                record["status"] = code
                answer = json.dumps({"accepted": code == 200, "id": (body or {}).get("id")}).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass        # the notifier gave up waiting: what a slow gateway sees

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeGateway":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def delivered(self) -> list[dict]:
        """The bodies of the requests the gateway accepted (200), in order."""
        return [r["body"] for r in self.requests if r["status"] == 200]

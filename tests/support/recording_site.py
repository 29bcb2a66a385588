"""A real HTTP server on a loopback address standing for a site (or for what an attacker points a
site's URL at): it records every request that reaches it and answers what the test set."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Site:
    """A real HTTP server on a loopback address that records what reaches it and answers with what
    the test set (a JSON object by default)."""

    def __init__(self, host: str = "127.0.0.1"):
        self.requests: list[tuple[str, str]] = []
        self.received: list[dict] = []  # each request whole: method, path, headers, body (text)
        self.status, self.headers, self.body = 200, {}, b'{"status": "sent"}'
        site = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                site.requests.append((self.command, self.path))
                site.received.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                      "body": body.decode("utf-8", "replace")})
                self.send_response(site.status)
                for name, value in {"Content-Type": "application/json", **site.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(site.body)))
                self.end_headers()
                self.wfile.write(site.body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

"""A tiny real HTTP server on 127.0.0.1 whose replies a test scripts, for client edge cases.

The embedded sandbox behaves like CloudMC; this one misbehaves on purpose (HTML pages, cut JSON,
lying metadata, ...). Routes map a path to a function ``(request) -> Reply`` or to a list of
replies served in turn (the last one repeats).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Seen:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes


class ScriptedServer:
    """``with ScriptedServer() as srv: srv.route("/api/v2/x", [Reply(...)])``."""

    def __init__(self) -> None:
        self.routes: dict[str, object] = {}
        self.hits: Counter = Counter()
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._turns: Counter = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):  # keep test output quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = Seen(self.command, parts.path, dict(parse_qsl(parts.query)),
                            dict(self.headers), body)
                reply = server._reply_for(seen)
                if reply.delay:
                    threading.Event().wait(reply.delay)
                if reply.drop:  # close the connection without answering
                    self.close_connection = True
                    return
                payload = reply.encoded()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def route(self, path: str, replies) -> None:
        self.routes["/api/v2" + path] = replies

    def _reply_for(self, seen: Seen) -> Reply:
        with self._lock:
            self.hits[seen.path] += 1
            self.seen.append(seen)
            script = self.routes.get(seen.path)
            turn = self._turns[seen.path]
            self._turns[seen.path] += 1
        if script is None:
            return Reply(404, {"errors": [{"code": 404, "message": f"no route {seen.path}"}]})
        if callable(script):
            return script(seen)
        return script[min(turn, len(script) - 1)]

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def paged(records: list, seen: Seen, *, total: int | None = None, current: int | None = None) -> Reply:
    """A CloudMC list reply for ``seen``'s ``page_number``/``page_size`` (REFERENCE 1.5).

    ``total`` and ``current`` override ``recordCount`` and ``pageCurrent`` (to script a server that
    lies about them); without paging parameters the whole list comes back without metadata.
    """
    if "page_number" not in seen.query and "page_size" not in seen.query:
        return Reply(200, {"data": records})
    number, size = int(seen.query.get("page_number", 1)), int(seen.query.get("page_size", 50))
    page = records[(number - 1) * size: number * size]
    metadata = {"recordCount": len(records) if total is None else total, "pageSize": size,
                "pageCurrent": number if current is None else current}
    return Reply(200, {"data": page, "metadata": metadata})

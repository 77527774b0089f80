"""The HTTP layer: ``SandboxServer`` (lifecycle), the request handler, the request log.

``ThreadingHTTPServer`` on 127.0.0.1 (port 0 = any free port), HTTP/1.1
keep-alive, ``TCP_NODELAY`` (``disable_nagle_algorithm``), one daemon thread
per connection.  Every answer carries ``Content-Length``; JSON answers are
``application/json`` (UTF-8).  Request lines are not logged, and API keys
never appear in bodies, headers, the request log or log lines.
"""
import contextlib
import json
import logging
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from . import (
    admin_writes,
    api,
    commitments,
    descriptors,
    errors,
    metrics,
    rbac,
    reports,
    service_usage,
    services,
    usage_summary,
)
from .faults import FaultSet, parse_faults
from .paging_quirks import PagingQuirks
from .ratelimit import RateLimiter
from .routing import Request, Response, Router
from .scenario import generate_scenario
from .tasks import TaskRunner

API_PREFIX = "/api/v2"
LOG = logging.getLogger("cloudmc_frames.sandbox")
NGINX_PAGE = ("<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
              "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
              "</body>\r\n</html>\r\n")
SLOW_PIECES = 20
USAGE_METADATA = ("camel", "snake")


class RequestRecord(NamedTuple):
    """One served request (never the key): status 0 means the connection was dropped."""

    method: str
    path: str
    query: dict
    org_id: str
    status: int
    fault: str


class RequestLog(list):
    """Thread-safe list of ``RequestRecord`` (append/clear under a lock).

    It keeps at most ``max_records`` (the oldest tenth is dropped when full) so a
    long-running sandbox does not grow without bound.
    """

    def __init__(self, max_records=200_000):
        super().__init__()
        self._lock = threading.Lock()
        self.max_records = max_records

    def append(self, record):
        """Add a record."""
        with self._lock:
            super().append(record)
            if len(self) > self.max_records:
                del self[:max(1, self.max_records // 10)]

    def clear(self):
        """Forget every record."""
        with self._lock:
            super().clear()

    def snapshot(self):
        """A plain-list copy."""
        with self._lock:
            return list(self)


def _redact(query):
    """The query dict with key-like parameters masked (keys never reach the log)."""
    return {k: ("<redacted>" if "key" in k.lower() else v) for k, v in query.items()}


class App:
    """Request pipeline shared by all handler threads: faults, auth, routing, logging."""

    def __init__(self, store, faults, runner, latency_ms=0, jitter_ms=0, ignore_paging=False):
        self.store, self.faults, self.runner = store, faults, runner
        self.latency_ms, self.jitter_ms = latency_ms, jitter_ms
        self.ignore_paging = ignore_paging
        self.usage_metadata, self.csv_bom = "camel", False
        self.rate_limits = RateLimiter()
        self.paging = PagingQuirks()
        self.requests = RequestLog()
        self.stopping = threading.Event()
        self.router = Router()
        for module in (api, admin_writes, usage_summary, service_usage, descriptors, metrics, commitments,
                       reports, services):
            module.register(self.router)
        self.connections = set()
        self.connections_lock = threading.Lock()

    # -------------------------------------------------------------- pipeline
    def handle(self, handler):
        """Serve one request on ``handler``."""
        split = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        try:
            raw_body = _read_body(handler)
        except ValueError:
            handler.close_connection = True
            response = Response(400,
                                errors.envelope(errors.MALFORMED_BODY, "Unreadable request body framing"))
            return _send(handler, response, self._encode(response), 0, self.stopping)
        path = (split.path[len(API_PREFIX):] or "/") if split.path.startswith(API_PREFIX) else split.path
        info = self.store.key_info(handler.headers.get("MC-Api-Key"))
        org_id = query.get("org_id") or (info.org_id if info else None)
        decision = self.faults.decide(handler.command, path, org_id)
        delay = decision.delay + (self.faults.jitter(self.latency_ms, self.jitter_ms) if self.latency_ms or
                                  self.jitter_ms else 0.0)
        if delay and self.stopping.wait(delay):
            return self._drop(handler, query, path, org_id, "server stopping")
        rule = decision.rule
        fault = ",".join(decision.labels) or None
        if rule is not None and rule.kind == "drop":
            return self._drop(handler, query, path, org_id, fault)
        refusal = None
        if rule is not None and rule.kind in ("status", "rate_limit", "html"):
            response = _fault_response(rule)
        elif (refusal := self.rate_limits.check(handler.headers.get("MC-Api-Key"), org_id)) is not None:
            response = Response(refusal.status, refusal.body, refusal.headers)
            fault = ",".join((*decision.labels, f"throttled:{refusal.which}"))
        else:
            response = self._dispatch(handler, split.path, path, query, raw_body)
        body = self._encode(response)
        if rule is not None and rule.kind == "malformed":
            response.status, response.content_type = 200, "application/json"
            body = body[:max(1, len(body) // 2)]
        self.requests.append(RequestRecord(handler.command, path, _redact(query), org_id, response.status,
                                           fault))
        slow_ms = (rule.latency_ms or 1000) if rule is not None and rule.kind == "slow_body" else 0
        _send(handler, response, body, slow_ms / 1000.0, self.stopping)

    def _dispatch(self, handler, full_path, path, query, raw_body):
        """Route and run the endpoint; errors become envelopes."""
        try:
            if not full_path.startswith(API_PREFIX + "/") and full_path != API_PREFIX:
                raise errors.not_found(f"No such endpoint: {full_path}", path=full_path)
            endpoint, params = self.router.resolve(handler.command, path)
            caller = rbac.authenticate(self.store, handler.headers.get("MC-Api-Key"))
            if query.get("org_id"):
                rbac.check_org(self.store, caller, query["org_id"])  # any call: 404 unknown, 403 outside
            body = _parse_json(raw_body)
            if self.paging.active:
                query = self._quirky_query(query)
            req = Request(handler.command, path, query, body, caller, self, params, handler.headers)
            with self.store.lock:  # handlers only build dicts and sort; JSON encoding happens unlocked
                result = endpoint(req)
            return result if isinstance(result, Response) else Response(200, self.paging.skew(result))
        except errors.ApiError as exc:
            return Response(exc.status, exc.envelope(), dict(exc.headers))
        except Exception:  # noqa: BLE001 - the server must answer 500, never die
            LOG.exception("sandbox endpoint failed: %s %s", handler.command, path)
            return Response(500, errors.envelope(errors.INTERNAL, "Unexpected server error"))

    def _quirky_query(self, query):
        """The query after the paging quirks (400 for a page size above ``max_page_size``)."""
        refused = self.paging.refuse(query)
        if refused is not None:
            raise refused
        return self.paging.rewrite(query)

    @staticmethod
    def _encode(response):
        """The response body as bytes."""
        if response.raw is not None:
            return response.raw
        if response.body is None:
            return b""
        return json.dumps(response.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def _drop(self, handler, query, path, org_id, fault):
        """Close the connection with a TCP reset, sending nothing."""
        self.requests.append(RequestRecord(handler.command, path, _redact(query), org_id, 0, fault))
        handler.close_connection = True
        try:
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()
        except OSError:
            pass

    # ------------------------------------------------------- connection book
    def opened(self, sock):
        """Remember an open client connection (so stop() can close it)."""
        with self.connections_lock:
            self.connections.add(sock)

    def closed(self, sock):
        """Forget a client connection."""
        with self.connections_lock:
            self.connections.discard(sock)

    def close_all(self):
        """Shut down every open client connection."""
        with self.connections_lock:
            socks = list(self.connections)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _read_body(handler):
    """The request body bytes (Content-Length or chunked)."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _parse_json(raw):
    """Parsed JSON body (None when empty); 400 envelope when it is not JSON."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.bad_request(f"Malformed JSON body: {exc}", code=errors.MALFORMED_BODY) from None


def _fault_response(rule):
    """The canned answer of a status / rate_limit / html fault."""
    if rule.kind == "html":
        status = rule.status or 502
        reason = BaseHTTPRequestHandler.responses.get(status, ("Error",))[0]
        page = NGINX_PAGE.format(status=status, reason=reason).encode("ascii")
        return Response(status, raw=page, content_type="text/html")
    status = 429 if rule.kind == "rate_limit" else (rule.status or 500)
    headers = {}
    retry = rule.retry_after if rule.retry_after is not None else (1 if status == 429 else None)
    if retry is not None:
        headers["Retry-After"] = str(int(retry) if float(retry).is_integer() else retry)
    message = "Too many requests" if status == 429 else f"Injected fault: HTTP {status}"
    return Response(status, errors.envelope(9000 + status, message, {"fault": rule.kind}), headers)


def _send(handler, response, body, slow_seconds, stopping):
    """Write status, headers and body (dribbled over ``slow_seconds`` if > 0)."""
    handler.send_response(response.status)
    handler.send_header("Content-Type", response.content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in response.headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command == "HEAD" or not body:
        return
    if slow_seconds <= 0:
        handler.wfile.write(body)
        return
    step = max(1, -(-len(body) // SLOW_PIECES))
    pieces = [body[i:i + step] for i in range(0, len(body), step)]
    for index, piece in enumerate(pieces):
        handler.wfile.write(piece)
        if index < len(pieces) - 1 and stopping.wait(slow_seconds / len(pieces)):
            handler.close_connection = True
            return


class Handler(BaseHTTPRequestHandler):
    """Hands every verb to the shared ``App``; quiet by default."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "CloudMC-Sandbox/1.0"
    sys_version = ""
    timeout = 120

    def version_string(self):
        """``Server`` header value."""
        return self.server_version

    def setup(self):
        """Register the connection so ``stop()`` can close it."""
        super().setup()
        self.server.app.opened(self.connection)

    def finish(self):
        """Unregister the connection."""
        try:
            super().finish()
        finally:
            self.server.app.closed(self.connection)

    def _serve(self):
        """Every verb: hand over to the app (a vanished client just ends the connection)."""
        try:
            self.server.app.handle(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        """Silence the default stderr access log (request lines are not logged)."""


class _HTTPServer(ThreadingHTTPServer):
    """Thread per connection (daemon threads), a deep listen backlog, quiet errors."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs from 8+ simultaneous clients (1 s retransmit)

    def handle_error(self, request, client_address):
        """Log (without request details) instead of printing a traceback to stderr."""
        LOG.debug("connection error from %s", client_address[0], exc_info=True)


class SandboxServer:
    """An embedded CloudMC API server on 127.0.0.1 (see the package docstring)."""

    def __init__(self, *, orgs=20, seed=7, scale=1.0, latency_ms=0, jitter_ms=0, faults=(), task_delay=0.5,
                 task_ttl=1800.0, ignore_paging=False, host="127.0.0.1", port=0, scenario=None,
                 fail_operations=(), usage_days=365, hourly_days=30, usage_metadata="camel",
                 csv_bom=False, rate_limit=None, max_page_size=None, served_page_size=None,
                 record_count_skew=0):
        self.store = scenario if scenario is not None else generate_scenario(
            orgs=orgs, seed=seed, scale=scale, usage_days=usage_days, hourly_days=hourly_days)
        self.seed = seed
        self.host, self.port = host, port
        rules = parse_faults(faults) if isinstance(faults, str) else list(faults)
        self.faults = FaultSet(rules, seed=seed)
        self.runner = TaskRunner(self.store, task_delay, task_ttl, fail_operations)
        self.app = App(self.store, self.faults, self.runner, latency_ms, jitter_ms, ignore_paging)
        self.usage_metadata = usage_metadata
        self.csv_bom = csv_bom
        self.app.rate_limits.set(rate_limit)
        self.app.paging = PagingQuirks(max_page_size, served_page_size, record_count_skew)
        self._httpd = None
        self._thread = None

    # -------------------------------------------------------------- options
    @property
    def requests(self):
        """The thread-safe ``RequestLog`` of served requests."""
        return self.app.requests

    @property
    def fail_operations(self):
        """Mutable set of operation names whose tasks end FAILED.

        Names: ``"instances.stop"`` (one entity's operation), ``"stop"`` (any entity), ``"*"``.
        """
        return self.runner.fail_operations

    @property
    def ignore_paging(self):
        """True if admin lists ignore paging parameters."""
        return self.app.ignore_paging

    @ignore_paging.setter
    def ignore_paging(self, value):
        """Switch the ignore-paging behaviour at run time."""
        self.app.ignore_paging = bool(value)

    @property
    def rate_limits(self):
        """The ``RateLimiter`` (``.set(spec or RateLimit or None)``, ``.stats()``, ``.reset()``)."""
        return self.app.rate_limits

    @property
    def paging(self):
        """The ``PagingQuirks`` in force (assign a new one to change them at run time)."""
        return self.app.paging

    @paging.setter
    def paging(self, quirks):
        """Switch the paging quirks at run time."""
        self.app.paging = quirks

    @property
    def usage_metadata(self):
        """``/service/usage`` metadata spelling: "camel" (totalCount...) or "snake" (total_record_count)."""
        return self.app.usage_metadata

    @usage_metadata.setter
    def usage_metadata(self, value):
        """Switch the ``/service/usage`` metadata spelling at run time."""
        if value not in USAGE_METADATA:
            raise ValueError(f"usage_metadata must be one of {', '.join(USAGE_METADATA)}")
        self.app.usage_metadata = value

    @property
    def csv_bom(self):
        """True if CSV answers start with a UTF-8 byte-order mark."""
        return self.app.csv_bom

    @csv_bom.setter
    def csv_bom(self, value):
        """Switch the CSV byte-order mark at run time."""
        self.app.csv_bom = bool(value)

    @property
    def api_key(self):
        """The root reseller administrator's key."""
        return self.store.root_key

    @property
    def keys(self):
        """``KeyInfo`` for every user (root administrator first)."""
        return self.store.keys

    @property
    def endpoint(self):
        """``http://host:port`` (the API lives under ``/api/v2``)."""
        if self._httpd is None:
            raise RuntimeError("SandboxServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self):
        """``endpoint + "/api/v2"``."""
        return self.endpoint + API_PREFIX

    # ------------------------------------------------------------ lifecycle
    def start(self):
        """Bind, start serving in a background thread; returns self."""
        if self._httpd is not None:
            return self
        self.app.stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), Handler)
        self._httpd.app = self.app
        self.runner.start()
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="cloudmc-sandbox-http", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving: wake sleeping handlers, close connections, join threads."""
        if self._httpd is None:
            return
        self.app.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self.app.close_all()
        self.runner.stop()
        self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    def wait_for_tasks(self, timeout=5.0):
        """Block until every pending task has completed (tests); True if done in time."""
        return self.runner.wait_idle(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        where = self.endpoint if self._httpd else "stopped"
        return f"<SandboxServer {where} orgs={len(self.store.orgs)} resources={self.store.resource_count()}>"

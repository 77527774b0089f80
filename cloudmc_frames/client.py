"""The HTTP layer: one cached session per credential, envelopes, retries, paging, cache control.

This is the only module that imports requests and requests-cache. It knows CloudMC's wire
conventions (``MC-Api-Key``, ``org_id``, envelopes, paging, tasks) and nothing about
organizations or resources.

Example::

    >>> import cloudmc_frames as cmf
    >>> client = cmf.connect("https://cloudmc.example.com", api_key)   # doctest: +SKIP
    >>> client.get("/organizations/" + org_id)["name"]                  # doctest: +SKIP
    'Acme'

Caching (requests-cache): GET replies with status 200 are stored, by default in SQLite under the
user cache dir, for ``expire_after`` seconds; ``/tasks/*`` never. The API key is redacted from
stored requests and every cache key starts with a one-way fingerprint of endpoint + key, so two
keys never share an entry. On top, parsed pages are kept in memory for the life of the client
(a warm crawl then costs no SQLite reads and no JSON parsing).
"""

from __future__ import annotations

import atexit
import email.utils
import hashlib
import json
import logging
import os
import queue
import random
import re
import socket
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests_cache import DO_NOT_CACHE, CachedResponse, CachedSession, SQLiteCache
from requests_cache.cache_keys import redact_response
from requests_cache.policy.settings import DEFAULT_IGNORED_PARAMS

from ._version import __version__
from .config import API_PREFIX, Settings, from_env, is_loopback
from .errors import (
    CacheMissError,
    CloudMCError,
    ConfigError,
    CrawlTimeoutError,
    RateLimitError,
    RequestTimeout,
    ResponseFormatError,
    TransportError,
    error_class_for_status,
    error_from_envelope,
    json_type,
    snippet,
)
from .ledger import Ledger
from .paging import Page, iter_records
from .tasks import Task, is_task_payload

log = logging.getLogger("cloudmc_frames")

API_KEY_HEADER = "MC-Api-Key"
USER_AGENT = f"cloudmc-frames/{__version__}"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TASKS_PATH = "/tasks/"
_ERRNO = re.compile(r"\[Errno -?\d+\][^)'\"]*")


def connect(endpoint: str | None = None, api_key: str | None = None, **options: Any) -> Client:
    """Open a client on a CloudMC endpoint (default: ``CLOUDMC_ENDPOINT`` / ``CLOUDMC_API_KEY``).

    ``options`` are the fields of :class:`~cloudmc_frames.config.Settings` (timeouts, retries,
    cache backend and folder, ``offline``, ``allow_insecure``, ``max_workers``, ...).

    >>> client = cmf.connect()                              # doctest: +SKIP
    >>> client = cmf.connect("https://cloudmc.example.com", os.environ["MY_KEY"], offline=True)  # doctest: +SKIP
    """
    if endpoint is None or api_key is None:
        env_endpoint, env_key = _env_or_none()
        endpoint = endpoint if endpoint is not None else env_endpoint
        api_key = api_key if api_key is not None else env_key
        if endpoint is None or api_key is None:
            from_env()  # raises ConfigError naming both variables
    return Client(Settings.from_options(endpoint, **options), api_key)


def _env_or_none() -> tuple[str | None, str | None]:
    endpoint = os.environ.get("CLOUDMC_ENDPOINT", "").strip() or None
    api_key = os.environ.get("CLOUDMC_API_KEY", "").strip() or None
    return endpoint, api_key


def credential_hash(endpoint: str, api_key: str) -> str:
    """A one-way, hex-only tag of endpoint + key (32 chars) that namespaces the cache."""
    material = f"cloudmc-frames/cache-v1\0{endpoint}\0{api_key}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def listing_scope(path: str) -> str:
    """What a listing belongs to, for invalidation: ``services/<code>/<env>`` or the collection.

    Environment names repeat across organizations, so a write in one ``prod`` also forgets the
    other organizations' ``prod`` listings: a few extra fetches, never a stale one.

    >>> listing_scope("/services/compute-qc/prod/instances/i-1")
    'services/compute-qc/prod'
    >>> listing_scope("/users/u1")
    'users'
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "services" and parts[1] != "connections":
        return f"services/{parts[1]}/{parts[2]}"
    return "/".join(parts[:2]) if parts[:1] == ["services"] else (parts[0] if parts else "")


def _scope_tag(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Reply:
    """One parsed answer: the JSON object (None for an empty body) and where it came from."""

    status: int
    payload: dict | None
    url: str
    from_cache: bool
    attempts: int = 1

    @property
    def data(self) -> Any:
        return None if self.payload is None else self.payload.get("data")


@dataclass(frozen=True)
class Listing:
    """Every record of a list endpoint, whether all its pages came from a cache, and how many."""

    records: list[dict]
    from_cache: bool
    pages: int


class _Secret:
    """Holds the API key; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        return text.replace(self._value, "<api-key>") if self._value in text else text

    def __repr__(self) -> str:
        return "<api-key hidden>"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("an API key is not picklable")


class _MemoryPages:
    """Parsed replies kept for the life of a client, by scope, with their cache expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: dict[str, dict[tuple, tuple[float, Reply]]] = {}

    def get(self, scope: str, key: tuple, now: float) -> Reply | None:
        with self._lock:
            entry = self._pages.get(scope, {}).get(key)
        return entry[1] if entry and entry[0] > now else None

    def put(self, scope: str, key: tuple, reply: Reply, expires_at: float) -> None:
        with self._lock:
            self._pages.setdefault(scope, {})[key] = (expires_at, reply)

    def drop(self, scope: str | None = None) -> None:
        with self._lock:
            if scope is None:
                self._pages.clear()
            else:
                self._pages.pop(scope, None)


class Client:
    """A connection to one CloudMC endpoint with one API key; safe to share across threads.

    Attributes:
        settings: the :class:`~cloudmc_frames.config.Settings` in force.
        ledger: the issues and coverage rows recorded by accessors using this client.
        stats: counters (``sent``, ``cache_hits``, ``memory_hits``, ``retries``) for diagnostics.
    """

    def __init__(
        self,
        settings: Settings,
        api_key: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_api_key(api_key)
        self.settings = settings
        self._key = _Secret(api_key)
        self.fingerprint = credential_hash(settings.endpoint, api_key)
        self.ledger = Ledger()
        self.stats = {"sent": 0, "cache_hits": 0, "memory_hits": 0, "retries": 0}
        self._sleep, self._clock = sleep, clock
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._memory = _MemoryPages()
        self._warned_cache = False
        self._session = self._open_session()

    # -- public calls ------------------------------------------------------------------------

    def get(self, path: str, params: dict | None = None, *, org_id: str | None = None,
            fresh: bool = False) -> Any:
        """GET ``path`` (relative to ``/api/v2``) and return its ``data``.

        >>> client.get("/organizations/" + org_id)      # doctest: +SKIP
        """
        return self.get_reply(path, params, org_id=org_id, fresh=fresh).data

    def get_reply(self, path: str, params: dict | None = None, *, org_id: str | None = None,
                  fresh: bool = False, deadline: float | None = None) -> Reply:
        """GET ``path`` and return the whole :class:`Reply` (payload, from_cache, attempts)."""
        url, query = self._url(path), _query(params, org_id)
        cacheable = not path.startswith(TASKS_PATH)
        if cacheable and not fresh:
            hit = self._memory_reply(path, url, query)
            if hit is not None:
                return hit
        reply, expires_at = self._send("GET", url, query, None, fresh=fresh, deadline=deadline)
        if cacheable and expires_at is not None:
            self._memory.put(listing_scope(path), _memory_key(url, query), reply, expires_at)
        return reply

    def remembered(self, path: str, params: dict | None = None, *,
                   org_id: str | None = None) -> Listing | None:
        """Every record of a list from this client's memory alone, or None if a page is missing.

        Sends nothing; what it returns is what :meth:`list` would return from the cache.
        """
        url, replies = self._url(path), []

        def fetch(paging: dict) -> Page:
            reply = self._memory_reply(path, url, _query({**(params or {}), **paging}, org_id))
            if reply is None:
                raise _NotRemembered
            replies.append(reply)
            return _page_of(reply)

        try:
            records = list(iter_records(fetch, page_size=self.settings.page_size,
                                        max_pages=self.settings.max_pages))
        except _NotRemembered:
            return None
        return Listing(records, True, len(replies))

    def list(self, path: str, params: dict | None = None, *, org_id: str | None = None,
             fresh: bool = False, deadline: float | None = None, sort_by: str | None = None,
             sort_order: str | None = None) -> Listing:
        """Every record of a list endpoint, following its pages (see :mod:`~cloudmc_frames.paging`)."""
        replies: list[Reply] = []
        pages = self._page_fetcher(path, params, org_id, fresh, deadline, replies)
        records = list(iter_records(pages, page_size=self.settings.page_size,
                                    max_pages=self.settings.max_pages,
                                    sort_by=sort_by, sort_order=sort_order))
        return Listing(records, all(r.from_cache for r in replies), len(replies))

    def paginate(self, path: str, params: dict | None = None, *, org_id: str | None = None,
                 fresh: bool = False, sort_by: str | None = None,
                 sort_order: str | None = None) -> Iterator[dict]:
        """Yield every record of a list endpoint, fetching pages as the iteration goes.

        >>> for user in client.paginate("/users", org_id=org_id): ...   # doctest: +SKIP
        """
        pages = self._page_fetcher(path, params, org_id, fresh, None, [])
        yield from iter_records(pages, page_size=self.settings.page_size,
                                max_pages=self.settings.max_pages,
                                sort_by=sort_by, sort_order=sort_order)

    def post(self, path: str, body: Any = None, *, params: dict | None = None,
             org_id: str | None = None) -> Task | Any:
        """POST (create or operation). Returns a :class:`~cloudmc_frames.tasks.Task` for async
        replies, else the reply's ``data`` (None for an empty reply). Never retried."""
        return self._write("POST", path, body, params, org_id)

    def put(self, path: str, body: Any = None, *, params: dict | None = None,
            org_id: str | None = None) -> Task | Any:
        """PUT (update); same return values as :meth:`post`."""
        return self._write("PUT", path, body, params, org_id)

    def delete(self, path: str, body: Any = None, *, params: dict | None = None,
               org_id: str | None = None) -> Task | Any:
        """DELETE; same return values as :meth:`post`."""
        return self._write("DELETE", path, body, params, org_id)

    def poll_task(self, task_id: str) -> dict:
        """The raw payload of ``GET /tasks/:id``: retried like any GET, never cached."""
        if not isinstance(task_id, str) or not task_id or "/" in task_id:
            raise ConfigError(f"task id must be a non-empty string without '/', got {task_id!r}")
        reply = self.get_reply(f"{TASKS_PATH}{task_id}", fresh=True)
        if reply.payload is None:
            raise ResponseFormatError("the task endpoint answered an empty body", url=reply.url)
        return reply.payload

    def invalidate(self, scope: str) -> int:
        """Forget cached listings of one scope (see :func:`listing_scope`); returns entries dropped."""
        self._memory.drop(scope)
        return self._delete_cached(self.fingerprint + _scope_tag(scope))

    def clear_cache(self) -> int:
        """Forget every cached reply of this credential (other keys' entries stay)."""
        self._memory.drop()
        return self._delete_cached(self.fingerprint)

    @property
    def issues(self):
        """Every failure collected by accessors with ``errors="collect"``, as a DataFrame."""
        from .frames import issues_frame  # frames imports pandas; the client itself does not

        return issues_frame(self.ledger.snapshot()[0])

    @property
    def coverage(self):
        """One row per scope visited by accessors (status ok/empty/forbidden/...), as a DataFrame."""
        from .frames import coverage_frame

        return coverage_frame(self.ledger.snapshot()[1])

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = " offline" if self.settings.offline else ""
        return (f"<cloudmc_frames.Client {self.settings.endpoint} credential={self.fingerprint[:8]} "
                f"cache={self.settings.cache_backend}{mode}>")

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a Client holds an API key and is not picklable; connect() again instead")

    # -- sending -----------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError(f"path must start with '/', got {path!r}")
        return self.settings.endpoint + path

    def _page_fetcher(self, path, params, org_id, fresh, deadline, replies: list[Reply]):
        def fetch(paging: dict) -> Page:
            reply = self.get_reply(path, {**(params or {}), **paging}, org_id=org_id,
                                   fresh=fresh, deadline=deadline)
            replies.append(reply)
            return _page_of(reply)

        return fetch

    def _memory_reply(self, path: str, url: str, query: dict[str, str]) -> Reply | None:
        hit = self._memory.get(listing_scope(path), _memory_key(url, query), time.time())
        if hit is None:
            return None
        self._count("memory_hits")
        return Reply(hit.status, hit.payload, hit.url, True, 1)

    def _write(self, method: str, path: str, body: Any, params: dict | None,
               org_id: str | None) -> Task | Any:
        url, query = self._url(path), _query(params, org_id)
        scope = listing_scope(path)
        reply, _ = self._send(method, url, query, body, fresh=True, deadline=None)
        self.invalidate(scope)
        if reply.payload is None:
            return None
        if is_task_payload(reply.payload):
            return Task.from_payload(reply.payload, self, url=reply.url, scope=scope)
        return reply.data

    def _send(self, method: str, url: str, query: dict, body: Any, *, fresh: bool,
              deadline: float | None) -> tuple[Reply, float | None]:
        """Send with retries (idempotent GETs only); return the reply and its cache expiry."""
        started, attempt = self._clock(), 0
        while True:
            attempt += 1
            try:
                response = self._http(method, url, query, body, fresh or attempt > 1, deadline)
                return self._parse_or_forget(response, method, attempt), _expiry(response)
            except CloudMCError as error:
                error.attempts = attempt
                self._scrub(error)
                delay = self._retry_delay(error, attempt, started, deadline) if method == "GET" else None
                if delay is None:
                    raise
                self._count("retries")
                log.debug("retrying %s %s in %.2fs after %s", method, error.url, delay,
                          type(error).__name__)
                self._sleep(delay)

    def _retry_delay(self, error: CloudMCError, attempt: int, started: float,
                     deadline: float | None) -> float | None:
        """Seconds to wait before the next attempt, or None when it must not be retried."""
        s = self.settings
        if not error.retryable or attempt > s.retries:
            return None
        delay = min(s.backoff_max, s.backoff_factor * 2 ** (attempt - 1)) * self._rng.uniform(0.5, 1.0)
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, retry_after)
        now = self._clock()
        if now - started + delay > s.retry_budget or (deadline is not None and now + delay >= deadline):
            return None
        return delay

    def _http(self, method: str, url: str, query: dict, body: Any, fresh: bool,
              deadline: float | None) -> requests.Response:
        kwargs: dict[str, Any] = {"params": query, "allow_redirects": False,
                                  "timeout": self._timeout(deadline)}
        if body is not None:
            kwargs["json"] = body
        if method == "GET" and self.settings.offline:
            kwargs["only_if_cached"] = True
        elif method == "GET" and fresh:
            kwargs["force_refresh"] = True
        full_url = f"{url}?{urlencode(query)}" if query else url
        watchdog = _Watchdog(deadline, self._clock) if deadline is not None else None
        if watchdog is not None:
            kwargs["hooks"] = {"response": watchdog.arm}
        try:
            response = self._request(method, url, kwargs)
        except requests.Timeout:
            if deadline is not None and self._clock() >= deadline - 0.01:
                raise _out_of_time(method, full_url) from None
            raise RequestTimeout(f"no answer within {kwargs['timeout'][1]:g} s",
                                 method=method, url=full_url) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            if watchdog is not None and watchdog.fired:
                raise _out_of_time(method, full_url) from None
            raise _transport_error(exc, method, full_url) from None
        finally:
            if watchdog is not None:
                watchdog.cancel()
        self._count("cache_hits" if getattr(response, "from_cache", False) else "sent")
        return response

    def _request(self, method: str, url: str, kwargs: dict) -> requests.Response:
        for wait in (*_LOCK_WAITS, None):
            session = self._session
            try:
                return session.request(method, url, **kwargs)
            except sqlite3.DatabaseError as exc:
                if not _is_contention(exc):
                    self._rebuild_cache(exc, session)
                    return self._session.request(method, url, **kwargs)
                if wait is None:  # another process holds the file: never a reason to delete it
                    raise TransportError("the HTTP cache file is locked by another process",
                                         method=method, url=url,
                                         hint="The call is retried; if it persists, give this "
                                              "client its own cache_dir=") from None
                self._sleep(wait)
        raise AssertionError("unreachable")

    def _timeout(self, deadline: float | None) -> tuple[float, float]:
        s = self.settings
        read = s.read_timeout
        if deadline is not None:
            read = max(0.05, min(read, deadline - self._clock()))
        return (min(s.connect_timeout, read), read)

    def _parse_or_forget(self, response: requests.Response, method: str, attempts: int) -> Reply:
        """Parse a reply; a 200 that turns out unusable is dropped from the cache."""
        try:
            return self._parse(response, method, attempts)
        except CloudMCError:
            key = getattr(response, "cache_key", None)
            if key:
                self._session.cache.delete(key)
            raise

    def _parse(self, response: requests.Response, method: str, attempts: int) -> Reply:
        status, url = response.status_code, response.url
        where = {"method": method, "url": url, "attempts": attempts}
        from_cache = bool(getattr(response, "from_cache", False))
        if self.settings.offline and status == 504 and from_cache:
            raise CacheMissError(f"offline mode and no cached answer for {method} {url}", **where)
        if 300 <= status < 400:
            target = urlsplit(response.headers.get("Location", "")).netloc or "another address"
            raise ResponseFormatError(
                f"CloudMC answered a redirect (HTTP {status}) to {target}; redirects are not "
                "followed so the API key never travels elsewhere", status=status,
                hint="Point the endpoint at the final address", **where)
        body = response.content
        if not body.strip():
            if status < 400:
                return Reply(status, None, url, from_cache, attempts)
            raise error_class_for_status(status)(
                f"CloudMC answered HTTP {status} with an empty body", status=status, **where)
        payload = _decode(body, status, response.headers.get("Content-Type", ""), where)
        if "errors" in payload or status >= 400:
            error = error_from_envelope(status, payload, **where)
            if isinstance(error, RateLimitError):
                error.retry_after = _retry_after(response.headers.get("Retry-After"))
            raise error
        if "data" not in payload and not is_task_payload(payload):
            raise ResponseFormatError(
                f"the reply has no 'data' member (keys: {', '.join(sorted(payload)[:6]) or 'none'})",
                status=status, **where)
        return Reply(status, payload, url, from_cache, attempts)

    # -- cache -------------------------------------------------------------------------------

    def _open_session(self) -> CachedSession:
        s = self.settings
        options: dict[str, Any] = {
            "backend": s.cache_backend,
            "expire_after": s.expire_after,
            "urls_expire_after": {f"*{API_PREFIX}{TASKS_PATH}*": DO_NOT_CACHE,
                                  **dict(s.urls_expire_after)},
            "allowable_methods": ("GET",),
            "allowable_codes": (200,),
            "ignored_parameters": (*DEFAULT_IGNORED_PARAMS, API_KEY_HEADER),
            "key_fn": self._cache_key,
            "stale_if_error": s.offline,
        }
        try:
            session = self._cached_session_when_unlocked(options)
        except sqlite3.DatabaseError as exc:
            self._discard_cache_files(exc)
            session = self._cached_session_when_unlocked(options)
        except (ValueError, ImportError, KeyError) as exc:
            raise ConfigError(f"cache_backend {s.cache_backend!r} is not usable: {exc}") from None
        session.headers.update({API_KEY_HEADER: self._key.reveal(), "User-Agent": USER_AGENT,
                                "Accept": "application/json"})
        _snapshot_environment(session, s.endpoint)
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(10, 2 * s.max_workers))
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def _cached_session_when_unlocked(self, options: dict[str, Any]) -> CachedSession:
        """Open the cache, waiting while another process holds the file (switching a new file to
        WAL does not wait on SQLite's busy timeout); a locked file is busy, never damaged."""
        for wait in (*_LOCK_WAITS, None):
            try:
                return self._cached_session(options)
            except sqlite3.DatabaseError as exc:
                if not _is_contention(exc):
                    raise
                if wait is None:
                    raise ConfigError(
                        f"the HTTP cache file {self.settings.cache_path} stayed locked by another "
                        "process: try again, or give this client its own cache_dir=") from None
                self._sleep(wait)
        raise AssertionError("unreachable")

    def _cached_session(self, options: dict[str, Any]) -> CachedSession:
        s = self.settings
        if s.cache_backend in ("sqlite", "filesystem"):
            s.cache_path.parent.mkdir(parents=True, exist_ok=True)
        if s.cache_backend == "sqlite":
            backend = _DeferredSQLiteCache(str(s.cache_path), wal=True, busy_timeout=30_000)
            return CachedSession(**{**options, "backend": backend})
        name = str(s.cache_path) if s.cache_backend == "filesystem" else "cloudmc-frames-v1"
        return CachedSession(name, **options)

    def _cache_key(self, request: requests.PreparedRequest, **kwargs: Any) -> str:
        """``credential fingerprint + listing scope + request``, hex only (SQLite needs that).

        The request part hashes the method and the URL with sorted query parameters; headers
        (the key among them) are not part of it. Cheaper than requests-cache's URL
        normalization, which our own URLs do not need.
        """
        parts = urlsplit(request.url or "")
        query = sorted(parse_qsl(parts.query, keep_blank_values=True))
        path = parts.path.split(API_PREFIX, 1)[-1]
        scope = listing_scope(path)
        text = f"{request.method} {parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"
        return self.fingerprint + _scope_tag(scope) + hashlib.sha256(text.encode()).hexdigest()[:32]

    def flush(self) -> None:
        """Wait until every reply fetched so far is written to the cache storage."""
        flush = getattr(self._session.cache, "flush", None)
        if flush is not None:
            flush()

    def _delete_cached(self, prefix: str) -> int:
        self.flush()
        cache = self._session.cache
        keys = [k for k in list(cache.responses.keys()) if str(k).startswith(prefix)]
        if keys:
            cache.delete(*keys)
        return len(keys)

    def _rebuild_cache(self, exc: Exception, failed: CachedSession) -> None:
        """Replace an unreadable cache file by an empty one, once, whichever thread meets it first.

        The broken session is not closed: other threads of the fan-out may be reading from it,
        and closing an SQLite connection under a reader crashes the process. Parsed pages in
        memory are forgotten too, so the next call fetches them again into the new file.
        """
        with self._lock:
            if self._session is not failed:
                return  # another thread has already rebuilt it
            self._discard_cache_files(exc)
            self._session = self._open_session()
            self._memory.drop()

    def _discard_cache_files(self, exc: Exception) -> None:
        if not self._warned_cache:
            log.warning("the HTTP cache file %s is unreadable (%s); it was rebuilt and replies "
                        "will be fetched again", self.settings.cache_path, exc)
            self._warned_cache = True
        base = Path(str(self.settings.cache_path) + ".sqlite")
        for path in (base, Path(f"{base}-wal"), Path(f"{base}-shm")):
            path.unlink(missing_ok=True)

    # -- small helpers -------------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1

    def _scrub(self, error: CloudMCError) -> None:
        """Defence in depth: never let an echoed key into an error (proxies echo headers)."""
        error.message = self._key.scrub(error.message)
        error.args = (error.message,)
        if error.context is not None:
            text = json.dumps(error.context, default=str)
            if self._key.reveal() in text:
                error.context = json.loads(self._key.scrub(text))


class _DeferredSQLiteCache(SQLiteCache):
    """requests-cache's SQLite backend, with its writes moved to one background thread.

    A crawl's threads then spend their time on the network instead of on serializing and
    committing replies one by one; the writer commits them in batches. A reply still waiting
    to be written is answered from the queue; ``flush()`` (called when an accessor returns, on
    ``delete`` and on ``close``) waits until everything is on disk.
    """

    BATCH = 200
    IDLE = 0.5  # seconds without writes after which the writer thread ends (a new one starts on demand)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[str, Any] = {}
        self._pending_lock = threading.Lock()
        self._queue: queue.Queue[str] = queue.Queue()
        self._writer: threading.Thread | None = None
        atexit.register(_flush_if_alive, weakref.ref(self))

    def save_response(self, response: requests.Response, cache_key: str | None = None,
                      expires: Any = None) -> None:
        key = cache_key or self.create_key(response.request)
        cached = CachedResponse.from_response(response, expires=expires)
        cached = redact_response(cached, self._settings.ignored_parameters)
        with self._pending_lock:
            self._pending[key] = cached
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._write_forever, daemon=True,
                                                name="cloudmc-frames-cache-writer")
                self._writer.start()
            self._queue.put(key)  # under the lock: the writer cannot decide to end in between

    def get_response(self, key: str, default: Any = None) -> Any:
        with self._pending_lock:
            cached = self._pending.get(key)
        return cached if cached is not None else super().get_response(key, default)

    def delete(self, *keys: str, **kwargs: Any) -> None:
        self.flush()
        super().delete(*keys, **kwargs)

    def flush(self) -> None:
        self._queue.join()

    def close(self) -> None:
        self.flush()
        super().close()

    def _write_forever(self) -> None:
        """Write batches until idle, then end: a thread blocked forever would keep this cache,
        its session and the client (through ``key_fn``) alive after the client is done."""
        while True:
            try:
                keys = [self._queue.get(timeout=self.IDLE)]
            except queue.Empty:
                with self._pending_lock:
                    if self._queue.empty():
                        self._writer = None
                        return
                continue
            while len(keys) < self.BATCH:
                try:
                    keys.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(keys)
            finally:
                for _ in keys:
                    self._queue.task_done()

    def _write(self, keys: list[str]) -> None:
        with self._pending_lock:
            batch = {key: self._pending[key] for key in keys if key in self._pending}
        try:
            with self.responses.bulk_commit():
                for key, cached in batch.items():
                    self.responses[key] = cached
        except sqlite3.Error as exc:  # the cache is best effort: a lost write is refetched
            log.warning("could not write %d replies to the HTTP cache: %s", len(batch), exc)
        with self._pending_lock:
            for key, cached in batch.items():
                if self._pending.get(key) is cached:
                    del self._pending[key]


def _flush_if_alive(ref: weakref.ReferenceType) -> None:
    cache = ref()
    if cache is not None:
        cache.flush()


class _Watchdog:
    """Cuts a reply's connection when the call's deadline passes while its body still arrives.

    The read timeout bounds each read, not a body that keeps trickling in; this bounds the whole
    reply by the deadline (a crawl's ``timeout=``). Armed by a response hook, when the headers
    are in and the body is about to be read; one short-lived timer per deadline-bound request.
    """

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self.deadline, self.clock = deadline, clock
        self.fired = False
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._done = False

    def arm(self, response: requests.Response, **_: Any) -> requests.Response:
        raw = getattr(response, "raw", None)
        conn = getattr(raw, "_connection", None) or getattr(raw, "connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with self._lock:
                self._timer = threading.Timer(max(0.0, self.deadline - self.clock()), self._cut, (sock,))
                self._timer.daemon = True
                self._timer.start()
        return response

    def _cut(self, sock: socket.socket) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def cancel(self) -> None:
        with self._lock:
            self._done = True
            if self._timer is not None:
                self._timer.cancel()


def _out_of_time(method: str, url: str) -> CrawlTimeoutError:
    return CrawlTimeoutError("the call's timeout ran out while waiting for this reply",
                             method=method, url=url)


_LOCK_WAITS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)  # ~6 s in all, then give up


def _is_contention(exc: sqlite3.DatabaseError) -> bool:
    """True when SQLite says the file is busy or locked (another process), not damaged."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc) or "busy" in str(exc)


def _snapshot_environment(session: requests.Session, endpoint: str) -> None:
    """Read proxy and CA-bundle variables once, not on every request (requests re-reads the
    whole environment per call when ``trust_env`` is on, a fifth of a cached crawl's CPU).

    A loopback endpoint (the sandbox, an SSH tunnel) never goes through a proxy: plain http to
    it would hand the key in clear text to a proxy elsewhere on the network."""
    if not is_loopback(urlsplit(endpoint).hostname or ""):
        session.proxies.update(requests.utils.get_environ_proxies(endpoint))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


class _NotRemembered(Exception):
    """A page of a listing is not in the client's memory."""


def _memory_key(url: str, query: dict[str, str]) -> tuple:
    return url, tuple(sorted(query.items()))


def _page_of(reply: Reply) -> Page:
    payload = reply.payload or {}
    if "data" not in payload:
        raise ResponseFormatError("a list reply has no 'data' member", url=reply.url,
                                  status=reply.status)
    return Page(payload["data"], payload.get("metadata"), reply.url)


def _check_api_key(api_key: object) -> None:
    if api_key is not None and not isinstance(api_key, str):
        raise ConfigError(f"the API key must be a string, got {type(api_key).__name__}: pass "
                          "api_key= as text or set CLOUDMC_API_KEY")
    if not isinstance(api_key, str) or not api_key.strip():
        raise ConfigError("the API key is empty: pass api_key= or set CLOUDMC_API_KEY "
                          "(CloudMC > your profile > API key)")
    if any(ch.isspace() or ord(ch) < 32 for ch in api_key):
        raise ConfigError("the API key contains spaces or control characters: copy it again "
                          "without surrounding whitespace")


def _query(params: dict | None, org_id: str | None) -> dict[str, str]:
    if params is not None and not isinstance(params, dict):
        raise ConfigError(f"params must be a dict, got {type(params).__name__}")
    merged = dict(params or {})
    if org_id is not None:
        if not isinstance(org_id, str) or not org_id:
            raise ConfigError(f"org_id must be a non-empty string, got {org_id!r}")
        merged["org_id"] = org_id
    return {k: _param(v) for k, v in merged.items() if v is not None}


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decode(body: bytes, status: int, content_type: str, where: dict) -> dict:
    try:
        payload = json.loads(body)
    except UnicodeDecodeError as exc:
        raise ResponseFormatError(
            f"HTTP {status}: the reply is not valid UTF-8 (byte {body[exc.start]:#04x} at offset "
            f"{exc.start}): {snippet(body)}", status=status, **where) from None
    except (ValueError, RecursionError):
        raise _not_json(body, status, content_type, where) from None
    if not isinstance(payload, dict):
        raise ResponseFormatError(
            f"the reply is a JSON {json_type(payload)} where CloudMC sends an object: "
            f"{snippet(body)}", status=status, **where)
    return payload


def _not_json(body: bytes, status: int, content_type: str, where: dict) -> ResponseFormatError:
    text = body.lstrip()[:1]
    if text == b"<" or "html" in content_type.lower():
        what = "an HTML page, not CloudMC JSON (a proxy or load balancer answered?)"
    elif text in (b"{", b"["):
        what = "JSON that is cut short or broken"
    else:
        what = "not JSON"
    error = ResponseFormatError(f"HTTP {status}: the reply is {what}: {snippet(body)}",
                                status=status, **where)
    error.retryable = status in RETRY_STATUSES or (status < 300 and text in (b"{", b"["))
    return error


def _transport_error(exc: Exception, method: str, url: str) -> TransportError:
    text = str(exc)
    if "timed out" in text.lower():
        return RequestTimeout("the reply stopped arriving (read timed out)", method=method, url=url)
    match = _ERRNO.search(text)
    reason = match.group(0).strip() if match else type(exc).__name__
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        reason = "the server closed the connection without answering"
    elif isinstance(exc, requests.exceptions.ChunkedEncodingError):
        reason = "the connection broke while the reply was arriving"
    return TransportError(f"could not talk to CloudMC: {reason}", method=method, url=url)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _expiry(response: requests.Response) -> float | None:
    """Unix time until which a reply may be reused from memory; None when it was not cached."""
    if response.status_code != 200:
        return None
    if not getattr(response, "from_cache", False) and getattr(response, "cache_key", None) is None:
        return None
    expires = getattr(response, "expires", None)
    return float("inf") if expires is None else expires.timestamp()

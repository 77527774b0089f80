"""The HTTP cache: one requests-cache session per credential, its keys, its storage, its repair.

* :func:`credential_hash` and :func:`make_key_fn`: every cache key starts with a one-way, hex-only
  fingerprint of endpoint + key (two keys never share an entry) and the listing's scope (so a
  write forgets its listings with one prefix delete); ``MC-Api-Key`` is an ignored parameter, so
  requests-cache redacts it from stored requests.
* :class:`HttpCache`: the session, opened when the file is free (:func:`wait_unlocked`), rebuilt
  once when the file is damaged; on Redis (``cache_backend="redis"``), it falls back to the local
  SQLite file, with one warning, when Redis cannot be reached at connect or stops answering.
  The entries and the SQLite backend are in :mod:`~cloudmc_frames._cache.sqlite`, the signed values
  of a shared store in :mod:`~cloudmc_frames._cache.sealed`, the in-memory pages in
  :mod:`~cloudmc_frames._cache.memory`.
* :func:`connection_socket`: the one urllib3 internal the transport's watchdog needs.

Every use of a private requests-cache or urllib3 API is in this package and says which
version it was checked against (requests-cache 1.3.3, urllib3 2.8.0).

Example::

    >>> credential_hash("https://h/api/v2", "k")[:8]
    '1a80d332'
    >>> listing_scope("/services/compute-qc/prod/instances/i-1")
    'services/compute-qc/prod'
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import socket
import sqlite3
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from requests_cache import (
    DEFAULT_IGNORED_PARAMS,
    DO_NOT_CACHE,
    CachedSession,
)
from requests_cache.policy import directives  # private module: checked against requests-cache 1.3.3

from ..config import API_PREFIX, Settings, redacted_url
from ..errors import ConfigError, TransportError
from .sealed import REDIS_NAMESPACE, REDIS_TTL_OFFSET, Sealer, open_redis, sealed_serializer, store_errors
from .sqlite import API_KEY_HEADER, DeferredSQLiteCache, is_contention, wait_unlocked

log = logging.getLogger("cloudmc_frames")
T = TypeVar("T")

JSON = "application/json"
TASKS_PATH = "/tasks/"


# -- keys -------------------------------------------------------------------------------------

def credential_hash(endpoint: str, api_key: str) -> str:
    """A one-way, hex-only tag of endpoint + key (32 chars) that namespaces the cache."""
    material = f"cloudmc-frames/cache-v1\0{endpoint}\0{api_key}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def listing_scope(path: str) -> str:
    """What a listing belongs to, for invalidation: ``services/<code>/<env>`` or the collection.

    Environment names repeat across organizations, so a write in one ``prod`` also forgets the
    other organizations' ``prod`` listings: a few extra fetches, never a stale one.

    >>> listing_scope("/users/u1")
    'users'
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "services" and parts[1] != "connections":
        return f"services/{parts[1]}/{parts[2]}"
    return "/".join(parts[:2]) if parts[:1] == ["services"] else (parts[0] if parts else "")


def scope_tag(scope: str) -> str:
    """16 hex characters that stand for a listing scope inside cache keys."""
    return hashlib.sha256(scope.encode()).hexdigest()[:16]


def make_key_fn(fingerprint: str) -> Callable[..., str]:
    """requests-cache's ``key_fn``: ``fingerprint + scope tag + hash of method and sorted URL``.

    Hex only (requests-cache's SQLite backend builds queries by interpolation). Headers, the key
    among them, are not part of it. Cheaper than requests-cache's URL normalization, which our
    own URLs do not need. It holds no reference to the client (a cache-writer thread keeps it).
    """
    def key_fn(request: requests.PreparedRequest, **_: Any) -> str:
        parts = urlsplit(request.url or "")
        query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
        tag = scope_tag(listing_scope(parts.path.split(API_PREFIX, 1)[-1]))
        text = f"{request.method} {parts.scheme}://{parts.netloc}{parts.path}?{query}"
        accept = request.headers.get("Accept", JSON)
        if accept != JSON:  # another format of the same URL (CSV exports) is another entry
            text += f" accept={accept}"
        return fingerprint + tag + hashlib.sha256(text.encode()).hexdigest()[:32]

    return key_fn


# -- the session --------------------------------------------------------------------------------

class HttpCache:
    """One credential's requests-cache session: opened when its file is free, rebuilt if damaged.

    ``configure(session)`` sets what the transport needs on every new session (headers, proxies,
    adapters); ``on_rebuild()`` runs after a damaged file was replaced (the client forgets the
    pages it parsed from it). ``sealer`` signs what goes into a shared store (Redis).

    Attributes:
        backend: the backend answering now (``"sqlite"`` after a fall back from Redis).
        fallback_reason: why Redis was left, or None.
        refused: how many stored values were refused (planted, or of another toolkit version).
    """

    def __init__(self, settings: Settings, fingerprint: str, *,
                 configure: Callable[[CachedSession], None], on_rebuild: Callable[[], None],
                 sleep: Callable[[float], None], sealer: Sealer) -> None:
        self.settings, self._configure, self._on_rebuild, self._sleep = settings, configure, on_rebuild, sleep
        self._key_fn, self.fingerprint, self.sealer = make_key_fn(fingerprint), fingerprint, sealer
        self._lock = threading.Lock()
        self._warned = False
        self.backend, self.fallback_reason, self.refused = settings.cache_backend, None, 0
        self._store_errors = store_errors(settings.cache_backend)
        self.session = self._open()

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """``session.request``, waiting while another process holds the file, rebuilding it if
        damaged, going on with local SQLite when Redis stops answering."""
        def attempt() -> requests.Response:
            session = self.session
            try:
                return session.request(method, url, **kwargs)
            except sqlite3.DatabaseError as exc:
                if is_contention(exc):
                    raise
                self._rebuild(exc, session)
                return self.session.request(method, url, **kwargs)
            except self._store_errors as exc:
                self._fall_back(exc, session)
                if method != "GET":  # a guard: requests-cache 1.3.3 does not read or write the
                    raise TransportError(  # cache for other methods; a write is never sent twice
                        "the shared cache failed around a write; it was not sent again",
                        method=method, url=url) from None
                return self.session.request(method, url, **kwargs)  # a GET again: nothing lost

        return wait_unlocked(attempt, self._sleep, lambda: TransportError(
            "the HTTP cache file is locked by another process", method=method, url=url,
            hint="The call is retried; if it persists, give this client its own cache_dir="))

    def has_fresh(self, url: str, query: Mapping[str, str], *, stale_ok: bool = False) -> bool:
        """Whether a GET of ``url`` with ``query`` is in the storage (and unexpired, unless ``stale_ok``)."""
        key = self._key_fn(requests.Request("GET", url, params=dict(query)).prepare())
        stored = self.session.cache.get_response(key)
        return stored is not None and (stale_ok or not stored.is_expired)

    def forget(self, key: str) -> None:
        """Drop one stored reply (a 200 that turned out unusable)."""
        self._on_store(lambda cache: cache.delete(key))

    def delete_prefix(self, prefix: str) -> int:
        """Drop every stored reply whose key starts with ``prefix``; returns how many."""
        self.flush()
        return self._on_store(lambda cache: _delete_prefix(cache, prefix))

    def info(self) -> dict[str, Any]:
        """Which backend answers, where it is, and why Redis was left (see ``Client.cache_info``)."""
        s = self.settings
        where = {"redis": redacted_url(s.cache_url or ""), "sqlite": f"{s.cache_path}.sqlite",
                 "filesystem": str(s.cache_path)}.get(self.backend)
        return {"backend": self.backend, "requested": s.cache_backend, "location": where,
                "cache_url": redacted_url(s.cache_url) if s.cache_url else None,
                "namespace": self.fingerprint[:8], "fallback_reason": self.fallback_reason,
                "refused_entries": self.refused}

    def redis(self) -> Any:
        """The live Redis connection while Redis answers this cache, else None (for the journal)."""
        responses = self.session.cache.responses
        return getattr(responses, "connection", None) if self.backend == "redis" else None

    def flush(self) -> None:
        """Wait until every reply fetched so far is in the storage."""
        flush = getattr(self.session.cache, "flush", None)
        if flush is not None:
            flush()

    def close(self) -> None:
        self.session.close()

    def _on_store(self, action: Callable[[Any], T]) -> T:
        session = self.session
        try:
            return action(session.cache)
        except self._store_errors as exc:
            self._fall_back(exc, session)
            return action(self.session.cache)

    def _fall_back(self, exc: Exception, failed: CachedSession) -> None:
        """Leave Redis for the local SQLite cache, once, whichever thread meets the failure first.

        The failed session is not closed under the other threads; pages already parsed stay in
        memory, and what is missing is fetched again into SQLite.
        """
        with self._lock:
            if self.session is not failed:
                return
            self._note_fallback(exc)
            self.session = self._open()

    def _note_fallback(self, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if self.settings.cache_url:
            reason = reason.replace(self.settings.cache_url, redacted_url(self.settings.cache_url))
        self.backend, self.fallback_reason = "sqlite", reason
        log.warning("the shared cache at %s cannot be used (%s): this client goes on with its local "
                    "SQLite cache %s.sqlite, fetching again what it does not hold",
                    redacted_url(self.settings.cache_url or ""), reason, self.settings.cache_path)

    def _refused(self, exc: Exception) -> None:
        with self._lock:
            self.refused += 1
            first = self.refused == 1
        if first:
            log.warning("a reply stored in the shared cache was refused (%s); it is fetched again", exc)

    def _open(self) -> CachedSession:
        if self.backend == "redis":
            try:
                session = self._redis_session()
            except self._store_errors as exc:
                self._note_fallback(exc)
            else:
                self._configure(session)
                return session
        try:
            session = wait_unlocked(self._cached_session, self._sleep, lambda: ConfigError(
                f"the HTTP cache file {self.settings.cache_path} stayed locked by another process: "
                "try again, or give this client its own cache_dir="))
        except ConfigError:
            raise
        except sqlite3.DatabaseError as exc:
            self._discard_files(exc)
            session = self._cached_session()
        except (ValueError, ImportError, KeyError) as exc:
            raise ConfigError(f"cache_backend {self.settings.cache_backend!r} is not usable: {exc}") from None
        self._configure(session)
        return session

    def _redis_session(self) -> CachedSession:
        from requests_cache.backends.redis import (
            RedisCache,  # imports redis: only when asked for
        )

        connection = open_redis(self.settings.cache_url or "", self.settings.connect_timeout)
        backend = RedisCache(REDIS_NAMESPACE, connection=connection, ttl=True, ttl_offset=REDIS_TTL_OFFSET,
                             serializer=sealed_serializer(self.sealer, self._refused))
        return CachedSession(backend=backend, **self._session_options())

    def _session_options(self) -> dict[str, Any]:
        s = self.settings
        return {
            "expire_after": s.expire_after,
            "urls_expire_after": {f"*{API_PREFIX}{TASKS_PATH}*": DO_NOT_CACHE, **dict(s.urls_expire_after)},
            "allowable_methods": ("GET",),
            "allowable_codes": (200,),
            "ignored_parameters": (*DEFAULT_IGNORED_PARAMS, API_KEY_HEADER),
            "key_fn": self._key_fn,
            "stale_if_error": s.offline,
        }

    def _cached_session(self) -> CachedSession:
        s, options = self.settings, self._session_options()
        if self.backend in ("sqlite", "filesystem"):
            s.cache_path.parent.mkdir(parents=True, exist_ok=True)
        if self.backend == "sqlite":
            backend = DeferredSQLiteCache(str(s.cache_path), wal=True, busy_timeout=30_000)
            return CachedSession(backend=backend, **options)
        name = str(s.cache_path) if self.backend == "filesystem" else REDIS_NAMESPACE
        return CachedSession(name, backend=self.backend, **options)

    def _rebuild(self, exc: Exception, failed: CachedSession) -> None:
        """Replace an unreadable cache file by an empty one, once, whichever thread meets it first.

        The broken session is not closed: other threads of the fan-out may be reading from it,
        and closing an SQLite connection under a reader crashes the process.
        """
        with self._lock:
            if self.session is not failed:
                return  # another thread has already rebuilt it
            self._discard_files(exc)
            self.session = self._open()
            self._on_rebuild()

    def _discard_files(self, exc: Exception) -> None:
        if not self._warned:
            log.warning("the HTTP cache file %s is unreadable (%s); it was rebuilt and replies "
                        "will be fetched again", self.settings.cache_path, exc)
            self._warned = True
        base = Path(str(self.settings.cache_path) + ".sqlite")
        for path in (base, Path(f"{base}-wal"), Path(f"{base}-shm")):
            path.unlink(missing_ok=True)


def _delete_prefix(cache: Any, prefix: str) -> int:
    """Delete the entries whose key starts with ``prefix`` (hex): on Redis by one SCAN of that
    prefix alone, not of every credential's entries (``RedisDict.connection``/``.namespace``,
    checked against requests-cache 1.3.3)."""
    responses = cache.responses
    connection = getattr(responses, "connection", None)
    if connection is not None and hasattr(responses, "namespace"):
        names = list(connection.scan_iter(match=f"{responses.namespace}:{prefix}*", count=1000))
        for start in range(0, len(names), 1000):
            connection.delete(*names[start:start + 1000])
        return len(names)
    keys = [k for k in list(responses.keys()) if str(k).startswith(prefix)]
    if keys:
        cache.delete(*keys)
    return len(keys)

@functools.cache
def _parameter_names(func: Callable) -> frozenset[str]:
    return frozenset(inspect.signature(func).parameters)


def _valid_kwargs(func: Callable, kwargs: dict, extras: Any = None) -> dict:
    """``requests_cache._utils.get_valid_kwargs`` with the signature read once per function."""
    names = _parameter_names(func) | set(extras or ())
    return {k: v for k, v in kwargs.items() if k in names and v is not None}


# private: requests-cache 1.3.3 parses Cache-Control into CacheDirectives on every request and
# reads inspect.signature(CacheDirectives.__init__) each time to do it (about a sixth of a cold
# request's CPU); the same filter with the signature read once behaves identically.
directives.get_valid_kwargs = _valid_kwargs


def connection_socket(response: requests.Response) -> socket.socket | None:
    """The socket a response's body is read from (None when it cannot be found).

    private: urllib3 ``HTTPResponse._connection`` / ``.connection``, checked against urllib3 2.8.0.
    """
    raw = getattr(response, "raw", None)
    conn = getattr(raw, "_connection", None) or getattr(raw, "connection", None)
    return getattr(conn, "sock", None)


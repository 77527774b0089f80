"""The HTTP cache: one requests-cache session per credential, its keys, its storage, its repair.

* :func:`credential_hash` and :func:`make_key_fn`: every cache key starts with a one-way, hex-only
  fingerprint of endpoint + key (two keys never share an entry) and the listing's scope (so a
  write forgets its listings with one prefix delete); ``MC-Api-Key`` is an ignored parameter, so
  requests-cache redacts it from stored requests.
* :class:`DeferredSQLiteCache`: requests-cache's SQLite backend with its writes batched on one
  background thread.
* :class:`MemoryPages`: parsed replies kept for the life of a client (a warm crawl parses nothing).
* :class:`HttpCache`: the session, opened when the file is free (:func:`wait_unlocked`), rebuilt
  once when the file is damaged; on Redis (``cache_backend="redis"``), it falls back to the local
  SQLite file, with one warning, when Redis cannot be reached at connect or stops answering.
* :class:`Sealer` and :func:`sealed_serializer`: what goes into a shared store is a compact entry signed
  with a secret derived from endpoint + key (never pickle); a value another writer planted, or one
  of another toolkit version, is refused and the reply fetched again.
* :func:`connection_socket`: the one urllib3 internal the transport's watchdog needs.

Every use of a private requests-cache or urllib3 API is in this module and says which version
it was checked against (requests-cache 1.3.3, urllib3 2.8.0). ``redis`` itself is imported here
only to open the connection requests-cache's Redis backend uses and to recognize its errors.

Example::

    >>> credential_hash("https://h/api/v2", "k")[:8]
    '1a80d332'
    >>> listing_scope("/services/compute-qc/prod/instances/i-1")
    'services/compute-qc/prod'
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import hmac
import inspect
import json
import logging
import socket
import sqlite3
import threading
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests_cache import (
    DEFAULT_IGNORED_PARAMS,
    DO_NOT_CACHE,
    CachedRequest,
    CachedResponse,
    CachedSession,
    SerializerPipeline,
    SQLiteCache,
    Stage,
)
from requests_cache.policy import directives  # private module: checked against requests-cache 1.3.3

from .config import API_PREFIX, CACHE_FORMAT_VERSION, Settings, redacted_url
from .errors import ConfigError, TransportError

log = logging.getLogger("cloudmc_frames")

API_KEY_HEADER = "MC-Api-Key"
JSON = "application/json"
REDACTED_HEADERS = frozenset(name.lower() for name in (*DEFAULT_IGNORED_PARAMS, API_KEY_HEADER))
TASKS_PATH = "/tasks/"
LOCK_WAITS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)  # ~6 s in all, then give up
REDIS_NAMESPACE = f"cloudmc-frames-v{CACHE_FORMAT_VERSION}"  # Redis keys: "<namespace>:<cache key>"
CACHE_SEAL = f"cloudmc-frames/cache-v{CACHE_FORMAT_VERSION}".encode()
# requests-cache sets a Redis TTL of round(seconds left) + ttl_offset, and stores an entry whose
# sum is 0 (under half a second left when it is stored: expire_after=1 and a slow reply) with no
# TTL at all, for good (checked against requests-cache 1.3.3); one second more keeps every entry
# expiring, at most a second after requests-cache stops using it.
REDIS_TTL_OFFSET = 1
T = TypeVar("T")


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


# -- signed values for shared stores ------------------------------------------------------------------

class Sealer:
    """Signs values with a secret derived from endpoint + key (HMAC-SHA256), and checks them.

    Whoever holds the same key can read and write the same sealed values (a team sharing a
    service key shares its cache); a value planted by anyone else is refused. Neither the secret
    nor the key can be read back from a seal.

    >>> sealer = Sealer("https://h/api/v2", "k")
    >>> sealer.unseal(b"t", sealer.seal(b"t", b'{"a": 1}'))
    b'{"a": 1}'
    """

    __slots__ = ("_secret",)

    def __init__(self, endpoint: str, api_key: str) -> None:
        self._secret = hmac.new(api_key.encode(), f"cloudmc-frames/seal-v1\0{endpoint}".encode(),
                                hashlib.sha256).digest()

    def seal(self, tag: bytes, data: bytes) -> bytes:
        """``tag``, the signature of ``tag`` + ``data``, and ``data``: ``b"<tag> <hex>\\n<data>"``."""
        return tag + b" " + self._mac(tag, data).encode() + b"\n" + data

    def unseal(self, tag: bytes, blob: bytes | str) -> bytes:
        """The data of a sealed value; ValueError when it is not one this sealer made for ``tag``."""
        if isinstance(blob, str):
            blob = blob.encode("utf-8", "replace")
        head, newline, data = blob.partition(b"\n")
        seen_tag, space, mac = head.rpartition(b" ")
        if not newline or not space or len(mac) != 64:
            raise ValueError("refused a stored value that this toolkit did not write (not signed)")
        if seen_tag != tag:
            raise ValueError(f"refused a stored value of another format ({seen_tag[:40]!r}, "
                             f"this toolkit reads {tag!r})")
        if not hmac.compare_digest(mac, self._mac(tag, data).encode()):
            raise ValueError("refused a stored value not signed for this endpoint and key")
        return data

    def _mac(self, tag: bytes, data: bytes) -> str:
        return hmac.new(self._secret, tag + b"\n" + data, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "<Sealer secret hidden>"

    def __reduce__(self):
        raise TypeError("a Sealer holds a secret derived from the API key and is not picklable")


class _RefusingPipeline(SerializerPipeline):
    """A serializer pipeline whose every failure to read a value is a ValueError.

    requests-cache turns AttributeError/ImportError/PickleError/TypeError/ValueError while reading
    into a miss; a cattrs validation error (an ExceptionGroup) or a KeyError would escape it and
    fail the request (checked against requests-cache 1.3.3). ``copy`` keeps the class
    (requests-cache copies the pipeline it is given).
    """

    def __init__(self, stages: Any, *, name: str, on_refused: Callable[[Exception], None]) -> None:
        super().__init__(stages, name=name, is_binary=True)
        self._on_refused = on_refused

    def loads(self, value: Any) -> CachedResponse:
        try:
            return super().loads(value)
        except (ValueError, KeyError, TypeError, AttributeError, ExceptionGroup) as exc:
            self._on_refused(exc)
            raise ValueError(str(exc)) from None

    def copy(self) -> _RefusingPipeline:
        return _RefusingPipeline([stage.copy() for stage in self.stages], name=self.name or "",
                                 on_refused=self._on_refused)


def sealed_serializer(sealer: Sealer, on_refused: Callable[[Exception], None]) -> SerializerPipeline:
    """The compact entries of :func:`encode_entry`, sealed for one endpoint + key: never pickle.

    ``on_refused(error)`` is told about every stored value that was refused (requests-cache then
    treats it as a miss and fetches the reply again, overwriting it).
    """
    seal = Stage(dumps=lambda entry: sealer.seal(CACHE_SEAL, entry),
                 loads=lambda blob: sealer.unseal(CACHE_SEAL, blob))
    return _RefusingPipeline([Stage(dumps=_bytes_or_entry, loads=decode_entry), seal],
                             name="cloudmc-frames-sealed", on_refused=on_refused)


def import_redis() -> Any:
    """The ``redis`` module, or a ConfigError naming the extra that installs it."""
    try:
        import redis
        from redis.backoff import NoBackoff  # noqa: F401 - both are needed by open_redis
        from redis.retry import Retry  # noqa: F401
    except ImportError:
        raise ConfigError("cache_backend='redis' needs the redis package: "
                          "pip install 'cloudmc-frames[redis]'") from None
    return redis


def open_redis(url: str, timeout: float) -> Any:
    """A ``redis.Redis`` on ``url`` that has answered a PING (a RedisError when it cannot).

    Each command waits at most ``timeout`` seconds and is not retried (redis-py >= 6 retries
    three times with backoff by default): a Redis that is down is noticed at once, and the cache
    falls back to SQLite instead.
    """
    redis = import_redis()
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    try:
        connection = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                          retry=Retry(NoBackoff(), 0))
    except ValueError as exc:
        raise ConfigError(f"cache_url {redacted_url(url)!r} is not usable: {exc}") from None
    connection.ping()
    return connection


def store_errors(backend: str) -> tuple[type[BaseException], ...]:
    """The errors that mean a shared store stopped answering (none for local backends)."""
    return (import_redis().RedisError,) if backend == "redis" else ()


# -- memory -----------------------------------------------------------------------------------

class MemoryPages:
    """Replies kept for the life of a client as compressed body bytes, under a byte budget.

    Caching (requests-cache) stores GET replies with status 200, by default in SQLite under the
    user cache dir, for ``expire_after`` seconds (``/tasks/*`` never); on top, this keeps each
    reply's body in memory, zlib-compressed (JSON shrinks about 8 times; level 1 costs about a
    third of parsing it), so a warm crawl reads no file and only parses JSON again. Past
    ``budget`` (compressed) bytes the least recently used replies go first; a budget of 0 keeps
    nothing. Listings are grouped by scope (see :func:`listing_scope`) so a write forgets its own.
    """

    ENTRY_OVERHEAD = 256  # bytes counted per reply besides its body (keys, tuple, bookkeeping)

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, tuple[float, int, str, bytes]] = OrderedDict()

    def get(self, path: str, url: str, query: Mapping[str, str], now: float) -> tuple[int, str, bytes] | None:
        """``(status, url, body)`` kept for this request if it has not expired at ``now`` (Unix time)."""
        key = _request_key(path, url, query)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= now:
                self._forget(key)
                return None
            self._entries.move_to_end(key)
        return entry[1], entry[2], zlib.decompress(entry[3])

    def put(self, path: str, url: str, query: Mapping[str, str], reply: tuple[int, str, bytes],
            expires_at: float) -> None:
        """Keep ``(status, url, body)`` until ``expires_at``, dropping the oldest past the budget."""
        if self.budget <= 0:
            return
        status, reply_url, body = reply
        packed = zlib.compress(body, 1)
        cost = len(packed) + self.ENTRY_OVERHEAD
        if cost > self.budget:
            return
        key = _request_key(path, url, query)
        with self._lock:
            if key in self._entries:
                self._forget(key)
            self._entries[key] = (expires_at, status, reply_url, packed)
            self.size += cost
            while self.size > self.budget:
                self._forget(next(iter(self._entries)))

    def drop(self, scope: str | None = None) -> None:
        """Forget every reply, or those of one listing scope."""
        with self._lock:
            for key in [k for k in self._entries if scope is None or k[0] == scope]:
                self._forget(key)

    def _forget(self, key: tuple) -> None:
        entry = self._entries.pop(key)
        self.size -= len(entry[3]) + self.ENTRY_OVERHEAD


def _request_key(path: str, url: str, query: Mapping[str, str]) -> tuple:
    return listing_scope(path), url, tuple(sorted(query.items()))


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


def wait_unlocked(action: Callable[[], T], sleep: Callable[[float], None],
                  gave_up: Callable[[], Exception]) -> T:
    """Run ``action``, again after growing waits while SQLite says the file is busy or locked.

    Another process holding the file is never a reason to delete it (switching a new file to
    WAL does not wait on SQLite's busy timeout). After about 6 s, raise ``gave_up()``.
    """
    for wait in (*LOCK_WAITS, None):
        try:
            return action()
        except sqlite3.DatabaseError as exc:
            if not is_contention(exc):
                raise
            if wait is None:
                raise gave_up() from None
            sleep(wait)
    raise AssertionError("unreachable")


def is_contention(exc: sqlite3.DatabaseError) -> bool:
    """True when SQLite says the file is busy or locked (another process), not damaged."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc) or "busy" in str(exc)


# -- compact cache entries ------------------------------------------------------------------------

ENTRY_FORMAT = 2  # a JSON head, one NUL byte, the body as it arrived


def encode_entry(response: requests.Response | CachedResponse, expires: datetime | None,
                 redacted: frozenset[str]) -> bytes:
    """One cache entry as bytes: what a reply needs to be answered again, without the key.

    Headers named in ``redacted`` (lower case: ``mc-api-key``, ``authorization``, ...) are stored
    as ``REDACTED``, as requests-cache does; query parameters are kept, since the client never
    puts a credential in a URL.
    """
    request = response.request
    head = {
        "v": ENTRY_FORMAT, "status": response.status_code, "url": response.url,
        "reason": response.reason, "encoding": response.encoding,
        "headers": dict(response.headers),
        "created": (getattr(response, "created_at", None) or datetime.now(UTC)).isoformat(),
        "expires": None if expires is None else _aware(expires).isoformat(),
        "request": {"method": request.method, "url": request.url,
                    "headers": {k: "REDACTED" if k.lower() in redacted else v
                                for k, v in request.headers.items()}},
    }
    return json.dumps(head, separators=(",", ":")).encode() + b"\0" + (response.content or b"")


def decode_entry(blob: bytes) -> CachedResponse:
    """The :class:`~requests_cache.CachedResponse` an entry of :func:`encode_entry` stands for."""
    raw_head, _, content = bytes(blob).partition(b"\0")
    head = json.loads(raw_head)
    if not isinstance(head, dict) or head.get("v") != ENTRY_FORMAT:
        raise ValueError("a cache entry of another format")
    request = CachedRequest(method=head["request"]["method"], url=head["request"]["url"],
                            headers=CaseInsensitiveDict(head["request"]["headers"]))
    expires = head["expires"]
    return CachedResponse(content=content, url=head["url"], status_code=head["status"],
                          reason=head["reason"], encoding=head["encoding"],
                          headers=CaseInsensitiveDict(head["headers"]), request=request,
                          created_at=datetime.fromisoformat(head["created"]),
                          expires=None if expires is None else datetime.fromisoformat(expires))


def _bytes_or_entry(value: bytes | CachedResponse) -> bytes:
    return value if isinstance(value, bytes) else encode_entry(value, value.expires, REDACTED_HEADERS)


# requests-cache's extension point for storage formats: one stage, bytes in and out.
COMPACT_SERIALIZER = SerializerPipeline([Stage(dumps=_bytes_or_entry, loads=decode_entry)],
                                        name="cloudmc-frames-compact", is_binary=True)


class DeferredSQLiteCache(SQLiteCache):
    """requests-cache's SQLite backend, made cheap for a crawl: compact entries, writes batched on
    one background thread, misses answered without a query.

    * entries are :func:`encode_entry` bytes, made straight from the live response (no
      ``CachedResponse`` conversion, no pickling) and without the API key header;
    * a crawl's threads hand their replies to a writer thread that commits them in batches; a
      reply still waiting is answered from memory; ``flush()`` (called when an accessor returns,
      on ``delete`` and on ``close``) waits until everything is on disk;
    * the keys in the file are read once, so a key that is not there costs no SQL query (entries
      another process adds later are fetched again, never missed).

    Another requests-cache version's (or format's) entries fail to decode and are refetched.
    """

    IDLE = 0.5  # seconds without writes after which the writer thread ends (a new one starts on demand)

    def __init__(self, db_path: str, **kwargs: Any) -> None:
        super().__init__(db_path, serializer=COMPACT_SERIALIZER, **kwargs)
        self._cond = threading.Condition()
        self._pending: dict[str, bytes] = {}
        self._writing: dict[str, bytes] = {}
        self._writer: threading.Thread | None = None
        self._closing = False
        self._stored = set(self.responses.keys()) | set(self.redirects.keys())  # keys in the file
        atexit.register(_flush_if_alive, weakref.ref(self))

    def save_response(self, response: requests.Response, cache_key: str | None = None,
                      expires: datetime | None = None) -> None:
        key = cache_key or self.create_key(response.request)
        entry = encode_entry(response, expires, REDACTED_HEADERS)
        with self._cond:
            self._pending[key] = entry
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_forever, daemon=True,
                                                name="cloudmc-frames-cache-writer")
                self._writer.start()
            elif len(self._pending) == 1:
                self._cond.notify_all()

    def get_response(self, key: str, default: Any = None) -> Any:
        with self._cond:
            entry = self._pending.get(key) or self._writing.get(key)
        if entry is not None:
            response = decode_entry(entry)
            response.cache_key = key
            return response
        if key not in self._stored:
            return default
        return super().get_response(key, default)

    def delete(self, *keys: str, **kwargs: Any) -> None:
        self.flush()
        super().delete(*keys, **kwargs)
        self._stored.difference_update(keys)

    def flush(self) -> None:
        with self._cond:
            while self._pending or self._writing:
                self._cond.wait()

    def close(self) -> None:
        self.flush()
        with self._cond:
            self._closing = True  # the writer ends now rather than after IDLE seconds
            self._cond.notify_all()
        super().close()

    def _write_forever(self) -> None:
        """Write what is pending, in batches, until idle (or closed), then end: a thread blocked
        forever would keep this cache and its session alive after the client is done."""
        while True:
            with self._cond:
                if not self._pending and not self._closing:
                    self._cond.wait(self.IDLE)
                if not self._pending:
                    self._writer = None
                    self._cond.notify_all()
                    return
                self._writing, self._pending = self._pending, {}
            self._write(self._writing)
            with self._cond:
                self._stored.update(self._writing)
                self._writing = {}
                self._cond.notify_all()

    def _write(self, batch: dict[str, bytes]) -> None:
        try:
            with self.responses.bulk_commit():
                for key, entry in batch.items():
                    self.responses[key] = entry
        except sqlite3.Error as exc:  # the cache is best effort: a lost write is refetched
            log.warning("could not write %d replies to the HTTP cache: %s", len(batch), exc)


def _flush_if_alive(ref: weakref.ReferenceType) -> None:
    cache = ref()
    if cache is not None:
        cache.flush()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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

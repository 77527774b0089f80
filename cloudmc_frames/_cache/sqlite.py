"""Compact cache entries and the SQLite backend that writes them in the background.

* :func:`encode_entry` / :func:`decode_entry`: a cached reply as a JSON head, one NUL byte and
  the body as it arrived (no pickle; the ``MC-Api-Key`` header is never in the head).
* :class:`DeferredSQLiteCache`: requests-cache's SQLite backend with its writes batched on one
  background thread (a crawl's threads never wait on the file).
* :func:`wait_unlocked` and :func:`is_contention`: another process holding the file is waited
  for, never mistaken for damage.

Private requests-cache APIs used here say which version they were checked against (1.3.3).

Example::

    >>> is_contention(sqlite3.OperationalError("database is locked"))
    True
"""

from __future__ import annotations

import atexit
import json
import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from requests.structures import CaseInsensitiveDict
from requests_cache import (
    DEFAULT_IGNORED_PARAMS,
    CachedRequest,
    CachedResponse,
    SerializerPipeline,
    SQLiteCache,
    Stage,
)

log = logging.getLogger("cloudmc_frames")

API_KEY_HEADER = "MC-Api-Key"
REDACTED_HEADERS = frozenset(name.lower() for name in (*DEFAULT_IGNORED_PARAMS, API_KEY_HEADER))
LOCK_WAITS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)  # ~6 s in all, then give up
T = TypeVar("T")


# -- waiting for the file -------------------------------------------------------------------------

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



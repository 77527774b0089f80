"""Replies kept in memory for the life of a client, compressed, under a byte budget.

Example::

    >>> pages = MemoryPages(budget=2**20)
    >>> stamp = pages.put("/users", "https://h/api/v2/users", {"page_number": "1"}, (200, "u", b"{}"), 2e9)
    >>> pages.get("/users", "https://h/api/v2/users", {"page_number": "1"}, now=0.0)[:3]
    (200, 'u', b'{}')
    >>> pages.holds([stamp], now=0.0), pages.holds([stamp], now=3e9)
    (True, False)
"""

from __future__ import annotations

import itertools
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from . import listing_scope


class MemoryPages:
    """Replies kept for the life of a client as compressed body bytes, under a byte budget.

    Caching (requests-cache) stores GET replies with status 200, by default in SQLite under the
    user cache dir, for ``expire_after`` seconds (``/tasks/*`` never); on top, this keeps each
    reply's body in memory, zlib-compressed (JSON shrinks about 8 times; level 1 costs about a
    third of parsing it), so a warm crawl reads no file and only parses JSON again. Past
    ``budget`` (compressed) bytes the least recently used replies go first; a budget of 0 keeps
    nothing. Listings are grouped by scope (see :func:`listing_scope`) so a write forgets its own.

    Every reply kept gets a *stamp* (its request and a serial number never given twice): work
    built on replies can later ask :meth:`holds` whether those very replies are all still here.
    """

    ENTRY_OVERHEAD = 256  # bytes counted per reply besides its body (keys, tuple, bookkeeping)

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, tuple[float, int, str, bytes, int]] = OrderedDict()
        self._serials = itertools.count(1)

    @classmethod
    def megabytes(cls, budget_mb: float) -> MemoryPages:
        """Pages under a budget of ``budget_mb`` MiB."""
        return cls(int(budget_mb * 2**20))

    def get(self, path: str, url: str, query: Mapping[str, str],
            now: float) -> tuple[int, str, bytes, tuple] | None:
        """``(status, url, body, stamp)`` kept for this request if it has not expired at ``now``
        (Unix time)."""
        key = _request_key(path, url, query)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= now:
                self._forget(key)
                return None
            self._entries.move_to_end(key)
        return entry[1], entry[2], zlib.decompress(entry[3]), (key, entry[4])

    def has(self, path: str, url: str, query: Mapping[str, str], now: float) -> bool:
        """Whether a reply to this request is kept and unexpired at ``now`` (nothing decompressed)."""
        entry = self._entries.get(_request_key(path, url, query))
        return entry is not None and entry[0] > now

    def put(self, path: str, url: str, query: Mapping[str, str], reply: tuple[int, str, bytes],
            expires_at: float) -> tuple | None:
        """Keep ``(status, url, body)`` until ``expires_at``, dropping the oldest past the budget;
        return its stamp (None: not kept)."""
        if self.budget <= 0:
            return None
        status, reply_url, body = reply
        packed = zlib.compress(body, 1)
        cost = len(packed) + self.ENTRY_OVERHEAD
        if cost > self.budget:
            return None
        key, serial = _request_key(path, url, query), next(self._serials)
        with self._lock:
            if key in self._entries:
                self._forget(key)
            self._entries[key] = (expires_at, status, reply_url, packed, serial)
            self.size += cost
            while self.size > self.budget:
                self._forget(next(iter(self._entries)))
        return key, serial

    def holds(self, stamps: Iterable[tuple], now: float) -> bool:
        """Whether every reply of ``stamps`` is still kept, unchanged and unexpired at ``now``."""
        with self._lock:
            for key, serial in stamps:
                entry = self._entries.get(key)
                if entry is None or entry[4] != serial or entry[0] <= now:
                    return False
                self._entries.move_to_end(key)
        return True

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



"""The client: CloudMC's calls (get, list, paginate, post, put, delete, task polls) over one credential.

:class:`Client` composes the private parts of the HTTP layer and adds the retry loop:
``_transport`` sends one request through ``_cache``'s requests-cache session, ``_wire`` parses
the bytes into a reply or a typed error, ``_retry`` decides whether and when to try again, and
``_cache`` also keeps parsed pages in memory.

Example::

    >>> client = cmf.connect("https://cloudmc.example.com", api_key)   # doctest: +SKIP
    >>> client.get("/organizations/" + org_id)["name"]                  # doctest: +SKIP
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from typing import Any

from ._cache import TASKS_PATH, HttpCache, credential_hash, listing_scope, scope_tag
from ._cache.memory import MemoryPages
from ._cache.sealed import Sealer
from ._retry import retry_delay
from ._transport import RawReply, Secret, Transport, configure_session
from ._wire import Listing, Reply, TextReply, page_of, parse_reply, parse_text, query_params
from .config import Settings, check_api_key, credentials
from .errors import CloudMCError, ConfigError, ResponseFormatError
from .ledger import Ledger
from .paging import Page, PageSize, iter_records, read_all
from .tasks import Task, is_task_payload
from .throttle import Throttle


def connect(endpoint: str | None = None, api_key: str | None = None, **options: Any) -> Client:
    """Open a client on a CloudMC endpoint (default: ``CLOUDMC_ENDPOINT`` / ``CLOUDMC_API_KEY``).

    ``options`` are the fields of :class:`~cloudmc_frames.config.Settings` (timeouts, retries,
    cache backend and folder, ``offline``, ``allow_insecure``, ``max_workers``, ...).

    >>> client = cmf.connect("https://cloudmc.example.com", key, offline=True)  # doctest: +SKIP
    """
    endpoint, api_key = credentials(endpoint, api_key)
    return Client(Settings.from_options(endpoint, **options), api_key)


class Client:
    """A connection to one CloudMC endpoint with one API key; safe to share across threads.

    Attributes:
        settings: the :class:`~cloudmc_frames.config.Settings` in force.
        fingerprint: the one-way tag of endpoint + key that namespaces this client's cache.
        ledger: the issues and coverage rows recorded by accessors using this client.
        stats: counters (``sent``, ``cache_hits``, ``memory_hits``, ``retries``) for diagnostics.
        throttle: the :class:`~cloudmc_frames.throttle.Throttle` every request sent waits for.
        pages: the replies kept in memory (:class:`~cloudmc_frames._cache.memory.MemoryPages`).
        answered: whether the endpoint ever answered (until then a refused connection is final).
    """

    def __init__(self, settings: Settings, api_key: str, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        check_api_key(api_key)
        self.settings, self._key = settings, Secret(api_key)
        self.fingerprint, self.ledger = credential_hash(settings.endpoint, api_key), Ledger()
        self.stats, self.answered = {"sent": 0, "cache_hits": 0, "memory_hits": 0, "retries": 0}, False
        self._sleep, self._clock, self._rng, self._lock = sleep, clock, random.Random(), threading.Lock()
        self.pages = MemoryPages.megabytes(settings.memory_cache_mb)
        self._page_size = PageSize(settings.page_size)
        self.throttle = Throttle.configured(settings, clock=clock, sleep=sleep)
        self._cache = HttpCache(settings, self.fingerprint, sleep=sleep, on_rebuild=self.pages.drop,
                                sealer=Sealer(settings.endpoint, api_key),
                                configure=lambda s: configure_session(s, settings, self._key, self.throttle))
        self._transport = Transport(settings, self._cache, clock)

    def get(self, path: str, params: dict | None = None, *, org_id: str | None = None,
            fresh: bool = False) -> Any:
        """GET ``path`` (relative to ``/api/v2``) and return its ``data``.

        >>> client.get("/organizations/" + org_id)      # doctest: +SKIP
        """
        return self.get_reply(path, params, org_id=org_id, fresh=fresh).data

    def get_reply(self, path: str, params: dict | None = None, *, org_id: str | None = None,
                  fresh: bool = False, deadline: float | None = None) -> Reply:
        """GET ``path`` and return the whole :class:`~cloudmc_frames._wire.Reply`."""
        url, query = self._url(path), query_params(params, org_id)
        cacheable = not path.startswith(TASKS_PATH)
        if cacheable and not fresh and (hit := self._memory_reply(path, url, query)) is not None:
            return hit
        reply, raw = self._send("GET", url, query, None, fresh=fresh, deadline=deadline)
        if cacheable and raw.expires_at is not None:
            stamp = self.pages.put(path, url, query, (raw.status, raw.url, raw.body), raw.expires_at)
            return replace(reply, stamp=stamp)
        return reply

    def get_text(self, path: str, params: dict | None = None, *, accept: str = "text/csv",
                 org_id: str | None = None, fresh: bool = False, deadline: float | None = None) -> TextReply:
        """GET ``path`` as text (``Accept: text/csv``), cached and retried like any GET; BOM dropped."""
        reply, _ = self._send("GET", self._url(path), query_params(params, org_id), None, fresh=fresh,
                              deadline=deadline, accept=accept)
        return reply

    def remembered(self, path: str, params: dict | None = None, *,
                   org_id: str | None = None) -> Listing | None:
        """Every record of a list from this client's memory alone (what :meth:`list` would return
        from the cache, sending nothing), or None if a page is missing."""
        url, replies = self._url(path), []

        def fetch(paging: dict) -> Page:
            reply = self._memory_reply(path, url, query_params({**(params or {}), **paging}, org_id))
            if reply is None:
                raise _NotRemembered
            replies.append(reply)
            return page_of(reply)
        try:
            records = list(self._records(fetch))
        except _NotRemembered:
            return None
        return Listing.of(records, replies)

    def list(self, path: str, params: dict | None = None, *, org_id: str | None = None,
             fresh: bool = False, deadline: float | None = None, sort_by: str | None = None,
             sort_order: str | None = None) -> Listing:
        """Every record of a list endpoint, following its pages (see :mod:`~cloudmc_frames.paging`);
        a server that refuses the page size (HTTP 400) is asked again with a smaller one."""
        replies: list[Reply] = []
        pages = self._page_fetcher(path, params, org_id, fresh, deadline, replies)
        records = read_all(pages, sizes=self._page_size, max_pages=self.settings.max_pages,
                           sort_by=sort_by, sort_order=sort_order)
        return Listing.of(records, replies)

    def paginate(self, path: str, params: dict | None = None, *, org_id: str | None = None,
                 fresh: bool = False, sort_by: str | None = None,
                 sort_order: str | None = None) -> Iterator[dict]:
        """Yield every record of a list endpoint, fetching pages as the iteration goes.

        >>> for user in client.paginate("/users", org_id=org_id): ...   # doctest: +SKIP
        """
        pages = self._page_fetcher(path, params, org_id, fresh, None, [])
        yield from self._records(pages, sort_by=sort_by, sort_order=sort_order)

    def cached(self, path: str, params: dict | None = None, *, org_id: str | None = None,
               paged: bool = True) -> bool:
        """Whether this GET (the first page of a listing when ``paged``) needs no network call."""
        paging = {"page_number": 1, "page_size": self._page_size.current} if paged else {}
        url, query = self._url(path), query_params({**(params or {}), **paging}, org_id)
        return (self.pages.has(path, url, query, time.time())
                or self._cache.has_fresh(url, query, stale_ok=self.settings.offline))

    def poll_task(self, task_id: str) -> dict:
        """The raw payload of ``GET /tasks/:id``: retried like any GET, never cached."""
        if not isinstance(task_id, str) or not task_id or "/" in task_id:
            raise ConfigError(f"task id must be a non-empty string without '/', got {task_id!r}")
        if (reply := self.get_reply(f"{TASKS_PATH}{task_id}", fresh=True)).payload is None:
            raise ResponseFormatError("the task endpoint answered an empty body", url=reply.url)
        return reply.payload

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

    def invalidate(self, scope: str) -> int:
        """Forget cached listings of one scope (see :func:`listing_scope`); returns entries dropped."""
        self.pages.drop(scope)
        return self._cache.delete_prefix(self.fingerprint + scope_tag(scope))

    def clear_cache(self) -> int:
        """Forget every cached reply of this credential (other keys' entries stay)."""
        self.pages.drop()
        return self._cache.delete_prefix(self.fingerprint)

    def flush(self) -> None:
        """Wait until every reply fetched so far is written to the cache storage."""
        self._cache.flush()

    def cache_info(self) -> dict:
        """Which cache backend answers, where, and why: ``client.cache_info()["backend"] == "redis"``."""
        return self._cache.info()

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
        self._cache.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = " offline" if self.settings.offline else ""
        return (f"<cloudmc_frames.Client {self.settings.endpoint} credential={self.fingerprint[:8]} "
                f"cache={self.settings.cache_backend}{mode}>")

    def __reduce__(self):
        raise TypeError("a Client holds an API key and is not picklable; connect() again instead")

    def _url(self, path: str) -> str:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError(f"path must start with '/', got {path!r}")
        return self.settings.endpoint + path

    def _records(self, fetch: Callable[[dict], Page], **sort: str | None) -> Iterator[dict]:
        return iter_records(fetch, page_size=self._page_size.current, max_pages=self.settings.max_pages,
                            on_grant=self._page_size.granted, **sort)

    def _page_fetcher(self, path, params, org_id, fresh, deadline, replies: list[Reply]):
        def fetch(paging: dict) -> Page:
            if paging["page_number"] == 1:
                replies.clear()  # a new attempt (after a refused page size) starts over
            reply = self.get_reply(path, {**(params or {}), **paging}, org_id=org_id,
                                   fresh=fresh, deadline=deadline)
            replies.append(reply)
            return page_of(reply)
        return fetch

    def _memory_reply(self, path: str, url: str, query: dict[str, str]) -> Reply | None:
        if (hit := self.pages.get(path, url, query, time.time())) is None:
            return None
        self._count("memory_hits")
        return parse_reply(hit[0], {}, hit[2], method="GET", url=hit[1], from_cache=True, stamp=hit[3])

    def _write(self, method: str, path: str, body: Any, params: dict | None,
               org_id: str | None) -> Task | Any:
        url, query, scope = self._url(path), query_params(params, org_id), listing_scope(path)
        reply, _ = self._send(method, url, query, body, fresh=True, deadline=None)
        self.invalidate(scope)
        if reply.payload is not None and is_task_payload(reply.payload):
            return Task.from_payload(reply.payload, self, url=reply.url, scope=scope)
        return reply.data

    def _send(self, method: str, url: str, query: dict, body: Any, *, fresh: bool,
              deadline: float | None, accept: str | None = None) -> tuple[Any, RawReply]:
        """Send, retrying what the policy allows and telling the throttle; return the reply and its raw."""
        started, attempt, org = self._clock(), 0, query.get("org_id")
        while True:
            attempt += 1
            try:
                raw = self._transport.send(method, url, query, body, fresh=fresh or attempt > 1,
                                           deadline=deadline, attempt=attempt, accept=accept)
                self._count("cache_hits" if raw.from_cache else "sent")
                self.answered = self.answered or not raw.from_cache
                return self._parse(raw, method, attempt, accept), raw
            except CloudMCError as error:
                error, now = self.throttle.failed(org, error), self._clock()
                delay = retry_delay(error, attempt=attempt, elapsed=now - started, settings=self.settings,
                                    time_left=None if deadline is None else deadline - now,
                                    jitter=self._rng.random(), pause=self.throttle.pause_left(org),
                                    answered=self.answered)
                if delay is None:
                    raise self._key.scrubbed(error) from None
                self._count("retries")
                self._sleep(delay)

    def _parse(self, raw: RawReply, method: str, attempt: int, accept: str | None = None) -> Any:
        """Parse a reply (as ``accept`` text when given); a cached 200 that turns out unusable is
        dropped from the cache."""
        parse = partial(parse_text, accept=accept) if accept else parse_reply
        try:
            return parse(raw.status, raw.headers, raw.body, method=method, url=raw.url,
                         from_cache=raw.from_cache, attempts=attempt)
        except CloudMCError:
            if raw.cache_key:
                self._cache.forget(raw.cache_key)
            raise

    def _count(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1


class _NotRemembered(Exception):
    """A page of a listing is not in the client's memory."""

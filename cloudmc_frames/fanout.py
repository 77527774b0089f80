"""The fan-out: read many scopes (organization x environment x entity) over one client.

Scopes the client still remembers are read inline; the others go to a bounded thread pool.
Every scope visited adds a :class:`~cloudmc_frames.ledger.Coverage` row to the client's ledger;
a failed one also adds an :class:`~cloudmc_frames.errors.Issue` (``errors="collect"``) or is
raised (``errors="raise"``; also when the endpoint never answered and cannot be reached).
Only :class:`~cloudmc_frames.errors.CloudMCError` is caught.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tqdm.auto import tqdm

from .client import Client
from .errors import (
    BudgetExceededError,
    CacheMissError,
    CloudMCError,
    CrawlTimeoutError,
    DeferredError,
    EndpointUnreachableError,
    Issue,
    NotFoundError,
    PermissionDeniedError,
    ResponseFormatError,
    json_type,
)
from .ledger import Coverage
from .options import CrawlOptions, check_client
from .throttle import interleave

log = logging.getLogger("cloudmc_frames")

PROGRESS_MIN_SCOPES = 20


@dataclass(frozen=True)
class Read:
    """One :func:`read_scopes` call: its scopes, the rows of each, and the memory stamps of their
    pages (None unless every scope was read whole from pages the client keeps)."""

    accessor: str
    scopes: tuple[Scope, ...]
    rows: tuple[int, ...]
    stamps: tuple[tuple, ...] | None


# The reads made while :func:`cloudmc_frames.warm.read_frame` builds a frame (None: not building).
READS: ContextVar[list[Read] | None] = ContextVar("cloudmc_frames_reads", default=None)


@dataclass(frozen=True)
class Scope:
    """One unit of a crawl: an organization, maybe an environment, an entity, and where to read it."""

    organization_id: str | None
    organization_name: str | None
    organization_path: str | None
    environment_id: str | None = None
    environment_name: str | None = None
    service_code: str | None = None
    connection_type: str | None = None
    entity: str | None = None
    path: str = ""
    params: dict | None = field(default=None, compare=False)
    single: bool = False  # GET of one object (``{"data": {...}}``) rather than a list
    # how to read it when neither a list nor one object does (``(client, scope, call) ->
    # (records, from_cache, network calls sent)``): usage's own paging, span splitting, checks
    read: Callable[[Client, Scope, CrawlCall], tuple[list[dict], bool, int]] | None = field(
        default=None, compare=False)

    def context(self, service: bool = False, environment: bool = False) -> dict:
        """Context columns for this scope's rows: the organization, then its environment."""
        ctx = {"organization_id": self.organization_id, "organization_name": self.organization_name,
               "organization_path": self.organization_path}
        if service:
            ctx.update(service_code=self.service_code, connection_type=self.connection_type)
        if service or environment:
            ctx.update(environment_id=self.environment_id, environment_name=self.environment_name)
        return ctx


class Budget:
    """The network calls one accessor call may still send (``budget=``), shared by its threads.

    A scope that needs the network reserves one call before it starts and settles what its pages
    really cost when it ends; once nothing is left, no new scope starts (a started one finishes
    its pages, so the overshoot is bounded by the pages of scopes in flight).

    >>> budget = Budget(1)
    >>> budget.reserve(), budget.reserve()
    (True, False)
    """

    def __init__(self, calls: int) -> None:
        self.calls, self.left = calls, calls
        self._lock = threading.Lock()

    def reserve(self) -> bool:
        """Take one call for a scope about to start; False when the budget is spent."""
        with self._lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True

    def settle(self, reserved: int, sent: int) -> None:
        """A scope that reserved ``reserved`` calls sent ``sent``."""
        with self._lock:
            self.left += reserved - sent

    def exceeded(self, what: str, url: str | None = None) -> BudgetExceededError:
        """The error of ``what`` left unread because the budget was spent."""
        return BudgetExceededError(f"{what} was not read: this call's budget of {self.calls} "
                                   "network calls was spent", url=url)


@dataclass(frozen=True)
class CrawlCall:
    """One accessor call: its checked options, with threads, progress, deadline and call id resolved."""

    options: CrawlOptions
    max_workers: int
    progress: bool | None
    deadline: float | None
    call_id: int
    budget: Budget | None = None

    @property
    def errors(self) -> str:
        """``"raise"`` or ``"collect"``."""
        return self.options.errors

    @property
    def fresh(self) -> bool:
        """True to refetch every scope."""
        return self.options.fresh


def start_call(client: Client, options: CrawlOptions) -> CrawlCall:
    """Start one accessor call with ``options``: a new call id, and the deadline from ``timeout``."""
    check_client(client)
    deadline = time.monotonic() + options.timeout if options.timeout else None
    budget = Budget(options.budget) if options.budget is not None else None
    return CrawlCall(options, options.workers(client), options.show_progress(client), deadline,
                     client.ledger.next_call_id(), budget)


def read_scopes(client: Client, accessor: str, scopes: Sequence[Scope],
                options: CrawlCall) -> list[tuple[Scope, list[dict]]]:
    """Read every scope, the ones this client does not remember in a thread pool; return
    ``(scope, records)`` in scope order.

    Failures become issues (collect) or are raised (raise); every scope gets a coverage row.
    While :mod:`~cloudmc_frames.warm` builds a frame, the read (with the memory stamps of the
    pages under each scope) is added to :data:`READS`.
    """
    stamps: dict[int, tuple] = {}  # scope index -> the stamps of its pages, when all are kept
    done = dict(_remembered(client, accessor, scopes, options, stamps))
    pending = [n for n in range(len(scopes)) if n not in done]
    failed: Counter = Counter()
    show = options.progress if options.progress is not None else len(pending) > PROGRESS_MIN_SCOPES
    sent_before, rows = client.stats["sent"], 0
    with ThreadPoolExecutor(options.max_workers, thread_name_prefix=f"cmf-{accessor}") as pool, \
            tqdm(total=len(pending), desc=accessor, unit="scope", disable=not show or None,
                 leave=False) as bar:
        futures = {pool.submit(_read_scope, client, scopes[n], options): n  # organizations spread
                   for n in interleave(pending, key=lambda n: scopes[n].organization_id)}
        for future in as_completed(futures):
            scope, records, from_cache, seconds, error, kept = future.result()
            record(client, options.call_id, accessor, scope, len(records or ()), from_cache,
                    seconds, error)
            rows += len(records or ())
            if show:  # formatting the postfix costs even on a disabled bar
                bar.set_postfix(requests=client.stats["sent"] - sent_before, rows=rows, refresh=False)
            bar.update(1)
            if error is None:
                done[futures[future]] = records
                if kept:
                    stamps[futures[future]] = kept
                continue
            failed[_status_of(error)] += 1
            if options.errors == "raise" or hopeless(client, error):
                pool.shutdown(cancel_futures=True)
                raise error
    client.flush()  # the replies of this call are in the cache storage when it returns
    if failed:
        log.warning("%s: %s; rows from them are missing, see client.issues for what happened and "
                    "client.coverage for every scope", accessor, failure_summary(failed, len(scopes)))
    results = [(scopes[n], done[n]) for n in sorted(done)]
    if (reads := READS.get()) is not None:  # a frame is being built that warm.py may remember
        complete = len(done) == len(scopes) and len(stamps) == len(scopes)
        reads.append(Read(accessor, tuple(scopes), tuple(len(r) for _, r in results),
                          tuple(stamps[n] for n in range(len(scopes))) if complete else None))
    return results


def hopeless(client: Client, error: CloudMCError) -> bool:
    """True when nothing can succeed: the endpoint does not resolve or refuses connections and
    never answered this client. The call then ends at once with that one error, even when it
    collects errors."""
    return isinstance(error, EndpointUnreachableError) and not client.answered


def _remembered(client: Client, accessor: str, scopes: Sequence[Scope], options: CrawlCall,
                stamps: dict[int, tuple]):
    """``(index, records)`` of the list scopes the client still holds in memory, read inline:
    a warm crawl needs no thread pool."""
    if options.fresh:
        return
    for n, scope in enumerate(scopes):
        if scope.single or not scope.path or scope.read is not None:
            continue
        started = time.perf_counter()
        try:
            listing = client.remembered(scope.path, scope.params, org_id=scope.organization_id)
        except CloudMCError:  # let the network path read it again and report what happens
            continue
        if listing is not None:
            record(client, options.call_id, accessor, scope, len(listing.records), True,
                    since(started), None)
            if listing.stamps:
                stamps[n] = listing.stamps
            yield n, listing.records


def _read_scope(client: Client, scope: Scope, options: CrawlCall):
    """``(scope, records, from_cache, seconds, error, stamps)``; only CloudMCError is caught."""
    started = time.perf_counter()
    if options.deadline is not None and time.monotonic() >= options.deadline:
        error = CrawlTimeoutError("not read: the call's timeout ran out before this scope started",
                                  url=client.settings.endpoint + scope.path)
        return scope, None, False, 0.0, error, None
    if not scope.path:
        error = NotFoundError(
            f"environment {scope.environment_name!r} uses a service connection this key cannot "
            f"read, so its {scope.entity} were not read",
            hint="Use a key that can read the organization's service connections")
        return scope, None, False, 0.0, error, None
    reserved = _reserve(client, scope, options)
    if reserved is None:
        return scope, None, False, 0.0, options.budget.exceeded(f"{scope.entity} of this scope",
                                                                client.settings.endpoint + scope.path), None
    sent = reserved
    try:
        records, from_cache, sent, kept = _fetch(client, scope, options)
    except CloudMCError as error:
        return scope, None, False, since(started), error, None
    finally:
        if options.budget is not None:
            options.budget.settle(reserved, sent)
    return scope, records, from_cache, since(started), None, kept


def _reserve(client: Client, scope: Scope, options: CrawlCall) -> int | None:
    """Network calls reserved for ``scope`` (0: none needed or no budget); None: budget spent."""
    budget = options.budget
    if budget is None or (scope.read is None and not options.fresh and client.cached(
            scope.path, scope.params, org_id=scope.organization_id, paged=not scope.single)):
        return 0
    return 1 if budget.reserve() else None


def _fetch(client: Client, scope: Scope, options: CrawlCall) -> tuple[list[dict], bool, int, tuple | None]:
    """The scope's records, whether they all came from a cache, the network calls it took, and
    the memory stamps of its pages (None: not all kept, or not a list)."""
    if scope.read is not None:
        return (*scope.read(client, scope, options), None)
    if not scope.single:
        listing = client.list(scope.path, scope.params, org_id=scope.organization_id,
                              fresh=options.fresh, deadline=options.deadline)
        return listing.records, listing.from_cache, listing.sent, listing.stamps
    reply = client.get_reply(scope.path, scope.params, org_id=scope.organization_id,
                             fresh=options.fresh, deadline=options.deadline)
    data = reply.data  # CloudMC documents one of these as a one-element list
    records = data if isinstance(data, list) else [data]
    if not all(isinstance(r, dict) for r in records):
        raise ResponseFormatError(f"expected a JSON object in 'data', got {json_type(data)}",
                                  url=reply.url, status=reply.status)
    return records, reply.from_cache, 0 if reply.from_cache else 1, reply.stamp and (reply.stamp,)


def since(started: float) -> float:
    """Seconds since ``started`` (perf_counter), rounded to microseconds."""
    return round(time.perf_counter() - started, 6)


def record(client: Client, call_id: int, accessor: str, scope: Scope, rows: int,
            from_cache: bool, seconds: float, error: CloudMCError | None) -> None:
    """Add a scope's coverage row, and its issue when it failed, to the client's ledger."""
    where = {"organization_id": scope.organization_id, "organization_path": scope.organization_path,
             "environment": scope.environment_name, "entity": scope.entity}
    status = _status_of(error) if error else ("ok" if rows else "empty")
    coverage = Coverage(call_id, accessor, scope.organization_id, scope.organization_path,
                        scope.environment_name, scope.entity, status, rows,
                        bool(from_cache) and error is None, seconds, datetime.now(UTC))
    issue = Issue.from_error(error, accessor=accessor, **where) if error else None
    client.ledger.record(coverage, issue)


def failure_summary(failed: Counter, scopes: int) -> str:
    """``"3 scopes not in the cache (offline)"``, ``"2 of 20 scopes failed (2 forbidden)"``, or both."""
    missing = failed.get("not_cached", 0)
    others = {status: n for status, n in sorted(failed.items()) if status != "not_cached"}
    parts = [f"{missing} scope{'s' if missing != 1 else ''} not in the cache (offline)"] if missing else []
    if others:
        summary = ", ".join(f"{n} {status}" for status, n in others.items())
        parts.append(f"{sum(others.values())} of {scopes} scopes failed ({summary})")
    return "; ".join(parts)


def _status_of(error: CloudMCError) -> str:
    if isinstance(error, DeferredError):
        return "deferred"
    if isinstance(error, PermissionDeniedError):
        return "forbidden"
    if isinstance(error, NotFoundError):
        return "not_found"
    if isinstance(error, CrawlTimeoutError):
        return "skipped"
    if isinstance(error, BudgetExceededError):
        return "skipped_budget"
    if isinstance(error, CacheMissError):
        return "not_cached"
    return "error"

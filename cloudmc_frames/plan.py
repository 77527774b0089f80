"""Plans: what a crawl will cost before it starts, from what is cheap to read and what was measured.

:func:`plan` reads only the organization tree and (for environment-level collections) the
environments, then counts, per endpoint, the scopes a crawl would read, the pages each needs (from
the last crawl's coverage, or a snapshot's), which of them the cache answers, and so the network
calls it would send. The ETA comes from measured seconds per call and the client's concurrency and
rate ceiling; it is ``None`` until something was measured (a confidently wrong ETA is worse than
none). :meth:`Plan.check` raises before anything is sent; accessors take ``budget=`` to hold a
crawl to a number of network calls.

Example::

    >>> p = cmf.plan(client, ("instances", "volumes"), orgs="acme/*")          # doctest: +SKIP
    >>> p.totals["network_calls"], p.totals["eta"]                              # doctest: +SKIP
    (412, Timedelta('0 days 00:00:03.100000'))
    >>> p.check(max_calls=1_000, max_minutes=5)                                 # doctest: +SKIP
    >>> vms = cmf.instances(client, orgs="acme/*", budget=1_000)                # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import accessors
from .client import Client
from .errors import BudgetExceededError, ConfigError
from .fanout import Scope
from .options import check_client
from .orgtree import select_organizations

PLAN_COLUMNS = ("collection", "endpoint", "level", "scopes", "pages", "from_history", "cache_hits",
                "network_calls")
ENV_LEVEL = "environment"


@dataclass(frozen=True)
class Plan:
    """A crawl's cost before it runs: ``calls`` (one row per endpoint) and ``totals``.

    ``totals``: ``calls`` (pages in all), ``network_calls``, ``cache_hits``, ``seconds_per_call``
    (measured; None before anything was), ``eta`` (a Timedelta, None until calibrated).
    """

    calls: pd.DataFrame
    totals: dict[str, Any]

    def check(self, *, max_calls: int | None = None, max_minutes: float | None = None) -> Plan:
        """Raise BudgetExceededError if the crawl would pass a limit; return the plan otherwise.

        >>> cmf.plan(client).check(max_calls=500)                                # doctest: +SKIP
        """
        network = self.totals["network_calls"]
        if max_calls is not None and network > max_calls:
            raise BudgetExceededError(f"the crawl needs {network:,} network calls, over max_calls="
                                      f"{max_calls:,}")
        if max_minutes is not None:
            eta = self.totals["eta"]
            if eta is None:
                raise BudgetExceededError(
                    f"max_minutes={max_minutes:g} cannot be checked: no call was measured yet",
                    hint="Crawl a small part first (a few organizations), or check max_calls=")
            if eta.total_seconds() > max_minutes * 60:
                raise BudgetExceededError(f"the crawl would take about {eta.total_seconds() / 60:.1f} "
                                          f"minutes, over max_minutes={max_minutes:g}")
        return self

    def __repr__(self) -> str:
        eta = self.totals["eta"]
        when = "ETA unknown (nothing measured yet)" if eta is None else f"ETA {eta.total_seconds():.1f} s"
        return (f"<Plan {self.totals['network_calls']:,} network calls, {self.totals['cache_hits']:,} "
                f"answered by the cache, {len(self.calls)} endpoints, {when}>")


def plan(client: Client, collections: Iterable[str] = ("instances", "volumes"), *, orgs: Any = None,
         history: pd.DataFrame | None = None, **crawl: Any) -> Plan:
    """What crawling ``collections`` for ``orgs`` would cost, reading only the tree and environments.

    ``collections``: ``users``, ``environments``, ``environment_members``, ``quotas`` or any service
    entity type (``instances``, ``volumes``, ...). ``history``: coverage rows of an earlier crawl
    (default ``client.coverage``; e.g. a snapshot's ``coverage`` collection) that say how many
    records each scope held. ``crawl``: options of the discovery reads (``fresh``, ``timeout``, ...).

    >>> cmf.plan(client, ["users", "instances"]).calls                           # doctest: +SKIP
    """
    check_client(client)
    wanted = _collections(collections)
    tree = accessors.organizations(client, include_deleted=True, fresh=bool(crawl.get("fresh")))
    selected = select_organizations(tree, orgs)
    envs = _environments(client, selected, wanted, crawl)
    pages = _pages_seen(client.coverage if history is None else history, client.settings.page_size)
    rows = [_scope_row(client, name, scope, pages)
            for name in wanted for scope in accessors.planned_scopes(name, selected, envs)]
    calls = _grouped(rows)
    return Plan(calls, _totals(client, calls, client.coverage if history is None else history, crawl))


def _collections(collections: Iterable[str]) -> list[str]:
    if isinstance(collections, str):
        collections = [collections]
    wanted = list(dict.fromkeys(collections))
    if not wanted or not all(isinstance(c, str) for c in wanted):
        raise ConfigError(f"collections must be names such as 'instances' or 'users', got {collections!r}")
    return wanted


def _environments(client: Client, selected: pd.DataFrame, wanted: list[str],
                  crawl: dict) -> pd.DataFrame | None:
    if all(name in ("users", "environments", "quotas") for name in wanted):
        return None
    return accessors.environments(client, orgs=selected, **crawl)


def _pages_seen(history: pd.DataFrame, page_size: int) -> dict[tuple, int]:
    """``(entity, organization id, environment) -> pages`` from the latest read of each scope."""
    if history is None or history.empty:
        return {}
    read = history[history["status"].astype(str).isin(("ok", "empty"))]
    latest = read.drop_duplicates(["entity", "organization_id", "environment"], keep="last")
    return {(str(r.entity), r.organization_id, None if pd.isna(r.environment) else r.environment):
            pages_for(int(r.rows), page_size)
            for r in latest[["entity", "organization_id", "environment", "rows"]].itertuples(index=False)}


def pages_for(rows: int, page_size: int) -> int:
    """Requests to read ``rows`` records: full pages, then a short (or empty, confirming) last one.

    >>> pages_for(0, 500), pages_for(499, 500), pages_for(500, 500), pages_for(501, 500)
    (1, 1, 2, 2)
    """
    return rows // page_size + 1


def _scope_row(client: Client, collection: str, scope: Scope, pages: dict[tuple, int]) -> dict:
    known = pages.get((scope.entity, scope.organization_id, scope.environment_name))
    needed = known or 1
    cached = bool(scope.path) and client.cached(scope.path, scope.params, org_id=scope.organization_id)
    return {"collection": collection, "endpoint": _template(scope),
            "level": ENV_LEVEL if scope.environment_id else "organization", "scopes": 1,
            "pages": needed, "from_history": known is not None, "cache_hits": int(cached),
            "network_calls": 0 if cached else needed}


def _template(scope: Scope) -> str:
    """The endpoint with its per-scope parts as placeholders (``/services/{code}/{environment}/disks``)."""
    if scope.path.startswith("/services/"):
        return "/services/{service_code}/{environment}/" + scope.path.rsplit("/", 1)[-1]
    if scope.path.startswith("/environments/"):
        return "/environments/{environment_id}/members"
    return scope.path or "(connection not readable)"


def _grouped(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
    counts = ["scopes", "pages", "from_history", "cache_hits", "network_calls"]
    frame[counts] = frame[counts].astype("int64")
    grouped = frame.groupby(["collection", "endpoint", "level"], sort=False, as_index=False)[counts].sum()
    for name in counts:
        grouped[name] = grouped[name].astype("Int64")
    for name in ("collection", "endpoint", "level"):
        grouped[name] = grouped[name].astype("string")
    return grouped[list(PLAN_COLUMNS)]


def _totals(client: Client, calls: pd.DataFrame, measured: pd.DataFrame, crawl: dict) -> dict[str, Any]:
    network = int(calls["network_calls"].sum())
    per_call = _seconds_per_call(measured, client.settings.page_size)
    eta = None
    if per_call is not None:
        workers = crawl.get("max_workers") or client.settings.max_workers
        seconds = network * per_call / workers
        rate = getattr(client.settings, "max_requests_per_second", None)
        if rate:
            seconds = max(seconds, network / rate)
        eta = pd.Timedelta(seconds=round(seconds, 3))
    return {"calls": int(calls["pages"].sum()), "network_calls": network,
            "cache_hits": int(calls["cache_hits"].sum()), "seconds_per_call": per_call, "eta": eta}


def _seconds_per_call(measured: pd.DataFrame, page_size: int) -> float | None:
    """Mean seconds of one network call, from scopes read over the network (None: none yet)."""
    if measured is None or measured.empty:
        return None
    sent = measured[~measured["from_cache"].fillna(True).astype(bool)
                    & measured["status"].astype(str).isin(("ok", "empty"))]
    if sent.empty:
        return None
    pages = sum(pages_for(int(rows), page_size) for rows in sent["rows"])
    return float(sent["seconds"].astype("float64").sum() / pages)

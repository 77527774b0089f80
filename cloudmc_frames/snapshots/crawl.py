"""One shard of a snapshot's crawl: the collections of some organizations, read and written as Parquet.

:func:`crawl_shard` reads ``task.collections`` for the organizations it is given through the
accessors (so it shares their cache, fan-out, issues and coverage), stamps every row with the
snapshot's columns (``fetched_at``/``from_cache`` from the coverage row of the scope it came
from), writes the frames as one shard's parts and returns them with the coverage and issues of
its crawl. ``cmf.snapshot`` runs one shard in its own process; the Dask engine
(:mod:`.sharded`) runs many in worker processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .. import accessors
from ..client import Client
from ..frames import DATETIME, coverage_frame, issues_frame
from . import layout
from .scopes import level
from .writer import PartsWritten, constant_times, write_parts

# Read by default when this toolkit has the accessor (the usage collections).
OPTIONAL_COLLECTIONS = ("usage_summary",)
Reader = Callable[[Client, pd.DataFrame, dict], pd.DataFrame]


def readers() -> dict[str, Reader]:
    def per_org(function: Callable) -> Reader:
        return lambda client, orgs, options: function(client, orgs=orgs, **options)

    readers: dict[str, Reader] = {
        "users": per_org(accessors.users),
        "environments": per_org(accessors.environments),
        "environment_members": per_org(accessors.environment_members),
        "service_connections": per_org(accessors.service_connections),
        "quotas": per_org(accessors.quotas),
        "activity_log": per_org(accessors.activity_log),
        "instances": per_org(accessors.instances),
        "volumes": per_org(accessors.volumes),
    }
    import cloudmc_frames

    for name in OPTIONAL_COLLECTIONS:
        function = getattr(cloudmc_frames, name, None)
        if callable(function):
            readers[name] = last_day(function)
    return readers


def last_day(function: Callable) -> Reader:
    """A reader of a usage collection over the last whole UTC day (a daily snapshot holds
    yesterday's usage, per day)."""
    def read(client: Client, orgs: pd.DataFrame, options: dict) -> pd.DataFrame:
        today = pd.Timestamp.now(tz="UTC").normalize()
        return function(client, orgs=orgs, start=today - pd.Timedelta(days=1), end=today, **options)

    return read


@dataclass(frozen=True)
class ShardTask:
    """What every shard of one snapshot does (picklable: a Dask worker receives it)."""

    sid: str
    taken_at: pd.Timestamp
    root: str
    collections: tuple[str, ...]  # the organization tree is written by the coordinator
    endpoint_fingerprint: str
    crawl: dict[str, Any]


@dataclass(frozen=True)
class ShardResult:
    """What one shard wrote, and the coverage and issues of its crawl (tagged by collection)."""

    parts: list[PartsWritten]
    coverage: pd.DataFrame
    issues: pd.DataFrame
    sent: int = 0  # network requests of the shard's crawl


def crawl_shard(client: Client, task: ShardTask, selected: pd.DataFrame, *, shard: int) -> ShardResult:
    """Crawl ``task.collections`` for the organizations in ``selected`` and write them as ``shard``."""
    mark, sent_before = ledger_marks(client), client.stats["sent"]
    frames: dict[str, pd.DataFrame] = {}
    coverage_parts, issue_parts = [], []
    found = readers()
    for name in task.collections:
        reader = found.get(name) or (lambda c, o, opts, n=name: accessors.resources(c, n, orgs=o, **opts))
        frames[name] = reader(client, selected, dict(task.crawl))
        mark = tag_window(client, mark, name, coverage_parts, issue_parts)
    coverage = concat(coverage_parts, coverage_frame([]))
    issues = concat(issue_parts, issues_frame([]))
    stamped = {name: stamp_rows(frame, name, coverage, sid=task.sid, taken_at=task.taken_at)
               for name, frame in frames.items()}
    parts = write_parts(task.root, task.sid, frames=stamped, taken_at=task.taken_at, shard=shard,
                        endpoint_fingerprint=task.endpoint_fingerprint)
    return ShardResult(parts, coverage, issues, client.stats["sent"] - sent_before)


def stamp_rows(
    frame: pd.DataFrame, collection: str, coverage: pd.DataFrame, *, sid: str, taken_at: pd.Timestamp
) -> pd.DataFrame:
    """``frame`` plus ``snapshot_id``, ``snapshot_at``, and each row's scope's ``fetched_at`` and
    ``from_cache`` (from ``coverage``)."""
    n = len(frame)
    clashes = {c: f"record_{c}" for c in layout.ROW_COLUMNS if c in frame}
    if clashes:  # a server field named like a row column keeps its value under another name
        frame = frame.rename(columns=clashes)
    cov = coverage[coverage["collection"].astype(object) == collection]
    kind = level(collection)
    cov = cov[cov["entity"].astype(object) == collection] if kind != "tree" else cov
    fetched = pd.Series(constant_times(None, n), index=frame.index)
    cached = pd.Series(pd.NA, index=frame.index, dtype="boolean")
    if len(cov) and n:
        last = cov.drop_duplicates(["organization_id", "environment"], keep="last")
        if kind == "tree":
            fetched[:] = last["read_at"].iloc[-1]
            cached[:] = last["from_cache"].iloc[-1]
        else:
            keys = ["organization_id"] + (["environment"] if kind == "env" else [])
            left = frame[["organization_id"]].astype(object).copy()
            if kind == "env":
                left["environment"] = frame["environment_name"].astype(object)
            right = last[[*keys, "read_at", "from_cache"]].astype(dict.fromkeys(keys, object))
            joined = left.merge(right, on=keys, how="left")  # keys are unique in right: row order kept
            fetched = pd.Series(joined["read_at"].astype(DATETIME).array, index=frame.index)
            cached = pd.Series(joined["from_cache"].astype("boolean").array, index=frame.index)
    stamped = frame.reset_index(drop=True).assign(
        snapshot_id=pd.array([sid] * n, dtype="string"),
        snapshot_at=constant_times(taken_at, n),
        fetched_at=fetched.array,
        from_cache=cached.array,
    )
    return stamped


def ledger_marks(client: Client) -> tuple[int, int]:
    issues, coverage = client.ledger.snapshot()
    return len(issues), len(coverage)


def tag_window(
    client: Client, start: tuple[int, int], name: str, coverage_parts: list, issue_parts: list
) -> tuple[int, int]:
    """Coverage and issue rows added since ``start``, tagged with ``collection=name``."""
    issues, coverage = client.ledger.snapshot()
    for rows, build, parts in (
        (coverage[start[1] :], coverage_frame, coverage_parts),
        (issues[start[0] :], issues_frame, issue_parts),
    ):
        frame = build(rows)
        frame.insert(0, "collection", pd.array([name] * len(frame), dtype="string"))
        parts.append(frame)
    return len(issues), len(coverage)


def concat(parts: list[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    if not parts:
        empty.insert(0, "collection", pd.array([], dtype="string"))
        return empty
    return pd.concat(parts, ignore_index=True)

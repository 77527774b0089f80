"""Sharded snapshots on Dask: the organizations split into shards, each crawled in a worker process.

``cmf.snapshot(client, root, engine="dask")`` reads the organization tree itself, splits the
selected organizations into ``shards`` (by a stable hash of their id), and maps
:func:`run_shard` over them on a Dask cluster: a ``distributed.LocalCluster`` of processes (one
per core) when no ``dask_client`` is given, any cluster when one is (a ``distributed.Client`` or
a scheduler address). Each worker opens its own client with the same settings and key, crawls its
organizations and writes its Parquet parts into the snapshot (its shard number in the file
names); the coordinator writes the tree, the issues, the coverage and, once every shard is done,
the manifest.

* Concurrency across the cluster is capped by a ``distributed.Semaphore`` named after the
  snapshot (one lease per running shard, ``max_concurrent_shards``): at most that many shards
  times ``max_workers`` requests are in flight, however big the cluster, so CloudMC is not
  hammered.
* The API key travels to the workers inside the task, in memory (Dask sends tasks over its own
  connections); it is never written to disk, to Dask's logs or to a repr.
* A worker that dies mid-shard is replaced by the cluster and the shard runs again (its files from
  the lost attempt are removed first). A shard that fails for good leaves its organizations in
  ``coverage`` (status ``error``) and ``issues``: the snapshot is partial, never silently short.
* A scheduler that cannot be reached gives one warning, and the snapshot is taken in this process.

Example::

    >>> snap = cmf.snapshot(client, "history/", engine="dask", shards=8)        # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import distributed
import pandas as pd

from .. import accessors
from ..client import Client
from ..config import Settings
from ..errors import CloudMCError, ConfigError, Issue
from ..frames import coverage_frame, issues_frame
from ..ledger import Coverage
from ..orgtree import select_organizations
from ..snapshots import layout
from .crawl import ShardResult, ShardTask, crawl_shard
from .scopes import level

log = logging.getLogger("cloudmc_frames")

DEFAULT_MAX_CONCURRENT_SHARDS = 4
CONNECT_TIMEOUT = "10s"


class Credential:
    """The API key on its way to a worker: picklable (Dask ships it in the task), never shown."""

    __slots__ = ("_key",)

    def __init__(self, key: str) -> None:
        self._key = key

    def reveal(self) -> str:
        return self._key

    def __getstate__(self) -> str:
        return self._key

    def __setstate__(self, key: str) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "<api-key hidden>"

    __str__ = __repr__


@dataclass(frozen=True)
class ShardJob:
    """One shard: which organizations, under which settings and key (what a worker receives)."""

    task: ShardTask
    settings: Settings
    credential: Credential
    shard: int
    organization_ids: tuple[str, ...]


def split(ids: list[str], shards: int) -> list[list[str]]:
    """``ids`` in ``shards`` groups by a stable hash (the same organization, the same shard).

    >>> split(["a", "b", "c", "d"], 2)
    [['a', 'c'], ['b', 'd']]
    """
    groups: list[list[str]] = [[] for _ in range(shards)]
    for org_id in ids:
        groups[int(hashlib.sha256(org_id.encode()).hexdigest(), 16) % shards].append(org_id)
    return [g for g in groups if g]


def crawl_sharded(client: Client, task: ShardTask, selected: pd.DataFrame, *, dask_client: Any = None,
                  shards: int | None = None,
                  max_concurrent_shards: int | None = None) -> list[ShardResult]:
    """Crawl ``selected`` in shards on Dask; one result per shard (failed shards as coverage/issues)."""
    for name, value in (("shards", shards), ("max_concurrent_shards", max_concurrent_shards)):
        _check_count(name, value)
    try:
        dask, owned = _dask_client(dask_client)
    except (OSError, TimeoutError) as error:
        log.warning("the Dask scheduler %s could not be reached (%s); the snapshot is taken in this "
                    "process instead", dask_client, error)
        return [crawl_shard(client, task, selected, shard=1)]
    try:
        count = shards or max(1, len(dask.scheduler_info().get("workers", {})))
        groups = split([str(i) for i in selected["id"]], count)
        leases = max_concurrent_shards or min(len(groups), DEFAULT_MAX_CONCURRENT_SHARDS) or 1
        with dask.as_current():
            semaphore = distributed.Semaphore(max_leases=leases, name=f"cloudmc-frames-{task.sid}")
        credential = Credential(client._key.reveal())  # the one place the key leaves the client
        jobs = [ShardJob(task, client.settings, credential, n, tuple(ids))
                for n, ids in enumerate(groups, start=1)]
        futures = dask.map(run_shard, jobs, semaphore=semaphore, pure=False, key=[
            f"cloudmc-frames-shard-{task.sid}-{job.shard}" for job in jobs])
        results = [_collect(future, job, selected) for future, job in zip(futures, jobs, strict=True)]
        with warnings.catch_warnings():  # a worker that died kept its lease until it times out
            warnings.filterwarnings("ignore", "Closing semaphore", RuntimeWarning)
            semaphore.close()
        return results
    finally:
        if owned:
            _close(dask)


def run_shard(job: ShardJob, semaphore: distributed.Semaphore | None = None) -> ShardResult:
    """On a worker: crawl one shard's organizations and write its parts (one lease while it runs)."""
    remove_shard_files(Path(job.task.root), job.task.sid, job.shard)  # an earlier attempt's, if any
    lease = semaphore if semaphore is not None else contextlib.nullcontext()
    with lease, Client(job.settings, job.credential.reveal()) as client:
        tree = accessors.organizations(client, include_deleted=True, fresh=bool(job.task.crawl.get("fresh")))
        selected = select_organizations(tree, list(job.organization_ids))
        return crawl_shard(client, job.task, selected, shard=job.shard)


def remove_shard_files(root: Path, sid: str, shard: int) -> list[Path]:
    """Delete the part files of one shard of one snapshot (a lost attempt's), before it runs again."""
    removed = []
    for path in root.glob(f"*/{layout.PARTITION}=*/{sid}-{shard:03d}-*.parquet"):
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _collect(future: distributed.Future, job: ShardJob, selected: pd.DataFrame) -> ShardResult:
    try:
        return future.result()
    except CloudMCError as error:
        return failed_shard(job, selected, error)
    except Exception as error:  # noqa: BLE001 - a worker's failure (KilledWorker, ...) is a shard's
        return failed_shard(job, selected, CloudMCError(
            f"shard {job.shard} of the Dask crawl failed: {type(error).__name__}: {error}",
            hint="Its organizations were not read; take the snapshot again (cached scopes are fast)"))


def failed_shard(job: ShardJob, selected: pd.DataFrame, error: CloudMCError) -> ShardResult:
    """Coverage (status ``error``) and issue rows for every organization x collection of a lost shard."""
    chosen = selected[selected["id"].astype(str).isin(job.organization_ids)]
    now = datetime.now(UTC)
    names, coverage, issues = [], [], []
    for name in job.task.collections:
        entity = "environments" if level(name) == "env" else name
        for org in chosen[["id", "path"]].itertuples(index=False):
            names.append(name)
            coverage.append(Coverage(0, "snapshot", org.id, org.path, None, entity, "error", 0, False,
                                     0.0, now))
            issues.append(Issue.from_error(error, accessor="snapshot", organization_id=org.id,
                                           organization_path=org.path, entity=entity))
    return ShardResult([], _tagged(coverage_frame(coverage), names), _tagged(issues_frame(issues), names))


def _tagged(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    frame.insert(0, "collection", pd.array(names, dtype="string"))
    return frame


def _dask_client(dask_client: Any) -> tuple[distributed.Client, bool]:
    """The client to map shards on, and whether it is ours to close."""
    if isinstance(dask_client, distributed.Client):
        return dask_client, False
    if isinstance(dask_client, str):
        return distributed.Client(dask_client, timeout=CONNECT_TIMEOUT, set_as_default=False), True
    if dask_client is not None:
        raise ConfigError(f"dask_client must be a distributed.Client, a scheduler address or None, "
                          f"got {type(dask_client).__name__}")
    cluster = distributed.LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1,
                                       processes=True, dashboard_address=None,
                                       silence_logs=logging.ERROR)
    return distributed.Client(cluster, set_as_default=False), True


def _close(dask: distributed.Client) -> None:
    cluster = dask.cluster
    dask.close()
    if cluster is not None:
        cluster.close()


def _check_count(name: str, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ConfigError(f"{name} must be a positive integer or None, got {value!r}")


"""``cmf.snapshot``: crawl the collections once and write them as one snapshot.

The crawl goes through the accessors (so it shares their cache, fan-out, issues and coverage);
each row gets ``fetched_at`` and ``from_cache`` from the coverage row of the scope it came from
(when this crawl read it; ``from_cache`` says the answer came from the cache, up to the cache's
``expire_after`` older). ``issues`` and ``coverage`` are written as collections of their own,
with a ``collection`` column. The organization tree (deleted organizations included) is always
written: diffs need it to tell a deleted organization from one a crawl could not read.

Example::

    >>> snap = cmf.snapshot(client, "snapshots/", label="before maintenance")   # doctest: +SKIP
    >>> snap.tables["instances"], snap.partial                                 # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import accessors, catalog
from ..client import Client
from ..errors import ConfigError
from ..fanout import check_client
from ..frames import DATETIME, coverage_frame, issues_frame
from ..options import CRAWL_OPTIONS
from ..orgtree import select_organizations
from . import drift, layout
from .crawl import (
    OPTIONAL_COLLECTIONS,
    ShardResult,
    ShardTask,
    concat,
    crawl_shard,
    ledger_marks,
    readers,
    stamp_rows,
    tag_window,
)
from .manifest import Manifest, data_files, incomplete_ids, read_manifests
from .writer import constant_times, write_manifest, write_parts

log = logging.getLogger("cloudmc_frames")

DEFAULT_COLLECTIONS = (
    "organizations",
    "users",
    "environments",
    "environment_members",
    "quotas",
    "instances",
    "volumes",
)
RESERVED = ("issues", "coverage")
ENGINES = ("threads", "dask")


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One snapshot written to disk.

    Attributes: ``id``, ``taken_at`` (UTC), ``root``, ``label``, ``tables`` (rows per
    collection), ``complete`` (its manifest is written), ``partial`` (some scope could not be
    read: see ``issues``), ``issues`` and ``coverage`` (frames of this crawl), ``requests``
    (network requests the crawl sent, every shard's included: 0 for a snapshot from a warm cache).
    """

    id: str
    taken_at: pd.Timestamp
    root: Path
    label: str | None
    tables: dict[str, int]
    issues: pd.DataFrame = field(repr=False)
    coverage: pd.DataFrame = field(repr=False)
    manifest: Manifest = field(repr=False)
    requests: int = 0

    @property
    def complete(self) -> bool:
        """True when the manifest is on disk (every file was written)."""
        return layout.manifest_path(self.root, self.id).is_file()

    @property
    def partial(self) -> bool:
        """True when some scope could not be read (rows from it are missing)."""
        return self.manifest.partial

    def __repr__(self) -> str:
        state = f"partial: {len(self.issues)} scopes failed" if self.partial else "every scope read"
        return f"<Snapshot {self.id} {self.label or ''} {sum(self.tables.values())} rows, {state}>"


def snapshot(
    client: Client,
    root: str | os.PathLike,
    *,
    collections: Sequence[str] | None = None,
    orgs: Any = None,
    label: str | None = None,
    taken_at: Any = None,
    clean_incomplete: bool = False,
    engine: str = "threads",
    dask_client: Any = None,
    shards: int | None = None,
    max_concurrent_shards: int | None = None,
    **crawl: Any,
) -> Snapshot:
    """Crawl ``collections`` of the organizations ``orgs`` selects and write them as one snapshot.

    ``collections``: default organizations, users, environments, environment members, quotas,
    instances, volumes (and the usage collections when this toolkit has them); any entity type
    (``"snapshots"``, ``"publicipaddresses"``) also works. ``taken_at``: the snapshot's time
    (default now, UTC; pass one to back-fill). ``clean_incomplete=True`` first removes the files
    of every snapshot without a manifest (a crash): never while another process writes into
    ``root``. ``crawl``: ``max_workers``, ``progress``, ``fresh``, ``timeout``.

    ``engine="dask"`` splits the organizations into ``shards`` and crawls each in a Dask worker
    process (see :mod:`~cloudmc_frames.snapshots.sharded`): ``dask_client`` is a
    ``distributed.Client``, a scheduler address, or None for a ``LocalCluster`` of processes;
    ``max_concurrent_shards`` caps the shards crawling at once across the cluster (default 4).

    >>> snap = cmf.snapshot(client, "snapshots/", orgs="nimbus-cloud/*", label="weekly")  # doctest: +SKIP
    """
    check_client(client)
    names = _collections(collections)
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {engine!r}")
    unknown = set(crawl) - set(CRAWL_OPTIONS)
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(sorted(unknown))}: snapshot takes "
            f"collections=, orgs=, label=, taken_at=, clean_incomplete= and "
            f"{', '.join(o + '=' for o in CRAWL_OPTIONS)}"
        )
    if label is not None and not isinstance(label, str):
        raise ConfigError(f"label must be a string, got {label!r}")
    path = _writable_root(root)
    endpoint_fp, credential_fp = endpoint_fingerprint(client.settings.endpoint), client.fingerprint
    previous = read_manifests(path)
    _check_same_key(path, credential_fp, previous)
    if clean_incomplete:
        remove_incomplete(path)
    stamp = _taken_at(taken_at)
    sid = _new_id(path, stamp)

    start, sent_before = ledger_marks(client), client.stats["sent"]
    tree = accessors.organizations(client, include_deleted=True, fresh=bool(crawl.get("fresh")))
    selected = select_organizations(tree, orgs)
    coverage_parts, issue_parts = [], []
    tag_window(client, start, "organizations", coverage_parts, issue_parts)
    task = ShardTask(sid, stamp, str(path), tuple(n for n in names if n != "organizations"),
                     endpoint_fp, dict(crawl))
    if engine == "dask":
        results = _sharded(client, task, selected, dask_client=dask_client, shards=shards,
                           max_concurrent_shards=max_concurrent_shards)
    else:
        results = [crawl_shard(client, task, selected, shard=1)]
    coverage = concat(coverage_parts + [r.coverage for r in results], coverage_frame([]))
    issues = concat(issue_parts + [r.issues for r in results], issues_frame([]))
    stamped = {"organizations": stamp_rows(tree, "organizations", coverage, sid=sid, taken_at=stamp),
               "coverage": _stamp_ledger(coverage, "read_at", sid, stamp),
               "issues": _stamp_ledger(issues, "when", sid, stamp)}
    parts = write_parts(path, sid, frames=stamped, taken_at=stamp, shard=0, endpoint_fingerprint=endpoint_fp)
    parts += [p for r in results for p in r.parts]
    drift.warn_live(
        {p.collection: {"schema": p.schema, "stats": p.stats} for p in parts},
        previous[-1] if previous else None,
    )
    manifest = write_manifest(
        path,
        sid,
        parts=parts,
        taken_at=stamp,
        endpoint_fingerprint=endpoint_fp,
        credential_fingerprint=credential_fp,
        label=label,
        selection=_selection_text(orgs, selected),
        organization_ids=[str(i) for i in selected["id"]],
        coverage=coverage_summary(coverage),
        issues=len(issues),
    )
    return Snapshot(
        sid, stamp, path, label,
        {n: manifest.rows(n) for n in ("organizations", *task.collections, "coverage", "issues")},
        issues, coverage, manifest,
        client.stats["sent"] - sent_before + sum(r.sent for r in results if engine == "dask"),
    )


def _sharded(client: Client, task: ShardTask, selected: pd.DataFrame, **dask: Any) -> list[ShardResult]:
    """The Dask engine (an optional extra: imported only when asked for)."""
    try:
        from .sharded import crawl_sharded
    except ImportError as error:
        raise ConfigError(f"engine='dask' needs Dask distributed ({error.name} is not installed): "
                          "pip install 'cloudmc-frames[dask]'") from None
    return crawl_sharded(client, task, selected, **dask)


def endpoint_fingerprint(endpoint: str) -> str:
    """A one-way tag of an endpoint URL (never the key)."""
    return hashlib.sha256(f"cloudmc-endpoint:{endpoint.rstrip('/')}".encode()).hexdigest()[:16]


def coverage_summary(coverage: pd.DataFrame) -> dict[str, Any]:
    """Scopes read, per status and per collection, and whether every one was read."""
    status = coverage["status"].astype(object)
    failed = ~status.isin(["ok", "empty"])
    by_collection = {}
    for name, part in coverage.groupby(coverage["collection"].astype(object), sort=True):
        bad = ~part["status"].astype(object).isin(["ok", "empty"])
        by_collection[str(name)] = {"scopes": int(len(part)), "failed": int(bad.sum())}
    return {
        "scopes": int(len(coverage)),
        "failed": int(failed.sum()),
        "complete": not bool(failed.any()),
        "by_status": {str(k): int(v) for k, v in status.value_counts().items()},
        "by_collection": by_collection,
    }


def _stamp_ledger(frame: pd.DataFrame, time_column: str, sid: str, taken_at: pd.Timestamp) -> pd.DataFrame:
    n = len(frame)
    return frame.reset_index(drop=True).assign(
        snapshot_id=pd.array([sid] * n, dtype="string"),
        snapshot_at=constant_times(taken_at, n),
        fetched_at=frame[time_column].astype(DATETIME).array,
        from_cache=(
            frame["from_cache"].array if "from_cache" in frame else pd.array([pd.NA] * n, dtype="boolean")
        ),
    )


def _collections(collections: Sequence[str] | None) -> list[str]:
    if collections is None:
        optional = [n for n in OPTIONAL_COLLECTIONS if n in readers()]
        return [*DEFAULT_COLLECTIONS, *optional]
    if isinstance(collections, str) or not all(isinstance(c, str) for c in collections):
        raise ConfigError(f"collections must be a list of names, got {collections!r}")
    known = set(readers()) | set(catalog.known_entity_types()) | {"organizations"}
    bad = [c for c in collections if c not in known or c in RESERVED]
    if bad:
        raise ConfigError(
            f"unknown collection(s) {', '.join(map(repr, bad))}: use "
            f"{', '.join(DEFAULT_COLLECTIONS)} or an entity type such as 'snapshots' "
            "('issues' and 'coverage' are always written)"
        )
    for name in collections:
        layout.check_collection(name)
    return ["organizations", *dict.fromkeys(c for c in collections if c != "organizations")]


def _writable_root(root: Any) -> Path:
    """``root`` created if needed and proven writable, before any request is sent."""
    if not isinstance(root, str | os.PathLike) or not str(root):
        raise ConfigError(f"root must be a folder path, got {root!r}")
    path = Path(root)
    probe = path / f".cmf-write-check-{secrets.token_hex(4)}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ConfigError(
            f"snapshot root {str(path)!r} is not writable ({error.strerror or error}): "
            "pick a folder you can write to"
        ) from None
    return path


def _check_same_key(root: Path, credential_fp: str, manifests: list[Manifest]) -> None:
    others = {m.credential_fingerprint for m in manifests} - {credential_fp}
    if others:
        raise ConfigError(
            f"snapshot root {str(root)!r} holds snapshots taken with another endpoint or "
            "API key; diffs across keys would mix what each key can see: use one root "
            "per endpoint and key"
        )


def remove_incomplete(root: Path) -> list[str]:
    """Remove the files of every snapshot without a manifest; return their ids."""
    ids = incomplete_ids(root)
    files = data_files(root)
    for sid in ids:
        for path in files.get(sid, ()):
            path.unlink(missing_ok=True)
    for folder in sorted(root.glob(f"*/{layout.PARTITION}=*"), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
    if ids:
        log.info("removed %d incomplete snapshot(s) from %s: %s", len(ids), root, ", ".join(ids))
    return ids


def _taken_at(value: Any) -> pd.Timestamp:
    if value is None:
        return pd.Timestamp.now(tz="UTC")
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ConfigError(f"taken_at must be a datetime or an ISO string, got {value!r}") from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _new_id(root: Path, taken_at: pd.Timestamp) -> str:
    """A snapshot id no file or manifest of ``root`` uses yet."""
    used = set(data_files(root)) | {m.stem for m in (root / layout.MANIFESTS).glob("*.json")}
    while True:
        sid = layout.snapshot_id(taken_at)
        if sid not in used:
            return sid


def _selection_text(orgs: Any, selected: pd.DataFrame) -> str:
    which = (
        "every visible organization"
        if orgs is None
        else f"orgs={orgs!r}"
        if isinstance(orgs, str | list | tuple)
        else f"orgs from a {type(orgs).__name__}"
    )
    return f"{len(selected)} organizations ({which})"

"""Reading snapshots back: the list of snapshots, ``at=`` resolution, and ``load`` (pyarrow).

``load`` reads the files the manifest names (never a stray or half-written file), restores the
live accessor's dtypes from the stored column kinds, and filters organizations and columns.
Only complete snapshots (with a manifest) are read; ``snapshots(root, include_incomplete=True)``
also lists the ones without.

Example::

    >>> cmf.snapshots(root)[["snapshot_id", "taken_at", "label", "rows_instances"]]   # doctest: +SKIP
    >>> vms = cmf.load(root, "instances", at="2026-12-01", orgs="acme/*")                # doctest: +SKIP
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ConfigError, SnapshotError
from ..frames import DATETIME
from . import layout
from .manifest import Manifest, incomplete_ids, read_manifests
from .schema import restore

ALIASES = ("latest", "previous")


def check_root(root: Any, *, must_exist: bool = True) -> Path:
    """``root`` as a Path; ConfigError when it is not a path (or, by default, not a folder)."""
    if not isinstance(root, str | os.PathLike) or not str(root):
        raise ConfigError(f"root must be a folder path, got {root!r}")
    path = Path(root)
    if must_exist and not path.is_dir():
        raise ConfigError(
            f"snapshot root {str(path)!r} is not a folder (cmf.snapshot(client, root) creates one)"
        )
    return path


def snapshots(root: str | os.PathLike, *, include_incomplete: bool = False) -> pd.DataFrame:
    """One row per snapshot of ``root``, oldest first.

    Columns: id, time, label, fingerprints, rows per collection (``rows_<collection>``), issues,
    ``partial`` (some scope unreadable), ``complete``.

    ``complete`` is False for a snapshot with files but no manifest (a crash, or shards still
    writing): listed only with ``include_incomplete=True``, and never read by ``load``.

    >>> cmf.snapshots("snapshots/")[["snapshot_id", "taken_at", "partial"]]  # doctest: +SKIP
    """
    path = check_root(root)
    manifests = read_manifests(path)
    rows = [_row(m) for m in manifests]
    if include_incomplete:
        rows += [
            {"snapshot_id": sid, "taken_at": layout.taken_at_of(sid), "complete": False}
            for sid in incomplete_ids(path, manifests)
        ]
    collections = sorted({c for m in manifests for c in m.collections})
    columns = [
        "snapshot_id",
        "taken_at",
        "label",
        "endpoint_fingerprint",
        "credential_fingerprint",
        "selection",
        *(f"rows_{c}" for c in collections),
        "issues",
        "partial",
        "complete",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    kinds = {
        "snapshot_id": "string",
        "label": "string",
        "endpoint_fingerprint": "string",
        "credential_fingerprint": "string",
        "selection": "string",
        "issues": "Int64",
        "partial": "boolean",
        "complete": "boolean",
        **{f"rows_{c}": "Int64" for c in collections},
    }
    frame = frame.astype(kinds)
    frame["taken_at"] = pd.to_datetime(frame["taken_at"], utc=True).astype(DATETIME)
    return frame.sort_values("snapshot_id", kind="stable").reset_index(drop=True)


def _row(m: Manifest) -> dict[str, Any]:
    return {
        "snapshot_id": m.snapshot_id,
        "taken_at": pd.Timestamp(m.taken_at),
        "label": m.label,
        "endpoint_fingerprint": m.endpoint_fingerprint,
        "credential_fingerprint": m.credential_fingerprint,
        "selection": m.selection,
        **{f"rows_{c}": e.get("rows", 0) for c, e in m.collections.items()},
        "issues": m.issues,
        "partial": m.partial,
        "complete": True,
    }


def resolve(root: Path, at: Any, *, manifests: Sequence[Manifest] | None = None) -> Manifest:
    """The complete snapshot ``at`` names: an id, ``"latest"``, ``"previous"``, or a date
    (the last snapshot taken on or before that UTC day); ConfigError listing what exists."""
    manifests = list(read_manifests(root) if manifests is None else manifests)
    if isinstance(at, Manifest):
        return at
    if isinstance(at, str) and at in ALIASES:
        keys = {m.credential_fingerprint for m in manifests}
        if len(keys) > 1:
            raise SnapshotError(
                f"{root} holds snapshots of {len(keys)} endpoints or keys: name the "
                "snapshots by id (see cmf.snapshots(root)) instead of at='{at}'"
            )
        wanted = -1 if at == "latest" else -2
        if len(manifests) >= -wanted:
            return manifests[wanted]
    elif isinstance(at, str) and layout.is_snapshot_id(at):
        for manifest in manifests:
            if manifest.snapshot_id == at:
                return manifest
        if at in incomplete_ids(root, manifests):
            raise SnapshotError(
                f"snapshot {at} is incomplete (it has no manifest: it crashed or is "
                "still being written); see cmf.snapshots(root, include_incomplete=True)"
            )
    else:
        day = _day(at)
        if day is not None:
            end = day + pd.Timedelta(days=1)
            before = [m for m in manifests if pd.Timestamp(m.taken_at) < end]
            if before:
                return before[-1]
    raise ConfigError(f"at={at!r} names no complete snapshot in {root}. {_existing(manifests)}")


def _day(at: Any) -> pd.Timestamp | None:
    if isinstance(at, str):
        try:
            stamp = pd.Timestamp(at)
        except ValueError:
            return None
    elif isinstance(at, date):  # datetime and pd.Timestamp too
        stamp = pd.Timestamp(at)
    else:
        return None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.normalize()


def _existing(manifests: Sequence[Manifest]) -> str:
    if not manifests:
        return "It holds no complete snapshot: take one with cmf.snapshot(client, root)."
    names = [f"{m.snapshot_id} ({m.label})" if m.label else m.snapshot_id for m in manifests[-5:]]
    more = f" (the last 5 of {len(manifests)})" if len(manifests) > 5 else ""
    return (
        f"Snapshots{more}: {', '.join(names)}; at= also takes 'latest', 'previous' or a date "
        "such as '2026-12-01'"
    )


def load(
    root: str | os.PathLike,
    collection: str,
    *,
    at: Any = "latest",
    orgs: Any = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One collection of one snapshot, with exactly the live accessor's dtypes.

    ``at``: a snapshot id, ``"latest"``, ``"previous"`` or a date (the last snapshot on or before
    it). ``orgs``: organization ids or path patterns (``"acme/*"``). ``columns``: a subset.
    The per-row columns ``snapshot_id``, ``snapshot_at``, ``fetched_at``, ``from_cache`` follow
    the collection's own.

    >>> vms = cmf.load("snapshots/", "instances", at="previous", orgs="nimbus-cloud/*")  # doctest: +SKIP
    """
    path = check_root(root)
    manifest = resolve(path, at)
    entry = collection_entry(manifest, collection)
    schema = entry["schema"]
    if columns is not None:
        unknown = [c for c in columns if c not in schema]
        if unknown or isinstance(columns, str):
            raise ConfigError(
                f"columns must be a list of column names of {collection}; unknown: "
                f"{unknown or columns!r}. Known: {', '.join(list(schema)[:12])}, ..."
            )
        columns = list(columns)
    table = read_table(path, entry["files"], columns=_with_filter_columns(columns, orgs, schema))
    frame = restore(table.to_pandas(), schema)
    if orgs is not None:
        frame = frame[select_rows(frame, orgs)].reset_index(drop=True)
    return frame if columns is None else frame[columns]


def collection_entry(manifest: Manifest, collection: str) -> dict[str, Any]:
    """The manifest's entry for ``collection``; ConfigError naming what the snapshot has."""
    entry = manifest.collections.get(collection)
    if entry is None:
        raise ConfigError(
            f"snapshot {manifest.snapshot_id} has no collection {collection!r} (it has "
            f"{', '.join(sorted(manifest.collections)) or 'none'})"
        )
    return entry


def read_table(root: Path, files: Sequence[str], *, columns: Sequence[str] | None = None) -> pa.Table:
    """The named part files as one Arrow table; SnapshotError naming a damaged or missing file."""
    tables = []
    for name in files:
        path = root / name
        try:
            tables.append(pq.read_table(path, columns=columns, partitioning=None))
        except (OSError, pa.ArrowException) as error:
            raise SnapshotError(
                f"snapshot file {path} cannot be read ({type(error).__name__}: "
                f"{' '.join(str(error).split())[:200]}); other snapshots still load"
            ) from None
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="default")


def _with_filter_columns(columns: list[str] | None, orgs: Any, schema: dict) -> list[str] | None:
    if columns is None or orgs is None:
        return columns
    extra = [c for c in ("organization_id", "organization_path", "id", "path") if c in schema]
    return list(dict.fromkeys([*columns, *extra]))


def select_rows(frame: pd.DataFrame, orgs: Any) -> pd.Series:
    """Rows whose organization id is in ``orgs`` or whose path matches one of its patterns."""
    items = (
        [orgs]
        if isinstance(orgs, str)
        else list(orgs)
        if isinstance(orgs, list | tuple | set | frozenset | pd.Series)
        else None
    )
    if items is None or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"orgs must be an organization id, a path pattern or a list of them, got {orgs!r}")
    id_col, path_col = (
        ("organization_id", "organization_path") if "organization_id" in frame else ("id", "path")
    )
    ids = frame[id_col].astype(object) if id_col in frame else pd.Series(None, index=frame.index)
    paths = frame[path_col].astype(object) if path_col in frame else pd.Series(None, index=frame.index)
    keep = ids.isin(items).to_numpy().copy()
    for pattern in items:
        keep |= [isinstance(p, str) and fnmatch.fnmatchcase(p, pattern) for p in paths]
    return pd.Series(keep, index=frame.index)

"""Writing a snapshot: Parquet parts per collection, then the manifest (pyarrow).

Two steps, so a snapshot can be written by several processes (a sharded crawl, e.g. Dask
workers): each shard calls :func:`write_parts` with its own frames and shard number (files carry
it in their names, so shards never collide) and returns :class:`PartsWritten` records; when every
shard is done, one process calls :func:`write_manifest` with all of them. Until then the
snapshot has no manifest and is never read as complete.

Each file holds one collection's rows sorted by organization, environment and id, plus the
per-row columns ``snapshot_id``, ``snapshot_at``, ``fetched_at``, ``from_cache``; its Parquet
key-value metadata (``cloudmc_frames``) holds the toolkit version, snapshot id, collection,
shard, endpoint fingerprint, column kinds and schema fingerprint. ``json`` columns are stored as
JSON text and described to pandas as text, so readers without this toolkit (Dask, plain pandas)
read them too.

Example::

    >>> parts = write_parts(root, sid, frames={"instances": vms}, taken_at=now, shard=0)   # doctest: +SKIP
    >>> write_manifest(root, sid, parts=parts, taken_at=now, endpoint_fingerprint=e,      # doctest: +SKIP
    ...                credential_fingerprint=c)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .._version import __version__
from ..errors import SnapshotError
from . import layout
from .manifest import Manifest, write_manifest_file
from .schema import field_stats, fingerprint, schema_of

META_KEY = b"cloudmc_frames"
SORT_KEYS = ("organization_id", "environment_id", "id")
MAX_ROWS_PER_FILE = 2_000_000
ROW_GROUP_ROWS = 122_880  # DuckDB's default row group


@dataclass(frozen=True)
class PartsWritten:
    """What one shard wrote for one collection (picklable: shards send it to the coordinator)."""

    collection: str
    shard: int
    files: tuple[str, ...]  # relative to the root, '/'-separated
    rows: int
    schema: dict[str, str] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


def with_row_columns(frame: pd.DataFrame, sid: str, taken_at: pd.Timestamp) -> pd.DataFrame:
    """``frame`` plus the per-row snapshot columns it lacks (``fetched_at``/``from_cache`` missing)."""
    n = len(frame)
    if all(k in frame for k in layout.ROW_COLUMNS):
        return frame
    extra = {
        "snapshot_id": pd.array([sid] * n, dtype="string"),
        "snapshot_at": constant_times(taken_at, n),
        "fetched_at": constant_times(None, n),
        "from_cache": pd.array(np.full(n, pd.NA, dtype=object), dtype="boolean"),
    }
    missing = {k: v for k, v in extra.items() if k not in frame}
    return pd.concat([frame.reset_index(drop=True), pd.DataFrame(missing, index=pd.RangeIndex(n))], axis=1)


def constant_times(stamp: pd.Timestamp | None, n: int) -> pd.api.extensions.ExtensionArray:
    """``n`` copies of one UTC time (NaT for None) as a UTC datetime array, without a Python loop."""
    value = (
        np.datetime64("NaT", "ns") if stamp is None else pd.Timestamp(stamp).tz_convert(None).to_datetime64()
    )
    return pd.array(np.full(n, value, dtype="datetime64[ns]")).tz_localize("UTC")


def write_parts(
    root: str | os.PathLike,
    sid: str,
    *,
    frames: Mapping[str, pd.DataFrame],
    taken_at: pd.Timestamp,
    shard: int = 0,
    endpoint_fingerprint: str = "",
    max_rows_per_file: int = MAX_ROWS_PER_FILE,
) -> list[PartsWritten]:
    """Write one shard's frames of snapshot ``sid``; return what was written, per collection.

    Every collection gets at least one file (an empty one keeps its schema), so a reader can
    tell "no rows" from "not collected".
    """
    if not layout.is_snapshot_id(sid):
        raise SnapshotError(f"not a snapshot id: {sid!r}")
    if not isinstance(shard, int) or isinstance(shard, bool) or shard < 0:
        raise SnapshotError(f"shard must be a non-negative integer, got {shard!r}")
    taken_at = pd.Timestamp(taken_at).tz_convert("UTC")
    written = []
    for collection, frame in frames.items():
        folder = layout.partition_dir(Path(root), collection, taken_at)
        folder.mkdir(parents=True, exist_ok=True)
        full = with_row_columns(frame, sid, taken_at)
        schema = schema_of(full)
        table = _table(
            full,
            schema,
            sid=sid,
            collection=collection,
            shard=shard,
            endpoint_fingerprint=endpoint_fingerprint,
        )
        files = []
        for part, start in enumerate(range(0, max(len(full), 1), max_rows_per_file)):
            path = folder / layout.part_name(sid, shard=shard, part=part)
            _write_file(table.slice(start, max_rows_per_file), path)
            files.append(path.relative_to(root).as_posix())
        written.append(PartsWritten(collection, shard, tuple(files), len(full), schema, field_stats(table)))
    return written


def _table(frame: pd.DataFrame, schema: dict[str, str], **meta: Any) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    keys = [(k, "ascending") for k in SORT_KEYS if k in frame.columns]
    if keys and table.num_rows > 1:
        table = table.sort_by(keys)
    metadata = dict(table.schema.metadata or {})
    if b"pandas" in metadata:  # json columns are text to any reader; cmf.load restores them
        pandas_meta = json.loads(metadata[b"pandas"])
        for column in pandas_meta.get("columns", ()):
            if schema.get(column.get("name")) == "json":
                column["numpy_type"], column["pandas_type"] = "object", "unicode"
        metadata[b"pandas"] = json.dumps(pandas_meta).encode()
    metadata[META_KEY] = json.dumps(
        {"toolkit_version": __version__, **meta, "schema": schema, "schema_fingerprint": fingerprint(schema)}
    ).encode()
    return table.replace_schema_metadata(metadata)


def _write_file(table: pa.Table, path: Path) -> None:
    """Write to a hidden temporary name, then rename: a crash never leaves a half file behind."""
    if path.exists():
        raise SnapshotError(f"{path} already exists: a snapshot never overwrites a file")
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, temporary, row_group_size=ROW_GROUP_ROWS)
    os.replace(temporary, path)


def write_manifest(
    root: str | os.PathLike,
    sid: str,
    *,
    parts: Sequence[PartsWritten],
    taken_at: pd.Timestamp,
    endpoint_fingerprint: str,
    credential_fingerprint: str,
    label: str | None = None,
    selection: str = "",
    organization_ids: Sequence[str] = (),
    coverage: Mapping[str, Any] | None = None,
    issues: int = 0,
) -> Manifest:
    """Merge every shard's :class:`PartsWritten` and write the manifest (last, atomically)."""
    collections: dict[str, dict[str, Any]] = {}
    for written in sorted(parts, key=lambda p: (p.collection, p.shard)):
        entry = collections.setdefault(
            written.collection,
            {
                "rows": 0,
                "files": [],
                "schema": written.schema,
                "schema_fingerprint": fingerprint(written.schema),
                "stats": {},
            },
        )
        if written.schema != entry["schema"]:
            raise SnapshotError(
                f"shard {written.shard} wrote {written.collection} with other columns "
                "than the other shards: every shard must build frames the same way"
            )
        entry["rows"] += written.rows
        entry["files"].extend(written.files)
        _merge_stats(entry["stats"], written.stats)
    missing = [f for entry in collections.values() for f in entry["files"] if not (Path(root) / f).is_file()]
    if missing:
        raise SnapshotError(f"snapshot {sid}: {len(missing)} part file(s) are missing, e.g. {missing[0]}")
    manifest = Manifest(
        snapshot_id=sid,
        taken_at=pd.Timestamp(taken_at).tz_convert("UTC").isoformat(),
        endpoint_fingerprint=endpoint_fingerprint,
        credential_fingerprint=credential_fingerprint,
        label=label,
        toolkit_version=__version__,
        selection=selection,
        organization_ids=tuple(organization_ids),
        shards=len({p.shard for p in parts}) or 1,
        collections=collections,
        coverage=dict(coverage or {}),
        issues=int(issues),
    )
    write_manifest_file(Path(root), manifest)
    return manifest


def _merge_stats(into: dict[str, Any], stats: Mapping[str, Any]) -> None:
    for group, facts in stats.items():
        mine = into.setdefault(group, {"rows": 0, "present": {}, "values": {}})
        mine["rows"] += facts["rows"]
        for name, count in facts["present"].items():
            mine["present"][name] = mine["present"].get(name, 0) + count
        for name, counts in facts["values"].items():
            seen = mine["values"].setdefault(name, {})
            for value, count in counts.items():
                seen[value] = seen.get(value, 0) + count

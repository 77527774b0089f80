"""History: crawls kept as Parquet datasets that DuckDB, pyarrow, Spark and Dask read, a diff that
knows what it did not see, and schema drift.

Modules (one job each): :mod:`.layout` (paths and ids), :mod:`.manifest` (the manifest, written
last), :mod:`.schema` (column kinds, dtype restoration, field statistics), :mod:`.writer`
(Parquet parts per shard, then the manifest), :mod:`.take` (``snapshot``: crawl and write),
:mod:`.reader` (``snapshots``, ``load``), :mod:`.query` (DuckDB views), :mod:`.scopes` (was a
row's scope read? pure), :mod:`.diff` (the entry point), :mod:`.compare` (what both engines
share, and the pandas engine), :mod:`.diff_duckdb` (the DuckDB engine), :mod:`.drift` (schema
drift, pure classification). pyarrow and duckdb are imported only here.

Layout::

    <root>/<collection>/snapshot_date=YYYY-MM-DD/<snapshot_id>-<shard>-<part>.parquet
    <root>/_manifests/<snapshot_id>.json      # written last, atomically; no manifest = incomplete

A sharded crawl (several processes, e.g. Dask workers) writes one snapshot with
:func:`write_parts` per shard (its own files, the shard number in their names) and one
:func:`write_manifest` when every shard is done.

Example::

    >>> import cloudmc_frames as cmf
    >>> with cmf.sandbox() as sb:                                            # doctest: +SKIP
    ...     first = cmf.snapshot(sb.client(), "history/", label="monday")
    ...     second = cmf.snapshot(sb.client(), "history/", label="tuesday")
    >>> cmf.diff("history/", "instances").summary                             # doctest: +SKIP
    >>> cmf.query("history/", "SELECT snapshot_date, count(*) FROM instances GROUP BY 1")  # doctest: +SKIP
"""

from .diff import Diff, diff
from .drift import schema_drift
from .manifest import Manifest
from .query import query
from .reader import load, snapshots
from .take import Snapshot, snapshot
from .writer import PartsWritten, write_manifest, write_parts

__all__ = [
    "Diff",
    "Manifest",
    "PartsWritten",
    "Snapshot",
    "diff",
    "load",
    "query",
    "schema_drift",
    "snapshot",
    "snapshots",
    "write_manifest",
    "write_parts",
]

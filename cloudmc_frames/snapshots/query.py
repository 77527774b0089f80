"""``cmf.query``: SQL over every complete snapshot of a root, with DuckDB.

One view per collection (``instances``, ``volumes``, ``issues``, ``coverage``, ...) over the
part files that manifests name (so a crashed or half-written snapshot never shows), read with
``hive_partitioning`` (``snapshot_date`` typed DATE) and ``union_by_name`` (a column added in a
later snapshot is NULL in older ones); plus a ``manifests`` view (``cmf.snapshots(root)``: one
row per snapshot; ``snapshots`` is CloudStack's volume snapshots collection).

The same files, read by other engines::

    duckdb:   SELECT * FROM read_parquet('<root>/instances/*/*.parquet', hive_partitioning=true,
                                         union_by_name=true, hive_types={'snapshot_date': DATE})
    pyarrow:  pyarrow.dataset.dataset('<root>/instances', format='parquet',
                  partitioning=pyarrow.dataset.partitioning(
                      pyarrow.schema([('snapshot_date', pyarrow.date32())]), flavor='hive'))
    Spark:    spark.read.option('basePath', '<root>/instances')
                  .parquet('<root>/instances/snapshot_date=2026-12-*')
    Dask:     dask.dataframe.read_parquet('<root>/instances', dataset={'partitioning': 'hive'})

Files outside a manifest (a crash between the data files and the manifest) are visible to those
engines: filter on ``snapshot_id`` from ``cmf.snapshots(root)``, or clean them up with
``cmf.snapshot(..., clean_incomplete=True)``.

Example::

    >>> cmf.query("snapshots/", "SELECT snapshot_date, count(*) FROM instances GROUP BY 1")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError, SnapshotError
from .manifest import Manifest, read_manifests
from .reader import check_root, snapshots


def connect(root: Path, manifests: list[Manifest]) -> Any:
    """An in-memory DuckDB with one view per collection of ``manifests`` (UTC session)."""
    import duckdb  # ~0.2 s: only when a query runs

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files: dict[str, list[str]] = {}
    for manifest in manifests:
        for collection, entry in manifest.collections.items():
            files.setdefault(collection, []).extend(str(root / f) for f in entry["files"])
    for collection, paths in files.items():
        con.execute(f"CREATE VIEW {_ident(collection)} AS SELECT * FROM {parquet_source(paths)}")
    return con


def parquet_source(paths: list[str]) -> str:
    """A DuckDB ``read_parquet`` call over ``paths`` with the snapshot reading options."""
    listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    return (
        f"read_parquet([{listed}], hive_partitioning = true, union_by_name = true, "
        "hive_types = {'snapshot_date': DATE})"
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def query(root: str | os.PathLike, sql: str) -> pd.DataFrame:
    """Run ``sql`` with DuckDB over the complete snapshots of ``root``; return a pandas frame.

    Views: one per collection (every snapshot's rows, with ``snapshot_id`` and the ``snapshot_date``
    partition as a DATE) and ``manifests`` (one row per snapshot, as ``cmf.snapshots(root)``).

    >>> cmf.query(root, "SELECT snapshot_id, count(*) FROM instances GROUP BY 1")  # doctest: +SKIP
    """
    path = check_root(root)
    if not isinstance(sql, str) or not sql.strip():
        raise ConfigError(f"sql must be a query string, got {sql!r}")
    import duckdb

    manifests = read_manifests(path)
    con = None
    try:
        con = connect(path, manifests)
        con.register("_cmf_manifests", snapshots(path))
        con.execute("CREATE VIEW manifests AS SELECT * FROM _cmf_manifests")
        return con.execute(sql).df()
    except duckdb.Error as error:
        text = " ".join(str(error).split())[:300]
        if str(path) in str(error):  # DuckDB names the file it could not read
            raise SnapshotError(f"a snapshot file of {path} cannot be read: {text}") from None
        raise ConfigError(f"query failed: {text}") from None
    finally:
        if con is not None:
            con.close()

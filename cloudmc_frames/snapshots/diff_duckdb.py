"""The DuckDB engine of ``cmf.diff``: two snapshots on disk compared where they lie.

Each side is scanned once into (key, organization, a hash of every compared column); rows
whose hashes differ are the candidates, and only they are joined in full and compared column by
column (``IS DISTINCT FROM``, or the tolerance), so only changed values are turned into text and
brought into Python. (Two different rows with the same 64-bit hash would go unnoticed: about
one chance in 10^14 for a million changed rows.) Added rows and rows missing from the newer snapshot
come back as Arrow and get the snapshot's dtypes; the coverage decision is the same pure function
the pandas engine uses.

Example::

    >>> d = diff_files("snapshots/", "instances", a="previous", b="latest")   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from ..errors import ConfigError, SnapshotError
from .compare import (
    NUMERIC,
    Diff,
    _columns,
    _keys,
    changed_frame,
    duckdb_text,
    finish,
    restore_arrow,
)
from .manifest import Manifest, read_manifests
from .reader import check_root, collection_entry, load, resolve


def diff_files(
    root: str | os.PathLike,
    collection: str,
    *,
    a: Any = "previous",
    b: Any = "latest",
    key: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    tolerance: Mapping[str, float] | None = None,
) -> Diff:
    """``cmf.diff(root, collection, ...)`` computed by DuckDB on the two snapshots' files."""
    path = check_root(root)
    manifests = read_manifests(path)
    older, newer = resolve(path, a, manifests=manifests), resolve(path, b, manifests=manifests)
    if older.snapshot_id == newer.snapshot_id:
        raise ConfigError(f"a and b name the same snapshot ({older.snapshot_id}): nothing to compare")
    if older.snapshot_id > newer.snapshot_id:
        older, newer = newer, older
    if older.credential_fingerprint != newer.credential_fingerprint:
        raise SnapshotError(
            f"snapshots {older.snapshot_id} and {newer.snapshot_id} were taken with "
            "different endpoints or API keys: a diff would mix what each can see"
        )
    entry_a, entry_b = _entries(older, newer, collection)
    keys = _keys(collection, key, list(entry_a["schema"]), list(entry_b["schema"]))
    columns, notes = _columns(entry_a["schema"], entry_b["schema"], keys, ignore, tolerance)
    tolerance = dict(tolerance or {})
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        org = "organization_id" if "organization_id" in entry_a["schema"] else "id"
        hashed = [c for c in columns if c not in tolerance and entry_a["schema"][c] == entry_b["schema"][c]]
        apart = [c for c in columns if c not in hashed]  # tolerance or type change: compared one by one
        key_list = ", ".join(_q(k) for k in keys)
        for name, entry in (("a", entry_a), ("b", entry_b)):
            files = ", ".join("'" + str(path / f).replace("'", "''") + "'" for f in entry["files"])
            con.execute(
                f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{files}], "
                "hive_partitioning = false, union_by_name = true)"
            )
            # one row per record: key, organization, a hash of every compared column (and the few
            # compared apart); the files are scanned once here, not once per column
            digest = f"hash({', '.join(_q(c) for c in hashed)})" if hashed else "0"
            extra = "".join(f", {_q(c)}" for c in apart)
            con.execute(
                f"CREATE TEMP TABLE k{name} AS SELECT {key_list}, {_q(org)} AS _org, "
                f"{digest} AS _h{extra} FROM {name}"
            )
        _check_unique(con, keys)
        on = " AND ".join(f"ka.{_q(k)} = kb.{_q(k)}" for k in keys)
        differs = ["ka._h <> kb._h"]
        for column in apart:
            if column in tolerance:
                old, new = f"ka.{_q(column)}", f"kb.{_q(column)}"
                differs.append(
                    f"(({old} IS NULL) <> ({new} IS NULL)) OR abs(CAST({old} AS DOUBLE) - "
                    f"CAST({new} AS DOUBLE)) > {float(tolerance[column])!r}"
                )
            else:
                differs.append(f"ka.{_q(column)}::VARCHAR IS DISTINCT FROM kb.{_q(column)}::VARCHAR")
        con.execute(
            f"CREATE TEMP TABLE ck AS SELECT {', '.join(f'ka.{_q(k)}' for k in keys)} "
            f"FROM ka JOIN kb ON {on} WHERE {' OR '.join(f'({d})' for d in differs)}"
        )
        added = restore_arrow(
            _arrow(
                con,
                f"SELECT * FROM b SEMI JOIN (SELECT {key_list} FROM kb "
                f"ANTI JOIN ka USING ({key_list})) x USING ({key_list})",
            ),
            entry_b["schema"],
        )
        gone = restore_arrow(
            _arrow(
                con,
                f"SELECT * FROM a SEMI JOIN (SELECT {key_list} FROM ka "
                f"ANTI JOIN kb USING ({key_list})) x USING ({key_list})",
            ),
            entry_a["schema"],
        )
        select = ", ".join(
            [
                *(f"a.{_q(k)} AS {_q(k)}" for k in keys),
                f"a.{_q(org)} AS _org",
                *(f"a.{_q(c)} AS {_q('a:' + c)}, b.{_q(c)} AS {_q('b:' + c)}" for c in columns),
            ]
        )
        join_on = " AND ".join(f"a.{_q(k)} = b.{_q(k)}" for k in keys)
        con.execute(
            f"CREATE TEMP TABLE j AS SELECT {select} "
            f"FROM (SELECT * FROM a SEMI JOIN ck USING ({key_list})) a "
            f"JOIN (SELECT * FROM b SEMI JOIN ck USING ({key_list})) b ON {join_on}"
        )
        pieces = _changes(con, keys, columns, entry_a["schema"], entry_b["schema"], tolerance)
        counts = con.sql(
            f"SELECT CAST(_org AS VARCHAR) AS org, count(*) AS n FROM ka "
            f"SEMI JOIN kb USING ({key_list}) GROUP BY 1"
        ).fetchall()
        joined = pd.Series(dict(counts), dtype="int64")
    except duckdb.Error as error:
        raise SnapshotError(
            f"diff of {collection} failed in DuckDB: {' '.join(str(error).split())[:300]}"
        ) from None
    finally:
        con.close()
    changed = changed_frame(pieces, keys)
    context = {
        name: load(path, name, at=newer.snapshot_id)
        for name in ("coverage", "issues", "organizations")
        if name in newer.collections
    }
    tree_a = (
        load(path, "organizations", at=older.snapshot_id) if "organizations" in older.collections else None
    )
    paths = {}
    for tree in (tree_a, context.get("organizations")):
        if tree is not None:
            paths.update(dict(zip(tree["id"].astype(object), tree["path"].astype(object), strict=False)))
    return finish(
        collection,
        older.snapshot_id,
        newer.snapshot_id,
        keys,
        added,
        gone,
        changed,
        joined,
        notes=notes,
        engine="duckdb",
        columns=columns,
        coverage=context.get("coverage"),
        issues=context.get("issues"),
        tree=context.get("organizations"),
        selected=list(newer.organization_ids),
        paths=paths,
    )


def _entries(older: Manifest, newer: Manifest, collection: str) -> tuple[dict, dict]:
    in_a, in_b = collection in older.collections, collection in newer.collections
    if in_a and in_b:
        return collection_entry(older, collection), collection_entry(newer, collection)
    which = [s.snapshot_id for s, present in ((older, in_a), (newer, in_b)) if not present]
    raise ConfigError(
        f"collection {collection!r} is not in snapshot {' nor '.join(which)}"
        f"{' (the older one: taken before it was collected)' if in_b else ''}: nothing to "
        f"compare. {older.snapshot_id} has {', '.join(sorted(older.collections))}; "
        f"{newer.snapshot_id} has {', '.join(sorted(newer.collections))}"
    )


def _check_unique(con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> None:
    listed = ", ".join(_q(k) for k in keys)
    for name, side in (("ka", "older"), ("kb", "newer")):
        repeated = con.sql(f"SELECT {listed} FROM {name} GROUP BY ALL HAVING count(*) > 1 LIMIT 3").fetchall()
        if repeated:
            raise ConfigError(
                f"key {list(keys)} does not identify rows of the {side} snapshot "
                f"(repeated: {repeated}); pass key=[...] with more columns"
            )


def _changes(
    con: Any,
    keys: Sequence[str],
    columns: Sequence[str],
    kinds_a: Mapping[str, str],
    kinds_b: Mapping[str, str],
    tolerance: Mapping[str, float],
) -> list[pd.DataFrame]:
    """Every changed value, as text, in one query (one filter per compared column)."""
    select_keys = ", ".join(f"CAST({_q(k)} AS VARCHAR) AS {_q(k)}" for k in keys)
    branches = []
    for column in columns:
        old, new = _q("a:" + column), _q("b:" + column)
        kind_a, kind_b = kinds_a[column], kinds_b[column]
        old_text, new_text = duckdb_text(old, kind_a), duckdb_text(new, kind_b)
        if kind_a != kind_b:  # a type change: compare the text
            where = f"{old_text} IS DISTINCT FROM {new_text}"
        elif column in tolerance and kind_a in NUMERIC:
            where = (
                f"(({old} IS NULL) <> ({new} IS NULL)) OR abs(CAST({old} AS DOUBLE) - "
                f"CAST({new} AS DOUBLE)) > {float(tolerance[column])!r}"
            )
        else:
            where = f"{old} IS DISTINCT FROM {new}"
        label = column.replace("'", "''")
        branches.append(
            f"SELECT {select_keys}, CAST(_org AS VARCHAR) AS organization_id, "
            f"'{label}' AS \"column\", {old_text} AS old, {new_text} AS new FROM j WHERE {where}"
        )
    if not branches:
        return []
    frame = con.sql(" UNION ALL ".join(branches)).df()
    return [frame] if len(frame) else []


def _arrow(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """A query's result as an Arrow table (the method name changed across DuckDB versions)."""
    relation = con.sql(sql)
    for name in ("to_arrow_table", "fetch_arrow_table", "arrow"):
        method = getattr(relation, name, None)
        if method is not None:
            result = method()
            return result if isinstance(result, pa.Table) else result.read_all()
    raise SnapshotError("this DuckDB version cannot return Arrow tables")  # pragma: no cover


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'

"""The pieces of ``cmf.diff`` both engines share, and the pandas engine (pure: no files).

:class:`Diff` (the result), the key and column choices, :func:`finish` (removed vs not covered,
sorting, counts per organization), :func:`compare_frames` (the pandas engine) and the canonical
text of values (:func:`as_text` in Python, :func:`duckdb_text` in SQL: the same text).

Example::

    >>> as_text(pd.Series([True, None], dtype="boolean"), "boolean")
    ['true', None]
"""


from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, SnapshotError
from ..jsonarray import canonical
from . import layout
from .schema import restore
from .scopes import GONE, verdicts

DEFAULT_KEYS: dict[str, tuple[str, ...]] = {
    "organizations": ("id",),
    "users": ("id",),
    "environments": ("id",),
    "activity_log": ("id",),
    "environment_members": ("environment_id", "id"),
    "service_connections": ("organization_id", "id"),
    "quotas": ("organization_id", "quota_id", "detail_id"),
    "usage_summary": ("organization_id", "service_connection_id", "service_connection_pricing_id",
                      "usage_type", "secondary_type", "start_date"),
}
RESOURCE_KEY = ("environment_id", "id")
SKIPPED = (*layout.ROW_COLUMNS, layout.PARTITION)
SUMMARY_COLUMNS = (
    "collection",
    "organization_id",
    "organization_path",
    "added",
    "removed",
    "changed",
    "unchanged",
    "not_covered",
)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
NUMERIC = ("Int64", "Float64")


@dataclass(eq=False)
class Diff:
    """The differences of one collection between snapshots ``a`` (older) and ``b`` (newer).

    ``added``/``removed``: full rows; ``changed``: ``key..., organization_id, column, old, new``;
    ``not_covered``: rows of ``a`` missing from ``b`` whose scope ``b`` did not read completely,
    with ``reason``; ``unchanged``: rows equal in both; ``summary``: counts per organization;
    ``notes``: columns only one side has, and similar facts.
    """

    collection: str
    a: str
    b: str
    key: tuple[str, ...]
    added: pd.DataFrame
    removed: pd.DataFrame
    changed: pd.DataFrame
    not_covered: pd.DataFrame
    unchanged: int
    summary: pd.DataFrame
    notes: tuple[str, ...] = ()
    engine: str = "pandas"
    columns: tuple[str, ...] = field(default=(), repr=False)

    def __repr__(self) -> str:
        return (
            f"<Diff {self.collection} {self.a} -> {self.b}: {len(self.added)} added, "
            f"{len(self.removed)} removed, {self.changed_rows} changed, {self.unchanged} unchanged, "
            f"{len(self.not_covered)} not covered>"
        )

    @property
    def changed_rows(self) -> int:
        """How many rows have at least one changed column."""
        return int(len(self.changed[list(self.key)].drop_duplicates())) if len(self.changed) else 0



# -- shared by both engines -----------------------------------------------------------------------


def _keys(collection: str, key: Sequence[str] | None, *column_sets: Sequence[str]) -> tuple[str, ...]:
    keys = tuple(key) if key is not None else DEFAULT_KEYS.get(collection, RESOURCE_KEY)
    if isinstance(key, str) or not keys or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f"key must be a list of column names, got {key!r}")
    for columns in column_sets:
        missing = [k for k in keys if k not in columns]
        if missing:
            raise ConfigError(
                f"key column(s) {', '.join(missing)} are not columns of {collection}; "
                "pass key=[...] naming columns that identify a row"
            )
    return keys


def _columns(
    schema_a: Mapping[str, str],
    schema_b: Mapping[str, str],
    keys: Sequence[str],
    ignore: Sequence[str],
    tolerance: Mapping[str, float] | None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Columns to compare (in both, not key, not ignored) and notes about the others."""
    patterns = [ignore] if isinstance(ignore, str) else list(ignore or ())
    if not all(isinstance(p, str) for p in patterns):
        raise ConfigError(f"ignore must be column names or glob patterns, got {ignore!r}")

    def ignored(name: str) -> bool:
        return name in SKIPPED or name in keys or any(fnmatch.fnmatchcase(name, p) for p in patterns)

    columns = tuple(c for c in schema_a if c in schema_b and not ignored(c))
    notes = [
        f"column {c!r} is only in the newer snapshot"
        for c in schema_b
        if c not in schema_a and not ignored(c)
    ]
    notes += [
        f"column {c!r} is only in the older snapshot"
        for c in schema_a
        if c not in schema_b and not ignored(c)
    ]
    notes += [
        f"column {c!r} changed type ({schema_a[c]} -> {schema_b[c]}): compared as text"
        for c in columns
        if schema_a[c] != schema_b[c]
    ]
    for name, value in (tolerance or {}).items():
        if name not in columns or schema_a[name] not in NUMERIC:
            raise ConfigError(f"tolerance names {name!r}, which is not a numeric column compared here")
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"tolerance for {name!r} must be a number >= 0, got {value!r}")
    return columns, tuple(notes)


def finish(
    collection: str,
    a: str,
    b: str,
    keys: tuple[str, ...],
    added: pd.DataFrame,
    candidates: pd.DataFrame,
    changed: pd.DataFrame,
    joined: pd.Series,
    *,
    notes: tuple[str, ...],
    engine: str,
    columns: tuple[str, ...],
    coverage: pd.DataFrame | None,
    issues: pd.DataFrame | None,
    tree: pd.DataFrame | None,
    selected: Sequence[str] | None,
    paths: Mapping[str, str],
) -> Diff:
    """Split removed / not covered, sort, and count per organization (both engines end here).

    ``joined``: rows present in both snapshots, counted per organization id.
    """
    reasons = (
        verdicts(candidates, collection, coverage=coverage, issues=issues, tree=tree, selected=selected)
        if len(candidates)
        else pd.Series([], dtype=object)
    )
    gone = reasons.isna() | (reasons == GONE)
    removed = _sorted(candidates[gone.to_numpy()], keys)
    not_covered = candidates[~gone.to_numpy()].assign(reason=pd.array(list(reasons[~gone]), dtype="string"))
    not_covered = _sorted(not_covered, keys)
    added = _sorted(added, keys)
    order = {c: n for n, c in enumerate(columns)}
    if len(changed):
        changed = (
            changed.assign(_o=changed["column"].map(order))
            .sort_values([*keys, "_o"], kind="stable")
            .drop(columns="_o")
            .reset_index(drop=True)
        )
    summary = _summary(collection, added, removed, changed, not_covered, joined, keys, paths)
    unchanged = int(joined.sum() - (changed[list(keys)].drop_duplicates().shape[0] if len(changed) else 0))
    return Diff(
        collection,
        a,
        b,
        keys,
        added,
        removed,
        changed,
        not_covered,
        unchanged,
        summary,
        notes,
        engine,
        columns,
    )


def _sorted(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    by = [c for c in ("organization_id", *keys) if c in frame]
    by = list(dict.fromkeys(by))
    return (
        frame.sort_values(by, kind="stable").reset_index(drop=True)
        if len(frame)
        else frame.reset_index(drop=True)
    )


def org_of(frame: pd.DataFrame) -> pd.Series:
    """Each row's organization id (``organization_id``, or ``id`` for the organizations frame)."""
    column = "organization_id" if "organization_id" in frame else "id" if "id" in frame else None
    if column is None:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame[column].astype(object).where(frame[column].notna(), None)


def _summary(
    collection: str,
    added: pd.DataFrame,
    removed: pd.DataFrame,
    changed: pd.DataFrame,
    not_covered: pd.DataFrame,
    joined: pd.Series,
    keys: Sequence[str],
    paths: Mapping[str, str],
) -> pd.DataFrame:
    counts: dict[str, pd.Series] = {
        "added": org_of(added).value_counts(dropna=False),
        "removed": org_of(removed).value_counts(dropna=False),
        "not_covered": org_of(not_covered).value_counts(dropna=False),
    }
    changed_rows = changed.drop_duplicates(list(keys)) if len(changed) else changed
    counts["changed"] = (
        changed_rows["organization_id"].astype(object).value_counts(dropna=False)
        if len(changed_rows)
        else pd.Series(dtype="int64")
    )
    counts["unchanged"] = joined.sub(counts["changed"], fill_value=0)
    orgs = sorted(
        {o for s in counts.values() for o in s.index if o is not None and o == o},
        key=lambda o: (paths.get(o) or "", o),
    )
    rows = [
        {
            "collection": collection,
            "organization_id": o,
            "organization_path": paths.get(o),
            **{k: int(s.get(o, 0)) for k, s in counts.items()},
        }
        for o in orgs
    ]
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    frame = frame.astype(
        {
            "collection": "string",
            "organization_id": "string",
            "organization_path": "string",
            **dict.fromkeys(SUMMARY_COLUMNS[3:], "Int64"),
        }
    )
    return frame[list(SUMMARY_COLUMNS)]


def _paths(*frames: pd.DataFrame) -> dict[str, str]:
    paths: dict[str, str] = {}
    for frame in frames:
        if "organization_id" in frame and "organization_path" in frame:
            pairs = zip(
                frame["organization_id"].astype(object),
                frame["organization_path"].astype(object),
                strict=False,
            )
        elif "id" in frame and "path" in frame:
            pairs = zip(frame["id"].astype(object), frame["path"].astype(object), strict=False)
        else:
            continue
        paths.update({i: p for i, p in pairs if isinstance(i, str) and isinstance(p, str)})
    return paths


# -- the pandas engine --------------------------------------------------------------------------


def compare_frames(
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    key: Sequence[str],
    columns: Sequence[str],
    kinds: Mapping[str, str],
    tolerance: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.Series]:
    """``(added, rows of a not in b, changed long form, rows in both counted per organization)``."""
    keys = list(key)
    for side, frame in (("older", a), ("newer", b)):
        duplicated = frame.duplicated(keys)
        if duplicated.any():
            sample = frame.loc[duplicated, keys].head(3).astype(object).values.tolist()
            raise ConfigError(
                f"key {keys} does not identify rows of the {side} frame (repeated: {sample}); "
                "pass key=[...] with more columns"
            )
    left = a[keys].astype(object).assign(_pa=np.arange(len(a)))
    right = b[keys].astype(object).assign(_pb=np.arange(len(b)))
    merged = left.merge(right, on=keys, how="outer", indicator=True)
    both = merged[merged["_merge"] == "both"]
    pa_, pb_ = both["_pa"].to_numpy(dtype=np.int64), both["_pb"].to_numpy(dtype=np.int64)
    added = b.take(merged.loc[merged["_merge"] == "right_only", "_pb"].to_numpy(dtype=np.int64)).reset_index(
        drop=True
    )
    gone = a.take(merged.loc[merged["_merge"] == "left_only", "_pa"].to_numpy(dtype=np.int64)).reset_index(
        drop=True
    )
    org = org_of(a).to_numpy()[pa_] if len(pa_) else np.array([], dtype=object)
    key_values = {k: a[k].to_numpy(dtype=object)[pa_] for k in keys}
    pieces = []
    for column in columns:
        old, new = a[column].take(pa_), b[column].take(pb_)
        differs = _differs(old, new, kinds.get(column, ""), (tolerance or {}).get(column))
        if not differs.any():
            continue
        where = np.flatnonzero(differs)
        pieces.append(
            pd.DataFrame(
                {
                    **{k: v[where] for k, v in key_values.items()},
                    "organization_id": org[where],
                    "column": column,
                    "old": as_text(old.iloc[where], kinds.get(column, "")),
                    "new": as_text(new.iloc[where], kinds.get(column, "")),
                }
            )
        )
    changed = changed_frame(pieces, keys)
    return added, gone, changed, pd.Series(org, dtype=object).value_counts(dropna=False)


def changed_frame(pieces: list[pd.DataFrame], keys: Sequence[str]) -> pd.DataFrame:
    """The long-form changes, typed: every column ``string``."""
    names = [*keys, *(["organization_id"] if "organization_id" not in keys else []), "column", "old", "new"]
    frame = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=names)
    return frame[names].astype("string").reset_index(drop=True)


def _differs(old: pd.Series, new: pd.Series, kind: str, tol: float | None) -> np.ndarray:
    old_na, new_na = old.isna().to_numpy(), new.isna().to_numpy()
    both = ~old_na & ~new_na
    result = old_na != new_na
    if not both.any():
        return result
    if kind == "json":
        o = np.array([canonical(v) for v in old.to_numpy(dtype=object)], dtype=object)
        n = np.array([canonical(v) for v in new.to_numpy(dtype=object)], dtype=object)
        result[both] = o[both] != n[both]
    elif kind in NUMERIC:
        o = old.to_numpy(dtype="float64", na_value=np.nan)
        n = new.to_numpy(dtype="float64", na_value=np.nan)
        result[both] = (np.abs(o[both] - n[both]) > tol) if tol is not None else (o[both] != n[both])
    else:
        o, n = old.to_numpy(dtype=object), new.to_numpy(dtype=object)
        result[both] = o[both] != n[both]
    return result


def as_text(values: pd.Series, kind: str) -> list[str | None]:
    """Values as the canonical text DuckDB's side produces (see :func:`duckdb_text`)."""
    if kind == "datetime":
        return [None if pd.isna(v) else v.strftime(TIME_FORMAT) for v in values]
    if kind == "json":
        return [canonical(v) for v in values.to_numpy(dtype=object)]
    if kind == "boolean":
        return [None if v is pd.NA or v is None else ("true" if v else "false") for v in values]
    if kind == "Float64":
        return [None if v is pd.NA or v is None or v != v else repr(float(v)) for v in values]
    return [
        None if v is pd.NA or v is None or (isinstance(v, float) and v != v) else str(v)
        for v in values.to_numpy(dtype=object)
    ]


def duckdb_text(expression: str, kind: str) -> str:
    """SQL for the canonical text of a value (the same text :func:`as_text` gives)."""
    if kind == "datetime":
        return f"strftime({expression}, '{TIME_FORMAT}')"
    return f"CAST({expression} AS VARCHAR)"


def restore_arrow(table: Any, schema: Mapping[str, str]) -> pd.DataFrame:
    """An Arrow table from DuckDB as a frame with the snapshot's dtypes."""
    import pyarrow as pa

    mapping = {
        pa.int64(): pd.Int64Dtype(),
        pa.int32(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
        pa.float64(): pd.Float64Dtype(),
        pa.string(): pd.StringDtype(),
        pa.large_string(): pd.StringDtype(),
    }
    try:
        frame = table.to_pandas(types_mapper=mapping.get)
    except (TypeError, ValueError) as error:  # pragma: no cover - defensive
        raise SnapshotError(f"cannot convert a diff result: {error}") from None
    return restore(frame, dict(schema))

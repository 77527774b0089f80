"""``cmf.diff``: what was added, removed and changed between two snapshots, and what the newer
one did not see.

Coverage-aware: a row of *a* missing from *b* is ``removed`` only when its scope was read
completely in *b*; otherwise it is in ``not_covered`` with the reason from *b*'s issues (see
:mod:`~cloudmc_frames.snapshots.scopes`). Changes are in long form (``key..., column, old, new``;
values as canonical text: ISO UTC times, ``true``/``false``, JSON with sorted keys), with a
numeric tolerance per column and glob patterns of columns to ignore.

Two engines give the same answer: DuckDB on the Parquet files when both snapshots are on disk
(``cmf.diff(root, "instances")``), pandas for frames (``cmf.diff(old_frame, new_frame,
collection="instances", coverage_b=...)``).

Example::

    >>> d = cmf.diff("snapshots/", "instances", a="previous", b="latest")       # doctest: +SKIP
    >>> d.summary; d.changed.query("column == 'power_state'"); d.not_covered["reason"]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..errors import ConfigError
from .compare import Diff, _columns, _keys, _paths, compare_frames, finish
from .schema import schema_of

__all__ = ["Diff", "diff"]


def diff(
    first: Any,
    second: Any,
    *,
    a: Any = "previous",
    b: Any = "latest",
    key: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    tolerance: Mapping[str, float] | None = None,
    collection: str | None = None,
    coverage_b: pd.DataFrame | None = None,
    issues_b: pd.DataFrame | None = None,
    organizations_b: pd.DataFrame | None = None,
) -> Diff:
    """Differences of one collection between two snapshots, or between two frames.

    Snapshots: ``diff(root, collection, a=, b=)``; frames: ``diff(frame_a, frame_b, collection=,
    coverage_b=, issues_b=, organizations_b=)``.

    ``key``: the columns that identify a row (default per collection: ``environment_id, id`` for
    resources, ``id`` for users and organizations); ``ignore``: column names or glob patterns;
    ``tolerance``: ``{column: absolute tolerance}`` for numeric columns. For frames, rows missing
    from ``frame_b`` are ``removed`` only as far as ``coverage_b`` shows their scopes were read.

    >>> d = cmf.diff("snapshots/", "volumes", a="2026-11-01", ignore=["*_fingerprint"])  # doctest: +SKIP
    """
    if isinstance(first, pd.DataFrame) or isinstance(second, pd.DataFrame):
        if not (isinstance(first, pd.DataFrame) and isinstance(second, pd.DataFrame)):
            raise ConfigError("diff takes two frames, or a snapshot root and a collection name")
        name = collection or "rows"
        keys = _keys(name, key, list(first.columns), list(second.columns))
        columns, notes = _columns(schema_of(first), schema_of(second), keys, ignore, tolerance)
        added, candidates, changed, joined = compare_frames(
            first, second, key=keys, columns=columns, kinds=schema_of(first), tolerance=tolerance
        )
        return finish(
            name,
            "a",
            "b",
            keys,
            added,
            candidates,
            changed,
            joined,
            notes=notes,
            engine="pandas",
            columns=columns,
            coverage=coverage_b,
            issues=issues_b,
            tree=organizations_b,
            selected=None,
            paths=_paths(first, second),
        )
    if not isinstance(second, str):
        raise ConfigError(f"the collection to diff must be a name such as 'instances', got {second!r}")
    from .diff_duckdb import diff_files

    return diff_files(first, second, a=a, b=b, key=key, ignore=ignore, tolerance=tolerance)

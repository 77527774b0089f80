"""Column kinds of a frame, the schema fingerprint, dtype restoration, and field statistics.

A snapshot stores, per collection, each column's *kind* (the vocabulary of
:mod:`~cloudmc_frames.catalog`: ``string``, ``category``, ``Int64``, ``Float64``, ``boolean``,
``datetime``, ``json``); :func:`restore` turns what Parquet gives back into exactly the live
accessor's dtypes (fixed categories, nullable types, ``json`` values). :func:`field_stats`
counts, per provider, how many records have each field, and which raw states were seen: the
input of schema drift. Pure pandas: no files here.

Example::

    >>> frame = pd.DataFrame({"id": pd.array(["a"], dtype="string"), "n": pd.array([1], dtype="Int64")})
    >>> schema = schema_of(frame); schema
    {'id': 'string', 'n': 'Int64'}
    >>> restore(pd.DataFrame({"id": ["a"], "n": [1.0]}), schema).dtypes.astype(str).tolist()
    ['string', 'Int64']
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd

from .. import catalog
from ..frames import DATETIME
from ..jsonarray import JsonArray, JsonDtype

ENUM_COLUMNS = ("state", "power_state")  # raw and normalized states: "new_value" drift
MAX_VALUES = 200  # distinct values kept per enumerated column and group


def kind_of(dtype: Any) -> str:
    """The kind of a pandas dtype (``datetime64[ns, UTC]`` -> ``datetime``, ...)."""
    if isinstance(dtype, JsonDtype):
        return "json"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "datetime"
    name = str(dtype)
    return name if name in ("Int64", "Float64", "boolean") else f"other:{name}"


def schema_of(frame: pd.DataFrame) -> dict[str, str]:
    """``column -> kind`` of every column, in order."""
    return {str(name): kind_of(dtype) for name, dtype in frame.dtypes.items()}


def fingerprint(schema: dict[str, str]) -> str:
    """A short hash of the ordered column names and kinds."""
    text = json.dumps(list(schema.items()), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def restore(frame: pd.DataFrame, schema: dict[str, str]) -> pd.DataFrame:
    """``frame`` with each column of ``schema`` in its kind's dtype (others left as they are)."""
    out = {}
    for name in frame.columns:
        kind = schema.get(name)
        out[name] = _restored(frame[name], name, kind) if kind else frame[name]
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _restored(column: pd.Series, name: str, kind: str) -> Any:
    if kind == "json":
        if isinstance(column.dtype, JsonDtype):
            return column.array
        return JsonArray._from_sequence([None if v is None or v is pd.NA or v != v else json.loads(v)
                                         for v in column.astype(object)])
    if kind == "category":
        categories = catalog.CATEGORIES.get(name)
        if categories is None:
            return column.astype("category")
        dtype = pd.CategoricalDtype(categories)
        if isinstance(column.dtype, pd.CategoricalDtype) and list(column.cat.categories) == list(categories):
            return column.astype(dtype)
        return pd.Categorical(column.astype(object).where(column.notna(), None), dtype=dtype)
    if kind == "datetime":
        if isinstance(column.dtype, pd.DatetimeTZDtype) and str(column.dtype) == DATETIME:
            return column.array
        return pd.to_datetime(column, utc=True).astype(DATETIME).array
    if kind in ("string", "Int64", "Float64", "boolean"):
        return column.array if str(column.dtype) == kind else column.astype(kind).array
    return column.array


def field_stats(frame: pd.DataFrame) -> dict[str, Any]:
    """Per provider group (``connection_type``, or ``""``): rows, records having each field, and
    how many records have each value of the state columns. JSON-ready."""
    groups: dict[str, Any] = {}
    if "connection_type" in frame and len(frame):
        keys = frame["connection_type"].astype(object).where(frame["connection_type"].notna(), "")
        parts = {str(k): frame[keys.to_numpy() == k] for k in pd.unique(keys)}
    else:
        parts = {"": frame}
    for group, part in parts.items():
        present = part.notna().sum()
        values = {c: {str(k): int(v) for k, v in
                      part[c].dropna().astype(object).value_counts().head(MAX_VALUES).items()}
                  for c in ENUM_COLUMNS if c in part}
        groups[group] = {"rows": int(len(part)),
                         "present": {str(k): int(v) for k, v in present.items()},
                         "values": values}
    return groups

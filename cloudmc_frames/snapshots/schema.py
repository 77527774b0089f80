"""Column kinds of a frame, the schema fingerprint, dtype restoration, and field statistics.

A snapshot stores, per collection, each column's *kind* (the vocabulary of
:mod:`~cloudmc_frames.catalog`: ``string``, ``category``, ``Int64``, ``Float64``, ``boolean``,
``datetime``, ``json``); :func:`restore` turns what Parquet gives back into exactly the live
accessor's dtypes (fixed categories, nullable types, ``json`` values). :func:`field_stats`
counts, per provider, how many records have each field, and which raw states were seen: the
input of schema drift (counted with Arrow). No files here.

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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
        return JsonArray._from_sequence(
            [None if v is None or v is pd.NA or v != v else json.loads(v) for v in column.astype(object)]
        )
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


def field_stats(data: pd.DataFrame | pa.Table) -> dict[str, Any]:
    """Per provider group (``connection_type``, or ``""``): rows, records having each field, and
    how many records have each value of the state columns. JSON-ready; counted by Arrow."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    n = table.num_rows
    if "connection_type" in table.column_names and n:
        kinds = pc.fill_null(pc.cast(table.column("connection_type"), pa.string()), "")
        encoded = pc.dictionary_encode(kinds).combine_chunks()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        names = [str(v) for v in encoded.dictionary.to_pylist()]
    else:
        codes, names = np.zeros(n, dtype=np.int64), [""]
    sizes = np.bincount(codes, minlength=len(names)) if n else np.zeros(len(names), dtype=np.int64)
    out: dict[str, Any] = {
        name: {"rows": int(sizes[i]), "present": {}, "values": {}} for i, name in enumerate(names)
    }
    for column, values in zip(table.column_names, table.columns, strict=False):
        if values.null_count in (0, n):  # every row, or none: no per-row work
            counts = sizes if values.null_count == 0 else np.zeros(len(names), dtype=np.int64)
        else:
            valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
            counts = np.bincount(codes[valid], minlength=len(names))
        for i, name in enumerate(names):
            out[name]["present"][column] = int(counts[i])
        if column in ENUM_COLUMNS and n and values.null_count < n:
            pairs = pa.table({"g": pa.array(codes), "v": pc.cast(values, pa.string())})
            counted = (
                pairs.filter(pc.is_valid(pairs.column("v"))).group_by(["g", "v"]).aggregate([("g", "count")])
            )
            for code, value, count in zip(
                *(counted.column(c).to_pylist() for c in ("g", "v", "g_count")), strict=False
            ):
                seen = out[names[code]]["values"].setdefault(column, {})
                if len(seen) < MAX_VALUES:
                    seen[str(value)] = int(count)
    return out

"""``json``: a pandas column type for nested JSON values (lists, objects) that survives Parquet.

CloudMC records carry lists and objects (``affinityGroupIds``, GCP ``disks``, the activity log's
``eventContext``). Kept as plain ``object`` columns they do not survive a Parquet round trip:
pyarrow turns lists into numpy arrays and objects into structs, so dicts come back with a
``None`` for every key any other row had. A ``json`` column holds the same Python values, and
converts itself to Arrow as JSON text (keys sorted, compact), so ``to_parquet`` /
``read_parquet`` give back equal values and the same dtype. DuckDB reads the column as text
(``json_extract(col, '$.key')``).

Missing values are ``None``. Reading a file with ``pd.read_parquet`` needs ``cloudmc_frames``
imported (it registers the dtype by name, as any pandas extension type does); a reader without
it gets ``data type 'json' not understood``. Snapshot files (``cmf.snapshot``) do not have this
limit: they describe ``json`` columns as text for other readers.

Example::

    >>> import pandas as pd
    >>> s = pd.Series([[1, 2], {"b": 1, "a": None}, None], dtype="json")
    >>> s.dtype.name, s[0], s.isna().tolist()
    ('json', [1, 2], [False, False, True])
    >>> to_json_text(s.array)
    ['[1,2]', '{"a":null,"b":1}', None]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray, ExtensionDtype, register_extension_dtype

_DUMPS = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode


def canonical(value: Any) -> str | None:
    """One JSON value as canonical text (sorted keys, compact); None for a missing value.

    >>> canonical({"b": [1], "a": "x"})
    '{"a":"x","b":[1]}'
    """
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return _DUMPS(value)


def to_json_text(values: Sequence) -> list[str | None]:
    """Canonical JSON text of each value (None stays None)."""
    return [canonical(v) for v in values]


@register_extension_dtype
class JsonDtype(ExtensionDtype):
    """Nested JSON values (lists, dicts, scalars); missing values are None."""

    name = "json"
    type = object
    kind = "O"
    na_value = None
    _metadata = ()

    def __repr__(self) -> str:
        return "JsonDtype()"

    @classmethod
    def construct_array_type(cls) -> type[JsonArray]:
        return JsonArray

    def __from_arrow__(self, array: Any) -> JsonArray:
        """Back from Arrow: JSON text (or already nested values) to Python values."""
        chunks = array.chunks if hasattr(array, "chunks") else [array]
        values: list = []
        for chunk in chunks:
            items = chunk.to_pylist()
            if str(chunk.type) in ("string", "large_string", "string_view"):
                items = [None if v is None else json.loads(v) for v in items]
            values.extend(items)
        return JsonArray(_objects(values))


def _objects(values: Sequence) -> np.ndarray:
    """A 1-D object array of the values (equal-length lists stay items), missing ones None."""
    values = values if isinstance(values, list | np.ndarray) else list(values)
    out = np.fromiter(values, dtype=object, count=len(values))
    if _MISSING_TYPES & set(map(type, values)):
        for n, value in enumerate(out):
            if value is not None and _missing(value):
                out[n] = None
    return out


_MISSING_TYPES = {float, type(pd.NA), type(pd.NaT), np.float64}


def _numpy_text(dtype: Any) -> bool:
    """Whether ``dtype`` names a NumPy text dtype (``str``, ``'U'``), which NumPy cannot fill from lists."""
    try:
        return np.dtype(dtype).kind in "US"
    except TypeError:
        return False


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


class JsonArray(ExtensionArray):
    """The values of a ``json`` column: a numpy object array of JSON values."""

    def __init__(self, values: np.ndarray) -> None:
        self._data = values

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def _from_sequence(cls, scalars: Any, *, dtype: Any = None, copy: bool = False) -> JsonArray:
        if isinstance(scalars, JsonArray):
            return scalars.copy() if copy else scalars
        return cls(_objects(list(scalars)))

    @classmethod
    def _from_factorized(cls, uniques: np.ndarray, original: JsonArray) -> JsonArray:
        return cls(_objects([None if u is None else json.loads(u) for u in uniques]))

    @classmethod
    def _concat_same_type(cls, to_concat: Sequence[JsonArray]) -> JsonArray:
        return cls(np.concatenate([a._data for a in to_concat]) if to_concat else _objects([]))

    # -- the array protocol ------------------------------------------------------------------------
    @property
    def dtype(self) -> JsonDtype:
        return JsonDtype()

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, int | np.integer):
            return self._data[item]
        item = pd.api.indexers.check_array_indexer(self, item)
        return type(self)(self._data[item])

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, int | np.integer):
            self._data[key] = None if _missing(value) else value
            return
        key = pd.api.indexers.check_array_indexer(self, key)
        if isinstance(value, JsonArray):
            value = value._data
        elif not pd.api.types.is_list_like(value) or isinstance(value, dict):
            positions = np.atleast_1d(np.arange(len(self))[key])
            for position in positions:
                self._data[position] = None if _missing(value) else value
            return
        self._data[key] = _objects(list(value))

    def __eq__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        if isinstance(other, pd.Series | pd.Index | pd.DataFrame):
            return NotImplemented
        if isinstance(other, JsonArray | np.ndarray | list) and len(other) == len(self):
            others = other._data if isinstance(other, JsonArray) else other
            return np.array(
                [
                    a is not None and b is not None and canonical(a) == canonical(b)
                    for a, b in zip(self._data, others, strict=False)
                ],
                dtype=bool,
            )
        text = canonical(other)
        return np.array([v is not None and canonical(v) == text for v in self._data], dtype=bool)

    def __arrow_array__(self, type: Any = None) -> Any:
        """JSON text for Arrow (pyarrow calls this), through pandas' own Arrow-backed strings:
        this module never imports pyarrow itself."""
        return pd.array(to_json_text(self._data), dtype="string[pyarrow]").__arrow_array__(type)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is None or np.dtype(dtype) == object:
            return self._data
        return np.asarray(self._data, dtype=dtype)

    def astype(self, dtype: Any, copy: bool = True) -> Any:
        """Cast like an object column; ``astype(str)`` gives each value's text on every pandas."""
        if _numpy_text(dtype):
            return np.array([str(value) for value in self._data], dtype=dtype)
        return super().astype(dtype, copy=copy)

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    def isna(self) -> np.ndarray:
        return np.fromiter((v is None for v in self._data), dtype=bool, count=len(self._data))

    def take(self, indices: Any, *, allow_fill: bool = False, fill_value: Any = None) -> JsonArray:
        from pandas.api.extensions import take

        result = take(self._data, indices, allow_fill=allow_fill, fill_value=None)
        return type(self)(_objects(list(result)))

    def copy(self) -> JsonArray:
        return type(self)(self._data.copy())

    def unique(self) -> JsonArray:
        seen: dict[str | None, Any] = {}
        for value in self._data:
            seen.setdefault(canonical(value), value)
        return type(self)(_objects(list(seen.values())))

    def _values_for_factorize(self) -> tuple[np.ndarray, Any]:
        return np.array(to_json_text(self._data), dtype=object), None

    def _values_for_argsort(self) -> np.ndarray:
        return np.array([t or "" for t in to_json_text(self._data)], dtype=object)

    def _formatter(self, boxed: bool = False):
        return repr

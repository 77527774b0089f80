"""Records -> tidy, typed DataFrames (one build per call, column by column).

Rules (DESIGN section 4):

* column names are snake_case, derived mechanically: ``memoryInMB`` -> ``memory_in_mb``,
  ``parent.id`` -> ``parent_id``; nested objects are flattened with ``_``, lists stay as lists;
* context columns come first (``organization_id``, ``organization_name``, ``organization_path``,
  then ``service_code``, ``connection_type``, ``environment_id``, ``environment_name`` for service
  resources); in resource frames they are categoricals, since every row of a scope repeats them;
* dtypes: UTC datetimes, nullable ``boolean``/``Int64``/``Float64``, ``category`` for states and
  types, ``string`` for ids and names, ``object`` for lists;
* fields the server adds are kept as new columns with an inferred dtype; an empty result has
  every documented column; a value that does not fit its column's type is never dropped: the
  column falls back to ``object`` and a warning names it.

Instances get ``power_state``, ``is_running``, ``vcpus`` and ``memory_gib`` and volumes get
``size_gib`` and ``is_attached``, read the same way across providers (REFERENCE section 5).

Example::

    >>> frame = build_frame("users", [({"organization_id": "o1", "organization_name": "Acme",
    ...                                  "organization_path": "acme"}, [{"id": "u1", "loginCount": 3}])])
    >>> list(frame.columns[:4]), frame["login_count"].dtype.name
    (['organization_id', 'organization_name', 'organization_path', 'id'], 'Int64')
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain, repeat, takewhile
from typing import Any

import numpy as np
import pandas as pd

from . import catalog
from .errors import ISSUE_COLUMNS, ConfigError, Issue
from .jsonarray import JsonArray
from .ledger import COVERAGE_COLUMNS, COVERAGE_STATUSES, Coverage

log = logging.getLogger("cloudmc_frames")

Chunk = tuple[Mapping[str, Any], Sequence[dict]]
_EMPTY: dict = {}
DATETIME = "datetime64[ns, UTC]"
MAX_SHAPES = 64
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


@functools.lru_cache(maxsize=4096)
def snake_case(name: str) -> str:
    """``memoryInMB`` -> ``memory_in_mb``; ``parent.id`` -> ``parent_id``.

    >>> snake_case("primaryRoleBinding.role.isFixed")
    'primary_role_binding_role_is_fixed'
    """
    return _NON_WORD.sub("_", _CAMEL.sub("_", name)).strip("_").lower()


def schema_of(entity: str, *, service: bool = False) -> dict[str, str]:
    """The documented columns and dtype kinds of an entity's frame."""
    default = catalog.SERVICE_ENTITY_DEFAULT if service else {}
    return catalog.SCHEMAS.get(entity, default)


def build_frame(entity: str, chunks: Iterable[Chunk], *, service: bool = False,
                rename: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One typed frame from ``(context, records)`` chunks: the documented columns, then the rest.

    ``context`` maps context column names to the value shared by that chunk's records. The
    documented columns (:data:`~cloudmc_frames.catalog.SCHEMAS`) are always there, in order and
    with their dtypes; a value that does not fit its documented dtype is missing there and
    kept, with the column's other raw values, in a ``<column>_raw`` column (``json``).
    """
    chunks = [(ctx, recs) for ctx, recs in chunks]
    schema = schema_of(entity, service=service)
    records = list(chain.from_iterable(recs for _, recs in chunks))
    leading = list(takewhile(catalog.SERVICE_CONTEXT.__contains__, schema))
    given = _context_names(chunks)
    context_names = [*leading, *(c for c in given if c not in schema)]
    columns: dict[str, list] = {name: _repeat(chunks, name) for name in context_names if name in given}
    renames = {**catalog.RENAMES.get(entity, {}), **(rename or {})}
    for name, values in _flatten(records, renames).items():
        if name not in columns:
            columns[name] = values
    typed: dict[str, Any] = {}
    for name in dict.fromkeys([*context_names, *schema, *columns]):
        values = columns.get(name)
        kind = schema.get(name)
        if values is None:  # a documented column no record has (most of another provider's)
            typed[name] = missing_column(name, kind, len(records))
            continue
        if kind is None:
            typed[name] = typed_column(name, values, _infer_kind(name, values))
            continue
        typed[name] = typed_column(name, values, kind)
        if kind != "json" and pd.api.types.is_object_dtype(typed[name].dtype):
            bad = next(v for v in values if v is not None and not _fits(v, kind))
            log.warning("column %r: value %r (and any other that is not %s) is missing there and "
                        "kept in %r", name, bad, kind, f"{name}_raw")
            typed[name] = typed_column(name, [v if _fits(v, kind) else None for v in values], kind)
            typed[f"{name}_raw"] = typed_column(f"{name}_raw", values, "json")
    frame = pd.DataFrame(typed, index=pd.RangeIndex(len(records)), copy=False)
    derive = _DERIVED.get(entity)
    frame = derive(frame) if derive else frame
    return _documented_first(frame, schema)


def missing_column(name: str, kind: str, n: int) -> Any:
    """``n`` missing values of ``kind``, made without converting ``n`` Nones one by one."""
    if kind in ("Int64", "Float64", "boolean", "string"):
        return pd.api.types.pandas_dtype(kind).empty((n,))  # all missing for these dtypes
    return typed_column(name, [None] * n, kind)


def _documented_first(frame: pd.DataFrame, schema: Mapping[str, str]) -> pd.DataFrame:
    """Documented columns in schema order, then the extras (``*_raw`` beside nothing else)."""
    extras = [c for c in frame.columns if c not in schema]
    order = [*(c for c in frame.columns if c in schema), *extras]
    return frame if order == list(frame.columns) else frame[order]


def empty_frame(entity: str, *, service: bool = False) -> pd.DataFrame:
    """A frame with no rows and every documented column of ``entity``, typed."""
    return build_frame(entity, [], service=service)


def typed_column(name: str, values: Sequence, kind: str) -> Any:
    """Convert one column's values to ``kind``; on a value that does not fit, keep objects."""
    if kind == "object":
        return pd.Series(values, dtype=object).array
    if kind == "json":
        return JsonArray._from_sequence(values)
    try:
        if kind == "datetime":
            return _to_datetime(name, values)
        if kind == "category":
            return pd.Categorical(np.asarray(values, dtype=object),
                                  categories=catalog.CATEGORIES[name])
        return pd.array(values, dtype=kind)
    except (TypeError, ValueError):
        return _coerce(name, values, kind)


def issues_frame(issues: Sequence[Issue]) -> pd.DataFrame:
    """``client.issues``: one row per failed scope, columns :data:`~cloudmc_frames.errors.ISSUE_COLUMNS`."""
    kinds = {"when": "datetime", "status": "Int64",
             "attempts": "Int64", "retryable": "boolean"}
    return _tuples_frame(ISSUE_COLUMNS, [i.as_tuple() for i in issues], kinds)


def coverage_frame(coverage: Sequence[Coverage]) -> pd.DataFrame:
    """``client.coverage``: one row per scope visited (:data:`~cloudmc_frames.ledger.COVERAGE_COLUMNS`)."""
    kinds = {"call_id": "Int64", "rows": "Int64", "from_cache": "boolean", "seconds": "Float64",
             "read_at": "datetime"}
    frame = _tuples_frame(COVERAGE_COLUMNS, [c.as_tuple() for c in coverage], kinds)
    frame["status"] = pd.Categorical(frame["status"].astype(object), categories=COVERAGE_STATUSES)
    return frame


def utc_timestamp(name: str, value: Any) -> pd.Timestamp:
    """A user's datetime, date or ISO string as a UTC Timestamp (naive values are UTC).

    >>> utc_timestamp("start", "2026-11-01")
    Timestamp('2026-11-01 00:00:00+0000', tz='UTC')
    """
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ConfigError(f"{name} must be a datetime, a date or an ISO string, got {value!r}")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def none_for_missing(data: pd.DataFrame | pd.Series) -> Any:
    """A frame or series of objects with None for every missing value (NaN, NA, NaT).

    Text renderers then never print ``nan``/``<NA>``, and records hold plain Python values.

    >>> none_for_missing(pd.Series(["x", None], dtype="string")).tolist()
    ['x', None]
    """
    return data.astype(object).where(data.notna(), None)


def plain_records(frame: pd.DataFrame) -> list[dict]:
    """The rows of ``frame`` as dicts, with None for missing values (see :func:`none_for_missing`)."""
    return none_for_missing(frame).to_dict("records")


# -- flattening -------------------------------------------------------------------------------

def _flatten(records: list[dict], rename: Mapping[str, str]) -> dict[str, list]:
    """Column-wise flattening: nested objects become ``parent_child`` columns, lists stay."""
    out: dict[str, list] = {}
    _flatten_into(records, "", out, rename)
    return out


def _flatten_into(records: list[dict], prefix: str, out: dict[str, list],
                  rename: Mapping[str, str]) -> None:
    for key, values in _columns(records).items():
        raw = f"{prefix}.{key}" if prefix else str(key)
        types = set(map(type, values))
        if dict in types:
            _flatten_into([v if type(v) is dict else _EMPTY for v in values], raw, out, rename)
            if not types - {dict, type(None)}:
                continue
            values = [None if type(v) is dict else v for v in values]
        name = snake_case(raw)
        name = rename.get(name, name)
        out[name] = _merge(out[name], values) if name in out else values


def _columns(records: list[dict]) -> dict[Any, Sequence]:
    """Transpose records into columns (a missing key reads as None), at C speed.

    Records are grouped by their keys, so each column is read only from the records that have
    it; groups are scattered back into row order with numpy.
    """
    groups: dict[tuple, list[int]] = {}
    for index, shape in enumerate(map(tuple, records)):
        groups.setdefault(shape, []).append(index)
    if len(groups) == 1:
        return {key: list(map(dict.__getitem__, records, repeat(key))) for key in next(iter(groups))}
    if len(groups) > MAX_SHAPES:  # records in many key orders: read every key from every record
        return {key: list(map(dict.get, records, repeat(key))) for key in _keys_in_order(records)}
    columns: dict[Any, np.ndarray] = {key: np.full(len(records), None, dtype=object)
                                      for key in _keys_in_order(records)}
    for shape, rows in groups.items():
        members = [records[i] for i in rows]
        where = np.asarray(rows)
        for key in shape:
            columns[key][where] = np.fromiter(map(dict.__getitem__, members, repeat(key)),
                                              dtype=object, count=len(rows))
    return columns


def _keys_in_order(records: list[dict]) -> dict:
    """Every key of any record, in order of first appearance."""
    keys = dict.fromkeys(records[0]) if records else {}
    missing = set().union(*records).difference(keys)
    for record in records if missing else ():
        if not missing.isdisjoint(record):
            keys.update((key, None) for key in record if key in missing)
            missing -= keys.keys()
            if not missing:
                break
    return keys


def _merge(first: list, second: list) -> list:
    """Two raw fields mapped to one column (``sizeInGb``/``sizeInGB``): first non-null wins."""
    return [a if a is not None else b for a, b in zip(first, second, strict=True)]


def _repeat(chunks: list[Chunk], name: str) -> list:
    return list(chain.from_iterable([ctx.get(name)] * len(recs) for ctx, recs in chunks))


def _context_names(chunks: list[Chunk]) -> list[str]:
    return list(dict.fromkeys(chain.from_iterable(ctx for ctx, _ in chunks)))


# -- typing -----------------------------------------------------------------------------------

def _infer_kind(name: str, values: Sequence) -> str:
    types = set(map(type, values)) - {type(None)}
    if not types:
        return "string"
    if types - {bool, int, float, str}:
        return "json"
    if types == {bool}:
        return "boolean"
    if types <= {int}:
        return "Int64"
    if types <= {int, float}:
        return "Float64"
    if types != {str}:
        return "json"
    if name.endswith(catalog.DATETIME_SUFFIXES):
        return "datetime"
    return "string"


def _coerce(name: str, values: Sequence, kind: str) -> Any:
    """Slow path: numbers sent as strings ("10", "1,234.50", ""), floats in an integer column, ..."""
    series = pd.Series(values, dtype=object)
    if kind in ("Int64", "Float64"):
        texts = pd.Series([_number_text(v) for v in values], dtype=object)
        numbers = pd.to_numeric(texts, errors="coerce")
        if not (numbers.isna() & texts.notna()).any():
            integral = kind == "Int64" and bool((numbers.dropna() % 1 == 0).all())
            return numbers.astype("Int64" if integral or kind == "Int64" and numbers.isna().all()
                                  else "Float64").array
    if kind == "boolean":
        lowered = series.map(lambda v: v.lower() if isinstance(v, str) else v)
        mapped = lowered.map({True: True, False: False, "true": True, "false": False})
        if not (mapped.isna() & series.notna()).any():
            return mapped.astype("boolean").array
    if kind == "category":
        return pd.Categorical(series.map(lambda v: v if isinstance(v, str) or v is None else str(v)))
    if kind == "string":
        return series.map(lambda v: v if v is None or isinstance(v, str) else str(v)).astype("string").array
    return series.array  # build_frame keeps the documented dtype and sets these values aside


def to_amount(value: Any) -> float | None:
    """An amount as CloudMC may send it (a number, ``"432.00"``, ``"1,234.50"``, ``""``) as a float.

    Empty and missing amounts are None; text that is no number raises ValueError.

    >>> to_amount("1,234.50"), to_amount(" "), to_amount(7)
    (1234.5, None, 7.0)
    """
    text = _number_text(value)
    if text is None or (isinstance(text, float) and text != text):
        return None
    if isinstance(text, bool):
        raise ValueError(f"{value!r} is not an amount")
    return float(text)


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


def _number_text(value: Any) -> Any:
    """Text of a number as ``to_numeric`` reads it: blank -> None, thousands commas dropped."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    return text.replace(",", "") if _THOUSANDS.match(text) else text


def _fits(value: Any, kind: str) -> bool:
    try:
        pd.array([value], dtype=kind)
        return True
    except (TypeError, ValueError):
        return False


def _to_datetime(name: str, values: Sequence) -> Any:
    if all(v is None for v in values):  # a documented column no record has: no parsing
        empty = np.full(len(values), np.datetime64("NaT", "ns"))
        return pd.array(empty, dtype="datetime64[ns]").tz_localize("UTC")
    if all(isinstance(v, datetime) and v.tzinfo is not None for v in values if v is not None):
        return pd.to_datetime(pd.Series(values, dtype=object), utc=True).astype(DATETIME).array
    series = pd.Series(values, dtype=object)
    strings = [v if type(v) is str else None for v in values]
    texts = pd.Series(strings, index=series.index, dtype=object)
    # Stamps with and without an offset are parsed apart: pandas 2.2 gives naive stamps the
    # offset of their neighbours; naive ones are UTC. (Plain tail checks: a regex search
    # through pandas' string accessor cost more than the parsing itself.)
    verdicts = {tail: _has_offset(tail) for tail in {t[-6:] for t in strings if t is not None}}
    if len(set(verdicts.values())) <= 1:  # one kind of tail throughout (the usual case)
        value = next(iter(verdicts.values()), False)
        aware = pd.Series([value and t is not None for t in strings], index=series.index, dtype=bool)
    else:
        aware = pd.Series(np.fromiter((t is not None and verdicts[t[-6:]] for t in strings), dtype=bool,
                                      count=len(strings)), index=series.index)
    parsed = pd.Series(pd.NaT, index=series.index, dtype=DATETIME)
    for part, utc in ((aware, True), (~aware & texts.notna(), False)):
        if part.all():  # one kind of stamp throughout (the usual case): no masked assignment
            stamps = pd.to_datetime(texts, utc=utc, format="ISO8601", errors="coerce")
            parsed = (stamps if utc else stamps.dt.tz_localize("UTC")).astype(DATETIME)
        elif part.any():
            stamps = pd.to_datetime(texts[part], utc=utc, format="ISO8601", errors="coerce")
            parsed[part] = (stamps if utc else stamps.dt.tz_localize("UTC")).astype(DATETIME)
    missed = parsed.isna() & series.notna()
    if missed.any():
        parsed[missed] = [_parse_loose(v) for v in series[missed]]
        still = parsed.isna() & series.notna()
        if still.any():
            log.warning("column %r: %d value(s) are not dates (e.g. %r); they are NaT",
                        name, int(still.sum()), series[still].iloc[0])
    return parsed.astype(DATETIME).array


_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


def _has_offset(text: str) -> bool:
    """True when an ISO stamp ends with ``Z`` or an offset (``+02:00``, ``-0400``)."""
    return text.endswith("Z") or _OFFSET.search(text[-6:]) is not None
_TZ_HOURS = {"UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
             "MST": -7, "MDT": -6, "PST": -8, "PDT": -7}


def _parse_loose(value: Any) -> pd.Timestamp | None:
    """Dates CloudMC sends outside ISO 8601: epoch numbers, ``2016-10-24 2:40:29 PM EDT``, ..."""
    if isinstance(value, datetime):
        stamp = pd.Timestamp(value)
        return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 1e11 else value
        return pd.Timestamp(datetime.fromtimestamp(seconds, UTC))
    if not isinstance(value, str):
        return None
    text, offset = value.strip(), 0
    zone = text.rsplit(" ", 1)
    if len(zone) == 2 and zone[1].upper() in _TZ_HOURS:
        text, offset = zone[0], _TZ_HOURS[zone[1].upper()]
    try:
        stamp = pd.Timestamp(pd.to_datetime(text, format="mixed"))
    except (ValueError, TypeError, OverflowError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(UTC) - pd.Timedelta(hours=offset)
    return stamp.tz_convert("UTC")


def _tuples_frame(columns: Sequence[str], rows: list[tuple], kinds: Mapping[str, str]) -> pd.DataFrame:
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    data = {name: typed_column(name, list(col), kinds.get(name, "string"))
            for name, col in zip(columns, values, strict=True)}
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


# -- derived columns --------------------------------------------------------------------------

def _first_of(frame: pd.DataFrame, names_and_factors: Iterable[tuple[str, float]]) -> pd.Series:
    result = pd.Series(pd.NA, index=frame.index, dtype="Float64")
    for name, factor in names_and_factors:
        if name in frame:
            numbers = pd.to_numeric(frame[name], errors="coerce").astype("Float64")
            result = result.fillna(numbers * factor)
    return result


def _state_of(frame: pd.DataFrame) -> pd.Series:
    """The raw provider state: the first of ``state``, ``status``, ``display_power_state``."""
    state = pd.Series(pd.NA, index=frame.index, dtype="string")
    for name in catalog.POWER_STATE_SOURCES:
        if name in frame:
            state = state.fillna(frame[name].astype("string"))
    return state


def power_states(state: pd.Series, connection_type: pd.Series) -> pd.Categorical:
    """Raw provider states -> :data:`~cloudmc_frames.catalog.POWER_STATES` (one vocabulary).

    >>> power_states(pd.Series(["Running", "TERMINATED", None, "terminated"]),
    ...              pd.Series(["cloudstack", "gcp", "gcp", "aws"])).tolist()
    ['running', 'stopped', 'unknown', 'destroyed']
    """
    lookup, special = catalog.POWER_STATE_OF, catalog.PROVIDER_POWER_STATE
    names = [special.get((c, s.lower()), lookup.get(s.lower(), "unknown")) if isinstance(s, str)
             else "unknown"
             for c, s in zip(connection_type.astype(object), state.astype(object), strict=True)]
    return pd.Categorical(names, categories=catalog.POWER_STATES)


def _derive_instances(frame: pd.DataFrame) -> pd.DataFrame:
    state = _state_of(frame)
    frame["state"] = state
    frame["power_state"] = power_states(state, frame["connection_type"])
    frame["is_running"] = pd.array(np.asarray(frame["power_state"] == "running"), dtype="boolean")
    frame["vcpus"] = _first_of(frame, ((c, 1.0) for c in catalog.CPU_COLUMNS)).round().astype("Int64")
    frame["memory_gib"] = _first_of(frame, catalog.MEMORY_COLUMNS_GIB)
    return frame


def _derive_volumes(frame: pd.DataFrame) -> pd.DataFrame:
    frame["size_gib"] = _first_of(frame, catalog.SIZE_COLUMNS_GIB)
    state = _state_of(frame)
    frame["state"] = state
    attached = state.str.lower().isin(catalog.ATTACHED_STATES).fillna(False).astype(bool)
    if "instance_id" in frame:
        attached |= frame["instance_id"].notna().to_numpy()
    if "is_attached_to_instance" in frame:
        attached |= frame["is_attached_to_instance"].fillna(False).astype(bool).to_numpy()
    frame["is_attached"] = pd.array(np.asarray(attached, dtype=bool), dtype="boolean")
    return frame


def _derive_snapshots(frame: pd.DataFrame) -> pd.DataFrame:
    """``created`` from the name's ``_YYYYmmddHHMMSS`` suffix where no field gave it."""
    if frame["created"].isna().any():
        stamps = frame["name"].astype("string").str.extract(SNAPSHOT_STAMP, expand=False)
        parsed = pd.to_datetime(stamps, format="%Y%m%d%H%M%S", errors="coerce", utc=True)
        frame["created"] = frame["created"].fillna(parsed.astype(DATETIME))
    return frame


SNAPSHOT_STAMP = r"_(\d{14})$"
_DERIVED = {"instances": _derive_instances, "volumes": _derive_volumes,
            "snapshots": _derive_snapshots}

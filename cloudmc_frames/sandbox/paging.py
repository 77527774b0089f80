"""Paging and sorting of list responses (REFERENCE 1.5).

Every list accepts ``page_number`` (1-based), ``page_size``, ``sort_by`` (a
field name, dotted for nested fields) and ``sort_order`` (ASC/DESC).

* paging requested (``page_number`` or ``page_size`` present): that page and
  ``metadata {pageSize, pageCurrent, recordCount, sortField, sortOrder}``,
  ``recordCount`` being the total; a page past the end is empty.
* not requested: everything; service lists add ``metadata {recordCount}``,
  admin lists carry no metadata.
* default order: ``id`` ascending, so pages never overlap; ties in a sort keep
  id order; missing/null values sort last in both directions.
* ``page_number``/``page_size`` default to 1 / ``DEFAULT_PAGE_SIZE`` when only
  the other is given; non-numeric or < 1 values -> 400; an unknown
  ``sort_by`` field or a ``sort_order`` other than ASC/DESC -> 400.
"""
import json
from typing import NamedTuple

from . import errors

DEFAULT_PAGE_SIZE = 50
DEFAULT_SORT_FIELD = "id"


class ListParams(NamedTuple):
    """Parsed paging/sorting parameters."""

    paged: bool
    page_number: int
    page_size: int
    sort_by: str
    sort_order: str


def positive_int(query, name, default, maximum=None):
    """Parse a positive integer query parameter, at most ``maximum`` when given (400 if bad)."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f"{name} must be a positive integer", parameter=name, value=raw) from None
    if value < 1:
        raise errors.bad_request(f"{name} must be >= 1", parameter=name, value=raw)
    if maximum and value > maximum:
        raise errors.bad_request(f"{name} must be at most {maximum}", parameter=name, value=raw)
    return value


def parse(query, ignore=False):
    """ListParams from the query dict; ``ignore`` (ignore_paging) disregards all four parameters."""
    if ignore:
        return ListParams(False, 1, DEFAULT_PAGE_SIZE, DEFAULT_SORT_FIELD, "ASC")
    paged = "page_number" in query or "page_size" in query
    number = positive_int(query, "page_number", 1)
    size = positive_int(query, "page_size", DEFAULT_PAGE_SIZE)
    order = query.get("sort_order", "ASC").upper()
    if order not in ("ASC", "DESC"):
        raise errors.bad_request("sort_order must be ASC or DESC", parameter="sort_order",
                                 value=query.get("sort_order"))
    sort_by = query.get("sort_by") or DEFAULT_SORT_FIELD
    return ListParams(paged, number, size, sort_by, order)


def _lookup(record, path):
    """The value at a dotted ``path`` in ``record`` (None if absent)."""
    value = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _key(value):
    """Sort key for mixed JSON values: numbers, then strings, then everything else."""
    if isinstance(value, (bool, int, float)):
        return (0, value, "")
    if isinstance(value, str):
        return (1, 0, value)
    return (2, 0, json.dumps(value, sort_keys=True))


def sort_records(records, sort_by, order):
    """Records sorted by ``sort_by`` (id breaks ties; null/missing last). 400 on unknown fields."""
    by_id = sorted(records, key=lambda r: str(r.get("id", "")))
    if sort_by == DEFAULT_SORT_FIELD:
        return by_id[::-1] if order == "DESC" else by_id
    present = [(r, _lookup(r, sort_by)) for r in by_id]
    with_value = [(r, v) for r, v in present if v is not None]
    if records and not with_value and not any(_has_path(r, sort_by) for r in records):
        raise errors.bad_request(f"Unknown sort field {sort_by!r}", parameter="sort_by", value=sort_by)
    with_value.sort(key=lambda rv: _key(rv[1]), reverse=order == "DESC")
    return [r for r, _ in with_value] + [r for r, v in present if v is None]


def _has_path(record, path):
    """True if ``path`` exists in ``record`` (even with a null value)."""
    head, _, rest = path.partition(".")
    if not isinstance(record, dict) or head not in record:
        return False
    return _has_path(record[head], rest) if rest else True


def apply(records, params, service=False):
    """Sort and page ``records``; return ``(items, metadata or None)``."""
    ordered = sort_records(records, params.sort_by, params.sort_order)
    if not params.paged:
        return ordered, ({"recordCount": len(ordered)} if service else None)
    start = (params.page_number - 1) * params.page_size
    items = ordered[start:start + params.page_size]
    return items, {"pageSize": params.page_size, "pageCurrent": params.page_number,
                   "recordCount": len(ordered),
                   "sortField": params.sort_by, "sortOrder": params.sort_order}

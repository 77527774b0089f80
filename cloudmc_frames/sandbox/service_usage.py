"""``GET /service/usage``: raw usage records (REFERENCE 1.5, 2.8), paged, by cursor, or as CSV.

Parameters: ``start_date``, ``end_date`` (ISO-8601 date-times, required); filters
``organization_id`` (default the caller's organization: that organization's own records,
deleted ones included), ``environment_Id`` (sic), ``connection_id``, ``usage_type`` and
``fields.<name>=<value>`` (all ANDed); ``granularity`` YEARLY | MONTHLY | DAILY | HOURLY.

* One record per metered resource x usage type x bucket with usage > 0.  Buckets are days
  without ``granularity`` (the stored grain), else the granularity's UTC calendar buckets
  (HOURLY only inside the hourly window, as the usage summary); the first and last are clipped
  to ``[start_date, end_date)``.  ``id`` is ``<md5 of resource id and usage type>:<bucket
  number>``; records come ordered by resource, then time.  ``fields`` holds the resource's
  attributes (``resourceType``, ``resourceId``, ``resourceName``, ``zone``, then ``offering``,
  ``volumeType`` or ``purpose``), ``metadata`` its ``serviceCode`` and ``entityType``.
* ``Accept: text/csv``: every record, unpaged, one row each (nested keys as ``fields.<name>``
  and ``metadata.<name>`` columns; see ``csvout`` for the byte-order mark switch).
* otherwise ``{"data": {"records": [...], "metadata": {...}}}``.  Without ``granularity``: page
  ``page`` (1-based, default 1) of ``page_size`` (default 100, at most 1000) records.  With it:
  cursor batches of ``page_size`` (default and at most 1000) records; ``metadata.next_page_token``
  fetches the next batch when sent back as the ``next_page_token`` parameter with the same other
  parameters, and is ``null`` on the last batch (a malformed token, or one from another query,
  is 400).
* ``metadata`` spelling, picked by the server's ``usage_metadata`` switch: ``"camel"`` (default,
  the vendor's example) ``{totalCount, totalPageCount, count, page}``; ``"snake"`` (the vendor's
  attribute table) ``{total_record_count, total_page_count, page_size, page}``; ``count`` is the
  number of records in this answer, ``page_size`` the requested size.
* Span: at most 31 days with HOURLY, 366 otherwise.  Administrators only.
"""

import base64
import bisect
import hashlib
import json

from . import clock, csvout, errors, rbac, windows
from .paging import positive_int
from .pricing import PRODUCT_BY_TYPE

GRAINS = {"HOURLY": "HOUR", "DAILY": "DAY", "MONTHLY": "MONTH", "YEARLY": "YEAR"}
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
CSV_COLUMNS = (
    "id",
    "usageType",
    "usage",
    "unit",
    "connectionId",
    "connectionName",
    "organizationId",
    "organizationName",
    "environmentId",
    "environmentName",
    "startDate",
    "endDate",
    "metricType",
)
FIELD_NAMES = ("resourceType", "resourceId", "resourceName", "zone", "offering", "volumeType", "purpose")
METADATA_NAMES = ("serviceCode", "entityType")


def list_usage(req):
    """GET /service/usage."""
    store, query = req.store, req.query
    rbac.require_admin(req.caller, "read usage")
    org_id = rbac.acting_org(store, req.caller, query, "organization_id")
    grain = _grain(query)
    start, end = windows.instant(query, "start_date"), windows.instant(query, "end_date")
    windows.check_span(
        start,
        end,
        windows.MAX_HOURLY_DAYS if grain == "HOUR" else windows.MAX_DAYS,
        ("start_date", "end_date"),
    )
    bounds = _bounds(store.usage, start, end, grain)
    plan = [(item, _bucket_indexes(item, bounds)) for item in _selected(store.usage, org_id, query)]
    if req.accepts("text/csv"):
        return _csv(req, [_record(store, item, bounds, i, grain) for item, indexes in plan for i in indexes])
    return {"data": _batch(req, plan, bounds, grain)}


def _grain(query):
    """The bucket grain of ``granularity`` (days without it; 400 if unknown)."""
    granularity = query.get("granularity", "").upper()
    if granularity and granularity not in GRAINS:
        raise errors.bad_request(
            "granularity must be YEARLY, MONTHLY, DAILY or HOURLY",
            parameter="granularity",
            value=query["granularity"],
        )
    return GRAINS.get(granularity, "DAY")


def _batch(req, plan, bounds, grain):
    """``{records, metadata}``: a page, or a cursor batch when ``granularity`` is given."""
    query = req.query
    cursor = bool(query.get("granularity"))
    if cursor:
        size, offset = positive_int(query, "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE), _offset(query)
    else:
        size = positive_int(query, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        offset = (positive_int(query, "page", 1) - 1) * size
    total = sum(len(indexes) for _, indexes in plan)
    records = [_record(req.store, item, bounds, i, grain) for item, i in _window(plan, offset, size)]
    metadata = _metadata(req.app.usage_metadata, total, size, offset // size + 1, len(records))
    if cursor:
        following = offset + len(records)
        metadata["next_page_token"] = _token(query, following) if following < total else None
    return {"records": records, "metadata": metadata}


def _bounds(ledger, start, end, grain):
    """Bucket boundaries of the window (hourly ones only inside the hourly window)."""
    low, high = clock.epoch(start), clock.epoch(end)
    if grain == "HOUR":
        low = max(low, ledger.hourly_start)
    return windows.grid(low, high, grain)


def _selected(ledger, org_id, query):
    """The organization's items that pass every filter."""
    wanted = {
        "env_id": query.get("environment_Id"),
        "connection_id": query.get("connection_id"),
        "usage_type": query.get("usage_type"),
    }
    wanted = {k: v for k, v in wanted.items() if v}
    fields = {k[len("fields.") :]: v for k, v in query.items() if k.startswith("fields.")}
    return [
        item
        for item in ledger.by_org.get(org_id, ())
        if all(getattr(item, k) == v for k, v in wanted.items())
        and all(item.fields.get(k) == v for k, v in fields.items())
    ]


def _bucket_indexes(item, bounds):
    """Indexes ``i`` of the buckets ``[bounds[i], bounds[i + 1])`` in which ``item`` accrues."""
    out = []
    if len(bounds) < 2:
        return out
    for start, end in item.intervals:
        low, high = max(start, bounds[0]), min(end, bounds[-1])
        if low < high:
            first = bisect.bisect_right(bounds, low) - 1
            out.extend(range(max(first, out[-1] + 1 if out else first), bisect.bisect_left(bounds, high)))
    return out


def _window(plan, offset, size):
    """``(item, bucket index)`` pairs number ``offset`` to ``offset + size - 1`` of the ordered sequence."""
    out = []
    for item, indexes in plan:
        if offset >= len(indexes):
            offset -= len(indexes)
            continue
        out.extend((item, i) for i in indexes[offset : offset + size - len(out)])
        offset = 0
        if len(out) == size:
            break
    return out


def _record(store, item, bounds, index, grain):
    """One raw usage record."""
    low, high = bounds[index], bounds[index + 1]
    conn = store.connections[item.connection_id]
    return {
        "id": f"{item.key}:{windows.ordinal(low, grain)}",
        "usageType": item.usage_type,
        "usage": round(item.usage(low, high), 8),
        "unit": PRODUCT_BY_TYPE[item.usage_type].unit,
        "connectionId": conn["id"],
        "connectionName": conn["name"],
        "organizationId": item.org_id,
        "organizationName": store.orgs[item.org_id]["name"],
        "environmentId": item.env_id,
        "environmentName": item.env_name,
        "startDate": clock.epoch_text(low, "seconds"),
        "endDate": clock.epoch_text(high, "seconds"),
        "fields": dict(item.fields),
        "metricType": "GAUGE",
        "metadata": {"serviceCode": conn["serviceCode"], "entityType": item.entity_type},
    }


def _metadata(spelling, total, size, page, count):
    """Paging metadata in the server's chosen spelling."""
    pages = -(-total // size)
    if spelling == "snake":
        return {"total_record_count": total, "total_page_count": pages, "page_size": size, "page": page}
    return {"totalCount": total, "totalPageCount": pages, "count": count, "page": page}


def _fingerprint(query):
    """A short digest of the query without its cursor (a token is only valid for its own query)."""
    stable = sorted((k, v) for k, v in query.items() if k not in ("next_page_token", "page_size"))
    return hashlib.sha256(json.dumps(stable).encode("utf-8")).hexdigest()[:16]


def _token(query, offset):
    """The opaque cursor of the batch starting at ``offset``."""
    raw = json.dumps({"offset": offset, "query": _fingerprint(query)}).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _offset(query):
    """The offset a ``next_page_token`` points at (0 without one; 400 if it is not ours)."""
    token = query.get("next_page_token")
    if not token:
        return 0
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = int(state["offset"])
        valid = state["query"] == _fingerprint(query) and offset >= 0
    except (ValueError, TypeError, KeyError):
        valid = False
    if not valid:
        raise errors.bad_request(
            "next_page_token is malformed or belongs to another query", parameter="next_page_token"
        )
    return offset


def _csv(req, records):
    """The CSV answer: flat columns, nested ``fields``/``metadata`` as dotted ones."""
    header = [*CSV_COLUMNS, *(f"fields.{n}" for n in FIELD_NAMES), *(f"metadata.{n}" for n in METADATA_NAMES)]
    rows = [
        [r[c] for c in CSV_COLUMNS]
        + [r["fields"].get(n, "") for n in FIELD_NAMES]
        + [r["metadata"][n] for n in METADATA_NAMES]
        for r in records
    ]
    return csvout.response(req.app, header, rows)


def register(router):
    """Add the raw usage route to ``router``."""
    router.add("GET", "/service/usage", list_usage)

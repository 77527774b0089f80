"""``GET /usage_summary/organizations/:id`` and ``GET /usage_summary/top_level/organizations/:id``.

Parameters (REFERENCE 2.8): ``start_date`` (inclusive) and ``end_date`` (exclusive), both
``YYYY-MM-DD`` and required; ``service_connection_id``; ``include_sub_orgs`` (default false);
``include_cost`` (true); ``include_free_usage`` (true); ``combine_usage_types`` (false);
``period`` HOUR (default) | DAY | PERIOD; ``include_deleted`` (false); ``format`` JSON | CSV
(the organizations endpoint only: the top-level one always answers JSON).  The admin lists'
optional ``page_number``/``page_size`` paging applies to JSON answers.

* One record per organization x connection x usage type x period bucket with usage > 0, computed
  from ``store.usage`` (``pricing`` lists the types).  ``utilityCost = utilityUsage x price``
  rounded to 6 decimals, usage to 8.  Order: ``startDate``, then organization (parents first),
  connection and type.  Dates: ``2017-05-01T00:00:00.000Z``; top level ``2019-03-12T00:00:00Z``
  (as the vendor's two examples).
* HOUR buckets exist only for the last ``hourly_days`` (older usage is kept per day): earlier
  hours are left out, and an HOUR query over older dates answers an empty list.
* ``include_sub_orgs``: every organization of the subtree, each with its own records; deleted
  ones only with ``include_deleted``.  Without it a deleted organization's own summary is 404.
* ``include_free_usage=false`` drops records whose ``utilityCost`` is 0 (free products; on the
  top level also fully committed usage); ``combine_usage_types=true`` sums ``utilityCost`` per
  organization x connection x bucket and removes ``serviceConnectionPricingId``, ``usageType``,
  ``secondaryType`` and the usage fields; ``include_cost=false`` removes ``utilityCost`` and
  ``serviceConnectionPricingId``.
* Top level: records add ``resourceCommitmentUsage``, the part of the actual usage the
  organization's commitments cover (hour by hour at most the committed amount);
  ``utilityUsage`` is the rest, and ``utilityCost`` prices only the rest, so
  ``utilityUsage + resourceCommitmentUsage`` is the organizations endpoint's ``utilityUsage``.
  A commitment covers the organization that holds it (no pooling across sub-organizations).
* Span: at most 31 days with ``period=HOUR``, 366 otherwise (``windows``).
* Administrators only; the organization must be in the caller's scope (403 outside, 404 unknown).
"""

from . import api, clock, csvout, errors, rbac, windows

PERIODS = ("HOUR", "DAY", "PERIOD")
CSV_COLUMNS = (
    "organizationId",
    "serviceConnectionId",
    "startDate",
    "endDate",
    "usageType",
    "secondaryType",
    "serviceConnectionPricingId",
    "utilityCost",
    "utilityUsage",
)
CSV_FORMATS = {"utilityCost": "{:.6f}", "utilityUsage": "{:.8f}"}
TYPE_FIELDS = (
    "serviceConnectionPricingId",
    "usageType",
    "secondaryType",
    "utilityUsage",
    "resourceCommitmentUsage",
)
COST_FIELDS = ("utilityCost", "serviceConnectionPricingId")


def organization_summary(req):
    """GET /usage_summary/organizations/:id."""
    return _answer(req, top_level=False)


def top_level_summary(req):
    """GET /usage_summary/top_level/organizations/:id."""
    return _answer(req, top_level=True)


def _answer(req, top_level):
    """Both endpoints: validate, compute, shape, encode."""
    store, query = req.store, req.query
    rbac.require_admin(req.caller, "read usage")
    org = rbac.check_org(store, req.caller, req.params["id"], "id")
    include_deleted = api.flag(query, "include_deleted")
    if org["deleted"] and not include_deleted:
        raise errors.not_found(
            f"Organization {org['id']} is deleted: pass include_deleted=true",
            id=org["id"],
            type="organizations",
        )
    buckets = _buckets(store.usage, query)
    csv = not top_level and _format(query) == "CSV"
    org_ids = (
        store.subtree(org["id"], include_deleted) if api.flag(query, "include_sub_orgs") else [org["id"]]
    )
    records = [
        r
        for org_id in org_ids
        for r in _org_records(store.usage, org_id, query.get("service_connection_id"), buckets, top_level)
    ]
    records.sort(key=lambda r: r["startDate"])
    records = _shape(records, query)
    if csv:
        columns = [c for c in CSV_COLUMNS if c not in _removed(query)]
        return csvout.response(
            req.app, columns, [[CSV_FORMATS.get(c, "{}").format(r[c]) for c in columns] for r in records]
        )
    return api.list_response(req, records)


def _format(query):
    """The ``format`` parameter (JSON or CSV; 400 otherwise)."""
    value = query.get("format", "JSON").upper()
    if value not in ("JSON", "CSV"):
        raise errors.bad_request("format must be JSON or CSV", parameter="format", value=query["format"])
    return value


def _buckets(ledger, query):
    """``[(start, end)]`` epoch-second buckets of the query (400 if bad); HOUR only in the hourly window."""
    start, end = windows.day(query, "start_date"), windows.day(query, "end_date")
    period = query.get("period", "HOUR").upper()
    if period not in PERIODS:
        raise errors.bad_request(
            "period must be HOUR, DAY or PERIOD", parameter="period", value=query["period"]
        )
    windows.check_span(
        start,
        end,
        windows.MAX_HOURLY_DAYS if period == "HOUR" else windows.MAX_DAYS,
        ("start_date", "end_date"),
    )
    low, high = clock.epoch(start), clock.epoch(end)
    if period == "HOUR":
        low = max(low, ledger.hourly_start)
    bounds = windows.grid(low, high, period)
    return list(zip(bounds, bounds[1:], strict=False))


def _org_records(ledger, org_id, connection_id, buckets, top_level):
    """Records of one organization: per connection, usage type and bucket with usage."""
    out = []
    for (_, conn_id, usage_type), series in ledger.org_series(org_id, connection_id):
        table = ledger.prices[conn_id]
        line = table.line(usage_type)
        committed = ledger.committed.get((org_id, conn_id, usage_type)) if top_level else None
        for low, high in buckets:
            actual = series.integral(low, high)
            if actual <= 1e-9:
                continue
            covered = committed.integral(low, high) if committed else 0.0
            utility = actual - covered
            record = {
                "organizationId": org_id,
                "serviceConnectionId": conn_id,
                "serviceConnectionPricingId": table.id,
                "utilityCost": round(utility * line.price, 6),
                "utilityUsage": round(utility, 8),
            }
            if top_level:
                record.update({"resourceCommitmentUsage": round(covered, 8)})
            style = "seconds" if top_level else "ms"
            record.update(
                {
                    "startDate": clock.epoch_text(low, style),
                    "endDate": clock.epoch_text(high, style),
                    "usageType": line.product.summary_type,
                    "secondaryType": line.product.secondary_type,
                }
            )
            out.append(record)
    return out


def _shape(records, query):
    """Apply ``combine_usage_types``, ``include_free_usage`` and ``include_cost``."""
    if api.flag(query, "combine_usage_types"):
        records = _combine(records)
    if not api.flag(query, "include_free_usage", True):
        records = [r for r in records if r["utilityCost"] > 0]
    removed = _removed(query)
    return [{k: v for k, v in r.items() if k not in removed} for r in records] if removed else records


def _removed(query):
    """The fields the options remove."""
    removed = set(TYPE_FIELDS) if api.flag(query, "combine_usage_types") else set()
    return removed | (set() if api.flag(query, "include_cost", True) else set(COST_FIELDS))


def _combine(records):
    """One record per organization x connection x bucket, with the summed ``utilityCost``."""
    combined = {}
    for record in records:
        key = (
            record["organizationId"],
            record["serviceConnectionId"],
            record["startDate"],
            record["endDate"],
        )
        if key not in combined:
            combined[key] = {k: v for k, v in record.items() if k not in TYPE_FIELDS}
            combined[key]["utilityCost"] = 0.0
        combined[key]["utilityCost"] = round(combined[key]["utilityCost"] + record["utilityCost"], 6)
    return list(combined.values())


def register(router):
    """Add the usage-summary routes to ``router``."""
    router.add("GET", "/usage_summary/organizations/{id}", organization_summary)
    router.add("GET", "/usage_summary/top_level/organizations/{id}", top_level_summary)

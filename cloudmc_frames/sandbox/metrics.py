"""``GET /metrics/:serviceCode/:metricId``: metric time series (REFERENCE 2.9).

Parameters: ``startDate``, ``endDate`` (ISO-8601, required); ``environment`` (an environment
name of the acting organization: ``org_id`` or the caller's; without it every environment of
that organization on the connection); ``aggregationType`` sum | count | min | max | avg (default
avg; ``average`` too); ``size`` (default 5) x ``unit`` (a Java ChronoUnit: SECONDS, MINUTES
(default), HOURS, HALF_DAYS, DAYS, WEEKS; any case) = the bucket width; ``entityType``,
``entityId``.

Answer ``{"data": {<metricId>: [{"entityId", "label", "value"}]}}``, ordered by entity then
time: one point per entity and bucket that holds samples (``signals``: one per hour in a compute
state, so buckets narrower than an hour are mostly empty and left out).  Buckets are aligned
on multiples of their width since 1970-01-01 UTC; ``label`` is the bucket start
(``2021-08-12T12:00:00.000``), ``value`` rounded to 2 decimals.

Errors: unknown connection or environment 404; a plugin without metrics (``supportsMetric``
false) 400 code 9417; an unknown metric 404 with ``context.metricIdentifiers`` (the
descriptor's ids); a bad parameter 400; more than 366 days or ``MAX_BUCKETS`` buckets 400 code
9418.  Administrators read every environment of the acting organization (``org_id`` within
their scope, else 403); other users only the environments they are members of.
"""

from . import clock, errors, rbac, signals, windows
from .names import PLUGIN_SUPPORT

UNITS = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600, "HALF_DAYS": 43200, "DAYS": 86400, "WEEKS": 604800}
AGGREGATIONS = {
    "avg": lambda v: sum(v) / len(v),
    "average": lambda v: sum(v) / len(v),
    "sum": sum,
    "count": len,
    "min": min,
    "max": max,
}


def get_metrics(req):
    """GET /metrics/:serviceCode/:metricId."""
    store, query = req.store, req.query
    conn = _connection(store, req.params["code"])
    metric = _metric(conn, req.params["metric"])
    start, end = windows.instant(query, "startDate"), windows.instant(query, "endDate")
    windows.check_span(start, end, windows.MAX_DAYS, ("startDate", "endDate"))
    aggregate = _aggregation(query)
    width = _width(query)
    low, high = clock.epoch(start), clock.epoch(end)
    buckets = -(-(high - low // width * width) // width)
    if buckets > windows.MAX_BUCKETS:
        raise errors.ApiError(
            400,
            errors.SPAN_TOO_LONG,
            f"At most {windows.MAX_BUCKETS} buckets per entity: widen size/unit or shorten the span",
            {"maxBuckets": windows.MAX_BUCKETS, "requestedBuckets": buckets},
        )
    points = []
    if query.get("entityType", metric.entity_type) == metric.entity_type:
        for entity_id, intervals in _entities(req, conn):
            if query.get("entityId", entity_id) == entity_id:
                points.extend(
                    _points(
                        store.usage.profiles[entity_id],
                        metric.identifier,
                        entity_id,
                        intervals,
                        (low, high),
                        width,
                        aggregate,
                    )
                )
    return {"data": {metric.identifier: points}}


def _connection(store, code):
    """The connection of ``code`` (404), if its plugin supports metrics (400 code 9417)."""
    conn = store.connection_by_code(code)
    if conn is None:
        raise errors.not_found(f"Unknown service connection {code!r}", serviceCode=code)
    if not PLUGIN_SUPPORT[conn["type"]]["supportsMetric"]:
        raise errors.ApiError(
            400,
            errors.UNSUPPORTED,
            f"The {conn['type']} plugin of {code!r} does not support metrics",
            {"serviceCode": code, "type": conn["type"], "flag": "supportsMetric"},
        )
    return conn


def _metric(conn, metric_id):
    """The metric descriptor of ``metric_id`` (404 listing the known ids)."""
    if metric_id not in signals.METRICS:
        raise errors.not_found(
            f"Unknown metric {metric_id!r} for {conn['serviceCode']!r}",
            metricId=metric_id,
            serviceCode=conn["serviceCode"],
            metricIdentifiers=sorted(signals.METRICS),
        )
    return signals.METRICS[metric_id]


def _aggregation(query):
    """The aggregation function of ``aggregationType`` (400 if unknown)."""
    name = query.get("aggregationType", "avg").lower()
    if name not in AGGREGATIONS:
        raise errors.bad_request(
            "aggregationType must be sum, count, min, max or avg",
            parameter="aggregationType",
            value=query["aggregationType"],
        )
    return AGGREGATIONS[name]


def _width(query):
    """The bucket width in seconds from ``size`` x ``unit`` (400 if bad)."""
    unit = query.get("unit", "MINUTES").upper()
    try:
        size = int(query.get("size", "5"))
    except ValueError:
        size = 0
    if size < 1 or unit not in UNITS:
        raise errors.bad_request(
            f"size must be a positive integer and unit one of {', '.join(UNITS)}",
            parameter="size" if size < 1 else "unit",
            value=query.get("unit"),
        )
    return size * UNITS[unit]


def _entities(req, conn):
    """``(instance id, intervals)`` of the environments the call covers."""
    store, caller = req.store, req.caller
    org_id = rbac.acting_org(store, caller, req.query)
    if req.query.get("environment"):
        env = store.env_by_name(org_id, req.query["environment"])
        if env is None or env["serviceConnection"]["id"] != conn["id"]:
            raise errors.not_found(
                f"Unknown environment {req.query['environment']!r} on {conn['serviceCode']!r}",
                environmentName=req.query["environment"],
                serviceCode=conn["serviceCode"],
            )
        rbac.check_env(store, caller, env)
        envs = [env]
    else:
        envs = [
            e
            for e in store.environments.values()
            if e["organization"]["id"] == org_id
            and e["serviceConnection"]["id"] == conn["id"]
            and (rbac.is_admin(caller) or rbac.is_member(store, caller, e["id"]))
        ]
    return sorted(entity for env in envs for entity in store.usage.metric_entities.get(env["id"], ()))


def _points(profile, metric_id, entity_id, intervals, window, width, aggregate):
    """The points of one entity: its hourly samples in ``window``, grouped into buckets."""
    seed = signals.seed_of(entity_id)
    buckets = {}
    for start, end in intervals:
        first = max(start, -(-window[0] // 3600) * 3600)
        for hour in range(first, min(end, window[1]), 3600):
            buckets.setdefault(hour // width * width, []).append(
                signals.value(profile, metric_id, seed, hour)
            )
    return [
        {
            "entityId": entity_id,
            "label": clock.epoch_text(start, "label"),
            "value": float(round(aggregate(values), 2)),
        }
        for start, values in sorted(buckets.items())
    ]


def register(router):
    """Add the metrics route to ``router``."""
    router.add("GET", "/metrics/{code}/{metric}", get_metrics)

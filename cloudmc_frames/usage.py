"""The time axis: usage, cost, commitments, pricing and metrics as typed frames.

Seven accessors with the inventory's conventions (``orgs=``, ``errors="collect"|"raise"``, a
coverage row per scope read and an issue row per scope that failed, documented column sets in
:data:`~cloudmc_frames.catalog.USAGE_SCHEMAS`, UTC datetimes, ``Float64`` amounts whether CloudMC
sends numbers or strings such as ``"1,234.50"``):

========================  ===================================================  ======================
accessor                  endpoint                                             one row per
========================  ===================================================  ======================
``usage_summary``         ``/usage_summary[/top_level]/organizations/:id``     org x connection x
                                                                               pricing x type x period
``usage_records``         ``/service/usage`` (pages or cursor)                 raw usage record
``metric_descriptors``    ``/services/descriptors/:pluginType``                connection x metric
``metrics``               ``/metrics/:serviceCode/:metricId``                  entity x bucket
``commitments``           ``/commitments``                                     committed product
``pricing``               ``/reports/organization_pricing``                    currency x category x
                                                                               product
``customer_costs``        ``/reports/customers``                               customer x pricing
========================  ===================================================  ======================

Windows are ``[start, end)``, ``end`` exclusive as the API defines it; a window longer than the
API takes in one call (31 days hourly, 366 days otherwise, 10,000 metric buckets) is read as
several calls (:mod:`~cloudmc_frames.spans`), each a scope of its own; a server that refuses a
span anyway (code 9418) is asked again in the pieces its ``maxDays`` allows. A connection whose
plugin does not support usage or metrics (descriptor flags ``supportsUsage``/``supportsMetric``)
is not asked: it becomes an issue row naming the flag.

Example::

    >>> with cmf.sandbox() as sb:                                          # doctest: +SKIP
    ...     client = sb.client()
    ...     days = cmf.usage_summary(client, start="2026-01-01", end="2026-02-01")
    ...     cpu = cmf.metrics(client, "instance.cpu.utilization", start="2026-01-25", end="2026-02-01")
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pandas as pd

from . import spans
from .accessors import _environment_frame, _filter_environments
from .client import Client
from .errors import ConfigError, ResponseFormatError, ValidationError, json_type
from .fanout import CrawlCall, Scope, read_scopes, start_call
from .frames import build_frame, to_amount
from .options import CrawlOptions
from .orgtree import organization_tree, select_organizations
from .paging import Page, iter_usage_cursor, iter_usage_pages, usage_page, whole_list

PERIODS = ("HOUR", "DAY", "PERIOD")
GRANULARITIES = {"HOURLY": "DAY", "DAILY": "DAY", "MONTHLY": "MONTH", "YEARLY": "YEAR"}  # -> split grain
AGGREGATIONS = ("avg", "sum", "count", "min", "max")
UNSUPPORTED = 9417  # CloudMC's code for a plugin without usage or metrics

Window = tuple[pd.Timestamp, pd.Timestamp]
Read = tuple[list[dict], bool, int]  # records, all from a cache, network calls sent
Fetch = Callable[[Client, Scope, CrawlCall, pd.Timestamp, pd.Timestamp], Read]


# -- usage summary ------------------------------------------------------------------------------

def usage_summary(client: Client, orgs: Any = None, *, start: Any, end: Any, period: str = "DAY",
                  include_sub_orgs: bool = False, service_connection: str | None = None,
                  combine_usage_types: bool = False, top_level: bool = False,
                  include_deleted: bool = False, errors: str = "collect", **crawl: Any) -> pd.DataFrame:
    """Usage and cost per organization, connection, pricing, usage type and period (UTC days).

    ``start``/``end``: whole UTC days (dates, ``YYYY-MM-DD`` or midnight timestamps), ``end``
    exclusive. ``period``: ``"HOUR"`` (kept only for recent days), ``"DAY"`` or ``"PERIOD"`` (one
    bucket per call). ``include_sub_orgs``: each selected organization with its whole subtree
    (sub-organizations read through their top selected ancestor, once each).
    ``service_connection``: a connection id or service code. ``top_level=True`` reads
    ``/usage_summary/top_level/...``: ``resource_commitment_usage`` is the part commitments
    cover, and ``utility_usage``/``utility_cost`` the rest. ``actual_usage`` =
    ``utility_usage`` + ``resource_commitment_usage``. ``include_deleted``: deleted
    organizations too (they keep their past usage). ``crawl``: ``max_workers``, ``progress``,
    ``fresh``, ``timeout``.

    >>> cmf.usage_summary(client, start="2026-01-01", end="2026-07-01", period="DAY")  # doctest: +SKIP
    """
    options = start_call(client, CrawlOptions.from_kwargs(crawl, errors))
    first, last = spans.window("start", start, "end", end)
    spans.whole_days("start", first)
    spans.whole_days("end", last)
    period = _choice("period", period, PERIODS)
    tree = _tree(client, options)
    selected = _organizations(tree, orgs, include_deleted)
    if include_sub_orgs:
        selected = top_organizations(selected)
    connection = _connection_id(tree, service_connection)
    refusal = _refusal(client, "usage_summary", tree, options, connection, "supportsUsage")
    params = {"period": period, "include_sub_orgs": include_sub_orgs or None,
              "service_connection_id": connection, "combine_usage_types": combine_usage_types or None}
    kind = "top_level/" if top_level else ""
    max_days = spans.MAX_HOURLY_DAYS if period == "HOUR" else spans.MAX_DAYS
    scopes = [Scope(org.id, _text(org.name), _text(org.path), entity="usage_summary",
                    path=f"/usage_summary/{kind}organizations/{quote(org.id, safe='')}",
                    params={**params, "include_deleted": True if include_deleted or _true(org.deleted)
                            else None},
                    read=refusal or _windowed(_read_summary, piece, "DAY"))
              for org in selected.itertuples(index=False)
              for piece in spans.split(first, last, max_days=max_days)]
    results = read_scopes(client, "usage_summary", scopes, options)
    chunks = _by_record_org(tree, results) if include_sub_orgs else [(s.context(), r) for s, r in results]
    frame = build_frame("usage_summary", chunks)
    frame["service_code"] = _codes_of(tree, frame["service_connection_id"])
    frame["actual_usage"] = frame["utility_usage"] + frame["resource_commitment_usage"].fillna(0.0)
    return frame


def top_organizations(selected: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``selected`` with no ancestor in ``selected`` (by ``path``): their subtrees cover the rest.

    >>> tree = pd.DataFrame({"id": ["a", "b", "c"], "path": ["acme", "acme/eu", "zeta"]})
    >>> top_organizations(tree)["id"].tolist()
    ['a', 'c']
    """
    paths = set(selected["path"].astype(object))
    keep = [not any(p[:i] in paths for i in _slashes(p)) for p in selected["path"].astype(object)]
    return selected[keep].reset_index(drop=True)


def _read_summary(client: Client, scope: Scope, call: CrawlCall, low: pd.Timestamp,
                  high: pd.Timestamp) -> Read:
    """One window of a usage summary: asked for whole (one call), paged only if the server pages it."""
    params = {**(scope.params or {}), "start_date": spans.api_date(low), "end_date": spans.api_date(high)}
    reply = client.get_reply(scope.path, params, fresh=call.fresh, deadline=call.deadline)
    page = Page(reply.data, (reply.payload or {}).get("metadata"), reply.url)
    if whole_list(page):
        return page.data, reply.from_cache, _sent(reply)
    listing = client.list(scope.path, params, fresh=call.fresh, deadline=call.deadline)
    return listing.records, listing.from_cache, _sent(reply) + listing.sent


# -- raw usage records --------------------------------------------------------------------------

def usage_records(client: Client, *, start: Any, end: Any, orgs: Any = None, environment: Any = None,
                  connection: str | None = None, usage_type: str | None = None,
                  granularity: str | None = None, fields: dict | None = None, format: str = "json",
                  errors: str = "collect", **crawl: Any) -> pd.DataFrame:
    """Raw usage records (``/service/usage``) of each selected organization in ``[start, end)``.

    ``start``/``end``: instants (dates, ISO strings, datetimes; UTC when naive). Filters:
    ``environment`` (names or ids), ``connection`` (an id or service code), ``usage_type``
    (``"memory_type"``, ...), ``fields`` (``{"zone": "QC-1"}``: ``fields.<name>=<value>``, all
    ANDed). ``granularity`` (``"HOURLY"``, ``"DAILY"``, ``"MONTHLY"``, ``"YEARLY"``) sums records
    per calendar bucket and reads them by cursor; without it, records are the stored days, read
    page by page (both metadata spellings). ``fields{...}`` become ``field_<name>`` columns.
    ``format="csv"`` reads each window as one unpaged CSV export (``Accept: text/csv``; a
    byte-order mark is dropped) into the same columns.

    >>> cmf.usage_records(client, start="2026-11-01", end="2026-11-08",          # doctest: +SKIP
    ...                   usage_type="cpu_type")
    """
    if granularity is not None and (start is None or end is None):
        raise ConfigError("granularity needs start= and end= (ISO date-times): the cursor reads one window")
    options = start_call(client, CrawlOptions.from_kwargs(crawl, errors))
    first, last = spans.window("start", start, "end", end)
    grain = None if granularity is None else _choice("granularity", granularity, tuple(GRANULARITIES))
    reader = _read_usage_csv if _choice("format", format, ("json", "csv")) == "CSV" else _read_usage
    filters = {"usage_type": _optional_text("usage_type", usage_type), **_field_params(fields),
               "granularity": grain}
    tree = _tree(client, options)
    selected = _organizations(tree, orgs, False)
    conn = _connection_id(tree, connection)
    refusal = _refusal(client, "usage_records", tree, options, conn, "supportsUsage")
    targets = _environment_targets(client, tree, selected, environment, options)
    max_days = spans.MAX_HOURLY_DAYS if grain == "HOURLY" else spans.MAX_DAYS
    pieces = spans.split(first, last, max_days=max_days, grain=GRANULARITIES.get(grain or "", "DAY"))
    scopes = [Scope(org.id, _text(org.name), _text(org.path), env_id, env_name, entity="usage_records",
                    path="/service/usage",
                    params={**filters, "organization_id": org.id, "connection_id": conn,
                            "environment_Id": env_id},
                    read=refusal or _windowed(reader, piece, GRANULARITIES.get(grain or "", "DAY")))
              for org in selected.itertuples(index=False)
              for env_id, env_name in targets.get(org.id, [(None, None)])
              for piece in pieces]
    results = read_scopes(client, "usage_records", scopes, options)
    frame = build_frame("usage_records", [(s.context(), r) for s, r in results])
    frame = frame.rename(columns={c: "field_" + c[len("fields_"):] for c in frame.columns
                                  if c.startswith("fields_")})
    fields = sorted(c for c in frame.columns if c.startswith("field_"))  # open-ended: a stable order
    return frame[[c for c in frame.columns if not c.startswith("field_")] + fields]


def _read_usage(client: Client, scope: Scope, call: CrawlCall, low: pd.Timestamp,
                high: pd.Timestamp) -> Read:
    base = {**(scope.params or {}), "start_date": spans.api_instant(low), "end_date": spans.api_instant(high)}
    cached = []

    def fetch(paging: dict) -> Any:
        reply = client.get_reply(scope.path, {**base, **paging}, fresh=call.fresh, deadline=call.deadline)
        cached.append(reply.from_cache)
        return usage_page(reply.data, reply.url)

    walk = iter_usage_cursor if base.get("granularity") else iter_usage_pages
    records = list(walk(fetch, max_pages=client.settings.max_pages))
    return records, all(cached), cached.count(False)


def _read_usage_csv(client: Client, scope: Scope, call: CrawlCall, low: pd.Timestamp,
                    high: pd.Timestamp) -> Read:
    params = {**(scope.params or {}), "start_date": spans.api_instant(low),
              "end_date": spans.api_instant(high)}
    reply = client.get_text(scope.path, params, fresh=call.fresh, deadline=call.deadline)
    return csv_records(reply.text, reply.url), reply.from_cache, _sent(reply)


def csv_records(text: str, url: str | None = None) -> list[dict]:
    """The rows of a CSV export as records keyed by its header (``fields.zone``); empty cells are None.

    A leading byte-order mark is dropped; a header with empty or repeated names, or a row with
    another number of cells, is a :class:`~cloudmc_frames.errors.ResponseFormatError`.

    >>> csv_records('\\ufeffid,usage,fields.zone\\r\\na,"1,234.5",\\r\\n')
    [{'id': 'a', 'usage': '1,234.5', 'fields.zone': None}]
    """
    rows = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = next(rows, None)
    if header is None:
        return []
    if not all(header) or len(set(header)) != len(header):
        raise ResponseFormatError(f"the CSV header has empty or repeated column names: {header[:8]}",
                                  url=url)
    records = []
    for line, row in enumerate(rows, 2):
        if not row:
            continue
        if len(row) != len(header):
            raise ResponseFormatError(f"CSV line {line} has {len(row)} cells where the header has "
                                      f"{len(header)}", url=url)
        records.append({name: value if value != "" else None
                        for name, value in zip(header, row, strict=True)})
    return records


def _field_params(fields: Any) -> dict[str, str]:
    if fields is None:
        return {}
    if not isinstance(fields, dict) or not all(isinstance(k, str) and k for k in fields):
        raise ConfigError(f"fields must be a dict of field name -> value, got {fields!r}")
    return {f"fields.{name}": str(value) for name, value in fields.items()}


def _environment_targets(client: Client, tree: pd.DataFrame, selected: pd.DataFrame, environment: Any,
                         options: CrawlCall) -> dict[str, list[tuple[str | None, str | None]]]:
    """``org id -> [(environment id, name)]`` chosen by ``environment`` (names or ids); {} for all."""
    if environment is None:
        return {}
    wanted = set(_names("environment", environment))
    envs = _environment_frame(client, "usage_records", tree, selected, options)
    envs = envs[~envs["deleted"].fillna(False).astype(bool)]
    targets: dict[str, list] = {org: [] for org in selected["id"]}
    found = set()
    for org_id, env_id, name in envs[["organization_id", "id", "name"]].itertuples(index=False):
        if env_id in wanted or name in wanted:
            targets.setdefault(org_id, []).append((env_id, name))
            found |= {env_id, name}
    missing = sorted(wanted - found)
    if missing:
        raise ConfigError(f"environment {', '.join(map(repr, missing))} is not an environment of the "
                          "selected organizations; see cmf.environments(client)[['organization_path', "
                          "'name']]")
    return targets


# -- descriptors and metrics ----------------------------------------------------------------------

@dataclass(frozen=True)
class Plugin:
    """A service connection and its plugin's descriptor (None when it could not be read)."""

    connection_id: str
    service_code: str | None
    connection_type: str | None
    descriptor: dict | None

    def supports(self, flag: str) -> bool | None:
        """The descriptor's ``flag`` (``supportsUsage``, ``supportsMetric``, ...); None when unknown."""
        value = (self.descriptor or {}).get(flag)
        return value if isinstance(value, bool) else None

    @property
    def metric_ids(self) -> tuple[str, ...]:
        """The ``metricIdentifier`` of every metric descriptor."""
        items = (self.descriptor or {}).get("metricDescriptors")
        return tuple(m["metricIdentifier"] for m in items if isinstance(m, dict)
                     and isinstance(m.get("metricIdentifier"), str)) if isinstance(items, list) else ()


def metric_descriptors(client: Client, service_code: Any = None, *, errors: str = "collect",
                       **crawl: Any) -> pd.DataFrame:
    """What each service connection's plugin can measure: one row per connection and metric.

    Columns: the connection (``service_connection_id``, ``service_code``, ``connection_type``),
    its plugin's flags (``supports_usage``, ``supports_metric``,
    ``supports_environment_metrics``), the metric (``metric_identifier``, ``entity_type``,
    ``resource_metric_type``, label keys; missing for a plugin without metrics) and
    ``entity_types`` (the plugin's entity types). ``service_code``: a code or a list of them.

    >>> cmf.metric_descriptors(client)[["service_code", "metric_identifier"]]     # doctest: +SKIP
    """
    options = start_call(client, CrawlOptions.from_kwargs(crawl, errors))
    tree = _tree(client, options)
    codes = _connection_codes(tree)
    wanted = None if service_code is None else _known_codes(codes, service_code)
    plugins = plugins_of(client, "metric_descriptors", tree, options,
                         {c for c, code in codes.items() if wanted is None or code in wanted})
    return build_frame("metric_descriptors", [({}, _descriptor_rows(p)) for p in plugins.values()])


def plugins_of(client: Client, accessor: str, tree: pd.DataFrame, options: CrawlCall,
               wanted: Iterable[str] | None = None) -> dict[str, Plugin]:
    """``connection id -> Plugin`` for the connections the tree's organizations may use.

    Reads each connection (``/services/connections/:id``) and each plugin type's descriptor
    once, as scopes of ``accessor``'s call (a failure is an issue row; its plugin is unknown).
    """
    codes = _connection_codes(tree)
    ids = [c for c in codes if wanted is None or c in set(wanted)]
    details = {}
    scopes = [Scope(None, None, None, entity="service_connections", single=True,
                    path=f"/services/connections/{quote(c, safe='')}") for c in ids]
    for _, records in read_scopes(client, accessor, scopes, options):
        details.update({r.get("id"): r for r in records if isinstance(r, dict)})
    types = sorted({d["type"] for d in details.values() if isinstance(d.get("type"), str)})
    scopes = [Scope(None, None, None, entity="descriptors", single=True,
                    path=f"/services/descriptors/{quote(t, safe='')}") for t in types]
    descriptors = {scope.path.rsplit("/", 1)[1]: records[0]
                   for scope, records in read_scopes(client, accessor, scopes, options) if records}
    out = {}
    for cid in ids:
        kind = details.get(cid, {}).get("type")
        code = details.get(cid, {}).get("serviceCode") or codes[cid]
        out[cid] = Plugin(cid, code, kind, descriptors.get(quote(kind, safe="")) if kind else None)
    return out


def _descriptor_rows(plugin: Plugin) -> list[dict]:
    descriptor = plugin.descriptor or {}
    entities = descriptor.get("entityDescriptors")
    base = {"service_connection_id": plugin.connection_id, "service_code": plugin.service_code,
            "connection_type": plugin.connection_type,
            "supports_usage": plugin.supports("supportsUsage"),
            "supports_metric": plugin.supports("supportsMetric"),
            "supports_environment_metrics": plugin.supports("supportsEnvironmentMetrics"),
            "entity_types": [e.get("type") for e in entities if isinstance(e, dict)]
            if isinstance(entities, list) else None}
    metrics = [m for m in descriptor.get("metricDescriptors") or [] if isinstance(m, dict)]
    return [{**base, "metric_identifier": m.get("metricIdentifier"), "entity_type": m.get("entityType"),
             "resource_metric_type": m.get("resourceMetricType"), "name_label_key": m.get("nameLabelKey"),
             "unit_label_key": m.get("unitLabelKey")} for m in metrics] or [base]


def metrics(client: Client, metric: str, *, start: Any, end: Any, service_code: Any = None,
            orgs: Any = None, environment: Any = None, entity_type: str | None = None,
            entity_id: str | None = None, aggregation: str = "avg", bucket: Any = "1h",
            errors: str = "collect", **crawl: Any) -> pd.DataFrame:
    """A metric as a long frame: one row per entity and bucket (``entity_id``, ``timestamp``, ``value``).

    ``metric``: a ``metricIdentifier`` of the connections' descriptors
    (``"instance.cpu.utilization"``) or a word of exactly one of them (``"cpu"``); an unknown one
    is a ConfigError listing them. Reads every environment of the selected organizations on a
    connection whose plugin offers the metric (``service_code``: one code or a list;
    ``environment``: names), or only ``entity_type``/``entity_id``. ``aggregation``: ``avg``,
    ``sum``, ``count``, ``min`` or ``max`` of the samples in each ``bucket`` (``"1h"``,
    ``"5min"``, ``"1d"``; buckets are aligned on multiples of their width since 1970 UTC).
    A connection named in ``service_code`` whose plugin has no metrics is an issue row naming
    ``supportsMetric``.

    >>> cmf.metrics(client, "cpu", start="2026-11-01", end="2026-12-01", aggregation="max")  # doctest: +SKIP
    """
    options = start_call(client, CrawlOptions.from_kwargs(crawl, errors))
    first, last = spans.window("start", start, "end", end)
    width = spans.parse_bucket(bucket)
    aggregation = _choice("aggregation", aggregation, AGGREGATIONS).lower()
    tree = _tree(client, options)
    codes = _connection_codes(tree)
    wanted = None if service_code is None else set(_known_codes(codes, service_code))
    plugins = plugins_of(client, "metrics", tree, options,
                         {c for c, code in codes.items() if wanted is None or code in wanted})
    metric_id = resolve_metric(metric, sorted({m for p in plugins.values() for m in p.metric_ids}))
    selected = _organizations(tree, orgs, False)
    envs = _filter_environments(_environment_frame(client, "metrics", tree, selected, options),
                                None if wanted is None else sorted(wanted), environment)
    by_code = {p.service_code: p for p in plugins.values()}
    params = {"aggregationType": aggregation, "size": width.size, "unit": width.unit,
              "entityType": _optional_text("entity_type", entity_type),
              "entityId": _optional_text("entity_id", entity_id)}
    scopes = []
    for env in envs[["organization_id", "organization_name", "organization_path", "id", "name",
                     "service_code", "connection_type"]].itertuples(index=False):
        plugin = by_code.get(_text(env.service_code))
        refusal = _metric_refusal(plugin, metric_id, explicit=wanted is not None)
        if refusal is False:
            continue
        path = f"/metrics/{quote(str(env.service_code), safe='')}/{quote(metric_id, safe='')}"
        for piece in spans.split_buckets(first, last, width):
            scopes.append(Scope(env.organization_id, _text(env.organization_name),
                                _text(env.organization_path), env.id, env.name, _text(env.service_code),
                                _text(env.connection_type), entity="metrics", path=path,
                                params={**params, "environment": env.name},
                                read=refusal or _windowed(_read_metric, piece, width)))
    results = read_scopes(client, "metrics", scopes, options)
    frame = build_frame("metrics", [(s.context(service=True), r) for s, r in results],
                        rename={"label": "timestamp"})
    frame["metric"] = pd.array([metric_id] * len(frame), dtype="string")
    return frame


def resolve_metric(metric: Any, known: list[str]) -> str:
    """The metric id ``metric`` names: itself, or the one id that has it as a dotted word.

    >>> resolve_metric("cpu", ["instance.cpu.utilization", "instance.memory.utilization"])
    'instance.cpu.utilization'
    >>> resolve_metric("disk", ["instance.cpu.utilization"])
    Traceback (most recent call last):
    ...
    cloudmc_frames.errors.ConfigError: unknown metric 'disk'; the connections' descriptors offer: \
instance.cpu.utilization
    """
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f"metric must be a metric identifier (a string), got {metric!r}")
    if metric in known:
        return metric
    matches = [m for m in known if metric.lower() in m.lower().split(".")]
    if len(matches) == 1:
        return matches[0]
    offered = ", ".join(known) or "none (no connection this key can read supports metrics)"
    which = f"ambiguous metric {metric!r} (matches {', '.join(matches)})" if matches else \
        f"unknown metric {metric!r}"
    raise ConfigError(f"{which}; the connections' descriptors offer: {offered}")


def _metric_refusal(plugin: Plugin | None, metric_id: str, *, explicit: bool) -> Any:
    """How to treat an environment's connection: None (read it), False (skip it silently, the user
    did not ask for that connection), or a reader raising the issue that names the flag."""
    if plugin is None or plugin.descriptor is None:
        return None  # unknown: let the server say
    if plugin.supports("supportsMetric") is False:
        return _refuse(plugin, "supportsMetric", "metrics") if explicit else False
    if metric_id not in plugin.metric_ids:
        if not explicit:
            return False
        message = (f"the {plugin.connection_type} plugin of {plugin.service_code!r} does not offer metric "
                   f"{metric_id!r} (its descriptor lists {', '.join(plugin.metric_ids)})")
        return _raiser(ValidationError(message, code=UNSUPPORTED, context={
            "serviceCode": plugin.service_code, "metricIdentifier": metric_id}))
    return None


def _read_metric(client: Client, scope: Scope, call: CrawlCall, low: pd.Timestamp,
                 high: pd.Timestamp) -> Read:
    params = {**(scope.params or {}), "startDate": spans.api_instant(low), "endDate": spans.api_instant(high)}
    reply = client.get_reply(scope.path, params, org_id=scope.organization_id, fresh=call.fresh,
                             deadline=call.deadline)
    data = reply.data
    metric_id = scope.path.rsplit("/", 1)[1]
    if not isinstance(data, dict):
        raise ResponseFormatError(f"the metrics endpoint answered 'data' of type {json_type(data)}, not "
                                  "an object of series", url=reply.url)
    points = data.get(metric_id, next(iter(data.values())) if len(data) == 1 else [])
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise ResponseFormatError("a metric series is not a list of {entityId, label, value} objects",
                                  url=reply.url)
    return points, reply.from_cache, _sent(reply)


# -- commitments ----------------------------------------------------------------------------------

def commitments(client: Client, orgs: Any = None, *, start: Any = None, end: Any = None,
                errors: str = "collect", **crawl: Any) -> pd.DataFrame:
    """Commitments of each selected organization: one row per committed product.

    Columns: the commitment (``commitment_id``, ``commitment_name``, ``status``, ``pricing_method``,
    ``rate_type``, ``fixed_price``, ``start_date``, ``end_date``, ...) and the product
    (``sku``, ``product_id``, ``committed_amount`` per hour, ``discount_amount``,
    ``fixed_rate_reference_price``). ``start``/``end`` (whole UTC days, together or not at all)
    keep the commitments whose term overlaps ``[start, end)``.

    >>> cmf.commitments(client)[["organization_path", "status", "sku", "committed_amount"]]  # doctest: +SKIP
    """
    if (start is None) != (end is None):
        raise ConfigError("start= and end= go together (CloudMC filters commitments by both or neither)")
    options = start_call(client, CrawlOptions.from_kwargs(crawl, errors))
    window = {}
    if start is not None:
        first, last = spans.window("start", start, "end", end)
        window = {"from": spans.api_date(spans.whole_days("start", first)),
                  "to": spans.api_date(spans.whole_days("end", last))}
    tree = _tree(client, options)
    selected = _organizations(tree, orgs, False)
    scopes = [Scope(org.id, _text(org.name), _text(org.path), entity="commitments", path="/commitments",
                    params={"organization_id": org.id, **window})
              for org in selected.itertuples(index=False)]
    results = read_scopes(client, "commitments", scopes, options)
    chunks = [(s.context(), [row for c in recs for row in commitment_rows(c)]) for s, recs in results]
    return build_frame("commitments", chunks, rename={"product_sku": "sku"})


def commitment_rows(commitment: dict) -> list[dict]:
    """One flat record per committed product of a ``/commitments`` record (one without products: one row).

    >>> [r["committedAmount"] for r in commitment_rows({"id": "c1", "committedProducts": [
    ...     {"id": "p1", "product": {"id": "x", "sku": "VCPU"}, "committedAmount": 2.0}]})]
    [2.0]
    """
    head = {"commitmentId": commitment.get("id"), "commitmentName": commitment.get("name")}
    head.update({k: v for k, v in commitment.items()
                 if k not in ("id", "name", "organization", "committedProducts")})
    products = [p for p in commitment.get("committedProducts") or [] if isinstance(p, dict)] or [{}]
    rows = []
    for product in products:
        row = dict(head)
        row.update({"committedProductId": product.get("id"), "product": product.get("product")})
        row.update({k: v for k, v in product.items()
                    if k not in ("id", "product", "createdAt", "updatedAt")})
        row.update({"productCreatedAt": product.get("createdAt"),
                    "productUpdatedAt": product.get("updatedAt")})
        rows.append(row)
    return rows


# -- pricing reports ------------------------------------------------------------------------------

def pricing(client: Client, org: Any, *, start: Any, end: Any, service_connection: str | None = None,
            errors: str = "collect", **crawl: Any) -> pd.DataFrame:
    """One organization's priced usage (``/reports/organization_pricing``), per category and product.

    ``org``: an id or a path that names one organization; ``start``/``end``: instants, ``end``
    exclusive (longer than 366 days: one report per 366 days, told apart by ``start_date``).
    Amounts (``usage``, ``cost``, ``category_subtotal``, ``currency_total``) are Float64;
    ``pricing_tiers`` holds each product's tiers as ``[{"usage", "price", "cost"}]`` floats.

    >>> cmf.pricing(client, "nimbus-cloud/acme-corp", start="2026-11-01", end="2026-12-01")  # doctest: +SKIP
    """
    options = start_call(client, CrawlOptions.from_kwargs(crawl, errors))
    first, last = spans.window("start", start, "end", end)
    tree = _tree(client, options)
    chosen = _one_organization(tree, "org", org)
    conn = _connection_id(tree, service_connection)
    scopes = _report_scopes(chosen, "pricing", "/reports/organization_pricing", first, last,
                            {"organization_id": chosen.id, "service_connection_id": conn})
    results = read_scopes(client, "pricing", scopes, options)
    return build_frame("pricing", [(s.context(), [row for r in recs for row in pricing_rows(r)])
                                   for s, recs in results])


def pricing_rows(report: dict) -> list[dict]:
    """Flat rows of one ``organization_pricing`` report: currency x category x product.

    >>> pricing_rows({"startDate": "2021-03-30T00:00:00Z", "currencies": [{"currency": "CAD", "total": "4.00",
    ...     "categories": [{"name": {"en": "Disk"}, "subTotal": "4.00", "products": [{"sku": "B",
    ...     "name": {"en": "Block"}, "cost": "4.00", "usage": "1,000.0", "unit": {"unit": "GB"},
    ...     "pricingTiers": [{"usage": "1000", "price": "0.004", "cost": "4.00"}]}]}]}]})[0]["pricing_tiers"]
    [{'usage': 1000.0, 'price': 0.004, 'cost': 4.0}]
    """
    rows = []
    dates = {"start_date": report.get("startDate"), "end_date": report.get("endDate")}
    for currency in _objects(report.get("currencies")):
        money = {"currency": currency.get("currency"), "currency_total": currency.get("total")}
        for category in _objects(currency.get("categories")):
            group = {"category": _label(category.get("name")), "category_subtotal": category.get("subTotal")}
            for product in _objects(category.get("products")):
                unit = product.get("unit")
                rows.append({**dates, **money, **group, "sku": product.get("sku"),
                             "product": _label(product.get("name")), "usage": product.get("usage"),
                             "unit": unit.get("unit") if isinstance(unit, dict) else unit,
                             "period": product.get("period"), "cost": product.get("cost"),
                             "pricing_tiers": [_tier(t) for t in _objects(product.get("pricingTiers"))]})
    return rows


def customer_costs(client: Client, reseller_org: Any, *, start: Any, end: Any,
                   service_connection: str | None = None, errors: str = "collect",
                   **crawl: Any) -> pd.DataFrame:
    """What each customer of a reseller costs (``/reports/customers``), per organization and pricing.

    ``reseller_org``: an id or a path that names one reseller organization. Columns: the
    customer (``organization_id``, ``organization_name``, ``organization_path``,
    ``org_deleted``), ``applied_pricing_id``/``_name``, ``currency``, ``total`` (Float64) and
    ``categories`` (``[{"category", "subtotal"}]``), with the report's ``start_date``/``end_date``.

    >>> cmf.customer_costs(client, "nimbus-cloud", start="2026-11-01", end="2026-12-01")  # doctest: +SKIP
    """
    options = start_call(client, CrawlOptions.from_kwargs(crawl, errors))
    first, last = spans.window("start", start, "end", end)
    tree = _tree(client, options)
    chosen = _one_organization(tree, "reseller_org", reseller_org)
    if not _true(chosen.is_reseller):
        raise ConfigError(f"{chosen.path!r} is not a reseller: /reports/customers reads a reseller's "
                          "customers; pick one with cmf.organizations(client).query('is_reseller')")
    conn = _connection_id(tree, service_connection)
    scopes = _report_scopes(chosen, "customer_costs", "/reports/customers", first, last,
                            {"organization_id": chosen.id, "service_connection_id": conn})
    results = read_scopes(client, "customer_costs", scopes, options)
    paths = dict(zip(tree["id"], tree["path"], strict=True))
    return build_frame("customer_costs", [({}, [row for r in recs for row in customer_rows(r, paths)])
                                          for _, recs in results])


def customer_rows(report: dict, paths: dict[str, str] | None = None) -> list[dict]:
    """Flat rows of one ``/reports/customers`` report (``paths``: organization id -> path).

    >>> customer_rows({"organizations": [{"id": "o1", "name": "Jason", "total": "5,244.00",
    ...     "orgDeleted": "false", "categories": [{"name": {"en": "Disk"}, "subTotal": "4560.00"}]}]}
    ... )[0]["categories"]
    [{'category': 'Disk', 'subtotal': 4560.0}]
    """
    rows = []
    for customer in _objects(report.get("organizations")):
        applied = customer.get("appliedPricing") if isinstance(customer.get("appliedPricing"), dict) else {}
        rows.append({
            "organization_id": customer.get("id"), "organization_name": customer.get("name"),
            "organization_path": (paths or {}).get(customer.get("id")),
            "org_deleted": customer.get("orgDeleted"), "applied_pricing_id": applied.get("id"),
            "applied_pricing_name": _label(applied.get("name")), "currency": customer.get("currency"),
            "total": customer.get("total"),
            "categories": [{"category": _label(c.get("name")), "subtotal": to_amount(c.get("subTotal"))}
                           for c in _objects(customer.get("categories"))],
            "start_date": report.get("startDate"), "end_date": report.get("endDate")})
    return rows


def _report_scopes(org: Any, entity: str, path: str, first: pd.Timestamp, last: pd.Timestamp,
                   params: dict) -> list[Scope]:
    return [Scope(org.id, _text(org.name), _text(org.path), entity=entity, path=path, params=params,
                  read=_windowed(_read_report, piece, "DAY"))
            for piece in spans.split(first, last, max_days=spans.MAX_DAYS)]


def _read_report(client: Client, scope: Scope, call: CrawlCall, low: pd.Timestamp,
                 high: pd.Timestamp) -> Read:
    params = {**(scope.params or {}), "start_date": spans.api_instant(low),
              "end_date": spans.api_instant(high)}
    reply = client.get_reply(scope.path, params, fresh=call.fresh, deadline=call.deadline)
    if not isinstance(reply.data, dict):
        raise ResponseFormatError(f"the report endpoint answered 'data' of type {json_type(reply.data)}, "
                                  "not an object", url=reply.url)
    return [reply.data], reply.from_cache, _sent(reply)


def _sent(reply: Any) -> int:
    return 0 if reply.from_cache else 1


# -- windows, refusals and the organization tree ---------------------------------------------------

def _windowed(fetch: Fetch, piece: Window, grain: Any) -> Callable[[Client, Scope, CrawlCall], Read]:
    """A scope reader for one window; a span refusal (code 9418 with ``maxDays`` or ``maxBuckets``)
    is read again in the smaller pieces the server allows (``grain``: a calendar grain, or a metric
    :class:`~.spans.Bucket`). A refusal that allows no smaller piece is raised."""
    def read(client: Client, scope: Scope, call: CrawlCall) -> Read:
        try:
            return fetch(client, scope, call, *piece)
        except ValidationError as error:
            smaller = smaller_windows(piece, grain, *spans.refused_limits(error))
            if len(smaller) < 2:
                raise
        records, cached, sent = [], True, 1  # the refused call went out
        for low, high in smaller:
            part, hit, calls = fetch(client, scope, call, low, high)
            records.extend(part)
            cached, sent = cached and hit, sent + calls
        return records, cached, sent

    return read


def smaller_windows(piece: Window, grain: Any, max_days: int | None, max_buckets: int | None) -> list[Window]:
    """``piece`` cut under the limits a refusal named (``[piece]`` when it named none or no cut helps).

    >>> day = pd.Timestamp("2026-01-01", tz="UTC")
    >>> len(smaller_windows((day, day + pd.Timedelta(days=40)), "DAY", 31, None))
    2
    """
    if max_days is None and max_buckets is None:
        return [piece]
    if isinstance(grain, spans.Bucket):
        return spans.split_buckets(*piece, grain, max_days=max_days or spans.MAX_DAYS,
                                   max_buckets=max_buckets or spans.MAX_BUCKETS)
    return spans.split(*piece, max_days=max_days, grain=grain) if max_days else [piece]


def _refusal(client: Client, accessor: str, tree: pd.DataFrame, options: CrawlCall,
             connection: str | None, flag: str) -> Any:
    """A reader raising the issue that names ``flag`` when ``connection``'s plugin lacks it, else None."""
    if connection is None:
        return None
    plugin = plugins_of(client, accessor, tree, options, {connection}).get(connection)
    if plugin is None or plugin.supports(flag) is not False:
        return None
    return _refuse(plugin, flag, "usage" if flag == "supportsUsage" else "metrics")


def _refuse(plugin: Plugin, flag: str, what: str) -> Callable[..., Read]:
    message = (f"the {plugin.connection_type} plugin of {plugin.service_code!r} does not support {what} "
               f"(descriptor flag {flag} is false), so it was not asked")
    return _raiser(ValidationError(message, code=UNSUPPORTED, context={
        "serviceCode": plugin.service_code, "type": plugin.connection_type, "flag": flag}))


def _raiser(error: ValidationError) -> Callable[..., Read]:
    def read(client: Client, scope: Scope, call: CrawlCall) -> Read:
        raise error

    return read


def _tree(client: Client, options: CrawlCall) -> pd.DataFrame:
    return organization_tree(client, True, options.fresh, options.deadline)[0]


def _organizations(tree: pd.DataFrame, orgs: Any, include_deleted: bool) -> pd.DataFrame:
    return tree if orgs is None and include_deleted else select_organizations(tree, orgs)


def _one_organization(tree: pd.DataFrame, name: str, org: Any) -> Any:
    if org is None:
        raise ConfigError(f"{name}= is required: an organization id or path")
    chosen = select_organizations(tree, org)
    if len(chosen) != 1:
        raise ConfigError(f"{name}={org!r} names {len(chosen)} organizations ({', '.join(chosen['path'][:4])}"
                          f"{', ...' if len(chosen) > 4 else ''}): give one id or path")
    return next(chosen.itertuples(index=False))


def _connection_codes(tree: pd.DataFrame) -> dict[str, str | None]:
    """``connection id -> service code`` of every connection an organization of the tree lists."""
    codes: dict[str, str | None] = {}
    for refs in tree["service_connections"]:
        for ref in refs if isinstance(refs, list) else ():
            if isinstance(ref, dict) and isinstance(ref.get("id"), str):
                codes.setdefault(ref["id"], ref.get("serviceCode"))
    return codes


def _connection_id(tree: pd.DataFrame, value: Any) -> str | None:
    """The connection id ``value`` (an id or a service code) names; ConfigError when none does."""
    if value is None:
        return None
    codes = _connection_codes(tree)
    if value in codes:
        return value
    ids = [cid for cid, code in codes.items() if code == value]
    if len(ids) == 1:
        return ids[0]
    known = sorted({c for c in codes.values() if c})
    raise ConfigError(f"service connection {value!r} is not a connection id or service code of the "
                      f"visible organizations (codes: {', '.join(known)})")


def _known_codes(codes: dict[str, str | None], value: Any) -> list[str]:
    names = _names("service_code", value)
    known = sorted({c for c in codes.values() if c})
    unknown = [n for n in names if n not in known]
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=2)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ConfigError(f"unknown service code {unknown[0]!r}.{hint} Known: {', '.join(known)}")
    return names


def _codes_of(tree: pd.DataFrame, connection_ids: pd.Series) -> Any:
    codes = _connection_codes(tree)
    return pd.array([codes.get(c) for c in connection_ids.astype(object)], dtype="string")


def _by_record_org(tree: pd.DataFrame, results: list[tuple[Scope, list[dict]]]) -> list[tuple[dict, list]]:
    """Chunks with each record's own organization as context (``include_sub_orgs`` answers)."""
    names = dict(zip(tree["id"], tree["name"], strict=True))
    paths = dict(zip(tree["id"], tree["path"], strict=True))
    groups: dict[Any, list[dict]] = {}
    for _, records in results:
        for record in records:
            groups.setdefault(record.get("organizationId"), []).append(record)
    return [({"organization_id": org, "organization_name": _text(names.get(org)),
              "organization_path": _text(paths.get(org))}, records) for org, records in groups.items()]


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    text = value.upper() if isinstance(value, str) else value
    if text not in tuple(a.upper() for a in allowed):
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return text


def _optional_text(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _names(name: str, value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else list(value) if isinstance(
        value, list | tuple | set | frozenset | pd.Series) else None
    if not items or not all(isinstance(i, str) and i for i in items):
        raise ConfigError(f"{name} must be a string or a list of strings, got {value!r}")
    return items


def _objects(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _label(name: Any) -> Any:
    """An ``{en, fr}`` name as its English text (the first one when there is no ``en``)."""
    if not isinstance(name, dict):
        return name
    return name.get("en", next(iter(name.values()), None))


def _tier(tier: dict) -> dict:
    return {k: to_amount(tier.get(k)) for k in ("usage", "price", "cost")}


def _slashes(path: str) -> list[int]:
    return [i for i, ch in enumerate(path) if ch == "/"]


def _true(value: Any) -> bool:
    """True for a true flag (Python, numpy or pandas), False for false or missing."""
    return False if value is None or value is pd.NA else bool(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None

"""One function per CloudMC collection, each returning a typed DataFrame.

The organization tree is rebuilt from ``GET /organizations`` (CloudMC has no tree endpoint);
per-organization collections are read with ``org_id``; service resources are read per
environment at ``/services/{serviceCode}/{environment}/{entity}``. Scopes are read concurrently
in a bounded thread pool over the one shared client.

With ``errors="collect"`` (the default for fan-outs) a scope that fails becomes a row of
``client.issues`` and the crawl goes on; ``errors="raise"`` raises the first failure. Every scope
visited adds a row to ``client.coverage``, so an audit can show it read everything it should.

Example::

    >>> import cloudmc_frames as cmf
    >>> with cmf.sandbox() as sb:                                   # doctest: +SKIP
    ...     client = sb.client()
    ...     orgs = cmf.organizations(client)
    ...     vms = cmf.instances(client, orgs="*/eu*")
    ...     vms.groupby("organization_path", observed=True)["vcpus"].sum()
"""

from __future__ import annotations

import difflib
import json
import time
from typing import Any
from urllib.parse import quote

import pandas as pd

from . import catalog
from .client import Client
from .errors import CloudMCError, ConfigError
from .fanout import CrawlCall, Scope, read_scopes, record, since, start_call
from .frames import build_frame, utc_timestamp
from .options import CrawlOptions, check_client
from .orgtree import organization_tree, select_organizations
from .warm import read_frame

# -- organizations ------------------------------------------------------------------------------

def organizations(client: Client, *, include_deleted: bool = False, fresh: bool = False) -> pd.DataFrame:
    """Every organization this key can see, as a tree: ``id``, ``name``, ``path``, ``depth``, ...

    ``path`` joins entry points from the top visible organization down (``acme/eu/paris``);
    rows are in tree order. ``include_deleted=True`` adds soft-deleted organizations.

    >>> cmf.organizations(client)[["path", "depth", "is_reseller"]]      # doctest: +SKIP
    """
    check_client(client)
    call_id, scope = client.ledger.next_call_id(), Scope(None, None, None, entity="organizations")
    started = time.perf_counter()
    try:
        frame, from_cache = organization_tree(client, include_deleted, fresh)
    except CloudMCError as error:
        record(client, call_id, "organizations", scope, 0, False, since(started), error)
        raise
    record(client, call_id, "organizations", scope, len(frame), from_cache, since(started), None)
    client.flush()
    return frame


def sub_organizations(client: Client, org_id: str, *, recursive: bool = True,
                      include_deleted: bool = False, fresh: bool = False) -> pd.DataFrame:
    """The organizations below ``org_id`` (all descendants, or only children with recursive=False).

    >>> cmf.sub_organizations(client, acme_id, recursive=False)["name"]   # doctest: +SKIP
    """
    tree, _ = organization_tree(client, include_deleted, fresh)
    if not isinstance(org_id, str) or org_id not in set(tree["id"]):
        raise ConfigError(
            f"organization {org_id!r} is not among the {len(tree)} organizations this key can see"
            f"{'' if include_deleted else ' (deleted ones need include_deleted=True)'}: "
            "pick an id from cmf.organizations(client)['id']")
    if not recursive:
        return tree[tree["parent_id"] == org_id].reset_index(drop=True)
    path = tree.loc[tree["id"] == org_id, "path"].iloc[0]
    return tree[tree["path"].str.startswith(path + "/")].reset_index(drop=True)


# -- org-level collections ------------------------------------------------------------------------

def users(client: Client, orgs: Any = None, *, errors: str = "collect", **crawl: Any) -> pd.DataFrame:
    """Users of each selected organization (one row per user), with their role and login facts.

    ``orgs``: None (every visible organization), an id, a path pattern (``"acme/eu/*"``), a list
    of those, or a frame with an ``id``/``organization_id`` column. ``crawl`` options:
    ``max_workers``, ``progress``, ``fresh``, ``timeout`` (seconds for the whole call).

    >>> cmf.users(client, orgs="acme/*")[["organization_path", "user_name", "last_login"]]  # doctest: +SKIP
    """
    return _per_org(client, "users", orgs, errors, crawl, path="/users")


def environments(client: Client, orgs: Any = None, *, errors: str = "collect", **crawl: Any) -> pd.DataFrame:
    """Environments of each selected organization, with their ``service_code`` and ``connection_type``.

    >>> cmf.environments(client)[["organization_path", "name", "service_code"]]   # doctest: +SKIP
    """
    options = start_call(client, CrawlOptions.from_kwargs(crawl, errors))
    tree, selected = _select(client, orgs, options)
    return _environment_frame(client, "environments", tree, selected, options)


def environment_members(client: Client, orgs: Any = None, *, environment: Any = None,
                        errors: str = "collect", **crawl: Any) -> pd.DataFrame:
    """Who belongs to each environment of the selected organizations, with which role.

    One row per membership (``GET /environments/:id/members``); ``environment`` narrows the
    environments by name (a name or a list).

    >>> cmf.environment_members(client)[["environment_name", "user_user_name", "role_name"]]  # doctest: +SKIP
    """
    options = start_call(client, CrawlOptions.from_kwargs(crawl, errors))
    tree, selected = _select(client, orgs, options)
    envs = _filter_environments(_environment_frame(client, "environment_members", tree, selected, options),
                                None, environment, complete=_read_fully(client, options, "environments"))
    return read_frame(client, "environment_members", member_scopes(envs), options,
                      lambda results: build_frame("environment_members", _chunks(results, environment=True)))


def service_connections(client: Client, orgs: Any = None, *, errors: str = "collect",
                        **crawl: Any) -> pd.DataFrame:
    """One row per (organization, service connection it may use): code, type, owner, state."""
    options = start_call(client, CrawlOptions.from_kwargs(crawl, errors))
    tree, selected = _select(client, orgs, options)
    details = _connection_details(client, "service_connections", _connection_refs(selected), options)
    rename = {"organization_id": "owner_organization_id",
              "organization_name": "owner_organization_name"}
    chunks = []
    for org in _rows(selected, *ORG_FIELDS):
        rows = [{**details.get(ref.get("id"), {"id": ref.get("id"), "serviceCode": ref.get("serviceCode")}),
                 "state": ref.get("state")} for ref in _refs(org.service_connections)]
        chunks.append((_org_context(org), [_renamed(r, rename) for r in rows]))
    return build_frame("service_connections", chunks)


def quotas(client: Client, orgs: Any = None, *, type: str = "assigned", errors: str = "collect",
           **crawl: Any) -> pd.DataFrame:
    """Quota ceilings: one row per (organization, quota, metric) with ``ceiling``.

    ``type``: ``"assigned"`` (applied to the organization, default), ``"owned"`` or ``None`` (both).

    >>> cmf.quotas(client)[["organization_path", "service_code", "metric_type", "ceiling"]]  # doctest: +SKIP
    """
    if type not in ("assigned", "owned", None):
        raise ConfigError(f"type must be 'assigned', 'owned' or None, got {type!r}")

    options = start_call(client, CrawlOptions.from_kwargs(crawl, errors))
    tree, selected = _select(client, orgs, options)
    return read_frame(client, "quotas", quota_scopes(selected, type), options,
                      lambda results: build_frame("quotas", [(s.context(), _quota_rows(rows))
                                                             for s, rows in results]))


def activity_log(client: Client, orgs: Any = None, *, start: Any = None, end: Any = None,
                 errors: str = "collect", **crawl: Any) -> pd.DataFrame:
    """Audit-trail events of each selected organization between ``start`` and ``end``.

    ``start``/``end``: datetimes, dates or ISO strings (UTC when naive). ``event_context`` is the
    parsed JSON object CloudMC sends as a string.

    >>> cmf.activity_log(client, start="2026-11-01", end="2026-11-29")     # doctest: +SKIP
    """
    window = {"start": _rfc3339("start", start), "end": _rfc3339("end", end)}
    if window["start"] and window["end"] and window["start"] > window["end"]:
        raise ConfigError(f"start ({window['start']}) is after end ({window['end']}): the window would "
                          "hold nothing; swap them")
    frame = _per_org(client, "activity_log", orgs, errors, crawl, path="/activity_log",
                     params=lambda org_id: {"organizationId": org_id, **window})
    frame["event_context"] = pd.Series([_parse_json(v) for v in frame["event_context"]],
                                       index=frame.index, dtype="json")
    return frame


# -- service resources --------------------------------------------------------------------------

def resources(client: Client, entity_type: str, *, service_code: Any = None, environment: Any = None,
              orgs: Any = None, errors: str = "collect", **crawl: Any) -> pd.DataFrame:
    """Every ``entity_type`` record of every selected environment, with org/env context columns.

    ``entity_type`` is a CloudMC entity (``instances``, ``volumes``, ``snapshots``,
    ``publicipaddresses``, ``zones``, ...); ``volumes`` also reads GCP and Azure ``disks``.
    ``service_code`` and ``environment`` narrow the environments (a name or a list).

    >>> cmf.resources(client, "snapshots", service_code="compute-qc")       # doctest: +SKIP
    """
    _check_entity(entity_type)
    options = start_call(client, CrawlOptions.from_kwargs(crawl, errors))
    tree, selected = _select(client, orgs, options)
    envs = _environment_frame(client, "resources", tree, selected, options)
    envs = _filter_environments(envs, service_code, environment,
                                complete=_read_fully(client, options, "environments"))
    return read_frame(client, "resources", resource_scopes(envs, entity_type), options,
                      lambda results: build_frame(entity_type, _chunks(results, service=True), service=True),
                      key=entity_type)


def _chunks(results: list[tuple[Scope, list[dict]]], **context: bool) -> list[tuple[dict, list[dict]]]:
    """``(context, records)`` per scope read, for :func:`build_frame`."""
    return [(scope.context(**context), records) for scope, records in results]


def resource_scopes(envs: pd.DataFrame, entity_type: str) -> list[Scope]:
    """The scopes ``resources(client, entity_type)`` reads: one per environment whose provider has it."""
    return [scope for env in _rows(envs, *ENV_FIELDS)
            if (scope := _resource_scope(env, entity_type)) is not None]


def _resource_scope(env: Any, entity_type: str) -> Scope | None:
    """Where an environment's ``entity_type`` lives; None when its provider has no such entity."""
    code, kind = _text(env.service_code), _text(env.connection_type)
    entity = catalog.provider_entity(entity_type, kind)
    if entity is None:
        return None
    path = f"/services/{quote(code, safe='')}/{quote(env.name, safe='')}/{entity}" if code else ""
    return Scope(_text(env.organization_id), _text(env.organization_name), _text(env.organization_path),
                 env.id, env.name, code, kind, entity_type, path)


def instances(client: Client, **kw: Any) -> pd.DataFrame:
    """Every instance (``resources(client, "instances", ...)``) with vCPU, memory and running state.

    Adds ``power_state``, ``is_running``, ``vcpus`` and ``memory_gib``.
    """
    return resources(client, "instances", **kw)


def volumes(client: Client, **kw: Any) -> pd.DataFrame:
    """``resources(client, "volumes", ...)`` (GCP/Azure disks too): adds ``size_gib``, ``is_attached``."""
    return resources(client, "volumes", **kw)


def _per_org(client: Client, accessor: str, orgs: Any, errors: str, crawl: dict, *, path: str,
             params=None) -> pd.DataFrame:
    options = start_call(client, CrawlOptions.from_kwargs(crawl, errors))
    tree, selected = _select(client, orgs, options)
    return read_frame(client, accessor, org_scopes(selected, accessor, path, params), options,
                      lambda results: build_frame(accessor, _chunks(results)))


# -- scopes: what each call reads (also what cmf.plan counts) -------------------------------------

def org_scopes(selected: pd.DataFrame, entity: str, path: str, params=None) -> list[Scope]:
    """One scope per selected organization at ``path``; ``params(org_id)`` gives its query."""
    return [Scope(*_org_triple(o), entity=entity, path=path, params=params(o.id) if params else None)
            for o in _rows(selected, *ORG_FIELDS)]


def quota_scopes(selected: pd.DataFrame, type: str | None = "assigned") -> list[Scope]:
    """The scopes ``quotas(client, type=type)`` reads."""
    return org_scopes(selected, "quotas", "/quotas", lambda org_id: {"organization_id": org_id, "type": type})


def member_scopes(envs: pd.DataFrame) -> list[Scope]:
    """The scopes ``environment_members(client)`` reads: one per environment."""
    return [Scope(_text(e.organization_id), _text(e.organization_name), _text(e.organization_path),
                  e.id, e.name, entity="environment_members",
                  path=f"/environments/{quote(str(e.id), safe='')}/members")
            for e in _rows(envs, *ENV_FIELDS)]


def planned_scopes(collection: str, selected: pd.DataFrame, envs: pd.DataFrame | None) -> list[Scope]:
    """The scopes a call for ``collection`` reads, by default (what :func:`cmf.plan` counts)."""
    per_org = {"users": "/users", "environments": "/environments"}
    if collection in per_org:
        return org_scopes(selected, collection, per_org[collection])
    if collection == "quotas":
        return quota_scopes(selected)
    if collection == "environment_members":
        return member_scopes(_filter_environments(envs, None, None))
    _check_entity(collection)
    return resource_scopes(_filter_environments(envs, None, None), collection)


# -- choosing organizations and environments ------------------------------------------------------

def _select(client: Client, orgs: Any, options: CrawlCall) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The visible tree (deleted included) and the organizations ``orgs`` selects from it.

    Under ``budget=``, a tree that is not cached costs one call; with none left, nothing can be
    chosen and the call raises BudgetExceededError.
    """
    budget = options.budget
    needed = budget is not None and (options.fresh or not client.cached("/organizations",
                                                                        {"include_deleted": True}))
    if needed and not budget.reserve():
        raise budget.exceeded("the organization tree (it is not in the cache)")
    tree, from_cache = organization_tree(client, True, options.fresh, options.deadline)
    if needed:
        budget.settle(1, 0 if from_cache else 1)
    return tree, select_organizations(tree, orgs)


def _environment_frame(client: Client, accessor: str, tree: pd.DataFrame, selected: pd.DataFrame,
                       options: CrawlCall) -> pd.DataFrame:
    """Environments of the selected organizations, each with its connection's code and type."""
    scopes = [Scope(*_org_triple(o), entity="environments", path="/environments")
              for o in _rows(selected, *ORG_FIELDS)]
    listed = _connection_refs(selected)  # what the frame depends on besides the pages it reads
    return read_frame(client, accessor, scopes, options,
                      lambda results: _environments_built(client, accessor, dict(listed), results, options),
                      key=tuple((cid, repr(ref)) for cid, (_, ref) in listed.items()))


def _environments_built(client: Client, accessor: str, refs: dict[str, tuple[Any, dict]],
                        results: list[tuple[Scope, list[dict]]], options: CrawlCall) -> pd.DataFrame:
    """The environments frame of ``results``, each environment with its connection's details."""
    for scope, records in results:  # an environment may use a connection its org no longer lists
        for env in records:
            cid = (env.get("serviceConnection") or {}).get("id")
            refs.setdefault(cid, (scope, {"id": cid}))
    connections = _connection_details(client, accessor, refs, options)
    chunks = [(s.context(), [_with_connection(r, connections) for r in recs]) for s, recs in results]
    return build_frame("environments", chunks)


def _connection_refs(selected: pd.DataFrame) -> dict[str, tuple[Any, dict]]:
    """``connection id -> (first organization listing it, its reference)``."""
    refs: dict[str, tuple[Any, dict]] = {}
    for org in _rows(selected, *ORG_FIELDS):
        scope = Scope(*_org_triple(org))
        for ref in _refs(org.service_connections):
            refs.setdefault(ref.get("id"), (scope, ref))
    return refs


def _connection_details(client: Client, accessor: str, refs: dict[str, tuple[Any, dict]],
                        options: CrawlCall) -> dict[str, dict]:
    """``id -> connection record`` (``GET /services/connections/:id``) for every referenced id."""
    scopes = [Scope(scope.organization_id, scope.organization_name, scope.organization_path,
                    entity="service_connections", single=True,
                    path=f"/services/connections/{quote(str(cid), safe='')}")
              for cid, (scope, _) in refs.items() if cid]
    details = {}
    for _, records in read_scopes(client, accessor, scopes, options):
        details.update({r.get("id"): r for r in records})
    for cid, (_, ref) in refs.items():
        details.setdefault(cid, {"id": cid, "serviceCode": ref.get("serviceCode")})
    return details


def _with_connection(env: dict, connections: dict[str, dict]) -> dict:
    ref = env.get("serviceConnection") or {}
    known = connections.get(ref.get("id"), {})
    return {"serviceCode": ref.get("serviceCode") or known.get("serviceCode"),
            "connectionType": ref.get("type") or known.get("type"), **env}


def _filter_environments(envs: pd.DataFrame, service_code: Any, environment: Any, *,
                         complete: bool = True) -> pd.DataFrame:
    """The live environments the filters choose (a name or a list each).

    A name that matches no environment of the selection raises ConfigError naming those that
    exist, unless the environment list could not be read completely (``complete=False``: then
    the issues say why, and a filter may well have matched what could not be read).
    """
    live = envs[~envs["deleted"].fillna(False).astype(bool)]
    keep = pd.Series(True, index=live.index)
    for column, wanted, label in (("service_code", service_code, "service_code"),
                                  ("name", environment, "environment")):
        if wanted is None:
            continue
        names = _filter_names(label, wanted)
        known = sorted(set(live[column].dropna().astype(str)))
        unknown = [n for n in names if n not in known]
        if unknown and complete:
            raise ConfigError(_no_such(label, unknown, known))
        keep &= live[column].astype(object).isin(names)
    chosen = live[keep.to_numpy()]
    if chosen.empty and complete and service_code is not None and environment is not None:
        raise ConfigError(f"no environment named {environment!r} uses service_code {service_code!r} "
                          "in the selected organizations: see cmf.environments(client)[['name', "
                          "'service_code']]")
    return chosen


def _filter_names(label: str, wanted: Any) -> list[str]:
    names = [wanted] if isinstance(wanted, str) else list(wanted) if isinstance(
        wanted, list | tuple | set | frozenset | pd.Series) else [wanted]
    if not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{label} filter must be a string or a list of strings, got {wanted!r}")
    return names


def _no_such(label: str, unknown: list[str], known: list[str]) -> str:
    what = ", ".join(map(repr, unknown))
    if not known:
        return f"{label}={what} matches nothing: the selected organizations have no environments"
    close = difflib.get_close_matches(unknown[0], known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (f"{label}={what} matches no environment of the selected organizations.{hint} "
            f"Their {label} values: {', '.join(known[:20])}{', ...' if len(known) > 20 else ''}")


def _read_fully(client: Client, options: CrawlCall, entity: str) -> bool:
    """True when every ``entity`` scope of this call was read (none failed)."""
    _, coverage = client.ledger.snapshot()
    return all(c.status in ("ok", "empty") for c in coverage
               if c.call_id == options.call_id and c.entity == entity)


# -- small helpers -----------------------------------------------------------------------------

ORG_FIELDS = ("id", "name", "path", "service_connections")
ENV_FIELDS = ("organization_id", "organization_name", "organization_path", "id", "name",
              "service_code", "connection_type")


def _rows(frame: pd.DataFrame, *columns: str):
    """Named tuples of a few columns (iterating every column of a wide frame is slow)."""
    return frame[list(columns)].itertuples(index=False)


def _org_triple(org: Any) -> tuple[str, str, str]:
    return org.id, _text(org.name), _text(org.path)


def _org_context(org: Any) -> dict:
    names = ("organization_id", "organization_name", "organization_path")
    return dict(zip(names, _org_triple(org), strict=True))


def _refs(value: Any) -> list[dict]:
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def _renamed(record: dict, rename: dict[str, str]) -> dict:
    org = record.get("organization")
    if not isinstance(org, dict):
        return record
    rest = {k: v for k, v in record.items() if k != "organization"}
    return {**rest, **{rename.get(f"organization_{k}", k): v for k, v in org.items()}}


def _quota_rows(quota_records: list[dict]) -> list[dict]:
    rows = []
    for quota in quota_records:
        connection = quota.get("serviceConnection") or {}
        base = {"quota_id": quota.get("id"), "quota_name": quota.get("name"),
                "service_connection_id": connection.get("id"),
                "service_code": connection.get("serviceCode"), "connection_type": connection.get("type"),
                "owner_organization_id": (quota.get("ownerOrganization") or {}).get("id"),
                "default_for_service": quota.get("defaultForService"),
                "default_for_trial": quota.get("defaultForTrial"),
                "created": quota.get("creationDate")}
        details = [d for d in quota.get("quotaDetails") or [] if isinstance(d, dict)] or [{}]
        for detail in details:
            rows.append({**base, "metric_identifier": detail.get("metricIdentifier"),
                         "metric_type": detail.get("type"), "label_key": detail.get("labelKey"),
                         "ceiling": detail.get("ceiling"), "detail_id": detail.get("id")})
    return rows


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _check_entity(entity_type: Any) -> None:
    known = catalog.known_entity_types()
    if not isinstance(entity_type, str) or entity_type not in known:
        close = difflib.get_close_matches(str(entity_type), known, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ConfigError(f"unknown entity type {entity_type!r}.{hint} Known types include "
                          "instances, volumes, snapshots, publicipaddresses, zones, templates")


def _rfc3339(name: str, value: Any) -> str | None:
    return None if value is None else utc_timestamp(name, value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_json(value: Any) -> Any:
    if not isinstance(value, str):
        return None if pd.isna(value) else value
    try:
        return json.loads(value)
    except ValueError:
        return value


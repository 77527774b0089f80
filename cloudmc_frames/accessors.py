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
import fnmatch
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pandas as pd
from tqdm.auto import tqdm

from . import catalog
from .client import Client
from .errors import (
    CloudMCError,
    ConfigError,
    CrawlTimeoutError,
    Issue,
    NotFoundError,
    PermissionDeniedError,
    ResponseFormatError,
    json_type,
)
from .frames import build_frame, utc_timestamp
from .ledger import Coverage

log = logging.getLogger("cloudmc_frames")

ERRORS = ("raise", "collect")
PROGRESS_MIN_SCOPES = 20


# -- organizations ------------------------------------------------------------------------------

def organizations(client: Client, *, include_deleted: bool = False, fresh: bool = False) -> pd.DataFrame:
    """Every organization this key can see, as a tree: ``id``, ``name``, ``path``, ``depth``, ...

    ``path`` joins entry points from the top visible organization down (``acme/eu/paris``);
    rows are in tree order. ``include_deleted=True`` adds soft-deleted organizations.

    >>> cmf.organizations(client)[["path", "depth", "is_reseller"]]      # doctest: +SKIP
    """
    _check_client(client)
    call_id, scope = client.ledger.next_call_id(), Scope(None, None, None, entity="organizations")
    started = time.perf_counter()
    try:
        frame, from_cache = _organization_tree(client, include_deleted, fresh)
    except CloudMCError as error:
        _record(client, call_id, "organizations", scope, 0, False, _since(started), error)
        raise
    _record(client, call_id, "organizations", scope, len(frame), from_cache, _since(started), None)
    client.flush()
    return frame


def sub_organizations(client: Client, org_id: str, *, recursive: bool = True,
                      include_deleted: bool = False, fresh: bool = False) -> pd.DataFrame:
    """The organizations below ``org_id`` (all descendants, or only children with recursive=False).

    >>> cmf.sub_organizations(client, acme_id, recursive=False)["name"]   # doctest: +SKIP
    """
    tree, _ = _organization_tree(client, include_deleted, fresh)
    if not isinstance(org_id, str) or org_id not in set(tree["id"]):
        raise ConfigError(
            f"organization {org_id!r} is not among the {len(tree)} organizations this key can see"
            f"{'' if include_deleted else ' (deleted ones need include_deleted=True)'}: "
            "pick an id from cmf.organizations(client)['id']")
    if not recursive:
        return tree[tree["parent_id"] == org_id].reset_index(drop=True)
    path = tree.loc[tree["id"] == org_id, "path"].iloc[0]
    return tree[tree["path"].str.startswith(path + "/")].reset_index(drop=True)


def _organization_tree(client: Client, include_deleted: bool, fresh: bool,
                       deadline: float | None = None) -> tuple[pd.DataFrame, bool]:
    """The visible tree in path order, and whether it came from the cache."""
    params = {"include_deleted": True} if include_deleted else None
    listing = client.list("/organizations", params, fresh=fresh, deadline=deadline)
    frame = build_frame("organizations", [({}, listing.records)])
    if frame["id"].isna().any() or frame["id"].duplicated().any():
        raise ResponseFormatError("the organization list has missing or repeated ids")
    frame["parent_id"], frame["depth"], frame["path"] = _tree_columns(frame)
    frame = frame.sort_values("path", kind="stable").reset_index(drop=True)
    if not include_deleted:
        frame = frame[~frame["deleted"].fillna(False)].reset_index(drop=True)
    return frame, listing.from_cache


def _tree_columns(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parent ids limited to visible organizations, depth from the top, and entry-point paths."""
    ids = frame["id"].tolist()
    visible = set(ids)
    parent = {i: p for i, p in zip(ids, frame["parent_id"].tolist()) if p in visible}
    label = {i: _path_label(e, n)
             for i, e, n in zip(ids, frame["entry_point"].tolist(), frame["name"].tolist())}
    paths: dict[str, str] = {}
    for org in ids:
        chain, node = [], org
        while node is not None and node not in paths:
            if node in chain:
                raise ResponseFormatError(f"the organization tree has a cycle through {node}")
            chain.append(node)
            node = parent.get(node)
        prefix = paths[node] + "/" if node is not None else ""
        for member in reversed(chain):
            prefix = paths.setdefault(member, prefix + label[member]) + "/"
    depth = [paths[i].count("/") for i in ids]
    return (pd.array([parent.get(i) for i in ids], dtype="string"),
            pd.array(depth, dtype="Int64"), pd.array([paths[i] for i in ids], dtype="string"))


def _path_label(entry_point: Any, name: Any) -> str:
    text = entry_point if isinstance(entry_point, str) and entry_point else str(name)
    return text.replace("/", "_")


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
    options = _crawl_options(client, errors, crawl)
    tree, selected = _select(client, orgs, options)
    return _environment_frame(client, "environments", tree, selected, options)


def environment_members(client: Client, orgs: Any = None, *, environment: Any = None,
                        errors: str = "collect", **crawl: Any) -> pd.DataFrame:
    """Who belongs to each environment of the selected organizations, with which role.

    One row per membership (``GET /environments/:id/members``); ``environment`` narrows the
    environments by name (a name or a list).

    >>> cmf.environment_members(client)[["environment_name", "user_user_name", "role_name"]]  # doctest: +SKIP
    """
    options = _crawl_options(client, errors, crawl)
    tree, selected = _select(client, orgs, options)
    envs = _filter_environments(_environment_frame(client, "environment_members", tree, selected,
                                                   options), None, environment)
    scopes = [Scope(_text(e.organization_id), _text(e.organization_name), _text(e.organization_path),
                    e.id, e.name, entity="environment_members",
                    path=f"/environments/{quote(str(e.id), safe='')}/members")
              for e in _rows(envs, *ENV_FIELDS)]
    results = _crawl(client, "environment_members", scopes, options)
    return build_frame("environment_members",
                       [(s.context(environment=True), recs) for s, recs in results])


def service_connections(client: Client, orgs: Any = None, *, errors: str = "collect",
                        **crawl: Any) -> pd.DataFrame:
    """One row per (organization, service connection it may use): code, type, owner, state."""
    options = _crawl_options(client, errors, crawl)
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

    def params(org_id: str) -> dict:
        return {"organization_id": org_id, "type": type}

    options = _crawl_options(client, errors, crawl)
    tree, selected = _select(client, orgs, options)
    scopes = [Scope(*_org_triple(o), entity="quotas", path="/quotas", params=params(o.id))
              for o in _rows(selected, *ORG_FIELDS)]
    results = _crawl(client, "quotas", scopes, options)
    return build_frame("quotas", [(s.context(), _quota_rows(recs)) for s, recs in results])


def activity_log(client: Client, orgs: Any = None, *, start: Any = None, end: Any = None,
                 errors: str = "collect", **crawl: Any) -> pd.DataFrame:
    """Audit-trail events of each selected organization between ``start`` and ``end``.

    ``start``/``end``: datetimes, dates or ISO strings (UTC when naive). ``event_context`` is the
    parsed JSON object CloudMC sends as a string.

    >>> cmf.activity_log(client, start="2026-11-01", end="2026-11-29")     # doctest: +SKIP
    """
    window = {"start": _rfc3339("start", start), "end": _rfc3339("end", end)}
    frame = _per_org(client, "activity_log", orgs, errors, crawl, path="/activity_log",
                     params=lambda org_id: {"organizationId": org_id, **window})
    frame["event_context"] = pd.Series([_parse_json(v) for v in frame["event_context"]],
                                       index=frame.index, dtype=object)
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
    options = _crawl_options(client, errors, crawl)
    tree, selected = _select(client, orgs, options)
    envs = _environment_frame(client, "resources", tree, selected, options)
    envs = _filter_environments(envs, service_code, environment)
    scopes = [scope for env in _rows(envs, *ENV_FIELDS)
              if (scope := _resource_scope(env, entity_type)) is not None]
    results = _crawl(client, "resources", scopes, options)
    return build_frame(entity_type, [(s.context(service=True), recs) for s, recs in results], service=True)


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
    """``resources(client, "instances", ...)``: adds ``power_state``, ``is_running``, ``vcpus``, ``memory_gib``."""
    return resources(client, "instances", **kw)


def volumes(client: Client, **kw: Any) -> pd.DataFrame:
    """``resources(client, "volumes", ...)`` (GCP/Azure disks too): adds ``size_gib``, ``is_attached``."""
    return resources(client, "volumes", **kw)


# -- scopes and the fan-out ----------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """One unit of a crawl: an organization, maybe an environment, an entity, and where to read it."""

    organization_id: str | None
    organization_name: str | None
    organization_path: str | None
    environment_id: str | None = None
    environment_name: str | None = None
    service_code: str | None = None
    connection_type: str | None = None
    entity: str | None = None
    path: str = ""
    params: dict | None = field(default=None, compare=False)
    single: bool = False  # GET of one object (``{"data": {...}}``) rather than a list

    def context(self, service: bool = False, environment: bool = False) -> dict:
        """Context columns for this scope's rows: the organization, then its environment."""
        ctx = {"organization_id": self.organization_id, "organization_name": self.organization_name,
               "organization_path": self.organization_path}
        if service:
            ctx.update(service_code=self.service_code, connection_type=self.connection_type)
        if service or environment:
            ctx.update(environment_id=self.environment_id, environment_name=self.environment_name)
        return ctx


@dataclass(frozen=True)
class _Options:
    errors: str
    max_workers: int
    progress: bool | None
    fresh: bool
    deadline: float | None
    call_id: int


def _crawl_options(client: Client, errors: str, crawl: dict) -> _Options:
    _check_client(client)
    if errors not in ERRORS:
        raise ConfigError(f"errors must be 'raise' or 'collect', got {errors!r}")
    unknown = set(crawl) - {"max_workers", "progress", "fresh", "timeout"}
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(sorted(unknown))}: "
                          "use max_workers=, progress=, fresh=, timeout=")
    workers = crawl.get("max_workers", client.settings.max_workers)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"max_workers must be a positive integer, got {workers!r}")
    timeout = crawl.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
    deadline = time.monotonic() + timeout if timeout else None
    return _Options(errors, workers, crawl.get("progress", client.settings.progress),
                    bool(crawl.get("fresh", False)), deadline, client.ledger.next_call_id())


def _per_org(client: Client, accessor: str, orgs: Any, errors: str, crawl: dict, *, path: str,
             params=None) -> pd.DataFrame:
    options = _crawl_options(client, errors, crawl)
    tree, selected = _select(client, orgs, options)
    scopes = [Scope(*_org_triple(o), entity=accessor, path=path,
                    params=params(o.id) if params else None)
              for o in _rows(selected, *ORG_FIELDS)]
    results = _crawl(client, accessor, scopes, options)
    return build_frame(accessor, [(s.context(), recs) for s, recs in results])


def _crawl(client: Client, accessor: str, scopes: Sequence[Scope],
           options: _Options) -> list[tuple[Scope, list[dict]]]:
    """Read every scope, the ones this client does not remember in a thread pool; return
    ``(scope, records)`` in scope order.

    Failures become issues (collect) or are raised (raise); every scope gets a coverage row.
    """
    done = {n: records for n, records in _remembered(client, accessor, scopes, options)}
    pending = [n for n in range(len(scopes)) if n not in done]
    failed: Counter = Counter()
    show = options.progress if options.progress is not None else len(pending) > PROGRESS_MIN_SCOPES
    with ThreadPoolExecutor(options.max_workers, thread_name_prefix=f"cmf-{accessor}") as pool, \
            tqdm(total=len(pending), desc=accessor, disable=not show or None, leave=False) as bar:
        futures = {pool.submit(_read_scope, client, scopes[n], options): n for n in pending}
        for future in as_completed(futures):
            scope, records, from_cache, seconds, error = future.result()
            _record(client, options.call_id, accessor, scope, len(records or ()), from_cache,
                    seconds, error)
            bar.update(1)
            if error is None:
                done[futures[future]] = records
                continue
            failed[_status_of(error)] += 1
            if options.errors == "raise":
                pool.shutdown(cancel_futures=True)
                raise error
    client.flush()  # the replies of this call are in the cache storage when it returns
    if failed:
        summary = ", ".join(f"{n} {status}" for status, n in sorted(failed.items()))
        log.warning("%s: %d of %d scopes failed (%s); rows from them are missing, see "
                    "client.issues for what happened and client.coverage for every scope",
                    accessor, sum(failed.values()), len(scopes), summary)
    return [(scopes[n], done[n]) for n in sorted(done)]


def _remembered(client: Client, accessor: str, scopes: Sequence[Scope], options: _Options):
    """``(index, records)`` of the list scopes the client still holds in memory, read inline:
    a warm crawl needs no thread pool."""
    if options.fresh:
        return
    for n, scope in enumerate(scopes):
        if scope.single or not scope.path:
            continue
        started = time.perf_counter()
        try:
            listing = client.remembered(scope.path, scope.params, org_id=scope.organization_id)
        except CloudMCError:  # let the network path read it again and report what happens
            continue
        if listing is not None:
            _record(client, options.call_id, accessor, scope, len(listing.records), True,
                    _since(started), None)
            yield n, listing.records


def _read_scope(client: Client, scope: Scope, options: _Options):
    """``(scope, records, from_cache, seconds, error)``; only CloudMCError is caught."""
    started = time.perf_counter()
    if options.deadline is not None and time.monotonic() >= options.deadline:
        error = CrawlTimeoutError("not read: the call's timeout ran out before this scope started",
                                  url=client.settings.endpoint + scope.path)
        return scope, None, False, 0.0, error
    if not scope.path:
        error = NotFoundError(
            f"environment {scope.environment_name!r} uses a service connection this key cannot "
            f"read, so its {scope.entity} were not read",
            hint="Use a key that can read the organization's service connections")
        return scope, None, False, 0.0, error
    try:
        records, from_cache = _fetch(client, scope, options)
    except CloudMCError as error:
        return scope, None, False, _since(started), error
    return scope, records, from_cache, _since(started), None


def _fetch(client: Client, scope: Scope, options: _Options) -> tuple[list[dict], bool]:
    if not scope.single:
        listing = client.list(scope.path, scope.params, org_id=scope.organization_id,
                              fresh=options.fresh, deadline=options.deadline)
        return listing.records, listing.from_cache
    reply = client.get_reply(scope.path, scope.params, org_id=scope.organization_id,
                             fresh=options.fresh, deadline=options.deadline)
    data = reply.data  # CloudMC documents one of these as a one-element list
    records = data if isinstance(data, list) else [data]
    if not all(isinstance(r, dict) for r in records):
        raise ResponseFormatError(f"expected a JSON object in 'data', got {json_type(data)}",
                                  url=reply.url, status=reply.status)
    return records, reply.from_cache


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 6)


def _record(client: Client, call_id: int, accessor: str, scope: Scope, rows: int,
            from_cache: bool, seconds: float, error: CloudMCError | None) -> None:
    where = {"organization_id": scope.organization_id, "organization_path": scope.organization_path,
             "environment": scope.environment_name, "entity": scope.entity}
    status = _status_of(error) if error else ("ok" if rows else "empty")
    coverage = Coverage(call_id, accessor, scope.organization_id, scope.organization_path,
                        scope.environment_name, scope.entity, status, rows,
                        bool(from_cache) and error is None, seconds)
    issue = Issue.from_error(error, accessor=accessor, **where) if error else None
    client.ledger.record(coverage, issue)


def _status_of(error: CloudMCError) -> str:
    if isinstance(error, PermissionDeniedError):
        return "forbidden"
    if isinstance(error, NotFoundError):
        return "not_found"
    if isinstance(error, CrawlTimeoutError):
        return "skipped"
    return "error"


# -- choosing organizations and environments ------------------------------------------------------

def _select(client: Client, orgs: Any, options: _Options) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The visible tree (deleted included) and the organizations ``orgs`` selects from it."""
    tree, _ = _organization_tree(client, True, options.fresh, options.deadline)
    return tree, select_organizations(tree, orgs)


def select_organizations(tree: pd.DataFrame, orgs: Any) -> pd.DataFrame:
    """Rows of ``tree`` chosen by ``orgs`` (see :func:`users`); unknown ids or patterns raise.

    A pattern is matched against ``path`` with shell wildcards: ``"acme/eu"`` is one
    organization, ``"acme/eu/*"`` all below it, ``"acme/eu*"`` both. Patterns select live
    organizations only; a deleted one is chosen by its id (or a frame holding it).
    """
    if orgs is None:
        return tree[~tree["deleted"].fillna(False)].reset_index(drop=True)
    wanted = _wanted_ids(tree, orgs)
    order = {org_id: n for n, org_id in enumerate(tree["id"].tolist())}
    chosen = sorted(dict.fromkeys(wanted), key=order.__getitem__)
    return tree.set_index("id", drop=False).loc[chosen].reset_index(drop=True)


def _wanted_ids(tree: pd.DataFrame, orgs: Any) -> list[str]:
    if isinstance(orgs, pd.DataFrame):
        column = "organization_id" if "organization_id" in orgs else "id" if "id" in orgs else None
        if column is None:
            raise ConfigError("a frame given as orgs= needs an 'id' or 'organization_id' column")
        items: Iterable = orgs[column].dropna().astype(str).unique()
    elif isinstance(orgs, str):
        items = [orgs]
    elif isinstance(orgs, pd.Series | list | tuple | set | frozenset):
        items = list(orgs)
    else:
        raise ConfigError(f"orgs must be None, an id, a path pattern, a list of them or a frame of "
                          f"organizations, got {type(orgs).__name__}")
    live = tree[~tree["deleted"].fillna(False)]
    ids, paths = set(tree["id"].tolist()), list(zip(live["id"].tolist(), live["path"].tolist()))
    wanted = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"orgs items must be ids or path patterns (strings), got {item!r}")
        matched = [item] if item in ids else [i for i, p in paths if fnmatch.fnmatchcase(p, item)]
        if not matched:
            raise ConfigError(_no_match_message(item, [p for _, p in paths]))
        wanted.extend(matched)
    return wanted


def _no_match_message(item: str, paths: list[str]) -> str:
    close = difflib.get_close_matches(item, paths, n=3)
    hint = f" Close paths: {', '.join(close)}." if close else f" Paths start with {paths[0]!r}." if paths else ""
    return (f"orgs={item!r} matches no organization id or path visible to this key.{hint} "
            "See cmf.organizations(client)[['id', 'path']]")


def _environment_frame(client: Client, accessor: str, tree: pd.DataFrame, selected: pd.DataFrame,
                       options: _Options) -> pd.DataFrame:
    """Environments of the selected organizations, each with its connection's code and type."""
    scopes = [Scope(*_org_triple(o), entity="environments", path="/environments")
              for o in _rows(selected, *ORG_FIELDS)]
    results = _crawl(client, accessor, scopes, options)
    refs = _connection_refs(selected)
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
                        options: _Options) -> dict[str, dict]:
    """``id -> connection record`` (``GET /services/connections/:id``) for every referenced id."""
    scopes = [Scope(scope.organization_id, scope.organization_name, scope.organization_path,
                    entity="service_connections", single=True,
                    path=f"/services/connections/{quote(str(cid), safe='')}")
              for cid, (scope, _) in refs.items() if cid]
    details = {}
    for _, records in _crawl(client, accessor, scopes, options):
        details.update({r.get("id"): r for r in records})
    for cid, (_, ref) in refs.items():
        details.setdefault(cid, {"id": cid, "serviceCode": ref.get("serviceCode")})
    return details


def _with_connection(env: dict, connections: dict[str, dict]) -> dict:
    ref = env.get("serviceConnection") or {}
    known = connections.get(ref.get("id"), {})
    return {"serviceCode": ref.get("serviceCode") or known.get("serviceCode"),
            "connectionType": ref.get("type") or known.get("type"), **env}


def _filter_environments(envs: pd.DataFrame, service_code: Any, environment: Any) -> pd.DataFrame:
    keep = ~envs["deleted"].fillna(False)
    for column, wanted in (("service_code", service_code), ("name", environment)):
        if wanted is None:
            continue
        names = [wanted] if isinstance(wanted, str) else list(wanted) if isinstance(
            wanted, list | tuple | set | frozenset | pd.Series) else [wanted]
        if not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{column} filter must be a string or a list of strings, got {wanted!r}")
        keep &= envs[column].astype(object).isin(names)
    return envs[keep.astype(bool)]


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
    return dict(zip(("organization_id", "organization_name", "organization_path"), _org_triple(org)))


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
                "default_for_trial": quota.get("defaultForTrial")}
        details = [d for d in quota.get("quotaDetails") or [] if isinstance(d, dict)] or [{}]
        for detail in details:
            rows.append({**base, "metric_identifier": detail.get("metricIdentifier"),
                         "metric_type": detail.get("type"), "label_key": detail.get("labelKey"),
                         "ceiling": detail.get("ceiling"), "detail_id": detail.get("id")})
    return rows


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _check_client(client: Any) -> None:
    if not isinstance(client, Client):
        raise ConfigError(f"expected a client from cmf.connect() or sandbox.client(), got "
                          f"{type(client).__name__}")


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


"""Where the forms get their rows and choices: accessor reads, and tasks from an outcomes frame.

The forms hold widgets; what they show comes from here: the environments a form may create in,
the valid values of each create field (:func:`create_choices`), the resources an
:class:`OperationForm` acts on, and a pollable task per outcome row.

Example::

    >>> create_choices(client, "volumes", org_id=org, service_code="compute-qc",
    ...                environment="prod", connection_type="cloudstack")["diskOfferingId"]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .. import accessors
from ..batch import entity_type_of, targets_of
from ..client import Client, listing_scope
from ..errors import ConfigError
from ..operation_catalog import create_spec
from ..operations import collection_path
from ..tasks import Task

FILTER_KEYS = ("orgs", "service_code", "environment")
OUTCOME_KEYS = ("task_id", "service_code", "environment_name", "entity_type", "organization_id")


def create_choices(client: Client, entity_type: str, *, org_id: str, service_code: str,
                   environment: str, connection_type: str | None) -> dict[str, pd.DataFrame]:
    """For each create field with choices (offerings, templates, networks, zones, ...), the frame
    of its valid values in one environment, read with the accessors."""
    spec = create_spec(connection_type, entity_type)
    if spec is None:
        raise ConfigError(f"creating {entity_type} on {connection_type or 'this connection'} is "
                          "not supported by the forms; call cmf.create() with a body")
    return {name: accessors.resources(client, source, orgs=org_id, service_code=service_code,
                                      environment=environment, errors="raise")
            for name, source in spec.sources.items()}


def creatable_environments(client: Client, entity_type: str, *, orgs: Any = None) -> pd.DataFrame:
    """The live environments of ``orgs`` whose connection type the forms can create ``entity_type`` in."""
    envs = accessors.environments(client, orgs=orgs)
    keep = [r.deleted is not True and isinstance(r.connection_type, str)
            and create_spec(r.connection_type, entity_type) is not None
            for r in envs.astype(object).itertuples(index=False)]
    return envs[keep].reset_index(drop=True)


def tasks_from_outcomes(client: Client, outcomes: pd.DataFrame) -> list[Task]:
    """A pollable task per outcome row that has a ``task_id`` (e.g. from ``wait=False``).

    >>> TaskProgress(client, tasks_from_outcomes(client, outcomes))          # doctest: +SKIP
    """
    missing = [c for c in OUTCOME_KEYS if c not in outcomes.columns]
    if missing:
        raise ConfigError(f"not an outcomes frame from cmf.operate_many(): no {', '.join(missing)}")
    tasks = []
    for row in outcomes.dropna(subset=["task_id"]).itertuples(index=False):
        path = collection_path(row.service_code, row.environment_name, row.entity_type)
        tasks.append(Task.from_id(row.task_id, client, scope=listing_scope(path)))
    return tasks


def form_source(client: Client, frame_or_filters: Any, *, entity_type: str | None = None):
    """(entity type, what to re-read, first rows) for a frame, a dict of filters or None."""
    if isinstance(frame_or_filters, pd.DataFrame):
        entity = entity_type or entity_type_of(frame_or_filters)
        targets_of(frame_or_filters, entity)  # checks the context columns
        return entity, frame_or_filters, frame_or_filters.reset_index(drop=True)
    filters = dict(frame_or_filters or {})
    if not isinstance(frame_or_filters, Mapping | None):
        raise ConfigError(f"frame_or_filters must be a DataFrame, a dict of filters or None, got "
                          f"{type(frame_or_filters).__name__}")
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise ConfigError(f"unknown filter(s) {', '.join(sorted(unknown))}; use {', '.join(FILTER_KEYS)}")
    entity = entity_type or "instances"
    return entity, filters, read_rows(client, entity, source=filters)


def read_rows(client: Client, entity_type: str, *, source: Any, fresh: bool = False) -> pd.DataFrame:
    """The current rows: the filters' listing, or the source frame's rows read again."""
    if not isinstance(source, pd.DataFrame):
        return accessors.resources(client, entity_type, fresh=fresh, **source).reset_index(drop=True)
    listing = accessors.resources(
        client, entity_type, fresh=fresh, orgs=sorted(source["organization_id"].dropna().unique()),
        service_code=sorted(source["service_code"].dropna().astype(str).unique()),
        environment=sorted(source["environment_name"].dropna().astype(str).unique()))
    return listing[listing["id"].isin(set(source["id"]))].reset_index(drop=True)

"""Act on one CloudMC resource: an operation, a create or a delete.

``operate``, ``create`` and ``delete`` check their arguments, send one write and return its
:class:`~cloudmc_frames.tasks.Task` (:mod:`cloudmc_frames.batch` runs an operation over the
rows of a frame). A write forgets the cached listings of its scope, and so does a task seen to
succeed, so the next accessor call shows the new state.

Signatures: the first six parameters of ``operate`` keep the documented positional order,
which mirrors the URL ``/services/<code>/<env>/<entity>/<id>?operation=<op>`` (DESIGN section 3
allows two positional parameters; this is the documented exception). Everything optional is
keyword-only.

Example::

    task = cmf.operate(client, "compute-qc", "prod", "instances", vm_id, "stop", org_id=org)
    task.wait(timeout=300)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from . import catalog
from .client import Client
from .errors import ConfigError, ResponseFormatError
from .operation_catalog import DELETE, check_operation
from .options import check_client, check_text
from .tasks import Task


def operate(client: Client, service_code: str, environment: str, entity_type: str, id: str,
            operation: str, *, body: Mapping[str, Any] | None = None,
            org_id: str | None = None) -> Task:
    """``POST /services/<code>/<env>/<entity>/<id>?operation=<op>``; returns the task.

    ``org_id``: the organization owning the environment (default: the key's own). Unknown
    operations for the entity type raise ConfigError before anything is sent.

    >>> cmf.operate(client, "compute-qc", "prod", "instances", vm_id, "stop").wait()  # doctest: +SKIP
    """
    _check_scope(client, service_code, environment, entity_type, body, org_id)
    check_text("id", id)
    if operation == DELETE:
        raise ConfigError("delete is not an ?operation=: call cmf.delete(client, service_code, "
                          "environment, entity_type, id)")
    check_operation(entity_type, operation)
    path = item_path(service_code, environment, entity_type, id)
    reply = client.post(path, _body(body), params={"operation": operation},
                        org_id=org_id)
    return _task(reply, client, path)


def create(client: Client, service_code: str, environment: str, entity_type: str,
           body: Mapping[str, Any], *, org_id: str | None = None) -> Task:
    """``POST /services/<code>/<env>/<entity>`` with ``body``; returns the task.

    >>> cmf.create(client, "compute-qc", "prod", "volumes",
    ...            {"name": "data-1", "diskOfferingId": offering_id}).wait()      # doctest: +SKIP
    """
    _check_scope(client, service_code, environment, entity_type, body, org_id)
    if not body:
        raise ConfigError(f"create needs a body with the new {entity_type} fields, got {body!r}")
    path = collection_path(service_code, environment, entity_type)
    return _task(client.post(path, dict(body), org_id=org_id), client, path)


def delete(client: Client, service_code: str, environment: str, entity_type: str, id: str, *,
           body: Mapping[str, Any] | None = None, org_id: str | None = None) -> Task:
    """``DELETE /services/<code>/<env>/<entity>/<id>`` (optional body); returns the task.

    >>> cmf.delete(client, "compute-qc", "prod", "volumes", volume_id).wait()     # doctest: +SKIP
    """
    _check_scope(client, service_code, environment, entity_type, body, org_id)
    check_text("id", id)
    path = item_path(service_code, environment, entity_type, id)
    reply = client.delete(path, _body(body), org_id=org_id)
    return _task(reply, client, path)


def collection_path(service_code: str, environment: str, entity_type: str) -> str:
    """``/services/<code>/<env>/<entity>`` with the names quoted.

    >>> collection_path("compute-qc", "prod", "instances")
    '/services/compute-qc/prod/instances'
    """
    return f"/services/{quote(service_code, safe='')}/{quote(environment, safe='')}/{entity_type}"


def item_path(service_code: str, environment: str, entity_type: str, id: str) -> str:
    """The path of one entity; ids keep their ``/`` (Azure ids are ARM paths)."""
    return f"{collection_path(service_code, environment, entity_type)}/{quote(id, safe='/:')}"


def _task(reply: Any, client: Client, path: str) -> Task:
    if isinstance(reply, Task):
        return reply
    raise ResponseFormatError(f"CloudMC answered a write without a task (got {type(reply).__name__})",
                              url=client.settings.endpoint + path)


def _body(body: Mapping[str, Any] | None) -> dict | None:
    return None if body is None else dict(body)


def check_body(body: Any) -> None:
    """ConfigError unless ``body`` is a mapping (sent as JSON) or None."""
    if body is not None and not isinstance(body, Mapping):
        raise ConfigError(f"body must be a dict (sent as JSON) or None, got {type(body).__name__}")


def _check_scope(client: Any, service_code: Any, environment: Any, entity_type: Any, body: Any,
                 org_id: Any) -> None:
    check_client(client)
    for name, value in (("service_code", service_code), ("environment", environment),
                        ("entity_type", entity_type)):
        check_text(name, value)
    if entity_type not in catalog.known_entity_types():
        raise ConfigError(f"unknown entity type {entity_type!r}; see cmf.catalog.ENTITY_TYPES")
    check_body(body)
    if org_id is not None:
        check_text("org_id", org_id)

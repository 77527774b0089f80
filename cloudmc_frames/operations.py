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

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from . import catalog
from .client import Client, listing_scope
from .errors import ApiError, CloudMCError, ConfigError, ResponseFormatError
from .journal import REFUSED as JOURNAL_REFUSED
from .journal import Intent, journal_for
from .operation_catalog import DELETE, check_operation
from .options import check_client, check_text
from .tasks import Task


def operate(client: Client, service_code: str, environment: str, entity_type: str, id: str,
            operation: str, *, body: Mapping[str, Any] | None = None,
            org_id: str | None = None, label: str | None = None) -> Task:
    """``POST /services/<code>/<env>/<entity>/<id>?operation=<op>``; returns the task.

    ``org_id``: the organization owning the environment (default: the key's own). Unknown
    operations for the entity type raise ConfigError before anything is sent. ``label``: what
    the operations journal and progress bars call this write (default ``"<operation> <id>"``).

    >>> cmf.operate(client, "compute-qc", "prod", "instances", vm_id, "stop").wait()  # doctest: +SKIP
    """
    _check_scope(client, service_code, environment, entity_type, body, org_id)
    check_text("id", id)
    if operation == DELETE:
        raise ConfigError("delete is not an ?operation=: call cmf.delete(client, service_code, "
                          "environment, entity_type, id)")
    check_operation(entity_type, operation)
    path = item_path(service_code, environment, entity_type, id)
    intent = Intent("POST", path, operation, entity_type, service_code, environment, org_id, id,
                    listing_scope(path), _label(label, f"{operation} {id}"))
    return _journaled(client, intent, lambda: client.post(path, _body(body), params={"operation": operation},
                                                          org_id=org_id))


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
    intent = Intent("POST", path, "create", entity_type, service_code, environment, org_id, None,
                    listing_scope(path), f"create {body.get('name') or entity_type}")
    return _journaled(client, intent, lambda: client.post(path, dict(body), org_id=org_id))


def delete(client: Client, service_code: str, environment: str, entity_type: str, id: str, *,
           body: Mapping[str, Any] | None = None, org_id: str | None = None,
           label: str | None = None) -> Task:
    """``DELETE /services/<code>/<env>/<entity>/<id>`` (optional body); returns the task.

    ``label``: what the operations journal and progress bars call it (default ``"delete <id>"``).

    >>> cmf.delete(client, "compute-qc", "prod", "volumes", volume_id).wait()     # doctest: +SKIP
    """
    _check_scope(client, service_code, environment, entity_type, body, org_id)
    check_text("id", id)
    path = item_path(service_code, environment, entity_type, id)
    intent = Intent("DELETE", path, DELETE, entity_type, service_code, environment, org_id, id,
                    listing_scope(path), _label(label, f"delete {id}"))
    return _journaled(client, intent, lambda: client.delete(path, _body(body), org_id=org_id))


def collection_path(service_code: str, environment: str, entity_type: str) -> str:
    """``/services/<code>/<env>/<entity>`` with the names quoted.

    >>> collection_path("compute-qc", "prod", "instances")
    '/services/compute-qc/prod/instances'
    """
    return f"/services/{quote(service_code, safe='')}/{quote(environment, safe='')}/{entity_type}"


def item_path(service_code: str, environment: str, entity_type: str, id: str) -> str:
    """The path of one entity; ids keep their ``/`` (Azure ids are ARM paths)."""
    return f"{collection_path(service_code, environment, entity_type)}/{quote(id, safe='/:')}"


def _label(label: Any, default: str) -> str:
    if label is not None and not isinstance(label, str):
        raise ConfigError(f"label must be text, got {type(label).__name__}")
    return label or default


def _journaled(client: Client, intent: Intent, send: Callable[[], Any]) -> Task:
    """Record the intent in the operations journal, send, record the task (or the refusal).

    Nothing is sent when the intent cannot be recorded. The task carries its journal id.
    """
    journal = journal_for(client)
    operation_id = journal.begin(intent)
    try:
        task = _task(send(), client, intent.path)
    except ApiError as error:  # CloudMC answered no (4xx): nothing runs; else it may have been sent
        refused = (error.status or 500) < 500
        journal.sent(operation_id, error=error, status=JOURNAL_REFUSED if refused else None)
        raise
    except CloudMCError as error:
        journal.sent(operation_id, error=error)
        raise
    task = replace(task, operation_id=operation_id, label=intent.label)
    journal.sent(operation_id, task)
    return task


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

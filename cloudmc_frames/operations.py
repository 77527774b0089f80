"""Act on CloudMC resources: an operation, a create, a delete, or one operation over a frame's rows.

``operate``, ``create`` and ``delete`` send one write and return its
:class:`~cloudmc_frames.tasks.Task`; ``operate_many`` runs an operation over the rows of a
resources frame and returns a frame of outcomes without stopping at the first failure. A write
forgets the cached listings of its scope, and so does a task seen to succeed, so the next
accessor call shows the new state.

Signatures: the first six parameters of ``operate`` keep the documented positional order,
which mirrors the URL ``/services/<code>/<env>/<entity>/<id>?operation=<op>`` (DESIGN section 3
allows two positional parameters; this is the documented exception). Everything optional is
keyword-only.

Example::

    task = cmf.operate(client, "compute-qc", "prod", "instances", vm_id, "stop", org_id=org)
    task.wait(timeout=300)
    running = cmf.instances(client).query("is_running")
    cmf.operate_many(client, running.head(5), "stop")[["name", "status", "message"]]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import pandas as pd

from . import accessors, catalog
from .client import Client, listing_scope
from .errors import ApiError, CloudMCError, ConfigError, ResponseFormatError, TaskTimeoutError
from .journal import REFUSED as JOURNAL_REFUSED
from .journal import Intent, journal_for
from .operation_catalog import (
    DELETE,
    check_operation,
    create_spec,
    missing_body_fields,
    operation_spec,
)
from .tasks import FAILED, POLL_INITIAL, Task, check_poll_options, describe_failure, next_interval

DEFAULT_TIMEOUT = 600.0
REFUSED, ERROR, TIMEOUT = "REFUSED", "ERROR", "TIMEOUT"  # outcome statuses besides the task's own
OUTCOME_COLUMNS = ("organization_id", "organization_path", "service_code", "environment_name",
                   "entity_type", "id", "name", "operation", "task_id", "status", "result",
                   "error", "code", "message")
TARGET_COLUMNS = ("organization_id", "service_code", "connection_type", "environment_name", "id")
ENTITY_MARKERS = (("power_state", "instances"), ("size_gib", "volumes"))


# -- one write ----------------------------------------------------------------------------------

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
    _check_text("id", id)
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
    _check_text("id", id)
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


def _check_scope(client: Any, service_code: Any, environment: Any, entity_type: Any, body: Any,
                 org_id: Any) -> None:
    if not isinstance(client, Client):
        raise ConfigError(f"expected a client from cmf.connect() or sandbox.client(), got "
                          f"{type(client).__name__}")
    for name, value in (("service_code", service_code), ("environment", environment),
                        ("entity_type", entity_type)):
        _check_text(name, value)
    if entity_type not in catalog.known_entity_types():
        raise ConfigError(f"unknown entity type {entity_type!r}; see cmf.catalog.ENTITY_TYPES")
    if body is not None and not isinstance(body, Mapping):
        raise ConfigError(f"body must be a dict (sent as JSON) or None, got {type(body).__name__}")
    if org_id is not None:
        _check_text("org_id", org_id)


def _check_text(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name} must be a non-empty string, got {value!r}")


# -- many rows ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """One row of a resources frame to act on: where it lives and what it is called."""

    organization_id: str
    organization_path: str | None
    service_code: str
    connection_type: str | None
    environment_name: str
    entity_type: str  # the generic name (instances, volumes)
    id: str
    name: str | None

    @property
    def provider_entity(self) -> str:
        """The entity name in this row's URL (a GCP volume is a ``disks`` entity)."""
        return catalog.provider_entity(self.entity_type, self.connection_type) or self.entity_type

    @property
    def label(self) -> str:
        return self.name or self.id


def entity_type_of(frame: pd.DataFrame) -> str:
    """``instances`` or ``volumes`` for a frame from those accessors; ConfigError otherwise."""
    for column, entity in ENTITY_MARKERS:
        if column in frame.columns:
            return entity
    raise ConfigError("cannot tell the entity type of this frame (no power_state or size_gib "
                      "column): pass entity_type=")


def targets_of(frame: Any, entity_type: str | None = None) -> list[Target]:
    """The rows of a resources frame as :class:`Target` (context columns checked).

    >>> targets_of(cmf.volumes(client).head(2))[0].provider_entity          # doctest: +SKIP
    'disks'
    """
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"expected a DataFrame from cmf.instances()/volumes()/resources(), got "
                          f"{type(frame).__name__}")
    missing = [c for c in TARGET_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"the frame lacks column(s) {', '.join(missing)}: pass a frame from "
                          "cmf.instances(), cmf.volumes() or cmf.resources() (or a slice of one)")
    entity = entity_type or entity_type_of(frame)
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [_target(n, r, entity) for n, r in zip(frame.index, records)]


def _target(index: Any, row: dict, entity_type: str) -> Target:
    for column in ("organization_id", "service_code", "environment_name", "id"):
        if not isinstance(row.get(column), str) or not row[column]:
            raise ConfigError(f"row {index!r} has no {column}: every row needs its context columns")
    return Target(row["organization_id"], row.get("organization_path"), row["service_code"],
                  row.get("connection_type"), row["environment_name"], entity_type, row["id"],
                  row.get("name"))


def check_targets(targets: Sequence[Target], operation: Any, body: Mapping[str, Any] | None) -> None:
    """ConfigError if ``operation`` is not documented for a row's provider or lacks body fields."""
    for kind in sorted({(t.connection_type, t.entity_type) for t in targets}, key=str):
        if catalog.provider_of(kind[0]) is None:
            check_operation(kind[1], operation)
            continue
        spec = operation_spec(kind[0], kind[1], operation)
        missing = missing_body_fields(spec, body)
        if missing:
            raise ConfigError(f"{operation} needs body field(s) {', '.join(missing)}, e.g. "
                              f"body={{{', '.join(repr(m) + ': ...' for m in missing)}}}")


def submit(client: Client, target: Target, operation: str, *,
           body: Mapping[str, Any] | None = None) -> Task:
    """Send ``operation`` (``delete`` included) for one target; returns the task."""
    entity = target.provider_entity
    if operation == DELETE:
        return delete(client, target.service_code, target.environment_name, entity, target.id,
                      body=body, org_id=target.organization_id, label=f"delete {target.label}")
    return operate(client, target.service_code, target.environment_name, entity, target.id,
                   operation, body=body, org_id=target.organization_id, label=f"{operation} {target.label}")


def submit_many(client: Client, targets: Sequence[Target], operation: str, *,
                body: Mapping[str, Any] | None = None,
                max_workers: int | None = None) -> list[Task | CloudMCError]:
    """Send ``operation`` for every target concurrently; one task or error per target, in order."""
    def send(target: Target) -> Task | CloudMCError:
        try:
            return submit(client, target, operation, body=body)
        except ConfigError:
            raise
        except CloudMCError as error:
            return error

    if not targets:
        return []
    workers = _workers(client, max_workers, len(targets))
    with ThreadPoolExecutor(workers, thread_name_prefix="cmf-submit") as pool:
        return list(pool.map(send, targets))


def wait_many(tasks: Sequence[Task | CloudMCError | None], *, timeout: float = DEFAULT_TIMEOUT,
              on_update: Callable[[int, Task | CloudMCError], None] | None = None,
              interval: float = POLL_INITIAL, max_workers: int = 8,
              sleep: Callable[[float], None] = time.sleep,
              clock: Callable[[], float] = time.monotonic) -> list[Task | CloudMCError | None]:
    """Poll every pending task in rounds until each ends; the final task (or error) per position.

    Rounds follow :meth:`Task.wait`'s backoff (``interval`` growing to 10 s). Entries that are
    not pending tasks are returned unchanged. A poll error that can be retried keeps the task
    pending; a task still pending at ``timeout`` becomes a TaskTimeoutError. ``on_update(i,
    task_or_error)`` is called after each poll, on this thread.
    """
    check_poll_options(timeout, interval)
    current = list(tasks)
    deadline = clock() + timeout
    with ThreadPoolExecutor(max(1, min(max_workers, len(current))), thread_name_prefix="cmf-poll") as pool:
        while pending := [i for i, t in enumerate(current) if isinstance(t, Task) and not t.done]:
            remaining = deadline - clock()
            if remaining <= 0:
                _time_out(current, pending, timeout, on_update)
                break
            sleep(min(interval, remaining))
            interval = next_interval(interval)
            for i, polled in zip(pending, pool.map(_poll, [current[i] for i in pending])):
                if isinstance(polled, CloudMCError) and polled.retryable:
                    continue
                current[i] = polled
                if on_update is not None:
                    on_update(i, polled)
    return current


def _poll(task: Task) -> Task | CloudMCError:
    try:
        return task.refresh()
    except CloudMCError as error:
        return error


def _time_out(current: list, pending: list[int], timeout: float, on_update) -> None:
    for i in pending:
        current[i] = TaskTimeoutError(
            f"task {current[i].id} still {current[i].status} after {timeout:g} s",
            hint="It may still finish: check the resource's state before running it again")
        if on_update is not None:
            on_update(i, current[i])


def operate_many(client: Client, frame: pd.DataFrame, operation: str, *,
                 body: Mapping[str, Any] | None = None, entity_type: str | None = None,
                 max_workers: int | None = None, wait: bool = True,
                 timeout: float = DEFAULT_TIMEOUT, interval: float = POLL_INITIAL) -> pd.DataFrame:
    """Run ``operation`` (``delete`` included) on every row of a resources frame.

    Returns one row per input row (:data:`OUTCOME_COLUMNS`): ``status`` is the task's
    (SUCCESS/FAILED, or PENDING with ``wait=False``), REFUSED when CloudMC answered 4xx (e.g.
    code 2012: stop on an instance that is not running), ERROR for other failures, TIMEOUT when
    the task did not end within ``timeout``. Failures never stop the other rows. Rows that do not
    allow the operation are sent anyway: CloudMC's own state check is authoritative.

    >>> idle = cmf.instances(client).query("is_running").head(5)            # doctest: +SKIP
    >>> cmf.operate_many(client, idle, "stop")[["name", "status", "message"]]  # doctest: +SKIP
    """
    if not isinstance(client, Client):
        raise ConfigError(f"expected a client from cmf.connect() or sandbox.client(), got "
                          f"{type(client).__name__}")
    if body is not None and not isinstance(body, Mapping):
        raise ConfigError(f"body must be a dict (sent as JSON) or None, got {type(body).__name__}")
    check_poll_options(timeout, interval)
    targets = targets_of(frame, entity_type)
    check_targets(targets, operation, body)
    submitted = submit_many(client, targets, operation, body=body, max_workers=max_workers)
    final = wait_many(submitted, timeout=timeout, interval=interval,
                      max_workers=_workers(client, max_workers, len(targets))) if wait else submitted
    return outcomes_frame(targets, operation, submitted, final)


def _workers(client: Client, max_workers: Any, jobs: int) -> int:
    workers = client.settings.max_workers if max_workers is None else max_workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"max_workers must be a positive integer, got {max_workers!r}")
    return max(1, min(workers, jobs))


# -- outcomes -----------------------------------------------------------------------------------

def outcome(target: Target, operation: str, submitted: Task | CloudMCError,
            final: Task | CloudMCError | None = None) -> dict[str, Any]:
    """One outcome row (:data:`OUTCOME_COLUMNS`) for a target, what sending gave and how it ended."""
    row = {"organization_id": target.organization_id, "organization_path": target.organization_path,
           "service_code": target.service_code, "environment_name": target.environment_name,
           "entity_type": target.provider_entity, "id": target.id, "name": target.name,
           "operation": operation, "task_id": None, "status": None, "result": None,
           "error": None, "code": None, "message": None}
    if isinstance(submitted, CloudMCError):
        return {**row, "status": _refusal(submitted), **_error_columns(submitted)}
    row["task_id"] = submitted.id
    ended = submitted if final is None else final
    if isinstance(ended, CloudMCError):
        status = TIMEOUT if isinstance(ended, TaskTimeoutError) else ERROR
        return {**row, "status": status, **_error_columns(ended)}
    row.update(status=ended.status, result=ended.result)
    if ended.status == FAILED:
        row.update(_error_columns(ended.failure()), message=describe_failure(ended.result))
    return row


def outcomes_frame(targets: Sequence[Target], operation: str,
                   submitted: Sequence[Task | CloudMCError],
                   final: Sequence[Task | CloudMCError | None] | None = None) -> pd.DataFrame:
    """The frame of :func:`outcome` rows (same columns when empty)."""
    final = final if final is not None else [None] * len(targets)
    rows = [outcome(t, operation, s, f) for t, s, f in zip(targets, submitted, final)]
    frame = pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))
    text = [c for c in OUTCOME_COLUMNS if c != "result"]
    frame[text] = frame[text].astype("string")
    frame["result"] = frame["result"].astype(object)
    return frame


def create_choices(client: Client, entity_type: str, *, org_id: str, service_code: str,
                   environment: str, connection_type: str | None) -> dict[str, pd.DataFrame]:
    """For each create field with choices (offerings, templates, networks, zones, ...), the frame
    of its valid values in one environment, read with the accessors.

    >>> create_choices(client, "volumes", org_id=org, service_code="compute-qc",
    ...                environment="prod", connection_type="cloudstack")["diskOfferingId"]  # doctest: +SKIP
    """
    spec = create_spec(connection_type, entity_type)
    if spec is None:
        raise ConfigError(f"creating {entity_type} on {connection_type or 'this connection'} is "
                          "not supported by the forms; call cmf.create() with a body")
    return {name: accessors.resources(client, source, orgs=org_id, service_code=service_code,
                                      environment=environment, errors="raise")
            for name, source in spec.sources.items()}


def tasks_from_outcomes(client: Client, outcomes: pd.DataFrame) -> list[Task]:
    """A pollable task per outcome row that has a ``task_id`` (e.g. from ``wait=False``).

    >>> TaskProgress(client, tasks_from_outcomes(client, outcomes))          # doctest: +SKIP
    """
    missing = [c for c in ("task_id", "service_code", "environment_name", "entity_type",
                           "organization_id") if c not in outcomes.columns]
    if missing:
        raise ConfigError(f"not an outcomes frame from cmf.operate_many(): no {', '.join(missing)}")
    tasks = []
    for row in outcomes.dropna(subset=["task_id"]).itertuples(index=False):
        path = collection_path(row.service_code, row.environment_name, row.entity_type)
        tasks.append(Task.from_id(row.task_id, client, scope=listing_scope(path)))
    return tasks


def _refusal(error: CloudMCError) -> str:
    return REFUSED if isinstance(error, ApiError) and error.status and error.status < 500 else ERROR


def _error_columns(error: CloudMCError | None) -> dict[str, Any]:
    if error is None:
        return {}
    return {"error": type(error).__name__, "code": None if error.code is None else str(error.code),
            "message": error.message}

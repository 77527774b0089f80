"""Run one operation over the rows of a resources frame: send every write, wait, report outcomes.

``operate_many`` reads each row as a :class:`Target`, checks the operation and body once for
every provider in the frame, sends the writes concurrently (:func:`submit_many`), waits for the
tasks with the one polling loop (:func:`wait_many`) and returns one outcome row per input row,
never stopping at the first failure.

Example::

    running = cmf.instances(client).query("is_running")
    cmf.operate_many(client, running.head(5), "stop")[["name", "status", "message"]]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import catalog
from .client import Client
from .errors import ApiError, CloudMCError, ConfigError, TaskTimeoutError
from .frames import plain_records
from .operation_catalog import DELETE, check_operation, missing_body_fields, operation_spec
from .operations import check_body, delete, operate
from .options import CrawlOptions, check_client
from .tasks import (
    DEFAULT_TIMEOUT,
    FAILED,
    POLL_INITIAL,
    Task,
    check_poll_options,
    describe_failure,
    poll_until_done,
)

REFUSED, ERROR, TIMEOUT = "REFUSED", "ERROR", "TIMEOUT"  # outcome statuses besides the task's own
OUTCOME_COLUMNS = ("organization_id", "organization_path", "service_code", "environment_name",
                   "entity_type", "id", "name", "operation", "task_id", "status", "result",
                   "error", "code", "message")
TARGET_COLUMNS = ("organization_id", "service_code", "connection_type", "environment_name", "id")
ENTITY_MARKERS = (("power_state", "instances"), ("size_gib", "volumes"))
POLL_WORKERS = 8


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
    check_client(client)
    check_body(body)
    check_poll_options(timeout, interval)
    workers = CrawlOptions(max_workers=max_workers).workers(client)
    targets = targets_of(frame, entity_type)
    check_targets(targets, operation, body)
    submitted = submit_many(client, targets, operation, body=body, max_workers=workers)
    final = wait_many(submitted, timeout=timeout, interval=interval,
                      max_workers=min(workers, max(1, len(targets)))) if wait else submitted
    return outcomes_frame(targets, operation, submitted, final)


# -- the rows to act on -----------------------------------------------------------------------------

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
        """The row's name, or its id when it has none."""
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
    return [_target(n, r, entity) for n, r in zip(frame.index, plain_records(frame), strict=True)]


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


# -- sending and waiting ------------------------------------------------------------------------------

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
    workers = CrawlOptions(max_workers=max_workers).workers(client, len(targets))
    with ThreadPoolExecutor(workers, thread_name_prefix="cmf-submit") as pool:
        return list(pool.map(send, targets))


def wait_many(tasks: Sequence[Task | CloudMCError | None], *, timeout: float = DEFAULT_TIMEOUT,
              on_update: Callable[[int, Task | CloudMCError], None] | None = None,
              interval: float = POLL_INITIAL, max_workers: int = POLL_WORKERS,
              sleep: Callable[[float], None] = time.sleep,
              clock: Callable[[], float] = time.monotonic) -> list[Task | CloudMCError | None]:
    """Poll every pending task in rounds until each ends; the final task (or error) per position.

    The rounds are :func:`~cloudmc_frames.tasks.poll_until_done`'s (``interval`` growing to
    10 s), each polling its tasks on up to ``max_workers`` threads. Entries that are not pending
    tasks are returned unchanged. A poll error that can be retried keeps the task pending; a
    task still pending at ``timeout`` becomes a TaskTimeoutError. ``on_update(i,
    task_or_error)`` is called after each poll, on this thread.
    """
    check_poll_options(timeout, interval)
    workers = max(1, min(max_workers, len(tasks)))
    with ThreadPoolExecutor(workers, thread_name_prefix="cmf-poll") as pool:
        return poll_until_done(tasks, timeout=timeout, interval=interval,
                               poll=lambda pending: list(pool.map(_poll, pending)),
                               on_update=on_update, sleep=sleep, clock=clock)


def _poll(task: Task) -> Task | CloudMCError:
    try:
        return task.refresh()
    except CloudMCError as error:
        return error


# -- outcomes -------------------------------------------------------------------------------------

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
    rows = [outcome(t, operation, s, f) for t, s, f in zip(targets, submitted, final, strict=True)]
    frame = pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))
    text = [c for c in OUTCOME_COLUMNS if c != "result"]
    frame[text] = frame[text].astype("string")
    frame["result"] = frame["result"].astype(object)
    return frame


def _refusal(error: CloudMCError) -> str:
    return REFUSED if isinstance(error, ApiError) and error.status and error.status < 500 else ERROR


def _error_columns(error: CloudMCError | None) -> dict[str, Any]:
    if error is None:
        return {}
    return {"error": type(error).__name__, "code": None if error.code is None else str(error.code),
            "message": error.message}

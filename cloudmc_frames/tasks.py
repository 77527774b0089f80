"""CloudMC tasks: the two documented task shapes and waiting for a task to end.

Writes (create, delete, operations) answer with a task; :meth:`Task.wait` polls ``/tasks/:id``
with a growing interval (about 1 s up to 10 s) until it ends.

Example::

    task = cmf.operate(client, "compute-qc", "prod", "instances", instance_id, "stop")
    task.wait(timeout=300, on_update=lambda t: print(t.status))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import NotFoundError, ResponseFormatError, TaskFailedError, TaskTimeoutError

if TYPE_CHECKING:
    from .client import Client

PENDING, SUCCESS, FAILED = "PENDING", "SUCCESS", "FAILED"
TASK_STATUSES = (PENDING, SUCCESS, FAILED)
POLL_INITIAL = 1.0
POLL_GROWTH = 1.5
POLL_MAX = 10.0


def is_task_payload(payload: dict) -> bool:
    """True for ``{taskId, taskStatus|status, ...}`` and ``{data: {id, status in TASK_STATUSES}}``."""
    if "taskId" in payload:
        return True
    data = payload.get("data")
    return isinstance(data, dict) and "id" in data and data.get("status") in TASK_STATUSES


@dataclass(frozen=True)
class Task:
    """A CloudMC task: ``id``, ``status`` (PENDING/SUCCESS/FAILED), ``result`` once it succeeded.

    ``data`` holds the model some writes return next to the task (org, user, env writes).
    """

    id: str
    status: str
    result: Any = None
    data: Any = None
    created: datetime | None = None
    client: Client | None = field(default=None, repr=False, compare=False)
    scope: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_payload(cls, payload: dict, client: Client | None = None, url: str | None = None,
                     scope: str | None = None) -> Task:
        """Read either documented shape: top-level ``taskId``/``taskStatus`` (or ``status``) or
        ``{"data": {"id", "status", "created", "result"}}``."""
        if "taskId" in payload:
            task_id, model = payload["taskId"], payload.get("data")
            status = payload.get("taskStatus") or payload.get("status")
            result, created = payload.get("result"), payload.get("created")
            if isinstance(model, dict) and model.get("id") == task_id:  # both shapes at once
                result = model.get("result") if result is None else result
                created, model = created or model.get("created"), None
        else:
            inner = payload.get("data") or {}
            task_id, status, model = inner.get("id"), inner.get("status"), None
            result, created = inner.get("result"), inner.get("created")
        if not isinstance(task_id, str) or not task_id or status not in TASK_STATUSES:
            raise ResponseFormatError(
                f"a task reply without a valid id and status (got id={task_id!r}, status={status!r})",
                url=url,
            )
        return cls(task_id, status, result, model, _parse_time(created), client, scope)

    @property
    def done(self) -> bool:
        return self.status in (SUCCESS, FAILED)

    def refresh(self) -> Task:
        """Fetch the task's current state (never from a cache) and return it as a new Task.

        When the task has succeeded, the cached listings it changed are forgotten, so the next
        accessor call shows the new state.
        """
        if self.client is None:
            raise TaskTimeoutError(f"task {self.id} has no client to poll it with")
        try:
            payload = self.client.poll_task(self.id)
        except NotFoundError as exc:
            raise TaskTimeoutError(
                f"task {self.id} is no longer known to CloudMC (tasks live about 30 minutes)",
                status=404,
                url=exc.url,
                method=exc.method,
                hint="Check the resource's state to see whether the operation happened",
            ) from None
        fresh = Task.from_payload(payload, self.client, url=f"/tasks/{self.id}", scope=self.scope)
        if fresh.status == SUCCESS and self.scope:
            self.client.invalidate(self.scope)
        return replace(fresh, data=self.data if fresh.data is None else fresh.data)

    def wait(
        self,
        timeout: float = 600,
        on_update: Callable[[Task], None] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Any:
        """Poll until the task ends; return its ``result``.

        Raises TaskFailedError (with the server's reason) on FAILED, TaskTimeoutError when
        ``timeout`` seconds pass or the task disappeared.
        """
        deadline = clock() + timeout
        task, interval = self, POLL_INITIAL
        while not task.done:
            remaining = deadline - clock()
            if remaining <= 0:
                raise TaskTimeoutError(
                    f"task {self.id} still {task.status} after {timeout:g} s",
                    hint="It may still finish: call task.wait() again or check the resource",
                )
            sleep(min(interval, remaining))
            interval = min(interval * POLL_GROWTH, POLL_MAX)
            task = task.refresh()
            if on_update is not None:
                on_update(task)
        if task.status == FAILED:
            raise TaskFailedError(
                f"task {task.id} FAILED: {describe_failure(task.result)}",
                context=task.result if isinstance(task.result, dict) else None,
            )
        return task.result


def describe_failure(result: Any) -> str:
    """The server's reason for a failed task, as one line."""
    if isinstance(result, dict):
        for key in ("message", "reason", "error", "errorMessage"):
            if result.get(key):
                return str(result[key])
        errors = result.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", errors[0]))
    return "no reason given" if result in (None, "", {}) else str(result)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None

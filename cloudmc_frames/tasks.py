"""CloudMC tasks: the two documented task shapes, and the one loop that waits for tasks to end.

Writes (create, delete, operations) answer with a task. :func:`poll_until_done` is the only
polling loop: :meth:`Task.wait`, :func:`cloudmc_frames.batch.wait_many` and the progress widget
all run it. It polls in rounds with a growing interval (about 1 s up to 10 s) until every task
ended or the deadline passed; ``sleep`` and ``clock`` are injectable, so tests never wait. A
task also knows how long it has been watched (:meth:`Task.elapsed`) and how far it got
(:attr:`Task.progress`, 0.0 or 1.0: CloudMC reports no percentage).

A task reads its state through a :class:`TaskPoller` (``poll_task`` and ``invalidate``): a
:class:`~cloudmc_frames.client.Client` is one, and so is a plain fake in the unit tests.

A task resumed from the operations journal may also be ``EXPIRED`` (CloudMC no longer knows it)
or ``UNKNOWN`` (its write was sent but no reply was seen, so it has no task id); both have ended
as far as polling goes. :meth:`Task.to_token` / :meth:`Task.from_token` hand a task to another
process with the same key (a small versioned JSON text, never pickle). Every poll is told to
:data:`POLL_OBSERVERS` (the journal records the statuses it sees).

Example::

    task = cmf.operate(client, "compute-qc", "prod", "instances", instance_id, "stop")
    task.wait(timeout=300, on_update=lambda t: print(t.status))
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from .errors import (
    CloudMCError,
    ConfigError,
    NotFoundError,
    ResponseFormatError,
    TaskFailedError,
    TaskTimeoutError,
)

PENDING, SUCCESS, FAILED = "PENDING", "SUCCESS", "FAILED"
TASK_STATUSES = (PENDING, SUCCESS, FAILED)
EXPIRED, UNKNOWN = "EXPIRED", "UNKNOWN"  # resumed from the journal: gone from CloudMC / never answered
ENDED = (SUCCESS, FAILED, EXPIRED, UNKNOWN)
TOKEN_KIND, TOKEN_VERSION, TOKEN_MAX_CHARS = "cloudmc-frames/task", 1, 4096
# observer(task, fresh) after every poll of Task.refresh; fresh is None when CloudMC answered 404
POLL_OBSERVERS: list[Callable[[Task, Task | None], None]] = []
POLL_INITIAL = 1.0
POLL_GROWTH = 1.5
POLL_MAX = 10.0
DEFAULT_TIMEOUT = 600.0
TIMEOUT_HINT = ("It may still finish: call task.wait() again, or check the resource's state "
                "before running it again")

Polled = Any  # a Task, a CloudMCError, or whatever else a caller keeps in a position (None)
OnUpdate = Callable[[int, Polled], None]


class TaskPoller(Protocol):
    """What a task needs from a client: its current state, and forgetting the listings it changed."""

    def poll_task(self, task_id: str) -> dict:
        """The payload of ``GET /tasks/<task_id>``, never from a cache."""
        ...

    def invalidate(self, scope: str) -> int:
        """Forget the cached listings of ``scope``; returns how many entries were dropped."""
        ...


def is_task_payload(payload: dict) -> bool:
    """True for ``{taskId, taskStatus|status, ...}`` and ``{data: {id, status in TASK_STATUSES}}``."""
    if "taskId" in payload:
        return True
    data = payload.get("data")
    return isinstance(data, dict) and "id" in data and data.get("status") in TASK_STATUSES


@dataclass(frozen=True)
class Task:
    """A CloudMC task: ``id``, ``status`` (PENDING/SUCCESS/FAILED), ``result`` once it succeeded.

    ``data`` holds the model some writes return next to the task (org, user, env writes);
    ``operation_id`` is the operations journal's id of the write that started it, ``label`` what
    progress bars call it (``"stop vm-1"``).
    """

    id: str
    status: str
    result: Any = None
    data: Any = None
    created: datetime | None = None
    client: TaskPoller | None = field(default=None, repr=False, compare=False)
    scope: str | None = field(default=None, repr=False, compare=False)
    started: float = field(default_factory=time.monotonic, repr=False, compare=False)
    operation_id: str | None = field(default=None, repr=False, compare=False)
    label: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_id(cls, task_id: str, client: TaskPoller, scope: str | None = None) -> Task:
        """A PENDING task known only by its id (for example from an outcomes frame), to poll.

        >>> Task.from_id("4f6c...", client).wait(timeout=60)       # doctest: +SKIP
        """
        if not isinstance(task_id, str) or not task_id:
            raise ConfigError(f"a task id must be a non-empty string, got {task_id!r}")
        return cls(task_id, PENDING, client=client, scope=scope)

    @classmethod
    def from_payload(cls, payload: dict, client: TaskPoller | None = None, url: str | None = None,
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

    @classmethod
    def from_token(cls, client: Any, token: str) -> Task:
        """The task a :meth:`to_token` text stands for, to poll with ``client`` (PENDING until polled).

        Refused (ConfigError) for a token of another endpoint or another key.

        >>> task = cmf.Task.from_token(client, token)                     # doctest: +SKIP
        >>> task.wait(timeout=300)                                        # doctest: +SKIP
        """
        fields = read_token(token)
        endpoint, credential = _owner(client)
        if fields["endpoint"] != endpoint:
            raise ConfigError(f"this task token is for {fields['endpoint']}, and this client talks to "
                              f"{endpoint}: connect to that endpoint to resume it")
        if fields["credential"] != credential:
            raise ConfigError(f"this task token belongs to another API key (credential "
                              f"{fields['credential'][:8]}, this client's is {credential[:8]}): connect "
                              "with the key that submitted the task")
        return cls(fields["task_id"], PENDING, client=client, scope=fields["scope"],
                   operation_id=fields["operation_id"], label=fields["label"])

    def to_token(self) -> str:
        """A small versioned JSON text that :meth:`from_token` turns back into this task, in
        another process or for a colleague with the same key (never pickle, never the key).

        >>> token = task.to_token()                                       # doctest: +SKIP
        """
        if not self.id:
            raise ConfigError("this operation has no task id (it is UNKNOWN): there is no task to hand over")
        endpoint, credential = _owner(self.client)
        return json.dumps({"kind": TOKEN_KIND, "v": TOKEN_VERSION, "endpoint": endpoint,
                           "credential": credential, "task_id": self.id, "scope": self.scope,
                           "operation_id": self.operation_id, "label": self.label},
                          separators=(",", ":"), sort_keys=True)

    @property
    def done(self) -> bool:
        """True once the task ended: SUCCESS, FAILED, or (resumed) EXPIRED or UNKNOWN."""
        return self.status in ENDED

    @property
    def progress(self) -> float:
        """0.0 while PENDING, 1.0 once the task ended (SUCCESS, FAILED, EXPIRED, UNKNOWN)."""
        return 1.0 if self.done else 0.0

    def elapsed(self, clock: Callable[[], float] = time.monotonic) -> float:
        """Seconds since this client first saw the task (kept across :meth:`refresh`).

        >>> f"{task.elapsed():.1f} s"                               # doctest: +SKIP
        '2.3 s'
        """
        return max(0.0, clock() - self.started)

    def failure(self) -> TaskFailedError | TaskTimeoutError | None:
        """The error a FAILED task stands for (the server's reason, code and context); for EXPIRED
        or UNKNOWN, that its outcome cannot be known; else None."""
        if self.status in (EXPIRED, UNKNOWN):
            what = self.label or f"task {self.id}"
            return TaskTimeoutError(f"{what} is {self.status}: {describe_failure(self.result)}",
                                    status=404 if self.status == EXPIRED else None,
                                    hint="Check the resource's state to see whether the operation happened")
        if self.status != FAILED:
            return None
        result = self.result if isinstance(self.result, dict) else None
        return TaskFailedError(
            f"task {self.id} FAILED: {describe_failure(self.result)}",
            code=result.get("code", result.get("errorCode")) if result else None,
            context=result,
        )

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
            _tell_observers(self, None)
            raise TaskTimeoutError(
                f"task {self.id} is no longer known to CloudMC (tasks live about 30 minutes)",
                status=404,
                url=exc.url,
                method=exc.method,
                hint="Check the resource's state to see whether the operation happened",
            ) from None
        fresh = replace(Task.from_payload(payload, self.client, url=f"/tasks/{self.id}", scope=self.scope),
                        started=self.started, operation_id=self.operation_id, label=self.label)
        _tell_observers(self, fresh)
        if fresh.status == SUCCESS and self.scope:
            self.client.invalidate(self.scope)
        return replace(fresh, data=self.data if fresh.data is None else fresh.data)

    def wait(
        self,
        timeout: float = DEFAULT_TIMEOUT,
        on_update: Callable[[Task], None] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        interval: float = POLL_INITIAL,
    ) -> Any:
        """Poll until the task ends; return its ``result``.

        The first poll comes ``interval`` seconds after the call, then the wait grows by half
        each time up to 10 s. Raises TaskFailedError (with the server's reason) on FAILED,
        TaskTimeoutError when ``timeout`` seconds pass or the task disappeared; an error while
        polling is raised as it comes.

        >>> task.wait(timeout=300, on_update=lambda t: print(t.status))   # doctest: +SKIP
        """
        final = poll_until_done([self], timeout=timeout, interval=interval, poll=refresh_all,
                                on_update=_tasks_only(on_update), sleep=sleep, clock=clock)[0]
        if isinstance(final, CloudMCError):
            raise final
        failure = final.failure()
        if failure is not None:
            raise failure
        return final.result


# -- the polling loop -----------------------------------------------------------------------------

def poll_until_done(
    items: Sequence[Polled],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = POLL_INITIAL,
    poll: Callable[[list[Task]], list[Polled]],
    on_update: OnUpdate | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[Polled]:
    """Poll the pending tasks among ``items`` in rounds until each ended; the final item per position.

    Each round sleeps (``interval``, growing by half up to :data:`POLL_MAX`, never past the
    deadline), then ``poll`` gets the pending tasks and returns their new state (a Task or an
    error) in the same order. A retryable error keeps its task pending; any other result is
    final. Items that are not pending tasks are returned unchanged. A task still pending
    ``timeout`` seconds after the call becomes :func:`timeout_error`. ``on_update(position,
    result)`` is called for every new result, the time-outs included.
    """
    check_poll_options(timeout, interval)
    current = list(items)
    deadline = clock() + timeout
    while pending := [i for i, item in enumerate(current) if is_pending(item)]:
        remaining = deadline - clock()
        if remaining <= 0:
            _update(current, pending, [timeout_error(current[i], timeout) for i in pending], on_update)
            break
        sleep(min(interval, remaining))
        interval = next_interval(interval)
        polled = poll([current[i] for i in pending])
        ended = [(i, p) for i, p in zip(pending, polled, strict=True) if not _keeps_pending(p)]
        _update(current, [i for i, _ in ended], [p for _, p in ended], on_update)
    return current


def refresh_all(tasks: list[Task]) -> list[Task]:
    """Each task's :meth:`Task.refresh`, in order; errors are raised (the poll of :meth:`Task.wait`)."""
    return [task.refresh() for task in tasks]


def is_pending(item: Polled) -> bool:
    """True for a Task that has not ended; False for ended tasks, errors and anything else."""
    return isinstance(item, Task) and not item.done


def timeout_error(task: Task, timeout: float) -> TaskTimeoutError:
    """The error of a task still pending after ``timeout`` seconds (the same for every waiter)."""
    return TaskTimeoutError(f"task {task.id} still {task.status} after {timeout:g} s",
                            hint=TIMEOUT_HINT)


def _keeps_pending(polled: Polled) -> bool:
    return isinstance(polled, CloudMCError) and polled.retryable


def _update(current: list, positions: list[int], results: list, on_update: OnUpdate | None) -> None:
    for i, result in zip(positions, results, strict=True):
        current[i] = result
        if on_update is not None:
            on_update(i, result)


def _tasks_only(on_update: Callable[[Task], None] | None) -> OnUpdate | None:
    """``on_update(task)`` of :meth:`Task.wait` as a loop callback (errors are raised instead)."""
    if on_update is None:
        return None
    return lambda _i, polled: on_update(polled) if isinstance(polled, Task) else None


def read_token(token: Any) -> dict[str, Any]:
    """The fields of a :meth:`Task.to_token` text, checked (ConfigError for anything else).

    >>> read_token('{"kind":"cloudmc-frames/task","v":1,"endpoint":"https://h/api/v2",'
    ...            '"credential":"ab","task_id":"t-1"}')["task_id"]
    't-1'
    """
    if not isinstance(token, str) or len(token) > TOKEN_MAX_CHARS:
        raise ConfigError(f"a task token is the text task.to_token() returned, got {type(token).__name__}")
    try:
        fields = json.loads(token)
    except ValueError:
        raise ConfigError("this is not a task token (not JSON): pass the text task.to_token() "
                          "returned") from None
    if not isinstance(fields, dict) or fields.get("kind") != TOKEN_KIND:
        raise ConfigError("this is not a cloudmc-frames task token")
    if fields.get("v") != TOKEN_VERSION:
        raise ConfigError(f"task token version {fields.get('v')!r} is not one this toolkit reads "
                          f"({TOKEN_VERSION}): make it again with this version")
    for name in ("endpoint", "credential", "task_id"):
        if not isinstance(fields.get(name), str) or not fields[name]:
            raise ConfigError(f"this task token has no {name}")
    if "/" in fields["task_id"]:
        raise ConfigError("this task token's task id is not a task id")
    for name in ("scope", "operation_id", "label"):
        if not isinstance(fields.get(name), str | None):
            raise ConfigError(f"this task token's {name} is not text")
    return {name: fields.get(name) for name in ("endpoint", "credential", "task_id", "scope",
                                                "operation_id", "label")}


def _owner(client: Any) -> tuple[str, str]:
    """(endpoint, credential fingerprint) of the client a task is polled with."""
    settings, credential = getattr(client, "settings", None), getattr(client, "fingerprint", None)
    if settings is None or not isinstance(credential, str):
        raise ConfigError("a task token needs a client from cmf.connect() (its endpoint and key)")
    return settings.endpoint, credential


def _tell_observers(task: Task, fresh: Task | None) -> None:
    for observer in list(POLL_OBSERVERS):
        observer(task, fresh)


def check_poll_options(timeout: Any, interval: Any) -> None:
    """ConfigError unless ``timeout`` and ``interval`` are positive numbers of seconds."""
    for name, value in (("timeout", timeout), ("interval", interval)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")


def next_interval(interval: float) -> float:
    """The poll interval after ``interval``: half as long again, at most :data:`POLL_MAX`."""
    return min(interval * POLL_GROWTH, POLL_MAX)


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

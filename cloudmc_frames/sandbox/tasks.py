"""Asynchronous tasks: PENDING now, SUCCESS or FAILED after ``task_delay`` seconds.

A write answers ``{"taskId", "taskStatus": "PENDING"}`` at once; a background
thread applies the change when the task is due (``apply()`` returns the task
``result``). ``GET /tasks/:id`` answers both documented shapes at once::

    {"data": {"id", "status", "created", "result"?}, "taskId", "taskStatus", "result"?}

A FAILED task's ``result`` is ``{"code": 9440, "message", "context"}``.
Tasks expire ``task_ttl`` seconds after creation (then 404).

Forced failures (for tests): ``fail_operations`` holds operation names such
as ``"instances.stop"``, bare names such as ``"stop"`` (any entity), or
``"*"``; a matching task ends FAILED and its ``on_fail`` undoes the
transitional state.
"""
import heapq
import itertools
import threading
import time
from dataclasses import dataclass, field

from . import clock, errors


class TaskFailure(Exception):
    """Raised by an ``apply`` callable to end its task FAILED."""

    def __init__(self, message, **context):
        super().__init__(message)
        self.context = context


@dataclass
class Task:
    """One asynchronous operation."""

    id: str
    operation: str
    created: object
    started: float
    due: float
    apply: object = None
    on_fail: object = None
    fail: bool = False
    status: str = "PENDING"
    result: object = None
    context: dict = field(default_factory=dict)

    def body(self):
        """The ``GET /tasks/:id`` body (both documented shapes)."""
        data = {"id": self.id, "status": self.status, "created": clock.iso_micro_offset(self.created)}
        out = {"data": data, "taskId": self.id, "taskStatus": self.status}
        if self.status != "PENDING":
            data["result"] = self.result
            out["result"] = self.result
        return out


class TaskRunner:
    """Schedules tasks and completes them on a background thread."""

    def __init__(self, store, delay=0.5, ttl=1800.0, fail_operations=()):
        self.store = store
        self.delay = float(delay)
        self.ttl = float(ttl)
        self.fail_operations = set(fail_operations)
        self._heap = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = None

    def should_fail(self, operation):
        """True if ``operation`` (``"instances.stop"``) is listed in ``fail_operations``."""
        names = self.fail_operations
        return bool(names) and ("*" in names or operation in names or operation.split(".")[-1] in names)

    def submit(self, operation, apply, on_fail=None, context=None):
        """Create a PENDING task that will run ``apply`` when due; returns the Task."""
        now = time.monotonic()
        task = Task(id=self.store.ids.uuid(), operation=operation, created=clock.utcnow(), started=now,
                    due=now + self.delay, apply=apply, on_fail=on_fail, fail=self.should_fail(operation),
                    context=context or {})
        with self.store.lock:
            self.store.tasks[task.id] = task
        with self._cond:
            heapq.heappush(self._heap, (task.due, next(self._seq), task))
            self._cond.notify()
        return task

    def lookup(self, task_id):
        """The task with ``task_id`` or None (unknown or expired; expired tasks are forgotten)."""
        self.run_due()
        with self.store.lock:
            task = self.store.tasks.get(task_id)
            if task is not None and time.monotonic() - task.started > self.ttl:
                del self.store.tasks[task_id]
                return None
            return task

    def run_due(self):
        """Complete every task whose time has come."""
        while True:
            with self._cond:
                if not self._heap or self._heap[0][0] > time.monotonic():
                    return
                _, _, task = heapq.heappop(self._heap)
            self._complete(task)

    def _complete(self, task):
        """Run ``apply`` (or the forced failure) and record the outcome."""
        with self.store.lock:
            if task.status != "PENDING":
                return
            try:
                if task.fail:
                    raise TaskFailure(f"Operation {task.operation} failed (forced by the sandbox)",
                                      operation=task.operation, **task.context)
                task.result = task.apply() if task.apply else None
                task.status = "SUCCESS"
            except TaskFailure as failure:
                if task.on_fail:
                    task.on_fail()
                task.result = {"code": errors.TASK_FAILED, "message": str(failure),
                               "context": {"taskId": task.id, **failure.context}}
                task.status = "FAILED"
            self.store.touch()

    def wait_idle(self, timeout=5.0):
        """Block until no task is pending (tests); True if idle before ``timeout``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.run_due()
            with self._cond:
                if not self._heap:
                    return True
            time.sleep(0.005)
        return False

    def _loop(self):
        """Background thread: sleep until the next task is due, complete it, repeat."""
        while True:
            with self._cond:
                if self._stopping:
                    return
                wait = 0.5 if not self._heap else max(0.0, self._heap[0][0] - time.monotonic())
                if wait > 0:
                    self._cond.wait(min(wait, 0.5))
                if self._stopping:
                    return
            self.run_due()
            self._expire()

    def _expire(self):
        """Forget tasks older than the TTL."""
        limit = time.monotonic() - self.ttl
        with self.store.lock:
            for task_id in [t.id for t in self.store.tasks.values() if t.started < limit]:
                del self.store.tasks[task_id]

    def start(self):
        """Start the background thread."""
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="cloudmc-sandbox-tasks", daemon=True)
        self._thread.start()

    def stop(self):
        """Stop the background thread (pending tasks stay PENDING)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

"""Tasks and the one polling loop, against a plain fake poller: no sockets, no real sleeps."""

from __future__ import annotations

import pytest

import cloudmc_frames as cmf
from cloudmc_frames.batch import wait_many
from cloudmc_frames.tasks import (
    POLL_MAX,
    Task,
    describe_failure,
    is_task_payload,
    poll_until_done,
    refresh_all,
)
from tests.support.fakes import FakeSleep

SCOPE = "services/compute-qc/prod"


def pending(task_id: str = "t1") -> dict:
    return {"taskId": task_id, "taskStatus": "PENDING"}


def success(task_id: str = "t1", result=None) -> dict:
    return {"taskId": task_id, "taskStatus": "SUCCESS", "result": result}


def failed(task_id: str = "t1", **result) -> dict:
    return {"data": {"id": task_id, "status": "FAILED", "result": result}}


class FakePoller:
    """A TaskPoller answering from a script per task id (the last answer repeats); errors are raised."""

    def __init__(self, **scripts: list) -> None:
        self.scripts = {task_id: list(replies) for task_id, replies in scripts.items()}
        self.polls: list[str] = []
        self.invalidated: list[str] = []

    def poll_task(self, task_id: str) -> dict:
        self.polls.append(task_id)
        script = self.scripts[task_id]
        reply = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(reply, Exception):
            raise reply
        return reply

    def invalidate(self, scope: str) -> int:
        self.invalidated.append(scope)
        return 1


@pytest.fixture
def fake():
    return FakeSleep()


def wait(task: Task, fake: FakeSleep, **kwargs):
    return task.wait(sleep=fake, clock=fake.clock, **kwargs)


# -- reading task payloads --------------------------------------------------------------------------

@pytest.mark.parametrize("payload, expected", [
    (pending(), ("t1", "PENDING", None, None)),
    ({"taskId": "t1", "status": "SUCCESS", "result": {"id": "v1"}}, ("t1", "SUCCESS", {"id": "v1"}, None)),
    ({"data": {"id": "t1", "status": "FAILED", "result": {"code": 9440}}},
     ("t1", "FAILED", {"code": 9440}, None)),
    ({"taskId": "t1", "taskStatus": "PENDING", "data": {"id": "org-1", "name": "acme"}},
     ("t1", "PENDING", None, {"id": "org-1", "name": "acme"})),
    ({"taskId": "t1", "taskStatus": "SUCCESS", "data": {"id": "t1", "result": {"id": "v1"}}},
     ("t1", "SUCCESS", {"id": "v1"}, None)),
], ids=["top-level", "status-spelling", "data-shape", "model-beside-the-task", "both-shapes-at-once"])
def test_both_documented_task_shapes_are_read(payload, expected):
    task = Task.from_payload(payload)
    assert is_task_payload(payload)
    assert (task.id, task.status, task.result, task.data) == expected


@pytest.mark.parametrize("payload", [
    {"taskId": "", "taskStatus": "PENDING"}, {"taskId": "t1", "taskStatus": "DONE"},
    {"data": {"id": "t1"}},
], ids=["empty-id", "unknown-status", "no-status"])
def test_a_task_reply_without_a_valid_id_and_status_is_a_format_error(payload):
    with pytest.raises(cmf.ResponseFormatError, match="valid id and status"):
        Task.from_payload(payload, url="/tasks/t1")


@pytest.mark.parametrize("payload", [{"data": {"id": "v1", "state": "Ready"}}, {"data": [1]}, {}],
                         ids=["model", "list", "empty"])
def test_plain_replies_are_not_tasks(payload):
    assert not is_task_payload(payload)


@pytest.mark.parametrize("result, reason", [
    ({"message": "Host out of capacity"}, "Host out of capacity"),
    ({"errors": [{"message": "quota"}]}, "quota"),
    (None, "no reason given"), ("boom", "boom"),
], ids=["message", "errors-list", "none", "text"])
def test_the_failure_reason_is_one_line(result, reason):
    assert describe_failure(result) == reason


# -- Task.wait -------------------------------------------------------------------------------------

def test_wait_backs_off_to_the_cap_and_forgets_the_scope_once_on_success(fake):
    poller = FakePoller(t1=[pending()] * 8 + [success(result={"id": "v1"})])
    seen = []
    task = Task.from_id("t1", poller, scope=SCOPE)
    assert wait(task, fake, on_update=lambda t: seen.append(t.status)) == {"id": "v1"}
    assert fake.calls == pytest.approx([1.0, 1.5, 2.25, 3.375, 5.0625, 7.59375, 10.0, 10.0, 10.0])
    assert max(fake.calls) == POLL_MAX and seen == ["PENDING"] * 8 + ["SUCCESS"]
    assert poller.invalidated == [SCOPE]


def test_an_ended_task_is_not_polled(fake):
    poller = FakePoller()
    task = Task.from_payload(success(result=7), poller)
    assert wait(task, fake) == 7 and fake.calls == [] and poller.polls == []


def test_a_failed_task_raises_its_reason_code_and_context(fake):
    poller = FakePoller(t1=[pending(), failed(code=9440, message="Host out of capacity")])
    with pytest.raises(cmf.TaskFailedError, match="Host out of capacity") as caught:
        wait(Task.from_id("t1", poller, scope=SCOPE), fake)
    assert caught.value.code == 9440 and caught.value.context["code"] == 9440
    assert poller.invalidated == []  # nothing changed


def test_a_vanished_task_is_a_time_out_that_says_so(fake):
    poller = FakePoller(t1=[cmf.NotFoundError("Unknown task", status=404, url="/tasks/t1")])
    with pytest.raises(cmf.TaskTimeoutError, match="no longer known") as caught:
        wait(Task.from_id("t1", poller), fake)
    assert caught.value.status == 404 and fake.calls == [1.0]


def test_a_slow_task_times_out_at_the_deadline_without_a_sleep_past_it(fake):
    poller = FakePoller(t1=[pending()])
    with pytest.raises(cmf.TaskTimeoutError, match="still PENDING after 30 s") as caught:
        wait(Task.from_id("t1", poller), fake, timeout=30)
    assert sum(fake.calls) == pytest.approx(30) and fake.calls[-1] < POLL_MAX
    assert "task.wait() again" in caught.value.hint


def test_an_error_while_polling_is_raised_as_it_comes(fake):
    poller = FakePoller(t1=[pending(), cmf.PermissionDeniedError("no", status=403)])
    with pytest.raises(cmf.PermissionDeniedError):
        wait(Task.from_id("t1", poller), fake)
    assert poller.polls == ["t1", "t1"]


def test_refresh_keeps_the_model_and_the_start_time():
    poller = FakePoller(t1=[success()])
    task = Task.from_payload({**pending(), "data": {"id": "org-1"}}, poller)
    fresh = task.refresh()
    assert fresh.data == {"id": "org-1"} and fresh.started == task.started
    assert (task.progress, fresh.progress) == (0.0, 1.0)
    assert task.elapsed(clock=lambda: task.started + 2.5) == 2.5


def test_a_task_without_a_poller_cannot_be_polled():
    with pytest.raises(cmf.TaskTimeoutError, match="no client"):
        Task.from_payload(pending()).refresh()


@pytest.mark.parametrize("kwargs, message", [
    ({"timeout": 0}, "timeout"), ({"timeout": "10"}, "timeout"), ({"interval": -1}, "interval"),
    ({"interval": True}, "interval"),
], ids=["zero-timeout", "text-timeout", "negative-interval", "bool-interval"])
def test_bad_timeouts_and_intervals_are_refused_before_polling(fake, kwargs, message):
    poller = FakePoller(t1=[pending()])
    with pytest.raises(cmf.ConfigError, match=message):
        wait(Task.from_id("t1", poller), fake, **kwargs)
    assert poller.polls == []


# -- the loop over many tasks ------------------------------------------------------------------------

def test_rounds_poll_only_pending_tasks_and_report_each_new_state(fake):
    poller = FakePoller(a=[pending("a"), success("a")], b=[pending("b"), pending("b"), failed("b")])
    refused = cmf.ValidationError("no", status=400, code=2012)
    items = [Task.from_id("a", poller), Task.from_id("b", poller), refused, None]
    updates = []
    final = poll_until_done(items, poll=refresh_all, sleep=fake, clock=fake.clock,
                            on_update=lambda i, t: updates.append((i, t.status)))
    assert [t.status for t in final[:2]] == ["SUCCESS", "FAILED"] and final[2:] == [refused, None]
    assert fake.calls == [1.0, 1.5, 2.25]
    assert updates == [(0, "PENDING"), (1, "PENDING"), (0, "SUCCESS"), (1, "PENDING"), (1, "FAILED")]
    assert poller.polls == ["a", "b", "a", "b", "b"]


def rounds(*replies: list):
    """A ``poll`` callable giving each round's replies in turn, payloads read as tasks."""
    answers = iter(replies)
    return lambda tasks: [r if isinstance(r, Exception) else Task.from_payload(r) for r in next(answers)]


def test_a_retryable_poll_error_keeps_the_task_pending_and_unreported(fake):
    busy = cmf.ServerError("busy", status=503)
    updates = []
    final = poll_until_done([Task.from_id("a", FakePoller())], poll=rounds([busy], [busy], [success("a")]),
                            sleep=fake, clock=fake.clock, on_update=lambda i, t: updates.append(t))
    assert final[0].status == "SUCCESS" and len(fake.calls) == 3
    assert [t.status for t in updates] == ["SUCCESS"]


def test_a_final_poll_error_ends_its_task_only(fake):
    denied = cmf.PermissionDeniedError("no", status=403)
    tasks = [Task.from_id("x", FakePoller()), Task.from_id("a", FakePoller())]
    final = poll_until_done(tasks, poll=rounds([denied, pending("a")], [success("a")]),
                            sleep=fake, clock=fake.clock)
    assert final[0] is denied and final[1].status == "SUCCESS" and len(fake.calls) == 2


def test_every_waiter_times_out_with_the_same_error(fake):
    poller = FakePoller(slow=[pending("slow")])
    updates = []
    final = wait_many([Task.from_id("slow", poller)], timeout=5, sleep=fake, clock=fake.clock,
                      on_update=lambda i, t: updates.append(t))
    assert isinstance(final[0], cmf.TaskTimeoutError) and updates[-1] is final[0]
    with pytest.raises(cmf.TaskTimeoutError) as caught:
        wait(Task.from_id("slow", poller), fake, timeout=5)
    assert (str(caught.value), caught.value.hint) == (str(final[0]), final[0].hint)
    assert sum(fake.calls) == pytest.approx(10)


def test_wait_many_polls_through_the_fake_on_its_threads(fake):
    poller = FakePoller(**{f"t{n}": [pending(f"t{n}"), success(f"t{n}", n)] for n in range(5)})
    final = wait_many([Task.from_id(f"t{n}", poller, scope=SCOPE) for n in range(5)],
                      max_workers=3, sleep=fake, clock=fake.clock)
    assert [t.result for t in final] == list(range(5)) and fake.calls == [1.0, 1.5]
    assert poller.invalidated == [SCOPE] * 5

"""Task.wait over real HTTP with the real client (scripted server, fake sleep); the loop itself is
unit-tested with a fake poller in tests/unit/test_tasks.py."""

from __future__ import annotations

import pytest

import cloudmc_frames as cmf
from cloudmc_frames.tasks import Task
from tests.support.fakes import scripted_client
from tests.support.scripted import Reply

from .test_operations import KEY


@pytest.fixture
def client(scripted, fake):
    with scripted_client(scripted.endpoint, KEY, fake) as c:
        yield c


def pending(task_id="t1"):
    return Reply(200, {"taskId": task_id, "taskStatus": "PENDING"})


def test_wait_backs_off_from_one_second_to_a_ten_second_cap(scripted, client, fake):
    scripted.route("/tasks/t1", [pending()] * 8 + [Reply(200, {"taskId": "t1", "taskStatus": "SUCCESS",
                                                              "result": {"password": "s3cr3t"}})])
    seen = []
    result = Task.from_id("t1", client).wait(on_update=lambda t: seen.append(t.status),
                                             sleep=fake, clock=fake.clock)
    assert result == {"password": "s3cr3t"}
    assert fake.calls == pytest.approx([1.0, 1.5, 2.25, 3.375, 5.0625, 7.59375, 10.0, 10.0, 10.0])
    assert seen == ["PENDING"] * 8 + ["SUCCESS"]
    assert scripted.hits["/api/v2/tasks/t1"] == 9  # every poll reached the server: never cached


def test_wait_reads_the_data_shape_and_starts_at_the_given_interval(scripted, client, fake):
    scripted.route("/tasks/t1", [Reply(200, {"data": {"id": "t1", "status": "SUCCESS",
                                                      "created": "2026-11-29T10:00:00.000+0000",
                                                      "result": {"id": "vm-1"}}})])
    assert Task.from_id("t1", client).wait(interval=0.2, sleep=fake, clock=fake.clock) == {"id": "vm-1"}
    assert fake.calls == [0.2]


def test_a_failed_task_raises_with_the_reason_code_and_context(scripted, client, fake):
    failure = {"code": 9440, "message": "Host out of capacity", "context": {"id": "vm-1"}}
    scripted.route("/tasks/t1", [pending(), Reply(200, {"taskId": "t1", "taskStatus": "FAILED",
                                                        "result": failure})])
    with pytest.raises(cmf.TaskFailedError, match="Host out of capacity") as caught:
        Task.from_id("t1", client).wait(sleep=fake, clock=fake.clock)
    assert caught.value.code == 9440 and caught.value.context == failure


def test_a_vanished_task_is_a_clear_time_out_not_a_hang(scripted, client, fake):
    scripted.route("/tasks/t1", [Reply(404, {"errors": [{"code": 9404, "message": "Unknown task"}]})])
    with pytest.raises(cmf.TaskTimeoutError, match="no longer known") as caught:
        Task.from_id("t1", client).wait(sleep=fake, clock=fake.clock)
    assert caught.value.status == 404


def test_a_slow_task_times_out_after_the_timeout(scripted, client, fake):
    scripted.route("/tasks/t1", [pending()])
    with pytest.raises(cmf.TaskTimeoutError, match="still PENDING after 30 s"):
        Task.from_id("t1", client).wait(timeout=30, sleep=fake, clock=fake.clock)
    assert sum(fake.calls) == pytest.approx(30)


def test_progress_and_elapsed_follow_the_task_across_polls(scripted, client, fake):
    scripted.route("/tasks/t1", [pending(), Reply(200, {"taskId": "t1", "taskStatus": "SUCCESS"})])
    task = Task.from_id("t1", client)
    first, second = task.refresh(), task.refresh().refresh()
    assert (task.progress, first.progress, second.progress) == (0.0, 0.0, 1.0)
    assert second.started == task.started and second.elapsed() >= task.elapsed(clock=lambda: task.started)
    assert second.failure() is None


def test_a_task_id_must_be_text(client):
    with pytest.raises(cmf.ConfigError, match="task id"):
        Task.from_id("", client)

"""operate / create / delete / operate_many against the sandbox (real HTTP), and wait_many."""

from __future__ import annotations

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames import batch
from cloudmc_frames.tasks import Task
from cloudmc_frames.widgets.sources import tasks_from_outcomes
from tests.support.fakes import scripted_client as make_scripted_client
from tests.support.sandboxes import POLL, frame_of, posts, state_of
from tests.support.scripted import Reply

KEY = "k3y-" + "Z9y8X7w6" * 5


# -- one write ------------------------------------------------------------------------------------

def test_operate_stops_an_instance_and_the_next_listing_shows_it(writable_sb, picker, client):
    vm = picker.instance("Running")
    assert frame_of(client, [vm["id"]])["state"][0] == "Running"  # listing now cached
    task = cmf.operate(client, vm["code"], vm["env"], "instances", vm["id"], "stop", org_id=vm["org_id"])
    assert isinstance(task, Task) and task.status == "PENDING"
    result = task.wait(timeout=10, interval=POLL)
    assert result["state"] == "Stopped" and state_of(writable_sb, vm) == "Stopped"
    assert frame_of(client, [vm["id"]])["state"][0] == "Stopped"


def test_operate_without_org_id_acts_in_the_keys_own_org_and_invalidates_its_listing(writable_sb, picker,
                                                                                     client):
    vm = picker.instance("Stopped", org_id=writable_sb.store.root_id)
    assert frame_of(client, [vm["id"]])["state"][0] == "Stopped"
    cmf.operate(client, vm["code"], vm["env"], "instances", vm["id"], "start").wait(10, interval=POLL)
    assert state_of(writable_sb, vm) == "Running"
    assert frame_of(client, [vm["id"]])["state"][0] == "Running"


def test_stop_on_a_stopped_instance_is_refused_with_2012(picker, client):
    vm = picker.instance("Stopped")
    with pytest.raises(cmf.ValidationError) as caught:
        cmf.operate(client, vm["code"], vm["env"], "instances", vm["id"], "stop", org_id=vm["org_id"])
    assert caught.value.code == 2012
    assert caught.value.context["currentState"] == "Stopped"


def test_a_failed_task_raises_with_the_servers_reason(writable_sb, picker, client):
    vm = picker.instance("Running")
    writable_sb.fail_operations.add("instances.reboot")
    try:
        task = cmf.operate(client, vm["code"], vm["env"], "instances", vm["id"], "reboot",
                           org_id=vm["org_id"])
        with pytest.raises(cmf.TaskFailedError) as caught:
            task.wait(timeout=10, interval=POLL)
    finally:
        writable_sb.fail_operations.discard("instances.reboot")
    assert caught.value.code == 9440 and "reboot" in str(caught.value).lower()
    assert state_of(writable_sb, vm) == "Running"


def test_create_and_delete_a_volume(writable_sb, picker, client):
    env = writable_sb.store.environments[picker.instance("Running")["env_id"]]
    code = picker.connection(env)["serviceCode"]
    offering = next(iter(writable_sb.store.resources[env["id"]]["diskofferings"].values()))
    org = env["organization"]["id"]
    created = cmf.create(client, code, env["name"], "volumes",
                         {"name": "scratch-1", "diskOfferingId": offering["id"]}, org_id=org)
    volume = created.wait(timeout=10, interval=POLL)
    assert writable_sb.store.resources[env["id"]]["volumes"][volume["id"]]["state"] == "Ready"
    cmf.delete(client, code, env["name"], "volumes", volume["id"], org_id=org).wait(10, interval=POLL)
    assert volume["id"] not in writable_sb.store.resources[env["id"]]["volumes"]


def test_create_with_a_missing_field_is_refused_by_cloudmc(picker, client):
    vm = picker.instance("Running")
    with pytest.raises(cmf.ValidationError) as caught:
        cmf.create(client, vm["code"], vm["env"], "volumes", {"name": "x"}, org_id=vm["org_id"])
    assert caught.value.context["missing"] == ["diskOfferingId"]


@pytest.mark.parametrize("call, message", [
    (lambda c: cmf.operate(c, "compute-qc", "prod", "instances", "i1", "stp"), "Did you mean 'stop'"),
    (lambda c: cmf.operate(c, "compute-qc", "prod", "instances", "i1", "delete"), "cmf.delete"),
    (lambda c: cmf.operate(c, "compute-qc", "prod", "zones", "z1", "start"), "no operations"),
    (lambda c: cmf.operate(c, "compute-qc", "prod", "instancez", "i1", "stop"), "unknown entity type"),
    (lambda c: cmf.operate(c, "compute-qc", "prod", "instances", 7, "stop"), "id must be"),
    (lambda c: cmf.operate(c, "compute-qc", "", "instances", "i1", "stop"), "environment must be"),
    (lambda c: cmf.operate(c, "compute-qc", "prod", "instances", "i1", "stop", body=[1]), "body must"),
    (lambda c: cmf.operate("client", "compute-qc", "prod", "instances", "i1", "stop"), "expected a client"),
    (lambda c: cmf.create(c, "compute-qc", "prod", "volumes", {}), "needs a body"),
    (lambda c: cmf.delete(c, "compute-qc", "prod", "volumes", "v1", org_id=3), "org_id must"),
], ids=["typo", "delete-is-not-an-operation", "entity-without-operations", "unknown-entity",
        "id-not-text", "empty-environment", "body-not-dict", "not-a-client", "empty-create-body",
        "org-id-not-text"])
def test_bad_arguments_raise_config_error_before_sending(writable_sb, client, call, message):
    before = posts(writable_sb)
    with pytest.raises(cmf.ConfigError, match=message):
        call(client)
    assert posts(writable_sb) == before


# -- many rows ------------------------------------------------------------------------------------

def test_operate_many_reports_every_row_without_stopping_at_a_refusal(writable_sb, picker, client):
    running = [picker.instance("Running") for _ in range(3)]
    stopped = picker.instance("Stopped")
    frame = frame_of(client, [stopped["id"]] + [vm["id"] for vm in running])
    outcomes = cmf.operate_many(client, frame, "stop", interval=POLL, timeout=10)
    assert list(outcomes.columns) == list(batch.OUTCOME_COLUMNS)
    assert list(outcomes["status"]) == ["REFUSED", "SUCCESS", "SUCCESS", "SUCCESS"]
    refused = outcomes.iloc[0]
    assert refused["code"] == "2012" and "running" in refused["message"].lower()
    assert pd.isna(refused["task_id"]) and refused["error"] == "ValidationError"
    assert all(state_of(writable_sb, vm) == "Stopped" for vm in running)
    assert outcomes["result"].iloc[1]["state"] == "Stopped"
    assert set(frame_of(client, [vm["id"] for vm in running])["state"]) == {"Stopped"}


def test_operate_many_reports_failed_tasks_with_code_and_message(writable_sb, picker, client):
    vms = [picker.instance("Stopped") for _ in range(2)]
    writable_sb.fail_operations.add("instances.start")
    try:
        outcomes = cmf.operate_many(client, frame_of(client, [v["id"] for v in vms]), "start",
                                    interval=POLL, timeout=10)
    finally:
        writable_sb.fail_operations.discard("instances.start")
    assert set(outcomes["status"]) == {"FAILED"}
    assert set(outcomes["code"]) == {"9440"} and outcomes["message"].str.contains("start").all()
    assert all(state_of(writable_sb, vm) == "Stopped" for vm in vms)


def test_operate_many_without_waiting_gives_pending_tasks_to_poll_later(writable_sb, picker, client):
    vms = [picker.instance("Running") for _ in range(2)]
    outcomes = cmf.operate_many(client, frame_of(client, [v["id"] for v in vms]), "stop", wait=False)
    assert set(outcomes["status"]) == {"PENDING"} and outcomes["task_id"].notna().all()
    tasks = tasks_from_outcomes(client, outcomes)
    final = batch.wait_many(tasks, interval=POLL, timeout=10)
    assert [t.status for t in final] == ["SUCCESS", "SUCCESS"]
    assert set(frame_of(client, [v["id"] for v in vms])["state"]) == {"Stopped"}


def test_operate_many_deletes_volumes_of_a_volumes_frame(writable_sb, picker, client):
    vol = picker.volume(attached=False)
    outcomes = cmf.operate_many(client, frame_of(client, [vol["id"]], "volumes"), "delete",
                                interval=POLL, timeout=10)
    assert outcomes["status"].tolist() == ["SUCCESS"]
    assert vol["id"] not in writable_sb.store.resources[vol["env_id"]]["volumes"]


def test_operate_many_acts_on_gcp_instances(writable_sb, picker, client):
    vm = picker.instance("RUNNING", connection="gcp")
    outcomes = cmf.operate_many(client, frame_of(client, [vm["id"]]), "stop", interval=POLL, timeout=10)
    assert outcomes["status"].tolist() == ["SUCCESS"]
    assert state_of(writable_sb, vm, key="status") == "TERMINATED"


def test_operate_many_on_an_empty_frame_returns_the_outcome_columns(client):
    frame = cmf.instances(client).head(0)
    outcomes = cmf.operate_many(client, frame, "stop")
    assert outcomes.empty and list(outcomes.columns) == list(batch.OUTCOME_COLUMNS)


@pytest.mark.parametrize("change, kwargs, message", [
    (lambda f: f.drop(columns=["service_code"]), {}, "lacks column"),
    (lambda f: f[f.connection_type == "gcp"], {"operation": "reboot"}, "unknown operation 'reboot'"),
    (lambda f: f.head(1), {"operation": "changeComputeOffering"}, "needs body field"),
    (lambda f: f.head(1), {"max_workers": 0}, "max_workers"),
    (lambda f: f.head(1), {"timeout": -1}, "timeout"),
    (lambda f: f[["organization_id", "service_code", "connection_type", "environment_name", "id"]],
     {}, "entity_type="),
    (lambda f: f.to_dict("records"), {}, "expected a DataFrame"),
], ids=["missing-column", "gcp-has-no-reboot", "body-field-missing", "bad-workers", "bad-timeout",
        "unknown-entity", "not-a-frame"])
def test_operate_many_checks_its_arguments_before_sending(writable_sb, client, change, kwargs, message):
    frame = change(cmf.instances(client))
    before = posts(writable_sb)
    options = {"operation": "stop", **kwargs}
    with pytest.raises(cmf.ConfigError, match=message):
        cmf.operate_many(client, frame, options.pop("operation"), **options)
    assert posts(writable_sb) == before


# -- wait_many with a scripted server (fake sleep) -------------------------------------------------

@pytest.fixture
def scripted_client(scripted, fake, tmp_path):
    with make_scripted_client(scripted.endpoint, KEY, fake) as c:
        yield c


def pending(task_id):
    return Reply(200, {"taskId": task_id, "taskStatus": "PENDING"})


def test_wait_many_polls_in_rounds_with_backoff_and_reports_each_update(scripted, scripted_client, fake):
    scripted.route("/tasks/a", [pending("a"), Reply(200, {"taskId": "a", "taskStatus": "SUCCESS",
                                                          "result": {"id": "i1"}})])
    scripted.route("/tasks/b", [pending("b"), pending("b"), Reply(200, {"data": {
        "id": "b", "status": "FAILED", "result": {"code": 9440, "message": "no capacity"}}})])
    updates = []
    final = batch.wait_many([Task.from_id("a", scripted_client), Task.from_id("b", scripted_client)],
                                 on_update=lambda i, t: updates.append((i, t.status)),
                                 sleep=fake, clock=fake.clock)
    assert [t.status for t in final] == ["SUCCESS", "FAILED"]
    assert final[1].failure().code == 9440 and "no capacity" in str(final[1].failure())
    assert fake.calls == [1.0, 1.5, 2.25]
    assert updates == [(0, "PENDING"), (1, "PENDING"), (0, "SUCCESS"), (1, "PENDING"), (1, "FAILED")]


def test_wait_many_keeps_polling_through_a_retryable_error(scripted, scripted_client, fake):
    scripted.route("/tasks/a", [Reply(503, {"errors": [{"code": 9503, "message": "busy"}]})] * 4
                   + [Reply(200, {"taskId": "a", "taskStatus": "SUCCESS"})])
    final = batch.wait_many([Task.from_id("a", scripted_client)], sleep=fake, clock=fake.clock)
    assert final[0].status == "SUCCESS"


def test_wait_many_times_out_and_reports_a_vanished_task(scripted, scripted_client, fake):
    scripted.route("/tasks/slow", [pending("slow")])
    scripted.route("/tasks/gone", [Reply(404, {"errors": [{"code": 9404, "message": "Unknown task"}]})])
    refused = cmf.ValidationError("no", status=400, code=2012)
    final = batch.wait_many([Task.from_id("slow", scripted_client),
                                  Task.from_id("gone", scripted_client), refused, None],
                                 timeout=5, sleep=fake, clock=fake.clock)
    assert isinstance(final[0], cmf.TaskTimeoutError) and "after 5 s" in str(final[0])
    assert isinstance(final[1], cmf.TaskTimeoutError) and "no longer known" in str(final[1])
    assert final[2] is refused and final[3] is None
    assert sum(fake.calls) == pytest.approx(5)

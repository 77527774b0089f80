"""Operations: state machines, 2012 and friends, quotas, tasks (SUCCESS, FAILED, TTL), envelopes."""
import time

import pytest

from cloudmc_frames.sandbox import errors, quotas
from cloudmc_frames.sandbox.tasks import TaskRunner

from . import parity
from .conftest import Api, error_of, first_key, make_server, wait_task

BASE = "/services/compute-qc/prod"
DELAY = 0.15


@pytest.fixture(scope="module")
def ops():
    """A writable sandbox with more instances (scale 3) and a visible task delay."""
    srv = make_server(scale=3, task_delay=DELAY)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def oapi(ops):
    """HTTP helper for the operations sandbox."""
    return Api(ops)


def prod(ops):
    """The root's prod environment resources."""
    return ops.store.resources[ops.store.env_by_name(ops.store.root_id, "prod")["id"]]


def take(ops, state, taken=set()):  # noqa: B006 - module-wide registry of used instances
    """An instance of the root prod env in ``state`` not used by another test.

    When none is left in that state, an unused instance is put into it directly in the store
    (test set-up through the oracle, not through the API).
    """
    items = prod(ops)["instances"]
    spare = [i for i in items.values() if i["id"] not in taken and i["state"] not in ("Destroyed",
                                                                                      "Expunging")]
    inst = next((i for i in items.values() if i["state"] == state and i["id"] not in taken), None)
    if inst is None:
        assert spare, "the operations scenario ran out of instances"
        inst = ops.store.replace(items, spare[0]["id"], state=state)
    taken.add(inst["id"])
    return inst


def state_of(oapi, inst_id, base=BASE, **params):
    """The instance state as served."""
    return oapi.data(f"{base}/instances/{inst_id}", params=params)["state"]


def finish(oapi, body):
    """Wait for the task of a write answer; returns the final task body."""
    assert body["taskStatus"] == "PENDING", body
    return wait_task(oapi, body["taskId"])


def operate(oapi, inst_id, op, json=None, base=BASE, **params):
    """POST an operation; returns the Response."""
    return oapi.post(f"{base}/instances/{inst_id}", params={"operation": op, **params}, json=json)


@pytest.mark.parametrize("op,start,transitional,final", [
    ("stop", "Running", "Stopping", "Stopped"),
    ("start", "Stopped", "Starting", "Running"),
    ("reboot", "Running", "Starting", "Running"),
    ("stop", "Stopping", "Stopping", "Stopped"),
])
def test_transitions(ops, oapi, op, start, transitional, final):
    inst = take(ops, start)
    response = operate(oapi, inst["id"], op, json={"forceStop": True} if op == "stop" else None)
    assert response.status_code == 200 and set(response.json()) == {"taskId", "taskStatus"}
    assert state_of(oapi, inst["id"]) == transitional
    task = finish(oapi, response.json())
    assert task["taskStatus"] == "SUCCESS" and task["result"]["state"] == final
    assert state_of(oapi, inst["id"]) == final == prod(ops)["instances"][inst["id"]]["state"]


def test_stop_when_stopped_is_2012_exactly(ops, oapi):
    inst = take(ops, "Stopped")
    response = operate(oapi, inst["id"], "stop")
    assert response.status_code == 400
    assert response.json() == {"errors": [{
        "code": 2012, "message": "Cannot stop an instance that isn't in the running state",
        "context": {"id": inst["id"], "currentState": "Stopped", "expectedStates": ["Running"],
                    "type": "instances"}}]}
    parity.check([response.json()], ["error.envelope"])


@pytest.mark.parametrize("op,state,code", [("start", "Running", 9421), ("reboot", "Error", 9422),
                                           ("purge", "Running", 9424), ("recover", "Stopped", 9425),
                                           ("changeComputeOffering", "Destroyed", 9426)])
def test_other_wrong_states_use_the_same_context(ops, oapi, op, state, code):
    inst = take(ops, state)
    error = error_of(operate(oapi, inst["id"], op, json={}))
    assert error["code"] == code
    assert error["context"]["id"] == inst["id"] and error["context"]["currentState"] == state
    assert error["context"]["type"] == "instances" and isinstance(error["context"]["expectedStates"], list)


def test_delete_recover_purge(ops, oapi):
    inst = take(ops, "Running")
    response = oapi.delete(f"{BASE}/instances/{inst['id']}")
    assert state_of(oapi, inst["id"]) == "Stopping"
    assert finish(oapi, response.json())["taskStatus"] == "SUCCESS"
    assert state_of(oapi, inst["id"]) == "Destroyed"
    again = oapi.delete(f"{BASE}/instances/{inst['id']}")
    assert again.status_code == 400 and error_of(again)["code"] == 9423
    finish(oapi, operate(oapi, inst["id"], "recover").json())
    assert state_of(oapi, inst["id"]) == "Stopped"
    finish(oapi, oapi.delete(f"{BASE}/instances/{inst['id']}").json())
    purge = operate(oapi, inst["id"], "purge")
    assert state_of(oapi, inst["id"]) == "Expunging"
    assert finish(oapi, purge.json())["result"] == {"id": inst["id"]}
    assert oapi.get(f"{BASE}/instances/{inst['id']}").status_code == 404
    assert not [v for v in prod(ops)["volumes"].values() if v.get("instanceId") == inst["id"]]


def test_delete_with_purge_body_releases_ips_and_volumes(ops, oapi):
    inst = take(ops, "Stopped")
    res = prod(ops)
    vol = next(v for v in res["volumes"].values() if v.get("instanceId") == inst["id"])
    ip = next(iter(res["publicipaddresses"]))
    body = {"purgeImmediately": True, "deleteSnapshots": True, "volumeIdsToDelete": [vol["id"]],
            "publicIpIdsToRelease": [ip]}
    finish(oapi, oapi.delete(f"{BASE}/instances/{inst['id']}", json=body).json())
    assert inst["id"] not in res["instances"] and vol["id"] not in res["volumes"]
    assert ip not in res["publicipaddresses"]
    assert not any(s["volumeId"] == vol["id"] for s in res["snapshots"].values())


def offerings(ops):
    """(fixed offerings sorted by cpu, the custom offering)."""
    values = list(prod(ops)["computeofferings"].values())
    fixed = sorted((o for o in values if not o["custom"] and "type" not in o), key=lambda o: o["cpuCount"])
    return fixed, next(o for o in values if o["custom"])


def test_change_compute_offering(ops, oapi):
    inst = take(ops, "Running")
    fixed, custom = offerings(ops)
    missing = operate(oapi, inst["id"], "changeComputeOffering", json={"computeOfferingId": custom["id"]})
    assert missing.status_code == 400 and error_of(missing)["context"]["missing"] == ["cpuCount",
                                                                                      "memoryInMB"]
    target = fixed[0]
    response = operate(oapi, inst["id"], "changeComputeOffering", json={"computeOfferingId": target["id"]})
    assert state_of(oapi, inst["id"]) == "Stopping"
    result = finish(oapi, response.json())["result"]
    assert (result["cpuCount"], result["memoryInMB"], result["state"]) == (target["cpuCount"],
                                                                           target["memoryInMB"], "Running")


def create_body(ops, **extra):
    """A valid instance create body for the root prod env."""
    res = prod(ops)
    fixed, _ = offerings(ops)
    return {"name": "made-by-test", "computeOfferingId": fixed[0]["id"],
            "networkId": next(iter(res["networks"])),
            "templateId": next(iter(res["templates"])), **extra}


def test_create_instance(ops, oapi):
    response = oapi.post(f"{BASE}/instances", json=create_body(ops))
    new = [i for i in prod(ops)["instances"].values() if i["name"] == "made-by-test"]
    assert len(new) == 1 and new[0]["state"] == "Starting"
    task = finish(oapi, response.json())
    assert task["result"]["id"] == new[0]["id"] and task["result"]["state"] == "Running"
    vols = [v for v in prod(ops)["volumes"].values() if v.get("instanceId") == new[0]["id"]]
    assert [v["type"] for v in vols] == ["os"]
    parity.check([oapi.data(f"{BASE}/instances/{new[0]['id']}")], ["cloudstack.instances.list"],
                 ["cloudstack.instances.retrieve"])


@pytest.mark.parametrize("change,code,field", [
    ({"name": None}, errors.MISSING_FIELD, None),
    ({"networkId": "nope"}, errors.INVALID_FIELD, "networkId"),
    ({"templateId": "nope"}, errors.INVALID_FIELD, "templateId"),
])
def test_create_instance_validation(ops, oapi, change, code, field):
    body = {k: v for k, v in {**create_body(ops), **change}.items() if v is not None}
    error = error_of(oapi.post(f"{BASE}/instances", json=body))
    assert error["code"] == code
    assert error["context"].get("field") == field or error["context"].get("missing") == ["name"]


def test_custom_offering_needs_cpu_and_memory(ops, oapi):
    _, custom = offerings(ops)
    error = error_of(oapi.post(f"{BASE}/instances", json=create_body(ops, computeOfferingId=custom["id"])))
    assert error["code"] == errors.MISSING_FIELD
    ok = oapi.post(f"{BASE}/instances", json=create_body(ops, computeOfferingId=custom["id"], cpuCount=2,
                                                          memoryInMB=2048, name="custom-one"))
    assert finish(oapi, ok.json())["result"]["cpuCount"] == 2


def over_quota_env(ops):
    """(env, connection, quota detail) of an org already over its vCPU ceiling."""
    store = ops.store
    for (org_id, conn_id), quota_id in store.quota_assignments.items():
        ceiling = {d["type"]: d for d in store.quotas[quota_id]["quotaDetails"]}["INSTANCE_VCPUS"]
        conn = store.connections[conn_id]
        if conn["type"] == "cloudstack" and quotas.usage(store, org_id,
                                                         conn_id)["INSTANCE_VCPUS"] > ceiling["ceiling"]:
            env = next(e for e in store.environments.values()
                       if e["organization"]["id"] == org_id and e["serviceConnection"]["id"] == conn_id)
            return env, conn, ceiling
    pytest.skip("no over-quota org")


def test_quota_ceiling_enforced_on_create(ops, oapi):
    env, conn, ceiling = over_quota_env(ops)
    res = ops.store.resources[env["id"]]
    fixed = sorted((o for o in res["computeofferings"].values() if not o["custom"] and "type" not in o),
                   key=lambda o: o["cpuCount"])
    body = {"name": "too-much", "computeOfferingId": fixed[0]["id"], "networkId": next(iter(res["networks"])),
            "templateId": next(iter(res["templates"]))}
    response = oapi.post(f"/services/{conn['serviceCode']}/{env['name']}/instances", json=body,
                         params={"org_id": env["organization"]["id"]})
    error = error_of(response)
    assert response.status_code == 400 and error["code"] == errors.QUOTA_EXCEEDED
    assert error["context"]["metric"] == "INSTANCE_VCPUS"
    assert error["context"]["ceiling"] == ceiling["ceiling"]
    assert error["context"]["requestedTotal"] > ceiling["ceiling"]


def test_quota_ceiling_enforced_on_change_offering(ops, oapi):
    env, conn, _ = over_quota_env(ops)
    res = ops.store.resources[env["id"]]
    inst = next(i for i in res["instances"].values() if i["state"] in ("Running", "Stopped"))
    bigger = max((o for o in res["computeofferings"].values() if not o["custom"] and "type" not in o),
                 key=lambda o: o["cpuCount"])
    if bigger["cpuCount"] <= inst["cpuCount"]:
        pytest.skip("instance already on the biggest offering")
    response = operate(oapi, inst["id"], "changeComputeOffering", json={"computeOfferingId": bigger["id"]},
                       base=f"/services/{conn['serviceCode']}/{env['name']}",
                       org_id=env["organization"]["id"])
    assert response.status_code == 400 and error_of(response)["code"] == errors.QUOTA_EXCEEDED


def test_volume_lifecycle(ops, oapi):
    res = prod(ops)
    inst = take(ops, "Stopped")
    offering = next(o for o in res["diskofferings"].values() if not o["customSize"])
    created = oapi.post(f"{BASE}/volumes", json={"name": "extra", "diskOfferingId": offering["id"],
                                                 "instanceId": inst["id"]}).json()
    vol_id = next(v["id"] for v in res["volumes"].values() if v["name"] == "extra")
    assert res["volumes"][vol_id]["state"] == "Creating"
    assert finish(oapi, created)["result"]["state"] == "Ready"
    attached = oapi.delete(f"{BASE}/volumes/{vol_id}")
    assert attached.status_code == 400 and error_of(attached)["context"] == {
        "id": vol_id, "currentState": "Attached", "expectedStates": ["Detached"], "type": "volumes",
        "volumeType": "data"}
    finish(oapi, oapi.post(f"{BASE}/volumes/{vol_id}", params={"operation": "detachFromInstance"}).json())
    assert "instanceId" not in res["volumes"][vol_id]
    finish(oapi, oapi.post(f"{BASE}/volumes/{vol_id}", params={"operation": "attachToInstance"},
                           json={"instanceId": inst["id"]}).json())
    assert list(res["volumes"][vol_id])[:6] == ["id", "name", "type", "creationDate", "instanceId",
                                                "instanceName"]
    snap = oapi.post(f"{BASE}/volumes/{vol_id}", params={"operation": "createSnapshotFromVolume"},
                     json={"snapshot": {"name": "pre"}}).json()
    assert finish(oapi, snap)["taskStatus"] == "SUCCESS"
    assert any(s["volumeId"] == vol_id and "_pre_" in s["name"] for s in res["snapshots"].values())
    finish(oapi, oapi.post(f"{BASE}/volumes/{vol_id}", params={"operation": "detachFromInstance"}).json())
    finish(oapi, oapi.delete(f"{BASE}/volumes/{vol_id}").json())
    assert vol_id not in res["volumes"]


def test_os_volume_cannot_be_detached_or_deleted(ops, oapi):
    vol = next(v for v in prod(ops)["volumes"].values() if v["type"] == "os")
    assert error_of(oapi.delete(f"{BASE}/volumes/{vol['id']}"))["code"] == errors.VOLUME_DELETE
    detach = oapi.post(f"{BASE}/volumes/{vol['id']}", params={"operation": "detachFromInstance"})
    assert error_of(detach)["code"] == errors.VOLUME_DETACH


def test_gcp_start_stop(ops, oapi):
    dev = ops.store.resources[ops.store.env_by_name(ops.store.root_id, "dev")["id"]]
    base = "/services/gcp-lab/dev"
    running = next(i for i in dev["instances"].values() if i["status"] == "RUNNING")
    response = oapi.post(f"{base}/instances/{running['id']}", params={"operation": "stop"})
    assert dev["instances"][running["id"]]["status"] == "STOPPING"
    finish(oapi, response.json())
    assert dev["instances"][running["id"]]["status"] == "TERMINATED"
    assert error_of(oapi.post(f"{base}/instances/{running['id']}",
                              params={"operation": "stop"}))["code"] == 2012
    finish(oapi, oapi.post(f"{base}/instances/{running['id']}", params={"operation": "start"}).json())
    assert dev["instances"][running["id"]]["status"] == "RUNNING"


def test_unknown_or_missing_operation(ops, oapi):
    inst = next(iter(prod(ops)["instances"]))
    assert error_of(operate(oapi, inst, "explode"))["code"] == errors.UNKNOWN_OPERATION
    assert oapi.post(f"{BASE}/instances/{inst}").status_code == 400


def test_forced_failure_reverts_state(ops, oapi):
    inst = take(ops, "Running")
    ops.fail_operations.add("instances.reboot")
    try:
        task = finish(oapi, operate(oapi, inst["id"], "reboot").json())
    finally:
        ops.fail_operations.discard("instances.reboot")
    assert task["taskStatus"] == "FAILED" and task["data"]["status"] == "FAILED"
    assert task["result"]["code"] == errors.TASK_FAILED and task["result"]["context"]["id"] == inst["id"]
    assert state_of(oapi, inst["id"]) == "Running"


def test_forced_failure_of_create_leaves_error(ops, oapi):
    ops.fail_operations.add("create")
    try:
        task = finish(oapi, oapi.post(f"{BASE}/instances", json=create_body(ops, name="doomed")).json())
    finally:
        ops.fail_operations.discard("create")
    assert task["taskStatus"] == "FAILED"
    assert next(i for i in prod(ops)["instances"].values() if i["name"] == "doomed")["state"] == "Error"


def test_task_envelopes_match_vendor_shapes(ops, oapi):
    inst = take(ops, "Stopped")
    accepted = operate(oapi, inst["id"], "start").json()
    parity.check([accepted], ["async.response"])
    pending = oapi.get(f"/tasks/{accepted['taskId']}").json()
    assert pending["taskStatus"] == "PENDING" and "result" not in pending
    done = finish(oapi, accepted)
    parity.check([pending, done], ["task.getting_started", "task.provider"])


def test_user_role_can_operate_in_member_env(ops, oapi):
    user = first_key(ops.store, "User", ops.store.root_id)
    inst = take(ops, "Running")
    response = operate(oapi, inst["id"], "reboot")
    assert finish(oapi, response.json())["taskStatus"] == "SUCCESS"
    again = oapi.post(f"{BASE}/instances/{inst['id']}", key=user.key, params={"operation": "reboot"})
    assert again.status_code == 200


def test_update_instance_name(ops, oapi):
    inst = take(ops, "Stopped")
    response = oapi.put(f"{BASE}/instances/{inst['id']}", json={"name": "renamed", "hostname": "renamed"})
    assert finish(oapi, response.json())["result"]["name"] == "renamed"


def test_task_expires_after_ttl():
    with make_server(task_delay=0.01, task_ttl=0.3) as srv:
        api = Api(srv)
        inst = next(i for i in prod(srv)["instances"].values() if i["state"] == "Running")
        task_id = operate(api, inst["id"], "stop").json()["taskId"]
        assert api.get(f"/tasks/{task_id}").status_code == 200
        time.sleep(0.45)
        response = api.get(f"/tasks/{task_id}")
        assert response.status_code == 404 and error_of(response)["context"]["type"] == "tasks"


def test_task_runner_unit(store):
    runner = TaskRunner(store, delay=0, ttl=60, fail_operations={"boom"})
    ok = runner.submit("things.go", lambda: {"fine": True})
    bad = runner.submit("things.boom", lambda: {"never": True}, context={"id": "x"})
    runner.run_due()
    assert (ok.status, ok.result) == ("SUCCESS", {"fine": True})
    assert bad.status == "FAILED" and bad.result["context"]["id"] == "x"
    assert runner.lookup(ok.id) is ok and runner.lookup("missing") is None
    with store.lock:
        del store.tasks[ok.id], store.tasks[bad.id]

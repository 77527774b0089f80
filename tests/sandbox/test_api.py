"""Administration endpoints: org scoping, detail views, quotas, activity, usage, errors, admin writes."""
import json
import time

import pytest

from cloudmc_frames.sandbox import errors

from .conftest import Api, error_of, first_key, make_server


def wait_task(api, task_id, timeout=3.0):
    """Poll ``/tasks/:id`` until it is not PENDING; returns the body."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        body = api.get(f"/tasks/{task_id}").json()
        if body["taskStatus"] != "PENDING":
            return body
        time.sleep(0.02)
    raise AssertionError("task still PENDING")


@pytest.fixture(scope="module")
def writable():
    """A sandbox this module may mutate."""
    srv = make_server()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def wapi(writable):
    """HTTP helper for the writable sandbox."""
    return Api(writable)


# ------------------------------------------------------------------ reading
def test_org_scoped_lists_return_exactly_that_orgs_records(api, store):
    for org_id, org in store.orgs.items():
        users = api.data("/users", params={"org_id": org_id})
        assert {u["id"] for u in users} == {u["id"] for u in org["users"] if not u["deleted"]}
        envs = api.data("/environments", params={"org_id": org_id})
        assert {e["id"] for e in envs} == {e["id"] for e in org["environments"]}


def test_default_scope_is_the_callers_org(api, store):
    assert {u["organization"]["id"] for u in api.data("/users")} == {store.root_id}
    assert {e["organization"]["id"] for e in api.data("/environments")} == {store.root_id}


def test_deleted_org_is_reachable_with_org_id(api, store):
    deleted = next(o for o in store.orgs.values() if o["deleted"] and o["environments"])
    assert api.data("/environments", params={"org_id": deleted["id"]})
    assert api.data(f"/organizations/{deleted['id']}")["deleted"] is True


def test_organization_detail_lists_assigned_quotas(api, store):
    detail = api.data(f"/organizations/{store.root_id}")
    assert {q["serviceConnection"]["id"] for q in detail["quotas"]} == {c["id"] for c in detail["serviceConnections"]}
    assert detail["ldap"]["deleted"] is False and detail["notes"] == ""


def test_environment_detail_adds_service_code(api, store):
    env = next(iter(store.environments.values()))
    detail = api.data(f"/environments/{env['id']}")
    conn = store.env_connection(env)
    assert detail["serviceConnection"] == {"id": conn["id"], "name": conn["name"],
                                           "serviceCode": conn["serviceCode"], "type": conn["type"]}
    assert set(api.data("/environments")[0]["serviceConnection"]) == {"id", "name"}


def test_connections_owned_list_and_single_object(api, store):
    owned = api.data("/services/connections")
    assert {c["serviceCode"] for c in owned} == {"compute-qc", "compute-on", "gcp-lab"}
    leaf = next(o for o in store.orgs.values() if o["id"] != store.root_id)
    assert api.data("/services/connections", params={"organizationId": leaf["id"]}) == []
    assert isinstance(api.data(f"/services/connections/{owned[0]['id']}"), dict)


def test_quotas_assigned_owned_and_both(api, store):
    org = next(o for o in store.orgs.values() if o["serviceConnections"] and o["id"] != store.root_id)
    assigned = api.data("/quotas", params={"organization_id": org["id"], "type": "assigned"})
    assert {q["serviceConnection"]["id"] for q in assigned} == {
        c for (o, c) in store.quota_assignments if o == org["id"]}
    owned = api.data("/quotas", params={"type": "owned"})
    assert owned and all(q["ownerOrganization"]["id"] == store.root_id for q in owned)
    both = api.data("/quotas")
    assert {q["id"] for q in both} >= {q["id"] for q in owned}
    assert api.get("/quotas", params={"type": "mine"}).status_code == 400


def test_activity_log_filters(api, store):
    own = api.data("/activity_log")
    assert own and {a["organizationId"] for a in own} == {store.root_id}
    everything = api.data("/activity_log", params={"includeSubOrgs": "true"})
    assert len(everything) == len(store.activity)
    middle = sorted(a["created"] for a in everything)[len(everything) // 2]
    later = api.data("/activity_log", params={"includeSubOrgs": "true", "start": middle})
    assert later and all(a["created"] >= middle for a in later)
    created = api.data("/activity_log", params={"includeSubOrgs": "true", "eventCode": "users.created"})
    assert {a["eventCode"] for a in created} == {"users.created"}
    assert isinstance(json.loads(created[0]["eventContext"]), dict)
    assert api.get("/activity_log", params={"start": "yesterday"}).status_code == 400


def test_usage_summary(api, store):
    path = f"/usage_summary/organizations/{store.root_id}"
    day = api.data(path, params={"start_date": "2024-03-01", "end_date": "2024-03-02", "period": "DAY"})
    hours = api.data(path, params={"start_date": "2024-03-01", "end_date": "2024-03-02"})
    assert len(hours) == 24 * len(day) and day
    assert api.get(path, params={"start_date": "2024-03-01"}).status_code == 400


def test_roles_include_org_and_env_roles(api):
    names = {r["name"] for r in api.data("/roles")}
    assert {"Administrator", "User", "Guest", "Owner", "editor", "viewer"} <= names


@pytest.mark.parametrize("path", ["/organizations/nope", "/users/nope", "/environments/nope",
                                  "/environments/nope/members", "/quotas/nope", "/tasks/nope",
                                  "/services/connections/nope", "/nothing/here", "/organizations/a/b/c"])
def test_unknown_ids_and_paths_are_404(api, path):
    response = api.get(path)
    assert response.status_code == 404 and error_of(response)["code"] == errors.NOT_FOUND


def test_outside_api_prefix_is_404(server):
    import requests
    assert requests.get(server.endpoint + "/v1/users", timeout=5).status_code == 404


@pytest.mark.parametrize("method,path", [("DELETE", "/organizations"), ("PATCH", "/users"),
                                         ("POST", "/roles"), ("PUT", "/activity_log"),
                                         ("POST", "/services/compute-qc/prod/zones")])
def test_wrong_verb_is_405(api, method, path):
    response = api.call(method, path)
    assert response.status_code == 405 and error_of(response)["code"] == errors.METHOD_NOT_ALLOWED
    assert "Allow" in response.headers


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_json_body_is_400(api, body):
    response = api.post("/users", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and error_of(response)["code"] == errors.MALFORMED_BODY


# ------------------------------------------------------------------ writing
def test_create_organization_then_task_success(wapi, writable):
    store = writable.store
    parent = store.children[store.root_id][0]
    response = wapi.post("/organizations", json={"name": "Élan Vital", "entryPoint": "elan-vital",
                                                 "parent": {"id": parent},
                                                 "serviceConnections": [{"id": c["id"]} for c in
                                                                        store.orgs[parent]["serviceConnections"]]})
    body = response.json()
    assert response.status_code == 200 and body["taskStatus"] == "PENDING" and body["data"]["name"] == "Élan Vital"
    new_id = body["data"]["id"]
    task = wait_task(wapi, body["taskId"])
    assert task["taskStatus"] == "SUCCESS" and task["result"]["id"] == new_id
    assert task["data"]["result"] == task["result"]
    assert new_id in store.orgs and new_id in store.children[parent]
    assert any(a["eventCode"] == "organizations.created" and a["organizationId"] == new_id for a in store.activity)
    assert api_ids(wapi, "/organizations") >= {new_id}
    assert wapi.data(f"/organizations/{new_id}")["quotas"] or not store.orgs[parent]["serviceConnections"]


def api_ids(api, path, **params):
    """Ids listed at ``path``."""
    return {r["id"] for r in api.data(path, params=params)}


@pytest.mark.parametrize("body,code", [({"entryPoint": "x-1"}, errors.MISSING_FIELD),
                                       ({"name": "!bad", "entryPoint": "ok-1"}, errors.INVALID_FIELD),
                                       ({"name": "Fine", "entryPoint": "Bad Entry"}, errors.INVALID_FIELD),
                                       ({"name": "Fine", "entryPoint": "nimbus-cloud"}, errors.DUPLICATE)])
def test_create_organization_validation(wapi, body, code):
    response = wapi.post("/organizations", json=body)
    assert response.status_code == 400 and error_of(response)["code"] == code


def test_update_and_delete_organization(wapi, writable):
    store = writable.store
    leaf = next(o for o in store.orgs.values() if not store.children[o["id"]] and not o["deleted"]
                and o["id"] != store.root_id)
    response = wapi.put(f"/organizations/{leaf['id']}", json={"name": "Renamed Leaf", "billingMode": "CREDIT_CARD"})
    assert response.json()["data"]["name"] == "Renamed Leaf"
    assert wait_task(wapi, response.json()["taskId"])["taskStatus"] == "SUCCESS"
    assert store.orgs[leaf["id"]]["name"] == "Renamed Leaf"
    assert all(u["organization"]["name"] == "Renamed Leaf" for u in store.users.values()
               if u["organization"]["id"] == leaf["id"])
    deleted = wapi.delete(f"/organizations/{leaf['id']}").json()
    assert wait_task(wapi, deleted["taskId"])["taskStatus"] == "SUCCESS"
    assert store.orgs[leaf["id"]]["deleted"] and leaf["id"] not in api_ids(wapi, "/organizations")
    assert leaf["id"] in api_ids(wapi, "/organizations", include_deleted="true")


def test_delete_org_preconditions(wapi, writable):
    store = writable.store
    own = wapi.delete(f"/organizations/{store.root_id}")
    assert own.status_code == 400 and error_of(own)["code"] == errors.PRECONDITION_FAILED
    parent = next(o for o in store.orgs if store.children[o] and o != store.root_id)
    response = wapi.delete(f"/organizations/{parent}")
    assert response.status_code == 400 and error_of(response)["code"] == errors.PRECONDITION_FAILED


def test_user_lifecycle(wapi, writable):
    store = writable.store
    role = next(r for r in store.roles.values() if r["name"] == "User")
    org = store.children[store.root_id][0]
    body = {"userName": "newbie", "email": "newbie@example.com", "firstName": "New", "lastName": "Bie",
            "primaryRoleBinding": {"role": {"id": role["id"]}}, "organization": {"id": org}}
    created = wapi.post("/users", json=body).json()
    assert wait_task(wapi, created["taskId"])["taskStatus"] == "SUCCESS"
    user_id = created["data"]["id"]
    info = next(k for k in writable.keys if k.user_id == user_id)
    assert info.role == "User" and wapi.data("/users", key=info.key)[0]["id"] == user_id
    duplicate = wapi.post("/users", json=body)
    assert duplicate.status_code == 400 and error_of(duplicate)["code"] == errors.DUPLICATE
    updated = wapi.put(f"/users/{user_id}", json={"firstName": "Renée"}).json()
    assert wait_task(wapi, updated["taskId"])["taskStatus"] == "SUCCESS"
    assert store.users[user_id]["firstName"] == "Renée"
    deleted = wapi.delete(f"/users/{user_id}").json()
    assert store.users[user_id]["status"] == "DISABLED"
    assert wait_task(wapi, deleted["taskId"])["taskStatus"] == "SUCCESS"
    assert user_id not in api_ids(wapi, "/users", org_id=org)
    assert wapi.get("/users", key=info.key).status_code == 401
    assert [a["eventCode"] for a in store.activity if "newbie" in a["eventContext"]][-3:] == [
        "users.created", "users.updated", "users.deleted"]


def test_create_user_validation(wapi, writable):
    missing = wapi.post("/users", json={"userName": "x"})
    assert missing.status_code == 400 and set(error_of(missing)["context"]["missing"]) >= {"email", "firstName"}
    env_role = next(r for r in writable.store.roles.values() if r["name"] == "viewer")
    wrong_role = wapi.post("/users", json={"userName": "y", "email": "y@x.io", "firstName": "Y", "lastName": "Y",
                                           "primaryRoleBinding": {"role": {"id": env_role["id"]}}})
    assert wrong_role.status_code == 400 and error_of(wrong_role)["code"] == errors.INVALID_FIELD


def test_cannot_delete_yourself(wapi, writable):
    response = wapi.delete(f"/users/{writable.keys[0].user_id}")
    assert response.status_code == 400 and error_of(response)["code"] == errors.PRECONDITION_FAILED


def test_sub_admin_cannot_write_outside_subtree(wapi, writable):
    store = writable.store
    admin = first_key(store, "Administrator", admin_of_sub_org=True)
    response = wapi.put(f"/organizations/{store.root_id}", key=admin.key, json={"name": "Mine Now"})
    assert response.status_code == 403

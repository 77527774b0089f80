"""Administration writes: org and user create / update / delete, their tasks and activity records."""
import pytest

from cloudmc_frames.sandbox import errors

from .conftest import Api, error_of, first_key, make_server, wait_task


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


def test_create_organization_then_task_success(wapi, writable):
    store = writable.store
    parent = store.children[store.root_id][0]
    response = wapi.post("/organizations", json={"name": "Élan Vital", "entryPoint": "elan-vital",
                                                 "parent": {"id": parent},
                                                 "serviceConnections": [{"id": c["id"]} for c in
                                                                        store.orgs[parent]["serviceConnections"]]})
    body = response.json()
    assert response.status_code == 200 and body["taskStatus"] == "PENDING"
    assert body["data"]["name"] == "Élan Vital"
    new_id = body["data"]["id"]
    task = wait_task(wapi, body["taskId"])
    assert task["taskStatus"] == "SUCCESS" and task["result"]["id"] == new_id
    assert task["data"]["result"] == task["result"]
    assert new_id in store.orgs and new_id in store.children[parent]
    assert any(a["eventCode"] == "organizations.created" and a["organizationId"] == new_id
               for a in store.activity)
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
    response = wapi.put(f"/organizations/{leaf['id']}",
                        json={"name": "Renamed Leaf", "billingMode": "CREDIT_CARD"})
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
    assert missing.status_code == 400 and set(error_of(missing)["context"]["missing"]) >= {"email",
                                                                                           "firstName"}
    env_role = next(r for r in writable.store.roles.values() if r["name"] == "viewer")
    wrong_role = wapi.post("/users",
                           json={"userName": "y", "email": "y@x.io", "firstName": "Y", "lastName": "Y",
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

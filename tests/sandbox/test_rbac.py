"""RBAC: 401 for missing/unknown/disabled keys, 403 outside the subtree, per-role visibility."""
import pytest

from .conftest import env_named, error_of, first_key


def test_missing_key_is_401(api):
    response = api.get("/organizations", key=None)
    assert response.status_code == 401 and error_of(response)["code"] == 9401


def test_unknown_key_is_401(api):
    assert api.get("/users", key="x" * 48).status_code == 401


def test_disabled_user_key_is_401(api, store):
    disabled = next(k for k in store.keys if k.status == "DISABLED")
    assert api.get("/users", key=disabled.key).status_code == 401


def sub_admin(store):
    """An administrator of a sub-org that has its own sub-orgs."""
    for info in store.keys:
        if (info.role == "Administrator" and info.status == "ACTIVE" and info.org_id != store.root_id
                and store.children[info.org_id]):
            return info
    raise LookupError


def test_root_admin_sees_whole_tree(api, store):
    orgs = api.data("/organizations")
    assert {o["id"] for o in orgs} == set(store.visible_org_ids(store.root_key))
    assert not any(o["deleted"] for o in orgs)
    with_deleted = api.data("/organizations", params={"include_deleted": "true"})
    assert len(with_deleted) == len(store.orgs)


def test_sub_org_admin_sees_only_its_subtree(api, store):
    admin = sub_admin(store)
    orgs = api.data("/organizations", key=admin.key)
    assert {o["id"] for o in orgs} == set(store.subtree(admin.org_id))
    assert store.root_id not in {o["id"] for o in orgs}


def test_org_id_outside_subtree_is_403_and_unknown_is_404(api, store):
    admin = sub_admin(store)
    outside = api.get("/users", key=admin.key, params={"org_id": store.root_id})
    assert outside.status_code == 403 and error_of(outside)["code"] == 9403
    assert api.get(f"/organizations/{store.root_id}", key=admin.key).status_code == 403
    unknown = api.get("/users", params={"org_id": "00000000-0000-4000-8000-000000000000"})
    assert unknown.status_code == 404


def test_sub_org_admin_lists_a_descendant(api, store):
    admin = sub_admin(store)
    child = store.children[admin.org_id][0]
    users = api.data("/users", key=admin.key, params={"org_id": child})
    assert {u["id"] for u in users} == {u["id"] for u in store.orgs[child]["users"] if not u["deleted"]}


@pytest.mark.parametrize("role", ["User", "Guest"])
def test_non_admin_sees_itself_and_its_org_only(api, store, role):
    info = first_key(store, role, store.root_id)
    assert [u["id"] for u in api.data("/users", key=info.key)] == [info.user_id]
    assert [o["id"] for o in api.data("/organizations", key=info.key)] == [info.org_id]
    other = next(u for u in store.users.values() if u["id"] != info.user_id)
    assert api.get(f"/users/{other['id']}", key=info.key).status_code == 403
    child = store.children[store.root_id][0]
    assert api.get("/users", key=info.key, params={"org_id": child}).status_code == 403
    assert api.get("/activity_log", key=info.key).status_code == 403


def test_non_admin_sees_member_environments_only(api, store):
    info = first_key(store, "User", store.root_id)
    envs = api.data("/environments", key=info.key)
    member_of = {e for e, ms in store.members.items() if any(m["user"]["id"] == info.user_id for m in ms)}
    assert {e["id"] for e in envs} == member_of and envs
    prod = env_named(store, store.root_id, "prod")
    assert api.get("/services/compute-qc/prod/instances", key=info.key).status_code == 200
    others = [e for e in store.environments.values()
              if e["organization"]["id"] == store.root_id and e["id"] not in member_of]
    for env in others:
        conn = store.env_connection(env)
        assert api.get(f"/services/{conn['serviceCode']}/{env['name']}/instances",
                       key=info.key).status_code == 403
    assert prod["id"] in member_of


def test_guest_cannot_write(api, store):
    guest = first_key(store, "Guest", store.root_id)
    inst = next(iter(store.resources[env_named(store, store.root_id, "prod")["id"]]["instances"].values()))
    response = api.post(f"/services/compute-qc/prod/instances/{inst['id']}", key=guest.key,
                        params={"operation": "reboot"})
    assert response.status_code == 403
    assert api.post("/users", key=guest.key, json={}).status_code == 403


def test_user_role_cannot_do_admin_writes(api, store):
    user = first_key(store, "User", store.root_id)
    assert api.post("/organizations", key=user.key, json={"name": "x", "entryPoint": "x"}).status_code == 403
    assert api.delete(f"/users/{user.user_id}", key=user.key).status_code == 403


def test_keys_never_echoed(api, store, sb):
    response = api.get("/users")
    assert store.root_key not in response.text
    assert all(store.root_key not in v for v in response.headers.values())
    assert all(store.root_key not in str(r) for r in sb.requests.snapshot())

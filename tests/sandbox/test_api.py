"""Administration reads: org scoping, detail views, connections, quotas, activity, 404/405/400."""
import json

import pytest

from cloudmc_frames.sandbox import errors

from .conftest import error_of


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
    connections = {c["id"] for c in detail["serviceConnections"]}
    assert {q["serviceConnection"]["id"] for q in detail["quotas"]} == connections
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


def test_roles_include_org_and_env_roles(api):
    names = {r["name"] for r in api.data("/roles")}
    assert {"Administrator", "User", "Guest", "Owner", "editor", "viewer"} <= names


@pytest.mark.parametrize("path", ["/organizations/nope", "/users/nope", "/environments/nope",
                                  "/environments/nope/members", "/quotas/nope", "/tasks/nope",
                                  "/services/connections/nope", "/nothing/here", "/organizations/a/b/c"])
def test_unknown_ids_and_paths_are_404(api, path):
    response = api.get(path)
    assert response.status_code == 404 and error_of(response)["code"] == errors.NOT_FOUND


def test_outside_api_prefix_is_404(sb):
    import requests
    assert requests.get(sb.endpoint + "/v1/users", timeout=5).status_code == 404


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

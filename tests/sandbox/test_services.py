"""Service endpoints: environment resolution, 404s, filters, detail views, oracle identity."""
from collections import Counter

import pytest

from cloudmc_frames.sandbox import errors

from .conftest import error_of


def shared_env_name(store):
    """An environment name used by at least two orgs, with those envs."""
    names = Counter(e["name"] for e in store.environments.values())
    name = next(n for n, c in names.most_common() if c >= 2)
    return name, [e for e in store.environments.values() if e["name"] == name]


def test_env_resolved_by_org_scope(api, store):
    name, envs = shared_env_name(store)
    for env in envs:
        conn = store.env_connection(env)
        data = api.data(f"/services/{conn['serviceCode']}/{name}/instances",
                        params={"org_id": env["organization"]["id"]})
        assert {i["id"] for i in data} == set(store.resources[env["id"]]["instances"])


def test_list_equals_the_store_sorted_by_id(api, store):
    env = store.env_by_name(store.root_id, "prod")
    for entity, records in store.resources[env["id"]].items():
        served = api.data(f"/services/compute-qc/prod/{entity}")
        assert served == sorted(records.values(), key=lambda r: r["id"])


@pytest.mark.parametrize("path", ["/services/nope/prod/instances", "/services/compute-qc/nope/instances",
                                  "/services/compute-on/prod/instances", "/services/compute-qc/prod/vpcs",
                                  "/services/gcp-lab/dev/volumes",
                                  "/services/compute-qc/prod/instances/nope"])
def test_unknown_connection_env_entity_or_id_is_404(api, path):
    response = api.get(path)
    assert response.status_code == 404 and error_of(response)["code"] == errors.NOT_FOUND


def test_env_of_another_org_needs_org_id(api, store):
    env = next(e for e in store.environments.values() if e["organization"]["id"] != store.root_id
               and store.env_by_name(store.root_id, e["name"]) is None)
    conn = store.env_connection(env)
    path = f"/services/{conn['serviceCode']}/{env['name']}/instances"
    assert api.get(path).status_code == 404
    assert api.get(path, params={"org_id": env["organization"]["id"]}).status_code == 200


def test_filters(api, store):
    env = store.env_by_name(store.root_id, "prod")
    res = store.resources[env["id"]]
    base = "/services/compute-qc/prod"
    assert {v["type"] for v in api.data(f"{base}/volumes", params={"type": "os"})} == {"os"}
    inst = next(iter(res["instances"]))
    attached = api.data(f"{base}/volumes", params={"instance_id": inst})
    assert attached and all(v["instanceId"] == inst for v in attached)
    snap = next(iter(res["snapshots"].values()), None)
    if snap:
        assert {s["volumeId"] for s in api.data(f"{base}/snapshots",
                                                params={"volume_id": snap["volumeId"]})} == {
            snap["volumeId"]}
    assigned = next((ip for ip in res["publicipaddresses"].values() if "instances" in ip), None)
    if assigned:
        found = api.data(f"{base}/publicipaddresses", params={"instance_id": assigned["instances"][0]["id"]})
        assert assigned["id"] in {ip["id"] for ip in found}
    zone = next(iter(res["networks"].values()))["zoneId"]
    assert {n["zoneId"] for n in api.data(f"{base}/networks", params={"zone_id": zone})} == {zone}


def test_instance_detail_view(api, store):
    env = store.env_by_name(store.root_id, "prod")
    ip = next((ip for ip in store.resources[env["id"]]["publicipaddresses"].values() if "instances" in ip),
              None)
    inst_id = ip["instances"][0]["id"] if ip else next(iter(store.resources[env["id"]]["instances"]))
    detail = api.data(f"/services/compute-qc/prod/instances/{inst_id}")
    assert {"userData", "publicIps", "nics"} <= set(detail)
    assert detail["nics"][0]["networkId"] == detail["networkId"]
    if ip:
        assert ip["id"] in {p["id"] for p in detail["publicIps"]}


def test_data_volume_detail_has_disk_offering(api, store):
    for env in store.environments.values():
        conn = store.env_connection(env)
        if conn["type"] != "cloudstack":
            continue
        vol = next((v for v in store.resources[env["id"]]["volumes"].values() if v["type"] == "data"), None)
        if vol:
            detail = api.data(f"/services/{conn['serviceCode']}/{env['name']}/volumes/{vol['id']}",
                              params={"org_id": env["organization"]["id"]})
            offering = store.resources[env["id"]]["diskofferings"][detail["diskOfferingId"]]
            assert detail["diskOfferingName"] == offering["name"]
            return
    pytest.fail("no data volume in the scenario")


def test_gcp_lists(api, store):
    env = store.env_by_name(store.root_id, "dev")
    body = api.get("/services/gcp-lab/dev/instances").json()
    assert body["metadata"]["recordCount"] == len(store.resources[env["id"]]["instances"])
    assert api.get("/services/gcp-lab/dev/disks").status_code == 200


def test_non_ascii_org_env_path(api, store):
    org = next(o for o in store.orgs.values() if o["name"] == "Québec Ops")
    for ref in org["environments"]:
        env = store.environments[ref["id"]]
        conn = store.env_connection(env)
        assert api.get(f"/services/{conn['serviceCode']}/{env['name']}/instances",
                       params={"org_id": org["id"]}).status_code == 200

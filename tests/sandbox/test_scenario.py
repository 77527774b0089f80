"""The seeded scenario generator: determinism, tree shape, audit fodder, consistency, scale."""
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from cloudmc_frames.sandbox import generate_scenario, quotas
from cloudmc_frames.sandbox.clock import parse_instant

NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def scen():
    """The default scenario at a fixed reference time."""
    return generate_scenario(orgs=20, seed=7, now=NOW)


def depth(store, org_id):
    """Number of ancestors of an org."""
    return len(store.ancestors(org_id))


def snapshot(store):
    """Everything a store serves, as comparable plain data."""
    return (store.orgs, store.users, store.environments, store.connections, store.quotas, store.roles,
            store.members, store.activity, store.resources, store.extras, [tuple(k) for k in store.keys])


def test_same_seed_same_store_ids_included():
    assert snapshot(generate_scenario(orgs=20, seed=7,
                                      now=NOW)) == snapshot(generate_scenario(orgs=20, seed=7, now=NOW))


def test_other_seed_other_store():
    assert set(generate_scenario(seed=8, now=NOW).orgs) != set(generate_scenario(seed=7, now=NOW).orgs)


def test_org_count_and_tree_at_least_three_levels_deep(scen):
    assert len(scen.orgs) == 20
    assert max(depth(scen, o) for o in scen.orgs) >= 3
    root = scen.orgs[scen.root_id]
    assert root["isReseller"] and "parent" not in root
    for org in scen.orgs.values():
        if org["id"] != scen.root_id:
            assert org["parent"]["id"] in scen.orgs
            assert org["parent"]["name"] == scen.orgs[org["parent"]["id"]]["name"]
            assert org["lineage"].split(", ")[0] == org["id"] and org["lineage"].endswith(scen.root_id)


def test_resellers_trials_and_deleted_orgs_present(scen):
    orgs = list(scen.orgs.values())
    assert any(o["isReseller"] for o in orgs if o["id"] != scen.root_id)
    assert any(o["isTrial"] for o in orgs)
    deleted = [o for o in orgs if o["deleted"]]
    assert deleted and all(not scen.children[o["id"]] for o in deleted)
    holding = [o for o in deleted if any(scen.resources[e["id"]]["instances"] for e in o["environments"])]
    assert holding, "a deleted org should still hold resources"


def test_reseller_is_nearest_reseller_ancestor(scen):
    for org in scen.orgs.values():
        ancestors = scen.ancestors(org["id"])
        resellers = [a for a in ancestors if scen.orgs[a]["isReseller"]]
        assert org.get("reseller", {}).get("id") == (resellers[0] if resellers else None)


def test_names_unique_among_siblings_entry_points_unique_and_exotic_names(scen):
    for children in scen.children.values():
        names = [scen.orgs[c]["name"] for c in children]
        assert len(names) == len(set(names))
    entries = [o["entryPoint"] for o in scen.orgs.values()]
    assert len(entries) == len(set(entries))
    assert "Québec Ops" in {o["name"] for o in scen.orgs.values()}
    assert any(" " in o["name"] for o in scen.orgs.values())


def test_users_roles_and_audit_fodder(scen):
    users = list(scen.users.values())
    roles = Counter(u["primaryRoleBinding"]["role"]["name"] for u in users)
    assert {"Administrator", "User", "Guest"} <= set(roles)
    assert any(u["status"] == "DISABLED" for u in users)
    assert any(u["lastLogin"] is None and u["loginCount"] == 0 for u in users)
    assert any(u["lastLogin"] and parse_instant(u["lastLogin"]) < NOW - timedelta(days=90) for u in users)
    assert any(u["failedLoginCount"] >= 10 for u in users)
    assert any(u["tfaEnabled"] for u in users) and any(not u["tfaEnabled"] for u in users)
    assert any(not o["users"] for o in scen.orgs.values())
    no_admin = [o for o in scen.orgs.values() if o["users"] and not any(
        scen.users[u["id"]]["primaryRoleBinding"]["role"]["name"] == "Administrator" for u in o["users"])]
    assert no_admin, "some orgs with users but no administrator (audit fodder)"


def test_every_user_has_a_long_key(scen):
    keys = scen.keys
    assert {k.user_id for k in keys} == set(scen.users)
    assert all(len(k.key) >= 40 and k.key.isalnum() for k in keys)
    assert len({k.key for k in keys}) == len(keys)
    assert keys[0].org_id == scen.root_id and keys[0].role == "Administrator" and keys[0].sees_descendants


def test_environment_names_and_bindings(scen):
    per_org = Counter()
    for env in scen.environments.values():
        assert re.fullmatch(r"[a-z0-9_-]+", env["name"])
        per_org[(env["organization"]["id"], env["name"])] += 1
        org = scen.orgs[env["organization"]["id"]]
        assert env["serviceConnection"]["id"] in {c["id"] for c in org["serviceConnections"]}
    assert max(per_org.values()) == 1
    names = Counter(name for _, name in per_org)
    assert names.most_common(1)[0][1] >= 2, "two orgs share an environment name"
    assert any(not o["environments"] for o in scen.orgs.values())
    assert any(not m for m in scen.members.values()) and any(m for m in scen.members.values())


def all_of(store, conn_type, entity):
    """Every record of ``entity`` in environments of ``conn_type``."""
    for env_id, per_type in store.resources.items():
        conn = store.env_connection(store.environments[env_id])
        if conn["type"] == conn_type:
            yield from ((env_id, r) for r in per_type.get(entity, {}).values())


def test_every_instance_state_present(scen):
    states = {r["state"] for _, r in all_of(scen, "cloudstack", "instances")}
    assert {"Running", "Stopped", "Stopping", "Destroyed", "Error", "Starting"} <= states


def test_instances_match_their_offering_and_volumes_link(scen):
    for env_id, inst in all_of(scen, "cloudstack", "instances"):
        res = scen.resources[env_id]
        offering = res["computeofferings"][inst["computeOfferingId"]]
        if not offering["custom"]:
            assert (inst["cpuCount"], inst["memoryInMB"]) == (offering["cpuCount"], offering["memoryInMB"])
        os_volumes = [v for v in res["volumes"].values()
                      if v.get("instanceId") == inst["id"] and v["type"] == "os"]
        assert len(os_volumes) == 1 and os_volumes[0]["instanceName"] == inst["name"]
        assert inst["networkId"] in res["networks"]
    volumes = [v for _, v in all_of(scen, "cloudstack", "volumes")]
    assert any(v["type"] == "data" and "instanceId" not in v for v in volumes)
    assert any(v["type"] == "data" and "instanceId" in v for v in volumes)
    assert any(o["custom"] for _, o in all_of(scen, "cloudstack", "computeofferings"))


def test_public_ips_and_snapshot_ages(scen):
    ips = [ip for _, ip in all_of(scen, "cloudstack", "publicipaddresses")]
    assert any("instances" not in ip for ip in ips) and any("instances" in ip for ip in ips)
    stamps = [datetime.strptime(s["name"].rsplit("_", 1)[1], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
              for _, s in all_of(scen, "cloudstack", "snapshots")]
    assert any(s < NOW - timedelta(days=90) for s in stamps)
    assert any(NOW - timedelta(days=90) <= s < NOW - timedelta(days=30) for s in stamps)
    assert any(s >= NOW - timedelta(days=30) for s in stamps)


def test_gcp_resources_consistent(scen):
    instances = [i for _, i in all_of(scen, "gcp", "instances")]
    disks = [d for _, d in all_of(scen, "gcp", "disks")]
    assert instances and disks
    assert all(isinstance(d["sizeGb"], str) and d["sizeGb"].isdigit() for d in disks)
    assert all(isinstance(i["memoryInGB"], float) and i["id"].isdigit() for i in instances)
    names = {d["name"] for d in disks}
    assert all(i["disks"][0]["deviceName"] in names for i in instances)


def test_quotas_per_org_and_connection_some_over_ceiling(scen):
    assert scen.quota_assignments
    metrics = {d["type"] for q in scen.quotas.values() for d in q["quotaDetails"]}
    assert {"INSTANCE_VCPUS", "INSTANCE_MEMORY", "DISK_SIZE", "INSTANCE_COUNT",
            "workload_cpu_count"} <= metrics
    over = []
    for (org_id, conn_id), quota_id in scen.quota_assignments.items():
        ceiling = {d["type"]: d["ceiling"] for d in scen.quotas[quota_id]["quotaDetails"]}
        used = quotas.usage(scen, org_id, conn_id)
        if used["INSTANCE_VCPUS"] > ceiling["INSTANCE_VCPUS"]:
            over.append(org_id)
    assert over and len(over) < len(scen.quota_assignments) / 2


def test_activity_log_shape(scen):
    assert scen.activity
    codes = {a["eventCode"] for a in scen.activity}
    assert {"organizations.provision", "users.created", "environment_members.provision"} <= codes
    assert all(isinstance(a["eventContext"], str) for a in scen.activity)
    assert [a["created"] for a in scen.activity] == sorted(a["created"] for a in scen.activity)


def test_visible_org_ids(scen):
    root_key = scen.keys[0].key
    assert scen.visible_org_ids(root_key) == scen.subtree(scen.root_id)
    assert len(scen.visible_org_ids(root_key, include_deleted=True)) == len(scen.orgs)
    user = next(k for k in scen.keys if k.role == "User" and k.status == "ACTIVE")
    assert scen.visible_org_ids(user.key) == [user.org_id]
    assert scen.visible_org_ids("nope") == []


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        generate_scenario(orgs=0)
    with pytest.raises(ValueError):
        generate_scenario(scale=-1)


def test_tiny_scenarios_still_work():
    for count in (1, 2, 4, 6):
        store = generate_scenario(orgs=count, seed=3, now=NOW)
        assert len(store.orgs) == count and store.keys


def test_scale_reaches_100k_resources():
    begin = time.perf_counter()
    store = generate_scenario(orgs=200, seed=7, scale=12)
    elapsed = time.perf_counter() - begin
    count = store.resource_count()
    print(f"\ngenerate_scenario(orgs=200, scale=12): {count} resources in {elapsed:.2f} s")
    assert count >= 100_000


def test_default_scenario_numbers_match_the_package_docs(scen):
    assert (len(scen.orgs), len(scen.users), len(scen.environments), scen.resource_count(), len(scen.quotas),
            len(scen.activity)) == (20, 44, 34, 1671, 32, 102)

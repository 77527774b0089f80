"""Each accessor returns exactly the sandbox's records: none missing, none twice."""

import pandas as pd
import pytest

import cloudmc_frames as cmf

from .conftest import expected_environments, expected_resources, expected_users, visible_org_ids


def rows(frame, *columns):
    return sorted(map(tuple, frame[list(columns)].astype(object).itertuples(index=False)))


def test_organizations_are_the_visible_tree(sb, client):
    orgs = cmf.organizations(client)
    assert sorted(orgs["id"]) == sorted(visible_org_ids(sb.store, sb.api_key))
    assert orgs["path"].is_unique and orgs["path"].is_monotonic_increasing
    assert orgs["depth"].max() >= 3 and orgs.loc[orgs["depth"] == 0, "parent_id"].isna().all()
    by_id = orgs.set_index("id")
    for row in orgs[orgs["depth"] > 0].itertuples():
        parent = by_id.loc[row.parent_id]
        assert row.path.startswith(parent["path"] + "/") and row.depth == parent["depth"] + 1
    assert orgs["created"].dt.tz is not None and orgs["is_reseller"].dtype == "boolean"


def test_include_deleted_adds_the_deleted_organizations(sb, client):
    everything = cmf.organizations(client, include_deleted=True)
    assert sorted(everything["id"]) == sorted(visible_org_ids(sb.store, sb.api_key, include_deleted=True))
    assert everything["deleted"].sum() >= 1


def test_sub_organizations(sb, client):
    orgs = cmf.organizations(client)
    parent = orgs[orgs["depth"] == 1].iloc[0]
    children = cmf.sub_organizations(client, parent["id"], recursive=False)
    everything_below = cmf.sub_organizations(client, parent["id"])
    assert set(children["parent_id"]) == {parent["id"]}
    assert set(children["id"]) <= set(everything_below["id"])
    assert all(p.startswith(parent["path"] + "/") for p in everything_below["path"])
    assert set(everything_below["id"]) == set(cmf.organizations(client, ).query(
        "path.str.startswith(@parent.path + '/')", engine="python")["id"])
    with pytest.raises(cmf.ConfigError, match="not among"):
        cmf.sub_organizations(client, "no-such-org")


def test_users_exactly(sb, client):
    users = cmf.users(client)
    assert rows(users, "organization_id", "id") == expected_users(sb.store, sb.api_key)
    assert list(users.columns[:3]) == ["organization_id", "organization_name", "organization_path"]
    assert users["last_login"].dt.tz is not None and users["login_count"].dtype == "Int64"
    assert users["primary_role_binding_role_name"].dtype == "string"
    assert client.issues.empty


def test_environments_exactly_with_their_service_code(sb, client):
    envs = cmf.environments(client)
    assert rows(envs, "organization_id", "id") == expected_environments(sb.store, sb.api_key)
    assert envs["service_code"].notna().all()
    assert set(envs["connection_type"].astype(str)) == {"cloudstack", "gcp"}


@pytest.mark.parametrize("accessor, entities", [(cmf.instances, ("instances",)),
                                                (cmf.volumes, ("volumes", "disks"))])
def test_resources_exactly(sb, client, accessor, entities):
    frame = accessor(client)
    assert rows(frame, "organization_id", "environment_name", "id") == \
        expected_resources(sb.store, sb.api_key, entities)
    assert list(frame.columns[:7]) == ["organization_id", "organization_name", "organization_path",
                                       "service_code", "connection_type", "environment_id",
                                       "environment_name"]


def test_instances_normalize_across_providers(sb, client):
    vms = cmf.instances(client)
    assert vms["vcpus"].notna().all() and vms["memory_gib"].notna().all()
    running = vms[vms["is_running"]]
    assert set(running["state"].astype(str)) == {"Running", "RUNNING"}
    assert set(running["power_state"].astype(str)) == {"running"}
    cs = vms[vms["connection_type"] == "cloudstack"]
    assert (cs["memory_gib"] * 1024 == cs["memory_in_mb"].astype("Float64")).all()


def test_other_entities_and_filters(sb, client):
    snaps = cmf.resources(client, "snapshots", service_code="compute-qc")
    assert set(snaps["service_code"].astype(str)) == {"compute-qc"}
    assert rows(snaps, "organization_id", "environment_name", "id") == \
        expected_resources(sb.store, sb.api_key, ("snapshots",), service_code="compute-qc")
    prod = cmf.instances(client, environment="prod")
    assert set(prod["environment_name"].astype(str)) == {"prod"} and len(prod) > 0
    gcp = cmf.volumes(client, service_code=["gcp-lab"])
    assert set(gcp["connection_type"].astype(str)) == {"gcp"}


def test_quotas_one_row_per_ceiling(sb, client):
    quotas = cmf.quotas(client)
    store = sb.store
    expected = sorted((org, qid, d["id"])
                      for (org, _conn), qid in store.quota_assignments.items()
                      if org in set(visible_org_ids(store, sb.api_key))
                      for d in store.quotas[qid]["quotaDetails"])
    assert rows(quotas, "organization_id", "quota_id", "detail_id") == expected
    assert quotas["ceiling"].dtype == "Float64" and quotas["ceiling"].notna().all()


def test_service_connections(sb, client):
    conns = cmf.service_connections(client)
    orgs = cmf.organizations(client)
    expected = sorted((o.id, ref["id"]) for o in orgs.itertuples() for ref in o.service_connections)
    assert rows(conns, "organization_id", "id") == expected
    assert conns["type"].notna().all() and conns["owner_organization_id"].notna().all()


def test_activity_log_parses_event_context(sb, client):
    log = cmf.activity_log(client, start="2000-01-01", end=pd.Timestamp.now(tz="UTC"))
    assert len(log) > 0 and log["created"].dt.tz is not None
    assert all(isinstance(v, (dict, list)) or v is None for v in log["event_context"])


def test_sub_organization_admin_sees_only_its_subtree(sb, tmp_path):
    store = sb.store
    admin = next(k for k in sb.keys if k.role == "Administrator" and k.org_id != store.root_id
                 and store.children.get(k.org_id))
    with sb.client(admin, cache_dir=str(tmp_path)) as client:
        orgs = cmf.organizations(client)
        assert set(orgs["id"]) == set(visible_org_ids(store, admin.key))
        assert store.root_id not in set(orgs["id"])
        assert rows(cmf.users(client), "organization_id", "id") == expected_users(store, admin.key)
        assert rows(cmf.instances(client), "organization_id", "environment_name", "id") == \
            expected_resources(store, admin.key)
        with pytest.raises(cmf.ConfigError, match="matches no organization"):
            cmf.users(client, orgs=store.root_id)


def test_non_admin_user_sees_only_itself(sb):
    user = next(k for k in sb.keys if k.role == "User")
    with sb.client(user) as client:
        people = cmf.users(client)
    assert list(people["id"]) == [user.user_id]


@pytest.mark.parametrize("accessor", [cmf.users, cmf.environments, cmf.quotas, cmf.instances,
                                      cmf.volumes, cmf.service_connections])
def test_empty_selection_keeps_every_documented_column(sb, client, accessor):
    empty, full = accessor(client, orgs=[]), accessor(client)
    assert len(empty) == 0 and len(full) > 0
    assert list(empty.columns) == [c for c in full.columns if c in set(empty.columns)]
    for column in empty.columns:
        assert empty[column].dtype.name == full[column].dtype.name, column

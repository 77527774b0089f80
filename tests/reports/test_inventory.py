"""inventory(): every number checked against totals computed from the sandbox's own store."""

from __future__ import annotations

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.errors import ConfigError
from cloudmc_frames.reports.inventory import MEASURES, state_class

from . import oracle

COMPARED = ("instances", "instances_running", "instances_stopped", "instances_transitioning",
            "instances_error", "instances_destroyed", "vcpus", "vcpus_running", "memory_gib",
            "memory_gib_running", "volumes", "volumes_attached", "volumes_unattached", "volume_gib",
            "volume_gib_unattached", "snapshots", "public_ips")


def test_rows_per_environment_match_the_store(inventory, sb):
    store = sb.store
    frame = inventory.frame.set_index(["organization_id", "environment_name"])
    expected_keys = {(o, e["name"]) for o in oracle.org_ids(store) for e in oracle.envs_of(store, o)}
    assert expected_keys <= set(frame.index)
    for org_id, env_name in expected_keys:
        env = store.env_by_name(org_id, env_name)
        row = frame.loc[(org_id, env_name)]
        assert row["service_code"] == oracle.connection(store, env)["serviceCode"]
        want = oracle.env_measures(store, env)
        for name in COMPARED:
            assert float(row[name]) == pytest.approx(want[name], abs=1e-6), (org_id, env_name, name)


def test_every_selected_organization_has_a_row(inventory, sb):
    visible = set(oracle.org_ids(sb.store))
    deleted = set(oracle.org_ids(sb.store, include_deleted=True)) - visible
    holding = {o for o in deleted if any(oracle.env_measures(sb.store, e)["instances"]
                                         for e in oracle.envs_of(sb.store, o))}
    assert holding and set(inventory.frame["organization_id"]) == visible | holding
    flagged = inventory.frame[inventory.frame["organization_deleted"]]
    assert set(flagged["organization_id"]) == holding
    bare = inventory.frame[inventory.frame["environment_name"].isna()]
    assert all(not oracle.envs_of(sb.store, o) for o in bare["organization_id"])


def test_deleted_organizations_rows_match_the_store(inventory, sb):
    frame = inventory.frame[inventory.frame["organization_deleted"]].set_index(
        ["organization_id", "environment_name"])
    assert len(frame) > 0
    for (org_id, env_name), row in frame.iterrows():
        want = oracle.env_measures(sb.store, sb.store.env_by_name(org_id, env_name))
        for name in COMPARED:
            assert float(row[name]) == pytest.approx(want[name], abs=1e-6), (org_id, env_name, name)


def test_rollup_includes_descendants(inventory, sb):
    store, selected = sb.store, set(oracle.org_ids(sb.store, include_deleted=True))
    rollup = inventory.tables["rollup"].set_index("organization_id")
    assert set(rollup.index) == selected
    for org_id in selected:
        want = oracle.subtree_measures(store, org_id, selected)
        row = rollup.loc[org_id]
        assert row["organization_path"] == oracle.org_path(store, org_id)
        assert row["organizations"] == len([o for o in store.subtree(org_id, include_deleted=True)
                                            if o in selected])
        assert row["organization_deleted"] == bool(store.orgs[org_id]["deleted"])
        for name in COMPARED:
            assert float(row[name]) == pytest.approx(want[name], abs=1e-6), (org_id, name)


def test_root_of_the_rollup_equals_the_grand_total(inventory):
    root = inventory.tables["rollup"].iloc[0]
    totals = inventory.summary.set_index("measure")["value"]
    for name in MEASURES:
        assert float(root[name]) == pytest.approx(float(inventory.frame[name].sum()), abs=1e-6)
        assert float(totals[name]) == pytest.approx(float(inventory.frame[name].sum()), abs=0.05)


def test_columns_are_typed_and_documented(inventory):
    frame = inventory.frame
    assert list(frame.columns[:6]) == ["organization_path", "organization_name", "organization_id",
                                       "environment_name", "service_code", "connection_type"]
    for name, (unit, _) in MEASURES.items():
        assert str(frame[name].dtype) == ("Float64" if unit == "GiB" else "Int64"), name
    assert str(frame["organization_path"].dtype) == "string"
    assert not frame[list(MEASURES)].isna().any().any()


def test_by_connection_adds_up_to_the_same_totals(client, inventory):
    by_conn = cmf.reports.inventory(client, by="connection")
    assert list(by_conn.frame.columns[:2]) == ["service_code", "connection_type"]
    keys = by_conn.frame[["service_code", "organization_deleted"]]
    assert not keys.duplicated().any() and by_conn.frame["service_code"].notna().all()
    assert by_conn.frame["organization_deleted"].any()  # deleted organizations' resources: own rows
    for name in MEASURES:
        assert float(by_conn.frame[name].sum()) == pytest.approx(float(inventory.frame[name].sum()))


def test_orgs_pattern_narrows_the_selection(client, sb):
    report = cmf.reports.inventory(client, orgs="nimbus-cloud/cyberdyne-systems*", by="organization")
    paths = set(report.frame["organization_path"])
    assert paths and all(p.startswith("nimbus-cloud/cyberdyne-systems") for p in paths)
    top = report.tables["rollup"].iloc[0]
    assert top["organization_path"] == "nimbus-cloud/cyberdyne-systems"
    org_id = top["organization_id"]
    selected = set(report.tables["rollup"]["organization_id"])
    want = oracle.subtree_measures(sb.store, org_id, selected)
    assert int(top["instances"]) == want["instances"]
    assert "orgs='nimbus-cloud/cyberdyne-systems*'" in report.scope


@pytest.mark.parametrize("by", ["tenant", (), ("organization", "zone")], ids=repr)
def test_unknown_grouping_is_refused(client, by):
    with pytest.raises(ConfigError, match="by must name"):
        cmf.reports.inventory(client, by=by)


def test_unknown_crawl_option_is_refused(client):
    with pytest.raises(ConfigError, match="unknown option"):
        cmf.reports.inventory(client, workers=3)


@pytest.mark.parametrize(("connection_type", "state", "expected"), [
    ("cloudstack", "Running", "running"), ("cloudstack", "Stopped", "stopped"),
    ("cloudstack", "Destroyed", "destroyed"), ("cloudstack", "Expunging", "destroyed"),
    ("cloudstack", "Starting", "transitioning"), ("cloudstack", "Error", "error"),
    ("gcp", "TERMINATED", "stopped"), ("gcp", "SUSPENDED", "stopped"), ("gcp", "STAGING", "transitioning"),
    ("aws", "terminated", "destroyed"), ("aws", "running", "running"),
    ("aws", "shutting-down", "transitioning"),
    ("openstack", "active", "running"), ("azure", "deallocated", "stopped"), ("cloudstack", None, "other"),
    ("cloudstack", "Quantum", "other"),
])
def test_state_classes(connection_type, state, expected):
    result = state_class(pd.Series([state], dtype=object), pd.Series([connection_type]))
    assert result.iloc[0] == expected

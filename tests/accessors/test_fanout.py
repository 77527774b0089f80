"""Fan-out: issues and coverage, errors="raise", faults survived, timeouts, the cache under threads."""

import logging
import time

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import FaultRule

from .conftest import expected_resources, expected_users

FAST_RETRIES = {"retries": 6, "backoff_factor": 0.01, "backoff_max": 0.05}


def pick_org(client, depth=2):
    orgs = cmf.organizations(client)
    return orgs[(orgs["depth"] == depth) & orgs["users"].map(bool)].iloc[0]


def test_a_forbidden_organization_becomes_one_issue_and_the_rest_is_read(start_sandbox, caplog):
    sb = start_sandbox()
    client = sb.client()
    victim = pick_org(client)
    sb.faults.add(FaultRule("status", path="/users", org_id=victim["id"], status=403))
    with caplog.at_level(logging.WARNING, logger="cloudmc_frames"):
        people = cmf.users(client)
    expected = [r for r in expected_users(sb.store, sb.api_key) if r[0] != victim["id"]]
    assert sorted(map(tuple, people[["organization_id", "id"]].astype(object).values)) == expected
    issues = client.issues
    assert len(issues) == 1
    issue = issues.iloc[0]
    assert (issue["accessor"], issue["organization_id"], issue["organization_path"]) == \
        ("users", victim["id"], victim["path"])
    assert issue["status"] == 403 and issue["exception"] == "PermissionDeniedError"
    assert not issue["retryable"] and victim["id"] in issue["url"]
    coverage = client.coverage.query("accessor == 'users'")
    assert coverage.set_index("organization_id").loc[victim["id"], "status"] == "forbidden"
    assert sorted(coverage["organization_id"]) == sorted(cmf.organizations(client)["id"])
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "1 of" in warnings[0].getMessage() and "client.issues" in warnings[0].getMessage()


def test_errors_raise_raises_the_first_failure(start_sandbox):
    sb = start_sandbox()
    client = sb.client()
    victim = pick_org(client)
    sb.faults.add(FaultRule("status", path="/users", org_id=victim["id"], status=403))
    with pytest.raises(cmf.PermissionDeniedError) as info:
        cmf.users(client, errors="raise")
    assert info.value.status == 403


def test_an_environment_answering_html_is_isolated(start_sandbox):
    sb = start_sandbox()
    client = sb.client(**FAST_RETRIES)
    envs = cmf.environments(client)
    target = envs[envs["service_code"] == "compute-qc"].iloc[0]
    path = f"/services/compute-qc/{target['name']}/instances"
    sb.faults.add(FaultRule("html", path=path, org_id=target["organization_id"], status=502))
    vms = cmf.instances(client)
    lost = {(target["organization_id"], target["name"])}
    expected = [r for r in expected_resources(sb.store, sb.api_key) if r[:2] not in lost]
    got = sorted(map(tuple, vms[["organization_id", "environment_name", "id"]].astype(object).values))
    assert got == expected
    issue = client.issues.iloc[0]
    assert len(client.issues) == 1
    assert issue["exception"] == "ResponseFormatError" and issue["status"] == 502
    assert issue["attempts"] == 7 and "HTML page" in issue["message"]
    assert issue["environment"] == target["name"]


def test_transient_faults_are_survived_row_for_row(start_sandbox):
    sb = start_sandbox()
    baseline = {name: getattr(cmf, name)(sb.client()) for name in ("users", "instances", "volumes")}
    for rule in ("500:0.1", "503:0.05", "429:0.05,retry=0.01", "drop:0.02", "malformed:0.02"):
        sb.faults.add(rule)
    client = sb.client(**FAST_RETRIES)
    for name, expected in baseline.items():
        got = getattr(cmf, name)(client)
        pd.testing.assert_frame_equal(got, expected)
    assert client.issues.empty
    assert client.stats["retries"] > 0
    assert any(r.fault for r in sb.requests)


def test_a_crawl_that_runs_out_of_time_ends_on_time_and_says_what_was_skipped(start_sandbox):
    sb = start_sandbox()
    client = sb.client(retries=0)
    cmf.environments(client)  # warm the tree and environment lists
    sb.faults.add(FaultRule("latency", path="/services/*/*/instances", latency_ms=1500))
    started = time.monotonic()
    vms = cmf.instances(client, timeout=1.0, max_workers=4)
    elapsed = time.monotonic() - started
    assert elapsed < 2.5
    coverage = client.coverage
    scopes = coverage[coverage["entity"] == "instances"]
    assert len(scopes) == len(cmf.environments(client))  # every environment is accounted for
    assert set(scopes["status"].astype(str)) <= {"skipped", "error"}
    assert len(vms) == 0 and len(client.issues) == len(scopes)
    assert set(client.issues["exception"].astype(str)) <= {"CrawlTimeoutError", "RequestTimeout"}


def test_coverage_records_every_scope_and_the_cache(sb, tmp_path):
    client = sb.client(cache_backend="sqlite", cache_dir=str(tmp_path))
    cmf.instances(client)
    first = client.coverage
    sb.requests.clear()
    cmf.instances(client)
    second = client.coverage.iloc[len(first):]
    assert list(sb.requests) == []  # the repeat was served from the client's memory
    assert second["from_cache"].all() and not first["from_cache"].all()
    assert second["call_id"].nunique() == 1 and second["call_id"].iloc[0] > first["call_id"].max()
    assert (first.groupby("accessor", observed=True).size() == second.groupby("accessor",
                                                                              observed=True).size()).all()
    cmf.instances(client, fresh=True)
    assert len(sb.requests) >= len(second)


def test_sqlite_cache_under_the_thread_pool_serves_a_second_client(sb, tmp_path):
    folder = str(tmp_path / "shared")
    first = sb.client(cache_backend="sqlite", cache_dir=folder)
    expected = cmf.volumes(first, max_workers=8)
    sb.requests.clear()
    second = sb.client(cache_backend="sqlite", cache_dir=folder)
    again = cmf.volumes(second, max_workers=8)
    pd.testing.assert_frame_equal(again, expected)
    assert len(sb.requests) == 0 and second.coverage["from_cache"].all()


@pytest.mark.parametrize("kwargs, match", [
    ({"errors": "ignore"}, "errors must be 'raise' or 'collect'"),
    ({"max_workers": 0}, "max_workers"),
    ({"timeout": -1}, "timeout"),
    ({"workers": 3}, "unknown option"),
    ({"orgs": "no/such/*"}, "matches no organization"),
    ({"orgs": 42}, "orgs must be"),
    ({"orgs": [None]}, "orgs items"),
    ({"orgs": pd.DataFrame({"x": [1]})}, "'id' or 'organization_id'"),
])
def test_bad_arguments_are_clear_errors(sb, kwargs, match):
    with pytest.raises(cmf.ConfigError, match=match):
        cmf.users(sb.client(), **kwargs)


def test_unknown_entity_type_suggests_a_close_one(sb):
    with pytest.raises(cmf.ConfigError, match="Did you mean 'instances'"):
        cmf.resources(sb.client(), "instance")


def test_not_a_client_is_a_clear_error():
    with pytest.raises(cmf.ConfigError, match="cmf.connect"):
        cmf.users("https://cloudmc.example.com")


@pytest.mark.parametrize("orgs_arg", ["path-pattern", "id", "frame", "list", "series"])
def test_orgs_selection_forms(sb, orgs_arg):
    client = sb.client()
    tree = cmf.organizations(client)
    parent = tree[(tree["depth"] == 1)].iloc[0]
    below = tree[tree["path"].str.startswith(parent["path"] + "/")]
    arg = {"path-pattern": parent["path"] + "/*", "id": None, "frame": below,
           "list": list(below["id"]), "series": below["id"]}[orgs_arg]
    if orgs_arg == "id":
        got = cmf.users(client, orgs=below["id"].iloc[0])
        assert set(got["organization_id"]) <= {below["id"].iloc[0]}
        return
    got = cmf.environments(client, orgs=arg)
    assert set(got["organization_id"]) <= set(below["id"])
    assert set(client.coverage.query("accessor == 'environments' and entity == 'environments'")
               ["organization_id"].iloc[-len(below):]) == set(below["id"])


def test_unreadable_connections_are_reported_and_nothing_is_skipped_silently(start_sandbox):
    sb = start_sandbox()
    sb.faults.add(FaultRule("status", path="/services/connections/*", status=403))
    client = sb.client()
    vms = cmf.instances(client)
    assert sorted(map(tuple, vms[["organization_id", "environment_name", "id"]].astype(object).values)) \
        == expected_resources(sb.store, sb.api_key)
    assert set(client.issues["entity"].astype(str)) == {"service_connections"}
    vols = cmf.volumes(client)  # GCP calls them disks: without the connection type that is unknown
    live = set(sb.store.visible_org_ids(sb.api_key))
    gcp_envs = {(e["organization"]["id"], e["name"]) for e in sb.store.environments.values()
                if sb.store.connections[e["serviceConnection"]["id"]]["type"] == "gcp"
                and e["organization"]["id"] in live}
    read = {(r.organization_id, r.environment) for r in client.coverage.itertuples()
            if r.accessor == "resources" and r.entity == "volumes"}
    assert gcp_envs <= read  # every environment has a coverage row ...
    failed = client.issues.query("entity == 'volumes'")
    assert {(r.organization_id, r.environment) for r in failed.itertuples()} == gcp_envs  # ... and says why
    assert len(vols) == len(expected_resources(sb.store, sb.api_key, ("volumes",)))


def test_environment_members(sb, client):
    members = cmf.environment_members(client)
    store = sb.store
    live = {e["id"] for e in store.environments.values()
            if e["organization"]["id"] in set(visible := store.visible_org_ids(sb.api_key))}
    expected = sorted((env_id, m["id"]) for env_id, ms in store.members.items() if env_id in live for m in ms)
    got = zip(members["environment_id"].astype(object), members["id"].astype(object), strict=True)
    assert sorted(got) == expected
    assert list(members.columns[:5]) == ["organization_id", "organization_name", "organization_path",
                                         "environment_id", "environment_name"]
    assert members["role_name"].dtype == "string" and visible

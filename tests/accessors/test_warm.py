"""Warm crawls: the same call again on the same client hands back the frame it built, reading and
parsing nothing, while every page under it is still kept; anything else builds it anew."""

from __future__ import annotations

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import FaultRule

CALLS = ("users", "environments", "environment_members", "quotas", "instances", "volumes")


def crawl(client, **options):
    return {name: getattr(cmf, name)(client, **options) for name in CALLS}


def counted(client, action):
    """``action()``'s result and what it cost: requests sent, pages parsed from memory, coverage rows."""
    stats, rows = dict(client.stats), len(client.coverage)
    result = action()
    cost = {name: client.stats[name] - stats[name] for name in ("sent", "memory_hits", "cache_hits")}
    return result, cost, client.coverage.iloc[rows:].reset_index(drop=True)


@pytest.fixture(scope="module")
def warm(small_sb):
    """A client that crawled once (cold) and once more (warm), with what each cost."""
    client = small_sb.client(cache_backend="memory", progress=False)
    cold, cold_cost, cold_coverage = counted(client, lambda: crawl(client))
    again, warm_cost, warm_coverage = counted(client, lambda: crawl(client))
    return client, (cold, cold_cost, cold_coverage), (again, warm_cost, warm_coverage)


def test_a_warm_crawl_gives_the_same_frames_and_parses_only_the_organization_tree(warm):
    client, (cold, cold_cost, _), (again, cost, _) = warm
    for name in CALLS:
        pd.testing.assert_frame_equal(cold[name], again[name])
    assert cold_cost["sent"] > 50 and cost["sent"] == 0 and cost["cache_hits"] == 0
    assert cost["memory_hits"] <= len(CALLS) < cold_cost["sent"]  # one page of the tree per call


def test_a_warm_crawl_records_the_same_coverage(warm):
    _, (_, _, cold_coverage), (_, _, coverage) = warm
    columns = ["accessor", "organization_id", "environment", "entity", "status", "rows"]
    order = columns[:4]
    assert coverage["from_cache"].all()
    pd.testing.assert_frame_equal(cold_coverage[columns].sort_values(order, ignore_index=True),
                                  coverage[columns].sort_values(order, ignore_index=True))


def test_a_frame_handed_back_is_the_callers_own(warm):
    client, _, _ = warm
    vms = cmf.instances(client)
    first = vms.loc[0, "name"]
    vms.loc[0, "name"] = "changed by the caller"
    vms["mine"] = 1
    again = cmf.instances(client)
    assert again.loc[0, "name"] == first and "mine" not in again.columns


def test_fresh_reads_again(warm):
    client, _, _ = warm
    _, cost, _ = counted(client, lambda: cmf.users(client, fresh=True))
    assert cost["sent"] > 0


def test_a_filter_is_its_own_call(warm):
    client, (cold, _, _), _ = warm
    org = cold["users"]["organization_id"].iloc[0]
    users, _, _ = counted(client, lambda: cmf.users(client, orgs=org))
    assert set(users["organization_id"]) == {org}
    assert len(cmf.users(client)) == len(cold["users"])


def test_a_failed_scope_is_read_again_and_its_rows_arrive_once_it_answers(start_sandbox):
    sb = start_sandbox("small")
    vms = cmf.instances(sb.client(cache_backend="memory", progress=False))
    env = vms.iloc[0]
    sb.faults.add(FaultRule("html", status=502, org_id=env["organization_id"],
                            path=f"/services/{env['service_code']}/{env['environment_name']}/instances"))
    client = sb.client(cache_backend="memory", progress=False, retries=0)
    short, _, coverage = counted(client, lambda: cmf.instances(client))
    assert (coverage["status"] == "error").sum() == 1 and len(short) < len(vms)
    _, cost, coverage = counted(client, lambda: cmf.instances(client))
    assert cost["sent"] == 1 and (coverage["status"] == "error").sum() == 1  # only the failed scope
    sb.faults.clear()
    whole, cost, _ = counted(client, lambda: cmf.instances(client))
    assert cost["sent"] == 1
    pd.testing.assert_frame_equal(whole, vms)


def test_without_a_memory_budget_nothing_is_remembered(small_sb):
    client = small_sb.client(cache_backend="memory", memory_cache_mb=0, progress=False)
    cold = cmf.volumes(client)
    again, cost, _ = counted(client, lambda: cmf.volumes(client))
    pd.testing.assert_frame_equal(cold, again)
    assert cost["sent"] == 0 and cost["memory_hits"] == 0 and cost["cache_hits"] > 0

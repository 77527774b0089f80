"""Adaptive throttling against the rate-limited sandbox over real HTTP: no row is lost whatever
the server answers (429 with Retry-After in seconds or as a date, 503, per-organization limits),
a scope asked to wait an hour becomes an issue row that says so while the crawl goes on, and one
throttled organization does not slow the others down.

The sandbox's buckets run on real time, so these crawls really are paced: each lasts a few
seconds. Ratios against targets are measured side by side in ``benchmarks/throttle.py``.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest

import cloudmc_frames as cmf

from .conftest import ENTITIES, SUMMARY, crawl, make_client, plain, rows

RATE = 40  # the key's limit, requests per second (burst: 1 s of it)


@pytest.fixture(scope="module")
def sb():
    with cmf.sandbox(orgs=12, seed=9) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def expected(sb):
    sb.rate_limits.set(None)
    return crawl(sb.client(page_size=5))


@pytest.fixture
def limited(sb):
    """Set the sandbox's rate limit for one test; lifted afterwards."""
    def set_limit(spec):
        sb.rate_limits.set(spec)
        sb.requests.clear()
    yield set_limit
    sb.rate_limits.set(None)
    sb.faults.clear()


def refused(sb) -> int:
    return sum(r for _, _, r in sb.rate_limits.stats()["seconds"])


@pytest.mark.parametrize("spec", [
    f"key={RATE}",
    f"key={RATE},retry=date",
    f"key={RATE},answer=503",
    f"key={RATE},answer=503,retry=none",
    "org=4",
], ids=["429-seconds", "429-http-date", "503-retry-after", "503-bare", "every-org-4-per-s"])
def test_a_rate_limited_crawl_loses_no_row(sb, expected, limited, spec):
    limited(spec)
    client = make_client(sb, page_size=5)
    got = crawl(client)
    assert refused(sb) > 0, "the server never refused anything: the limit was not exercised"
    for name in ENTITIES:
        pd.testing.assert_frame_equal(got[name], expected[name], obj=f"{name} ({spec})")
    assert client.issues.empty, client.issues[["entity", "message"]].to_string()
    assert client.throttle.stats["decreases"] >= 1
    SUMMARY["throttling: crawls run"] += 1
    SUMMARY["throttling: requests refused by the server"] += refused(sb)
    SUMMARY["throttling: rows returned"] += rows(got)


def test_a_scope_asked_to_wait_an_hour_is_deferred_to_an_issue_row(sb, expected, limited):
    limited(None)
    victim = expected["instances"]["organization_id"].value_counts().index[0]
    sb.faults.add(f"429,retry=3600,org={victim}@/services/*")
    client = make_client(sb, page_size=5)
    started = time.monotonic()
    got = {name: getattr(cmf, name)(client) for name in ("instances", "volumes")}
    assert time.monotonic() - started < 30  # nobody waited the hour

    for name, frame in got.items():
        others = expected[name][expected[name]["organization_id"] != victim]
        pd.testing.assert_frame_equal(plain(frame), plain(others), obj=name)
    issues = client.issues
    assert set(issues["organization_id"]) == {victim} and set(issues["exception"]) == {"DeferredError"}
    first = issues[issues["status"] == 429]
    assert len(first) >= 1 and first["message"].str.contains("asked to wait 3600 s").all()
    assert issues["message"].str.contains("max_retry_after=120").all()
    coverage = client.coverage
    services = coverage[coverage["entity"].isin(["instances", "volumes"])]
    assert set(services.loc[services["organization_id"] == victim, "status"].astype(str)) == {"deferred"}
    assert set(coverage.loc[coverage["status"] == "deferred", "organization_id"]) == {victim}
    assert set(services.loc[services["organization_id"] != victim, "status"].astype(str)) <= {"ok", "empty"}
    victim_scopes = (services["organization_id"] == victim).sum()
    sent = [r for r in sb.requests.snapshot() if r.org_id == victim and r.path.startswith("/services/")]
    assert 1 <= len(sent) < victim_scopes  # the first answer deferred the rest before they were sent
    SUMMARY["throttling: scopes deferred"] += int(victim_scopes)

"""Adaptive throttling against the rate-limited sandbox over real HTTP: no row is lost whatever
the server answers (429 with Retry-After in seconds or as a date, 503, per-organization limits),
a scope asked to wait an hour becomes an issue row that says so while the crawl goes on, and one
throttled organization does not slow the others down.

The sandbox's buckets run on real time, so these crawls really are paced: each lasts a few
seconds. Ratios against targets are measured side by side in ``benchmarks/throttle.py``.
"""

from __future__ import annotations

import time
from collections import Counter

import pandas as pd
import pytest

import cloudmc_frames as cmf

from .conftest import ENTITIES, SUMMARY, crawl, make_client, plain, rows

RATE = 40  # the key's limit, requests per second (burst: 1 s of it)
VICTIM_REQUESTS = 8  # at most this many requests a crawl: its limit of 1/s bites, quickly


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


def others_seconds(client, victim: str) -> float:
    """Crawl every collection; return, summed over the calls, the seconds until the collection's
    own scopes of every organization but ``victim`` were read.

    The call itself returns when the victim is read too, and so do the scopes an accessor reads
    only after all others (the service connections of the environments it found).
    """
    marks: list[tuple[float, str, str]] = []
    record = client.ledger.record

    def timed(coverage, issue=None):
        marks.append((time.perf_counter(), coverage.organization_id, coverage.entity))
        record(coverage, issue)

    client.ledger.record = timed
    total = 0.0
    for name in ENTITIES[1:]:
        started, first = time.perf_counter(), len(marks)
        getattr(cmf, name)(client)
        total += max(t for t, org, entity in marks[first:] if org != victim and entity == name) - started
    return total


def test_one_throttled_organization_does_not_slow_the_others(sb, limited):
    """The client paces itself (``max_requests_per_second``) so the others' time is set by that
    pace, not by the server's buckets; throttling one organization must leave it unchanged."""
    limited(None)
    crawl(make_client(sb, page_size=5))
    sent = Counter(r.org_id for r in sb.requests.snapshot())
    victim = max((org for org, n in sent.items() if n <= VICTIM_REQUESTS), key=sent.get)
    seconds: dict[str, list[float]] = {"alone": [], "victim at 1/s": []}
    for _ in range(2):
        for label, spec in (("alone", None), ("victim at 1/s", f"org:{victim}=1")):
            limited(spec)
            client = make_client(sb, page_size=5, max_requests_per_second=RATE)
            seconds[label].append(others_seconds(client, victim))
            assert client.issues.empty and client.throttle.stats["client_decreases"] == 0
            if spec:
                assert sb.rate_limits.stats()["orgs"][victim][1] > 0, "the victim was never refused"
    alone, throttled = min(seconds["alone"]), min(seconds["victim at 1/s"])
    assert throttled <= 1.10 * alone, seconds
    SUMMARY["throttling: others' slowdown, 1 org throttled (%)"] = round(100 * (throttled / alone - 1), 1)

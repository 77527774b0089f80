"""The fault matrix: transient faults are survived row for row, permanent ones are named exactly,
and a crawl whose every request hangs still ends on time.

Transient faults (per seed, against a fault-free crawl of the same sandbox): a 5xx at 10% (the
status rotates over 500/502/503/504 with the seed), 429 with ``Retry-After: 1`` at 5%, dropped
connections at 2%, slow bodies at 5%; plus one of each kind for sure, each on its own path so none
masks another. The faulted crawl also pages by 10 (the fault-free one by 100), so pages cross
faults too.
"""

from __future__ import annotations

import time
from collections import Counter

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import FaultRule

from .conftest import ENTITIES, FAST, SUMMARY, RecordingSleep, crawl, make_client, plain, rows

SEEDS = list(range(1, 11))
STATUS_5XX = (500, 502, 503, 504)
OK_STATUSES = {"ok", "empty"}


def transient_faults(status: int) -> str:
    return ";".join([
        "first1:drop@/organizations",
        f"first1:{status}@/users",
        "first1:429,retry=1@/environments",
        "first1:slow,ms=150@/services/*/*/instances",
        f"{status}:0.1",
        "429:0.05,retry=1",
        "drop:0.02",
        "slow:0.05,ms=150",
    ])


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed-{s}" for s in SEEDS])
def test_transient_faults_leave_every_frame_equal_to_a_fault_free_crawl(seed):
    status = STATUS_5XX[seed % len(STATUS_5XX)]
    with cmf.sandbox(orgs=12, seed=seed) as sb:
        expected = crawl(sb.client())
        sb.requests.clear()
        sb.faults.add(transient_faults(status))
        sleep = RecordingSleep()
        client = make_client(sb, sleep=sleep, page_size=10, read_timeout=5, **FAST)
        got = crawl(client)
        served = sb.requests.snapshot()

    for name in ENTITIES:
        pd.testing.assert_frame_equal(got[name], expected[name], obj=f"{name} (seed {seed})")
    assert client.issues.empty, client.issues[["entity", "message"]].to_string()
    assert set(client.coverage["status"].astype(str)) <= OK_STATUSES

    kinds = Counter(label for r in served if r.fault for label in r.fault.split(","))
    assert kinds["drop"] >= 1 and kinds[f"status:{status}"] >= 1
    assert kinds["rate_limit"] >= 1 and kinds["slow_body"] >= 1
    failed = [r for r in served if r.status in (0, 429) or r.status >= 500]
    assert len(failed) == kinds["drop"] + kinds[f"status:{status}"] + kinds["rate_limit"]
    # every failed attempt was retried exactly once, and nothing else was
    assert client.stats["retries"] == len(failed)
    assert client.stats["sent"] == len(served) - kinds["drop"]
    # Retry-After: 1 paused its scope for every thread once per 429, and the thread that got it
    # waited at least that long (other waits are backoff, the rest of a pause, or the throttle's pace)
    assert client.throttle.stats["pauses"] == kinds["rate_limit"]
    assert sum(s >= 1.0 for s in sleep.calls) >= kinds["rate_limit"]

    SUMMARY["fault matrix: seeds"] += 1
    SUMMARY["fault matrix: crawls run"] += 2
    SUMMARY["fault matrix: requests served"] += len(served)
    SUMMARY["fault matrix: faults injected"] += len(failed) + kinds["slow_body"]
    SUMMARY["fault matrix: rows expected"] += rows(expected)
    SUMMARY["fault matrix: rows returned"] += rows(got)


# -- permanent faults ------------------------------------------------------------------------------

def _pick_scopes(sb, orgs: pd.DataFrame, envs: pd.DataFrame, users: pd.DataFrame):
    """A forbidden sub-organization X (with users and environments), an environment E of another
    organization that always answers HTML 502, and an organization Y whose /users always hangs."""
    with_envs = set(envs["organization_id"].astype(str))
    with_users = set(users["organization_id"].astype(str))
    candidates = orgs[(orgs["depth"] >= 1) & orgs["id"].isin(with_envs & with_users)]
    forbidden = candidates.iloc[0]
    others = envs[(envs["organization_id"] != forbidden["id"]) & (envs["service_code"] == "compute-qc")]
    html_env = others.iloc[0]
    hanging = orgs[~orgs["id"].isin({forbidden["id"], html_env["organization_id"]})
                   & orgs["id"].isin(with_users)].iloc[0]
    return forbidden, html_env, hanging


def _issue_keys(issues: pd.DataFrame) -> set[tuple]:
    return {(r.accessor, r.organization_id, None if pd.isna(r.environment) else r.environment,
             r.entity, r.exception, None if pd.isna(r.status) else int(r.status))
            for r in issues.astype(object).itertuples()}


def _scope_keys(coverage: pd.DataFrame) -> set[tuple]:
    return {(r.accessor, r.organization_id, None if pd.isna(r.environment) else r.environment, r.entity)
            for r in coverage.astype(object).itertuples()}


def test_permanent_faults_are_named_exactly_and_everything_else_is_read():
    with cmf.sandbox(orgs=12, seed=4) as sb:
        baseline_client = sb.client()
        expected = crawl(baseline_client)
        forbidden, env, hanging = _pick_scopes(sb, expected["organizations"], expected["environments"],
                                               expected["users"])
        x, y, z = forbidden["id"], hanging["id"], env["organization_id"]
        code, name = env["service_code"], env["name"]
        sb.faults.add(FaultRule("status", status=403, org_id=x))
        sb.faults.add(FaultRule("html", status=502, path=f"/services/{code}/{name}/*", org_id=z))
        sb.faults.add(FaultRule("latency", path="/users", org_id=y, latency_ms=5000))
        sb.faults.add("503:0.03")  # and a little transient noise on top
        client = make_client(sb, read_timeout=0.5, retries=3, backoff_factor=0.01, backoff_max=0.02)
        calls = {}
        for entity in ENTITIES:
            before = len(client.ledger.snapshot()[0]), len(client.coverage)
            frame = getattr(cmf, entity)(client)
            issues, coverage = client.issues.iloc[before[0]:], client.coverage.iloc[before[1]:]
            calls[entity] = (frame, issues, coverage)

    lost_envs = expected["environments"]["organization_id"] == x
    lost_env_names = {(x, n) for n in expected["environments"].loc[lost_envs, "name"]}

    expected_rows = len(expected["organizations"])  # rows the faults leave readable
    # organizations: untouched
    pd.testing.assert_frame_equal(calls["organizations"][0], expected["organizations"])
    assert calls["organizations"][1].empty

    # users: everything but X (forbidden) and Y (hangs)
    frame, issues, coverage = calls["users"]
    keep = ~expected["users"]["organization_id"].isin([x, y])
    pd.testing.assert_frame_equal(plain(frame), plain(expected["users"][keep]))
    expected_rows += int(keep.sum())
    assert _issue_keys(issues) == {("users", x, None, "users", "PermissionDeniedError", 403),
                                   ("users", y, None, "users", "RequestTimeout", None)}
    status = dict(zip(coverage["organization_id"], coverage["status"].astype(str), strict=True))
    assert status.pop(x) == "forbidden" and status.pop(y) == "error"
    assert set(status.values()) <= OK_STATUSES
    assert len(coverage) == len(expected["organizations"])

    # environments: everything but X's
    frame, issues, coverage = calls["environments"]
    pd.testing.assert_frame_equal(plain(frame), plain(expected["environments"][~lost_envs]))
    expected_rows += int((~lost_envs).sum())
    assert _issue_keys(issues) == {("environments", x, None, "environments", "PermissionDeniedError", 403)}

    baseline_coverage = baseline_client.coverage
    for entity in ("instances", "volumes"):
        frame, issues, coverage = calls[entity]
        gone = expected[entity]["organization_id"].isin([x]) | (
            (expected[entity]["organization_id"] == z) & (expected[entity]["environment_name"] == name))
        assert gone.sum() > 0
        pd.testing.assert_frame_equal(plain(frame), plain(expected[entity][~gone]), obj=entity)
        expected_rows += int((~gone).sum())
        html = issues[issues["environment"] == name]
        assert _issue_keys(issues) == {
            ("resources", x, None, "environments", "PermissionDeniedError", 403),
            ("resources", z, name, entity, "ResponseFormatError", 502)}
        assert html["attempts"].tolist() == [4] and "HTML page" in html["message"].iloc[0]
        # coverage names every scope the fault-free crawl read, except the environments of X
        # (which nobody could list), and only the two failed ones are not ok
        base = baseline_coverage[baseline_coverage["call_id"] == baseline_coverage["call_id"][
            baseline_coverage["entity"] == entity].iloc[0]]
        want = {k for k in _scope_keys(base) if (k[1], k[2]) not in lost_env_names}
        assert _scope_keys(coverage) == want
        bad = coverage[~coverage["status"].astype(str).isin(OK_STATUSES)]
        got = zip(bad["organization_id"], bad["environment"].astype(object).fillna("-"),
                  bad["status"].astype(str), strict=True)
        assert sorted(got) == sorted([(x, "-", "forbidden"), (z, name, "error")])

    SUMMARY["permanent faults: crawls run"] += 2
    SUMMARY["permanent faults: issues recorded"] += len(client.issues)
    SUMMARY["permanent faults: rows expected"] += expected_rows
    SUMMARY["permanent faults: rows returned"] += sum(len(calls[e][0]) for e in ENTITIES)


# -- nothing hangs -------------------------------------------------------------------------------

@pytest.mark.parametrize("accessor", ["users", "environments", "instances", "volumes"])
def test_a_crawl_whose_every_request_hangs_ends_within_its_timeout(accessor):
    """Default client settings (30 s reads, 4 retries): only the call's timeout= bounds it."""
    with cmf.sandbox(orgs=12, seed=2) as sb:
        client = sb.client()
        sb.faults.add(FaultRule("latency", latency_ms=20_000))
        started = time.monotonic()
        with pytest.raises(cmf.CloudMCError) as info:
            getattr(cmf, accessor)(client, timeout=1.0)
        elapsed = time.monotonic() - started
    assert elapsed < 1.6, f"{accessor}(timeout=1.0) took {elapsed:.1f} s"
    assert isinstance(info.value, cmf.CrawlTimeoutError)
    assert "/organizations" in str(info.value) and "larger timeout=" in str(info.value)


def test_a_warm_crawl_whose_every_request_hangs_ends_on_time_and_accounts_for_every_scope():
    with cmf.sandbox(orgs=12, seed=2) as sb:
        client = sb.client()
        envs = cmf.environments(client)  # the tree and the environment lists are now in memory
        live_envs = envs[~envs["deleted"].fillna(False)]
        sb.faults.add(FaultRule("latency", latency_ms=20_000))
        client.ledger.clear()
        started = time.monotonic()
        vms = cmf.instances(client, timeout=1.0)
        disks = cmf.volumes(client, timeout=1.0)
        elapsed = time.monotonic() - started
    assert elapsed < 2.8, f"two calls with timeout=1.0 took {elapsed:.1f} s"
    assert len(vms) == 0 and len(disks) == 0
    coverage = client.coverage
    assert (coverage["from_cache"] == (coverage["entity"].isin(["environments",
                                                                "service_connections"]))).all()
    read = coverage[coverage["entity"].isin(["instances", "volumes"])]
    assert len(read) == 2 * len(live_envs)  # every environment is accounted for, twice
    assert set(read["status"].astype(str)) <= {"skipped", "error"}
    assert len(client.issues) == len(read)
    assert set(client.issues["exception"].astype(str)) <= {"CrawlTimeoutError", "RequestTimeout"}


def test_replies_that_trickle_in_forever_do_not_outlast_the_timeout():
    """A body that keeps arriving in small pieces never trips a read timeout (each read gets
    bytes); the call's timeout= must still bound it."""
    with cmf.sandbox(orgs=12, seed=2) as sb:
        client = sb.client()
        cmf.environments(client)  # tree and environments in memory: only resource reads remain
        sb.faults.add(FaultRule("slow_body", latency_ms=6000))  # 20 pieces, one every 0.3 s
        started = time.monotonic()
        vms = cmf.instances(client, timeout=1.0)
        elapsed = time.monotonic() - started
    assert elapsed < 1.6, f"instances(timeout=1.0) took {elapsed:.1f} s"
    assert len(vms) == 0
    issues = client.issues
    assert len(issues) == len(client.coverage[client.coverage["entity"] == "instances"])
    assert set(issues["exception"].astype(str)) <= {"CrawlTimeoutError"}
    assert issues["message"].str.contains("timeout=").all()

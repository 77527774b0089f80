"""The rate-limit mode: token buckets per key and organization, the spec, and 429/503 over HTTP."""
import email.utils

import pytest
import requests

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import RateLimit, RateLimiter, parse_rate_limit

from .conftest import error_of, make_server


class Clock:
    def __init__(self, now=500.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def limiter(spec, clock):
    return RateLimiter(spec, clock=clock, wall=lambda: 1_700_000_000.0 + clock.now)


# ------------------------------------------------------------------ the spec
def test_parse_the_documented_examples():
    assert parse_rate_limit("key=50") == RateLimit(per_key=50)
    assert parse_rate_limit("key=50,org:abc=2,retry=date") == RateLimit(per_key=50, orgs=(("abc", 2),),
                                                                         retry="date")
    assert parse_rate_limit("org=5,answer=503,retry=none,burst=0.5") == RateLimit(
        per_org=5, answer=503, retry="none", burst=0.5)
    assert parse_rate_limit("") is None and parse_rate_limit(None) is None


@pytest.mark.parametrize("spec, fragment", [
    ("key", "must be name=value"),
    ("key=fast", "'fast' is not a number"),
    ("speed=5", "unknown name 'speed'"),
    ("key=0", "must be positive"),
    ("key=5,answer=500", "answer must be 429 or 503"),
    ("key=5,retry=soon", "retry must be one of"),
    ("key=5,burst=0", "burst must be a positive"),
], ids=["no-value", "not-a-number", "unknown", "zero-rate", "answer", "retry", "burst"])
def test_bad_specs_name_what_is_wrong(spec, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")):
        parse_rate_limit(spec)


# ------------------------------------------------------------------ the buckets
def test_a_key_bucket_holds_burst_seconds_of_its_rate_and_refills(clock):
    rl = limiter("key=4", clock)
    verdicts = [rl.check("k1", "o1") for _ in range(6)]
    assert verdicts[:4] == [None] * 4
    refused = verdicts[4]
    assert (refused.status, refused.which, refused.headers) == (429, "key", {"Retry-After": "1"})
    error = refused.body["errors"][0]
    assert error["code"] == 9429 and "4 requests per second" in error["message"]
    assert rl.check("k2", "o1") is None  # another key has its own bucket
    clock.now += 0.25
    assert rl.check("k1", "o1") is None and rl.check("k1", "o1") is not None


def test_an_organization_bucket_limits_that_organization_only(clock):
    rl = limiter("key=100,org:slow=1", clock)
    assert rl.check("k", "slow") is None
    refused = rl.check("k", "slow")
    assert refused.which == "org" and refused.headers == {"Retry-After": "1"}
    assert all(rl.check("k", "fast") is None for _ in range(50))


def test_a_refused_request_takes_no_token(clock):
    rl = limiter("key=3,org:slow=1", clock)
    assert rl.check("k", "slow") is None
    for _ in range(10):
        assert rl.check("k", "slow").which == "org"
    assert [rl.check("k", "other") for _ in range(2)] == [None, None]  # the key still had both
    assert rl.check("k", "other").which == "key"


def test_every_organization_gets_its_own_bucket_with_org(clock):
    rl = limiter("org=2", clock)
    assert [rl.check("k", "a") is None for _ in range(3)] == [True, True, False]
    assert [rl.check("k", "b") is None for _ in range(3)] == [True, True, False]


def test_retry_after_rounds_the_wait_up_to_whole_seconds(clock):
    rl = limiter("key=0.25", clock)
    assert rl.check("k", None) is None
    assert rl.check("k", None).headers == {"Retry-After": "4"}


def test_retry_after_as_an_http_date_is_never_before_the_token_is_back(clock):
    rl = limiter("key=0.5,retry=date", clock)
    rl.check("k", None)
    header = rl.check("k", None).headers["Retry-After"]
    when = email.utils.parsedate_to_datetime(header).timestamp()
    assert 1_700_000_000.0 + clock.now + 2.0 <= when <= 1_700_000_000.0 + clock.now + 3.0


def test_503_without_retry_after(clock):
    rl = limiter("key=1,answer=503,retry=none", clock)
    rl.check("k", None)
    refused = rl.check("k", None)
    assert (refused.status, refused.headers) == (503, {})
    assert refused.body["errors"][0]["code"] == 9503


def test_counts_per_second_and_per_organization(clock):
    rl = limiter("key=2", clock)
    for _ in range(3):
        rl.check("k", "a")
    clock.now += 1.5
    rl.check("k", "b")
    stats = rl.stats()
    assert stats["seconds"] == [(0, 2, 1), (1, 1, 0)]
    assert stats["orgs"] == {"a": (2, 1), "b": (1, 0)} and stats["span"] == 1.5
    rl.set(None)
    assert rl.check("k", "a") is None and rl.stats() == {"seconds": [], "orgs": {}, "span": 0.0}


# ------------------------------------------------------------------ over HTTP
def test_the_server_answers_429_with_the_envelope_once_the_bucket_is_empty():
    srv = make_server(rate_limit="key=5")
    try:
        session = requests.Session()
        url = srv.endpoint + "/api/v2/users"
        replies = [session.get(url, headers={"MC-Api-Key": srv.api_key}, timeout=10) for _ in range(12)]
        statuses = [r.status_code for r in replies]
        assert statuses[:5] == [200] * 5 and set(statuses[5:]) <= {200, 429} and 429 in statuses
        refused = next(r for r in replies if r.status_code == 429)
        assert refused.headers["Retry-After"] == "1" and error_of(refused)["code"] == 9429
        assert any(r.fault == "throttled:key" and r.status == 429 for r in srv.requests.snapshot())
        srv.rate_limits.set(None)
        assert session.get(url, headers={"MC-Api-Key": srv.api_key}, timeout=10).status_code == 200
    finally:
        srv.stop()


def test_faults_are_decided_before_the_rate_limit_and_take_no_token():
    srv = make_server(rate_limit="key=2", faults="first3:500@/users")
    try:
        session = requests.Session()

        def get(path):
            return session.get(srv.endpoint + "/api/v2" + path, headers={"MC-Api-Key": srv.api_key},
                               timeout=10).status_code

        assert [get("/users") for _ in range(3)] == [500, 500, 500]
        assert [get("/users"), get("/users"), get("/users")] == [200, 200, 429]
    finally:
        srv.stop()


def test_cmf_sandbox_takes_the_rate_limit_too():
    with cmf.sandbox(orgs=3, rate_limit="org=50,answer=503") as sb:
        assert sb.rate_limits.limit == RateLimit(per_org=50, answer=503)

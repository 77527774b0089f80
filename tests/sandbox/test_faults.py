"""Fault injection: the mini-language, the seeded decisions, and every kind over real HTTP."""
import http.client
import json
import time

import pytest
import requests

from cloudmc_frames.sandbox import FaultRule, parse_faults
from cloudmc_frames.sandbox.faults import FaultSet

from .conftest import Api, make_server


# ------------------------------------------------------------------ parsing
def test_parse_the_documented_example():
    rules = parse_faults("500:0.1@/services/*;429:0.05;drop:0.02;html@/users;latency:20+5;"
                         "first3:503@/organizations")
    assert rules == [
        FaultRule("status", path="/services/*", status=500, rate=0.1),
        FaultRule("rate_limit", rate=0.05),
        FaultRule("drop", rate=0.02),
        FaultRule("html", path="/users"),
        FaultRule("latency", latency_ms=20, jitter_ms=5),
        FaultRule("status", path="/organizations", status=503, first_n=3),
    ]


def test_parse_options():
    rule, = parse_faults("slow,ms=300,method=get,org=abc,retry=2@/services/*/dev/*")
    assert rule == FaultRule("slow_body", path="/services/*/dev/*", org_id="abc", method="GET",
                             latency_ms=300,
                             retry_after=2)
    assert parse_faults("") == [] and parse_faults(None) == []
    assert parse_faults("malformed:0.5;rate_limit,retry=3")[1].retry_after == 3


@pytest.mark.parametrize("spec,fragment", [
    ("explode", "unknown fault kind 'explode'"),
    ("500:lots", "rate 'lots' is not a number"),
    ("500:1.5", "rate must be in (0, 1]"),
    ("200", "not a 4xx/5xx status"),
    ("latency", "latency needs MS"),
    ("html@", "empty path"),
    ("drop,when=now", "unknown option 'when'"),
    ("drop,org", "must be key=value"),
    ("firstx:503", "first count 'x'"),
    ("first3", "must be followed by ':'"),
])
def test_bad_specs_name_the_token(spec, fragment):
    with pytest.raises(ValueError) as info:
        parse_faults("500:0.1;" + spec)
    assert repr(spec) in str(info.value) and fragment in str(info.value)


def test_rule_validation():
    with pytest.raises(ValueError):
        FaultRule("nope")
    with pytest.raises(ValueError):
        FaultRule("status", rate=0)
    with pytest.raises(ValueError):
        FaultRule("status", first_n=0)


# ---------------------------------------------------------------- decisions
def test_seeded_rates_are_reproducible():
    def run(seed):
        faults = FaultSet([FaultRule("status", rate=0.5)], seed=seed)
        return [faults.decide("GET", "/users", None).rule is not None for _ in range(200)]
    assert run(1) == run(1) and run(1) != run(2)
    assert 60 < sum(run(1)) < 140


def test_first_n_targeting_and_latency_sum():
    faults = FaultSet([FaultRule("latency", latency_ms=10), FaultRule("latency", path="/users", latency_ms=5),
                       FaultRule("status", path="/users", status=503, first_n=2, method="GET", org_id="o1")])
    hits = [faults.decide("GET", "/users", "o1").rule for _ in range(3)]
    assert [h is not None for h in hits] == [True, True, False]
    assert faults.decide("GET", "/users", "o2").rule is None
    assert faults.decide("POST", "/users", "o1").rule is None
    decision = faults.decide("GET", "/users", "o1")
    assert decision.delay == pytest.approx(0.015) and decision.labels == ("latency", "latency")
    faults.clear()
    assert faults.rules == [] and faults.decide("GET", "/users", "o1").delay == 0


# --------------------------------------------------------------- over HTTP
@pytest.fixture(scope="module")
def fsrv():
    """A sandbox for fault tests."""
    srv = make_server()
    yield srv
    srv.stop()


@pytest.fixture
def fapi(fsrv):
    """HTTP helper; faults and the request log are reset around each test."""
    fsrv.faults.clear()
    fsrv.requests.clear()
    yield Api(fsrv)
    fsrv.faults.clear()


def test_first_n_status_then_success(fsrv, fapi):
    fsrv.faults.add(FaultRule("status", path="/users", status=503, first_n=2))
    codes = [fapi.get("/users").status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert [r.fault for r in fsrv.requests.snapshot()] == ["status:503", "status:503", None]
    assert fapi.get("/organizations").status_code == 200


def test_status_envelope(fsrv, fapi):
    fsrv.faults.add("500@/roles")
    response = fapi.get("/roles")
    assert response.status_code == 500
    assert response.json()["errors"][0]["code"] == 9500


def test_rate_limit_has_retry_after(fsrv, fapi):
    fsrv.faults.add("429,retry=2@/users")
    response = fapi.get("/users")
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert response.json()["errors"][0]["code"] == 9429


def test_malformed_body(fsrv, fapi):
    fsrv.faults.add(FaultRule("malformed", path="/organizations"))
    response = fapi.get("/organizations")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.content)
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_html_proxy_page(fsrv, fapi):
    fsrv.faults.add("html@/users")
    response = fapi.get("/users")
    assert response.status_code == 502 and response.headers["Content-Type"] == "text/html"
    assert "<center>nginx</center>" in response.text and "502 Bad Gateway" in response.text


def test_slow_body(fsrv, fapi):
    fsrv.faults.add(FaultRule("slow_body", path="/organizations", latency_ms=400))
    conn = http.client.HTTPConnection("127.0.0.1", int(fsrv.endpoint.rsplit(":", 1)[1]), timeout=5)
    begin = time.perf_counter()
    conn.request("GET", "/api/v2/organizations", headers={"MC-Api-Key": fsrv.api_key})
    response = conn.getresponse()
    headers_at = time.perf_counter() - begin
    body = response.read()
    total = time.perf_counter() - begin
    conn.close()
    assert response.status == 200 and json.loads(body)["data"]
    assert headers_at < 0.3 and total >= 0.35


def test_drop_resets_the_connection(fsrv, fapi):
    fsrv.faults.add("drop@/users")
    with pytest.raises(requests.ConnectionError):
        fapi.get("/users")
    record = fsrv.requests.snapshot()[-1]
    assert record.status == 0 and record.fault == "drop"
    assert fapi.get("/organizations").status_code == 200


def test_latency_rule(fsrv, fapi):
    fsrv.faults.add("latency:120@/roles")
    begin = time.perf_counter()
    assert fapi.get("/roles").status_code == 200
    assert time.perf_counter() - begin >= 0.12


def test_path_targeting(fsrv, fapi):
    fsrv.faults.add("503@/services/*/dev/*")
    assert fapi.get("/services/gcp-lab/dev/instances").status_code == 503
    assert fapi.get("/services/compute-qc/prod/instances").status_code == 200


def test_org_targeting(fsrv, fapi):
    store = fsrv.store
    child = store.children[store.root_id][0]
    fsrv.faults.add(FaultRule("status", status=403, org_id=child))
    assert fapi.get("/users", params={"org_id": child}).status_code == 403
    assert fapi.get("/users").status_code == 200
    assert fsrv.requests.snapshot()[0].org_id == child


def test_faults_from_the_constructor_and_global_latency():
    with make_server(orgs=3, faults="first1:500@/roles", latency_ms=60) as srv:
        api = Api(srv)
        assert api.get("/roles").status_code == 500
        begin = time.perf_counter()
        assert api.get("/roles").status_code == 200
        assert time.perf_counter() - begin >= 0.06

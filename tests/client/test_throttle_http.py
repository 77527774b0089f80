"""The client and its throttle over real HTTP (scripted server, fake sleep): cache hits are free,
a 400 is never congestion, a long Retry-After defers the scope without sending more."""

from __future__ import annotations

import pytest

from cloudmc_frames import errors as E
from tests.support.scripted import Reply

OK = Reply(200, {"data": [{"id": "a"}]})
RATE = {"errors": [{"code": 429, "message": "slow down"}]}


def test_cache_hits_never_use_up_the_pace(server, make_client, fake_sleep):
    server.route("/users", [OK])
    paced = make_client(max_requests_per_second=2, cache_backend="sqlite")
    for org in ("o1", "o2", "o3"):
        paced.get("/users", org_id=org)
    assert fake_sleep.calls == pytest.approx([0.5, 0.5])  # three sent, two waits for the pace
    for org in ("o1", "o2", "o3"):
        paced.get("/users", org_id=org)  # from the client's memory
    paced.flush()
    again = make_client(max_requests_per_second=2, cache_backend="sqlite")
    for org in ("o1", "o2", "o3"):
        again.get("/users", org_id=org)  # from requests-cache's SQLite file
    assert server.hits["/api/v2/users"] == 3 and again.stats["cache_hits"] == 3
    assert fake_sleep.calls == pytest.approx([0.5, 0.5])


def test_a_400_is_never_congestion(server, make_client, fake_sleep):
    server.route("/users", [Reply(400, {"errors": [{"code": 9415, "message": "quota exceeded"}]},
                                  {"Retry-After": "30"})])
    client = make_client()
    for _ in range(20):
        with pytest.raises(E.ValidationError):
            client.get("/users", org_id="o1")
    assert server.hits["/api/v2/users"] == 20 and fake_sleep.calls == []
    assert client.throttle.stats["signals"] == 0 and client.throttle.pause_left("o1") == 0.0


def test_congestion_without_retry_after_slows_the_scope_down(server, make_client, fake_sleep):
    server.route("/users", [OK] * 10 + [Reply(503, {"errors": [{"code": 1, "message": "busy"}]}), OK])
    client = make_client()
    for _ in range(11):
        client.get("/users", org_id="o1", fresh=True)
    assert client.throttle.stats["decreases"] == 1 and server.hits["/api/v2/users"] == 12
    rates = {g["scope"]: g["rate"] for g in client.throttle.snapshot()}
    assert rates["organization o1"] is not None and rates["client"] is None


def test_a_retry_after_beyond_the_cap_defers_the_scope_and_sends_nothing_more(server, make_client,
                                                                           fake_sleep):
    server.route("/users", lambda seen: Reply(429, RATE, {"Retry-After": "3600"})
                 if seen.query.get("org_id") == "slow" else OK)
    client = make_client(max_retry_after=60, retry_budget=10_000)
    with pytest.raises(E.DeferredError) as info:
        client.get("/users", org_id="slow")
    assert info.value.status == 429 and info.value.retry_after == pytest.approx(3600)
    assert "asked to wait 3600 s" in str(info.value) and "max_retry_after=60" in str(info.value)
    with pytest.raises(E.DeferredError, match="not sent") as again:
        client.get("/users", {"page": 2}, org_id="slow")
    assert again.value.status is None and again.value.retry_after > 3500
    assert client.get("/users", org_id="fast") == [{"id": "a"}]
    assert server.hits["/api/v2/users"] == 2 and fake_sleep.calls == []

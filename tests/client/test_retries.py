"""Retries: which failures, how long to wait, when to stop (fake sleep, real HTTP)."""

import email.utils
import time

import pytest

from cloudmc_frames import errors as E
from tests.support.scripted import Reply

OK = Reply(200, {"data": [{"id": "a"}]})
RATE = {"errors": [{"code": 429, "message": "slow down"}]}


@pytest.mark.parametrize("failure", [
    Reply(503, {"errors": [{"code": 1, "message": "busy"}]}),
    Reply(502, "<html>bad gateway</html>", {"Content-Type": "text/html"}),
    Reply(500, {"errors": [{"code": 1, "message": "oops"}]}),
    Reply(504, ""),
    Reply(200, '{"data": [{"id": '),
    Reply(drop=True),
], ids=["503", "html-502", "500", "504-empty", "truncated-200", "dropped"])
def test_transient_failures_are_retried_then_succeed(server, make_client, fake_sleep, failure):
    server.route("/users", [failure, failure, OK])
    client = make_client(retries=3)
    assert client.get("/users") == [{"id": "a"}]
    assert server.hits["/api/v2/users"] == 3
    assert len(fake_sleep.calls) == 2 and client.stats["retries"] == 2


def test_backoff_grows_with_jitter_and_is_capped(server, make_client, fake_sleep):
    server.route("/users", [Reply(503, {"errors": []})] * 6 + [OK])
    make_client(retries=6, backoff_factor=1.0, backoff_max=4.0, retry_budget=1000).get("/users")
    for n, delay in enumerate(fake_sleep.calls, start=1):
        ceiling = min(4.0, 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling


def test_retry_after_seconds_is_honoured_with_positive_jitter(server, make_client, fake_sleep):
    server.route("/users", [Reply(429, RATE, {"Retry-After": "7"}), OK])
    make_client().get("/users")
    assert len(fake_sleep.calls) == 1 and 7.0 <= fake_sleep.calls[0] <= 7.0 * 1.2


def test_retry_after_http_date_is_honoured(server, make_client, fake_sleep):
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    server.route("/users", [Reply(429, RATE, {"Retry-After": when}), OK])
    make_client(retry_budget=100).get("/users")
    assert len(fake_sleep.calls) == 1 and 15 <= fake_sleep.calls[0] <= 21 * 1.2


def test_retry_after_beyond_the_budget_gives_up_at_once(server, make_client, fake_sleep):
    server.route("/users", [Reply(429, RATE, {"Retry-After": "3600"}), OK])
    with pytest.raises(E.RateLimitError) as info:
        make_client(retry_budget=60).get("/users")
    assert info.value.retry_after == pytest.approx(3600) and fake_sleep.calls == []


def test_permanent_failure_ends_after_the_attempts_without_a_last_sleep(server, make_client, fake_sleep):
    server.route("/users", [Reply(500, {"errors": [{"code": 9, "message": "down"}]})])
    with pytest.raises(E.ServerError) as info:
        make_client(retries=3, retry_budget=1000).get("/users")
    assert server.hits["/api/v2/users"] == 4 and len(fake_sleep.calls) == 3
    assert info.value.attempts == 4 and "after 4 attempts" in str(info.value)


def test_retry_budget_bounds_total_time(server, make_client, fake_sleep):
    server.route("/users", [Reply(503, {"errors": []})])
    with pytest.raises(E.ServerError):
        make_client(retries=50, backoff_factor=1.0, backoff_max=10, retry_budget=20).get("/users")
    assert sum(fake_sleep.calls) <= 20


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405])
def test_client_errors_are_not_retried(server, make_client, fake_sleep, status):
    server.route("/users", [Reply(status, {"errors": [{"code": 1, "message": "no"}]})])
    with pytest.raises(E.ApiError):
        make_client().get("/users")
    assert server.hits["/api/v2/users"] == 1 and fake_sleep.calls == []


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_writes_are_never_retried(server, make_client, fake_sleep, method):
    server.route("/services/c/e/instances/i1", [Reply(503, {"errors": []}), OK])
    with pytest.raises(E.ServerError):
        getattr(make_client(), method)("/services/c/e/instances/i1")
    assert server.hits["/api/v2/services/c/e/instances/i1"] == 1 and fake_sleep.calls == []


def test_read_timeout_is_a_request_timeout_and_retried(server, make_client, fake_sleep):
    server.route("/users", [Reply(200, {"data": []}, delay=0.6)])
    with pytest.raises(E.RequestTimeout) as info:
        make_client(read_timeout=0.15, retries=1).get("/users")
    assert server.hits["/api/v2/users"] == 2 and info.value.retryable
    assert "0.15" in str(info.value)


def test_connection_refused_is_a_transport_error(make_client):
    client = make_client(endpoint="http://127.0.0.1:9", retries=1)
    with pytest.raises(E.EndpointUnreachableError, match="connection refused") as info:
        client.get("/users")
    assert isinstance(info.value, E.TransportError)
    assert info.value.attempts == 1 and "HTTPConnectionPool" not in str(info.value)  # never answered


def test_task_polls_are_retried(server, make_client):
    server.route("/tasks/t1", [Reply(503, {"errors": []}),
                               Reply(200, {"taskId": "t1", "taskStatus": "SUCCESS"})])
    assert make_client().poll_task("t1")["taskStatus"] == "SUCCESS"

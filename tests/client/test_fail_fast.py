"""Failing fast when nothing can succeed: a host that does not resolve or refuses connections.

Before the endpoint ever answered, the first request ends the call at once with one
EndpointUnreachableError (no retries, no sleeps, even when the crawl collects errors); once it
answered, a refused connection is a transient fault and is retried.
"""

from __future__ import annotations

import socket

import pytest

import cloudmc_frames as cmf
from cloudmc_frames.client import Client
from cloudmc_frames.config import Settings
from tests.support.fakes import FakeSleep

KEY = "k" * 32


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client_of(endpoint: str, fake: FakeSleep, key: str = KEY, **options) -> Client:
    settings = Settings.from_options(endpoint, **{"cache_backend": "memory", "allow_insecure": True,
                                                  **options})
    return Client(settings, key, sleep=fake, clock=fake.clock)


@pytest.mark.parametrize("endpoint", [lambda: f"http://127.0.0.1:{closed_port()}",
                                      lambda: "http://no-such-host.invalid"],
                         ids=["connection refused", "name does not resolve"])
def test_the_first_request_ends_the_call_at_once(endpoint):
    fake = FakeSleep()
    with client_of(endpoint(), fake) as client, pytest.raises(cmf.EndpointUnreachableError) as caught:
        cmf.users(client)  # errors="collect": still one error, not an issue per scope
    assert fake.calls == [] and caught.value.attempts == 1
    assert "The endpoint is wrong or CloudMC is down" in str(caught.value)
    assert client.stats["retries"] == 0


def test_a_crawl_from_the_cache_ends_at_the_first_unreachable_scope(tmp_path):
    """The tree comes from the cache, the endpoint never answered this client: one error."""
    fake = FakeSleep()
    with cmf.sandbox(orgs=4) as sb:
        endpoint, key = sb.endpoint, sb.api_key
        with cmf.connect(endpoint, key, cache_dir=str(tmp_path)) as warm:
            cmf.organizations(warm)
    settings = Settings.from_options(endpoint, cache_dir=str(tmp_path))
    with Client(settings, key, sleep=fake, clock=fake.clock) as client, \
            pytest.raises(cmf.EndpointUnreachableError):
        cmf.users(client)
    assert fake.calls == [] and not client.answered


def test_a_server_that_answered_before_is_retried(tmp_path):
    fake = FakeSleep()
    with cmf.sandbox(orgs=4) as sb:
        client = client_of(sb.endpoint, fake, sb.api_key, retries=2)
        orgs = cmf.organizations(client)
    assert client.answered
    with client:
        users = cmf.users(client, orgs=orgs)  # the tree from memory; users: issues, after retries
    assert users.empty and len(client.issues) == len(orgs)
    assert set(client.issues["exception"]) == {"EndpointUnreachableError"}
    assert len(fake.calls) == 2 * len(orgs)

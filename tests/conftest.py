"""Shared test set-up: isolation from the user's config, and the sandboxes tests talk to.

One sandbox per profile (:data:`tests.support.sandboxes.PROFILES`), each started on
127.0.0.1 at a free port and stopped when its scope ends:

* ``sb`` (session): the demo's scenario (orgs=20, seed=7), read-only: no writes, no faults.
  Accessor, report, sandbox, CLI and notebook tests read it.
* ``small_sb`` (session): orgs=12, seed=5, read-only, for the reliability suite's crawls.
* ``writable_sb`` (module): orgs=3, seed=7, a new one per test module, for tests that act on
  resources (operations, widgets); ``picker`` hands out each of its resources once.

A test that injects faults starts a private one with ``start_sandbox(profile, **options)``.
``redis_server`` (session) is a private redis-server on a unix socket in a temp folder, started on
first use (skipped locally without ``redis-server``, failed in CI); ``redis_url`` empties it.
"""

from __future__ import annotations

import logging

import matplotlib
import pytest

import cloudmc_frames as cmf
from tests.support.redis_server import RedisServer
from tests.support.sandboxes import PROFILES, Picker

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """No CLOUDMC_* from the developer's shell; caches under the test's temp folder."""
    for name in ("CLOUDMC_ENDPOINT", "CLOUDMC_API_KEY", "CLOUDMC_CACHE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDMC_CACHE_DIR", str(tmp_path / "cache"))
    logging.getLogger("cloudmc_frames").setLevel(logging.INFO)


@pytest.fixture(scope="session")
def sb():
    """The shared read-only sandbox of the default profile (the demo's scenario)."""
    with cmf.sandbox(**PROFILES["default"]) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def small_sb():
    """The shared read-only sandbox of the small profile (reliability crawls)."""
    with cmf.sandbox(**PROFILES["small"]) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def writable_sb():
    """A writable sandbox of its own for each test module that acts on resources."""
    with cmf.sandbox(**PROFILES["writable"]) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def picker(writable_sb):
    """Hands out the writable sandbox's resources once each (see :class:`Picker`)."""
    return Picker(writable_sb)


@pytest.fixture
def start_sandbox():
    """A factory of private sandboxes: ``start_sandbox("default", faults=...)``; each stops after the test."""
    started = []

    def start(profile: str = "default", **options) -> cmf.Sandbox:
        sandbox = cmf.sandbox(**{**PROFILES[profile], **options}).start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A redis-server of this run's own: skipped locally without ``redis-server``, failed in CI."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server):
    """The run's Redis, emptied for this test, as a ``unix://`` URL."""
    redis_server.connection().flushall()
    return redis_server.url

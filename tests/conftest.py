"""Shared test set-up: no real user config leaks in, every cache lives in a temp folder; one private
redis-server for the run (a unix socket in a temp folder, started on first use)."""

from __future__ import annotations

import logging

import matplotlib
import pytest

from tests.support.redis_server import RedisServer

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """No CLOUDMC_* from the developer's shell; caches under the test's temp folder."""
    for name in ("CLOUDMC_ENDPOINT", "CLOUDMC_API_KEY", "CLOUDMC_CACHE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDMC_CACHE_DIR", str(tmp_path / "cache"))
    logging.getLogger("cloudmc_frames").setLevel(logging.INFO)


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

"""The Redis tests never vanish silently: without redis-server they skip locally and fail in CI."""

from __future__ import annotations

import pytest

from tests.support import redis_server


@pytest.mark.parametrize("ci, outcome", [(None, pytest.skip.Exception), ("false", pytest.skip.Exception),
                                         ("true", pytest.fail.Exception), ("1", pytest.fail.Exception)])
def test_a_missing_redis_server_skips_locally_and_fails_in_ci(ci, outcome, monkeypatch):
    monkeypatch.setattr(redis_server.shutil, "which", lambda name: None)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="apt-get install redis-server"):
        redis_server.require_redis_server()


def test_the_private_server_listens_on_its_socket_only(redis_server):
    config = redis_server.connection().config_get("port")
    assert config == {"port": "0"} and redis_server.url == f"unix://{redis_server.socket}"

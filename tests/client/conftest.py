"""Fixtures for client tests: a scripted server and clients with a recording fake sleep."""

from __future__ import annotations

import pytest

from cloudmc_frames.client import Client
from cloudmc_frames.config import Settings
from tests.support.fakes import FakeSleep
from tests.support.scripted import ScriptedServer

KEY = "k3y-" + "A1b2C3d4" * 5


@pytest.fixture
def server():
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def fake_sleep():
    return FakeSleep()


@pytest.fixture
def make_client(server, fake_sleep, tmp_path):
    made = []

    def make(key: str = KEY, endpoint: str | None = None, **options) -> Client:
        options.setdefault("cache_dir", str(tmp_path / "cache"))
        settings = Settings.from_options(endpoint or server.endpoint, **options)
        client = Client(settings, key, sleep=fake_sleep, clock=fake_sleep.clock)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()

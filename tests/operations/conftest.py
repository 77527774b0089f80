"""Operations tests: a client of the module's writable sandbox, a scripted server, a fake sleep."""

from __future__ import annotations

import pytest

from tests.support.fakes import FakeSleep
from tests.support.scripted import ScriptedServer


@pytest.fixture
def client(writable_sb):
    with writable_sb.client() as c:
        yield c


@pytest.fixture
def scripted():
    """A scripted HTTP server for task edge cases the sandbox does not produce."""
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def fake():
    return FakeSleep()

"""The three reports built once per session on the shared read-only sandbox (orgs=20, seed=7)."""

from __future__ import annotations

import pytest

import cloudmc_frames as cmf


@pytest.fixture(scope="session")
def client(sb):
    with sb.client(progress=False) as c:
        yield c


@pytest.fixture(scope="session")
def inventory(client):
    return cmf.reports.inventory(client)


@pytest.fixture(scope="session")
def capacity(client):
    return cmf.reports.capacity(client)


@pytest.fixture(scope="session")
def audit(client, sb):
    return cmf.reports.audit(client, now=sb.store.now)


@pytest.fixture(scope="session")
def reports(inventory, capacity, audit):
    return {"inventory": inventory, "capacity": capacity, "audit": audit}

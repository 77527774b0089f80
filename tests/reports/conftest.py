"""One read-only sandbox (orgs=20, seed=7) and the three reports built on it once per session."""

from __future__ import annotations

import pytest

import cloudmc_frames as cmf


@pytest.fixture(scope="session")
def sb():
    with cmf.sandbox(orgs=20, seed=7, task_delay=0.05) as sandbox:
        yield sandbox


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

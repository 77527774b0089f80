"""A sandbox per module for the history tests, and helpers to change it between snapshots."""

from __future__ import annotations

import pytest

import cloudmc_frames as cmf


@pytest.fixture(scope="module")
def sb():
    with cmf.sandbox(orgs=20, seed=7, task_delay=0.02) as sandbox:
        yield sandbox


@pytest.fixture
def client(sb):
    with sb.client(progress=False) as c:
        yield c


def add_user(client, sb, org_id, name):
    """Create a user (2FA off, as CloudMC creates them) and wait for the task."""
    role = next(r for r in sb.store.roles.values() if r["name"] == "User")
    task = client.post(
        "/users",
        {
            "userName": name,
            "email": f"{name}@example.com",
            "firstName": "New",
            "lastName": "Person",
            "organization": {"id": org_id},
            "primaryRoleBinding": {"role": {"id": role["id"]}},
        },
    )
    task.wait(timeout=30, interval=0.1)
    return next(u["id"] for u in sb.store.users.values() if u["userName"] == name)


def running_instances(sb, count):
    """``count`` running CloudStack instances as (org id, service code, env name, id)."""
    found = []
    for env in sb.store.environments.values():
        if env.get("deleted"):
            continue
        code = sb.store.connections[env["serviceConnection"]["id"]]["serviceCode"]
        for vm in sb.store.resources.get(env["id"], {}).get("instances", {}).values():
            if vm.get("state") == "Running":
                found.append((env["organization"]["id"], code, env["name"], vm["id"]))
                if len(found) == count:
                    return found
    raise AssertionError("not enough running instances")


def detached_data_volume(sb):
    for env in sb.store.environments.values():
        if env.get("deleted") or sb.store.orgs[env["organization"]["id"]].get("deleted"):
            continue
        code = sb.store.connections[env["serviceConnection"]["id"]]["serviceCode"]
        for vol in sb.store.resources.get(env["id"], {}).get("volumes", {}).values():
            if vol.get("type") == "data" and not vol.get("instanceId"):
                return env["organization"]["id"], code, env["name"], vol["id"]
    raise AssertionError("no detached data volume")

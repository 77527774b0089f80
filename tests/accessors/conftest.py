"""Accessor tests: a client of the shared read-only sandbox, and the oracle's expectations."""

from __future__ import annotations

import pytest


@pytest.fixture
def client(sb, tmp_path):
    """The root administrator over the real SQLite cache (the default backend of connect())."""
    with sb.client(cache_backend="sqlite", cache_dir=str(tmp_path / "cache")) as c:
        yield c


def visible_org_ids(store, key, include_deleted=False):
    return list(store.visible_org_ids(key, include_deleted=include_deleted))


def expected_users(store, key):
    orgs = set(visible_org_ids(store, key))
    return sorted((u["organization"]["id"], u["id"]) for u in store.users.values()
                  if u["organization"]["id"] in orgs and not u.get("deleted"))


def expected_environments(store, key):
    orgs = set(visible_org_ids(store, key))
    return sorted((e["organization"]["id"], e["id"]) for e in store.environments.values()
                  if e["organization"]["id"] in orgs and not e.get("deleted"))


def expected_resources(store, key, entities=("instances",), service_code=None):
    orgs = set(visible_org_ids(store, key))
    rows = []
    for env in store.environments.values():
        if env["organization"]["id"] not in orgs or env.get("deleted"):
            continue
        code = store.connections[env["serviceConnection"]["id"]]["serviceCode"]
        if service_code is not None and code != service_code:
            continue
        for entity in entities:
            for rid in store.resources.get(env["id"], {}).get(entity, {}):
                rows.append((env["organization"]["id"], env["name"], rid))
    return sorted(rows)

"""Sandbox test fixtures: real HTTP against sandboxes started on 127.0.0.1:<free port>.

``api``/``store`` talk to the shared read-only sandbox ``sb`` (tests/conftest.py: no writes,
no faults); tests that mutate data or add faults use their own module-scoped server
(``make_server``).
"""
import time

import pytest
import requests

from cloudmc_frames.sandbox import SandboxServer
from tests.support.sandboxes import PROFILES


class Api:
    """Tiny HTTP helper: ``api.get("/users", key=..., params=...)`` -> requests.Response."""

    def __init__(self, server):
        self.server = server
        self.session = requests.Session()

    def call(self, method, path, key=..., **kwargs):
        """Send ``method`` to ``/api/v2`` + ``path`` with the root key, or ``key`` (None: no key)."""
        key = self.server.api_key if key is ... else key
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["MC-Api-Key"] = key
        return self.session.request(method, self.server.endpoint + "/api/v2" + path, headers=headers,
                                    timeout=10, **kwargs)

    def get(self, path, **kwargs):
        """GET."""
        return self.call("GET", path, **kwargs)

    def post(self, path, **kwargs):
        """POST."""
        return self.call("POST", path, **kwargs)

    def put(self, path, **kwargs):
        """PUT."""
        return self.call("PUT", path, **kwargs)

    def delete(self, path, **kwargs):
        """DELETE."""
        return self.call("DELETE", path, **kwargs)

    def data(self, path, **kwargs):
        """GET and return ``data`` (asserting 200)."""
        response = self.get(path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()["data"]


def wait_task(api, task_id, timeout=3.0):
    """Poll ``/tasks/:id`` until it is not PENDING; returns the task body."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        body = api.get(f"/tasks/{task_id}").json()
        if body["taskStatus"] != "PENDING":
            return body
        time.sleep(0.02)
    raise AssertionError(f"task {task_id} still PENDING after {timeout} s")


def error_of(response):
    """The single error object of an error envelope."""
    body = response.json()
    assert set(body) == {"errors"} and len(body["errors"]) == 1, body
    return body["errors"][0]


@pytest.fixture(scope="session")
def api(sb):
    """HTTP helper bound to the shared sandbox."""
    return Api(sb)


@pytest.fixture(scope="session")
def store(sb):
    """The shared sandbox's store (the oracle)."""
    return sb.store


def make_server(**options):
    """A started sandbox of the default profile with ``options`` (caller stops it)."""
    return SandboxServer(**{**PROFILES["default"], **options}).start()


def first_key(store, role, org_id=None, admin_of_sub_org=False):
    """The first ACTIVE key with ``role`` (in ``org_id`` / outside the root if asked)."""
    for info in store.keys:
        if info.role != role or info.status != "ACTIVE":
            continue
        if org_id and info.org_id != org_id:
            continue
        if admin_of_sub_org and info.org_id == store.root_id:
            continue
        return info
    raise LookupError(role)


def env_named(store, org_id, name):
    """The environment ``name`` of ``org_id``."""
    env = store.env_by_name(org_id, name)
    assert env is not None
    return env

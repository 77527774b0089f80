"""Sandbox profiles for the shared fixtures, and helpers that read a writable sandbox's store.

Tests that write take resources through :class:`Picker`, which hands out each instance once
(putting one into the wanted state through the store when none is left), and check results
against the store, the oracle.
"""

from __future__ import annotations

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import quotas
from cloudmc_frames.sandbox.store import Store

PROFILES = {
    "default": {"orgs": 20, "seed": 7, "task_delay": 0.05},  # the demo's scenario
    "small": {"orgs": 12, "seed": 5, "task_delay": 0.05},  # many crawls, quickly
    "writable": {"orgs": 3, "seed": 7, "task_delay": 0.05},  # tests that act on resources
}
POLL = 0.05  # first poll interval for waits in tests (the default is 1 s)


class Picker:
    """Hands out sandbox resources once each, with their environment context."""

    def __init__(self, sb: cmf.Sandbox) -> None:
        self.sb, self.store = sb, sb.store
        self.taken: set[str] = set()

    def instance(self, state: str, *, connection: str = "cloudstack", org_id: str | None = None) -> dict:
        """An unused instance in ``state`` (``status`` for GCP) with ``env``/``org_id``/``code``."""
        key = "status" if connection == "gcp" else "state"
        candidates = [(env, inst) for env in self._envs(connection, org_id)
                      for inst in self.store.resources.get(env["id"], {}).get("instances", {}).values()
                      if inst["id"] not in self.taken]
        chosen = next(((e, i) for e, i in candidates if i[key] == state), None)
        if chosen is None:  # set one up through the oracle
            env, inst = next((e, i) for e, i in candidates if i[key] not in ("Destroyed", "Expunging"))
            self.store.replace(self.store.resources[env["id"]]["instances"], inst["id"], **{key: state})
            chosen = (env, inst)
        env, inst = chosen
        self.taken.add(inst["id"])
        return self._described(env, inst)

    def volume(self, *, attached: bool, kind: str = "data") -> dict:
        """An unused CloudStack volume of ``kind`` that is (not) attached."""
        for env in self._envs("cloudstack", None):
            for vol in self.store.resources.get(env["id"], {}).get("volumes", {}).values():
                fits = vol["type"] == kind and bool(vol.get("instanceId")) == attached
                if vol["id"] not in self.taken and fits:
                    self.taken.add(vol["id"])
                    return self._described(env, vol)
        raise LookupError("no such volume")

    def _envs(self, connection: str, org_id: str | None) -> list[dict]:
        return [env for env in self.store.environments.values()
                if self.connection(env)["type"] == connection
                and (org_id is None or env["organization"]["id"] == org_id)]

    def connection(self, env: dict) -> dict:
        """The service connection record of an environment."""
        return self.store.connections[env["serviceConnection"]["id"]]

    def _described(self, env: dict, record: dict) -> dict:
        return {**record, "env": env["name"], "env_id": env["id"], "org_id": env["organization"]["id"],
                "code": self.connection(env)["serviceCode"]}


def state_of(sb: cmf.Sandbox, item: dict, entity: str = "instances", key: str = "state") -> str | None:
    """The current state of a picked resource at the sandbox (None when it is gone)."""
    record = sb.store.resources[item["env_id"]].get(entity, {}).get(item["id"])
    return None if record is None else record[key]


def over_quota_env(store: Store) -> tuple[str, dict]:
    """(metric, CloudStack environment) of an organization already over one of its ceilings."""
    for env in store.environments.values():
        conn = store.connections[env["serviceConnection"]["id"]]
        quota = quotas.assigned_quota(store, env["organization"]["id"], conn["id"])
        if conn["type"] != "cloudstack" or quota is None:
            continue
        used = quotas.usage(store, env["organization"]["id"], conn["id"])
        for detail in quota["quotaDetails"]:
            if detail["type"] in used and used[detail["type"]] >= detail["ceiling"]:
                return detail["type"], env
    raise LookupError("no organization is over its quota")


def frame_of(client: cmf.Client, ids: list[str], entity: str = "instances"):
    """The accessor's rows for these ids (in the given order)."""
    frame = cmf.resources(client, entity).set_index("id", drop=False)
    return frame.loc[ids].reset_index(drop=True)


def posts(sb: cmf.Sandbox) -> int:
    """How many writes the sandbox has served so far."""
    return sum(1 for r in sb.requests.snapshot() if r.method in ("POST", "PUT", "DELETE"))

"""Expected report numbers computed straight from the sandbox's store (never via the toolkit).

Everything here reads ``sb.store`` (API-shaped dicts) and the vendor's documented fields, so
it is an independent check of the accessors + reports pipeline.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

STATE_CLASS = {"Running": "running", "Stopped": "stopped", "Starting": "transitioning",
               "Stopping": "transitioning", "Error": "error", "Destroyed": "destroyed",
               "RUNNING": "running", "TERMINATED": "stopped", "STOPPED": "stopped",
               "SUSPENDED": "stopped", "STAGING": "transitioning"}
STAMP = re.compile(r"_(\d{14})$")


def org_ids(store, include_deleted=False):
    """Every org the root key sees."""
    return store.visible_org_ids(store.root_key, include_deleted=include_deleted)


def org_path(store, org_id):
    """``nimbus-cloud/acme-corp/...`` from entry points, walking ``parent``."""
    parts, org = [], store.orgs[org_id]
    while True:
        parts.append(org["entryPoint"])
        if "parent" not in org:
            return "/".join(reversed(parts))
        org = store.orgs[org["parent"]["id"]]


def envs_of(store, org_id):
    return [e for e in store.environments.values()
            if e["organization"]["id"] == org_id and not e.get("deleted")]


def connection(store, env):
    return store.connections[env["serviceConnection"]["id"]]


def instances(store, env):
    """``(state class, vcpu, memory GiB)`` per instance of an environment."""
    out = []
    for inst in store.resources.get(env["id"], {}).get("instances", {}).values():
        state = inst.get("state") or inst.get("status")
        memory = inst["memoryInMB"] / 1024 if "memoryInMB" in inst else inst["memoryInGB"]
        out.append((STATE_CLASS[state], inst["cpuCount"], memory))
    return out


def volumes(store, env):
    """``(size GiB, attached)`` per volume or disk of an environment."""
    res = store.resources.get(env["id"], {})
    out = [(v["sizeInGb"], "instanceId" in v) for v in res.get("volumes", {}).values()]
    out += [(int(d["sizeGb"]), bool(d["users"])) for d in res.get("disks", {}).values()]
    return out


def env_measures(store, env):
    """The inventory measures of one environment."""
    vms, vols = instances(store, env), volumes(store, env)
    res = store.resources.get(env["id"], {})
    classes = Counter(c for c, _, _ in vms)
    live = [(c, cpu, mem) for c, cpu, mem in vms if c != "destroyed"]
    running = [(c, cpu, mem) for c, cpu, mem in vms if c == "running"]
    return {
        "instances": len(vms), **{f"instances_{c}": classes.get(c, 0) for c in
                                  ("running", "stopped", "transitioning", "error", "destroyed")},
        "vcpus": sum(cpu for _, cpu, _ in live), "vcpus_running": sum(cpu for _, cpu, _ in running),
        "memory_gib": sum(m for _, _, m in live), "memory_gib_running": sum(m for _, _, m in running),
        "volumes": len(vols), "volumes_attached": sum(1 for _, a in vols if a),
        "volumes_unattached": sum(1 for _, a in vols if not a),
        "volume_gib": sum(s for s, _ in vols), "volume_gib_unattached": sum(s for s, a in vols if not a),
        "snapshots": len(res.get("snapshots", {})), "public_ips": len(res.get("publicipaddresses", {})),
    }


def org_measures(store, org_id):
    """The inventory measures of one organization's own environments."""
    total = defaultdict(float)
    for env in envs_of(store, org_id):
        for name, value in env_measures(store, env).items():
            total[name] += value
    return total


def subtree_measures(store, org_id, selected):
    """An organization's measures plus those of every selected descendant."""
    total = defaultdict(float)
    for member in store.subtree(org_id, include_deleted=True):
        if member in selected:
            for name, value in org_measures(store, member).items():
                total[name] += value
    return total


def quota_rows(store, org_ids_):
    """``(org_id, service_code, metric type) -> (ceiling as sent, used as the sandbox counts)``."""
    from cloudmc_frames.sandbox import quotas

    rows = {}
    for (org_id, conn_id), quota_id in store.quota_assignments.items():
        if org_id not in org_ids_:
            continue
        used = quotas.usage(store, org_id, conn_id)
        for detail in store.quotas[quota_id]["quotaDetails"]:
            code = store.connections[conn_id]["serviceCode"]
            rows[(org_id, code, detail["type"])] = (detail["ceiling"], used.get(detail["type"]))
    return rows


def days_ago(now, iso):
    """Whole days from an ISO instant to ``now``."""
    stamp = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (now - stamp) // timedelta(days=1)


def snapshot_age(now, name):
    taken = datetime.strptime(STAMP.search(name).group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return (now - taken) // timedelta(days=1)

"""Quota records, current consumption per (org, connection) and ceiling enforcement.

Consumption counted against a quota (also what the generator uses to put a few
orgs over their ceiling):

* CloudStack: instances not ``Destroyed``/``Expunging`` give ``INSTANCE_VCPUS``
  (``cpuCount``), ``INSTANCE_MEMORY`` (``memoryInMB``) and ``INSTANCE_COUNT``;
  every volume gives ``DISK_SIZE`` (``sizeInGb``).
* GCP: every instance gives vCPUs (``cpuCount``), memory (``memoryInGB`` x 1024
  MB) and a count; every disk gives ``int(sizeGb)`` GB.

Metrics the sandbox does not know (``workload_cpu_count``) are never enforced.
"""
import math

from . import clock, errors
from .names import QUOTA_METRICS, UNKNOWN_QUOTA_METRIC

GONE_STATES = {"Destroyed", "Expunging"}
METRIC_BY_TYPE = {m[0]: m for m in QUOTA_METRICS}


def usage(store, org_id, connection_id):
    """Current consumption of ``org_id`` on ``connection_id``: ``{metric type: number}``."""
    totals = {"INSTANCE_VCPUS": 0, "INSTANCE_MEMORY": 0, "DISK_SIZE": 0, "INSTANCE_COUNT": 0}
    conn = store.connections.get(connection_id)
    for env in store.environments.values():
        if env["organization"]["id"] != org_id or env["serviceConnection"]["id"] != connection_id:
            continue
        res = store.resources.get(env["id"], {})
        if conn and conn["type"] == "gcp":
            _add_gcp(totals, res)
        else:
            _add_cloudstack(totals, res)
    return totals


def _add_cloudstack(totals, res):
    """Add a CloudStack environment's consumption to ``totals``."""
    for inst in res.get("instances", {}).values():
        if inst["state"] not in GONE_STATES:
            totals["INSTANCE_VCPUS"] += inst["cpuCount"]
            totals["INSTANCE_MEMORY"] += inst["memoryInMB"]
            totals["INSTANCE_COUNT"] += 1
    totals["DISK_SIZE"] += sum(v["sizeInGb"] for v in res.get("volumes", {}).values())


def _add_gcp(totals, res):
    """Add a GCP environment's consumption to ``totals``."""
    for inst in res.get("instances", {}).values():
        totals["INSTANCE_VCPUS"] += inst["cpuCount"]
        totals["INSTANCE_MEMORY"] += int(round(inst["memoryInGB"] * 1024))
        totals["INSTANCE_COUNT"] += 1
    totals["DISK_SIZE"] += sum(int(d["sizeGb"]) for d in res.get("disks", {}).values())


def assigned_quota(store, org_id, connection_id):
    """The quota applied to ``org_id`` on ``connection_id`` (None if none)."""
    quota_id = store.quota_assignments.get((org_id, connection_id))
    return store.quotas.get(quota_id) if quota_id else None


def enforce(store, org_id, connection_id, delta):
    """Raise a 400 quota error if adding ``delta`` ({metric type: amount}) exceeds a ceiling."""
    quota = assigned_quota(store, org_id, connection_id)
    if quota is None:
        return
    current = usage(store, org_id, connection_id)
    for detail in quota["quotaDetails"]:
        kind = detail["type"]
        if kind not in current or not delta.get(kind):
            continue
        requested = current[kind] + delta[kind]
        if requested > detail["ceiling"]:
            raise errors.ApiError(400, errors.QUOTA_EXCEEDED, f"Quota exceeded for {kind}: "
                                  f"requested total {requested} > ceiling {detail['ceiling']}", {
                                      "metric": kind, "metricIdentifier": detail["metricIdentifier"],
                                      "ceiling": detail["ceiling"], "requestedTotal": requested,
                                      "currentUsage": current[kind], "quotaId": quota["id"],
                                      "organizationId": org_id, "serviceConnectionId": connection_id})


def detail(ids, metric, ceiling):
    """One ``quotaDetails`` item."""
    kind, metric_id, label = metric
    return {"ceiling": float(ceiling), "deleted": False, "limitSize": int(ceiling),
            "metricIdentifier": metric_id,
            "id": ids.uuid(), "type": kind, "labelKey": label, "version": 1}


def quota_record(ids, name, description, owner, conn, ceilings, created, default=False, trial=False):
    """A quota in the vendor list shape; ``ceilings`` maps metric type -> ceiling."""
    details = [detail(ids, METRIC_BY_TYPE.get(k, UNKNOWN_QUOTA_METRIC), v) for k, v in ceilings.items()]
    return {
        "ownerOrganization": {"name": owner["name"], "id": owner["id"]}, "deleted": False,
        "quotaDetails": details, "name": name, "defaultForService": default, "description": description,
        "numberOfOrganizationsAppliedTo": 0, "id": ids.uuid(), "creationDate": clock.iso_ms(created),
        "version": 1,
        "serviceConnection": {"serviceCode": conn["serviceCode"], "name": conn["name"], "id": conn["id"],
                              "type": conn["type"], "organization": {"id": conn["organization"]["id"]}},
        "defaultForTrial": trial,
    }


def ceilings_for(used, factor, gcp=False):
    """Round ceilings ``factor`` x ``used`` (with floors) for every metric."""
    def up(value, step, floor):
        """``value`` x ``factor`` rounded up to ``step``, at least ``floor``."""
        return max(floor, int(math.ceil(value * factor / step)) * step)
    out = {"INSTANCE_VCPUS": up(used["INSTANCE_VCPUS"], 4, 8),
           "INSTANCE_MEMORY": up(used["INSTANCE_MEMORY"], 1024, 16384),
           "DISK_SIZE": up(used["DISK_SIZE"], 50, 200),
           "INSTANCE_COUNT": up(used["INSTANCE_COUNT"], 5, 5)}
    if gcp:
        out["workload_cpu_count"] = 24
    return out


def over_ceilings(used, gcp=False):
    """Ceilings below current use (audit fodder): vCPU and memory at ~60% of use."""
    out = ceilings_for(used, 2.0, gcp)
    out["INSTANCE_VCPUS"] = max(1, int(used["INSTANCE_VCPUS"] * 0.6))
    out["INSTANCE_MEMORY"] = max(512, int(used["INSTANCE_MEMORY"] * 0.6) // 512 * 512)
    return out


def assign(store, quota, org_id):
    """Apply ``quota`` to ``org_id`` (replacing the previous one on that connection)."""
    conn_id = quota["serviceConnection"]["id"]
    previous = store.quota_assignments.get((org_id, conn_id))
    if previous and previous in store.quotas:
        old = store.quotas[previous]
        store.quotas[previous] = _applied(old, -1)
    store.quota_assignments[(org_id, conn_id)] = quota["id"]
    store.quotas[quota["id"]] = _applied(store.quotas[quota["id"]], +1)


def _applied(quota, change):
    """A copy of ``quota`` applied to ``change`` more organizations."""
    return {**quota, "numberOfOrganizationsAppliedTo": quota["numberOfOrganizationsAppliedTo"] + change}


def assigned_to(store, org_id):
    """Quota records applied to ``org_id`` (one per connection)."""
    return [store.quotas[qid] for (oid, _), qid in store.quota_assignments.items()
            if oid == org_id and qid in store.quotas]


def owned_by(store, org_id):
    """Quota records owned (managed) by ``org_id``."""
    return [q for q in store.quotas.values() if q["ownerOrganization"]["id"] == org_id]

"""``inventory(client)``: what exists, per organization and environment, and rolled up the tree.

Counts instances by state class, allocated vCPU and memory, volumes and their GiB (attached and
unattached), snapshots and public IPs. ``.frame`` has one row per group of ``by`` with the
group's own resources (rows add up to the totals); ``.tables["rollup"]`` has one row per
organization whose numbers include every selected descendant.

Units (see :data:`MEASURES`): counts, vCPU, GiB (2**30 bytes; CloudStack ``memoryInMB`` / 1024,
GCP/Azure ``memoryInGB`` as is, volume sizes as each provider reports GB/GiB, Azure bytes / 2**30).

Example::

    >>> report = cmf.reports.inventory(client, orgs="nimbus-cloud/acme-corp*")   # doctest: +SKIP
    >>> report.tables["rollup"][["organization_path", "instances", "vcpus"]]
    >>> report.frame.groupby("service_code", observed=True)["volume_gib"].sum()
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .. import accessors
from ..client import Client
from ..errors import ConfigError
from . import figures
from .report import Report
from .sources import Crawl

STATE_CLASSES = ("running", "stopped", "transitioning", "error", "destroyed", "other")
_STATES = {
    "running": {"running", "active", "powerstate/running"},
    "stopped": {"stopped", "terminated", "suspended", "deallocated", "shutoff", "paused",
                "shelved", "powerstate/stopped", "powerstate/deallocated"},
    "transitioning": {"starting", "stopping", "staging", "provisioning", "suspending", "rebooting",
                      "pending", "migrating", "scheduling", "deallocating", "shutting-down",
                      "repairing", "powerstate/starting", "powerstate/stopping",
                      "powerstate/deallocating"},
    "error": {"error", "failed"},
    "destroyed": {"destroyed", "expunging", "deleted"},
}
# Per provider exceptions: AWS "terminated" is gone for good, GCP "TERMINATED" is only stopped.
_PROVIDER_STATES = {("aws", "terminated"): "destroyed"}

MEASURES: dict[str, tuple[str, str]] = {
    "instances": ("count", "instances in any state"),
    "instances_running": ("count", "running: Running, RUNNING, active, running"),
    "instances_stopped": ("count", "stopped: Stopped, STOPPED, SUSPENDED, GCP TERMINATED, deallocated"),
    "instances_transitioning": ("count", "starting, stopping, staging, provisioning, ..."),
    "instances_error": ("count", "in an error state"),
    "instances_destroyed": ("count", "Destroyed/Expunging (CloudStack keeps them a while)"),
    "instances_other": ("count", "state missing or not recognised"),
    "vcpus": ("vCPU", "allocated: instances not destroyed"),
    "vcpus_running": ("vCPU", "of running instances"),
    "memory_gib": ("GiB", "allocated memory: instances not destroyed (AWS reports none)"),
    "memory_gib_running": ("GiB", "memory of running instances"),
    "volumes": ("count", "volumes and disks"),
    "volumes_attached": ("count", "attached to an instance"),
    "volumes_unattached": ("count", "attached to nothing"),
    "volume_gib": ("GiB", "provisioned size of every volume"),
    "volume_gib_attached": ("GiB", "size of attached volumes"),
    "volume_gib_unattached": ("GiB", "size of unattached volumes"),
    "snapshots": ("count", "volume snapshots"),
    "public_ips": ("count", "public IP addresses (publicipaddresses)"),
}
_FLOAT_MEASURES = {m for m, (unit, _) in MEASURES.items() if unit == "GiB"}
BY_KEYS = {"organization": ("organization_path", "organization_name", "organization_id"),
           "environment": ("environment_name", "service_code", "connection_type"),
           "connection": ("service_code", "connection_type")}
KEYS = ("organization_id", "organization_path", "organization_name", "environment_id",
        "environment_name", "service_code", "connection_type")
ROLLUP_VIEW = ("organization_path", "organizations", "instances", "instances_running", "vcpus",
               "memory_gib", "volumes", "volume_gib", "volume_gib_unattached", "snapshots",
               "public_ips")
FRAME_VIEW = ("instances", "instances_running", "vcpus", "memory_gib", "volumes", "volume_gib",
              "volume_gib_unattached", "snapshots", "public_ips")
TOP = 15


def inventory(client: Client, orgs: Any = None, *, by: Any = ("organization", "environment"),
              **crawl: Any) -> Report:
    """Resources per group of ``by`` and per organization rolled up the tree, as a :class:`Report`.

    ``by``: any of ``"organization"``, ``"environment"``, ``"connection"`` (a string or a tuple).
    ``crawl``: ``fresh``, ``max_workers``, ``progress``, ``timeout`` (as for the accessors).

    >>> cmf.reports.inventory(client, by="connection").frame        # doctest: +SKIP
    """
    keys = group_keys(by)
    source = Crawl(client, orgs, crawl)
    envs = source.read(accessors.environments)
    vms = source.read(accessors.instances)
    facts = pd.concat([_grid(source.orgs, envs, "organization_id" in keys), instance_facts(vms),
                       volume_facts(source.read(accessors.volumes)),
                       _count_facts(source.read(accessors.resources, "snapshots"), "snapshots"),
                       _count_facts(source.read(accessors.resources, "publicipaddresses"), "public_ips")],
                      ignore_index=True)
    frame = _typed(facts.groupby(list(keys), dropna=False, sort=True)[list(MEASURES)].sum().reset_index())
    return Report(
        name="inventory", title="CloudMC inventory", frame=frame, summary=totals(frame),
        issues=source.issues(), coverage=source.coverage(), plotter=plot_inventory,
        tables={"rollup": rollup(source.orgs, facts), "states": states_table(vms)},
        titles={"rollup": "Per organization, rolled up the tree (a parent includes its descendants)",
                "states": "Instances by provider state"},
        notes=_notes(), views={"frame": (*keys, *FRAME_VIEW), "rollup": ROLLUP_VIEW},
        scope=source.scope_text())


def group_keys(by: Any) -> tuple[str, ...]:
    """The key columns of ``by``, in order, without repeats; unknown names raise ConfigError."""
    names = (by,) if isinstance(by, str) else tuple(by or ())
    unknown = [n for n in names if n not in BY_KEYS]
    if unknown or not names:
        raise ConfigError(f"by must name one or more of {', '.join(BY_KEYS)}, got {by!r}")
    return tuple(dict.fromkeys(k for n in names for k in BY_KEYS[n]))


def state_class(power_state: pd.Series, connection_type: pd.Series) -> pd.Series:
    """Each instance's state class: running, stopped, transitioning, error, destroyed, other."""
    lookup = {state: cls for cls, states in _STATES.items() for state in states}
    pairs = zip(connection_type.astype(object), power_state.astype(object), strict=True)
    classes = [_PROVIDER_STATES.get((c, s.lower()), lookup.get(s.lower(), "other"))
               if isinstance(s, str) else "other" for c, s in pairs]
    return pd.Series(pd.Categorical(classes, categories=STATE_CLASSES), index=power_state.index)


# -- facts: one row per resource, measure columns that add up -------------------------------------

def _keys(frame: pd.DataFrame) -> dict[str, pd.Series]:
    return {k: frame[k].astype("string") for k in KEYS}


def instance_facts(vms: pd.DataFrame) -> pd.DataFrame:
    """Per instance: 1 in its state-class column, vCPU and GiB when allocated or running."""
    cls = state_class(vms["power_state"], vms["connection_type"])
    allocated, running = (cls != "destroyed").to_numpy(), (cls == "running").to_numpy()
    vcpus, memory = vms["vcpus"].fillna(0), vms["memory_gib"].fillna(0.0)
    columns = {f"instances_{c}": (cls == c).astype(int) for c in STATE_CLASSES}
    return pd.DataFrame({**_keys(vms), "instances": 1, **columns,
                         "vcpus": vcpus.where(allocated, 0), "vcpus_running": vcpus.where(running, 0),
                         "memory_gib": memory.where(allocated, 0.0),
                         "memory_gib_running": memory.where(running, 0.0)})


def volume_facts(vols: pd.DataFrame) -> pd.DataFrame:
    """Per volume: counts and GiB, split attached / unattached."""
    attached = vols["is_attached"].fillna(False).astype(bool)
    size = vols["size_gib"].fillna(0.0)
    return pd.DataFrame({**_keys(vols), "volumes": 1, "volumes_attached": attached.astype(int),
                         "volumes_unattached": (~attached).astype(int), "volume_gib": size,
                         "volume_gib_attached": size.where(attached, 0.0),
                         "volume_gib_unattached": size.where(~attached, 0.0)})


def _count_facts(frame: pd.DataFrame, measure: str) -> pd.DataFrame:
    return pd.DataFrame({**_keys(frame), measure: 1}, index=frame.index)


def _grid(orgs: pd.DataFrame, envs: pd.DataFrame, bare_orgs: bool) -> pd.DataFrame:
    """A zero row per live environment (and per organization without one), so every group shows."""
    live = envs[~envs["deleted"].fillna(False).astype(bool)]
    env_rows = pd.DataFrame({"organization_id": live["organization_id"],
                             "organization_path": live["organization_path"],
                             "organization_name": live["organization_name"],
                             "environment_id": live["id"], "environment_name": live["name"],
                             "service_code": live["service_code"],
                             "connection_type": live["connection_type"]})
    bare = orgs[~orgs["id"].isin(set(live["organization_id"].dropna())) & bare_orgs]
    org_rows = pd.DataFrame({"organization_id": bare["id"], "organization_path": bare["path"],
                             "organization_name": bare["name"]})
    grid = pd.concat([env_rows, org_rows], ignore_index=True).reindex(columns=list(KEYS))
    return grid.astype("string")


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for name in MEASURES:
        values = frame[name].fillna(0)
        frame[name] = values.astype("Float64").round(3) if name in _FLOAT_MEASURES else values.astype("Int64")
    return frame


# -- summary, rollup, states --------------------------------------------------------------------

def totals(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per measure over the whole selection: ``measure``, ``value``, ``unit``, ``meaning``."""
    sums = frame[list(MEASURES)].sum()
    return pd.DataFrame({
        "measure": pd.array(list(MEASURES), dtype="string"),
        "value": pd.array([round(float(sums[m]), 1) for m in MEASURES], dtype="Float64"),
        "unit": pd.array([MEASURES[m][0] for m in MEASURES], dtype="string"),
        "meaning": pd.array([MEASURES[m][1] for m in MEASURES], dtype="string"),
    })


def rollup(orgs: pd.DataFrame, facts: pd.DataFrame) -> pd.DataFrame:
    """Per selected organization: its own resources plus those of every selected descendant."""
    own = facts.groupby("organization_id", dropna=True)[list(MEASURES)].sum()
    own = own.reindex(orgs["id"].astype(object)).fillna(0)
    values = own.to_numpy(dtype=float)
    totals_, count = np.zeros_like(values), np.zeros(len(orgs), dtype=int)
    position = {path: n for n, path in enumerate(orgs["path"])}
    for n, path in enumerate(orgs["path"]):
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            ancestor = position.get("/".join(parts[:depth]))
            if ancestor is not None:
                totals_[ancestor] += values[n]
                count[ancestor] += 1
    frame = pd.DataFrame(totals_, columns=list(MEASURES))
    head = pd.DataFrame({"organization_path": orgs["path"].to_numpy(),
                         "organization_name": orgs["name"].to_numpy(),
                         "organization_id": orgs["id"].to_numpy(),
                         "depth": orgs["depth"].to_numpy(), "organizations": count})
    result = pd.concat([head.astype({"organization_path": "string", "organization_name": "string",
                                     "organization_id": "string", "depth": "Int64",
                                     "organizations": "Int64"}), _typed(frame)], axis=1)
    return result.sort_values("organization_path", kind="stable").reset_index(drop=True)


def states_table(vms: pd.DataFrame) -> pd.DataFrame:
    """Instances per (connection type, provider state), with the state class each maps to."""
    table = pd.DataFrame({"connection_type": vms["connection_type"].astype("string"),
                          "power_state": vms["state"].astype("string"),  # the provider's word
                          "state_class": state_class(vms["power_state"], vms["connection_type"])})
    counts = table.groupby(["connection_type", "power_state", "state_class"], observed=True,
                           dropna=False).size().rename("instances").reset_index()
    counts["instances"] = counts["instances"].astype("Int64")
    return counts.sort_values(["connection_type", "state_class", "power_state"]).reset_index(drop=True)


def _notes() -> tuple[str, ...]:
    return ("Units: counts; vCPU; GiB = 2**30 bytes (CloudStack memoryInMB / 1024, GCP and Azure "
            "memoryInGB as reported, volume sizes in the provider's GB/GiB, Azure bytes / 2**30).",
            "Allocated vCPU and memory count every instance that is not destroyed, stopped ones "
            "included (that is what quotas count).",
            "Rows hold each group's own resources; the rollup adds every selected descendant.")


# -- chart --------------------------------------------------------------------------------------

def plot_inventory(report: Report, ax: Axes, top: int = TOP) -> None:
    """Stacked bars of instances by state class for the ``top`` organizations (own resources)."""
    frame = report.frame
    label = "organization_path" if "organization_path" in frame else frame.columns[0]
    per = frame.groupby(label, dropna=False)[[f"instances_{c}" for c in STATE_CLASSES]].sum()
    per = per.loc[per.sum(axis=1).sort_values(ascending=False, kind="stable").index[:top]]
    per = per[per.sum(axis=1) > 0]
    names = [figures.short_path(str(v)) if label == "organization_path" else str(v) for v in per.index]
    stacks = {c: per[f"instances_{c}"].to_numpy() for c in STATE_CLASSES}
    what = "organization" if label == "organization_path" else label.replace("_", " ")
    figures.hbars(ax, names, stacks, title=f"Instances by state per {what} (own resources, top {top})",
                  xlabel="instances [count]", ylabel=what)

"""``capacity(client)``: allocation against quota ceilings per organization and connection.

CloudMC reports ceilings (``GET /quotas``) but no consumption, so use is summed from the
inventory per (organization, service connection), as the platform counts it:

==============================================  ==========  ============================================
quota metric (``type`` / ``metricIdentifier``)   unit        used
==============================================  ==========  ============================================
``INSTANCE_VCPUS`` / ``instance.cpu.count``      vCPU        vCPU of instances not destroyed
``INSTANCE_MEMORY`` / ``instance.memory.mb``     GiB         memory of instances not destroyed
``DISK_SIZE`` / ``disk.size.gb``                 GiB         size of every volume / disk
``INSTANCE_COUNT`` / ``instance.count``          instances   instances not destroyed
==============================================  ==========  ============================================

Memory ceilings arrive in MiB (as ``instance.memory.mb`` says) and are shown in GiB (/ 1024);
disk ceilings are GB, compared with volume GiB as CloudStack does. Metrics not in this table
(``workload_cpu_count``, GCP ``instance.cpu.reserved_cores``, ...) stay in the frame with
``resource="unknown"`` and no use, and are listed in ``.tables["unknown_metrics"]``.

Rows whose inputs could not all be read say so (``completeness``, ``unread``; see
:mod:`.completeness`): ``used`` counted from partly read instances or volumes is a lower bound
(``partial``; ``over_ceiling`` is then only True when even that is over, else ``<NA>``), and
``<NA>`` when nothing was read; an organization whose quotas could not be read gets one row
with ``completeness`` ``not evaluated`` instead of silently having no ceilings.

``.tables["commitments"]``: committed against actual use per organization and committed product
(:func:`.commitments.commitment_use`: the term so far, ``under-used`` / ``as committed`` /
``over-used``); a row whose pricing report could not be read has no ``actual`` (``not
evaluated``), and an organization whose commitments could not be read gets a ``not evaluated``
row. ``report.to_csv(table="commitments")`` writes it as CSV.

Example::

    >>> report = cmf.reports.capacity(client)                         # doctest: +SKIP
    >>> report.tables["closest"]                  # the fullest ceilings first
    >>> report.frame.query("over_ceiling")
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .. import accessors
from .. import usage as time_axis
from ..client import Client
from . import commitments, figures
from .completeness import STATES, Completeness
from .inventory import state_class
from .report import Report
from .sources import Crawl


class Metric(NamedTuple):
    """How one quota metric maps onto the inventory."""

    resource: str
    unit: str
    ceiling_factor: float  # ceiling as sent x factor = ceiling in ``unit``


METRICS: dict[str, Metric] = {
    "INSTANCE_VCPUS": Metric("vcpu", "vCPU", 1.0), "instance.cpu.count": Metric("vcpu", "vCPU", 1.0),
    "INSTANCE_MEMORY": Metric("memory", "GiB", 1 / 1024),
    "instance.memory.mb": Metric("memory", "GiB", 1 / 1024),
    "DISK_SIZE": Metric("storage", "GiB", 1.0), "disk.size.gb": Metric("storage", "GiB", 1.0),
    "INSTANCE_COUNT": Metric("instances", "instances", 1.0),
    "instance.count": Metric("instances", "instances", 1.0),
}
RESOURCES = ("vcpu", "memory", "storage", "instances", "unknown")
USE_KEYS = ["organization_id", "service_code"]
COLUMNS = ("organization_path", "organization_name", "organization_id", "service_code",
           "connection_type", "quota_name", "metric_type", "metric_identifier", "resource", "unit",
           "ceiling", "used", "percent_used", "headroom", "over_ceiling", "completeness", "unread")
VIEW = ("organization_path", "service_code", "resource", "unit", "used", "ceiling", "percent_used",
        "headroom", "over_ceiling", "completeness")
NEEDS = {"vcpu": ("instances",), "memory": ("instances",), "instances": ("instances",),
         "storage": ("volumes",), "unknown": ()}
TOP = 10


def capacity(client: Client, orgs: Any = None, *, now: Any = None, **crawl: Any) -> Report:
    """Quota use per (organization, connection, metric), commitments against actual use, a chart.

    ``now``: the clock that ends each commitment's past part (default: the current UTC time).
    ``crawl``: ``fresh``, ``max_workers``, ``progress``, ``timeout`` (as for the accessors).

    >>> cmf.reports.capacity(client, orgs="nimbus-cloud/acme-corp*").tables["commitments"]  # doctest: +SKIP
    """
    source = Crawl(client, orgs, crawl)
    quotas, envs = source.read(accessors.quotas), source.read(accessors.environments)
    vms, vols = source.read(accessors.instances), source.read(accessors.volumes)
    use = commitments.commitment_use(client, source.read(time_axis.commitments), now=now,
                                     crawl=source.options.as_kwargs())
    complete = source.completeness(envs)
    frame = capacity_frame(quotas, vms, vols, completeness=complete, organizations=source.orgs)
    return Report(
        name="capacity", title="CloudMC capacity: quota use", frame=frame,
        summary=summary(frame, complete), issues=source.issues(), coverage=source.coverage(),
        plotter=plot_capacity,
        tables={"closest": closest(frame), "unknown_metrics": unknown_metrics(frame),
                "commitments": commitments.marked(use, complete, source.orgs)},
        titles={"closest": f"Closest to their limits (top {TOP} by percent used)",
                "unknown_metrics": "Quota metrics not mapped to a resource (kept, not compared)",
                "commitments": "Commitments: committed against actual use over the term so far"},
        notes=_notes(), views={"frame": VIEW, "commitments": commitments.VIEW}, scope=source.scope_text())


def capacity_frame(quotas: pd.DataFrame, instances: pd.DataFrame, volumes: pd.DataFrame, *,
                   completeness: Completeness | None = None,
                   organizations: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per quota ceiling with ``used``, ``percent_used``, ``headroom``, ``over_ceiling``,
    ``completeness`` and ``unread``.

    With ``completeness``, rows whose use could not be fully read are marked, and (given
    ``organizations``, the selection) every organization whose quotas could not be read gets a
    ``not evaluated`` row.
    """
    metric = [METRICS.get(t) or METRICS.get(i) for t, i in
              zip(quotas["metric_type"].astype(object), quotas["metric_identifier"].astype(object),
                  strict=True)]
    known = [m is not None for m in metric]
    factor = np.array([m.ceiling_factor if m else 1.0 for m in metric])
    frame = pd.DataFrame({
        "organization_path": quotas["organization_path"].astype("string"),
        "organization_name": quotas["organization_name"].astype("string"),
        "organization_id": quotas["organization_id"].astype("string"),
        "service_code": quotas["service_code"].astype("string"),
        "connection_type": quotas["connection_type"].astype("string"),
        "quota_name": quotas["quota_name"].astype("string"),
        "metric_type": quotas["metric_type"].astype("string"),
        "metric_identifier": quotas["metric_identifier"].astype("string"),
        "resource": pd.Categorical([m.resource if m else "unknown" for m in metric], categories=RESOURCES),
        "unit": pd.array([m.unit if m else None for m in metric], dtype="string"),
        "ceiling": (quotas["ceiling"].astype("Float64") * factor).round(3),
    })
    used = usage(instances, volumes)
    lookup = {(o, s, r): v for (o, s), row in used.iterrows() for r, v in row.items()}
    keys = zip(frame["organization_id"], frame["service_code"], frame["resource"].astype(object), known,
               strict=True)
    frame["used"] = pd.array([lookup.get((o, s, r), 0.0) if k else None for o, s, r, k in keys],
                             dtype="Float64").round(3)
    frame = _marked(frame, completeness, organizations)
    frame["percent_used"] = (100 * frame["used"] / frame["ceiling"].where(frame["ceiling"] > 0)).round(1)
    frame["headroom"] = (frame["ceiling"] - frame["used"]).round(3)
    over = (frame["used"] > frame["ceiling"]).astype("boolean")
    frame["over_ceiling"] = over.where(over | (frame["completeness"] == STATES[0]), pd.NA)
    order = frame.assign(_r=frame["resource"].cat.codes).sort_values(
        ["organization_path", "service_code", "_r", "metric_type"], kind="stable")
    return order.drop(columns="_r").reset_index(drop=True)[list(COLUMNS)]


def _marked(frame: pd.DataFrame, completeness: Completeness | None,
            organizations: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` with ``completeness``/``unread`` per row (by the inputs of its resource), and a
    ``not evaluated`` row for each selected organization whose quotas could not be read."""
    if completeness is None:
        return frame.assign(completeness=pd.Categorical([STATES[0]] * len(frame), categories=STATES),
                            unread=pd.array([None] * len(frame), dtype="string"))
    parts = [completeness.mark(frame[frame["resource"] == name], {"used": needs})
             for name, needs in NEEDS.items()]
    marked = pd.concat(parts).sort_index()
    if organizations is None:
        return marked
    blind = organizations[organizations["id"].isin(completeness.unread_orgs("quotas"))]
    rows = pd.DataFrame({"organization_path": blind["path"], "organization_name": blind["name"],
                         "organization_id": blind["id"], "completeness": STATES[2], "unread": "quotas"})
    return pd.concat([marked, rows], ignore_index=True).astype(marked.dtypes.to_dict())


def usage(instances: pd.DataFrame, volumes: pd.DataFrame) -> pd.DataFrame:
    """Use per (organization_id, service_code): vcpu, memory and storage (GiB), instances."""
    live = state_class(instances["power_state"], instances["connection_type"]) != "destroyed"
    vms = pd.DataFrame({"organization_id": instances["organization_id"].astype("string"),
                        "service_code": instances["service_code"].astype("string"),
                        "vcpu": instances["vcpus"].fillna(0).astype(float),
                        "memory": instances["memory_gib"].fillna(0.0).astype(float),
                        "instances": 1.0})[live.to_numpy()]
    disks = pd.DataFrame({"organization_id": volumes["organization_id"].astype("string"),
                          "service_code": volumes["service_code"].astype("string"),
                          "storage": volumes["size_gib"].fillna(0.0).astype(float)})
    parts = [vms.groupby(USE_KEYS)[["vcpu", "memory", "instances"]].sum(),
             disks.groupby(USE_KEYS)[["storage"]].sum()]
    return pd.concat(parts, axis=1).fillna(0.0)


def summary(frame: pd.DataFrame, complete: Completeness | None = None) -> pd.DataFrame:
    """Per resource: ceilings, total use and ceiling, overall percent, how many are over, the
    fullest, and whether its inputs were all read (``completeness``, ``unread``)."""
    known = frame[frame["resource"].notna() & (frame["resource"] != "unknown")]
    groups = known.groupby("resource", observed=True)
    table = pd.DataFrame({
        "unit": groups["unit"].first(), "ceilings": groups.size().astype("Int64"),
        "used": groups["used"].sum().round(1), "ceiling": groups["ceiling"].sum().round(1),
        "over_ceiling": groups["over_ceiling"].sum().astype("Int64"),
        "max_percent_used": groups["percent_used"].max(),
    })
    table["percent_used"] = (100 * table["used"] / table["ceiling"].where(table["ceiling"] > 0)).round(1)
    table = table.reset_index()
    status = [complete.status(("quotas", *NEEDS[r])) if complete else None for r in table["resource"]]
    table["completeness"] = pd.Categorical([s.state if s else STATES[0] for s in status], categories=STATES)
    table["unread"] = pd.array([s.unread or None if s else None for s in status], dtype="string")
    table["resource"] = table["resource"].astype("string")
    return table[["resource", "unit", "ceilings", "used", "ceiling", "percent_used", "over_ceiling",
                  "max_percent_used", "completeness", "unread"]]


def closest(frame: pd.DataFrame, top: int = TOP) -> pd.DataFrame:
    """The ``top`` ceilings with the highest percent used (over-ceiling ones first)."""
    ranked = frame.dropna(subset=["percent_used"]).sort_values(
        ["percent_used", "organization_path"], ascending=[False, True], kind="stable")
    return ranked.head(top)[["organization_path", "service_code", "resource", "unit", "used",
                             "ceiling", "percent_used", "headroom", "completeness"]].reset_index(drop=True)


def unknown_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    """Ceilings whose metric the report cannot compare with the inventory."""
    rows = frame[frame["resource"] == "unknown"]
    return rows[["organization_path", "service_code", "quota_name", "metric_type",
                 "metric_identifier", "ceiling"]].reset_index(drop=True)


def _notes() -> tuple[str, ...]:
    return ("Units: vCPU; GiB for memory (ceilings sent in MiB, / 1024) and storage (ceilings "
            "sent in GB, compared with volume sizes as CloudStack does); instances as a count.",
            "Use counts every instance that is not destroyed (stopped ones too) and every volume, "
            "per organization and service connection; CloudMC itself reports no consumption.",
            "percent_used = 100 x used / ceiling; headroom = ceiling - used (negative when over).",
            "Metrics without a mapping stay in the rows with resource 'unknown' and no use.",
            "Commitments: committed = amount per hour x hours of the term so far (whole UTC days); "
            "actual = the SKU's usage in CloudMC's pricing report over the same days; under-used "
            f"below {100 - commitments.TOLERANCE:g}%, over-used above {100 + commitments.TOLERANCE:g}% "
            "(the excess is billed at the utility price). Upcoming commitments are left out.")


def plot_capacity(report: Report, ax: Axes, top: int = TOP) -> None:
    """Horizontal bars of percent used for the ``top`` fullest ceilings, with the 100% line."""
    rows = closest(report.frame, top)
    names = [f"{figures.short_path(p)} · {s} · {r}" for p, s, r in
             zip(rows["organization_path"], rows["service_code"], rows["resource"], strict=True)]
    percent = rows["percent_used"].astype(float).to_numpy()
    over = np.where(percent > 100, percent, 0.0)
    stacks = {"within ceiling": np.where(percent > 100, 0.0, percent), "over ceiling": over}
    figures.hbars(ax, names, stacks, title=f"Quota use: the {top} fullest ceilings",
                  xlabel="used [% of ceiling]", ylabel="organization · connection · resource",
                  colors={"within ceiling": figures.PALETTE["under"],
                          "over ceiling": figures.PALETTE["over"]},
                  states=list(rows["completeness"].astype(str)))
    if names:
        line = ax.axvline(100, color="#1d2430", linestyle="--", linewidth=1, label="ceiling (100%)")
        legend = ax.get_legend()
        handles = [*legend.legend_handles, line] if legend else [line]
        labels = [t.get_text() for t in legend.get_texts()] if legend else []
        ax.legend(handles, [*labels, line.get_label()], loc="lower right", fontsize="small")

"""``utilization(client, start=, end=)``: how busy each running instance was, next to what it holds.

Reads the running instances (:func:`cmf.instances <cloudmc_frames.accessors.instances>`) and a
metric over the window (:func:`cmf.metrics <cloudmc_frames.usage.metrics>`, hourly averages,
default CPU %), and per instance computes the 50th and 95th percentile and the maximum of the
hourly values:

* ``.frame``: one row per running instance with ``vcpus``, ``memory_gib``, ``hours`` (hours
  with a sample), ``p50``, ``p95``, ``max`` and ``status``: ``idle`` (p95 below 5: it stayed
  under 5% in 95% of its hours), ``saturated`` (p50 at 80 or more: busy half of the time or
  more), ``normal``, or ``no metrics`` (its connection's plugin measures none, or no sample);
* ``.tables["idle"]`` and ``["saturated"]``: those instances as ``cmf.instances`` rows (with
  the utilization columns), ready for ``cmf.widgets.OperationForm`` or ``cmf.operate_many``;
* ``.tables["reclaimable"]``: per organization, the idle instances' vCPU and GiB (allocated but
  idle: capacity that stopping or resizing them would give back);
* a histogram of the instances' p95.

Example::

    >>> report = cmf.reports.utilization(client, start="2026-11-01", end="2026-12-01")  # doctest: +SKIP
    >>> cmf.widgets.OperationForm(client, report.tables["idle"])
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .. import accessors, spans
from .. import usage as time_axis
from ..client import Client
from . import figures
from .report import Report
from .sources import Crawl

IDLE_PERCENT = 5.0  # p95 under this: idle
SATURATED_PERCENT = 80.0  # p50 at or over this: saturated
STATUSES = ("idle", "normal", "saturated", "no metrics")
STATS = ("hours", "p50", "p95", "max")
CONTEXT = ("organization_path", "organization_name", "organization_id", "service_code", "connection_type",
           "environment_name")
COLUMNS = (*CONTEXT, "id", "name", "vcpus", "memory_gib", *STATS, "status")
VIEW = ("organization_path", "environment_name", "name", "vcpus", "memory_gib", *STATS, "status")


def utilization(client: Client, orgs: Any = None, *, start: Any, end: Any, metric: str = "cpu",
                **crawl: Any) -> Report:
    """Per running instance p50/p95/max of ``metric`` over ``[start, end)``, idle and saturated ones.

    ``metric``: a metric id of the connections' descriptors, or a word of one (``"cpu"``,
    ``"memory"``). ``crawl``: ``fresh``, ``max_workers``, ``progress``, ``timeout``.

    >>> cmf.reports.utilization(client, start="2026-11-01", end="2026-12-01")   # doctest: +SKIP
    """
    first, last = spans.window("start", start, "end", end)
    source = Crawl(client, orgs, crawl)
    vms = source.read(accessors.instances)
    series = source.read(partial(time_axis.metrics, start=first, end=last, bucket="1h"), metric)
    metric_id = series["metric"].iloc[0] if len(series) else str(metric)
    frame = utilization_frame(vms, series)
    running = vms[vms["id"].isin(set(frame["id"]))]
    return Report(
        name="utilization", title=f"CloudMC utilization: {metric_id}", frame=frame,
        summary=summary(frame), issues=source.issues(), coverage=source.coverage(),
        plotter=plot_utilization,
        tables={"idle": instances_of(running, frame, "idle"),
                "saturated": instances_of(running, frame, "saturated"),
                "reclaimable": reclaimable(frame)},
        titles={"idle": f"Idle: p95 under {IDLE_PERCENT:g}%", "saturated": f"Saturated: p50 at "
                f"{SATURATED_PERCENT:g}% or more",
                "reclaimable": "Allocated but idle, per organization (vCPU and GiB that could be reclaimed)"},
        notes=_notes(metric_id, (first, last)),
        views={"frame": VIEW, "idle": VIEW[:-1], "saturated": VIEW[:-1]}, scope=source.scope_text())


def utilization_frame(instances: pd.DataFrame, series: pd.DataFrame, *, idle: float = IDLE_PERCENT,
                      saturated: float = SATURATED_PERCENT) -> pd.DataFrame:
    """One row per running instance: allocation, hourly percentiles and status.

    >>> vms = pd.DataFrame({"id": ["a"], "name": ["web"], "is_running": [True], "vcpus": [2],
    ...                     "memory_gib": [4.0]})
    >>> utilization_frame(vms, pd.DataFrame({"entity_id": ["a"] * 3, "value": [1.0, 2.0, 3.0]}))[
    ...     ["p50", "max", "status"]].values.tolist()
    [[2.0, 3.0, 'idle']]
    """
    running = instances[instances["is_running"].fillna(False).astype(bool)].reset_index(drop=True)
    values = series["value"].astype("Float64").astype(float)
    grouped = pd.Series(values.to_numpy(), index=series["entity_id"].astype(object)).groupby(level=0)
    stats = pd.DataFrame({"hours": grouped.size(), "p50": grouped.quantile(0.5),
                          "p95": grouped.quantile(0.95), "max": grouped.max()})
    joined = stats.reindex(running["id"].astype(object))
    frame = pd.DataFrame({c: running[c].astype("string") if c in running else pd.array(
        [None] * len(running), dtype="string") for c in (*CONTEXT, "id", "name")})
    frame["vcpus"] = running["vcpus"].astype("Int64") if "vcpus" in running else pd.NA
    frame["memory_gib"] = running["memory_gib"].astype("Float64") if "memory_gib" in running else pd.NA
    frame["hours"] = pd.array(joined["hours"].to_numpy(), dtype="Float64").astype("Int64")
    for column in ("p50", "p95", "max"):
        frame[column] = pd.array(joined[column].to_numpy(), dtype="Float64").round(2)
    status = np.where(frame["hours"].isna().to_numpy(), "no metrics",
                      np.where((frame["p95"] < idle).fillna(False).to_numpy(), "idle",
                               np.where((frame["p50"] >= saturated).fillna(False).to_numpy(), "saturated",
                                        "normal")))
    frame["status"] = pd.Categorical(status, categories=STATUSES)
    return frame.sort_values(["organization_path", "environment_name", "name"], kind="stable",
                             na_position="last").reset_index(drop=True)[list(COLUMNS)]


def instances_of(instances: pd.DataFrame, frame: pd.DataFrame, status: str) -> pd.DataFrame:
    """The ``cmf.instances`` rows of the instances with ``status``, with the utilization columns added."""
    chosen = frame[frame["status"] == status].set_index("id")[list(STATS)]
    rows = instances[instances["id"].isin(set(chosen.index))]
    extra = chosen.reindex(rows["id"].astype(object))
    rows = rows.assign(**{c: extra[c].to_numpy() for c in STATS})
    order = ["organization_path", "environment_name", "name"]
    return rows.sort_values(order, kind="stable").reset_index(drop=True)


def reclaimable(frame: pd.DataFrame) -> pd.DataFrame:
    """Per organization with idle instances: how many, and their vCPU and memory GiB."""
    idle = frame[frame["status"] == "idle"]
    table = idle.groupby(["organization_path", "organization_id"], dropna=False, sort=True).agg(
        idle_instances=("id", "size"), vcpus=("vcpus", "sum"), memory_gib=("memory_gib", "sum")).reset_index()
    table["idle_instances"] = table["idle_instances"].astype("Int64")
    table["vcpus"] = table["vcpus"].astype("Int64")
    table["memory_gib"] = table["memory_gib"].astype("Float64").round(2)
    return table.sort_values(["vcpus", "organization_path"], ascending=[False, True],
                             kind="stable").reset_index(drop=True)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts per status, and the allocation idle instances hold."""
    idle = frame[frame["status"] == "idle"]
    rows = [("running instances", len(frame), "count"),
            ("with metrics", int((frame["status"] != "no metrics").sum()), "count"),
            *((f"{s}", int((frame["status"] == s).sum()), "count") for s in STATUSES),
            ("idle vCPU", int(idle["vcpus"].fillna(0).sum()), "vCPU"),
            ("idle memory", float(idle["memory_gib"].fillna(0.0).sum()), "GiB")]
    return pd.DataFrame({"measure": pd.array([r[0] for r in rows], dtype="string"),
                         "value": pd.array([float(r[1]) for r in rows], dtype="Float64"),
                         "unit": pd.array([r[2] for r in rows], dtype="string")})


def plot_utilization(report: Report, ax: Axes) -> None:
    """Histogram of the running instances' p95, with the idle and saturated thresholds."""
    figures.label(ax, title="Running instances by 95th percentile", xlabel="p95 [%]",
                  ylabel="instances [count]")
    values = report.frame["p95"].dropna().astype(float).to_numpy()
    if not len(values):
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes)
        return
    ax.hist(values, bins=np.arange(0, 105, 5), color=figures.PALETTE["under"], edgecolor="white")
    ax.axvline(IDLE_PERCENT, color=figures.PALETTE["stopped"], linestyle="--",
               label=f"idle (< {IDLE_PERCENT:g}%)")
    ax.legend(loc="upper center", fontsize="small")


def _notes(metric_id: str, window: tuple[pd.Timestamp, pd.Timestamp]) -> tuple[str, ...]:
    first, last = window
    return (f"{metric_id}: hourly averages from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC "
            "(end exclusive); p50, p95 and max are over the hours the instance had a sample.",
            f"idle: p95 under {IDLE_PERCENT:g}%; saturated: p50 at {SATURATED_PERCENT:g}% or more; 'no "
            "metrics': the connection's plugin measures none (descriptor flag supportsMetric) or no "
            "sample came back.",
            "Instances are the ones running now; vCPU and memory are what they hold (allocated).")

"""``usage(client, start=, end=)``: usage and cost per period, period over period, up the tree.

Reads :func:`cmf.usage_summary <cloudmc_frames.usage.usage_summary>` per day (deleted
organizations included: they cost money while they lived) and sums it per ``period`` (``DAY``,
``WEEK``, ``MONTH``, ``QUARTER``, ``YEAR``; UTC calendar periods) and per group of ``by``:

* ``.frame``: one row per period and group, every group in every period (0 when it had no cost),
  with ``cost``, ``previous_cost``, ``cost_change`` and ``cost_change_pct`` against the period
  before, and ``usage`` (the actual usage, in the usage type's own unit) when ``by`` holds
  ``"usage_type"`` (summing vCPU-hours with GiB-hours would mean nothing);
* ``.summary``: the total per period with its change;
* ``.tables["top_movers"]``: the groups whose cost changed most from the last period but one to
  the last; ``.tables["rollup"]``: per organization, its own cost and its cost with every
  selected descendant's, over the window and in the last period; ``.tables["by_period"]``:
  cost per organization (rows) and period (columns);
* a chart of cost over time, stacked by the first key of ``by``.

``by``: any of ``"organization"``, ``"usage_type"`` (CloudMC's ``secondaryType``: CPU, RAM,
STORAGE, PUBLIC_IP, ...), ``"connection"`` (service code).

Example::

    >>> report = cmf.reports.usage(client, start="2026-01-01", end="2026-07-01")   # doctest: +SKIP
    >>> report.summary                           # cost per month and its change
    >>> report.tables["top_movers"]
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .. import spans
from .. import usage as time_axis
from ..client import Client
from ..errors import ConfigError
from . import figures
from .report import Report
from .sources import Crawl

PERIODS = {"DAY": "D", "WEEK": "W-SUN", "MONTH": "M", "QUARTER": "Q", "YEAR": "Y"}
BY_KEYS = {"organization": ("organization_path", "organization_id"), "usage_type": ("secondary_type",),
           "connection": ("service_code",)}
LABELS = {"organization_path": "organization", "secondary_type": "usage type", "service_code": "connection"}
MEASURES = ("usage", "cost", "previous_cost", "cost_change", "cost_change_pct")
ROLLUP_VIEW = ("organization_path", "organizations", "own_cost", "cost", "own_cost_last_period",
               "cost_last_period")
TOP = 10
STACKS = 8  # groups drawn in the chart; the rest is "other"


def usage(client: Client, orgs: Any = None, *, start: Any, end: Any,
          by: Any = ("organization", "usage_type"), period: str = "MONTH", **crawl: Any) -> Report:
    """Usage and cost per period and group of ``by``, with period-over-period change, as a :class:`Report`.

    ``start``/``end``: whole UTC days, ``end`` exclusive. ``period``: ``"DAY"``, ``"WEEK"``,
    ``"MONTH"`` (default), ``"QUARTER"`` or ``"YEAR"``. ``crawl``: ``fresh``, ``max_workers``,
    ``progress``, ``timeout`` (as for the accessors).

    >>> cmf.reports.usage(client, start="2026-01-01", end="2026-07-01", by="connection")  # doctest: +SKIP
    """
    keys = group_keys(by)
    freq = _period(period)
    first, last = spans.window("start", start, "end", end)
    source = Crawl(client, orgs, crawl, include_deleted=True)
    days = source.read(partial(time_axis.usage_summary, start=spans.whole_days("start", first),
                               end=spans.whole_days("end", last), period="DAY"))
    frame = usage_frame(days, keys, freq, (first, last))
    return Report(
        name="usage", title="CloudMC usage and cost", frame=frame, summary=period_totals(frame),
        issues=source.issues(), coverage=source.coverage(), plotter=partial(plot_usage, keys=keys),
        tables={"top_movers": top_movers(frame, keys), "rollup": rollup(source.orgs, days, freq),
                "by_period": by_period(frame)},
        titles={"top_movers": f"Largest cost changes, last {period.lower()} against the one before "
                              f"(top {TOP})",
                "rollup": "Cost per organization, rolled up the tree (a parent includes its descendants)",
                "by_period": f"Cost per organization and {period.lower()}"},
        notes=_notes(period, (first, last)),
        views={"frame": ("period", *_shown(keys), *MEASURES), "rollup": ROLLUP_VIEW},
        scope=source.scope_text())


def group_keys(by: Any) -> tuple[str, ...]:
    """The key columns of ``by``, in order; unknown names raise ConfigError.

    >>> group_keys(("organization", "usage_type"))
    ('organization_path', 'organization_id', 'secondary_type')
    """
    names = (by,) if isinstance(by, str) else tuple(by or ())
    unknown = [n for n in names if n not in BY_KEYS]
    if unknown or not names:
        raise ConfigError(f"by must name one or more of {', '.join(BY_KEYS)}, got {by!r}")
    return tuple(dict.fromkeys(k for n in names for k in BY_KEYS[n]))


def usage_frame(days: pd.DataFrame, keys: tuple[str, ...], freq: str,
                window: tuple[pd.Timestamp, pd.Timestamp]) -> pd.DataFrame:
    """Daily usage summary rows -> one row per period and group, with the change against the period before.

    Every group has a row in every period of ``window`` (0 cost when it had none), so a change is
    always against the period just before.
    """
    periods = pd.period_range(_naive(window[0]), _naive(window[1]) - pd.Timedelta(1, "ns"), freq=freq)
    data = pd.DataFrame({k: days[k].astype(object) for k in keys})
    data["period"] = _naive_series(days["start_date"]).dt.to_period(freq)
    data["usage"] = days["actual_usage"].astype("Float64")
    data["cost"] = days["utility_cost"].astype("Float64")
    sums = data.groupby(["period", *keys], dropna=False, sort=False)[["usage", "cost"]].sum(min_count=1)
    groups = sums.reset_index()[list(keys)].drop_duplicates()
    grid = pd.MultiIndex.from_frame(
        pd.DataFrame([(p, *g) for p in periods for g in groups.itertuples(index=False)],
                     columns=["period", *keys]))
    table = sums.reindex(grid).reset_index()
    table["cost"] = table["cost"].astype("Float64").fillna(0.0).round(6)
    table["usage"] = table["usage"].astype("Float64").fillna(0.0) if "secondary_type" in keys else \
        pd.array([pd.NA] * len(table), dtype="Float64")
    table = table.sort_values([*keys, "period"], kind="stable", na_position="last").reset_index(drop=True)
    previous = table.groupby(list(keys), dropna=False, sort=False)["cost"].shift(1) if keys else \
        table["cost"].shift(1)
    table["previous_cost"] = previous.astype("Float64")
    table["cost_change"] = (table["cost"] - table["previous_cost"]).round(6)
    table["cost_change_pct"] = (100 * table["cost_change"]
                                / table["previous_cost"].where(table["previous_cost"] > 0)).round(1)
    table["period_start"] = pd.array([p.start_time.tz_localize("UTC") for p in table["period"]],
                                     dtype="datetime64[ns, UTC]")
    table["period"] = table["period"].astype(str).astype("string")
    for key in keys:
        table[key] = table[key].astype("string")
    table = table.sort_values(["period_start", *keys], kind="stable").reset_index(drop=True)
    return table[["period", "period_start", *keys, *MEASURES]]


def period_totals(frame: pd.DataFrame) -> pd.DataFrame:
    """Cost per period, with its change against the period before, and how many groups cost something."""
    groups = frame.groupby(["period", "period_start"], sort=True)
    with_cost = groups["cost"].apply(lambda c: int((c > 0).sum())).astype("Int64")
    table = pd.DataFrame({"cost": groups["cost"].sum().round(2), "groups_with_cost": with_cost})
    table = table.reset_index().sort_values("period_start").reset_index(drop=True)
    table["cost"] = table["cost"].astype("Float64")
    table["cost_change"] = table["cost"].diff().round(2)
    table["cost_change_pct"] = (100 * table["cost_change"] / table["cost"].shift(1).where(
        table["cost"].shift(1) > 0)).round(1)
    table["period"] = table["period"].astype("string")
    return table[["period", "cost", "cost_change", "cost_change_pct", "groups_with_cost"]]


def top_movers(frame: pd.DataFrame, keys: tuple[str, ...], top: int = TOP) -> pd.DataFrame:
    """The ``top`` groups whose cost changed most (up or down) in the last period."""
    if frame.empty:
        return frame[["period", *_shown(keys), "previous_cost", "cost", "cost_change", "cost_change_pct"]]
    last = frame[frame["period_start"] == frame["period_start"].max()]
    moved = last.assign(_size=last["cost_change"].abs().astype(float)).sort_values(
        ["_size", *_shown(keys)], ascending=[False] + [True] * len(_shown(keys)), kind="stable")
    moved = moved[moved["_size"] > 0].head(top)
    return moved[["period", *_shown(keys), "previous_cost", "cost", "cost_change",
                  "cost_change_pct"]].reset_index(drop=True)


def rollup(orgs: pd.DataFrame, days: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Per organization: own cost and cost with every selected descendant's, over the window and
    in its last period."""
    cost = days["utility_cost"].astype("Float64").fillna(0.0).astype(float).to_numpy()
    period = _naive_series(days["start_date"]).dt.to_period(freq)
    last = (period == period.max()).to_numpy() if len(period) else np.zeros(0, dtype=bool)
    ids = days["organization_id"].astype(object).to_numpy()
    own = pd.Series(cost, index=ids).groupby(level=0).sum()
    own_last = pd.Series(np.where(last, cost, 0.0), index=ids).groupby(level=0).sum()
    paths = orgs["path"].astype(object).tolist()
    rows = []
    for org_id, path, name in zip(orgs["id"], paths, orgs["name"], strict=True):
        below = [i for i, p in zip(orgs["id"], paths, strict=True) if p == path or p.startswith(path + "/")]
        rows.append({"organization_path": path, "organization_name": name, "organization_id": org_id,
                     "organizations": len(below), "own_cost": own.get(org_id, 0.0),
                     "cost": sum(own.get(i, 0.0) for i in below),
                     "own_cost_last_period": own_last.get(org_id, 0.0),
                     "cost_last_period": sum(own_last.get(i, 0.0) for i in below)})
    table = pd.DataFrame(rows, columns=["organization_path", "organization_name", "organization_id",
                                        "organizations", "own_cost", "cost", "own_cost_last_period",
                                        "cost_last_period"])
    for column in ("organization_path", "organization_name", "organization_id"):
        table[column] = table[column].astype("string")
    table["organizations"] = table["organizations"].astype("Int64")
    for column in ("own_cost", "cost", "own_cost_last_period", "cost_last_period"):
        table[column] = table[column].astype("Float64").round(2)
    return table.sort_values("organization_path", kind="stable").reset_index(drop=True)


def by_period(frame: pd.DataFrame) -> pd.DataFrame:
    """Cost per organization (rows, or the first key) and period (columns), with a total row."""
    key = "organization_path" if "organization_path" in frame else next(
        (c for c in frame.columns if c in LABELS), None)
    if key is None or frame.empty:
        return pd.DataFrame({"organization_path": pd.array([], dtype="string")})
    table = frame.pivot_table(index=key, columns="period", values="cost", aggfunc="sum", fill_value=0.0,
                              observed=True).round(2)
    table.loc["total"] = table.sum().round(2)
    table.columns = [str(c) for c in table.columns]
    return table.reset_index()


def plot_usage(report: Report, ax: Axes, keys: tuple[str, ...] = ("organization_path",),
               stacks: int = STACKS) -> None:
    """Cost per period as stacked bars, one colour per group of the first key (the largest ones)."""
    key = _shown(keys)[0]
    figures.label(ax, title="Cost over time", xlabel="period", ylabel="cost [currency of the pricing]")
    frame = report.frame
    if frame.empty:
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes)
        return
    table = frame.pivot_table(index="period", columns=key, values="cost", aggfunc="sum", fill_value=0.0,
                              observed=True)
    order = table.sum().sort_values(ascending=False).index
    shown = list(order[:stacks])
    if len(order) > stacks:
        table["other"] = table[list(order[stacks:])].sum(axis=1)
        shown.append("other")
    positions = np.arange(len(table.index))
    bottom = np.zeros(len(positions))
    for name in shown:
        values = table[name].to_numpy(dtype=float)
        label = figures.short_path(name) if key == "organization_path" and name != "other" else str(name)
        ax.bar(positions, values, bottom=bottom, label=label)
        bottom += values
    ax.set_xticks(positions, [str(p) for p in table.index], rotation=45, ha="right")
    ax.legend(loc="upper left", fontsize="small", title=LABELS.get(key, key))


def _shown(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The key columns a reader sees (ids stay in the frame, not in the views)."""
    return tuple(k for k in keys if k != "organization_id")


def _period(period: Any) -> str:
    text = period.upper() if isinstance(period, str) else period
    if text not in PERIODS:
        raise ConfigError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    return PERIODS[text]


def _naive(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp.tz_convert("UTC").tz_localize(None)


def _naive_series(stamps: pd.Series) -> pd.Series:
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None)


def _notes(period: str, window: tuple[pd.Timestamp, pd.Timestamp]) -> tuple[str, ...]:
    first, last = window
    return (f"Window: {first:%Y-%m-%d} to {last:%Y-%m-%d} (UTC, end exclusive), summed per "
            f"{period.lower()}; a period cut by the window counts only its days inside it.",
            "cost: CloudMC's utilityCost (usage priced by each connection's pricing, currency of the "
            "pricing); usage: actualUsage in the usage type's own unit (e.g. vCPU-hours, GiB-hours).",
            "cost_change and cost_change_pct compare each period with the one before; a group without "
            "cost in a period counts 0 there. Deleted organizations keep their past cost.")
